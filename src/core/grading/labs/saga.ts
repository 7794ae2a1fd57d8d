/**
 * The Saga lab's grader: the learner's orchestrator runs the Place Order saga in the
 * sandbox, its log in the lab's PostgreSQL, against the grader's services (orders,
 * inventory, payments, shipping; sagaServices.ts), whose tables are the truth. Each
 * scenario plans faults per order and step (refusals, technical failures, ambiguous ones
 * that commit and then time out), crashes the orchestrator at its commit points, or runs
 * many orders at once; each checker is a pure function of the recorded history, which
 * ends with the services' truth.
 *
 * The semantics graded (../shared/GRADING.md, after Richardson and Temporal): on a refusal
 * before or at the pivot, the completed compensatable steps are undone in reverse order,
 * never a step that did not run, never the pivot; past the pivot only forward retries;
 * technical failures are retried with the same request (a timeout is ambiguous);
 * compensations are retried until they succeed and take effect once; after a crash the
 * log lets every saga finish or be compensated.
 */
import type { Rng } from '../../random';
import type { HistoryRecorder, Scenario, ScenarioContext } from '../engine';
import { type LabGrader, type LabRun, type OpenedRun } from '../gradeLab';
import { GRADER_CHECKS } from '../graderIds';
import { LearnerProcess } from '../learnerProcess';
import type { CheckOutcome, HistoryEvent, HistoryFocus } from '../report';
import { type OrderTruth, SagaServices, type SagaOperation, type ServiceCall, type ServiceFault, type StockTruth } from '../sagaServices';
import type { Sandbox } from '../sandbox';

export const SAGA_LAB_ID = 'saga';
const PLACE = 'placeOrder';
const RECOVER = 'recover';
const CALL_TIMEOUT_MS = 20_000;
const SERVICE_TIMEOUT_MS = 3_000;
const POOL_SIZE = 10;
/** How many random fault schedules the random-schedules check runs, and how many at once on Docker. */
export const RANDOM_SCHEDULES = 120;
const RANDOM_AT_ONCE = 4;

/** The Place Order saga's steps, in order, as the lab's README defines them. */
export const STEPS: readonly { readonly op: SagaOperation; readonly kind: 'compensatable' | 'pivot' | 'retriable'; readonly undo?: SagaOperation }[] = [
  { op: 'orders.create', kind: 'compensatable', undo: 'orders.reject' },
  { op: 'inventory.reserve', kind: 'compensatable', undo: 'inventory.release' },
  { op: 'payments.charge', kind: 'pivot' },
  { op: 'shipping.schedule', kind: 'retriable' },
  { op: 'orders.approve', kind: 'retriable' },
];
const PIVOT = STEPS.findIndex((s) => s.kind === 'pivot');
const COMPENSATIONS = new Set<string>(['orders.reject', 'inventory.release', 'payments.refund']);

// ─── The history's vocabulary ────────────────────────────────────────────────────

export interface OrderInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  readonly total: number;
  readonly address: string;
}

/** What the scenario expects of an order: its outcome, or either (decided by races). */
export type Expectation = 'completed' | 'compensated' | 'either';

export interface PlaceInput extends OrderInput {
  readonly expect: Expectation;
  /** The faults planned for this order, as text. */
  readonly plan: readonly string[];
}

export interface TruthNote {
  readonly orders: readonly OrderTruth[];
  readonly stock: readonly StockTruth[];
}

interface OrderRecord {
  readonly input: PlaceInput;
  readonly invoked: number;
  readonly ended: number | undefined;
  /** What the learner's placeOrder returned, or undefined (it crashed, threw, or was killed). */
  readonly status: 'completed' | 'compensated' | undefined;
  readonly failure: string | undefined;
}

interface CallRecord {
  readonly op: SagaOperation;
  readonly outcome: ServiceCall['outcome'];
  readonly requestId: string | undefined;
  readonly index: number;
}

