/**
 * The Multi-Master grader, beyond what test/rigor holds every grader to: the demonstration,
 * shown and never graded; what the report draws of a failure (each region a lane, each
 * message an arrow between lanes, the culprits highlighted); cancelling a grading while a
 * store is down; and the command line. The containers are this file's own.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GradingCancelledError } from '../../../src/core/grading/engine';
import { gradeLab } from '../../../src/core/grading/gradeLab';
import { gradeReportSchema } from '../../../src/core/grading/report';
import { buildReportModel } from '../../../src/core/grading/reportModel';
import { CLI, IMAGES, assembleVariant, useGradingEnvironment } from '../../../test/rigor/support';

const LAB = 'multi-master';
const env = useGradingEnvironment(LAB);
const DEMO = 'lww-vs-or-set';

interface Shown {
  readonly checks: readonly { readonly id: string }[];
  readonly demonstrations?: readonly { readonly id: string; readonly status: string; readonly actual: string }[] | undefined;
  readonly score: { readonly total: number };
}

function expectDemonstrationShown(report: Shown): void {
  expect(report.demonstrations?.map((d) => `${d.id}: ${d.status}`)).toEqual([`${DEMO}: pass`]);
  expect(report.demonstrations?.[0]?.actual).toMatch(/^Not graded, just shown: .*last-write-wins value, it ends as '[^']+': '(eggs|bread)' dropped.*OR-Set, it ends as 'bread', 'eggs', 'milk': nothing lost/);
  expect(report.checks.map((c) => c.id)).not.toContain(DEMO);
  expect(report.score.total).toBe(env.lab.manifest.grader?.checks.length);
}

describe('the demonstration', () => {
  it.each(['docker', 'embedded'] as const)('shows LWW dropping an item the OR-Set keeps, on %s, apart from the checks', async (backend) => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab), 2, { backend }));
    expect(report.passed).toBe(true);
    expectDemonstrationShown(report);
    // Drawn as a timeline per region, the messages as arrows between them.
    const demo = buildReportModel(report, 'Multi-master replication').demonstrations?.[0]?.timeline;
    expect(demo?.lanes.map((l) => l.process)).toEqual(expect.arrayContaining(['eu', 'us', 'ap']));
    expect(demo?.arrows.length ?? 0).toBeGreaterThan(0);
    expect(demo?.arrows.every((a) => a.from.process !== a.to.process)).toBe(true);
  });
});

describe('the report of a failure', () => {
  it('draws the regions as lanes and the messages as arrows, highlights the culprits, and matches the schema', async () => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab, { mutant: 'remove-deletes-adds' }), 4, { only: ['cart-or-set'] }));
    expect(gradeReportSchema.safeParse(report).error).toBeUndefined();
    const check = report.checks[0];
    expect(check?.status).toBe('fail');
    expect(check?.hint).toMatch(/tombstones/);
    const timeline = buildReportModel(report, 'Multi-master replication').checks[0]?.timeline;
    expect(timeline?.lanes.map((l) => l.process).slice(0, 3).sort()).toEqual(['ap', 'eu', 'us']);
    expect(timeline?.arrows.some((a) => a.delivered)).toBe(true);
    expect(timeline?.lanes.flatMap((l) => l.bars).some((b) => b.highlighted)).toBe(true);
    // No message is a mark across every lane: the sends are the arrows' tails.
    expect(timeline?.marks.some((m) => m.op === 'send')).toBe(false);
  });
});

describe('cancelling a grading', () => {
  it('while a store is down: it stops, and every container is left running and answering', async () => {
    const options = await env.options(await assembleVariant(env.lab), 3, { only: ['convergence'] });
    const labServices = options.labServices;
    if (labServices === undefined) throw new Error('the grading options have no containers');
    const cancel = new AbortController();
    const grading = gradeLab(env.lab, env.grader, { ...options, signal: cancel.signal });
    let down: string | undefined;
    const deadline = Date.now() + 30_000;
    while (down === undefined && Date.now() < deadline) {
      const statuses = await Promise.all(labServices.connections.map(async (c) => `${c.name}: ${(await labServices.runtime.inspectContainer(c.containerId)).status}`));
      down = statuses.find((s) => !s.endsWith(': running'));
      if (down === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(down, 'the scenario took a store down').toBeDefined();
    cancel.abort();
    await expect(grading).rejects.toBeInstanceOf(GradingCancelledError);
    for (const connection of labServices.connections) {
      const info = await labServices.runtime.inspectContainer(connection.containerId);
      expect(`${connection.name}: ${info.status}`).toBe(`${connection.name}: running`);
    }
    const again = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab), 3, { only: ['convergence'] }));
    expect(again.checks.map((c) => c.status)).toEqual(['pass']);
  });
});

describe('data-labs grade multi-master', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', LAB, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: env.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(env.workDir, 'progress') },
      timeout: 120_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  // On the in-process stand-ins: on Docker the command line would start and break the lab's
  // own containers, which another grading may be using. gradeLab on Docker is held to the same.
  it('exits 0 for the reference, prints the documented JSON with the demonstration apart, and ticks "Try multi-master"', async () => {
    const run = grade([await assembleVariant(env.lab), '--seed', '7', '--backend', 'embedded', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    expect(report.engine).toBe('in-process Redis stand-ins (no Docker), one per region');
    expectDemonstrationShown(report);
    const progress = JSON.parse(await fs.readFile(path.join(env.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['try-multi-master']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', async () => {
    const run = grade([await assembleVariant(env.lab, { mutant: 'update-without-watch' }), '--seed', '3', '--backend', 'embedded', '--check', 'atomic-apply']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/FAIL +.*\(atomic-apply,/);
    expect(run.stdout).toMatch(/hint: .*WATCH/);
    expect(run.stdout).toMatch(/data-labs grade multi-master .*--backend embedded.*--seed 3/);
  });
});
