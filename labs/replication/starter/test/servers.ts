/**
 * The lab's two PostgreSQL servers as the tests use them: which one is the primary and which
 * the standby (asked of the servers themselves: after the failover test they have swapped),
 * a Db and a ServerAdmin for each, and a table of the test's own.
 *
 * Without the servers in `.env`, the tests that need them are skipped (saying so) and the
 * others still run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db, IsolationLevel, QueryResult, Queryable } from '../src/db';
import type { ReplicationSettings, Server } from '../src/types';
import { type TestAdmin, containerAdmin, docker, publishedPort } from './admin';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CONNECT_TIMEOUT_MS, LAB_DIR, LAB_ID, parseEnvFile } from './connection';

/**
 * A variable of the environment, else of `.env`. The extension (or `data-labs services up
 * replication .`) writes there, for each server, its address (POSTGRES_URL, POSTGRES_2_URL),
 * its container (POSTGRES_CONTAINER, POSTGRES_2_CONTAINER) and the Docker engine they run on
 * (DATA_LABS_DOCKER_HOST).
 */
function setting(name: string): string | undefined {
  let file: Map<string, string>;
  try {
    file = parseEnvFile(readFileSync(path.join(LAB_DIR, '.env'), 'utf8'));
  } catch {
    file = new Map();
  }
  return process.env[name]?.trim() || file.get(name);
}

interface Endpoint {
  readonly url: string;
  readonly container: string;
  /** Its name on the lab network. */
  readonly host: string;
}

function endpoints(): readonly [Endpoint, Endpoint] | undefined {
  const first = { url: setting('POSTGRES_URL'), container: setting('POSTGRES_CONTAINER'), host: 'postgres' };
  const second = { url: setting('POSTGRES_2_URL'), container: setting('POSTGRES_2_CONTAINER'), host: 'postgres-2' };
  if (!first.url || !first.container || !second.url || !second.container) {
    return undefined;
  }
  return [first as Endpoint, second as Endpoint];
}

export const ENDPOINTS = endpoints();
const ENGINE = setting('DATA_LABS_DOCKER_HOST');

/** Why the tests that need servers are skipped, printed once. */
export const WITHOUT_SERVERS =
  "skipped: this lab's two PostgreSQL servers are not started (no POSTGRES_URL, POSTGRES_CONTAINER, POSTGRES_2_URL and POSTGRES_2_CONTAINER in .env). " +
  `They run in Docker: open the lab from the Distributed Data Labs sidebar, or run \`data-labs services up ${LAB_ID} .\` here.`;

if (ENDPOINTS === undefined) {
  console.warn(WITHOUT_SERVERS);
}

/** The role and slot the tests set the standby up with. */
export const REPLICATION: ReplicationSettings = { user: 'replicator', password: 'lab-replication', slot: 'standby_slot' };

/** A Db on one server; also closes its pool. */
export interface TestDb extends Db {
  close(): Promise<void>;
}

/** A Db whose server may move to another port (Docker publishes a restarted container anew). */
interface MovableDb extends TestDb {
  moveTo(url: string): Promise<void>;
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

function newPool(url: string): pg.Pool {
  // query_timeout: a statement on a paused server fails after 10 s instead of hanging the test.
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: CONNECT_TIMEOUT_MS, max: 8 });
  pool.on('error', () => undefined);
  return pool;
}

