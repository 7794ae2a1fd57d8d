/**
 * Lab packs: a graded lab is its folder, and nothing central lists it.
 *
 * - Every lab's grader runs exactly the checks its lab.json declares, in that order, with
 *   the demonstrations apart (the test fails when the two differ), and the kit's own check
 *   of that agreement catches each way they can differ.
 * - The labs with a grader are the labs whose lab.json declares checks.
 * - A lab folder the product has never seen (the fixture under test/fixtures/lab-pack) is
 *   found, validated, bundled with its grader and adapter, and graded by the command line
 *   built for that labs folder: its reference passes and its mutants fail their checks.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { type LabGrader, scenarioProblems } from '../../src/core/grading/labGrader';
import { bundledGraderIds, loadLabGrader } from '../../src/core/grading/labGraders';
import { gradeReportSchema } from '../../src/core/grading/report';
import { type Lab, loadCatalog } from '../../src/core/labs/catalog';
import type { LabManifest } from '../../src/core/labs/manifest';
import { assembleVariant } from '../support/labVariants';
import { REAL_LABS_DIR, REPO_ROOT, buildScript, useTempDirs } from './helpers';

const FIXTURE_LABS = path.join(REPO_ROOT, 'test', 'fixtures', 'lab-pack', 'labs');
const tempDir = useTempDirs('ddl-lab-packs-');

async function graded(labsDir: string): Promise<Lab[]> {
  return (await loadCatalog(labsDir)).filter((e): e is Lab => e.ok && e.manifest.grader !== undefined);
}

describe("every lab's grader and its lab.json", () => {
  it('the labs with a grader are exactly those whose lab.json declares checks', async () => {
    const declared = (await graded(REAL_LABS_DIR)).map((l) => l.id).sort();
    expect(bundledGraderIds()).toEqual(declared);
    expect(buildScript().gradedLabIds()).toEqual(declared);
    expect(declared.length).toBeGreaterThanOrEqual(3);
  });

  it('run the checks lab.json declares, in its order, and its demonstrations apart', async () => {
    for (const lab of [...(await graded(REAL_LABS_DIR)), ...(await graded(FIXTURE_LABS))]) {
      const grader: LabGrader =
        lab.dir.startsWith(FIXTURE_LABS) ? ((await import(path.join(lab.dir, 'grader', 'index.ts'))) as { grader: LabGrader }).grader : await loadLabGrader(lab);
      expect(scenarioProblems(lab.manifest, grader.scenarios), lab.id).toEqual([]);
    }
  });

  it("the kit's agreement check names each way a grader and its lab.json can differ", () => {
    const manifest = (checks: string[], demonstrations: string[] = []): LabManifest =>
      ({
        id: 'x',
        grader: {
          checks: checks.map((id) => ({ id, title: id, expects: `${id} holds`, needsDocker: id.startsWith('docker') })),
          demonstrations: demonstrations.map((id) => ({ id, title: id, expects: `${id} shows`, needsDocker: false })),
        },
      }) as unknown as LabManifest;
    const run = (...ids: string[]): { id: string; teaching?: boolean }[] => ids.map((id) => (id.startsWith('demo') ? { id, teaching: true } : { id }));
    expect(scenarioProblems(manifest(['a', 'b'], ['demo']), run('a', 'b', 'demo'))).toEqual([]);
    expect(scenarioProblems(manifest(['a', 'b']), run('a'))).toEqual(['lab.json declares "b", which no scenario of the grader runs']);
    expect(scenarioProblems(manifest(['a']), run('a', 'c'))).toEqual(['the grader runs a scenario "c", which lab.json does not declare']);
    expect(scenarioProblems(manifest(['a', 'b']), run('b', 'a'))).toEqual(['the grader runs its scenarios in another order (b, a) than lab.json declares them (a, b)']);
    expect(scenarioProblems(manifest(['a'], ['demo']), [{ id: 'a' }, { id: 'demo' }])).toEqual(['"demo" is a demonstration in lab.json, but the grader grades it']);
    expect(scenarioProblems(manifest(['a', 'demo']), run('a', 'demo'))).toEqual(['"demo" is a check in lab.json, but the grader runs it as a demonstration']);
    // Whether a check needs Docker: lab.json says so exactly when its scenario needs what the embedded engine cannot do.
    expect(scenarioProblems(manifest(['docker-a']), [{ id: 'docker-a', needs: ['concurrency'] }])).toEqual([]);
    expect(scenarioProblems(manifest(['a']), [{ id: 'a', needs: ['container-faults'] }])).toEqual(['"a" needs Docker (container-faults), which lab.json does not say ("needsDocker": true)']);
    expect(scenarioProblems(manifest(['docker-a']), [{ id: 'docker-a' }])).toEqual(['lab.json says "docker-a" needs Docker, but its scenario runs on the embedded engine too']);
  });
});

describe('a lab folder the product has never seen', () => {
  it('is picked up with no central edit: validated, bundled, and graded by the command line', async () => {
    // A product tree of its own: the fixture's labs folder (linked: its grader imports the kit
    // from this repository), and a command line and sandbox built for it.
    const product = await tempDir();
    await fs.symlink(FIXTURE_LABS, path.join(product, 'labs'), 'dir');
    const labsDir = FIXTURE_LABS;
    const build = buildScript();
    expect(build.labGraderRegistrySource(labsDir)).toContain('"tally"');
    await esbuild.build({ ...build.cliOptions(path.join(product, 'dist', 'cli.js'), { labsDir }), logLevel: 'silent' });
    await esbuild.build({ ...build.sandboxOptions(path.join(product, 'dist', 'sandbox'), { labsDir }), logLevel: 'silent' });
    await fs.access(path.join(product, 'dist', 'sandbox', 'adapters', 'tally.cjs'));
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } => {
      const result = spawnSync(process.execPath, [path.join(product, 'dist', 'cli.js'), ...args], { encoding: 'utf8', env: { ...process.env, DATA_LABS_PROGRESS_DIR: path.join(product, 'progress'), ...env }, timeout: 60_000 });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    };

    const validate = cli(['validate']);
    expect(validate.stdout).toContain('ok    tally');
    expect(validate.status).toBe(0);

    // The learner's folders: the starter with the solution, or a mutant, laid over it, as the
    // rigor tests assemble every lab's (inside the repository: esbuild comes from its node_modules).
    const lab = (await graded(labsDir))[0] as Lab;

    const reference = cli(['grade', 'tally', await assembleVariant(lab), '--seed', '5', '--json']);
    expect(reference.stderr).toBe('');
    expect(reference.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(reference.stdout));
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ['retries-counted-once', 'pass'],
      ['every-entry-counted', 'pass'],
    ]);
    expect(report.checks[0]?.expected).toBe('An entry sent several times under one id adds its amount once.');
    expect(report.engine).toBe('no services');

    const mutants = JSON.parse(await fs.readFile(path.join(lab.dir, 'mutants', 'mutants.json'), 'utf8')) as { mutant: string; fails: string }[];
    for (const m of mutants) {
      const run = cli(['grade', 'tally', await assembleVariant(lab, { mutant: m.mutant }), '--seed', '5', '--check', m.fails]);
      expect(run.status, `${m.mutant}: ${run.stdout}${run.stderr}`).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    }
  });
});
