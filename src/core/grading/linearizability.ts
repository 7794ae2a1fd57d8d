/**
 * A linearizability checker for histories of registers and key-value stores, written for
 * this project after Wing & Gong's search with Lowe's memoisation (as Knossos and
 * porcupine do): find an order of the operations, each placed between its invocation and
 * its completion, in which every operation does what the sequential model says.
 *
 * - A history is invocations and completions per process. `ok` happened; `fail` did not
 *   (dropped); `info` is unknown: a write or cas may take effect at any time after its
 *   invocation, or never (its completion is at infinity); a read with no answer says
 *   nothing (dropped).
 * - A key-value history is split per key and each key checked on its own (linearizability
 *   is compositional), which keeps the search small.
 * - The search has a budget (steps); past it the answer is "unknown", never "linearizable".
 * - When there is no order, the answer names the key, the longest run of operations the
 *   search could linearize, and the operations none of which could come next.
 *
 * Pure: no I/O, no clock but the step count.
 */

export type OperationKind = 'read' | 'write' | 'cas';

/** One completed (or unknown) operation, with its place in the history's order. */
export interface Operation {
  /** Its index among the history's operations. */
  readonly id: number;
  readonly process: string;
  readonly f: OperationKind;
  readonly key?: string;
  /** write: the value; cas: [expected, new]; read: nothing. */
  readonly input?: unknown;
  /** read: the value read (null for none, as Jepsen's nil). */
  readonly output?: unknown;
  /** Position of its invocation in the history. */
  readonly call: number;
  /** Position of its completion; Infinity for an unknown outcome. */
  readonly ret: number;
}

/** A history event as Jepsen writes it (`:process`, `:type`, `:f`, `:value`), with an optional key. */
export interface HistoryOp {
  readonly process: string | number;
  readonly type: 'invoke' | 'ok' | 'fail' | 'info';
  readonly f: OperationKind;
  readonly key?: string;
  readonly value?: unknown;
}

export type ModelName = 'register' | 'cas-register' | 'kv';

export type LinearizabilityResult =
  | { readonly verdict: 'linearizable'; readonly operations: number; readonly steps: number }
  | {
      readonly verdict: 'not-linearizable';
      readonly operations: number;
      readonly steps: number;
      /** The key whose history has no order (kv histories). */
      readonly key?: string;
      /** The longest prefix of an order the search found, in that order. */
      readonly linearized: readonly Operation[];
      /** The operations that could not come next after it (each would break the model). */
      readonly stuck: readonly Operation[];
    }
  | { readonly verdict: 'unknown'; readonly operations: number; readonly steps: number; readonly reason: string };

export interface CheckOptions {
  /** Search steps allowed over the whole history before answering unknown (default 2,000,000). */
  readonly maxSteps?: number;
  /** The register's value before any write (default null). */
  readonly initial?: unknown;
}

/**
 * Pairs each invocation with its process's next completion (a process has one operation
 * outstanding at a time). An invocation with no completion is unknown, like `info`.
 */
export function operationsOf(history: readonly HistoryOp[]): Operation[] {
  const open = new Map<string, { index: number; op: HistoryOp }>();
  const ops: Operation[] = [];
  const finish = (process: string, invoked: { index: number; op: HistoryOp }, ret: number, completion: HistoryOp | undefined): void => {
    const { op } = invoked;
    const outcome = completion?.type ?? 'info';
    if (outcome === 'fail') {
      return; // it did not happen
    }
    if (op.f === 'read') {
      if (outcome !== 'ok') {
        return; // a read with no answer tells nothing
      }
      ops.push({ id: 0, process, f: 'read', ...(op.key !== undefined ? { key: op.key } : {}), output: completion?.value ?? null, call: invoked.index, ret });
      return;
    }
    ops.push({ id: 0, process, f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), input: op.value, call: invoked.index, ret: outcome === 'ok' ? ret : Infinity });
  };
  history.forEach((event, index) => {
    const process = String(event.process);
    if (event.type === 'invoke') {
      const pending = open.get(process);
      if (pending) {
        finish(process, pending, Infinity, undefined);
      }
      open.set(process, { index, op: event });
      return;
    }
    const invoked = open.get(process);
    if (!invoked) {
      return;
    }
    open.delete(process);
    finish(process, invoked, index, event);
  });
  for (const [process, invoked] of open) {
    finish(process, invoked, Infinity, undefined);
  }
  return ops.sort((a, b) => a.call - b.call).map((op, id) => ({ ...op, id }));
}

// ─── Models ──────────────────────────────────────────────────────────────────────

/** What a model's step answers when the operation cannot happen in the state. */
const IMPOSSIBLE: unique symbol = Symbol('impossible');

/** A sequential model: the state after `op`, or IMPOSSIBLE when `op` cannot happen in `state`. */
interface Model {
  step(state: unknown, op: Operation): unknown;
}

