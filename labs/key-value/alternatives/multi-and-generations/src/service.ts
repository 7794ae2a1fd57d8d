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
import type { Deps, Limiter, ProductCache, RedisSession, Reply, Sessions } from './types';

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

const sessionKey = (id: string): string => `sess:${id}`;
const productKey = (id: string): string => `product:${id}`;

// ─── TODO(1): sessions ────────────────────────────────────────────────────────────

export async function login(deps: Deps, user: string): Promise<string> {
  const id = newToken();
  await redisCall(deps, 'SET', sessionKey(id), user, 'PX', deps.config.sessionTtlMs);
  return id;
}

/** Runs `commands` in MULTI / EXEC on a session of its own, and answers EXEC's replies (null when it aborted). */
async function transaction(deps: Deps, commands: readonly (readonly (string | number)[])[], watch: readonly string[] = [], prepare?: (s: RedisSession) => Promise<boolean>): Promise<Reply[] | null | 'skipped'> {
  const session = deps.redis.session();
  const send = (...args: (string | number)[]): Promise<Reply> => withTimeout(session.command(...args), deps.config.redisTimeoutMs, `Redis ${String(args[0])}`);
  try {
    if (watch.length > 0) await send('WATCH', ...watch);
    if (prepare !== undefined && !(await prepare(session))) return 'skipped';
    await send('MULTI');
    for (const c of commands) await send(...c);
    const replies = await send('EXEC');
    return Array.isArray(replies) ? replies : null;
  } finally {
    session.close();
  }
}

export async function currentUser(deps: Deps, sessionId: string): Promise<string | null> {
  try {
    const replies = await transaction(deps, [
      ['GET', sessionKey(sessionId)],
      ['PEXPIRE', sessionKey(sessionId), deps.config.sessionTtlMs],
    ]);
    const user = Array.isArray(replies) ? replies[0] : null;
    return typeof user === 'string' ? user : null;
  } catch {
    return null;
  }
}

export async function logout(deps: Deps, sessionId: string): Promise<void> {
  await redisCall(deps, 'UNLINK', sessionKey(sessionId));
}

// ─── TODO(2): a fixed-window rate limiter ─────────────────────────────────────────

export async function allowFixed(deps: Deps, client: string): Promise<boolean> {
  const { windowMs, limit, failOpen } = deps.config;
  const key = `limit:${client}:${Math.floor(deps.clock.now() / windowMs)}`;
  try {
    // The counter is born with its expiry (SET NX PX): INCR then only counts.
    await redisCall(deps, 'SET', key, 0, 'NX', 'PX', windowMs);
    return Number(await redisCall(deps, 'INCR', key)) <= limit;
  } catch {
    return failOpen;
  }
}

// ─── TODO(3): a sliding-window rate limiter ───────────────────────────────────────

export async function allowSliding(deps: Deps, client: string): Promise<boolean> {
  const { windowMs, limit, failOpen } = deps.config;
  const key = `log:${client}`;
  const now = deps.clock.now();
  try {
    // Optimistic: count under WATCH, add in MULTI / EXEC, and count again when another request got in first.
    for (;;) {
      let full = false;
      const replies = await transaction(
        deps,
        [
          ['ZADD', key, now, `${now}-${newToken()}`],
          ['ZREMRANGEBYSCORE', key, '-inf', now - windowMs],
          ['PEXPIRE', key, windowMs],
        ],
        [key],
        async (session) => {
          const inWindow = await withTimeout(session.command('ZCOUNT', key, `(${now - windowMs}`, '+inf'), deps.config.redisTimeoutMs, 'Redis ZCOUNT');
          full = Number(inWindow) >= limit;
          return !full;
        },
      );
      if (full || replies === 'skipped') return false;
      if (replies !== null) return true;
    }
  } catch {
    return failOpen;
  }
}

// ─── TODO(4): cache-aside on Redis ────────────────────────────────────────────────

/** How long a loader's lock lasts: past it, another request may load. */
const LOCK_MS = 2_000;
/** How often a request that found another's lock looks again. */
const POLL_MS = 20;

