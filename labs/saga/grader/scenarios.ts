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
import { type Expectation, GRADER, type SagaEvent } from './history';
import { CONCURRENT_ORDERS, POOL_SIZE, RANDOM_AT_ONCE, RANDOM_SCHEDULES } from './limits';
import type { OrderInput } from './protocol';
import type { ServiceFault } from './services';
import { PIVOT, type SagaOperation, type SagaStep, STEPS } from './steps';

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

/** How many times in a row the service fails in a long outage: enough for any backoff without a cap (doubling from 1 ms) to pass MAX_WAIT_MS. */
const LONG_OUTAGE = 20;

/** A streak longer than any sensible retry budget: the service fails this many times in a row before it recovers. */
function streak(rng: Rng, fault: () => ServiceFault): ServiceFault[] {
  return Array.from({ length: rng.int(8, 10) }, fault);
}

const technical = (): ServiceFault => ({ kind: 'technical' });

/** A saga the crash scenario kills: what it plans, and from which of its calls on its points are worth a kill. */
interface CrashSubject {
  readonly label: string;
  readonly declined: boolean;
  readonly expect: 'completed' | 'compensated';
  /** Plans this order's faults; returns them as text. */
  plan(h: SagaHarness, history: ScenarioContext<SagaEvent>['history'], orderId: string): string[];
  /** The points from this call on (1-based among the order's calls; 0: all): the ones before are another subject's. */
  fromCall(calls: readonly { readonly op: SagaOperation; readonly outcome: string }[]): number;
}

const CRASH_SUBJECTS: readonly CrashSubject[] = [
  { label: 'a completing saga', declined: false, expect: 'completed', plan: () => ['no faults'], fromCall: () => 0 },
  {
    // It runs the same forward steps as the completing one until its card is refused: killed only from that call on.
    // Its compensations fail on the way (the release refused, then failing; the reject failing): retried until they succeed.
    label: 'a compensating saga whose compensations fail',
    declined: true,
    expect: 'compensated',
    plan: (h, history, orderId) => [
      'card declined',
      h.plan(history, orderId, 'inventory.release', [{ kind: 'business', reason: 'inventory_locked' }, technical()]),
      h.plan(history, orderId, 'orders.reject', [technical()]),
    ],
    fromCall: (calls) => calls.findIndex((c) => c.outcome === 'business') + 1,
  },
];

