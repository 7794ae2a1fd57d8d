/**
 * A correct coordinator written another way than the reference, to show that the grader
 * judges what happens, not the shape of the code:
 *
 * - the banks vote one after the other, the sending bank first, and the second is not asked
 *   when the first says no;
 * - a bank checks the balance itself (`UPDATE ... WHERE balance_cents + $1 >= 0`), and the
 *   server bounds the wait for a row lock (`SET LOCAL lock_timeout`), besides the time limit
 *   on the whole vote;
 * - the decision is written in a transaction of the log (its COMMIT is the commit point);
 * - phase 2 first asks the bank whether the gid is still prepared, and only then finishes it;
 * - recovery reads the log's decisions once, then finishes each bank's in-doubt gids at once.
 */
import type { Db } from './db';
import { withTimeout } from './timeout';
import type { BalanceChange, Bank, Coordinator, Decision, RecoveryReport, Transfer, TransferOutcome, Vote } from './types';

export const DECISIONS_TABLE = 'twopc_decisions';

const SEPARATOR = ':';

export async function migrate(log: Db): Promise<void> {
  await log.exec(`CREATE TABLE IF NOT EXISTS ${DECISIONS_TABLE} (gid text PRIMARY KEY, decided_at timestamptz NOT NULL DEFAULT now())`);
}

export function gidFor(coordinatorId: string, transferId: string): string {
  return ['2pc', coordinatorId, transferId].join(SEPARATOR);
}

export function isOwnGid(coordinatorId: string, gid: string): boolean {
  const [tag, owner, ...rest] = gid.split(SEPARATOR);
  return tag === '2pc' && owner === coordinatorId && rest.length > 0;
}

const quoted = (gid: string): string => `'${gid.replaceAll("'", "''")}'`;

export async function prepare(bank: Bank, gid: string, changes: readonly BalanceChange[], timeoutMs: number): Promise<Vote> {
  const work = bank.db.transaction(async (tx) => {
    await tx.query(`SET LOCAL lock_timeout = '${Math.max(1, Math.floor(timeoutMs))}ms'`);
    for (const { account, deltaCents } of changes) {
      const moved = await tx.query('UPDATE accounts SET balance_cents = balance_cents + $1 WHERE id = $2 AND balance_cents + $1 >= 0 RETURNING id', [deltaCents, account]);
      if (moved.rows.length === 0) {
        const known = await tx.query('SELECT 1 FROM accounts WHERE id = $1', [account]);
        return { vote: 'no', reason: known.rows.length === 0 ? `${bank.name} has no account ${account}` : `${account} at ${bank.name} cannot pay ${-deltaCents} cents` } as const;
      }
    }
    await tx.query(`PREPARE TRANSACTION ${quoted(gid)}`);
    return { vote: 'yes' } as const;
  });
  try {
    return await withTimeout(work, timeoutMs, `the vote of ${bank.name}`);
  } catch (error) {
    return { vote: 'no', reason: `${bank.name}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

async function stillPrepared(bank: Bank, gid: string): Promise<boolean> {
  const found = await bank.db.query('SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()', [gid]);
  return found.rows.length > 0;
}

export async function finish(c: Coordinator, bank: Bank, gid: string, decision: Decision): Promise<void> {
  let wait = 20;
  for (;;) {
    try {
      if (!(await stillPrepared(bank, gid))) return;
      await bank.db.query(`${decision === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED ${quoted(gid)}`);
      return;
    } catch (error) {
      // Finished meanwhile (its answer lost, or another recovery): nothing left to do.
      if ((error as { code?: unknown }).code === '42704') return;
    }
    await c.sleep(wait);
    wait = Math.min(2 * wait, 800);
  }
}

export async function transfer(c: Coordinator, t: Transfer): Promise<TransferOutcome> {
  const gid = gidFor(c.id, t.id);
  const order: [string, BalanceChange][] = [
    [t.from.bank, { account: t.from.account, deltaCents: -t.amountCents }],
    [t.to.bank, { account: t.to.account, deltaCents: t.amountCents }],
  ];
  const asked: Bank[] = [];
  for (const [name, change] of order) {
    const bank = c.banks[name];
    if (bank === undefined) throw new Error(`unknown bank ${name}`);
    asked.push(bank);
    const vote = await prepare(bank, gid, [change], c.voteTimeoutMs);
    if (vote.vote === 'no') {
      for (const b of asked) await finish(c, b, gid, 'abort');
      return { status: 'aborted', reason: vote.reason };
    }
  }
  await c.log.transaction(async (tx) => {
    await tx.query(`INSERT INTO ${DECISIONS_TABLE} (gid) VALUES ($1)`, [gid]);
  });
  for (const bank of asked) await finish(c, bank, gid, 'commit');
  return { status: 'committed' };
}

export async function recover(c: Coordinator): Promise<RecoveryReport> {
  const decided = new Set((await c.log.query<{ gid: string }>(`SELECT gid FROM ${DECISIONS_TABLE}`)).rows.map((r) => r.gid));
  const done = new Map<string, Decision>();
  await Promise.all(
    Object.values(c.banks).map(async (bank) => {
      const waiting = await bank.db.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE database = current_database()');
      for (const { gid } of waiting.rows) {
        if (!isOwnGid(c.id, gid)) continue;
        const decision: Decision = decided.has(gid) ? 'commit' : 'abort';
        await finish(c, bank, gid, decision);
        done.set(gid, decision);
      }
    }),
  );
  const of = (d: Decision): string[] => [...done].filter(([, x]) => x === d).map(([gid]) => gid).sort();
  return { committed: of('commit'), rolledBack: of('abort') };
}
