/**
 * A quorum coordinator: every key lives on all N replicas, a write waits for W of them to
 * acknowledge it, and a read waits for R of them to answer.
 *
 *   R + W > N    every read quorum shares at least one replica with every write quorum
 *                that completed, so a read finds the latest completed write ('strict')
 *   R + W ≤ N    a read can miss it: allowed only when the caller says so ('eventual')
 *
 * Two more rules turn "a read finds the latest write" into a register that behaves as one
 * copy would (linearizable), whatever the clocks say and whichever replicas answer:
 *   - a write first asks a read quorum for the newest version, and writes a newer one;
 *   - a read writes the newest value it found back to a write quorum before it answers,
 *     unless W of the replicas that answered already hold it (synchronous read repair).
 *
 * Replace each `throw new Error('TODO(n) ...')` with your code. README.md explains every
 * idea; `npm test` tells you how far you are; the Grade button (or `data-labs grade
 * quorum .`) runs the hidden checks against three real Redis servers behind fault proxies:
 * outages, pauses, partitions, slow and lost messages, concurrent clients.
 *
 * A replica call can reject (an Error whose name is 'ReplicaError'): the replica is down,
 * paused, cut off or too slow. A rejected write may still have taken effect. Never wait for
 * a replica you do not need, and never answer from fewer replicas than the quorum.
 */
import {
  type Coordinator,
  type CoordinatorOptions,
  ConfigError,
  QuorumError,
  type ReadResult,
  type Replica,
  type Stored,
  type Version,
  compareVersions,
} from './types';

export type { Coordinator, CoordinatorOptions, ReadResult, Version } from './types';
export { ConfigError, QuorumError } from './types';

// ─── TODO(1): the configuration ────────────────────────────────────────────────

/**
 * Throws a ConfigError, with a message that says what is wrong and what would be right,
 * for a configuration this coordinator refuses; returns the mode of one it accepts.
 */
function checkOptions(options: CoordinatorOptions): 'strict' | 'eventual' {
  // TODO(1): Refuse (throw new ConfigError('...')) when
  //   - N, R or W is not a whole number, or is less than 1 (NaN and 1.5 are not whole numbers);
  //   - N is not the number of replicas given (`options.replicas.length`);
  //   - R or W is more than N: there are only N replicas to answer;
  //   - R + W ≤ N, unless `options.allowEventual` is true: a read quorum and a write quorum
  //     could then have no replica in common, and a read could miss a write that completed.
  //   Then return 'strict' when R + W > N, and 'eventual' when the caller allowed R + W ≤ N.
  throw new Error('TODO(1): checkOptions is not written yet');
}

// ─── TODO(2): asking every replica and waiting for a quorum ────────────────────

/** One replica's answer. */
export interface Answer<T> {
  readonly replica: Replica;
  readonly answer: T;
}

/** A call sent to one replica, with the promise of its answer (which may come late, or never). */
export interface Sent<T> {
  readonly replica: Replica;
  readonly answer: Promise<T>;
}

/**
 * Sends `call` to EVERY replica at once, and resolves `answers` with the first `need`
 * answers that come back, or rejects it with a QuorumError as soon as so many calls have
 * failed that `need` answers can no longer come. `sent` holds every call, answered or not,
 * for whoever wants the late answers (TODO 5). `what` names the operation, for messages.
 */
export function quorum<T>(replicas: readonly Replica[], need: number, what: string, call: (replica: Replica) => Promise<T>): { answers: Promise<Answer<T>[]>; sent: Sent<T>[] } {
  // TODO(2): Call every replica, all at once (do not wait for one before calling the next),
  //          and keep each call's promise in `sent`. Then build `answers`, a new Promise that
  //   - resolves with the answers collected so far as soon as there are `need` of them,
  //     without waiting for the others: a paused replica answers only when its time limit
  //     has passed, and a quorum exists precisely so that nobody waits for it;
  //   - rejects with a QuorumError as soon as more than `replicas.length - need` calls have
  //     failed, saying how many answered and why the others failed (each error's message);
  //   - settles once only: answers and failures that come after that are ignored here.
  //   Promise.all waits for every replica and fails at the first error, and Promise.any
  //   resolves with one answer: neither is a quorum. Count answers and failures yourself.
  //   `Promise.resolve().then(() => call(replica))` turns a call that throws at once into
  //   a rejected promise like the others.
  throw new Error('TODO(2): quorum is not written yet');
}

// ─── TODO(3): the newest record ─────────────────────────────────────────────────

/** The record with the newest version (see compareVersions), or null when none holds anything. */
export function newest(records: readonly (Stored | null)[]): Stored | null {
  // TODO(3): A replica that holds nothing answers null. Compare versions with
  //          compareVersions (src/types.ts): timestamps first, then the writer's id, so that
  //          two writes with the same timestamp are still ordered, the same way everywhere.
  //          Never compare values, and never combine two records into one.
  throw new Error('TODO(3): newest is not written yet');
}

// ─── TODO(4) and TODO(5): the coordinator ───────────────────────────────────────

export function createCoordinator(options: CoordinatorOptions): Coordinator {
  const mode = checkOptions(options);
  const { replicas, r, w, id, clock } = options;

  return {
    mode,
    conflictPolicy: 'last-write-wins',

    async put(key: string, value: string): Promise<Version> {
      // TODO(4): Write `value` under a NEW version that is newer than every version a write
      //          quorum may already hold, then wait for W acknowledgements.
      //   1. Ask a read quorum (R replicas, with quorum()) what they hold, and take the newest
      //      (TODO 3). With R + W > N this quorum overlaps every write that completed.
      //   2. The new version: { ts, writer: id }, where ts is at least clock.now(), more than
      //      the newest timestamp found, and more than any timestamp this coordinator used
      //      before. The clock alone is not enough: another machine's clock may be ahead of
      //      this one, and a write stamped with this clock would then lose to an older one.
      //      The writer id is the tie-break: two coordinators that pick the same ts still
      //      make two different versions, ordered the same way on every replica.
      //   3. Send { value, version } to every replica and wait for W acknowledgements
      //      (quorum() again). write() resolving false is an acknowledgement too: the replica
      //      holds this version or a newer one. Too few: the QuorumError propagates.
      //   4. Return the version.
      throw new Error('TODO(4): put is not written yet');
    },

    async get(key: string): Promise<ReadResult> {
      // TODO(5): Read from a read quorum, answer with the newest record, and repair.
      //   1. quorum() with R; no replica of the quorum holds anything:
      //      { value: null, version: null }.
      //   2. Synchronous read repair: count the answers of the quorum that hold the newest
      //      version. Fewer than W: write the newest record back to the replicas and WAIT
      //      for W acknowledgements before answering. Otherwise the value may sit on fewer
      //      than W replicas (a write that failed half-way, or is still under way): this
      //      read would return it, and the next read, through other replicas, would miss
      //      it and return an older value. A read must never be followed by an older one.
      //   3. Background repair: every replica whose answer is older than the newest (or
      //      null), including the answers that come AFTER the quorum was reached (use
      //      `sent`), gets the newest record written to it, without waiting for it and
      //      without letting its failure escape (catch it). That is how a replica that
      //      was cut off catches up once reads reach it again.
      //   4. Return { value, version } of the newest record.
      throw new Error('TODO(5): get is not written yet');
    },
  };
}
