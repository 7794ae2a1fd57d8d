/**
 * The Two-phase commit grader's checkers: pure functions of a scenario's history
 * (history.ts). Which bank committed which transfer is read from the banks' own audit (the
 * committed changes by xid, and the note of each committed PREPARE naming its gid and
 * transfer); the decision log and what is still prepared come from the truth note, read
 * after the last recovery. None of them trusts the learner's answers.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { Verdict } from '../../../src/core/grading/report';
import { AGAIN, COORDINATOR, GRADER, IN_DOUBT, LOCK_WAIT, type PrepareRow, RECOVER, RECOVERY, type TransferRecord, type TruthNote, type TwoPhaseEvent, UNFINISHED, UPDATE, bankLane, isRecoveryAnswer, otherLane, transferFocus, transfersOf, truthOf } from './history';

const list = (items: readonly string[]): string => (items.length === 0 ? 'none' : items.join(', '));

/** The committed prepared transactions of a transfer, by bank. */
export function commitsOf(record: TransferRecord, truth: TruthNote): Map<string, PrepareRow[]> {
  const found = new Map<string, PrepareRow[]>();
  for (const [bank, held] of Object.entries(truth.banks)) {
    const rows = held.commits.filter((c) => c.transfer === record.input.id);
    if (rows.length > 0) found.set(bank, rows);
  }
  return found;
}

/** The banks at which a transfer committed. */
export function committedAt(record: TransferRecord, truth: TruthNote): string[] {
  return [...commitsOf(record, truth).keys()].sort();
}

function participants(record: TransferRecord): string[] {
  return [...new Set([record.input.from.bank, record.input.to.bank])].sort();
}

function withTruth(history: readonly TwoPhaseEvent[], judge: (truth: TruthNote, truthIndex: number) => Verdict): Verdict {
  const found = truthOf(history);
  if (found === undefined) {
    return undecided('The scenario did not get as far as reading the banks and the log at its end.');
  }
  return judge(found.truth, found.index);
}

function culpritsOf(record: TransferRecord, truthIndex: number): number[] {
  return [record.invoke, ...(record.end !== undefined ? [record.end] : []), truthIndex];
}

/** Why a transfer must be aborted, as its plan says. */
function whyAborted(record: TransferRecord): string {
  return record.input.plan.length > 0 ? record.input.plan.join('; ') : 'its plan';
}

/**
 * Atomicity: after recovery, every transfer is committed at both of its banks or at
 * neither, as its decision record says (committed exactly when the log gained its gid),
 * and aborted when its plan leaves no other way (a no vote, the coordinator killed before
 * it logged anything); a decision logged is carried out; no bank committed changes outside
 * a prepared transaction.
 */
