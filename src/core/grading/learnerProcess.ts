/**
 * The grader's handle on the learner's process for labs whose adapter is built on
 * `dbAdapter` (adapters/pgDb.ts): connecting it, restarting it after a crash or a timeout
 * (calls made meanwhile wait for the new process), arming crash points, and database
 * latency.
 */
import type { Sandbox } from './sandbox';

export interface CrashAt {
  readonly point: number;
  readonly when: 'before' | 'after';
}

export class LearnerProcess {
  private restarting: Promise<void> = Promise.resolve();

  /** `configure` connects a freshly started process (the adapter's `configure` call, and any settings). */
  constructor(
    readonly sandbox: Sandbox,
    private readonly configure: (sandbox: Sandbox) => Promise<void>,
  ) {}

  /** Connects the current process. */
  connect(): Promise<void> {
    return this.configure(this.sandbox);
  }

  /** Starts a fresh learner process and connects it. */
  restart(): Promise<void> {
    const restarting = (async () => {
      await this.sandbox.restart();
      await this.configure(this.sandbox);
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

  async arm(crash: CrashAt | null): Promise<void> {
    await this.sandbox.call('arm', [crash], 5_000);
  }

  async commitPoints(): Promise<number> {
    const result = await this.sandbox.call<number>('commitPoints', [], 5_000);
    return result.ok ? result.value : 0;
  }

  /** Database latency for every statement of the learner's code (0: none), with `warm` connections opened ahead. */
  async network(latencyMs: number, warm = 0): Promise<void> {
    const result = await this.sandbox.call('network', [{ latencyMs, warm }], 20_000);
    if (!result.ok) {
      throw new Error(`The grader could not set the database latency: ${result.message}`);
    }
  }
}
