/**
 * The Idempotency Keys grader's side of a run: the learner's process (where the adapter
 * runs their createPayment on the lab's PostgreSQL), the grader's payment provider, and the
 * clock the grader moves for both. Each request, each provider answer, each fault and each
 * crash is recorded in the scenario's history as the vocabulary of history.ts says.
 */
import type { HistoryRecorder } from '../../../src/core/grading/history';
import { DatabaseLearner } from '../../../src/core/grading/learnerProcess';
import type { Sandbox } from '../../../src/core/grading/sandbox';
import { GRADER, type IdempotencyEvent, LEARNER, MIGRATE, PAYMENTS, PROVIDER, type ProviderNote, type ProviderOp, type RecordedResponse, type RequestInput, TABLES, TABLES_READ } from './history';
import { POOL_SIZE, PROVIDER_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from './limits';
import type { PaymentProvider, ProviderRequestRecord } from './paymentProvider';
import type { IdempotencyAdapter, PaymentRequest, TablesSeen } from './protocol';

type History = HistoryRecorder<IdempotencyEvent>;

/** What createPayment must return: the lab's ApiResponse, with its headers optional as the grader reads them. */
interface ApiResponse {
  readonly status: number;
  readonly headers?: unknown;
  readonly body: string;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The key as the history shows it: a long key abbreviated, none as null. */
function shownKey(key: string | undefined): string | null {
  if (key === undefined) return null;
  return key.length > 40 ? `${key.slice(0, 16)}… (${key.length} characters)` : key;
}

/** Whether what the learner's createPayment returned is an ApiResponse { status, headers, body: string }. */
function isApiResponse(value: unknown): value is ApiResponse {
  if (typeof value !== 'object' || value === null) return false;
  const headersFit = !('headers' in value) || value.headers === undefined || (typeof value.headers === 'object' && value.headers !== null);
  return 'status' in value && Number.isInteger(value.status) && 'body' in value && typeof value.body === 'string' && headersFit;
}

/** Whether the response's headers mark it replayed (`idempotent-replayed: true`, the name in any case). */
function markedReplayed(headers: unknown): boolean {
  if (typeof headers !== 'object' || headers === null) return false;
  const replayedHeader = Object.entries(headers).find(([name]) => name.toLowerCase() === 'idempotent-replayed');
  return replayedHeader !== undefined && String(replayedHeader[1]) === 'true';
}

/** How a provider request reads in the timeline. */
function providerOp(r: ProviderRequestRecord): ProviderOp {
  if (r.charge !== undefined) {
    return r.status === 'cut' ? `charged ${r.charge.id}, answer cut` : `charged ${r.charge.id}`;
  }
  if (r.replayed) return `replayed ${r.status}`;
  if (r.status === 402) return 'declined 402';
  return r.status === 'cut' ? 'cut' : `${r.status}`;
}

function formatDuration(ms: number): string {
  if (ms >= 2 * 86_400_000) return `${Math.round(ms / 8_640_000) / 10} days`;
  if (ms >= 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  return `${Math.round(ms / 1000)} s`;
}

export class IdempotencyHarness {
  /** Where the learner's clock (and the provider's) stands, from the machine's: a restarted process gets it again. */
  private clockOffsetMs = 0;
  /**
   * Where a scenario's time starts, from the machine's (a seeded number of days ahead):
   * `setClock` moves the clock from there. Times taken from the database's now() or from
   * Date.now() instead of deps.clock are then days away from the learner's clock.
   */
  private clockBaseMs = 0;
  /**
   * Whether the current learner process may be unconnected: a restart whose connecting
   * failed (the database gone for a moment) left it running but not configured. The next
   * scenario connects a fresh one first, so the grader's own trouble is never blamed on
   * the learner's code.
   */
  private unconnected = false;
  /** A deployed restart under way (restart, then migrate), which the next request waits for; it never rejects. */
  private deploying: Promise<void> = Promise.resolve();
  readonly learner: DatabaseLearner<IdempotencyAdapter>;

  constructor(
    sandbox: Sandbox,
    readonly provider: PaymentProvider,
    config: { readonly databaseUrl: string; readonly schema: string },
  ) {
    this.learner = new DatabaseLearner<IdempotencyAdapter>(
      sandbox,
      async (client) => {
        const result = await client.call('configure', [{ ...config, providerUrl: provider.url, poolSize: POOL_SIZE, providerTimeoutMs: PROVIDER_TIMEOUT_MS }], 20_000);
        if (!result.ok) {
          throw new Error(`The grader could not connect the learner's process to the database: ${result.message}`);
        }
      },
      async (client) => {
        await client.call('setClock', [this.clockOffsetMs], 5_000);
      },
    );
  }

  /** Moves the learner's clock and the provider's to `offsetMs` from the scenario's start (recorded in the history when given one). */
  async setClock(offsetMs: number, history?: History): Promise<void> {
    this.clockOffsetMs = this.clockBaseMs + offsetMs;
    this.provider.setClockOffset(this.clockOffsetMs);
    await this.learner.client.call('setClock', [this.clockOffsetMs], 5_000);
    history?.record({ process: GRADER, type: 'note', op: `clock moved to +${formatDuration(offsetMs)}` });
  }

  /** Starts the scenario's clock `baseMs` ahead of the machine's (recorded in the history). */
  async startClock(baseMs: number, history: History): Promise<void> {
    this.clockBaseMs = baseMs;
    await this.setClock(0);
    history.record({ process: GRADER, type: 'note', op: `deps.clock starts ${formatDuration(baseMs)} ahead of the database's clock` });
  }

  /**
   * Starts a fresh learner process as a deployed one starts: connected, then its migrate
   * run again on the existing tables (recorded in the history when it throws).
   */
  restartDeployed(history: History): Promise<void> {
    const deploying = (async () => {
      try {
        await this.learner.restart();
      } catch (error) {
        this.unconnected = true;
        throw error;
      }
      const migrated = await this.learner.client.call('migrate', [], 30_000);
      if (!migrated.ok) {
        history.record({ process: LEARNER, type: 'fail', op: MIGRATE, detail: `migrate(db), run again by the restarted process on the existing tables, failed: ${migrated.message}` });
      }
    })();
    this.deploying = deploying.catch(() => undefined);
    return deploying;
  }

  /** Makes sure the learner's process is running and connected, before a scenario. */
  async ready(): Promise<void> {
    await this.deploying;
    if (this.unconnected) {
      await this.learner.restart();
      this.unconnected = false;
    }
    await this.learner.ensureRunning();
  }

  /** Reads what the learner's tables hold for `user`, and records it in the history. */
  async readTables(history: History, user: string): Promise<TablesSeen> {
    await this.learner.ensureRunning();
    await this.learner.arm(null);
    const result = await this.learner.client.call('tables', [user], 10_000);
    const tables: TablesSeen = result.ok ? result.value : { ok: false, message: result.message };
    history.record({ process: TABLES, type: 'note', op: TABLES_READ, value: tables });
    return tables;
  }

  /** Resets the provider for a scenario and records its requests into the history; returns the function that stops recording them. */
  watchProvider(history: History): () => void {
    this.provider.reset();
    this.clockOffsetMs = 0;
    this.clockBaseMs = 0;
    return this.provider.onRequest((r) => {
      const note: ProviderNote = {
        status: r.status,
        replayed: r.replayed,
        key: r.idempotencyKey ?? null,
        ...(r.charge !== undefined ? { charge: r.charge.id, customer: r.charge.customer, amount: r.charge.amount } : {}),
      };
      history.record({ process: PROVIDER, type: 'note', op: providerOp(r), value: note });
    });
  }

  /** Kills the learner's process, as a power cut would, and starts a fresh one as a deployed one starts. */
  async kill(history: History, why: string): Promise<void> {
    history.record({ process: LEARNER, type: 'crash', op: 'process killed', detail: why });
    await this.restartDeployed(history);
  }

  /** Sends one request as `lane` and records it; resolves however it ends. */
  async send(history: History, lane: string, request: PaymentRequest): Promise<RecordedResponse | undefined> {
    await this.ready();
    const input: RequestInput = { user: request.userId, key: shownKey(request.idempotencyKey), body: request.body };
    history.record({ process: lane, type: 'invoke', op: PAYMENTS, value: input });
    const result = await this.learner.client.call('createPayment', [request], REQUEST_TIMEOUT_MS);
    if (!result.ok) {
      const detail = result.kind === 'threw' ? `createPayment threw ${result.error.name}: ${result.error.message} (the web framework answers 500)` : result.message;
      history.record({ process: lane, type: 'info', op: PAYMENTS, detail });
      return undefined;
    }
    if (!isApiResponse(result.value)) {
      history.record({ process: lane, type: 'info', op: PAYMENTS, detail: `createPayment returned ${clip(JSON.stringify(result.value) ?? String(result.value), 200)}, not an ApiResponse { status, headers, body: string }` });
      return undefined;
    }
    const response: RecordedResponse = { status: result.value.status, replayed: markedReplayed(result.value.headers), body: result.value.body };
    history.record({ process: lane, type: 'ok', op: PAYMENTS, value: response });
    return response;
  }
}
