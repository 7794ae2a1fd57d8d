// A correct orchestrator written another way than the reference, from the lab's README
// alone: the saga log is append-only (one event per row, never updated), a saga's state is
// what its events say, the steps are a table of closures, recovery runs the unfinished
// sagas side by side, and retries back off with jitter up to a cap.
import type { Db } from './db';
import type { Deps, OrderRequest, SagaOutcome, ServiceResult } from './types';

type Kind = 'compensatable' | 'pivot' | 'retriable';

interface Step {
  readonly name: string;
  readonly kind: Kind;
  readonly run: (o: OrderRequest, requestId: string, d: Deps) => Promise<ServiceResult>;
  readonly undo?: (o: OrderRequest, requestId: string, d: Deps) => Promise<ServiceResult>;
}

/** What the log can say, one row each. */
type EventKind = 'saga-started' | 'step-started' | 'step-done' | 'step-refused' | 'undo-started' | 'undo-done' | 'saga-completed' | 'saga-compensated';

export async function migrate(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS saga_events (
      seq      bigserial PRIMARY KEY,
      saga_id  text NOT NULL,
      kind     text NOT NULL,
      step     text,
      payload  jsonb
    );
    CREATE INDEX IF NOT EXISTS saga_events_by_saga ON saga_events (saga_id, seq);
  `);
}

const STEPS: readonly Step[] = [
  {
    name: 'create',
    kind: 'compensatable',
    run: (o, requestId, d) => d.services.orders.create({ requestId, orderId: o.orderId, customerId: o.customerId, total: o.total }),
    undo: (o, requestId, d) => d.services.orders.reject({ requestId, orderId: o.orderId }),
  },
  {
    name: 'reserve',
    kind: 'compensatable',
    run: (o, requestId, d) => d.services.inventory.reserve({ requestId, orderId: o.orderId, items: o.items }),
    undo: (o, requestId, d) => d.services.inventory.release({ requestId, orderId: o.orderId, items: o.items }),
  },
  { name: 'charge', kind: 'pivot', run: (o, requestId, d) => d.services.payments.charge({ requestId, orderId: o.orderId, customerId: o.customerId, amount: o.total }) },
  { name: 'ship', kind: 'retriable', run: (o, requestId, d) => d.services.shipping.schedule({ requestId, orderId: o.orderId, address: o.address }) },
  { name: 'approve', kind: 'retriable', run: (o, requestId, d) => d.services.orders.approve({ requestId, orderId: o.orderId }) },
];

const BASE_MS = 25;
const CAP_MS = 400;

/** Capped exponential backoff with jitter: never zero, longer after each failure. */
function backoff(failures: number): number {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** failures);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

interface SagaState {
  readonly order: OrderRequest;
  readonly done: Set<string>;
  readonly started: Set<string>;
  readonly undone: Set<string>;
  refused: boolean;
  finished: 'completed' | 'compensated' | undefined;
}

class Orchestrator {
  constructor(private readonly deps: Deps) {}

  private async append(sagaId: string, kind: EventKind, step: string | null = null, payload: unknown = null): Promise<void> {
    await this.deps.db.query('INSERT INTO saga_events (saga_id, kind, step, payload) VALUES ($1, $2, $3, $4)', [sagaId, kind, step, payload === null ? null : JSON.stringify(payload)]);
  }

  private async load(sagaId: string): Promise<SagaState | undefined> {
    const { rows } = await this.deps.db.query<{ kind: EventKind; step: string | null; payload: unknown }>('SELECT kind, step, payload FROM saga_events WHERE saga_id = $1 ORDER BY seq', [sagaId]);
    let state: SagaState | undefined;
    for (const e of rows) {
      if (e.kind === 'saga-started') {
        state = { order: e.payload as OrderRequest, done: new Set(), started: new Set(), undone: new Set(), refused: false, finished: undefined };
        continue;
      }
      if (state === undefined) continue;
      const step = e.step ?? '';
      switch (e.kind) {
        case 'step-started':
          state.started.add(step);
          break;
        case 'step-done':
          state.done.add(step);
          break;
        case 'step-refused':
          state.refused = true;
          break;
        case 'undo-done':
          state.undone.add(step);
          break;
        case 'saga-completed':
          state.finished = 'completed';
          break;
        case 'saga-compensated':
          state.finished = 'compensated';
          break;
        default:
          break;
      }
    }
    return state;
  }

  /** Asks until the answer is ok or a refusal; a technical failure is waited out. */
  private async ask(call: () => Promise<ServiceResult>): Promise<ServiceResult> {
    for (let failures = 0; ; failures++) {
      const result = await call();
      if (result.ok || result.kind === 'business') return result;
      await this.deps.sleep(backoff(failures));
    }
  }

  /** Asks until the answer is ok: past the pivot, and for compensations, a refusal is waited out too. */
  private async insist(call: () => Promise<ServiceResult>): Promise<void> {
    for (let refusals = 0; ; refusals++) {
      const result = await this.ask(call);
      if (result.ok) return;
      await this.deps.sleep(backoff(refusals));
    }
  }

  async start(order: OrderRequest): Promise<'completed' | 'compensated'> {
    const existing = await this.load(order.orderId);
    if (existing === undefined) {
      await this.append(order.orderId, 'saga-started', null, order);
    }
    return this.drive(order.orderId);
  }

  async drive(sagaId: string): Promise<'completed' | 'compensated'> {
    const state = await this.load(sagaId);
    if (state === undefined) throw new Error(`saga ${sagaId} is not in the log`);
    if (state.finished !== undefined) return state.finished;
    const { order } = state;
    const pivot = STEPS.findIndex((s) => s.kind === 'pivot');

    if (!state.refused) {
      for (const [i, step] of STEPS.entries()) {
        if (state.done.has(step.name)) continue;
        const id = `${sagaId}:${step.name}:do`;
        await this.append(sagaId, 'step-started', step.name);
        state.started.add(step.name);
        if (i > pivot) {
          await this.insist(() => step.run(order, id, this.deps));
        } else {
          const result = await this.ask(() => step.run(order, id, this.deps));
          if (!result.ok) {
            // One statement: the refusal and the switch to compensating are one row.
            await this.append(sagaId, 'step-refused', step.name, { reason: result.reason });
            state.refused = true;
            break;
          }
        }
        await this.append(sagaId, 'step-done', step.name);
        state.done.add(step.name);
      }
      if (!state.refused) {
        await this.append(sagaId, 'saga-completed');
        return 'completed';
      }
    }

    // Compensating: from the last step back to the first, only what was done.
    for (const [i, step] of [...STEPS.entries()].reverse()) {
      if (i >= pivot || step.undo === undefined || state.undone.has(step.name)) continue;
      if (!state.done.has(step.name)) {
        if (!state.started.has(step.name)) continue;
        // Started but not known done: ask again with the same id, and undo only if it was done.
        const asked = await this.ask(() => step.run(order, `${sagaId}:${step.name}:do`, this.deps));
        if (!asked.ok) continue;
        await this.append(sagaId, 'step-done', step.name);
      }
      const undo = step.undo;
      await this.append(sagaId, 'undo-started', step.name);
      await this.insist(() => undo(order, `${sagaId}:${step.name}:undo`, this.deps));
      await this.append(sagaId, 'undo-done', step.name);
      state.undone.add(step.name);
    }
    await this.append(sagaId, 'saga-compensated');
    return 'compensated';
  }

  async unfinished(): Promise<string[]> {
    const { rows } = await this.deps.db.query<{ saga_id: string }>(
      `SELECT saga_id FROM saga_events GROUP BY saga_id
       HAVING bool_or(kind = 'saga-started') AND NOT bool_or(kind IN ('saga-completed', 'saga-compensated'))`,
    );
    return rows.map((r) => r.saga_id);
  }
}

export async function placeOrder(order: OrderRequest, deps: Deps): Promise<SagaOutcome> {
  const status = await new Orchestrator(deps).start(order);
  return { orderId: order.orderId, status };
}

export async function recover(deps: Deps): Promise<SagaOutcome[]> {
  const orchestrator = new Orchestrator(deps);
  const ids = await orchestrator.unfinished();
  return Promise.all(ids.map(async (orderId) => ({ orderId, status: await orchestrator.drive(orderId) })));
}
