/**
 * The Two-phase commit grader's history, as a vocabulary. Each transfer has a lane,
 * `transfer:<id>`, where transfer() is invoked and ends (with the learner's answer, or
 * without one: it threw, hung, or the grader killed the coordinator). `coordinator` holds
 * the kills, `bank:<name>` what the grader did to a bank (killed, paused, a lost reply),
 * `recovery` the calls of recover(), and `grader` the plan and, last, the truth read from
 * the servers after the last recovery: each bank's committed changes and the transfer each
 * belonged to (audit.ts), what is still prepared there, the decision log. The checkers
 * judge every transfer against that truth, never against the learner's answers alone.
 */
import type { CrashEvent, FaultEvent, HealEvent, PlainEvent, RemarkEvent, ValueEvent } from '../../../src/core/grading/history';
import type { HistoryFocus } from '../../../src/core/grading/report';

export const TRANSFER = 'transfer';
export const RECOVER = 'recover';
export const MIGRATE = 'migrate';
export const TRUTH = 'truth';
export const GRADER = 'grader';
export const RECOVERY = 'recovery';
export const COORDINATOR = 'coordinator';
/** A note, right after transfer() answered, of what its banks still held prepared (only when something was). */
export const UNFINISHED = 'still prepared after the answer';
/** A note, just before a recovery, of what was in doubt: the gids prepared since the scenario began. */
export const IN_DOUBT = 'in doubt';
/** The detail of the last recover() of a scenario, which must find nothing left to do. */
export const AGAIN = 'again';
/** The demonstration's other transaction, at a bank, on its own lane: an UPDATE of an account a prepared transaction holds. */
export const UPDATE = 'update';
export const otherLane = (bank: string): string => `other:${bank}`;
/** The demonstration's note of who waits for whom, from pg_locks. */
export const LOCK_WAIT = 'lock wait';

export const transferLane = (id: string): string => `transfer:${id}`;
export const bankLane = (bank: string): string => `bank:${bank}`;

/**
 * What the scenario expects of a transfer: decided by its plan (a no vote; the coordinator
 * killed before anything was logged), or either (a crash after the log was written, a race).
 */
export type Expectation = 'committed' | 'aborted' | 'either';

/** transfer()'s invocation: the transfer, and what the scenario planned and expects. */
export interface TransferInput {
  readonly id: string;
  readonly from: { readonly bank: string; readonly account: string };
  readonly to: { readonly bank: string; readonly account: string };
  readonly amountCents: number;
  readonly expect: Expectation;
  /** The faults planned for it, as text. */
  readonly plan: readonly string[];
}

export type TransferAnswer = { readonly status: 'committed' } | { readonly status: 'aborted'; readonly reason: string };

/** One committed change to an account, from the bank's audit trigger. */
export interface AuditRow {
  readonly xid: string;
  readonly account: string;
  readonly deltaCents: number;
}

/** A prepared transaction that committed: its xid, its gid, and the transfer the learner's code was running when it was prepared. */
export interface PrepareRow {
  readonly xid: string;
  readonly gid: string;
  readonly transfer: string;
}

/** What one bank holds at the end. */
export interface BankTruth {
  /** The scenario's accounts. */
  readonly balances: Readonly<Record<string, number>>;
  /** Every committed change to the scenario's accounts, by the transaction that made it. */
  readonly changes: readonly AuditRow[];
  /** The committed prepared transactions of the scenario's transfers, and of the changes' xids. */
  readonly commits: readonly PrepareRow[];
  /** The gids prepared there now, anyone's. */
  readonly prepared: readonly string[];
  /** The gids that were prepared there when the scenario began (the planted ones among them). */
  readonly preparedBefore: readonly string[];
}

/** The `truth` note, read by the grader from the servers after the last recovery. */
export interface TruthNote {
  readonly banks: Readonly<Record<string, BankTruth>>;
  /** The gids the decision log gained during the scenario. */
  readonly decided: readonly string[];
  /** Why the log could not be read, when it could not. */
  readonly logProblem?: string;
  /** The sum of the scenario's balances before it. */
  readonly initialTotalCents: number;
  /** Prepared transactions of another coordinator that the grader planted, by bank: never to be finished. */
  readonly planted: readonly { readonly bank: string; readonly gid: string }[];
  /** This coordinator's id. */
  readonly coordinatorId: string;
}

/** What recover() answered (as the lab's RecoveryReport), or anything else it returned. */
export type RecoveryAnswer = { readonly committed: readonly string[]; readonly rolledBack: readonly string[] };

export type TransferEvent =
  | ValueEvent<'invoke', typeof TRANSFER, TransferInput>
  | ValueEvent<'ok', typeof TRANSFER, unknown>
  /** It threw: the outcome is unknown to the caller. */
  | PlainEvent<'fail', typeof TRANSFER>
  /** No answer: the coordinator was killed, or it hung past its limit. */
  | PlainEvent<'info', typeof TRANSFER>;

