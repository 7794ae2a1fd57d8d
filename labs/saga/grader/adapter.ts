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
import { AsyncLocalStorage } from 'node:async_hooks';
import { type CallRemark, shrinkingBackoff } from './history';
import { MAX_WAIT_MS } from './limits';
import type { OrderInput, SagaAdapter, SagaAdapterConfig } from './protocol';
import { SAGA_OPERATIONS, type SagaOperation } from './steps';

/** One call of an order, as a remark names it. */
interface CallOf {
  readonly orderId: string;
  readonly op: SagaOperation;
  readonly requestId: string;
}

const FILE = 'src/saga.ts';

/** A service's answer, as the lab's types.ts describes it (ServiceResult). */
type ServiceResult = { ok: true; result: Record<string, unknown> } | { ok: false; kind: 'business' | 'technical'; reason: string };

type ServiceClients = Record<string, Record<string, (call: Record<string, unknown>) => Promise<ServiceResult>>>;


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One service call as the learner's code makes it: a POST, its answer as a ServiceResult. */
type Send = (path: string, body: Record<string, unknown> | undefined) => Promise<ServiceResult>;

/** A client per service: each call a POST; never throws, an unknown outcome is `technical`. */
function serviceSender(url: string, timeoutMs: number, external: <T>(work: () => Promise<T>) => Promise<T>): Send {
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
  return (path, body) => external(() => send(path, body));
}

/** The clients `deps.services` holds, one function per operation: `deps.services.orders.create(...)`. */
function serviceClients(send: Send): ServiceClients {
  return Object.fromEntries(
    [...new Set(SAGA_OPERATIONS.map((o) => o.split('.')[0] ?? o))].map((service) => [
      service,
      Object.fromEntries(
        SAGA_OPERATIONS.filter((o) => o.startsWith(`${service}.`)).map((o) => {
          const op = o.slice(service.length + 1);
          return [op, (body: Record<string, unknown>) => send(`${service}/${op}`, body)];
        }),
      ),
    ]),
  );
}

/**
 * Watches the retries of one `deps` (one placeOrder or recover): a call sent again with the
 * same operation and requestId after a failed answer (technical, or a refusal retried) must
 * come after a wait, a deps.sleep started after that answer and ended. A retry
 * with no sleep, or while the sleep is still pending (not awaited), is remarked.
 */
class RetryWatch {
  /** Each answer's number, so that a sleep knows which answers it waits out. */
  private answers = 0;
  /** Per `<op> <requestId>`: the last answer, when it failed, and its number. */
  private readonly failed = new Map<string, { readonly after: 'business' | 'technical'; readonly answer: number; sleepStarted: boolean; readonly call?: CallOf }>();
  /** Per `<op> <requestId>`: the lengths asked for the waits of its current streak of failures. */
  private readonly waits = new Map<string, number[]>();
  /** The `<op> <requestId>` whose current streak already has a long-wait remark. */
  private readonly tooLong = new Set<string>();

  constructor(
    private readonly remarks: CallRemark[],
    /** Whether the code runs inside one of its db.transaction callbacks. */
    private readonly inTransaction: () => boolean,
  ) {}

  /**
   * A deps.sleep: once it ends, the failures answered before it began have been waited out.
   * Its length is the learner's (a backoff may start at 0 ms, a jittered one may draw less
   * than the last); that it was awaited is what counts, and that it stays under the cap: a
   * wait longer than MAX_WAIT_MS after a failure is remarked (once per streak).
   */
  async sleep(ms: number, wait: Promise<void>): Promise<void> {
    const before = this.answers;
    for (const [key, f] of this.failed) {
      if (f.answer > before) continue;
      f.sleepStarted = true;
      if (ms > MAX_WAIT_MS && f.call !== undefined && !this.tooLong.has(key)) {
        this.tooLong.add(key);
        this.remarks.push({ kind: 'long-wait', ...f.call, ms, waits: this.waits.get(key) ?? [] });
      }
    }
    await wait;
    for (const [key, f] of this.failed) {
      if (f.answer <= before) {
        this.failed.delete(key);
        this.waits.set(key, [...(this.waits.get(key) ?? []), ms]);
      }
    }
  }

