/**
 * The Place Order saga, run by an orchestrator that keeps a log in PostgreSQL.
 *
 * Placing an order touches four services, each with its own database, so no single
 * transaction can cover it. The saga runs it as a sequence of local steps, each one
 * call to one service, and undoes the completed steps with compensations when the order
 * cannot go through:
 *
 *   step  call                 kind            compensation
 *   1     orders.create        compensatable   orders.reject
 *   2     inventory.reserve    compensatable   inventory.release    (refused: 'out_of_stock')
 *   3     payments.charge      PIVOT           none: once charged, the saga only goes forward
 *   4     shipping.schedule    retriable       none: retried until it succeeds
 *   5     orders.approve       retriable       none: retried until it succeeds
 *
 * The orchestrator writes down in its own database (the saga log) what it is about to do
 * and what it has done, so that after a crash recover() can carry every saga on from where
 * it stopped. Every call carries a requestId, the same on every retry, so a retry never
 * does anything twice.
 *
 * Replace each `throw new Error('TODO(n) ...')` with your code. README.md explains every
 * idea; `npm test` tells you how far you are; the Grade button (or `data-labs grade saga .`)
 * runs the hidden checks: failures at every step, timeouts, crashes at every commit point,
 * many orders at once.
 *
 * A service call never throws: its outcome is a ServiceResult (ok, a business refusal, or
 * a technical failure whose outcome is unknown). Call the services only through
 * `deps.services`, wait only with `deps.sleep`, and keep the saga's state in `deps.db`:
 * after a crash, nothing held in memory survives.
 */
import type { Db } from './db';
import type { Deps, OrderRequest, SagaOutcome, ServiceResult } from './types';

/**
 * Where a step stands in its saga:
 * - compensatable: comes before the pivot, and has a compensation that undoes it;
 * - pivot: the go/no-go step. Once it succeeded the saga can no longer be undone; if it is
 *   refused, the saga compensates the steps before it;
 * - retriable: comes after the pivot and cannot be refused for good: retried until it succeeds.
 */
export type StepKind = 'compensatable' | 'pivot' | 'retriable';

/** One step of a saga, over the saga's data (for Place Order: the OrderRequest). */
export interface SagaStep<Data> {
  /** For your messages and your log. */
  readonly name: string;
  readonly kind: StepKind;
  /** Does the step's work: ONE call to a service, with the requestId the orchestrator gives it. */
  action(data: Data, requestId: string, deps: Deps): Promise<ServiceResult>;
  /** Undoes a completed action, as a business would (only compensatable steps have one). */
  compensation?(data: Data, requestId: string, deps: Deps): Promise<ServiceResult>;
}

/** Where a saga is, as your log could record it. */
type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated';

// ─── TODO(1): the saga log ──────────────────────────────────────────────────────

export async function migrate(db: Db): Promise<void> {
  // TODO(1): Create the saga log's tables with ONE `await db.exec(`...`)`, with CREATE TABLE
  //          IF NOT EXISTS: migrate may run on a database where it ran before.
  //
  //   The design is yours. One shape that works, two tables:
  //
  //   sagas       saga_id text PRIMARY KEY        (the orderId will do)
  //               data jsonb NOT NULL             the order: recover() has nothing else to go on
  //               status text NOT NULL            a SagaStatus
  //   saga_steps  saga_id text, step_index integer, PRIMARY KEY (saga_id, step_index)
  //               state text NOT NULL             'started', 'done', 'failed' or 'compensated'
  //
  //   Ask yourself, for every moment of a saga: if the process died right now, would
  //   recover() know from these rows what to do next?
  throw new Error('TODO(1): migrate is not written yet');
}

// ─── TODO(2): the Place Order saga ──────────────────────────────────────────────

/** The steps of the Place Order saga, in order. The orchestrator below works on any such list. */
export const placeOrderSteps: readonly SagaStep<OrderRequest>[] = [
  {
    name: 'create order',
    kind: 'compensatable',
    action: (order, requestId, deps) => deps.services.orders.create({ requestId, orderId: order.orderId, customerId: order.customerId, total: order.total }),
    compensation: (order, requestId, deps) => deps.services.orders.reject({ requestId, orderId: order.orderId }),
  },
  // TODO(2): the four other steps, from the table at the top of this file, with the calls
  //          in src/types.ts (`Services`): which kind is each, and which have a
  //          compensation? The refund exists, but is it the compensation of anything here?
];

// ─── The orchestrator ───────────────────────────────────────────────────────────

