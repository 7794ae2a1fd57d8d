/**
 * MUTANT lsn-parsed-with-parseint (fails lsn-order): parseLsn reads each half with parseInt, which reads a prefix: '0/1x' is taken for 0/1 and '-1/0' for a negative position, instead of being refused.
 *
 * A PostgreSQL primary with a streaming standby: set it up, measure its lag, route reads so
 * that every session reads its own writes and never goes back in time, and fail over.
 *
 * Work through the TODOs in order; README.md explains each step, and `npm test` checks them
 * (each test says which TODOs it needs).
 */
import type { QueryResult } from './db';
import { withTimeout } from './timeout';
import type { AcknowledgedWrite, FailoverReport, Lag, ReadResult, ReplicationSettings, RouterOptions, Server } from './types';

/* ---------------------------------------------------------------------------------------
 * TODO(1): WAL positions.
 * --------------------------------------------------------------------------------------- */

/**
 * An LSN as PostgreSQL writes it ('16/B374D848': two hexadecimal numbers, the high and the
 * low 32 bits of a byte position in the WAL) as one number. Throws on anything else.
 */
export function parseLsn(lsn: string): bigint {
  const [high, low, ...rest] = lsn.split('/');
  const h = Number.parseInt(high ?? '', 16);
  const l = Number.parseInt(low ?? '', 16);
  if (rest.length > 0 || Number.isNaN(h) || Number.isNaN(l)) {
    throw new Error(`not an LSN: ${JSON.stringify(lsn)}`);
  }
  return (BigInt(h) << 32n) + BigInt(l);
}

/** Negative when `a` is before `b` in the WAL, 0 when they are the same position, positive after. */
export function compareLsn(a: string, b: string): number {
  const x = parseLsn(a);
  const y = parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------
 * TODO(2): make `standby` a streaming hot standby of `primary`.
 * --------------------------------------------------------------------------------------- */

/** Where the base backup is made, in the standby's container, before it replaces the data directory. */
const BACKUP_DIRECTORY = '/var/lib/postgresql/base-backup';
const STREAMING_WITHIN_MS = 30_000;

/**
 * Makes `standby` stream from `primary`. Running it again when the standby already streams
 * from that primary through the slot changes nothing.
 */
export async function setUpStandby(primary: Server, standby: Server, replication: ReplicationSettings): Promise<void> {
  // 1. A role that may connect for replication, and nothing else.
  const exists = await primary.db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [replication.user]);
  const statement = await primary.db.query<{ sql: string }>(
    exists.rows.length === 0 ? `SELECT format('CREATE ROLE %I WITH REPLICATION LOGIN PASSWORD %L', $1::text, $2::text) AS sql` : `SELECT format('ALTER ROLE %I WITH REPLICATION LOGIN PASSWORD %L', $1::text, $2::text) AS sql`,
    [replication.user, replication.password],
  );
  await primary.db.exec(statement.rows[0]!.sql);

  // 2. pg_hba.conf: replication connections are their own kind, matched by no "all" line.
  const line = `host replication ${replication.user} all scram-sha-256`;
  const hba = await primary.admin.readFile('pg_hba.conf');
  if (!hba.split('\n').some((l) => l.trim() === line)) {
    await primary.admin.writeFile('pg_hba.conf', `${hba.endsWith('\n') ? hba : `${hba}\n`}${line}\n`);
    await primary.db.query('SELECT pg_reload_conf()');
  }

  // 3. A slot: the primary keeps the WAL this standby has not received yet.
  const slot = await primary.db.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [replication.slot]);
  if (slot.rows.length === 0) {
    await primary.db.query('SELECT pg_create_physical_replication_slot($1)', [replication.slot]);
  } else if (slot.rows[0]!.active && (await inRecovery(standby))) {
    return; // Already streaming from this primary through this slot.
  }

  // 4. A copy of the primary's data directory, with primary_conninfo and standby.signal (-R).
  await standby.admin.run(['rm', '-rf', BACKUP_DIRECTORY]);
  const backup = await standby.admin.run(
    ['pg_basebackup', '-h', primary.admin.host, '-p', String(primary.admin.port), '-U', replication.user, '-D', BACKUP_DIRECTORY, '-R', '-S', replication.slot, '-X', 'stream', '--checkpoint=fast'],
    { env: { PGPASSWORD: replication.password } },
  );
  if (backup.exitCode !== 0) {
    throw new Error(`pg_basebackup failed (exit code ${backup.exitCode}): ${backup.stderr.trim()}`);
  }
  await standby.admin.replaceDataDirectory(BACKUP_DIRECTORY);

  // 5. It streams once the primary sees its WAL sender on the slot.
  const streams = async (): Promise<boolean> => {
    const sender = await primary.db.query(
      `SELECT 1 FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1 AND r.state = 'streaming'`,
      [replication.slot],
    );
    return sender.rows.length > 0;
  };
  if (!(await pollUntil(streams, STREAMING_WITHIN_MS, 50))) {
    throw new Error(`the standby does not stream after ${STREAMING_WITHIN_MS / 1000} s: look at its log (docker logs)`);
  }
}

