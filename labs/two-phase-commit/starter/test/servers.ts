/**
 * The lab's three PostgreSQL servers (bank A, bank B, the coordinator's log), as the tests
 * use them: each test gets its own schema on each server (`t_<random>`, dropped after),
 * with the banks' `accounts` table made and funded, a coordinator id of its own, and a
 * fast `sleep`.
 *
 * The Data Labs extension (or `data-labs services up two-phase-commit .`) starts the three
 * servers in Docker and writes their addresses to `.env`: POSTGRES_URL (bank A),
 * POSTGRES_2_URL (bank B) and POSTGRES_3_URL (the log). Without them, the tests that need
 * servers are skipped (saying so) and the others still run.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import type { Db, IsolationLevel, QueryResult, Queryable } from '../src/db';
import type { Bank, Coordinator } from '../src/types';
import { CONNECT_TIMEOUT_MS, DatabaseUnavailableError, LAB_DIR, parseEnvFile, redact } from './connection';

export const BANK_A = 'bank-a';
export const BANK_B = 'bank-b';

interface ServerUrls {
  readonly [BANK_A]: string;
  readonly [BANK_B]: string;
  readonly log: string;
}

/** The three servers' URLs from `.env` (or the environment), or undefined when they are not there. */
function serverUrls(): ServerUrls | undefined {
  let values: Map<string, string>;
  try {
    values = parseEnvFile(readFileSync(path.join(LAB_DIR, '.env'), 'utf8'));
  } catch {
    values = new Map();
  }
  const url = (key: string): string | undefined => process.env[key]?.trim() || values.get(key);
  const a = url('POSTGRES_URL');
  const b = url('POSTGRES_2_URL');
  const log = url('POSTGRES_3_URL');
  return a && b && log ? { [BANK_A]: a, [BANK_B]: b, log } : undefined;
}

export const SERVERS = serverUrls();

/** Why the tests that need servers are skipped, printed once. */
export const WITHOUT_SERVERS =
  'skipped: this lab\'s three PostgreSQL servers are not started (no POSTGRES_URL, POSTGRES_2_URL and POSTGRES_3_URL in .env). ' +
  'They run in Docker: open the lab from the Distributed Data Labs sidebar, or run `data-labs services up two-phase-commit .` here.';

if (SERVERS === undefined) {
  console.warn(WITHOUT_SERVERS);
}

/** A Db on one server, working in `schema`; also closes its pool. */
export interface TestDb extends Db {
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

function result<Row>(r: pg.QueryResult): QueryResult<Row> {
  return { rows: r.rows as Row[], ...(r.rowCount !== null ? { affectedRows: r.rowCount } : {}) };
}

function queryable(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    query: async <Row>(sql: string, params?: unknown[]) => result<Row>(await client.query(sql, params)),
    exec: (sql: string) => client.query(sql),
  };
}

