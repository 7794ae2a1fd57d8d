/**
 * The Two-phase commit lab's adapter, loaded in the learner's process beside their bundle:
 * it builds the Coordinator that `transfer(c, t)` and `recover(c)` are handed — the two
 * banks' databases and the log's, each a `pg` pool reaching its server through the grader's
 * fault proxy, and a sleep that makes time pass faster — and the controls the grader uses.
 *
 * - Points: every statement that can change what a server holds is a point, named by its
 *   kind and its server (protocol.ts, PointPlan): PREPARE TRANSACTION, COMMIT PREPARED,
 *   ROLLBACK PREPARED, a transaction's COMMIT, any other statement outside a transaction
 *   but a read. The grader counts them on a clean transfer, then kills the process (SIGKILL)
 *   just before or after each one, or holds the code there while it breaks a bank.
 * - The audit: just before forwarding a PREPARE TRANSACTION, the adapter notes the gid and
 *   the transfer in the grader's audit schema, in the same transaction (audit.ts): the note
 *   commits exactly when the prepared transaction does, which ties the bank's committed
 *   changes to the transfer whatever the learner's gids look like.
 *
 * Bundled on its own into dist/sandbox/adapters/two-phase-commit.cjs; `pg` comes from the
 * lab's own node_modules.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type * as PgModule from 'pg';
import { type Db, ISOLATION, type IsolationLevel, type QueryResult, type Queryable, WRITES, callLearner, labPg } from '../../../src/core/grading/adapters/pgDb';
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import { notePrepare } from './audit';
import type { ArmPlan, PointPlan, ServerAddress, TransferArgs, TwoPhaseAdapter, TwoPhaseAdapterConfig } from './protocol';

const FILE = 'src/transfers.ts';

/** `PREPARE TRANSACTION '<gid>'`, and the gid, quotes undoubled. */
const PREPARE = /^\s*prepare\s+transaction\s+'((?:[^']|'')*)'\s*;?\s*$/i;

/** What an autocommit statement is, as a point: undefined for a read, which changes nothing. */
export function statementPoint(sql: string): string | undefined {
  const text = sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '').toLowerCase();
  if (/^commit\s+prepared\b/.test(text)) return 'commit-prepared';
  if (/^rollback\s+prepared\b/.test(text)) return 'rollback-prepared';
  if (/^prepare\s+transaction\b/.test(text)) return 'prepare';
  if (/^(select|show|values|table|explain)\b/.test(text)) return undefined;
  if (/^with\b/.test(text) && !/\b(insert|update|delete|merge)\b/.test(text)) return undefined;
  return 'write';
}

/** The points of the learner's code, shared by the three servers' connections. */
class Points {
  private started = new Map<string, number>();
  private passed: string[] = [];
  private plan: ArmPlan = {};
  private held: { readonly label: string; readonly go: () => void } | undefined;

  arm(plan: ArmPlan): void {
    this.started = new Map();
    this.passed = [];
    this.plan = plan;
    this.release();
  }

  get reached(): string[] {
    return [...this.passed];
  }

  get holding(): string | null {
    return this.held?.label ?? null;
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    held?.go();
  }

  private matches(plan: PointPlan | undefined, label: string, occurrence: number, when: 'before' | 'after'): boolean {
    return plan !== undefined && plan.label === label && plan.occurrence === occurrence && plan.when === when;
  }

  private async reach(label: string, occurrence: number, when: 'before' | 'after'): Promise<void> {
    if (this.matches(this.plan.crash, label, occurrence, when)) {
      // What a power cut does: no cleanup, open connections just drop.
      process.kill(process.pid, 'SIGKILL');
    }
    if (this.matches(this.plan.hold, label, occurrence, when)) {
      await new Promise<void>((go) => {
        this.held = { label: `${when} ${label}`, go };
      });
    }
  }

  /** Runs `work` as the point `label`. */
  async run<T>(label: string, work: () => Promise<T>): Promise<T> {
    const occurrence = (this.started.get(label) ?? 0) + 1;
    this.started.set(label, occurrence);
    await this.reach(label, occurrence, 'before');
    const result = await work();
    this.passed.push(label);
    await this.reach(label, occurrence, 'after');
    return result;
  }
}

