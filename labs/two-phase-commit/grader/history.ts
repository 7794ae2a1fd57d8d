/**
 * The Two-phase commit grader's history, as a vocabulary. Each transfer has a lane,
 * `transfer:<id>`, where transfer() is invoked and ends (with the learner's answer, or
 * without one: it threw, hung, or the grader killed the coordinator). The adapter, in the
 * learner's process, notes on the bank's lane every PREPARE TRANSACTION it forwards, with
 * the xid of the transaction it prepares (read in that transaction just before), so that
 * the banks' own audit (a trigger the grader installs on `accounts`, keyed by xid) tells,
 * at the end, which banks committed which gid. `recovery` holds the calls of recover(),
 * `coordinator` the kills, and `grader` the plan and, last, the truth read from the
 * servers: what the checkers judge every transfer against.
 */
import type { CrashEvent, FaultEvent, HealEvent, PlainEvent, RemarkEvent, ValueEvent } from '../../../src/core/grading/history';
import type { HistoryFocus } from '../../../src/core/grading/report';

export const TRANSFER = 'transfer';
export const RECOVER = 'recover';
export const PREPARE = 'prepare';
export const TRUTH = 'truth';
export const GRADER = 'grader';
export const RECOVERY = 'recovery';
export const COORDINATOR = 'coordinator';
export const transferLane = (id: string): string => `transfer:${id}`;
export const bankLane = (bank: string): string => `bank:${bank}`;

/** What the scenario expects of a transfer: decided by its plan, or either (a race, a crash that may fall either side of the commit point). */
export type Expectation = 'committed' | 'aborted' | 'either';

/** transfer()'s invocation: the transfer, and what the scenario planned and expects. */
export interface TransferInput {
  readonly id: string;
  readonly gid: string;
  readonly from: { readonly bank: string; readonly account: string };
  readonly to: { readonly bank: string; readonly account: string };
  readonly amountCents: number;
  readonly expect: Expectation;
  /** The faults planned for it, as text. */
  readonly plan: readonly string[];
}

export type TransferAnswer = { readonly status: 'committed' } | { readonly status: 'aborted'; readonly reason: string };

/** A PREPARE TRANSACTION the learner's code sent to a bank, with the transaction's xid. */
export interface PrepareNote {
  readonly bank: string;
  readonly gid: string;
  readonly xid: string;
}

/** One committed change to an account, from the bank's audit trigger. */
export interface AuditRow {
  readonly xid: string;
  readonly account: string;
  readonly deltaCents: number;
}

/** What one bank holds at the end. */
export interface BankTruth {
  readonly balances: Readonly<Record<string, number>>;
  /** Every committed change to `accounts`, by the transaction that made it. */
  readonly audit: readonly AuditRow[];
  /** The gids still prepared there (anyone's). */
  readonly prepared: readonly string[];
}

/** The `truth` note, read by the grader from the servers after the last recovery. */
export interface TruthNote {
  readonly banks: Readonly<Record<string, BankTruth>>;
  /** The gids in the coordinator's decision log. */
  readonly decided: readonly string[];
  /** The sum of every balance at every bank before the scenario. */
  readonly initialTotalCents: number;
  /** Prepared transactions of other coordinators the grader planted, by bank. */
  readonly planted: readonly { readonly bank: string; readonly gid: string }[];
  /** This coordinator's id: its gids start with `2pc:<id>:`. */
  readonly coordinatorId: string;
}

export type TransferEvent =
  | ValueEvent<'invoke', typeof TRANSFER, TransferInput>
  | ValueEvent<'ok', typeof TRANSFER, TransferAnswer>
  /** It threw: the outcome is unknown to the caller. */
  | PlainEvent<'fail', typeof TRANSFER>
  /** No answer: the coordinator was killed, or it hung past the scenario's limit. */
  | PlainEvent<'info', typeof TRANSFER>;

export type RecoveryEvent =
  | PlainEvent<'invoke', typeof RECOVER>
  | ValueEvent<'ok', typeof RECOVER, { readonly committed: readonly string[]; readonly rolledBack: readonly string[] }>
  | PlainEvent<'fail', typeof RECOVER>
  | PlainEvent<'info', typeof RECOVER>;

export type TwoPhaseEvent =
  | TransferEvent
  | RecoveryEvent
  | ValueEvent<'note', typeof PREPARE, PrepareNote>
  | ValueEvent<'note', typeof TRUTH, TruthNote>
  | CrashEvent
  | FaultEvent
  | HealEvent
  | RemarkEvent;

/** One transfer as the history shows it: its invocation, its end, and where it was prepared. */
export interface TransferRecord {
  readonly input: TransferInput;
  readonly invoke: number;
  /** The event that ended it, if any. */
  readonly end?: number;
  readonly answer?: TransferAnswer;
  /** Whether it ended without an answer (threw, killed, hung). */
  readonly unanswered: boolean;
  /** Its PREPARE notes, by bank (the last one at each bank). */
  readonly prepares: ReadonlyMap<string, { readonly note: PrepareNote; readonly index: number }>;
}

export function transfersOf(history: readonly TwoPhaseEvent[]): TransferRecord[] {
  const records = new Map<string, { input: TransferInput; invoke: number; end?: number; answer?: TransferAnswer; unanswered: boolean; prepares: Map<string, { note: PrepareNote; index: number }> }>();
  const byGid = new Map<string, string>();
  history.forEach((event, index) => {
    if (event.op === TRANSFER && event.type !== 'note') {
      const id = event.process.slice('transfer:'.length);
      if (event.type === 'invoke') {
        records.set(id, { input: event.value, invoke: index, unanswered: false, prepares: new Map() });
        byGid.set(event.value.gid, id);
        return;
      }
      const record = records.get(id);
      if (record === undefined || record.end !== undefined) return;
      record.end = index;
      if (event.type === 'ok') {
        record.answer = event.value;
      } else {
        record.unanswered = true;
      }
      return;
    }
    if (event.type === 'note' && event.op === PREPARE && event.value !== undefined) {
      const id = byGid.get(event.value.gid);
      const record = id !== undefined ? records.get(id) : undefined;
      record?.prepares.set(event.value.bank, { note: event.value, index });
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

/** Every PREPARE note, in history order. */
export function prepareNotes(history: readonly TwoPhaseEvent[]): { readonly note: PrepareNote; readonly index: number }[] {
  return history.flatMap((event, index) => (event.type === 'note' && event.op === PREPARE && event.value !== undefined ? [{ note: event.value, index }] : []));
}

/** The part of the history that shows one transfer: its lane, the banks' lanes, the coordinator's kills, recovery. */
export function transferFocus(record: TransferRecord): HistoryFocus {
  return {
    label: `transfer ${record.input.id}`,
    processes: [transferLane(record.input.id)],
    context: [bankLane(record.input.from.bank), bankLane(record.input.to.bank), COORDINATOR, RECOVERY],
  };
}
