/**
 * The database a graded lab's code is handed, built inside the learner's process (this
 * file is bundled into an adapter, never into the extension): a `pg` pool on the lab's
 * PostgreSQL, pinned to the grading run's own schema, whose every commit is a point at
 * which the grader can crash the process.
 *
 * A commit point is a transaction's COMMIT or a statement run outside a transaction (it
 * commits on its own). The grader counts the points of a clean request, then replays the
 * request with the process killed (SIGKILL, as a power cut would) just before or just
 * after each one: that reaches every recovery point of any design without knowing it.
 *
 * It also watches the learner's transactions: a call to another service (any request the
 * adapters' HTTP client sends, http.ts) made while one of them is open is told to the
 * grader at once (`AdapterSandbox.observe`), and so is that transaction's end, so that a
 * scenario stuck on a transaction held across a call is judged for what it is (engine.ts,
 * heldTransaction.ts). A transaction is one of `db.transaction`, or a pool connection the
 * code left inside a BEGIN it sent itself.
 *
 * `pg` comes from the lab's own node_modules: the learner's process runs in the lab folder.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as PgModule from 'pg';
import { Rng } from '../../random';
import { ADAPTER_SANDBOX_KEY } from '../sandbox/messages';
import type { AdapterSandbox } from '../sandbox/process';
import { watchOutboundCalls } from './http';

/** The shape of the Db every PostgreSQL lab declares in its src/db.ts. */
export interface QueryResult<Row> {
  readonly rows: Row[];
  readonly affectedRows?: number;
}
export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  exec(sql: string): Promise<unknown>;
}
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';
export interface Db extends Queryable {
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T>;
}

export interface CrashPlan {
  /** 1-based: the commit point to crash at. */
  readonly point: number;
  /** Kill the process just before the COMMIT is sent, or just after it returned. */
  readonly when: 'before' | 'after';
}

/** A point is a commit, or a call out of the database that an adapter runs through `external`. */
export type PointKind = 'commit' | 'call';

/** The functions every database lab's adapter offers the grader: dbAdapter's controls, and the learner's migrate. */
export interface DbAdapterControls {
  /** Starts counting commit points from zero, with a crash armed or not. */
  arm(crash: CrashPlan | null): void;
  commitPoints(): number;
  /** What each point since `arm` was: a commit, or a call out of the database. */
  pointKinds(): readonly PointKind[];
  /** Latency on every statement, and connections opened ahead, for the concurrency scenarios. */
  network(options: { readonly latencyMs: number; readonly warm: number }): Promise<void>;
  /** Ends the run on this side: closes the connections (the grader drops the run's schema). */
  finish(): Promise<void>;
  /**
   * Restarts every sequence of the run's schema at its own value drawn from `seed`, far
   * from the others' (SEQUENCE_SPACING apart), after the learner's migrate made them: ids
   * of two tables never coincide, so code that confuses them is caught.
   */
  spreadSequences(seed: number): Promise<readonly SequenceStart[]>;
  /** Runs the learner's migrate(db). */
  migrate(): Promise<unknown>;
}

/** Where `spreadSequences` restarted a sequence. */
export interface SequenceStart {
  readonly sequence: string;
  readonly start: number;
}

/** How far apart spreadSequences starts sequences, where their range allows it. */
export const SEQUENCE_SPACING = 1_000_000;

/** A transaction of the learner's code, as the adapter watches it. */
interface WatchedTransaction {
  readonly id: number;
  /** performance.now() when it began. */
  readonly openedAt: number;
  open: boolean;
  /** Whether a call made inside it was told to the grader (its end is told too, then). */
  reported: boolean;
}

export interface PgDbOptions {
  readonly databaseUrl: string;
  /** The schema every connection uses as its search_path. */
  readonly schema: string;
  readonly poolSize: number;
  /** Where what the adapter sees is told to the grader; nowhere when absent. */
  readonly sandbox?: AdapterSandbox;
}

