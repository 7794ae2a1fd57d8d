/**
 * The contract between your service, its stores and the grader. You do not change this
 * file: the grader hands your functions a real Redis, a real Memcached and the products
 * table of the lab's PostgreSQL that behave exactly as described here.
 */

/** What a Redis command answers: a status or bulk string, an integer, nil, or an array of these. */
export type Reply = string | number | null | Reply[];

/**
 * What a Redis call rejects with: Redis answered with an error (a Lua script that failed, a
 * wrong type), or the connection failed (Redis was killed, or cannot be reached). Compare
 * `error.name`, not the class: the grader's clients are built outside your code. A command
 * whose connection failed may still have taken effect.
 */
export class RedisError extends Error {
  override readonly name = 'RedisError';
}

/** A connection of your own to Redis: WATCH, MULTI and EXEC apply to it alone. */
export interface RedisSession {
  /** One command; await each before the next. */
  command(...args: (string | number)[]): Promise<Reply>;
  /** Ends the connection (a WATCH still in force is dropped with it). */
  close(): void;
}

/**
 * The lab's Redis 7. Every call goes over the network, and calls of different requests run
 * at the same time and interleave: a GET followed by a SET is not atomic. Make a
 * read-modify-write atomic with a Lua script (`eval`), with MULTI / EXEC (on a `session()`,
 * with WATCH when what you write depends on what you read), or with one command that does
 * it all (SET key value NX PX ms, INCR, GETEX key PX ms).
 *
 * Calls have **no time limit of their own**: while Redis is paused (or a network drops its
 * packets) a call simply waits, for as long as that lasts. Give each call the limit your
 * service can afford (`config.redisTimeoutMs`), as `withTimeout` in service.ts does.
 */
export interface Redis {
  /** One command on a connection shared by every request: `command('SET', key, value, 'PX', 1000)`. */
  command(...args: (string | number)[]): Promise<Reply>;
  /** EVAL: runs `script` atomically with KEYS = keys and ARGV = args (as strings). */
  eval(script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply>;
  /** A connection of your own, for WATCH / MULTI / EXEC. Close it when done. */
  session(): RedisSession;
}

/** A Memcached value with its CAS unique, as `gets` answers it. */
export interface CasItem {
  readonly value: string;
  /** Changes whenever the item is stored again; `cas` compares it. */
  readonly cas: string;
}

/**
 * The lab's Memcached 1.6: strings under keys, an expiry in whole seconds, nothing else.
 * No persistence, no data types, no scripts, no transactions: the one safe update is
 * check-and-set (`gets` gives an item's CAS unique; `cas` stores only if it is unchanged
 * since). Keys are 1–250 characters, no spaces. Calls reject (with `name` 'MemcachedError')
 * when the server cannot be reached.
 */
export interface Memcached {
  get(key: string): Promise<string | null>;
  gets(key: string): Promise<CasItem | null>;
  /** Stores whatever is there. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Stores only if the key holds nothing; true if it stored. */
  add(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Stores only if the item is unchanged since the `gets` that gave `cas`. */
  cas(key: string, value: string, ttlSeconds: number, cas: string): Promise<'stored' | 'exists' | 'not-found'>;
  /** True if there was an item to delete. */
  delete(key: string): Promise<boolean>;
}

/**
 * The products table of the lab's PostgreSQL: the source of truth behind the caches.
 * A `load` is an expensive query (about 100 ms): that is why there is a cache.
 */
export interface ProductsDb {
  /** The product's current value, or null if there is none. */
  load(id: string): Promise<string | null>;
  /** Writes the product's value; resolves once it is committed. */
  save(id: string, value: string): Promise<void>;
}

export interface Config {
  /** Rate limiter: at most this many requests of one client... */
  readonly limit: number;
  /** ...in any window of this many milliseconds. */
  readonly windowMs: number;
  /** A session ends this long after its last use. */
  readonly sessionTtlMs: number;
  /** A cached product is dropped this long after it was cached, whatever happens. */
  readonly cacheTtlMs: number;
  /**
   * How long your service may wait for Redis within one request. Once a call has waited
   * this long, treat Redis as down for that request: answer without it, as below.
   */
  readonly redisTimeoutMs: number;
  /**
   * What the rate limiter answers when Redis is down: true lets every request through
   * (fail open: availability first), false refuses every one (fail closed: protection first).
   */
  readonly failOpen: boolean;
}

export interface Deps {
  readonly redis: Redis;
  readonly memcached: Memcached;
  readonly db: ProductsDb;
  /** The time, in milliseconds, for the rate limiter's windows. Read it; do not use Date.now(). */
  readonly clock: { now(): number };
  readonly config: Config;
}

/** Login sessions kept in Redis, so that every server of the service sees them. */
export interface Sessions {
  /** Starts a session for `user`; resolves with a new, unguessable session id. */
  login(user: string): Promise<string>;
  /**
   * The session's user, or null if it has ended (logged out, or unused for
   * config.sessionTtlMs). Using a session keeps it alive for another sessionTtlMs. When
   * Redis is down: null (the user logs in again later), within the time limit.
   */
  currentUser(sessionId: string): Promise<string | null>;
  /** Ends the session at once. */
  logout(sessionId: string): Promise<void>;
}

export interface Limiter {
  /**
   * Fixed window: window n is [n × windowMs, (n + 1) × windowMs) on `clock`; at most `limit`
   * requests of one client are admitted in each. True = admitted.
   */
  allowFixed(client: string): Promise<boolean>;
  /**
   * Sliding window: a request at time t is admitted exactly when fewer than `limit` requests
   * of that client were admitted in (t − windowMs, t]. Refused requests do not count.
   */
  allowSliding(client: string): Promise<boolean>;
}

/** A cache-aside cache of the products table. */
export interface ProductCache {
  /**
   * The product's value, from the cache when it is there, else loaded from the database and
   * cached (config.cacheTtlMs). Once an `update` has resolved, no `get` answers an older
   * value. However many `get`s of one uncached product run at once, the database loads it
   * once. When the cache is down: straight from the database, within the time limit.
   */
  get(id: string): Promise<string | null>;
  /** Writes the value to the database, then makes sure no older value is served; resolves when both are done. */
  update(id: string, value: string): Promise<void>;
}
