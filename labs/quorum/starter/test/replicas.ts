/**
 * Replicas for the visible tests: an IN-MEMORY STAND-IN for the grader's replicas.
 *
 * The grader hands your coordinator three real Redis servers, each behind a fault proxy
 * that can stop, pause, slow down or cut it off. Here a replica is a Map in this process,
 * with the same contract (src/types.ts) and switches a test can flip at will:
 *
 *   down()            every call fails quickly with a ReplicaError (a refused connection);
 *                     nothing is read or stored. up() ends it.
 *   pause(ops?)       calls (all, or only 'read' or only 'write') get no answer: each is held,
 *                     and fails with a ReplicaError once the replica's time limit has passed.
 *                     resume() delivers every held call: it takes effect then, even one that
 *                     already failed (a request that was sent cannot be taken back), and a
 *                     call still within its time limit gets its answer.
 *   dropNextWrites(n) the next n writes are lost on the way: nothing is stored, and each
 *                     call fails with a ReplicaError.
 *   holds(key)        what the replica holds for a key, for the test to check.
 *
 * Like any network call, an answer never comes in the same tick as its call.
 */
import { type Replica, ReplicaError, type Stored, compareVersions } from '../src/types';

/** How long a call to a paused replica waits for an answer before it fails. */
export const TIME_LIMIT_MS = 1000;
/** How long a call to a replica that is down takes to fail. */
export const DOWN_FAILS_AFTER_MS = 5;

export type ReplicaOp = 'read' | 'write';

/** One call your coordinator made, and how it ended (for the tests' messages). */
export interface ReplicaCall {
  readonly replica: string;
  readonly op: ReplicaOp;
  readonly key: string;
  /** What the call carried (a write) or found (a read), as text. */
  detail: string;
  outcome: 'under way' | 'answered' | 'down' | 'dropped' | 'timed out' | 'invalid';
}

function show(record: Stored | null | undefined): string {
  return record ? `${JSON.stringify(record.value)} @ ${record.version.ts}/${record.version.writer}` : 'nothing';
}

/** Whether `record` is a well-formed Stored, as a real replica would insist. */
function validRecord(record: unknown): record is Stored {
  const r = record as { value?: unknown; version?: { ts?: unknown; writer?: unknown } } | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.value === 'string' &&
    typeof r.version === 'object' &&
    r.version !== null &&
    typeof r.version.ts === 'number' &&
    Number.isFinite(r.version.ts) &&
    typeof r.version.writer === 'string'
  );
}

/** A copy, so that nothing your code does to an object afterwards changes what a replica holds. */
function copy(record: Stored): Stored {
  return { value: record.value, version: { ts: record.version.ts, writer: record.version.writer } };
}

interface HeldCall {
  readonly op: ReplicaOp;
  /** Makes the call take effect and, unless it timed out, answers it. */
  readonly deliver: () => void;
}

/** One replica, in memory. See the file's comment for its switches. */
export class MemoryReplica implements Replica {
  private readonly data = new Map<string, Stored>();
  private isDown = false;
  private paused = new Set<ReplicaOp>();
  private held: HeldCall[] = [];
  private writesToDrop = 0;
  /** How many of its calls reached their time limit without an answer. */
  timedOut = 0;

  constructor(
    readonly name: string,
    private readonly cluster: Cluster,
    private readonly timeLimitMs: number,
  ) {}

  read(key: string): Promise<Stored | null> {
    return this.call('read', key, undefined, () => {
      const record = this.data.get(key);
      return record ? copy(record) : null;
    });
  }

  write(key: string, record: Stored): Promise<boolean> {
    return this.call('write', key, record, () => {
      const current = this.data.get(key);
      if (current && compareVersions(record.version, current.version) <= 0) {
        return false;
      }
      this.data.set(key, copy(record));
      return true;
    });
  }

  /** From now on every call fails quickly with a ReplicaError. */
  down(): void {
    this.isDown = true;
  }

  up(): void {
    this.isDown = false;
  }

  /** From now on these calls get no answer until resume() (and fail at the time limit). */
  pause(ops: readonly ReplicaOp[] = ['read', 'write']): void {
    for (const op of ops) this.paused.add(op);
  }

  /** Delivers every held call, in the order they were made, and answers from now on. */
  resume(): void {
    this.paused.clear();
    const held = this.held;
    this.held = [];
    for (const call of held) call.deliver();
  }

  /** The next `count` writes are lost: nothing stored, and the call fails with a ReplicaError. */
  dropNextWrites(count = 1): void {
    this.writesToDrop += count;
  }