export function checkAtomicity(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    for (const [bank, held] of Object.entries(truth.banks)) {
      const prepared = new Set(held.commits.map((c) => c.xid));
      const direct = [...new Set(held.changes.filter((row) => !prepared.has(row.xid)).map((row) => row.xid))];
      if (direct.length > 0) {
        const accounts = [...new Set(held.changes.filter((row) => direct.includes(row.xid)).map((row) => row.account))];
        return fail(
          `${bank} committed changes to ${list(accounts)} in ${direct.length === 1 ? 'a transaction' : `${direct.length} transactions`} that ${direct.length === 1 ? 'was' : 'were'} never prepared: a plain COMMIT, outside two-phase commit.`,
          "A bank's part of a transfer must end in PREPARE TRANSACTION, never in COMMIT: then it can still be rolled back if the other bank votes no or the coordinator dies before the decision. Send PREPARE TRANSACTION through the transaction's own `tx`, as its last statement.",
          [truthIndex],
        );
      }
    }
    if (truth.logProblem !== undefined) {
      return undecided(`The decision log could not be read: ${truth.logProblem}`);
    }
    const decided = new Set(truth.decided);
    const records = transfersOf(history);
    const carried = new Set<string>();
    let both = 0;
    let neither = 0;
    for (const record of records) {
      const banks = participants(record);
      const commits = commitsOf(record, truth);
      const committed = [...commits.keys()].sort();
      const gids = [...new Set([...commits.values()].flat().map((c) => c.gid))];
      for (const gid of gids) carried.add(gid);
      const inLog = gids.some((g) => decided.has(g));
      const culprits = culpritsOf(record, truthIndex);
      const details = { focus: transferFocus(record) };
      if (committed.length > 0 && committed.length < banks.length) {
        const missing = banks.filter((b) => !committed.includes(b));
        return fail(
          `Transfer ${record.input.id} is committed at ${list(committed)} but not at ${list(missing)}: the money ${committed.includes(record.input.from.bank) ? 'left one account and never arrived' : 'arrived without leaving the other account'}. Its decision ${inLog ? 'is' : 'is not'} in the log.`,
          inLog
            ? 'The decision to commit was recorded, so every bank must commit in the end: phase 2 must retry COMMIT PREPARED until it succeeds (42704 means already done), and recover() must commit every gid of this coordinator whose decision is in the log.'
            : 'A bank committed with no decision in the log: write the decision (and let its INSERT commit) before the first COMMIT PREPARED. If the coordinator dies between the two, recovery finds no record, presumes abort, and rolls back the bank that had not committed yet.',
          culprits,
          details,
        );
      }
      if (committed.length > 0 && record.input.expect === 'aborted') {
        return fail(
          `Transfer ${record.input.id} is committed at both banks, but it had to abort: ${whyAborted(record)}.`,
          record.killed
            ? 'The coordinator died before it recorded any decision, so nothing decided to commit: recovery must roll back (presumed abort). If recovery committed it, its gid matched a decision recorded for another transfer: a gid must name this coordinator and this transfer, so that no two transfers ever share one.'
            : 'Nothing may commit without a yes from every bank: any error, a refusal, or no answer within c.voteTimeoutMs is a no, and one no aborts the transfer at every bank.',
          culprits,
          details,
        );
      }
      if (committed.length === banks.length && !inLog) {
        return fail(
          `Transfer ${record.input.id} is committed at both banks, but no decision to commit ${gids.length === 1 ? `${gids[0]} ` : ''}was recorded in the log while it ran.`,
          'Record the decision in the log (a row with the gid in twopc_decisions) before telling any bank to commit, and keep it: the log is what recovery trusts. Each transfer has a gid of its own, so each needs its own row.',
          culprits,
          details,
        );
      }
      if (committed.length === 0) neither++;
      else both++;
    }
    const lost = truth.decided.filter((gid) => !carried.has(gid));
    if (lost.length > 0) {
      return fail(
        `The log holds a decision to commit ${list(lost)}, but no bank has committed ${lost.length === 1 ? 'it' : 'them'}.`,
        'Once the decision is in the log the transfer must happen: recover() must commit, never roll back, a gid whose decision is recorded, and phase 2 must not give up on a bank.',
        [truthIndex],
      );
    }
    return pass(`${records.length} transfers: ${both} committed at both banks and ${neither} at neither, each as its decision record says; no bank committed outside a prepared transaction.`);
  });
}

/**
 * Answers: a transfer answered `committed` is committed at both banks, one answered
 * `aborted` at neither; one the plan decides is answered so; and a transfer that nothing
 * killed answers at all (a vote waited on with no time limit never does).
 */
