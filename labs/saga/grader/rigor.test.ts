/**
 * The Saga grader, beyond what test/rigor holds every grader to (the reference passes, each
 * mutant fails its check, across seeds, on Docker and embedded): the grader's own services
 * (their answers to repeated and refused requests), what the report shows of a failure
 * (the one saga that broke among the scenario's dozens), and the command line. On the lab's
 * PostgreSQL in Docker, started as `data-labs grade` starts it.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeLab } from '../../../src/core/grading/gradeLab';
import { gradeReportSchema } from '../../../src/core/grading/report';
import { buildReportModel } from '../../../src/core/grading/reportModel';
import { VARIANTS_DIR } from '../../../test/support/labVariants';
import { CLI, IMAGES, assembleVariant, mutantsOf, useGradingEnvironment } from '../../../test/rigor/support';
import { SagaServices } from './services';

const LAB = 'saga';
const db = useGradingEnvironment(LAB);
const mutants = mutantsOf(LAB);

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

describe('the report of a failure', () => {
  it("draws the failing saga's own timeline: its steps, its compensations, its faults, the blamed events", async () => {
    const m = mutants.find((x) => x.fails === 'random-schedules' || x.fails === 'compensation-retried') ?? (mutants[0] as { mutant: string; fails: string });
    const report = await gradeLab(db.lab, db.grader, await db.options(await assembleVariant(db.lab, { mutant: m.mutant }), 4, { only: [m.fails] }));
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

describe("a learner's code that writes the grader's truth", () => {
  it("is refused (its connection is a role of the run's own) and fails the check it was part of", async () => {
    // The reference, but placeOrder first erases the payment service's charges of its order,
    // as code hiding a charge it never refunded would: the services' schemas are in the same database.
    const dir = await assembleVariant(db.lab, {}, path.join(VARIANTS_DIR, LAB, '.tmp-forges-truth'));
    try {
      const file = path.join(dir, 'src', 'saga.ts');
      const source = await fs.readFile(file, 'utf8');
      const start = 'export async function placeOrder(order: OrderRequest, deps: Deps): Promise<SagaOutcome> {\n';
      expect(source).toContain(start);
      const forge = [
        "  const truth = await deps.db.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE '%\\_svc\\_payments'`);",
        '  for (const { nspname } of truth.rows) await deps.db.query(`DELETE FROM ${nspname}.charges WHERE order_id = $1`, [order.orderId]);',
      ].join('\n');
      await fs.writeFile(file, source.replace(start, `${start}${forge}\n`));
      const report = await gradeLab(db.lab, db.grader, await db.options(dir, 2, { only: ['compensate-in-reverse'] }));
      expect(report.problem).toBeUndefined();
      expect(report.checks.map((c) => c.status)).toEqual(['fail']);
      expect(JSON.stringify(report.checks[0])).toMatch(/permission denied for schema grade_[a-z0-9]+_svc_payments/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('data-labs grade saga', () => {
  function grade(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [CLI, 'grade', LAB, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DATA_LABS_STATE_DIR: db.stateDir, DATA_LABS_IMAGES: JSON.stringify(IMAGES), DATA_LABS_PROGRESS_DIR: path.join(db.workDir, 'progress') },
      timeout: 180_000,
      // The JSON report of a grade holds every check's history: over a megabyte, spawnSync's default limit.
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('exits 0 for the reference and prints the documented JSON, which ticks the checklist', async () => {
    const run = grade([await assembleVariant(db.lab), '--seed', '7', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = gradeReportSchema.parse(JSON.parse(run.stdout));
    expect(report.passed).toBe(true);
    const progress = JSON.parse(await fs.readFile(path.join(db.workDir, 'progress', 'progress.json'), 'utf8')) as { items: Record<string, unknown> };
    expect(Object.keys(progress.items)).toEqual(expect.arrayContaining(['build-saga-with-compensation', 'implement-distributed-transaction']));
  });

  it('exits 1 for a mutant, printing the failing check with its hint and the command that replays it', async () => {
    const m = mutants[0] as { mutant: string; fails: string };
    const run = grade([await assembleVariant(db.lab, { mutant: m.mutant }), '--seed', '3', '--check', m.fails]);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`FAIL +.*\\(${m.fails},`));
    expect(run.stdout).toMatch(/hint: /);
    expect(run.stdout).toMatch(/--seed 3/);
  });
});
