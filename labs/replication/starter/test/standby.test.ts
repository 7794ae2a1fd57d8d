/**
 * TODO(2): the standby. These tests run your setUpStandby on the lab's two servers: the
 * second becomes a streaming hot standby of the first (and stays one: the later tests use it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setUpStandby } from '../src/replication';
import { ENDPOINTS, type Pair, REPLICATION, caughtUp, openPair, testTable } from './servers';

let pair: Pair;
beforeAll(async () => {
  if (ENDPOINTS !== undefined) {
    pair = await openPair();
  }
});
afterAll(async () => {
  await pair?.close();
});

describe.skipIf(ENDPOINTS === undefined)('TODO(2) setting up the standby', () => {
  it('TODO(2) the standby streams from the primary through the slot', { timeout: 120_000 }, async () => {
    await setUpStandby(pair.primary, pair.standby, REPLICATION);
    const recovery = await pair.standby.db.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
    expect(recovery.rows[0]!.recovery, 'the standby is in recovery (standby.signal was there when it started)').toBe(true);
    const sender = await pair.primary.db.query<{ usename: string; state: string }>(`SELECT usename, state FROM pg_stat_replication`);
    expect(sender.rows).toEqual([{ usename: REPLICATION.user, state: 'streaming' }]);
    const slot = await pair.primary.db.query<{ active: boolean; slot_type: string }>('SELECT active, slot_type FROM pg_replication_slots WHERE slot_name = $1', [REPLICATION.slot]);
    expect(slot.rows).toEqual([{ active: true, slot_type: 'physical' }]);
    const role = await pair.primary.db.query<{ rolreplication: boolean; rolsuper: boolean; rolcanlogin: boolean }>('SELECT rolreplication, rolsuper, rolcanlogin FROM pg_roles WHERE rolname = $1', [REPLICATION.user]);
    expect(role.rows, 'a role that may replicate and log in, and is no superuser').toEqual([{ rolreplication: true, rolsuper: false, rolcanlogin: true }]);
  });

  it('TODO(2) a row written on the primary appears on the standby', async () => {
    const table = await testTable(pair);
    await pair.primary.db.query(`INSERT INTO ${table} (key, value) VALUES ('a', 1)`);
    await caughtUp(pair);
    expect((await pair.standby.db.query(`SELECT key, value FROM ${table}`)).rows).toEqual([{ key: 'a', value: 1 }]);
    await pair.primary.db.exec(`DROP TABLE ${table}`);
  });

  it('TODO(2) the standby refuses writes with SQLSTATE 25006', async () => {
    await expect(pair.standby.db.exec('CREATE TABLE refused (id int)')).rejects.toMatchObject({ code: '25006' });
  });

  it('TODO(2) running the set-up again changes nothing: the same standby still streams', { timeout: 120_000 }, async () => {
    const before = await pair.primary.db.query<{ pid: number }>('SELECT pid FROM pg_stat_replication');
    await setUpStandby(pair.primary, pair.standby, REPLICATION);
    const after = await pair.primary.db.query<{ pid: number; state: string }>('SELECT pid, state FROM pg_stat_replication');
    expect(after.rows.map((r) => r.state)).toEqual(['streaming']);
    expect(after.rows.map((r) => r.pid), 'no second base backup: the same WAL sender').toEqual(before.rows.map((r) => r.pid));
    const hba = await pair.primary.admin.readFile('pg_hba.conf');
    expect(hba.split('\n').filter((l) => /^\s*host\s+replication\s/.test(l) && l.includes(REPLICATION.user)), 'one replication line in pg_hba.conf').toHaveLength(1);
  });
});
