/**
 * Your service when Redis does not answer: a Redis that never replies (as a paused one)
 * and one whose every call fails (as a killed one), with the products in memory. These
 * tests need no server.
 */
import { describe, expect, it } from 'vitest';
import { allowFixed, allowSliding, currentUser, redisGet } from '../src/service';
import { type Deps, type Redis, RedisError } from '../src/types';
import { TEST_CONFIG } from './stores';

const never = (): Promise<never> => new Promise<never>(() => undefined);
const hanging: Redis = { command: never, eval: never, session: () => ({ command: never, close: () => undefined }) };
const refused = (): Promise<never> => Promise.reject(new RedisError('connect ECONNREFUSED'));
const down: Redis = { command: refused, eval: refused, session: () => ({ command: refused, close: () => undefined }) };

function deps(redis: Redis, failOpen: boolean): Deps {
  const products = new Map([['p1', 'a lamp']]);
  return {
    redis,
    memcached: {
      get: never,
      gets: never,
      set: never,
      add: never,
      cas: never,
      delete: never,
    },
    db: { load: async (id) => products.get(id) ?? null, save: async (id, value) => void products.set(id, value) },
    clock: { now: () => 5_000 },
    config: { ...TEST_CONFIG, redisTimeoutMs: TIMEOUT_MS, failOpen },
  };
}

/** Runs `work` and says how long it took. */
async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

const TIMEOUT_MS = 150;
const LIMIT_MS = TIMEOUT_MS * 2 + 100;

describe('when Redis does not answer', () => {
  it('TODO(1) currentUser answers null within the time limit', async () => {
    for (const redis of [hanging, down]) {
      const { value, ms } = await timed(currentUser(deps(redis, true), 'some-session'));
      expect(value).toBeNull();
      expect(ms).toBeLessThan(LIMIT_MS);
    }
  });

  it('TODO(2) the fixed window answers config.failOpen within the time limit', async () => {
    for (const redis of [hanging, down]) {
      for (const failOpen of [true, false]) {
        const { value, ms } = await timed(allowFixed(deps(redis, failOpen), 'alice'));
        expect(value).toBe(failOpen);
        expect(ms).toBeLessThan(LIMIT_MS);
      }
    }
  });

  it('TODO(3) the sliding window answers config.failOpen within the time limit', async () => {
    for (const redis of [hanging, down]) {
      for (const failOpen of [true, false]) {
        const { value, ms } = await timed(allowSliding(deps(redis, failOpen), 'alice'));
        expect(value).toBe(failOpen);
        expect(ms).toBeLessThan(LIMIT_MS);
      }
    }
  });

  it('TODO(4) the cache answers from the database within the time limit', async () => {
    for (const redis of [hanging, down]) {
      const { value, ms } = await timed(redisGet(deps(redis, true), 'p1'));
      expect(value).toBe('a lamp');
      expect(ms).toBeLessThan(LIMIT_MS);
    }
  });
});
