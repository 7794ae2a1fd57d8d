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
 * A correct solution written in the starter's shape: the starter's functions, each with
 * its TODO done as the starter's comments describe.
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
  // Both tables in one exec, IF NOT EXISTS: migrate may run on a database where it ran before.
  //   - the UNIQUE index on idempotency_keys (user_id, idempotency_key): keys belong to a
  //     user, and the index is what stops two requests from recording the same key at once
  //   - response_body is `text`, not jsonb: jsonb would give back other bytes (see README)
  await db.exec(`
    CREATE TABLE IF NOT EXISTS idempotency_keys (
      id               bigserial PRIMARY KEY,
      user_id          text NOT NULL,
      idempotency_key  text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND ${MAX_KEY_LENGTH}),
      created_at       timestamptz NOT NULL,
      last_run_at      timestamptz NOT NULL,
      locked_at        timestamptz,
      request_params   text NOT NULL,
      recovery_point   text NOT NULL CHECK (recovery_point IN ('started', 'payment_created', 'finished')),
      response_status  integer,
      response_body    text,
      payment_id       bigint
    );
    CREATE UNIQUE INDEX IF NOT EXISTS idempotency_keys_user_id_key ON idempotency_keys (user_id, idempotency_key);
    CREATE TABLE IF NOT EXISTS payments (
      id           bigserial PRIMARY KEY,
      user_id      text NOT NULL,
      amount       integer NOT NULL CHECK (amount >= 1),
      currency     text NOT NULL,
      description  text,
      status       text NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'failed')),
      charge_id    text,
      created_at   timestamptz NOT NULL
    );
  `);
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
  // The body is whatever JSON the client sent: trust nothing.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return errorResponse(400, 'invalid_request', 'The body must be a JSON object.');
  }
  const { amount, currency, card, description } = body as Record<string, unknown>;
  if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1) {
    return errorResponse(400, 'invalid_request', 'amount must be a whole number of cents, at least 1.');
  }
  const currencyCode = CURRENCIES.find((c) => c === currency);
  if (currencyCode === undefined) {
    return errorResponse(400, 'invalid_request', `currency must be one of ${CURRENCIES.join(', ')}.`);
  }
  if (typeof card !== 'string' || card === '') {
    return errorResponse(400, 'invalid_request', 'card must be a non-empty card token.');
  }
  if (description !== undefined && typeof description !== 'string') {
    return errorResponse(400, 'invalid_request', 'description must be text when given.');
  }
  return description === undefined ? { amount, currency: currencyCode, card } : { amount, currency: currencyCode, card, description };
}

/**
 * Phase 1: find or record the key and lock it, in ONE serializable transaction. Returns
 * the locked row to carry on with (or a finished row to replay), or the response to give
 * at once.
 */
async function lockKey(db: Db, userId: string, key: string, params: PaymentParams, now: Date): Promise<KeyRow | ApiResponse> {
  // Every statement goes through tx, never db.query.
  return db.transaction(
    async (tx) => {
      // 1. the key's row, locked for the rest of the transaction
      const found = await tx.query<KeyRow>('SELECT * FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 FOR UPDATE', [userId, key]);
      let row = found.rows[0];
      // 2. a row created more than KEY_TTL_MS before now is forgotten
      if (row !== undefined && now.getTime() - row.created_at.getTime() > KEY_TTL_MS) {
        await tx.query('DELETE FROM idempotency_keys WHERE id = $1', [row.id]);
        row = undefined;
      }
      // 3. no row: record the key, locked, at 'started'
      if (row === undefined) {
        const inserted = await tx.query<KeyRow>(
          `INSERT INTO idempotency_keys (user_id, idempotency_key, created_at, last_run_at, locked_at, request_params, recovery_point)
           VALUES ($1, $2, $3, $3, $3, $4, 'started') RETURNING *`,
          [userId, key, now, fingerprint(params)],
        );
        return inserted.rows[0] as KeyRow;
      }
      // 4. other parameters: a client bug, not a retry; change nothing
      if (row.request_params !== fingerprint(params)) {
        return errorResponse(422, 'idempotency_key_reused', 'This Idempotency-Key was already used with other parameters.');
      }
      // 5. finished: createPayment replays it
      if (row.recovery_point === 'finished') {
        return row;
      }
      // 6. locked recently: another request is working on the key
      if (row.locked_at !== null && now.getTime() - row.locked_at.getTime() < LOCK_TIMEOUT_MS) {
        return errorResponse(409, 'idempotency_key_in_use', 'A request with this Idempotency-Key is in progress. Retry later.');
      }
      // 7. free, or its lock is stale (its request died): take it, and resume at its recovery point
      await tx.query('UPDATE idempotency_keys SET locked_at = $2, last_run_at = $2 WHERE id = $1', [row.id, now]);
      return { ...row, locked_at: now, last_run_at: now };
    },
    { isolation: 'serializable' },
  );
}