export function ordersOf(history: readonly HistoryEvent[]): OrderRecord[] {
  const open = new Map<string, { index: number; input: PlaceInput }>();
  const done: OrderRecord[] = [];
  history.forEach((e, index) => {
    if (e.op !== PLACE) return;
    if (e.type === 'invoke') {
      open.set(e.process, { index, input: e.value as PlaceInput });
      return;
    }
    const started = open.get(e.process);
    if (!started || (e.type !== 'ok' && e.type !== 'info' && e.type !== 'fail')) return;
    open.delete(e.process);
    const value = e.value as { status?: unknown } | undefined;
    const status = e.type === 'ok' && (value?.status === 'completed' || value?.status === 'compensated') ? value.status : undefined;
    done.push({ input: started.input, invoked: started.index, ended: index, status, failure: e.type === 'ok' ? (status === undefined ? `placeOrder returned ${JSON.stringify(e.value)}` : undefined) : (e.detail ?? 'no answer') });
  });
  for (const [, started] of open) {
    done.push({ input: started.input, invoked: started.index, ended: undefined, status: undefined, failure: 'it never ended' });
  }
  return done.sort((a, b) => a.invoked - b.invoked);
}

/** The services' answers for one order, in order (completions on its `svc:` lane). */
export function callsOf(history: readonly HistoryEvent[], orderId: string): CallRecord[] {
  const lane = `svc:${orderId}`;
  const out: CallRecord[] = [];
  history.forEach((e, index) => {
    if (e.process === lane && e.type !== 'invoke' && e.type !== 'note' && e.type !== 'fault') {
      const value = e.value as { outcome?: ServiceCall['outcome']; requestId?: string } | undefined;
      out.push({ op: e.op as SagaOperation, outcome: value?.outcome ?? 'technical', requestId: value?.requestId, index });
    }
  });
  return out;
}

export function truthOf(history: readonly HistoryEvent[]): { truth: TruthNote; index: number } | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i] as HistoryEvent;
    if (e.process === 'grader' && e.type === 'note' && e.op === 'truth') {
      return { truth: e.value as TruthNote, index: i };
    }
  }
  return undefined;
}

const took = (c: CallRecord): boolean => c.outcome === 'ok' || c.outcome === 'replayed' || c.outcome === 'ambiguous';

/** A broken invariant of one order: what happened, the hint for it, the events to blame. */
interface Violation {
  readonly actual: string;
  readonly hint: string;
  readonly culprits: readonly number[];
}

const HINT = {
  sameRequest:
    'Give every step and every compensation one requestId per saga (for example `${sagaId}:${step}:do` and `${sagaId}:${step}:undo`) and reuse it on every retry and after a crash: the services then answer a repeat with the first answer and do nothing twice.',
  technical:
    "A technical failure is not a refusal: the service may have done the work. Retry the same call (same requestId), with backoff, until the answer is definite; only a business refusal ('out_of_stock', 'card_declined') makes the saga compensate.",
  reverse: 'Compensate from the last completed step back to the first: release the stock before rejecting the order.',
  notRun: 'Compensate only the steps that completed. The refused step did nothing, and the steps after it never ran.',
  pivot: 'The charge is the pivot: once it succeeded, the saga can only go forward. Retry shipping and approval until they succeed; never compensate, never refund.',
  retryCompensation: 'A compensation has to succeed: when it fails, wait and retry it (same requestId) until it does. A saga must never end half-compensated.',
  log: 'Persist the saga in your log before its first call, and each step as started before calling it and as done after, so that recover() finds every unfinished saga and carries it on (or compensates it) from where it stopped.',
  finish: 'Every saga must end completed (all five steps done) or compensated (its completed steps undone); check how your orchestrator handles this case.',
};

