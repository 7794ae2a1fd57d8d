/**
 * The Quorum grader's checkers: pure functions of a scenario's history (history.ts), each
 * judging one property lab.json states. Per-key linearizability is decided by the kit's
 * Wing–Gong/Lowe checker; what the replicas held is read from the grader's notes.
 */
import { type HistoryOp, type Operation, checkLinearizable } from '../../../src/core/grading/linearizability';
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { HistoryFocus, Verdict } from '../../../src/core/grading/report';
import { CLIENT, type QuorumEvent, type RegisterOp, acceptedOpens, clockNotes, faultIndexes, keyFocus, notesOf, opEvents, opensOf, registerOps, replicaNotes } from './history';
import { N, OP_TIMEOUT_MS, REPLICA_TIMEOUT_MS } from './limits';
import type { OpenInput } from './protocol';
import { type Version, isNewer } from './versions';

const show = (value: string | null | undefined): string => (value === null || value === undefined ? 'nothing' : `'${value}'`);
const showVersion = (v: Version | null | undefined): string => (v === null || v === undefined ? 'no version' : `version ${v.ts}/${v.writer}`);
const opText = (op: RegisterOp): string =>
  op.f === 'put' ? `${op.process} put ${op.key} = ${show(op.value)}` : `${op.process} get ${op.key} → ${op.outcome === 'ok' ? show(op.read) : op.outcome === 'fail' ? 'failed' : 'no answer'}`;
const at = (history: readonly QuorumEvent[], index: number | undefined): string => (index === undefined ? 'never' : `${Math.round(history[index]?.at ?? 0)} ms`);

// ─── Linearizability, key by key ──────────────────────────────────────────────────

export interface KeyVerdict {
  readonly key: string;
  readonly verdict: 'linearizable' | 'not-linearizable' | 'unknown';
  /** Not linearizable: the longest order found, then the operations none of which can come next. */
  readonly linearized: readonly RegisterOp[];
  readonly stuck: readonly RegisterOp[];
  readonly ops: readonly RegisterOp[];
  readonly reason?: string;
}

/** Checks each key's register history on its own (puts are writes, gets reads; info puts may take effect late or never). */
export function checkKeys(history: readonly QuorumEvent[], maxSteps = 1_000_000): KeyVerdict[] {
  const byKey = new Map<string, RegisterOp[]>();
  for (const op of registerOps(history)) {
    byKey.set(op.key, [...(byKey.get(op.key) ?? []), op]);
  }
  const verdicts: KeyVerdict[] = [];
  for (const [key, ops] of byKey) {
    // The checker's history: invocations and completions in history order, with a map back to our ops.
    const events: { index: number; op: HistoryOp; source: RegisterOp }[] = [];
    for (const op of ops) {
      const f = op.f === 'put' ? 'write' : 'read';
      events.push({ index: op.invoke, op: { process: op.process, type: 'invoke', f, key, ...(op.f === 'put' ? { value: op.value } : {}) }, source: op });
      if (op.complete !== undefined) {
        events.push({ index: op.complete, op: { process: op.process, type: op.outcome, f, key, ...(op.f === 'get' && op.outcome === 'ok' ? { value: op.read ?? null } : {}) }, source: op });
      }
    }
    events.sort((a, b) => a.index - b.index);
    const result = checkLinearizable(
      events.map((e) => e.op),
      'register',
      { maxSteps },
    );
    const back = (o: Operation): RegisterOp => (events[o.call] as (typeof events)[number]).source;
    if (result.verdict === 'not-linearizable') {
      verdicts.push({ key, verdict: 'not-linearizable', linearized: result.linearized.map(back), stuck: result.stuck.map(back), ops });
    } else {
      verdicts.push({ key, verdict: result.verdict, linearized: [], stuck: [], ops, ...(result.verdict === 'unknown' ? { reason: result.reason } : {}) });
    }
  }
  return verdicts;
}

const verdictFocus = (v: KeyVerdict): HistoryFocus => keyFocus(v.key, v.ops);

