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
import { type IdempotencyEvent, PAYMENTS, type ProviderNote, type RecordedResponse, type RequestInput, requestsOf } from './history';
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
    this.add({ process: lane, type: 'invoke', op: PAYMENTS, value: { user: 'u1', key: 'k1', body: { amount: 100 }, ...input } });
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
}

const charge = (id: string, customer = 'u1'): ProviderNote => ({ status: 201, replayed: false, key: `payment-${id}`, charge: id, customer, amount: 100 });
const replayedCall = (): ProviderNote => ({ status: 201, replayed: true, key: 'payment-1' });
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
      .request('client', {}, ok(declined, false, 402), (x) => x.provider({ status: 402, replayed: false, key: 'payment-1' }))
      .request('client', {}, ok(declined, false, 402), (x) => x.provider({ status: 402, replayed: true, key: 'payment-1' }));
    const outcome = checkReplayStoredError(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toMatch(/errors included/);
  });
});

describe('concurrent requests with one key', () => {
  const body = paymentBody('pay_1', 'ch_1');

  it('pass: one charge, one fresh answer, the rest 409 or the replay', () => {
    const h = new History()
      .request('round 1/client-1', {}, ok(body), (x) => x.provider(charge('ch_1')))
      .request('round 1/client-2', {}, ok('{"error":{}}', false, 409))
      .request('round 1/retry', {}, ok(body, true));
    expect(checkConcurrent(h.events)).toMatchObject({ status: 'pass' });
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
      .request('after commit 1', {}, ok(paymentBody('pay_2', 'ch_2')), (x) => x.provider(charge('ch_2')));
    expect(checkCrashRecovery(h.events)).toMatchObject({ status: 'pass' });
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
    const conflict = ok('{"error":{"type":"idempotency_key_in_use"}}', false, 409);
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
      .request('error', {}, ok('{}', false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-1' }))
      .request('error retry', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')))
      .request('cut', {}, ok(stored, false, 502), (x) => x.provider({ ...charge('ch_2'), status: 'cut' }))
      .request('cut retry', {}, ok(stored, true, 502));
    const outcome = checkProviderFailure(h.events);
    expect(outcome.status).toBe('fail');
    expect(outcome.hint).toMatch(/unknown/);
  });

  it('fails with the unlock hint when the retry finds the key locked', () => {
    const h = new History()
      .request('error', {}, ok('{}', false, 503), (x) => x.provider({ status: 500, replayed: false, key: 'payment-1' }))
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
    const bad = ok('{"error":{}}', false, 400);
    const h = new History()
      .request('missing', { key: null }, bad)
      .request('empty', { key: '' }, bad)
      .request('too-long', {}, bad)
      .request('valid', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1')));
    expect(checkMalformedKeys(h.events).status).toBe('pass');
  });

  it('fails when a mismatching request is answered with the stored response', () => {
    const body = paymentBody('pay_1', 'ch_1');
    const h = new History().request('client', {}, ok(body), (x) => x.provider(charge('ch_1'))).request('client', { body: { amount: 200 } }, ok(body, true)).request('client', {}, ok(body, true));
    expectFailure(checkParamsMismatch(h.events), 'hint', /compare them/);
  });

  it("fails when one user's key replays another user's payment", () => {
    const body = paymentBody('pay_1', 'ch_1');
    const h = new History().request('user A', { user: 'a' }, ok(body), (x) => x.provider(charge('ch_1', 'a'))).request('user B', { user: 'b' }, ok(body, true));
    expectFailure(checkUserScope(h.events), 'hint', /user_id, idempotency_key/);
  });

  it('fails when an expired key is still compared with its old parameters', () => {
    const h = new History().request('client', {}, ok(paymentBody('pay_1', 'ch_1')), (x) => x.provider(charge('ch_1'))).request('client', { body: { amount: 101 } }, ok('{"error":{}}', false, 422));
    expectFailure(checkExpiry(h.events), 'hint', /KEY_TTL_MS/);
  });

  it('fails when a failed validation leaves its key behind', () => {
    const h = new History().request('client', { body: { amount: -5 } }, ok('{"error":{}}', false, 400)).request('client', {}, ok('{"error":{}}', true, 400));
    expectFailure(checkValidationStoresNothing(h.events), 'hint', /Validate the body before recording the key/);
  });
});