/** The commands whose row count is reported as `affectedRows`. */
export const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);
/** Each isolation level as BEGIN spells it. */
export const ISOLATION: Readonly<Record<IsolationLevel, string>> = {
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

/** `pg` from the lab's own node_modules (the learner's process runs in the lab folder). */
export function labPg(): typeof PgModule {
  return createRequire(path.join(process.cwd(), 'package.json'))('pg') as typeof PgModule;
}

/** A pool-backed Db with commit points, and the controls the grader uses through the adapter. */
export class GradedDb {
  private readonly pool: PgModule.Pool;
  private points = 0;
  /** What each point passed since the last reset was: a commit, or a call out of the database. */
  private kinds: PointKind[] = [];
  private crash: CrashPlan | undefined;
  private latencyMs = 0;
  readonly db: Db;
  private readonly schema: string;
  private readonly sandbox: AdapterSandbox | undefined;
  /** The transaction of `db.transaction` the code runs in, if any. */
  private readonly inTransaction = new AsyncLocalStorage<WatchedTransaction>();
  /** Pool connections the code left inside a transaction it began itself (a BEGIN sent with `query`). */
  private readonly leftOpen = new Map<PgModule.ClientBase, WatchedTransaction>();
  /** Connections checked out by `db.transaction`, whose transaction is watched through `inTransaction`. */
  private readonly checkedOut = new Set<PgModule.ClientBase>();
  private transactions = 0;
  private readonly unwatchCalls: () => void;

  constructor(options: PgDbOptions) {
    const pg = labPg();
    if (!/^[a-z_][a-z0-9_]*$/.test(options.schema)) {
      throw new Error(`Not a schema name: ${options.schema}`);
    }
    this.schema = options.schema;
    this.sandbox = options.sandbox;
    this.pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize,
      connectionTimeoutMillis: 10_000,
      // The embedded server ignores the startup option `-c search_path`, so it is sent after
      // connecting. pg-pool waits for the promise onConnect returns before it hands the
      // connection out, although its types say void.
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- pg-pool awaits it
      onConnect: async (client: PgModule.ClientBase) => {
        // A commit still commits; it just does not wait for the disk. The grader kills the
        // learner's process, never the database, so nothing it checks depends on the flush,
        // and grading runs several times faster on a slow disk.
        await client.query(`SET search_path TO ${options.schema}; SET synchronous_commit TO off`);
        this.watchConnection(client);
      },
    });
    this.pool.on('error', () => undefined);
    this.db = this.makeDb();
    this.unwatchCalls = watchOutboundCalls((call) => this.noteCall(call));
  }

  /** Counts from zero again, and arms (or disarms) a crash. */
  reset(crash: CrashPlan | undefined): void {
    this.points = 0;
    this.kinds = [];
    this.crash = crash;
  }

  /**
   * Runs a call of the learner's code to the world outside the database (a service, a
   * provider) as a point too: the process can be killed just before it is sent or just
   * after its answer arrived, before the code sees it (the work is done; nothing the code
   * would write about it is).
   */
  async external<T>(work: () => Promise<T>): Promise<T> {
    const point = this.points + 1;
    this.reach('before', point);
    const result = await work();
    this.points = point;
    this.kinds[point - 1] = 'call';
    this.reach('after', point);
    return result;
  }

  /** Tells the grader of a call made while a transaction of the code is open (once per transaction). */
  private noteCall(label: string): void {
    const scoped = this.inTransaction.getStore();
    const open = scoped?.open === true ? scoped : [...this.leftOpen.values()].find((t) => t.open);
    if (open === undefined || open.reported) {
      return;
    }
    open.reported = true;
    this.sandbox?.observe({ kind: 'call-in-transaction', transaction: open.id, call: label, openForMs: Math.round(performance.now() - open.openedAt) });
  }

  private beginWatch(): WatchedTransaction {
    return { id: ++this.transactions, openedAt: performance.now(), open: true, reported: false };
  }

  private endWatch(transaction: WatchedTransaction): void {
    if (!transaction.open) {
      return;
    }
    transaction.open = false;
    if (transaction.reported) {
      this.sandbox?.observe({ kind: 'transaction-ended', transaction: transaction.id });
    }
  }

  /**
   * Follows a pool connection's transaction state as the server reports it after each
   * statement (ReadyForQuery: I idle, T in a transaction, E in a failed one), to see a
   * transaction the code began with a BEGIN of its own on the pool.
   */
  private watchConnection(client: PgModule.ClientBase): void {
    const connection = (client as { connection?: { on(event: string, listener: (message: { status?: string }) => void): unknown } }).connection;
    const settle = (inside: boolean): void => {
      const watched = this.leftOpen.get(client);
      if (inside && watched === undefined && !this.checkedOut.has(client)) {
        this.leftOpen.set(client, this.beginWatch());
      } else if (!inside && watched !== undefined) {
        this.leftOpen.delete(client);
        this.endWatch(watched);
      }
    };
    connection?.on('readyForQuery', (message) => settle(message.status === 'T' || message.status === 'E'));
    client.on('end', () => settle(false));
  }

  /** What each point since the last reset was, in order. */
  get pointKinds(): readonly PointKind[] {
    return [...this.kinds];
  }

  /**
   * Network latency between the learner's code and the database: each statement waits
   * this long before it is sent. It widens the windows a race needs, as a database on
   * another machine would; 0 turns it off.
   */
  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Opens `n` connections at once and puts them back in the pool, so a burst of requests does not wait for connecting. */
  async warm(n: number): Promise<void> {
    const clients = await Promise.all(Array.from({ length: n }, () => this.pool.connect()));
    for (const client of clients) {
      client.release();
    }
  }

  private async delay(): Promise<void> {
    if (this.latencyMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    }
  }

  /** Commit points passed since the last reset. */
  get count(): number {
    return this.points;
  }

  /** See DbAdapterControls.spreadSequences. */
  async spreadSequences(seed: number): Promise<SequenceStart[]> {
    const { rows } = await this.pool.query<{ name: string; min: string; max: string; step: string; last: string | null }>(
      'SELECT sequencename AS name, min_value::text AS min, max_value::text AS max, increment_by::text AS step, last_value::text AS last FROM pg_sequences WHERE schemaname = $1 ORDER BY sequencename',
      [this.schema],
    );
    const rising = rows.filter((r) => Number(r.step) > 0);
    const rng = new Rng(seed).fork('sequences');
    // Each sequence gets a slot of its own, in an order drawn from the seed.
    const slots = rng.shuffle(rising.map((_, i) => i + 1));
    const started: SequenceStart[] = [];
    for (const [i, row] of rising.entries()) {
      // Past what the code already drew (a row its migrate inserted), within an int's range at most.
      const low = Math.max(Number(row.min), row.last === null ? Number(row.min) : Number(row.last) + 1);
      const high = Math.min(Number(row.max), 2 ** 31 - 1);
      const spacing = Math.min(SEQUENCE_SPACING, Math.floor((high - low) / (rising.length + 1)));
      if (!(spacing >= 2)) {
        continue;
      }
      const start = low + (slots[i] ?? 1) * spacing + rng.int(0, Math.floor(spacing / 2));
      await this.pool.query(`ALTER SEQUENCE ${this.schema}."${row.name.replaceAll('"', '""')}" RESTART WITH ${start}`);
      started.push({ sequence: row.name, start });
    }
    return started;
  }

  close(): Promise<void> {
    this.unwatchCalls();
    return this.pool.end();
  }

  private die(): never {
    // What a power cut does: no cleanup, no ROLLBACK sent, open connections just drop.
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable');
  }

  /** Called around each commit point. */
  private reach(when: 'before' | 'after', point: number): void {
    if (when === 'after' && this.kinds[point - 1] === undefined) {
      this.kinds[point - 1] = 'commit';
    }
    if (this.crash !== undefined && this.crash.point === point && this.crash.when === when) {
      this.die();
    }
  }

  private queryable(target: PgModule.Pool | PgModule.PoolClient, autocommit: boolean): Queryable {
    const run = async <T>(work: () => Promise<T>): Promise<T> => {
      if (!autocommit) {
        return work();
      }
      const point = this.points + 1;
      this.reach('before', point);
      const result = await work();
      this.points = point;
      this.reach('after', point);
      return result;
    };
    return {
      query: <Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> =>
        run(async () => {
          await this.delay();
          // The extended protocol: one call runs exactly one statement.
          const result = await target.query<Row & PgModule.QueryResultRow>({ text: sql, values: params, queryMode: 'extended' } as PgModule.QueryConfig);
          return { rows: result.rows, ...(WRITES.has(result.command) && result.rowCount !== null ? { affectedRows: result.rowCount } : {}) };
        }),
      exec: (sql: string) =>
        run(async () => {
          await this.delay();
          return target.query(sql);
        }),
    };
  }

  private makeDb(): Db {
    return {
      ...this.queryable(this.pool, true),
      transaction: async <T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> => {
        const level = options?.isolation;
        if (level !== undefined && !Object.hasOwn(ISOLATION, level)) {
          throw new Error(`Unknown isolation level "${String(level)}": use 'read committed', 'repeatable read' or 'serializable'.`);
        }
        const client = await this.pool.connect();
        this.checkedOut.add(client);
        const watched = this.beginWatch();
        let broken: Error | undefined;
        try {
          await client.query(level !== undefined ? `BEGIN ISOLATION LEVEL ${ISOLATION[level]}` : 'BEGIN');
          let result: T;
          try {
            // What the code calls from inside the transaction runs in its scope (see noteCall).
            result = await this.inTransaction.run(watched, () => fn(this.queryable(client, false)));
          } catch (error) {
            await client.query('ROLLBACK').catch((e: unknown) => {
              broken = e instanceof Error ? e : new Error(String(e));
            });
            throw error;
          }
          const point = this.points + 1;
          this.reach('before', point);
          try {
            await client.query('COMMIT');
          } catch (error) {
            // A failed COMMIT (a serialization failure) has already ended the transaction.
            await client.query('ROLLBACK').catch(() => undefined);
            throw error;
          }
          this.points = point;
          this.reach('after', point);
          return result;
        } finally {
          this.endWatch(watched);
          this.checkedOut.delete(client);
          client.release(broken);
        }
      },
    };
  }
}