/** Equal values: the same primitive, or (arrays, objects) the same JSON. */
const same = (a: unknown, b: unknown): boolean => a === b || (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && JSON.stringify(a) === JSON.stringify(b));

const REGISTER: Model = {
  step(state, op) {
    switch (op.f) {
      case 'write':
        return op.input;
      case 'read':
        return same(op.output, state) ? state : IMPOSSIBLE;
      case 'cas': {
        const [from, to] = Array.isArray(op.input) ? (op.input as unknown[]) : [undefined, undefined];
        // A cas that completed ok (or may have) swapped: it needs the expected value.
        // (One with an unknown outcome may also never happen: the search leaves it out.)
        return same(from, state) ? to : IMPOSSIBLE;
      }
    }
  },
};

// ─── The search ──────────────────────────────────────────────────────────────────

interface Entry {
  readonly op: Operation;
  /** The operation's place in the register's operations (its bit in the linearized set). */
  readonly index: number;
  readonly isCall: boolean;
  readonly time: number;
  prev: Entry | undefined;
  next: Entry | undefined;
  /** The call's matching return (calls of operations that completed); undefined for an unknown outcome. */
  match: Entry | undefined;
}

class Budget {
  steps = 0;
  constructor(readonly max: number) {}
}

/**
 * Small numbers naming the register's states, so that the memo of (linearized set, state)
 * compares numbers: a primitive names itself, an array or object is named by its JSON.
 */
class StateIds {
  private readonly primitives = new Map<unknown, number>();
  private readonly objects = new Map<string, number>();
  private count = 0;
  of(state: unknown): number {
    if (typeof state === 'object' && state !== null) {
      const json = JSON.stringify(state);
      let id = this.objects.get(json);
      if (id === undefined) this.objects.set(json, (id = this.count++));
      return id;
    }
    let id = this.primitives.get(state);
    if (id === undefined) this.primitives.set(state, (id = this.count++));
    return id;
  }
}

/**
 * The memo of the (linearized set, state) pairs already explored: an open-addressing hash
 * table over one flat array of entries (the state's number, then the set's words), so
 * that remembering a pair allocates nothing but the array's occasional growth.
 */
class Memo {
  private readonly stride: number;
  private pool: Uint32Array;
  private hashes: Int32Array;
  private table: Int32Array;
  private count = 0;
  constructor(private readonly words: number) {
    this.stride = words + 1;
    this.pool = new Uint32Array(this.stride * 64);
    this.hashes = new Int32Array(64);
    this.table = new Int32Array(128);
  }
  /** Adds the pair; false when it was there already. */
  add(bits: Uint32Array, state: number): boolean {
    const { words, stride } = this;
    let h = Math.imul(state + 1, 0x9e3779b1);
    for (let w = 0; w < words; w++) h = Math.imul(h ^ (bits[w] as number), 0x85ebca6b) ^ (h >>> 13);
    // MurmurHash3's finalizer: every bit of the input reaches the low bits the table uses.
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    const mask = this.table.length - 1;
    let slot = h & mask;
    for (let e = this.table[slot] as number; e !== 0; e = this.table[slot] as number) {
      const at = (e - 1) * stride;
      if (this.hashes[e - 1] === h && this.pool[at] === state) {
        let w = 0;
        while (w < words && this.pool[at + 1 + w] === bits[w]) w++;
        if (w === words) return false;
      }
      slot = (slot + 1) & mask;
    }
    if (this.count === this.hashes.length) {
      const pool = new Uint32Array(this.pool.length * 2);
      pool.set(this.pool);
      this.pool = pool;
      const hashes = new Int32Array(this.hashes.length * 2);
      hashes.set(this.hashes);
      this.hashes = hashes;
    }
    const at = this.count * stride;
    this.pool[at] = state;
    this.pool.set(bits, at + 1);
    this.hashes[this.count] = h;
    this.count++;
    this.table[slot] = this.count;
    if (this.count * 2 > this.table.length) this.rehash();
    return true;
  }
  private rehash(): void {
    const table = new Int32Array(this.table.length * 2);
    const mask = table.length - 1;
    for (let e = 0; e < this.count; e++) {
      let slot = (this.hashes[e] as number) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = e + 1;
    }
    this.table = table;
  }
}

/**
 * Checks one register's operations: Wing & Gong's search over the entries (calls and
 * returns in time order), with Lowe's memo of the (linearized set, state) pairs already
 * explored. An operation with an unknown outcome has no return entry: it may be placed
 * anywhere after its call, and the search is done when every operation that completed is
 * placed, so it may also never take effect.
 */
