/**
 * The run's sequences on PostgreSQL in Docker, as on the embedded one (test/unit/gradedDb.test.ts):
 * restarted apart after the learner's migrate, two tables' first ids differ, and the same
 * seed gives the same ids. And the run's role, as the learner's process connects: it owns the
 * run's schema and can touch nothing else (runDatabase.ts).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GradedDb } from '../../src/core/grading/adapters/pgDb';
import { type RunDatabase, openRunDatabase } from '../../src/core/grading/runDatabase';
import { startLabServices } from '../../src/core/services/labServices';
import { firstIdsOfTwoTables } from '../support/sequences';
import { LOCAL_IMAGES, newRuntime, tempLabDir, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
let labDir = '';
let databaseUrl = '';
const opened: { db: GradedDb; run: RunDatabase }[] = [];

beforeAll(async () => {
  labDir = await tempLabDir();
  const started = await startLabServices(runtime, [{ service: 'postgres', count: 1 }], {
    labId: registerLab(uniqueId('sequences')),
    sessionId: `session-${randomBytes(4).toString('hex')}`,
    labDir,
    images: LOCAL_IMAGES,
    readinessTimeoutMs: 45_000,
    logger: testLogger,
  });
  databaseUrl = started.connections[0]?.url ?? '';
});

afterAll(async () => {
  for (const { db, run } of opened) {
    await db.close().catch(() => undefined);
    await run.drop().catch(() => undefined);
  }
  await fs.rm(labDir, { recursive: true, force: true });
});

async function graded(schema: string): Promise<GradedDb> {
  const run = await openRunDatabase(databaseUrl, schema, 'docker');
  // As the learner's process connects: as the run's own role.
  const db = new GradedDb({ databaseUrl: run.learnerUrl, schema, poolSize: 2 });
  opened.push({ db, run });
  return db;
}

describe("the run's sequences on PostgreSQL in Docker", () => {
  it("are restarted apart after migrate, so two tables' first ids differ; the same seed gives the same ids", async () => {
    const plain = await firstIdsOfTwoTables(await graded('grade_seq_plain'), undefined);
    expect(plain.orders).toBe(plain.payments);
    const spread = await firstIdsOfTwoTables(await graded('grade_seq_a'), 11);
    expect(new Set([spread.orders, spread.payments, spread.notes]).size).toBe(3);
    expect(Math.abs(spread.orders - spread.payments)).toBeGreaterThanOrEqual(500_000);
    expect(await firstIdsOfTwoTables(await graded('grade_seq_b'), 11)).toEqual(spread);
  });
});

describe("the run's role on PostgreSQL in Docker", () => {
  it("uses its own schema, and is refused the grader's tables, other runs' schemas, new schemas and more rights; drop removes it all", async () => {
    const grader = new pg.Client({ connectionString: databaseUrl });
    await grader.connect();
    const run = await openRunDatabase(databaseUrl, `grade_role_${randomBytes(3).toString('hex')}`, 'docker');
    const other = await openRunDatabase(databaseUrl, `grade_other_${randomBytes(3).toString('hex')}`, 'docker');
    const learner = new pg.Client({ connectionString: run.learnerUrl });
    try {
      // The grader's truth, as the saga's services keep it: a schema of the owner's beside the run's.
      const truth = `${run.schema}_svc_payments`;
      await grader.query(`CREATE SCHEMA ${truth}; CREATE TABLE ${truth}.charges (order_id text); INSERT INTO ${truth}.charges VALUES ('o1')`);
      await grader.query(`CREATE TABLE ${other.schema}.log (v text)`);
      expect(run.role).toBe(`${run.schema}_learner`);
      expect(run.learnerUrl).not.toContain(new URL(databaseUrl).password);

      await learner.connect();
      await learner.query(`SET search_path TO ${run.schema}`);
      await learner.query('CREATE TABLE saga_log (id serial PRIMARY KEY, v text); INSERT INTO saga_log (v) VALUES ($$x$$)');
      expect((await learner.query('SELECT v FROM saga_log')).rows).toEqual([{ v: 'x' }]);
      // It can see the catalog (any role can) but neither read nor write the grader's tables.
      expect((await learner.query('SELECT nspname FROM pg_namespace WHERE nspname = $1', [truth])).rowCount).toBe(1);
      for (const sql of [
        `DELETE FROM ${truth}.charges`,
        `SELECT * FROM ${truth}.charges`,
        `INSERT INTO ${truth}.charges VALUES ('forged')`,
        `CREATE TABLE ${truth}.extra (v text)`,
        `DROP SCHEMA ${truth} CASCADE`,
        `SELECT * FROM ${other.schema}.log`,
        `CREATE SCHEMA grade_mine`,
        `CREATE TABLE public.escape (v text)`,
        `ALTER ROLE ${run.role ?? ''} SUPERUSER`,
        `SET ROLE ${new URL(databaseUrl).username}`,
      ]) {
        await expect(learner.query(sql), sql).rejects.toThrow(/permission denied|must be superuser|must be owner|must have/);
      }
      expect((await grader.query(`SELECT order_id FROM ${truth}.charges`)).rows).toEqual([{ order_id: 'o1' }]);
    } finally {
      await learner.end().catch(() => undefined);
      await run.drop();
      await other.drop();
      const left = await grader.query('SELECT rolname FROM pg_roles WHERE rolname IN ($1, $2)', [run.role, other.role]);
      const schemas = await grader.query('SELECT nspname FROM pg_namespace WHERE nspname IN ($1, $2)', [run.schema, other.schema]);
      await grader.query(`DROP SCHEMA IF EXISTS ${run.schema}_svc_payments CASCADE`);
      await grader.end();
      expect(left.rows).toEqual([]);
      expect(schemas.rows).toEqual([]);
    }
  });

  it('a role left by a grading killed before its clean-up is dropped, with its schema, by a later run once it has expired', async () => {
    const grader = new pg.Client({ connectionString: databaseUrl });
    await grader.connect();
    try {
      const abandoned = await openRunDatabase(databaseUrl, `grade_gone_${randomBytes(3).toString('hex')}`, 'docker');
      await grader.query(`ALTER ROLE ${abandoned.role ?? ''} VALID UNTIL '2000-01-01'`);
      const live = await openRunDatabase(databaseUrl, `grade_live_${randomBytes(3).toString('hex')}`, 'docker');
      const roles = await grader.query('SELECT rolname FROM pg_roles WHERE rolname IN ($1, $2) ORDER BY rolname', [abandoned.role, live.role]);
      expect(roles.rows.map((r: { rolname: string }) => r.rolname)).toEqual([live.role]);
      expect((await grader.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [abandoned.schema])).rowCount).toBe(0);
      await live.drop();
    } finally {
      await grader.end();
    }
  });
});
