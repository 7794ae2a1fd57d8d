/**
 * The Saga grader's history, as a vocabulary: what each kind of event carries, and how the
 * checkers read it back. Each order has two lanes: `order:<id>`, where placeOrder is invoked
 * with the order and ends (with the learner's answer, or without one: it threw, hung, or
 * the grader killed the orchestrator), and `svc:<id>`, where the grader's services record
 * every call of the order they received and how they answered it. `recovery` holds the
 * calls of recover(), `orchestrator` the kills, and `grader` the faults planned, remarks,
 * and at the end the services' truth, which the checkers judge every order against.
 */
import type { CrashEvent, FaultEvent, PlainEvent, RemarkEvent, ValueEvent } from '../../../src/core/grading/history';
import type { HistoryFocus } from '../../../src/core/grading/report';
import type { OrderInput } from './protocol';
import type { CallOutcome, OrderTruth, StockTruth } from './services';
import { SAGA_OPERATIONS, type SagaOperation } from './steps';

export type { CallOutcome, OrderTruth, StockTruth } from './services';

export const PLACE = 'placeOrder';
export const RECOVER = 'recover';
/** The learner's migrate(db), run again by a restarted orchestrator on the existing log, as a deployed one runs it at start. */
export const MIGRATE = 'migrate';
/** The last recover() of a crash scenario, in a fresh process, after every saga was recovered: nothing is left to do. */
export const RECOVER_AGAIN = 'recover-again';
/** Notes on an order's `svc:` lane about how the orchestrator made a call (see CallRemark). */
export const HASTY_RETRY = 'retry-without-wait';
export const IN_TRANSACTION = 'call-in-transaction';
export const SHRINKING_WAIT = 'shrinking-wait';
export const LONG_WAIT = 'long-wait';
/** The lanes of the grader itself, of recover()'s calls, and of the orchestrator's process. */
export const GRADER = 'grader';
export const RECOVERY = 'recovery';
export const ORCHESTRATOR = 'orchestrator';
/** The lane of an order's saga. */
export const orderLane = (orderId: string): string => `order:${orderId}`;
/** The lane of the services' calls for an order. */
export const serviceLane = (orderId: string): string => `svc:${orderId}`;

/** What the scenario expects of an order: its outcome, or either (decided by races). */
export type Expectation = 'completed' | 'compensated' | 'either';

/** placeOrder's invocation: the order, and what the scenario planned for it and expects. */
export interface PlaceInput extends OrderInput {
  readonly expect: Expectation;
  /** The faults planned for this order, as text. */
  readonly plan: readonly string[];
}

/** A call of an operation as it reached the services. */
export interface ServiceRequest {
  readonly requestId: string;
  /** The call's number for this order and operation, from 1 (0: a malformed request). */
  readonly attempt: number;
}

/** How the services answered a call (`O`: the outcomes an event of its type can have). */
export interface ServiceAnswer<O extends CallOutcome = CallOutcome> {
  readonly outcome: O;
  readonly attempt: number;
  readonly requestId: string;
}

/** The `truth` note: what the services' tables hold at the end of the scenario. */
export interface TruthNote {
  readonly orders: readonly OrderTruth[];
  readonly stock: readonly StockTruth[];
  /**
   * The orders the learner's own tables (its saga log) mention at the end, read by the
   * grader from the run's schema; absent when it could not be read.
   */
  readonly logged?: readonly string[];
}

/**
 * How the learner's code made a call, seen by the adapter in the learner's process:
 * - retry-without-wait: it called again (same operation, same requestId) without having
 *   waited since that call's last answer, which was not ok: no deps.sleep at all, or one
 *   still pending (not awaited);
 * - call-in-transaction: it made the call inside a db.transaction callback;
 * - shrinking-wait: over a streak of failures of the call, the waits were a backoff that
 *   shrinks (see shrinkingBackoff);
 * - long-wait: it asked deps.sleep for more than MAX_WAIT_MS before calling again after a
 *   failure (a backoff that grows without a cap).
 */
