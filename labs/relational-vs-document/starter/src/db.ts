/**
 * The part of a PostgreSQL client this lab uses, and nothing more.
 *
 * The database is a PostgreSQL server that the Data Labs extension starts for this lab:
 * a Docker container, or without Docker an embedded PostgreSQL (PGlite) served on a local
 * port. Its address is in `.env`. The tests connect to it with the `pg` client and hand
 * your code a `Db` (see test/support.ts), so shop.ts never deals with connections.
 *
 * You do not need to change this file.
 */

/** What a query returns: its rows, each one object keyed by column name. */
export interface QueryResult<Row> {
  readonly rows: Row[];
  /** How many rows an INSERT, UPDATE or DELETE changed. */
  readonly affectedRows?: number;
}

/** Something you can send SQL to: the database itself, or an open transaction. */
export interface Queryable {
  /**
   * Runs ONE statement. Pass values as parameters ($1, $2, ...) and never paste
   * them into the SQL text.
   *
   * Column values come back as JavaScript values: integer and text as number and string,
   * jsonb as objects and arrays, timestamptz as Date. bigint and numeric come back as
   * strings (a JavaScript number cannot hold every value they can), so cast them in
   * SQL, e.g. `COUNT(*)::int`, when you want numbers.
   */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Runs one or more statements separated by `;`, without parameters. Handy for DDL. */
  exec(sql: string): Promise<unknown>;
}

export interface Db extends Queryable {
  /**
   * Runs `fn` inside BEGIN ... COMMIT on one connection. If `fn` throws (or a statement
   * fails), the whole transaction is rolled back and the error is thrown again.
   *
   * Inside `fn`, send every statement through `tx`, never through the Db. The Db runs a
   * statement on another connection, outside the transaction: it does not see the
   * transaction's uncommitted rows, a rollback does not undo it, and on the embedded
   * database it waits for the transaction to end, which never comes.
   *
   * Outside a transaction, each call may run on a different connection, so a setting
   * made with `SET` may not apply to the next call; use `SET LOCAL` inside a transaction.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}
