/**
 * The Idempotency Keys checkers are pure functions of a history: here they judge
 * hand-made histories, each one a pass or a specific failure, and must say which, with
 * the hint for that failure and the events to blame.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryRecorder, type Recorded } from '../../../src/core/grading/history';
import type { Verdict } from '../../../src/core/grading/report';
import {
  checkConcurrent,
  checkCrashRecovery,
  checkExpiry,
  checkMalformedKeys,
  checkParamsMismatch,
  checkProviderFailure,
  checkReplayAfterSuccess,
  checkReplayStoredError,
  checkStaleLock,
  checkUserScope,
  checkValidationStoresNothing,
} from './checkers';
import { type IdempotencyEvent, MIGRATE, PAYMENTS, type ProviderNote, type RecordedResponse, type RequestInput, TABLES, TABLES_READ, requestsOf } from './history';
import type { TablesSeen } from './protocol';
import { KEY_TTL_MS, LOCK_TIMEOUT_MS, MAX_KEY_LENGTH } from './limits';

/** Asserts that a checker failed, with its `actual` or its `hint` matching `pattern`. */
function expectFailure(verdict: Verdict, field: 'actual' | 'hint', pattern: RegExp): void {
  expect(verdict.status).toBe('fail');
  expect(verdict[field]).toMatch(pattern);
}

/** Builds a history as the grader records it, in the grader's own vocabulary. */
class History {
  private t = 0;
  private readonly recorder = new HistoryRecorder<IdempotencyEvent>(() => (this.t += 1));

  get events(): readonly IdempotencyEvent[] {
    return this.recorder.events;
  }

  add(e: Recorded<IdempotencyEvent>): number {
    return this.recorder.record(e);
  }

  /** A request that got a response; provider notes given in `during` land between its invocation and its end. */
  request(lane: string, input: Partial<RequestInput>, response: RecordedResponse | { failure: string }, during: (self: History) => void = () => undefined): this {
    this.add({ process: lane, type: 'invoke', op: PAYMENTS, value: { user: 'u1', key: 'k1', body: { amount: 100, currency: 'eur' }, ...input } });
    during(this);
    if ('failure' in response) {
      this.add({ process: lane, type: 'info', op: PAYMENTS, detail: response.failure });
    } else {
      this.add({ process: lane, type: 'ok', op: PAYMENTS, value: response });
    }
    return this;
  }

  provider(note: ProviderNote): this {
    this.add({ process: 'provider', type: 'note', op: note.charge !== undefined ? `charged ${note.charge}` : note.status === 'cut' ? 'cut' : `${note.status}`, value: note });
    return this;
  }

  crash(): this {
    this.add({ process: 'learner', type: 'crash', op: 'process killed' });
    return this;
  }

  /** The learner's tables as the grader reads them after recovery. */
  tables(seen: TablesSeen): this {
    this.add({ process: TABLES, type: 'note', op: TABLES_READ, value: seen });
    return this;
  }
}

/** Tables in which each key is finished with a payment of its own that succeeded. */
const tidy = (...keys: string[]): Extract<TablesSeen, { ok: true }> => ({
  ok: true,
  keys: keys.map((key, i) => ({ key, recoveryPoint: 'finished', locked: false, paymentId: String(i + 1) })),
  payments: keys.map((_, i) => ({ id: String(i + 1), status: 'succeeded', chargeId: `ch_${i + 1}`, amount: 100 })),
});

const charge = (id: string, customer = 'u1'): ProviderNote => ({ status: 201, replayed: false, key: `payment-${id}`, charge: id, customer, amount: 100 });
const replayedCall = (): ProviderNote => ({ status: 201, replayed: true, key: 'payment-1' });
const ERR = '{"error":{"type":"some_error","message":"What went wrong."}}';
const ok = (body: string, replayed = false, status = 201): RecordedResponse => ({ status, replayed, body });
const paymentBody = (id: string, ch: string): string => JSON.stringify({ id, amount: 100, currency: 'eur', description: null, status: 'succeeded', charge: ch });

