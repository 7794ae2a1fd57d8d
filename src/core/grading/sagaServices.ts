/**
 * The services a saga lab's orchestrator calls, owned by the grader: orders, inventory,
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
 *   POST /orders/reject     {requestId, orderId}                       compensation of create
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
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pg from 'pg';

export const SAGA_OPERATIONS = [
  'orders.create',
  'orders.reject',
  'orders.approve',
  'inventory.reserve',
  'inventory.release',
  'payments.charge',
  'payments.refund',
  'shipping.schedule',
] as const;
export type SagaOperation = (typeof SAGA_OPERATIONS)[number];

export type ServiceFault =
  | { readonly kind: 'business'; readonly reason: string }
  /** 503 before anything is done: a retry is safe. */
  | { readonly kind: 'technical' }
  /** The work is done and committed, then the answer is a 503: the caller cannot know. */
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'delay'; readonly ms: number };

export type CallOutcome = 'ok' | 'business' | 'technical' | 'ambiguous' | 'replayed' | 'invalid';

/** One call the services received, in order. */
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

function isName(text: string): boolean {
  return /^[a-z_][a-z0-9_]*$/.test(text);
}

export class SagaServices {
  private readonly calls: ServiceCall[] = [];
  private readonly faults = new Map<string, ServiceFault[]>();
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
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 8, connectionTimeoutMillis: 10_000, onConnect: async (client: pg.ClientBase) => void (await client.query('SET synchronous_commit TO off')) });
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
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const services = new SagaServices(server, pool, prefix, (server.address() as AddressInfo).port);
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

  private schema(name: (typeof SCHEMAS)[number]): string {
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
    this.faults.set(`${orderId} ${op}`, [...faults] as ServiceFault[]);
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
    const op = (req.url ?? '').replace(/^\//, '').replace('/', '.') as SagaOperation;
    const send = (reply: Reply): void => {
      if (res.destroyed) {
        return;
      }
      const text = JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
      res.end(text);
    };
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      send({ status: 400, body: { ok: false, kind: 'invalid', reason: 'The body must be JSON.' } });
      return;
    }
    const orderId = typeof body['orderId'] === 'string' ? body['orderId'] : '';
    const requestId = typeof body['requestId'] === 'string' ? body['requestId'] : '';
    if (req.method !== 'POST' || !(SAGA_OPERATIONS as readonly string[]).includes(op) || orderId === '' || requestId === '') {
      send({ status: 400, body: { ok: false, kind: 'invalid', reason: `POST /<service>/<operation> with a JSON body naming orderId and requestId (got ${req.method ?? '?'} ${req.url ?? ''}).` } });
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
      send({ status: 503, body: { ok: false, kind: 'technical', reason: `${op} failed: ${(error as Error).message}` } });
      this.record({ op, orderId, requestId, outcome: 'technical', attempt, detail: (error as Error).message });
    }
  }

  /** Runs an operation once per requestId, in one transaction with its request record. */
  private async execute(op: SagaOperation, body: Record<string, unknown>, requestId: string): Promise<{ reply: Reply; replayed: boolean }> {
    const service = op.split('.')[0] as (typeof SCHEMAS)[number];
    const fingerprint = createHash('sha256').update(`${op} ${JSON.stringify({ ...body, requestId: undefined })}`).digest('hex');
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One request id at a time: a concurrent retry waits for the first, then gets its answer.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [requestId]);
      const seen = await client.query<{ fingerprint: string; status: number; body: Record<string, unknown> }>(`SELECT fingerprint, status, body FROM ${this.schema(service)}.requests WHERE request_id = $1`, [requestId]);
      const first = seen.rows[0];
      if (first) {
        await client.query('COMMIT');
        if (first.fingerprint !== fingerprint) {
          return { reply: { status: 400, body: { ok: false, kind: 'invalid', reason: `requestId ${requestId} was already used for another request.` } }, replayed: false };
        }
        return { reply: { status: first.status, body: first.body }, replayed: true };
      }
      const reply = await this.apply(client, op, body);
      if (reply.status === 200 || reply.status === 422) {
        await client.query(`INSERT INTO ${this.schema(service)}.requests (request_id, op, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5)`, [requestId, op, fingerprint, reply.status, reply.body]);
      }
      await client.query(reply.status === 200 ? 'COMMIT' : 'ROLLBACK');
      if (reply.status === 422) {
        // A refusal is an answer too: stored, with nothing else done.
        await this.pool.query(`INSERT INTO ${this.schema(service)}.requests (request_id, op, fingerprint, status, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [requestId, op, fingerprint, reply.status, reply.body]);
      }
      return { reply, replayed: false };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async apply(client: pg.PoolClient, op: SagaOperation, body: Record<string, unknown>): Promise<Reply> {
    const ok = (result: Record<string, unknown> = {}): Reply => ({ status: 200, body: { ok: true, result } });
    const refuse = (reason: string): Reply => ({ status: 422, body: { ok: false, kind: 'business', reason } });
    const invalid = (reason: string): Reply => ({ status: 400, body: { ok: false, kind: 'invalid', reason } });
    const orderId = body['orderId'] as string;
    const items = Array.isArray(body['items']) ? (body['items'] as { sku?: unknown; qty?: unknown }[]) : undefined;
    const validItems = (): { sku: string; qty: number }[] | undefined =>
      items?.every((i) => typeof i.sku === 'string' && Number.isInteger(i.qty) && (i.qty as number) > 0) ? (items as { sku: string; qty: number }[]) : undefined;
    switch (op) {
      case 'orders.create': {
        if (typeof body['customerId'] !== 'string' || !Number.isInteger(body['total'])) {
          return invalid('orders.create needs customerId (text) and total (whole cents).');
        }
        const inserted = await client.query(`INSERT INTO ${this.schema('orders')}.orders (order_id, customer_id, total, status) VALUES ($1, $2, $3, 'pending') ON CONFLICT DO NOTHING`, [orderId, body['customerId'], body['total']]);
        return inserted.rowCount === 1 ? ok({ orderId, status: 'pending' }) : refuse('order_exists');
      }
      case 'orders.reject':
      case 'orders.approve': {
        const status = op === 'orders.reject' ? 'rejected' : 'approved';
        const updated = await client.query(`UPDATE ${this.schema('orders')}.orders SET status = $2 WHERE order_id = $1 RETURNING status`, [orderId, status]);
        return updated.rowCount === 1 ? ok({ orderId, status }) : refuse('no_such_order');
      }
      case 'inventory.reserve': {
        const wanted = validItems();
        if (!wanted) {
          return invalid('inventory.reserve needs items: [{sku, qty}] with whole positive quantities.');
        }
        for (const item of wanted) {
          const taken = await client.query(`UPDATE ${this.schema('inventory')}.stock SET available = available - $2 WHERE sku = $1 AND available >= $2`, [item.sku, item.qty]);
          if (taken.rowCount !== 1) {
            return refuse('out_of_stock');
          }
          await client.query(`INSERT INTO ${this.schema('inventory')}.movements (order_id, sku, qty) VALUES ($1, $2, $3)`, [orderId, item.sku, item.qty]);
        }
        return ok({ orderId, reserved: wanted });
      }
      case 'inventory.release': {
        const given = validItems();
        if (!given) {
          return invalid('inventory.release needs the items that were reserved: [{sku, qty}].');
        }
        for (const item of given) {
          await client.query(`UPDATE ${this.schema('inventory')}.stock SET available = available + $2 WHERE sku = $1`, [item.sku, item.qty]);
          await client.query(`INSERT INTO ${this.schema('inventory')}.movements (order_id, sku, qty) VALUES ($1, $2, $3)`, [orderId, item.sku, -item.qty]);
        }
        return ok({ orderId, released: given });
      }
      case 'payments.charge': {
        if (typeof body['customerId'] !== 'string' || !Number.isInteger(body['amount'])) {
          return invalid('payments.charge needs customerId (text) and amount (whole cents).');
        }
        if ((body['customerId'] as string).startsWith('declined')) {
          return refuse('card_declined');
        }
        const charged = await client.query<{ id: string }>(`INSERT INTO ${this.schema('payments')}.charges (order_id, customer_id, amount) VALUES ($1, $2, $3) RETURNING id`, [orderId, body['customerId'], body['amount']]);
        return ok({ orderId, chargeId: `ch_${charged.rows[0]?.id ?? '?'}` });
      }
      case 'payments.refund': {
        await client.query(`INSERT INTO ${this.schema('payments')}.refunds (order_id) VALUES ($1)`, [orderId]);
        return ok({ orderId, refunded: true });
      }
      case 'shipping.schedule': {
        if (typeof body['address'] !== 'string' || body['address'] === '') {
          return invalid('shipping.schedule needs an address.');
        }
        const shipped = await client.query<{ id: string }>(`INSERT INTO ${this.schema('shipping')}.shipments (order_id, address) VALUES ($1, $2) RETURNING id`, [orderId, body['address']]);
        return ok({ orderId, shipmentId: `sh_${shipped.rows[0]?.id ?? '?'}` });
      }
    }
  }
}
