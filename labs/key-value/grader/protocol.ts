/**
 * What the Key-Value grader and its adapter (adapter.ts, in the learner's process) say to
 * each other: the adapter's functions as a type, and the plain data they pass. Types only.
 */

/** Where the learner's process reaches the lab's services. */
export interface KvAdapterConfig {
  /** The lab's Redis, behind the grader's fault proxy, in the grading database. */
  readonly redis: { readonly host: string; readonly port: number; readonly password: string; readonly database: number };
  readonly memcached: { readonly host: string; readonly port: number };
  /**
   * The products table: in the lab's PostgreSQL, in a schema of the grader's; or, without
   * Docker, a hash `products` in an in-process Redis stand-in of the grader's.
   */
  readonly products:
    | { readonly kind: 'postgres'; readonly url: string; readonly schema: string }
    | { readonly kind: 'hash'; readonly host: string; readonly port: number; readonly password: string };
  /** How long a product load takes beyond its query (an expensive query, as behind any cache). */
  readonly loadDelayMs: number;
  /** The Memcached client's time limit per request. */
  readonly memcachedTimeoutMs: number;
}

/** The learner's Config, as types.ts has it. */
export interface ServiceConfig {
  readonly limit: number;
  readonly windowMs: number;
  readonly sessionTtlMs: number;
  readonly cacheTtlMs: number;
  readonly redisTimeoutMs: number;
  readonly failOpen: boolean;
}

export type CacheKind = 'redis' | 'memcached';

/** The service operations the grader calls, with their arguments. */
export type KvOp =
  | { readonly op: 'login'; readonly user: string }
  | { readonly op: 'currentUser'; readonly session: string }
  | { readonly op: 'logout'; readonly session: string }
  | { readonly op: 'allowFixed'; readonly client: string }
  | { readonly op: 'allowSliding'; readonly client: string }
  | { readonly op: 'get'; readonly cache: CacheKind; readonly id: string }
  | { readonly op: 'update'; readonly cache: CacheKind; readonly id: string; readonly value: string };

/** What an operation returned, checked by the adapter: a session id, a user or product value, null, a verdict, or nothing. */
export type OpResult = string | null | boolean | undefined;

/** A database call the grader holds at its gate until it releases it: a load after it read, a save before it writes. */
export interface Gate {
  readonly kind: 'load' | 'save';
  readonly id: string;
}

/** The adapter's functions. */
export interface KvAdapter {
  configure(config: KvAdapterConfig): Promise<void>;
  /** (Re)creates the learner's sessions, limiter and caches with `config`, on a clock `offsetMs` ahead of the machine's. */
  open(config: ServiceConfig, offsetMs: number): void;
  /** Moves the clock: it reads Date.now() + offsetMs. */
  setClock(offsetMs: number): void;
  run(op: KvOp): Promise<OpResult>;
  /** Holds the next database call that matches at its gate (several gates may wait at once). */
  hold(gate: Gate): void;
  /** Resolves true once every held call is waiting at its gate, false if they did not all come within `timeoutMs`. */
  waitHeld(timeoutMs: number): Promise<boolean>;
  /** Lets every held call go on (and holds nothing more). */
  release(): void;
  /** How many times each product was loaded from the database since the last call. */
  takeLoads(): Record<string, number>;
  /**
   * Counts Redis replies from now; with `crashAfter`, the process is killed (SIGKILL) the
   * moment that many replies have come, before the learner's code sees the last one.
   */
  arm(crashAfter: number | null): void;
  /** Redis replies counted since `arm`. */
  replies(): number;
  /** Redis sessions (redis.session()) opened and not closed. */
  openSessions(): number;
  /** Drops the learner's objects and closes their connections (the end of a scenario). */
  finish(): Promise<void>;
}
