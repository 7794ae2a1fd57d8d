/** Helpers shared by the lab's tests. */
import { PGlite } from '@electric-sql/pglite';

let emptyCluster: Promise<Blob> | undefined;

/**
 * A brand-new, empty PostgreSQL database in memory: nothing leaks from one test to the next.
 *
 * Setting up a database cluster (initdb) is the slow part of starting PostgreSQL, so it
 * runs once per test file; each test then starts its own PostgreSQL from a copy of that
 * untouched, just-initialised cluster.
 */
export async function freshDb(): Promise<PGlite> {
  emptyCluster ??= (async () => {
    const template = await PGlite.create();
    try {
      return await template.dumpDataDir('none');
    } finally {
      await template.close();
    }
  })();
  return PGlite.create({ loadDataDir: await emptyCluster });
}

/**
 * Closes a test's database. A database left stuck by an unfinished transaction never
 * closes, so give up waiting after a moment rather than hang the next test.
 */
export async function closeDb(db: PGlite | undefined): Promise<void> {
  if (db) {
    await Promise.race([db.close(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  }
}

/** Thrown when a call does not finish in time: the database is stuck, so the test stops there. */
export class StuckError extends Error {
  override readonly name = 'StuckError';
}

/** Awaits `action`, but fails with `advice` if it has not finished within `seconds`. */
export async function inTime<T>(action: Promise<T>, what: string, advice: string, seconds = 10): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StuckError(`${what} did not finish within ${seconds} s. ${advice}`)), seconds * 1000);
  });
  try {
    return await Promise.race([action, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** PostgreSQL's error codes (SQLSTATE) that the tests expect. */
export const FOREIGN_KEY_VIOLATION = '23503';
export const CHECK_VIOLATION = '23514';

/**
 * Awaits `action` and says how it ended: 'accepted' if it succeeded, the PostgreSQL
 * error code (e.g. '23503') if the database refused it, or the message of any other error.
 */
export async function outcome(action: Promise<unknown>): Promise<string> {
  try {
    await action;
    return 'accepted';
  } catch (error) {
    if (error instanceof StuckError) {
      throw error;
    }
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : `not a database error: ${(error as Error).message}`;
  }
}

/** Counts the rows of a table. */
export async function countRows(db: PGlite, table: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM ${table}`);
  return rows[0]!.n;
}
