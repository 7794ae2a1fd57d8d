/**
 * The grader's payment provider over real HTTP on 127.0.0.1: the ledger records exactly
 * the charges made; its own idempotency keys replay and refuse as a card API's do; and
 * the faults the grader injects behave as described (the ambiguous one charges and then
 * cuts the connection).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PaymentProvider, REVOKED_CARD } from './paymentProvider';

const providers: PaymentProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

async function provider(): Promise<PaymentProvider> {
  const p = await PaymentProvider.start();
  providers.push(p);
  return p;
}

const order = { amount: 1200, currency: 'eur', customer: 'cus_1', card: 'ok' };

function charge(p: PaymentProvider, body: unknown, key?: string): Promise<Response> {
  return fetch(`${p.url}/v1/charges`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key !== undefined ? { 'idempotency-key': key } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('the payment provider', () => {
  it('charges, answers 201 with the charge, and records it in the ledger', async () => {
    const p = await provider();
    expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await charge(p, order);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string; status: string; amount: number };
    expect(body).toMatchObject({ amount: 1200, currency: 'eur', customer: 'cus_1', status: 'succeeded' });
    expect(p.charges()).toEqual([expect.objectContaining({ id: body.id, amount: 1200, customer: 'cus_1' })]);
    // Without a key, a retry charges again: that is what the lab's code must prevent.
    await charge(p, order);
    expect(p.charges()).toHaveLength(2);
    const listed = (await (await fetch(`${p.url}/v1/charges`)).json()) as { data: unknown[] };
    expect(listed.data).toHaveLength(2);
  });

  it('with an Idempotency-Key, replays the first answer byte for byte and charges once; other parameters are refused', async () => {
    const p = await provider();
    const first = await charge(p, order, 'k1');
    const firstText = await first.text();
    const again = await charge(p, order, 'k1');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstText);
    expect(p.charges()).toHaveLength(1);
    const other = await charge(p, { ...order, amount: 999 }, 'k1');
    expect(other.status).toBe(400);
    expect(((await other.json()) as { error: { type: string } }).error.type).toBe('idempotency_error');
    expect(p.charges()).toHaveLength(1);
  });

  it('declines the card "declined" with 402, charges nothing, and replays the decline for its key', async () => {
    const p = await provider();
    const declined = await charge(p, { ...order, card: 'declined' }, 'k2');
    expect(declined.status).toBe(402);
    expect(((await declined.json()) as { error: { code: string } }).error.code).toBe('card_declined');
    const again = await charge(p, { ...order, card: 'declined' }, 'k2');
    expect(again.status).toBe(402);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(p.charges()).toEqual([]);
  });

  it('charges nothing for a delayed request whose caller went away, and is idle once it is settled', async () => {
    const p = await provider();
    p.failNext({ kind: 'delay', ms: 150 });
    const aborted = new AbortController();
    const call = fetch(`${p.url}/v1/charges`, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': 'k9' }, body: JSON.stringify(order), signal: aborted.signal }).catch(() => 'aborted');
    await new Promise((resolve) => setTimeout(resolve, 30));
    aborted.abort();
    expect(await call).toBe('aborted');
    await p.idle();
    expect(p.charges()).toEqual([]);
    expect(p.requestLog().map((r) => r.status)).toEqual(['cut']);
  });

  it('refuses the revoked card token with 400, charges nothing, and replays the refusal for its key', async () => {
    const p = await provider();
    const refused = await charge(p, { ...order, card: REVOKED_CARD }, 'k3');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('token_revoked');
    const again = await charge(p, { ...order, card: REVOKED_CARD }, 'k3');
    expect(again.status).toBe(400);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(p.charges()).toEqual([]);
  });

  it('refuses malformed requests with 400 naming the parameter, and stores nothing for their key', async () => {
    const p = await provider();
    for (const [body, param] of [
      [{ ...order, amount: 0 }, 'amount'],
      [{ ...order, amount: 1.5 }, 'amount'],
      [{ ...order, currency: 'xyz' }, 'currency'],
      [{ ...order, customer: '' }, 'customer'],
    ] as const) {
      const res = await charge(p, body, 'k3');
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string } }).error.param).toBe(param);
    }
    expect((await charge(p, 'not json', 'k3')).status).toBe(400);
    // The key stayed free: a good request with it is made, not refused.
    expect((await charge(p, order, 'k3')).status).toBe(201);
    expect(p.charges()).toHaveLength(1);
    expect((await fetch(`${p.url}/v1/refunds`, { method: 'POST' })).status).toBe(404);
  });

  it('fails on purpose: a 500 before charging, a delay, and a cut after charging that leaves the charge made', async () => {
    const p = await provider();
    p.failNext({ kind: 'error-before-charge' }, { kind: 'delay', ms: 150 }, { kind: 'cut-after-charge' });
    expect((await charge(p, order, 'a')).status).toBe(500);
    expect(p.charges()).toHaveLength(0);

    const t = performance.now();
    expect((await charge(p, order, 'b')).status).toBe(201);
    expect(performance.now() - t).toBeGreaterThanOrEqual(140);

    await expect(charge(p, order, 'c')).rejects.toThrow();
    expect(p.charges()).toHaveLength(2);
    // The retry with the same key gets the charge that was made, not a second one.
    const retry = await charge(p, order, 'c');
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(p.charges()).toHaveLength(2);
    expect(p.requestLog().map((r) => r.status)).toEqual([500, 201, 'cut', 201]);
  });

  it('reset forgets the ledger, the stored answers and pending faults', async () => {
    const p = await provider();
    await charge(p, order, 'k');
    p.failNext({ kind: 'error-before-charge' });
    p.reset();
    expect(p.charges()).toEqual([]);
    const res = await charge(p, order, 'k');
    expect(res.status).toBe(201);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
  });
});
