/**
 * TODO(3): the lag, made for real by pausing the standby's replay (WAL still arrives, none
 * of it is applied), and compared with the tests' own measurement.
 */
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { parseLsn, replicationLag, setUpStandby } from '../src/replication';
import { ENDPOINTS, type Pair, caughtUp, pairWithStandby, pauseReplay, primaryLsn, resumeReplay, testTable } from './servers';

const servers = pairWithStandby(setUpStandby);
let pair: Pair;
let table: string | undefined;
beforeEach(async () => {
  pair = await servers.get();
  table ??= await testTable(pair);
});
afterAll(async () => {
  if (pair !== undefined) {
    await resumeReplay(pair).catch(() => undefined);
    await pair.primary.db.exec(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  }
  await servers.close();
});

async function replayed(pair: Pair): Promise<bigint> {
  return parseLsn((await pair.standby.db.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0]!.lsn);
}

describe.skipIf(ENDPOINTS === undefined)('TODO(3) replication lag', () => {
  it('TODO(3) a caught-up standby is 0 bytes and 0 seconds behind', async () => {
    await pair.primary.db.query(`INSERT INTO ${table} VALUES ('caught-up', 1)`);
    await caughtUp(pair);
    const lag = await replicationLag(pair.primary, pair.standby);
    // The primary may write a little WAL of its own meanwhile (a checkpoint, a snapshot record).
    expect(lag.bytes).toBeLessThan(4_096);
    if (lag.bytes === 0) {
      expect(lag.seconds).toBe(0);
    }
  });

  it('TODO(3) with replay paused, the bytes and seconds behind are what the servers say', async () => {
    await pair.primary.db.query(`INSERT INTO ${table} VALUES ('replayed', 1)`);
    await caughtUp(pair);
    const replayedAt = Date.now();
    await pauseReplay(pair);
    try {
      await new Promise((resolve) => setTimeout(resolve, 400));
      for (let i = 0; i < 50; i++) {
        await pair.primary.db.query(`INSERT INTO ${table} VALUES ($1, $2)`, [`behind-${i}`, i]);
      }
      const replay = await replayed(pair);
      const before = parseLsn(await primaryLsn(pair));
      const lag = await replicationLag(pair.primary, pair.standby);
      const after = parseLsn(await primaryLsn(pair));
      expect(parseLsn(lag.replayLsn), 'replayLsn is the standby\'s pg_last_wal_replay_lsn()').toBe(replay);
      expect(BigInt(lag.bytes), 'bytes: the primary\'s current LSN minus what the standby replayed').toBeGreaterThanOrEqual(before - replay);
      expect(BigInt(lag.bytes)).toBeLessThanOrEqual(after - replay);
      expect(lag.bytes, 'fifty rows are more than a few bytes of WAL').toBeGreaterThan(1_000);
      expect(lag.seconds, 'seconds: since the last replayed transaction committed').not.toBeNull();
      expect(lag.seconds!).toBeGreaterThanOrEqual(0.3);
      expect(lag.seconds!).toBeLessThan((Date.now() - replayedAt) / 1000 + 1);
    } finally {
      await resumeReplay(pair);
    }
    await caughtUp(pair);
    expect((await replicationLag(pair.primary, pair.standby)).bytes).toBeLessThan(4_096);
  });
});
