/**
 * The Saga lab's adapter, loaded in the learner's process beside their bundle: it builds
 * what `placeOrder(order, deps)` and `recover(deps)` are handed — the orchestrator's
 * database, clients for the grader's services, a sleep that makes time pass faster — and
 * the controls the grader uses (crash points, latency). Bundled on its own into
 * dist/adapters/saga.cjs; it imports nothing of the extension or the grader.
 */
import { postJson } from './http';
import { type Db, callLearner, dbAdapter } from './pgDb';

export interface SagaAdapterConfig {
  readonly databaseUrl: string;
  readonly schema: string;
  readonly servicesUrl: string;
  readonly poolSize: number;
  /** How long a service call may take before its outcome is technical (unknown). */
  readonly callTimeoutMs: number;
}

type ServiceResult = { ok: true; result: Record<string, unknown> } | { ok: false; kind: 'business' | 'technical'; reason: string };

const OPERATIONS = {
  orders: ['create', 'reject', 'approve'],
  inventory: ['reserve', 'release'],
  payments: ['charge', 'refund'],
  shipping: ['schedule'],
} as const;

/** A client per service: each call a POST; never throws, an unknown outcome is `technical`. */
function serviceClients(url: string, timeoutMs: number, external: <T>(work: () => Promise<T>) => Promise<T>): Record<string, Record<string, (call: Record<string, unknown>) => Promise<ServiceResult>>> {
  // Each call is a point where the grader can kill the orchestrator: just after the
  // service answered, before the orchestrator could record it.
  const call = (path: string, body: Record<string, unknown>): Promise<ServiceResult> => external(() => send(path, body));
  const send = async (path: string, body: Record<string, unknown>): Promise<ServiceResult> => {
    let status: number;
    let text: string;
    try {
      ({ status, text } = await postJson(`${url}/${path}`, JSON.stringify(body ?? {}), { timeoutMs }));
    } catch (error) {
      return { ok: false, kind: 'technical', reason: `no answer: ${error instanceof Error ? error.message : String(error)}` };
    }
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON: judged by the status alone.
    }
    if (status === 200) {
      return { ok: true, result: (parsed['result'] as Record<string, unknown> | undefined) ?? {} };
    }
    const reason = String(parsed['reason'] ?? text);
    // 422 is a refusal; 400 is a malformed call (a missing requestId), as definite as a refusal.
    return status === 422 || status === 400 ? { ok: false, kind: 'business', reason: status === 400 ? `invalid request: ${reason}` : reason } : { ok: false, kind: 'technical', reason };
  };
  return Object.fromEntries(
    Object.entries(OPERATIONS).map(([service, ops]) => [service, Object.fromEntries(ops.map((op) => [op, (body: Record<string, unknown>) => call(`${service}/${op}`, body)]))]),
  );
}

/** The functions the grader calls in the learner's process. */
export function createAdapter(learner: Readonly<Record<string, unknown>>): Record<string, (...args: never[]) => unknown> {
  const base = dbAdapter();
  let services: ReturnType<typeof serviceClients> | undefined;
  let sleeps = 0;
  const deps = (): { db: Db; services: ReturnType<typeof serviceClients>; sleep(ms: number): Promise<void> } => {
    if (services === undefined) {
      throw new Error('The grader did not configure the adapter.');
    }
    return {
      db: base.db(),
      services,
      // Time passes a hundred times faster: backoff still orders the retries, and grading stays quick.
      sleep: (ms: number) => {
        sleeps++;
        return new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(50, Number(ms) / 100))));
      },
    };
  };
  return {
    ...base.controls,
    async configure(config: SagaAdapterConfig): Promise<void> {
      await base.open({ databaseUrl: config.databaseUrl, schema: config.schema, poolSize: config.poolSize });
      services = serviceClients(config.servicesUrl, config.callTimeoutMs, (work) => base.external(work));
    },
    sleeps: () => sleeps,
    migrate: () => callLearner(learner, 'src/saga.ts', 'migrate', '(db)', deps().db),
    placeOrder: (order: unknown) => callLearner(learner, 'src/saga.ts', 'placeOrder', '(order, deps)', order, deps()),
    recover: () => callLearner(learner, 'src/saga.ts', 'recover', '(deps)', deps()),
  };
}