/** Checks one order against the services' truth and its calls; undefined when it holds. */
export function judgeOrder(order: OrderRecord, calls: readonly CallRecord[], truth: OrderTruth, truthIndex: number, mustAnswer: boolean): Violation | undefined {
  const { input } = order;
  const id = input.orderId;
  const blame = (...more: number[]): number[] => [order.invoked, ...(order.ended !== undefined ? [order.ended] : []), truthIndex, ...more];
  const wanted = Object.fromEntries(input.items.map((i) => [i.sku, i.qty]));
  const reservedAll = Object.entries(wanted).every(([sku, qty]) => truth.reserved[sku] === qty) && Object.keys(truth.reserved).every((sku) => sku in wanted);
  const reservedNone = Object.values(truth.reserved).every((q) => q === 0);
  const compensations = calls.filter((c) => COMPENSATIONS.has(c.op));
  const completedTruth = truth.status === 'approved' && reservedAll && truth.charges === 1 && truth.shipments === 1 && truth.refunds === 0;
  const compensatedTruth = (truth.status === 'rejected' || truth.status === 'none') && reservedNone && truth.charges === 0 && truth.shipments === 0 && truth.refunds === 0;
  const untouched = truth.status === 'none' && reservedNone && truth.charges === 0 && truth.shipments === 0;

  // Compensations only for steps that ran (a compensation of a step that never ran shows first: it explains the numbers below).
  for (const step of STEPS) {
    if (!step.undo) continue;
    const ran = calls.some((c) => c.op === step.op && took(c));
    const undone = calls.filter((c) => c.op === step.undo);
    if (!ran && undone.length > 0) {
      return { actual: `Order ${id}: ${step.undo} was called, but ${step.op} never took effect.`, hint: HINT.notRun, culprits: blame(...undone.map((c) => c.index), ...calls.filter((c) => c.op === step.op).map((c) => c.index)) };
    }
  }
  // One operation of one order sent with several request ids: retries the services cannot recognise.
  const idsPerOp = new Map<string, Set<string>>();
  for (const c of calls) {
    if (c.requestId !== undefined) idsPerOp.set(c.op, (idsPerOp.get(c.op) ?? new Set()).add(c.requestId));
  }
  const renamed = [...idsPerOp].filter(([, ids]) => ids.size > 1).map(([op]) => op);
  const renamedText = renamed.length > 0 ? ` ${renamed.join(' and ')} ${renamed.length > 1 ? 'were' : 'was'} sent with a new requestId on a retry, so the service could not tell it was the same request.` : '';
  if (truth.charges > 1 || truth.shipments > 1 || Object.entries(truth.reserved).some(([sku, q]) => q > (wanted[sku] ?? 0))) {
    return { actual: `Order ${id} was charged ${truth.charges}×, shipped ${truth.shipments}× and holds ${JSON.stringify(truth.reserved)} of ${JSON.stringify(wanted)}: a step took effect more than once.`, hint: HINT.sameRequest, culprits: blame(...calls.filter(took).map((c) => c.index)) };
  }
  if (Object.values(truth.reserved).some((q) => q < 0)) {
    const releases = calls.filter((c) => c.op === 'inventory.release');
    return { actual: `Order ${id} gave back more stock than it reserved (${JSON.stringify(truth.reserved)}): the release took effect more than once.`, hint: HINT.sameRequest, culprits: blame(...releases.map((c) => c.index)) };
  }
  if (truth.refunds > 0) {
    const refunds = calls.filter((c) => c.op === 'payments.refund');
    return { actual: `Order ${id} was refunded: the pivot (the charge) was compensated.`, hint: HINT.pivot, culprits: blame(...refunds.map((c) => c.index)) };
  }
  const charged = calls.find((c) => c.op === 'payments.charge' && took(c));
  if (charged && compensations.length > 0) {
    const after = compensations.filter((c) => c.index > charged.index);
    if (after.length > 0) {
      return { actual: `Order ${id} was charged, then compensated (${after.map((c) => c.op).join(', ')}).`, hint: HINT.pivot, culprits: blame(charged.index, ...after.map((c) => c.index)) };
    }
  }
  const releases = calls.filter((c) => c.op === 'inventory.release');
  const rejects = calls.filter((c) => c.op === 'orders.reject');
  const firstReject = rejects[0];
  const lateRelease = releases.find((r) => firstReject !== undefined && r.index > firstReject.index && took(r));
  if (lateRelease && firstReject) {
    return { actual: `Order ${id}: the order was rejected before its stock was released (compensations in forward order).`, hint: HINT.reverse, culprits: blame(firstReject.index, lateRelease.index) };
  }

  if (!completedTruth && !compensatedTruth) {
    if (order.status === undefined && untouched) {
      // The orchestrator died before it did anything: nothing to finish.
    } else {
      const hint = renamed.length > 0 ? HINT.sameRequest : order.status === 'compensated' && calls.some((c) => COMPENSATIONS.has(c.op) && (c.outcome === 'technical' || c.outcome === 'ambiguous')) ? HINT.retryCompensation : order.status === undefined ? HINT.log : HINT.finish;
      return { actual: `Order ${id} ended half-done: status ${truth.status}, holding ${JSON.stringify(truth.reserved)}, ${truth.charges} charge(s), ${truth.shipments} shipment(s); placeOrder said ${order.status ?? order.failure ?? '?'}.${renamedText}`, hint, culprits: blame(...calls.map((c) => c.index)) };
    }
  }
  if (order.status !== undefined) {
    const told = completedTruth ? 'completed' : 'compensated';
    if (order.status !== told) {
      return { actual: `placeOrder said ${order.status} for ${id}, but the services show it ${told}.`, hint: HINT.finish, culprits: blame() };
    }
  } else if (mustAnswer) {
    return { actual: `placeOrder for ${id} gave no answer: ${order.failure ?? '?'}.`, hint: 'placeOrder must run the saga to its end and return { orderId, status }. The history shows what it threw.', culprits: blame() };
  }
  const real = completedTruth ? 'completed' : untouched ? 'untouched' : 'compensated';
  if (input.expect !== 'either' && real !== input.expect && !(real === 'untouched' && (order.status === undefined || input.expect === 'compensated'))) {
    const hint = renamed.length > 0 ? HINT.sameRequest : input.expect === 'completed' ? (calls.some((c) => c.outcome === 'ambiguous' || c.outcome === 'technical') ? HINT.technical : input.plan.some((p) => /after the pivot|shipping|approve/.test(p)) ? HINT.pivot : HINT.finish) : HINT.finish;
    return { actual: `Order ${id} (${input.plan.join('; ') || 'no faults'}) ended ${real}; expected ${input.expect}.${renamedText}`, hint, culprits: blame(...calls.filter((c) => c.outcome !== 'ok').map((c) => c.index)) };
  }
  return undefined;
}