export const scenarios: readonly Spec[] = [
  sagaScenario({
    id: 'compensate-in-reverse',
    cases: ['refused-at-create', 'refused-at-reserve', 'refused-at-charge', 'slow-release'],
    check: checkCompensateInReverse,
    async run(h, { history }, orders) {
      for (const [k, step] of STEPS.slice(0, PIVOT + 1).entries()) {
        const order = orders.order();
        const plan = [h.plan(history, order.orderId, step.op, [{ kind: 'business', reason: REFUSALS[k] ?? 'refused' }])];
        await h.place(history, order, 'compensated', plan);
      }
      // A release that takes its time: the reject waits for its answer, or the two run side by side.
      const slow = orders.order({ declined: true });
      await h.place(history, slow, 'compensated', ['card declined', h.plan(history, slow.orderId, 'inventory.release', [{ kind: 'delay', ms: 150 }])]);
    },
  }),
  sagaScenario({
    id: 'retry-technical-failures',
    cases: ['technical-at-each-step', 'streak-before-pivot', 'streak-after-pivot', 'retry-after-a-wait', 'long-outage'],
    check: checkTechnicalRetried,
    async run(h, { history, rng }, orders) {
      for (const step of STEPS) {
        const order = orders.order();
        const plan = [h.plan(history, order.orderId, step.op, Array.from({ length: rng.int(1, 3) }, technical))];
        await h.place(history, order, 'completed', plan);
      }
      // A service down for longer than a bounded retry loop waits: before the pivot, and after it.
      for (const step of [rng.pick(STEPS.slice(0, PIVOT + 1)), rng.pick(STEPS.slice(PIVOT + 1))]) {
        const order = orders.order();
        await h.place(history, order, 'completed', [h.plan(history, order.orderId, step.op, streak(rng, technical))]);
      }
      // An outage long enough for a backoff without a cap to grow past a minute (from 1 ms, doubling, by the 18th wait).
      const outage = orders.order();
      const step = rng.pick(STEPS);
      await h.place(history, outage, 'completed', [`a long outage: ${h.plan(history, outage.orderId, step.op, Array.from({ length: LONG_OUTAGE }, technical))}`]);
    },
  }),
  sagaScenario({
    id: 'ambiguous-step',
    cases: ['ambiguous-at-each-step'],
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
    cases: ['refused-and-failing-after-pivot', 'refusal-streak-after-pivot'],
    check: checkForwardAfterPivot,
    async run(h, { history, rng }, orders) {
      const refusal = (step: SagaStep): ServiceFault => ({ kind: 'business', reason: step.op === 'shipping.schedule' ? 'carrier_unavailable' : 'order_locked' });
      for (const step of STEPS.slice(PIVOT + 1)) {
        const order = orders.order();
        const faults: ServiceFault[] = [refusal(step), ...Array.from({ length: rng.int(1, 3) }, technical)];
        const plan = [`after the pivot: ${h.plan(history, order.orderId, step.op, rng.shuffle(faults))}`];
        await h.place(history, order, 'completed', plan);
      }
      // Refused again and again, longer than a bounded retry loop waits.
      const step = rng.pick(STEPS.slice(PIVOT + 1));
      const order = orders.order();
      const length = rng.int(8, 10);
      const faults = rng.shuffle<ServiceFault>([...Array.from({ length: length - 2 }, () => refusal(step)), ...Array.from({ length: 2 }, () => rng.pick([refusal(step), technical()]))]);
      await h.place(history, order, 'completed', [`after the pivot: ${h.plan(history, order.orderId, step.op, faults)}`]);
    },
  }),
  sagaScenario({
    id: 'compensation-retried',
    cases: ['failing-compensations', 'refused-compensations', 'compensation-streak'],
    check: checkCompensationRetried,
    async run(h, { history, rng }, orders) {
      for (let round = 0; round < 3; round++) {
        const order = orders.order({ declined: true });
        const plan = [
          h.plan(history, order.orderId, 'inventory.release', rng.shuffle<ServiceFault>([{ kind: 'ambiguous' }, ...Array.from({ length: rng.int(1, 3) }, technical)])),
          h.plan(history, order.orderId, 'orders.reject', Array.from({ length: rng.int(1, 3) }, technical)),
        ];
        await h.place(history, order, 'compensated', ['card declined', ...plan]);
      }
      // Compensations refused for a while: retried after a wait until they succeed.
      const refused = orders.order({ declined: true });
      const locked = (): ServiceFault => ({ kind: 'business', reason: 'temporarily_locked' });
      await h.place(history, refused, 'compensated', [
        'card declined',
        h.plan(history, refused.orderId, 'inventory.release', rng.shuffle<ServiceFault>([locked(), ...Array.from({ length: rng.int(0, 2) }, () => rng.pick<ServiceFault>([locked(), technical()]))])),
        h.plan(history, refused.orderId, 'orders.reject', Array.from({ length: rng.int(1, 2) }, locked)),
      ]);
      // A compensation failing longer than a bounded retry loop waits.
      const long = orders.order({ declined: true });
      const undo = rng.pick<SagaOperation>(['inventory.release', 'orders.reject']);
      await h.place(history, long, 'compensated', ['card declined', h.plan(history, long.orderId, undo, streak(rng, () => (rng.chance(0.8) ? technical() : locked())))]);
    },
  }),
  sagaScenario({
    id: 'crash-recovery',
    budgetMs: 120_000,
    cases: ['killed-at-each-point-completing', 'killed-at-each-point-compensating', 'several-unfinished-at-one-recovery', 'restart-runs-migrate-again', 'recover-again-finds-nothing'],
    check: checkCrashRecovery,
    async run(h, { history, signal, rng }, orders) {
      // Each restarted process runs migrate(db) again on the log, as a deployed orchestrator does when it starts.
      const plans: { subject: CrashSubject; points: Awaited<ReturnType<typeof h.learner.crashPlan>> }[] = [];
      for (const subject of CRASH_SUBJECTS) {
        await h.learner.arm(null);
        const clean = orders.order({ declined: subject.declined });
        await h.place(history, clean, subject.expect, [...subject.plan(h, history, clean.orderId), 'no crash']);
        const calls = h.services.callLog().filter((c) => c.orderId === clean.orderId);
        const points = await h.learner.crashPlan(subject.fromCall(calls));
        plans.push({ subject, points });
        history.record({ process: GRADER, type: 'note', op: `${subject.label}: ${points.length} places to kill it (after each commit and each service answer)` });
        for (const { point, when, kind } of points) {
          if (signal.aborted) break;
          const order = orders.order({ declined: subject.declined });
          const where = kind === 'call' ? `just as a service answered (point ${point}), before the orchestrator saw the answer` : `just after a commit (point ${point})`;
          const plan = subject.plan(h, history, order.orderId);
          await h.learner.arm({ point, when });
          history.record({ process: GRADER, type: 'fault', op: `order ${order.orderId}: kill the orchestrator ${where}` });
          await h.place(history, order, subject.expect, [...plan, `killed ${where}`], where);
          const migrated = !h.learner.ended || (await h.restartAsDeployed(history, `killed ${where}`));
          await h.learner.arm(null);
          const before = h.services.callLog().filter((c) => c.orderId === order.orderId).length;
          const answer = await h.recover(history);
          const carriedOn = h.services.callLog().filter((c) => c.orderId === order.orderId).length > before;
          // What fails the check as it stands ends the scenario: the kills left to try would only take time.
          const wrong = !migrated
            ? 'migrate(db) failed on the existing log'
            : !(await h.settled(order.orderId))
              ? `order ${order.orderId} is still unfinished after recover()`
              : carriedOn && Array.isArray(answer) && !answer.some((a: unknown) => typeof a === 'object' && a !== null && 'orderId' in a && a.orderId === order.orderId)
                ? `recover() left order ${order.orderId} out of its answer`
                : undefined;
          if (wrong !== undefined) {
            history.record({ process: GRADER, type: 'note', op: `${wrong}: the kills left are not tried` });
            return;
          }
        }
      }
      // Several sagas left unfinished, each killed at its own point, then one recovery for them all.
      const picks = plans.flatMap(({ subject, points }, k) => rng.shuffle([...points]).slice(0, k === 0 ? 2 : 1).map((p) => ({ subject, ...p })));
      history.record({ process: GRADER, type: 'note', op: `${picks.length} sagas killed one after another, then one recover() for them all` });
      for (const { subject, point, when, kind } of picks) {
        if (signal.aborted) break;
        const order = orders.order({ declined: subject.declined });
        const where = `${kind === 'call' ? 'just as a service answered' : 'just after a commit'} (point ${point}); recovered later, with the others`;
        const plan = subject.plan(h, history, order.orderId);
        await h.learner.arm({ point, when });
        history.record({ process: GRADER, type: 'fault', op: `order ${order.orderId}: kill the orchestrator ${where}` });
        await h.place(history, order, subject.expect, [...plan, `killed ${where}`], where);
        if (h.learner.ended) {
          await h.restartAsDeployed(history, `killed ${where}`);
        }
      }
      await h.learner.arm(null);
      await h.recover(history);
      // Nothing is left: a fresh process, started as deployed, finds no unfinished saga.
      await h.restartAsDeployed(history, 'the grader restarts the orchestrator (it was not killed)', false);
      await h.recover(history, true);
    },
  }),
  sagaScenario({
    id: 'random-schedules',
    budgetMs: 120_000,
    cases: ['random-faults-per-saga'],
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
    cases: ['fifty-at-once-on-scarce-stock'],
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
