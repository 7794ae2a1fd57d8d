/**
 * The Saga grader's side of a run: its services (services.ts), whose every call is recorded
 * on its order's `svc:` lane, and the learner's process, where the adapter runs the
 * learner's placeOrder and recover against them, with the saga log in the run's schema.
 * Each event is recorded in the scenario's history as the vocabulary of history.ts says.
 */
import type { HistoryRecorder } from '../../../src/core/grading/history';
import { DatabaseLearner } from '../../../src/core/grading/learnerProcess';
import type { Sandbox } from '../../../src/core/grading/sandbox';
import { type Expectation, GRADER, MIGRATE, ORCHESTRATOR, PLACE, type PlaceInput, RECOVER, RECOVER_AGAIN, RECOVERY, type SagaEvent, type TruthNote, orderLane, serviceLane } from './history';
import { CALL_TIMEOUT_MS, POOL_SIZE, SERVICE_TIMEOUT_MS } from './limits';
import type { OrderInput, SagaAdapter } from './protocol';
import type { SagaServices, ServiceCall, ServiceFault } from './services';
import type { SagaOperation } from './steps';

type History = HistoryRecorder<SagaEvent>;

/** Records a call the services answered on its order's lane, as ok, fail or info by its outcome. */
function recordCall(history: History, call: ServiceCall): void {
  const process = serviceLane(call.orderId);
  const detail = call.detail !== undefined ? { detail: call.detail } : {};
  const answer = { attempt: call.attempt, requestId: call.requestId };
  switch (call.outcome) {
    case 'ok':
    case 'replayed':
      history.record({ process, type: 'ok', op: call.op, value: { outcome: call.outcome, ...answer }, ...detail });
      return;
    case 'business':
    case 'invalid':
      history.record({ process, type: 'fail', op: call.op, value: { outcome: call.outcome, ...answer }, ...detail });
      return;
    case 'technical':
    case 'ambiguous':
      history.record({ process, type: 'info', op: call.op, value: { outcome: call.outcome, ...answer }, ...detail });
      return;
  }
}

/** A planned fault as the history's text names it. */
function faultText(fault: ServiceFault | undefined): string {
  if (fault === undefined) return 'ok';
  switch (fault.kind) {
    case 'business':
      return `refused (${fault.reason})`;
    case 'delay':
      return `slow ${fault.ms} ms`;
    default:
      return fault.kind;
  }
}

export class SagaHarness {
  readonly learner: DatabaseLearner<SagaAdapter>;
  private stopWatching: () => void = () => undefined;

  constructor(
    sandbox: Sandbox,
    readonly services: SagaServices,
    private readonly config: { readonly databaseUrl: string; readonly schema: string },
  ) {
    this.learner = new DatabaseLearner<SagaAdapter>(sandbox, async (client) => {
      const result = await client.call('configure', [{ ...config, servicesUrl: services.url, poolSize: POOL_SIZE, callTimeoutMs: SERVICE_TIMEOUT_MS }], 20_000);
      if (!result.ok) {
        throw new Error(`The grader could not connect the learner's process to the database: ${result.message}`);
      }
    });
  }

  /** Records the services' calls into the history, each on its order's `svc:` lane. */
  watch(history: History): void {
    this.services.resetCalls();
    this.stopWatching = this.services.onCall(
      (call) => recordCall(history, call),
      (start) => {
        history.record({ process: serviceLane(start.orderId), type: 'invoke', op: start.op, value: { requestId: start.requestId, attempt: start.attempt } });
      },
    );
  }

  unwatch(): void {
    this.stopWatching();
  }

  /** Plans faults for an order and notes them in the history. */
  plan(history: History, orderId: string, op: SagaOperation, faults: readonly (ServiceFault | undefined)[]): string {
    this.services.plan(orderId, op, faults);
    const text = `${op}: ${faults.map(faultText).join(', ')}`;
    history.record({ process: GRADER, type: 'fault', op: `order ${orderId}: ${text}` });
    return text;
  }

