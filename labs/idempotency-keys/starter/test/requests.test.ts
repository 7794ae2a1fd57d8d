import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/payments';
import { MAX_KEY_LENGTH } from '../src/types';
import { type TestDeps, bodyOf, closeDeps, freshDeps, newKey, post, replayed } from './support';

/** What every error response looks like. */
const AN_ERROR = { error: { type: expect.any(String), message: expect.any(String) } };

describe('one payment request', () => {
  let deps: TestDeps;

  beforeEach(async () => {
    deps = await freshDeps();
    await migrate(deps.db);
  });

  afterEach(async () => {
    await closeDeps(deps);
  });

  it('TODO(2–6) a missing, empty or too long Idempotency-Key is refused with 400 and charges nothing', async () => {
    const body = { amount: 1200, currency: 'eur', card: 'tok_visa' };
    const badKeys: [string, string | undefined][] = [
      ['no Idempotency-Key header', undefined],
      ['an empty key', ''],
      [`a key of ${MAX_KEY_LENGTH + 1} characters`, 'k'.repeat(MAX_KEY_LENGTH + 1)],
    ];
    for (const [what, key] of badKeys) {
      const response = await post(deps, key, body);
      expect(response.status, `the status for ${what}`).toBe(400);
      expect(bodyOf(response), `the body for ${what}`).toEqual(AN_ERROR);
    }
    expect(deps.provider.calls, 'calls to the provider for requests that were refused').toEqual([]);

    // Both ends are included: a key of exactly 255 characters is a valid key.
    const longest = await post(deps, 'k'.repeat(MAX_KEY_LENGTH), body);
    expect(longest.status, `the status for a key of ${MAX_KEY_LENGTH} characters`).toBe(201);
  });

  it('TODO(2–6) an invalid body is refused with 400 and stores nothing: the same key then works', async () => {
    const key = newKey();
    const invalidBodies: unknown[] = [
      null,
      [1200, 'eur', 'tok_visa'],
      { currency: 'eur', card: 'tok_visa' },
      { amount: -500, currency: 'eur', card: 'tok_visa' },
      { amount: 0, currency: 'eur', card: 'tok_visa' },
      { amount: 12.5, currency: 'eur', card: 'tok_visa' },
      { amount: '1200', currency: 'eur', card: 'tok_visa' },
      { amount: 1200, currency: 'doge', card: 'tok_visa' },
      { amount: 1200, currency: 'eur' },
      { amount: 1200, currency: 'eur', card: '' },
      { amount: 1200, currency: 'eur', card: 'tok_visa', description: 42 },
    ];
    for (const body of invalidBodies) {
      const response = await post(deps, key, body);
      expect(response.status, `the status for the body ${JSON.stringify(body)}`).toBe(400);
      expect(bodyOf(response), `the body of the answer to ${JSON.stringify(body)}`).toEqual(AN_ERROR);
    }
    expect(deps.provider.calls, 'calls to the provider for invalid requests').toEqual([]);

    // The invalid requests stored nothing under the key, so it runs a valid request now.
    const valid = await post(deps, key, { amount: 1200, currency: 'eur', card: 'tok_visa' });
    expect(valid.status, 'a valid request with the key the invalid ones used').toBe(201);
    expect(replayed(valid), 'the valid request was marked as a replay: an invalid request left something under its key').toBe(false);
    expect(deps.provider.ledger).toHaveLength(1);
  });

  it('TODO(6) a payment is charged once and answered with 201 and the payment as JSON', async () => {
    const response = await post(deps, newKey(), { amount: 1250, currency: 'eur', card: 'tok_visa', description: 'Order #1001' });
    expect(response.status).toBe(201);
    expect(replayed(response), 'a response computed now is not a replay: no idempotent-replayed header').toBe(false);

    // The provider's ledger is the truth about money taken: one charge, on Ada's card.
    expect(deps.provider.ledger).toHaveLength(1);
    const charge = deps.provider.ledger[0]!;
    expect(charge).toMatchObject({ amount: 1250, currency: 'eur', customer: 'user_ada' });
    const first = bodyOf(response);
    expect(first).toEqual({
      id: expect.stringMatching(/^pay_./),
      amount: 1250,
      currency: 'eur',
      description: 'Order #1001',
      status: 'succeeded',
      charge: charge.id,
    });

    // Another key is another payment; a payment without a description says null.
    const second = await post(deps, newKey(), { amount: 300, currency: 'gbp', card: 'tok_visa' });
    expect(second.status).toBe(201);
    expect(deps.provider.ledger).toHaveLength(2);
    expect(bodyOf(second)).toEqual({
      id: expect.stringMatching(/^pay_./),
      amount: 300,
      currency: 'gbp',
      description: null,
      status: 'succeeded',
      charge: deps.provider.ledger[1]!.id,
    });
    expect(bodyOf(second)['id'], 'each payment has its own id').not.toBe(first['id']);
  });
});
