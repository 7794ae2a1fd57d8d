import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/payments';
import { KEY_TTL_MS } from '../src/types';
import { type TestDeps, bodyOf, closeDeps, freshDeps, newKey, post, replayed } from './support';

const HOUR = 60 * 60 * 1000;

describe('retries with the same key', () => {
  let deps: TestDeps;

  beforeEach(async () => {
    deps = await freshDeps();
    await migrate(deps.db);
  });

  afterEach(async () => {
    await closeDeps(deps);
  });

  it('TODO(3–6) a retry gets the stored response back byte for byte, marked idempotent-replayed, and charges nothing', async () => {
    const key = newKey();
    // A description with spaces and a character outside ASCII: the replay must keep every byte.
    const body = { amount: 4200, currency: 'usd', card: 'tok_visa', description: 'Café   for  two' };
    const first = await post(deps, key, body);
    expect(first.status).toBe(201);
    expect(replayed(first), 'the first response ran now: it must not say idempotent-replayed').toBe(false);

    for (const attempt of ['first retry', 'second retry']) {
      const again = await post(deps, key, body);
      expect(again.status, `the ${attempt}'s status`).toBe(first.status);
      // Not just the same data: the same text. A body stored as jsonb comes back with its keys reordered.
      expect(again.body, `the ${attempt}'s body, compared byte for byte with the first`).toBe(first.body);
      expect(again.headers['idempotent-replayed'], `the ${attempt}'s idempotent-replayed header`).toBe('true');
    }
    expect(deps.provider.calls, 'calls to the provider: only the first request may make one').toHaveLength(1);
    expect(deps.provider.ledger).toHaveLength(1);
  });

  it('TODO(6) a declined card is answered with 402, stored, and replayed without calling the provider again', async () => {
    const key = newKey();
    const body = { amount: 999, currency: 'eur', card: 'declined' };
    const first = await post(deps, key, body);
    expect(first.status, 'the answer to a declined card').toBe(402);
    expect(bodyOf(first)).toEqual({ error: { type: expect.any(String), message: expect.any(String) } });

    // A decline is a definite answer, the request's final one: store it like a success.
    const again = await post(deps, key, body);
    expect(again.status).toBe(402);
    expect(again.body, 'the retry body, byte for byte').toBe(first.body);
    expect(replayed(again), 'the retry is marked idempotent-replayed').toBe(true);
    expect(deps.provider.calls, 'calls to the provider: the retry must answer from storage').toHaveLength(1);
    expect(deps.provider.ledger).toEqual([]);
  });

  it('TODO(3–6) the same key with other parameters is refused with 422 and runs nothing', async () => {
    const key = newKey();
    const body = { amount: 1500, currency: 'eur', card: 'tok_visa' };
    const first = await post(deps, key, body);
    expect(first.status).toBe(201);

    for (const other of [{ ...body, amount: 1600 }, { ...body, currency: 'usd' }, { ...body, card: 'tok_mastercard' }, { ...body, description: 'x' }]) {
      const refused = await post(deps, key, other);
      // 422 as the IETF draft says; Stripe answers 400. Either is accepted.
      expect([400, 422], `the status for ${JSON.stringify(other)} under a key first used with ${JSON.stringify(body)}`).toContain(refused.status);
      expect(bodyOf(refused)).toEqual({ error: { type: expect.any(String), message: expect.any(String) } });
    }
    expect(deps.provider.calls, 'calls to the provider: the refused requests must not run').toHaveLength(1);

    // The refusals changed nothing: the original request still gets its own stored answer.
    const original = await post(deps, key, body);
    expect(original.status).toBe(201);
    expect(original.body).toBe(first.body);
    expect(replayed(original)).toBe(true);
  });

  it('TODO(3–6) keys belong to a user: another user with the same key gets a payment of their own', async () => {
    const key = newKey();
    const body = { amount: 2000, currency: 'eur', card: 'tok_visa' };
    const ada = await post(deps, key, body, 'user_ada');
    const bob = await post(deps, key, body, 'user_bob');

    expect(ada.status).toBe(201);
    expect(bob.status, "Bob's answer, with the key Ada used").toBe(201);
    expect(replayed(bob), "Bob got Ada's stored answer replayed").toBe(false);
    expect(bodyOf(bob)['id'], 'Bob has a payment of his own').not.toBe(bodyOf(ada)['id']);
    expect(deps.provider.chargesOf('user_ada'), "Ada's charges").toHaveLength(1);
    expect(deps.provider.chargesOf('user_bob'), "Bob's charges").toHaveLength(1);
  });

  it('TODO(3–6) a key older than 24 hours counts as new', async () => {
    const key = newKey();
    const body = { amount: 700, currency: 'gbp', card: 'tok_visa' };
    const first = await post(deps, key, body);
    expect(first.status).toBe(201);

    // 23 hours on (by deps.clock, which this test moves), the key is still remembered...
    deps.clock.advance(23 * HOUR);
    const within = await post(deps, key, body);
    expect(within.body, 'a retry 23 hours later').toBe(first.body);
    expect(replayed(within)).toBe(true);

    // ...and 25 hours on it is forgotten: a request with it runs anew, even with other parameters.
    deps.clock.advance(KEY_TTL_MS + HOUR - 23 * HOUR);
    const later = await post(deps, key, { ...body, amount: 800 });
    expect(later.status, 'a request 25 hours later, with another amount').toBe(201);
    expect(replayed(later)).toBe(false);
    expect(bodyOf(later)).toMatchObject({ amount: 800 });
    expect(deps.provider.ledger.map((c) => c.amount)).toEqual([700, 800]);
  });
});