export function openDb(url: string): MovableDb {
  let pool = newPool(url);
  let currentUrl = url;
  return {
    query: async <Row>(sql: string, params?: unknown[]) => result<Row>(await pool.query(sql, params)),
    exec: (sql: string) => pool.query(sql),
    async moveTo(next: string): Promise<void> {
      if (next !== currentUrl) {
        const old = pool;
        pool = newPool(next);
        currentUrl = next;
        void old.end().catch(() => undefined);
      }
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query(options?.isolation ? `BEGIN ISOLATION LEVEL ${options.isolation}` : 'BEGIN');
        const value = await fn(queryable(client));
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

/** The URL with another port. */
function withPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.port = String(port);
  return parsed.toString();
}

/** One `select 1` on a fresh connection: resolves once the server accepts logins. */
async function answers(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000, query_timeout: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestServer extends Server {
  readonly db: TestDb;
  readonly admin: TestAdmin;
}

/**
 * One server. Its port is asked of Docker rather than taken from `.env`: a container stopped
 * and started again (as the tests and your code do) is published on a new port.
 */
async function openServer(endpoint: Endpoint): Promise<TestServer> {
  const container = docker(ENGINE).getContainer(endpoint.container);
  const port = await publishedPort(container);
  const db = openDb(port === undefined ? endpoint.url : withPort(endpoint.url, port));
  const admin = await containerAdmin({
    container,
    host: endpoint.host,
    started: async (now) => {
      const url = withPort(endpoint.url, now);
      await answers(url);
      await db.moveTo(url);
    },
  });
  return { name: endpoint.host, db, admin };
}

export interface Pair {
  readonly primary: TestServer;
  readonly standby: TestServer;
  close(): Promise<void>;
}

async function isInRecovery(server: TestServer): Promise<boolean> {
  const r = await server.db.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery');
  return r.rows[0]!.recovery;
}

/**
 * The two servers, the primary first: the one not in recovery. Both running as primaries
 * (the first start, or a failover test that ended halfway): the first of `.env` is the primary.
 */
export async function openPair(): Promise<Pair> {
  if (ENDPOINTS === undefined) {
    throw new Error(WITHOUT_SERVERS);
  }
  const [a, b] = await Promise.all(ENDPOINTS.map((e) => openServer(e)));
  // A test that stopped or paused a server and failed before it could start it again.
  await Promise.all([a!.admin.start(), b!.admin.start()]);
  const aStandby = await isInRecovery(a!).catch(() => false);
  const [primary, standby] = aStandby ? [b!, a!] : [a!, b!];
  return {
    primary,
    standby,
    close: async () => {
      await Promise.all([primary.db.close(), standby.db.close()]);
    },
  };
}

/**
 * The pair with the standby set up by `setUp` (your setUpStandby), opened at the first test's
 * call: a set-up that fails, fails each test that needs it (with its error), as it should.
 */
export function pairWithStandby(setUp: (primary: Server, standby: Server, replication: ReplicationSettings) => Promise<void>): { get(): Promise<Pair>; close(): Promise<void> } {
  let opened: Pair | undefined;
  let ready: Promise<Pair> | undefined;
  return {
    get: () =>
      (ready ??= openPair().then(async (pair) => {
        opened = pair;
        await setUp(pair.primary, pair.standby, REPLICATION);
        return pair;
      })),
    close: async () => {
      await opened?.close();
    },
  };
}

/** The primary's current WAL position. */
export async function primaryLsn(pair: Pair): Promise<string> {
  return (await pair.primary.db.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
}

/** Waits until the standby has replayed everything the primary has written so far. */
export async function caughtUp(pair: Pair, withinMs = 10_000): Promise<void> {
  const target = await primaryLsn(pair);
  const deadline = Date.now() + withinMs;
  for (;;) {
    const r = await pair.standby.db.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [target]);
    if (r.rows[0]?.done === true) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the standby has not replayed ${target} after ${withinMs} ms: is it streaming? (TODO 2)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Stops and starts the standby's replay: WAL still arrives, nothing of it is applied. */
export async function pauseReplay(pair: Pair): Promise<void> {
  await pair.standby.db.query('SELECT pg_wal_replay_pause()');
}
export async function resumeReplay(pair: Pair): Promise<void> {
  await pair.standby.db.query('SELECT pg_wal_replay_resume()');
}

/**
 * Cuts the standby off from the primary, as a broken network would: its primary_conninfo is
 * emptied, so its WAL receiver stops and it receives nothing more (a paused container would
 * not do: the kernel still takes in what the primary sends, and hands it over once it runs).
 */
export async function cutOff(pair: Pair): Promise<void> {
  await pair.standby.db.query(`ALTER SYSTEM SET primary_conninfo = ''`);
  await pair.standby.db.query('SELECT pg_reload_conf()');
  const deadline = Date.now() + 10_000;
  while ((await pair.primary.db.query('SELECT 1 FROM pg_stat_replication')).rows.length > 0) {
    if (Date.now() > deadline) {
      throw new Error('the standby still streams 10 s after its primary_conninfo was emptied');
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A table of this test's own, `t_<random>(key text primary key, value int)`, made on the primary and replayed on the standby. */
export async function testTable(pair: Pair): Promise<string> {
  const name = `t_${randomBytes(5).toString('hex')}`;
  await pair.primary.db.exec(`CREATE TABLE ${name} (key text PRIMARY KEY, value int NOT NULL)`);
  await caughtUp(pair);
  return name;
}
