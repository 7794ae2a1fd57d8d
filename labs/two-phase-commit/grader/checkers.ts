/**
 * The Two-phase commit grader's checkers: pure functions of a scenario's history
 * (history.ts). Which bank committed which transfer is read from the banks' own audit
 * (the committed changes, by xid) and the xids the adapter saw prepared under each gid;
 * the decision log and what is still prepared come from the truth note, read after the
 * last recovery.
 */
import { fail, pass, undecided } from '../../../src/core/grading/outcome';
import type { Verdict } from '../../../src/core/grading/report';
import { type TransferRecord, type TruthNote, type TwoPhaseEvent, prepareNotes, transferFocus, transfersOf, truthOf } from './history';

const list = (items: readonly string[]): string => (items.length === 0 ? 'none' : items.join(', '));

/** The banks at which a transfer's prepared transaction committed: its xid there has audited changes. */
export function committedAt(record: TransferRecord, truth: TruthNote): string[] {
  const banks: string[] = [];
  for (const [bank, { note }] of record.prepares) {
    if ((truth.banks[bank]?.audit ?? []).some((row) => row.xid === note.xid)) {
      banks.push(bank);
    }
  }
  return banks.sort();
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

/**
 * Atomicity: after recovery, every transfer is committed at both of its banks or at
 * neither, as its decision record says (committed exactly when the log holds its gid); and
 * no bank has committed changes outside a prepared transaction.
 */
export function checkAtomicity(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    const records = transfersOf(history);
    const prepared = new Set(prepareNotes(history).map(({ note }) => `${note.bank}/${note.xid}`));
    for (const [bank, held] of Object.entries(truth.banks)) {
      const direct = [...new Set(held.audit.filter((row) => !prepared.has(`${bank}/${row.xid}`)).map((row) => row.xid))];
      if (direct.length > 0) {
        return fail(
          `${bank} committed changes to accounts in ${direct.length === 1 ? 'a transaction' : `${direct.length} transactions`} (xid ${list(direct)}) that were never prepared: a plain COMMIT, outside two-phase commit.`,
          "A bank's part of a transfer must end in PREPARE TRANSACTION, never in COMMIT: then it can still be rolled back if the other bank votes no or the coordinator dies before the decision. Send PREPARE TRANSACTION through the transaction's own `tx`, as its last statement.",
          [truthIndex],
        );
      }
    }
    const decided = new Set(truth.decided);
    let both = 0;
    let neither = 0;
    for (const record of records) {
      const banks = participants(record);
      const committed = committedAt(record, truth);
      const inLog = decided.has(record.input.gid);
      const culprits = [record.invoke, ...(record.end !== undefined ? [record.end] : []), ...[...record.prepares.values()].map((p) => p.index), truthIndex];
      const details = { focus: transferFocus(record) };
      if (committed.length > 0 && committed.length < banks.length) {
        return fail(
          `Transfer ${record.input.id} is committed at ${list(committed)} but not at ${list(banks.filter((b) => !committed.includes(b)))}: the money ${record.input.from.bank === committed[0] ? 'left one account and never arrived' : 'arrived without leaving the other account'}. Its decision ${inLog ? 'is' : 'is not'} in the log.`,
          inLog
            ? 'The decision to commit was recorded, so every bank must commit in the end: phase 2 must retry COMMIT PREPARED until it succeeds (42704 means already done), and recover() must commit every gid of this coordinator whose decision is in the log.'
            : 'A bank committed with no decision in the log: write the decision (and let its INSERT commit) before the first COMMIT PREPARED. If the coordinator dies between the two, recovery finds no record, presumes abort, and rolls back the bank that had not committed yet.',
          culprits,
          details,
        );
      }
      if (committed.length === banks.length && !inLog) {
        return fail(
          `Transfer ${record.input.id} is committed at both banks, but its gid ${record.input.gid} is not in the decision log.`,
          'Record the decision in the log (a row with the gid in twopc_decisions) before telling any bank to commit, and keep it: the log is what recovery trusts.',
          culprits,
          details,
        );
      }
      if (committed.length === 0 && inLog) {
        return fail(
          `Transfer ${record.input.id} was decided (its gid is in the log) but is committed at neither bank.`,
          'Once the decision is in the log the transfer must happen: recover() must commit, never roll back, a gid whose decision is recorded, and phase 2 must not give up on a bank.',
          culprits,
          details,
        );
      }
      if (committed.length === 0) neither++;
      else both++;
    }
    return pass(`${records.length} transfers: ${both} committed at both banks and ${neither} at neither, each as its decision record says; no bank committed outside a prepared transaction.`);
  });
}