describe('reading a history', () => {
  it('pairs each invocation with the completion of the same lane, and keeps the requests that never ended', () => {
    const h = new History().request('a', {}, ok('x')).request('b', {}, { failure: 'threw' });
    h.add({ process: 'c', type: 'invoke', op: PAYMENTS, value: { user: 'u', key: null, body: null } });
    const requests = requestsOf(h.events);
    expect(requests.map((r) => [r.lane, r.response?.status ?? r.failure])).toEqual([
      ['a', 201],
      ['b', 'threw'],
      ['c', 'it never ended'],
    ]);
  });
});

describe('the lab and its grader agree on the constants', () => {
  it('LOCK_TIMEOUT_MS, KEY_TTL_MS and MAX_KEY_LENGTH are those of the starter\'s src/types.ts', () => {
    const types = readFileSync(path.resolve(__dirname, '..', 'starter', 'src', 'types.ts'), 'utf8');
    const value = (name: string): number => {
      const match = new RegExp(`export const ${name} = ([^;]+);`).exec(types);
      if (!match?.[1]) throw new Error(`${name} is not in types.ts`);
      // Each is a whole number or a product of whole numbers (24 * 60 * 60 * 1000).
      return match[1].split('*').reduce((product, factor) => product * Number(factor.trim().replace(/_/g, '')), 1);
    };
    expect([value('LOCK_TIMEOUT_MS'), value('KEY_TTL_MS'), value('MAX_KEY_LENGTH')]).toEqual([LOCK_TIMEOUT_MS, KEY_TTL_MS, MAX_KEY_LENGTH]);
  });
});

