/**
 * The part of a PostgreSQL client this lab uses.
 *
 * The database is the lab's PostgreSQL, which the Data Labs extension starts (a Docker
 * container, or without Docker an embedded PostgreSQL). The tests and the grader connect
 * to it and hand your code a `Db` in `deps.db`, so saga.ts never deals with
 * connections. You do not need to change this file.
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
   * Runs ONE statement, with values as parameters ($1, $2, ...), never pasted into the SQL.
   * integer, text and boolean come back as number, string and boolean; jsonb as objects;
   * timestamptz as Date; bigint (and bigserial) as a string, so cast it (`id::int`) when
   * you want a number.
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
   * Inside `fn`, send every statement through `tx`: `db.query` would run on another
   * connection, outside the transaction.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: { readonly isolation?: IsolationLevel }): Promise<T>;
}
