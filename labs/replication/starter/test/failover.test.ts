/**
 * TODO(5) and TODO(6): failover, and synchronous replication. The failover test promotes the
 * standby; at its end the old primary is made a standby of the new one with your
 * setUpStandby, so the lab is a working pair again (the two servers have swapped roles; the
 * tests ask the servers which is which).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ReadRouter, failover, setSynchronous, setUpStandby } from '../src/replication';
import { ENDPOINTS, type Pair, REPLICATION, caughtUp, cutOff, openPair, pairWithStandby, testTable } from './servers';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the primary's WAL sender to the standby is in this sync_state ('sync' or 'async'). */
async function syncState(pair: Pair, wanted: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await pair.primary.db.query<{ sync_state: string }>('SELECT sync_state FROM pg_stat_replication');
    if (r.rows.length === 1 && r.rows[0]!.sync_state === wanted) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`pg_stat_replication.sync_state is ${JSON.stringify(r.rows.map((x) => x.sync_state))}, not ${wanted}, 10 s after setSynchronous`);
    }
    await sleep(50);
  }
}

const servers = pairWithStandby(setUpStandby);
afterAll(async () => {
  await servers.close();
});

describe.skipIf(ENDPOINTS === undefined)('TODO(5) failover', () => {
  it('TODO(5) promotes the standby, fences the old primary, and reports the acknowledged writes it lost', { timeout: 180_000 }, async () => {
    const pair = await servers.get();
    const table = await testTable(pair);
    const router = new ReadRouter(pair.primary, pair.standby, { maxWaitMs: 300, standbyTimeoutMs: 500 });
    const session = router.session();
    const insert = `INSERT INTO ${table} (key, value) VALUES ($1, $2)`;
    await session.write(insert, ['kept', 1]);
    await caughtUp(pair);
    // The standby is cut off: from now on the primary acknowledges writes the standby never receives.
    await cutOff(pair);
    await session.write(insert, ['lost-1', 2]);
    await session.write(insert, ['lost-2', 3]);
    // Then the primary hangs: time to fail over.
    await pair.primary.admin.pause();
    const report = await failover(router, pair.primary, pair.standby);

    expect(report.lostWrites.map((w) => w.params), 'the two writes acknowledged while the standby hung, and only those').toEqual([
      ['lost-1', 2],
      ['lost-2', 3],
    ]);
    const promoted = await pair.standby.db.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    expect(promoted.rows[0]!.recovery, 'the standby is promoted').toBe(false);
    expect((await pair.standby.db.query(`SELECT key FROM ${table} ORDER BY key`)).rows, 'the new primary has what it had received').toEqual([{ key: 'kept' }]);
    // Fenced: the old primary, running again (a hung machine wakes up), takes no write from anyone.
    await pair.primary.admin.unpause();
    await expect(pair.primary.db.query(insert, ['split-brain', 4]), 'a write on the old primary after the failover').rejects.toThrow();
    // The router writes and reads on the new primary.
    await session.write(insert, ['after', 5]);
    expect(await session.read(`SELECT key FROM ${table} WHERE key = 'after'`)).toMatchObject({ from: 'primary', rows: [{ key: 'after' }] });

    // The lab is a pair again: the old primary becomes a standby of the new one.
    await pair.primary.admin.start();
    await setUpStandby(pair.standby, pair.primary, REPLICATION);
    const again = await openPair();
    try {
      expect(again.primary.name).toBe(pair.standby.name);
      await caughtUp(again);
      expect((await again.standby.db.query(`SELECT key FROM ${table} ORDER BY key`)).rows).toEqual([{ key: 'after' }, { key: 'kept' }]);
      await again.primary.db.exec(`DROP TABLE ${table}`);
    } finally {
      await again.close();
    }
  });
});

describe.skipIf(ENDPOINTS === undefined)('TODO(6) synchronous replication', () => {
  it('TODO(6) with remote_apply a commit returns once the standby applied it, and waits while the standby hangs; without, it does not wait', { timeout: 120_000 }, async () => {
    const p = await openPair();
    try {
      await setUpStandby(p.primary, p.standby, REPLICATION);
      const table = await testTable(p);
      const insert = `INSERT INTO ${table} (key, value) VALUES ($1, $2)`;
      await setSynchronous(p.primary, true);
      try {
        await syncState(p, 'sync');
        for (let i = 0; i < 5; i++) {
          await p.primary.db.query(insert, [`applied-${i}`, i]);
          const seen = await p.standby.db.query(`SELECT 1 FROM ${table} WHERE key = $1`, [`applied-${i}`]);
          expect(seen.rows, 'on the standby as soon as the commit returned').toHaveLength(1);
        }
        await p.standby.admin.pause();
        const pending = p.primary.db.query(insert, ['waiting', 9]);
        const state = await Promise.race([pending.then(() => 'returned', () => 'failed'), sleep(1_500).then(() => 'waiting')]);
        expect(state, 'a commit while the standby hangs').toBe('waiting');
        await p.standby.admin.unpause();
        await pending;
      } finally {
        await p.standby.admin.unpause();
        await setSynchronous(p.primary, false);
      }
      await syncState(p, 'async');
      await p.standby.admin.pause();
      try {
        const started = Date.now();
        await p.primary.db.query(insert, ['async', 10]);
        expect(Date.now() - started, 'asynchronous again: the commit does not wait for the standby').toBeLessThan(1_500);
      } finally {
        await p.standby.admin.unpause();
      }
      await caughtUp(p);
      await p.primary.db.exec(`DROP TABLE ${table}`);
    } finally {
      await p.close();
    }
  });
});
