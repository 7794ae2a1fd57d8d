/**
 * Importing a grade made elsewhere (core/grading/importGrade.ts) and writing the CI grader
 * (core/grading/ciGrading.ts), on real files: which reports are recorded and why the others
 * are not, what digest a lab's code has, and that nothing is written through a link. The
 * whole path, with Docker and the real command line, is test/docker/ciGrading.test.ts.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CiGradingError, writeCiGrading } from '../../src/core/grading/ciGrading';
import { checkImportedGrade } from '../../src/core/grading/importGrade';
import type { CheckResult, GradeReport } from '../../src/core/grading/report';
import { gradedSources } from '../../src/core/grading/sources';
import { type Lab, findLab, loadCatalog } from '../../src/core/labs/catalog';
import { REAL_LABS_DIR, useTempDirs } from './helpers';

const tempDir = useTempDirs('ddl-import-grade-');
let lab: Lab;

beforeAll(async () => {
  const entry = findLab(await loadCatalog(REAL_LABS_DIR), 'saga');
  if (entry?.ok !== true) throw new Error('the saga lab does not load');
  lab = entry;
});

async function learnerFolder(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await fs.writeFile(path.join(dir, file), text);
  }
  return dir;
}

function report(sources: GradeReport['sources'], status: CheckResult['status'] = 'pass', count = lab.manifest.grader?.checks.length ?? 0): GradeReport {
  const checks = (lab.manifest.grader?.checks ?? []).slice(0, count).map((c, i): CheckResult => ({ id: c.id, title: c.title, status: i === 0 ? status : 'pass', expected: c.expects, actual: 'x', seed: 1, durationMs: 1, history: [] }));
  const passed = checks.filter((c) => c.status === 'pass').length;
  return {
    version: 1,
    labId: lab.id,
    backend: 'docker',
    seed: 1,
    startedAt: '2026-12-04T10:00:00.000Z',
    durationMs: 10,
    passed: passed === checks.length,
    score: { passed, failed: checks.filter((c) => c.status === 'fail').length, unknown: checks.filter((c) => c.status === 'unknown').length, total: checks.length },
    checks,
    ...(sources !== undefined ? { sources } : {}),
  };
}

describe('gradedSources', () => {
  it('digests every file under src/ by path and content, and nothing else', async () => {
    const dir = await learnerFolder({ 'src/saga.ts': 'a', 'src/lib/util.ts': 'b', 'test/x.test.ts': 'c', 'README.md': 'd' });
    const first = await gradedSources(dir);
    expect(first.files).toBe(2);
    await fs.writeFile(path.join(dir, 'test', 'x.test.ts'), 'changed');
    expect(await gradedSources(dir)).toEqual(first);
    await fs.writeFile(path.join(dir, 'src', 'lib', 'util.ts'), 'B');
    expect((await gradedSources(dir)).digest).not.toBe(first.digest);
    // The same bytes under another name are other code.
    const moved = await learnerFolder({ 'src/saga.ts': 'a', 'src/lib/utils.ts': 'b' });
    expect((await gradedSources(moved)).digest).not.toBe(first.digest);
    expect(await gradedSources(await learnerFolder({}))).toMatchObject({ files: 0 });
  });
});

describe('checkImportedGrade', () => {
  const find = (id: string): Lab | undefined => (id === lab.id ? lab : undefined);

  it('records a full passing grading of the code in the folder, and says why it refuses every other report', async () => {
    const dir = await learnerFolder({ 'src/saga.ts': 'export {}' });
    const sources = await gradedSources(dir);
    const check = (value: unknown): Promise<Awaited<ReturnType<typeof checkImportedGrade>>> => checkImportedGrade(typeof value === 'string' ? value : JSON.stringify(value), find, () => dir);
    expect(await check(report(sources))).toMatchObject({ ok: true, lab: { id: 'saga' } });
    const reasons = await Promise.all([
      check('{ not json'),
      check({ version: 1, labId: 'saga' }),
      check({ ...report(sources), labId: 'no-such-lab' }),
      check(report(sources, 'fail')),
      check(report(sources, 'unknown')),
      check(report(sources, 'pass', 2)),
      check(report(undefined)),
      check(report({ digest: '0'.repeat(64), files: 1 })),
      check({ ...report(sources, 'pass', 0), passed: false, problem: { kind: 'compile', message: 'src/saga.ts does not compile.', diagnostics: [] } }),
    ]);
    expect(reasons.map((r) => (r.ok ? 'recorded' : r.reason))).toEqual([
      expect.stringMatching(/^it is not JSON/),
      expect.stringMatching(/^it is not a grade report of this version/),
      expect.stringMatching(/^it grades "no-such-lab", which is not a graded lab/),
      expect.stringMatching(/^7\/8 checks passed there \(1 failed, 0 undecided\): nothing to record/),
      expect.stringMatching(/^7\/8 checks passed there \(0 failed, 1 undecided\)/),
      expect.stringMatching(/^it ran 2 of the lab's 8 checks/),
      expect.stringMatching(/^it does not say which code it graded/),
      expect.stringMatching(/^it graded other code than the code in /),
      expect.stringMatching(/^no check could run there: src\/saga.ts does not compile\./),
    ]);
  });
});

describe('writeCiGrading', () => {
  async function product(): Promise<string> {
    const root = await tempDir();
    await fs.mkdir(path.join(root, 'dist', 'sandbox', 'adapters'), { recursive: true });
    await fs.writeFile(path.join(root, 'dist', 'cli.js'), '// the command line');
    await fs.writeFile(path.join(root, 'dist', 'sandbox', 'adapters', 'saga.cjs'), '// an adapter');
    await fs.writeFile(path.join(root, 'package.json'), JSON.stringify({ name: 'distributed-data-labs', version: '9.9.9', devDependencies: {} }));
    return root;
  }

  it('writes the workflow, the script and the grader, without the solution, and writes them again over an old copy', async () => {
    const root = await product();
    const dir = await learnerFolder({ 'src/saga.ts': 'export {}' });
    await fs.mkdir(path.join(dir, '.data-labs-ci', 'stale'), { recursive: true });
    const written = await writeCiGrading({ lab, labDir: dir, productRoot: root });
    expect(written).toContain('.github/workflows/data-labs.yml');
    expect(await fs.readFile(path.join(dir, '.data-labs-ci', 'grade.sh'), 'utf8')).toContain('node .data-labs-ci/dist/cli.js grade saga . --backend docker --report data-labs-grade.json');
    expect(JSON.parse(await fs.readFile(path.join(dir, '.data-labs-ci', 'package.json'), 'utf8'))).toEqual({ name: 'distributed-data-labs', version: '9.9.9', private: true });
    expect((await fs.readdir(path.join(dir, '.data-labs-ci', 'labs', 'saga'))).sort()).not.toEqual(expect.arrayContaining(['solution']));
    for (const gone of ['stale', 'labs/saga/solution', 'labs/saga/mutants', 'labs/saga/alternatives', 'labs/saga/grader']) {
      await expect(fs.stat(path.join(dir, '.data-labs-ci', gone)), gone).rejects.toThrow();
    }
    await expect(fs.stat(path.join(dir, '.data-labs-ci', 'labs', 'saga', 'lab.json'))).resolves.toBeTruthy();
  });

  it('writes nothing through a link the folder holds, and says what is missing from an unbuilt product', async () => {
    const root = await product();
    const elsewhere = await tempDir();
    const dir = await learnerFolder({ 'src/saga.ts': 'export {}' });
    await fs.symlink(elsewhere, path.join(dir, '.github'), 'dir');
    await expect(writeCiGrading({ lab, labDir: dir, productRoot: root })).rejects.toThrow(CiGradingError);
    expect(await fs.readdir(elsewhere)).toEqual([]);
    await fs.rm(path.join(dir, '.github'));
    await fs.rm(path.join(root, 'dist', 'cli.js'));
    await expect(writeCiGrading({ lab, labDir: dir, productRoot: root })).rejects.toThrow(/cli\.js is missing: build the product first/);
  });
});