const transferOf = new AsyncLocalStorage<string>();
/** The banks' default isolation level during one transfer, when the grader sets one (PostgreSQL's default_transaction_isolation). */
const bankIsolation = new AsyncLocalStorage<IsolationLevel>();
/** The pool connections that have an error listener of the adapter's. */
const watched = new WeakSet<PgModule.PoolClient>();

/** One server's Db: a pool in the run's schema, every changing statement a point. */
class ServerDb {
  private readonly pool: PgModule.Pool;
  readonly db: Db;

  constructor(
    private readonly server: ServerAddress,
    schema: string,
    poolSize: number,
    private readonly points: Points,
    /** On a bank: the grader's audit schema, where each PREPARE is noted. */
    private readonly auditSchema: string | undefined,
  ) {
    const pg = labPg();
    this.pool = new pg.Pool({ connectionString: server.url, max: poolSize, connectionTimeoutMillis: 5_000, options: `-c search_path=${schema}` });
    this.pool.on('error', () => undefined);
    this.db = this.makeDb();
  }

  private label(kind: string): string {
    return `${kind}@${this.server.name}`;
  }

  private static result<Row>(r: PgModule.QueryResult): QueryResult<Row> {
    return { rows: r.rows as Row[], ...(WRITES.has(r.command) && r.rowCount !== null ? { affectedRows: r.rowCount } : {}) };
  }

  /** Statements outside a transaction: each changing one is a point. */
  private autocommit(): Queryable {
    const pointed = <T>(sql: string, work: () => Promise<T>): Promise<T> => {
      const kind = statementPoint(sql);
      return kind === undefined ? work() : this.points.run(this.label(kind), work);
    };
    return {
      query: <Row = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
        pointed(sql, async () => ServerDb.result<Row>(await this.pool.query({ text: sql, values: params, queryMode: 'extended' } as PgModule.QueryConfig))),
      exec: (sql: string) => pointed(sql, () => this.pool.query(sql)),
    };
  }

  /** Statements inside one of the learner's transactions: its PREPARE TRANSACTION is a point, noted in the audit first. */
  private inTransaction(client: PgModule.PoolClient, state: { prepared: boolean }): Queryable {
    const send = async (sql: string, work: () => Promise<unknown>): Promise<unknown> => {
      const prepare = PREPARE.exec(sql);
      if (prepare === null || this.auditSchema === undefined) {
        return work();
      }
      const gid = (prepare[1] ?? '').replaceAll("''", "'");
      // In the transaction being prepared: committed with it, or never.
      await client.query(notePrepare(this.auditSchema), [gid, transferOf.getStore() ?? '']).catch(() => undefined);
      const result = await this.points.run(this.label('prepare'), work);
      state.prepared = true;
      return result;
    };
    return {
      query: async <Row = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
        (await send(sql, async () => ServerDb.result<Row>(await client.query({ text: sql, values: params, queryMode: 'extended' } as PgModule.QueryConfig)))) as QueryResult<Row>,
      exec: (sql: string) => send(sql, () => client.query(sql)),
    };
  }

