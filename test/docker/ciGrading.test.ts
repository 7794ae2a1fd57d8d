/**
 * Finishing a lab without Docker, by grading it elsewhere: `data-labs ci` writes the
 * workflow and the grader into a learner's folder; the script the workflow runs
 * (`.data-labs-ci/grade.sh`) is run here as GitHub's runner would run it (this machine has
 * Docker; the images are the local ones, as DATA_LABS_IMAGES maps them), from the copied
 * grader alone; `data-labs import-grade` then records the pass in another progress file,
 * and only for the code that was graded. What runs on GitHub itself (checkout, setup-node,
 * upload-artifact) cannot run here; the workflow's text is checked to run the script and
 * keep its report.
 *
 * Needs the built command line (`npm run build` or `node esbuild.js`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeReportSchema } from '../../src/core/grading/report';
import { REPO_ROOT } from '../unit/helpers';
import { LOCAL_IMAGES } from './helpers';

const LAB = 'idempotency-keys';
const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
let work = '';
let folder = '';

function run(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { code: number; out: string } {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? work,
    env: { ...process.env, DATA_LABS_IMAGES: JSON.stringify(LOCAL_IMAGES), DATA_LABS_PROGRESS_DIR: path.join(work, 'learner-progress'), ...options.env },
    encoding: 'utf8',
    timeout: 5 * 60_000,
  });
  return { code: result.status ?? -1, out: `${result.stdout}${result.stderr}` };
}

const dataLabs = (...args: string[]): { code: number; out: string } => run(process.execPath, [CLI, ...args]);

function progress(): { labs?: Record<string, { passedAt?: string }>; items?: Record<string, unknown> } {
  const file = path.join(work, 'learner-progress', 'progress.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { labs?: Record<string, { passedAt?: string }>; items?: Record<string, unknown> }) : {};
}

beforeAll(async () => {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: build the product first (npm run build, or node esbuild.js).`);
  }
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'ddl-ci-grading-'));
  folder = path.join(work, LAB);
  const opened = dataLabs('open', LAB, folder, '--no-install');
  expect(opened.code, opened.out).toBe(0);
});

afterAll(async () => {
  if (folder !== '') {
    dataLabs('services', 'down', LAB, folder, '--remove');
  }
  if (work !== '') {
    await fs.rm(work, { recursive: true, force: true });
  }
});

describe('grading in CI, then importing its report', () => {
  it('data-labs ci writes a workflow that runs the grading script and keeps its report, and a grader without the solution', async () => {
    const written = dataLabs('ci', LAB, folder);
    expect(written.code, written.out).toBe(0);
    const workflow = await fs.readFile(path.join(folder, '.github', 'workflows', 'data-labs.yml'), 'utf8');
    expect(workflow).toContain('run: bash .data-labs-ci/grade.sh');
    expect(workflow).toMatch(/uses: actions\/upload-artifact@v4\s+with:\s+name: data-labs-grade\s+path: data-labs-grade\.json/);
    expect(workflow).toMatch(/runs-on: ubuntu-latest/);
    const bundled = path.join(folder, '.data-labs-ci', 'labs', LAB);
    expect(existsSync(path.join(bundled, 'lab.json'))).toBe(true);
    for (const left of ['solution', 'alternatives', 'mutants', 'grader']) {
      expect(existsSync(path.join(bundled, left)), left).toBe(false);
    }
    // Nothing of the reference solution's code is in the folder.
    const solution = await fs.readFile(path.join(REPO_ROOT, 'labs', LAB, 'solution', 'src', 'payments.ts'), 'utf8');
    const grep = run('grep', ['-rlF', solution.split('\n').find((l) => l.includes('INSERT INTO')) ?? 'INSERT INTO', '.data-labs-ci'], { cwd: folder });
    expect(grep.out.trim()).toBe('');
  });

  it('the starter, graded by the script: exit 1, a report that cannot be imported', () => {
    const graded = run('bash', ['.data-labs-ci/grade.sh'], { cwd: folder, env: { RUNNER_TEMP: path.join(work, 'runner') } });
    expect(graded.code, graded.out).toBe(1);
    const report = gradeReportSchema.parse(JSON.parse(readFileSync(path.join(folder, 'data-labs-grade.json'), 'utf8')));
    expect(report).toMatchObject({ labId: LAB, backend: 'docker', passed: false });
    const imported = dataLabs('import-grade', path.join(folder, 'data-labs-grade.json'), folder);
    expect(imported.code).toBe(1);
    expect(imported.out).toMatch(/was not recorded: no check could run there: .*TODO/);
    expect(progress().labs?.[LAB]?.passedAt).toBeUndefined();
  });

  it('the solved code, graded by the script with Docker: exit 0; importing it ticks the lab here, and only for that code', async () => {
    await fs.cp(path.join(REPO_ROOT, 'labs', LAB, 'solution'), folder, { recursive: true });
    const graded = run('bash', ['.data-labs-ci/grade.sh'], { cwd: folder, env: { RUNNER_TEMP: path.join(work, 'runner') } });
    expect(graded.code, graded.out).toBe(0);
    expect(graded.out).toContain('11/11 checks passed');
    const reportFile = path.join(folder, 'data-labs-grade.json');
    const report = gradeReportSchema.parse(JSON.parse(readFileSync(reportFile, 'utf8')));
    expect(report).toMatchObject({ labId: LAB, backend: 'docker', passed: true, sources: { files: 3 } });
    // The runner's progress is its own: the learner's is untouched until the import.
    expect(progress().labs?.[LAB]?.passedAt).toBeUndefined();

    // The code changes after the grading: that report is not for it.
    const main = path.join(folder, 'src', 'payments.ts');
    const graded_code = await fs.readFile(main, 'utf8');
    await fs.writeFile(main, `${graded_code}\n// changed after the grading\n`);
    const refused = dataLabs('import-grade', reportFile, folder);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('graded other code than the code in');
    expect(progress().labs?.[LAB]?.passedAt).toBeUndefined();

    await fs.writeFile(main, graded_code);
    const imported = dataLabs('import-grade', reportFile, folder);
    expect(imported.code, imported.out).toBe(0);
    expect(imported.out).toMatch(/Recorded: Idempotency keys passed 11\/11 checks on PostgreSQL in Docker/);
    const after = progress();
    expect(after.labs?.[LAB]?.passedAt).toEqual(expect.any(String));
    expect(Object.keys(after.items ?? {})).toEqual(expect.arrayContaining(['add-idempotency-keys', 'handle-retries-safely']));
  }, 5 * 60_000);
});
