/**
 * How the grader learns, from a bank itself, which transactions committed: an audit trigger
 * on the bank's `accounts` that records every change with the changing transaction's id
 * (`txid_current()`), the account and the change. The row is written inside that
 * transaction, so it exists exactly when the transaction committed: a prepared transaction
 * rolled back leaves none, one committed by COMMIT PREPARED leaves its own. The adapter reads
 * `txid_current()` in the learner's transaction just before its PREPARE TRANSACTION, which
 * ties each gid to its xid at each bank (history.ts, PrepareNote).
 *
 * The audit lives in a schema of the grader's own, beside the bank's, out of the learner's
 * reach.
 */
import type { AuditRow } from './history';

/** What the grader sends SQL through: a `pg` client or pool. */
export interface Sql {
  query(sql: string, params?: unknown[]): Promise<{ readonly rows: readonly Record<string, unknown>[] }>;
}

const identifier = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`not a plain identifier: ${name}`);
  }
  return name;
};

/** Makes `bankSchema.accounts`' changes recorded in `auditSchema.changes`, by transaction. */
export async function installAudit(sql: Sql, bankSchema: string, auditSchema: string): Promise<void> {
  const bank = identifier(bankSchema);
  const audit = identifier(auditSchema);
  await sql.query(`CREATE SCHEMA IF NOT EXISTS ${audit}`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${audit}.changes (xid text NOT NULL, account text NOT NULL, delta_cents bigint NOT NULL)`);
  await sql.query(
    `CREATE OR REPLACE FUNCTION ${audit}.record_change() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
     BEGIN
       INSERT INTO ${audit}.changes (xid, account, delta_cents) VALUES (txid_current()::text, NEW.id, NEW.balance_cents - OLD.balance_cents);
       RETURN NEW;
     END $$`,
  );
  await sql.query(`CREATE TRIGGER audit_changes AFTER UPDATE ON ${bank}.accounts FOR EACH ROW EXECUTE FUNCTION ${audit}.record_change()`);
}

/** Every committed change recorded so far, in the order they were recorded. */
export async function readAudit(sql: Sql, auditSchema: string): Promise<AuditRow[]> {
  const rows = (await sql.query(`SELECT xid, account, delta_cents::text AS delta FROM ${identifier(auditSchema)}.changes`)).rows;
  return rows.map((r) => ({ xid: String(r['xid']), account: String(r['account']), deltaCents: Number(r['delta']) }));
}

/** The gids prepared in this database, anyone's. */
export async function preparedGids(sql: Sql): Promise<string[]> {
  return (await sql.query('SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid')).rows.map((r) => String(r['gid']));
}

/** What the adapter runs in the learner's transaction just before its PREPARE TRANSACTION. */
export const CURRENT_XID = 'SELECT txid_current()::text AS xid';
