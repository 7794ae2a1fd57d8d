/**
 * `data-labs grade <lab> [dir]`: the lab's hidden checks on the learner's code, headless.
 * It starts the lab's databases as `services up` does (Docker, or the embedded engine),
 * grades, prints every verdict (or `--json`: the report, GRADE_REPORT_VERSION), and exits
 * 0 only when every check passed. A full passing grade ticks the lab's checklist items.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Backend } from '../core/backend';
import { ProgressStore } from '../core/curriculum/progress';
import { resolveProgressDir } from '../core/curriculum/progressLocation';
import { writeFileAtomic } from '../core/atomicFile';
import { GradingCancelledError } from '../core/grading/engine';
import { formatCheck, formatReport } from '../core/grading/format';
import { GRADE_TIME_LIMIT_MS, type GradeOptions, UnknownCheckError, gradeLab, randomSeed } from '../core/grading/gradeLab';
import { NoGraderError, loadLabGrader } from '../core/grading/labGraders';
import { type GradingServices, prepareGrading } from '../core/grading/prepareGrading';
import type { Lab } from '../core/labs/catalog';
import type { LabServicesController } from '../core/services/labServicesController';
import { labDirExists } from './services';

export const GRADE_HELP = `Usage:
  data-labs grade <lab> [dir] [--seed N] [--check ID] [--json] [--backend docker|embedded]
                  [--time-limit S] [--report FILE]
      Runs the lab's hidden checks on your code in dir (default $DATA_LABS_ROOT/<lab>):
      starts its databases, runs each check under its faults, prints each verdict with
      what was expected, what happened and a hint, and exits 0 only if every check passed.

  --seed N       Replay a run: the same seed gives the same requests, faults and crashes.
                 Without it a random seed is used and printed.
  --check ID     Run only this check (comma-separated for several), with the seeds it has
                 in the full run, so "--seed N --check ID" replays one failure.
  --json         Print the report as JSON (its "version" field names the format; see the README).
  --report FILE  Also write that JSON report to FILE (what "data-labs import-grade" reads).
  --backend B    docker (the default) or embedded. Without Docker, labs that allow it are
                 graded on the embedded PostgreSQL; checks that need real concurrency are
                 then "unknown" (never a pass).
  --time-limit S How long the whole grading may take, in seconds (default ${GRADE_TIME_LIMIT_MS / 1000}): the
                 check under way then is cut short and those after it are not run, each
                 "unknown" saying so.

Ctrl-C stops the grading: the check under way ends, every fault is healed and the
learner's process stopped before the command exits (130). An embedded PostgreSQL the
grading started is stopped when it ends; one already running is left running.

Exit codes: 0 every check passed, 1 a check failed or was unknown (or the code does not
compile), 2 wrong usage, 130 cancelled.
`;

export interface GradeCliRequest {
  readonly lab: Lab;
  readonly labDir: string;
  /** How the user named the folder, for file:line output. */
  readonly labDirShown: string;
  readonly backend: Backend | undefined;
  readonly seed: number | undefined;
  readonly only: readonly string[] | undefined;
  readonly json: boolean;
  /** Also write the report, as JSON, to this file (--report). */
  readonly reportFile?: string;
  /** The grading's time limit (--time-limit), in milliseconds; GRADE_TIME_LIMIT_MS by default. */
  readonly timeLimitMs?: number;
  /** The sandbox's bundles (dist/sandbox). */
  readonly sandboxDir: string;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted to cancel the grading (Ctrl-C). */
  readonly signal?: AbortSignal;
}

export interface GradeCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Parses `--time-limit`: whole seconds, 1 to 86400, as milliseconds. */
export function parseTimeLimit(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) {
    return undefined;
  }
  const n = Number(text);
  return n >= 1 && n <= 86_400 ? n * 1000 : undefined;
}

