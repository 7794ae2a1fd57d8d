/**
 * The database half of the PostgreSQL labs' adapters (src/core/grading/adapters/pgDb.ts) on a
 * real embedded PostgreSQL (the server bundled as esbuild.js bundles it):
 *
 * - the run's sequences restarted apart after the learner's migrate: two tables' first ids
 *   never coincide (on Docker: test/docker/gradedDb.test.ts), the same seed gives the same ids;
 * - a call to a service made inside a transaction (of `db.transaction`, or one the code began
 *   with its own BEGIN on the pool) is told to the grader, and so is that transaction's end;
 *   a call outside any transaction, or beside one in another async flow, is not.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { BuildOptions } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson } from '../../src/core/grading/adapters/http';
import { GradedDb } from '../../src/core/grading/adapters/pgDb';
import { type RunDatabase, openRunDatabase } from '../../src/core/grading/runDatabase';
import type { Observation } from '../../src/core/grading/sandbox';
import { startEmbeddedServices, stopEmbeddedServices } from '../../src/core/services/embedded';
import { REPO_ROOT, useTempDirs } from './helpers';
import { firstIdsOfTwoTables } from '../support/sequences';

const tempDir = useTempDirs('ddl-graded-db-');
let labDir = '';
let databaseUrl = '';
let service: http.Server;
let serviceUrl = '';
const opened: { db: GradedDb; run: RunDatabase }[] = [];

beforeAll(async () => {
  const out = await tempDir();
  const load = createRequire(path.join(REPO_ROOT, 'esbuild.js'));
  const config = load('./esbuild.js') as { embeddedServerOptions(outdir: string): BuildOptions };
  const esbuild = load('esbuild') as typeof import('esbuild');
  await esbuild.build(config.embeddedServerOptions(out));
  labDir = await tempDir();
  const started = await startEmbeddedServices({
    labId: 'graded-db-test',
    labDir,
    services: [{ service: 'postgres', count: 1, embedded: true }],
    serverScript: path.join(out, 'embedded-postgres.js'),
    readinessTimeoutMs: 120_000,
  });
  databaseUrl = started.connections[0]?.url ?? '';
  // A service that answers at once.
  service = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}`;
}, 180_000);

afterAll(async () => {
  for (const { db, run } of opened) {
    await db.close().catch(() => undefined);
    await run.drop().catch(() => undefined);
  }
  service.closeAllConnections();
  await new Promise((resolve) => service.close(resolve));
  await stopEmbeddedServices(labDir);
});

async function graded(schema: string, observed?: Observation[]): Promise<GradedDb> {
  const run = await openRunDatabase(databaseUrl, schema, 'embedded');
  const db = new GradedDb({ databaseUrl: run.learnerUrl, schema, poolSize: 4, ...(observed !== undefined ? { sandbox: { observe: (o) => observed.push(o) } } : {}) });
  opened.push({ db, run });
  return db;
}

describe("the run's sequences", () => {
  it('are restarted apart after migrate, so two tables\' first ids differ; the same seed gives the same ids', async () => {
    const plain = await firstIdsOfTwoTables(await graded('grade_seq_plain'), undefined);
    // Without it, independent sequences coincide: an id of one table is also one of the other.
    expect(plain.orders).toBe(plain.payments);
    const spread = await firstIdsOfTwoTables(await graded('grade_seq_a'), 7);
    expect(new Set([spread.orders, spread.payments, spread.notes]).size).toBe(3);
    expect(Math.abs(spread.orders - spread.payments)).toBeGreaterThanOrEqual(500_000);
    expect(await firstIdsOfTwoTables(await graded('grade_seq_b'), 7)).toEqual(spread);
    expect(await firstIdsOfTwoTables(await graded('grade_seq_c'), 8)).not.toEqual(spread);
  });
});

describe('a transaction held across a service call', () => {
  const call = (): Promise<unknown> => postJson(`${serviceUrl}/inventory/reserve`, '{}', { timeoutMs: 5_000 });

  it('is told to the grader with the call, and its end too, for db.transaction and for a BEGIN of the code on the pool', async () => {
    const observed: Observation[] = [];
    const { db } = await graded('grade_watch_a', observed);
    await db.exec('CREATE TABLE steps (id serial PRIMARY KEY)');
    // Outside a transaction: nothing to tell.
    await call();
    await db.query('INSERT INTO steps DEFAULT VALUES');
    expect(observed).toEqual([]);
    await db.transaction(async (tx) => {
      await tx.query('INSERT INTO steps DEFAULT VALUES');
      await call();
      await call();
      expect(observed).toEqual([{ kind: 'call-in-transaction', transaction: expect.any(Number), call: 'POST /inventory/reserve', openForMs: expect.any(Number) }]);
    });
    expect(observed[1]).toEqual({ kind: 'transaction-ended', transaction: (observed[0] as { transaction: number }).transaction });
    // The code's own BEGIN on the pool (its next statements happen to reuse that connection).
    observed.length = 0;
    await db.exec('BEGIN');
    await call();
    await db.exec('COMMIT');
    expect(observed.map((o) => o.kind)).toEqual(['call-in-transaction', 'transaction-ended']);
  });

  it('is not confused with a call of another flow made while a transaction is open beside it', async () => {
    const observed: Observation[] = [];
    const { db } = await graded('grade_watch_b', observed);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const transaction = db.transaction(async (tx) => {
      await tx.query('SELECT 1');
      await held;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await call();
    release();
    await transaction;
    expect(observed).toEqual([]);
  });
});
