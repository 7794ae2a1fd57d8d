/**
 * The Replication lab's adapter, loaded in the learner's process beside their bundle. It
 * builds the two Servers the learner's functions are handed — each a `Db` (a `pg` pool that
 * reaches the server through the grader's fault proxy) and a ServerAdmin whose calls go to
 * the grader's admin service (admin.ts), which runs them in the real container — keeps the
 * learner's routers and sessions by the names the grader gives them, and answers each call
 * with where its statements ran: the truth about routing, whatever the code says of itself.
 *
 * Bundled on its own into dist/sandbox/adapters/replication.cjs; `pg` comes from the lab's
 * own node_modules.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type * as PgModule from 'pg';
import { type Db, ISOLATION, type IsolationLevel, type QueryResult, type Queryable, WRITES, callLearner, labPg } from '../../../src/core/grading/adapters/pgDb';
import { postJson } from '../../../src/core/grading/adapters/http';
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import type { CallAnswer, LsnOutcome, ReplicationAdapter, ReplicationAdapterConfig, ServerConfig, Trace } from './protocol';

const FILE = 'src/replication.ts';
/** The grader's statements carry this comment, so that the adapter knows them wherever the learner's code sends them. */
export const MARK = '/* grader */';
const ADMIN_TIMEOUT_MS = 120_000;

interface Collector {
  readonly marked: string[];
  readonly statements: { server: string; refused: boolean }[];
}

const tracing = new AsyncLocalStorage<Collector>();

function note(server: string, sql: string, refused: boolean): void {
  const collector = tracing.getStore();
  if (collector === undefined) {
    return;
  }
  collector.statements.push({ server, refused });
  if (sql.includes(MARK)) {
    collector.marked.push(server);
  }
}

function isReadOnlyRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '25006';
}

function result<Row>(r: PgModule.QueryResult): QueryResult<Row> {
  return { rows: r.rows as Row[], ...(WRITES.has(r.command) && r.rowCount !== null ? { affectedRows: r.rowCount } : {}) };
}

/** One statement through `client`, noted where it ran. */
async function traced<T>(server: string, sql: string, run: () => Promise<T>): Promise<T> {
  try {
    const value = await run();
    note(server, sql, false);
    return value;
  } catch (error) {
    note(server, sql, isReadOnlyRefusal(error));
    throw error;
  }
}

function queryable(server: string, client: PgModule.Pool | PgModule.PoolClient): Queryable {
  return {
    query: <Row = Record<string, unknown>>(sql: string, params: unknown[] = []) => traced(server, sql, async () => result<Row>(await client.query({ text: sql, values: params } as PgModule.QueryConfig))),
    exec: (sql: string) => traced(server, sql, () => client.query(sql)),
  };
}

