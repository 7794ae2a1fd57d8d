/**
 * How the grader learns, from a bank itself, which transactions committed and which transfer
 * each belonged to. In a schema of the grader's own, beside the bank's:
 *
 * - `changes`: an audit trigger on the bank's `accounts` records every change with the
 *   changing transaction's id (`txid_current()`), the account and the change. The row is
 *   written inside that transaction, so it exists exactly when the transaction committed: a
 *   prepared transaction rolled back leaves none, one committed by COMMIT PREPARED its own.
 * - `prepares`: just before it forwards a PREPARE TRANSACTION, the adapter calls
 *   `note_prepare(gid, transfer)` in the same transaction, which records the xid with the gid
 *   and the transfer the learner's code was running. It commits with the prepared
 *   transaction, or never: a committed change whose xid has no note was committed outside
 *   two-phase commit.
 * - `others`: what the prepared transactions the grader plants for another coordinator write.
 */
import type { AuditRow, PrepareRow } from './history';

/** What the grader sends SQL through: a `pg` client or pool. */
export interface Sql {
  query(sql: string, params?: unknown[]): Promise<{ readonly rows: readonly Record<string, unknown>[] }>;
}

export const identifier = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`not a plain identifier: ${name}`);
  }
  return name;
};

/** Makes `bankSchema.accounts`' changes recorded in `auditSchema`, by transaction, with each PREPARE's note. */
export async function installAudit(sql: Sql, bankSchema: string, auditSchema: string): Promise<void> {
  const bank = identifier(bankSchema);
  const audit = identifier(auditSchema);
  await sql.query(`CREATE SCHEMA IF NOT EXISTS ${audit}`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${audit}.changes (xid text NOT NULL, account text NOT NULL, delta_cents bigint NOT NULL)`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${audit}.prepares (xid text NOT NULL, gid text NOT NULL, transfer text NOT NULL)`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${audit}.others (gid text NOT NULL)`);
  await sql.query(
    `CREATE OR REPLACE FUNCTION ${audit}.record_change() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
     BEGIN
       INSERT INTO ${audit}.changes (xid, account, delta_cents) VALUES (txid_current()::text, NEW.id, NEW.balance_cents - OLD.balance_cents);
       RETURN NEW;
     END $$`,
  );
  await sql.query(
    `CREATE OR REPLACE FUNCTION ${audit}.note_prepare(gid text, transfer text) RETURNS void LANGUAGE sql SECURITY DEFINER AS $$
       INSERT INTO ${audit}.prepares (xid, gid, transfer) VALUES (txid_current()::text, gid, transfer)
     $$`,
  );
  await sql.query(`CREATE OR REPLACE TRIGGER audit_changes AFTER UPDATE ON ${bank}.accounts FOR EACH ROW EXECUTE FUNCTION ${audit}.record_change()`);
}

/** Every committed change to the given accounts, in the order they were recorded. */
export async function readAudit(sql: Sql, auditSchema: string, accounts?: readonly string[]): Promise<AuditRow[]> {
  const filter = accounts !== undefined ? ' WHERE account = ANY($1)' : '';
  const rows = (await sql.query(`SELECT xid, account, delta_cents::text AS delta FROM ${identifier(auditSchema)}.changes${filter} ORDER BY ctid`, accounts !== undefined ? [accounts] : [])).rows;
  return rows.map((r) => ({ xid: String(r['xid']), account: String(r['account']), deltaCents: Number(r['delta']) }));
}

/** The notes of committed prepared transactions: of the given transfers, or with one of the given xids. */
export async function readPrepares(sql: Sql, auditSchema: string, transfers: readonly string[], xids: readonly string[]): Promise<PrepareRow[]> {
  const rows = (await sql.query(`SELECT xid, gid, transfer FROM ${identifier(auditSchema)}.prepares WHERE transfer = ANY($1) OR xid = ANY($2) ORDER BY ctid`, [transfers, xids])).rows;
  return rows.map((r) => ({ xid: String(r['xid']), gid: String(r['gid']), transfer: String(r['transfer']) }));
}

/** The gids prepared in this database, anyone's. */
export async function preparedGids(sql: Sql): Promise<string[]> {
  return (await sql.query('SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid')).rows.map((r) => String(r['gid']));
}

/** What the adapter runs in the learner's transaction just before its PREPARE TRANSACTION. */
export const notePrepare = (auditSchema: string): string => `SELECT "${identifier(auditSchema)}".note_prepare($1, $2)`;
