/**
 * The part of a PostgreSQL client this lab uses, and nothing more.
 *
 * The database is a PostgreSQL server that the Data Labs extension starts for this lab:
 * a Docker container, or without Docker an embedded PostgreSQL (PGlite) served on a local
 * port. Its address is in `.env`. The tests (and the grader) connect to it and hand your
 * code a `Db`, so replication.ts never deals with connections.
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
   * Runs ONE statement. Pass values as parameters ($1, $2, ...) and never paste them into
   * the SQL text.
   *
   * Column values come back as JavaScript values: integer, text and boolean as number,
   * string and boolean, jsonb as objects and arrays, timestamptz as Date. bigint (and
   * bigserial) and numeric come back as strings (a JavaScript number cannot hold every
   * value they can), so cast them in SQL, e.g. `COUNT(*)::int`, when you want numbers.
   *
   * A statement the database refuses throws an Error whose `code` is PostgreSQL's
   * SQLSTATE: '23505' unique violation, '40001' serialization failure, ...
   */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Runs one or more statements separated by `;`, without parameters. Handy for DDL. */
  exec(sql: string): Promise<unknown>;
}

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export interface Db extends Queryable {
  /**
   * Runs `fn` inside BEGIN ... COMMIT on one connection, at the isolation level asked for
   * (PostgreSQL's default, read committed, when none is). If `fn` throws, or a statement
   * or the COMMIT fails, the transaction is rolled back and the error thrown again; a
   * serializable transaction that lost a race throws with code '40001'.
   *
   * Inside `fn`, send every statement through `tx`, never through the Db. The Db runs a
   * statement on another connection, outside the transaction: it does not see the
   * transaction's uncommitted rows, a rollback does not undo it, and on the embedded
   * database it waits for the transaction to end, which never comes.
   *
   * Outside a transaction, each call may run on a different connection, so a setting
   * made with `SET` may not apply to the next call; use `SET LOCAL` inside a transaction.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T>;
}