/** A read that returned a value older than one an earlier, completed operation had already shown or written. */
function staleRead(v: KeyVerdict): { read: RegisterOp; newer: RegisterOp } | undefined {
  for (const read of v.stuck) {
    if (read.f !== 'get' || read.outcome !== 'ok') continue;
    const readVersion = read.version;
    for (const other of v.ops) {
      if (other === read || other.outcome !== 'ok' || other.complete === undefined || other.complete > read.invoke || other.version === undefined || other.version === null) continue;
      if (readVersion === undefined || readVersion === null || isNewer(other.version, readVersion)) {
        return { read, newer: other };
      }
    }
  }
  return undefined;
}

/** The put with the newest version (the order the replicas keep), or undefined when none has one. */
function newestPut(puts: readonly RegisterOp[]): RegisterOp | undefined {
  let best: RegisterOp | undefined;
  for (const p of puts) {
    if (p.version && (best?.version === undefined || best.version === null || isNewer(p.version, best.version))) best = p;
  }
  return best;
}

const HINT = {
  readRepair:
    'A read found a value that only some replicas held, returned it, and a later read through another quorum did not find it. Before get returns, write the newest value it found back to the replicas and wait for W of them to acknowledge (synchronous read repair): then every later read quorum overlaps a quorum that holds it.',
  newest: 'Wait for R answers and return the newest of them by version (compareVersions), not the first answer that arrives: the first can come from a replica that missed the latest write.',
  versions:
    'A write must get a version newer than every version a quorum holds: ask a read quorum for the newest version first and use ts = max(clock, newest.ts + 1). The local clock alone is not enough: another machine whose clock is ahead wrote a newer-looking version earlier, and the replicas keep that one.',
  tieBreak: 'Two writes got the same version, so the replicas cannot tell which is newer and may keep different ones. Put this coordinator\'s id (options.id) in version.writer: it breaks ties, and every writer\'s versions differ.',
  waitAll:
    'With one replica down, a write needs only W acknowledgements and a read R answers. Send to all N and resolve as soon as W (or R) have answered; do not wait for every replica (Promise.all fails or hangs on the one that is down).',
  failedAcks:
    'A replica call that rejected (ReplicaError) is not an acknowledgement. Count only the calls that resolved, and throw a QuorumError once so many have failed that the quorum can no longer be reached.',
  config:
    'Check the options before anything else: N, R and W must be whole numbers of at least 1, R and W at most N, N equal to replicas.length; and refuse R + W ≤ N (throw a ConfigError) unless allowEventual is true, when the coordinator\'s mode is \'eventual\'.',
  converge:
    'After a get has its R answers, the other replicas still answer, later. Compare every answer, the late ones too, with the newest version found, and write the newest value to each replica that answered with an older one (in the background; it does not delay get). That is how replicas that missed writes during a partition catch up.',
  quorumSizes:
    'Use R for every read phase (a get, and the read a put does first) and W for every write phase (a put\'s write, and a read repair), from the options, never a fixed 2 or a majority: with N = 3, R = 1, W = 3 a write needs all three replicas, and with N = 5, R = 2, W = 4 four. An operation succeeds only once its quorums answered, and fails with a QuorumError as soon as they cannot.',
  phases:
    'Each phase of an operation is its own quorum: a put that read its quorum must still get W acknowledgements for its write, and a get that has to write back must get W acknowledgements for that write before it returns. Await that second quorum and let its QuorumError through; a write phase whose failure is caught and ignored acknowledges a value that fewer than W replicas hold, and a later read through the others misses it.',
  clock:
    'Take the time from options.clock.now(), never Date.now() or a counter of your own: the grader sets each coordinator\'s clock (skewed, or stopped). A new version\'s ts is the largest of options.clock.now(), the newest ts found plus one, and the last ts this coordinator used plus one.',
  noRepair:
    'Write back only what needs it: synchronously, only when fewer than W answers of the read quorum hold the newest version; in the background, only to a replica whose answer is older than the newest (or empty). Compare versions with compareVersions (>= 0 means it holds the newest).',
  compare:
    'Pick the newest record by compareVersions from src/types.ts (or the same rule: ts compared as numbers, then writer), never by value, by arrival, or by ts as text (\'99999\' sorts after \'100000\').',
  lww: "Last-write-wins keeps exactly one of the concurrent writes: the one with the highest version, on every replica. Return the stored value as it is: never combine values, and declare conflictPolicy: 'last-write-wins'.",
};

