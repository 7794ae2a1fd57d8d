/**
 * The product cache on the lab's Redis (database 1) and Memcached, over a products table in
 * the lab's PostgreSQL; a load takes 50 ms more than its query. Skipped, saying why, when
 * the lab's databases are not running.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemcachedCache, createRedisCache } from '../src/service';
import type { ProductCache } from '../src/types';
import { NO_SERVERS, type TestWorld, makeWorld } from './stores';

let world: TestWorld;

const CACHES: readonly { readonly name: string; readonly todo: number; readonly make: (w: TestWorld) => ProductCache }[] = [
  { name: 'Redis', todo: 4, make: (w) => createRedisCache(w.deps) },
  { name: 'Memcached', todo: 5, make: (w) => createMemcachedCache(w.deps) },
];

describe.skipIf(NO_SERVERS !== undefined)(`the product cache${NO_SERVERS !== undefined ? ` (skipped: ${NO_SERVERS})` : ''}`, () => {
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  for (const { name, todo, make } of CACHES) {
    it(`TODO(${todo}) ${name}: a value is loaded once, then served from the cache; an update is read at once`, async () => {
      const cache = make(world);
      await world.seed('p1', 'lamp');
      expect(await cache.get('p1')).toBe('lamp');
      expect(await cache.get('p1')).toBe('lamp');
      expect(world.loads.get('p1')).toBe(1);
      await cache.update('p1', 'red lamp');
      expect(await cache.get('p1')).toBe('red lamp');
      expect(await cache.get('missing')).toBeNull();
    });

    it(`TODO(${todo}) ${name}: 20 misses at once load the database once`, async () => {
      const cache = make(world);
      await world.seed('hot', 'kettle');
      const answers = await Promise.all(Array.from({ length: 20 }, () => cache.get('hot')));
      expect(new Set(answers)).toEqual(new Set(['kettle']));
      expect(world.loads.get('hot')).toBe(1);
    });

    it(`TODO(${todo}) ${name}: a load that read before an update does not cache the old value`, async () => {
      const cache = make(world);
      await world.seed('p2', 'chair');
      const held = world.holdLoad('p2');
      const racing = cache.get('p2');
      // Once the load has read (or get has ended without loading).
      await Promise.race([held.reached, racing]);
      // The load has read 'chair'; the update writes and invalidates before it caches.
      await cache.update('p2', 'blue chair');
      held.release();
      await racing;
      expect(await cache.get('p2')).toBe('blue chair');
    });
  }
});
