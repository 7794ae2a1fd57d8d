/**
 * The Replication grader's checkers: pure functions from a history to a verdict. Each reads
 * what the grader recorded (history.ts) — the sessions' writes and reads with where their
 * statements really ran, and the truth the grader read from the servers — never the
 * learner's own account of itself alone.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { HistoryFocus, Verdict } from '../../../src/core/grading/report';
import { ADMIN, GRADER, type ReplicationEvent, type SessionOp, failoverNotes, lagNotes, lsnNotes, precondition, serverLane, sessionLane, sessionOps, setUpNotes, synchronousNotes } from './history';

/** The lanes every timeline of this lab shows beside the sessions. */
const SERVERS = [serverLane('postgres'), serverLane('postgres-2')];

function sessionFocus(session: string): HistoryFocus {
  return { label: `session ${session}`, processes: [sessionLane(session)], context: [...SERVERS, GRADER] };
}

/** A scenario that could not set up what it needed says so; its check is then unknown. */
function notRun(history: readonly ReplicationEvent[]): Verdict | undefined {
  const p = precondition(history);
  return p === undefined ? undefined : undecided(`The scenario could not run: ${p.detail}`);
}

/** parseLsn reads every LSN as the position PostgreSQL means, refuses every text that is none, and compareLsn orders positions as numbers. */
export function checkLsnOrder(history: readonly ReplicationEvent[]): Verdict {
  const last = lsnNotes(history).at(-1);
  if (last === undefined) return undecided('The grader could not call parseLsn and compareLsn.');
  const t = last.value;
  const at = [last.index];
  const focus: HistoryFocus = { label: 'parseLsn and compareLsn', processes: [GRADER], context: [] };
  if (!t.answered) {
    return fail(`parseLsn and compareLsn could not be called: ${t.error ?? 'an error'}.`, 'Export both from src/replication.ts: parseLsn(lsn: string): bigint and compareLsn(a: string, b: string): number.', at, { focus });
  }
  const misread = t.parsed.find((p) => p.expected !== null && (!p.got.ok || p.got.value !== p.expected));
  if (misread !== undefined) {
    return fail(
      `parseLsn(${JSON.stringify(misread.text)}) ${misread.got.ok ? `returned ${misread.got.value}` : `threw: ${misread.got.error}`}; that LSN is the position ${misread.expected} (high 32 bits × 2³² + low 32 bits).`,
      'Split at the one slash, read each side as hexadecimal (1 to 8 digits, either case), and return BigInt(high) << 32n | BigInt(low): a JavaScript number loses the low bits past 2⁵³.',
      at,
      { focus },
    );
  }
  const accepted = t.parsed.find((p) => p.expected === null && p.got.ok);
  if (accepted !== undefined) {
    return fail(
      `parseLsn(${JSON.stringify(accepted.text)}) returned ${accepted.got.ok ? accepted.got.value : ''}: that text is no LSN, and parseLsn must throw on it.`,
      'Check the whole text before reading it, e.g. with /^([0-9A-Fa-f]{1,8})\\/([0-9A-Fa-f]{1,8})$/: parseInt and Number read a prefix and ignore the rest, and BigInt accepts prefixes such as 0x.',
      at,
      { focus },
    );
  }
  const misordered = t.compared.find((c) => !c.got.ok || c.got.value !== String(c.expected));
  if (misordered !== undefined) {
    const said = misordered.got.ok ? (misordered.got.value === '0' ? 'the same position' : misordered.got.value === '-1' ? 'before' : misordered.got.value === '1' ? 'after' : misordered.got.value) : `an error (${misordered.got.error})`;
    const truth = misordered.expected === 0 ? 'the same position' : misordered.expected < 0 ? 'before' : 'after';
    return fail(
      `compareLsn(${JSON.stringify(misordered.a)}, ${JSON.stringify(misordered.b)}) said ${said}; the first is ${truth} the second.`,
      'Compare the parsed positions (bigints), never the texts: return a negative number when a is before b, 0 when they are equal (whatever the case of the letters), a positive one after.',
      at,
      { focus },
    );
  }
  return pass(`parseLsn read ${t.parsed.filter((p) => p.expected !== null).length} LSNs across the 64 bits and refused ${t.parsed.filter((p) => p.expected === null).length} texts that are none; compareLsn ordered ${t.compared.length} pairs as positions.`);
}

