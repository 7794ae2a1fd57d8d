import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/saga';
import { INITIAL_STOCK, type TestDeps, closeDeps, fault, freshDeps, newOrder, place } from './support';

/** What the services hold for an order that was undone: rejected, nothing held, nothing charged or shipped. */
const COMPENSATED = { status: 'rejected', reserved: {}, charges: 0, refunds: 0, shipments: 0 };

describe('a saga that is undone', () => {
  let deps: TestDeps;

  beforeEach(async () => {
    deps = await freshDeps();
    await migrate(deps.db);
  });

  afterEach(async () => {
    await closeDeps(deps);
  });

  it('TODO(5–6) a declined card releases the stock, then rejects the order, and refunds nothing', async () => {
    // A customer id starting with "declined": the payment service refuses the charge ('card_declined').
    const order = newOrder({ customerId: 'declined-bob' });
    const outcome = await place(deps, order);
    expect(outcome, 'what placeOrder returned').toEqual({ orderId: order.orderId, status: 'compensated' });

    // The completed steps are undone from the last to the first; the refused charge did
    // nothing, so it has nothing to undo, and shipping and approval never run.
    expect(deps.services.opsOf(order.orderId), 'the calls made, in order').toEqual(['orders.create', 'inventory.reserve', 'payments.charge', 'inventory.release', 'orders.reject']);
    expect(deps.services.truth(order.orderId)).toEqual(COMPENSATED);
    expect(deps.services.available('mug'), 'mugs on the shelf: all back').toBe(INITIAL_STOCK['mug']);
    expect(deps.services.available('lamp'), 'lamps on the shelf: all back').toBe(INITIAL_STOCK['lamp']);
    // Each compensation has a requestId of its own, not its step's.
    const ids = deps.services.calls.map((c) => c.requestId);
    expect(new Set(ids).size, `the requestIds ${JSON.stringify(ids)}: one per call`).toBe(5);
  });

  it('TODO(5–6) out of stock at the reservation: only the order is rejected, nothing is released', async () => {
    // 4 posters wanted, 3 on the shelf: the inventory refuses the whole reservation ('out_of_stock').
    const order = newOrder({
      items: [
        { sku: 'mug', qty: 1 },
        { sku: 'poster', qty: 4 },
      ],
    });
    const outcome = await place(deps, order);
    expect(outcome).toEqual({ orderId: order.orderId, status: 'compensated' });

    // The refused reservation reserved nothing, so there is nothing to release.
    expect(deps.services.opsOf(order.orderId), 'the calls made, in order').toEqual(['orders.create', 'inventory.reserve', 'orders.reject']);
    expect(deps.services.truth(order.orderId)).toEqual(COMPENSATED);
    expect(deps.services.available('mug')).toBe(INITIAL_STOCK['mug']);
    expect(deps.services.available('poster')).toBe(INITIAL_STOCK['poster']);
  });

  it('TODO(5–6) a refusal at the first step compensates nothing: no step before it completed', async () => {
    const order = newOrder();
    deps.services.fail('orders.create', fault.refuse('invalid_order'));
    const outcome = await place(deps, order);
    expect(outcome).toEqual({ orderId: order.orderId, status: 'compensated' });

    expect(deps.services.opsOf(order.orderId), 'the calls made: the refused step, and nothing else').toEqual(['orders.create']);
    expect(deps.services.truth(order.orderId)).toEqual({ status: 'none', reserved: {}, charges: 0, refunds: 0, shipments: 0 });
  });

  it('TODO(5–6) a compensation that fails is retried until it succeeds, and takes effect once', async () => {
    const order = newOrder({ customerId: 'declined-cy' });
    // The inventory is down once, then releases the stock but loses its answer; the orders service is down twice.
    deps.services.fail('inventory.release', fault.technical, fault.ambiguous);
    deps.services.fail('orders.reject', fault.technical, fault.technical);
    const outcome = await place(deps, order);
    expect(outcome, 'a saga never ends half-compensated').toEqual({ orderId: order.orderId, status: 'compensated' });

    const releases = deps.services.calls.filter((c) => c.op === 'inventory.release');
    expect(releases.map((c) => c.outcome), 'the release calls').toEqual(['technical', 'ambiguous', 'replayed']);
    expect(new Set(releases.map((c) => c.requestId)).size, 'distinct requestIds among the retries of one compensation (it must be 1)').toBe(1);
    expect(deps.services.calls.filter((c) => c.op === 'orders.reject').map((c) => c.outcome), 'the reject calls').toEqual(['technical', 'technical', 'ok']);
    // Released once, not twice: the stock on the shelf is what it was.
    expect(deps.services.truth(order.orderId)).toEqual(COMPENSATED);
    expect(deps.services.available('mug')).toBe(INITIAL_STOCK['mug']);
    expect(deps.services.available('lamp')).toBe(INITIAL_STOCK['lamp']);
  });
});
