/**
 * The in-process Memcached stand-in (src/core/services/inProcessMemcached.ts) through the
 * project's own client (memcache.ts): the commands the Key-Value lab uses, check-and-set,
 * and expiry on its clock. test/docker/memcached.test.ts runs the same client on the real server.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { InProcessMemcached } from '../../src/core/services/inProcessMemcached';
import { MemcacheClient, MemcacheError } from '../../src/core/services/memcache';

let now = 1_700_000_000_000;
let server: InProcessMemcached;
let client: MemcacheClient;

beforeEach(async () => {
  server = await InProcessMemcached.start('stand-in', () => now);
  client = new MemcacheClient(server, 1_000, 'stand-in');
});
afterEach(async () => {
  client.close();
  await server.close();
});

it('stores, adds only to an empty key, and refuses a cas after the item changed or went', async () => {
  expect(await client.get('k')).toBeNull();
  await client.set('k', 'héllo', 60);
  expect(await client.get('k')).toBe('héllo');
  expect(await client.add('k', 'other', 60)).toBe(false);
  expect(await client.add('lease', '?t', 2)).toBe(true);
  const item = await client.gets('k');
  expect(await client.cas('k', 'v2', 60, item?.cas ?? '')).toBe('stored');
  expect(await client.cas('k', 'v3', 60, item?.cas ?? '')).toBe('exists');
  expect(await client.delete('k')).toBe(true);
  expect(await client.delete('k')).toBe(false);
  expect(await client.cas('k', 'v4', 60, item?.cas ?? '')).toBe('not-found');
  await client.set('n', '41', 0);
  expect(await client.incr('n', 1)).toBe(42);
  expect(await client.incr('none')).toBeNull();
  await client.flushAll();
  expect(await client.get('n')).toBeNull();
  await expect(client.get('a key')).rejects.toThrow(MemcacheError);
});

it('forgets an item once its seconds have passed, and touch renews them', async () => {
  await client.set('short', 'x', 2);
  await client.set('kept', 'y', 2);
  await client.set('forever', 'z', 0);
  now += 1_500;
  expect(await client.touch('kept', 2)).toBe(true);
  now += 600;
  expect(await client.get('short')).toBeNull();
  expect(await client.get('kept')).toBe('y');
  expect(await client.add('short', 'again', 1)).toBe(true);
  now += 10_000_000;
  expect(await client.get('kept')).toBeNull();
  expect(await client.get('forever')).toBe('z');
});

it('answers 20 requests at once on their own connections', async () => {
  const values = await Promise.all(Array.from({ length: 20 }, (_, i) => client.set(`p${i}`, `v${i}`, 60).then(() => client.get(`p${i}`))));
  expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
});