const HINT_SET_UP_THREW = 'Read the error: each step of the README\'s "Setting up the standby" names what it needs (the role, the pg_hba.conf line and a reload, the slot, pg_basebackup with -R and -S into an empty directory outside the data directory, then replaceDataDirectory).';

export function checkStandbySetUp(history: readonly ReplicationEvent[]): Verdict {
  const skipped = notRun(history);
  if (skipped !== undefined) return skipped;
  const notes = setUpNotes(history);
  const last = notes.at(-1);
  if (last === undefined) {
    return undecided('The set-up did not run to the point where the grader reads the servers.');
  }
  const t = last.value;
  const at = [last.index];
  const focus: HistoryFocus = { label: 'the set-up', processes: [ADMIN, ...SERVERS], context: [GRADER] };
  if (!t.answered) {
    return fail(`setUpStandby(primary, standby, replication) threw: ${t.error ?? 'an error'}.`, HINT_SET_UP_THREW, at, { focus });
  }
  if (!t.standbyInRecovery) {
    return fail('After setUpStandby the second server is not in recovery: it is a primary of its own, not a standby.', 'A server starts as a standby only when standby.signal is in its data directory, with primary_conninfo saying where the primary is: pg_basebackup -R writes both. Then the copy must replace the standby\'s data directory (replaceDataDirectory), which restarts it.', at, { focus });
  }
  const streaming = t.senders.filter((s) => s.state === 'streaming');
  if (streaming.length === 0) {
    return fail(`After setUpStandby the primary has no WAL sender streaming to the standby (pg_stat_replication: ${t.senders.length === 0 ? 'no row' : t.senders.map((s) => s.state).join(', ')}).`, 'setUpStandby must wait until the primary\'s pg_stat_replication shows the standby with state = \'streaming\' before it returns.', at, { focus });
  }
  const slotUsed = streaming.find((s) => s.slot !== null && t.slots.some((slot) => slot.name === s.slot && slot.type === 'physical' && slot.active));
  if (slotUsed === undefined) {
    return fail(`The standby streams without a replication slot (slots: ${t.slots.length === 0 ? 'none' : t.slots.map((s) => `${s.name} ${s.type}${s.active ? ' active' : ' inactive'}`).join(', ')}).`, 'Create a physical slot on the primary (pg_create_physical_replication_slot) and give it to pg_basebackup with -S: -R then writes primary_slot_name, and the standby streams through it, so the primary keeps the WAL it has not received.', at, { focus });
  }
  if (t.passwordOnCommandLine) {
    return fail('The set-up ran a program with the replication password among its arguments, where every local user sees it (ps).', 'Pass the password as PGPASSWORD in run()\'s env, never on the command line.', at, { focus });
  }
  if (t.roleIsSuperuser === true) {
    return fail('The standby replicates as a superuser.', 'The replication role needs REPLICATION and LOGIN, nothing more: its password sits in the standby\'s configuration.', at, { focus });
  }
  if (!t.rowReplicated) {
    return fail('A row the grader wrote on the primary never appeared on the standby.', 'The standby streams but does not replay: look at its log. Replay may have been left paused, or the copy is not of this primary.', at, { focus });
  }
  if (t.writeOnStandby !== '25006') {
    return fail(`A write on the standby was ${t.writeOnStandby === '' ? 'accepted' : `refused with SQLSTATE ${t.writeOnStandby}, not 25006`}.`, 'A hot standby refuses every write with 25006 (read-only transaction). One that accepts a write is not in recovery.', at, { focus });
  }
  if (!t.againAnswered) {
    return fail(`setUpStandby, run again on the pair it had just made, threw: ${t.againError ?? 'an error'}.`, 'Run twice, the set-up must not redo what is done: a role, a pg_hba.conf line or a slot that exists is not an error, and a standby that already streams through the slot is left as it is.', at, { focus });
  }
  if (t.senderBefore !== null && t.senderAfterAgain !== t.senderBefore) {
    return fail('setUpStandby, run again on a standby that already streamed, made it anew: the primary\'s WAL sender changed (a second base backup, or a restart).', 'When the slot is active and the standby is in recovery, the standby already streams from this primary: return without touching it.', at, { focus });
  }
  if (t.hbaChangedByRunAgain) {
    return fail('setUpStandby, run again on a standby that already streamed, changed pg_hba.conf: a line it had already added was added again (the file grows with every run).', 'Add the replication line only when pg_hba.conf has no line equal to it (compare line by line, ignoring blanks around it).', at, { focus });
  }
  return pass(`The standby is in recovery and streams from the primary through the physical slot ${slotUsed.slot ?? ''}; a row written on the primary appeared on it; a write on it was refused with 25006; a second run changed nothing.`);
}

