/**
 * What the Idempotency Keys grader and its adapter (adapter.ts, in the learner's process)
 * say to each other: the adapter's functions as a type, which the adapter implements and
 * the harness calls through a typed sandbox client, and the plain data they pass. Types only.
 */
import type { DbAdapterControls } from '../../../src/core/grading/adapters/pgDb';

/** How the adapter connects a fresh learner process: to the run's schema, and to the grader's payment provider. */
export interface IdempotencyAdapterConfig {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly providerUrl: string;
  readonly poolSize: number;
  /** How long the provider client waits for an answer before the outcome is unknown. */
  readonly providerTimeoutMs: number;
}

/** `POST /payments` as the grader sends it: the lab's PaymentRequest (src/types.ts). */
export interface PaymentRequest {
  readonly userId: string;
  /** The `Idempotency-Key` header; undefined when the request has none. */
  readonly idempotencyKey: string | undefined;
  /** The JSON body, parsed: anything at all, since the grader also sends invalid ones. */
  readonly body: unknown;
}

/** A key's row as the learner's idempotency_keys table holds it (the columns the lab's README and starter name). */
export interface KeyRowSeen {
  readonly key: string;
  readonly recoveryPoint: string;
  readonly locked: boolean;
  readonly paymentId: string | null;
}

/** A row of the learner's payments table. */
export interface PaymentRowSeen {
  readonly id: string;
  readonly status: string;
  readonly chargeId: string | null;
  readonly amount: number | null;
  /** Undefined when the table has no description column. */
  readonly description?: string | null;
}

/**
 * What the learner's own tables say about one user's keys and payments: the durable state a
 * crash left behind, read after recovery. Not ok when the tables cannot be read as the lab
 * names them (a missing table or column).
 */
export type TablesSeen =
  | { readonly ok: true; readonly keys: readonly KeyRowSeen[]; readonly payments: readonly PaymentRowSeen[] }
  | { readonly ok: false; readonly message: string };

/** The adapter's functions: dbAdapter's controls, and the lab's own. */
export interface IdempotencyAdapter extends DbAdapterControls {
  configure(config: IdempotencyAdapterConfig): Promise<void>;
  /** Moves the clock the learner's code is handed (`deps.clock`) to `offsetMs` from the machine's. */
  setClock(offsetMs: number): void;
  /** Runs the learner's migrate(db). */
  migrate(): Promise<unknown>;
  /**
   * Runs the learner's createPayment(request, deps) and returns what it returned, unchecked:
   * the harness checks that it is an ApiResponse, and says so in the history when it is not.
   */
  createPayment(request: PaymentRequest): Promise<unknown>;
  /** Reads the learner's idempotency_keys and payments rows of one user (between requests, with no crash armed). */
  tables(userId: string): Promise<TablesSeen>;
}
