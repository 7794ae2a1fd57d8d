/**
 * The Quorum grader, beyond what test/rigor holds every grader to (the reference passes on
 * the Redis replicas in Docker and on the in-process ones, each mutant fails its check,
 * across seeds): the demonstration, which is shown and never graded; what the report draws
 * of a linearizability failure (one key's timeline among several); and the command line.
 * The containers are this file's own (useGradingEnvironment): the grader pauses, kills and
 * cuts them off.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GradingCancelledError } from '../../../src/core/grading/engine';
import { gradeLab } from '../../../src/core/grading/gradeLab';
import { gradeReportSchema } from '../../../src/core/grading/report';
import { buildReportModel } from '../../../src/core/grading/reportModel';
import { CLI, IMAGES, assembleVariant, mutantsOf, useGradingEnvironment } from '../../../test/rigor/support';
import { registerOps } from './history';

const LAB = 'quorum';
const env = useGradingEnvironment(LAB);
const mutants = mutantsOf(LAB);
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
  expect(report.score.total).toBe(env.lab.manifest.grader?.checks.length);
}

describe('the demonstration', () => {
  it.each(['docker', 'embedded'] as const)('shows a stale read with R = W = 1 on %s, apart from the checks', async (backend) => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab), 2, { backend }));
    expect(report.passed).toBe(true);
    expectDemonstrationShown(report);
  });
});

describe('the report of a failure', () => {
  it('of linearizability draws one key: a focus on its operations only, culprits among them, and a report that matches the schema', async () => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab, { mutant: 'clock-only-versions' }), 4, { only: ['linearizable-under-faults'] }));
    expect(gradeReportSchema.safeParse(report).error).toBeUndefined();
    const check = report.checks[0];
    expect(check?.status).toBe('fail');
    const key = /^key (\S+)$/.exec(check?.focus?.label ?? '')?.[1];
    expect(key, `the focus names one key: ${check?.focus?.label}`).toBeTruthy();
    // Events only: the key's operations, not whole client lanes (the clients used every key).
    expect(check?.focus?.processes).toEqual([]);
    // The report's history is the grader's own vocabulary (history.ts), read back as such.
    const history = (check?.history ?? []) as Parameters<typeof registerOps>[0];
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

describe('cancelling a grading', () => {
  it('in the middle of the nemesis: it stops, and every replica is left running, unpaused and answering', async () => {
    const options = await env.options(await assembleVariant(env.lab), 3, { only: ['linearizable-under-faults'] });
    const labServices = options.labServices;
    if (labServices === undefined) throw new Error('the grading options have no containers');
    const cancel = new AbortController();
    const grading = gradeLab(env.lab, env.grader, { ...options, signal: cancel.signal });
    // Cancelled while the nemesis has a container down (paused, or killed and not yet back).
    let down: string | undefined;
    const deadline = Date.now() + 30_000;
    while (down === undefined && Date.now() < deadline) {
      const statuses = await Promise.all(labServices.connections.map(async (c) => `${c.name}: ${(await labServices.runtime.inspectContainer(c.containerId)).status}`));
      down = statuses.find((s) => !s.endsWith(': running'));
      if (down === undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(down, 'the nemesis took a container down').toBeDefined();
    cancel.abort();
    await expect(grading).rejects.toBeInstanceOf(GradingCancelledError);
    for (const connection of labServices.connections) {
      const info = await labServices.runtime.inspectContainer(connection.containerId);
      expect(`${connection.name}: ${info.status}`).toBe(`${connection.name}: running`);
    }
    // The replicas answer: the reference grades again, and passes, on the same containers.
    const again = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab), 3, { only: ['linearizable-under-faults'] }));
    expect(again.checks.map((c) => c.status)).toEqual(['pass']);
  });
});

describe('data-labs grade quorum', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', LAB, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: env.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(env.workDir, 'progress') },
      timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  // The command line runs on the grader's in-process replicas: on Docker it would start and
  // break the lab's own containers (lab id "quorum"), which a learner's or another test's
  // grading may be using at the same time. gradeLab on Docker is held to the same checks.
  it('exits 0 for the reference and prints the documented JSON, with the demonstration apart, which ticks the checklist', async () => {
    const run = grade([await assembleVariant(env.lab), '--seed', '7', '--backend', 'embedded', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    expect(report.seed).toBe(7);
    expect(report.checks.map((c) => c.id)).toEqual(env.lab.manifest.grader?.checks.map((c) => c.id));
    expectDemonstrationShown(report);
    const progress = JSON.parse(await fs.readFile(path.join(env.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['implement-quorum-reads-writes']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', async () => {
    const m = mutants.find((x) => x.mutant === 'no-read-repair') ?? (mutants[0] as { mutant: string; fails: string });
    const run = grade([await assembleVariant(env.lab, { mutant: m.mutant }), '--seed', '3', '--backend', 'embedded', '--check', m.fails]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    expect(run.stdout).toMatch(/hint: /);
    expect(run.stdout).toMatch(/data-labs grade quorum .*--backend embedded.*--seed 3/);
  });
});
