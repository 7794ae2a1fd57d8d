/**
 * The Multi-Master grader's history vocabulary: what each region did (its operations, the
 * messages it sent and received), what the channel did with each message, the nemesis's
 * faults, and what the grader read from every region at the end. The checkers (checkers.ts)
 * read it back and rebuild from it who knew what when: the causal order the grader saw.
 */
import type { FaultEvent, HealEvent, PlainEvent, ValueEvent } from '../../../src/core/grading/history';

/** The regions, in the order of the lab's Redis containers. */
export const REGIONS = ['eu', 'us', 'ap'] as const;
export const GRADER = 'grader';
export const NEMESIS = 'nemesis';

/** A lane of region `region`: its own, or (for operations at the same time as another) `eu·2`. */
export const lane = (region: string, n = 1): string => (n === 1 ? region : `${region}·${n}`);
export const regionOf = (process: string): string => process.split('·')[0] ?? process;

export type WriteOp = 'setProfile' | 'addToCart' | 'removeFromCart' | 'like' | 'unlike';
export type ReadOp = 'getProfile' | 'conflicts' | 'getCart' | 'likes';
export type OpName = WriteOp | ReadOp;
export const WRITE_OPS: readonly OpName[] = ['setProfile', 'addToCart', 'removeFromCart', 'like', 'unlike'];

export interface OpInput {
  readonly key: string;
  readonly value?: string;
}

/** What every region holds at the end, read through the learner's own reads. */
export interface RegionState {
  readonly region: string;
  readonly profiles: Readonly<Record<string, string | null>>;
  readonly conflicts: Readonly<Record<string, readonly string[]>>;
  readonly carts: Readonly<Record<string, readonly string[]>>;
  readonly likes: Readonly<Record<string, number>>;
  /** Sessions the region opened (store.session()) and had not closed when it was read, all its work done. */
  readonly openSessions?: number;
}

/** What the grader knows a key must end as, and why (the clocks it set). */
export interface ExpectNote {
  readonly key: string;
  readonly value: string;
  readonly why: string;
}

/** The grader's expectations, in order. */
export function expectationsOf(history: readonly MultiMasterEvent[]): { note: ExpectNote; index: number }[] {
  const found: { note: ExpectNote; index: number }[] = [];
  history.forEach((e, index) => {
    if (e.type === 'note' && e.op === 'expect') found.push({ note: e.value, index });
  });
  return found;
}

export interface StateNote {
  readonly label: string;
  readonly regions: readonly (RegionState | { readonly region: string; readonly unreadable: string })[];
}

export type MultiMasterEvent =
  | ValueEvent<'invoke', OpName, OpInput>
  | ValueEvent<'ok', OpName, { readonly result: string | number | readonly string[] | null }>
  | PlainEvent<'fail' | 'info', OpName>
  | (ValueEvent<'invoke', 'receive', { readonly from: string }> & { readonly message: string })
  | PlainEvent<'ok' | 'fail', 'receive'>
  | (ValueEvent<'note', 'send', { readonly to: string; readonly body: unknown }> & { readonly message: string })
  | (ValueEvent<'note', 'drop', { readonly to: string }> & { readonly message: string })
  | ValueEvent<'note', 'state', StateNote>
  | ValueEvent<'note', 'case', { readonly name: string }>
  | ValueEvent<'note', 'expect', ExpectNote>
  | PlainEvent<'note', 'clock'>
  | FaultEvent
  | HealEvent;

type E = MultiMasterEvent;

/** One operation of a region, with its outcome; indexes are positions in the history. */
export interface RegionOperation {
  readonly index: number;
  readonly region: string;
  readonly op: OpName;
  readonly key: string;
  readonly value?: string;
  /** ok, fail (did not happen), info (may have happened), or pending (never completed). */
  readonly outcome: 'ok' | 'fail' | 'info' | 'pending';
  /** Its completion's index, when it completed. */
  readonly completion?: number;
}

