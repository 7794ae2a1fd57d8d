/*
 * Mutant: amount-off-by-one
 * The amount is checked with <= 1 instead of < 1: an amount of 1 cent, the smallest the lab
 * allows ("a whole number ≥ 1"), is refused with 400.
 * Fails: validation-stores-nothing
 */
/**
 * The reference solution: Stripe-style idempotency keys for POST /payments.
 *
 * A request moves through recovery points, each reached by one atomic phase:
 *   started          the key is recorded and locked (phase 1)
 *   payment_created  our payment row exists (phase 2)
 *   finished         the provider answered and the response is stored (phase 3)
 * The provider call sits between payment_created and finished, outside any transaction,
 * with a provider idempotency key of its own, so a retry after any crash resumes where the
 * first attempt stopped and never charges twice.
 */
import type { Db, Queryable } from './db';
import { type ApiResponse, CURRENCIES, type Currency, type Deps, KEY_TTL_MS, LOCK_TIMEOUT_MS, MAX_KEY_LENGTH, type PaymentParams, type PaymentRequest } from './types';

type RecoveryPoint = 'started' | 'payment_created' | 'finished';

interface KeyRow {
  id: string;
  request_params: string;
  recovery_point: RecoveryPoint;
  locked_at: Date | null;
  created_at: Date;
  response_status: number | null;
  response_body: string | null;
  payment_id: string | null;
}