/** Parses `--seed`: a whole number from 0 to 2^31 - 1. */
export function parseSeed(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) {
    return undefined;
  }
  const n = Number(text);
  return n <= 0x7fffffff ? n : undefined;
}

/** The CLI's way of starting a lab's services for grading: its services controller, as `services up` does. */
export function cliGradingServices(controller: LabServicesController): GradingServices {
  return {
    up: (lab, labDir, backend, signal) => controller.up(lab, labDir, { backend, ...(signal !== undefined ? { signal } : {}) }),
    upFresh: (lab, dir, signal) => controller.up(lab, dir, { backend: 'docker', reset: true, ...(signal !== undefined ? { signal } : {}) }),
    remove: async (lab, dir) => {
      await controller.down(lab, dir, { remove: true });
    },
    forGrading: (started) => controller.forGrading(started),
    refresh: async (lab, labDir) => {
      await controller.up(lab, labDir, { backend: 'docker' }).catch(() => undefined);
    },
    stopEmbedded: async (lab, labDir) => {
      await controller.down(lab, labDir, { skipDocker: true });
    },
  };
}

export async function runGradeCommand(request: GradeCliRequest, controller: LabServicesController, io: GradeCliIo): Promise<number> {
  const { lab, labDir, signal } = request;
  const labId = lab.manifest.id;
  let grader;
  try {
    grader = await loadLabGrader(lab);
  } catch (error) {
    if (error instanceof NoGraderError) {
      io.stderr(`data-labs: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (!(await labDirExists(labDir, labId, io))) {
    return 1;
  }

  const plan = await prepareGrading({ lab, labDir, grader, ...(request.backend !== undefined ? { requested: request.backend } : {}), preferred: 'docker', services: cliGradingServices(controller), ...(signal !== undefined ? { signal } : {}) });
  if (plan.fallback !== undefined) {
    io.stderr(`${plan.fallback}\n`);
  }
  const backend: Backend = plan.backend;
  const seed = request.seed ?? randomSeed();
  const shown = request.labDirShown;
  const replayCommand = `data-labs grade ${labId}${shown === '' ? '' : ` ${shown}`}${request.backend !== undefined ? ` --backend ${backend}` : ''}`;
  if (!request.json) {
    io.stdout(`Grading ${labId} in ${labDir} on ${plan.engine}, seed ${seed}\n`);
  }
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'data-labs-grade-'));
  let report;
  try {
    const options: GradeOptions = {
      labDir,
      backend,
      seed,
      sandboxDir: request.sandboxDir,
      workDir,
      ...plan.services,
      ...(request.only !== undefined ? { only: request.only } : {}),
      ...(request.timeLimitMs !== undefined ? { timeLimitMs: request.timeLimitMs } : {}),
      ...(request.json ? {} : { onCheck: (check) => io.stdout(`${formatCheck(check)}\n`) }),
      ...(signal !== undefined ? { signal } : {}),
    };
    report = await gradeLab(lab, grader, options);
  } catch (error) {
    if (error instanceof UnknownCheckError) {
      io.stderr(`data-labs: ${error.message}\n`);
      return 2;
    }
    if (error instanceof GradingCancelledError) {
      io.stderr('data-labs: grading cancelled; its faults were healed and the learner\'s process stopped.\n');
      return 130;
    }
    throw error;
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
    await plan.finish();
  }

  if (request.reportFile !== undefined) {
    await writeFileAtomic(request.reportFile, `${JSON.stringify(report, null, 2)}\n`);
  }
  io.stdout(request.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, { labDirShown: shown === '' ? '.' : shown, replayCommand, checksPrinted: true }));
  if (report.passed && request.only === undefined) {
    const store = await ProgressStore.open({ dir: await resolveProgressDir(request.env) });
    await store.recordLabPassed(labId, lab.manifest.completes);
    if (!request.json) {
      io.stdout(`Lab ${labId} passed: its checklist items are ticked.\n`);
    }
  }
  return report.passed ? 0 : 1;
}
