/**
 * Helpers shared by the lab's tests: a fresh database for each test, a clock the tests
 * move by hand, and a payment provider that lives in memory.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Db, IsolationLevel, QueryResult, Queryable } from '../src/db';
import { createPayment } from '../src/payments';
import {
  type ApiResponse,
  type Clock,
  type Currency,
  type Deps,
  KEY_TTL_MS,
  type PaymentProvider,
  type ProviderCharge,
  type ProviderResult,
} from '../src/types';
import { CONNECT_TIMEOUT_MS, DatabaseUnavailableError, type DatabaseTarget, databaseTarget, redact } from './connection';

// ─── The database ─────────────────────────────────────────────────────────────

/** A test's database: the `Db` your code receives, plus what the test needs to clean up. */
export interface TestDb extends Db {
  /** The empty schema this test works in: every connection has it as its search_path. */
  readonly schema: string;
  /** Rolls back what is stuck, drops the schema and closes the connections. Never throws. */
  close(): Promise<void>;
}

/** The statements whose row count `affectedRows` reports. */
const WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

/** How each isolation level is spelled in SQL. */
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
        // A serializable transaction that lost a race can fail here, at COMMIT, with 40001.
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

// ─── The clock ────────────────────────────────────────────────────────────────

/** A clock that starts at the real time and moves only when a test moves it. */
export class TestClock implements Clock {
  private current: number;

  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }
}

// ─── The payment provider ─────────────────────────────────────────────────────

/** One call your code made to the provider, and what it got back. */
export interface ProviderCall {
  readonly params: { readonly amount: number; readonly currency: Currency; readonly customer: string; readonly card: string };
  readonly idempotencyKey: string;
  readonly result: ProviderResult;
}

/** A charge the provider really made: the ledger is the truth about money taken. */
export interface LedgerEntry extends ProviderCharge {
  readonly idempotencyKey: string;
}

/** How the next call fails: it is lost before the provider charges, or after. */
export type ProviderFailure = 'before-charge' | 'after-charge';

/** A call held back by `pauseNext`, and the way to let it go on. */
export interface PausedCall {
  /** Resolves once your code has called createCharge and the call is waiting. */
  readonly reached: Promise<void>;
  /** Lets the call go on. */
  release(): void;
}

interface StoredAnswer {
  readonly at: number;
  readonly fingerprint: string;
  readonly result: ProviderResult;
}

/**
 * A payment provider that lives in this process, so that the visible tests can hold a call
 * back and lose an answer on purpose, which a real provider never does when asked.
 *
 * It keeps the rules of a real one (the grader's provider is a real HTTP server on
 * 127.0.0.1, reached through the same `PaymentProvider` interface, with the same rules):
 *   - the card token "declined" is declined (402); any other card is charged;
 *   - an idempotency key makes a retry safe: the first answer is stored, and a retry with
 *     the same key and the same parameters gets it back (`replayed: true`) and charges
 *     nothing; the same key with other parameters is rejected (400) and charges nothing;
 *   - stored answers are forgotten after 24 hours (by the test clock).
 */
export class TestProvider implements PaymentProvider {
  /** Every charge really made, in order. */
  readonly ledger: LedgerEntry[] = [];
  /** Every call, in order. */
  readonly calls: ProviderCall[] = [];
  private readonly answers = new Map<string, StoredAnswer>();
  private readonly failures: ProviderFailure[] = [];
  private readonly pauses: { arrived: () => void; gate: Promise<void> }[] = [];
  private readonly releases = new Set<() => void>();
  private counter = 0;

  constructor(private readonly clock: Clock) {}

  /**
   * The next call's outcome is lost: your code gets `{ kind: 'unknown' }`, as it would
   * after a 500 or a broken connection. With 'after-charge' the card WAS charged (and the
   * answer stored under the call's key); with 'before-charge' nothing happened.
   */
  failNext(when: ProviderFailure): void {
    this.failures.push(when);
  }

  /** Holds the next call back until the test releases it: a slow provider, on demand. */
  pauseNext(): PausedCall {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.releases.add(release);
    this.pauses.push({ arrived, gate });
    return { reached, release };
  }

  /** Lets every held-back call go on (when a test ends, whatever happened in it). */
  releaseAll(): void {
    for (const release of this.releases) {
      release();
    }
    this.releases.clear();
  }

  /** The charges made for `customer`. */
  chargesOf(customer: string): LedgerEntry[] {
    return this.ledger.filter((c) => c.customer === customer);
  }

  async createCharge(
    params: { readonly amount: number; readonly currency: Currency; readonly customer: string; readonly card: string },
    options: { readonly idempotencyKey: string },
  ): Promise<ProviderResult> {
    // Like any network call, the answer never arrives in the same tick.
    await new Promise((resolve) => setImmediate(resolve));
    const pause = this.pauses.shift();
    if (pause) {
      pause.arrived();
      await pause.gate;
    }
    const copy = { amount: params.amount, currency: params.currency, customer: params.customer, card: params.card };
    const key = options?.idempotencyKey;
    const result = this.handle(copy, key);
    this.calls.push({ params: copy, idempotencyKey: key, result });
    return result;
  }