/** The part of the history that shows one order: its saga, its service calls, its faults, the crashes and recoveries meanwhile. */
export function focusOn(history: readonly HistoryEvent[], orderId: string): HistoryFocus {
  const planned = `order ${orderId}:`;
  const events = history.flatMap((e, i) => (e.process === 'grader' && e.type === 'fault' && e.op.startsWith(planned) ? [i] : []));
  return { label: `order ${orderId}`, processes: [`order:${orderId}`, `svc:${orderId}`], context: ['recovery', 'orchestrator'], events };
}

function judgeAll(history: readonly HistoryEvent[], expected: string, mustAnswer: boolean, what: string): CheckOutcome {
  const found = truthOf(history);
  const orders = ordersOf(history);
  if (!found || orders.length === 0) {
    return { status: 'unknown', expected, actual: 'The scenario did not get as far as reading the services\' state.' };
  }
  for (const order of orders) {
    const truth = found.truth.orders.find((t) => t.orderId === order.input.orderId);
    if (!truth) continue;
    const violation = judgeOrder(order, callsOf(history, order.input.orderId), truth, found.index, mustAnswer);
    if (violation) {
      return { status: 'fail', expected, actual: violation.actual, hint: violation.hint, culprits: [...new Set(violation.culprits)].sort((a, b) => a - b), focus: focusOn(history, order.input.orderId) };
    }
  }
  return { status: 'pass', expected, actual: `${orders.length} ${what}: every one ended as it should, each effect once.` };
}

const EXPECT = {
  reverse: 'A refusal at a step before or at the pivot undoes the completed steps, in reverse order: never the refused step, never a step that did not run, never the pivot.',
  technical: 'Technical failures at any step are retried with the same request until they succeed: the saga completes, and each step takes effect once.',
  ambiguous: 'A step that timed out after the service committed is retried, not compensated and not repeated: the saga completes with each effect once.',
  pivot: 'Past the pivot (the charge), failures are retried forward until they succeed: no compensation, no refund.',
  compensation: 'Failing compensations are retried until they succeed and take effect once: the saga never ends half-compensated.',
  crash: 'Killed at any commit point of a saga, running or compensating, the orchestrator recovers from its log: every saga completes or is compensated, each effect once.',
  random: 'Random fault schedules, one saga each: every saga ends completed or compensated, consistent with the services, each effect once.',
  concurrent: 'Fifty orders at once under random faults keep every invariant: stock conserved, no charge without an approved order, no shipment without a charge, every saga finished.',
};

export const checkCompensateInReverse = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.reverse, true, 'orders refused at a step');
export const checkTechnicalRetried = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.technical, true, 'orders with technical failures');
export const checkAmbiguous = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.ambiguous, true, 'orders with a step that timed out after committing');
export const checkForwardAfterPivot = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.pivot, true, 'orders failing after the pivot');
export const checkCompensationRetried = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.compensation, true, 'orders with failing compensations');
export const checkCrashRecovery = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.crash, false, 'sagas killed at a commit point and recovered');
export const checkRandomSchedules = (h: readonly HistoryEvent[]): CheckOutcome => judgeAll(h, EXPECT.random, true, 'sagas under random fault schedules');

