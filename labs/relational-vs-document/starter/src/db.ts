/**
 * The part of a PostgreSQL client this lab uses, and nothing more.
 *
 * In this lab the database is PGlite: real PostgreSQL compiled to WebAssembly and
 * running inside the Node process. A PGlite instance already has these three methods,
 * so the tests pass one straight in. Because your code only depends on this interface,
 * a later lab can hand it a client for a PostgreSQL server instead without any change
 * to shop.ts.
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
   */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Runs one or more statements separated by `;`, without parameters. Handy for DDL. */
  exec(sql: string): Promise<unknown>;
}

export interface Db extends Queryable {
  /**
   * Runs `fn` inside BEGIN ... COMMIT. If `fn` throws (or a statement fails), the
   * whole transaction is rolled back and the error is thrown again.
   *
   * Inside `fn`, send every statement through `tx`, never through the Db: the Db
   * waits for the transaction to finish, so the call would never return.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}
