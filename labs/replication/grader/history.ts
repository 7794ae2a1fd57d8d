/**
 * The Replication grader's history, as a vocabulary. Each session of the learner's router
 * has a lane, `session:<id>`, where its writes and reads are invoked and end: a write of a
 * key's next version, a read of a key with the version it returned, and for each, on which
 * servers the statement really ran (the adapter's trace, not the code's own `from`). Each
 * server has a lane, `server:<name>`, for what the grader did to it (replay paused, the
 * container paused or stopped, cut off, promoted). `admin` holds the learner's ServerAdmin
 * calls, `grader` the plan and the truth read from the servers (the standby's state after
 * the set-up, the lag measured around the learner's, what survived a failover).
 */
import type { FaultEvent, HealEvent, PlainEvent, RemarkEvent, ValueEvent } from '../../../src/core/grading/history';
import type { LsnOutcome } from './protocol';

export const GRADER = 'grader';
export const ADMIN = 'admin';
export const sessionLane = (id: string): string => `session:${id}`;
export const serverLane = (name: string): string => `server:${name}`;

/** Where the statements of one call ran. */
export interface Routing {
  /** The servers the grader's own statement (the read or the write) ran on, in order. */
  readonly ranOn: readonly string[];
  /** Whether any statement of the call was refused as a write on a standby (25006). */
  readonly refusedAsReadOnly: boolean;
}

export interface WriteInput {
  readonly key: string;
  readonly version: number;
}
export interface ReadInput {
  readonly key: string;
  /**
   * Where the grader expects the read to be answered from, when it knows: the standby is
   * down, or fresh, or behind but replaying again (resumed early in the read's wait, so that
   * it catches up well within maxWaitMs: the standby must answer).
   */
  readonly standbyIs: 'fresh' | 'behind' | 'catching-up' | 'down' | 'unknown';
}
export interface WriteDone extends Routing {
  readonly ms: number;
}
export interface ReadDone extends Routing {
  /** The version read; 0 when the key was not there. */
  readonly version: number;
  /** What the code said: 'primary' or 'standby' (or anything else it returned). */
  readonly from: string;
  readonly ms: number;
}
export interface CallFailed extends Routing {
  readonly message: string;
  readonly ms: number;
  /** The call did not end within the grader's limit. */
  readonly hung: boolean;
}

/** What the grader read from the servers after the learner's setUpStandby. */
export interface SetUpTruth {
  readonly answered: boolean;
  readonly error?: string;
  readonly standbyInRecovery: boolean;
  /** The primary's WAL sender for the standby: its state, and the slot it uses. */
  readonly senders: readonly { readonly state: string; readonly slot: string | null; readonly user: string }[];
  readonly slots: readonly { readonly name: string; readonly type: string; readonly active: boolean }[];
  readonly roleIsSuperuser: boolean | null;
  /** A row the grader wrote on the primary was on the standby within the limit. */
  readonly rowReplicated: boolean;
  /** SQLSTATE of a write on the standby ('' when it was accepted). */
  readonly writeOnStandby: string;
  /** The WAL sender's process before and after the set-up ran again (the same: nothing was redone). */
  readonly senderBefore: number | null;
  readonly senderAfterAgain: number | null;
  readonly againAnswered: boolean;
  readonly againError?: string;
  /** pg_hba.conf on the primary was changed by the second run (a line added again, say). */
  readonly hbaChangedByRunAgain: boolean;
  /** A program the set-up ran in a container had the replication password among its arguments (where `ps` shows it). */
  readonly passwordOnCommandLine: boolean;
}

/** The lag the learner reported, and the grader's own measurement around it. */
export interface LagTruth {
  readonly phase: 'behind' | 'caught-up';
  readonly answered: boolean;
  readonly error?: string;
  readonly reported?: { readonly bytes: unknown; readonly seconds: unknown; readonly primaryLsn: unknown; readonly replayLsn: unknown };
  /** The primary's LSN minus the standby's replay LSN, just before and just after the call, in bytes. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly replayLsn: string;
  /** Seconds since the last replayed transaction committed, measured by the grader just before and after. */
  readonly secondsBefore: number | null;
  readonly secondsAfter: number | null;
}

/** Synchronous replication, as the learner's setSynchronous(primary, true) made it. */
export interface SynchronousTruth {
  readonly answered: boolean;
  readonly error?: string;
  /** The primary's WAL sender became sync (pg_stat_replication.sync_state) within the limit. */
  readonly becameSync: boolean;
  /** The keys of the writes acknowledged, then those the standby did not have once it was cut off. */
  readonly acknowledged: readonly string[];
  readonly notOnStandby: readonly string[];
  /** A write sent while the standby was cut off did not return within the limit. */
  readonly commitWaited: boolean;
  /** A write sent while the standby's replay was paused (the WAL received, not applied) did not return within the limit. */
  readonly applyWaited: boolean;
  /** setSynchronous(primary, false) made commits asynchronous again. */
  readonly offAnswered: boolean;
  readonly offError?: string;
}

/** What the learner's parseLsn and compareLsn made of the grader's LSNs. */
export interface LsnTruth {
  readonly answered: boolean;
  readonly error?: string;
  /** Each text, the number PostgreSQL means by it (decimal), or null when it is no LSN; and what parseLsn returned or threw. */
  readonly parsed: readonly { readonly text: string; readonly expected: string | null; readonly got: LsnOutcome }[];
  /** Each pair, the sign of a − b, and the sign of what compareLsn returned (or what it threw). */
  readonly compared: readonly { readonly a: string; readonly b: string; readonly expected: -1 | 0 | 1; readonly got: LsnOutcome }[];
}

