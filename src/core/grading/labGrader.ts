/**
 * The plug between the grading kit and a lab pack. A graded lab's folder holds its grader
 * (`labs/<id>/grader/index.ts` exports `grader`, a LabGrader); the kit finds it by the lab's
 * id (labGraders.ts) and never names a lab. The checks a grader decides are declared in the
 * lab's lab.json (`grader.checks`: id, title, what it expects), where the editor's Testing
 * view and the CLI read them without loading any grading code; the grader's scenarios carry
 * the same ids, in the same order (bindScenarios holds the two together).
 */
import type { Backend } from '../backend';
import type { CheckDeclaration, LabManifest } from '../labs/manifest';
import type { LabServicesForGrading } from '../services/labServicesController';
import type { RuntimeLogger } from '../services/runtime';
import { EMBEDDED_CANNOT, type Scenario, type ScenarioContext, type ScenarioNeed } from './engine';
import type { HistoryEvent, Verdict } from './report';
import type { ExportType, Sandbox } from './sandbox';

/** What a lab's grader is given once the learner's code runs. */
export interface LabRun {
  readonly labId: string;
  readonly sandbox: Sandbox;
  readonly labDir: string;
  readonly backend: Backend;
  /**
   * The lab's PostgreSQL as its owner, for a grader whose `services` is 'database': for the
   * grader's own tables (services, ledgers), never for the learner's process.
   */
  readonly databaseUrl: string | undefined;
  /**
   * What the learner's process connects with: on Docker a role of this run's own that owns
   * the run's schema (named `runName`, made by the kit) and can touch nothing else
   * (runDatabase.ts); on the embedded server, which has one user, the owner's URL.
   */
  readonly learnerDatabaseUrl: string | undefined;
  /** A name unique to this run (lower-case letters, digits, `_`), for its schema and the like. */
  readonly runName: string;
  readonly logger: RuntimeLogger;
  /** The lab's running containers, for a grader that breaks them (its `services` is 'containers'; Docker only). */
  readonly labServices?: LabServicesForGrading;
}

/** Thrown by a grader's `open` when the learner's own set-up failed (their migrate threw). */
export class LearnerSetupError extends Error {
  override readonly name = 'LearnerSetupError';
  constructor(
    message: string,
    /** The learner's error's stack, for the file and line. */
    readonly learnerStack?: string,
    /** What the learner's process printed until then. */
    readonly output?: readonly string[],
  ) {
    super(message);
  }
}

/**
 * One scenario of a lab's grader, as data: how to exercise the property its lab.json check
 * (of the same id) states, with the grader's harness `H`, and how to judge the history of
 * events `E` it recorded. The kit adds the check's title and expectation.
 */
export interface ScenarioSpec<H, E extends HistoryEvent> {
  readonly id: string;
  readonly needs?: readonly ScenarioNeed[];
  /** How long the scenario may run before its check is "unknown" (default 30 s). */
  readonly budgetMs?: number;
  /** A teaching run, declared in lab.json's `grader.demonstrations`: shown, never graded (see engine.ts). */
  readonly teaching?: boolean;
  /**
   * The cases this scenario exercises, by name (a refusal at each step, a crash at each
   * point...): the lab's requirements table (grader/requirements.json) names them for each
   * rule of the README, and a unit test holds the two together.
   */
  readonly cases?: readonly string[];
  run(harness: H, context: ScenarioContext<E>): Promise<void>;
  /** Pure: judges the history alone. */
  check(history: readonly E[]): Verdict;
}

export interface OpenedRun<H> {
  /** The grader's side of this run (its services, its client of the learner's process), handed to every scenario. */
  readonly harness: H;
  /** Releases what `open` made (its services, its schema, its faults). Called however the run ends. */
  close(): Promise<void>;
}

export interface LabGrader<H = unknown, E extends HistoryEvent = HistoryEvent> {
  /** The learner's module, relative to the lab folder (`src/main.ts`). */
  readonly entry: string;
  /** The exports the learner's module must have. */
  readonly contract: Readonly<Record<string, ExportType>>;
  /** The learner process's heap limit. */
  readonly memoryMb: number;
  /**
   * How the grader uses the lab's services. 'database': it is handed the URL of the lab's
   * PostgreSQL, in Docker or embedded. 'containers': on Docker it is handed the lab's
   * containers themselves, to break them; without Docker it brings stand-ins of its own.
   * 'fresh-containers': on Docker it is handed new containers of the lab's services for each
   * grading, of its own (in a folder of the grader's inside the lab folder, never the
   * learner's own servers), removed after it: for a grader that sets servers up from scratch
   * (the Replication lab makes one the other's standby). Without Docker, as 'containers'.
   * 'none': the lab has no services, and nothing is started for it.
   */
  readonly services: 'database' | 'containers' | 'fresh-containers' | 'none';
  /** What runs the lab's services on this backend, as the report names it ("Redis replicas in Docker"). */
  engineLabel(backend: Backend): string;
  /** Every scenario, in the order of lab.json's checks, then its demonstrations. */
  readonly scenarios: readonly ScenarioSpec<H, E>[];
  /** Starts what the scenarios need around the learner's running code (after its contract held). */
  open(run: LabRun): Promise<OpenedRun<H>>;
}

