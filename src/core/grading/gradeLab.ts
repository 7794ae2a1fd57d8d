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
import { gradedSources } from './sources';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Backend } from '../backend';
import type { Lab } from '../labs/catalog';
import type { LabServicesForGrading } from '../services/labServicesController';
import { type RuntimeLogger, silentLogger } from '../services/runtime';
import { type LearnerWatch, runScenarios } from './engine';
import { diagnoseHeldTransactions } from './heldTransaction';
import { type LabGrader, LearnerSetupError, type OpenedRun, bindScenarios, declaredScenarios } from './labGrader';
import { GRADE_REPORT_VERSION, type CheckResult, type GradeProblem, type GradeReport, type SourceDiagnostic, score } from './report';
import { type RunDatabase, openRunDatabase } from './runDatabase';
import { CompileError, type EsbuildApi, type Sandbox, SandboxStartError, checkContract, compileLearnerCode, labEsbuild, startSandbox } from './sandbox';

export { LearnerSetupError } from './labGrader';

export interface GradeOptions {
  readonly labDir: string;
  readonly backend: Backend;
  readonly seed: number;
  /** The lab's PostgreSQL, when the grader needs one. */
  readonly databaseUrl?: string;
  /** The lab's running containers, when the grader uses them (Docker). */
  readonly labServices?: LabServicesForGrading;
  /**
   * Where the sandbox's bundles are (the extension's or the CLI's dist/sandbox): its child
   * harness, child.cjs, and each lab's adapter, adapters/<lab id>.cjs.
   */
  readonly sandboxDir: string;
  /** Where the compiled bundle is written; a folder of the grader's, outside the lab. */
  readonly workDir: string;
  /** Only these checks (ids); the seeds stay those of the whole run, so a replay matches. */
  readonly only?: readonly string[];
  readonly onCheck?: (result: CheckResult) => void;
  readonly logger?: RuntimeLogger;
  readonly nodePath?: string;
  /** The esbuild to compile with; by default the lab's own, run in a process of its own (labEsbuild). */
  readonly esbuild?: EsbuildApi;
  /**
   * Cancels the grading: the check under way is stopped, the run cleaned up (faults healed,
   * the learner's process ended), and gradeLab rejects with GradingCancelledError.
   */
  readonly signal?: AbortSignal;
  /**
   * How long the whole grading may take, from compiling on (default GRADE_TIME_LIMIT_MS):
   * the check under way when it runs out is cut short and those after it are not run, each
   * "unknown" saying so; then everything is cleaned up as usual.
   */
  readonly timeLimitMs?: number;
}

/** A grading's time limit unless told otherwise: a full grade takes seconds; this leaves room for a slow machine and slow code. */
export const GRADE_TIME_LIMIT_MS = 180_000;
/** How long the grader's own clean-up of a run (its services, the run's schema) may take before the run ends without it. */
const CLOSE_LIMIT_MS = 30_000;

/** `--check` named a check the lab does not have. */
export class UnknownCheckError extends Error {
  override readonly name = 'UnknownCheckError';
}

/** A seed for a run that was not given one: random, and printed so it can be replayed. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32BE(0) >>> 1;
}

function problemReport(lab: Lab, options: GradeOptions, startedAt: Date, started: number, problem: GradeProblem): GradeReport {
  return {
    version: GRADE_REPORT_VERSION,
    labId: lab.id,
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
 * diagnostics: `at migrate (/home/ada/lab/src/main.ts:40:11)` → src/main.ts:40:11.
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

/** The check ids of a graded lab, in order, as the message for an unknown `--check` lists them. */
function checkIdsOf(lab: Lab): string[] {
  return (lab.manifest.grader?.checks ?? []).map((c) => c.id);
}

