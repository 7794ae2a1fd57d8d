/*
 * Mutant: backoff-uncapped
 * The wait doubles after each failure from 100 ms, with no cap: fine for a blip, but a
 * service down for a while is asked again only after minutes, then hours, once it is back.
 * Fails: retry-technical-failures
 */
/**
 * The reference solution: a saga orchestrator with a persistent log, and the Place Order
 * saga on it.
 *
 * A saga is an ordered list of steps: compensatable steps, one pivot, then retriable steps.
 * Each step's action and compensation is called with a requestId fixed by the saga, the
 * step and the direction, so a retry (after a technical failure, or after a crash) never
 * does anything twice. The log records a step as started before its call and as done after
 * it, each in its own transaction; recovery re-runs a started step with the same requestId.
 */
import type { Db } from './db';
import type { Deps, OrderRequest, SagaOutcome, ServiceResult } from './types';

export type StepKind = 'compensatable' | 'pivot' | 'retriable';

export interface SagaStep<Data> {
  readonly name: string;
  readonly kind: StepKind;
  action(data: Data, requestId: string, deps: Deps): Promise<ServiceResult>;
  /** Only for compensatable steps. */
  compensation?(data: Data, requestId: string, deps: Deps): Promise<ServiceResult>;
}

type SagaStatus = 'running' | 'compensating' | 'completed' | 'compensated';
type StepState = 'started' | 'done' | 'failed' | 'compensated';

const MAX_BACKOFF_MS = 200;

