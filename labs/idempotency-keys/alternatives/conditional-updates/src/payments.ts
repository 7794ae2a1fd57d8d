/**
 * A correct solution written another way than the reference, from the lab's README alone:
 * phase 1 runs at read committed and takes the key with statements that are atomic by
 * themselves (INSERT ... ON CONFLICT DO NOTHING, then an UPDATE whose WHERE says the lock is
 * free or stale), instead of SELECT ... FOR UPDATE in a serializable transaction. An
 * expired key's row is replaced in place. The request is a small state machine in a class.
 */
import type { Db, Queryable } from './db';
import { type ApiResponse, CURRENCIES, type Deps, KEY_TTL_MS, LOCK_TIMEOUT_MS, MAX_KEY_LENGTH, type PaymentParams, type PaymentRequest, type ProviderResult } from './types';

type RecoveryPoint = 'started' | 'payment_created' | 'finished';

interface KeyRow {
  id: string;
  request_params: string;
  recovery_point: RecoveryPoint;
  response_status: number | null;
  response_body: string | null;
  payment_id: string | null;
}

export async function migrate(db: Db): Promise<void> {
  await db.exec(`
    CREATE TABLE IF NOT EXISTS payments (
      id          bigserial PRIMARY KEY,
      user_id     text NOT NULL,
      amount      integer NOT NULL,
      currency    text NOT NULL,
      description text,
      status      text NOT NULL DEFAULT 'pending',
      charge_id   text,
      created_at  timestamptz NOT NULL
    );
    CREATE TABLE IF NOT EXISTS idempotency_keys (
      id              bigserial PRIMARY KEY,
      user_id         text NOT NULL,
      idempotency_key text NOT NULL,
      request_params  text NOT NULL,
      recovery_point  text NOT NULL DEFAULT 'started',
      created_at      timestamptz NOT NULL,
      last_run_at     timestamptz NOT NULL,
      locked_at       timestamptz,
      response_status integer,
      response_body   text,
      payment_id      bigint REFERENCES payments (id)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS idempotency_keys_per_user ON idempotency_keys (user_id, idempotency_key);
  `);
}

