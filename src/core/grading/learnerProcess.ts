/**
 * The grader's handle on the learner's process: the typed client of the lab's adapter,
 * connecting a fresh process (the adapter's `configure`), restarting it after a crash or a
 * timeout (calls made meanwhile wait for the new process), with spares connected ahead.
 * DatabaseLearner adds what every PostgreSQL lab's adapter offers (adapters/pgDb.ts): the
 * learner's migrate, crash points, database latency, and the end of the run.
 */
import type { CrashPlan, DbAdapterControls, PointKind } from './adapters/pgDb';
import { LearnerSetupError } from './labGrader';
import { type AdapterApi, type Sandbox, type SandboxCall, type SandboxClient, sandboxClient } from './sandbox';

export class LearnerProcess<Api extends AdapterApi<Api>> {
  private restarting: Promise<void> = Promise.resolve();
  /** Calls into the current process, typed by the lab's adapter. */
  readonly client: SandboxClient<Api>;

  /**
   * `configure` connects a freshly started process through the client it is given (the
   * adapter's `configure` call), possibly ahead of time, on a spare; `settings` then
   * applies what may have changed since (a clock the grader moved), each time a process
   * becomes the current one.
   */
  constructor(
    readonly sandbox: Sandbox,
    private readonly configure: (client: SandboxClient<Api>) => Promise<void>,
    private readonly settings: (client: SandboxClient<Api>) => Promise<void> = async () => undefined,
  ) {
    this.client = sandbox.client<Api>();
  }

  /** Connects a spare process ahead of time, through its own client. */
  protected readonly prepareSpare = (call: SandboxCall): Promise<void> => this.configure(sandboxClient<Api>(call));

  /** Connects the current process. */
  async connect(): Promise<void> {
    await this.configure(this.client);
    await this.settings(this.client);
  }

  /**
   * Starts a fresh learner process and connects it. The first restart also has the sandbox
   * keep a spare process, connected ahead, so that the next ones (a crash scenario kills the
   * process dozens of times) swap it in at once.
   */
  restart(): Promise<void> {
    const restarting = (async () => {
      const { prepared } = await this.sandbox.restart();
      if (!prepared) {
        await this.configure(this.client);
      }
      await this.settings(this.client);
      this.sandbox.keepSpare(this.prepareSpare, 2);
    })();
    this.restarting = restarting.catch(() => undefined);
    return restarting;
  }

  /** Waits for a restart under way, and restarts a process that has ended. */
  async ensureRunning(): Promise<void> {
    await this.restarting;
    if (this.sandbox.endReason !== undefined) {
      await this.restart();
    }
  }

  /** Whether the current process has ended (it crashed, or was killed at a crash point). */
  get ended(): boolean {
    return this.sandbox.endReason !== undefined;
  }
}

/** A learner process whose adapter is built on `dbAdapter` (adapters/pgDb.ts). */
export class DatabaseLearner<Api extends AdapterApi<Api>> extends LearnerProcess<Api> {
  /** The controls every database lab's adapter has. */
  private readonly controls: SandboxClient<DbAdapterControls>;

  constructor(sandbox: Sandbox, configure: (client: SandboxClient<Api>) => Promise<void>, settings?: (client: SandboxClient<Api>) => Promise<void>) {
    super(sandbox, configure, settings);
    this.controls = sandbox.client<DbAdapterControls>();
  }

  /**
   * Connects the process and runs the learner's `migrate(db)`, before any scenario: a
   * failure there is the learner's set-up problem, reported at their line.
   */
  async setUp(): Promise<void> {
    await this.connect();
    const migrated = await this.controls.call('migrate', [], 30_000);
    if (!migrated.ok) {
      throw new LearnerSetupError(`migrate(db) failed, so no check could run: ${migrated.message}`, migrated.kind === 'threw' ? migrated.error.stack : undefined, this.sandbox.output());
    }
  }

  /**
   * Ends the run on the learner's side: the spares are ended, and the running process closes
   * its connections (the kit then ends the processes, and drops the run's schema and role
   * from the grader's side: runDatabase.ts).
   */
  async finish(): Promise<void> {
    await this.sandbox.releaseSpares();
    if (!this.ended) {
      await this.controls.call('finish', [], 5_000);
    }
  }

  async arm(crash: CrashPlan | null): Promise<void> {
    await this.controls.call('arm', [crash], 5_000);
  }

  async commitPoints(): Promise<number> {
    const result = await this.controls.call('commitPoints', [], 5_000);
    return result.ok ? result.value : 0;
  }

  /**
   * The crashes worth trying for the request just run (after `arm(null)`), for an adapter
   * that runs its calls out of the database as points (`external` in adapters/pgDb.ts):
   * just after each point. Just before a point is the same world as just after the one
   * before it (or as nothing done at all, for the first): between two points nothing is
   * committed and nothing is called. With `fromCall` n, only the points from the n-th call on.
   */
  async crashPlan(fromCall = 0): Promise<(CrashPlan & { readonly kind: PointKind })[]> {
    const result = await this.controls.call('pointKinds', [], 5_000);
    if (!result.ok) {
      throw new Error(`The grader could not read the crash points: ${result.message}`);
    }
    const plan: (CrashPlan & { readonly kind: PointKind })[] = [];
    let calls = 0;
    result.value.forEach((kind, i) => {
      if (kind === 'call') {
        calls++;
      }
      if (calls >= fromCall) {
        plan.push({ point: i + 1, when: 'after', kind });
      }
    });
    return plan;
  }

  /** Database latency for every statement of the learner's code (0: none), with `warm` connections opened ahead. */
  async network(latencyMs: number, warm = 0): Promise<void> {
    const result = await this.controls.call('network', [{ latencyMs, warm }], 20_000);
    if (!result.ok) {
      throw new Error(`The grader could not set the database latency: ${result.message}`);
    }
  }
}
