/**
 * `data-labs grade <lab> [dir]`: the lab's hidden checks on the learner's code, headless.
 * It starts the lab's databases as `services up` does (Docker, or the embedded engine),
 * grades, prints every verdict (or `--json`: the report, GRADE_REPORT_VERSION), and exits
 * 0 only when every check passed. A full passing grade ticks the lab's checklist items.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProgressStore } from '../core/curriculum/progress';
import { resolveProgressDir } from '../core/curriculum/progressLocation';
import { formatCheck, formatReport } from '../core/grading/format';
import { type GradeOptions, UnknownCheckError, gradeLab, randomSeed } from '../core/grading/gradeLab';
import { GRADERS } from '../core/grading/graders';
import type { Lab } from '../core/labs/catalog';
import { type Backend, type LabServicesController, labAllowsEmbedded } from '../core/services/labServicesController';
import { DockerUnavailableError } from '../core/services/runtime';
import { labDirExists } from './services';

export const GRADE_HELP = `Usage:
  data-labs grade <lab> [dir] [--seed N] [--check ID] [--json] [--backend docker|embedded]
      Runs the lab's hidden checks on your code in dir (default $DATA_LABS_ROOT/<lab>):
      starts its databases, runs each check under its faults, prints each verdict with
      what was expected, what happened and a hint, and exits 0 only if every check passed.

  --seed N       Replay a run: the same seed gives the same requests, faults and crashes.
                 Without it a random seed is used and printed.
  --check ID     Run only this check (comma-separated for several), with the seeds it has
                 in the full run, so "--seed N --check ID" replays one failure.
  --json         Print the report as JSON (its "version" field names the format; see the README).
  --backend B    docker (the default) or embedded. Without Docker, labs that allow it are
                 graded on the embedded PostgreSQL; checks that need real concurrency are
                 then "unknown" (never a pass).

Exit codes: 0 every check passed, 1 a check failed or was unknown (or the code does not
compile), 2 wrong usage.
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
  readonly adaptersDir: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface GradeCliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Parses `--seed`: a whole number from 0 to 2^31 - 1. */
export function parseSeed(text: string): number | undefined {
  if (!/^\d{1,10}$/.test(text)) {
    return undefined;
  }
  const n = Number(text);
  return n <= 0x7fffffff ? n : undefined;
}

export async function runGradeCommand(request: GradeCliRequest, controller: LabServicesController, io: GradeCliIo): Promise<number> {
  const { lab, labDir } = request;
  const labId = lab.manifest.id;
  const graderId = lab.manifest.grader;
  if (graderId === undefined) {
    io.stderr(`data-labs: lab "${labId}" has no hidden checks to grade; run its tests with "npm test" in its folder.\n`);
    return 1;
  }
  const grader = GRADERS[graderId];
  if (!(await labDirExists(labDir, labId, io))) {
    return 1;
  }

  let backend: Backend = request.backend ?? 'docker';
  let databaseUrl: string | undefined;
  let labServices: ReturnType<LabServicesController['forGrading']> | undefined;
  if (grader.needsDatabase) {
    try {
      databaseUrl = (await controller.up(lab, labDir, { backend })).connections[0]?.url;
    } catch (error) {
      if (!(error instanceof DockerUnavailableError) || request.backend !== undefined || !labAllowsEmbedded(lab)) {
        throw error;
      }
      io.stderr(`Docker is not reachable (${error.message.split('\n')[0] ?? ''}); grading on the embedded PostgreSQL instead. Checks that need real concurrency will be "unknown".\n`);
      backend = 'embedded';
      databaseUrl = (await controller.up(lab, labDir, { backend })).connections[0]?.url;
    }
  } else if (grader.usesLabServices === true && backend === 'docker') {
    try {
      labServices = controller.forGrading(await controller.up(lab, labDir, { backend }));
    } catch (error) {
      if (!(error instanceof DockerUnavailableError) || request.backend !== undefined) {
        throw error;
      }
      io.stderr(`Docker is not reachable (${error.message.split('\n')[0] ?? ''}); grading on the grader's in-process stand-ins instead.\n`);
      backend = 'embedded';
    }
  }

  const seed = request.seed ?? randomSeed();
  const shown = request.labDirShown;
  const replayCommand = `data-labs grade ${labId}${shown === '' ? '' : ` ${shown}`}${request.backend !== undefined ? ` --backend ${backend}` : ''}`;
  if (!request.json) {
    const engine = grader.engineLabel?.(backend) ?? (backend === 'docker' ? 'PostgreSQL in Docker' : 'the embedded PostgreSQL');
    io.stdout(`Grading ${labId} in ${labDir} on ${engine}, seed ${seed}\n`);
  }
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'data-labs-grade-'));
  let report;
  try {
    const options: GradeOptions = {
      labDir,
      backend,
      seed,
      adaptersDir: request.adaptersDir,
      workDir,
      ...(databaseUrl !== undefined ? { databaseUrl } : {}),
      ...(labServices !== undefined ? { labServices } : {}),
      ...(request.only !== undefined ? { only: request.only } : {}),
      ...(request.json ? {} : { onCheck: (check) => io.stdout(`${formatCheck(check)}\n`) }),
    };
    report = await gradeLab(grader, options);
  } catch (error) {
    if (error instanceof UnknownCheckError) {
      io.stderr(`data-labs: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await fs.rm(workDir, { recursive: true, force: true });
    if (labServices !== undefined) {
      // A container the grader killed came back, maybe on another port: rewrite .env.
      await controller.up(lab, labDir, { backend }).catch(() => undefined);
    }
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