export function openDb(url: string, schema: string | undefined): TestDb {
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, max: 8, ...(schema ? { options: `-c search_path=${schema}` } : {}) });
  pool.on('error', () => undefined);
  const base = queryable(pool);
  return {
    ...base,
    pool,
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query(options?.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN');
        const value = await fn(queryable(client));
        // After PREPARE TRANSACTION the session holds no transaction: COMMIT then only warns.
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

/** One test's world: the two banks and the log, each in a fresh schema, and a coordinator of its own. */
export interface World {
  readonly coordinator: Coordinator;
  readonly a: TestDb;
  readonly b: TestDb;
  readonly log: TestDb;
  /** A bank's balances by account. */
  balances(bank: TestDb): Promise<Record<string, number>>;
  /** The gids waiting at a bank that hold this test's rows (any coordinator's). */
  prepared(bank: TestDb): Promise<string[]>;
  /** A transfer id of this test: `<n>` made unique. */
  transferId(n: number | string): string;
  /** Rolls back what this test left prepared, drops its schemas, closes its pools. */
  dispose(): Promise<void>;
}

const ACCOUNTS = `CREATE TABLE accounts (id text PRIMARY KEY, balance_cents bigint NOT NULL CHECK (balance_cents >= 0))`;

/** Opens a world with these opening balances, in cents, per bank and account. */
export async function openWorld(funds: { readonly [BANK_A]?: Record<string, number>; readonly [BANK_B]?: Record<string, number> } = {}, voteTimeoutMs = 2_000): Promise<World> {
  if (SERVERS === undefined) {
    throw new DatabaseUnavailableError(WITHOUT_SERVERS);
  }
  const schema = `t_${randomBytes(5).toString('hex')}`;
  const admin = async (url: string): Promise<void> => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    try {
      await client.connect();
      await client.query(`CREATE SCHEMA ${schema}`);
    } catch (error) {
      throw new DatabaseUnavailableError(`could not use ${redact(url)}: ${(error as Error).message}`, error instanceof pg.DatabaseError);
    } finally {
      await client.end().catch(() => undefined);
    }
  };
  await Promise.all([admin(SERVERS[BANK_A]), admin(SERVERS[BANK_B]), admin(SERVERS.log)]);
  const a = openDb(SERVERS[BANK_A], schema);
  const b = openDb(SERVERS[BANK_B], schema);
  const log = openDb(SERVERS.log, schema);
  for (const [db, accounts] of [
    [a, funds[BANK_A] ?? {}],
    [b, funds[BANK_B] ?? {}],
  ] as const) {
    await db.exec(ACCOUNTS);
    for (const [id, cents] of Object.entries(accounts)) {
      await db.query('INSERT INTO accounts (id, balance_cents) VALUES ($1, $2)', [id, cents]);
    }
  }
  const id = `c-${randomBytes(4).toString('hex')}`;
  const banks: Record<string, Bank> = { [BANK_A]: { name: BANK_A, db: a }, [BANK_B]: { name: BANK_B, db: b } };
  const coordinator: Coordinator = { id, banks, log, voteTimeoutMs, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 5))) };
  // A prepared transaction keeps its locks: those on this test's tables tell its gids from other tests'.
  const prepared = async (bank: TestDb): Promise<string[]> =>
    (
      await bank.query<{ gid: string }>(
        `SELECT DISTINCT p.gid FROM pg_prepared_xacts p
           JOIN pg_locks x ON x.locktype = 'transactionid' AND x.transactionid = p.transaction AND x.pid IS NULL
           JOIN pg_locks l ON l.virtualtransaction = x.virtualtransaction AND l.locktype = 'relation'
           JOIN pg_class c ON c.oid = l.relation
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE p.database = current_database() AND n.nspname = $1
          ORDER BY p.gid`,
        [schema],
      )
    ).rows.map((r) => r.gid);
  return {
    coordinator,
    a,
    b,
    log,
    prepared,
    transferId: (n) => `${schema}-${n}`,
    async balances(bank) {
      const rows = (await bank.query<{ id: string; balance_cents: string }>('SELECT id, balance_cents FROM accounts ORDER BY id')).rows;
      return Object.fromEntries(rows.map((r) => [r.id, Number(r.balance_cents)]));
    },
    async dispose() {
      // What this test left prepared holds locks on its tables: finish it before dropping
      // them. A prepare still on its way (a vote that timed out) may land meanwhile, so
      // the drop gives up on a lock it cannot get, and the two are tried again.
      for (const db of [a, b, log]) {
        for (let attempt = 0; attempt < 20; attempt++) {
          for (const gid of db === log ? [] : await prepared(db).catch(() => [])) {
            await db.query(`ROLLBACK PREPARED '${gid}'`).catch(() => undefined);
          }
          const dropped = await db
            .transaction(async (tx) => {
              await tx.exec("SET LOCAL lock_timeout = '500ms'");
              await tx.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
            })
            .then(
              () => true,
              () => false,
            );
          if (dropped) break;
        }
        await db.close();
      }
    },
  };
}

/** Prepares a transaction by hand at a bank, as a coordinator that died after phase 1 would have left it. */
export async function prepareByHand(bank: TestDb, gid: string, account: string, deltaCents: number): Promise<void> {
  await bank.transaction(async (tx) => {
    await tx.query('UPDATE accounts SET balance_cents = balance_cents + $1 WHERE id = $2', [deltaCents, account]);
    await tx.query(`PREPARE TRANSACTION '${gid}'`);
  });
}