/** The concurrent check: every order's invariants, then the stock conserved across them. */
export function checkConcurrentOrders(history: readonly HistoryEvent[]): CheckOutcome {
  const each = judgeAll(history, EXPECT.concurrent, true, 'concurrent orders');
  if (each.status !== 'pass') return each;
  const found = truthOf(history);
  if (!found) return { status: 'unknown', expected: EXPECT.concurrent, actual: 'No truth recorded.' };
  for (const s of found.truth.stock) {
    const held = found.truth.orders.reduce((sum, o) => sum + (o.reserved[s.sku] ?? 0), 0);
    if (s.initial - s.available !== held) {
      return { status: 'fail', expected: EXPECT.concurrent, actual: `Stock of ${s.sku} is not conserved: ${s.initial} at the start, ${s.available} on the shelf, ${held} held by orders.`, hint: HINT.sameRequest, culprits: [found.index] };
    }
  }
  return each;
}

// ─── Running the learner's code ──────────────────────────────────────────────────

class SagaHarness {
  readonly learner: LearnerProcess;
  private stopWatching: () => void = () => undefined;

  constructor(
    sandbox: Sandbox,
    readonly services: SagaServices,
    config: { databaseUrl: string; schema: string },
  ) {
    this.learner = new LearnerProcess(sandbox, async (call) => {
      const result = await call('configure', [{ ...config, servicesUrl: services.url, poolSize: POOL_SIZE, callTimeoutMs: SERVICE_TIMEOUT_MS }], 20_000);
      if (!result.ok) {
        throw new Error(`The grader could not connect the learner's process to the database: ${result.message}`);
      }
    });
  }

  get sandbox(): Sandbox {
    return this.learner.sandbox;
  }

  /** Records the services' calls into the history, each on its order's `svc:` lane. */
  watch(history: HistoryRecorder): void {
    this.services.resetCalls();
    this.stopWatching = this.services.onCall(
      (call) => {
        const type = call.outcome === 'ok' || call.outcome === 'replayed' ? 'ok' : call.outcome === 'business' || call.outcome === 'invalid' ? 'fail' : 'info';
        history.record(`svc:${call.orderId}`, type, call.op, { outcome: call.outcome, attempt: call.attempt, requestId: call.requestId }, call.detail);
      },
      (start) => history.record(`svc:${start.orderId}`, 'invoke', start.op, { requestId: start.requestId, attempt: start.attempt }),
    );
  }

  unwatch(): void {
    this.stopWatching();
  }

  /** Plans faults for an order and notes them in the history. */
  plan(history: HistoryRecorder, orderId: string, op: SagaOperation, faults: readonly (ServiceFault | undefined)[]): string {
    this.services.plan(orderId, op, faults);
    const text = `${op}: ${faults.map((f) => (f === undefined ? 'ok' : f.kind === 'business' ? `refused (${f.reason})` : f.kind === 'delay' ? `slow ${f.ms} ms` : f.kind)).join(', ')}`;
    history.record('grader', 'fault', `order ${orderId}: ${text}`);
    return text;
  }

  /** Runs placeOrder; `armed` says where the grader armed a kill, which names the end of a call the kill cut short. */
  async place(history: HistoryRecorder, order: OrderInput, expect: Expectation, plan: readonly string[], armed?: string): Promise<void> {
    await this.learner.ensureRunning();
    const lane = `order:${order.orderId}`;
    history.record(lane, 'invoke', PLACE, { ...order, expect, plan } satisfies PlaceInput);
    const result = await this.sandbox.call('placeOrder', [order], CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record(lane, 'ok', PLACE, result.value);
    } else {
      const killed = result.kind !== 'threw' && armed !== undefined && this.learner.ended && this.sandbox.endReason?.kind === 'exited';
      // A throw's message is "placeOrder threw <name>: <message>" (see Sandbox.call).
      history.record(lane, 'info', PLACE, undefined, killed ? `the grader killed the orchestrator ${armed}` : result.message);
    }
  }

  async recover(history: HistoryRecorder): Promise<void> {
    await this.learner.ensureRunning();
    history.record('recovery', 'invoke', RECOVER);
    const result = await this.sandbox.call('recover', [], CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record('recovery', 'ok', RECOVER, result.value);
    } else {
      history.record('recovery', 'info', RECOVER, undefined, result.message);
    }
  }

