/**
 * What a learner's migrate typically makes, for the tests of the run's sequences (the unit
 * tier on the embedded PostgreSQL, the Docker tier on a container): tables with serial,
 * identity and small serial ids, then the first row of each, after the sequences were
 * restarted apart with `seed` (undefined: left as migrate made them).
 */
import type { GradedDb } from '../../src/core/grading/adapters/pgDb';

export async function firstIdsOfTwoTables(graded: GradedDb, seed: number | undefined): Promise<{ orders: number; payments: number; notes: number }> {
  const { db } = graded;
  await db.exec(`
    CREATE TABLE orders (id serial PRIMARY KEY, total integer NOT NULL);
    CREATE TABLE payments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id integer NOT NULL);
    CREATE TABLE notes (id smallserial PRIMARY KEY, text text NOT NULL);
  `);
  if (seed !== undefined) {
    await graded.spreadSequences(seed);
  }
  const id = async (sql: string, params: unknown[]): Promise<number> => Number((await db.query<{ id: string | number }>(sql, params)).rows[0]?.id);
  const orders = await id('INSERT INTO orders (total) VALUES ($1) RETURNING id', [100]);
  const payments = await id('INSERT INTO payments (order_id) VALUES ($1) RETURNING id', [orders]);
  const notes = await id('INSERT INTO notes (text) VALUES ($1) RETURNING id', ['first']);
  return { orders, payments, notes };
}