/** Judges every key's history for linearizability: the shared part of several checks. */
function judgeLinearizable(history: readonly QuorumEvent[], hintFor: (v: KeyVerdict) => string): Verdict | undefined {
  const verdicts = checkKeys(history);
  const broken = verdicts.filter((v) => v.verdict === 'not-linearizable');
  const first = broken[0];
  if (first !== undefined) {
    const stale = staleRead(first);
    const lastShown = first.linearized.slice(-3).map(opText).join('; ');
    const actual = stale
      ? `Key ${first.key}: ${opText(stale.read)} at ${at(history, stale.read.complete)}, but ${opText(stale.newer)}${stale.newer.f === 'get' ? '' : ` (${showVersion(stale.newer.version)})`} had already completed at ${at(history, stale.newer.complete)}: a read went back to an older value.`
      : `Key ${first.key} has no linearizable order: the search placed ${first.linearized.length} of its ${first.ops.length} operations${lastShown !== '' ? ` (ending … ${lastShown})` : ''}, and none of these can come next: ${first.stuck.map(opText).join('; ')}.`;
    const more = broken.length > 1 ? ` ${broken.length - 1} more key${broken.length > 2 ? 's' : ''} (${broken.slice(1).map((v) => v.key).join(', ')}) also broke; each has its own timeline below.` : '';
    return fail(actual + more, hintFor(first), [...opEvents(first.stuck), ...(stale ? opEvents([stale.newer]) : [])], { focus: verdictFocus(first), moreFocus: broken.slice(1).map(verdictFocus) });
  }
  const undecidedKey = verdicts.find((v) => v.verdict === 'unknown');
  if (undecidedKey) {
    return undecided(`The checker could not decide key ${undecidedKey.key} within its budget (${undecidedKey.reason ?? ''}); it is not assumed to be fine.`);
  }
  return undefined;
}

/** Which hint fits a non-linearizable key: a stale read after a partial write, or a version problem. */
function linearizabilityHint(v: KeyVerdict): string {
  const stale = staleRead(v);
  if (stale && stale.newer.f === 'put' && stale.read.version !== undefined && stale.read.version !== null && stale.newer.version && stale.newer.version.ts < stale.read.version.ts) {
    return HINT.versions;
  }
  if (stale?.newer.f === 'get') return HINT.readRepair;
  const puts = v.ops.filter((o) => o.f === 'put' && o.outcome === 'ok' && o.version);
  const seen = new Set<string>();
  for (const p of puts) {
    const k = `${p.version?.ts}/${p.version?.writer}`;
    if (seen.has(k)) return HINT.tieBreak;
    seen.add(k);
  }
  return `${HINT.newest} ${HINT.versions}`;
}

const hung = (op: RegisterOp): boolean => op.detail !== undefined && /did not finish within/.test(op.detail);

// ─── Checkers ─────────────────────────────────────────────────────────────────────

const settings = (i: OpenInput): string => `N = ${i.n}, R = ${i.r}, W = ${i.w}${i.allowEventual !== undefined ? `, allowEventual: ${String(i.allowEventual)}` : ''}${i.replicas !== undefined && i.replicas !== N ? ` (${i.replicas} replicas given)` : ''}`;

