/**
 * Grading a lab folder, start to end, the same way for every graded lab and for both the
 * editor and the CLI: compile the learner's entry, check its exports against the lab's
 * contract, start it in the sandbox with the lab's adapter, let the lab's grader build its
 * scenarios, run them with the seed, and clean up whatever happens.
 *
 * A failure that is the learner's to fix before anything can run (a compile error, a
 * missing export, a throw while loading or setting up) is a report with a `problem` and no
 * checks, never an exception. Exceptions are for the grader's own environment: no esbuild
 * in the lab, no database.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { type RuntimeLogger, silentLogger } from '../services/runtime';
import type { LabServicesForGrading } from '../services/labServicesController';
import { type Backend, type Scenario, runScenarios } from './engine';
import { GRADE_REPORT_VERSION, type CheckResult, type GradeProblem, type GradeReport, type SourceDiagnostic, score } from './report';
import { CompileError, type EsbuildApi, type ExportType, type Sandbox, SandboxStartError, checkContract, compileLearnerCode, loadLabEsbuild, startSandbox } from './sandbox';

/** What a lab's grader is given once the learner's code runs. */
export interface LabRun {
  readonly sandbox: Sandbox;
  readonly labDir: string;
  readonly backend: Backend;
  readonly databaseUrl: string | undefined;
  /** A name unique to this run (lower-case letters, digits, `_`), for its schema and the like. */
  readonly runName: string;
  readonly logger: RuntimeLogger;
  /** The lab's running containers, for a grader that breaks them (Docker only). */
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

export interface OpenedRun {
  readonly scenarios: readonly Scenario[];
  /** Releases what `open` made (its provider, its schema). Called however the run ends. */
  close(): Promise<void>;
}

export interface LabGrader {
  readonly labId: string;
  /** The learner's module, relative to the lab folder. */
  readonly entry: string;
  /** The adapter bundle's file name in the adapters folder (dist/adapters). */
  readonly adapter: string;
  /** The exports the learner's module must have. */
  readonly contract: Readonly<Record<string, ExportType>>;
  /** The learner process's heap limit. */
  readonly memoryMb: number;
  /** Whether it needs the lab's PostgreSQL. */
  readonly needsDatabase: boolean;
  /**
   * Whether it runs on the lab's containers themselves (`labServices`) on Docker, and on
   * stand-ins of its own on the embedded backend (the Quorum lab's in-process replicas).
   */
  readonly usesLabServices?: boolean;
  /** What runs the lab's services for this backend, as the report names it. */
  readonly engineLabel?: (backend: Backend) => string;
  /** Every scenario id, in order, for `--check` and the editor's test items. */
  readonly checkIds: readonly { readonly id: string; readonly title: string }[];
  open(run: LabRun): Promise<OpenedRun>;
}

export interface GradeOptions {
  readonly labDir: string;
  readonly backend: Backend;
  readonly seed: number;
  /** The lab's PostgreSQL, when the grader needs one. */
  readonly databaseUrl?: string;
  /** The lab's running containers, when the grader uses them (Docker). */
  readonly labServices?: LabServicesForGrading;
  /** Where the adapter bundles are (the extension's or the CLI's dist/adapters). */
  readonly adaptersDir: string;
  /** Where the compiled bundle is written; a folder of the grader's, outside the lab. */
  readonly workDir: string;
  /** Only these checks (ids); the seeds stay those of the whole run, so a replay matches. */
  readonly only?: readonly string[];
  readonly onCheck?: (result: CheckResult) => void;
  readonly logger?: RuntimeLogger;
  readonly nodePath?: string;
  /** The esbuild to compile with; the lab's own by default. */
  readonly esbuild?: EsbuildApi;
}

/** `--check` named a check the lab does not have. */
export class UnknownCheckError extends Error {
  override readonly name = 'UnknownCheckError';
}

/** A seed for a run that was not given one: random, and printed so it can be replayed. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32BE(0) >>> 1;
}

function problemReport(grader: LabGrader, options: GradeOptions, startedAt: Date, started: number, problem: GradeProblem): GradeReport {
  return {
    version: GRADE_REPORT_VERSION,
    labId: grader.labId,
    backend: options.backend,
    seed: options.seed,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    passed: false,
    score: score([]),
    checks: [],
    problem,
  };
}

/**
 * The learner's frames in a stack (Node prints them through the source map), as
 * diagnostics: `at migrate (/home/ada/lab/src/payments.ts:40:11)` → src/payments.ts:40:11.
 */
export function diagnosticsFromStack(stack: string | undefined, labDir: string, message: string): SourceDiagnostic[] {
  if (stack === undefined) {
    return [];
  }
  const root = path.resolve(labDir) + path.sep;
  const found: SourceDiagnostic[] = [];
  for (const match of stack.matchAll(/\(?((?:[A-Za-z]:)?[^\s()]+?):(\d+):(\d+)\)?$/gm)) {
    const file = match[1] ?? '';
    if (!file.startsWith(root) || file.includes(`${path.sep}node_modules${path.sep}`)) {
      continue;
    }
    found.push({ file: file.slice(root.length).split(path.sep).join('/'), line: Number(match[2]), column: Number(match[3]), message });
    break;
  }
  return found;
}

/** Grades the lab folder and returns the report. Throws only for the grader's environment. */
export async function gradeLab(grader: LabGrader, options: GradeOptions): Promise<GradeReport> {
  const startedAt = new Date();
  const started = performance.now();
  const logger = options.logger ?? silentLogger;
  const labDir = path.resolve(options.labDir);
  if (options.only !== undefined) {
    const known = new Set(grader.checkIds.map((c) => c.id));
    const unknown = options.only.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new UnknownCheckError(`${grader.labId} has no check ${unknown.map((id) => `"${id}"`).join(', ')}. Its checks: ${[...known].join(', ')}.`);
    }
  }
  if (grader.needsDatabase && options.databaseUrl === undefined) {
    throw new Error(`Grading ${grader.labId} needs the lab's PostgreSQL: start its databases first.`);
  }
  if (grader.usesLabServices === true && options.backend === 'docker' && options.labServices === undefined) {
    throw new Error(`Grading ${grader.labId} on Docker needs the lab's containers: start its databases first.`);
  }
  const fail = (problem: GradeProblem): GradeReport => problemReport(grader, options, startedAt, started, problem);