/** Calls the learner's export `name` of `file`, or says clearly that it is missing. */
export function callLearner(learner: Readonly<Record<string, unknown>>, file: string, name: string, signature: string, ...args: unknown[]): Promise<unknown> {
  const fn = learner[name];
  if (typeof fn !== 'function') {
    return Promise.reject(new TypeError(`${file} does not export a function ${name}${signature}.`));
  }
  return Promise.resolve((fn as (...a: unknown[]) => unknown)(...args));
}

/** The sandbox of the learner's process this runs in (set by its child harness, child.ts), if any. */
function sandboxOfThisProcess(): AdapterSandbox | undefined {
  return (globalThis as Record<symbol, AdapterSandbox | undefined>)[Symbol.for(ADAPTER_SANDBOX_KEY)];
}

/**
 * The database half of an adapter: a GradedDb made by `open`, and the controls every
 * PostgreSQL lab's grader uses (crash points, latency, the end of the run).
 */
export function dbAdapter(sandbox: AdapterSandbox | undefined = sandboxOfThisProcess()): {
  open(options: PgDbOptions): Promise<void>;
  db(): Db;
  /** Runs a call to the outside world (a service) as a point where the grader can kill the process. */
  external<T>(work: () => Promise<T>): Promise<T>;
  readonly controls: Omit<DbAdapterControls, 'migrate'>;
} {
  let graded: GradedDb | undefined;
  return {
    async open(options) {
      await graded?.close().catch(() => undefined);
      // The run's schema is the grader's to make (runDatabase.ts): the learner's role cannot.
      graded = new GradedDb({ ...(sandbox !== undefined ? { sandbox } : {}), ...options });
    },
    db() {
      if (graded === undefined) {
        throw new Error('The grader did not configure the adapter.');
      }
      return graded.db;
    },
    external<T>(work: () => Promise<T>): Promise<T> {
      return graded !== undefined ? graded.external(work) : work();
    },
    controls: {
      arm(crash: CrashPlan | null): void {
        graded?.reset(crash ?? undefined);
      },
      commitPoints(): number {
        return graded?.count ?? 0;
      },
      pointKinds(): readonly PointKind[] {
        return graded?.pointKinds ?? [];
      },
      async network(options: { readonly latencyMs: number; readonly warm: number }): Promise<void> {
        graded?.setLatency(options.latencyMs);
        if (options.warm > 0) {
          await graded?.warm(options.warm);
        }
      },
      async spreadSequences(seed: number): Promise<readonly SequenceStart[]> {
        return (await graded?.spreadSequences(seed)) ?? [];
      },
      async finish(): Promise<void> {
        const ending = graded;
        graded = undefined;
        await ending?.close();
      },
    },
  };
}
