/**
 * The Two-phase commit checkers on hand-made histories, in the grader's own vocabulary:
 * each property passes on a history that keeps it, and fails on one that breaks it, with
 * a hint written for that failure and the events to blame.
 */
import { describe, expect, it } from 'vitest';
import { HistoryRecorder } from '../../../src/core/grading/history';
import { checkAnswers, checkAtomicity, checkCleanup, checkConservation } from './checkers';
import { COORDINATOR, GRADER, PREPARE, TRANSFER, TRUTH, type AuditRow, type BankTruth, type Expectation, type TruthNote, type TwoPhaseEvent, bankLane, transferLane } from './history';

const A = 'bank-a';
const B = 'bank-b';
const ID = 'c1';
const gidOf = (id: string): string => `2pc:${ID}:${id}`;

class Story {
  private tick = 0;
  readonly recorder = new HistoryRecorder<TwoPhaseEvent>(() => this.tick++);

  transfer(id: string, cents: number, expect: Expectation = 'committed'): this {
    this.recorder.record({ type: 'invoke', op: TRANSFER, process: transferLane(id), value: { id, gid: gidOf(id), from: { bank: A, account: `from-${id}` }, to: { bank: B, account: `to-${id}` }, amountCents: cents, expect, plan: [] } });
    return this;
  }

  prepared(bank: string, id: string, xid: string): this {
    this.recorder.record({ type: 'note', op: PREPARE, process: bankLane(bank), value: { bank, gid: gidOf(id), xid } });
    return this;
  }

  answered(id: string, status: 'committed' | 'aborted'): this {
    this.recorder.record({ type: 'ok', op: TRANSFER, process: transferLane(id), value: status === 'committed' ? { status } : { status, reason: 'no' } });
    return this;
  }

  killed(): this {
    this.recorder.record({ type: 'crash', op: 'kill the coordinator', process: COORDINATOR });
    return this;
  }

  truth(truth: Partial<TruthNote> & { audit?: Partial<Record<string, AuditRow[]>>; prepared?: Partial<Record<string, string[]>> }): readonly TwoPhaseEvent[] {
    const bank = (name: string): BankTruth => {
      const audit = truth.audit?.[name] ?? [];
      const balances: Record<string, number> = {};
      for (const row of audit) balances[row.account] = (balances[row.account] ?? 0) + row.deltaCents;
      return { balances, audit, prepared: truth.prepared?.[name] ?? [] };
    };
    this.recorder.record({
      type: 'note',
      op: TRUTH,
      process: GRADER,
      value: { banks: { [A]: bank(A), [B]: bank(B) }, decided: truth.decided ?? [], initialTotalCents: truth.initialTotalCents ?? 0, planted: truth.planted ?? [], coordinatorId: ID },
    });
    return this.recorder.events;
  }
}

const debit = (id: string, xid: string, cents: number): AuditRow => ({ xid, account: `from-${id}`, deltaCents: -cents });
const credit = (id: string, xid: string, cents: number): AuditRow => ({ xid, account: `to-${id}`, deltaCents: cents });
const all = (h: readonly TwoPhaseEvent[]): string[] => [checkAtomicity(h), checkAnswers(h), checkCleanup(h), checkConservation(h)].map((v) => v.status);

describe('a history that keeps every property', () => {
  it('passes every check: one transfer committed at both banks as logged, one aborted at neither', () => {
    const h = new Story()
      .transfer('t1', 100)
      .prepared(A, 't1', '11')
      .prepared(B, 't1', '21')
      .answered('t1', 'committed')
      .transfer('t2', 5_000, 'aborted')
      .prepared(B, 't2', '22')
      .answered('t2', 'aborted')
      .truth({ audit: { [A]: [debit('t1', '11', 100)], [B]: [credit('t1', '21', 100)] }, decided: [gidOf('t1')], planted: [{ bank: A, gid: '2pc:c10:x' }], prepared: { [A]: ['2pc:c10:x'] } });
    expect(all(h)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(checkAtomicity(h).actual).toMatch(/2 transfers: 1 committed at both banks and 1 at neither/);
  });

  it('is unknown, never a pass, when the truth was not read', () => {
    const h = new Story().transfer('t1', 100).answered('t1', 'committed').recorder.events;
    expect(all(h)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
  });
});

describe('atomicity', () => {
  it('fails a transfer committed at one bank only, blaming its events, with the hint that fits the log', () => {
    const decided = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').killed().truth({ audit: { [A]: [debit('t1', '11', 100)] }, decided: [gidOf('t1')] });
    const verdict = checkAtomicity(decided);
    expect(verdict).toMatchObject({ status: 'fail', focus: { label: 'transfer t1' } });
    expect(verdict.actual).toMatch(/committed at bank-a but not at bank-b: the money left one account and never arrived\. Its decision is in the log/);
    expect(verdict.hint).toMatch(/recover\(\) must commit every gid/);
    expect(verdict.culprits).toEqual([0, 1, 2, 4]);

    const undecidedHalf = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').killed().truth({ audit: { [B]: [credit('t1', '21', 100)] } });
    expect(checkAtomicity(undecidedHalf).actual).toMatch(/arrived without leaving the other account\. Its decision is not in the log/);
    expect(checkAtomicity(undecidedHalf).hint).toMatch(/before the first COMMIT PREPARED/);
  });

  it('fails a transfer committed at both banks with no decision in the log, and one decided but committed nowhere', () => {
    const unlogged = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').answered('t1', 'committed').truth({ audit: { [A]: [debit('t1', '11', 100)], [B]: [credit('t1', '21', 100)] } });
    expect(checkAtomicity(unlogged).actual).toMatch(/not in the decision log/);
    const rolledBack = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').killed().truth({ decided: [gidOf('t1')] });
    expect(checkAtomicity(rolledBack)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/decided .* but is committed at neither bank/) as unknown });
  });

  it('fails changes a bank committed without PREPARE TRANSACTION', () => {
    const h = new Story().transfer('t1', 100).prepared(B, 't1', '21').answered('t1', 'committed').truth({ audit: { [A]: [debit('t1', '99', 100)], [B]: [credit('t1', '21', 100)] }, decided: [gidOf('t1')] });
    expect(checkAtomicity(h)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/bank-a committed changes .* \(xid 99\) that were never prepared/) as unknown });
  });
});