export type CallRemark =
  | {
      readonly kind: typeof HASTY_RETRY;
      readonly orderId: string;
      readonly op: SagaOperation;
      readonly requestId: string;
      /** What the call's last answer was, as the learner's code saw it. */
      readonly after: 'business' | 'technical';
      /** A deps.sleep had been started since that answer, but had not ended (it was not awaited). */
      readonly sleepPending: boolean;
    }
  | { readonly kind: typeof IN_TRANSACTION; readonly orderId: string; readonly op: SagaOperation; readonly requestId: string }
  | { readonly kind: typeof SHRINKING_WAIT; readonly orderId: string; readonly op: SagaOperation; readonly requestId: string; readonly waits: readonly number[] }
  | {
      readonly kind: typeof LONG_WAIT;
      readonly orderId: string;
      readonly op: SagaOperation;
      readonly requestId: string;
      /** The wait asked for, in ms, and the waits of the streak before it. */
      readonly ms: number;
      readonly waits: readonly number[];
    };

export type SagaEvent =
  // order:<id>. The answer of a placeOrder that returned is the learner's, as returned: ordersOf judges it.
  | ValueEvent<'invoke', typeof PLACE, PlaceInput>
  | ValueEvent<'ok', typeof PLACE, unknown>
  | PlainEvent<'info', typeof PLACE>
  // svc:<id>. A call done or replayed is ok; refused or malformed, it failed (nothing was done);
  // technical or ambiguous, its outcome is unknown to the orchestrator (info).
  | ValueEvent<'invoke', SagaOperation, ServiceRequest>
  | ValueEvent<'ok', SagaOperation, ServiceAnswer<'ok' | 'replayed'>>
  | ValueEvent<'fail', SagaOperation, ServiceAnswer<'business' | 'invalid'>>
  | ValueEvent<'info', SagaOperation, ServiceAnswer<'technical' | 'ambiguous'>>
  // recovery: recover() and its answer, as returned.
  | PlainEvent<'invoke', typeof RECOVER>
  | ValueEvent<'ok', typeof RECOVER, unknown>
  | PlainEvent<'info', typeof RECOVER>
  // recovery: migrate(db) again in a restarted process, and the last recover(), which must find nothing left.
  | PlainEvent<'invoke', typeof MIGRATE>
  | PlainEvent<'ok', typeof MIGRATE>
  | PlainEvent<'info', typeof MIGRATE>
  | PlainEvent<'invoke', typeof RECOVER_AGAIN>
  | ValueEvent<'ok', typeof RECOVER_AGAIN, unknown>
  | PlainEvent<'info', typeof RECOVER_AGAIN>
  // svc:<id>: a retry the orchestrator sent without waiting, a call it made inside a transaction.
  | ValueEvent<'note', typeof HASTY_RETRY | typeof IN_TRANSACTION | typeof SHRINKING_WAIT | typeof LONG_WAIT, CallRemark>
  // orchestrator: the grader killed the learner's process.
  | CrashEvent
  // grader: the faults planned for an order ("order <id>: ..."), remarks, the services' truth.
  | FaultEvent
  | RemarkEvent
  | ValueEvent<'note', 'truth', TruthNote>;

/** One placeOrder, from its invocation to its end. */
export interface OrderRecord {
  readonly input: PlaceInput;
  readonly invoked: number;
  readonly ended: number | undefined;
  /** What the learner's placeOrder returned, or undefined (it crashed, threw, or was killed). */
  readonly status: 'completed' | 'compensated' | undefined;
  readonly failure: string | undefined;
}

/** One call the services answered for an order. */
export interface CallRecord {
  readonly op: SagaOperation;
  readonly outcome: CallOutcome;
  readonly requestId: string;
  readonly index: number;
}

/** The status a SagaOutcome returned by the learner's code declares, if it is one. */
function declaredStatus(answer: unknown): 'completed' | 'compensated' | undefined {
  if (typeof answer !== 'object' || answer === null || !('status' in answer)) return undefined;
  return answer.status === 'completed' || answer.status === 'compensated' ? answer.status : undefined;
}

/** Every placeOrder of the history, in the order they were invoked, each with how it ended. */
export function ordersOf(history: readonly SagaEvent[]): OrderRecord[] {
  const open = new Map<string, { index: number; input: PlaceInput }>();
  const done: OrderRecord[] = [];
  history.forEach((e, index) => {
    if (e.type === 'invoke' && e.op === PLACE) {
      open.set(e.process, { index, input: e.value });
      return;
    }
    if ((e.type === 'ok' || e.type === 'info') && e.op === PLACE) {
      const started = open.get(e.process);
      if (!started) return;
      open.delete(e.process);
      if (e.type === 'ok') {
        const status = declaredStatus(e.value);
        done.push({ input: started.input, invoked: started.index, ended: index, status, failure: status === undefined ? `placeOrder returned ${JSON.stringify(e.value)}` : undefined });
      } else {
        done.push({ input: started.input, invoked: started.index, ended: index, status: undefined, failure: e.detail ?? 'no answer' });
      }
    }
  });
  for (const [, started] of open) {
    done.push({ input: started.input, invoked: started.index, ended: undefined, status: undefined, failure: 'it never ended' });
  }
  return done.sort((a, b) => a.invoked - b.invoked);
}