/** quorum-config: R + W ≤ N refused or flagged as eventual; impossible settings refused; strict quorums accepted as strict. */
export function checkConfig(history: readonly QuorumEvent[]): Verdict {
  const opens = opensOf(history, 'config');
  if (opens.length === 0) return undecided('No configuration was tried.');
  for (const o of opens) {
    const { n, r, w } = o.input;
    const given = o.input.replicas ?? N;
    const valid = [n, r, w].every((x) => Number.isInteger(x) && x >= 1) && r <= n && w <= n && n === given;
    const blame = [o.invoke, o.complete];
    if (!valid) {
      if (o.accepted) return fail(`createCoordinator accepted ${settings(o.input)}, which cannot work${n !== given ? ` (${given} replicas were given)` : ''}.`, HINT.config, blame);
      continue;
    }
    if (r + w > n) {
      if (!o.accepted) return fail(`createCoordinator refused ${settings(o.input)}, a valid strict quorum: ${o.detail ?? ''}`, HINT.config, blame);
      if (o.mode !== 'strict') return fail(`With ${settings(o.input)} (R + W > N) the coordinator's mode is ${JSON.stringify(o.mode)}, not 'strict'.`, HINT.config, blame);
      continue;
    }
    // R + W ≤ N: refused unless the caller opted in; then accepted and flagged as eventual.
    if (!o.accepted && o.input.allowEventual === true) {
      return fail(`createCoordinator refused ${settings(o.input)}: R + W ≤ N is what allowEventual: true asks for, and must then be accepted with mode 'eventual': ${o.detail ?? ''}`, HINT.config, blame);
    }
    if (o.accepted && o.input.allowEventual !== true) {
      return fail(`createCoordinator accepted ${settings(o.input)}${o.input.allowEventual === false ? ' (allowEventual: false)' : ' without allowEventual'}: R + W = ${r + w} ≤ N = ${n}, so a read quorum can miss the latest write, and the caller did not ask for that. It must throw a ConfigError unless allowEventual is true.`, HINT.config, blame);
    }
    if (o.accepted && o.mode !== 'eventual') {
      return fail(`createCoordinator accepted ${settings(o.input)} as mode ${JSON.stringify(o.mode)}: R + W = ${r + w} ≤ N = ${n}, so a read quorum can miss the latest write, and nothing tells the caller.`, HINT.config, blame);
    }
  }
  const eventual = opens.find((o) => o.input.allowEventual === true && o.input.r + o.input.w <= o.input.n);
  return pass(`Strict quorums were accepted as 'strict'; R + W ≤ N was ${eventual?.accepted === true ? "accepted as 'eventual' when allowed" : 'refused'}; impossible settings were refused (${opens.length} configurations tried).`);
}

/** one-replica-down: with one replica of three down, R = W = 2 still reads and writes, and reads the latest value. */
export function checkOneDown(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  if (ops.length === 0) return undecided('No operation ran.');
  const { faults } = faultIndexes(history);
  for (const op of ops) {
    if (op.outcome !== 'ok') {
      const during = [...faults].reverse().find((i) => i < op.invoke);
      const fault = during !== undefined ? history[during] : undefined;
      return fail(
        `${opText(op)} failed while only one replica was down${fault !== undefined ? ` (${fault.op})` : ''}: ${op.detail ?? 'no answer'}. Two replicas answered, which is a quorum for R = W = 2.`,
        hung(op) ? HINT.waitAll : `${HINT.waitAll} ${HINT.failedAcks}`,
        [...opEvents([op]), ...(during !== undefined ? [during] : [])],
      );
    }
  }
  return judgeLinearizable(history, linearizabilityHint) ?? pass(`${ops.length} reads and writes succeeded and read the latest value, with each of the three replicas down in turn.`);
}

