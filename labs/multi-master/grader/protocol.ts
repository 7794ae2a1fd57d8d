/**
 * What the Multi-Master grader and its adapter (adapter.ts, in the learner's process) say to
 * each other: the adapter's functions as a type, and the plain data they pass. Types only.
 */

/** Where one region's store is reached: its Redis, behind the grader's fault proxy. */
export interface StoreAddress {
  readonly region: string;
  readonly host: string;
  readonly port: number;
  readonly password: string;
}

export interface MultiMasterAdapterConfig {
  readonly stores: readonly StoreAddress[];
  /** How long one store command may wait for its answer before it is a StoreError. */
  readonly timeoutMs: number;
  /** The numbered Redis database the grading runs in (the learner's own tests use database 0). */
  readonly database: number;
}

/** A region's clock: the machine's clock moved by `skewMs`, or stopped at `fixed`. */
export type ClockSetting = { readonly skewMs: number } | { readonly fixed: number };

/** The region operations the grader calls, with their arguments. */
export type RegionOp =
  | { readonly op: 'setProfile'; readonly key: string; readonly value: string }
  | { readonly op: 'getProfile'; readonly key: string }
  | { readonly op: 'conflicts'; readonly key: string }
  | { readonly op: 'addToCart'; readonly key: string; readonly value: string }
  | { readonly op: 'removeFromCart'; readonly key: string; readonly value: string }
  | { readonly op: 'getCart'; readonly key: string }
  | { readonly op: 'like'; readonly key: string }
  | { readonly op: 'unlike'; readonly key: string }
  | { readonly op: 'likes'; readonly key: string };

/** What an operation returned, checked by the adapter: nothing for a write. */
export type OpResult = null | string | number | readonly string[] | undefined;

/** A message one region sent to another, as the adapter took it from the learner's `send`. */
export interface Sent {
  readonly from: string;
  readonly to: string;
  readonly body: unknown;
}

/** The adapter's functions. */
export interface MultiMasterAdapter {
  configure(config: MultiMasterAdapterConfig): void;
  /** (Re)creates region `id` with the learner's createRegion, on its store, with its clock; a region made before is dropped. */
  open(id: string, clock: ClockSetting): void;
  run(id: string, op: RegionOp): Promise<OpResult>;
  /** Hands a message to region `to`'s receive; resolves when it resolved. */
  deliver(to: string, from: string, body: unknown): Promise<void>;
  /** The messages sent since the last drain, in the order they were sent. */
  drain(): Sent[];
  /** How many sessions (store.session()) each live region opened and has not closed. */
  openSessions(): Record<string, number>;
  /** Drops every region and closes its connections (the end of a scenario). */
  finish(): void;
}