/** What a failover did, and what survived it. */
export interface FailoverTruth {
  readonly answered: boolean;
  readonly error?: string;
  /** The keys of the writes the router acknowledged before the failover. */
  readonly acknowledged: readonly string[];
  /** Those not on the new primary afterwards: lost. */
  readonly lost: readonly string[];
  /** The keys of the writes the learner's report says were lost (from their params), or null if it gave none. */
  readonly reportedLost: readonly string[] | null;
  readonly promoted: boolean;
  /** A write sent by a stale client straight to the old primary after the failover: refused, or accepted. */
  readonly staleWrite: 'refused' | 'accepted';
  /** Writes through the router after the failover, and where they ran. */
  readonly writesAfter: readonly Routing[];
}

export type ReplicationEvent =
  | ValueEvent<'invoke', 'write', WriteInput>
  | ValueEvent<'ok', 'write', WriteDone>
  | ValueEvent<'fail', 'write', CallFailed>
  | ValueEvent<'invoke', 'read', ReadInput>
  | ValueEvent<'ok', 'read', ReadDone>
  | ValueEvent<'fail', 'read', CallFailed>
  | ValueEvent<'note', 'set-up', SetUpTruth>
  | ValueEvent<'note', 'lag', LagTruth>
  | ValueEvent<'note', 'failover', FailoverTruth>
  | ValueEvent<'note', 'lsn', LsnTruth>
  | ValueEvent<'note', 'synchronous', SynchronousTruth>
  | ValueEvent<'note', 'admin', { readonly op: string; readonly subject: string; readonly ok: boolean; readonly ms: number; readonly message?: string }>
  | PlainEvent<'note', 'precondition'>
  | FaultEvent
  | HealEvent
  | RemarkEvent;

/** A session's operations, paired: each invocation with its end (or none, when the scenario ended first). */
export interface SessionOp {
  readonly session: string;
  readonly kind: 'write' | 'read';
  readonly key: string;
  readonly invokeIndex: number;
  readonly invokedAt: number;
  /** For a write: the version written. */
  readonly version?: number;
  readonly standbyIs?: ReadInput['standbyIs'];
  readonly end?: { readonly index: number; readonly at: number } & ({ readonly ok: true; readonly done: WriteDone | ReadDone } | { readonly ok: false; readonly failed: CallFailed });
}

/** Every session operation of the history, in invocation order. */
export function sessionOps(history: readonly ReplicationEvent[]): SessionOp[] {
  const ops: SessionOp[] = [];
  const open = new Map<string, number>();
  history.forEach((e, index) => {
    if (!e.process.startsWith('session:')) {
      return;
    }
    const session = e.process.slice('session:'.length);
    if (e.type === 'invoke' && e.op === 'write') {
      open.set(session, ops.length);
      ops.push({ session, kind: 'write', key: e.value.key, version: e.value.version, invokeIndex: index, invokedAt: e.at });
    } else if (e.type === 'invoke' && e.op === 'read') {
      open.set(session, ops.length);
      ops.push({ session, kind: 'read', key: e.value.key, standbyIs: e.value.standbyIs, invokeIndex: index, invokedAt: e.at });
    } else if ((e.type === 'ok' || e.type === 'fail') && (e.op === 'write' || e.op === 'read')) {
      const at = open.get(session);
      const op = at === undefined ? undefined : ops[at];
      if (op === undefined) {
        return;
      }
      open.delete(session);
      ops[at!] = { ...op, end: e.type === 'ok' ? { index, at: e.at, ok: true, done: e.value } : { index, at: e.at, ok: false, failed: e.value } };
    }
  });
  return ops;
}

type Noted = Extract<ReplicationEvent, { readonly type: 'note'; readonly value: unknown }>;
type NoteOp = Exclude<Noted['op'], 'admin'>;
type NoteValue<Op extends NoteOp> = NonNullable<Extract<Noted, { readonly op: Op }>['value']>;

/** The grader's notes of one kind, in order, with their places in the history. */
function notesOf<Op extends NoteOp>(history: readonly ReplicationEvent[], op: Op): { index: number; value: NoteValue<Op> }[] {
  const found: { index: number; value: NoteValue<Op> }[] = [];
  history.forEach((e, index) => {
    if (e.type === 'note' && e.op === op && 'value' in e && e.value !== undefined) found.push({ index, value: e.value as NoteValue<Op> });
  });
  return found;
}

/** The grader's truth after each set-up, in order. */
export const setUpNotes = (history: readonly ReplicationEvent[]) => notesOf(history, 'set-up');
/** Each lag the learner reported, with the grader's measurement around it. */
export const lagNotes = (history: readonly ReplicationEvent[]) => notesOf(history, 'lag');
/** Each failover, with what survived it. */
export const failoverNotes = (history: readonly ReplicationEvent[]) => notesOf(history, 'failover');
/** Each run of synchronous replication, and what it kept. */
export const synchronousNotes = (history: readonly ReplicationEvent[]) => notesOf(history, 'synchronous');
/** What parseLsn and compareLsn made of the grader's LSNs. */
export const lsnNotes = (history: readonly ReplicationEvent[]) => notesOf(history, 'lsn');

/** Why a scenario could not be run to its end (the grader's own set-up of the pair failed), if it says so. */
export function precondition(history: readonly ReplicationEvent[]): { index: number; detail: string } | undefined {
  const index = history.findIndex((e) => e.type === 'note' && e.op === 'precondition');
  return index < 0 ? undefined : { index, detail: history[index]?.detail ?? '' };
}
