/**
 * POST /payments, made safe to retry with idempotency keys.
 *
 * A client sends each payment with an `Idempotency-Key` header. Whatever happens to the
 * request (a timeout and a retry, two copies arriving at once, this process dying half-way,
 * a provider that does not answer), the card is charged at most once per key, and every
 * retry gets the first answer back.
 *
 * A request moves through recovery points, each reached by one atomic phase:
 *
 *   phase 1  lockKey         record the key and lock it ......... recovery point 'started'
 *   phase 2  recordPayment   create our payment row ............ recovery point 'payment_created'
 *            the provider call: outside any transaction, with a provider key of its own
 *   phase 3  finishPayment   record the outcome, store the response  recovery point 'finished'
 *
 * A retry reads the key's recovery point and carries on from there.
 *
 * Replace each `throw new Error('TODO(n) ...')` with your code. README.md explains every
 * step; `npm test` tells you how far you are; the Grade button (or
 * `data-labs grade idempotency-keys .`) runs the hidden checks: races, crashes, a failing
 * provider.
 *
 * Use `deps.clock.now()` for every time you store or compare, never SQL's now(): the tests
 * and the grader move that clock to make locks go stale and keys expire.
 */
import type { Db, Queryable } from './db';
import {
  type ApiResponse,
  CURRENCIES,
  type Deps,
  KEY_TTL_MS,
  LOCK_TIMEOUT_MS,
  MAX_KEY_LENGTH,
  type PaymentParams,
  type PaymentRequest,
  type ProviderResult,
} from './types';

/** Where a request has got to, as stored with its key. */
type RecoveryPoint = 'started' | 'payment_created' | 'finished';

/**
 * One row of idempotency_keys as `SELECT *` returns it, with the columns TODO(1) suggests
 * (bigserial and bigint arrive as strings, timestamptz as Date). Change it if your table differs.
 */
interface KeyRow {
  id: string;
  user_id: string;
  idempotency_key: string;
  created_at: Date;
  last_run_at: Date;
  locked_at: Date | null;
  request_params: string;
  recovery_point: RecoveryPoint;
  response_status: number | null;
  response_body: string | null;
  payment_id: string | null;
}

export async function migrate(db: Db): Promise<void> {
  // TODO(1): Create the two tables with ONE `await db.exec(`...`)`. Write CREATE TABLE IF NOT
  //          EXISTS (and CREATE UNIQUE INDEX IF NOT EXISTS): migrate may run on a database
  //          where it ran before.
  //
  //   idempotency_keys  id bigserial PRIMARY KEY,
  //                     user_id text, idempotency_key text (1 to MAX_KEY_LENGTH characters),
  //                     created_at timestamptz, last_run_at timestamptz,
  //                     locked_at timestamptz        NULL when no request holds the key
  //                     request_params text          the parameters, to compare with a retry's
  //                     recovery_point text          'started', 'payment_created' or 'finished'
  //                     response_status integer      NULL until finished
  //                     response_body text           NULL until finished
  //                     payment_id bigint            NULL until phase 2
  //   payments          id bigserial PRIMARY KEY, user_id text, amount integer, currency text,
  //                     description text (NULL when none), status text ('pending',
  //                     'succeeded', 'declined' or 'failed'), charge_id text (NULL until
  //                     charged), created_at timestamptz
  //
  //   - a UNIQUE index on idempotency_keys (user_id, idempotency_key): keys belong to a user,
  //     and the index is what stops two requests from recording the same key at once
  //   - every column NOT NULL unless said otherwise
  //   - response_body is `text`, not jsonb: jsonb would give back other bytes (see README)
  throw new Error('TODO(1): migrate is not written yet');
}

// ─── Responses (given) ──────────────────────────────────────────────────────────

/** A response whose body is `body` as JSON text. */
function respond(status: number, body: unknown): ApiResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** An error response: `{"error": {"type": ..., "message": ...}}`. */
function errorResponse(status: number, type: string, message: string): ApiResponse {
  return respond(status, { error: { type, message } });
}

/** The stored response of a finished key, marked as a replay. */
function replay(row: KeyRow): ApiResponse {
  return {
    status: row.response_status ?? 500,
    headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' },
    body: row.response_body ?? '',
  };
}

/** The parameters as text in a fixed order, so that equal requests give equal text. */
function fingerprint(params: PaymentParams): string {
  return JSON.stringify([params.amount, params.currency, params.card, params.description ?? null]);
}

// ─── Your code ──────────────────────────────────────────────────────────────────

/** The checked parameters of a valid body, or the 400 to answer. */
function validate(body: unknown): PaymentParams | ApiResponse {
  // TODO(2): The body is whatever JSON the client sent: trust nothing. Require
  //   - an object (not null, not an array)
  //   - amount: a whole number of cents (Number.isInteger), at least 1; the string "1200" is not one
  //   - currency: one of CURRENCIES
  //   - card: a non-empty string
  //   - description: absent, or a string
  //   Anything else: return errorResponse(400, 'invalid_request', '<what is wrong>').
  //   A valid body: return { amount, currency, card } plus description when there is one.
  throw new Error('TODO(2): validate is not written yet');
}

