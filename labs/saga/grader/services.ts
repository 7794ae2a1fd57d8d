/**
 * The services the Saga lab's orchestrator calls, owned by the grader: orders, inventory,
 * payments and shipping, served over HTTP on 127.0.0.1, each keeping its state in its own
 * schema of the lab's PostgreSQL. Their tables are the ground truth a checker reads (is the
 * stock conserved, was a refused order ever charged), whatever the learner's code believes.
 *
 * Like real services, they are not idempotent by themselves: reserving twice reserves twice,
 * releasing twice puts the stock back twice. A request carrying a `requestId` seen before
 * gets the first answer back instead, so an orchestrator that retries with the same id per
 * step and per compensation is safe, and one that makes a new id per attempt is not.
 *
 *   POST /orders/create     {requestId, orderId, customerId, total}    the order, pending
 *   POST /orders/reject     {requestId, orderId}                       compensation of create (no order: nothing to do)
 *   POST /orders/approve    {requestId, orderId}                       retriable, after the pivot
 *   POST /inventory/reserve {requestId, orderId, items: [{sku, qty}]}  business failure out_of_stock
 *   POST /inventory/release {requestId, orderId, items}                compensation: the stock back
 *   POST /payments/charge   {requestId, orderId, customerId, amount}   the pivot; card_declined
 *   POST /payments/refund   {requestId, orderId}                       exists, so compensating the pivot shows
 *   POST /shipping/schedule {requestId, orderId, address}              retriable, after the pivot
 * Answers: 200 {"ok": true, "result": …}; 422 {"ok": false, "kind": "business", "reason": …};
 * 503 {"ok": false, "kind": "technical", …}; 400 for a malformed request.
 *
 * The grader plans faults per order and operation (`plan`): the n-th call of that operation
 * for that order fails as a business refusal, a technical failure before any work, an
 * ambiguous one (the work is committed, then the answer is a 503), or is delayed.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pg from 'pg';
import { SAGA_OPERATIONS, type SagaOperation } from './steps';

export type ServiceFault =
  | { readonly kind: 'business'; readonly reason: string }
  /** 503 before anything is done: a retry is safe. */
  | { readonly kind: 'technical' }
  /** The work is done and committed, then the answer is a 503: the caller cannot know. */
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'delay'; readonly ms: number };

export type CallOutcome = 'ok' | 'business' | 'technical' | 'ambiguous' | 'replayed' | 'invalid';

/**
 * One call of an operation the services received, in order. A request whose path names no
 * operation is answered 400 and is no call: it is not recorded.
 */
export interface ServiceCall {
  readonly at: number;
  readonly op: SagaOperation;
  readonly orderId: string;
  readonly requestId: string;
  readonly outcome: CallOutcome;
  /** The call's number for this order and operation, from 1. */
  readonly attempt: number;
  readonly detail?: string;
}

/** What the services hold for one order at the end: the ground truth. */
export interface OrderTruth {
  readonly orderId: string;
  readonly status: 'none' | 'pending' | 'rejected' | 'approved';
  /** Units reserved and not given back, per SKU (negative: more given back than taken). */
  readonly reserved: Readonly<Record<string, number>>;
  readonly charges: number;
  readonly refunds: number;
  readonly shipments: number;
}

