/**
 * `data-labs grade --backend embedded` as a learner runs it: the real command line (built
 * here, with the real labs and the sandbox), a real embedded PostgreSQL, learner folders
 * assembled from the Saga lab's starter and solution.
 *
 * - The grade stops the embedded server it started, and leaves running one it found
 *   running (started by `data-labs services up`, or the editor).
 * - A saga that holds a transaction across its service calls fails each check it reaches
 *   with "held a transaction across a service call", instead of running every check to its
 *   budget as "unknown"; the command then exits, leaving no learner process and no server.
 * - `--time-limit` bounds the whole grade: the checks not reached are "unknown", saying why,
 *   and the command exits with everything cleaned up.
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GradeReport, gradeReportSchema } from '../../src/core/grading/report';
import { embeddedPaths, stopEmbeddedServices } from '../../src/core/services/embedded';
import { VARIANTS_DIR } from '../support/labVariants';
import { REAL_LABS_DIR, REPO_ROOT, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-grade-cli-');
let product = '';
let reference = '';
let held = '';
const folders: string[] = [];

interface BuildScript {
  cliOptions(outfile: string, options?: { labsDir?: string }): BuildOptions;
  sandboxOptions(outdir: string, options?: { labsDir?: string }): BuildOptions;
  embeddedServerOptions(outdir: string): BuildOptions;
}

/** A Saga learner folder: the starter, the solution laid over it, and `overlay`'s files over that. */
async function sagaFolder(name: string, overlay?: string): Promise<string> {
  const lab = path.join(REAL_LABS_DIR, 'saga');
  const manifest = JSON.parse(await fs.readFile(path.join(lab, 'lab.json'), 'utf8')) as { starter: { dir: string; files: string[] } };
  // Inside the repository, so that packages resolve from its node_modules.
  const dir = path.join(VARIANTS_DIR, 'saga', `.grade-cli-${name}`);
  await fs.rm(dir, { recursive: true, force: true });
  for (const file of manifest.starter.files) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.copyFile(path.join(lab, manifest.starter.dir, file), path.join(dir, file));
  }
  await fs.cp(path.join(lab, 'solution'), dir, { recursive: true });
  if (overlay !== undefined) {
    await fs.cp(overlay, dir, { recursive: true });
  }
  folders.push(dir);
  return dir;
}

beforeAll(async () => {
  // A product tree: the real labs, and the command line, the sandbox and the embedded server built for it.
  product = await tempDir();
  await fs.symlink(REAL_LABS_DIR, path.join(product, 'labs'), 'dir');
  const load = createRequire(path.join(REPO_ROOT, 'esbuild.js'));
  const build = load('./esbuild.js') as BuildScript;
  const esbuild = load('esbuild') as typeof import('esbuild');
  const dist = path.join(product, 'dist');
  await esbuild.build({ ...build.cliOptions(path.join(dist, 'cli.js'), { labsDir: REAL_LABS_DIR }), logLevel: 'silent' });
  await esbuild.build({ ...build.sandboxOptions(path.join(dist, 'sandbox'), { labsDir: REAL_LABS_DIR }), logLevel: 'silent' });
  await esbuild.build(build.embeddedServerOptions(dist));
  reference = await sagaFolder('reference');
  held = await sagaFolder('held-transaction', path.join(REPO_ROOT, 'test', 'fixtures', 'held-transaction', 'saga'));
}, 120_000);

afterAll(async () => {
  for (const dir of folders) {
    await stopEmbeddedServices(dir).catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  }
});

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs the built command line to its end (as a learner's terminal would), within `limitMs`. */
function cli(args: string[], limitMs = 240_000): Promise<Run> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(product, 'dist', 'cli.js'), ...args], {
      env: { ...process.env, DATA_LABS_PROGRESS_DIR: path.join(product, 'progress'), DOCKER_HOST: 'unix:///nonexistent/docker.sock' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** The processes whose working directory is `dir` (learner processes run in their lab folder) or whose command line names it (its embedded server). */
function processesOf(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cwd === dir || cmdline.includes(dir)) found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

function serverPid(dir: string): number | undefined {
  const file = embeddedPaths(dir).stateFile;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(process.platform === 'linux')('data-labs grade on the embedded PostgreSQL', () => {
  it('stops the embedded server it started, and leaves running one that was already running', async () => {
    const graded = await cli(['grade', 'saga', reference, '--backend', 'embedded', '--seed', '1', '--check', 'compensate-in-reverse']);
    expect(graded.stdout).toMatch(/PASS +.*\(compensate-in-reverse,/);
    expect(graded.status, graded.stdout + graded.stderr).toBe(0);
    expect(serverPid(reference)).toBeUndefined();
    expect(processesOf(reference)).toEqual([]);

    // Started by `services up`: the grade reuses it and leaves it running.
    expect((await cli(['services', 'up', 'saga', reference, '--backend', 'embedded'])).status).toBe(0);
    const pid = serverPid(reference);
    expect(pid).toBeDefined();
    const again = await cli(['grade', 'saga', reference, '--backend', 'embedded', '--seed', '2', '--check', 'compensate-in-reverse']);
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(serverPid(reference)).toBe(pid);
    expect(alive(pid ?? 0)).toBe(true);
    expect((await cli(['services', 'down', 'saga', reference, '--backend', 'embedded'])).status).toBe(0);
    expect(processesOf(reference)).toEqual([]);
  }, 300_000);

  it('fails a check whose saga holds a transaction across a service call, saying so, and ends with nothing left running', async () => {
    const run = await cli(['grade', 'saga', held, '--backend', 'embedded', '--seed', '1', '--check', 'compensate-in-reverse', '--json']);
    expect(run.status, run.stderr).toBe(1);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout)) as GradeReport;
    const check = report.checks[0];
    expect(check?.status).toBe('fail');
    expect(check?.actual).toMatch(/^The code held a transaction across a service call: it called POST \/orders\/create inside a transaction/);
    expect(check?.hint).toMatch(/Commit first/);
    expect(check?.history[check.culprits?.[0] ?? -1]?.op).toBe('held a transaction across a service call');
    // Ended as soon as the transaction was seen held, not at the check's 30 s budget.
    expect(check?.durationMs).toBeLessThan(25_000);
    expect(processesOf(held)).toEqual([]);
  }, 300_000);

  it('with --time-limit, ends the grade in time: the checks not reached are unknown, saying why, and nothing is left running', async () => {
    const run = await cli(['grade', 'saga', held, '--backend', 'embedded', '--seed', '1', '--time-limit', '8', '--json']);
    expect(run.status, run.stderr).toBe(1);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout)) as GradeReport;
    expect(report.checks).toHaveLength(8);
    // The check under way when the time ran out: what the learner's process showed decides it.
    expect(report.checks[0]?.status).toBe('fail');
    for (const later of report.checks.slice(1)) {
      expect(later).toMatchObject({ status: 'unknown', actual: "Not run: the grade's time limit (8 s) ran out before this check's turn." });
    }
    // The limit, then the clean-up (the learner's processes, the run's schema, the server).
    expect(run.seconds).toBeLessThan(8 + 30);
    expect(processesOf(held)).toEqual([]);
    expect(serverPid(held)).toBeUndefined();
  }, 300_000);

  it('refuses a time limit that is not a whole number of seconds', async () => {
    const run = await cli(['grade', 'saga', held, '--time-limit', '0']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('--time-limit must be a whole number of seconds from 1 to 86400, not "0".');
  });
});
