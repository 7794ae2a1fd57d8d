/**
 * The contract between your coordinator and the replicas, and between the grader and your
 * coordinator. You do not change this file: the grader hands your `createCoordinator` real
 * replicas (Redis servers, each behind a fault proxy) that behave exactly as described here.
 */

/**
 * A value's version: a timestamp and, to break ties between two writes that chose the
 * same timestamp, the id of the coordinator that wrote it. Versions are ordered by `ts`
 * first, then by `writer` (as strings): see `compareVersions`.
 */
export interface Version {
  readonly ts: number;
  readonly writer: string;
}

/** What a replica holds for a key: a value and the version it was written with. */
export interface Stored {
  readonly value: string;
  readonly version: Version;
}

/**
 * One replica. Every call goes over the network and can fail: the replica may be down,
 * paused, cut off by a partition, or slow. A call that gets no answer within the replica's
 * time limit rejects with an Error whose `name` is 'ReplicaError' (compare the name, not
 * the class: the grader's replicas are built outside your code); it may still have taken
 * effect.
 */
export interface Replica {
  /** `replica-1`, `replica-2`, ... */
  readonly name: string;
  /** What the replica holds for `key`, or null if it holds nothing. */
  read(key: string): Promise<Stored | null>;
  /**
   * Stores `record` only if its version is newer than the one the replica holds (or the
   * replica holds nothing). Resolves true if it stored it, false if the replica already
   * held this version or a newer one (and kept that). Either answer is an acknowledgement:
   * after it, the replica holds `record.version` or something newer.
   */
  write(key: string, record: Stored): Promise<boolean>;
}

/** What a `Replica` call rejects with when it failed or got no answer in time. */
export class ReplicaError extends Error {
  override readonly name = 'ReplicaError';
  constructor(
    message: string,
    readonly replica: string,
  ) {
    super(message);
  }
}

export interface CoordinatorOptions {
  /** The replicas of every key (N of them: this lab replicates every key on all of them). */
  readonly replicas: readonly Replica[];
  /** N: how many replicas hold each key. Equal to `replicas.length`. */
  readonly n: number;
  /** R: how many replicas must answer a read. */
  readonly r: number;
  /** W: how many replicas must acknowledge a write. */
  readonly w: number;
  /**
   * Whether the caller accepts a configuration with R + W ≤ N, whose reads may miss the
   * latest write. Without it, such a configuration must be refused.
   */
  readonly allowEventual?: boolean;
  /** This coordinator's id, unique among the coordinators of one cluster (`client-1`, ...). */
  readonly id: string;
  /** This machine's clock, in milliseconds. Clocks of different machines disagree. */
  readonly clock: { now(): number };
}

/** What a read returns: the newest value a read quorum knew, or null if none had one. */
export interface ReadResult {
  readonly value: string | null;
  readonly version: Version | null;
}

export interface Coordinator {
  /**
   * 'strict' when R + W > N: a read overlaps every completed write. 'eventual' when the
   * caller allowed R + W ≤ N: reads may be stale.
   */
  readonly mode: 'strict' | 'eventual';
  /**
   * How concurrent writes to one key are resolved. This lab builds last-write-wins: the
   * write with the highest version survives and the others are overwritten, and the
   * coordinator says so here.
   */
  readonly conflictPolicy: 'last-write-wins';
  /** Writes `value` under a new version, acknowledged by at least W replicas; returns that version. */
  put(key: string, value: string): Promise<Version>;
  /** Reads from at least R replicas and returns the newest value they hold. */
  get(key: string): Promise<ReadResult>;
}

/** Thrown by `createCoordinator` for a configuration it refuses. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Thrown by `put` and `get` when too few replicas answered: the operation did not reach its quorum. */
export class QuorumError extends Error {
  override readonly name = 'QuorumError';
}

/** Orders two versions: negative if a is older than b, 0 if they are the same, positive if newer. */
export function compareVersions(a: Version, b: Version): number {
  if (a.ts !== b.ts) {
    return a.ts < b.ts ? -1 : 1;
  }
  return a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0;
}
