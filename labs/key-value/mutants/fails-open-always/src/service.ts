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
  const id = newToken();
  await redisCall(deps, 'SET', sessionKey(id), user, 'PX', deps.config.sessionTtlMs);
  return id;
}

export async function currentUser(deps: Deps, sessionId: string): Promise<string | null> {
  try {
    // GETEX reads and renews in one command: the expiry slides with every use.
    const user = await redisCall(deps, 'GETEX', sessionKey(sessionId), 'PX', deps.config.sessionTtlMs);
    return typeof user === 'string' ? user : null;
  } catch {
    return null;
  }
}

export async function logout(deps: Deps, sessionId: string): Promise<void> {
  await redisCall(deps, 'DEL', sessionKey(sessionId));
}

// ─── TODO(2): a fixed-window rate limiter ─────────────────────────────────────────

/** Counts the request and gives a new counter its expiry, in one step: no counter lives for ever. */
const FIXED_WINDOW = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

export async function allowFixed(deps: Deps, client: string): Promise<boolean> {
  const { windowMs, limit, failOpen } = deps.config;
  const window = Math.floor(deps.clock.now() / windowMs);
  try {
    const count = await redisEval(deps, FIXED_WINDOW, [`rate:fixed:${client}:${window}`], [windowMs]);
    return Number(count) <= limit;
  } catch {
    return true;
  }
}

// ─── TODO(3): a sliding-window rate limiter ───────────────────────────────────────

/** The admitted requests of the last window as a sorted set (score = time); counts and adds in one step. */
const SLIDING_WINDOW = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], window)
  return 1
end
return 0`;

export async function allowSliding(deps: Deps, client: string): Promise<boolean> {
  const { windowMs, limit, failOpen } = deps.config;
  const now = deps.clock.now();
  try {
    const admitted = await redisEval(deps, SLIDING_WINDOW, [`rate:sliding:${client}`], [now, windowMs, limit, `${now}:${newToken()}`]);
    return admitted === 1;
  } catch {
    return true;
  }
}

// ─── TODO(4): cache-aside on Redis ────────────────────────────────────────────────

/** How long a loader's lease lasts: past it, another request may load. */
const LEASE_MS = 1_000;
/** How often a request that found another's lease looks again. */
const POLL_MS = 20;

/**
 * The cached value, or else the lease if nobody holds it, in one step: a request that saw
 * a miss and then took a lease the loader had just given up would load a second time.
 */
const GET_OR_LEASE = `
local cached = redis.call('GET', KEYS[1])
if cached then return {'value', cached} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'lease'} end
return {'wait'}`;

/** Caches the loaded value only if this loader's lease is still there: an update since took it away. */
const FILL_IF_LEASED = `
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  redis.call('DEL', KEYS[2])
  return 1
end
return 0`;

const RELEASE_IF_LEASED = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export async function redisGet(deps: Deps, id: string): Promise<string | null> {
  const deadline = Date.now() + LEASE_MS + 500;
  try {
    while (Date.now() < deadline) {
      const token = newToken();
      const [state, cached] = (await redisEval(deps, GET_OR_LEASE, [productKey(id), leaseKey(id)], [token, LEASE_MS])) as [string, string | undefined];
      if (state === 'value') return cached ?? null;
      if (state === 'lease') {
        const value = await deps.db.load(id);
        if (value === null) await redisEval(deps, RELEASE_IF_LEASED, [leaseKey(id)], [token]);
        else await redisEval(deps, FILL_IF_LEASED, [productKey(id), leaseKey(id)], [token, value, deps.config.cacheTtlMs]);
        return value;
      }
      await sleep(POLL_MS);
    }
  } catch (error) {
    if (!(error instanceof Error) || (error.name !== 'TimeoutError' && error.name !== 'RedisError')) throw error;
  }
  // Redis is down, or the loader never finished: the database answers.
  return deps.db.load(id);
}

export async function redisUpdate(deps: Deps, id: string, value: string): Promise<void> {
  await deps.db.save(id, value);
  // The value and any loader's lease go together: a load that began before this write
  // finds its lease gone and does not cache what it read.
  await redisCall(deps, 'DEL', productKey(id), leaseKey(id));
}

// ─── TODO(5): the same cache on Memcached ─────────────────────────────────────────

/** Values and leases share the product's key: a value is "=…", a lease "?token". */
const VALUE = '=';
const LEASE = '?';
const LEASE_SECONDS = 2;

export async function memcachedGet(deps: Deps, id: string): Promise<string | null> {
  const { memcached } = deps;
  const key = productKey(id);
  const ttlSeconds = Math.max(1, Math.ceil(deps.config.cacheTtlMs / 1000));
  const deadline = Date.now() + LEASE_SECONDS * 1000 + 500;
  while (Date.now() < deadline) {
    const held = await memcached.get(key);
    if (held !== null && held.startsWith(VALUE)) return held.slice(VALUE.length);
    if (held === null) {
      const token = `${LEASE}${newToken()}`;
      if (await memcached.add(key, token, LEASE_SECONDS)) {
        // The lease's CAS unique: storing over it succeeds only if nobody deleted or replaced it.
        const lease = await memcached.gets(key);
        const value = await deps.db.load(id);
        if (lease !== null && lease.value === token) {
          if (value !== null) await memcached.cas(key, `${VALUE}${value}`, ttlSeconds, lease.cas);
          else if ((await memcached.gets(key))?.cas === lease.cas) await memcached.delete(key);
        }
        return value;
      }
    }
    await sleep(POLL_MS);
  }
  return deps.db.load(id);
}

export async function memcachedUpdate(deps: Deps, id: string, value: string): Promise<void> {
  await deps.db.save(id, value);
  await deps.memcached.delete(productKey(id));
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
