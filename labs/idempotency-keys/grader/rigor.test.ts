/**
 * The Idempotency Keys grader, beyond what test/rigor holds every grader to (the reference
 * passes, each mutant fails its check, across seeds): the command line itself — exit codes,
 * --json against the documented schema, the checklist ticked, file:line for a compile
 * error, a contract problem, an unknown check — and a learner process that exits in the
 * middle of a request. On the lab's PostgreSQL in Docker, started as `data-labs grade` does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../../src/core/grading/gradeLab';
import { gradeReportSchema } from '../../../src/core/grading/report';
import { CLI, IMAGES, assembleVariant, mutantsOf, useGradingEnvironment, withLearnerFolder } from '../../../test/rigor/support';

const LAB = 'idempotency-keys';
const env = useGradingEnvironment(LAB);
const mutants = mutantsOf(LAB);

function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, 'grade', LAB, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATA_LABS_STATE_DIR: env.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(env.workDir, 'progress') },
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('data-labs grade idempotency-keys', () => {
  it('exits 0 for the reference and prints the documented JSON, which ticks the checklist', async () => {
    const run = grade([await assembleVariant(env.lab), '--seed', '7', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    expect(report.seed).toBe(7);
    const progress = JSON.parse(await fs.readFile(path.join(env.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['add-idempotency-keys', 'handle-retries-safely']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', async () => {
    const m = mutants[0] as { mutant: string; fails: string };
    const run = grade([await assembleVariant(env.lab, { mutant: m.mutant }), '--seed', '3']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    expect(run.stdout).toMatch(/hint: /);
    expect(run.stdout).toMatch(/--seed 3/);
  });

  it('names the file and line of a compile error, and exits 1', async () => {
    await withLearnerFolder(LAB, 'broken', { 'src/payments.ts': 'export async function createPayment() {\n  return { status: 201, headers: {}, body: "" ;\n}\n' }, (dir) => {
      const run = grade([dir, '--seed', '1']);
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/does not compile/);
      expect(run.stdout).toContain(`${path.join(dir, 'src', 'payments.ts')}:2:`);
    });
  });

  it('names a missing export as a contract problem, and exits 1', async () => {
    await withLearnerFolder(LAB, 'contract', { 'src/payments.ts': 'export async function createPayment() {\n  return { status: 201, headers: {}, body: "{}" };\n}\n' }, (dir) => {
      const run = grade([dir, '--seed', '1', '--json']);
      expect(run.status).toBe(1);
      const report = gradeReportSchema.parse(JSON.parse(run.stdout));
      expect(report.problem?.kind).toBe('contract');
      expect(report.problem?.message).toMatch(/"migrate" is not exported by src\/payments\.ts \(it exports: createPayment\)/);
    });
  });

  it('refuses an unknown check with exit 2, listing the checks', async () => {
    const run = grade([await assembleVariant(env.lab), '--check', 'no-such-check']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/no check "no-such-check".*concurrent-same-key/);
  });
});

/** The processes whose working folder is `dir` (a grading's learner processes run in the lab folder). */
function processesIn(dir: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readlinkSync(`/proc/${name}/cwd`) === dir) found.push(Number(name));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

describe('Ctrl-C during data-labs grade', () => {
  it.runIf(process.platform === 'linux')('stops the grading cleanly: exit 130, the learner\'s processes ended, the run\'s schema dropped', async () => {
    const dir = await assembleVariant(env.lab);
    const child = spawn(process.execPath, [CLI, 'grade', LAB, dir, '--seed', '2'], {
      env: { ...process.env, DATA_LABS_STATE_DIR: env.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(env.workDir, 'progress') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Once the first check is decided, the learner's process is running the next one.
    const deadline = Date.now() + 60_000;
    while (!/PASS /.test(stdout) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stdout).toMatch(/PASS /);
    expect(processesIn(dir).length, 'a learner process runs in the lab folder').toBeGreaterThan(0);
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/grading cancelled; its faults were healed and the learner's process stopped/);
    expect(processesIn(dir)).toEqual([]);
    // The run's schema (grade_<random>) was dropped on the way out.
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: env.dockerUrl });
    await client.connect();
    try {
      const schemas = await client.query<{ name: string }>("SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE 'grade\\_%'");
      expect(schemas.rows.map((r) => r.name)).toEqual([]);
    } finally {
      await client.end();
    }
  });
});

describe('a learner process that exits mid-request', () => {
  it('fails the check with that reason, and the grading goes on', async () => {
    const source = 'export async function migrate() {}\nexport async function createPayment() {\n  process.exit(3);\n}\n';
    await withLearnerFolder(LAB, 'exits', { 'src/payments.ts': source }, async (dir) => {
      const report = await gradeLab(env.lab, env.grader, await env.options(dir, 5, { only: ['replay-after-success', 'per-user-scope'] }));
      expect(report.checks.map((c) => c.status)).toEqual(['fail', 'fail']);
      for (const check of report.checks) {
        expect(check.actual).toMatch(/exited with code 3 \(did the code call process\.exit\?\)/);
      }
    });
  });
});