/**
 * Makes `call` (one service call, always with the same requestId) until its answer is
 * definite: ok, or a business refusal. Returns that answer.
 */
async function untilDefinite(call: () => Promise<ServiceResult>, deps: Deps): Promise<ServiceResult> {
  // TODO(3): A technical failure (`{ ok: false, kind: 'technical' }`) says nothing about
  //          whether the work was done: the service was down, or it did the work and the
  //          answer was lost. Call again, and again, until the answer is definite.
  //   - the SAME call each time: `call` carries the same requestId, so a service that did
  //     the work already answers with its first answer and does nothing again
  //   - wait between attempts with `await deps.sleep(ms)`, longer after each failure
  //     (10, 20, 40, ... ms, with a cap): a service that is down needs time to come back
  //   - a business refusal is definite: return it, do not retry it here
  throw new Error('TODO(3): untilDefinite is not written yet');
}

/** A saga as your log holds it (adapt it to your tables). */
interface SagaRecord<Data> {
  readonly sagaId: string;
  readonly data: Data;
  status: SagaStatus;
}

/**
 * Runs the saga's steps forward from where its log says it is. Returns 'completed' when
 * every step is done, or 'compensating' when a step before or at the pivot was refused
 * (and the log says so).
 */
async function goForward<Data>(steps: readonly SagaStep<Data>[], saga: SagaRecord<Data>, deps: Deps): Promise<'completed' | 'compensating'> {
  // TODO(4): For each step, in order, that the log does not show as done:
  //   1. record in the log that the step has STARTED, before calling anything
  //   2. call it until the answer is definite (TODO 3), with a requestId made from the
  //      saga, the step and the direction, e.g. `${saga.sagaId}:${index}:do`: never random,
  //      never counting attempts, so that every retry and every recovery sends the same one
  //   3. ok: record the step as DONE, then go on to the next step
  //   4. refused, at a step before or at the pivot: record the step as FAILED and the saga as
  //      'compensating' (in ONE transaction), and return 'compensating'
  //   5. refused after the pivot: there is no way back, so wait and try the step again
  //   When every step is done, record the saga as 'completed' and return 'completed'.
  //   Each record is its own statement or transaction, committed before the next call:
  //   never hold a transaction open across a service call.
  throw new Error('TODO(4): goForward is not written yet');
}

/** Undoes the completed steps of a saga whose log says 'compensating', and records it 'compensated'. */
async function compensate<Data>(steps: readonly SagaStep<Data>[], saga: SagaRecord<Data>, deps: Deps): Promise<void> {
  // TODO(5): From the last step back to the first:
  //   - only a step the log shows DONE is compensated: the refused step did nothing, and the
  //     steps after it never ran. A step with no compensation (the pivot) is skipped.
  //   - a step the log shows STARTED (the process died during its call) may or may not have
  //     taken effect: call its action again with the same requestId to learn which, then
  //     compensate it only if it was done
  //   - a compensation must succeed: call it until the answer is definite (TODO 3), with a
  //     requestId of its own (`${saga.sagaId}:${index}:undo`), and if it is refused, wait
  //     and try again
  //   - record each step as COMPENSATED once its compensation succeeded
  //   Finally record the saga as 'compensated'.
  throw new Error('TODO(5): compensate is not written yet');
}

// ─── TODO(6): running and recovering sagas ─────────────────────────────────────

/** Runs (or resumes) one saga from its log until it is completed or compensated. */
async function runSaga(sagaId: string, deps: Deps): Promise<SagaOutcome> {
  // TODO(6): Read the saga from the log (its data and status); 'running' goes forward
  //          (goForward), and 'compensating' (now, or as goForward returns) compensates.
  //          A saga already 'completed' or 'compensated' has nothing left to do.
  //          Return { orderId: sagaId, status: 'completed' | 'compensated' }.
  throw new Error('TODO(6): runSaga is not written yet');
}

export async function placeOrder(order: OrderRequest, deps: Deps): Promise<SagaOutcome> {
  // TODO(6): Record the saga in the log ('running', with the order as its data) BEFORE its
  //          first call, so that a crash at any later moment leaves something for recover()
  //          to find; then run it with runSaga.
  throw new Error('TODO(6): placeOrder is not written yet');
}

/** Called when the orchestrator starts again after a crash: finishes every saga the log shows unfinished. */
export async function recover(deps: Deps): Promise<SagaOutcome[]> {
  // TODO(6): Find every saga whose status is 'running' or 'compensating', run each with
  //          runSaga, and return their outcomes (an empty list when there is none).
  throw new Error('TODO(6): recover is not written yet');
}