export async function migrate(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS idempotency_keys (
      id               bigserial PRIMARY KEY,
      user_id          text NOT NULL,
      idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND ${MAX_KEY_LENGTH}),
      created_at       timestamptz NOT NULL,
      last_run_at      timestamptz NOT NULL,
      locked_at        timestamptz,
      request_params   text NOT NULL,
      recovery_point   text NOT NULL CHECK (recovery_point IN ('started', 'payment_created', 'finished')),
      response_status  integer,
      response_body    text,
      payment_id       bigint
    );
    CREATE UNIQUE INDEX IF NOT EXISTS idempotency_keys_user_key ON idempotency_keys (user_id, idempotency_key);
    CREATE TABLE IF NOT EXISTS payments (
      id                 bigserial PRIMARY KEY,
      user_id            text NOT NULL,
      idempotency_key_id bigint REFERENCES idempotency_keys (id) ON DELETE SET NULL,
      amount             integer NOT NULL CHECK (amount > 0),
      currency           text NOT NULL,
      description        text,
      status             text NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined', 'failed')),
      charge_id          text,
      created_at         timestamptz NOT NULL
    );
  `);
}

function respond(status: number, body: unknown): ApiResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function error(status: number, type: string, message: string): ApiResponse {
  return respond(status, { error: { type, message } });
}

/** The request's parameters, checked; or the 400 to answer. */
function validate(body: unknown): PaymentParams | ApiResponse {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return error(400, 'invalid_request', 'The body must be a JSON object.');
  }
  const b = body as Record<string, unknown>;
  if (typeof b['amount'] !== 'number' || !Number.isInteger(b['amount']) || b['amount'] <= 1) {
    return error(400, 'invalid_request', 'amount must be a whole number of cents, at least 1.');
  }
  if (typeof b['currency'] !== 'string' || !(CURRENCIES as readonly string[]).includes(b['currency'])) {
    return error(400, 'invalid_request', `currency must be one of ${CURRENCIES.join(', ')}.`);
  }
  if (typeof b['card'] !== 'string' || b['card'] === '') {
    return error(400, 'invalid_request', 'card must be a card token.');
  }
  if (b['description'] !== undefined && typeof b['description'] !== 'string') {
    return error(400, 'invalid_request', 'description must be text.');
  }
  return {
    amount: b['amount'],
    currency: b['currency'] as Currency,
    card: b['card'],
    ...(typeof b['description'] === 'string' ? { description: b['description'] } : {}),
  };
}

/** The parameters as text, in a fixed order, so that equal requests give equal text. */
function fingerprint(p: PaymentParams): string {
  return JSON.stringify([p.amount, p.currency, p.card, p.description ?? null]);
}

function isRace(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === '40001' || code === '23505';
}

/** Phase 1: find or create the key and lock it; or the answer to give without running. */
async function lockKey(db: Db, userId: string, key: string, params: PaymentParams, now: Date): Promise<KeyRow | ApiResponse> {
  return db.transaction(
    async (tx) => {
      const found = await tx.query<KeyRow>('SELECT * FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 FOR UPDATE', [userId, key]);
      let row = found.rows[0];
      if (row && now.getTime() - row.created_at.getTime() > KEY_TTL_MS) {
        await tx.query('DELETE FROM idempotency_keys WHERE id = $1', [row.id]);
        row = undefined;
      }
      if (!row) {
        const inserted = await tx.query<KeyRow>(
          `INSERT INTO idempotency_keys (user_id, idempotency_key, created_at, last_run_at, locked_at, request_params, recovery_point)
           VALUES ($1, $2, $3, $3, $3, $4, 'started') RETURNING *`,
          [userId, key, now, fingerprint(params)],
        );
        return inserted.rows[0] as KeyRow;
      }
      if (row.request_params !== fingerprint(params)) {
        return error(422, 'idempotency_key_reused', 'This idempotency key was already used with other parameters.');
      }
      if (row.recovery_point === 'finished') {
        return row;
      }
      if (row.locked_at !== null && now.getTime() - row.locked_at.getTime() < LOCK_TIMEOUT_MS) {
        return error(409, 'idempotency_key_in_use', 'A request with this idempotency key is still being processed. Retry later.');
      }
      await tx.query('UPDATE idempotency_keys SET locked_at = $2, last_run_at = $2 WHERE id = $1', [row.id, now]);
      return { ...row, locked_at: now };
    },
    { isolation: 'serializable' },
  );
}

/** Ends the request: stores its response and releases the key, in the same transaction as `work`. */
async function finish(tx: Queryable, keyId: string, response: ApiResponse): Promise<ApiResponse> {
  await tx.query(`UPDATE idempotency_keys SET recovery_point = 'finished', response_status = $2, response_body = $3, locked_at = NULL WHERE id = $1`, [keyId, response.status, response.body]);
  return response;
}

export async function createPayment(request: PaymentRequest, deps: Deps): Promise<ApiResponse> {
  const { db, provider, clock } = deps;
  const key = request.idempotencyKey;
  if (key === undefined || key.length < 1 || key.length > MAX_KEY_LENGTH) {
    return error(400, 'invalid_request', `The Idempotency-Key header is required: 1 to ${MAX_KEY_LENGTH} characters.`);
  }
  const params = validate(request.body);
  if ('status' in params) {
    return params;
  }

  let row: KeyRow;
  try {
    const locked = await lockKey(db, request.userId, key, params, clock.now());
    if ('status' in locked) {
      return locked;
    }
    row = locked;
  } catch (e) {
    if (isRace(e)) {
      return error(409, 'idempotency_key_in_use', 'A request with this idempotency key is being processed. Retry later.');
    }
    throw e;
  }

  try {
    for (;;) {
      switch (row.recovery_point) {
        case 'finished':
          return { status: row.response_status ?? 500, headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' }, body: row.response_body ?? '' };

        case 'started': {
          // Phase 2: our own record of the payment, atomically with the recovery point.
          const paymentId = await db.transaction(async (tx) => {
            const inserted = await tx.query<{ id: string }>(
              `INSERT INTO payments (user_id, idempotency_key_id, amount, currency, description, status, created_at)
               VALUES ($1, $2, $3, $4, $5, 'pending', $6) RETURNING id`,
              [request.userId, row.id, params.amount, params.currency, params.description ?? null, clock.now()],
            );
            const id = (inserted.rows[0] as { id: string }).id;
            await tx.query(`UPDATE idempotency_keys SET recovery_point = 'payment_created', payment_id = $2 WHERE id = $1`, [row.id, id]);
            return id;
          });
          row = { ...row, recovery_point: 'payment_created', payment_id: paymentId };
          break;
        }

        case 'payment_created': {
          // The foreign call: its own phase, with its own idempotency key, outside any transaction.
          const paymentId = row.payment_id as string;
          const result = await provider.createCharge(
            { amount: params.amount, currency: params.currency, customer: request.userId, card: params.card },
            { idempotencyKey: `payment-${paymentId}` },
          );
          if (result.kind === 'unknown') {
            // The charge may or may not exist: answer nothing final, unlock, and let a retry find out.
            await db.query('UPDATE idempotency_keys SET locked_at = NULL WHERE id = $1', [row.id]);
            return error(503, 'provider_unavailable', 'The payment provider did not answer. Retry with the same Idempotency-Key.');
          }
          const keyId = row.id;
          return await db.transaction(async (tx) => {
            if (result.kind === 'charged') {
              await tx.query(`UPDATE payments SET status = 'succeeded', charge_id = $2 WHERE id = $1`, [paymentId, result.charge.id]);
              return finish(
                tx,
                keyId,
                respond(201, { id: `pay_${paymentId}`, amount: params.amount, currency: params.currency, description: params.description ?? null, status: 'succeeded', charge: result.charge.id }),
              );
            }
            if (result.kind === 'declined') {
              await tx.query(`UPDATE payments SET status = 'declined' WHERE id = $1`, [paymentId]);
              return finish(tx, keyId, error(402, 'card_declined', result.message));
            }
            await tx.query(`UPDATE payments SET status = 'failed' WHERE id = $1`, [paymentId]);
            return finish(tx, keyId, error(502, 'provider_rejected', result.message));
          });
        }
      }
    }
  } catch (e) {
    // Anything unexpected: release the key so that a retry can resume, then fail.
    await db.query('UPDATE idempotency_keys SET locked_at = NULL WHERE id = $1', [row.id]).catch(() => undefined);
    throw e;
  }
}
