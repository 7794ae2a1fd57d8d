/**
 * The Quorum grader's history, as a vocabulary: what each kind of event carries, and how
 * the checkers read it back. Each client (`client-1`...; `config` for the configurations
 * tried) opens a coordinator, then puts and gets as Jepsen-style register operations: a put
 * that failed may still have taken effect (`info`), a get that failed did nothing (`fail`).
 * The nemesis injects faults and heals them; the grader notes what each replica held.
 */
import type { FaultEvent, HealEvent, PlainEvent, ValueEvent } from '../../../src/core/grading/history';
import type { HistoryFocus } from '../../../src/core/grading/report';
import type { Declared, OpenInput, ReadAnswer, Stored, Version } from './protocol';

export const NEMESIS = 'nemesis';
export const GRADER = 'grader';
export const CLIENT = (i: number): string => `client-${i}`;

/** A `replicas` note: what each replica held for a key, read directly. */
export interface ReplicasNote {
  readonly key: string;
  /** null: it holds nothing; 'unreachable': it did not answer. */
  readonly held: readonly (Stored | null | 'unreachable')[];
}

/**
 * An `expect` note (other-quorums): from here until the next note of its key, the
 * coordinators of `key` run with these settings while the replicas named in `down` (of the
 * first `n`) are down. The checker derives what each operation may and must do from it.
 */
export interface QuorumPhaseNote {
  readonly key: string;
  readonly n: number;
  readonly r: number;
  readonly w: number;
  /** The replicas down (0-based), each paused or cut off for the whole phase. */
  readonly down: readonly number[];
}

/**
 * A `cut` note (faults-between-phases): the next `op` on `key` runs while `cut` replicas
 * are cut off from the moment a write reaches them; its reads pass, its writes reach only
 * the replicas in `reachable`, fewer than W.
 */
export interface CutNote {
  readonly key: string;
  readonly op: 'put' | 'get';
  readonly reachable: readonly string[];
  readonly w: number;
  /** 'ok': the operation needs no more writes than can arrive, so it must succeed; 'fail': it must not answer (but see `unsafe`). */
  readonly expect: 'ok' | 'fail';
  /** get: the value that only a write-back could make safe to return (a get that read another did not need one). */
  readonly unsafe?: string;
}

/** A `writes` note: which replicas a write reached since they were cut off at their next write. */
export interface WritesNote {
  readonly key: string;
  readonly reached: readonly string[];
}

/**
 * A `pick` note (concurrent-writes): the grader placed these records on the replicas
 * directly (the first ones, in order; null: none), and the next get of `key`, whose quorum
 * can only be the replicas that hold them, must return `expect`: the newest by version.
 */
export interface PickNote {
  readonly key: string;
  readonly placed: readonly (Stored | null)[];
  readonly expect: string;
}

/** A `clock` note (concurrent-writes): the clocks of the coordinators writing `key` read `now`, stopped. */
export interface ClockNote {
  readonly key: string;
  readonly now: number;
}

/** One step of a nemesis schedule, drawn before the scenario runs (and noted in the history). */
export interface NemesisStep {
  /** The replica (0-based) the fault is applied to. */
  readonly replica: number;
  readonly fault: 'pause' | 'kill' | 'partition' | 'reset' | 'latency';
  /** latency only: the added delay and its jitter. */
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  /** A second replica cut off at the same time: two replicas down. */
  readonly also?: number;
  /** How long the fault lasts, then the pause before the next step. */
  readonly holdMs: number;
  readonly restMs: number;
}

export type QuorumEvent =
  | ValueEvent<'invoke', 'open', OpenInput>
  | ValueEvent<'ok', 'open', Declared>
  | PlainEvent<'fail', 'open'>
  | ValueEvent<'invoke', 'put', { readonly key: string; readonly value: string }>
  | ValueEvent<'ok', 'put', { readonly version: Version }>
  | PlainEvent<'info', 'put'>
  | ValueEvent<'invoke', 'get', { readonly key: string }>
  | ValueEvent<'ok', 'get', ReadAnswer>
  | PlainEvent<'fail', 'get'>
  | ValueEvent<'note', 'replicas', ReplicasNote>
  | ValueEvent<'note', 'schedule', readonly NemesisStep[]>
  | ValueEvent<'note', 'expect', QuorumPhaseNote>
  | ValueEvent<'note', 'cut', CutNote>
  | ValueEvent<'note', 'pick', PickNote>
  | ValueEvent<'note', 'clock', ClockNote>
  | ValueEvent<'note', 'writes', WritesNote>
  | FaultEvent
  | HealEvent;

export interface RegisterOp {
  readonly process: string;
  readonly f: 'put' | 'get';
  readonly key: string;
  /** put: the value written. */
  readonly value?: string;
  readonly invoke: number;
  readonly complete: number | undefined;
  readonly outcome: 'ok' | 'fail' | 'info';
  /** get: the value read; put: nothing. */
  readonly read?: string | null;
  readonly version?: Version | null;
  readonly detail?: string;
}

type Invocation = Extract<QuorumEvent, { type: 'invoke'; op: 'put' | 'get' }>;
type Completion = Extract<QuorumEvent, { type: 'ok' | 'fail' | 'info'; op: 'put' | 'get' }>;