describe('replays', () => {
  const first = paymentBody('pay_1', 'ch_1');

  it('pass: the retries get the same bytes, marked replayed, without calling the provider', () => {
    const h = new History()
      .request('client', {}, ok(first), (x) => x.provider(charge('ch_1')))
      .request('client', {}, ok(first, true))
      .request('client', {}, ok(first, true));
    expect(checkReplayAfterSuccess(h.events)).toMatchObject({ status: 'pass' });
  });

  it('fail: a 201 whose body is not the payment the request made', () => {
    const wrong = JSON.stringify({ id: '', amount: 100, currency: 'eur', description: null, status: 'succeeded', charge: 'ch_1' });
    const h = new History().request('client', {}, ok(wrong), (x) => x.provider(charge('ch_1'))).request('client', {}, ok(wrong, true));
    expectFailure(checkReplayAfterSuccess(h.events), 'actual', /no id naming your payment/);
  });

  it('fail: a retry with the same data in other bytes (jsonb) gets the jsonb hint', () => {
    const reordered = JSON.stringify({ id: 'pay_1', amount: 100, charge: 'ch_1', status: 'succeeded', currency: 'eur', description: null });
    const h = new History().request('client', {}, ok(first), (x) => x.provider(charge('ch_1'))).request('client', {}, ok(reordered, true));
    const outcome = checkReplayAfterSuccess(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toMatch(/jsonb/);
    expect(outcome.culprits).toEqual([0, 2, 3, 4]);
  });

  it('fail: a retry that calls the provider again, even if the answer looks the same', () => {
    const h = new History().request('client', {}, ok(first), (x) => x.provider(charge('ch_1'))).request('client', {}, ok(first, true), (x) => x.provider(replayedCall()));
    const outcome = checkReplayAfterSuccess(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/called the provider again/);
  });

  it('fail: the same response without idempotent-replayed', () => {
    const h = new History().request('client', {}, ok(first), (x) => x.provider(charge('ch_1'))).request('client', {}, ok(first, false));
    expectFailure(checkReplayAfterSuccess(h.events), 'actual', /without the header/);
  });

  it('fail: a declined card run again on retry gets the "store errors too" hint', () => {
    const declined = JSON.stringify({ error: { type: 'card_declined', message: 'Your card was declined.' } });
    const h = new History()
      .request('declined', {}, ok(declined, false, 402), (x) => x.provider({ status: 402, replayed: false, key: 'payment-1' }))
      .request('declined', {}, ok(declined, false, 402), (x) => x.provider({ status: 402, replayed: true, key: 'payment-1' }));
    const outcome = checkReplayStoredError(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toMatch(/errors included.*declined card/);
  });

  it('fail: a refusal (502) answered but not stored, so the retry asks the provider again', () => {
    const declined = JSON.stringify({ error: { type: 'card_declined', message: 'Your card was declined.' } });
    const refused = JSON.stringify({ error: { type: 'provider_rejected', message: 'This card token was revoked.' } });
    const h = new History()
      .request('declined', {}, ok(declined, false, 402), (x) => x.provider({ status: 402, replayed: false, key: 'payment-1' }))
      .request('declined', {}, ok(declined, true, 402))
      .request('rejected', {}, ok(refused, false, 502), (x) => x.provider({ status: 400, replayed: false, key: 'payment-2' }))
      .request('rejected', {}, ok(refused, false, 502), (x) => x.provider({ status: 400, replayed: true, key: 'payment-2' }));
    const outcome = checkReplayStoredError(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/answered 502 called the provider again/);
    expect(outcome.hint).toMatch(/refusal of the request \(502\)/);
  });

  it('pass: the decline and the refusal each replayed from storage', () => {
    const declined = JSON.stringify({ error: { type: 'card_declined', message: 'Your card was declined.' } });
    const refused = JSON.stringify({ error: { type: 'provider_rejected', message: 'This card token was revoked.' } });
    const h = new History()
      .request('declined', {}, ok(declined, false, 402), (x) => x.provider({ status: 402, replayed: false, key: 'payment-1' }))
      .request('declined', {}, ok(declined, true, 402))
      .request('rejected', {}, ok(refused, false, 502), (x) => x.provider({ status: 400, replayed: false, key: 'payment-2' }))
      .request('rejected', {}, ok(refused, true, 502));
    expect(checkReplayStoredError(h.events).status).toBe('pass');
  });
});

describe('concurrent requests with one key', () => {
  const body = paymentBody('pay_1', 'ch_1');

  it('pass: one charge, one fresh answer, the rest 409 or the replay', () => {
    const h = new History()
      .request('round 1/client-1', {}, ok(body), (x) => x.provider(charge('ch_1')))
      .request('round 1/client-2', {}, ok(ERR, false, 409))
      .request('round 1/retry', {}, ok(body, true))
      .tables(tidy('k1'));
    expect(checkConcurrent(h.events)).toMatchObject({ status: 'pass' });
  });

  it('fail: two takeovers of a key left stale by a crash get the atomic-takeover hint; the setup request is no round', () => {
    const h = new History()
      .request('setup stale', {}, { failure: 'killed' })
      .crash()
      .request('round 4 (stale after a crash)/client-1', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('round 4 (stale after a crash)/client-2', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')));
    const outcome = checkConcurrent(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/locked and stale.*made 2 charges/);
    expect(outcome.hint).toMatch(/Taking a key over must be atomic/);
  });

  it('fail: one charge and one answer, but a payment row too many in the tables', () => {
    const h = new History()
      .request('round 1/client-1', {}, ok(body), (x) => x.provider(charge('ch_1')))
      .request('round 1/retry', {}, ok(body, true))
      .tables({ ok: true, keys: [{ key: 'k1', recoveryPoint: 'finished', locked: false, paymentId: '2' }], payments: [{ id: '1', status: 'pending', chargeId: null, amount: 100 }, { id: '2', status: 'succeeded', chargeId: 'ch_1', amount: 100 }] });
    expectFailure(checkConcurrent(h.events), 'actual', /belongs to no key/);
  });

  it('fail: two charges, blaming both charges', () => {
    const h = new History()
      .request('round 1/client-1', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('round 1/client-2', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')));
    const outcome = checkConcurrent(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/made 2 charges/);
    expect(outcome.culprits).toEqual(expect.arrayContaining([1, 4]));
  });

  it('fail: one charge but two different answers (two executions)', () => {
    const h = new History()
      .request('round 1/client-1', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('round 1/client-2', {}, ok(paymentBody('pay_2', 'ch_1')), (x) => x.provider(replayedCall()));
    expectFailure(checkConcurrent(h.events), 'hint', /Lock the key/);
  });

  it('fail: a request that threw (500)', () => {
    const h = new History().request('round 1/client-1', {}, ok(body), (x) => x.provider(charge('ch_1'))).request('round 1/client-2', {}, { failure: 'createPayment threw error: duplicate key value (23505)' });
    expectFailure(checkConcurrent(h.events), 'hint', /409/);
  });
});

describe('crashes and stale locks', () => {
  it('crash-recovery passes with one charge per crashed payment', () => {
    const h = new History()
      .request('clean', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('after commit 1', {}, { failure: 'killed' })
      .crash()
      .request('after commit 1', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')))
      .tables(tidy('k1'));
    expect(checkCrashRecovery(h.events)).toMatchObject({ status: 'pass' });
  });

  it('crash-recovery tells the charges of requests under way together apart by amount', () => {
    const h = new History()
      .request('clean', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('several/1', { key: 'a', body: { amount: 100 } }, { failure: 'killed' }, (x) => x.provider({ ...charge('ch_a'), amount: 100 }))
      .request('several/2', { key: 'b', body: { amount: 101 } }, { failure: 'killed' })
      .crash()
      .request('several/1', { key: 'a', body: { amount: 100 } }, ok(paymentBody('pay_2', 'ch_a')), (x) => x.provider({ ...replayedCall(), amount: 100 }))
      .request('several/2', { key: 'b', body: { amount: 101 } }, ok(paymentBody('pay_3', 'ch_b')), (x) => x.provider({ ...charge('ch_b'), amount: 101 }))
      .tables({ ...tidy('k1', 'a', 'b'), payments: ['100', '100', '101'].map((amount, i) => ({ id: String(i + 1), status: 'succeeded', chargeId: `ch_${i + 1}`, amount: Number(amount) })) });
    expect(checkCrashRecovery(h.events)).toMatchObject({ status: 'pass' });
  });

  it('crash-recovery fails when the tables keep a key unfinished, a pending payment of a finished key, or an orphan payment', () => {
    const run = (seen: TablesSeen): Verdict =>
      checkCrashRecovery(
        new History()
          .request('clean', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
          .request('after commit (point 1)', {}, { failure: 'killed' })
          .crash()
          .request('after commit (point 1)', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')))
          .tables(seen).events,
      );
    expectFailure(run({ ok: true, keys: [{ key: 'k1', recoveryPoint: 'payment_created', locked: true, paymentId: '1' }], payments: [{ id: '1', status: 'pending', chargeId: null, amount: 100 }] }), 'actual', /still at 'payment_created'/);
    expectFailure(run({ ok: true, keys: [{ key: 'k1', recoveryPoint: 'finished', locked: false, paymentId: '1' }], payments: [{ id: '1', status: 'pending', chargeId: null, amount: 100 }] }), 'hint', /Phase 3/);
    const orphan = run({ ok: true, keys: [{ key: 'k1', recoveryPoint: 'finished', locked: false, paymentId: '2' }], payments: [{ id: '1', status: 'pending', chargeId: null, amount: 100 }, { id: '2', status: 'succeeded', chargeId: 'ch_2', amount: 100 }] });
    expectFailure(orphan, 'hint', /Phase 2 inserts the payment/);
    expect(orphan.culprits?.length).toBeGreaterThan(0);
    expectFailure(run({ ok: false, message: 'payments has no column status' }), 'actual', /could not read your tables/);
    const described = run({ ok: true, keys: [{ key: 'k1', recoveryPoint: 'finished', locked: false, paymentId: '1' }], payments: [{ id: '1', status: 'succeeded', chargeId: 'ch_2', amount: 100, description: 'x' }] });
    expectFailure(described, 'hint', /the request's payment/);
  });

  it('crash-recovery fails when the restarted process cannot run migrate again', () => {
    const h = new History()
      .request('clean', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('after commit (point 1)', {}, { failure: 'killed' })
      .crash();
    h.add({ process: 'learner', type: 'fail', op: MIGRATE, detail: 'migrate(db), run again by the restarted process on the existing tables, failed: relation "payments" already exists' });
    h.request('after commit (point 1)', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2'))).tables(tidy('k1'));
    expectFailure(checkCrashRecovery(h.events), 'hint', /IF NOT EXISTS/);
  });

  it('crash-recovery fails when the retry charges again', () => {
    const h = new History()
      .request('clean', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('before commit 2', {}, { failure: 'killed' }, (x) => x.provider(charge('ch_2')))
      .crash()
      .request('before commit 2', {}, ok(paymentBody('pay_3', 'ch_3')), (x) => x.provider(charge('ch_3')));
    const outcome = checkCrashRecovery(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/charged 2 times/);
  });

  it('crash-recovery is unknown when no crash point was ever reached', () => {
    const h = new History().request('clean', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')));
    expect(checkCrashRecovery(h.events).status).toBe('unknown');
  });

  it('stale-lock fails when a retry runs while the lock is fresh', () => {
    const h = new History()
      .request('first', {}, { failure: 'killed' }, (x) => x.provider(charge('ch_1')))
      .crash()
      .request('fresh', {}, ok(paymentBody('pay_1', 'ch_2')), (x) => x.provider(charge('ch_2')))
      .request('fresh-30s', {}, ok(paymentBody('pay_1', 'ch_2'), true))
      .request('stale', {}, ok(paymentBody('pay_1', 'ch_2'), true))
      .request('after', {}, ok(paymentBody('pay_1', 'ch_2'), true));
    expectFailure(checkStaleLock(h.events), 'hint', /locked_at/);
  });

  it('stale-lock fails with the deps.clock hint when the stale lock is never taken over', () => {
    const conflict = ok('{"error":{"type":"idempotency_key_in_use","message":"In use."}}', false, 409);
    const h = new History()
      .request('first', {}, { failure: 'killed' }, (x) => x.provider(charge('ch_1')))
      .request('fresh', {}, conflict)
      .request('fresh-30s', {}, conflict)
      .request('stale', {}, conflict)
      .request('after', {}, conflict);
    expectFailure(checkStaleLock(h.events), 'hint', /deps\.clock/);
  });
});

describe('provider failures', () => {
  it('fails when an unknown outcome is stored as the final answer', () => {
    const stored = '{"error":{"type":"payment_failed"}}';
    const h = new History()
      .request('error', {}, ok(ERR, false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-1' }))
      .request('error retry', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('cut', {}, ok(stored, false, 502), (x) => x.provider({ ...charge('ch_2'), status: 'cut' }))
      .request('cut retry', {}, ok(stored, true, 502));
    const outcome = checkProviderFailure(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toMatch(/unknown/);
  });

  it('fails when a streak of unknown outcomes ends in a stored failure, or a 409', () => {
    const start = (): History =>
      new History()
        .request('error', {}, ok(ERR, false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-1' }))
        .request('error retry', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
        .request('cut', {}, ok(ERR, false, 503), (x) => x.provider({ ...charge('ch_2'), status: 'cut' }))
        .request('cut retry', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider({ ...replayedCall(), key: 'payment-2' }))
        .request('streak', {}, ok(ERR, false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-3' }))
        .request('streak', {}, ok(ERR, false, 503), (x) => x.provider({ ...charge('ch_3'), status: 'cut' }));
    const gaveUp = start().request('streak', {}, ok(ERR, false, 502)).request('streak', {}, ok(ERR, true, 502));
    expectFailure(checkProviderFailure(gaveUp.events), 'hint', /keep no count/);
    const locked = start().request('streak', {}, ok(ERR, false, 409));
    expectFailure(checkProviderFailure(locked.events), 'hint', /resuming at payment_created/);
    const fine = start()
      .request('streak', {}, ok(paymentBody('pay_3', 'ch_3')), (x) => x.provider({ ...replayedCall(), key: 'payment-3' }))
      .request('streak', {}, ok(paymentBody('pay_3', 'ch_3'), true))
      .tables(tidy('k1'));
    expect(checkProviderFailure(fine.events).status).toBe('pass');
  });

  it('fails with the unlock hint when the retry finds the key locked', () => {
    const h = new History()
      .request('error', {}, ok(ERR, false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-1' }))
      .request('error retry', {}, ok('{}', false, 409));
    expectFailure(checkProviderFailure(h.events), 'hint', /locked_at = NULL/);
  });
});

describe('keys: malformed, mismatched, scoped, expired, left by a failed validation', () => {
  it('fails when a request without a key is run', () => {
    const h = new History().request('missing', { key: null }, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')));
    const outcome = checkMalformedKeys(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.actual).toMatch(/no key.*charged/);
  });

  it('passes when the malformed keys get 400 and the 255-character key works', () => {
    const bad = ok(ERR, false, 400);
    const h = new History()
      .request('missing', { key: null }, bad)
      .request('empty', { key: '' }, bad)
      .request('too-long', {}, bad)
      .request('valid', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('valid-1', { key: 'k' }, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')));
    expect(checkMalformedKeys(h.events).status).toBe('pass');
  });

  it('fails when a key of one character is refused, or a refusal has no error body', () => {
    const bad = ok(ERR, false, 400);
    const base = (): History =>
      new History()
        .request('missing', { key: null }, bad)
        .request('empty', { key: '' }, bad)
        .request('too-long', {}, ok('{"message":"bad key"}', false, 400))
        .request('valid', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')));
    expectFailure(checkMalformedKeys(base().request('valid-1', { key: 'k' }, bad).events), 'actual', /exactly 1 character got 400/);
    expectFailure(checkMalformedKeys(base().request('valid-1', { key: 'k' }, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2'))).events), 'hint', /ErrorBody/);
  });

  it('fails when a mismatching request is answered with the stored response', () => {
    const body = paymentBody('pay_1', 'ch_1');
    const h = mismatchHistory(ok(body, true), ok(ERR, false, 422));
    expectFailure(checkParamsMismatch(h.events), 'hint', /compare them/);
  });

  it('fails when a key left unfinished by a 503 is resumed by a request with another amount', () => {
    const h = mismatchHistory(ok(ERR, false, 422), ok(paymentBody('pay_2', 'ch_2')));
    const outcome = checkParamsMismatch(h.events);
    expectFailure(outcome, 'actual', /while its request was unfinished/);
    expect(outcome.hint).toMatch(/finished or not/);
  });

  it('passes when every mismatch, finished or unfinished, is refused without running', () => {
    const refused = ok(ERR, false, 422);
    expect(checkParamsMismatch(mismatchHistory(refused, refused).events).status).toBe('pass');
  });

  it("fails when one user's key replays another user's payment", () => {
    const body = paymentBody('pay_1', 'ch_1');
    const h = new History().request('user A', { user: 'a' }, ok(body), (x) => x.provider(charge('ch_1', 'a'))).request('user B', { user: 'b' }, ok(body, true));
    expectFailure(checkUserScope(h.events), 'hint', /user_id, idempotency_key/);
  });

  it('fails when an expired key is still compared with its old parameters', () => {
    const h = expiryHistory({ after: ok(ERR, false, 422) });
    expectFailure(checkExpiry(h.events), 'hint', /KEY_TTL_MS/);
  });

  it('fails when a key expires before 24 hours (its age not taken from deps.clock)', () => {
    const h = expiryHistory({ before: ok(paymentBody('pay_9', 'ch_9')) });
    expectFailure(checkExpiry(h.events), 'actual', /23 hours later/);
  });

  it('fails when a takeover restarts the key\'s 24 hours', () => {
    const h = expiryHistory({ takenAfter: ok(ERR, false, 422) });
    expectFailure(checkExpiry(h.events), 'hint', /never created_at/);
  });

  it('passes when the key replays before 24 hours and runs anew after, counted from its first recording', () => {
    expect(checkExpiry(expiryHistory({}).events).status).toBe('pass');
  });

  it('fails when a failed validation leaves its key behind', () => {
    const h = new History().request('invalid: a negative amount', { body: { amount: -5 } }, ok(ERR, false, 400)).request('valid: a negative amount', {}, ok(ERR, true, 400));
    expectFailure(checkValidationStoresNothing(h.events), 'hint', /Validate the body before recording the key/);
  });

  it('fails when a valid body at the edge of the rules (amount 1) is refused', () => {
    const h = new History()
      .request('invalid: a negative amount', { body: { amount: -5 } }, ok(ERR, false, 400))
      .request('valid: a negative amount', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('edge: amount 1', { body: { amount: 1 } }, ok(ERR, false, 400));
    expectFailure(checkValidationStoresNothing(h.events), 'hint', /valid from 1/);
  });

  it('fails when one kind of invalid body is accepted, naming it', () => {
    const h = new History()
      .request('invalid: a negative amount', { body: { amount: -5 } }, ok(ERR, false, 400))
      .request('valid: a negative amount', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('invalid: a description that is not text', { body: { amount: 5, description: 42 } }, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')));
    expectFailure(checkValidationStoresNothing(h.events), 'actual', /a description that is not text.*after calling the provider/);
  });
});

/** params-mismatch's history: a finished key and five mismatches, then a key left unfinished by a 503, its mismatch and its original. */
function mismatchHistory(finishedMismatch: RecordedResponse, unfinishedMismatch: RecordedResponse): History {
  const body = paymentBody('pay_1', 'ch_1');
  const h = new History().request('first', {}, ok(body), (x) => x.provider(charge('ch_1')));
  for (const what of ['amount', 'currency', 'card', 'description', 'no description']) {
    h.request(`mismatch: ${what}`, { body: { amount: 200 } }, finishedMismatch);
  }
  const other = { key: 'k2', body: { amount: 300 } };
  return h
    .request('original', {}, ok(body, true))
    .request('unfinished: first', other, ok(ERR, false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-2' }))
    .request('unfinished: mismatch', { key: 'k2', body: { amount: 301 } }, unfinishedMismatch, (x) => {
      if (unfinishedMismatch.status === 201) x.provider({ ...charge('ch_2'), amount: 301 });
    })
    .request('unfinished: original', other, ok(paymentBody('pay_2', 'ch_3')), (x) => x.provider({ ...charge('ch_3'), amount: 300 }));
}

/** expired-key's history, each answer as a correct solution gives it unless overridden. */
function expiryHistory(answers: { before?: RecordedResponse; after?: RecordedResponse; takenAfter?: RecordedResponse }): History {
  const body = paymentBody('pay_1', 'ch_1');
  const fresh = (id: string): RecordedResponse => ok(paymentBody(id, `ch_${id}`));
  const chargeIf = (r: RecordedResponse, id: string) => (x: History): void => {
    if (r.status === 201 && !r.replayed) x.provider(charge(`ch_${id}`));
  };
  const before = answers.before ?? ok(body, true);
  const after = answers.after ?? fresh('2');
  const takenAfter = answers.takenAfter ?? fresh('4');
  return new History()
    .request('first', {}, ok(body), (x) => x.provider(charge('ch_1')))
    .request('before ttl', {}, before, chargeIf(before, '9'))
    .request('after ttl', { body: { amount: 101 } }, after, chargeIf(after, '2'))
    .request('taken over: first', { key: 'k2' }, { failure: 'killed' })
    .crash()
    .request('taken over: takeover', { key: 'k2' }, fresh('3'), (x) => x.provider(charge('ch_3')))
    .request('taken over: after ttl', { key: 'k2', body: { amount: 101 } }, takenAfter, chargeIf(takenAfter, '4'));
}
