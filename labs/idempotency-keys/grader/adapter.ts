/**
 * The Idempotency Keys lab's adapter, loaded in the learner's process beside their bundle.
 * It builds what `createPayment(request, deps)` is handed — the database, an HTTP client
 * for the grader's payment provider, a clock the grader can move — and gives the grader
 * the few controls it needs: the clock, crash points, and the count of commit points a
 * request passed.
 *
 * Bundled on its own into dist/sandbox/adapters/idempotency-keys.cjs; it imports nothing of the
 * extension or the grader but the database half every PostgreSQL lab's adapter shares and
 * the HTTP client.
 */
import { type HttpAnswer, postJson } from '../../../src/core/grading/adapters/http';
import { type Db, callLearner, dbAdapter } from '../../../src/core/grading/adapters/pgDb';
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import type { IdempotencyAdapter, IdempotencyAdapterConfig, KeyRowSeen, PaymentRequest, PaymentRowSeen, TablesSeen } from './protocol';

const FILE = 'src/payments.ts';

/** What the provider client answers, as the lab's src/types.ts describes it. */
type ProviderResult =
  | { kind: 'charged'; charge: Record<string, unknown>; replayed: boolean }
  | { kind: 'declined'; status: 402; code: string; message: string }
  | { kind: 'rejected'; status: number; type: string; message: string }
  | { kind: 'unknown'; reason: string };

interface ProviderClient {
  createCharge(params: Record<string, unknown>, options: { idempotencyKey: string }): Promise<ProviderResult>;
}

/** A field of the provider's error body, which the provider always sends as text; the fallback when it is absent. */
function textField(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

/** The type, code and message of the provider's error body. */
function errorFields(text: string): { type: string; code: string; message: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { type?: unknown; code?: unknown; message?: unknown } };
    const e = parsed.error ?? {};
    const type = textField(e.type, 'error');
    return { type, code: textField(e.code, type), message: textField(e.message, text) };
  } catch {
    return { type: 'error', code: 'error', message: text };
  }
}

/** The provider client the learner's code is handed: it never throws, an unknown outcome is data. */
function providerClient(url: string, timeoutMs: number): ProviderClient {
  return {
    async createCharge(params, options): Promise<ProviderResult> {
      // The learner's code may call it with anything at all, whatever the types say.
      if (typeof options?.idempotencyKey !== 'string' || options.idempotencyKey === '') {
        // Refused here, as a real SDK would refuse a call missing a required option.
        return { kind: 'rejected', status: 400, type: 'invalid_request_error', message: 'createCharge needs { idempotencyKey } (a non-empty string) as its second argument.' };
      }
      let response: HttpAnswer;
      try {
        response = await postJson(`${url}/v1/charges`, JSON.stringify({ amount: params['amount'], currency: params['currency'], customer: params['customer'], card: params['card'] }), {
          timeoutMs,
          headers: { 'idempotency-key': options.idempotencyKey },
        });
      } catch (error) {
        return { kind: 'unknown', reason: `The provider did not answer: ${error instanceof Error ? error.message : String(error)}` };
      }
      const { text } = response;
      if (response.status === 200 || response.status === 201) {
        return { kind: 'charged', charge: JSON.parse(text) as Record<string, unknown>, replayed: response.headers['idempotent-replayed'] === 'true' };
      }
      if (response.status >= 500) {
        return { kind: 'unknown', reason: `The provider failed with ${response.status}: ${errorFields(text).message}` };
      }
      const fields = errorFields(text);
      if (response.status === 402) {
        return { kind: 'declined', status: 402, code: fields.code, message: fields.message };
      }
      return { kind: 'rejected', status: response.status, type: fields.type, message: fields.message };
    },
  };
}

/** The columns of the learner's tables the grader reads, as the lab's README and starter name them. */
const KEY_COLUMNS = ['idempotency_key', 'recovery_point', 'locked_at', 'payment_id'] as const;
const PAYMENT_COLUMNS = ['id', 'status', 'charge_id', 'amount'] as const;

function missingColumn(rows: readonly Record<string, unknown>[], columns: readonly string[]): string | undefined {
  const first = rows[0];
  return first === undefined ? undefined : columns.find((c) => !(c in first));
}

const text = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** One user's rows of the learner's idempotency_keys and payments, as plain data. */
async function readTables(db: Db, userId: string): Promise<TablesSeen> {
  try {
    const keys = (await db.query<Record<string, unknown>>('SELECT * FROM idempotency_keys WHERE user_id = $1', [userId])).rows;
    const payments = (await db.query<Record<string, unknown>>('SELECT * FROM payments WHERE user_id = $1', [userId])).rows;
    const missingKey = missingColumn(keys, KEY_COLUMNS);
    const missingPayment = missingColumn(payments, PAYMENT_COLUMNS);
    if (missingKey !== undefined || missingPayment !== undefined) {
      return { ok: false, message: missingKey !== undefined ? `idempotency_keys has no column ${missingKey}` : `payments has no column ${missingPayment ?? '?'}` };
    }
    return {
      ok: true,
      keys: keys.map((r): KeyRowSeen => ({ key: String(r['idempotency_key']), recoveryPoint: String(r['recovery_point']), locked: text(r['locked_at']) !== null, paymentId: text(r['payment_id']) })),
      payments: payments.map(
        (r): PaymentRowSeen => ({
          id: String(r['id']),
          status: String(r['status']),
          chargeId: text(r['charge_id']),
          amount: r['amount'] === null || r['amount'] === undefined ? null : Number(r['amount']),
          ...('description' in r ? { description: text(r['description']) } : {}),
        }),
      ),
    };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** The functions the grader calls in the learner's process. */
export const createAdapter: AdapterFactory<IdempotencyAdapter> = (learner) => {
  const base = dbAdapter();
  let provider: ProviderClient | undefined;
  let clockOffsetMs = 0;
  const clock = { now: (): Date => new Date(Date.now() + clockOffsetMs) };
  const deps = (): { db: Db; provider: ProviderClient; clock: typeof clock } => {
    if (provider === undefined) {
      throw new Error('The grader did not configure the adapter.');
    }
    return { db: base.db(), provider, clock };
  };
  return {
    ...base.controls,
    async configure(config: IdempotencyAdapterConfig): Promise<void> {
      await base.open({ databaseUrl: config.databaseUrl, schema: config.schema, poolSize: config.poolSize });
      const client = providerClient(config.providerUrl, config.providerTimeoutMs);
      // The provider call is a point too: the grader can kill the process just after the
      // provider answered, before the learner's code has seen (or recorded) the answer.
      provider = { createCharge: (params, options) => base.external(() => client.createCharge(params, options)) };
    },
    setClock(offsetMs: number): void {
      clockOffsetMs = offsetMs;
    },
    migrate: () => callLearner(learner, FILE, 'migrate', '(db)', deps().db),
    createPayment: (request: PaymentRequest) => callLearner(learner, FILE, 'createPayment', '(request, deps)', request, deps()),
    tables: (userId: string) => readTables(deps().db, userId),
  };
};
