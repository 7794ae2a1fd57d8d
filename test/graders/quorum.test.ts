/**
 * The Quorum grader held to its promise: it never fails correct code and never passes
 * broken code. The reference (test/graders/quorum/reference, the lab's solution) passes
 * every check on 10 seeds on the lab's three Redis containers, each behind the grader's
 * fault proxy, and on a few seeds on the grader's in-process replicas (no Docker); each
 * mutant (a realistic bug, one per folder) fails the check mutants.json names for it on
 * every one of the same 10 seeds. The containers are this file's own (useLabContainers):
 * the grader pauses, kills and cuts them off. Then what the report shows of a failure and
 * of the demonstration, which is never graded, and the command line.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../src/core/grading/gradeLab';
import { QUORUM_CHECKS, quorumGrader, registerOps } from '../../src/core/grading/labs/quorum';
import { gradeReportSchema } from '../../src/core/grading/report';
import { buildReportModel } from '../../src/core/grading/reportModel';
import { CLI, IMAGES, ROOT, SEEDS, mutantsOf, useLabContainers } from './support';

const here = path.join(ROOT, 'test', 'graders', 'quorum');
const reference = path.join(here, 'reference');
const mutants = mutantsOf('quorum');
const lab = useLabContainers('quorum');
const options = lab.options.bind(lab);
const CHECK_IDS = QUORUM_CHECKS.map((c) => c.id);
const DEMO = 'stale-read-demo';

interface Shown {
  readonly checks: readonly { readonly id: string }[];
  readonly demonstrations?: readonly { readonly id: string; readonly status: string; readonly actual: string }[] | undefined;
  readonly score: { readonly total: number };
}

/** The demonstration is reported on its own, as shown, and never counts. */
function expectDemonstrationShown(report: Shown): void {
  expect(report.demonstrations?.map((d) => `${d.id}: ${d.status}`)).toEqual([`${DEMO}: pass`]);
  expect(report.demonstrations?.[0]?.actual).toMatch(/^Not graded, just shown: /);
  expect(report.checks.map((c) => c.id)).not.toContain(DEMO);
  expect(report.score.total).toBe(QUORUM_CHECKS.length);
}

describe('the reference passes every check', () => {
  it.each(SEEDS)('on the Redis replicas in Docker, seed %i', async (seed) => {
    const report = await gradeLab(quorumGrader, await options(reference, seed));
    const notPassed = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}: ${c.actual}`);
    expect(notPassed).toEqual([]);
    expect(report.checks.map((c) => c.id)).toEqual(CHECK_IDS);
    expect(report.passed).toBe(true);
    expect(report.engine).toBe('Redis replicas in Docker');
    expectDemonstrationShown(report);
  });

  it.each([1, 2, 3])('on the in-process replicas (no Docker), seed %i', async (seed) => {
    const report = await gradeLab(quorumGrader, await options(reference, seed, { backend: 'embedded' }));
    const notPassed = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}: ${c.actual}`);
    expect(notPassed).toEqual([]);
    expect(report.checks.map((c) => c.id)).toEqual(CHECK_IDS);
    expect(report.passed).toBe(true);
    expect(report.engine).toBe('in-process replicas (no Docker)');
    expectDemonstrationShown(report);
  });
});

describe('each mutant fails the check named for it, on every seed', () => {
  it('has at least 9 mutants, each naming a real check and a folder, and every check has one', async () => {
    expect(mutants.length).toBeGreaterThanOrEqual(9);
    for (const m of mutants) {
      expect(CHECK_IDS).toContain(m.fails);
      await fs.access(path.join(here, 'mutants', m.mutant, 'src', 'quorum.ts'));
    }
    expect(new Set(mutants.map((m) => m.fails))).toEqual(new Set(CHECK_IDS));
  });

  describe.each(mutants)('$mutant', ({ mutant, fails }) => {
    it(`fails ${fails} on seeds 1-10, with a hint, pointing at events in the history`, async () => {
      const verdicts: string[] = [];
      for (const seed of SEEDS) {
        const report = await gradeLab(quorumGrader, await options(path.join(here, 'mutants', mutant), seed, { only: [fails] }));
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

describe('the report of a failure', () => {
  it('of linearizability draws one key: a focus on its operations only, culprits among them, and a report that matches the schema', async () => {
    const report = await gradeLab(quorumGrader, await options(path.join(here, 'mutants', 'clock-only-versions'), 4, { only: ['linearizable-under-faults'] }));
    expect(gradeReportSchema.safeParse(report).error).toBeUndefined();
    const check = report.checks[0];
    expect(check?.status).toBe('fail');
    const key = /^key (\S+)$/.exec(check?.focus?.label ?? '')?.[1];
    expect(key, `the focus names one key: ${check?.focus?.label}`).toBeTruthy();
    // Events only: the key's operations, not whole client lanes (the clients used every key).
    expect(check?.focus?.processes).toEqual([]);
    const history = check?.history ?? [];
    const ops = registerOps(history);
    const ofKey = new Set(ops.filter((o) => o.key === key).flatMap((o) => (o.complete !== undefined ? [o.invoke, o.complete] : [o.invoke])));
    const otherKeys = ops.filter((o) => o.key !== key);
    expect(otherKeys.length, 'the scenario used other keys too').toBeGreaterThan(0);
    expect(new Set(check?.focus?.events)).toEqual(ofKey);
    expect(check?.culprits?.length ?? 0).toBeGreaterThan(0);
    expect(check?.culprits?.filter((i) => !ofKey.has(i))).toEqual([]);
    expect(check?.actual).toContain(`${key}`);
    // The report draws that key's timeline: the other keys' operations are hidden, the culprits highlighted.
    const timeline = buildReportModel(report, 'Quorum replication').checks[0]?.timeline;
    expect(timeline?.focus?.label).toBe(`key ${key}`);
    expect(timeline?.focus?.hiddenEvents).toBeGreaterThan(0);
    expect(timeline?.lanes.flatMap((l) => l.bars).some((b) => b.highlighted)).toBe(true);
  });
});

describe('data-labs grade quorum', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', 'quorum', ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: lab.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(lab.workDir, 'progress') },
      timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  // The command line runs on the grader's in-process replicas: on Docker it would start and
  // break the lab's own containers (lab id "quorum"), which a learner's or another test's
  // grading may be using at the same time. gradeLab on Docker is held to the same checks above.
  it('exits 0 for the reference and prints the documented JSON, with the demonstration apart, which ticks the checklist', async () => {
    const run = grade([reference, '--seed', '7', '--backend', 'embedded', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    expect(report.seed).toBe(7);
    expect(report.checks.map((c) => c.id)).toEqual(CHECK_IDS);
    expectDemonstrationShown(report);
    const progress = JSON.parse(await fs.readFile(path.join(lab.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['implement-quorum-reads-writes']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', () => {
    const m = mutants.find((x) => x.mutant === 'no-read-repair') ?? (mutants[0] as { mutant: string; fails: string });
    const dir = path.join(here, 'mutants', m.mutant);
    const run = grade([dir, '--seed', '3', '--backend', 'embedded', '--check', m.fails]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    expect(run.stdout).toMatch(/hint: /);
    expect(run.stdout).toMatch(/data-labs grade quorum .*--backend embedded.*--seed 3/);
  });
});
