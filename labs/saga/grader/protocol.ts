/**
 * What the Saga grader and its adapter (adapter.ts, in the learner's process) say to each
 * other: the adapter's functions as a type, which the adapter implements and the harness
 * calls through a typed sandbox client, and the plain data they pass. Types only.
 */
import type { DbAdapterControls } from '../../../src/core/grading/adapters/pgDb';
import type { CallRemark } from './history';

export interface SagaAdapterConfig {
  readonly databaseUrl: string;
  /** The grading run's own schema, where the learner's saga log lives. */
  readonly schema: string;
  /** Where the grader's services (services.ts) listen. */
  readonly servicesUrl: string;
  readonly poolSize: number;
  /** How long a service call may take before its outcome is technical (unknown). */
  readonly callTimeoutMs: number;
}

/** An order as placeOrder receives it: the lab's OrderRequest (starter/src/types.ts). */
export interface OrderInput {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly { readonly sku: string; readonly qty: number }[];
  /** What to charge, in cents. */
  readonly total: number;
  readonly address: string;
}

/**
 * The adapter's functions: the controls every PostgreSQL lab's adapter has (crash points,
 * latency, the learner's migrate, the end of the run), and the saga's own.
 */
export interface SagaAdapter extends DbAdapterControls {
  /** Opens the run's database and the clients of the grader's services. */
  configure(config: SagaAdapterConfig): Promise<void>;
  /** How many times the learner's code has called deps.sleep in this process. */
  sleeps(): number;
  /** What the adapter remarked about the learner's calls since the grader last asked (see CallRemark). */
  callRemarks(): CallRemark[];
  /**
   * Runs the learner's placeOrder(order, deps). Its answer is passed back as the learner's
   * code returned it: the checkers judge it (a SagaOutcome, or not), the adapter does not.
   */
  placeOrder(order: OrderInput): Promise<unknown>;
  /** Runs the learner's recover(deps); its answer, as returned. */
  recover(): Promise<unknown>;
}
