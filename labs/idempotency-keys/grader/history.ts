/**
 * The Idempotency Keys grader's history, as a vocabulary: what each kind of event carries,
 * and how the checkers read it back. Each request lane (`client`, `round 1/client-3`,
 * `after commit 2`...) invokes `POST /payments` and ends with the learner's response (`ok`)
 * or without one (`info`: it threw, crashed or timed out; it may have charged). The
 * grader's payment provider notes every request it answered, with the charge it made: its
 * ledger is the truth about what was charged. The grader notes the faults it injects and
 * the clock it moves; the learner's process is killed at crash points.
 */
import type { CrashEvent, FaultEvent, PlainEvent, RemarkEvent, ValueEvent } from '../../../src/core/grading/history';
import type { TablesSeen } from './protocol';

/** The operation every request lane performs. */
export const PAYMENTS = 'POST /payments';
/** The process of the provider's notes. */
export const PROVIDER = 'provider';
/** The process of the grader's faults and remarks. */
export const GRADER = 'grader';
/** The process of the learner's crashes, and of its migrate run again by a restarted process. */
export const LEARNER = 'learner';
/** The grader's reading of the learner's own tables (idempotency_keys and payments) for a user. */
export const TABLES = 'tables';
export const TABLES_READ = 'tables read';
/** The learner's migrate, run again by a restarted process as a deployed one runs it. */
export const MIGRATE = 'migrate';

/** A request as the history records its invocation. */
export interface RequestInput {
  readonly user: string;
  /** The key as shown (a long key is abbreviated), or null when none was sent. */
  readonly key: string | null;
  readonly body: unknown;
}

/** A response as the history records it. */
export interface RecordedResponse {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: string;
}

/** What the provider did, as a note in the history. */
export interface ProviderNote {
  readonly status: number | 'cut';
  readonly replayed: boolean;
  readonly key: string | null;
  /** The charge the request made, if it made one. */
  readonly charge?: string;
  readonly customer?: string;
  readonly amount?: number;
}

/**
 * How a provider note reads in the timeline: the charge it made (and whether its answer was
 * cut), a replayed answer, a decline, or the status it answered with.
 */
export type ProviderOp = `charged ${string}` | `replayed ${number | 'cut'}` | 'declined 402' | `${number}` | 'cut';

export type IdempotencyEvent =
  | ValueEvent<'invoke', typeof PAYMENTS, RequestInput>
  | ValueEvent<'ok', typeof PAYMENTS, RecordedResponse>
  /** No response: `detail` says why (it threw, its process died, it timed out). */
  | PlainEvent<'info', typeof PAYMENTS>
  /** The provider's notes are the only notes that carry a value. */
  | ValueEvent<'note', ProviderOp, ProviderNote>
  /** The grader's remarks: the clock it moved, the commit points a clean request passed. */
  | RemarkEvent
  /** A fault the grader injected: database latency, a provider failure, a crash armed. */
  | FaultEvent
  /** The learner's process killed (at a crash point, or while the provider charged). */
  | CrashEvent
  /** What the learner's tables held for the scenario's user, read after recovery. */
  | ValueEvent<'note', typeof TABLES_READ, TablesSeen>
  /** The learner's migrate threw when a restarted process ran it again on the existing tables. */
  | PlainEvent<'fail', typeof MIGRATE>;

/** One request, from its invocation to how it ended. */
export interface RequestRecord {
  readonly lane: string;
  readonly invoked: number;
  readonly ended: number | undefined;
  readonly input: RequestInput;
  /** The response, or undefined when the request ended without one (threw, crashed, timed out). */
  readonly response: RecordedResponse | undefined;
  /** Why there was no response. */
  readonly failure: string | undefined;
}

/** The requests of a history, in order of invocation. */
export function requestsOf(history: readonly IdempotencyEvent[]): RequestRecord[] {
  const open = new Map<string, { index: number; input: RequestInput }>();
  const done: RequestRecord[] = [];
  history.forEach((e, index) => {
    if (e.type === 'invoke' && e.op === PAYMENTS) {
      open.set(e.process, { index, input: e.value });
      return;
    }
    if ((e.type === 'ok' || e.type === 'info') && e.op === PAYMENTS) {
      const started = open.get(e.process);
      if (!started) {
        return;
      }
      open.delete(e.process);
      done.push({
        lane: e.process,
        invoked: started.index,
        ended: index,
        input: started.input,
        response: e.type === 'ok' ? e.value : undefined,
        failure: e.type === 'ok' ? undefined : (e.detail ?? 'no response'),
      });
    }
  });
  for (const [lane, started] of open) {
    done.push({ lane, invoked: started.index, ended: undefined, input: started.input, response: undefined, failure: 'it never ended' });
  }
  return done.sort((a, b) => a.invoked - b.invoked);
}

/** The provider's notes between two events (inclusive), with their indexes. */
export function providerNotes(history: readonly IdempotencyEvent[], from = 0, to = history.length - 1): { index: number; note: ProviderNote }[] {
  const out: { index: number; note: ProviderNote }[] = [];
  for (let i = Math.max(0, from); i <= Math.min(to, history.length - 1); i++) {
    const e = history[i];
    if (e?.process === PROVIDER && e.type === 'note' && e.value !== undefined && 'status' in e.value) {
      out.push({ index: i, note: e.value });
    }
  }
  return out;
}

/** Charges really made between two events (inclusive). */
export function chargesMade(history: readonly IdempotencyEvent[], from = 0, to = history.length - 1): { index: number; note: ProviderNote }[] {
  return providerNotes(history, from, to).filter((p) => p.note.charge !== undefined);
}

/** The learner's tables as the grader read them last (after recovery), with the index of the reading; undefined when never read. */
export function lastTables(history: readonly IdempotencyEvent[], from = 0, to = history.length - 1): { index: number; tables: TablesSeen } | undefined {
  for (let i = Math.min(to, history.length - 1); i >= Math.max(0, from); i--) {
    const e = history[i];
    if (e?.type === 'note' && e.op === TABLES_READ && e.value !== undefined && 'ok' in e.value) {
      return { index: i, tables: e.value };
    }
  }
  return undefined;
}

/** The times a restarted process's migrate threw, with their indexes. */
export function migrateFailures(history: readonly IdempotencyEvent[]): { index: number; detail: string }[] {
  return history.flatMap((e, index) => (e.type === 'fail' && e.op === MIGRATE ? [{ index, detail: e.detail ?? 'it threw' }] : []));
}
