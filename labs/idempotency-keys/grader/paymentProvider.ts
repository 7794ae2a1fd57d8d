/**
 * The payment provider the Idempotency Keys lab's code calls, owned by the grader: a real
 * HTTP server on 127.0.0.1 that keeps a ledger of every charge it really made. The ledger
 * is the ground truth a checker reads ("exactly one charge for this key"), whatever the
 * learner's code believes or answers.
 *
 * It behaves like a card processor's API, Stripe's in spirit:
 *   POST /v1/charges  {"amount": 1200, "currency": "eur", "customer": "cus_1", "card": "ok"}
 *     201 {"id": "ch_…", "amount": …, "currency": …, "customer": …, "status": "succeeded"}
 *     402 {"error": {"type": "card_error", "code": "card_declined"}} for the card "declined"
 *     400 {"error": {"type": "invalid_request_error", "code": "token_revoked"}} for the card
 *       "tok_revoked": a definite refusal of the request itself, stored like a decline
 *     400 {"error": {"type": "invalid_request_error", …}} for a malformed request
 *   An `Idempotency-Key` header makes a retry of the same request safe: the first answer
 *   is stored and replayed (with `Idempotent-Replayed: true`); the same key with other
 *   parameters is refused with 400 `idempotency_error` and nothing is charged.
 *   GET /v1/charges lists the ledger (for the learner's own debugging).
 *
 * The grader breaks it on purpose, one request at a time (`failNext`): a 500 before
 * anything is charged, a delay, or the ambiguous failure that teaches the most: the charge
 * is made and recorded, then the connection is cut before the answer leaves.
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LedgerCharge {
  readonly id: string;
  readonly amount: number;
  readonly currency: string;
  readonly customer: string;
  /** The `Idempotency-Key` it was made with, if any. */
  readonly idempotencyKey?: string;
  /** Milliseconds since the provider started. */
  readonly at: number;
}

/** What the grader can make the next matching request suffer. */
export type ProviderFault =
  /** Answer 500 without charging. A retry is safe. */
  | { readonly kind: 'error-before-charge' }
  /** Charge, record it, then cut the connection before answering: the caller cannot know. */
  | { readonly kind: 'cut-after-charge' }
  /** Wait this long before handling the request (a slow provider, a client timeout). */
  | { readonly kind: 'delay'; readonly ms: number }
  /**
   * Charge and record it, then run `action` (the grader kills the caller's process there)
   * before answering: the charge exists, and the caller dies without knowing it.
   */
  | { readonly kind: 'after-charge'; readonly action: () => Promise<void> };

export interface ProviderRequestRecord {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey?: string;
  readonly status: number | 'cut';
  readonly replayed: boolean;
  /** The charge this request made, if it made one. */
  readonly charge?: LedgerCharge;
}

/** How long stored answers are kept, as Stripe keeps them: a key older than this is new again. */
export const PROVIDER_KEY_TTL_MS = 24 * 60 * 60 * 1000;

interface StoredAnswer {
  /** When it was stored, on the provider's clock (see setClockOffset). */
  readonly storedAt: number;
  readonly fingerprint: string;
  readonly status: number;
  readonly body: string;
}

const MAX_BODY_BYTES = 64 * 1024;
/** A card token the provider refuses (400): the request itself is refused, nothing is charged. */
export const REVOKED_CARD = 'tok_revoked';
const CURRENCIES = new Set(['eur', 'usd', 'gbp']);

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): string {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
  return text;
}

function invalid(message: string, param?: string): { error: { type: string; message: string; param?: string } } {
  return { error: { type: 'invalid_request_error', message, ...(param !== undefined ? { param } : {}) } };
}