/** A server's Db: a pool through the proxy, every statement noted. */
function serverDb(config: ServerConfig, poolSize: number): { readonly db: Db; close(): Promise<void> } {
  const pg = labPg();
  const pool = new pg.Pool({ connectionString: config.url, max: poolSize, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db: Db = {
    ...queryable(config.name, pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        const level = options?.isolation !== undefined && Object.hasOwn(ISOLATION, options.isolation) ? ` ISOLATION LEVEL ${ISOLATION[options.isolation]}` : '';
        await client.query(`BEGIN${level}`);
        const value = await fn(queryable(config.name, client));
        await traced(config.name, 'COMMIT', () => client.query('COMMIT'));
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
  };
  return { db, close: () => pool.end() };
}

/** A ServerAdmin whose calls the grader's admin service carries out in the container. */
function serverAdmin(config: ServerConfig, service: ReplicationAdapterConfig['admin']): Record<string, unknown> {
  const call = async (op: string, ...args: unknown[]): Promise<unknown> => {
    const answer = await postJson(service.url, JSON.stringify({ token: service.token, server: config.name, op, args }), { timeoutMs: ADMIN_TIMEOUT_MS });
    const parsed = JSON.parse(answer.text) as { ok: boolean; value?: unknown; message?: string };
    if (!parsed.ok) {
      throw new Error(parsed.message ?? `${op} failed`);
    }
    return parsed.value ?? undefined;
  };
  return {
    host: config.networkHost,
    port: config.networkPort,
    dataDirectory: config.dataDirectory,
    run: (command: readonly string[], options?: unknown) => call('run', command, options ?? {}),
    readFile: (file: string) => call('readFile', file),
    writeFile: async (file: string, text: string) => void (await call('writeFile', file, text)),
    restart: async () => void (await call('restart')),
    stop: async () => void (await call('stop')),
    start: async () => void (await call('start')),
    replaceDataDirectory: async (directory: string) => void (await call('replaceDataDirectory', directory)),
  };
}

/** A thrown value as plain data. */
function errorOf(error: unknown): { name: string; message: string; code?: string } {
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return { name: typeof e?.name === 'string' ? e.name : 'Error', message: typeof e?.message === 'string' ? e.message : String(error), ...(code !== undefined ? { code } : {}) };
}

/** Runs one of the learner's calls, traced; its value is made plain data (JSON) so that it can cross to the grader. */
async function answered(work: () => Promise<unknown>, limitMs = 0): Promise<CallAnswer<unknown>> {
  const collector: Collector = { marked: [], statements: [] };
  const trace = (): Trace => ({ marked: [...collector.marked], statements: collector.statements.map((s) => ({ ...s })) });
  const started = performance.now();
  const ms = (): number => Math.round((performance.now() - started) * 10) / 10;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = Symbol('hung');
  try {
    const running = tracing.run(collector, work);
    running.catch(() => undefined);
    const value = limitMs > 0 ? await Promise.race([running, new Promise<typeof hung>((resolve) => (timer = setTimeout(() => resolve(hung), limitMs)))]) : await running;
    if (value === hung) {
      return { ok: false, error: { name: 'Timeout', message: `no answer within ${limitMs} ms` }, hung: true, trace: trace(), ms: ms() };
    }
    let plain: unknown;
    try {
      plain = value === undefined ? null : JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
    } catch {
      plain = String(value);
    }
    return { ok: true, value: plain, trace: trace(), ms: ms() };
  } catch (error) {
    return { ok: false, error: errorOf(error), hung: false, trace: trace(), ms: ms() };
  } finally {
    clearTimeout(timer);
  }
}

/** One synchronous call of the learner's, its value made text by `as` (or what it threw). */
function outcome(work: () => unknown, as: (value: unknown) => string): LsnOutcome {
  try {
    return { ok: true, value: as(work()) };
  } catch (error) {
    return { ok: false, error: errorOf(error).message };
  }
}

const asNumberText = (value: unknown): string => (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value)) ? String(value) : `not a number: ${typeof value}`);
const asSign = (value: unknown): string => (typeof value === 'number' && !Number.isNaN(value) ? String(Math.sign(value)) : `not a number: ${typeof value}`);

/** A session's statement, with its parameters only when there are some (as a caller with none writes it). */
const statement = (fn: (...args: unknown[]) => unknown, sql: string, params: readonly unknown[]): unknown => (params.length === 0 ? fn(sql) : fn(sql, [...params]));

interface Opened {
  readonly servers: ReadonlyMap<string, { readonly server: Record<string, unknown>; close(): Promise<void> }>;
}

type Learner = Readonly<Record<string, unknown>>;

export const createAdapter: AdapterFactory<ReplicationAdapter> = (learner: Learner) => {
  let opened: Opened | undefined;
  const routers = new Map<string, Record<string, unknown>>();
  const sessions = new Map<string, Record<string, unknown>>();
  const server = (name: string): Record<string, unknown> => {
    const found = opened?.servers.get(name);
    if (found === undefined) {
      throw new Error(`The grader did not configure the server ${name}.`);
    }
    return found.server;
  };
  const method = (target: Record<string, unknown> | undefined, name: string, what: string): ((...args: unknown[]) => unknown) => {
    const fn = target?.[name];
    if (typeof fn !== 'function') {
      throw new TypeError(`${what} has no method ${name}()`);
    }
    return (fn as (...args: unknown[]) => unknown).bind(target);
  };
  return {
    async configure(config: ReplicationAdapterConfig): Promise<void> {
      await Promise.all([...(opened?.servers.values() ?? [])].map((s) => s.close().catch(() => undefined)));
      routers.clear();
      sessions.clear();
      const servers = new Map<string, { server: Record<string, unknown>; close(): Promise<void> }>();
      for (const c of config.servers) {
        const { db, close } = serverDb(c, config.poolSize);
        servers.set(c.name, { server: { name: c.name, db, admin: serverAdmin(c, config.admin) }, close });
      }
      opened = { servers };
    },
    async lsns(parse, compare) {
      const parseLsn = method(learner, 'parseLsn', FILE);
      const compareLsn = method(learner, 'compareLsn', FILE);
      return {
        parsed: parse.map((text) => outcome(() => parseLsn(text), asNumberText)),
        compared: compare.map(([a, b]) => outcome(() => compareLsn(a, b), asSign)),
      };
    },
    setUp: (primary, standby, replication) => answered(() => callLearner(learner, FILE, 'setUpStandby', '(primary, standby, replication)', server(primary), server(standby), { ...replication })),
    lag: (primary, standby) => answered(() => callLearner(learner, FILE, 'replicationLag', '(primary, standby)', server(primary), server(standby))),
    async openRouter(router, primary, standby, options) {
      const Router = learner.ReadRouter;
      if (typeof Router !== 'function') {
        throw new TypeError(`${FILE} does not export a class ReadRouter.`);
      }
      routers.set(router, new (Router as new (...args: unknown[]) => Record<string, unknown>)(server(primary), server(standby), { ...options }));
    },
    async openSession(router, session) {
      const made = method(routers.get(router), 'session', `router ${router}`)();
      sessions.set(session, made as Record<string, unknown>);
    },
    write: (session, sql, params, limitMs) => answered(async () => statement(method(sessions.get(session), 'write', `session ${session}`), sql, params), limitMs),
    read: (session, sql, params, limitMs) => answered(async () => statement(method(sessions.get(session), 'read', `session ${session}`), sql, params), limitMs),
    failover: (router, oldPrimary, standby) => answered(() => callLearner(learner, FILE, 'failover', '(router, oldPrimary, standby)', routers.get(router), server(oldPrimary), server(standby))),
    setSynchronous: (primary, on) => answered(() => callLearner(learner, FILE, 'setSynchronous', '(primary, on)', server(primary), on)),
    async finish(): Promise<void> {
      const ending = opened;
      opened = undefined;
      routers.clear();
      sessions.clear();
      await Promise.all([...(ending?.servers.values() ?? [])].map((s) => s.close().catch(() => undefined)));
    },
  };
};