export type RecoveryEvent =
  | PlainEvent<'invoke', typeof RECOVER | typeof MIGRATE>
  | ValueEvent<'ok', typeof RECOVER, unknown>
  | PlainEvent<'ok', typeof MIGRATE>
  | PlainEvent<'fail', typeof RECOVER | typeof MIGRATE>
  | PlainEvent<'info', typeof RECOVER | typeof MIGRATE>;

/** Who waits for whom, as pg_locks shows it. */
export interface LockWaitNote {
  readonly bank: string;
  readonly account: string;
  /** The waiting session, and what it waits for. */
  readonly pid: number;
  readonly locktype: string;
  readonly wanted: string;
  /** The prepared transaction that holds the lock, if pg_locks names one. */
  readonly heldBy?: { readonly gid: string; readonly xid: string; readonly mode: string; readonly preparedAt: string };
  /** pg_blocking_pids: 0 stands for a prepared transaction, which has no session. */
  readonly blockingPids: readonly number[];
  readonly waitedMs: number;
}

export interface UnfinishedNote {
  readonly transfer: string;
  /** The gids prepared at each bank, that were not before the scenario and are not another coordinator's. */
  readonly prepared: Readonly<Record<string, readonly string[]>>;
}

export type TwoPhaseEvent =
  | TransferEvent
  | RecoveryEvent
  | ValueEvent<'note', typeof TRUTH, TruthNote>
  | ValueEvent<'note', typeof UNFINISHED, UnfinishedNote>
  | ValueEvent<'note', typeof IN_DOUBT, readonly string[]>
  | ValueEvent<'note', typeof LOCK_WAIT, LockWaitNote>
  | PlainEvent<'invoke', typeof UPDATE>
  | PlainEvent<'ok', typeof UPDATE>
  | PlainEvent<'fail', typeof UPDATE>
  | CrashEvent
  | FaultEvent
  | HealEvent
  | RemarkEvent;

/** One transfer as the history shows it: its invocation and its end. */
export interface TransferRecord {
  readonly input: TransferInput;
  readonly invoke: number;
  /** The event that ended it, if any. */
  readonly end?: number;
  /** What transfer() answered, when it is a TransferOutcome. */
  readonly answer?: TransferAnswer;
  /** What it returned that is not a TransferOutcome. */
  readonly strange?: unknown;
  /** Whether it ended without an answer (threw, killed, hung). */
  readonly unanswered: boolean;
  /** Whether the grader killed the coordinator while it ran. */
  readonly killed: boolean;
}

function isAnswer(value: unknown): value is TransferAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const status = (value as { status?: unknown }).status;
  return status === 'committed' || (status === 'aborted' && typeof (value as { reason?: unknown }).reason === 'string');
}

export function isRecoveryAnswer(value: unknown): value is RecoveryAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const { committed, rolledBack } = value as { committed?: unknown; rolledBack?: unknown };
  return Array.isArray(committed) && Array.isArray(rolledBack) && [...committed, ...rolledBack].every((g) => typeof g === 'string');
}

export function transfersOf(history: readonly TwoPhaseEvent[]): TransferRecord[] {
  const records = new Map<string, { input: TransferInput; invoke: number; end?: number; answer?: TransferAnswer; strange?: unknown; unanswered: boolean; killed: boolean }>();
  history.forEach((event, index) => {
    if (event.op !== TRANSFER || event.type === 'note') return;
    const id = event.process.slice('transfer:'.length);
    if (event.type === 'invoke') {
      records.set(id, { input: event.value, invoke: index, unanswered: false, killed: false });
      return;
    }
    const record = records.get(id);
    if (record === undefined || record.end !== undefined) return;
    record.end = index;
    if (event.type === 'ok') {
      if (isAnswer(event.value)) record.answer = event.value;
      else record.strange = event.value ?? null;
    } else {
      record.unanswered = true;
      record.killed = event.type === 'info' && (event.detail ?? '').startsWith('the grader killed');
    }
  });
  return [...records.values()].map((r) => ({ ...r, unanswered: r.unanswered || r.end === undefined }));
}

/** The last truth note, and its index. */
export function truthOf(history: readonly TwoPhaseEvent[]): { readonly truth: TruthNote; readonly index: number } | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const event = history[i];
    if (event?.type === 'note' && event.op === TRUTH && event.value !== undefined) {
      return { truth: event.value, index: i };
    }
  }
  return undefined;
}

/** The part of the history that shows one transfer: its lane, the banks' lanes, the coordinator's kills, recovery. */
export function transferFocus(record: TransferRecord): HistoryFocus {
  return {
    label: `transfer ${record.input.id}`,
    processes: [transferLane(record.input.id)],
    context: [bankLane(record.input.from.bank), bankLane(record.input.to.bank), COORDINATOR, RECOVERY, GRADER],
  };
}
