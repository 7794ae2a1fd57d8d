/**
 * The Replication grader, beyond what test/rigor holds every grader to (the reference passes,
 * each mutant fails its check, across seeds, on Docker; without Docker every check is
 * unknown): what the report draws of a failure (the session whose read went stale), and
 * that grading never touches the learner's own two servers and leaves none of its own.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../../src/core/grading/gradeLab';
import { gradingServicesFolder } from '../../../src/core/grading/prepareGrading';
import { buildReportModel } from '../../../src/core/grading/reportModel';
import { LABEL_FOLDER, LABEL_LAB, folderKey } from '../../../src/core/services/labServices';
import { CLI, IMAGES, assembleVariant, useGradingEnvironment } from '../../../test/rigor/support';

const LAB = 'replication';
const env = useGradingEnvironment(LAB);

describe('a grading run', () => {
  it('draws the session whose read missed its own write, across the WAL\'s 0/10000000 boundary', async () => {
    const report = await gradeLab(env.lab, env.grader, await env.options(await assembleVariant(env.lab, { mutant: 'lsns-compared-as-text' }), 5, { only: ['read-your-writes'] }));
    const check = report.checks.find((c) => c.id === 'read-your-writes');
    expect(check?.status).toBe('fail');
    const session = /^session (\S+)$/.exec(check?.focus?.label ?? '')?.[1];
    expect(session, 'the check names the session that broke').toBeTruthy();
    expect(check?.history.some((e) => e.process === 'grader' && /crosses into 0\/10000000/.test(e.op))).toBe(true);
    const timeline = buildReportModel(report, 'Master-slave replication').checks.find((c) => c.id === 'read-your-writes')?.timeline;
    expect(timeline?.lanes.map((l) => l.process)).toContain(`session:${session}`);
    expect(timeline?.lanes.flatMap((l) => l.bars).some((b) => b.highlighted)).toBe(true);
  });
});

describe('data-labs grade replication', () => {
  const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, DATA_LABS_STATE_DIR: env.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(env.workDir, 'progress') });
  const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: cliEnv(), timeout: 240_000, maxBuffer: 64 * 1024 * 1024 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const containers = (labels: Record<string, string>): string[] => {
    const filters = Object.entries(labels).flatMap(([k, v]) => ['--filter', `label=${k}=${v}`]);
    return spawnSync('docker', ['ps', '-a', '--format', '{{.ID}} {{.State}}', ...filters], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean).sort();
  };

  it("grades on servers of its own: the learner's two keep running untouched, and none of the grader's is left", async () => {
    const dir = await assembleVariant(env.lab);
    expect(cli(['services', 'up', LAB, dir, '--backend', 'docker']).status).toBe(0);
    try {
      const own = { [LABEL_LAB]: LAB, [LABEL_FOLDER]: folderKey(dir) };
      const before = containers(own);
      const envFile = await fs.readFile(path.join(dir, '.env'), 'utf8');
      expect(before).toHaveLength(2);
      const run = cli(['grade', LAB, dir, '--seed', '11']);
      expect(run.stderr).toBe('');
      expect(run.status, run.stdout).toBe(0);
      expect(run.stdout).toMatch(/8\/8 checks passed .* on two new PostgreSQL servers in Docker/);
      expect(containers(own), "the learner's containers: the same, still running").toEqual(before);
      expect(before.every((c) => c.endsWith(' running'))).toBe(true);
      expect(await fs.readFile(path.join(dir, '.env'), 'utf8')).toBe(envFile);
      expect(containers({ [LABEL_LAB]: LAB, [LABEL_FOLDER]: folderKey(gradingServicesFolder(dir)) }), "the grader's own containers are removed").toEqual([]);

      const mutant = cli(['grade', LAB, await assembleVariant(env.lab, { mutant: 'failover-without-fencing' }), '--seed', '3', '--check', 'failover']);
      expect(mutant.status).toBe(1);
      expect(mutant.stdout).toMatch(/FAIL +.*\(failover,/);
      expect(mutant.stdout).toMatch(/hint: .*[Ff]ence/);
    } finally {
      cli(['services', 'down', LAB, dir, '--remove']);
    }
  });
});
