/**
 * The Idempotency Keys grader held to its promise: it never fails correct code and never
 * passes broken code. The reference (test/graders/idempotency/reference, the lab's
 * solution) passes every check on 10 seeds; each mutant (a realistic bug, one per folder)
 * fails the check mutants.json names for it on every one of the same 10 seeds. Both run
 * on the lab's PostgreSQL in Docker, started the way `data-labs grade` starts it; the
 * reference also runs on the embedded PostgreSQL, where the concurrency check must say
 * "unknown" and nothing else may fail. Then the command line itself: exit codes, --json
 * against the documented schema, file:line for a compile error.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../src/core/grading/gradeLab';
import { IDEMPOTENCY_CHECKS, idempotencyKeysGrader } from '../../src/core/grading/labs/idempotencyKeys';
import { gradeReportSchema } from '../../src/core/grading/report';
import { CLI, IMAGES, ROOT, SEEDS, mutantsOf, useLabDatabases } from './support';

const here = path.join(ROOT, 'test', 'graders', 'idempotency');
const reference = path.join(here, 'reference');
const mutants = mutantsOf('idempotency');
const db = useLabDatabases('idempotency-keys');
const options = db.options.bind(db);

describe('the reference passes every check', () => {
  it.each(SEEDS)('on PostgreSQL in Docker, seed %i', async (seed) => {
    const report = await gradeLab(idempotencyKeysGrader, options(reference, seed));
    const notPassed = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}: ${c.actual}`);
    expect(notPassed).toEqual([]);
    expect(report.checks.map((c) => c.id)).toEqual(IDEMPOTENCY_CHECKS.map((c) => c.id));
    expect(report.passed).toBe(true);
  });

  it.each([1, 2])('on the embedded PostgreSQL, seed %i: only the concurrency check is unknown (it needs Docker), never passed', async (seed) => {
    const report = await gradeLab(idempotencyKeysGrader, options(reference, seed, { backend: 'embedded', databaseUrl: db.embeddedUrl }));
    const verdicts = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    expect(verdicts).toEqual(Object.fromEntries(IDEMPOTENCY_CHECKS.map((c) => [c.id, c.id === 'concurrent-same-key' ? 'unknown' : 'pass'])));
    expect(report.checks.find((c) => c.id === 'concurrent-same-key')?.actual).toMatch(/Grade with Docker/);
    expect(report.passed).toBe(false);
  });
});

describe('each mutant fails the check named for it, on every seed', () => {
  it('has at least 8 mutants, each naming a real check and a folder', async () => {
    expect(mutants.length).toBeGreaterThanOrEqual(8);
    for (const m of mutants) {
      expect(IDEMPOTENCY_CHECKS.map((c) => c.id)).toContain(m.fails);
      await fs.access(path.join(here, 'mutants', m.mutant, 'src', 'payments.ts'));
    }
  });

  describe.each(mutants)('$mutant', ({ mutant, fails }) => {
    it(`fails ${fails} on seeds 1-10, with a hint`, async () => {
      const verdicts: string[] = [];
      for (const seed of SEEDS) {
        const report = await gradeLab(idempotencyKeysGrader, options(path.join(here, 'mutants', mutant), seed, { only: [fails] }));
        const check = report.checks[0];
        verdicts.push(`${seed}:${check?.status ?? report.problem?.message ?? 'nothing'}`);
        if (check?.status === 'fail') {
          expect(check.hint, `seed ${seed}: a failure comes with a hint`).toBeTruthy();
          expect(check.culprits?.length ?? 0, `seed ${seed}: the failure points at events in the history`).toBeGreaterThan(0);
        }
      }
      expect(verdicts).toEqual(SEEDS.map((s) => `${s}:fail`));
    });
  });
});

describe('data-labs grade', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', 'idempotency-keys', ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: db.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(db.workDir, 'progress') },
      timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('exits 0 for the reference and prints the documented JSON, which ticks the checklist', async () => {
    const run = grade([reference, '--seed', '7', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    expect(report.seed).toBe(7);
    const progress = JSON.parse(await fs.readFile(path.join(db.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['add-idempotency-keys', 'handle-retries-safely']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', () => {
    const m = mutants[0] as { mutant: string; fails: string };
    const run = grade([path.join(here, 'mutants', m.mutant), '--seed', '3']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    expect(run.stdout).toMatch(/hint: /);
    expect(run.stdout).toMatch(/--seed 3/);
  });

  it('names the file and line of a compile error, and exits 1', async () => {
    const broken = path.join(db.workDir, 'broken');
    await fs.mkdir(path.join(broken, 'src'), { recursive: true });
    await fs.writeFile(path.join(broken, 'package.json'), '{"name":"broken","private":true}');
    await fs.writeFile(path.join(broken, 'src', 'payments.ts'), 'export async function createPayment() {\n  return { status: 201, headers: {}, body: "" ;\n}\n');
    // esbuild is found from the repository's node_modules, as a learner's is from their lab's.
    const inRepo = path.join(ROOT, 'test', 'graders', 'idempotency', '.tmp-broken');
    await fs.rm(inRepo, { recursive: true, force: true });
    await fs.cp(broken, inRepo, { recursive: true });
    try {
      const run = grade([inRepo, '--seed', '1']);
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/does not compile/);
      expect(run.stdout).toContain(`${path.join(inRepo, 'src', 'payments.ts')}:2:`);
    } finally {
      await fs.rm(inRepo, { recursive: true, force: true });
    }
  });

  /** A learner folder inside the repository (so esbuild resolves, as from a lab's node_modules), removed afterwards. */
  async function withFolder(name: string, source: string, run: (dir: string) => Promise<void> | void): Promise<void> {
    const dir = path.join(ROOT, 'test', 'graders', 'idempotency', `.tmp-${name}`);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(path.join(dir, 'src'), { recursive: true });
    await fs.writeFile(path.join(dir, 'package.json'), `{"name":"${name}","private":true}`);
    await fs.writeFile(path.join(dir, 'src', 'payments.ts'), source);
    try {
      await run(dir);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  it('names a missing export as a contract problem, and exits 1', async () => {
    await withFolder('contract', 'export async function createPayment() {\n  return { status: 201, headers: {}, body: "{}" };\n}\n', (dir) => {
      const run = grade([dir, '--seed', '1', '--json']);
      expect(run.status).toBe(1);
      const report = gradeReportSchema.parse(JSON.parse(run.stdout));
      expect(report.problem?.kind).toBe('contract');
      expect(report.problem?.message).toMatch(/"migrate" is not exported by src\/payments\.ts \(it exports: createPayment\)/);
    });
  });

  it('a learner process that exits mid-request fails the check with that reason, and the grading goes on', async () => {
    const source = 'export async function migrate() {}\nexport async function createPayment() {\n  process.exit(3);\n}\n';
    await withFolder('exits', source, async (dir) => {
      const report = await gradeLab(idempotencyKeysGrader, options(dir, 5, { only: ['replay-after-success', 'per-user-scope'] }));
      expect(report.checks.map((c) => c.status)).toEqual(['fail', 'fail']);
      for (const check of report.checks) {
        expect(check.actual).toMatch(/exited with code 3 \(did the code call process\.exit\?\)/);
      }
    });
  });

  it('refuses an unknown check with exit 2, listing the checks', () => {
    const run = grade([reference, '--check', 'no-such-check']);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/no check "no-such-check".*concurrent-same-key/);
  });
});