const OPERATIONS: ReadonlySet<string> = new Set(SAGA_OPERATIONS);
const isOperation = (op: string): op is SagaOperation => OPERATIONS.has(op);

/** When each call of one order reached the services (the `invoke` events on its `svc:` lane), in order. */
export function arrivalsOf(history: readonly SagaEvent[], orderId: string): { readonly op: SagaOperation; readonly index: number }[] {
  const lane = serviceLane(orderId);
  return history.flatMap((e, index) => (e.process === lane && e.type === 'invoke' && isOperation(e.op) ? [{ op: e.op, index }] : []));
}

/** What the adapter remarked about the calls of one order (retries without a wait, calls inside a transaction). */
export function remarksOf(history: readonly SagaEvent[], orderId: string): { readonly remark: CallRemark; readonly index: number }[] {
  const lane = serviceLane(orderId);
  return history.flatMap((e, index) => (e.process === lane && e.type === 'note' && (e.op === HASTY_RETRY || e.op === IN_TRANSACTION || e.op === SHRINKING_WAIT || e.op === LONG_WAIT) && e.value !== undefined ? [{ remark: e.value, index }] : []));
}

/** The services' answers for one order, in order (completions on its `svc:` lane). */
export function callsOf(history: readonly SagaEvent[], orderId: string): CallRecord[] {
  const lane = serviceLane(orderId);
  const out: CallRecord[] = [];
  history.forEach((e, index) => {
    if (e.process !== lane) return;
    if ((e.type === 'ok' || e.type === 'fail' || e.type === 'info') && e.op !== PLACE && e.op !== RECOVER && e.op !== MIGRATE && e.op !== RECOVER_AGAIN) {
      out.push({ op: e.op, outcome: e.value.outcome, requestId: e.value.requestId, index });
    }
  });
  return out;
}

/** The services' truth, as the grader noted it last, with its index. */
export function truthOf(history: readonly SagaEvent[]): { truth: TruthNote; index: number } | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const e = history[i];
    if (e !== undefined && e.process === GRADER && e.type === 'note' && e.op === 'truth' && e.value !== undefined) {
      return { truth: e.value, index: i };
    }
  }
  return undefined;
}

/** The part of the history that shows one order: its saga, its service calls, its faults, the crashes and recoveries meanwhile. */
export function focusOn(history: readonly SagaEvent[], orderId: string): HistoryFocus {
  const planned = `order ${orderId}:`;
  const events = history.flatMap((e, i) => (e.process === GRADER && e.type === 'fault' && e.op.startsWith(planned) ? [i] : []));
  return { label: `order ${orderId}`, processes: [orderLane(orderId), serviceLane(orderId)], context: [RECOVERY, ORCHESTRATOR], events };
}

/**
 * Whether the waits of one streak of failures (in the learner's ms, in order) are a backoff
 * that shrinks: seven or more, none longer than the one before, the last under a quarter of
 * the first, and most of them (at least half the steps) shorter than the one before. No
 * sensible backoff does that, jittered ones included (their ceiling grows). A backoff that
 * stays at its cap and then starts again from its floor when the kind of failure changes
 * (refusals waited at the cap, then a technical failure retried from 10 ms: the reference's
 * way past the pivot) shrinks once, not step after step: it is not one.
 */
export function shrinkingBackoff(waits: readonly number[]): boolean {
  const first = waits[0];
  const last = waits[waits.length - 1];
  if (waits.length < 7 || first === undefined || last === undefined || !(last < first / 4)) return false;
  let shorter = 0;
  for (let i = 1; i < waits.length; i++) {
    const before = waits[i - 1] as number;
    const now = waits[i] as number;
    if (now > before) return false;
    if (now < before) shorter++;
  }
  return shorter * 2 >= waits.length - 1;
}
