/**
 * The Saga lab's adapter, loaded in the learner's process beside their bundle: it builds
 * what `placeOrder(order, deps)` and `recover(deps)` are handed — the orchestrator's
 * database, clients for the grader's services, a sleep that makes time pass faster — and
 * the controls the grader uses (crash points, latency). Bundled on its own into
 * dist/sandbox/adapters/saga.cjs; it imports nothing of the extension or the grader but
 * the database and HTTP halves every adapter shares.
 */
import { postJson } from '../../../src/core/grading/adapters/http';
import { type Db, callLearner, dbAdapter } from '../../../src/core/grading/adapters/pgDb';
import type { AdapterFactory } from '../../../src/core/grading/sandbox';
import type { OrderInput, SagaAdapter, SagaAdapterConfig } from './protocol';
import { SAGA_OPERATIONS } from './steps';

const FILE = 'src/saga.ts';

/** A service's answer, as the lab's types.ts describes it (ServiceResult). */
type ServiceResult = { ok: true; result: Record<string, unknown> } | { ok: false; kind: 'business' | 'technical'; reason: string };

type ServiceClients = Record<string, Record<string, (call: Record<string, unknown>) => Promise<ServiceResult>>>;


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A client per service: each call a POST; never throws, an unknown outcome is `technical`. */
function serviceClients(url: string, timeoutMs: number, external: <T>(work: () => Promise<T>) => Promise<T>): ServiceClients {
  const send = async (path: string, body: Record<string, unknown> | undefined): Promise<ServiceResult> => {
    let status: number;
    let text: string;
    try {
      ({ status, text } = await postJson(`${url}/${path}`, JSON.stringify(body ?? {}), { timeoutMs }));
    } catch (error) {
      return { ok: false, kind: 'technical', reason: `no answer: ${error instanceof Error ? error.message : String(error)}` };
    }
    let parsed: Record<string, unknown> = {};
    try {
      const json: unknown = JSON.parse(text);
      if (isRecord(json)) {
        parsed = json;
      }
    } catch {
      // Not JSON: judged by the status alone.
    }
    if (status === 200) {
      const result = parsed['result'];
      return { ok: true, result: isRecord(result) ? result : {} };
    }
    // The services' reasons are text; without one, the body itself says what went wrong.
    const given = parsed['reason'];
    const reason = typeof given === 'string' ? given : given === undefined || given === null ? text : JSON.stringify(given);
    // 422 is a refusal; 400 is a malformed call (a missing requestId), as definite as a refusal.
    return status === 422 || status === 400 ? { ok: false, kind: 'business', reason: status === 400 ? `invalid request: ${reason}` : reason } : { ok: false, kind: 'technical', reason };
  };
  // Each call is a point where the grader can kill the orchestrator: just after the
  // service answered, before the orchestrator could record it.
  const call = (path: string, body: Record<string, unknown> | undefined): Promise<ServiceResult> => external(() => send(path, body));
  return Object.fromEntries(
    // One client per service, one function per operation: `deps.services.orders.create(...)`.
    [...new Set(SAGA_OPERATIONS.map((o) => o.split('.')[0] ?? o))].map((service) => [
      service,
      Object.fromEntries(
        SAGA_OPERATIONS.filter((o) => o.startsWith(`${service}.`)).map((o) => {
          const op = o.slice(service.length + 1);
          return [op, (body: Record<string, unknown>) => call(`${service}/${op}`, body)];
        }),
      ),
    ]),
  );
}

/** The functions the grader calls in the learner's process. */
export const createAdapter: AdapterFactory<SagaAdapter> = (learner) => {
  const base = dbAdapter();
  let services: ServiceClients | undefined;
  let sleeps = 0;
  const deps = (): { db: Db; services: ServiceClients; sleep(ms: number): Promise<void> } => {
    if (services === undefined) {
      throw new Error('The grader did not configure the adapter.');
    }
    return {
      db: base.db(),
      services,
      // Time passes a hundred times faster: backoff still orders the retries, and grading stays quick.
      // The learner's code may pass anything: a number-like value sleeps a hundredth of it, anything else no time.
      sleep: (ms: unknown) => {
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
    migrate: () => callLearner(learner, FILE, 'migrate', '(db)', deps().db),
    placeOrder: (order: OrderInput) => callLearner(learner, FILE, 'placeOrder', '(order, deps)', order, deps()),
    recover: () => callLearner(learner, FILE, 'recover', '(deps)', deps()),
  };
};
