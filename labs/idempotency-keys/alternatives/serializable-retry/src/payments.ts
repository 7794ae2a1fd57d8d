/**
 * A correct solution written another way than the reference, from the lab's README alone:
 * the parameters are kept in columns of their own and compared in SQL (IS DISTINCT FROM),
 * a key locked by a live request answers 409 before its parameters are looked at, phase 1
 * is serializable without SELECT ... FOR UPDATE and is tried again when it loses a race
 * (40001) before answering 409, and every write, the unlock after an unknown outcome
 * included, runs in a transaction.
 */
import type { Db, Queryable } from './db';
import { type ApiResponse, CURRENCIES, type Currency, type Deps, KEY_TTL_MS, LOCK_TIMEOUT_MS, MAX_KEY_LENGTH, type PaymentParams, type PaymentRequest } from './types';

interface Key {
  id: string;
  stage: 'started' | 'payment_created' | 'finished';
  payment_id: string | null;
  response_status: number | null;
  response_body: string | null;
}

export async function migrate(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS idempotency_keys (
      id bigserial PRIMARY KEY,
      user_id text NOT NULL,
      idempotency_key text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
      amount integer NOT NULL,
      currency text NOT NULL,
      card text NOT NULL,
      description text,
      request_params text NOT NULL,
      recovery_point text NOT NULL,
      created_at timestamptz NOT NULL,
      last_run_at timestamptz NOT NULL,
      locked_at timestamptz,
      response_status integer,
      response_body text,
      payment_id bigint
    );
    CREATE UNIQUE INDEX IF NOT EXISTS idempotency_keys_user_id_idempotency_key_key ON idempotency_keys (user_id, idempotency_key);
    CREATE TABLE IF NOT EXISTS payments (
      id bigserial PRIMARY KEY,
      user_id text NOT NULL,
      amount integer NOT NULL,
      currency text NOT NULL,
      description text,
      status text NOT NULL,
      charge_id text,
      created_at timestamptz NOT NULL
    );
  `);
}

function answer(status: number, body: unknown): ApiResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function failure(status: number, type: string, message: string): ApiResponse {
  return answer(status, { error: { type, message } });
}

function checkBody(body: unknown): PaymentParams | ApiResponse {
  const bad = (message: string): ApiResponse => failure(400, 'invalid_request', message);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return bad('Send a JSON object.');
  const b = body as { amount?: unknown; currency?: unknown; card?: unknown; description?: unknown };
  if (typeof b.amount !== 'number' || !Number.isSafeInteger(b.amount) || b.amount <= 0) return bad('amount: a whole number of cents, 1 or more.');
  if (typeof b.currency !== 'string' || !(CURRENCIES as readonly string[]).includes(b.currency)) return bad('currency: eur, usd or gbp.');
  if (typeof b.card !== 'string' || b.card.trim() === '') return bad('card: a card token.');
  if (!(b.description === undefined || typeof b.description === 'string')) return bad('description: text.');
  return { amount: b.amount, currency: b.currency as Currency, card: b.card, ...(b.description !== undefined ? { description: b.description } : {}) };
}

const sqlState = (e: unknown): unknown => (e instanceof Error && 'code' in e ? (e as Error & { code: unknown }).code : undefined);

const busy = (): ApiResponse => failure(409, 'idempotency_key_in_use', 'This Idempotency-Key is being used by a request in progress.');

async function phase1(db: Db, userId: string, key: string, p: PaymentParams, now: Date): Promise<Key | ApiResponse> {
  return db.transaction(
    async (tx) => {
      const rows = await tx.query<Key & { created_at: Date; locked_at: Date | null; differs: boolean }>(
        `SELECT id, recovery_point AS stage, payment_id, response_status, response_body, created_at, locked_at,
                (amount, currency, card, description) IS DISTINCT FROM ($3::integer, $4::text, $5::text, $6::text) AS differs
           FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2`,
        [userId, key, p.amount, p.currency, p.card, p.description ?? null],
      );
      let existing = rows.rows[0];
      if (existing && existing.created_at.getTime() + KEY_TTL_MS < now.getTime()) {
        await tx.query('DELETE FROM idempotency_keys WHERE id = $1', [existing.id]);
        existing = undefined;
      }
      if (!existing) {
        const created = await tx.query<Key>(
          `INSERT INTO idempotency_keys (user_id, idempotency_key, amount, currency, card, description, request_params, recovery_point, created_at, last_run_at, locked_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'started', $8, $8, $8)
           RETURNING id, recovery_point AS stage, payment_id, response_status, response_body`,
          [userId, key, p.amount, p.currency, p.card, p.description ?? null, JSON.stringify(p), now],
        );
        return created.rows[0] as Key;
      }
      const live = existing.locked_at !== null && now.getTime() - existing.locked_at.getTime() < LOCK_TIMEOUT_MS;
      if (existing.stage !== 'finished' && live) return busy();
      if (existing.differs) return failure(422, 'idempotency_key_reused', 'This Idempotency-Key belongs to a request with other parameters.');
      if (existing.stage === 'finished') return existing;
      await tx.query('UPDATE idempotency_keys SET locked_at = $2, last_run_at = $2 WHERE id = $1', [existing.id, now]);
      return existing;
    },
    { isolation: 'serializable' },
  );
}

async function lockWithRetries(db: Db, userId: string, key: string, p: PaymentParams, now: Date): Promise<Key | ApiResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await phase1(db, userId, key, p, now);
    } catch (e) {
      const code = sqlState(e);
      if (code !== '40001' && code !== '23505') throw e;
      if (attempt === 3) return busy();
    }
  }
}

async function done(tx: Queryable, keyId: string, paymentId: string, status: string, chargeId: string | null, response: ApiResponse): Promise<ApiResponse> {
  await tx.query('UPDATE payments SET status = $2, charge_id = $3 WHERE id = $1', [paymentId, status, chargeId]);
  await tx.query(`UPDATE idempotency_keys SET recovery_point = 'finished', response_status = $2, response_body = $3, locked_at = NULL WHERE id = $1`, [keyId, response.status, response.body]);
  return response;
}

export async function createPayment(request: PaymentRequest, deps: Deps): Promise<ApiResponse> {
  const key = request.idempotencyKey ?? '';
  if (key.length < 1 || key.length > MAX_KEY_LENGTH) {
    return failure(400, 'invalid_request', 'Idempotency-Key: 1 to 255 characters, required.');
  }
  const checked = checkBody(request.body);
  if ('status' in checked) return checked;
  const p = checked;

  const locked = await lockWithRetries(deps.db, request.userId, key, p, deps.clock.now());
  if ('status' in locked) return locked;
  const k = locked;
  if (k.stage === 'finished') {
    return { status: k.response_status ?? 500, headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' }, body: k.response_body ?? '' };
  }
  const unlock = (): Promise<unknown> => deps.db.transaction((tx) => tx.query('UPDATE idempotency_keys SET locked_at = NULL WHERE id = $1', [k.id]));
  try {
    let paymentId = k.payment_id;
    if (k.stage === 'started' || paymentId === null) {
      paymentId = await deps.db.transaction(async (tx) => {
        const made = await tx.query<{ id: string }>(
          `INSERT INTO payments (user_id, amount, currency, description, status, created_at) VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING id`,
          [request.userId, p.amount, p.currency, p.description ?? null, deps.clock.now()],
        );
        const id = made.rows[0]?.id ?? '';
        await tx.query(`UPDATE idempotency_keys SET recovery_point = 'payment_created', payment_id = $2 WHERE id = $1`, [k.id, id]);
        return id;
      });
    }
    const id = paymentId;
    const result = await deps.provider.createCharge({ amount: p.amount, currency: p.currency, customer: request.userId, card: p.card }, { idempotencyKey: `payment-${id}` });
    switch (result.kind) {
      case 'unknown':
        await unlock();
        return failure(503, 'provider_unavailable', `The payment provider did not answer (${result.reason}). Retry with the same Idempotency-Key.`);
      case 'charged':
        return await deps.db.transaction((tx) =>
          done(tx, k.id, id, 'succeeded', result.charge.id, answer(201, { id: `pay_${id}`, amount: p.amount, currency: p.currency, description: p.description ?? null, status: 'succeeded', charge: result.charge.id })),
        );
      case 'declined':
        return await deps.db.transaction((tx) => done(tx, k.id, id, 'declined', null, failure(402, 'card_declined', result.message)));
      case 'rejected':
        return await deps.db.transaction((tx) => done(tx, k.id, id, 'failed', null, failure(502, 'provider_rejected', result.message)));
    }
  } catch (e) {
    await unlock().catch(() => undefined);
    throw e;
  }
}
