import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/payments';
import { type TestDeps, bodyOf, closeDeps, freshDeps, newKey, post, replayed } from './support';

describe('when a request overlaps another or the provider fails', () => {
  let deps: TestDeps;

  beforeEach(async () => {
    deps = await freshDeps();
    await migrate(deps.db);
  });

  afterEach(async () => {
    await closeDeps(deps);
  });

  it('TODO(3–6) while a request holds the key, a retry with the same key answers 409 and charges nothing', async () => {
    const key = newKey();
    const body = { amount: 5000, currency: 'eur', card: 'tok_visa' };

    // The provider holds the first request's charge back, so the request is still running
    // (past phase 2, waiting for the provider) when the retry arrives.
    const pause = deps.provider.pauseNext();
    const first = post(deps, key, body);
    const early = await Promise.race([pause.reached.then(() => undefined), first]);
    expect(early, 'the first request answered before it called the provider').toBeUndefined();

    const retry = await post(deps, key, body);
    expect(retry.status, 'a retry while the first request is still running').toBe(409);
    expect(bodyOf(retry)).toEqual({ error: { type: expect.any(String), message: expect.any(String) } });
    expect(deps.provider.ledger, 'charges made while the first request was held back').toEqual([]);

    // The first request goes on and finishes; a later retry gets its answer back.
    pause.release();
    const done = await first;
    expect(done.status).toBe(201);
    expect(replayed(done)).toBe(false);
    const later = await post(deps, key, body);
    expect(later.body, 'a retry after the first request finished').toBe(done.body);
    expect(replayed(later)).toBe(true);
    expect(deps.provider.ledger).toHaveLength(1);
  });

  it('TODO(5–6) the provider charged but its answer was lost: 503, nothing stored, and the retry finds the one charge', async () => {
    const key = newKey();
    const body = { amount: 3100, currency: 'usd', card: 'tok_visa' };

    deps.provider.failNext('after-charge');
    const lost = await post(deps, key, body);
    expect(lost.status, "the answer when the provider's outcome is unknown (503: try again)").toBe(503);
    expect(deps.provider.ledger, 'the charge the provider made before its answer was lost').toHaveLength(1);

    // An unknown outcome is not an answer to store: the retry runs on from where the first
    // attempt stopped, and asks the provider again with the same provider key.
    const retry = await post(deps, key, body);
    expect(retry.status, 'the retry after an unknown outcome').toBe(201);
    expect(replayed(retry), 'the retry replayed a stored answer: an unknown outcome was stored as final').toBe(false);
    expect(deps.provider.ledger, 'charges in all: the retry must not charge again').toHaveLength(1);
    expect(bodyOf(retry)['charge'], 'the charge the retry reports').toBe(deps.provider.ledger[0]!.id);
    const [firstCall, secondCall] = deps.provider.calls;
    expect(secondCall?.idempotencyKey, 'the provider key of the retry (it must be the first attempt’s)').toBe(firstCall?.idempotencyKey);

    // Now the answer is definite, and stored.
    const again = await post(deps, key, body);
    expect(again.body).toBe(retry.body);
    expect(replayed(again)).toBe(true);
  });

  it('TODO(5–6) the provider failed before charging: 503, and the retry charges once', async () => {
    const key = newKey();
    const body = { amount: 850, currency: 'gbp', card: 'tok_visa', description: 'Gift card' };

    deps.provider.failNext('before-charge');
    const failed = await post(deps, key, body);
    expect(failed.status, "the answer when the provider's outcome is unknown").toBe(503);
    expect(deps.provider.ledger).toEqual([]);

    const retry = await post(deps, key, body);
    expect(retry.status, 'the retry after an unknown outcome').toBe(201);
    expect(deps.provider.ledger).toHaveLength(1);
    expect(bodyOf(retry)).toMatchObject({ amount: 850, currency: 'gbp', description: 'Gift card', charge: deps.provider.ledger[0]!.id });
  });
});