  /** What this replica holds for `key` (a copy), or null. */
  holds(key: string): Stored | null {
    const record = this.data.get(key);
    return record ? copy(record) : null;
  }

  /** How many calls are held by pause() right now. */
  get heldCalls(): number {
    return this.held.length;
  }

  private call<T>(op: ReplicaOp, key: string, record: Stored | undefined, effect: () => T): Promise<T> {
    const entry: ReplicaCall = { replica: this.name, op, key, detail: op === 'write' ? show(record) : '', outcome: 'under way' };
    this.cluster.calls.push(entry);
    const fail = (outcome: ReplicaCall['outcome'], message: string): ReplicaError => {
      entry.outcome = outcome;
      return new ReplicaError(`${this.name}.${op}(${JSON.stringify(key)}): ${message}`, this.name);
    };
    const promise = new Promise<T>((resolve, reject) => {
      if (typeof key !== 'string' || (op === 'write' && !validRecord(record))) {
        // A real replica refuses what it cannot store; this is a mistake in the call, not a failure of the replica.
        entry.outcome = 'invalid';
        reject(
          new TypeError(
            `${this.name}.${op} needs a key (string)${op === 'write' ? ' and a record { value: string, version: { ts: number, writer: string } }' : ''}; got ${JSON.stringify([key, record])}.`,
          ),
        );
        return;
      }
      if (this.isDown) {
        setTimeout(() => reject(fail('down', 'the replica is down (connection refused); nothing was done.')), DOWN_FAILS_AFTER_MS);
        return;
      }
      if (op === 'write' && this.writesToDrop > 0) {
        this.writesToDrop -= 1;
        setTimeout(() => reject(fail('dropped', 'the request was lost on the way (a drop the test asked for); nothing was stored.')), DOWN_FAILS_AFTER_MS);
        return;
      }
      const answer = (): void => {
        const result = effect();
        entry.outcome = 'answered';
        if (op === 'read') entry.detail = show(result as Stored | null);
        resolve(result);
      };
      if (!this.paused.has(op)) {
        setImmediate(answer);
        return;
      }
      let expired = false;
      const timer = setTimeout(() => {
        expired = true;
        this.timedOut += 1;
        reject(fail('timed out', `no answer within the time limit of ${this.timeLimitMs} ms (the replica is paused). The call may still take effect later.`));
      }, this.timeLimitMs);
      this.held.push({
        op,
        deliver: () => {
          clearTimeout(timer);
          if (expired) {
            effect();
          } else {
            setImmediate(answer);
          }
        },
      });
    });
    this.cluster.track(promise);
    return promise;
  }
}

/** N replicas, `replica-1` ... `replica-N`, and every call made to them. */
export class Cluster {
  readonly replicas: MemoryReplica[];
  /** Every call made to any replica, in order. */
  readonly calls: ReplicaCall[] = [];
  private readonly underWay = new Set<Promise<unknown>>();

  constructor(n = 3, options: { timeLimitMs?: number } = {}) {
    this.replicas = Array.from({ length: n }, (_, i) => new MemoryReplica(`replica-${i + 1}`, this, options.timeLimitMs ?? TIME_LIMIT_MS));
  }

  /** Replica number `i`, counting from 1 as their names do. */
  replica(i: number): MemoryReplica {
    const replica = this.replicas[i - 1];
    if (!replica) throw new Error(`There is no replica-${i}: the cluster has ${this.replicas.length}.`);
    return replica;
  }

  /** What each replica holds for `key`, as text, for messages. */
  describe(key: string): string {
    return this.replicas.map((r) => `${r.name}: ${show(r.holds(key))}`).join(', ');
  }

  /** The last calls made, as text, for messages. */
  lastCalls(count = 8): string {
    return this.calls
      .slice(-count)
      .map((c) => `${c.replica}.${c.op}(${c.key})${c.detail ? ` ${c.detail}` : ''} → ${c.outcome}`)
      .join('; ');
  }

  /** @internal Called by the replicas for every call. */
  track(call: Promise<unknown>): void {
    const settled = call.then(
      () => undefined,
      () => undefined,
    );
    this.underWay.add(settled);
    void settled.then(() => this.underWay.delete(settled));
  }

  /**
   * Waits until no call is under way any more, including the calls your code makes after
   * an answer comes back (a background repair). A call held by pause() counts until it is
   * delivered or reaches its time limit.
   */
  async settle(): Promise<void> {
    for (let round = 0; round < 100; round += 1) {
      // Let callbacks on the answers just delivered run, and make their own calls.
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (this.underWay.size === 0) return;
      await Promise.all(this.underWay);
    }
  }
}
