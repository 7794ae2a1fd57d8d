/**
 * TODO(4): the read router. Lag is made for real: the standby's replay paused, its container
 * paused (a hung machine) or stopped.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReadRouter, setUpStandby } from '../src/replication';
import type { RouterOptions } from '../src/types';
import { ENDPOINTS, type Pair, caughtUp, pairWithStandby, pauseReplay, resumeReplay, testTable } from './servers';

const OPTIONS: RouterOptions = { maxWaitMs: 300, standbyTimeoutMs: 500 };

const servers = pairWithStandby(setUpStandby);
let current: Pair | undefined;
let table = '';
beforeEach(async () => {
  current = await servers.get();
  if (table === '') {
    table = await testTable(current);
  }
});
afterEach(async () => {
  if (current !== undefined) {
    await current.standby.admin.start();
    await resumeReplay(current);
    await caughtUp(current);
  }
}, 60_000);
afterAll(async () => {
  if (current !== undefined && table !== '') {
    await current.primary.db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  }
  await servers.close();
});

/** The pair, once beforeEach has opened it. */
function the(): Pair {
  if (current === undefined) {
    throw new Error('the servers are not open');
  }
  return current;
}

const select = (key: string): [string, string[]] => [`SELECT value FROM ${table} WHERE key = $1`, [key]];
const upsert = (key: string, value: number): [string, unknown[]] => [`INSERT INTO ${table} (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [key, value]];

describe.skipIf(ENDPOINTS === undefined)('TODO(4) the read router', () => {
  it('TODO(4) with the standby caught up, reads go to the standby and writes to the primary', async () => {
    const pair = the();
    const router = new ReadRouter(pair.primary, pair.standby, OPTIONS);
    const session = router.session();
    await session.write(...upsert('fresh', 1));
    await caughtUp(pair);
    const read = await session.read<{ value: number }>(...select('fresh'));
    expect(read).toMatchObject({ from: 'standby', rows: [{ value: 1 }] });
    expect((await router.session().read(...select('fresh'))).from).toBe('standby');
  });

  it('TODO(4) read-your-writes: a session reads its own write even while the standby is behind', async () => {
    const pair = the();
    const router = new ReadRouter(pair.primary, pair.standby, OPTIONS);
    const writer = router.session();
    await writer.write(...upsert('mine', 1));
    await caughtUp(pair);
    await pauseReplay(pair);
    await writer.write(...upsert('mine', 2));
    const started = Date.now();
    const read = await writer.read<{ value: number }>(...select('mine'));
    expect(read.rows).toEqual([{ value: 2 }]);
    expect(read.from, 'the standby has not replayed the write: the primary answers').toBe('primary');
    expect(Date.now() - started, 'after waiting at most maxWaitMs for the standby').toBeLessThan(OPTIONS.maxWaitMs + 1_000);
    // Another session never wrote: the standby is fresh enough for it, stale as it is.
    const other = await router.session().read<{ value: number }>(...select('mine'));
    expect(other).toMatchObject({ from: 'standby', rows: [{ value: 1 }] });
  });

  it('TODO(4) a read waits for the standby when it catches up within maxWaitMs', async () => {
    const pair = the();
    const router = new ReadRouter(pair.primary, pair.standby, { ...OPTIONS, maxWaitMs: 5_000 });
    const writer = router.session();
    await pauseReplay(pair);
    await writer.write(...upsert('soon', 1));
    setTimeout(() => void resumeReplay(pair), 200);
    const read = await writer.read<{ value: number }>(...select('soon'));
    expect(read).toMatchObject({ from: 'standby', rows: [{ value: 1 }] });
  });

  it('TODO(4) monotonic reads: after reading a newer value on the primary, a session never reads an older one', async () => {
    const pair = the();
    const router = new ReadRouter(pair.primary, pair.standby, OPTIONS);
    await pair.primary.db.query(...upsert('news', 1));
    await caughtUp(pair);
    await pauseReplay(pair);
    await pair.primary.db.query(...upsert('news', 2));
    const reader = router.session();
    await pair.standby.admin.pause();
    const first = await reader.read<{ value: number }>(...select('news'));
    expect(first, 'the standby answers nothing: the primary does').toMatchObject({ from: 'primary', rows: [{ value: 2 }] });
    await pair.standby.admin.unpause();
    const second = await reader.read<{ value: number }>(...select('news'));
    expect(second.rows, 'the standby is still at 1: this session has seen 2').toEqual([{ value: 2 }]);
    expect(second.from).toBe('primary');
  });

  it('TODO(4) a paused standby: the read goes to the primary within standbyTimeoutMs', async () => {
    const pair = the();
    const router = new ReadRouter(pair.primary, pair.standby, OPTIONS);
    await pair.primary.db.query(...upsert('hung', 7));
    await caughtUp(pair);
    await pair.standby.admin.pause();
    const started = Date.now();
    const read = await router.session().read<{ value: number }>(...select('hung'));
    expect(read).toMatchObject({ from: 'primary', rows: [{ value: 7 }] });
    expect(Date.now() - started).toBeLessThan(OPTIONS.standbyTimeoutMs * 3 + 1_000);
  });

  it('TODO(4) a stopped standby: reads go to the primary', { timeout: 60_000 }, async () => {
    const pair = the();
    const router = new ReadRouter(pair.primary, pair.standby, OPTIONS);
    await pair.primary.db.query(...upsert('down', 3));
    await caughtUp(pair);
    await pair.standby.admin.stop();
    const session = router.session();
    for (let i = 0; i < 3; i++) {
      expect(await session.read<{ value: number }>(...select('down'))).toMatchObject({ from: 'primary', rows: [{ value: 3 }] });
    }
  });
});
