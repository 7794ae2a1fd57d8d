/**
 * The Saga grader held to its promise: it never fails correct code and never passes broken
 * code. The reference (test/graders/saga/reference, the lab's solution) passes every check
 * on 10 seeds; each mutant (a realistic bug, one per folder) fails the check mutants.json
 * names for it on every one of the same 10 seeds. Both run on the lab's PostgreSQL in
 * Docker, started the way `data-labs grade` starts it; the reference also runs on the
 * embedded PostgreSQL, where the concurrent-orders check must say "unknown" and nothing
 * else may fail. Then what the report shows of a failure, and the command line.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../src/core/grading/gradeLab';
import { SAGA_CHECKS, sagaGrader } from '../../src/core/grading/labs/saga';
import { gradeReportSchema } from '../../src/core/grading/report';
import { buildReportModel } from '../../src/core/grading/reportModel';
import { SagaServices } from '../../src/core/grading/sagaServices';
import { CLI, IMAGES, ROOT, SEEDS, mutantsOf, useLabDatabases } from './support';

const here = path.join(ROOT, 'test', 'graders', 'saga');
const reference = path.join(here, 'reference');
const mutants = mutantsOf('saga');
const db = useLabDatabases('saga');
const options = db.options.bind(db);

describe("the grader's services", () => {
  it('answer a repeated request id with the first answer whatever the order of its keys, refuse it with other parameters, and leave nothing behind a refusal', async () => {
    const services = await SagaServices.start(db.dockerUrl, `svc_test_${process.pid}`);
    try {
      await services.stock({ a: 5, b: 1 });
      const post = async (op: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
        const response = await fetch(`${services.url}/${op}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const first = await post('inventory/reserve', { requestId: 'r1', orderId: 'o1', items: [{ sku: 'a', qty: 2 }] });
      expect(first.status).toBe(200);
      // The same request as re-read from a jsonb log: other key order.
      const again = await post('inventory/reserve', { items: [{ qty: 2, sku: 'a' }], orderId: 'o1', requestId: 'r1' });
      expect(again).toEqual(first);
      const other = await post('inventory/reserve', { requestId: 'r1', orderId: 'o1', items: [{ sku: 'a', qty: 3 }] });
      expect(other.status).toBe(400);
      // Two items, the second short: refused, and the first is not taken either.
      const short = await post('inventory/reserve', { requestId: 'r2', orderId: 'o2', items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }] });
      expect(short).toEqual({ status: 422, body: { ok: false, kind: 'business', reason: 'out_of_stock' } });
      expect(await services.stockTruth()).toEqual([
        { sku: 'a', initial: 5, available: 3 },
        { sku: 'b', initial: 1, available: 1 },
      ]);
      expect((await services.truth(['o1', 'o2'])).map((t) => t.reserved)).toEqual([{ a: 2 }, {}]);
      expect(services.callLog().map((c) => c.outcome)).toEqual(['ok', 'replayed', 'invalid', 'business']);
    } finally {
      await services.close();
    }
  });
});

describe('the reference passes every check', () => {
  it.each(SEEDS)('on PostgreSQL in Docker, seed %i', async (seed) => {
    const report = await gradeLab(sagaGrader, options(reference, seed));
    const notPassed = report.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}: ${c.actual}`);
    expect(notPassed).toEqual([]);
    expect(report.checks.map((c) => c.id)).toEqual(SAGA_CHECKS.map((c) => c.id));
    expect(report.passed).toBe(true);
  });

  it('on the embedded PostgreSQL, seed 1: only concurrent-orders is unknown (it needs Docker), never passed', async () => {
    const report = await gradeLab(sagaGrader, options(reference, 1, { backend: 'embedded', databaseUrl: db.embeddedUrl }));
    const verdicts = Object.fromEntries(report.checks.map((c) => [c.id, c.status]));
    expect(verdicts).toEqual(Object.fromEntries(SAGA_CHECKS.map((c) => [c.id, c.id === 'concurrent-orders' ? 'unknown' : 'pass'])));
    expect(report.checks.find((c) => c.id === 'concurrent-orders')?.actual).toMatch(/Grade with Docker/);
    expect(report.passed).toBe(false);
  });
});

describe('each mutant fails the check named for it, on every seed', () => {
  it('has at least 8 mutants, each naming a real check and a folder', async () => {
    expect(mutants.length).toBeGreaterThanOrEqual(8);
    for (const m of mutants) {
      expect(SAGA_CHECKS.map((c) => c.id)).toContain(m.fails);
      await fs.access(path.join(here, 'mutants', m.mutant, 'src', 'saga.ts'));
    }
  });

  describe.each(mutants)('$mutant', ({ mutant, fails }) => {
    it(`fails ${fails} on seeds 1-10, with a hint, pointing at one saga`, async () => {
      const verdicts: string[] = [];
      for (const seed of SEEDS) {
        const report = await gradeLab(sagaGrader, options(path.join(here, 'mutants', mutant), seed, { only: [fails] }));
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
  it("draws the failing saga's own timeline: its steps, its compensations, its faults, the blamed events", async () => {
    const m = mutants.find((x) => x.fails === 'random-schedules' || x.fails === 'compensation-retried') ?? (mutants[0] as { mutant: string; fails: string });
    const report = await gradeLab(sagaGrader, options(path.join(here, 'mutants', m.mutant), 4, { only: [m.fails] }));
    const check = report.checks[0];
    expect(check?.status).toBe('fail');
    const orderId = /order (\S+)/.exec(check?.focus?.label ?? '')?.[1];
    expect(orderId, 'the check names the saga that broke').toBeTruthy();
    const model = buildReportModel(report, 'Saga with compensation');
    const timeline = model.checks[0]?.timeline;
    const lanes = timeline?.lanes.map((l) => l.process) ?? [];
    expect(lanes).toEqual(expect.arrayContaining([`order:${orderId}`, `svc:${orderId}`]));
    // Only that saga's lanes (and the recoveries meanwhile), not one per order of the scenario.
    expect(lanes.filter((p) => p.startsWith('order:') || p.startsWith('svc:')).every((p) => p.endsWith(`:${orderId}`))).toBe(true);
    expect(timeline?.lanes.flatMap((l) => l.bars).some((b) => b.highlighted)).toBe(true);
    expect(timeline?.marks.some((mark) => mark.type === 'fault' && mark.op.startsWith(`order ${orderId}:`))).toBe(true);
    expect(timeline?.focus?.hiddenEvents).toBeGreaterThan(0);
  });
});

describe('data-labs grade saga', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', 'saga', ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: db.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(db.workDir, 'progress') },
      timeout: 180_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('exits 0 for the reference and prints the documented JSON, which ticks the checklist', async () => {
    const run = grade([reference, '--seed', '7', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    const progress = JSON.parse(await fs.readFile(path.join(db.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['build-saga-with-compensation', 'implement-distributed-transaction']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', () => {
    const m = mutants[0] as { mutant: string; fails: string };
    const run = grade([path.join(here, 'mutants', m.mutant), '--seed', '3', '--check', m.fails]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    expect(run.stdout).toMatch(/hint: /);
    expect(run.stdout).toMatch(/--seed 3/);
  });
});
