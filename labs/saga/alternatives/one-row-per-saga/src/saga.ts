// A correct orchestrator written another way than the reference, from the lab's README
// alone: one row per saga, its steps' states in a jsonb object updated read-modify-write
// in a transaction (SELECT ... FOR UPDATE, then UPDATE), a phase instead of a status, a
// plain loop over a step table, and a linear backoff before every retry.
import type { Db, Queryable } from './db';
import type { Deps, OrderRequest, SagaOutcome, ServiceResult } from './types';

type Phase = 'forward' | 'backward' | 'done-completed' | 'done-compensated';
type StepState = 'calling' | 'ok' | 'refused' | 'undoing' | 'undone';

interface Row {
  order_data: OrderRequest;
  phase: Phase;
  steps: Record<string, StepState>;
}

export async function migrate(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS orchestrations (
      id         text PRIMARY KEY,
      order_data jsonb NOT NULL,
      phase      text NOT NULL,
      steps      jsonb NOT NULL DEFAULT '{}'::jsonb
    )
  `);
}

type Call = (o: OrderRequest, requestId: string, d: Deps) => Promise<ServiceResult>;

/** The Place Order saga: [action, compensation or null, may a refusal end the saga forward?]. */
const SAGA: readonly (readonly [Call, Call | null, boolean])[] = [
  [(o, r, d) => d.services.orders.create({ requestId: r, orderId: o.orderId, customerId: o.customerId, total: o.total }), (o, r, d) => d.services.orders.reject({ requestId: r, orderId: o.orderId }), true],
  [(o, r, d) => d.services.inventory.reserve({ requestId: r, orderId: o.orderId, items: o.items }), (o, r, d) => d.services.inventory.release({ requestId: r, orderId: o.orderId, items: o.items }), true],
  [(o, r, d) => d.services.payments.charge({ requestId: r, orderId: o.orderId, customerId: o.customerId, amount: o.total }), null, true],
  [(o, r, d) => d.services.shipping.schedule({ requestId: r, orderId: o.orderId, address: o.address }), null, false],
  [(o, r, d) => d.services.orders.approve({ requestId: r, orderId: o.orderId }), null, false],
];

async function read(q: Queryable, id: string, lock: boolean): Promise<Row> {
  const { rows } = await q.query<Row>(`SELECT order_data, phase, steps FROM orchestrations WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  const row = rows[0];
  if (!row) throw new Error(`no saga ${id}`);
  return row;
}

/** Sets one step's state, and the phase if given, in one transaction. */
async function mark(db: Db, id: string, step: number, state: StepState, phase?: Phase): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await read(tx, id, true);
    const steps = { ...row.steps, [String(step)]: state };
    await tx.query('UPDATE orchestrations SET steps = $2, phase = $3 WHERE id = $1', [id, steps, phase ?? row.phase]);
  });
}

async function setPhase(db: Db, id: string, phase: Phase): Promise<void> {
  await db.transaction(async (tx) => {
    await read(tx, id, true);
    await tx.query('UPDATE orchestrations SET phase = $2 WHERE id = $1', [id, phase]);
  });
}

/** Calls until definite; with `untilOk`, a refusal is waited out too. Waits 50 ms more before each new attempt. */
async function attempt(deps: Deps, call: () => Promise<ServiceResult>, untilOk: boolean): Promise<ServiceResult> {
  for (let n = 0; ; n++) {
    if (n > 0) await deps.sleep(50 * n);
    const result = await call();
    if (result.ok) return result;
    if (result.kind === 'business' && !untilOk) return result;
  }
}

async function execute(id: string, deps: Deps): Promise<'completed' | 'compensated'> {
  const { db } = deps;
  let row = await read(db, id, false);
  const order = row.order_data;

  if (row.phase === 'forward') {
    let refusedAt = -1;
    for (let i = 0; i < SAGA.length; i++) {
      const [action, , mayRefuse] = SAGA[i] as (typeof SAGA)[number];
      if (row.steps[String(i)] === 'ok') continue;
      await mark(db, id, i, 'calling');
      const result = await attempt(deps, () => action(order, `${id}#${i}#forward`, deps), !mayRefuse);
      if (result.ok) {
        await mark(db, id, i, 'ok');
      } else {
        await mark(db, id, i, 'refused', 'backward');
        refusedAt = i;
        break;
      }
    }
    if (refusedAt < 0) {
      await setPhase(db, id, 'done-completed');
      return 'completed';
    }
    row = await read(db, id, false);
  }

  if (row.phase === 'backward') {
    for (let i = SAGA.length - 1; i >= 0; i--) {
      const [action, compensation] = SAGA[i] as (typeof SAGA)[number];
      let state = row.steps[String(i)];
      if (compensation === null || state === undefined || state === 'refused' || state === 'undone') continue;
      if (state === 'calling') {
        // Died during the call: ask again with the same id; undo only if it was done.
        const asked = await attempt(deps, () => action(order, `${id}#${i}#forward`, deps), false);
        state = asked.ok ? 'ok' : 'refused';
        await mark(db, id, i, state);
        if (state === 'refused') continue;
      }
      await mark(db, id, i, 'undoing');
      await attempt(deps, () => compensation(order, `${id}#${i}#backward`, deps), true);
      await mark(db, id, i, 'undone');
    }
    await setPhase(db, id, 'done-compensated');
    return 'compensated';
  }
  return row.phase === 'done-completed' ? 'completed' : 'compensated';
}

export async function placeOrder(order: OrderRequest, deps: Deps): Promise<SagaOutcome> {
  await deps.db.query(`INSERT INTO orchestrations (id, order_data, phase) VALUES ($1, $2, 'forward') ON CONFLICT (id) DO NOTHING`, [order.orderId, order]);
  return { orderId: order.orderId, status: await execute(order.orderId, deps) };
}

export async function recover(deps: Deps): Promise<SagaOutcome[]> {
  const { rows } = await deps.db.query<{ id: string }>(`SELECT id FROM orchestrations WHERE phase IN ('forward', 'backward') ORDER BY id`);
  const outcomes: SagaOutcome[] = [];
  for (const { id } of rows) {
    outcomes.push({ orderId: id, status: await execute(id, deps) });
  }
  return outcomes;
}