export function checkAnswers(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    const records = transfersOf(history);
    for (const record of records) {
      const committed = committedAt(record, truth);
      const all = committed.length === participants(record).length;
      const culprits = culpritsOf(record, truthIndex);
      const details = { focus: transferFocus(record) };
      if (record.strange !== undefined) {
        return fail(
          `transfer() returned ${JSON.stringify(record.strange)} for ${record.input.id}, which is not a TransferOutcome.`,
          "Answer { status: 'committed' } or { status: 'aborted', reason }.",
          culprits,
          details,
        );
      }
      if (record.answer?.status === 'committed' && !all) {
        return fail(
          `transfer() answered committed for ${record.input.id}, but it is committed ${committed.length === 0 ? 'at neither bank' : `at ${list(committed)} only`}.`,
          'Answer committed only after the decision is in the log: from then on recovery will carry it out at every bank.',
          culprits,
          details,
        );
      }
      if (record.answer?.status === 'aborted' && committed.length > 0) {
        return fail(
          `transfer() answered aborted for ${record.input.id}, but it is committed at ${list(committed)}.`,
          'Answer aborted only when no decision to commit was recorded (a no vote): if writing the decision failed, you cannot know whether it was recorded, so let the error propagate instead of answering aborted.',
          culprits,
          details,
        );
      }
      if (record.input.expect !== 'either' && record.answer !== undefined && record.answer.status !== record.input.expect) {
        return fail(
          `transfer() answered ${record.answer.status} for ${record.input.id}, which should have been ${record.input.expect} (${record.input.plan.length > 0 ? record.input.plan.join('; ') : 'no fault planned'}).`,
          record.input.expect === 'aborted'
            ? 'Every no vote (an account that does not exist, a balance that would go below zero, any error, no answer in time) must abort the transfer at every bank.'
            : "With every bank voting yes, the transfer must commit: phase 2 retries a bank that failed until it is back, and 42704 ('prepared transaction ... does not exist') on a retry means the commit already happened.",
          culprits,
          details,
        );
      }
      if (record.answer === undefined && !record.killed) {
        const end = record.end !== undefined ? history[record.end] : undefined;
        return fail(
          `transfer() gave no answer for ${record.input.id}: ${end?.detail ?? 'it never returned'}.`,
          end?.type === 'fail'
            ? "transfer() must not throw when a bank fails: a failed vote is a no, and phase 2 retries (after c.sleep) until the bank answers; SQLSTATE 42704 on a retry of COMMIT PREPARED means it is already done, not an error."
            : 'A bank that does not answer must not hold the coordinator for ever: bound each vote with withTimeout(..., c.voteTimeoutMs, ...) and count silence as no.',
          culprits,
          details,
        );
      }
    }
    for (const [index, event] of history.entries()) {
      if (event.type !== 'note' || event.op !== UNFINISHED || event.value === undefined) continue;
      const { transfer, prepared } = event.value;
      const record = records.find((r) => r.input.id === transfer);
      const where = Object.entries(prepared).filter(([, gids]) => gids.length > 0);
      return fail(
        `transfer() answered for ${transfer} while ${where.map(([bank, gids]) => `${bank} still held ${list(gids)} prepared`).join(' and ')}: phase 2 was not finished.`,
        'finish() returns only once the bank has done COMMIT PREPARED (or ROLLBACK PREPARED): a failure (the bank down, a lost connection) is retried after c.sleep until the bank answers, however long it takes. Until then the prepared transaction keeps its locks, and the money is not there.',
        [...(record !== undefined ? culpritsOf(record, truthIndex) : [truthIndex]), index],
        record !== undefined ? { focus: transferFocus(record) } : {},
      );
    }
    return pass(`Every answer of transfer() matches what the banks hold (${records.filter((r) => r.answer !== undefined).length} answered).`);
  });
}

/** After recovery nothing the scenario prepared is still prepared at any bank, and the prepared transactions of another coordinator are all still there. */
export function checkCleanup(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    for (const { bank, gid } of truth.planted) {
      if (!(truth.banks[bank]?.prepared ?? []).includes(gid)) {
        return fail(
          `Recovery finished ${gid} at ${bank}, a transaction prepared by another coordinator (this one is ${truth.coordinatorId}).`,
          "pg_prepared_xacts lists every coordinator's prepared transactions: finish only this coordinator's own, whose gid starts with `2pc:<its id>:`, the ':' included (c1 must not take c10's).",
          [truthIndex],
        );
      }
    }
    for (const [bank, held] of Object.entries(truth.banks)) {
      const before = new Set(held.preparedBefore);
      const left = held.prepared.filter((gid) => !before.has(gid));
      if (left.length > 0) {
        return fail(
          `After recovery, ${bank} still holds ${left.length === 1 ? 'a prepared transaction' : `${left.length} prepared transactions`} of this coordinator: ${list(left)}. Their locks stay taken until someone finishes them.`,
          "recover() must list pg_prepared_xacts at every bank and finish each of this coordinator's gids: COMMIT PREPARED when the log holds its decision, ROLLBACK PREPARED when it does not (presumed abort).",
          [truthIndex],
        );
      }
    }
    return pass(`No prepared transaction of this coordinator is left, and the ${truth.planted.length} prepared transaction${truth.planted.length === 1 ? '' : 's'} of another coordinator ${truth.planted.length === 1 ? 'is' : 'are'} untouched.`);
  });
}