/** The first read of each session that broke the guarantee, with the operation that set the bound it broke. */
function violations(ops: readonly SessionOp[], bound: 'written' | 'read'): { read: SessionOp; because: SessionOp; version: number; needed: number }[] {
  const found: { read: SessionOp; because: SessionOp; version: number; needed: number }[] = [];
  const bySession = new Map<string, SessionOp[]>();
  for (const op of ops) bySession.set(op.session, [...(bySession.get(op.session) ?? []), op]);
  for (const list of bySession.values()) {
    for (const read of list) {
      if (read.kind !== 'read' || read.end === undefined || !read.end.ok || !('version' in read.end.done)) continue;
      const version = read.end.done.version;
      let needed = 0;
      let because: SessionOp | undefined;
      for (const before of list) {
        if (before === read || before.key !== read.key || before.end === undefined || !before.end.ok || before.end.at > read.invokedAt) continue;
        const v = bound === 'written' ? (before.kind === 'write' ? (before.version ?? 0) : 0) : before.kind === 'read' && 'version' in before.end.done ? before.end.done.version : 0;
        if (v > needed) {
          needed = v;
          because = before;
        }
      }
      if (because !== undefined && version < needed) {
        found.push({ read, because, version, needed });
        break;
      }
    }
  }
  return found;
}

/** A read or write that failed or hung: the router must answer whatever the standby does. */
function failedCall(ops: readonly SessionOp[]): SessionOp | undefined {
  return ops.find((op) => op.end !== undefined && !op.end.ok);
}

function failedCallVerdict(op: SessionOp): Verdict {
  const end = op.end!;
  const failed = !end.ok ? end.failed : undefined;
  const hung = failed?.hung === true;
  return fail(
    `session ${op.session}'s ${op.kind} of ${op.key} ${hung ? 'did not answer within the grader\'s limit' : `threw: ${failed?.message ?? 'an error'}`} (the standby was ${op.standbyIs ?? 'up'}).`,
    hung
      ? 'Bound every wait for the standby: each statement there with withTimeout(..., options.standbyTimeoutMs, ...), and the wait for it to catch up with options.maxWaitMs; then read from the primary.'
      : 'A read must never fail because of the standby: when it is down, too slow or behind, the primary answers. Catch what the standby throws (a refused connection, a timeout) and read from the primary.',
    [op.invokeIndex, end.index],
    { focus: sessionFocus(op.session) },
  );
}

function checkSessionGuarantee(history: readonly ReplicationEvent[], bound: 'written' | 'read'): Verdict {
  const skipped = notRun(history);
  if (skipped !== undefined) return skipped;
  const ops = sessionOps(history);
  const reads = ops.filter((op) => op.kind === 'read' && op.end?.ok === true);
  if (reads.length === 0) {
    const broken = failedCall(ops);
    return broken !== undefined ? failedCallVerdict(broken) : undecided('No read of the scenario answered.');
  }
  const [first] = violations(ops, bound);
  if (first !== undefined) {
    const end = first.read.end!;
    const where = end.ok ? end.done.ranOn.join(', ') || 'nowhere the grader saw' : '';
    return bound === 'written'
      ? fail(
          `session ${first.read.session} wrote version ${first.needed} of ${first.read.key}, then read version ${first.version} (answered by ${where}).`,
          'Take the primary\'s pg_current_wal_lsn() after the write\'s commit returned, and read from the standby only once its pg_last_wal_replay_lsn() has reached it, comparing the positions as numbers (parseLsn), not as text.',
          [first.because.invokeIndex, first.because.end!.index, first.read.invokeIndex, end.index],
          { focus: sessionFocus(first.read.session) },
        )
      : fail(
          `session ${first.read.session} read version ${first.needed} of ${first.read.key}, then version ${first.version}: it went back in time (the second answered by ${where}).`,
          'Remember, across calls, the newest WAL position each read of the session saw (the primary\'s current LSN after a read there), and read from the standby only once it has replayed at least that far.',
          [first.because.invokeIndex, first.because.end!.index, first.read.invokeIndex, end.index],
          { focus: sessionFocus(first.read.session) },
        );
  }
  const broken = failedCall(ops);
  if (broken !== undefined) return failedCallVerdict(broken);
  const sessions = new Set(ops.map((o) => o.session)).size;
  return pass(bound === 'written' ? `${reads.length} reads in ${sessions} sessions each saw the session's own writes.` : `${reads.length} reads in ${sessions} sessions never went back in time.`);
}