export async function migrate(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS sagas (
      saga_id text PRIMARY KEY,
      data    jsonb NOT NULL,
      status  text NOT NULL CHECK (status IN ('running', 'compensating', 'completed', 'compensated'))
    );
    CREATE TABLE IF NOT EXISTS saga_steps (
      saga_id    text NOT NULL REFERENCES sagas (saga_id),
      step_index integer NOT NULL,
      state      text NOT NULL CHECK (state IN ('started', 'done', 'failed', 'compensated')),
      PRIMARY KEY (saga_id, step_index)
    );
  `);
}

export const placeOrderSteps: readonly SagaStep<OrderRequest>[] = [
  {
    name: 'create order',
    kind: 'compensatable',
    action: (o, requestId, d) => d.services.orders.create({ requestId, orderId: o.orderId, customerId: o.customerId, total: o.total }),
    compensation: (o, requestId, d) => d.services.orders.reject({ requestId, orderId: o.orderId }),
  },
  {
    name: 'reserve stock',
    kind: 'compensatable',
    action: (o, requestId, d) => d.services.inventory.reserve({ requestId, orderId: o.orderId, items: o.items }),
    compensation: (o, requestId, d) => d.services.inventory.release({ requestId, orderId: o.orderId, items: o.items }),
  },
  { name: 'charge card', kind: 'pivot', action: (o, requestId, d) => d.services.payments.charge({ requestId, orderId: o.orderId, customerId: o.customerId, amount: o.total }) },
  { name: 'schedule shipping', kind: 'retriable', action: (o, requestId, d) => d.services.shipping.schedule({ requestId, orderId: o.orderId, address: o.address }) },
  { name: 'approve order', kind: 'retriable', action: (o, requestId, d) => d.services.orders.approve({ requestId, orderId: o.orderId }) },
];

/** Calls until the answer is definite, backing off after each technical failure. */
async function definite(call: () => Promise<ServiceResult>, deps: Deps): Promise<ServiceResult> {
  for (let attempt = 0; ; attempt++) {
    const result = await call();
    if (result.ok || result.kind === 'business') {
      return result;
    }
    // Exponential backoff: 100, 200, 400, ... ms.
    await deps.sleep(100 * 2 ** attempt);
  }
}

async function setStep(db: Db, sagaId: string, index: number, state: StepState): Promise<void> {
  await db.query(
    `INSERT INTO saga_steps (saga_id, step_index, state) VALUES ($1, $2, $3)
     ON CONFLICT (saga_id, step_index) DO UPDATE SET state = EXCLUDED.state`,
    [sagaId, index, state],
  );
}

/** Runs (or resumes) a saga from its log until it is completed or compensated. */
async function run<Data>(steps: readonly SagaStep<Data>[], sagaId: string, deps: Deps): Promise<SagaStatus> {
  const { db } = deps;
  const saga = (await db.query<{ data: Data; status: SagaStatus }>('SELECT data, status FROM sagas WHERE saga_id = $1', [sagaId])).rows[0];
  if (!saga) {
    throw new Error(`No saga ${sagaId} in the log.`);
  }
  const states = new Map((await db.query<{ step_index: number; state: StepState }>('SELECT step_index, state FROM saga_steps WHERE saga_id = $1', [sagaId])).rows.map((r) => [r.step_index, r.state]));
  const pivot = steps.findIndex((s) => s.kind === 'pivot');
  let status = saga.status;

  if (status === 'running') {
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i] as SagaStep<Data>;
      if (states.get(i) === 'done') {
        continue;
      }
      await setStep(db, sagaId, i, 'started');
      const result = await definite(() => step.action(saga.data, `${sagaId}:${i}:do`, deps), deps);
      if (result.ok) {
        await setStep(db, sagaId, i, 'done');
        states.set(i, 'done');
        continue;
      }
      if (i > pivot) {
        // Past the pivot there is no going back: a refusal is retried until it goes through.
        i--;
        await deps.sleep(MAX_BACKOFF_MS);
        continue;
      }
      // Refused before or at the pivot: nothing was done by this step; undo the others.
      await db.transaction(async (tx) => {
        await tx.query(`INSERT INTO saga_steps (saga_id, step_index, state) VALUES ($1, $2, 'failed') ON CONFLICT (saga_id, step_index) DO UPDATE SET state = 'failed'`, [sagaId, i]);
        await tx.query(`UPDATE sagas SET status = 'compensating' WHERE saga_id = $1`, [sagaId]);
      });
      states.set(i, 'failed');
      status = 'compensating';
      break;
    }
    if (status === 'running') {
      await db.query(`UPDATE sagas SET status = 'completed' WHERE saga_id = $1`, [sagaId]);
      return 'completed';
    }
  }

  if (status === 'compensating') {
    for (let i = steps.length - 1; i >= 0; i--) {
      const step = steps[i] as SagaStep<Data>;
      // Only steps that completed (a crash may leave one 'started': its action is then
      // retried first, so that the compensation undoes something definite).
      if (states.get(i) === 'started') {
        const result = await definite(() => step.action(saga.data, `${sagaId}:${i}:do`, deps), deps);
        await setStep(db, sagaId, i, result.ok ? 'done' : 'failed');
        states.set(i, result.ok ? 'done' : 'failed');
      }
      if (states.get(i) !== 'done' || step.kind !== 'compensatable' || !step.compensation) {
        continue;
      }
      const compensate = step.compensation;
      // A compensation must succeed: retried until it does.
      for (;;) {
        const result = await definite(() => compensate(saga.data, `${sagaId}:${i}:undo`, deps), deps);
        if (result.ok) {
          break;
        }
        await deps.sleep(MAX_BACKOFF_MS);
      }
      await setStep(db, sagaId, i, 'compensated');
      states.set(i, 'compensated');
    }
    await db.query(`UPDATE sagas SET status = 'compensated' WHERE saga_id = $1`, [sagaId]);
    return 'compensated';
  }
  return status;
}

export async function placeOrder(order: OrderRequest, deps: Deps): Promise<SagaOutcome> {
  await deps.db.query(`INSERT INTO sagas (saga_id, data, status) VALUES ($1, $2, 'running') ON CONFLICT (saga_id) DO NOTHING`, [order.orderId, JSON.stringify(order)]);
  const status = await run(placeOrderSteps, order.orderId, deps);
  return { orderId: order.orderId, status: status === 'completed' ? 'completed' : 'compensated' };
}

/** Finishes every saga the log shows unfinished (after a crash). */
export async function recover(deps: Deps): Promise<SagaOutcome[]> {
  const open = await deps.db.query<{ saga_id: string }>(`SELECT saga_id FROM sagas WHERE status IN ('running', 'compensating') ORDER BY saga_id`);
  const outcomes: SagaOutcome[] = [];
  for (const { saga_id } of open.rows) {
    const status = await run(placeOrderSteps, saga_id, deps);
    outcomes.push({ orderId: saga_id, status: status === 'completed' ? 'completed' : 'compensated' });
  }
  return outcomes;
}