  private handle(params: ProviderCall['params'], key: string | undefined): ProviderResult {
    if (typeof key !== 'string' || key === '') {
      return { kind: 'rejected', status: 400, type: 'invalid_request_error', message: 'createCharge needs { idempotencyKey } (a non-empty string) as its second argument.' };
    }
    const failure = this.failures.shift();
    if (failure === 'before-charge') {
      return { kind: 'unknown', reason: 'The provider failed with 500 before charging (a failure the test asked for).' };
    }
    const now = this.clock.now().getTime();
    const fingerprint = JSON.stringify(params);
    const stored = this.answers.get(key);
    if (stored && now - stored.at > KEY_TTL_MS) {
      this.answers.delete(key);
    } else if (stored) {
      if (stored.fingerprint !== fingerprint) {
        return { kind: 'rejected', status: 400, type: 'idempotency_error', message: `This provider key was first used with other parameters: ${stored.fingerprint}.` };
      }
      return stored.result.kind === 'charged' ? { ...stored.result, replayed: true } : stored.result;
    }
    if (!Number.isInteger(params.amount) || params.amount <= 0) {
      return { kind: 'rejected', status: 400, type: 'invalid_request_error', message: 'amount must be a positive whole number of cents.' };
    }
    if (!['eur', 'usd', 'gbp'].includes(params.currency)) {
      return { kind: 'rejected', status: 400, type: 'invalid_request_error', message: 'currency must be one of eur, usd, gbp.' };
    }
    if (typeof params.customer !== 'string' || params.customer === '') {
      return { kind: 'rejected', status: 400, type: 'invalid_request_error', message: 'customer must name the customer.' };
    }
    let result: ProviderResult;
    if (params.card === 'declined') {
      result = { kind: 'declined', status: 402, code: 'card_declined', message: 'Your card was declined.' };
    } else {
      this.counter += 1;
      const charge: ProviderCharge = {
        id: `ch_${this.counter}_${randomBytes(4).toString('hex')}`,
        amount: params.amount,
        currency: params.currency,
        customer: params.customer,
        status: 'succeeded',
      };
      this.ledger.push({ ...charge, idempotencyKey: key });
      result = { kind: 'charged', charge, replayed: false };
    }
    this.answers.set(key, { at: now, fingerprint, result });
    if (failure === 'after-charge') {
      return { kind: 'unknown', reason: 'The connection broke before the answer arrived (a failure the test asked for). The charge may have been made.' };
    }
    return result;
  }
}

// ─── Calling your endpoint ────────────────────────────────────────────────────

/** What a test hands your code, and what it needs to look at afterwards. */
export interface TestDeps extends Deps {
  readonly db: TestDb;
  readonly provider: TestProvider;
  readonly clock: TestClock;
}

/** A fresh database, provider and clock for one test. The caller runs migrate(db). */
export async function freshDeps(): Promise<TestDeps> {
  const clock = new TestClock();
  return { db: await freshDb(), provider: new TestProvider(clock), clock };
}

/** Requests still running, so that closeDeps can wait for them. */
const running = new Set<Promise<unknown>>();

/** Lets held-back provider calls go on, waits a little for unfinished requests, then closes the database. */
export async function closeDeps(deps: TestDeps | undefined): Promise<void> {
  if (!deps) {
    return;
  }
  deps.provider.releaseAll();
  await atMost(Promise.all(running), 10_000);
  await deps.db.close();
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

const STUCK_ADVICE =
  'Two things make a request wait that long. (1) A db.query inside db.transaction(async (tx) => ...): send every statement ' +
  'in the callback through tx.query, or it runs on another connection and waits for your own transaction to end. ' +
  '(2) A transaction held open while the provider is called: a second request then waits on the first one\'s row ' +
  'lock (or, on the embedded database, on its transaction) for as long as the provider takes. Commit before you ' +
  'call the provider, and call it outside any transaction.';

/**
 * Sends `POST /payments` to your createPayment, as `userId`, with `key` as the
 * Idempotency-Key header (undefined: no header) and `body` as the parsed JSON body.
 */
export function post(deps: TestDeps, key: string | undefined, body: unknown, userId = 'user_ada'): Promise<ApiResponse> {
  const call = createPayment({ userId, idempotencyKey: key, body }, deps);
  // Handled here too, so that a request a failed test never awaits is not reported again as unhandled.
  const settled = call.then(
    () => undefined,
    () => undefined,
  );
  running.add(settled);
  void settled.then(() => running.delete(settled));
  return inTime(call, `createPayment (key ${JSON.stringify(key)})`, STUCK_ADVICE);
}

/** The parsed JSON body of a response (fails the test with the text if it is not JSON). */
export function bodyOf(response: ApiResponse): Record<string, unknown> {
  try {
    return JSON.parse(response.body) as Record<string, unknown>;
  } catch {
    throw new Error(`The response body is not JSON: ${JSON.stringify(response.body)}. Send JSON.stringify(...) of an object.`);
  }
}

/** The value of a response header, whatever the case of its name; undefined if absent. */
export function header(response: ApiResponse, name: string): string | undefined {
  const found = Object.entries(response.headers ?? {}).find(([key]) => key.toLowerCase() === name.toLowerCase());
  return found?.[1];
}

/** Whether a response says it was replayed from storage. */
export function replayed(response: ApiResponse): boolean {
  return header(response, 'idempotent-replayed') === 'true';
}

/** A fresh idempotency key, as a client would make one (a random UUID). */
export function newKey(): string {
  return randomUUID();
}