/** Caches the loaded value only if no update bumped the product's generation since the load began. */
const FILL_IF_SAME_GENERATION = `
local generation = redis.call('GET', KEYS[2]) or '0'
if generation == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
if redis.call('GET', KEYS[3]) == ARGV[4] then redis.call('DEL', KEYS[3]) end
return generation == ARGV[1] and 1 or 0`;

const generationKey = (id: string): string => `product:${id}:generation`;
const lockKey = (id: string): string => `product:${id}:loading`;

export async function redisGet(deps: Deps, id: string): Promise<string | null> {
  const give = Date.now() + LOCK_MS + 500;
  try {
    while (Date.now() < give) {
      const cached = await redisCall(deps, 'GET', productKey(id));
      if (typeof cached === 'string') return cached;
      const token = newToken();
      if ((await redisCall(deps, 'SET', lockKey(id), token, 'NX', 'PX', LOCK_MS)) !== 'OK') {
        await sleep(POLL_MS);
        continue;
      }
      // Looked again with the lock held: the loader before may have cached it since the miss.
      const since = await redisCall(deps, 'GET', productKey(id));
      if (typeof since === 'string') {
        await redisCall(deps, 'DEL', lockKey(id));
        return since;
      }
      const generation = String((await redisCall(deps, 'GET', generationKey(id))) ?? '0');
      const value = await deps.db.load(id);
      if (value !== null) await redisEval(deps, FILL_IF_SAME_GENERATION, [productKey(id), generationKey(id), lockKey(id)], [generation, value, deps.config.cacheTtlMs, token]);
      else await redisCall(deps, 'DEL', lockKey(id));
      return value;
    }
  } catch (error) {
    if (!(error instanceof Error) || (error.name !== 'TimeoutError' && error.name !== 'RedisError')) throw error;
  }
  return deps.db.load(id);
}

export async function redisUpdate(deps: Deps, id: string, value: string): Promise<void> {
  await deps.db.save(id, value);
  // A new generation: a load that began before this write will not cache what it read.
  const replies = await transaction(deps, [
    ['INCR', generationKey(id)],
    ['PEXPIRE', generationKey(id), Math.max(deps.config.cacheTtlMs, LOCK_MS) * 2],
    ['DEL', productKey(id)],
  ]);
  if (!Array.isArray(replies)) throw new Error(`The cached copy of ${id} could not be dropped.`);
}

// ─── TODO(5): the same cache on Memcached ─────────────────────────────────────────

/** An invalidated key holds "!" for a moment; a loader's claim "?token"; a value "=value". */
const STALE = '!';
const CLAIM = '?';
const CLAIM_SECONDS = 2;

export async function memcachedGet(deps: Deps, id: string): Promise<string | null> {
  const { memcached } = deps;
  const key = productKey(id);
  const ttlSeconds = Math.max(1, Math.ceil(deps.config.cacheTtlMs / 1000));
  const give = Date.now() + CLAIM_SECONDS * 1000 + 500;
  while (Date.now() < give) {
    const item = await memcached.gets(key);
    if (item !== null && item.value.startsWith('=')) return item.value.slice(1);
    if (item === null || item.value === STALE) {
      const claim = `${CLAIM}${newToken()}`;
      // Claim the empty or invalidated key: add on an empty one, cas on an invalidated one. One request wins.
      const claimed = item === null ? await memcached.add(key, claim, CLAIM_SECONDS) : (await memcached.cas(key, claim, CLAIM_SECONDS, item.cas)) === 'stored';
      if (claimed) {
        const mine = await memcached.gets(key);
        const value = await deps.db.load(id);
        // An update since marked the key again, and changed its CAS unique: then nothing is cached.
        if (mine !== null && mine.value === claim) {
          if (value !== null) await memcached.cas(key, `=${value}`, ttlSeconds, mine.cas);
          else await memcached.cas(key, STALE, 1, mine.cas);
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
  // Marked, not deleted: the marker's new CAS unique makes a loader's cas fail.
  await deps.memcached.set(productKey(id), STALE, CLAIM_SECONDS);
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
