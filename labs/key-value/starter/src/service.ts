/**
 * A web service's three uses of a key-value store: login sessions, a rate limiter and a
 * cache of its products table (on Redis, and the same cache on Memcached).
 *
 * Replace each `throw new Error('TODO(n) ...')` with your code, in order: the tests named
 * TODO(n) pass once TODO(n) is done. README.md explains each pattern; src/types.ts is the
 * contract with the grader. The grader runs many requests at once, kills your process
 * between two Redis commands, and pauses, kills and cuts off Redis: every read-modify-write
 * must be atomic, and every call to Redis must have a time limit.
 */
import { randomBytes } from 'node:crypto';
import type { Deps, Limiter, ProductCache, Reply, Sessions } from './types';

// ─── Given: time limits, tokens, keys ─────────────────────────────────────────────

/** What `withTimeout` rejects with when the call did not answer in time. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** `promise`, or a TimeoutError once `ms` have passed without an answer. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** One Redis command with the service's time limit. */
export function redisCall(deps: Deps, ...args: (string | number)[]): Promise<Reply> {
  return withTimeout(deps.redis.command(...args), deps.config.redisTimeoutMs, `Redis ${String(args[0])}`);
}

/** One Lua script with the service's time limit. */
export function redisEval(deps: Deps, script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<Reply> {
  return withTimeout(deps.redis.eval(script, keys, args), deps.config.redisTimeoutMs, 'Redis EVAL');
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A random, unguessable token (144 bits). */
export const newToken = (): string => randomBytes(18).toString('base64url');

const sessionKey = (id: string): string => `session:${id}`;
const productKey = (id: string): string => `product:${id}`;
const leaseKey = (id: string): string => `product:${id}:lease`;

// ─── TODO(1): sessions ────────────────────────────────────────────────────────────

export async function login(deps: Deps, user: string): Promise<string> {
  // TODO(1): A new session id (newToken()), stored under sessionKey(id) with the user as
  // its value and an expiry of config.sessionTtlMs milliseconds (SET ... PX).
  throw new Error('TODO(1): login is not written yet');
}

export async function currentUser(deps: Deps, sessionId: string): Promise<string | null> {
  // TODO(1): The session's user, renewing its expiry in the same step (GETEX ... PX), or
  // null when there is none. When Redis fails or does not answer in time: null.
  throw new Error('TODO(1): currentUser is not written yet');
}

export async function logout(deps: Deps, sessionId: string): Promise<void> {
  // TODO(1): Ends this session at once.
  throw new Error('TODO(1): logout is not written yet');
}

// ─── TODO(2): a fixed-window rate limiter ─────────────────────────────────────────

export async function allowFixed(deps: Deps, client: string): Promise<boolean> {
  // TODO(2): Count the request in its client's counter for window
  // floor(deps.clock.now() / windowMs), and admit it while the count is at most the limit.
  // Counting and giving a new counter its expiry must be one atomic step (redisEval with a
  // Lua script, or MULTI / EXEC): the grader kills the process between two commands.
  // When Redis fails or does not answer in time: config.failOpen.
  throw new Error('TODO(2): allowFixed is not written yet');
}

// ─── TODO(3): a sliding-window rate limiter ───────────────────────────────────────

export async function allowSliding(deps: Deps, client: string): Promise<boolean> {
  // TODO(3): Keep the times of the client's admitted requests (a sorted set, score = time);
  // in one Lua script drop those <= now - windowMs, count the rest, and add this request
  // only if the count is below the limit. Refused requests are not added.
  // When Redis fails or does not answer in time: config.failOpen.
  throw new Error('TODO(3): allowSliding is not written yet');
}

// ─── TODO(4): cache-aside on Redis ────────────────────────────────────────────────

/** How long a loader's lease lasts: past it, another request may load. */
const LEASE_MS = 1_000;
/** How often a request that found another's lease looks again. */
const POLL_MS = 20;

export async function redisGet(deps: Deps, id: string): Promise<string | null> {
  // TODO(4): productKey(id) from the cache if it is there. On a miss, one request loads:
  // the one that takes the lease (SET leaseKey(id) token NX PX LEASE_MS), in the same Lua
  // script as the look in the cache (else a request that missed just before the value was
  // cached takes the lease the loader gave up, and loads again). It loads from deps.db and
  // caches the value (PX config.cacheTtlMs) only if its lease is still there (a Lua script
  // that compares and sets); the others sleep(POLL_MS) and look again.
  // When Redis fails or does not answer in time: deps.db.load(id).
  throw new Error('TODO(4): redisGet is not written yet');
}

export async function redisUpdate(deps: Deps, id: string, value: string): Promise<void> {
  // TODO(4): The database first, then delete the cached value and the lease together.
  throw new Error('TODO(4): redisUpdate is not written yet');
}

// ─── TODO(5): the same cache on Memcached ─────────────────────────────────────────

export async function memcachedGet(deps: Deps, id: string): Promise<string | null> {
  // TODO(5): The same cache with Memcached's operations: a value and a lease share
  // productKey(id) (tell them apart, e.g. "=value" and "?token"). On a miss, add the lease
  // (only one request's add succeeds), gets it for its CAS unique, load, then cas the
  // value: it fails if an update deleted the key meanwhile. Expiries are whole seconds.
  throw new Error('TODO(5): memcachedGet is not written yet');
}

export async function memcachedUpdate(deps: Deps, id: string, value: string): Promise<void> {
  // TODO(5): The database first, then delete the key.
  throw new Error('TODO(5): memcachedUpdate is not written yet');
}

// ─── The service (given) ──────────────────────────────────────────────────────────

export function createSessions(deps: Deps): Sessions {
  return {
    login: (user) => login(deps, user),
    currentUser: (sessionId) => currentUser(deps, sessionId),
    logout: (sessionId) => logout(deps, sessionId),
  };
}

export function createLimiter(deps: Deps): Limiter {
  return {
    allowFixed: (client) => allowFixed(deps, client),
    allowSliding: (client) => allowSliding(deps, client),
  };
}

export function createRedisCache(deps: Deps): ProductCache {
  return { get: (id) => redisGet(deps, id), update: (id, value) => redisUpdate(deps, id, value) };
}

export function createMemcachedCache(deps: Deps): ProductCache {
  return { get: (id) => memcachedGet(deps, id), update: (id, value) => memcachedUpdate(deps, id, value) };
}