  /** At the end of a streak of failures: remarks a backoff that shrinks (see shrinkingBackoff). */
  private endStreak(key: string, remark: CallOf): void {
    const waits = this.waits.get(key) ?? [];
    this.waits.delete(key);
    this.tooLong.delete(key);
    if (shrinkingBackoff(waits)) {
      this.remarks.push({ kind: 'shrinking-wait', ...remark, waits });
    }
  }

  send(inner: Send): Send {
    return async (path, body) => {
      const op = SAGA_OPERATIONS.find((o) => o === path.replace('/', '.'));
      const requestId = body?.['requestId'];
      const orderId = body?.['orderId'];
      const key = op !== undefined && typeof requestId === 'string' ? `${op} ${requestId}` : undefined;
      // The call as a remark names it, when the request names its order.
      const call: CallOf | undefined = op !== undefined && typeof requestId === 'string' && typeof orderId === 'string' ? { orderId, op, requestId } : undefined;
      const pending = key !== undefined ? this.failed.get(key) : undefined;
      if (call !== undefined) {
        if (pending !== undefined && key !== undefined) {
          this.remarks.push({ kind: 'retry-without-wait', ...call, after: pending.after, sleepPending: pending.sleepStarted });
          this.failed.delete(key);
        }
        if (this.inTransaction()) {
          this.remarks.push({ kind: 'call-in-transaction', ...call });
        }
      }
      const result = await inner(path, body);
      this.answers++;
      if (key !== undefined) {
        if (result.ok) {
          this.failed.delete(key);
          if (call !== undefined) this.endStreak(key, call);
        } else {
          this.failed.set(key, { after: result.kind, answer: this.answers, sleepStarted: false, ...(call !== undefined ? { call } : {}) });
        }
      }
      return result;
    };
  }
}

/** The functions the grader calls in the learner's process. */
export const createAdapter: AdapterFactory<SagaAdapter> = (learner) => {
  const base = dbAdapter();
  let send: Send | undefined;
  let sleeps = 0;
  /** What was remarked about the learner's calls since the grader last asked. */
  const remarks: CallRemark[] = [];
  const transaction = new AsyncLocalStorage<true>();
  // One deps per placeOrder or recover: its retries are watched on their own.
  const deps = (): { db: Db; services: ServiceClients; sleep(ms: number): Promise<void> } => {
    if (send === undefined) {
      throw new Error('The grader did not configure the adapter.');
    }
    const watch = new RetryWatch(remarks, () => transaction.getStore() === true);
    const db = base.db();
    return {
      // The same Db, its transactions watched: a service call made inside one is remarked.
      db: { query: (sql, params) => db.query(sql, params), exec: (sql) => db.exec(sql), transaction: (fn, options) => transaction.run(true, () => db.transaction(fn, options)) },
      services: serviceClients(watch.send(send)),
      // Time passes a hundred times faster: backoff still orders the retries, and grading stays quick.
      // The learner's code may pass anything: a number-like value sleeps a hundredth of it, anything else no time.
      sleep: (ms: unknown) => {
        sleeps++;
        const wanted = Number(ms);
        const time = Number.isFinite(wanted) ? wanted : 0;
        return watch.sleep(time, new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(50, time / 100)))));
      },
    };
  };
  return {
    ...base.controls,
    async configure(config: SagaAdapterConfig): Promise<void> {
      await base.open({ databaseUrl: config.databaseUrl, schema: config.schema, poolSize: config.poolSize });
      send = serviceSender(config.servicesUrl, config.callTimeoutMs, (work) => base.external(work));
    },
    sleeps: () => sleeps,
    // Emptied in place: the watches of sagas still running keep adding to it.
    callRemarks: () => remarks.splice(0),
    migrate: () => callLearner(learner, FILE, 'migrate', '(db)', deps().db),
    placeOrder: (order: OrderInput) => callLearner(learner, FILE, 'placeOrder', '(order, deps)', order, deps()),
    recover: () => callLearner(learner, FILE, 'recover', '(deps)', deps()),
  };
};
