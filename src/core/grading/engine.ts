/**
 * The grading engine's core: scenarios as data, each run with its own seeded randomness
 * and recorded as a history, then judged by a pure checker. The same seed gives the same
 * schedule, so a failure can be replayed; a check that cannot be decided is "unknown",
 * and a run passes only when every check passed.
 */
import type { Backend } from '../backend';
import { Rng } from '../random';
import { HistoryRecorder } from './history';
import { type CheckOutcome, type CheckResult, GRADE_REPORT_VERSION, type GradeReport, type HistoryEvent, type Verdict, allPassed, score } from './report';

export { HistoryRecorder } from './history';

export type { Backend } from '../backend';

/** What a scenario may need from the engine beneath the learner's code. */
export type ScenarioNeed = 'concurrency' | 'container-faults' | 'docker-servers';

/** Why the embedded engine cannot run a scenario that needs each of these. */
export const EMBEDDED_CANNOT: Readonly<Record<ScenarioNeed, string>> = {
  concurrency: 'it needs transactions that really run at the same time, and the embedded engine runs one at a time',
  'container-faults': 'it pauses, kills or cuts off the database, which needs Docker',
  'docker-servers': "it runs on the lab's own database servers, which run in Docker, and the embedded engine cannot stand in for them",
};

export interface ScenarioContext<E extends HistoryEvent = HistoryEvent> {
  /** This scenario's own randomness, derived from the run's seed and the scenario's id. */
  readonly rng: Rng;
  readonly backend: Backend;
  readonly history: HistoryRecorder<E>;
  /** Aborted when the scenario's budget runs out: stop starting new work. */
  readonly signal: AbortSignal;
}

/**
 * One graded property: how to exercise it, and how to judge what happened. `title` and
 * `expected` are what the report shows for it (a lab declares both in its lab.json).
 */
export interface Scenario<E extends HistoryEvent = HistoryEvent> {
  readonly id: string;
  readonly title: string;
  /** The property, as the learner should read it: the report's "expected". */
  readonly expected: string;
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
  run(context: ScenarioContext<E>): Promise<void>;
  /** Pure: judges the history alone. */
  check(history: readonly E[]): Verdict;
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
  /**
   * Cancels the run: the scenario under way is told to stop (and given time to), none
   * after it starts, and runScenarios rejects with GradingCancelledError.
   */
  readonly signal?: AbortSignal;
  /**
   * How long the whole run may take: a scenario under way when it runs out is cut short,
   * and those not begun are not run; both are "unknown", saying so. None: no limit.
   */
  readonly timeLimitMs?: number;
  /** When the time limit started counting (performance.now() ms); the run's start by default. */
  readonly timeLimitStart?: number;
  /**
   * The learner's process as the run sees it (gradeLab wires the sandbox): what it shows
   * about a scenario that does not finish, and a way to stop it.
   */
  readonly learner?: LearnerWatch;
}

/** Why a scenario that did not finish did not, when the learner's process shows it (see RunOptions.learner). */
export interface Diagnosis {
  /** What happened, for the report's "actual". */
  readonly actual: string;
  readonly hint: string;
  /** The event added to the scenario's history to show it (the culprit). */
  readonly event: { readonly op: string; readonly detail: string };
  /** Sure enough that the scenario is ended at once as failed, without waiting for its budget. */
  readonly conclusive: boolean;
}

export interface LearnerWatch {
  /** What the process shows about the scenario that started at `since` (performance.now() ms); asked every second and when its budget runs out. */
  diagnose(since: number): Diagnosis | undefined;
  /** Stops the learner's process for a scenario given up on, so that it ends at once: no process runs until `resume`. */
  interrupt(reason: string): void;
  resume(): void;
}

const DEFAULT_BUDGET_MS = 30_000;
/** How long a scenario over its budget (or cancelled) may take to stop before the run goes on anyway. */
const SETTLE_MS = 30_000;
/** How often a running scenario's learner is looked at (RunOptions.learner). */
const DIAGNOSE_EVERY_MS = 1_000;

function seconds(ms: number): number {
  return Math.round(ms / 1000);
}

/** The grading was cancelled (the editor's Cancel, Ctrl-C in the CLI) before every check was decided. */
export class GradingCancelledError extends Error {
  override readonly name = 'GradingCancelledError';
  constructor() {
    super('The grading was cancelled before every check was decided.');
  }
}

function unknown(expected: string, actual: string): CheckOutcome {
  return { status: 'unknown', expected, actual };
}

/** Resolves when the signal aborts (at once if it already has); never when there is none. */
function aborted(signal: AbortSignal | undefined): { promise: Promise<'cancelled'>; dispose(): void } {
  if (signal === undefined) {
    return { promise: new Promise(() => undefined), dispose: () => undefined };
  }
  let listener: (() => void) | undefined;
  const promise = new Promise<'cancelled'>((resolve) => {
    if (signal.aborted) {
      resolve('cancelled');
      return;
    }
    listener = () => resolve('cancelled');
    signal.addEventListener('abort', listener, { once: true });
  });
  return { promise, dispose: () => listener !== undefined && signal.removeEventListener('abort', listener) };
}

interface RunLimits {
  /** When the whole run must end (performance.now() ms), and its length, for the message. */
  readonly deadline?: number;
  readonly timeLimitMs?: number;
  readonly learner?: LearnerWatch;
}

