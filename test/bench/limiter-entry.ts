/**
 * What the limiter benchmark (test/bench/limiter.mjs) runs, bundled by esbuild at bench
 * start: the project's RESP client, the in-process Redis stand-in, and a `Redis` as the
 * grader's adapter hands it to a learner's code, for the Key-Value lab's reference limiters
 * (labs/key-value/solution/src/service.ts, bundled apart over the starter's types).
 */
import { RespClient, RespError, type RespValue } from '../../src/core/services/resp';
import type { Deps, Redis, Reply } from '../../labs/key-value/starter/src/types';

export { InProcessRedis } from '../../src/core/services/inProcessRedis';
export { RespClient };

function reply(value: RespValue): Reply {
  if (value instanceof RespError) throw new Error(value.message);
  if (Array.isArray(value)) return value.map(reply);
  return value;
}

/** A `Redis` on one client, as the adapter makes it. */
export function redisOf(client: RespClient): Redis {
  return {
    command: async (...args) => reply(await client.command(args.map(String))),
    eval: async (script, keys, args) => reply(await client.command(['EVAL', script, String(keys.length), ...keys, ...args.map(String)])),
    session: () => {
      throw new Error('the reference limiters use no session');
    },
  };
}

/** The reference's fixed and sliding windows, with a limit no request reaches (each call does its full work). */
type Limit = (deps: Deps, client: string) => Promise<boolean>;

export function limiters(redis: Redis, reference: { allowFixed: Limit; allowSliding: Limit }): { fixed(client: string): Promise<boolean>; sliding(client: string): Promise<boolean> } {
  let now = 1_000_000_000;
  const deps = {
    redis,
    memcached: undefined as unknown as Deps['memcached'],
    db: undefined as unknown as Deps['db'],
    // Each request a millisecond later, so the sliding window's log holds one entry per request of the last second.
    clock: { now: () => now++ },
    config: { limit: 1_000_000_000, windowMs: 1_000, sessionTtlMs: 1_000, cacheTtlMs: 1_000, redisTimeoutMs: 5_000, failOpen: true },
  } satisfies Deps;
  return { fixed: (c) => reference.allowFixed(deps, c), sliding: (c) => reference.allowSliding(deps, c) };
}
