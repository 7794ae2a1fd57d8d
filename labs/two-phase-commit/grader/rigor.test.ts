/**
 * The Two-phase commit grader, beyond what test/rigor holds every grader to (the reference
 * passes, each mutant fails its check, across seeds, on Docker; without Docker every check
 * is unknown): what the report shows of a failure (the transfer that broke, among the
 * scenario's dozen), the blocking demonstration, nothing left behind on the servers, and
 * the command line. On the lab's three PostgreSQL containers, started as `data-labs grade`
 * starts them.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../../src/core/grading/gradeLab';
import { gradeReportSchema } from '../../../src/core/grading/report';
import { buildReportModel } from '../../../src/core/grading/reportModel';
import { CLI, IMAGES, assembleVariant, useGradingEnvironment } from '../../../test/rigor/support';

const LAB = 'two-phase-commit';
const env = useGradingEnvironment(LAB);

/** What a grading run may leave on a server: its schemas, and transactions it prepared. */
async function leftovers(url: string): Promise<{ schemas: string[]; prepared: string[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const schemas = (await client.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'grade\\_%' ORDER BY 1")).rows.map((r) => r.name);
    const prepared = (await client.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid')).rows.map((r) => r.gid);
    return { schemas, prepared };
  } finally {
    await client.end();
  }
}

describe('a grading run', () => {
  it('draws the transfer that broke, shows the blocking demonstration, and leaves nothing on the servers', async () => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab, { mutant: 'decision-after-first-commit' }), 4, { only: ['coordinator-crash'] }));
    const check = report.checks.find((c) => c.id === 'coordinator-crash');
    expect(check?.status).toBe('fail');
    const transferId = /^transfer (\S+)$/.exec(check?.focus?.label ?? '')?.[1];
    expect(transferId, 'the check names the transfer that broke').toBeTruthy();
    const model = buildReportModel(report, 'Two-phase commit');
    const timeline = model.checks.find((c) => c.id === 'coordinator-crash')?.timeline;
    const lanes = timeline?.lanes.map((l) => l.process) ?? [];
    expect(lanes).toContain(`transfer:${transferId}`);
    // Only that transfer's lane among the dozen the scenario ran.
    expect(lanes.filter((p) => p.startsWith('transfer:'))).toEqual([`transfer:${transferId}`]);
    expect(timeline?.lanes.flatMap((l) => l.bars).some((b) => b.highlighted)).toBe(true);

    // The demonstration, and what a full passing run leaves behind, with the reference.
    const options = await env.options(await assembleVariant(env.lab), 4);
    const reference = await gradeLab(env.lab, env.grader, options);
    expect(reference.passed).toBe(true);
    const demo = reference.demonstrations?.find((d) => d.id === 'blocking-demo');
    expect(demo?.status).toBe('pass');
    expect(demo?.actual).toMatch(/waited for the lock of transaction \d+, which pg_locks shows held .* by the prepared transaction \S+/);
    expect(demo?.actual).toMatch(/pg_blocking_pids\(\d+\) says \{0\}/);
    expect(demo?.actual).toMatch(/It waited \d+ ms, until recovery rolled the transfer back/);
    // Each bank's lane draws the transaction's states there: prepared, then rolled back.
    for (const bank of ['bank-a', 'bank-b']) {
      const states = (demo?.history ?? []).filter((e) => e.process === `bank:${bank}` && e.type === 'note').map((e) => e.op.split(' ').slice(0, 2).join(' '));
      expect(states.filter((op) => op.startsWith('prepared 2pc:') || op.startsWith('rolled back'))).toEqual([expect.stringMatching(/^prepared 2pc:/) as unknown as string, 'rolled back']);
    }

    // Every transaction the run prepared (its learner's, and the other coordinator's it planted) is gone, and so are its schemas.
    // (Where the containers are now: a bank the grading killed came back on another port.)
    const now = await env.options(options.labDir, 4);
    for (const connection of now.labServices?.connections ?? []) {
      expect(await leftovers(connection.url)).toEqual({ schemas: [], prepared: [] });
    }
  });
});

describe('data-labs grade two-phase-commit', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', LAB, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: env.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(env.workDir, 'progress') },
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('exits 0 for the reference and prints the documented JSON, which ticks the checklist', async () => {
    const run = grade([await assembleVariant(env.lab), '--seed', '7', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    expect(report.engine).toBe('three PostgreSQL servers in Docker');
    const progress = JSON.parse(await fs.readFile(path.join(env.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toContain('implement-two-phase-commit');
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', async () => {
    const run = grade([await assembleVariant(env.lab, { mutant: 'already-done-is-an-error' }), '--seed', '3', '--check', 'lost-commit-reply']);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/FAIL +.*\(lost-commit-reply,/);
    expect(run.stdout).toMatch(/hint: .*42704/);
    expect(run.stdout).toMatch(/--seed 3/);
  });
});