/** two-replicas-down: with two of three down, operations fail (a QuorumError) instead of answering from one replica. */
export function checkTwoDown(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  const { faults, heals } = faultIndexes(history);
  const downAt = faults[0];
  const healAt = downAt === undefined ? undefined : heals.find((i) => i > downAt);
  if (downAt === undefined || healAt === undefined) return undecided('The replicas were not taken down as planned.');
  for (const op of ops) {
    if (op.invoke < downAt || op.invoke > healAt) continue;
    if (op.outcome === 'ok') {
      return fail(
        `${opText(op)} succeeded while two of the three replicas were down: ${op.f === 'put' ? 'only one replica can have acknowledged it, fewer than W = 2' : 'only one replica can have answered, fewer than R = 2'}. It should have failed with a QuorumError.`,
        HINT.failedAcks,
        [downAt, ...opEvents([op])],
      );
    }
    if (hung(op)) {
      return fail(`${opText(op)} did not return within ${OP_TIMEOUT_MS / 1000} s while two replicas were down: it should fail with a QuorumError as soon as two replicas have failed (each call fails after the replica's time limit of ${REPLICA_TIMEOUT_MS} ms).`, HINT.failedAcks, [downAt, op.invoke]);
    }
  }
  return judgeLinearizable(history, linearizabilityHint) ?? pass('With two replicas down, the write and the read failed instead of answering; after healing, the value read was consistent.');
}

/** partial-write: a write that reached fewer than W replicas is never seen by one read and missed by a later one. */
export function checkPartialWrite(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  if (ops.filter((o) => o.f === 'get').length < 2) return undecided('The scenario did not run to the end.');
  const broken = judgeLinearizable(history, (v) => (staleRead(v)?.newer.f === 'get' ? HINT.readRepair : linearizabilityHint(v)));
  if (broken) return broken;
  const reads = ops.filter((o) => o.f === 'get' && o.outcome === 'ok');
  return pass(`The write of v2 reached one replica only; the reads that followed (${reads.map((r) => show(r.read)).join(', ')}) never went back to an older value.`);
}

/** linearizable-under-faults: concurrent clients under outages, partitions, latency and drops; every key stays linearizable. */
export function checkLinearizableUnderFaults(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  if (ops.length === 0) return undecided('No operation ran.');
  const stuck = ops.find(hung);
  if (stuck) {
    return fail(`${opText(stuck)} did not return within ${OP_TIMEOUT_MS / 1000} s: an operation must succeed or fail with a QuorumError once enough replicas answered or failed.`, HINT.waitAll, opEvents([stuck]));
  }
  const okOps = ops.filter((o) => o.outcome === 'ok').length;
  if (okOps < ops.length / 3) {
    return fail(`Only ${okOps} of ${ops.length} operations succeeded, although at most two replicas were ever down and mostly one.`, HINT.waitAll, []);
  }
  const faults = faultIndexes(history).faults.length;
  const keys = new Set(ops.map((o) => o.key)).size;
  const clients = new Set(ops.map((o) => o.process)).size;
  return judgeLinearizable(history, linearizabilityHint) ?? pass(`${ops.length} operations by ${clients} clients on ${keys} keys (${okOps} succeeded), under ${faults} faults: every key's history is linearizable.`);
}

