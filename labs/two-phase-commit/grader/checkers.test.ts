/**
 * The Two-phase commit checkers on hand-made histories, in the grader's own vocabulary:
 * each property passes on a history that keeps it, and fails on one that breaks it, with
 * a hint written for that failure and the events to blame.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder } from '../../../src/core/grading/history';
import { checkAnswers, checkAtomicity, checkCleanup, checkConservation, checkRecoveryReports } from './checkers';
import { AGAIN, type AuditRow, type BankTruth, COORDINATOR, type Expectation, GRADER, IN_DOUBT, type PrepareRow, RECOVER, RECOVERY, TRANSFER, TRUTH, type TruthNote, type TwoPhaseEvent, UNFINISHED, transferLane } from './history';

const A = 'bank-a';
const B = 'bank-b';
const ID = 'c1';
const gidOf = (id: string): string => `2pc:${ID}:${id}`;

interface TruthInput extends Partial<Omit<TruthNote, 'banks'>> {
  readonly changes?: Partial<Record<string, AuditRow[]>>;
  /** The committed prepares, by bank: [transfer, xid] (the gid is the transfer's). */
  readonly commits?: Partial<Record<string, [string, string][]>>;
  readonly prepared?: Partial<Record<string, string[]>>;
  readonly preparedBefore?: Partial<Record<string, string[]>>;
}

class Story {
  private tick = 0;
  readonly recorder = new HistoryRecorder<TwoPhaseEvent>(() => this.tick++);

  transfer(id: string, cents: number, expect: Expectation = 'committed'): this {
    this.recorder.record({ type: 'invoke', op: TRANSFER, process: transferLane(id), value: { id, from: { bank: A, account: `from-${id}` }, to: { bank: B, account: `to-${id}` }, amountCents: cents, expect, plan: [] } });
    return this;
  }

  answered(id: string, status: 'committed' | 'aborted'): this {
    this.recorder.record({ type: 'ok', op: TRANSFER, process: transferLane(id), value: status === 'committed' ? { status } : { status, reason: 'no' } });
    return this;
  }

  threw(id: string): this {
    this.recorder.record({ type: 'fail', op: TRANSFER, process: transferLane(id), detail: 'transfer threw Error: prepared transaction with identifier "x" does not exist' });
    return this;
  }

  killed(id: string): this {
    this.recorder.record({ type: 'info', op: TRANSFER, process: transferLane(id), detail: 'the grader killed the coordinator after its PREPARE TRANSACTION at bank-a' });
    this.recorder.record({ type: 'crash', op: 'coordinator killed', process: COORDINATOR });
    return this;
  }

  unfinished(id: string, bank: string): this {
    this.recorder.record({ type: 'note', op: UNFINISHED, process: GRADER, value: { transfer: id, prepared: { [bank]: [gidOf(id)] } } });
    return this;
  }

  inDoubt(gids: string[]): this {
    this.recorder.record({ type: 'note', op: IN_DOUBT, process: RECOVERY, value: gids });
    return this;
  }

  recovered(value: unknown, again = false): this {
    this.recorder.record({ type: 'invoke', op: RECOVER, process: RECOVERY, ...(again ? { detail: AGAIN } : {}) });
    this.recorder.record({ type: 'ok', op: RECOVER, process: RECOVERY, value });
    return this;
  }

  truth(input: TruthInput): readonly TwoPhaseEvent[] {
    const bank = (name: string): BankTruth => {
      const changes = input.changes?.[name] ?? [];
      const balances: Record<string, number> = {};
      for (const row of changes) balances[row.account] = (balances[row.account] ?? 0) + row.deltaCents;
      const commits: PrepareRow[] = (input.commits?.[name] ?? []).map(([transfer, xid]) => ({ xid, gid: gidOf(transfer), transfer }));
      return { balances, changes, commits, prepared: input.prepared?.[name] ?? [], preparedBefore: input.preparedBefore?.[name] ?? [] };
    };
    this.recorder.record({
      type: 'note',
      op: TRUTH,
      process: GRADER,
      value: { banks: { [A]: bank(A), [B]: bank(B) }, decided: input.decided ?? [], initialTotalCents: input.initialTotalCents ?? 0, planted: input.planted ?? [], coordinatorId: ID, ...(input.logProblem !== undefined ? { logProblem: input.logProblem } : {}) },
    });
    return this.recorder.events;
  }
}

