/** Helpers shared by the lab's tests. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db, IsolationLevel, QueryResult, Queryable } from '../src/db';
import { CONNECT_TIMEOUT_MS, DatabaseUnavailableError, type DatabaseTarget, databaseTarget, redact } from './connection';

/** A test's database: the `Db` your code receives, plus what the test needs to clean up. */
export interface TestDb extends Db {
  /** The empty schema this test works in: every connection has it as its search_path. */
  readonly schema: string;
  /** Rolls back what is stuck, drops the schema and closes the connections. Never throws. */
  close(): Promise<void>;
}

/** The statements whose row count `affectedRows` reports. */
const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** Each isolation level a transaction may ask for, as PostgreSQL's BEGIN spells it. */
const ISOLATION: Readonly<Record<IsolationLevel, string>> = {
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

/** Sends SQL to a pool (each call on any free connection) or to one connection. */
function queryable(target: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      // The extended protocol, even without parameters, so that one call runs exactly one
      // statement (several, separated by `;`, are refused): that is what the Db promises.
      // `queryMode` is a pg option that its type definitions do not list.
      const config = { text: sql, values: params, queryMode: 'extended' };
      const result = await target.query<Row & pg.QueryResultRow>(config as pg.QueryConfig);
      return {
        rows: result.rows,
        ...(WRITES.has(result.command) && result.rowCount !== null ? { affectedRows: result.rowCount } : {}),
      };
    },
    async exec(sql: string): Promise<void> {
      // No parameters: pg uses the simple query protocol, which runs several statements.
      await target.query(sql);
    },
  };
}

/** The transactions a Db has open right now: their connections, and their promises settled. */
export interface OpenTransactions {
  readonly clients: Set<pg.PoolClient>;
  readonly settled: Set<Promise<unknown>>;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Makes a `Db` from a `pg.Pool`. `query` and `exec` run on whichever connection of the
 * pool is free; `transaction` takes one connection for the whole BEGIN ... COMMIT (or
 * ROLLBACK), at the isolation level asked for, and gives it back to the pool however the
 * transaction ends.
 */
export function poolDb(pool: pg.Pool, open?: OpenTransactions): Db {
  const run = async <T>(fn: (tx: Queryable) => Promise<T>, isolation: IsolationLevel | undefined): Promise<T> => {
    if (isolation !== undefined && !Object.hasOwn(ISOLATION, isolation)) {
      throw new Error(`Unknown isolation level "${String(isolation)}": use 'read committed', 'repeatable read' or 'serializable'.`);
    }
    const client = await pool.connect();
    open?.clients.add(client);
    // A connection whose BEGIN or ROLLBACK failed is in an unknown state: it is closed, not reused.
    let broken: Error | undefined;
    try {
      try {
        await client.query(isolation === undefined ? 'BEGIN' : `BEGIN ISOLATION LEVEL ${ISOLATION[isolation]}`);
      } catch (error) {
        broken = asError(error);
        throw error;
      }
      try {
        const result = await fn(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = asError(rollbackError);
        }
        throw error;
      }
    } finally {
      open?.clients.delete(client);
      client.release(broken);
    }
  };
  return {
    ...queryable(pool),
    transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> {
      const transaction = run(fn, options?.isolation);
      if (open) {
        const settled = transaction.then(
          () => undefined,
          () => undefined,
        );
        open.settled.add(settled);
        void settled.then(() => open.settled.delete(settled));
      }
      return transaction;
    },
  };
}

/** Settles `promise`, but waits for it at most `ms` milliseconds. */
async function atMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

let target: DatabaseTarget | undefined;

/**
 * A brand-new, empty database for one test: a fresh schema `t_<random>` on the lab's
 * PostgreSQL, which every connection of the test's pool uses as its search_path, so the
 * tables your code creates land there and nothing leaks from one test to the next.
 */
export async function freshDb(): Promise<TestDb> {
  target ??= databaseTarget();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({
    connectionString: target.url,
    // Longer than inTime's 10 s: on the embedded server, a connection opened while another
    // connection's transaction is open waits for that transaction, and the test should
    // then report the stuck transaction, not a connection timeout.
    connectionTimeoutMillis: 2 * CONNECT_TIMEOUT_MS,
    max: 5,
    // Pin every new connection to the test's schema before the pool hands it out. (The
    // startup option `options: '-c search_path=...'` works on a PostgreSQL server, but the
    // embedded server ignores it, so the setting is sent after connecting.)
    onConnect: (client) => client.query(`SET search_path TO ${schema}`),
  });
  // A connection that dies while idle is reported by the next query; without a listener
  // the pool's 'error' event would end the test process instead.
  pool.on('error', () => undefined);
  const open: OpenTransactions = { clients: new Set(), settled: new Set() };
  try {
    await pool.query(`CREATE SCHEMA ${schema}`);
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (error instanceof pg.DatabaseError) {
      throw error;
    }
    // The database was there when the file started (test/setup.ts) and is gone now.
    throw new DatabaseUnavailableError(`could not connect to ${redact(target.url)} (from ${target.source}): ${asError(error).message}`);
  }
  return {
    ...poolDb(pool, open),
    schema,
    async close(): Promise<void> {
      // A transaction still open here was abandoned by a test that gave up waiting (see
      // inTime). Closing its connection makes the server roll it back, which also
      // releases whatever the abandoned statements were waiting for; then let the
      // abandoned code run to its end, so that none of it reaches the next test's tables.
      await Promise.all([...open.clients].map((client) => atMost(client.end(), 5_000)));
      await atMost(Promise.all(open.settled), 10_000);
      // Best effort: a schema left behind by a dead server is harmless, and an error here
      // would hide the test's own failure.
      await atMost(pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`), 10_000);
      await atMost(pool.end(), 5_000);
    },
  };
}

/** Closes a test's database (see TestDb.close). */
export async function closeDb(db: TestDb | undefined): Promise<void> {
  await db?.close();
}

/** Thrown when a call does not finish in time: the database is stuck, so the test stops there. */
export class StuckError extends Error {
  override readonly name = 'StuckError';
}

/** Awaits `action`, but fails with `advice` if it has not finished within `seconds`. */
export async function inTime<T>(action: Promise<T>, what: string, advice: string, seconds = 10): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StuckError(`${what} did not finish within ${seconds} s. ${advice}`)), seconds * 1000);
  });
  try {
    return await Promise.race([action, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** PostgreSQL's error codes (SQLSTATE) that the tests expect. */
export const FOREIGN_KEY_VIOLATION = '23503';
export const CHECK_VIOLATION = '23514';

/**
 * Awaits `action` and says how it ended: 'accepted' if it succeeded, the PostgreSQL
 * error code (e.g. '23503') if the database refused it, or the message of any other error.
 */
export async function outcome(action: Promise<unknown>): Promise<string> {
  try {
    await action;
    return 'accepted';
  } catch (error) {
    if (error instanceof StuckError) {
      throw error;
    }
    // pg.DatabaseError is what the server sent back; its code is the SQLSTATE.
    return error instanceof pg.DatabaseError && error.code !== undefined ? error.code : `not a database error: ${asError(error).message}`;
  }
}

/** Counts the rows of a table. */
export async function countRows(db: Queryable, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}