/** concurrent-writes: concurrent writes to one key leave one winner on every replica, by last-write-wins, never a merge. */
export function checkConcurrentWrites(history: readonly QuorumEvent[]): Verdict {
  const policy = acceptedOpens(history).find(({ declared }) => declared.conflictPolicy !== 'last-write-wins');
  if (policy) {
    return fail(`The coordinator declares conflictPolicy ${JSON.stringify(policy.declared.conflictPolicy)}, so a lost concurrent write would go unreported.`, HINT.lww, [policy.index]);
  }
  const ops = registerOps(history);
  const notes = replicaNotes(history);
  const picks = notesOf(history, 'pick');
  const told: string[] = [];
  for (const { note, index } of picks) {
    const read = ops.find((o) => o.key === note.key && o.f === 'get' && o.invoke > index);
    if (read === undefined) return undecided(`The read of ${note.key} did not run.`);
    const held = note.placed.map((h, i) => `replica-${i + 1} held ${h === null ? 'nothing' : `${show(h.value)} (${showVersion(h.version)})`}`).join(' and ');
    if (read.outcome !== 'ok' || read.read !== note.expect) {
      return fail(
        `${held}; replica-3 was cut off, so a read quorum was those two. ${opText(read)}, but the newest version is ${show(note.expect)}'s: versions compare ts as numbers first, then writer, never the value.`,
        HINT.compare,
        [index, ...opEvents([read])],
        { focus: keyFocus(note.key, [read]) },
      );
    }
    told.push(`${note.key}: ${show(note.expect)} chosen over ${note.placed.length - 1} other version`);
  }
  const rounds = [...new Set(ops.map((o) => o.key))].filter((key) => !picks.some((p) => p.note.key === key));
  if (rounds.length === 0) return undecided('No write ran.');
  for (const [key, { note, index }] of clockNotes(history)) {
    const first = ops.find((o) => o.key === key && o.f === 'put' && o.invoke > index);
    const ts = first?.version?.ts;
    if (first === undefined || first.outcome !== 'ok' || ts === undefined) continue;
    if (ts < note.now || ts > note.now + 1000) {
      return fail(
        `The coordinators' clocks read ${note.now} (options.clock.now()), and ${key} held nothing, yet ${opText(first)} got ${showVersion(first.version)}: its ts did not come from options.clock.`,
        HINT.clock,
        [index, ...opEvents([first])],
        { focus: keyFocus(key, [first]) },
      );
    }
  }
  for (const key of rounds) {
    const puts = ops.filter((o) => o.key === key && o.f === 'put');
    const gets = ops.filter((o) => o.key === key && o.f === 'get');
    const focus: HistoryFocus = keyFocus(key, [...puts, ...gets]);
    const failedPut = puts.find((p) => p.outcome !== 'ok');
    if (failedPut) return fail(`${opText(failedPut)} failed although every replica was up: ${failedPut.detail ?? ''}`, HINT.waitAll, opEvents([failedPut]), { focus });
    const byVersion = new Map<string, RegisterOp>();
    for (const p of puts) {
      const k = `${p.version?.ts}/${p.version?.writer}`;
      const same = byVersion.get(k);
      if (same && same.value !== p.value) {
        return fail(`${opText(same)} and ${opText(p)} were both given ${showVersion(p.version)}: the replicas cannot tell which is newer, so each may keep a different one.`, HINT.tieBreak, opEvents([same, p]), { focus });
      }
      byVersion.set(k, p);
    }
    const winner = newestPut(puts);
    const note = notes.get(key);
    if (!note || !winner) return undecided(`The replicas of ${key} could not be read.`);
    const held = note.note.held;
    const names = held.map((h, i) => `replica-${i + 1} holds ${h === 'unreachable' ? 'nothing it would say (unreachable)' : h === null ? 'nothing' : `${show(h.value)} (${showVersion(h.version)})`}`).join(', ');
    const agree = held.every((h) => h !== 'unreachable' && h !== null && h.value === winner.value && h.version.ts === winner.version?.ts && h.version.writer === winner.version.writer);
    if (!agree) {
      const merged = held.some((h) => h !== 'unreachable' && h !== null && !puts.some((p) => p.value === h.value));
      return fail(
        `After ${puts.length} concurrent writes to ${key}, ${names}; the newest write was ${opText(winner)} with ${showVersion(winner.version)}.${merged ? ' A replica holds a value no client wrote: a merge.' : ''}`,
        merged ? HINT.lww : HINT.tieBreak,
        [...opEvents(puts), note.index],
        { focus },
      );
    }
    const wrongRead = gets.find((g) => g.outcome !== 'ok' || g.read !== winner.value);
    if (wrongRead) {
      return fail(`Every replica holds ${show(winner.value)}, but ${opText(wrongRead)}.`, HINT.lww, [...opEvents([wrongRead]), note.index], { focus });
    }
    told.push(`${key}: ${show(winner.value)} (${showVersion(winner.version)}) won over ${puts.length - 1} concurrent writes`);
  }
  return pass(`Last-write-wins, as your coordinator declares: ${told.join('; ')}, on every replica. The other writes were overwritten without an error; that loss is what last-write-wins means.`);
}

