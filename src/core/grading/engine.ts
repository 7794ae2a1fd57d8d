/**
 * The grading engine's core: scenarios as data, each run with its own seeded randomness
 * and recorded as a history, then judged by a pure checker. The same seed gives the same
 * schedule, so a failure can be replayed; a check that cannot be decided is "unknown",
 * and a run passes only when every check passed.
 */
import { Rng } from '../random';
import { type CheckOutcome, type CheckResult, GRADE_REPORT_VERSION, type GradeReport, type HistoryEvent, type HistoryEventType, allPassed, score } from './report';

export type Backend = 'docker' | 'embedded';

/** What a scenario may need from the engine beneath the learner's code. */
export type ScenarioNeed = 'concurrency' | 'container-faults';

/** Why the embedded engine cannot run a scenario that needs each of these. */
export const EMBEDDED_CANNOT: Readonly<Record<ScenarioNeed, string>> = {
  concurrency: 'it needs transactions that really run at the same time, and the embedded engine runs one at a time',
  'container-faults': 'it pauses, kills or cuts off the database, which needs Docker',
};

/** Records what happens during a scenario, timed from its start. */
export class HistoryRecorder {
  private readonly list: HistoryEvent[] = [];
  private readonly started = performance.now();

  get events(): readonly HistoryEvent[] {
    return this.list;
  }

  record(process: string, type: HistoryEventType, op: string, value?: unknown, detail?: string): number {
    this.list.push({
      at: Math.round((performance.now() - this.started) * 10) / 10,
      process,
      type,
      op,
      ...(value !== undefined ? { value } : {}),
      ...(detail !== undefined ? { detail } : {}),
    });
    return this.list.length - 1;
  }

  /**
   * Runs an operation as `process`, recording its invocation and how it ended: ok with its
   * result, fail when `isDefiniteFailure` says the error means it did not happen, info
   * (unknown) otherwise. Resolves with the result or the error, never rejects.
   */
  async operation<T>(process: string, op: string, value: unknown, run: () => Promise<T>, isDefiniteFailure: (error: unknown) => boolean = () => false): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    this.record(process, 'invoke', op, value);
    try {
      const result = await run();
      this.record(process, 'ok', op, result);
      return { ok: true, value: result };
    } catch (error) {
      this.record(process, isDefiniteFailure(error) ? 'fail' : 'info', op, undefined, error instanceof Error ? error.message : String(error));
      return { ok: false, error };
    }
  }
}

export interface ScenarioContext {
  /** This scenario's own randomness, derived from the run's seed and the scenario's id. */
  readonly rng: Rng;
  readonly backend: Backend;
  readonly history: HistoryRecorder;
  /** Aborted when the scenario's budget runs out: stop starting new work. */
  readonly signal: AbortSignal;
}

/** One graded property: how to exercise it, and how to judge what happened. */
export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly needs?: readonly ScenarioNeed[];
  /** How long the scenario may run before its check is "unknown" (default 30 s). */
  readonly budgetMs?: number;
  /**
   * A teaching run, never graded: it is run like any other scenario (its own seed, the
   * same budget), but its result goes to the report's `demonstrations`, not its checks,
   * so it counts in neither the score nor the verdict. Its check says `pass` when the run
   * showed what it meant to, `unknown` when it could not (and `actual` says why).
   */
  readonly teaching?: boolean;
  run(context: ScenarioContext): Promise<void>;
  /** Pure: judges the history alone. */
  check(history: readonly HistoryEvent[]): CheckOutcome;
}

export interface RunOptions {
  readonly labId: string;
  readonly backend: Backend;
  readonly seed: number;
  /** What ran the lab's services, as a reader names it ("Redis replicas in Docker"); goes to the report's `engine`. */
  readonly engine?: string;
  /** Called as each check is decided, for progress in the editor and the CLI; not for demonstrations. */
  readonly onCheck?: (result: CheckResult) => void;
  readonly now?: () => Date;
}

const DEFAULT_BUDGET_MS = 30_000;
/** How long a scenario over its budget may take to stop before the next one starts anyway. */
const SETTLE_MS = 30_000;

function unknown(expected: string, actual: string): CheckOutcome {
  return { status: 'unknown', expected, actual };
}

async function runOne(scenario: Scenario, seed: number, backend: Backend): Promise<{ outcome: CheckOutcome; history: readonly HistoryEvent[] }> {
  const history = new HistoryRecorder();
  const missing = backend === 'embedded' ? (scenario.needs ?? []).filter((n) => n in EMBEDDED_CANNOT) : [];
  if (missing.length > 0) {
    return {
      outcome: unknown(scenario.title, `Not run on the embedded engine: ${missing.map((n) => EMBEDDED_CANNOT[n]).join('; ')}. Grade with Docker to decide it.`),
      history: history.events,
    };
  }
  const budgetMs = scenario.budgetMs ?? DEFAULT_BUDGET_MS;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overBudget = new Promise<'over'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve('over');
    }, budgetMs);
  });
  const running = scenario.run({ rng: new Rng(seed), backend, history, signal: controller.signal });
  try {
    const ended = await Promise.race([running.then(() => 'done' as const), overBudget]);
    if (ended === 'over') {
      // The scenario was told to stop (its signal); let it, so that the next scenario does
      // not share the learner's process with it. A call under way ends by its own time limit.
      await Promise.race([running.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, SETTLE_MS).unref())]);
      return { outcome: unknown(scenario.title, `The scenario did not finish within ${Math.round(budgetMs / 1000)} s, so it could not be decided.`), history: history.events };
    }
  } catch (error) {
    // The harness itself broke (the learner's failures are recorded in the history, not thrown).
    return { outcome: unknown(scenario.title, `The grader could not finish this scenario: ${(error as Error).message}`), history: history.events };
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  try {
    return { outcome: scenario.check(history.events), history: history.events };
  } catch (error) {
    return { outcome: unknown(scenario.title, `The checker could not decide: ${(error as Error).message}`), history: history.events };
  }
}

/**
 * Runs every scenario in order, each with the seed derived from the run's seed and its id.
 * Teaching scenarios become the report's `demonstrations`; the others its checks. A run
 * with no checks (only demonstrations, or nothing) does not pass.
 */
export async function runScenarios(scenarios: readonly Scenario[], options: RunOptions): Promise<GradeReport> {
  const ids = new Set<string>();
  for (const s of scenarios) {
    if (ids.has(s.id)) {
      throw new Error(`Two scenarios share the id "${s.id}".`);
    }
    ids.add(s.id);
  }
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const started = performance.now();
  const root = new Rng(options.seed);
  const checks: CheckResult[] = [];
  const demonstrations: CheckResult[] = [];
  for (const scenario of scenarios) {
    const seed = root.fork(scenario.id).seed;
    const t0 = performance.now();
    const { outcome, history } = await runOne(scenario, seed, options.backend);
    const result: CheckResult = { id: scenario.id, title: scenario.title, seed, durationMs: Math.round(performance.now() - t0), history, ...outcome };
    if (scenario.teaching === true) {
      demonstrations.push(result);
    } else {
      checks.push(result);
      options.onCheck?.(result);
    }
  }
  return {
    version: GRADE_REPORT_VERSION,
    labId: options.labId,
    backend: options.backend,
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
    seed: options.seed,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    passed: allPassed(checks),
    score: score(checks),
    checks,
    ...(demonstrations.length > 0 ? { demonstrations } : {}),
  };
}
