/**
 * The Saga grader's scenarios, as data: each places orders through the learner's
 * orchestrator with the faults it plans per order and step (refusals, technical failures,
 * ambiguous ones that commit and then time out), kills the orchestrator at its commit
 * points, or runs many orders at once; then it notes the services' truth, and names the
 * pure checker (checkers.ts) that judges what it recorded. Ids and order are lab.json's
 * checks. Every random draw comes from the scenario's seeded rng, in a fixed order, so a
 * seed replays the same schedule.
 */
import type { ScenarioContext } from '../../../src/core/grading/engine';
import type { ScenarioSpec } from '../../../src/core/grading/labGrader';
import type { Rng } from '../../../src/core/random';
import { checkAmbiguous, checkCompensateInReverse, checkCompensationRetried, checkConcurrentOrders, checkCrashRecovery, checkForwardAfterPivot, checkRandomSchedules, checkTechnicalRetried } from './checkers';
import type { SagaHarness } from './harness';
import { type Expectation, GRADER, ORCHESTRATOR, type SagaEvent } from './history';
import { CONCURRENT_ORDERS, POOL_SIZE, RANDOM_AT_ONCE, RANDOM_SCHEDULES } from './limits';
import type { OrderInput } from './protocol';
import type { ServiceFault } from './services';
import { PIVOT, type SagaOperation, STEPS } from './steps';

type Spec = ScenarioSpec<SagaHarness, SagaEvent>;

/** What each step before or at the pivot is refused with, by its index in STEPS. */
const REFUSALS: Readonly<Record<number, string>> = { 0: 'invalid_order', 1: 'out_of_stock', 2: 'card_declined' };

/** Orders of one scenario: ids, SKUs and stock of its own. */
class OrderMaker {
  private n = 0;
  readonly ids: string[] = [];

  constructor(
    private readonly prefix: string,
    private readonly rng: Rng,
  ) {}

  sku(i: number): string {
    return `${this.prefix}-sku${i}`;
  }

  /** A new order; a declined one's customer has a card the payments service refuses. */
  order(options: { declined?: boolean; skus?: number } = {}): OrderInput {
    this.n++;
    const orderId = `${this.prefix}-o${this.n}`;
    this.ids.push(orderId);
    const count = this.rng.int(1, options.skus ?? 2);
    const items = Array.from({ length: count }, (_, i) => ({ sku: this.sku(i + 1), qty: this.rng.int(1, 3) }));
    return { orderId, customerId: `${options.declined === true ? 'declined' : 'cust'}-${this.rng.int(1, 9999)}`, items, total: this.rng.int(500, 20_000), address: `${this.rng.int(1, 200)} Market Street` };
  }
}

/** A prefix for a scenario's order ids and SKUs, so that its orders and stock meet no other scenario's. */
function scenarioPrefix(rng: Rng): string {
  return `s${rng.int(0, 2 ** 30).toString(36)}`;
}

/**
 * A scenario whose run gets its own orders and stock, has every service call recorded,
 * and ends by noting the services' truth about its orders.
 */
function sagaScenario(spec: Omit<Spec, 'run'> & { run(h: SagaHarness, ctx: ScenarioContext<SagaEvent>, orders: OrderMaker): Promise<void> }): Spec {
  return {
    ...spec,
    async run(h, ctx) {
      h.watch(ctx.history);
      const orders = new OrderMaker(scenarioPrefix(ctx.rng), ctx.rng);
      try {
        await h.learner.ensureRunning();
        await h.learner.arm(null);
        await h.services.stock({ [orders.sku(1)]: 1000, [orders.sku(2)]: 1000, [orders.sku(3)]: 1000 });
        await spec.run(h, ctx, orders);
        await h.recordTruth(ctx.history, orders.ids);
      } finally {
        h.unwatch();
      }
    },
  };
}

/** One order of random-schedules, drawn before any runs. */
interface Schedule {
  readonly order: OrderInput;
  readonly expect: Expectation;
  readonly declined: boolean;
  readonly faults: readonly { readonly op: SagaOperation; readonly faults: ServiceFault[] }[];
}