/** Phase 2: our own record of the payment. Returns the payment's id. */
async function recordPayment(db: Db, row: KeyRow, userId: string, params: PaymentParams, now: Date): Promise<string> {
  // The payment row, pending, and the key's recovery point 'payment_created', in ONE
  // transaction: a crash between them must not leave a payment whose key still says
  // 'started' (the retry would create a second payment).
  return db.transaction(async (tx) => {
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO payments (user_id, amount, currency, description, status, created_at)
       VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id`,
      [userId, params.amount, params.currency, params.description ?? null, now],
    );
    const paymentId = (inserted.rows[0] as { id: string }).id;
    await tx.query(`UPDATE idempotency_keys SET recovery_point = 'payment_created', payment_id = $2 WHERE id = $1`, [row.id, paymentId]);
    return paymentId;
  });
}

/**
 * Phase 3: record the provider's definite answer in payments, and store the response with
 * the key, in ONE transaction. Returns the response.
 */
async function finishPayment(db: Db, row: KeyRow, paymentId: string, params: PaymentParams, result: Exclude<ProviderResult, { kind: 'unknown' }>): Promise<ApiResponse> {
  //   - 'charged':  payment 'succeeded' with the provider's charge id; 201 with the payment
  //   - 'declined': payment 'declined'; 402 card_declined
  //   - 'rejected': payment 'failed';   502 provider_rejected
  //   and in each case the response is stored with the key (storeResponse), in the same transaction.
  return db.transaction(async (tx) => {
    if (result.kind === 'charged') {
      await tx.query(`UPDATE payments SET status = 'succeeded', charge_id = $2 WHERE id = $1`, [paymentId, result.charge.id]);
      const response = respond(201, {
        id: `pay_${paymentId}`,
        amount: params.amount,
        currency: params.currency,
        description: params.description ?? null,
        status: 'succeeded',
        charge: result.charge.id,
      });
      return storeResponse(tx, row.id, response);
    }
    if (result.kind === 'declined') {
      await tx.query(`UPDATE payments SET status = 'declined' WHERE id = $1`, [paymentId]);
      return storeResponse(tx, row.id, errorResponse(402, 'card_declined', result.message));
    }
    await tx.query(`UPDATE payments SET status = 'failed' WHERE id = $1`, [paymentId]);
    return storeResponse(tx, row.id, errorResponse(502, 'provider_rejected', result.message));
  });
}

/** The end of phase 3: stores the response with the key and frees it. Returns the response. */
async function storeResponse(tx: Queryable, keyId: string, response: ApiResponse): Promise<ApiResponse> {
  // The key is 'finished', with the response's status and the very text sent, and unlocked.
  await tx.query(
    `UPDATE idempotency_keys SET recovery_point = 'finished', response_status = $2, response_body = $3, locked_at = NULL WHERE id = $1`,
    [keyId, response.status, response.body],
  );
  return response;
}

export async function createPayment(request: PaymentRequest, deps: Deps): Promise<ApiResponse> {
  const { db, provider, clock } = deps;

  // Check the request before anything touches the database, so a bad one stores nothing.
  const key = request.idempotencyKey;
  if (key === undefined || key.length < 1 || key.length > MAX_KEY_LENGTH) {
    return errorResponse(400, 'invalid_request', `The Idempotency-Key header is required: 1 to ${MAX_KEY_LENGTH} characters.`);
  }
  const params = validate(request.body);
  if ('status' in params) {
    return params;
  }

  // Phase 1: record or take the key. A 409 or 422 is answered at once; a unique violation
  // (23505) or a serialization failure (40001) means another request recorded or took the
  // key at the same moment: 409.
  let row: KeyRow;
  try {
    const locked = await lockKey(db, request.userId, key, params, clock.now());
    if ('status' in locked) {
      return locked;
    }
    row = locked;
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    if (code === '23505' || code === '40001') {
      return errorResponse(409, 'idempotency_key_in_use', 'Another request with this Idempotency-Key is in progress. Retry later.');
    }
    throw e;
  }
  if (row.recovery_point === 'finished') {
    return replay(row);
  }

  // Resume at the row's recovery point. If anything throws from here on, unlock the key
  // (so that a retry may resume at once) before throwing again.
  try {
    // 'started': phase 2, our payment row, then on as 'payment_created'.
    let paymentId = row.payment_id;
    if (row.recovery_point === 'started' || paymentId === null) {
      paymentId = await recordPayment(db, row, request.userId, params, clock.now());
    }

    // 'payment_created': the provider call, outside any transaction, with a provider key
    // derived from the payment row, so that every attempt of this request sends the same one
    // and the provider charges at most once.
    const result = await provider.createCharge(
      { amount: params.amount, currency: params.currency, customer: request.userId, card: params.card },
      { idempotencyKey: `payment-${paymentId}` },
    );
    if (result.kind === 'unknown') {
      // Nobody knows whether the card was charged: store nothing final, unlock the key so that
      // a retry may run at once and ask the provider again with the same provider key.
      await db.query('UPDATE idempotency_keys SET locked_at = NULL WHERE id = $1', [row.id]);
      return errorResponse(503, 'provider_unavailable', 'The payment provider did not answer. Retry with the same Idempotency-Key.');
    }

    // Phase 3: record the outcome and store the response.
    return await finishPayment(db, row, paymentId, params, result);
  } catch (e) {
    await db.query('UPDATE idempotency_keys SET locked_at = NULL WHERE id = $1', [row.id]).catch(() => undefined);
    throw e;
  }
}