const json = (status: number, body: unknown, replayed = false): ApiResponse => ({
  status,
  headers: replayed ? { 'content-type': 'application/json', 'idempotent-replayed': 'true' } : { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const problem = (status: number, type: string, message: string): ApiResponse => json(status, { error: { type, message } });

function parse(body: unknown): PaymentParams | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the body must be an object';
  const { amount, currency, card, description } = body as Record<string, unknown>;
  if (!Number.isInteger(amount) || (amount as number) < 1) return 'amount must be a whole number of cents, at least 1';
  if (!CURRENCIES.some((c) => c === currency)) return `currency must be one of ${CURRENCIES.join(', ')}`;
  if (typeof card !== 'string' || card.length === 0) return 'card is required';
  if (description !== undefined && typeof description !== 'string') return 'description must be a string';
  const params: PaymentParams = { amount: amount as number, currency: currency as PaymentParams['currency'], card };
  return description === undefined ? params : { ...params, description };
}

const paramsText = (p: PaymentParams): string => JSON.stringify([p.amount, p.currency, p.card, p.description ?? null]);

const isConflict = (e: unknown): boolean => {
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  return code === '23505' || code === '40001';
};

const inUse = (): ApiResponse => problem(409, 'idempotency_key_in_use', 'Another request with this Idempotency-Key is in progress; retry later.');

class PaymentAttempt {
  private row!: KeyRow;

  constructor(
    private readonly request: PaymentRequest & { readonly idempotencyKey: string },
    private readonly params: PaymentParams,
    private readonly deps: Deps,
  ) {}

  async run(): Promise<ApiResponse> {
    const early = await this.takeKey();
    if (early) return early;
    try {
      for (;;) {
        if (this.row.recovery_point === 'finished') {
          return { status: this.row.response_status ?? 500, headers: { 'content-type': 'application/json', 'idempotent-replayed': 'true' }, body: this.row.response_body ?? '' };
        }
        if (this.row.recovery_point === 'started') {
          await this.createPayment();
          continue;
        }
        const paymentId = this.row.payment_id ?? '';
        const result = await this.deps.provider.createCharge(
          { amount: this.params.amount, currency: this.params.currency, customer: this.request.userId, card: this.params.card },
          { idempotencyKey: `payment-${paymentId}` },
        );
        if (result.kind === 'unknown') {
          await this.release();
          return problem(503, 'provider_unavailable', 'The payment provider did not answer; retry with the same Idempotency-Key.');
        }
        return await this.finish(paymentId, result);
      }
    } catch (e) {
      await this.release().catch(() => undefined);
      throw e;
    }
  }

  /** Phase 1: the key recorded (or an expired one replaced) or taken over, atomically; or the answer to give now. */
  private async takeKey(): Promise<ApiResponse | undefined> {
    const now = this.deps.clock.now();
    const { userId, idempotencyKey } = this.request;
    const fp = paramsText(this.params);
    try {
      return await this.deps.db.transaction(async (tx) => {
        const inserted = await tx.query<KeyRow>(
          `INSERT INTO idempotency_keys (user_id, idempotency_key, request_params, created_at, last_run_at, locked_at)
           VALUES ($1, $2, $3, $4, $4, $4)
           ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING *`,
          [userId, idempotencyKey, fp, now],
        );
        if (inserted.rows[0]) {
          this.row = inserted.rows[0];
          return undefined;
        }
        // Expired: the old row becomes a new request's, in place, if nobody else did it first.
        const renewed = await tx.query<KeyRow>(
          `UPDATE idempotency_keys
              SET request_params = $3, recovery_point = 'started', created_at = $4, last_run_at = $4, locked_at = $4,
                  response_status = NULL, response_body = NULL, payment_id = NULL
            WHERE user_id = $1 AND idempotency_key = $2 AND created_at < $5
            RETURNING *`,
          [userId, idempotencyKey, fp, now, new Date(now.getTime() - KEY_TTL_MS)],
        );
        if (renewed.rows[0]) {
          this.row = renewed.rows[0];
          return undefined;
        }
        const found = (await tx.query<KeyRow>('SELECT * FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2', [userId, idempotencyKey])).rows[0];
        if (!found) return inUse();
        if (found.request_params !== fp) {
          return problem(422, 'idempotency_key_reused', 'This Idempotency-Key was used with other parameters.');
        }
        if (found.recovery_point === 'finished') {
          this.row = found;
          return undefined;
        }
        const taken = await tx.query<KeyRow>(
          `UPDATE idempotency_keys SET locked_at = $2, last_run_at = $2
            WHERE id = $1 AND recovery_point <> 'finished' AND (locked_at IS NULL OR locked_at <= $3)
            RETURNING *`,
          [found.id, now, new Date(now.getTime() - LOCK_TIMEOUT_MS)],
        );
        if (!taken.rows[0]) return inUse();
        this.row = taken.rows[0];
        return undefined;
      });
    } catch (e) {
      if (isConflict(e)) return inUse();
      throw e;
    }
  }

  /** Phase 2. */
  private async createPayment(): Promise<void> {
    const { userId } = this.request;
    this.row = await this.deps.db.transaction(async (tx) => {
      const payment = await tx.query<{ id: string }>(
        'INSERT INTO payments (user_id, amount, currency, description, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [userId, this.params.amount, this.params.currency, this.params.description ?? null, this.deps.clock.now()],
      );
      const updated = await tx.query<KeyRow>(`UPDATE idempotency_keys SET recovery_point = 'payment_created', payment_id = $2 WHERE id = $1 RETURNING *`, [this.row.id, payment.rows[0]?.id]);
      return updated.rows[0] as KeyRow;
    });
  }

  /** Phase 3. */
  private finish(paymentId: string, result: Exclude<ProviderResult, { kind: 'unknown' }>): Promise<ApiResponse> {
    return this.deps.db.transaction(async (tx) => {
      let response: ApiResponse;
      if (result.kind === 'charged') {
        await tx.query(`UPDATE payments SET status = 'succeeded', charge_id = $2 WHERE id = $1`, [paymentId, result.charge.id]);
        response = json(201, {
          id: `pay_${paymentId}`,
          amount: this.params.amount,
          currency: this.params.currency,
          description: this.params.description ?? null,
          status: 'succeeded',
          charge: result.charge.id,
        });
      } else if (result.kind === 'declined') {
        await tx.query(`UPDATE payments SET status = 'declined' WHERE id = $1`, [paymentId]);
        response = problem(402, 'card_declined', result.message);
      } else {
        await tx.query(`UPDATE payments SET status = 'failed' WHERE id = $1`, [paymentId]);
        response = problem(502, 'provider_rejected', result.message);
      }
      await store(tx, this.row.id, response);
      return response;
    });
  }

  private async release(): Promise<void> {
    await this.deps.db.query('UPDATE idempotency_keys SET locked_at = NULL WHERE id = $1', [this.row.id]);
  }
}

async function store(tx: Queryable, keyId: string, response: ApiResponse): Promise<void> {
  await tx.query(`UPDATE idempotency_keys SET recovery_point = 'finished', response_status = $2, response_body = $3, locked_at = NULL WHERE id = $1`, [keyId, response.status, response.body]);
}

export async function createPayment(request: PaymentRequest, deps: Deps): Promise<ApiResponse> {
  const key = request.idempotencyKey;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    return problem(400, 'invalid_request', `An Idempotency-Key header of 1 to ${MAX_KEY_LENGTH} characters is required.`);
  }
  const params = parse(request.body);
  if (typeof params === 'string') {
    return problem(400, 'invalid_request', params);
  }
  return new PaymentAttempt({ ...request, idempotencyKey: key }, params, deps).run();
}