/**
 * Answers: a transfer answered `committed` is committed at both banks, one answered
 * `aborted` at neither; one the scenario expects to go through (or to be refused) is
 * answered so; and a transfer that nothing killed answers at all (a vote waited on with no
 * time limit never does).
 */
export function checkAnswers(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    const killed = history.some((e) => e.type === 'crash');
    const records = transfersOf(history);
    for (const record of records) {
      const committed = committedAt(record, truth);
      const all = committed.length === participants(record).length;
      const culprits = [record.invoke, ...(record.end !== undefined ? [record.end] : []), truthIndex];
      const details = { focus: transferFocus(record) };
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
            : 'With every bank voting yes, the transfer must commit: phase 2 retries a bank that failed, and 42704 on a retry means the commit already happened.',
          culprits,
          details,
        );
      }
      if (record.answer === undefined && !killed && record.input.expect !== 'either') {
        return fail(
          `transfer() gave no answer for ${record.input.id} (${record.unanswered && record.end !== undefined ? 'it threw or ran past its time limit' : 'it never returned'}).`,
          "A bank that does not answer must not hold the coordinator for ever: bound each vote with withTimeout(..., c.voteTimeoutMs, ...) and count silence as no. Phase 2's only error to tolerate as done is 42704; other errors are retried.",
          culprits,
          details,
        );
      }
    }
    return pass(`Every answer of transfer() matches what the banks hold (${records.filter((r) => r.answer !== undefined).length} answered).`);
  });
}

/** After recovery no gid of this coordinator is still prepared at any bank, and the prepared transactions of other coordinators are all still there. */
export function checkCleanup(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    const own = `2pc:${truth.coordinatorId}:`;
    for (const [bank, held] of Object.entries(truth.banks)) {
      const left = held.prepared.filter((gid) => gid.startsWith(own));
      if (left.length > 0) {
        return fail(
          `After recovery, ${bank} still holds ${left.length === 1 ? 'a prepared transaction' : `${left.length} prepared transactions`} of this coordinator: ${list(left)}. Their locks stay taken until someone finishes them.`,
          "recover() must list pg_prepared_xacts at every bank and finish each of this coordinator's gids: COMMIT PREPARED when the log holds its decision, ROLLBACK PREPARED when it does not (presumed abort).",
          [truthIndex],
        );
      }
    }
    for (const { bank, gid } of truth.planted) {
      if (!(truth.banks[bank]?.prepared ?? []).includes(gid)) {
        return fail(
          `Recovery finished ${gid} at ${bank}, a transaction prepared by another coordinator.`,
          "pg_prepared_xacts lists every coordinator's prepared transactions: finish only this coordinator's own, whose gid starts with `2pc:<its id>:`, the ':' included (c1 must not take c10's).",
          [truthIndex],
        );
      }
    }
    return pass(`No gid of this coordinator is left prepared, and the ${truth.planted.length} prepared transaction${truth.planted.length === 1 ? '' : 's'} of other coordinators ${truth.planted.length === 1 ? 'is' : 'are'} untouched.`);
  });
}

/** The money across both banks is what it was, and each committed transfer changed each of its accounts exactly once, by its amount. */
export function checkConservation(history: readonly TwoPhaseEvent[]): Verdict {
  return withTruth(history, (truth, truthIndex) => {
    const total = Object.values(truth.banks).reduce((sum, bank) => sum + Object.values(bank.balances).reduce((s, v) => s + v, 0), 0);
    const records = transfersOf(history);
    for (const record of records) {
      for (const [bank, { note, index }] of record.prepares) {
        const rows = (truth.banks[bank]?.audit ?? []).filter((row) => row.xid === note.xid);
        if (rows.length === 0) continue;
        const wanted = [
          ...(record.input.from.bank === bank ? [{ account: record.input.from.account, deltaCents: -record.input.amountCents }] : []),
          ...(record.input.to.bank === bank ? [{ account: record.input.to.account, deltaCents: record.input.amountCents }] : []),
        ];
        const got = rows.map((r) => `${r.account} ${r.deltaCents > 0 ? '+' : ''}${r.deltaCents}`).sort();
        const expected = wanted.map((w) => `${w.account} ${w.deltaCents > 0 ? '+' : ''}${w.deltaCents}`).sort();
        if (got.join('|') !== expected.join('|')) {
          return fail(
            `Transfer ${record.input.id} changed ${bank}'s accounts by ${list(got)} instead of ${list(expected)}.`,
            "Each bank's part of a transfer is one change per account: the debit at the sending bank, the credit at the receiving one, each applied once, in the transaction that is then prepared.",
            [record.invoke, index, truthIndex],
            { focus: transferFocus(record) },
          );
        }
      }
    }
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