export function checkReadYourWrites(history: readonly ReplicationEvent[], limits: { readonly standby: string; readonly resumedAfterMs: number }): Verdict {
  const verdict = checkSessionGuarantee(history, 'written');
  if (verdict.status !== 'pass') return verdict;
  // A read whose wait saw the standby catch up early in it is the standby's to answer.
  const early = sessionOps(history).find((op) => op.kind === 'read' && op.standbyIs === 'catching-up' && op.end?.ok === true && !op.end.done.ranOn.includes(limits.standby));
  if (early !== undefined) {
    return fail(
      `session ${early.session}'s read of ${early.key} was answered by the primary, though the standby's replay resumed ${limits.resumedAfterMs} ms into the read's wait and it caught up well within maxWaitMs.`,
      "Wait for the standby before falling back: poll its pg_last_wal_replay_lsn() every few milliseconds until it reaches the session's position, for at most options.maxWaitMs, and only then read from the primary.",
      [early.invokeIndex, early.end!.index],
      { focus: sessionFocus(early.session) },
    );
  }
  return verdict;
}

export function checkMonotonicReads(history: readonly ReplicationEvent[]): Verdict {
  return checkSessionGuarantee(history, 'read');
}

/** Reads with the standby down answer from the primary, in time; no write ever runs on the standby. */
export function checkStandbyDown(history: readonly ReplicationEvent[], limits: { readonly answerWithinMs: number; readonly standby: string }): Verdict {
  const skipped = notRun(history);
  if (skipped !== undefined) return skipped;
  const ops = sessionOps(history);
  for (const op of ops) {
    const end = op.end;
    if (end === undefined) continue;
    const routing = end.ok ? end.done : end.failed;
    if (routing.refusedAsReadOnly || (op.kind === 'write' && routing.ranOn.includes(limits.standby))) {
      return fail(
        `session ${op.session}'s write of ${op.key} was sent to the standby${routing.refusedAsReadOnly ? ', which refused it (25006)' : ''}.`,
        'Writes go to the primary, always: the standby is read-only, and a write sent there fails (or, worse, on a standby promoted by mistake, splits the data in two).',
        [op.invokeIndex, end.index],
        { focus: sessionFocus(op.session) },
      );
    }
  }
  const down = ops.filter((op) => op.kind === 'read' && op.standbyIs === 'down');
  if (down.length === 0) return undecided('No read ran while the standby was down.');
  for (const op of down) {
    const end = op.end;
    if (end === undefined) continue;
    if (!end.ok) return failedCallVerdict(op);
    if (end.done.ms > limits.answerWithinMs) {
      return fail(
        `session ${op.session}'s read of ${op.key} took ${Math.round(end.done.ms)} ms with the standby down (the limit: ${limits.answerWithinMs} ms).`,
        'A standby that does not answer counts as down after options.standbyTimeoutMs: bound each statement there, then read from the primary at once.',
        [op.invokeIndex, end.index],
        { focus: sessionFocus(op.session) },
      );
    }
  }
  return pass(`${down.length} reads with the standby paused or stopped were answered by the primary in time; no write reached the standby.`);
}