function searchRegister(ops: readonly Operation[], model: Model, initial: unknown, budget: Budget): { ok: true } | { ok: false; linearized: Operation[]; stuck: Operation[] } | { ok: 'unknown' } {
  // The entries in time order: calls before returns at the same time (more overlap, more permissive).
  const entries: Entry[] = [];
  let completed = 0;
  ops.forEach((op, index) => {
    const call: Entry = { op, index, isCall: true, time: op.call, prev: undefined, next: undefined, match: undefined };
    entries.push(call);
    if (op.ret !== Infinity) {
      const ret: Entry = { op, index, isCall: false, time: op.ret, prev: undefined, next: undefined, match: undefined };
      call.match = ret;
      entries.push(ret);
      completed++;
    }
  });
  if (completed === 0) {
    return { ok: true };
  }
  entries.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op.id - b.op.id : a.isCall ? -1 : 1));
  const head: Entry = { op: ops[0] as Operation, index: -1, isCall: false, time: -Infinity, prev: undefined, next: undefined, match: undefined };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  const lift = (call: Entry): void => {
    (call.prev as Entry).next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match;
    if (ret) {
      (ret.prev as Entry).next = ret.next;
      if (ret.next) ret.next.prev = ret.prev;
    }
  };
  const unlift = (call: Entry): void => {
    const ret = call.match;
    if (ret) {
      (ret.prev as Entry).next = ret;
      if (ret.next) ret.next.prev = ret;
    }
    (call.prev as Entry).next = call;
    if (call.next) call.next.prev = call;
  };

  const words = Math.ceil(ops.length / 32);
  const linearized = new Uint32Array(words);
  const stateIds = new StateIds();
  const memo = new Memo(words);

  // The operations placed so far, in order, and the state before each.
  const stack: Entry[] = [];
  const states: unknown[] = [];
  let state = initial;
  let entry = head.next;
  let best: Operation[] = [];
  let bestStuck: Operation[] = [];

  while (completed > 0) {
    if (++budget.steps > budget.max) {
      return { ok: 'unknown' };
    }
    if (entry === undefined) {
      break;
    }
    if (entry.isCall) {
      const next = model.step(state, entry.op);
      if (next !== IMPOSSIBLE) {
        const { index } = entry;
        linearized[index >> 5] = (linearized[index >> 5] as number) | (1 << (index & 31));
        if (memo.add(linearized, stateIds.of(next))) {
          stack.push(entry);
          states.push(state);
          state = next;
          lift(entry);
          if (entry.match) completed--;
          entry = head.next;
          continue;
        }
        linearized[index >> 5] = (linearized[index >> 5] as number) & ~(1 << (index & 31));
      }
      entry = entry.next;
      continue;
    }
    // A return reached: the operation it ends was not linearized before it. Go back.
    if (stack.length >= best.length) {
      best = stack.map((e) => e.op);
      const stuck: Operation[] = [];
      // The candidates for the next place: every call before the first return still pending.
      for (let e: Entry | undefined = head.next; e !== undefined && e.isCall; e = e.next) {
        stuck.push(e.op);
      }
      bestStuck = stuck.length > 0 ? stuck : [entry.op];
    }
    const top = stack.pop();
    if (!top) {
      return { ok: false, linearized: best, stuck: bestStuck };
    }
    state = states.pop();
    unlift(top);
    if (top.match) completed++;
    const { index } = top;
    linearized[index >> 5] = (linearized[index >> 5] as number) & ~(1 << (index & 31));
    entry = top.next;
  }
  return { ok: true };
}

/** Checks a history against a model: a register, a register with compare-and-set, or keys of registers. */
export function checkLinearizable(history: readonly HistoryOp[] | readonly Operation[], model: ModelName, options: CheckOptions = {}): LinearizabilityResult {
  const ops = history.length > 0 && 'call' in (history[0] as object) ? (history as readonly Operation[]) : operationsOf(history as readonly HistoryOp[]);
  const budget = new Budget(options.maxSteps ?? 2_000_000);
  const groups = new Map<string, Operation[]>();
  for (const op of ops) {
    // A register history is one register; the kv model checks each key on its own.
    const key = model === 'kv' ? (op.key ?? '') : '';
    const group = groups.get(key) ?? [];
    group.push(op);
    groups.set(key, group);
  }
  for (const [key, group] of groups) {
    if (model !== 'cas-register' && group.some((op) => op.f === 'cas')) {
      return { verdict: 'unknown', operations: ops.length, steps: budget.steps, reason: `The ${model} model has no compare-and-set; check with --model cas-register.` };
    }
    const outcome = searchRegister(group, REGISTER, options.initial ?? null, budget);
    if (outcome.ok === 'unknown') {
      return { verdict: 'unknown', operations: ops.length, steps: budget.steps, reason: `The search did not finish within ${budget.max} steps${model === 'kv' ? ` (on key ${key})` : ''}.` };
    }
    if (outcome.ok === false) {
      return { verdict: 'not-linearizable', operations: ops.length, steps: budget.steps, ...(model === 'kv' ? { key } : {}), linearized: outcome.linearized, stuck: outcome.stuck };
    }
  }
  return { verdict: 'linearizable', operations: ops.length, steps: budget.steps };
}