/** Pairs invocations with completions per lane (a lane has one operation at a time); receipts are left out. */
export function operationsOf(history: readonly E[]): RegionOperation[] {
  const open = new Map<string, { index: number; event: Extract<E, { type: 'invoke' }> }>();
  const ops: RegionOperation[] = [];
  const close = (process: string, outcome: RegionOperation['outcome'], completion?: number): void => {
    const started = open.get(process);
    if (started === undefined) return;
    open.delete(process);
    if (started.event.op === 'receive') return;
    const input = started.event.value as OpInput;
    ops.push({
      index: started.index,
      region: regionOf(process),
      op: started.event.op,
      key: input.key,
      ...(input.value !== undefined ? { value: input.value } : {}),
      outcome,
      ...(completion !== undefined ? { completion } : {}),
    });
  };
  history.forEach((event, index) => {
    if (event.type === 'invoke') {
      close(event.process, 'pending');
      open.set(event.process, { index, event });
    } else if (event.type === 'ok' || event.type === 'fail' || event.type === 'info') {
      close(event.process, event.type, index);
    }
  });
  for (const process of [...open.keys()]) close(process, 'pending');
  return ops.sort((a, b) => a.index - b.index);
}

/** A message: who sent it to whom, where in the history, and where each receive of it resolved. */
export interface MessageLife {
  readonly from: string;
  readonly to: string;
  readonly sentIndex: number;
  /** The indexes of the `ok` completions of its receipts (the learner's code said it applied it). */
  readonly applied: readonly number[];
}

export function messagesOf(history: readonly E[]): Map<string, MessageLife> {
  const lives = new Map<string, MessageLife & { applied: number[] }>();
  const receiving = new Map<string, string>();
  history.forEach((event, index) => {
    if (event.type === 'note' && event.op === 'send') {
      lives.set(event.message, { from: regionOf(event.process), to: event.value.to, sentIndex: index, applied: [] });
    } else if (event.type === 'invoke' && event.op === 'receive') {
      receiving.set(event.process, event.message);
    } else if ((event.type === 'ok' || event.type === 'fail') && event.op === 'receive') {
      const id = receiving.get(event.process);
      receiving.delete(event.process);
      if (id !== undefined && event.type === 'ok') lives.get(id)?.applied.push(index);
    }
  });
  return lives;
}

/**
 * Who knew of which write when, as the grader saw it: region r knows write w at event e if
 * w is r's own and completed before e, or a message was received by r (its receive
 * resolved) before e that was sent when its sender knew w. The scenarios that judge by it
 * keep to one key per kind at a time and deliver nothing uncertain (see scenarios.ts), so
 * that what a message may carry is what its sender knew of that key.
 */
export class Knowledge {
  private readonly ops: RegionOperation[];
  private readonly lives: MessageLife[];
  private readonly memo = new Map<string, Set<number>>();

  constructor(history: readonly E[], writes: (op: RegionOperation) => boolean) {
    this.ops = operationsOf(history).filter((o) => WRITE_OPS.includes(o.op) && writes(o));
    this.lives = [...messagesOf(history).values()];
  }

  /**
   * The writes (their invocation indexes) region `region` knew before history event
   * `index`. Order is the history's, not the clock's: two events recorded in the same tenth
   * of a millisecond are still one before the other.
   */
  known(region: string, index: number): Set<number> {
    const memoKey = `${region}@${index}`;
    const cached = this.memo.get(memoKey);
    if (cached !== undefined) return cached;
    const known = new Set<number>();
    for (const op of this.ops) {
      if (op.region === region && op.outcome === 'ok' && (op.completion ?? Infinity) < index) known.add(op.index);
    }
    for (const life of this.lives) {
      if (life.to !== region) continue;
      if (!life.applied.some((i) => i < index)) continue;
      for (const w of this.known(life.from, life.sentIndex)) known.add(w);
    }
    this.memo.set(memoKey, known);
    return known;
  }

  /** Whether write `a` happened before write `b` (b's region knew a when b was invoked). */
  before(a: RegionOperation, b: RegionOperation): boolean {
    return this.known(b.region, b.index).has(a.index);
  }

  get operations(): readonly RegionOperation[] {
    return this.ops;
  }
}

/** The last state note with `label` and its index, if the scenario got that far. */
export function stateOf(history: readonly E[], label: string): { note: StateNote; index: number } | undefined {
  let found: { note: StateNote; index: number } | undefined;
  history.forEach((e, index) => {
    if (e.type === 'note' && e.op === 'state' && e.value.label === label) found = { note: e.value, index };
  });
  return found;
}