const debit = (id: string, xid: string, cents: number): AuditRow => ({ xid, account: `from-${id}`, deltaCents: -cents });
const credit = (id: string, xid: string, cents: number): AuditRow => ({ xid, account: `to-${id}`, deltaCents: cents });
const both = (id: string, cents: number): TruthInput => ({ changes: { [A]: [debit(id, '11', cents)], [B]: [credit(id, '21', cents)] }, commits: { [A]: [[id, '11']], [B]: [[id, '21']] }, decided: [gidOf(id)] });
const all = (h: readonly TwoPhaseEvent[]): string[] => [checkAtomicity(h), checkAnswers(h), checkCleanup(h), checkConservation(h)].map((v) => v.status);

describe('a history that keeps every property', () => {
  it('passes every check: one transfer committed at both banks as logged, one aborted at neither', () => {
    const h = new Story()
      .transfer('t1', 100)
      .answered('t1', 'committed')
      .transfer('t2', 5_000, 'aborted')
      .answered('t2', 'aborted')
      .truth({ ...both('t1', 100), planted: [{ bank: A, gid: '2pc:c10:x' }], prepared: { [A]: ['2pc:c10:x'] }, preparedBefore: { [A]: ['2pc:c10:x'] } });
    expect(all(h)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(checkAtomicity(h).actual).toMatch(/2 transfers: 1 committed at both banks and 1 at neither/);
  });

  it('is unknown, never a pass, when the truth was not read, or the log could not be', () => {
    const h = new Story().transfer('t1', 100).answered('t1', 'committed').recorder.events;
    expect(all(h)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    const noLog = new Story().transfer('t1', 100).answered('t1', 'committed').truth({ ...both('t1', 100), logProblem: 'relation "twopc_decisions" does not exist' });
    expect(checkAtomicity(noLog)).toMatchObject({ status: 'unknown', actual: expect.stringMatching(/could not be read/) as unknown });
  });
});

describe('atomicity', () => {
  it('fails a transfer committed at one bank only, blaming its events, with the hint that fits the log', () => {
    const decided = new Story().transfer('t1', 100, 'either').killed('t1').truth({ changes: { [A]: [debit('t1', '11', 100)] }, commits: { [A]: [['t1', '11']] }, decided: [gidOf('t1')] });
    const verdict = checkAtomicity(decided);
    expect(verdict).toMatchObject({ status: 'fail', focus: { label: 'transfer t1' } });
    expect(verdict.actual).toMatch(/committed at bank-a but not at bank-b: the money left one account and never arrived\. Its decision is in the log/);
    expect(verdict.hint).toMatch(/recover\(\) must commit every gid/);
    expect(verdict.culprits).toEqual([0, 1, 3]);

    const undecidedHalf = new Story().transfer('t1', 100, 'either').killed('t1').truth({ changes: { [B]: [credit('t1', '21', 100)] }, commits: { [B]: [['t1', '21']] } });
    expect(checkAtomicity(undecidedHalf).actual).toMatch(/arrived without leaving the other account\. Its decision is not in the log/);
    expect(checkAtomicity(undecidedHalf).hint).toMatch(/before the first COMMIT PREPARED/);
  });

  it('fails a transfer that had to abort but committed, with the hint for a kill and for a no vote', () => {
    const killed = new Story().transfer('t1', 100, 'aborted').killed('t1').truth(both('t1', 100));
    expect(checkAtomicity(killed)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/presumed abort.*no two transfers ever share one/s) as unknown });
    const noVote = new Story().transfer('t1', 100, 'aborted').answered('t1', 'committed').truth(both('t1', 100));
    expect(checkAtomicity(noVote)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/Nothing may commit without a yes/) as unknown });
  });

  it('fails a transfer committed at both banks with no decision in the log, and a decision committed nowhere', () => {
    const unlogged = new Story().transfer('t1', 100).answered('t1', 'committed').truth({ ...both('t1', 100), decided: [] });
    expect(checkAtomicity(unlogged).actual).toMatch(/no decision to commit 2pc:c1:t1 was recorded/);
    const rolledBack = new Story().transfer('t1', 100, 'either').killed('t1').truth({ decided: [gidOf('t1')] });
    expect(checkAtomicity(rolledBack)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/log holds a decision to commit 2pc:c1:t1, but no bank has committed it/) as unknown });
  });

  it('fails changes a bank committed without PREPARE TRANSACTION', () => {
    const h = new Story().transfer('t1', 100).answered('t1', 'committed').truth({ ...both('t1', 100), changes: { [A]: [debit('t1', '99', 100)], [B]: [credit('t1', '21', 100)] } });
    expect(checkAtomicity(h)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/bank-a committed changes to from-t1 in a transaction that was never prepared/) as unknown });
  });
});

