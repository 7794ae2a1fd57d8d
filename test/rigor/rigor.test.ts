/**
 * Every grader held to its promise, whatever the lab: it never fails correct code and never
 * passes broken code. For each lab pack with a grader (found in labs/, none named here):
 *
 * - its mutants are well formed: each fails a check the lab declares, changes only files of
 *   the learner's folder (and really changes them), and every check has a mutant;
 * - the reference (the lab's starter with its solution laid over it) passes every check on
 *   each reference seed, on Docker;
 * - without Docker (the embedded PostgreSQL, or the grader's stand-ins), a check whose
 *   scenario needs Docker is "unknown", never passed, and every other one passes;
 * - each correct solution written another way (`alternatives/<name>/`) passes every check on
 *   each reference seed: correct code is never failed for its style;
 * - each mutant fails the check mutants.json names for it, on every mutant seed, with a hint
 *   and culprits in the history.
 *
 * Seeds: 3 per reference and 2 per mutant by default (CI); `npm run test:rigor -- --seeds 20`
 * for the full sweep. What is particular to one lab is in its labs/<id>/grader/rigor.test.ts.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_CANNOT } from '../../src/core/grading/engine';
import { gradeLab } from '../../src/core/grading/gradeLab';
import { alternativesIn } from '../support/labVariants';
import { LABS_DIR, MUTANT_SEEDS, REFERENCE_SEEDS, assembleVariant, gradedLabIds, mutantFiles, mutantsOf, useGradingEnvironment } from './support';

/** A mutant's gradings take up to about 10 s a seed (a pool starved under 50 concurrent sagas); its test has room for all its seeds. */
const MUTANT_TIMEOUT_MS = Math.max(180_000, MUTANT_SEEDS.length * 20_000);

/** The schemas grading runs make in a lab's database (`grade_<random>`, and what a grader derives from it) that are still there. */
async function runSchemasLeft(databaseUrl: string): Promise<string[]> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ name: string }>("SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE 'grade\\_%' ORDER BY 1");
    return result.rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

describe.each(gradedLabIds())('%s', (labId) => {
  const env = useGradingEnvironment(labId);
  const mutants = mutantsOf(labId);
  const checkIds = (): string[] => (env.lab.manifest.grader?.checks ?? []).map((c) => c.id);

  it('has mutants that each fail a declared check by changing files of the learner\'s folder, and a mutant for every check', async () => {
    const { lab } = env;
    expect(mutants.length).toBeGreaterThan(0);
    const learnerFiles = new Set(lab.manifest.starter.files);
    for (const m of mutants) {
      expect(checkIds(), `${m.mutant} fails a check the lab declares`).toContain(m.fails);
      const files = await mutantFiles(lab, m.mutant);
      expect(files.length, `${m.mutant} changes at least one file`).toBeGreaterThan(0);
      for (const file of files) {
        expect(learnerFiles.has(file), `${m.mutant}/${file} is one of the starter's files`).toBe(true);
        const changed = await fs.readFile(path.join(lab.dir, 'mutants', m.mutant, file), 'utf8');
        const solution = await fs.readFile(path.join(lab.dir, 'solution', file), 'utf8').catch(() => fs.readFile(path.join(lab.dir, lab.manifest.starter.dir, file), 'utf8'));
        expect(changed, `${m.mutant}/${file} differs from the reference`).not.toBe(solution);
      }
    }
    expect(new Set(mutants.map((m) => m.fails))).toEqual(new Set(checkIds()));
  });

  it.each(REFERENCE_SEEDS)('the reference passes every check on Docker, seed %i', async (seed) => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab), seed));
    const notPassed = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}: ${c.actual}`);
    expect(notPassed).toEqual([]);
    expect(report.problem).toBeUndefined();
    expect(report.checks.map((c) => c.id)).toEqual(checkIds());
    expect(report.passed).toBe(true);
    expect(report.engine).toBe(env.grader.engineLabel('docker'));
    // Nothing of the run is left in the learner's database.
    if (env.grader.services === 'database') {
      expect(await runSchemasLeft(env.dockerUrl)).toEqual([]);
    }
  });

  it('without Docker, the reference passes every check that can run there, and the others are unknown, never passed', async () => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab), 1, { backend: 'embedded' }));
    // The checks only: a demonstration is shown apart (report.demonstrations), never graded.
    const needsDocker = new Set(env.grader.scenarios.filter((s) => s.teaching !== true && (s.needs ?? []).some((n) => n in EMBEDDED_CANNOT)).map((s) => s.id));
    const verdicts = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    expect(verdicts).toEqual(Object.fromEntries(checkIds().map((id) => [id, needsDocker.has(id) ? 'unknown' : 'pass'])));
    for (const id of needsDocker) {
      expect(report.checks.find((c) => c.id === id)).toMatchObject({ needsDocker: true, actual: expect.stringMatching(/^Not run on the embedded engine/) as unknown });
    }
    expect(report.passed).toBe(needsDocker.size === 0);
    expect(report.engine).toBe(env.grader.engineLabel('embedded'));
  });

  describe.each(alternativesIn(path.join(LABS_DIR, labId)))('the correct solution %s, written another way', (alternative) => {
    it.each(REFERENCE_SEEDS)('passes every check on Docker, seed %i', async (seed) => {
      const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab, { alternative }), seed));
      const notPassed = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}: ${c.actual}`);
      expect(notPassed).toEqual([]);
      expect(report.problem).toBeUndefined();
      expect(report.passed).toBe(true);
    });
  });

  describe.each(mutants)('mutant $mutant', ({ mutant, fails }) => {
    it(`fails ${fails} on every mutant seed, with a hint, pointing at events in the history`, async () => {
      const dir = await assembleVariant(env.lab, { mutant });
      const verdicts: string[] = [];
      for (const seed of MUTANT_SEEDS) {
        const report = await gradeLab(env.lab, env.grader, await env.options(dir, seed, { only: [fails] }));
        const check = report.checks[0];
        verdicts.push(`${seed}:${check?.status ?? report.problem?.message ?? 'nothing'}`);
        if (check?.status === 'fail') {
          expect(check.hint, `seed ${seed}: a failure comes with a hint`).toBeTruthy();
          expect(check.culprits?.length ?? 0, `seed ${seed}: the failure points at events in the history`).toBeGreaterThan(0);
        }
      }
      expect(verdicts).toEqual(MUTANT_SEEDS.map((s) => `${s}:fail`));
    }, MUTANT_TIMEOUT_MS);
  });
});
