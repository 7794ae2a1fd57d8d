/**
 * The rate limiters on the lab's Redis (database 1): 10 requests per 1000 ms, the clock
 * moved by hand. Skipped, saying why, when the lab's databases are not running.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLimiter } from '../src/service';
import { NO_SERVERS, type TestWorld, makeWorld } from './stores';

let world: TestWorld;

async function keysWithoutExpiry(): Promise<string[]> {
  const keys = (await world.redis.command('KEYS', '*')) as string[];
  const forever: string[] = [];
  for (const key of keys) if ((await world.redis.command('PTTL', key)) === -1) forever.push(key);
  return forever;
}

const admitted = (answers: boolean[]): number => answers.filter(Boolean).length;

describe.skipIf(NO_SERVERS !== undefined)(`rate limiters${NO_SERVERS !== undefined ? ` (skipped: ${NO_SERVERS})` : ''}`, () => {
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  it('TODO(2) the fixed window admits exactly the limit of 30 requests at once', async () => {
    const limiter = createLimiter(world.deps);
    world.clock.set(10_000);
    expect(admitted(await Promise.all(Array.from({ length: 30 }, () => limiter.allowFixed('alice'))))).toBe(10);
    expect(await limiter.allowFixed('bob')).toBe(true);
    expect(await keysWithoutExpiry()).toEqual([]);
  });

  it('TODO(2) the next window starts again from zero', async () => {
    const limiter = createLimiter(world.deps);
    world.clock.set(20_000);
    for (let i = 0; i < 12; i++) await limiter.allowFixed('alice');
    world.clock.set(20_999);
    expect(await limiter.allowFixed('alice')).toBe(false);
    world.clock.set(21_000);
    expect(admitted(await Promise.all(Array.from({ length: 12 }, () => limiter.allowFixed('alice'))))).toBe(10);
  });

  it('TODO(3) the sliding window admits at most the limit within any window, and refused requests do not count', async () => {
    const limiter = createLimiter(world.deps);
    world.clock.set(50_000);
    expect(admitted(await Promise.all(Array.from({ length: 30 }, () => limiter.allowSliding('alice'))))).toBe(10);
    world.clock.set(50_600);
    expect(admitted(await Promise.all(Array.from({ length: 5 }, () => limiter.allowSliding('alice'))))).toBe(0);
    // Past a window after the first burst: the refused requests at 50 600 do not count.
    world.clock.set(51_001);
    expect(admitted(await Promise.all(Array.from({ length: 12 }, () => limiter.allowSliding('alice'))))).toBe(10);
    expect(await keysWithoutExpiry()).toEqual([]);
  });

  it('TODO(3) half the limit now and half later: once the first half leaves the window, half is free', async () => {
    const limiter = createLimiter(world.deps);
    world.clock.set(80_000);
    for (let i = 0; i < 5; i++) expect(await limiter.allowSliding('bob')).toBe(true);
    world.clock.set(80_500);
    for (let i = 0; i < 5; i++) expect(await limiter.allowSliding('bob')).toBe(true);
    expect(await limiter.allowSliding('bob')).toBe(false);
    world.clock.set(81_000);
    expect(admitted(await Promise.all(Array.from({ length: 8 }, () => limiter.allowSliding('bob'))))).toBe(5);
  });
});