  async recordTruth(history: HistoryRecorder, orderIds: readonly string[]): Promise<void> {
    const [orders, stock] = await Promise.all([this.services.truth(orderIds), this.services.stockTruth()]);
    history.record('grader', 'note', 'truth', { orders, stock: stock.filter((s) => orders.some((o) => s.sku.startsWith(o.orderId.split('-')[0] ?? ''))) } satisfies TruthNote);
  }
}

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

  order(options: { declined?: boolean; skus?: number } = {}): OrderInput {
    this.n++;
    const orderId = `${this.prefix}-o${this.n}`;
    this.ids.push(orderId);
    const count = this.rng.int(1, options.skus ?? 2);
    const items = Array.from({ length: count }, (_, i) => ({ sku: this.sku(i + 1), qty: this.rng.int(1, 3) }));
    return { orderId, customerId: `${options.declined === true ? 'declined' : 'cust'}-${this.rng.int(1, 9999)}`, items, total: this.rng.int(500, 20_000), address: `${this.rng.int(1, 200)} Market Street` };
  }
}

function scenarioPrefix(rng: Rng): string {
  return `s${rng.int(0, 2 ** 30).toString(36)}`;
}

function sagaScenario(h: SagaHarness, s: Omit<Scenario, 'run'> & { run(ctx: ScenarioContext, orders: OrderMaker): Promise<void> }): Scenario {
  return {
    ...s,
    async run(ctx) {
      h.watch(ctx.history);
      const orders = new OrderMaker(scenarioPrefix(ctx.rng), ctx.rng);
      try {
        await h.learner.ensureRunning();
        await h.learner.arm(null);
        await h.services.stock({ [orders.sku(1)]: 1000, [orders.sku(2)]: 1000, [orders.sku(3)]: 1000 });
        await s.run(ctx, orders);
        await h.recordTruth(ctx.history, orders.ids);
      } finally {
        h.unwatch();
      }
    },
  };
}

export const SAGA_CHECKS = GRADER_CHECKS.saga;

function title(id: string): string {
  return SAGA_CHECKS.find((c) => c.id === id)?.title ?? id;
}

const REFUSALS: Readonly<Record<number, string>> = { 0: 'invalid_order', 1: 'out_of_stock', 2: 'card_declined' };

