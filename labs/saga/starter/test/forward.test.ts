import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/saga';
import { FORWARD, INITIAL_STOCK, type TestDeps, closeDeps, fault, freshDeps, newOrder, place } from './support';

/** What the services hold for an order that went through: approved, its stock held, charged and shipped once. */
const COMPLETED = { status: 'approved', reserved: { mug: 2, lamp: 1 }, charges: 1, refunds: 0, shipments: 1 };

describe('a saga that goes forward', () => {
  let deps: TestDeps;

  beforeEach(async () => {
    deps = await freshDeps();
    await migrate(deps.db);
  });

  afterEach(async () => {
    await closeDeps(deps);
  });

  it('TODO(2–6) an order without faults runs the five steps once each, in order, and completes', async () => {
    const order = newOrder();
    const outcome = await place(deps, order);
    expect(outcome, 'what placeOrder returned').toEqual({ orderId: order.orderId, status: 'completed' });

    expect(deps.services.opsOf(order.orderId), 'the calls made, in order').toEqual(FORWARD);
    expect(deps.services.calls.map((c) => c.outcome)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    // Each step has a requestId of its own: a service answers a requestId it has seen with its first answer.
    const ids = deps.services.calls.map((c) => c.requestId);
    expect(new Set(ids).size, `the requestIds ${JSON.stringify(ids)}: one per step`).toBe(5);

    // The services' own state is the truth about what happened.
    expect(deps.services.truth(order.orderId)).toEqual(COMPLETED);
    expect(deps.services.available('mug'), 'mugs left on the shelf').toBe((INITIAL_STOCK['mug'] ?? 0) - 2);

    // A second order is a saga of its own.
    const second = newOrder({ items: [{ sku: 'poster', qty: 1 }] });
    expect(await place(deps, second)).toEqual({ orderId: second.orderId, status: 'completed' });
    expect(deps.services.opsOf(second.orderId)).toEqual(FORWARD);
    expect(deps.services.truth(second.orderId)).toMatchObject({ status: 'approved', reserved: { poster: 1 }, charges: 1 });
  });

  it('TODO(3–6) a technical failure is retried, with backoff and the same requestId, until the step succeeds', async () => {
    const order = newOrder();
    deps.services.fail('inventory.reserve', fault.technical, fault.technical);
    const outcome = await place(deps, order);
    expect(outcome, 'a technical failure is not a refusal: the saga goes on').toEqual({ orderId: order.orderId, status: 'completed' });

    const reserves = deps.services.calls.filter((c) => c.op === 'inventory.reserve');
    expect(reserves.map((c) => c.outcome), 'the reservation calls').toEqual(['technical', 'technical', 'ok']);
    expect(new Set(reserves.map((c) => c.requestId)).size, 'distinct requestIds among the retries of one step (it must be 1)').toBe(1);
    expect(deps.sleeps.length, 'calls to deps.sleep: wait before each retry').toBeGreaterThanOrEqual(2);
    expect(deps.services.opsOf(order.orderId), 'nothing was compensated').not.toContain('orders.reject');
    expect(deps.services.truth(order.orderId)).toEqual(COMPLETED);
  });

  it('TODO(3–6) a charge that timed out after it was made is retried: one charge, nothing compensated', async () => {
    const order = newOrder();
    // The payment service charges the card, then its answer is lost: your code sees a technical failure.
    deps.services.fail('payments.charge', fault.ambiguous);
    const outcome = await place(deps, order);
    expect(outcome).toEqual({ orderId: order.orderId, status: 'completed' });

    const charges = deps.services.calls.filter((c) => c.op === 'payments.charge');
    // The retry carries the first call's requestId, so the service answers with the charge it made.
    expect(charges.map((c) => c.outcome), 'the charge calls').toEqual(['ambiguous', 'replayed']);
    expect(deps.services.truth(order.orderId), 'the card is charged once, and the order goes through').toEqual(COMPLETED);
  });

  it('TODO(4–6) past the pivot, a refused or failing step is retried forward: nothing is compensated or refunded', async () => {
    const order = newOrder();
    // The card is charged; then the carrier refuses, once, and is down, once.
    deps.services.fail('shipping.schedule', fault.refuse('carrier_unavailable'), fault.technical);
    deps.services.fail('orders.approve', fault.technical);
    const outcome = await place(deps, order);
    expect(outcome, 'after the pivot a saga can only complete').toEqual({ orderId: order.orderId, status: 'completed' });

    expect(deps.services.calls.filter((c) => c.op === 'shipping.schedule').map((c) => c.outcome), 'the shipping calls').toEqual(['business', 'technical', 'ok']);
    const ops = deps.services.opsOf(order.orderId);
    for (const undo of ['orders.reject', 'inventory.release', 'payments.refund'] as const) {
      expect(ops, `calls made (a charged order is never undone, so no ${undo})`).not.toContain(undo);
    }
    expect(deps.services.truth(order.orderId)).toEqual(COMPLETED);
  });
});
