/**
 * Money transfers between two banks, each its own PostgreSQL server, made atomic by
 * two-phase commit: this file is the coordinator.
 *
 *   Phase 1   each bank does its part (a debit, a credit) in a transaction that ends in
 *             PREPARE TRANSACTION instead of COMMIT: a vote yes. Any error, or no answer in
 *             time, is a vote no.
 *   Decision  commit only if every bank voted yes, written to the coordinator's log
 *             BEFORE any bank is told: that write is the commit point.
 *   Phase 2   COMMIT PREPARED (or ROLLBACK PREPARED) at every bank, retried until done.
 *   Recovery  after a crash, every prepared transaction of this coordinator still waiting
 *             at a bank is finished the way the log says: commit if a decision to commit
 *             is recorded, roll back if not (presumed abort).
 *
 * The reference solution.
 */
import type { Db } from './db';
import { withTimeout } from './timeout';
import type { BalanceChange, Bank, Coordinator, Decision, RecoveryReport, Transfer, TransferOutcome, Vote } from './types';

/** The decision log: one row per transfer decided to commit. */
export const DECISIONS_TABLE = 'twopc_decisions';

const GID_PREFIX = '2pc:';
/** SQLSTATE undefined_object: "prepared transaction with identifier ... does not exist". */
const NO_SUCH_PREPARED_TRANSACTION = '42704';
/** Never wait more than a second between two attempts of phase 2. */
const MAX_RETRY_WAIT_MS = 1_000;

// ─── TODO(1): the decision log ────────────────────────────────────────────────────

/**
 * Creates the decision log in the coordinator's database: a table named DECISIONS_TABLE
 * with a row per transaction decided to commit, keyed by its gid (text, the primary key),
 * with the time it was decided (timestamptz, default now()). Only commits are recorded:
 * no row means abort.
 *
 * It runs at every start of the coordinator, also after a crash, so it must not fail or
 * lose rows when the table already exists.
 */
export async function migrate(log: Db): Promise<void> {
  await log.exec(
    `CREATE TABLE IF NOT EXISTS ${DECISIONS_TABLE} (
       gid text PRIMARY KEY,
       decided_at timestamptz NOT NULL DEFAULT now()
     )`,
  );
}

// ─── TODO(2): global transaction ids ──────────────────────────────────────────────

/**
 * The global transaction id (gid) of a transfer: the name its prepared transactions carry
 * at every bank, and its key in the decision log. It must name the coordinator and the
 * transfer, so that two transfers never share one, and recovery can tell this
 * coordinator's gids from any other's. Form it as `2pc:<coordinator id>:<transfer id>`.
 */
export function gidFor(coordinatorId: string, transferId: string): string {
  return `${GID_PREFIX}${coordinatorId}:${transferId}`;
}

/**
 * Whether `gid` (as listed in pg_prepared_xacts) is one of this coordinator's: made by
 * gidFor with this coordinator's id. Other coordinators' gids, and gids that are not ours
 * at all, must never be touched.
 */
export function isOwnGid(coordinatorId: string, gid: string): boolean {
  // The ':' after the id: coordinator c1 must not take c10's gids for its own.
  return gid.startsWith(`${GID_PREFIX}${coordinatorId}:`);
}

// ─── TODO(3): phase 1 at one bank ─────────────────────────────────────────────────

/**
 * Asks one bank to vote on its part of a transfer: in ONE transaction on its database,
 * apply every change (`UPDATE accounts SET balance_cents = balance_cents + $1 WHERE id =
 * $2`), then end the transaction with `PREPARE TRANSACTION '<gid>'` instead of committing.
 *
 * - A vote is yes only once PREPARE TRANSACTION has succeeded.
 * - Anything else is a no, with the reason: an account that does not exist (the UPDATE
 *   changes no row), a balance that would go below zero (the CHECK constraint refuses:
 *   SQLSTATE 23514), any other error, or no answer within `timeoutMs` (withTimeout).
 * - After a no, nothing of this transfer stays at that bank (the transaction is rolled
 *   back; a PREPARE that lands after the time limit is found by recovery).
 *
 * PREPARE TRANSACTION takes no $1 parameter: put the gid in the SQL text, in single quotes.
 */
export async function prepare(bank: Bank, gid: string, changes: readonly BalanceChange[], timeoutMs: number): Promise<Vote> {
  try {
    await withTimeout(
      bank.db.transaction(async (tx) => {
        for (const change of changes) {
          // Read the balance, check it, write the new one.
          const current = await tx.query<{ balance: string }>('SELECT balance_cents::text AS balance FROM accounts WHERE id = $1', [change.account]);
          const row = current.rows[0];
          if (row === undefined) {
            throw new Error(`no account ${change.account} at ${bank.name}`);
          }
          const next = Number(row.balance) + change.deltaCents;
          if (next < 0) {
            throw Object.assign(new Error(`insufficient funds at ${bank.name}`), { code: '23514' });
          }
          await tx.query('UPDATE accounts SET balance_cents = $1 WHERE id = $2', [next, change.account]);
        }
        // The transaction leaves this session: it now waits at the bank, locks held, for the decision.
        await tx.query(`PREPARE TRANSACTION '${gid}'`);
      }),
      timeoutMs,
      `${bank.name} preparing ${gid}`,
    );
    return { vote: 'yes' };
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { vote: 'no', reason: code === '23514' ? `insufficient funds at ${bank.name}` : (error as Error).message };
  }
}

