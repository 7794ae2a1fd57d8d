/**
 * Helpers shared by the lab's tests: a fresh database for each test, a fast `sleep`, and
 * the four services of the Place Order saga (orders, inventory, payments, shipping) as a
 * stand-in that lives in memory.
 *
 * The stand-in exists so that a test can make a call fail on purpose, or make the
 * orchestrator "die" in the middle of a call, which real services never do when asked. The
 * grader runs the same four services for real, over HTTP on 127.0.0.1, with their state in
 * PostgreSQL, and the same rules (see TestServices below).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db, IsolationLevel, QueryResult, Queryable } from '../src/db';
import { placeOrder, recover } from '../src/saga';
import type { Deps, OrderRequest, SagaOutcome, ServiceResult, Services } from '../src/types';
import { CONNECT_TIMEOUT_MS, DatabaseUnavailableError, type DatabaseTarget, databaseTarget, redact } from './connection';

// ─── The orchestrator's process ───────────────────────────────────────────────

/**
 * Thrown by every service, database and sleep call once the orchestrator's process has
 * "died" (a `crash` fault): in a real crash nothing after that instant runs at all, so
 * your code must not catch it and carry on. The test then restarts the process (with
 * the database and the services as the crash left them) and calls recover().
 */
export class SimulatedCrash extends Error {
  override readonly name = 'SimulatedCrash';
}

/** Whether the simulated orchestrator process is alive; the database, the services and sleep all ask. */
export class SimulatedProcess {
  /** Why the process is dead, or undefined while it runs. */
  private dead: string | undefined;
  private ended = false;
  /** How many times it crashed. */
  crashes = 0;

  /** Throws SimulatedCrash when the process is dead, and an Error when the test is over. */
  check(what: string): void {
    if (this.ended) {
      throw new Error(`${what}: the test is over, and this call came after it ended. Something in your code is still running (a retry loop?).`);
    }
    if (this.dead !== undefined) {
      throw new SimulatedCrash(`${what}: the orchestrator's process is dead (${this.dead}). Nothing runs after a crash: do not catch this error.`);
    }
  }

  crash(reason: string): SimulatedCrash {
    this.dead = reason;
    this.crashes += 1;
    return new SimulatedCrash(`The orchestrator's process died: ${reason} (a crash the test asked for).`);
  }

  /** A new process starts: the calls work again. */
  restart(): void {
    this.dead = undefined;
  }

  end(): void {
    this.ended = true;
  }
}

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

/** Sends SQL to a pool (each call on any free connection) or to one connection, while the process is alive. */
function queryable(target: pg.Pool | pg.PoolClient, life: SimulatedProcess): Queryable {
  return {
    async query<Row = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<QueryResult<Row>> {
      life.check('db.query');
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
      life.check('db.exec');
      // No parameters: pg uses the simple query protocol, which runs several statements.
      await target.query(sql);
    },
  };
}