async function runOne<E extends HistoryEvent>(scenario: Scenario<E>, seed: number, backend: Backend, outer: AbortSignal | undefined, limits: RunLimits): Promise<{ outcome: CheckOutcome; history: readonly HistoryEvent[] }> {
  const history = new HistoryRecorder<E>();
  const missing = backend === 'embedded' ? (scenario.needs ?? []).filter((n) => n in EMBEDDED_CANNOT) : [];
  if (missing.length > 0) {
    return {
      outcome: { ...unknown(scenario.expected, `Not run on the embedded engine: ${missing.map((n) => EMBEDDED_CANNOT[n]).join('; ')}.`), needsDocker: true },
      history: history.events,
    };
  }
  const started = performance.now();
  const ownBudgetMs = scenario.budgetMs ?? DEFAULT_BUDGET_MS;
  // The run's time limit cuts the scenario's budget short when less is left.
  const budgetMs = limits.deadline !== undefined ? Math.max(0, Math.min(ownBudgetMs, limits.deadline - started)) : ownBudgetMs;
  const cutByLimit = budgetMs < ownBudgetMs;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let watcher: ReturnType<typeof setInterval> | undefined;
  const overBudget = new Promise<'over'>((resolve) => {
    timer = setTimeout(() => resolve('over'), budgetMs);
  });
  // A scenario the learner's process shows stuck (a transaction held across a call) ends now.
  let conclusive: Diagnosis | undefined;
  const stuck = new Promise<'stuck'>((resolve) => {
    if (limits.learner !== undefined) {
      const learner = limits.learner;
      watcher = setInterval(() => {
        const seen = learner.diagnose(started);
        if (seen?.conclusive === true) {
          conclusive = seen;
          resolve('stuck');
        }
      }, DIAGNOSE_EVERY_MS);
    }
  });
  const cancelled = aborted(outer);
  const running = scenario.run({ rng: new Rng(seed), backend, history, signal: controller.signal });
  let diagnosis: Diagnosis | undefined;
  try {
    const ended = await Promise.race([running.then(() => 'done' as const), overBudget, stuck, cancelled.promise]);
    if (ended !== 'done') {
      // What the learner's process shows is read before it is stopped.
      diagnosis = ended === 'cancelled' ? undefined : (limits.learner?.diagnose(started) ?? conclusive);
      // The scenario is told to stop (its signal) and its learner's process is stopped, so
      // that the next scenario (or the clean-up) does not share the learner's process with
      // it; it is given time to end.
      controller.abort();
      limits.learner?.interrupt(ended === 'cancelled' ? 'The grading was cancelled.' : 'The grader stopped this scenario: it did not finish in time.');
      await Promise.race([running.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, SETTLE_MS).unref())]);
      if (diagnosis === undefined) {
        const why =
          ended === 'cancelled'
            ? 'The grading was cancelled before this scenario finished.'
            : cutByLimit
              ? `The grade's time limit (${seconds(limits.timeLimitMs ?? 0)} s) ran out while this scenario ran, so it could not be decided.`
              : `The scenario did not finish within ${seconds(budgetMs)} s, so it could not be decided.`;
        return { outcome: unknown(scenario.expected, why), history: history.events };
      }
    }
  } catch (error) {
    // The harness itself broke (the learner's failures are recorded in the history, not thrown).
    return { outcome: unknown(scenario.expected, `The grader could not finish this scenario: ${(error as Error).message}`), history: history.events };
  } finally {
    clearTimeout(timer);
    clearInterval(watcher);
    cancelled.dispose();
    controller.abort();
    limits.learner?.resume();
  }
  if (diagnosis !== undefined) {
    // Shown in the history where it was seen, and blamed.
    const events: HistoryEvent[] = [...history.events, { at: Math.round((performance.now() - started) * 10) / 10, process: 'grader', type: 'note', op: diagnosis.event.op, detail: diagnosis.event.detail }];
    return { outcome: { status: 'fail', expected: scenario.expected, actual: diagnosis.actual, hint: diagnosis.hint, culprits: [events.length - 1] }, history: events };
  }
  try {
    return { outcome: { ...scenario.check(history.events), expected: scenario.expected }, history: history.events };
  } catch (error) {
    return { outcome: unknown(scenario.expected, `The checker could not decide: ${(error as Error).message}`), history: history.events };
  }
}

/**
 * Runs every scenario in order, each with the seed derived from the run's seed and its id.
 * Teaching scenarios become the report's `demonstrations`; the others its checks. A run
 * with no checks (only demonstrations, or nothing) does not pass. Rejects with
 * GradingCancelledError when `signal` aborts.
 */
export async function runScenarios<E extends HistoryEvent>(scenarios: readonly Scenario<E>[], options: RunOptions): Promise<GradeReport> {
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
  // A function, so that each call reads the signal afresh (it changes while scenarios run).
  const throwIfCancelled = (): void => {
    if (options.signal?.aborted === true) {
      throw new GradingCancelledError();
    }
  };
  const limits: RunLimits = {
    ...(options.timeLimitMs !== undefined ? { deadline: (options.timeLimitStart ?? started) + options.timeLimitMs, timeLimitMs: options.timeLimitMs } : {}),
    ...(options.learner !== undefined ? { learner: options.learner } : {}),
  };
  for (const scenario of scenarios) {
    throwIfCancelled();
    const seed = root.fork(scenario.id).seed;
    const t0 = performance.now();
    const { outcome, history } =
      limits.deadline !== undefined && t0 >= limits.deadline
        ? { outcome: unknown(scenario.expected, `Not run: the grade's time limit (${seconds(limits.timeLimitMs ?? 0)} s) ran out before this check's turn.`), history: [] }
        : await runOne(scenario, seed, options.backend, options.signal, limits);
    throwIfCancelled();
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
