/**
 * The grader's way of seeing which bank committed which transfer (audit.ts), on a real
 * PostgreSQL server started as the lab starts its banks (max_prepared_transactions = 64):
 * the note written just before PREPARE TRANSACTION commits with the prepared transaction
 * and names its audit rows once COMMIT PREPARED runs; ROLLBACK PREPARED leaves neither; a
 * plain COMMIT leaves rows under an xid with no note; the prepared transaction survives the
 * server's restart, and recovery from another connection finishes it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LabServicesResult, startLabServices } from '../../../src/core/services/labServices';
import { LOCAL_IMAGES, newRuntime, testLogger, uniqueId, useLabCleanup } from '../../../test/docker/helpers';
import { installAudit, notePrepare, preparedGids, readAudit, readPrepares } from './audit';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
const sessionId = `session-${randomBytes(4).toString('hex')}`;
const BANK = 'bank_t';
const AUDIT = 'grader_audit';

describe('the audit of a bank, on a real PostgreSQL with prepared transactions', () => {
  const labId = registerLab(uniqueId('twopc'));
  let lab: LabServicesResult;
  let url: string;
  const clients: pg.Client[] = [];

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    return client;
  }

  /** Phase 1 as a coordinator does it on `client` (the change, then PREPARE), with the adapter's note between; the xid. */
  async function prepare(client: pg.Client, gid: string, account: string, delta: number): Promise<string> {
    await client.query('BEGIN');
    await client.query(`UPDATE ${BANK}.accounts SET balance_cents = balance_cents + $1 WHERE id = $2`, [delta, account]);
    await client.query(notePrepare(AUDIT), [gid, `t-${gid}`]);
    const xid = String((await client.query<{ xid: string }>('SELECT txid_current()::text AS xid')).rows[0]?.xid);
    await client.query(`PREPARE TRANSACTION '${gid}'`);
    return xid;
  }

  beforeAll(async () => {
    lab = await startLabServices(runtime, [{ service: 'postgres', count: 1, settings: { max_prepared_transactions: '64' } }], { labId, sessionId, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger });
    url = lab.connections[0]!.url;
    const admin = await connect();
    await admin.query(`CREATE SCHEMA ${BANK}`);
    await admin.query(`CREATE TABLE ${BANK}.accounts (id text PRIMARY KEY, balance_cents bigint NOT NULL CHECK (balance_cents >= 0))`);
    await admin.query(`INSERT INTO ${BANK}.accounts VALUES ('alice', 1000), ('bob', 1000), ('carol', 1000)`);
    await installAudit(admin, BANK, AUDIT);
  }, 90_000);

  afterAll(async () => {
    for (const client of clients) await client.end().catch(() => undefined);
  });

  it('ties a gid to its xid: COMMIT PREPARED leaves its rows, ROLLBACK PREPARED none, a plain COMMIT rows of an xid never prepared', async () => {
    const coordinator = await connect();
    const other = await connect();
    const committed = await prepare(coordinator, 'g-commit', 'alice', -100);
    const rolledBack = await prepare(coordinator, 'g-rollback', 'bob', -200);
    expect(await preparedGids(other)).toEqual(['g-commit', 'g-rollback']);
    // Nothing is recorded while they are prepared: the audit rows are part of the transactions.
    expect(await readAudit(other, AUDIT)).toEqual([]);
    await other.query("COMMIT PREPARED 'g-commit'");
    await other.query("ROLLBACK PREPARED 'g-rollback'");
    await other.query(`UPDATE ${BANK}.accounts SET balance_cents = balance_cents + 5 WHERE id = 'carol'`);
    const rows = await readAudit(other, AUDIT);
    expect(rows.filter((r) => r.xid === committed)).toEqual([{ xid: committed, account: 'alice', deltaCents: -100 }]);
    expect(rows.filter((r) => r.xid === rolledBack)).toEqual([]);
    expect(rows.filter((r) => r.xid !== committed)).toEqual([{ xid: expect.any(String) as unknown as string, account: 'carol', deltaCents: 5 }]);
    // Only the committed prepare's note is there: the plain commit's xid has none.
    const direct = rows.find((r) => r.account === 'carol')?.xid ?? '';
    expect(await readPrepares(other, AUDIT, ['t-g-commit', 't-g-rollback'], [direct])).toEqual([{ xid: committed, gid: 'g-commit', transfer: 't-g-commit' }]);
    expect(await readAudit(other, AUDIT, ['bob'])).toEqual([]);
    // A retried COMMIT PREPARED of a finished gid: 42704.
    await expect(other.query("COMMIT PREPARED 'g-commit'")).rejects.toMatchObject({ code: '42704' });
  });

  it('a prepared transaction survives a restart of its server, keeps its xid, and is finished from a new connection', async () => {
    const coordinator = await connect();
    const xid = await prepare(coordinator, 'g-restart', 'bob', 300);
    const startedAt = (await coordinator.query<{ t: Date }>('SELECT pg_postmaster_start_time() AS t')).rows[0]?.t;
    const container = lab.connections[0]!.containerId;
    await runtime.restartContainer(container, 5);
    const fresh = await startLabServices(runtime, [{ service: 'postgres', count: 1, settings: { max_prepared_transactions: '64' } }], { labId, sessionId, images: LOCAL_IMAGES, readinessTimeoutMs: 45_000, logger: testLogger });
    url = fresh.connections[0]!.url;
    const recovery = await connect();
    const restartedAt = (await recovery.query<{ t: Date }>('SELECT pg_postmaster_start_time() AS t')).rows[0]?.t;
    expect(restartedAt?.getTime()).toBeGreaterThan(startedAt?.getTime() ?? Infinity);
    expect(await preparedGids(recovery)).toEqual(['g-restart']);
    await recovery.query("COMMIT PREPARED 'g-restart'");
    expect((await readAudit(recovery, AUDIT)).filter((r) => r.xid === xid)).toEqual([{ xid, account: 'bob', deltaCents: 300 }]);
    expect(await readPrepares(recovery, AUDIT, ['t-g-restart'], [])).toEqual([{ xid, gid: 'g-restart', transfer: 't-g-restart' }]);
    expect(await preparedGids(recovery)).toEqual([]);
  }, 90_000);
});