function registerOp(started: { index: number; event: Invocation }, index: number | undefined, end: Completion | undefined): RegisterOp {
  const { event } = started;
  const version = end?.type === 'ok' ? end.value.version : undefined;
  return {
    process: event.process,
    f: event.op,
    key: event.value.key,
    ...(event.op === 'put' ? { value: event.value.value } : {}),
    invoke: started.index,
    complete: index,
    outcome: end === undefined ? 'info' : end.type,
    ...(end?.type === 'ok' && end.op === 'get' ? { read: end.value.value } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(end?.detail !== undefined ? { detail: end.detail } : {}),
  };
}

/** Every put and get of the history, paired invoke → completion per process. */
export function registerOps(history: readonly QuorumEvent[]): RegisterOp[] {
  const open = new Map<string, { index: number; event: Invocation }>();
  const ops: RegisterOp[] = [];
  history.forEach((e, index) => {
    if (e.type === 'invoke' && (e.op === 'put' || e.op === 'get')) {
      const pending = open.get(e.process);
      if (pending) ops.push(registerOp(pending, undefined, undefined));
      open.set(e.process, { index, event: e });
      return;
    }
    if ((e.type === 'ok' || e.type === 'fail' || e.type === 'info') && (e.op === 'put' || e.op === 'get')) {
      const started = open.get(e.process);
      if (!started) return;
      open.delete(e.process);
      ops.push(registerOp(started, index, e));
    }
  });
  for (const started of open.values()) ops.push(registerOp(started, undefined, undefined));
  return ops.sort((a, b) => a.invoke - b.invoke);
}

/** The `replicas` notes of a history, by key (the last one of each key). */
export function replicaNotes(history: readonly QuorumEvent[]): Map<string, { note: ReplicasNote; index: number }> {
  const notes = new Map<string, { note: ReplicasNote; index: number }>();
  history.forEach((e, index) => {
    if (e.process === GRADER && e.type === 'note' && e.op === 'replicas') {
      notes.set(e.value.key, { note: e.value, index });
    }
  });
  return notes;
}

export interface OpenRecord {
  readonly input: OpenInput;
  readonly invoke: number;
  readonly complete: number;
  readonly accepted: boolean;
  readonly mode?: unknown;
  readonly conflictPolicy?: unknown;
  readonly detail?: string;
}

/** The coordinators opened on one lane, each with its settings and what it declared (or why it was refused). */
export function opensOf(history: readonly QuorumEvent[], lane: string): OpenRecord[] {
  const out: OpenRecord[] = [];
  let pending: { index: number; input: OpenInput } | undefined;
  history.forEach((e, index) => {
    if (e.process !== lane) return;
    if (e.type === 'invoke' && e.op === 'open') {
      pending = { index, input: e.value };
    } else if (pending && (e.type === 'ok' || e.type === 'fail') && e.op === 'open') {
      out.push({
        input: pending.input,
        invoke: pending.index,
        complete: index,
        accepted: e.type === 'ok',
        ...(e.type === 'ok' ? { mode: e.value.mode, conflictPolicy: e.value.conflictPolicy } : {}),
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
      });
      pending = undefined;
    }
  });
  return out;
}

/** Every coordinator that opened, on any lane, with what it declared. */
export function acceptedOpens(history: readonly QuorumEvent[]): { readonly declared: Declared; readonly index: number }[] {
  const out: { declared: Declared; index: number }[] = [];
  history.forEach((e, index) => {
    if (e.type === 'ok' && e.op === 'open') out.push({ declared: e.value, index });
  });
  return out;
}

/** What each kind of note the checkers read one by one carries. */
interface NoteValues {
  readonly expect: QuorumPhaseNote;
  readonly cut: CutNote;
  readonly pick: PickNote;
  readonly writes: WritesNote;
}

/** The notes of one kind (`expect`, `cut`, `pick`, `writes`), with their indexes, in order. */
export function notesOf<K extends keyof NoteValues>(history: readonly QuorumEvent[], kind: K): { readonly note: NoteValues[K]; readonly index: number }[] {
  const out: { note: NoteValues[K]; index: number }[] = [];
  history.forEach((e, index) => {
    // The vocabulary above pairs each of these ops with its value's type.
    if (e.type === 'note' && e.op === kind) out.push({ note: e.value as NoteValues[K], index });
  });
  return out;
}

/** The `clock` notes (concurrent-writes), by key. */
export function clockNotes(history: readonly QuorumEvent[]): Map<string, { readonly note: ClockNote; readonly index: number }> {
  const out = new Map<string, { note: ClockNote; index: number }>();
  history.forEach((e, index) => {
    if (e.type === 'note' && e.op === 'clock') out.set(e.value.key, { note: e.value, index });
  });
  return out;
}

/** The indexes of the faults and heals, in order. */
export function faultIndexes(history: readonly QuorumEvent[]): { readonly faults: number[]; readonly heals: number[] } {
  const faults: number[] = [];
  const heals: number[] = [];
  history.forEach((e, index) => {
    if (e.type === 'fault') faults.push(index);
    if (e.type === 'heal') heals.push(index);
  });
  return { faults, heals };
}

/** The events of some operations (their invocations and completions). */
export const opEvents = (ops: readonly RegisterOp[]): number[] => ops.flatMap((o) => (o.complete !== undefined ? [o.invoke, o.complete] : [o.invoke]));

/** The timeline of one key: its operations' events only (the other keys' are hidden). */
export function keyFocus(key: string, ops: readonly RegisterOp[]): HistoryFocus {
  return { label: `key ${key}`, processes: [], events: opEvents(ops) };
}