/** The money across both banks is what it was, and each committed transfer changed each of its accounts exactly once, by its amount. */
export function checkConservation(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    for (const record of transfersOf(history)) {
      for (const [bank, commits] of commitsOf(record, truth)) {
        const xids = new Set(commits.map((c) => c.xid));
        const rows = (truth.banks[bank]?.changes ?? []).filter((row) => xids.has(row.xid));
        const wanted = [
          ...(record.input.from.bank === bank ? [{ account: record.input.from.account, deltaCents: -record.input.amountCents }] : []),
          ...(record.input.to.bank === bank ? [{ account: record.input.to.account, deltaCents: record.input.amountCents }] : []),
        ];
        const show = (r: { account: string; deltaCents: number }): string => `${r.account} ${r.deltaCents > 0 ? '+' : ''}${r.deltaCents}`;
        const got = rows.map(show).sort();
        const expected = wanted.map(show).sort();
        if (got.join('|') !== expected.join('|')) {
          return fail(
            `Transfer ${record.input.id} changed ${bank}'s accounts by ${list(got)}${commits.length > 1 ? ` in ${commits.length} committed transactions (gids ${list(commits.map((c) => c.gid))})` : ''} instead of ${list(expected)}.`,
            "Each bank's part of a transfer is one change per account, in one transaction that is then prepared under the transfer's one gid: a retry must never prepare or commit the part a second time.",
            culpritsOf(record, truthIndex),
            { focus: transferFocus(record) },
          );
        }
      }
    }
    const total = Object.values(truth.banks).reduce((sum, bank) => sum + Object.values(bank.balances).reduce((s, v) => s + v, 0), 0);
    if (total !== truth.initialTotalCents) {
      return fail(
        `The banks hold ${total} cents in all, but held ${truth.initialTotalCents} before the transfers: ${Math.abs(total - truth.initialTotalCents)} cents were ${total > truth.initialTotalCents ? 'made' : 'lost'}.`,
        'A transfer must never be half-applied: both banks commit or neither, and a retry must never apply a transfer a second time.',
        [truthIndex],
      );
    }
    return pass(`The banks hold ${total} cents in all, as before; every committed transfer changed each of its accounts once, by its amount.`);
  });
}

/**
 * recover()'s answers: after the crashes, it reports each gid that was in doubt once, as
 * committed when its decision is in the log and rolled back when not; the last recovery of
 * a scenario, run when nothing is left, reports nothing.
 */
export function checkRecoveryReports(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    const decided = new Set(truth.decided);
    let inDoubt: { readonly gids: readonly string[]; readonly index: number } | undefined;
    let judged = 0;
    let again = false;
    for (const [index, event] of history.entries()) {
      if (event.type === 'note' && event.op === IN_DOUBT && event.value !== undefined) {
        inDoubt = { gids: event.value, index };
        continue;
      }
      if (event.process !== RECOVERY || event.op !== RECOVER || event.type === 'note') continue;
      if (event.type === 'invoke') {
        again = event.detail === AGAIN;
        continue;
      }
      if (event.type !== 'ok') {
        return fail(`recover() failed: ${event.detail ?? 'no answer'}.`, 'recover() must finish every in-doubt transaction of this coordinator and answer what it did; an error at one bank is retried, not thrown.', [index]);
      }
      if (!isRecoveryAnswer(event.value)) {
        return fail(`recover() returned ${JSON.stringify(event.value ?? null)}, which is not a RecoveryReport.`, 'Answer { committed: [...gids], rolledBack: [...gids] }.', [index]);
      }
      const reported = [...event.value.committed, ...event.value.rolledBack];
      const twice = reported.filter((g, i) => reported.indexOf(g) !== i);
      if (twice.length > 0) {
        return fail(
          `recover() reported ${list([...new Set(twice)])} more than once.`,
          'A transfer is prepared at both banks under one gid, so recovery meets it at each: collect the gids in a Set and answer each once.',
          [index],
        );
      }
      if (again) {
        if (reported.length > 0) {
          return fail(`recover(), run again when nothing was left in doubt, reported ${list(reported)}.`, 'Report only what this run of recover() finished: a gid no longer prepared at any bank is not in doubt.', [index]);
        }
        judged++;
        continue;
      }
      if (inDoubt === undefined) continue;
      const expected = [...inDoubt.gids].sort();
      if ([...reported].sort().join('|') !== expected.join('|')) {
        return fail(
          `recover() reported ${list([...reported].sort())}, but ${list(expected)} ${expected.length === 1 ? 'was' : 'were'} in doubt.`,
          "Report every gid of this coordinator that recovery found prepared and finished (each once), and no other.",
          [inDoubt.index, index],
        );
      }
      const wrong = event.value.committed.filter((g) => !decided.has(g)).concat(event.value.rolledBack.filter((g) => decided.has(g)));
      if (wrong.length > 0) {
        return fail(
          `recover() reported ${list(wrong)} in the wrong list: committed is for gids whose decision is in the log, rolledBack for the others.`,
          'Say what recovery did: COMMIT PREPARED for a gid with a decision recorded, ROLLBACK PREPARED for one without.',
          [index, truthIndex],
        );
      }
      judged++;
      inDoubt = undefined;
    }
    if (judged === 0) return undecided('No recovery answered.');
    return pass(`recover() reported each in-doubt gid once, in the list of what it did, and nothing when nothing was left (${judged} recoveries).`);
  });
}