/** Closes the run, or rejects when that takes longer than `limitMs` (the sandbox is disposed after it either way). */
async function closeWithin(opened: OpenedRun<unknown>, limitMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it took longer than ${Math.round(limitMs / 1000)} s; the learner's processes are stopped without it`)), limitMs);
  });
  try {
    await Promise.race([opened.close(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Restarts the sequences of the run's schema apart from each other, once the learner's
 * migrate made them (the adapter's `spreadSequences`, adapters/pgDb.ts): on either backend,
 * ids of two tables never coincide by chance, so code that takes one for the other fails.
 * An adapter without it (not built on dbAdapter) is left alone.
 */
async function spreadSequences(sandbox: Sandbox, seed: number, logger: RuntimeLogger): Promise<void> {
  const result = await sandbox.call<readonly { sequence: string; start: number }[]>('spreadSequences', [seed], 20_000);
  if (result.ok) {
    if (result.value.length > 0) {
      logger.info(`grading: sequences restarted apart: ${result.value.map((s) => `${s.sequence} at ${s.start}`).join(', ')}`);
    }
  } else if (result.kind !== 'not-callable') {
    logger.warn(`grading: the run's sequences could not be restarted apart: ${result.message}`);
  }
}

/** Grades the lab folder with the lab's grader and returns the report. Throws only for the grader's environment (and GradingCancelledError). */
export async function gradeLab(lab: Lab, grader: LabGrader, options: GradeOptions): Promise<GradeReport> {
  const startedAt = new Date();
  const started = performance.now();
  const logger = options.logger ?? silentLogger;
  const labDir = path.resolve(options.labDir);
  if (options.only !== undefined) {
    const known = new Set(declaredScenarios(lab.manifest).map((c) => c.id));
    const unknown = options.only.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new UnknownCheckError(`${lab.id} has no check ${unknown.map((id) => `"${id}"`).join(', ')}. Its checks: ${checkIdsOf(lab).join(', ')}.`);
    }
  }
  if (grader.services === 'database' && options.databaseUrl === undefined) {
    throw new Error(`Grading ${lab.id} needs the lab's PostgreSQL: start its databases first.`);
  }
  if ((grader.services === 'containers' || grader.services === 'fresh-containers') && options.backend === 'docker' && options.labServices === undefined) {
    throw new Error(`Grading ${lab.id} on Docker needs the lab's containers: start its databases first.`);
  }
  const fail = (problem: GradeProblem): GradeReport => problemReport(lab, options, startedAt, started, problem);

  // A folder of this run's own: two gradings at once (two labs, two windows) never share a bundle.
  const runName = `grade_${randomBytes(5).toString('hex')}`;
  const outDir = path.join(options.workDir, runName);
  // What is graded, read before it is compiled.
  const sources = await gradedSources(labDir);
  try {
    return { ...(await gradeIn(lab, grader, options, { labDir, runName, outDir, startedAt, started, fail, logger })), sources };
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

async function gradeIn(lab: Lab, grader: LabGrader, options: GradeOptions, place: RunPlace): Promise<GradeReport> {
  const { labDir, runName, outDir, startedAt, started, fail, logger } = place;
  let bundle;
  try {
    bundle = await compileLearnerCode({ esbuild: options.esbuild ?? labEsbuild(labDir, options.nodePath), labDir, entry: grader.entry, outDir });
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
      childScript: path.join(options.sandboxDir, 'child.cjs'),
      adapter: path.join(options.sandboxDir, 'adapters', `${lab.id}.cjs`),
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

  let runDatabase: RunDatabase | undefined;
  try {
    const contract = checkContract(sandbox.exports, grader.contract);
    if (contract.length > 0) {
      return fail({ kind: 'contract', message: contract.join('\n'), diagnostics: contract.map((message) => ({ file: grader.entry, line: 1, column: 1, message })) });
    }
    if (grader.services === 'database' && options.databaseUrl !== undefined) {
      runDatabase = await openRunDatabase(options.databaseUrl, runName, options.backend);
    }
    let opened: OpenedRun<unknown>;
    try {
      opened = await grader.open({
        labId: lab.id,
        sandbox,
        labDir,
        backend: options.backend,
        databaseUrl: options.databaseUrl,
        learnerDatabaseUrl: runDatabase?.learnerUrl,
        runName,
        logger,
        ...(options.labServices !== undefined ? { labServices: options.labServices } : {}),
      });
    } catch (error) {
      if (error instanceof LearnerSetupError) {
        return fail({ kind: 'setup', message: error.message, diagnostics: diagnosticsFromStack(error.learnerStack, labDir, error.message), output: error.output ?? sandbox.output() });
      }
      throw error;
    }
    try {
      if (grader.services === 'database') {
        await spreadSequences(sandbox, options.seed, logger);
      }
      const wanted = options.only === undefined ? undefined : new Set(options.only);
      const all = bindScenarios(lab.manifest, grader.scenarios, opened.harness);
      const scenarios = wanted === undefined ? all : all.filter((s) => wanted.has(s.id));
      const learner: LearnerWatch = {
        diagnose: (since) => diagnoseHeldTransactions(sandbox.heldTransactions(since), options.backend),
        interrupt: (reason) => sandbox.interrupt(reason),
        resume: () => sandbox.resume(),
      };
      const report = await runScenarios(scenarios, {
        labId: lab.id,
        backend: options.backend,
        seed: options.seed,
        engine: grader.engineLabel(options.backend),
        ...(options.onCheck !== undefined ? { onCheck: options.onCheck } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
        timeLimitMs: options.timeLimitMs ?? GRADE_TIME_LIMIT_MS,
        timeLimitStart: started,
        learner,
        now: () => startedAt,
      });
      return { ...report, durationMs: Math.round(performance.now() - started) };
    } finally {
      await closeWithin(opened, CLOSE_LIMIT_MS).catch((error: unknown) => logger.warn(`grading: cleaning up ${lab.id} failed: ${(error as Error).message}`));
    }
  } finally {
    await sandbox.dispose();
    // After the learner's processes ended: nothing of theirs holds the schema any more.
    await runDatabase?.drop().catch((error: unknown) => logger.warn(`grading: dropping the run's schema ${runName} failed: ${(error as Error).message}`));
  }
}