describe('answers', () => {
  it('fails an answer the banks contradict', () => {
    const claimedCommit = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').answered('t1', 'committed').truth({});
    expect(checkAnswers(claimedCommit).actual).toMatch(/answered committed for t1, but it is committed at neither bank/);
    const claimedAbort = new Story().transfer('t1', 100, 'either').prepared(A, 't1', '11').prepared(B, 't1', '21').answered('t1', 'aborted').truth({ audit: { [A]: [debit('t1', '11', 100)], [B]: [credit('t1', '21', 100)] }, decided: [gidOf('t1')] });
    expect(checkAnswers(claimedAbort).actual).toMatch(/answered aborted for t1, but it is committed at bank-a, bank-b/);
  });

  it('fails a refused transfer answered committed, and a transfer that never answers when nothing was killed', () => {
    const refused = new Story().transfer('t1', 100, 'aborted').prepared(A, 't1', '11').prepared(B, 't1', '21').answered('t1', 'committed').truth({ audit: { [A]: [debit('t1', '11', 100)], [B]: [credit('t1', '21', 100)] }, decided: [gidOf('t1')] });
    expect(checkAnswers(refused)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/Every no vote/) as unknown });
    const hung = new Story().transfer('t1', 100).prepared(B, 't1', '21').truth({});
    expect(checkAnswers(hung)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/withTimeout/) as unknown });
    const killed = new Story().transfer('t1', 100).prepared(B, 't1', '21').killed().truth({});
    expect(checkAnswers(killed).status).toBe('pass');
  });
});

describe('cleanup', () => {
  it("fails a gid of this coordinator left prepared, and another coordinator's gid finished", () => {
    const left = new Story().transfer('t1', 100).killed().truth({ prepared: { [B]: [gidOf('t1'), '2pc:c10:x'] }, planted: [{ bank: B, gid: '2pc:c10:x' }] });
    expect(checkCleanup(left).actual).toMatch(/bank-b still holds a prepared transaction of this coordinator: 2pc:c1:t1/);
    const taken = new Story().transfer('t1', 100).killed().truth({ planted: [{ bank: B, gid: '2pc:c10:x' }] });
    expect(checkCleanup(taken)).toMatchObject({ status: 'fail', hint: expect.stringMatching(/c1 must not take c10's/) as unknown });
  });
});

describe('conservation', () => {
  it('fails money made or lost, and a transfer applied twice at one bank', () => {
    const lost = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').answered('t1', 'committed').truth({ audit: { [A]: [debit('t1', '11', 100)], [B]: [credit('t1', '21', 100)] }, decided: [gidOf('t1')], initialTotalCents: 50 });
    expect(checkConservation(lost).actual).toMatch(/hold 0 cents in all, but held 50 .* 50 cents were lost/);
    const twice = new Story().transfer('t1', 100).prepared(A, 't1', '11').prepared(B, 't1', '21').answered('t1', 'committed').truth({ audit: { [A]: [debit('t1', '11', 100), debit('t1', '11', 100)], [B]: [credit('t1', '21', 100)] }, decided: [gidOf('t1')] });
    expect(checkConservation(twice)).toMatchObject({ status: 'fail', actual: expect.stringMatching(/changed bank-a's accounts by from-t1 -100, from-t1 -100 instead of from-t1 -100/) as unknown });
  });
});