/**
 * The blocking demonstration, not graded: what the other transaction waited for, from
 * pg_locks, and how long, until recovery released the prepared transaction.
 */
export function checkBlockingDemo(history: readonly TwoPhaseEvent[]): Verdict {
  const waitIndex = history.findIndex((e) => e.type === 'note' && e.op === LOCK_WAIT);
  const wait = history[waitIndex];
  if (wait === undefined || wait.type !== 'note' || wait.op !== LOCK_WAIT || wait.value === undefined) {
    return undecided('The other transaction did not wait this time (the coordinator did not stop between its prepares and its decision), so there was no blocking to show.');
  }
  const note = wait.value;
  const lane = otherLane(note.bank);
  const start = history.findIndex((e) => e.process === lane && e.op === UPDATE && e.type === 'invoke');
  const endIndex = history.findIndex((e, i) => i > start && e.process === lane && e.op === UPDATE && e.type !== 'invoke');
  const end = history[endIndex];
  // The update goes on as soon as recovery's ROLLBACK PREPARED runs, often before recover()'s answer is recorded: what counts is that it ended after recovery began.
  const recovered = history.findIndex((e, i) => i > waitIndex && e.process === RECOVERY && e.op === RECOVER && e.type === 'invoke');
  const waited = end !== undefined && history[start] !== undefined ? Math.round(end.at - (history[start]?.at ?? 0)) : undefined;
  const holder =
    note.heldBy !== undefined
      ? `the lock of transaction ${note.heldBy.xid}, which pg_locks shows held (${note.heldBy.mode}) by no session but by the prepared transaction ${note.heldBy.gid}, prepared at ${note.heldBy.preparedAt}`
      : 'a lock that pg_locks did not tie to a prepared transaction';
  const blockers = note.blockingPids.length > 0 ? ` pg_blocking_pids(${note.pid}) says {${note.blockingPids.join(', ')}}: 0 is a prepared transaction, which has no session to cancel.` : '';
  return {
    status: 'pass',
    actual:
      `Not graded, just shown: the coordinator died after both banks prepared the transfer and before it recorded a decision. Another transaction at ${note.bank} then tried to update ${note.account}: session ${note.pid} waited for ${holder} (a ${note.locktype} lock, ${note.wanted}).${blockers} ` +
      (end !== undefined && recovered >= 0 && endIndex > recovered
        ? `It waited ${waited ?? '?'} ms, until recovery rolled the transfer back (presumed abort) and released the row. In doubt, a bank can neither commit nor roll back on its own: its locks are held for as long as the coordinator is away.`
        : end !== undefined
          ? `It went on after ${waited ?? '?'} ms.`
          : 'It was still waiting when the demonstration ended.'),
    culprits: [waitIndex, ...(start >= 0 ? [start] : []), ...(endIndex >= 0 ? [endIndex] : []), ...(recovered >= 0 ? [recovered] : [])].sort((a, b) => a - b),
    focus: { label: `blocking at ${note.bank}`, processes: [lane, bankLane(note.bank)], context: [COORDINATOR, RECOVERY, bankLane(note.bank === 'bank-a' ? 'bank-b' : 'bank-a'), GRADER] },
  };
}

/** The first verdict that is not a pass, or a pass naming what each checker saw. */
export function allOf(history: readonly TwoPhaseEvent[], checkers: readonly ((h: readonly TwoPhaseEvent[]) => Verdict)[]): Verdict {
  const verdicts: Verdict[] = [];
  for (const checker of checkers) {
    const verdict = checker(history);
    if (verdict.status !== 'pass') return verdict;
    verdicts.push(verdict);
  }
  return pass(verdicts.map((v) => v.actual).join(' '));
}