export interface StockTruth {
  readonly sku: string;
  readonly initial: number;
  readonly available: number;
}

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const SCHEMAS = ['orders', 'inventory', 'payments', 'shipping'] as const;
type Schema = (typeof SCHEMAS)[number];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The operation a request's path names (`/inventory/reserve`), or undefined when it names none. */
function operationAt(url: string | undefined): SagaOperation | undefined {
  const path = (url ?? '').replace(/^\//, '').replace('/', '.');
  return SAGA_OPERATIONS.find((op) => op === path);
}

/** The service (and schema) that owns an operation. */
function serviceOf(op: SagaOperation): Schema {
  const service = SCHEMAS.find((name) => op.startsWith(`${name}.`));
  if (service === undefined) {
    throw new Error(`No service owns ${op}.`);
  }
  return service;
}

function isName(text: string): boolean {
  return /^[a-z_][a-z0-9_]*$/.test(text);
}

export class SagaServices {
  private readonly calls: ServiceCall[] = [];
  /** The faults still planned, per order and operation; undefined: that call has none. */
  private readonly faults = new Map<string, (ServiceFault | undefined)[]>();
  private readonly attempts = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly listeners = new Set<(call: ServiceCall) => void>();
  private readonly starts = new Set<(call: Pick<ServiceCall, 'op' | 'orderId' | 'requestId' | 'attempt'>) => void>();
  private readonly started = performance.now();
  private initialStock = new Map<string, number>();

  private constructor(
    private readonly server: http.Server,
    private readonly pool: pg.Pool,
    private readonly prefix: string,
    readonly port: number,
  ) {}

  /** Starts the services on 127.0.0.1 with their schemas `<prefix>_orders`, … on `databaseUrl`. */
  static async start(databaseUrl: string, prefix: string): Promise<SagaServices> {
    if (!isName(prefix)) {
      throw new Error(`Not a schema prefix: ${prefix}`);
    }
    // synchronous_commit off: see GradedDb (adapters/pgDb.ts); the services' database is never crashed either.
    // pg-pool waits for the promise onConnect returns before it hands the connection out (its types say void).
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 8,
      connectionTimeoutMillis: 10_000,
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- pg-pool awaits it (see above)
      onConnect: async (client: pg.ClientBase) => {
        await client.query('SET synchronous_commit TO off');
      },
    });
    pool.on('error', () => undefined);
    const s = (name: string): string => `${prefix}_${name}`;
    await pool.query(`
      CREATE SCHEMA IF NOT EXISTS ${s('orders')};
      CREATE SCHEMA IF NOT EXISTS ${s('inventory')};
      CREATE SCHEMA IF NOT EXISTS ${s('payments')};
      CREATE SCHEMA IF NOT EXISTS ${s('shipping')};
      CREATE TABLE IF NOT EXISTS ${s('orders')}.orders (order_id text PRIMARY KEY, customer_id text NOT NULL, total integer NOT NULL, status text NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s('inventory')}.stock (sku text PRIMARY KEY, available integer NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s('inventory')}.movements (id bigserial PRIMARY KEY, order_id text NOT NULL, sku text NOT NULL, qty integer NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s('payments')}.charges (id bigserial PRIMARY KEY, order_id text NOT NULL, customer_id text NOT NULL, amount integer NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s('payments')}.refunds (id bigserial PRIMARY KEY, order_id text NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s('shipping')}.shipments (id bigserial PRIMARY KEY, order_id text NOT NULL, address text NOT NULL);
    `);
    for (const schema of SCHEMAS) {
      await pool.query(`CREATE TABLE IF NOT EXISTS ${s(schema)}.requests (request_id text PRIMARY KEY, op text NOT NULL, fingerprint text NOT NULL, status integer NOT NULL, body jsonb NOT NULL)`);
    }
    await pool.query(serviceFunctions(s));
    // The orchestrator's client keeps its connections: the server must not close an idle
    // one under a request being sent (that would be a technical failure nobody planned).
    const server = http.createServer();
    server.keepAliveTimeout = 10 * 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address: AddressInfo | string | null = server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('The saga services did not get a TCP port.');
    }
    const services = new SagaServices(server, pool, prefix, address.port);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void services.handle(req, res));
    server.on('connection', (socket: Socket) => {
      services.sockets.add(socket);
      socket.on('close', () => services.sockets.delete(socket));
    });
    return services;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private schema(name: Schema): string {
    return `${this.prefix}_${name}`;
  }

  /** Puts stock on the shelves (replacing what was there) and remembers it as the initial stock. */
  async stock(levels: Readonly<Record<string, number>>): Promise<void> {
    for (const [sku, available] of Object.entries(levels)) {
      await this.pool.query(`INSERT INTO ${this.schema('inventory')}.stock (sku, available) VALUES ($1, $2) ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available`, [sku, available]);
      this.initialStock.set(sku, available);
    }
  }

  /** The next calls of `op` for `orderId` suffer these faults, one per call, in order (undefined: no fault). */
  plan(orderId: string, op: SagaOperation, faults: readonly (ServiceFault | undefined)[]): void {
    this.faults.set(`${orderId} ${op}`, [...faults]);
  }

  /** Calls `listener` as each call is answered; `onStart` as each arrives. Each returns the function that stops it. */
  onCall(listener: (call: ServiceCall) => void, onStart?: (call: Pick<ServiceCall, 'op' | 'orderId' | 'requestId' | 'attempt'>) => void): () => void {
    this.listeners.add(listener);
    if (onStart) {
      this.starts.add(onStart);
    }
    return () => {
      this.listeners.delete(listener);
      if (onStart) {
        this.starts.delete(onStart);
      }
    };
  }

  callLog(): readonly ServiceCall[] {
    return [...this.calls];
  }

  /** Forgets the call log and the planned faults (the tables stay; orders ids differ per scenario). */
  resetCalls(): void {
    this.calls.length = 0;
    this.faults.clear();
    this.attempts.clear();
  }

  /** The truth about each order, as the services' tables hold it. */
  async truth(orderIds: readonly string[]): Promise<OrderTruth[]> {
    const ids = [...orderIds];
    const rows = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => (await this.pool.query<T>(sql, [ids])).rows;
    const orders = await rows<{ order_id: string; status: OrderTruth['status'] }>(`SELECT order_id, status FROM ${this.schema('orders')}.orders WHERE order_id = ANY($1)`);
    const moves = await rows<{ order_id: string; sku: string; qty: number }>(`SELECT order_id, sku, SUM(qty)::int AS qty FROM ${this.schema('inventory')}.movements WHERE order_id = ANY($1) GROUP BY order_id, sku`);
    const count = (table: string): Promise<{ order_id: string; n: number }[]> => rows(`SELECT order_id, COUNT(*)::int AS n FROM ${table} WHERE order_id = ANY($1) GROUP BY order_id`);
    const [charges, refunds, shipments] = await Promise.all([count(`${this.schema('payments')}.charges`), count(`${this.schema('payments')}.refunds`), count(`${this.schema('shipping')}.shipments`)]);
    const n = (list: { order_id: string; n: number }[], id: string): number => list.find((r) => r.order_id === id)?.n ?? 0;
    return ids.map((orderId) => ({
      orderId,
      status: orders.find((o) => o.order_id === orderId)?.status ?? 'none',
      reserved: Object.fromEntries(moves.filter((m) => m.order_id === orderId && m.qty !== 0).map((m) => [m.sku, m.qty])),
      charges: n(charges, orderId),
      refunds: n(refunds, orderId),
      shipments: n(shipments, orderId),
    }));
  }

  async stockTruth(): Promise<StockTruth[]> {
    const result = await this.pool.query<{ sku: string; available: number }>(`SELECT sku, available FROM ${this.schema('inventory')}.stock ORDER BY sku`);
    return result.rows.map((r) => ({ sku: r.sku, available: r.available, initial: this.initialStock.get(r.sku) ?? 0 }));
  }

  /**
   * Which of `orderIds` the rows of `schema` (the learner's saga log) mention, whatever the
   * log's design: every row of every table, read as text, searched for each id as a whole
   * word. Undefined when the tables cannot be read in time.
   */
  async mentions(schema: string, orderIds: readonly string[]): Promise<string[] | undefined> {
    if (!isName(schema)) {
      throw new Error(`Not a schema name: ${schema}`);
    }
    const client = await this.pool.connect();
    try {
      await client.query("SET statement_timeout TO '5s'");
      const tables = await client.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE'", [schema]);
      const texts: string[] = [];
      for (const { name } of tables.rows) {
        const rows = await client.query<{ row: string }>(`SELECT t::text AS row FROM ${schema}."${name.replace(/"/g, '""')}" t`);
        texts.push(...rows.rows.map((r) => r.row));
      }
      const all = texts.join('\n');
      const word = (id: string): RegExp => new RegExp(`(^|[^A-Za-z0-9])${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9])`);
      return orderIds.filter((id) => word(id).test(all));
    } catch {
      return undefined;
    } finally {
      await client.query('RESET statement_timeout').catch(() => undefined);
      client.release();
    }
  }

  /** Drops the services' schemas and stops serving. */
  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      await this.pool.query(SCHEMAS.map((name) => `DROP SCHEMA IF EXISTS ${this.schema(name)} CASCADE`).join(';'));
    } finally {
      await this.pool.end();
    }
  }

  private now(): number {
    return Math.round((performance.now() - this.started) * 10) / 10;
  }

  private record(call: Omit<ServiceCall, 'at'>): void {
    const full: ServiceCall = { at: this.now(), ...call };
    this.calls.push(full);
    for (const listener of this.listeners) {
      listener(full);
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) {
      raw += String(chunk);
      if (raw.length > 64 * 1024) {
        break;
      }
    }
    const op = operationAt(req.url);
    const send = (reply: Reply): void => {
      if (res.destroyed) {
        return;
      }
      const text = JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (!isRecord(parsed)) {
      send({ status: 400, body: { ok: false, kind: 'invalid', reason: 'The body must be JSON.' } });
      return;
    }
    const body = parsed;
    const orderId = typeof body['orderId'] === 'string' ? body['orderId'] : '';
    const requestId = typeof body['requestId'] === 'string' ? body['requestId'] : '';
    const malformed = { status: 400, body: { ok: false, kind: 'invalid', reason: `POST /<service>/<operation> with a JSON body naming orderId and requestId (got ${req.method ?? '?'} ${req.url ?? ''}).` } };
    if (op === undefined) {
      send(malformed);
      return;
    }
    if (req.method !== 'POST' || orderId === '' || requestId === '') {
      send(malformed);
      this.record({ op, orderId, requestId, outcome: 'invalid', attempt: 0 });
      return;
    }
    const key = `${orderId} ${op}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    for (const start of this.starts) {
      start({ op, orderId, requestId, attempt });
    }
    const fault = this.faults.get(key)?.shift();
    if (fault?.kind === 'delay') {
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
    }
    if (fault?.kind === 'technical') {
      send({ status: 503, body: { ok: false, kind: 'technical', reason: `${op} is unavailable (injected by the grader); nothing was done.` } });
      this.record({ op, orderId, requestId, outcome: 'technical', attempt });
      return;
    }
    if (fault?.kind === 'business') {
      send({ status: 422, body: { ok: false, kind: 'business', reason: fault.reason } });
      this.record({ op, orderId, requestId, outcome: 'business', attempt, detail: fault.reason });
      return;
    }
    try {
      const { reply, replayed } = await this.execute(op, body, requestId);
      if (fault?.kind === 'ambiguous') {
        // Done (or refused) and committed; the answer is lost.
        send({ status: 503, body: { ok: false, kind: 'technical', reason: `${op} timed out (injected by the grader).` } });
        const took = reply.status === 200 && !replayed;
        this.record({ op, orderId, requestId, outcome: took ? 'ambiguous' : reply.status === 200 ? 'replayed' : 'business', attempt, detail: took ? 'done, then the answer was lost' : 'answered before; this answer was lost' });
        return;
      }
      send(reply);
      // A replayed refusal is still a refusal: nothing was done.
      const outcome: CallOutcome = reply.status === 422 ? 'business' : replayed ? 'replayed' : reply.status === 200 ? 'ok' : 'invalid';
      this.record({ op, orderId, requestId, outcome, attempt, ...(reply.status === 422 ? { detail: String(reply.body['reason']) } : {}) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      send({ status: 503, body: { ok: false, kind: 'technical', reason: `${op} failed: ${message}` } });
      this.record({ op, orderId, requestId, outcome: 'technical', attempt, detail: message });
    }
  }

  /**
   * Runs an operation once per requestId: one statement, the service's `call` function
   * (see `serviceFunctions`), which takes the request id's lock, replays a request seen
   * before, or applies the operation and records its answer, in one transaction. One round
   * trip per call keeps a grade with hundreds of sagas quick.
   */
  private async execute(op: SagaOperation, body: Record<string, unknown>, requestId: string): Promise<{ reply: Reply; replayed: boolean }> {
    const invalid = validate(op, body);
    if (invalid !== undefined) {
      return { reply: { status: 400, body: { ok: false, kind: 'invalid', reason: invalid } }, replayed: false };
    }
    const service = serviceOf(op);
    const result = await this.pool.query<{ r: { status: number; body: Record<string, unknown>; replayed: boolean } }>(`SELECT ${this.schema(service)}.call($1, $2, $3) AS r`, [op, requestId, body]);
    const r = result.rows[0]?.r;
    if (r === undefined) {
      throw new Error(`${op} returned nothing`);
    }
    return { reply: { status: r.status, body: r.body }, replayed: r.replayed };
  }
}

/** Why a request's body is malformed (a 400, never stored), or undefined when it is well formed. */
function validate(op: SagaOperation, body: Record<string, unknown>): string | undefined {
  const items = body['items'];
  // Whole numbers from `min` that fit the services' integer columns.
  const whole = (value: unknown, min: number): boolean => typeof value === 'number' && Number.isInteger(value) && value >= min && value < 2 ** 31;
  const validItems = Array.isArray(items) && items.length > 0 && items.every((i: unknown) => isRecord(i) && typeof i['sku'] === 'string' && whole(i['qty'], 1));
  const cents = (value: unknown): boolean => whole(value, 0);
  switch (op) {
    case 'orders.create':
      return typeof body['customerId'] === 'string' && cents(body['total']) ? undefined : 'orders.create needs customerId (text) and total (whole cents).';
    case 'inventory.reserve':
      return validItems ? undefined : 'inventory.reserve needs items: [{sku, qty}] with whole positive quantities.';
    case 'inventory.release':
      return validItems ? undefined : 'inventory.release needs the items that were reserved: [{sku, qty}].';
    case 'payments.charge':
      return typeof body['customerId'] === 'string' && cents(body['amount']) ? undefined : 'payments.charge needs customerId (text) and amount (whole cents).';
    case 'shipping.schedule':
      return typeof body['address'] === 'string' && body['address'] !== '' ? undefined : 'shipping.schedule needs an address.';
    default:
      return undefined;
  }
}

const ok = (result: string): string => `jsonb_build_object('status', 200, 'body', jsonb_build_object('ok', true, 'result', ${result}))`;
const refuse = (reason: string): string => `jsonb_build_object('status', 422, 'body', jsonb_build_object('ok', false, 'kind', 'business', 'reason', ${reason}))`;

/**
 * Each service's `call(op, request_id, body)` function, in its schema. It serialises calls
 * with one request id (a concurrent retry waits for the first, then gets its answer),
 * answers a request id seen before with its first answer (400 when the parameters differ:
 * compared as jsonb, so the order of keys does not matter, as an orchestrator that re-reads
 * an order from a jsonb log sends them in another order), and otherwise applies the operation and stores the answer, a refusal
 * included. A refusal leaves nothing else behind: the work runs in a block whose exception
 * undoes it. Bodies arrive validated (`validate`).
 */
function serviceFunctions(s: (name: Schema) => string): string {
  const apply: Record<Schema, string> = {
    orders: `
      IF p_op = 'orders.create' THEN
        INSERT INTO ${s('orders')}.orders (order_id, customer_id, total, status) VALUES (b->>'orderId', b->>'customerId', (b->>'total')::int, 'pending') ON CONFLICT DO NOTHING;
        reply := CASE WHEN FOUND THEN ${ok(`jsonb_build_object('orderId', b->>'orderId', 'status', 'pending')`)} ELSE ${refuse(`'order_exists'`)} END;
      ELSIF p_op = 'orders.reject' THEN
        -- Like a well-made compensation, rejecting an order that was never created does nothing and succeeds.
        UPDATE ${s('orders')}.orders SET status = 'rejected' WHERE order_id = b->>'orderId';
        reply := ${ok(`jsonb_build_object('orderId', b->>'orderId', 'status', CASE WHEN FOUND THEN 'rejected' ELSE 'none' END)`)};
      ELSE
        UPDATE ${s('orders')}.orders SET status = 'approved' WHERE order_id = b->>'orderId';
        reply := CASE WHEN FOUND THEN ${ok(`jsonb_build_object('orderId', b->>'orderId', 'status', 'approved')`)} ELSE ${refuse(`'no_such_order'`)} END;
      END IF;`,
    inventory: `
      FOR item IN SELECT x.sku, x.qty FROM jsonb_to_recordset(b->'items') AS x(sku text, qty integer) LOOP
        IF p_op = 'inventory.reserve' THEN
          UPDATE ${s('inventory')}.stock SET available = available - item.qty WHERE sku = item.sku AND available >= item.qty;
          IF NOT FOUND THEN
            RAISE EXCEPTION 'out_of_stock';
          END IF;
          INSERT INTO ${s('inventory')}.movements (order_id, sku, qty) VALUES (b->>'orderId', item.sku, item.qty);
        ELSE
          UPDATE ${s('inventory')}.stock SET available = available + item.qty WHERE sku = item.sku;
          INSERT INTO ${s('inventory')}.movements (order_id, sku, qty) VALUES (b->>'orderId', item.sku, -item.qty);
        END IF;
      END LOOP;
      reply := ${ok(`jsonb_build_object('orderId', b->>'orderId', CASE p_op WHEN 'inventory.reserve' THEN 'reserved' ELSE 'released' END, b->'items')`)};`,
    payments: `
      IF p_op = 'payments.charge' THEN
        IF starts_with(b->>'customerId', 'declined') THEN
          RAISE EXCEPTION 'card_declined';
        END IF;
        INSERT INTO ${s('payments')}.charges (order_id, customer_id, amount) VALUES (b->>'orderId', b->>'customerId', (b->>'amount')::int) RETURNING id INTO new_id;
        reply := ${ok(`jsonb_build_object('orderId', b->>'orderId', 'chargeId', 'ch_' || new_id)`)};
      ELSE
        INSERT INTO ${s('payments')}.refunds (order_id) VALUES (b->>'orderId');
        reply := ${ok(`jsonb_build_object('orderId', b->>'orderId', 'refunded', true)`)};
      END IF;`,
    shipping: `
      INSERT INTO ${s('shipping')}.shipments (order_id, address) VALUES (b->>'orderId', b->>'address') RETURNING id INTO new_id;
      reply := ${ok(`jsonb_build_object('orderId', b->>'orderId', 'shipmentId', 'sh_' || new_id)`)};`,
  };
  return SCHEMAS.map(
    (name) => `
    CREATE OR REPLACE FUNCTION ${s(name)}.call(p_op text, p_request text, b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
    DECLARE
      p_fingerprint text := md5(p_op || ' ' || (b - 'requestId')::text);
      seen record;
      reply jsonb;
      item record;
      new_id bigint;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtext(p_request));
      SELECT fingerprint, status, body INTO seen FROM ${s(name)}.requests WHERE request_id = p_request;
      IF FOUND THEN
        IF seen.fingerprint <> p_fingerprint THEN
          RETURN jsonb_build_object('status', 400, 'replayed', false, 'body', jsonb_build_object('ok', false, 'kind', 'invalid', 'reason', 'requestId ' || p_request || ' was already used for another request.'));
        END IF;
        RETURN jsonb_build_object('status', seen.status, 'body', seen.body, 'replayed', true);
      END IF;
      BEGIN
        ${apply[name]}
      EXCEPTION WHEN raise_exception THEN
        -- A refusal: the block's work is undone; the answer is still stored.
        reply := ${refuse('SQLERRM')};
      END;
      INSERT INTO ${s(name)}.requests (request_id, op, fingerprint, status, body) VALUES (p_request, p_op, p_fingerprint, (reply->>'status')::int, reply->'body');
      RETURN reply || jsonb_build_object('replayed', false);
    END
    $fn$;`,
  ).join('\n');
}