/** The transactions a Db has open right now: their connections, and their promises settled. */
interface OpenTransactions {
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
 * transaction ends. A transaction whose process dies in the middle is rolled back, as
 * the server does when a dead client's connection drops.
 */
function poolDb(pool: pg.Pool, open: OpenTransactions, life: SimulatedProcess): Db {
  const run = async <T>(fn: (tx: Queryable) => Promise<T>, isolation: IsolationLevel | undefined): Promise<T> => {
    if (isolation !== undefined && !Object.hasOwn(ISOLATION, isolation)) {
      throw new Error(`Unknown isolation level "${String(isolation)}": use 'read committed', 'repeatable read' or 'serializable'.`);
    }
    life.check('db.transaction');
    const client = await pool.connect();
    open.clients.add(client);
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
        const result = await fn(queryable(client, life));
        life.check('COMMIT');
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
      open.clients.delete(client);
      client.release(broken);
    }
  };
  return {
    ...queryable(pool, life),
    transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T> {
      const transaction = run(fn, options?.isolation);
      const settled = transaction.then(
        () => undefined,
        () => undefined,
      );
      open.settled.add(settled);
      void settled.then(() => open.settled.delete(settled));
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
export async function freshDb(life: SimulatedProcess = new SimulatedProcess()): Promise<TestDb> {
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
    ...poolDb(pool, open, life),
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

// ─── The services ─────────────────────────────────────────────────────────────

export const OPERATIONS = [
  'orders.create',
  'orders.reject',
  'orders.approve',
  'inventory.reserve',
  'inventory.release',
  'payments.charge',
  'payments.refund',
  'shipping.schedule',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/**
 * How the next call of an operation goes wrong:
 * - refuse: a business refusal with this reason; nothing is done (and nothing stored, so
 *   a retry is answered afresh);
 * - technical: the service is down; nothing is done;
 * - ambiguous: the work is done and committed, then the answer is lost (a timeout);
 * - crash: the orchestrator's process dies during the call, before the service does the
 *   work (`after: false`) or once it has done it (`after: true`). The call throws
 *   SimulatedCrash, and so does everything after it until the test restarts the process.
 */
export type Fault =
  | { readonly kind: 'refuse'; readonly reason: string }
  | { readonly kind: 'technical' }
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'crash'; readonly after: boolean };

/** Faults, spelled the way the tests use them. */
export const fault = {
  refuse: (reason: string): Fault => ({ kind: 'refuse', reason }),
  technical: { kind: 'technical' } as Fault,
  ambiguous: { kind: 'ambiguous' } as Fault,
  crashBefore: { kind: 'crash', after: false } as Fault,
  crashAfter: { kind: 'crash', after: true } as Fault,
};

/** How a call ended, as the services saw it. */
export type CallOutcome =
  /** Done now. */
  | 'ok'
  /** A requestId seen before: the first answer again, nothing done. */
  | 'replayed'
  /** Refused (out of stock, card declined, or a refusal the test asked for). */
  | 'business'
  /** Failed before doing anything. */
  | 'technical'
  /** Done, then the answer was lost. */
  | 'ambiguous'
  /** The orchestrator died during the call (see the detail: before or after the work). */
  | 'crashed'
  /** Malformed: no requestId or orderId, or a requestId already used for another request. */
  | 'invalid';

/** One call your code made, and how it ended. */
export interface ServiceCall {
  readonly op: Operation;
  readonly orderId: string;
  readonly requestId: string;
  readonly outcome: CallOutcome;
  readonly detail?: string;
}

/** What the services hold for one order: the truth, whatever the orchestrator believes. */
export interface OrderTruth {
  /** 'none': the order was never created. */
  readonly status: 'none' | 'pending' | 'rejected' | 'approved';
  /** Units reserved and not given back, per SKU (only SKUs with a non-zero balance). */
  readonly reserved: Readonly<Record<string, number>>;
  readonly charges: number;
  readonly refunds: number;
  readonly shipments: number;
}

type Body = Readonly<Record<string, unknown>>;

/** JSON text with every object's keys sorted: equal data gives equal text, whatever order the keys came in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
type Items = { sku: string; qty: number }[];

/** The stock every test starts with. */
export const INITIAL_STOCK: Readonly<Record<string, number>> = { mug: 10, lamp: 5, poster: 3 };

/**
 * Orders, inventory, payments and shipping, in memory, with the grader's services' rules:
 *
 * - Not idempotent by themselves: reserving twice reserves twice, releasing twice puts the
 *   stock back twice, charging twice charges twice.
 * - Every call carries a `requestId`. A call with a requestId this service has answered
 *   before gets that first answer back (a success or a refusal) and does nothing again;
 *   the same requestId with another request (another operation, other data) is refused as
 *   an invalid request (the same data with its keys in another order, as jsonb gives it
 *   back, is the same request). A technical failure, or a refusal a test asked for
 *   (fault.refuse), stores nothing: the retry runs for real.
 * - orders.create makes the order 'pending'; reject and approve set its status.
 * - inventory.reserve takes every item from the shelf or, when any is short, nothing, and
 *   refuses with 'out_of_stock'; release puts the items back.
 * - payments.charge refuses with 'card_declined' when the customer id starts with
 *   "declined"; refund exists, but a saga must never call it (the charge is the pivot).
 * - shipping.schedule needs an address.
 * - Calls never throw (except SimulatedCrash): a failure is a ServiceResult.
 */
export class TestServices implements Services {
  /** Every call, in order, with its outcome. */
  readonly calls: ServiceCall[] = [];
  readonly orders: Services['orders'];
  readonly inventory: Services['inventory'];
  readonly payments: Services['payments'];
  readonly shipping: Services['shipping'];

  private readonly orderRows = new Map<string, { customerId: string; total: number; status: 'pending' | 'rejected' | 'approved' }>();
  private readonly shelf = new Map<string, number>(Object.entries(INITIAL_STOCK));
  private readonly movements: { orderId: string; sku: string; qty: number }[] = [];
  private readonly charges: { orderId: string; amount: number }[] = [];
  private readonly refunds: { orderId: string }[] = [];
  private readonly shipments: { orderId: string; address: string }[] = [];
  /** Answers by `<service> <requestId>`: each service keeps its own. */
  private readonly answers = new Map<string, { fingerprint: string; result: ServiceResult }>();
  private readonly faults = new Map<Operation, Fault[]>();

  constructor(private readonly life: SimulatedProcess) {
    const op =
      (name: Operation) =>
      (call: Body): Promise<ServiceResult> =>
        this.call(name, call);
    this.orders = { create: op('orders.create'), reject: op('orders.reject'), approve: op('orders.approve') };
    this.inventory = { reserve: op('inventory.reserve'), release: op('inventory.release') };
    this.payments = { charge: op('payments.charge'), refund: op('payments.refund') };
    this.shipping = { schedule: op('shipping.schedule') };
  }

  /** The next calls of `op` (for any order) suffer these faults, one per call, in order. */
  fail(op: Operation, ...faults: Fault[]): void {
    this.faults.set(op, [...(this.faults.get(op) ?? []), ...faults]);
  }

  /** Sets the units on the shelf for each SKU given. */
  stock(levels: Readonly<Record<string, number>>): void {
    for (const [sku, units] of Object.entries(levels)) {
      this.shelf.set(sku, units);
    }
  }

  /** Units of `sku` on the shelf now. */
  available(sku: string): number {
    return this.shelf.get(sku) ?? 0;
  }

  /** The operations called for `orderId`, in order, one entry per call (retries included). */
  opsOf(orderId: string): Operation[] {
    return this.calls.filter((c) => c.orderId === orderId).map((c) => c.op);
  }

  /** What the services hold for `orderId`. */
  truth(orderId: string): OrderTruth {
    const reserved: Record<string, number> = {};
    for (const m of this.movements.filter((m) => m.orderId === orderId)) {
      reserved[m.sku] = (reserved[m.sku] ?? 0) + m.qty;
    }
    const count = (list: readonly { orderId: string }[]): number => list.filter((x) => x.orderId === orderId).length;
    return {
      status: this.orderRows.get(orderId)?.status ?? 'none',
      reserved: Object.fromEntries(Object.entries(reserved).filter(([, qty]) => qty !== 0)),
      charges: count(this.charges),
      refunds: count(this.refunds),
      shipments: count(this.shipments),
    };
  }

  private record(call: ServiceCall): void {
    this.calls.push(call);
  }

  private async call(op: Operation, body: Body): Promise<ServiceResult> {
    this.life.check(op);
    // Like any network call, the answer never arrives in the same tick.
    await new Promise((resolve) => setImmediate(resolve));
    this.life.check(op);
    const orderId = typeof body?.['orderId'] === 'string' ? body['orderId'] : '';
    const requestId = typeof body?.['requestId'] === 'string' ? body['requestId'] : '';
    if (orderId === '' || requestId === '') {
      const reason = `invalid request: ${op} needs a non-empty orderId and requestId (got ${JSON.stringify(body)}).`;
      this.record({ op, orderId, requestId, outcome: 'invalid', detail: reason });
      return { ok: false, kind: 'business', reason };
    }
    const planned = this.faults.get(op)?.shift();
    if (planned?.kind === 'crash' && !planned.after) {
      this.record({ op, orderId, requestId, outcome: 'crashed', detail: 'before the service did anything' });
      throw this.life.crash(`killed while calling ${op}, before the service did anything`);
    }
    if (planned?.kind === 'technical') {
      this.record({ op, orderId, requestId, outcome: 'technical' });
      return { ok: false, kind: 'technical', reason: `${op} is unavailable (a failure the test asked for); nothing was done.` };
    }
    if (planned?.kind === 'refuse') {
      this.record({ op, orderId, requestId, outcome: 'business', detail: planned.reason });
      return { ok: false, kind: 'business', reason: planned.reason };
    }
    const { result, replayed, invalid } = this.execute(op, body, requestId);
    const outcome: CallOutcome = invalid ? 'invalid' : result.ok ? (replayed ? 'replayed' : 'ok') : 'business';
    const detail = result.ok ? undefined : result.reason;
    if (planned?.kind === 'ambiguous') {
      this.record({ op, orderId, requestId, outcome: outcome === 'ok' ? 'ambiguous' : outcome, detail: 'done (or answered before), then the answer was lost' });
      return { ok: false, kind: 'technical', reason: `${op} timed out (a failure the test asked for). The work may have been done.` };
    }
    if (planned?.kind === 'crash') {
      this.record({ op, orderId, requestId, outcome: 'crashed', detail: `after the service answered ${outcome}` });
      throw this.life.crash(`killed while calling ${op}, after the service had done its work (or refused it)`);
    }
    this.record({ op, orderId, requestId, outcome, ...(detail === undefined ? {} : { detail }) });
    return result;
  }

  /** Runs an operation once per requestId (per service), or answers with the first answer. */
  private execute(op: Operation, body: Body, requestId: string): { result: ServiceResult; replayed: boolean; invalid: boolean } {
    const service = op.split('.')[0] as string;
    const fingerprint = `${op} ${canonical({ ...body, requestId: undefined })}`;
    const key = `${service} ${requestId}`;
    const first = this.answers.get(key);
    if (first) {
      if (first.fingerprint !== fingerprint) {
        const reason = `invalid request: requestId ${requestId} was already used for another request (${first.fingerprint}).`;
        return { result: { ok: false, kind: 'business', reason }, replayed: false, invalid: true };
      }
      return { result: first.result, replayed: true, invalid: false };
    }
    const result = this.apply(op, body);
    if (result.ok || !result.reason.startsWith('invalid request')) {
      // Successes and refusals are answers, stored; a malformed call is not.
      this.answers.set(key, { fingerprint, result });
    }
    return { result, replayed: false, invalid: !result.ok && result.reason.startsWith('invalid request') };
  }

  private apply(op: Operation, body: Body): ServiceResult {
    const ok = (result: Record<string, unknown>): ServiceResult => ({ ok: true, result });
    const refuse = (reason: string): ServiceResult => ({ ok: false, kind: 'business', reason });
    const invalid = (reason: string): ServiceResult => ({ ok: false, kind: 'business', reason: `invalid request: ${reason}` });
    const orderId = body['orderId'] as string;
    const cents = (value: unknown): boolean => Number.isInteger(value) && (value as number) >= 0;
    const items = (): Items | undefined => {
      const list = body['items'];
      if (!Array.isArray(list) || list.length === 0) {
        return undefined;
      }
      const valid = list.every((i: unknown) => typeof (i as Body)?.['sku'] === 'string' && Number.isInteger((i as Body)['qty']) && ((i as Body)['qty'] as number) > 0);
      return valid ? (list as Items).map((i) => ({ sku: i.sku, qty: i.qty })) : undefined;
    };
    switch (op) {
      case 'orders.create': {
        if (typeof body['customerId'] !== 'string' || !cents(body['total'])) {
          return invalid('orders.create needs customerId (text) and total (whole cents).');
        }
        if (this.orderRows.has(orderId)) {
          return refuse('order_exists');
        }
        this.orderRows.set(orderId, { customerId: body['customerId'], total: body['total'] as number, status: 'pending' });
        return ok({ orderId, status: 'pending' });
      }
      case 'orders.reject': {
        // Rejecting an order that was never created does nothing and succeeds.
        const row = this.orderRows.get(orderId);
        if (row) {
          row.status = 'rejected';
        }
        return ok({ orderId, status: row ? 'rejected' : 'none' });
      }
      case 'orders.approve': {
        const row = this.orderRows.get(orderId);
        if (!row) {
          return refuse('no_such_order');
        }
        row.status = 'approved';
        return ok({ orderId, status: row.status });
      }
      case 'inventory.reserve': {
        const wanted = items();
        if (!wanted) {
          return invalid('inventory.reserve needs items: [{sku, qty}] with whole positive quantities.');
        }
        // All or nothing, like the real service's transaction.
        const need = new Map<string, number>();
        for (const item of wanted) {
          need.set(item.sku, (need.get(item.sku) ?? 0) + item.qty);
        }
        if ([...need].some(([sku, qty]) => this.available(sku) < qty)) {
          return refuse('out_of_stock');
        }
        for (const item of wanted) {
          this.shelf.set(item.sku, this.available(item.sku) - item.qty);
          this.movements.push({ orderId, sku: item.sku, qty: item.qty });
        }
        return ok({ orderId, reserved: wanted });
      }
      case 'inventory.release': {
        const given = items();
        if (!given) {
          return invalid('inventory.release needs the items that were reserved: [{sku, qty}].');
        }
        for (const item of given) {
          this.shelf.set(item.sku, this.available(item.sku) + item.qty);
          this.movements.push({ orderId, sku: item.sku, qty: -item.qty });
        }
        return ok({ orderId, released: given });
      }
      case 'payments.charge': {
        if (typeof body['customerId'] !== 'string' || !cents(body['amount'])) {
          return invalid('payments.charge needs customerId (text) and amount (whole cents).');
        }
        if (body['customerId'].startsWith('declined')) {
          return refuse('card_declined');
        }
        this.charges.push({ orderId, amount: body['amount'] as number });
        return ok({ orderId, chargeId: `ch_${this.charges.length}` });
      }
      case 'payments.refund': {
        this.refunds.push({ orderId });
        return ok({ orderId, refunded: true });
      }
      case 'shipping.schedule': {
        if (typeof body['address'] !== 'string' || body['address'] === '') {
          return invalid('shipping.schedule needs an address.');
        }
        this.shipments.push({ orderId, address: body['address'] });
        return ok({ orderId, shipmentId: `sh_${this.shipments.length}` });
      }
    }
  }
}

// ─── Running your saga ────────────────────────────────────────────────────────

/** What a test hands your code, and what it needs to look at afterwards. */
export interface TestDeps extends Deps {
  readonly db: TestDb;
  readonly services: TestServices;
  /** The orchestrator's simulated process: crashed by a `crash` fault, restarted by the test. */
  readonly process: SimulatedProcess;
  /** Every wait your code asked deps.sleep for, in milliseconds. */
  readonly sleeps: number[];
}

/**
 * A fresh database, services with INITIAL_STOCK on the shelves, and a sleep a hundred
 * times faster than asked (as in the grader). The caller runs migrate(db).
 */
export async function freshDeps(): Promise<TestDeps> {
  const life = new SimulatedProcess();
  const sleeps: number[] = [];
  return {
    db: await freshDb(life),
    services: new TestServices(life),
    process: life,
    sleeps,
    async sleep(ms: number): Promise<void> {
      life.check('sleep');
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(50, Number(ms) / 100))));
      life.check('sleep');
    },
  };
}

/** Sagas still running, so that closeDeps can wait for them. */
const running = new Set<Promise<unknown>>();

function track(call: Promise<unknown>): void {
  // Handled here too, so that a call a failed test never awaits is not reported again as unhandled.
  const settled = call.then(
    () => undefined,
    () => undefined,
  );
  running.add(settled);
  void settled.then(() => running.delete(settled));
}

/** Ends the test's process (so that a loop still running stops at its next call), then closes the database. */
export async function closeDeps(deps: TestDeps | undefined): Promise<void> {
  if (!deps) {
    return;
  }
  deps.process.end();
  await atMost(Promise.all(running), 10_000);
  await deps.db.close();
}

/** Thrown when a call does not finish in time, so the test stops there. */
export class StuckError extends Error {
  override readonly name = 'StuckError';
}

/** Awaits `action`, but fails with `advice` (text, or made when the time is up) if it has not finished within `seconds`. */
export async function inTime<T>(action: Promise<T>, what: string, advice: string | (() => string), seconds = 10): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StuckError(`${what} did not finish within ${seconds} s. ${typeof advice === 'string' ? advice : advice()}`)), seconds * 1000);
  });
  try {
    return await Promise.race([action, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const STUCK_ADVICE =
  'Either it waits for a transaction: a db.query inside db.transaction(async (tx) => ...) runs on another connection and ' +
  'waits for your own transaction to end (send every statement in the callback through tx.query), or a transaction is ' +
  'held open across a service call. Or it never stops retrying a call whose answer will not change: a refusal before or ' +
  'at the pivot means compensating, not retrying, and a service answers a requestId it has seen with its first answer.';

/** The advice, with the last calls the services received (a retry loop shows there). */
function stuckAdvice(deps: TestDeps): () => string {
  return () => {
    const last = deps.services.calls.slice(-4).map((c) => `${c.op} ${c.requestId} → ${c.outcome}${c.detail === undefined ? '' : ` (${c.detail})`}`);
    return `${STUCK_ADVICE} ${deps.services.calls.length} service calls so far${last.length > 0 ? `; the last: ${last.join('; ')}` : ''}.`;
  };
}

/** Runs your placeOrder, failing the test if it has not finished within 10 s. */
export function place(deps: TestDeps, order: OrderRequest): Promise<SagaOutcome> {
  const call = placeOrder(order, deps);
  track(call);
  return inTime(call, `placeOrder(${order.orderId})`, stuckAdvice(deps));
}

/** Runs your recover, failing the test if it has not finished within 10 s. */
export function recoverAll(deps: TestDeps): Promise<SagaOutcome[]> {
  const call = recover(deps);
  track(call);
  return inTime(call, 'recover()', stuckAdvice(deps));
}

/**
 * Runs your placeOrder until the crash the test planned kills it: placeOrder then fails
 * with SimulatedCrash (what it returns or throws does not matter; a real process would
 * simply be gone). Then starts the process again, as a supervisor would after a crash:
 * the database and the services are as the crash left them, and the test calls recover().
 */
export async function placeUntilCrash(deps: TestDeps, order: OrderRequest): Promise<void> {
  const before = deps.process.crashes;
  const call = placeOrder(order, deps);
  track(call);
  await inTime(
    call.then(
      () => undefined,
      () => undefined,
    ),
    `placeOrder(${order.orderId}) after the simulated crash`,
    'Every call your code makes after a crash throws SimulatedCrash: a loop that catches every error and retries never ends. A service call never throws on its own (failures are results), so let exceptions propagate.',
  );
  if (deps.process.crashes === before) {
    throw new Error(
      `The crash the test planned never happened: placeOrder(${order.orderId}) ended without making the call it was planned at. Calls made: ${JSON.stringify(deps.services.opsOf(order.orderId))}.`,
    );
  }
  deps.process.restart();
}

let orderCount = 0;

/**
 * An order: by default a mug (2) and a lamp (1) for 45.00, by a customer whose card
 * works. A customer id starting with "declined" has a card that is declined.
 */
export function newOrder(overrides: Partial<OrderRequest> = {}): OrderRequest {
  orderCount += 1;
  return {
    orderId: `order-${orderCount}-${randomBytes(3).toString('hex')}`,
    customerId: 'cust-ada',
    items: [
      { sku: 'mug', qty: 2 },
      { sku: 'lamp', qty: 1 },
    ],
    total: 4500,
    address: '12 Market Street, Springfield',
    ...overrides,
  };
}

/** The forward steps of the Place Order saga, in order. */
export const FORWARD: readonly Operation[] = ['orders.create', 'inventory.reserve', 'payments.charge', 'shipping.schedule', 'orders.approve'];