async function inRecovery(server: Server): Promise<boolean> {
  const result = await server.db.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
  return result.rows[0]?.recovery === true;
}

/* ---------------------------------------------------------------------------------------
 * TODO(3): how far behind is the standby?
 * --------------------------------------------------------------------------------------- */

export async function replicationLag(primary: Server, standby: Server): Promise<Lag> {
  const [p, s] = await Promise.all([
    primary.db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'),
    standby.db.query<{ lsn: string | null; replayed: Date | null; now: Date }>('SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_last_xact_replay_timestamp() AS replayed, now() AS now'),
  ]);
  const primaryLsn = p.rows[0]!.lsn;
  const row = s.rows[0]!;
  if (row.lsn === null) {
    throw new Error(`${standby.name} is not a standby: it replays no WAL`);
  }
  const bytes = parseLsn(primaryLsn) - parseLsn(row.lsn);
  const behind = bytes > 0n;
  return {
    bytes: behind ? Number(bytes) : 0,
    seconds: !behind ? 0 : row.replayed === null ? null : Math.max(0, (row.now.getTime() - row.replayed.getTime()) / 1000),
    primaryLsn,
    replayLsn: row.lsn,
  };
}

/* ---------------------------------------------------------------------------------------
 * TODO(4): a read router with read-your-writes and monotonic reads.
 * --------------------------------------------------------------------------------------- */

const POLL_MS = 10;

export class ReadRouter {
  private sessions = 0;
  private readonly acknowledged: AcknowledgedWrite[] = [];

  constructor(
    private primaryServer: Server,
    private standbyServer: Server | undefined,
    readonly options: RouterOptions,
  ) {}

  get primary(): Server {
    return this.primaryServer;
  }

  get standby(): Server | undefined {
    return this.standbyServer;
  }

  /** A new session: its reads see its own writes and never go back in time. */
  session(): RouterSession {
    this.sessions += 1;
    return new RouterSession(this, this.sessions);
  }

  /** Every write the router acknowledged, in order, with its LSN. */
  acknowledgedWrites(): readonly AcknowledgedWrite[] {
    return this.acknowledged;
  }

  /** From now on writes go to `primary`, and reads to `standby` when there is one. */
  repoint(primary: Server, standby: Server | undefined): void {
    this.primaryServer = primary;
    this.standbyServer = standby;
  }

  /** @internal for sessions */
  noteWrite(write: AcknowledgedWrite): void {
    this.acknowledged.push(write);
  }
}

export class RouterSession {
  /** The primary's WAL position after this session's last write. */
  private writtenLsn = 0n;
  /** The newest WAL position this session's reads have seen. */
  private readLsn = 0n;

  constructor(
    private readonly router: ReadRouter,
    readonly id: number,
  ) {}

