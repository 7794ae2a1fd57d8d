/**
 * The run's sequences on PostgreSQL in Docker, as on the embedded one (test/unit/gradedDb.test.ts):
 * restarted apart after the learner's migrate, two tables' first ids differ, and the same
 * seed gives the same ids.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GradedDb } from '../../src/core/grading/adapters/pgDb';
import { startLabServices } from '../../src/core/services/labServices';
import { firstIdsOfTwoTables } from '../support/sequences';
import { LOCAL_IMAGES, newRuntime, tempLabDir, testLogger, uniqueId, useLabCleanup } from './helpers';

const runtime = newRuntime();
const registerLab = useLabCleanup(runtime);
let labDir = '';
let databaseUrl = '';
const opened: GradedDb[] = [];

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
  for (const db of opened) {
    await db.dropSchemaAndClose().catch(() => undefined);
  }
  await fs.rm(labDir, { recursive: true, force: true });
});

async function graded(schema: string): Promise<GradedDb> {
  const db = new GradedDb({ databaseUrl, schema, poolSize: 2 });
  opened.push(db);
  await db.createSchema();
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