/** convergence: after the faults heal, reads bring every replica to the same newest value. */
export function checkConvergence(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  const notes = replicaNotes(history);
  if (notes.size === 0) return undecided('The replicas could not be read after healing.');
  for (const [key, { note, index }] of notes) {
    const puts = ops.filter((o) => o.key === key && o.f === 'put' && o.outcome === 'ok' && o.version);
    const newest = newestPut(puts);
    if (!newest) return undecided(`No write of ${key} succeeded, so there is nothing to converge to.`);
    const behind = note.held.map((h, i) => ({ h, i })).filter(({ h }) => h === 'unreachable' || h === null || h.version.ts !== newest.version?.ts || h.version.writer !== newest.version.writer);
    if (behind.length > 0) {
      const reads = ops.filter((o) => o.key === key && o.f === 'get');
      const describe = behind.map(({ h, i }) => `replica-${i + 1} holds ${h === 'unreachable' ? '(unreachable)' : h === null ? 'nothing' : `${show(h.value)} (${showVersion(h.version)})`}`).join(', ');
      const events = [...opEvents([newest, ...reads]), index];
      return fail(`After the partition healed and ${key} was read, ${describe}, while the newest write was ${opText(newest)} (${showVersion(newest.version)}).`, HINT.converge, events, { focus: { label: `key ${key}`, processes: [], events } });
    }
  }
  return pass(`After the partition healed and each key was read once, all three replicas held the newest version of all ${notes.size} keys.`);
}

/** other-quorums: R and W other than 2 (N = 3 with R = 1, W = 3 and R = 3, W = 1; N = 5): each operation succeeds exactly when its quorums can answer. */
export function checkOtherQuorums(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  const phases = notesOf(history, 'expect');
  if (phases.length === 0 || ops.length === 0) return undecided('No operation ran under the other settings.');
  const stuck = ops.find(hung);
  if (stuck) return fail(`${opText(stuck)} did not return within ${OP_TIMEOUT_MS / 1000} s.`, HINT.waitAll, opEvents([stuck]));
  const told = new Set<string>();
  for (const op of ops) {
    const phase = [...phases].reverse().find((p) => p.index < op.invoke && p.note.key === op.key);
    if (phase === undefined) continue;
    const { n, r, w, down } = phase.note;
    const up = n - down.length;
    const where = `with N = ${n}, R = ${r}, W = ${w} and ${down.length === 0 ? 'every replica up' : `${down.length} of ${n} replicas down (${down.map((i) => `replica-${i + 1}`).join(', ')})`}`;
    const blame = [phase.index, ...opEvents([op])];
    told.add(`N = ${n}, R = ${r}, W = ${w}`);
    if (op.outcome === 'ok' && op.f === 'put' && up < w) {
      return fail(`${opText(op)} succeeded ${where}: at most ${up} replica${up === 1 ? '' : 's'} can have acknowledged it, fewer than W = ${w}.`, HINT.quorumSizes, blame);
    }
    if (op.outcome === 'ok' && up < r) {
      return fail(`${opText(op)} succeeded ${where}: at most ${up} replica${up === 1 ? '' : 's'} can have answered its read, fewer than R = ${r}.`, HINT.quorumSizes, blame);
    }
    if (op.outcome !== 'ok' && up >= Math.max(r, w)) {
      return fail(`${opText(op)} failed ${where}: ${up} replicas answered, enough for both R = ${r} and W = ${w}: ${op.detail ?? 'no answer'}.`, HINT.quorumSizes, blame);
    }
  }
  return judgeLinearizable(history, linearizabilityHint) ?? pass(`Under ${[...told].join('; ')}, every operation succeeded when its quorums could answer and failed when they could not (${ops.length} operations), and every key's history is linearizable.`);
}

