/**
 * What the Replication grader and its adapter (adapter.ts, in the learner's process) say to
 * each other: the adapter's functions as a type, and the plain data they pass. Types only.
 */

/** One server as the learner's code reaches it. */
export interface ServerConfig {
  /** 'postgres' or 'postgres-2': its container's name on the lab network. */
  readonly name: string;
  /** Where its SQL goes: through the grader's fault proxy, which follows the server when Docker moves its port. */
  readonly url: string;
  readonly networkHost: string;
  readonly networkPort: number;
  readonly dataDirectory: string;
}

export interface ReplicationAdapterConfig {
  readonly servers: readonly ServerConfig[];
  /** The grader's admin service (admin.ts): the ServerAdmin calls go there. */
  readonly admin: { readonly url: string; readonly token: string };
  readonly poolSize: number;
}

/** Where each statement of one call ran: the server's name, in order. */
export interface Trace {
  /** Statements whose text is the grader's own (a session's read or write). */
  readonly marked: readonly string[];
  /** Every statement, on which server, and whether it was refused with 25006 there. */
  readonly statements: readonly { readonly server: string; readonly refused: boolean }[];
}

/**
 * How a call of the learner's code ended: its value (as plain data), what it threw, or, past
 * the grader's limit for it, no answer (`hung`: the call goes on in the process, which lives).
 */
export type CallAnswer<T> =
  | { readonly ok: true; readonly value: T; readonly trace: Trace; readonly ms: number }
  | { readonly ok: false; readonly error: { readonly name: string; readonly message: string; readonly code?: string }; readonly hung: boolean; readonly trace: Trace; readonly ms: number };

/** What parseLsn or compareLsn did with one input: its value as text (compareLsn's sign), or what it threw. */
export type LsnOutcome = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly error: string };

export interface ReplicationAdapter {
  configure(config: ReplicationAdapterConfig): Promise<void>;
  /** The learner's parseLsn on each text, and compareLsn on each pair. */
  lsns(parse: readonly string[], compare: readonly (readonly [string, string])[]): Promise<{ readonly parsed: readonly LsnOutcome[]; readonly compared: readonly LsnOutcome[] }>;
  /** The learner's setUpStandby(primary, standby, replication). */
  setUp(primary: string, standby: string, replication: { readonly user: string; readonly password: string; readonly slot: string }): Promise<CallAnswer<unknown>>;
  /** The learner's replicationLag(primary, standby). */
  lag(primary: string, standby: string): Promise<CallAnswer<unknown>>;
  /** A new ReadRouter of the learner's, known as `router` from now on. */
  openRouter(router: string, primary: string, standby: string, options: { readonly maxWaitMs: number; readonly standbyTimeoutMs: number }): Promise<void>;
  /** A new session of that router, known as `session`. */
  openSession(router: string, session: string): Promise<void>;
  /** session.write(sql, params) (session.write(sql) when `params` is empty), `sql` carrying the grader's mark; answered as hung after `limitMs`. */
  write(session: string, sql: string, params: readonly unknown[], limitMs: number): Promise<CallAnswer<unknown>>;
  /** session.read(sql, params) (session.read(sql) when `params` is empty); answered as hung after `limitMs`. */
  read(session: string, sql: string, params: readonly unknown[], limitMs: number): Promise<CallAnswer<unknown>>;
  /** The learner's failover(router, oldPrimary, standby). */
  failover(router: string, oldPrimary: string, standby: string): Promise<CallAnswer<unknown>>;
  /** The learner's setSynchronous(primary, on). */
  setSynchronous(primary: string, on: boolean): Promise<CallAnswer<unknown>>;
  /** Closes the connections. */
  finish(): Promise<void>;
}