// ─── TODO(4): phase 2 at one bank ─────────────────────────────────────────────────

/**
 * Tells one bank the decision about a gid: `COMMIT PREPARED '<gid>'` or `ROLLBACK PREPARED
 * '<gid>'`, sent outside any transaction (bank.db.query).
 *
 * - It returns only once the bank has finished the transaction: a failure (the server
 *   down, a lost connection) is retried, after a wait (c.sleep), until it succeeds.
 * - SQLSTATE 42704, "prepared transaction ... does not exist", means the bank has no such
 *   prepared transaction: already finished (an earlier attempt whose answer was lost), or
 *   never prepared. Either way there is nothing left to do: return.
 */
export async function finish(c: Coordinator, bank: Bank, gid: string, decision: Decision): Promise<void> {
  const statement = decision === 'commit' ? `COMMIT PREPARED '${gid}'` : `ROLLBACK PREPARED '${gid}'`;
  for (let attempt = 0; ; attempt++) {
    try {
      await bank.db.query(statement);
      return;
    } catch (error) {
      if ((error as { code?: string }).code === NO_SUCH_PREPARED_TRANSACTION) {
        // Finished already (the answer to an earlier attempt was lost), or never prepared.
        return;
      }
      await c.sleep(Math.min(MAX_RETRY_WAIT_MS, 50 * 2 ** Math.min(attempt, 10)));
    }
  }
}

// ─── TODO(5): one transfer, both phases ───────────────────────────────────────────

/**
 * Moves `t.amountCents` from `t.from` to `t.to`, at two different banks, atomically:
 *
 * 1. Phase 1: ask both banks to prepare their part (a debit at `t.from.bank`, a credit at
 *    `t.to.bank`), both at once, each with `c.voteTimeoutMs`.
 * 2. If every vote is yes: record the decision to commit in the log (a row in
 *    DECISIONS_TABLE, committed) BEFORE telling any bank; then finish(commit) at every
 *    bank, and answer `committed`.
 * 3. Otherwise: finish(abort) at every bank, and answer `aborted` with the reasons.
 *
 * If recording the decision fails, you cannot know whether it was recorded: do not answer
 * `aborted` (it may have been), let the error propagate; recovery settles it.
 */
export async function transfer(c: Coordinator, t: Transfer): Promise<TransferOutcome> {
  const gid = gidFor(c.id, t.id);
  const parts = new Map<string, BalanceChange[]>();
  parts.set(t.from.bank, [{ account: t.from.account, deltaCents: -t.amountCents }]);
  parts.set(t.to.bank, [...(parts.get(t.to.bank) ?? []), { account: t.to.account, deltaCents: t.amountCents }]);
  const banks = [...parts.keys()].map((name) => {
    const bank = c.banks[name];
    if (bank === undefined) {
      throw new Error(`no bank ${name}`);
    }
    return bank;
  });

  const votes = await Promise.all(banks.map((bank) => prepare(bank, gid, parts.get(bank.name) ?? [], c.voteTimeoutMs)));
  const noes = votes.flatMap((v) => (v.vote === 'no' ? [v.reason] : []));
  if (noes.length > 0) {
    await Promise.all(banks.map((bank) => finish(c, bank, gid, 'abort')));
    return { status: 'aborted', reason: noes.join('; ') };
  }
  // The commit point: from this row on, the transfer happens, whatever fails next.
  await c.log.query(`INSERT INTO ${DECISIONS_TABLE} (gid) VALUES ($1) ON CONFLICT (gid) DO NOTHING`, [gid]);
  await Promise.all(banks.map((bank) => finish(c, bank, gid, 'commit')));
  return { status: 'committed' };
}

// ─── TODO(6): recovery ────────────────────────────────────────────────────────────

/**
 * Runs when the coordinator starts again (after migrate), and whenever it is asked: at
 * every bank, lists the prepared transactions still waiting (`SELECT gid FROM
 * pg_prepared_xacts WHERE database = current_database()`) and finishes every one of THIS
 * coordinator's (isOwnGid): commit if the log holds a decision to commit for its gid,
 * roll back if it does not. Others' gids are left alone.
 *
 * Answers what it did, each gid once (a transfer prepared at both banks is one gid).
 * Run twice, the second run finds nothing to do.
 */
export async function recover(c: Coordinator): Promise<RecoveryReport> {
  const committed = new Set<string>();
  const rolledBack = new Set<string>();
  for (const bank of Object.values(c.banks)) {
    const waiting = await bank.db.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid');
    for (const { gid } of waiting.rows.filter((row) => isOwnGid(c.id, row.gid))) {
      const decided = await c.log.query(`SELECT 1 FROM ${DECISIONS_TABLE} WHERE gid = $1`, [gid]);
      const decision: Decision = decided.rows.length > 0 ? 'commit' : 'abort';
      await finish(c, bank, gid, decision);
      (decision === 'commit' ? committed : rolledBack).add(gid);
    }
  }
  return { committed: [...committed], rolledBack: [...rolledBack] };
}