  private makeDb(): Db {
    return {
      ...this.autocommit(),
      transaction: async <T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> => {
        const level = options?.isolation;
        if (level !== undefined && !Object.hasOwn(ISOLATION, level)) {
          throw new Error(`Unknown isolation level "${String(level)}": use 'read committed', 'repeatable read' or 'serializable'.`);
        }
        const client = await this.pool.connect();
        // A connection lost while checked out (a bank killed, a reset) is an error on the
        // client, not the pool: the statement in flight fails, and the process must not crash.
        if (!watched.has(client)) {
          watched.add(client);
          client.on('error', () => undefined);
        }
        let broken: Error | undefined;
        try {
          // The level the code asks for; without one, the bank's default (repeatable read on a bank the grader set so).
          const chosen = level ?? (this.auditSchema !== undefined ? bankIsolation.getStore() : undefined);
          await client.query(chosen !== undefined ? `BEGIN ISOLATION LEVEL ${ISOLATION[chosen]}` : 'BEGIN');
          const state = { prepared: false };
          let result: T;
          try {
            result = await fn(this.inTransaction(client, state));
          } catch (error) {
            await client.query('ROLLBACK').catch((e: unknown) => {
              broken = e instanceof Error ? e : new Error(String(e));
            });
            throw error;
          }
          if (!state.prepared) {
            // (After PREPARE TRANSACTION the session is out of the transaction: nothing is left to commit.)
            await this.points.run(this.label('commit'), async () => {
              try {
                await client.query('COMMIT');
              } catch (error) {
                await client.query('ROLLBACK').catch(() => undefined);
                throw error;
              }
            });
          }
          return result;
        } finally {
          client.release(broken);
        }
      },
    };
  }

  /** Opens `n` connections at once and puts them back in the pool, so a burst of transfers does not wait for connecting. */
  async warm(n: number): Promise<void> {
    const clients = await Promise.all(Array.from({ length: n }, () => this.pool.connect()));
    for (const client of clients) client.release();
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

interface Opened {
  readonly banks: Readonly<Record<string, { readonly name: string; readonly db: Db }>>;
  readonly log: Db;
  readonly config: TwoPhaseAdapterConfig;
  readonly servers: readonly ServerDb[];
}

/** Time passes ten times faster, at most 200 ms a wait: backoff still orders the retries, and grading stays quick. */
function sleep(ms: unknown): Promise<void> {
  const wanted = Number(ms);
  const time = Number.isFinite(wanted) ? Math.max(0, Math.min(200, wanted / 10)) : 0;
  return new Promise((resolve) => setTimeout(resolve, time));
}

export const createAdapter: AdapterFactory<TwoPhaseAdapter> = (learner) => {
  const points = new Points();
  let opened: Opened | undefined;
  const need = (): Opened => {
    if (opened === undefined) throw new Error('The grader did not configure the adapter.');
    return opened;
  };
  const coordinator = (id: string): Record<string, unknown> => {
    const o = need();
    return { id, banks: o.banks, log: o.log, voteTimeoutMs: o.config.voteTimeoutMs, sleep };
  };
  return {
    async configure(config: TwoPhaseAdapterConfig): Promise<void> {
      await Promise.all((opened?.servers ?? []).map((s) => s.close().catch(() => undefined)));
      const bankDbs = config.banks.map((b) => ({ name: b.name, server: new ServerDb(b, config.bankSchema, config.poolSize, points, config.auditSchema) }));
      const log = new ServerDb(config.log, config.logSchema, config.poolSize, points, undefined);
      opened = {
        banks: Object.fromEntries(bankDbs.map((b) => [b.name, { name: b.name, db: b.server.db }])),
        log: log.db,
        config,
        servers: [...bankDbs.map((b) => b.server), log],
      };
    },
    migrate: () => callLearner(learner, FILE, 'migrate', '(log)', need().log),
    transfer: (coordinatorId: string, t: TransferArgs, banksIsolation?: IsolationLevel) => {
      const run = (): Promise<unknown> => transferOf.run(t.id, () => callLearner(learner, FILE, 'transfer', '(c, t)', coordinator(coordinatorId), t));
      return banksIsolation !== undefined && Object.hasOwn(ISOLATION, banksIsolation) ? bankIsolation.run(banksIsolation, run) : run();
    },
    recover: (coordinatorId: string) => transferOf.run('', () => callLearner(learner, FILE, 'recover', '(c)', coordinator(coordinatorId))),
    arm: (plan: ArmPlan) => points.arm(plan),
    warm: async (n: number) => {
      await Promise.all(need().servers.map((s) => s.warm(n)));
    },
    points: () => points.reached,
    holding: () => points.holding,
    release: () => points.release(),
    async finish(): Promise<void> {
      const ending = opened;
      opened = undefined;
      await Promise.all((ending?.servers ?? []).map((s) => s.close().catch(() => undefined)));
    },
  };
};
