/**
 * What the Two-phase commit grader and its adapter (adapter.ts, in the learner's process)
 * say to each other: the adapter's functions as a type, and the plain data they pass.
 * Types only.
 */

/** One server as the learner's code reaches it: through the grader's fault proxy. */
export interface ServerAddress {
  /** 'bank-a', 'bank-b', or 'log'. */
  readonly name: string;
  readonly url: string;
}

export interface TwoPhaseAdapterConfig {
  readonly banks: readonly ServerAddress[];
  readonly log: ServerAddress;
  /** The schema of this run on each bank, where `accounts` is: the banks' pools work in it. */
  readonly bankSchema: string;
  /** The grader's schema on each bank, beside it: the adapter notes each PREPARE there (audit.ts). */
  readonly auditSchema: string;
  /** The schema of this run on the log's server, where the learner's migrate makes its table. */
  readonly logSchema: string;
  readonly voteTimeoutMs: number;
  readonly poolSize: number;
}

/** A transfer as transfer() receives it: the lab's Transfer (starter/src/types.ts). */
export interface TransferArgs {
  readonly id: string;
  readonly from: { readonly bank: string; readonly account: string };
  readonly to: { readonly bank: string; readonly account: string };
  readonly amountCents: number;
}

/**
 * A point of the learner's code, named by what it sends and where: `prepare@bank-a` (a
 * PREPARE TRANSACTION inside a transaction), `commit-prepared@bank-b`, `rollback-prepared@…`,
 * `write@log` (any statement but a read, outside a transaction), `commit@log` (a
 * transaction's COMMIT). `occurrence` counts the statements of that label since `arm`, from 1.
 */
export interface PointPlan {
  readonly label: string;
  readonly occurrence: number;
  /** Just before the statement is sent, or just after its answer arrived. */
  readonly when: 'before' | 'after';
}

export interface ArmPlan {
  /** Kill the process (SIGKILL) at this point. */
  readonly crash?: PointPlan;
  /** Stop the learner's code at this point until the grader calls release(). */
  readonly hold?: PointPlan;
}

export interface TwoPhaseAdapter {
  configure(config: TwoPhaseAdapterConfig): Promise<void>;
  /** Runs the learner's migrate(log). */
  migrate(): Promise<unknown>;
  /**
   * Runs the learner's transfer(c, t) as coordinator `coordinatorId`; its answer, as
   * returned. With `banksIsolation`, the banks run the transactions of this transfer that ask
   * for no level at that one, as a server whose default_transaction_isolation says so.
   */
  transfer(coordinatorId: string, t: TransferArgs, banksIsolation?: 'repeatable read' | 'serializable'): Promise<unknown>;
  /** Runs the learner's recover(c) as coordinator `coordinatorId`; its answer, as returned. */
  recover(coordinatorId: string): Promise<unknown>;
  /** Starts counting points from zero, with a crash or a hold armed (or none). */
  arm(plan: ArmPlan): void;
  /** Opens `n` connections to each server ahead of a burst of transfers. */
  warm(n: number): Promise<void>;
  /** The points passed (their `after`) since `arm`, in order. */
  points(): string[];
  /** The label of the point where the code is held now, if it is. */
  holding(): string | null;
  /** Lets held code go on. */
  release(): void;
  /** Closes the connections. */
  finish(): Promise<void>;
}