/** With the standby fresh, most reads are answered by it. */
export function checkReadsScale(history: readonly ReplicationEvent[], limits: { readonly standby: string; readonly atLeast: number }): Verdict {
  const skipped = notRun(history);
  if (skipped !== undefined) return skipped;
  const ops = sessionOps(history);
  const fresh = ops.filter((op) => op.kind === 'read' && op.standbyIs === 'fresh' && op.end !== undefined);
  if (fresh.length === 0) return undecided('No read ran with the standby fresh.');
  // Every write and read of the scenario must answer (some are sent without params).
  const broken = failedCall(ops);
  if (broken !== undefined) return failedCallVerdict(broken);
  const onStandby = fresh.filter((op) => op.end!.ok && op.end!.done.ranOn.at(-1) === limits.standby);
  const share = onStandby.length / fresh.length;
  if (share < limits.atLeast) {
    const sample = fresh.find((op) => !onStandby.includes(op))!;
    return fail(
      `With the standby caught up, only ${onStandby.length} of ${fresh.length} reads were answered by it.`,
      'Reads are what a standby is for: when it has replayed everything the session needs, read there; the primary is the fallback, not the default.',
      [sample.invokeIndex, sample.end!.index],
      { focus: sessionFocus(sample.session) },
    );
  }
  return pass(`With the standby caught up, ${onStandby.length} of ${fresh.length} reads were answered by it.`);
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The reported lag agrees with the grader's measurement around the call. */
export function checkLag(history: readonly ReplicationEvent[], limits: { readonly slackBytes: number; readonly slackSeconds: number }): Verdict {
  const skipped = notRun(history);
  if (skipped !== undefined) return skipped;
  const notes = lagNotes(history);
  if (notes.length === 0) return undecided('No lag was measured.');
  const focus: HistoryFocus = { label: 'the lag', processes: [GRADER, ...SERVERS] };
  for (const { index, value: t } of notes) {
    if (!t.answered || t.reported === undefined) {
      return fail(`replicationLag(primary, standby) threw: ${t.error ?? 'an error'}.`, 'Read pg_current_wal_lsn() on the primary, and pg_last_wal_replay_lsn() and pg_last_xact_replay_timestamp() on the standby.', [index], { focus });
    }
    const r = t.reported;
    if (!isNumber(r.bytes)) {
      return fail(`replicationLag reported bytes = ${JSON.stringify(r.bytes)}, not a number.`, 'bytes is a number: the primary\'s LSN minus the standby\'s replay LSN, parsed as numbers.', [index], { focus });
    }
    const low = Math.max(0, t.bytesBefore - limits.slackBytes);
    const high = t.bytesAfter + limits.slackBytes;
    if (r.bytes < low || r.bytes > high) {
      return fail(
        `With the standby ${t.phase === 'behind' ? 'behind (its replay paused)' : 'caught up'}, replicationLag reported ${r.bytes} bytes; the servers said between ${t.bytesBefore} and ${t.bytesAfter} bytes (primary's pg_current_wal_lsn() minus the standby's pg_last_wal_replay_lsn()).`,
        t.phase === 'behind' && r.bytes < low
          ? 'Measure what the standby has replayed, not what it has received: with replay paused, WAL still arrives (write_lsn, flush_lsn, pg_last_wal_receive_lsn() move on) but nothing is applied.'
          : 'bytes is the primary\'s current LSN minus the standby\'s replay LSN, both parsed as 64-bit positions (the high 32 bits before the slash).',
        [index],
        { focus },
      );
    }
    if (t.phase === 'caught-up') {
      if (r.bytes === 0 && r.seconds !== 0) {
        return fail(`With the standby caught up (0 bytes behind), replicationLag reported ${JSON.stringify(r.seconds)} seconds.`, 'A standby that has replayed everything is 0 seconds behind, however long ago the last transaction committed: report 0 when bytes is 0.', [index], { focus });
      }
      continue;
    }
    if (!isNumber(r.seconds) || t.secondsBefore === null || t.secondsAfter === null) {
      if (t.secondsBefore !== null && !isNumber(r.seconds)) {
        return fail(`With the standby behind, replicationLag reported seconds = ${JSON.stringify(r.seconds)}.`, 'seconds is now() - pg_last_xact_replay_timestamp() on the standby: the time since the last transaction it replayed committed.', [index], { focus });
      }
      continue;
    }
    if (r.seconds < t.secondsBefore - limits.slackSeconds || r.seconds > t.secondsAfter + limits.slackSeconds) {
      return fail(
        `With the standby behind, replicationLag reported ${r.seconds.toFixed(2)} s; the standby's last replayed transaction committed between ${t.secondsBefore.toFixed(2)} and ${t.secondsAfter.toFixed(2)} s before.`,
        'seconds is now() - pg_last_xact_replay_timestamp(), read on the standby, in seconds (not milliseconds).',
        [index],
        { focus },
      );
    }
  }
  return pass(`The lag reported agreed with the servers' own views ${notes.length} times (behind and caught up).`);
}

/**
 * With remote_apply every acknowledged write is on the standby, and a commit waits while it
 * is cut off; a failover then fences the old primary, moves the router, and counts exactly
 * the acknowledged writes asynchronous replication lost.
 */
export function checkFailover(history: readonly ReplicationEvent[]): Verdict {
  const skipped = notRun(history);
  if (skipped !== undefined) return skipped;
  const focus: HistoryFocus = { label: 'the failover', processes: [GRADER, ...SERVERS], context: [ADMIN] };
  for (const { index, value: t } of synchronousNotes(history)) {
    if (!t.answered) {
      return fail(`setSynchronous(primary, true) threw: ${t.error ?? 'an error'}.`, 'Send each ALTER SYSTEM as its own query (never in a transaction), then SELECT pg_reload_conf().', [index], { focus });
    }
    if (!t.becameSync) {
      return fail('After setSynchronous(primary, true) the standby never became synchronous (pg_stat_replication.sync_state stayed async).', 'Set synchronous_standby_names (\'*\' names any standby) as well as synchronous_commit = \'remote_apply\', then reload.', [index], { focus });
    }
    if (!t.applyWaited) {
      return fail(
        "With setSynchronous(primary, true), a commit returned while the standby's replay was paused (the WAL received there, not applied): commits waited for the standby to receive or flush the WAL, not to apply it.",
        "synchronous_commit = 'remote_apply', not 'on' (which waits only for the standby's flush, so a read on the standby right after the commit may still miss the row).",
        [index],
        { focus },
      );
    }
    if (t.notOnStandby.length > 0 || !t.commitWaited) {
      return fail(
        `With remote_apply, ${t.notOnStandby.length > 0 ? `${t.notOnStandby.length} acknowledged writes were not on the standby (${t.notOnStandby.join(', ')})` : 'a commit returned while the standby was cut off'}: commits did not wait for the standby.`,
        'synchronous_commit = \'remote_apply\' makes each commit wait until a standby has applied it: set it with ALTER SYSTEM (not SET, which lasts one session) and reload.',
        [index],
        { focus },
      );
    }
    if (!t.offAnswered) {
      return fail(`setSynchronous(primary, false) threw: ${t.offError ?? 'an error'}.`, 'ALTER SYSTEM RESET synchronous_standby_names and synchronous_commit, each on its own, then reload.', [index], { focus });
    }
  }
  const notes = failoverNotes(history);
  if (notes.length === 0) return undecided('No failover ran.');
  for (const { index, value: t } of notes) {
    if (!t.answered) {
      return fail(`failover(router, oldPrimary, standby) threw: ${t.error ?? 'an error'}.`, 'Fence the old primary (oldPrimary.admin.stop()), then SELECT pg_promote() on the standby, then router.repoint(standby, undefined).', [index], { focus });
    }
    if (!t.promoted) {
      return fail('After failover the standby is still in recovery.', 'SELECT pg_promote(true, 60) waits until the standby is a primary.', [index], { focus });
    }
    if (t.staleWrite === 'accepted') {
      return fail('After the failover, the old primary took a write from a client that still pointed at it: two primaries, and that write is in no one\'s history.', 'Fence the old primary before you promote: stop it (oldPrimary.admin.stop()), or make it refuse writes.', [index], { focus });
    }
    const misrouted = t.writesAfter.find((w) => w.refusedAsReadOnly || w.ranOn.length === 0);
    if (misrouted !== undefined) {
      return fail(`After the failover, a write through the router ${misrouted.refusedAsReadOnly ? 'was refused as read-only' : 'failed'}.`, 'After promoting, repoint the router: writes and reads to the new primary (router.repoint(standby, undefined)).', [index], { focus });
    }
    if (t.reportedLost === null) {
      return fail("failover's report has no lostWrites the grader could read.", 'Return { promotedAtLsn, lostWrites }, lostWrites being the acknowledged writes (router.acknowledgedWrites()) past the LSN the standby had replayed when promoted.', [index], { focus });
    }
    const lost = new Set(t.lost);
    const reported = new Set(t.reportedLost);
    const missed = t.lost.filter((k) => !reported.has(k));
    const extra = t.reportedLost.filter((k) => !lost.has(k));
    if (missed.length > 0 || extra.length > 0) {
      return fail(
        `${t.lost.length} acknowledged writes were lost (${t.lost.join(', ') || 'none'}); failover reported ${t.reportedLost.length} (${t.reportedLost.join(', ') || 'none'}).`,
        'A write is lost when its LSN (taken after its commit) is past what the standby had replayed when it was promoted (pg_last_wal_replay_lsn()): compare them as numbers, and keep every acknowledged write until you know.',
        [index],
        { focus },
      );
    }
  }
  const asynchronous = notes[0]!.value;
  return pass(`With remote_apply every acknowledged write was on the standby and a commit waited while it was cut off; asynchronous, failover fenced the old primary, moved the router and reported the ${asynchronous.lost.length} acknowledged writes that were lost.`);
}