export class PaymentProvider {
  private readonly ledger: LedgerCharge[] = [];
  private readonly requests: ProviderRequestRecord[] = [];
  private readonly answers = new Map<string, StoredAnswer>();
  private readonly faults: ProviderFault[] = [];
  private readonly started = performance.now();
  private readonly sockets = new Set<Socket>();
  private clockOffsetMs = 0;
  /** Requests being handled now, and who waits for there to be none. */
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** Who waits for the next charge request to arrive. */
  private readonly arrivalWaiters: (() => void)[] = [];
  private readonly listeners = new Set<(record: ProviderRequestRecord) => void>();

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<PaymentProvider> {
    const server = http.createServer();
    // The learner's client keeps its connections (src/core/grading/adapters/http.ts): an
    // idle one must not be closed under a request being sent, an outcome nobody planned.
    server.keepAliveTimeout = 10 * 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const provider = new PaymentProvider(server, (server.address() as AddressInfo).port);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => void provider.handleCounted(req, res));
    server.on('connection', (socket: Socket) => {
      provider.sockets.add(socket);
      socket.on('close', () => provider.sockets.delete(socket));
    });
    return provider;
  }

  /** Where the learner's code sends its requests. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Every charge really made, in order. */
  charges(): readonly LedgerCharge[] {
    return [...this.ledger];
  }

  /** Every request, in order, with how it was answered. */
  requestLog(): readonly ProviderRequestRecord[] {
    return [...this.requests];
  }

  /** Calls `listener` with each request as it is answered; returns the function that stops it. */
  onRequest(listener: (record: ProviderRequestRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Moves the provider's clock, as the grader moves the learner's: stored answers older
   * than PROVIDER_KEY_TTL_MS on this clock are forgotten, as Stripe forgets keys after 24 h.
   */
  setClockOffset(ms: number): void {
    this.clockOffsetMs = ms;
  }

  /** The next charge requests suffer these faults, one each, in order. */
  failNext(...faults: ProviderFault[]): void {
    this.faults.push(...faults);
  }

  /**
   * Resolves once no request is being handled: a request delayed on purpose whose caller
   * died meanwhile is settled before the next scenario starts, never answered in its history.
   */
  idle(timeoutMs = 5_000): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Resolves when the next charge request arrives, before any fault or delay is applied to it. */
  nextArrival(): Promise<void> {
    return new Promise((resolve) => this.arrivalWaiters.push(resolve));
  }

  /** Forgets the faults not yet suffered. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Forgets the ledger, the stored answers and pending faults, between scenarios. */
  reset(): void {
    this.ledger.length = 0;
    this.requests.length = 0;
    this.answers.clear();
    this.faults.length = 0;
    this.clockOffsetMs = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private now(): number {
    return Math.round((performance.now() - this.started) * 10) / 10;
  }

  private async handleCounted(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight++;
    try {
      await this.handle(req, res);
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const keyHeader = req.headers['idempotency-key'];
    const idempotencyKey = typeof keyHeader === 'string' && keyHeader !== '' ? keyHeader : undefined;
    const record = (status: number | 'cut', replayed = false, charge?: LedgerCharge): void => {
      const entry: ProviderRequestRecord = {
        at: this.now(),
        method: req.method ?? '?',
        path,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        status,
        replayed,
        ...(charge !== undefined ? { charge } : {}),
      };
      this.requests.push(entry);
      for (const listener of this.listeners) {
        listener(entry);
      }
    };
    const clock = Date.now() + this.clockOffsetMs;
    if (req.method === 'GET' && path === '/v1/charges') {
      json(res, 200, { data: this.ledger });
      record(200);
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/charges') {
      json(res, 404, invalid(`No such endpoint: ${req.method ?? '?'} ${path}. The provider answers POST /v1/charges and GET /v1/charges.`));
      record(404);
      return;
    }
    let raw = '';
    let tooLarge = false;
    for await (const chunk of req) {
      raw += String(chunk);
      if (raw.length > MAX_BODY_BYTES) {
        tooLarge = true;
        break;
      }
    }
    if (tooLarge) {
      json(res, 413, invalid('The request body is too large.'));
      record(413);
      return;
    }
    const fault = this.faults.shift();
    for (const wake of this.arrivalWaiters.splice(0)) wake();
    if (fault?.kind === 'delay') {
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      // The caller gave up or died meanwhile: nothing is charged for a request nobody waits for.
      if (res.destroyed || res.socket === null || res.socket.destroyed) {
        record('cut');
        return;
      }
    }
    if (fault?.kind === 'error-before-charge') {
      json(res, 500, { error: { type: 'api_error', message: 'The provider failed before charging anything (injected by the grader). Retrying is safe.' } });
      record(500);
      return;
    }
    // A replay of a stored answer, or a conflict, before anything else is looked at.
    const fingerprint = raw.trim();
    if (idempotencyKey !== undefined) {
      const stored = this.answers.get(idempotencyKey);
      if (stored && clock - stored.storedAt > PROVIDER_KEY_TTL_MS) {
        this.answers.delete(idempotencyKey);
      } else if (stored) {
        if (stored.fingerprint !== fingerprint) {
          json(res, 400, { error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. This key was used with ${stored.fingerprint}.` } });
          record(400);
          return;
        }
        res.writeHead(stored.status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(stored.body)), 'idempotent-replayed': 'true' });
        res.end(stored.body);
        record(stored.status, true);
        return;
      }
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      json(res, 400, invalid('The body must be JSON: {"amount": 1200, "currency": "eur", "customer": "cus_1", "card": "ok"}.'));
      record(400);
      return;
    }
    const answer = (status: number, payload: unknown, charge?: LedgerCharge): void => {
      const text = json(res, status, payload);
      // Stripe stores errors from the request's execution too (a decline), not malformed requests.
      if (idempotencyKey !== undefined) {
        this.answers.set(idempotencyKey, { storedAt: clock, fingerprint, status, body: text });
      }
      record(status, false, charge);
    };
    const b = body as Record<string, unknown>;
    if (typeof b !== 'object' || b === null || !Number.isInteger(b['amount']) || (b['amount'] as number) <= 0) {
      json(res, 400, invalid('amount must be a positive whole number of cents.', 'amount'));
      record(400);
      return;
    }
    if (typeof b['currency'] !== 'string' || !CURRENCIES.has(b['currency'])) {
      json(res, 400, invalid(`currency must be one of ${[...CURRENCIES].join(', ')}.`, 'currency'));
      record(400);
      return;
    }
    if (typeof b['customer'] !== 'string' || b['customer'] === '') {
      json(res, 400, invalid('customer must name the customer.', 'customer'));
      record(400);
      return;
    }
    if (b['card'] === 'declined') {
      answer(402, { error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' } });
      return;
    }
    if (b['card'] === REVOKED_CARD) {
      answer(400, { error: { type: 'invalid_request_error', code: 'token_revoked', param: 'card', message: 'This card token was revoked: the request is refused.' } });
      return;
    }
    const charge: LedgerCharge = {
      id: `ch_${randomBytes(8).toString('hex')}`,
      amount: b['amount'] as number,
      currency: b['currency'],
      customer: b['customer'],
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      at: this.now(),
    };
    this.ledger.push(charge);
    // What the caller sees of the charge: not the ledger's bookkeeping (its time, its key).
    const payload = { id: charge.id, amount: charge.amount, currency: charge.currency, customer: charge.customer, status: 'succeeded' };
    if (fault?.kind === 'cut-after-charge' || fault?.kind === 'after-charge') {
      // The charge stands, and the answer never arrives: the caller sees a reset connection.
      if (idempotencyKey !== undefined) {
        this.answers.set(idempotencyKey, { storedAt: clock, fingerprint, status: 201, body: JSON.stringify(payload) });
      }
      record('cut', false, charge);
      if (fault.kind === 'after-charge') {
        // The grader's own action (a kill and a restart): its failure is the grader's to see
        // at its next step, never an unhandled rejection here.
        await fault.action().catch(() => undefined);
      }
      res.socket?.resetAndDestroy();
      return;
    }
    answer(201, payload, charge);
  }
}