/**
 * Phase 1: find or record the key and lock it, in ONE serializable transaction. Returns
 * the locked row to carry on with (or a finished row to replay), or the response to give
 * at once.
 */
async function lockKey(db: Db, userId: string, key: string, params: PaymentParams, now: Date): Promise<KeyRow | ApiResponse> {
  // TODO(3): return db.transaction(async (tx) => { ... }, { isolation: 'serializable' });
  //   1. SELECT * FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 FOR UPDATE
  //   2. a row created more than KEY_TTL_MS before `now` is forgotten: DELETE it, go on as if none
  //   3. no row: INSERT one (created_at, last_run_at and locked_at = now, request_params =
  //      fingerprint(params), recovery_point 'started') RETURNING *, and return it
  //   4. the row's request_params differ from fingerprint(params): return a
  //      422 'idempotency_key_reused', and change nothing
  //   5. recovery_point 'finished': return the row (createPayment replays it)
  //   6. locked_at less than LOCK_TIMEOUT_MS before `now`: another request is working on the
  //      key, return a 409 'idempotency_key_in_use'
  //   7. otherwise the key is free, or its lock is stale (its request died): take it (UPDATE
  //      locked_at and last_run_at to now) and return the row, to resume at its recovery point
  //   Inside the callback use tx.query for every statement, never db.query.
  throw new Error('TODO(3): lockKey is not written yet');
}

/** Phase 2: our own record of the payment. Returns the payment's id. */
async function recordPayment(db: Db, row: KeyRow, userId: string, params: PaymentParams, now: Date): Promise<string> {
  // TODO(4): In ONE db.transaction:
  //   - INSERT INTO payments (..., status 'pending', created_at = now) RETURNING id
  //   - UPDATE the key (row.id): recovery_point 'payment_created', payment_id = that id
  //   Both happen, or neither does: a crash between them must not leave a payment whose key
  //   still says 'started' (the retry would create a second payment).
  throw new Error('TODO(4): recordPayment is not written yet');
}

/**
 * Phase 3: record the provider's definite answer in payments, and store the response with
 * the key, in ONE transaction. Returns the response.
 */
async function finishPayment(db: Db, row: KeyRow, paymentId: string, params: PaymentParams, result: Exclude<ProviderResult, { kind: 'unknown' }>): Promise<ApiResponse> {
  // TODO(6): return db.transaction(async (tx) => { ... });
  //   - 'charged':  UPDATE payments SET status 'succeeded', charge_id = result.charge.id;
  //                 the response is respond(201, { id: `pay_${paymentId}`, amount, currency,
  //                 description (null when none), status: 'succeeded', charge: result.charge.id })
  //   - 'declined': status 'declined'; errorResponse(402, 'card_declined', result.message)
  //   - 'rejected': status 'failed';   errorResponse(502, 'provider_rejected', result.message)
  //   and in each case `return storeResponse(tx, row.id, response)`.
  throw new Error('TODO(6): finishPayment is not written yet');
}

/** The end of phase 3: stores the response with the key and frees it. Returns the response. */
async function storeResponse(tx: Queryable, keyId: string, response: ApiResponse): Promise<ApiResponse> {
  // TODO(6): UPDATE idempotency_keys SET recovery_point 'finished', response_status =
  //          response.status, response_body = response.body (the very text sent),
  //          locked_at NULL WHERE id = keyId. Then return response.
  throw new Error('TODO(6): storeResponse is not written yet');
}

export async function createPayment(request: PaymentRequest, deps: Deps): Promise<ApiResponse> {
  const { db, provider, clock } = deps;

  // TODO(2): Check the request before anything touches the database, so a bad one stores nothing:
  //   - request.idempotencyKey undefined, '' or longer than MAX_KEY_LENGTH characters:
  //     errorResponse(400, 'invalid_request', '<the Idempotency-Key header is required: ...>')
  //   - then validate(request.body): answer its 400 if the body is not valid

  // TODO(3): Phase 1: lockKey(db, request.userId, key, params, clock.now()).
  //   - it gives a response (409, 422): return it
  //   - it throws an error whose `code` is '23505' (the unique index) or '40001' (a
  //     serialization failure): another request recorded the key at the same moment;
  //     return errorResponse(409, 'idempotency_key_in_use', ...)
  //   - a row at 'finished': return replay(row)
  //   - otherwise resume at the row's recovery point:
  //       'started'          recordPayment(...) (TODO 4), then on as 'payment_created'
  //       'payment_created'  the provider call (TODO 5), then finishPayment(...) (TODO 6)

  // TODO(5): The provider call, outside any transaction:
  //     const result = await provider.createCharge(
  //       { amount, currency, customer: request.userId, card },
  //       { idempotencyKey: `payment-${paymentId}` });
  //   The key is derived from the payment row, so every attempt of this request sends the
  //   same one, and the provider charges at most once.
  //   result.kind 'unknown': nobody knows whether the card was charged. Store nothing final:
  //   UPDATE the key's locked_at to NULL (so a retry may run at once) and return
  //   errorResponse(503, 'provider_unavailable', '... retry with the same Idempotency-Key').
  //   If anything throws after phase 1, set locked_at to NULL as well before throwing again.

  throw new Error('TODO(2): createPayment is not written yet');
}