  // A folder of this run's own: two gradings at once (two labs, two windows) never share a bundle.
  const runName = `grade_${randomBytes(5).toString('hex')}`;
  const outDir = path.join(options.workDir, runName);
  try {
    return await gradeIn(grader, options, { labDir, runName, outDir, startedAt, started, fail, logger });
  } finally {
    await fs.rm(outDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

interface RunPlace {
  readonly labDir: string;
  readonly runName: string;
  readonly outDir: string;
  readonly startedAt: Date;
  readonly started: number;
  readonly fail: (problem: GradeProblem) => GradeReport;
  readonly logger: RuntimeLogger;
}

async function gradeIn(grader: LabGrader, options: GradeOptions, place: RunPlace): Promise<GradeReport> {
  const { labDir, runName, outDir, startedAt, started, fail, logger } = place;
  let bundle;
  try {
    bundle = await compileLearnerCode({ esbuild: options.esbuild ?? loadLabEsbuild(labDir), labDir, entry: grader.entry, outDir });
  } catch (error) {
    if (error instanceof CompileError) {
      return fail({ kind: 'compile', message: `${grader.entry} does not compile.`, diagnostics: error.diagnostics });
    }
    throw error;
  }

  let sandbox: Sandbox;
  try {
    sandbox = await startSandbox({
      bundle,
      labDir,
      memoryMb: grader.memoryMb,
      adapter: path.join(options.adaptersDir, grader.adapter),
      logger,
      ...(options.nodePath !== undefined ? { nodePath: options.nodePath } : {}),
    });
  } catch (error) {
    if (error instanceof SandboxStartError) {
      const thrown = error.failure.kind === 'load-failed' ? error.failure.error : undefined;
      return fail({ kind: 'load', message: error.message, diagnostics: diagnosticsFromStack(thrown?.stack, labDir, error.message), output: error.output });
    }
    throw error;
  }

  try {
    const contract = checkContract(sandbox.exports, grader.contract);
    if (contract.length > 0) {
      return fail({ kind: 'contract', message: contract.join('\n'), diagnostics: contract.map((message) => ({ file: grader.entry, line: 1, column: 1, message })) });
    }
    let opened: OpenedRun;
    try {
      opened = await grader.open({ sandbox, labDir, backend: options.backend, databaseUrl: options.databaseUrl, runName, logger, ...(options.labServices !== undefined ? { labServices: options.labServices } : {}) });
    } catch (error) {
      if (error instanceof LearnerSetupError) {
        return fail({ kind: 'setup', message: error.message, diagnostics: diagnosticsFromStack(error.learnerStack, labDir, error.message), output: error.output ?? sandbox.output() });
      }
      throw error;
    }
    try {
      const wanted = options.only === undefined ? undefined : new Set(options.only);
      const scenarios = wanted === undefined ? opened.scenarios : opened.scenarios.filter((s) => wanted.has(s.id));
      const report = await runScenarios(scenarios, {
        labId: grader.labId,
        backend: options.backend,
        seed: options.seed,
        ...(options.onCheck !== undefined ? { onCheck: options.onCheck } : {}),
        now: () => startedAt,
      });
      return { ...report, ...(grader.engineLabel !== undefined ? { engine: grader.engineLabel(options.backend) } : {}), durationMs: Math.round(performance.now() - started) };
    } finally {
      await opened.close().catch((error: unknown) => logger.warn(`grading: cleaning up ${grader.labId} failed: ${(error as Error).message}`));
    }
  } finally {
    await sandbox.dispose();
  }
}