function buildScenarios(h: SagaHarness): Scenario[] {
  return [
    sagaScenario(h, {
      id: 'compensate-in-reverse',
      title: title('compensate-in-reverse'),
      check: checkCompensateInReverse,
      async run({ history }, orders) {
        for (let k = 0; k <= PIVOT; k++) {
          const order = orders.order();
          const step = STEPS[k] as (typeof STEPS)[number];
          const plan = [h.plan(history, order.orderId, step.op, [{ kind: 'business', reason: REFUSALS[k] ?? 'refused' }])];
          await h.place(history, order, 'compensated', plan);
        }
      },
    }),
    sagaScenario(h, {
      id: 'retry-technical-failures',
      title: title('retry-technical-failures'),
      check: checkTechnicalRetried,
      async run({ history, rng }, orders) {
        for (const step of STEPS) {
          const order = orders.order();
          const plan = [h.plan(history, order.orderId, step.op, Array.from({ length: rng.int(1, 3) }, () => ({ kind: 'technical' as const })))];
          await h.place(history, order, 'completed', plan);
        }
      },
    }),
    sagaScenario(h, {
      id: 'ambiguous-step',
      title: title('ambiguous-step'),
      check: checkAmbiguous,
      async run({ history }, orders) {
        for (const step of STEPS) {
          const order = orders.order();
          const plan = [h.plan(history, order.orderId, step.op, [{ kind: 'ambiguous' }])];
          await h.place(history, order, 'completed', plan);
        }
      },
    }),
    sagaScenario(h, {
      id: 'forward-after-pivot',
      title: title('forward-after-pivot'),
      check: checkForwardAfterPivot,
      async run({ history, rng }, orders) {
        for (const step of STEPS.slice(PIVOT + 1)) {
          const order = orders.order();
          const faults: ServiceFault[] = [{ kind: 'business', reason: step.op === 'shipping.schedule' ? 'carrier_unavailable' : 'order_locked' }, ...Array.from({ length: rng.int(1, 3) }, () => ({ kind: 'technical' as const }))];
          const plan = [`after the pivot: ${h.plan(history, order.orderId, step.op, rng.shuffle(faults))}`];
          await h.place(history, order, 'completed', plan);
        }
      },
    }),
    sagaScenario(h, {
      id: 'compensation-retried',
      title: title('compensation-retried'),
      check: checkCompensationRetried,
      async run({ history, rng }, orders) {
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
    sagaScenario(h, {
      id: 'crash-recovery',
      title: title('crash-recovery'),
      budgetMs: 120_000,
      check: checkCrashRecovery,
      async run({ history, signal }, orders) {
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
          history.record('grader', 'note', `a ${declined ? 'compensating' : 'completing'} saga: ${plan.length} places to kill it (after each commit and each service answer${declined ? ', from its refused charge on' : ''})`);
          for (const { point, when, kind } of plan) {
            if (signal.aborted) break;
            const order = orders.order({ declined });
            const where = kind === 'call' ? `just as a service answered (point ${point}), before the orchestrator saw the answer` : `just after a commit (point ${point})`;
            await h.learner.arm({ point, when });
            history.record('grader', 'fault', `order ${order.orderId}: kill the orchestrator ${where}`);
            await h.place(history, order, declined ? 'compensated' : 'completed', [declined ? 'card declined' : 'no faults', `killed ${where}`], where);
            if (h.learner.ended) {
              history.record('orchestrator', 'crash', 'process killed', undefined, `killed ${where}`);
              await h.learner.restart();
            }
            await h.learner.arm(null);
            await h.recover(history);
          }
        }
      },
    }),
    sagaScenario(h, {
      id: 'random-schedules',
      title: title('random-schedules'),
      budgetMs: 120_000,
      check: checkRandomSchedules,
      async run({ history, rng, signal, backend }, orders) {
        // The schedules are drawn in order from the seed, then run a few at a time on
        // PostgreSQL in Docker (each order has its own faults, so they do not meet); one at a
        // time on the embedded database, which runs one transaction at a time. Each order's
        // faults are planned (and marked in the history) just before it runs.
        const schedules: { order: OrderInput; expect: Expectation; declined: boolean; faults: { op: SagaOperation; faults: ServiceFault[] }[] }[] = [];
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
          if (refuse !== undefined) {
            const step = STEPS[refuse] as (typeof STEPS)[number];
            faults.push({ op: step.op, faults: [{ kind: 'business', reason: REFUSALS[refuse] ?? 'refused' }] });
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
            const { order, expect, declined, faults } = schedules[next++] as (typeof schedules)[number];
            const plan = [...(declined ? ['card declined'] : []), ...faults.map((f) => h.plan(history, order.orderId, f.op, f.faults))];
            await h.place(history, order, expect, plan);
          }
        };
        await Promise.all(Array.from({ length: backend === 'docker' ? RANDOM_AT_ONCE : 1 }, worker));
      },
    }),
    sagaScenario(h, {
      id: 'concurrent-orders',
      title: title('concurrent-orders'),
      needs: ['concurrency'],
      budgetMs: 120_000,
      check: checkConcurrentOrders,
      async run({ history, rng }, orders) {
        // Scarce stock: some orders find it gone, decided by the race.
        await h.services.stock({ [orders.sku(1)]: 30, [orders.sku(2)]: 1000, [orders.sku(3)]: 1000 });
        const batch = Array.from({ length: 50 }, () => {
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
}

export const sagaGrader: LabGrader = {
  labId: SAGA_LAB_ID,
  entry: 'src/saga.ts',
  adapter: 'saga.cjs',
  contract: { migrate: 'function', placeOrder: 'function', recover: 'function' },
  memoryMb: 256,
  needsDatabase: true,
  checkIds: SAGA_CHECKS,
  async open(run: LabRun): Promise<OpenedRun> {
    const databaseUrl = run.databaseUrl ?? '';
    const services = await SagaServices.start(databaseUrl, `${run.runName}_svc`);
    const harness = new SagaHarness(run.sandbox, services, { databaseUrl, schema: run.runName });
    const close = async (): Promise<void> => {
      await harness.learner.finish();
      await services.close();
    };
    try {
      await harness.learner.setUp();
    } catch (error) {
      await close().catch(() => undefined);
      throw error;
    }
    return { scenarios: buildScenarios(harness), close };
  },
};