  /** Runs placeOrder; `armed` says where the grader armed a kill, which names the end of a call the kill cut short. */
  async place(history: History, order: OrderInput, expect: Expectation, plan: readonly string[], armed?: string): Promise<void> {
    await this.learner.ensureRunning();
    const process = orderLane(order.orderId);
    history.record({ process, type: 'invoke', op: PLACE, value: { ...order, expect, plan } satisfies PlaceInput });
    const result = await this.learner.client.call('placeOrder', [order], CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process, type: 'ok', op: PLACE, value: result.value });
    } else {
      const killed = result.kind !== 'threw' && armed !== undefined && this.learner.ended && this.learner.sandbox.endReason?.kind === 'exited';
      // A throw's message is "placeOrder threw <name>: <message>" (see Sandbox.call).
      history.record({ process, type: 'info', op: PLACE, detail: killed ? `the grader killed the orchestrator ${armed}` : result.message });
    }
  }

  /** Runs recover() and returns its answer; `again`: the last one of a scenario, after every saga was recovered, which must find nothing to do. */
  async recover(history: History, again = false): Promise<unknown> {
    await this.learner.ensureRunning();
    const op = again ? RECOVER_AGAIN : RECOVER;
    history.record({ process: RECOVERY, type: 'invoke', op });
    const result = await this.learner.client.call('recover', [], CALL_TIMEOUT_MS);
    await this.noteRemarks(history);
    if (result.ok) {
      history.record({ process: RECOVERY, type: 'ok', op, value: result.value });
      return result.value;
    }
    history.record({ process: RECOVERY, type: 'info', op, detail: result.message });
    return undefined;
  }

  /**
   * After the grader killed the orchestrator: a fresh process, started as a deployed one
   * starts, its migrate(db) run again on the log it left. Whether that migrate succeeded.
   */
  async restartAsDeployed(history: History, why: string, killed = true): Promise<boolean> {
    if (killed) {
      history.record({ process: ORCHESTRATOR, type: 'crash', op: 'process killed', detail: why });
    } else {
      history.record({ process: GRADER, type: 'note', op: why });
    }
    await this.learner.restart();
    history.record({ process: RECOVERY, type: 'invoke', op: MIGRATE });
    const result = await this.learner.client.call('migrate', [], CALL_TIMEOUT_MS);
    if (result.ok) {
      history.record({ process: RECOVERY, type: 'ok', op: MIGRATE });
    } else {
      history.record({ process: RECOVERY, type: 'info', op: MIGRATE, detail: result.message });
    }
    return result.ok;
  }

  /**
   * Notes, on each order's `svc:` lane, what the adapter remarked about its calls (a retry
   * without a wait, a call inside a transaction): after each recover() and at the end of a
   * scenario (what a killed process remarked dies with it).
   */
  private async noteRemarks(history: History): Promise<void> {
    if (this.learner.ended) return;
    const result = await this.learner.client.call('callRemarks', [], 5_000);
    if (!result.ok) return;
    for (const remark of result.value) {
      history.record({ process: serviceLane(remark.orderId), type: 'note', op: remark.kind, value: remark });
    }
  }

  /** Whether the services show an order finished: completed, compensated, or never begun (and not in the learner's log). */
  async settled(orderId: string): Promise<boolean> {
    const [t] = await this.services.truth([orderId]);
    if (t === undefined) return false;
    const completed = t.status === 'approved' && t.charges === 1 && t.shipments === 1;
    const compensated = t.status !== 'approved' && t.status !== 'pending' && t.charges === 0 && t.shipments === 0 && Object.values(t.reserved).every((q) => q === 0);
    if (t.status === 'none' && compensated) {
      // Never begun: finished only if the learner's log does not hold it either.
      const logged = await this.services.mentions(this.config.schema, [orderId]);
      return logged === undefined || logged.length === 0;
    }
    return completed || compensated;
  }

  /** Notes the services' truth about the orders, and the stock of their SKUs, at the end of a scenario. */
  async recordTruth(history: History, orderIds: readonly string[]): Promise<void> {
    await this.noteRemarks(history);
    const [orders, stock, logged] = await Promise.all([this.services.truth(orderIds), this.services.stockTruth(), this.services.mentions(this.config.schema, orderIds)]);
    const truth: TruthNote = { orders, stock: stock.filter((s) => orders.some((o) => s.sku.startsWith(o.orderId.split('-')[0] ?? ''))), ...(logged !== undefined ? { logged } : {}) };
    history.record({ process: GRADER, type: 'note', op: 'truth', value: truth });
  }
}
