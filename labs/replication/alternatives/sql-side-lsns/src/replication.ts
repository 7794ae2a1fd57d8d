/**
 * A correct solution written another way than the reference: LSNs are kept as text and
 * compared by the server (`$1::pg_lsn <= pg_last_wal_replay_lsn()`), the lag comes from the
 * primary's pg_stat_replication, the standby is configured by hand (primary_conninfo and
 * standby.signal written, not pg_basebackup -R), sessions are closures, and the failover
 * fences the old primary by making it refuse writes rather than by stopping it.
 */
import type { QueryResult } from './db';
import { withTimeout } from './timeout';
import type { AcknowledgedWrite, FailoverReport, Lag, ReadResult, ReplicationSettings, RouterOptions, Server } from './types';

export function parseLsn(lsn: string): bigint {
  const parts = lsn.trim().split('/');
  if (parts.length !== 2 || !parts.every((p) => /^[0-9a-f]{1,8}$/i.test(p))) {
    throw new Error(`${JSON.stringify(lsn)} is not an LSN`);
  }
  return BigInt(`0x${parts[0]}`) * 4294967296n + BigInt(`0x${parts[1]}`);
}

export function compareLsn(a: string, b: string): number {
  const d = parseLsn(a) - parseLsn(b);
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

async function one<Row>(server: Server, sql: string, params: unknown[] = []): Promise<Row | undefined> {
  return (await server.db.query<Row>(sql, params)).rows[0];
}

export async function setUpStandby(primary: Server, standby: Server, replication: ReplicationSettings): Promise<void> {
  const { user, password, slot } = replication;
  const role = await one<{ sql: string }>(
    primary,
    `SELECT CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = $1)
       THEN format('ALTER ROLE %I REPLICATION LOGIN PASSWORD %L', $1::text, $2::text)
       ELSE format('CREATE ROLE %I REPLICATION LOGIN PASSWORD %L', $1::text, $2::text) END AS sql`,
    [user, password],
  );
  await primary.db.exec(role!.sql);

  const hba = await primary.admin.readFile('pg_hba.conf');
  const entry = `host replication ${user} all scram-sha-256`;
  if (!hba.includes(entry)) {
    await primary.admin.writeFile('pg_hba.conf', `${hba.trimEnd()}\n${entry}\n`);
  }
  await primary.db.query('SELECT pg_reload_conf()');

  const existing = await one<{ active: boolean }>(primary, 'SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  const standbyRecovering = (await one<{ r: boolean }>(standby, 'SELECT pg_is_in_recovery() AS r'))?.r === true;
  if (existing?.active === true && standbyRecovering) {
    return;
  }
  if (existing === undefined) {
    await primary.db.query('SELECT * FROM pg_create_physical_replication_slot($1)', [slot]);
  }

  const target = '/var/lib/postgresql/next-data';
  await standby.admin.run(['rm', '-rf', target]);
  const copy = await standby.admin.run(['pg_basebackup', '--host', primary.admin.host, '--port', String(primary.admin.port), '--username', user, '--pgdata', target, '--wal-method', 'stream', '--checkpoint', 'fast'], {
    env: { PGPASSWORD: password },
  });
  if (copy.exitCode !== 0) {
    throw new Error(`base backup failed: ${copy.stderr}`);
  }
  // What -R would write: where the primary is, through which slot, and the signal file.
  const conninfo = `host=${primary.admin.host} port=${primary.admin.port} user=${user} password=${password}`;
  const auto = await standby.admin.readFile(`${target}/postgresql.auto.conf`);
  await standby.admin.writeFile(`${target}/postgresql.auto.conf`, `${auto}primary_conninfo = '${conninfo.replace(/'/g, "''")}'\nprimary_slot_name = '${slot}'\n`);
  await standby.admin.writeFile(`${target}/standby.signal`, '');
  await standby.admin.replaceDataDirectory(target);

  for (let tries = 0; tries < 600; tries++) {
    const row = await one<{ state: string }>(primary, `SELECT r.state FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1`, [slot]);
    if (row?.state === 'streaming') {
      return;
    }
    await sleep(50);
  }
  throw new Error('the standby never started streaming');
}

export async function replicationLag(primary: Server, standby: Server): Promise<Lag> {
  // Both positions from the primary's side, in one statement; the time from the standby's clock.
  const p = await one<{ current: string; replay: string | null; behind: string | null }>(
    primary,
    `SELECT pg_current_wal_lsn()::text AS current, r.replay_lsn::text AS replay, pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::text AS behind
       FROM (SELECT 1) x LEFT JOIN pg_stat_replication r ON true LIMIT 1`,
  );
  const s = await one<{ replay: string | null; age: number | null }>(standby, `SELECT pg_last_wal_replay_lsn()::text AS replay, extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS age`);
  if (p === undefined || s === undefined || s.replay === null) {
    throw new Error('no standby to measure');
  }
  // The standby's own replay position is fresher than what it last reported to the primary.
  const behind = parseLsn(p.current) - parseLsn(s.replay);
  const bytes = behind > 0n ? Number(behind) : 0;
  return { bytes, seconds: bytes === 0 ? 0 : s.age, primaryLsn: p.current, replayLsn: s.replay };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Session {
  readonly id: number;
  write<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  read<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<ReadResult<Row>>;
}

export class ReadRouter {
  private count = 0;
  private readonly log: AcknowledgedWrite[] = [];
  private current: { primary: Server; standby: Server | undefined };

  constructor(primary: Server, standby: Server | undefined, readonly options: RouterOptions) {
    this.current = { primary, standby };
  }

  get primary(): Server {
    return this.current.primary;
  }

  get standby(): Server | undefined {
    return this.current.standby;
  }

  acknowledgedWrites(): readonly AcknowledgedWrite[] {
    return this.log;
  }

  repoint(primary: Server, standby: Server | undefined): void {
    this.current = { primary, standby };
  }

  noteWrite(write: AcknowledgedWrite): void {
    this.log.push(write);
  }

  session(): Session {
    const id = ++this.count;
    // The newest position this session depends on, as PostgreSQL writes it; compared by the server.
    let horizon = '0/0';
    const raise = async (server: Server, lsn: string): Promise<void> => {
      const r = await one<{ newer: boolean }>(server, 'SELECT $1::pg_lsn > $2::pg_lsn AS newer', [lsn, horizon]);
      if (r?.newer === true) horizon = lsn;
    };
    const fromPrimary = async <Row>(sql: string, params: unknown[]): Promise<ReadResult<Row>> => {
      const primary = this.current.primary;
      const result = await primary.db.query<Row>(sql, params);
      const lsn = await one<{ l: string }>(primary, 'SELECT pg_current_wal_lsn()::text AS l');
      await raise(primary, lsn!.l);
      return { ...result, from: 'primary' };
    };
    return {
      id,
      write: async <Row>(sql: string, params: unknown[] = []) => {
        const primary = this.current.primary;
        const result = await primary.db.query<Row>(sql, params);
        const lsn = (await one<{ l: string }>(primary, 'SELECT pg_current_wal_lsn()::text AS l'))!.l;
        await raise(primary, lsn);
        this.noteWrite({ session: id, sql, params, lsn });
        return result;
      },
      read: async <Row>(sql: string, params: unknown[] = []): Promise<ReadResult<Row>> => {
        const standby = this.current.standby;
        if (standby === undefined) return fromPrimary<Row>(sql, params);
        const { maxWaitMs, standbyTimeoutMs } = this.options;
        const started = Date.now();
        try {
          for (;;) {
            const ready = await withTimeout(one<{ ok: boolean | null }>(standby, 'SELECT $1::pg_lsn <= pg_last_wal_replay_lsn() AS ok', [horizon]), standbyTimeoutMs, 'standby');
            if (ready?.ok === null || ready === undefined) return await fromPrimary<Row>(sql, params);
            if (ready.ok) {
              const result = await withTimeout(standby.db.query<Row>(sql, params), standbyTimeoutMs, 'standby read');
              const seen = await withTimeout(one<{ l: string }>(standby, 'SELECT pg_last_wal_replay_lsn()::text AS l'), standbyTimeoutMs, 'standby');
              if (seen?.l) await raise(this.current.primary, seen.l);
              return { ...result, from: 'standby' };
            }
            if (Date.now() - started >= maxWaitMs) break;
            await sleep(5);
          }
        } catch {
          // Down, or too slow: the primary answers.
        }
        return fromPrimary<Row>(sql, params);
      },
    };
  }
}

export async function failover(router: ReadRouter, oldPrimary: Server, standby: Server): Promise<FailoverReport> {
  // Fence: the old primary refuses every write from now on, whoever sends it, even after a restart.
  await oldPrimary.admin.start();
  await oldPrimary.db.query(`ALTER SYSTEM SET default_transaction_read_only = on`);
  await oldPrimary.db.query('SELECT pg_reload_conf()');
  // Every session already open there must go: terminate them.
  await oldPrimary.db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = $1', ['client backend']);
  // Promotion replays everything received first: what was received is what survives.
  const before = await one<{ l: string }>(standby, 'SELECT greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS l');
  await standby.db.query('SELECT pg_promote(wait => true, wait_seconds => 60)');
  router.repoint(standby, undefined);
  const promotedAtLsn = before?.l ?? '0/0';
  return { promotedAtLsn, lostWrites: router.acknowledgedWrites().filter((w) => compareLsn(w.lsn, promotedAtLsn) > 0) };
}

export async function setSynchronous(primary: Server, on: boolean): Promise<void> {
  const statements = on
    ? [`ALTER SYSTEM SET synchronous_commit TO 'remote_apply'`, `ALTER SYSTEM SET synchronous_standby_names TO '*'`]
    : ['ALTER SYSTEM RESET synchronous_commit', 'ALTER SYSTEM RESET synchronous_standby_names'];
  for (const statement of statements) {
    await primary.db.query(statement);
  }
  await primary.db.query('SELECT pg_reload_conf()');
}
