/**
 * What the Quorum grader and its adapter (adapter.ts, in the learner's process) say to each
 * other: the adapter's functions as a type, which the adapter implements and the harness
 * calls through a typed sandbox client, and the plain data they pass. Types only.
 */
import type { Version } from './versions';

export type { Stored, Version } from './versions';

/** Where one replica is reached: its fault proxy. */
export interface ReplicaAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

export interface QuorumAdapterConfig {
  readonly replicas: readonly ReplicaAddress[];
  /** How long a replica call may wait for its answer before it fails with a ReplicaError. */
  readonly timeoutMs: number;
  /**
   * Put before every key on the replicas (not seen by the learner's code): a grading run's
   * keys never meet those of an earlier run on the same Redis.
   */
  readonly namespace: string;
}

/** A client's clock: the machine's clock moved by `skewMs`, or stopped at `fixed`. */
export type ClockSetting = { readonly skewMs: number } | { readonly fixed: number };

/** The settings a coordinator is made with, as the grader asks for them. */
export interface OpenInput {
  readonly n: number;
  readonly r: number;
  readonly w: number;
  readonly allowEventual?: boolean;
  /** How many of the grader's replicas the coordinator is handed, the first ones (3 unless a scenario says). */
  readonly replicas?: number;
}

/** What a coordinator declares about itself, as the learner's code returned it (checked by the checkers, not trusted). */
export interface Declared {
  readonly mode: unknown;
  readonly conflictPolicy: unknown;
}

export interface ReadAnswer {
  readonly value: string | null;
  readonly version: Version | null;
}

/** The adapter's functions. */
export interface QuorumAdapter {
  configure(config: QuorumAdapterConfig): void;
  /** Makes client `id`'s coordinator with the learner's createCoordinator; returns what it declares. */
  open(id: string, options: OpenInput & { readonly replicas: number; readonly clock: ClockSetting }): Declared;
  put(id: string, key: string, value: string): Promise<Version>;
  get(id: string, key: string): Promise<ReadAnswer>;
  close(id: string): void;
  /** Closes every client's connections (the end of a scenario). */
  finish(): void;
}