export const scenarios: readonly Spec[] = [
  sagaScenario({
    id: 'compensate-in-reverse',
    check: checkCompensateInReverse,
    async run(h, { history }, orders) {
      for (const [k, step] of STEPS.slice(0, PIVOT + 1).entries()) {
        const order = orders.order();
        const plan = [h.plan(history, order.orderId, step.op, [{ kind: 'business', reason: REFUSALS[k] ?? 'refused' }])];
        await h.place(history, order, 'compensated', plan);
      }
    },
  }),
  sagaScenario({
    id: 'retry-technical-failures',
    check: checkTechnicalRetried,
    async run(h, { history, rng }, orders) {
      for (const step of STEPS) {
        const order = orders.order();
        const plan = [h.plan(history, order.orderId, step.op, Array.from({ length: rng.int(1, 3) }, () => ({ kind: 'technical' as const })))];
        await h.place(history, order, 'completed', plan);
      }
    },
  }),
  sagaScenario({
    id: 'ambiguous-step',
    check: checkAmbiguous,
    async run(h, { history }, orders) {
      for (const step of STEPS) {
        const order = orders.order();
        const plan = [h.plan(history, order.orderId, step.op, [{ kind: 'ambiguous' }])];
        await h.place(history, order, 'completed', plan);
      }
    },
  }),
  sagaScenario({
    id: 'forward-after-pivot',
    check: checkForwardAfterPivot,
    async run(h, { history, rng }, orders) {
      for (const step of STEPS.slice(PIVOT + 1)) {
        const order = orders.order();
        const faults: ServiceFault[] = [{ kind: 'business', reason: step.op === 'shipping.schedule' ? 'carrier_unavailable' : 'order_locked' }, ...Array.from({ length: rng.int(1, 3) }, () => ({ kind: 'technical' as const }))];
        const plan = [`after the pivot: ${h.plan(history, order.orderId, step.op, rng.shuffle(faults))}`];
        await h.place(history, order, 'completed', plan);
      }
    },
  }),
  sagaScenario({
    id: 'compensation-retried',
    check: checkCompensationRetried,
    async run(h, { history, rng }, orders) {
      for (let round = 0; round < 3; round++) {
        const order = orders.order({ declined: true });
        const plan = [
          h.plan(history, order.orderId, 'inventory.release', rng.shuffle<ServiceFault>([{ kind: 'ambiguous' }, ...Array.from({ length: rng.int(1, 3) }, () => ({ kind: 'technical' as const }))])),
          h.plan(history, order.orderId, 'orders.reject', Array.from({ length: rng.int(1, 3) }, () => ({ kind: 'technical' as const }))),
        ];
        await h.place(history, order, 'compensated', ['card declined', ...plan]);
      }
    },
  }),
  sagaScenario({
    id: 'crash-recovery',
    budgetMs: 120_000,
    check: checkCrashRecovery,
    async run(h, { history, signal }, orders) {
      // A saga that completes, and one that compensates (its card is declined).
      for (const declined of [false, true]) {
        await h.learner.arm(null);
        const clean = orders.order({ declined });
        await h.place(history, clean, declined ? 'compensated' : 'completed', [declined ? 'card declined' : 'no faults', 'no crash']);
        // The compensating saga runs the same forward steps as the completing one until its
        // card is refused: it is killed only once that call has started.
        const calls = h.services.callLog().filter((c) => c.orderId === clean.orderId);
        const refused = calls.findIndex((c) => c.outcome === 'business');
        const plan = await h.learner.crashPlan(declined && refused >= 0 ? refused + 1 : 0);
        history.record({ process: GRADER, type: 'note', op: `a ${declined ? 'compensating' : 'completing'} saga: ${plan.length} places to kill it (after each commit and each service answer${declined ? ', from its refused charge on' : ''})` });
        for (const { point, when, kind } of plan) {
          if (signal.aborted) break;
          const order = orders.order({ declined });
          const where = kind === 'call' ? `just as a service answered (point ${point}), before the orchestrator saw the answer` : `just after a commit (point ${point})`;
          await h.learner.arm({ point, when });
          history.record({ process: GRADER, type: 'fault', op: `order ${order.orderId}: kill the orchestrator ${where}` });
          await h.place(history, order, declined ? 'compensated' : 'completed', [declined ? 'card declined' : 'no faults', `killed ${where}`], where);
          if (h.learner.ended) {
            history.record({ process: ORCHESTRATOR, type: 'crash', op: 'process killed', detail: `killed ${where}` });
            await h.learner.restart();
          }
          await h.learner.arm(null);
          await h.recover(history);
        }
      }
    },
  }),
  sagaScenario({
    id: 'random-schedules',
    budgetMs: 120_000,
    check: checkRandomSchedules,
    async run(h, { history, rng, signal, backend }, orders) {
      // The schedules are drawn in order from the seed, then run a few at a time on
      // PostgreSQL in Docker (each order has its own faults, so they do not meet); one at a
      // time on the embedded database, which runs one transaction at a time. Each order's
      // faults are planned (and marked in the history) just before it runs.
      const schedules: Schedule[] = [];
      for (let i = 0; i < RANDOM_SCHEDULES; i++) {
        const declined = rng.chance(0.15);
        const order = orders.order({ declined });
        const faults: { op: SagaOperation; faults: ServiceFault[] }[] = [];
        for (const step of STEPS) {
          if (rng.chance(0.25)) {
            faults.push({ op: step.op, faults: Array.from({ length: rng.int(1, 2) }, () => rng.pick<ServiceFault>([{ kind: 'technical' }, { kind: 'ambiguous' }])) });
          }
        }
        const refuse = !declined && rng.chance(0.15) ? rng.int(0, 1) : undefined;
        const refused = refuse !== undefined ? STEPS[refuse] : undefined;
        if (refuse !== undefined && refused !== undefined) {
          faults.push({ op: refused.op, faults: [{ kind: 'business', reason: REFUSALS[refuse] ?? 'refused' }] });
        }
        if (declined || refuse !== undefined) {
          for (const undo of ['inventory.release', 'orders.reject'] as const) {
            if (rng.chance(0.3)) faults.push({ op: undo, faults: [rng.pick<ServiceFault>([{ kind: 'technical' }, { kind: 'ambiguous' }])] });
          }
        }
        schedules.push({ order, expect: declined || refuse !== undefined ? 'compensated' : 'completed', declined, faults });
      }
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < schedules.length && !signal.aborted) {
          const schedule = schedules[next++];
          if (schedule === undefined) break;
          const { order, expect, declined, faults } = schedule;
          const plan = [...(declined ? ['card declined'] : []), ...faults.map((f) => h.plan(history, order.orderId, f.op, f.faults))];
          await h.place(history, order, expect, plan);
        }
      };
      await Promise.all(Array.from({ length: backend === 'docker' ? RANDOM_AT_ONCE : 1 }, worker));
    },
  }),
  sagaScenario({
    id: 'concurrent-orders',
    needs: ['concurrency'],
    budgetMs: 120_000,
    check: checkConcurrentOrders,
    async run(h, { history, rng }, orders) {
      // Scarce stock: some orders find it gone, decided by the race.
      await h.services.stock({ [orders.sku(1)]: 30, [orders.sku(2)]: 1000, [orders.sku(3)]: 1000 });
      const batch = Array.from({ length: CONCURRENT_ORDERS }, () => {
        const declined = rng.chance(0.15);
        const order = orders.order({ declined, skus: 2 });
        const plan: string[] = declined ? ['card declined'] : [];
        for (const step of STEPS) {
          if (rng.chance(0.2)) plan.push(h.plan(history, order.orderId, step.op, [rng.pick<ServiceFault>([{ kind: 'technical' }, { kind: 'ambiguous' }, { kind: 'delay', ms: rng.int(5, 40) }])]));
        }
        return { order, plan };
      });
      await h.learner.network(rng.int(1, 4), POOL_SIZE);
      try {
        await Promise.all(batch.map(({ order, plan }) => h.place(history, order, 'either', plan)));
      } finally {
        await h.learner.network(0);
      }
    },
  }),
];
