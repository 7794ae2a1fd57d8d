import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate } from '../src/saga';
import { FORWARD, INITIAL_STOCK, type TestDeps, closeDeps, fault, freshDeps, newOrder, place, placeUntilCrash, recoverAll } from './support';

/*
 * In these tests the orchestrator "dies" in the middle of a service call: the call throws
 * SimulatedCrash, and from then on every call of the dead process (database, services,
 * sleep) throws it too, as nothing runs after a real crash. The test then starts the
 * process again and calls recover(), which has only the saga log to go on. (Variables in
 * your module do survive here, because the tests run in one process; they do not when the
 * grader kills the process for real, so do not rely on them.)
 */
describe('recovery after the orchestrator crashed', () => {
  let deps: TestDeps;

  beforeEach(async () => {
    deps = await freshDeps();
    await migrate(deps.db);
  });

  afterEach(async () => {
    await closeDeps(deps);
  });

  it('TODO(6) recover() finds nothing to do when every saga has finished', async () => {
    expect(await recoverAll(deps), 'recover() on an empty log').toEqual([]);

    const good = newOrder();
    const declined = newOrder({ customerId: 'declined-dee' });
    expect((await place(deps, good)).status).toBe('completed');
    expect((await place(deps, declined)).status).toBe('compensated');
    const calls = deps.services.calls.length;

    expect(await recoverAll(deps), 'recover() after a completed and a compensated saga').toEqual([]);
    expect(deps.services.calls.length, 'calls made by recover(): a finished saga is left alone').toBe(calls);
  });

  it('TODO(6) killed after the card was charged, the saga is completed by recover(), with one charge', async () => {
    const order = newOrder();
    // The payment service charges the card; the orchestrator dies before it reads the answer.
    deps.services.fail('payments.charge', fault.crashAfter);
    await placeUntilCrash(deps, order);
    expect(deps.services.truth(order.orderId), 'the services just after the crash').toMatchObject({ status: 'pending', charges: 1, shipments: 0 });

    const outcomes = await recoverAll(deps);
    expect(outcomes, 'what recover() returned').toEqual([{ orderId: order.orderId, status: 'completed' }]);
    // The charge is asked again with its requestId, so the service answers with the charge it made.
    expect(deps.services.opsOf(order.orderId), 'the calls made, before and after the crash').toEqual([...FORWARD.slice(0, 3), ...FORWARD.slice(2)]);
    expect(deps.services.calls.filter((c) => c.op === 'payments.charge').map((c) => c.outcome)).toEqual(['crashed', 'replayed']);
    expect(deps.services.truth(order.orderId)).toEqual({ status: 'approved', reserved: { mug: 2, lamp: 1 }, charges: 1, refunds: 0, shipments: 1 });

    expect(await recoverAll(deps), 'a second recover(): the saga is finished').toEqual([]);
  });

  it('TODO(6) killed before a declined card was charged, the saga is compensated by recover()', async () => {
    const order = newOrder({ customerId: 'declined-eve' });
    deps.services.fail('payments.charge', fault.crashBefore);
    await placeUntilCrash(deps, order);
    expect(deps.services.truth(order.orderId), 'the services just after the crash').toMatchObject({ status: 'pending', reserved: { mug: 2, lamp: 1 }, charges: 0 });

    const outcomes = await recoverAll(deps);
    expect(outcomes, 'what recover() returned').toEqual([{ orderId: order.orderId, status: 'compensated' }]);
    expect(deps.services.opsOf(order.orderId).slice(3), 'the calls recover() made').toEqual(['payments.charge', 'inventory.release', 'orders.reject']);
    expect(deps.services.truth(order.orderId)).toEqual({ status: 'rejected', reserved: {}, charges: 0, refunds: 0, shipments: 0 });
    expect(deps.services.available('mug')).toBe(INITIAL_STOCK['mug']);
  });

  it('TODO(6) killed in the middle of compensating, recover() finishes the compensation without releasing twice', async () => {
    const order = newOrder({ customerId: 'declined-fay' });
    // The card is declined; the inventory releases the stock, and the orchestrator dies before it reads the answer.
    deps.services.fail('inventory.release', fault.crashAfter);
    await placeUntilCrash(deps, order);
    expect(deps.services.truth(order.orderId), 'the services just after the crash').toMatchObject({ status: 'pending', reserved: {}, charges: 0 });

    const outcomes = await recoverAll(deps);
    expect(outcomes, 'what recover() returned').toEqual([{ orderId: order.orderId, status: 'compensated' }]);
    const releases = deps.services.calls.filter((c) => c.op === 'inventory.release');
    expect(releases.map((c) => c.outcome), 'the release calls: the retry after the crash must carry the same requestId').toEqual(['crashed', 'replayed']);
    expect(new Set(releases.map((c) => c.requestId)).size).toBe(1);
    expect(deps.services.opsOf(order.orderId), 'calls made: the order is never charged, shipped or approved').not.toContain('shipping.schedule');
    expect(deps.services.truth(order.orderId)).toEqual({ status: 'rejected', reserved: {}, charges: 0, refunds: 0, shipments: 0 });
    expect(deps.services.available('mug'), 'mugs on the shelf: released once, not twice').toBe(INITIAL_STOCK['mug']);
    expect(deps.services.available('lamp')).toBe(INITIAL_STOCK['lamp']);
  });
});