/**
 * The end of a grader's `open`: runs `setUp` (connect the learner's process, run its
 * migrate...), and when that throws, releases what `open` made with `close` before the error
 * goes on, so that a learner's failed set-up leaves nothing running.
 */
export async function openedRun<H>(harness: H, steps: { readonly setUp: () => Promise<void>; readonly close: () => Promise<void> }): Promise<OpenedRun<H>> {
  try {
    await steps.setUp();
  } catch (error) {
    await steps.close().catch(() => undefined);
    throw error;
  }
  return { harness, close: steps.close };
}

/** Declares a lab's grader; the identity, for the types to check `H` and `E` across its parts. */
export function defineLabGrader<H, E extends HistoryEvent>(grader: LabGrader<H, E>): LabGrader<H, E> {
  return grader;
}

/** The checks and demonstrations a manifest declares, in order (empty for a lab without a grader). */
export function declaredScenarios(manifest: LabManifest): readonly (CheckDeclaration & { readonly teaching: boolean })[] {
  const grader = manifest.grader;
  if (grader === undefined) {
    return [];
  }
  return [...grader.checks.map((c) => ({ ...c, teaching: false })), ...grader.demonstrations.map((d) => ({ ...d, teaching: true }))];
}

/**
 * Where a grader's scenarios and its lab.json disagree: an id declared and not run, one run
 * and not declared, another order, a demonstration that is graded or a check that is not.
 * Empty when they agree. A unit test holds every lab to this, and gradeLab refuses to run a
 * grader that does not agree.
 */
export function scenarioProblems(manifest: LabManifest, scenarios: readonly Pick<ScenarioSpec<unknown, HistoryEvent>, 'id' | 'teaching' | 'needs'>[]): string[] {
  const declared = declaredScenarios(manifest);
  const problems: string[] = [];
  const declaredIds = declared.map((d) => d.id);
  const runIds = scenarios.map((s) => s.id);
  for (const id of declaredIds.filter((d) => !runIds.includes(d))) {
    problems.push(`lab.json declares "${id}", which no scenario of the grader runs`);
  }
  for (const id of runIds.filter((r) => !declaredIds.includes(r))) {
    problems.push(`the grader runs a scenario "${id}", which lab.json does not declare`);
  }
  if (problems.length === 0 && declaredIds.join('\n') !== runIds.join('\n')) {
    problems.push(`the grader runs its scenarios in another order (${runIds.join(', ')}) than lab.json declares them (${declaredIds.join(', ')})`);
  }
  for (const s of scenarios) {
    const d = declared.find((x) => x.id === s.id);
    if (d !== undefined && d.teaching !== (s.teaching === true)) {
      problems.push(d.teaching ? `"${s.id}" is a demonstration in lab.json, but the grader grades it` : `"${s.id}" is a check in lab.json, but the grader runs it as a demonstration`);
    }
    const dockerOnly = (s.needs ?? []).some((n) => n in EMBEDDED_CANNOT);
    if (d !== undefined && d.needsDocker !== dockerOnly) {
      problems.push(dockerOnly ? `"${s.id}" needs Docker (${(s.needs ?? []).join(', ')}), which lab.json does not say ("needsDocker": true)` : `lab.json says "${s.id}" needs Docker, but its scenario runs on the embedded engine too`);
    }
  }
  return problems;
}

/** The grader's scenarios bound to its harness, with each check's title and expectation from lab.json. */
export function bindScenarios<H, E extends HistoryEvent>(manifest: LabManifest, specs: readonly ScenarioSpec<H, E>[], harness: H): Scenario<E>[] {
  const problems = scenarioProblems(manifest, specs);
  if (problems.length > 0) {
    throw new Error(`The grader of ${manifest.id} and its lab.json disagree: ${problems.join('; ')}.`);
  }
  const declared = declaredScenarios(manifest);
  return specs.map((spec) => {
    const declaration = declared.find((d) => d.id === spec.id);
    return {
      id: spec.id,
      title: declaration?.title ?? spec.id,
      expected: declaration?.expects ?? spec.id,
      ...(spec.needs !== undefined ? { needs: spec.needs } : {}),
      ...(spec.budgetMs !== undefined ? { budgetMs: spec.budgetMs } : {}),
      ...(spec.teaching === true ? { teaching: true } : {}),
      run: (context) => spec.run(harness, context),
      check: (history) => spec.check(history),
    };
  });
}