  /** Runs one writing statement on the primary. */
  async write<Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
    const primary = this.router.primary;
    const result = await primary.db.query<Row>(sql, params);
    // After the commit returned: the position is at or past the commit record.
    const lsn = await currentLsn(primary);
    this.writtenLsn = max(this.writtenLsn, parseLsn(lsn));
    this.router.noteWrite({ session: this.id, sql, params, lsn });
    return result;
  }

  /** Runs one reading statement: on the standby once it has replayed what this session wrote and read, else on the primary. */
  async read<Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<ReadResult<Row>> {
    const needed = max(this.writtenLsn, this.readLsn);
    const standby = this.router.standby;
    const { maxWaitMs, standbyTimeoutMs } = this.router.options;
    if (standby !== undefined) {
      try {
        // Wait, at most maxWaitMs, until the standby has replayed what the session needs
        // (or turns out to be no standby any more: its replay position is then undefined).
        let replayed = undefined as bigint | undefined;
        const caughtUp = await pollUntil(
          async () => {
            replayed = await withTimeout(replayLsn(standby), standbyTimeoutMs, `${standby.name}: pg_last_wal_replay_lsn()`);
            return replayed === undefined || replayed >= needed;
          },
          maxWaitMs,
          POLL_MS,
        );
        if (caughtUp && replayed !== undefined) {
          const result = await withTimeout(standby.db.query<Row>(sql, params), standbyTimeoutMs, `${standby.name}: read`);
          // What the read saw is at most what was replayed after it.
          const after = await withTimeout(replayLsn(standby), standbyTimeoutMs, `${standby.name}: pg_last_wal_replay_lsn()`);
          this.readLsn = max(this.readLsn, after ?? replayed);
          return { ...result, from: 'standby' };
        }
      } catch {
        // The standby is down or too slow: the primary answers.
      }
    }
    const primary = this.router.primary;
    const result = await primary.db.query<Row>(sql, params);
    this.readLsn = max(this.readLsn, parseLsn(await currentLsn(primary)));
    return { ...result, from: 'primary' };
  }
}

async function currentLsn(server: Server): Promise<string> {
  const result = await server.db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  return result.rows[0]!.lsn;
}

/** The standby's replay position, or undefined when the server is not in recovery. */
async function replayLsn(server: Server): Promise<bigint | undefined> {
  const result = await server.db.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
  const lsn = result.rows[0]?.lsn;
  return lsn === null || lsn === undefined ? undefined : parseLsn(lsn);
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** A pause, for waiting loops. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Asks `ready` every `everyMs` until it says yes (then true) or `withinMs` has passed (then false). */
async function pollUntil(ready: () => Promise<boolean>, withinMs: number, everyMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await ready()) {
      return true;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      return false;
    }
    await sleep(Math.min(everyMs, left));
  }
}

/* ---------------------------------------------------------------------------------------
 * TODO(5): fail over to the standby.
 * --------------------------------------------------------------------------------------- */

/**
 * Makes `standby` the primary: fences `oldPrimary` so that no client can write there any
 * more, promotes the standby, points the router at it (with no standby), and reports the
 * acknowledged writes the standby never had.
 */
export async function failover(router: ReadRouter, oldPrimary: Server, standby: Server): Promise<FailoverReport> {
  await oldPrimary.admin.stop();
  // A paused replay would be resumed by the promotion anyway; everything received is replayed.
  await standby.db.query('SELECT pg_wal_replay_resume()');
  await standby.db.query('SELECT pg_promote(true, 60)');
  const promoted = await standby.db.query<{ lsn: string }>('SELECT pg_last_wal_replay_lsn()::text AS lsn');
  const promotedAtLsn = promoted.rows[0]!.lsn;
  router.repoint(standby, undefined);
  const lostWrites = router.acknowledgedWrites().filter((w) => compareLsn(w.lsn, promotedAtLsn) > 0);
  return { promotedAtLsn, lostWrites };
}

/* ---------------------------------------------------------------------------------------
 * TODO(6): synchronous replication.
 * --------------------------------------------------------------------------------------- */

/**
 * With `on`, a commit on `primary` returns only once a standby has applied it
 * (`synchronous_commit = remote_apply`); without, replication is asynchronous again.
 */
export async function setSynchronous(primary: Server, on: boolean): Promise<void> {
  // ALTER SYSTEM runs on its own, never in a transaction block (nor two in one exec).
  if (on) {
    await primary.db.query(`ALTER SYSTEM SET synchronous_standby_names = '*'`);
    await primary.db.query(`ALTER SYSTEM SET synchronous_commit = 'remote_apply'`);
  } else {
    await primary.db.query('ALTER SYSTEM RESET synchronous_standby_names');
    await primary.db.query('ALTER SYSTEM RESET synchronous_commit');
  }
  await primary.db.query('SELECT pg_reload_conf()');
}
