/**
 * The Idempotency Keys lab's adapter, loaded in the learner's process beside their bundle
 * (see `adapter` in sandbox.ts). It builds what `createPayment(request, deps)` is handed —
 * the database, an HTTP client for the grader's payment provider, a clock the grader can
 * move — and gives the grader the few controls it needs: the clock, crash points, and
 * the count of commit points a request passed.
 *
 * Bundled on its own into dist/adapters/idempotency-keys.cjs; it imports nothing of the
 * extension or the grader.
 */
import { type HttpAnswer, postJson } from './http';
import { type Db, callLearner, dbAdapter } from './pgDb';

export interface AdapterConfig {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly providerUrl: string;
  readonly poolSize: number;
  /** How long the provider client waits for an answer before the outcome is unknown. */
  readonly providerTimeoutMs: number;
}

type ProviderResult =
  | { kind: 'charged'; charge: Record<string, unknown>; replayed: boolean }
  | { kind: 'declined'; status: 402; code: string; message: string }
  | { kind: 'rejected'; status: number; type: string; message: string }
  | { kind: 'unknown'; reason: string };

function errorFields(text: string): { type: string; code: string; message: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { type?: unknown; code?: unknown; message?: unknown } };
    const e = parsed.error ?? {};
    return { type: String(e.type ?? 'error'), code: String(e.code ?? e.type ?? 'error'), message: String(e.message ?? text) };
  } catch {
    return { type: 'error', code: 'error', message: text };
  }
}

/** The provider client the learner's code is handed: it never throws, an unknown outcome is data. */
function providerClient(url: string, timeoutMs: number): { createCharge(params: Record<string, unknown>, options: { idempotencyKey: string }): Promise<ProviderResult> } {
  return {
    async createCharge(params, options): Promise<ProviderResult> {
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

/** The functions the grader calls in the learner's process. */
export function createAdapter(learner: Readonly<Record<string, unknown>>): Record<string, (...args: never[]) => unknown> {
  const base = dbAdapter();
  let provider: ReturnType<typeof providerClient> | undefined;
  let clockOffsetMs = 0;
  const clock = { now: (): Date => new Date(Date.now() + clockOffsetMs) };
  const deps = (): { db: Db; provider: ReturnType<typeof providerClient>; clock: typeof clock } => {
    if (provider === undefined) {
      throw new Error('The grader did not configure the adapter.');
    }
    return { db: base.db(), provider, clock };
  };
  return {
    ...base.controls,
    async configure(config: AdapterConfig): Promise<void> {
      await base.open({ databaseUrl: config.databaseUrl, schema: config.schema, poolSize: config.poolSize });
      provider = providerClient(config.providerUrl, config.providerTimeoutMs);
    },
    setClock(offsetMs: number): void {
      clockOffsetMs = offsetMs;
    },
    migrate: () => callLearner(learner, 'src/payments.ts', 'migrate', '(db)', deps().db),
    createPayment: (request: unknown) => callLearner(learner, 'src/payments.ts', 'createPayment', '(request, deps)', request, deps()),
  };
}