/** faults-between-phases: a write phase that cannot reach W replicas fails its operation, although the read phase before it succeeded. */
export function checkBetweenPhases(history: readonly QuorumEvent[]): Verdict {
  const ops = registerOps(history);
  const cuts = notesOf(history, 'cut');
  if (cuts.length === 0) return undecided('No operation ran with its write phase cut off.');
  for (const { note, index } of cuts) {
    const op = ops.find((o) => o.invoke > index && o.key === note.key && o.f === note.op);
    if (op === undefined) return undecided(`The ${note.op} of ${note.key} did not run.`);
    if (hung(op)) return fail(`${opText(op)} did not return within ${OP_TIMEOUT_MS / 1000} s.`, HINT.failedAcks, opEvents([op]));
    if (note.expect === 'ok') {
      if (op.outcome !== 'ok') {
        const why = note.reachable.length >= note.w ? `its writes could still reach ${note.reachable.join(' and ')}, W = ${note.w} of them` : 'every replica it read held the same version, so it had nothing to write back';
        return fail(`${opText(op)} failed, although its read phase was answered and ${why}: ${op.detail ?? 'no answer'}.`, note.reachable.length >= note.w ? HINT.waitAll : HINT.noRepair, [index, ...opEvents([op])]);
      }
      continue;
    }
    if (op.outcome === 'ok' && (note.op === 'put' || op.read === note.unsafe)) {
      const what = note.op === 'put' ? 'its write' : 'its read repair (the newest value it found was held by fewer than W replicas of its quorum)';
      return fail(
        `${opText(op)} succeeded, but after its read phase every write it sent could reach only ${note.reachable.join(' and ')}: ${what} was acknowledged by fewer than W = ${note.w} replicas. It should have failed with a QuorumError.`,
        HINT.phases,
        [index, ...opEvents([op])],
        { focus: keyFocus(op.key, ops.filter((o) => o.key === op.key)) },
      );
    }
  }
  for (const { note, index } of notesOf(history, 'writes')) {
    if (note.reached.length > 0) {
      const read = [...ops].reverse().find((o) => o.key === note.key && o.f === 'get' && o.invoke < index);
      return fail(
        `Every replica held the same version of ${note.key}, yet ${read !== undefined ? opText(read) : 'the get'} wrote to ${note.reached.join(', ')}: a read whose answers agree has nothing to repair.`,
        HINT.noRepair,
        [index, ...(read !== undefined ? opEvents([read]) : [])],
      );
    }
  }
  return judgeLinearizable(history, (v) => (staleRead(v)?.newer.f === 'get' ? HINT.readRepair : HINT.phases)) ?? pass(`A put whose write phase, and a get whose read repair, could reach only one replica after their reads had succeeded both failed with an error; with one replica cut off at its write, each succeeded; the reads that followed stayed consistent.`);
}

/** The demonstration (stale-read-demo): a stale read with R = W = 1. Never a fail: 'pass' when it showed one. */
export function checkStaleReadDemo(history: readonly QuorumEvent[]): Verdict {
  const refused = opensOf(history, CLIENT(1)).find((o) => !o.accepted);
  if (refused) {
    return undecided(`Your coordinator refused N = 3, R = 1, W = 1 even with allowEventual (${refused.detail ?? ''}), so there was no stale read to show.`);
  }
  const verdict = checkKeys(history).find((v) => v.verdict === 'not-linearizable');
  const stale = verdict ? staleRead(verdict) : undefined;
  if (!verdict || !stale) {
    return undecided('This run read the latest value anyway: no stale read to show. Run the grade again for another schedule.');
  }
  return {
    status: 'pass',
    actual: `Not graded, just shown: with N = 3, R = 1, W = 1 (R + W = 2 ≤ N), ${opText(stale.newer)} was acknowledged at ${at(history, stale.newer.complete)} by one replica while the other two were cut off. Then ${opText(stale.read)}: the one replica it asked had missed the write. R + W > N rules this out, because every read quorum then includes a replica of every write quorum.`,
    culprits: opEvents([stale.read, stale.newer]),
    focus: verdictFocus(verdict),
  };
}