describe('answers', () => {
  it('fails an answer the banks contradict', () => {
    const claimedCommit = new Story().transfer('t1', 100).answered('t1', 'committed').truth({});
    expect(checkAnswers(claimedCommit).actual).toMatch(/answered committed for t1, but it is committed at neither bank/);
    const claimedAbort = new Story().transfer('t1', 100, 'either').answered('t1', 'aborted').truth(both('t1', 100));
    expect(checkAnswers(claimedAbort).actual).toMatch(/answered aborted for t1, but it is committed at bank-a, bank-b/);
  });

  it('fails a refused transfer answered committed, one that never answers, one that threw, and one answered before phase 2 ended', () => {
    const refused = new Story().transfer('t1', 100, 'aborted').answered('t1', 'committed').truth(both('t1', 100));
    expect(checkAnswers(refused)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/Every no vote/) as unknown });
    const hung = new Story().transfer('t1', 100).truth({});
    expect(checkAnswers(hung)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/withTimeout/) as unknown });
    const threw = new Story().transfer('t1', 100).threw('t1').truth(both('t1', 100));
    expect(checkAnswers(threw)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/42704 on a retry/) as unknown });
    const early = new Story().transfer('t1', 100).answered('t1', 'committed').unfinished('t1', B).truth(both('t1', 100));
    expect(checkAnswers(early)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/bank-b still held 2pc:c1:t1 prepared: phase 2 was not finished/) as unknown });
    const killed = new Story().transfer('t1', 100).killed('t1').truth({});
    expect(checkAnswers(killed).status).toBe('pass');
  });
});

describe('cleanup', () => {
  it("fails a transaction left prepared, and another coordinator's gid finished", () => {
    const left = new Story().transfer('t1', 100).killed('t1').truth({ prepared: { [B]: [gidOf('t1'), '2pc:c10:x'] }, preparedBefore: { [B]: ['2pc:c10:x'] }, planted: [{ bank: B, gid: '2pc:c10:x' }] });
    expect(checkCleanup(left).actual).toMatch(/bank-b still holds a prepared transaction of this coordinator: 2pc:c1:t1/);
    const taken = new Story().transfer('t1', 100).killed('t1').truth({ planted: [{ bank: B, gid: '2pc:c10:x' }] });
    expect(checkCleanup(taken)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/c1 must not take c10's/) as unknown });
  });
});

describe('recovery reports', () => {
  it('passes each in-doubt gid reported once in the right list, then nothing', () => {
    const h = new Story().transfer('t1', 100, 'either').killed('t1').inDoubt([gidOf('t1')]).recovered({ committed: [gidOf('t1')], rolledBack: [] }).recovered({ committed: [], rolledBack: [] }, true).truth(both('t1', 100));
    expect(checkRecoveryReports(h).status).toBe('pass');
  });

  it('fails a gid reported twice, one missing, one in the wrong list, and a second recovery that reports something', () => {
    const base = (): Story => new Story().transfer('t1', 100, 'either').killed('t1').inDoubt([gidOf('t1')]);
    expect(checkRecoveryReports(base().recovered({ committed: [gidOf('t1'), gidOf('t1')], rolledBack: [] }).truth(both('t1', 100))).actual).toMatch(/more than once/);
    expect(checkRecoveryReports(base().recovered({ committed: [], rolledBack: [] }).truth(both('t1', 100))).actual).toMatch(/reported none, but 2pc:c1:t1 was in doubt/);
    expect(checkRecoveryReports(base().recovered({ committed: [], rolledBack: [gidOf('t1')] }).truth(both('t1', 100))).actual).toMatch(/in the wrong list/);
    expect(checkRecoveryReports(base().recovered({ committed: [gidOf('t1')], rolledBack: [] }).recovered({ committed: [gidOf('t1')], rolledBack: [] }, true).truth(both('t1', 100))).actual).toMatch(/run again when nothing was left in doubt/);
    expect(checkRecoveryReports(base().recovered('done').truth(both('t1', 100))).actual).toMatch(/not a RecoveryReport/);
  });
});

describe('conservation', () => {
  it('fails money made or lost, and a transfer applied twice at one bank', () => {
    const lost = new Story().transfer('t1', 100).answered('t1', 'committed').truth({ ...both('t1', 100), initialTotalCents: 50 });
    expect(checkConservation(lost).actual).toMatch(/hold 0 cents in all, but held 50 .* 50 cents were lost/);
    const twice = new Story()
      .transfer('t1', 100)
      .answered('t1', 'committed')
      .truth({ ...both('t1', 100), changes: { [A]: [debit('t1', '11', 100), debit('t1', '12', 100)], [B]: [credit('t1', '21', 100)] }, commits: { [A]: [['t1', '11'], ['t1', '12']], [B]: [['t1', '21']] } });
    expect(checkConservation(twice)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/changed bank-a's accounts by from-t1 -100, from-t1 -100 in 2 committed transactions/) as unknown });
  });
});
