/**
 * What the sandbox's parent and its child process (child.ts) say to each other over IPC,
 * and the learner's errors as data. Types and one name only: the child imports nothing else
 * of the kit.
 */

/**
 * Where the child puts its AdapterSandbox (as `globalThis[Symbol.for(this)]`) before it loads
 * the lab's adapter, for the kit's adapter halves to find (adapters/pgDb.ts).
 */
export const ADAPTER_SANDBOX_KEY = 'data-labs.grading.adapter-sandbox';
import type { ExportType } from './contract';

/** An error the learner's code threw, passed back as data. */
export interface LearnerError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** The error's `code` property, when it has one (`23505` from PostgreSQL, `ECONNREFUSED`). */
  readonly code?: string;
}

/** From the parent: call the function `name` (an adapter's, or an export of the learner's module). */
export interface CallMessage {
  readonly type: 'call';
  readonly id: number;
  readonly name: string;
  readonly args: readonly unknown[];
}

/**
 * What an adapter saw in the learner's process and tells the grader as it happens, so that
 * it is known even when the process is killed afterwards (adapters/pgDb.ts sends these).
 * `transaction` names one transaction of that process.
 */
export type Observation =
  /** The learner's code called a service (`call`) while its transaction had been open for `openForMs`. */
  | { readonly kind: 'call-in-transaction'; readonly transaction: number; readonly call: string; readonly openForMs: number }
  /** That transaction ended (committed or rolled back, or its connection closed). */
  | { readonly kind: 'transaction-ended'; readonly transaction: number };

/**
 * The file descriptor on which the child reads its key, once, before any learner code runs
 * (the IPC channel is fd 3). Every message the harness sends carries the key, and the
 * parent ignores a message without it: the learner's code shares the IPC channel (it can
 * call process.send), but not the key, so it cannot answer the grader's calls in the
 * harness's place.
 */
export const KEY_FD = 4;

/** From the child, each sent with the harness's key (`{ key, message }`). */
export interface KeyedMessage {
  readonly key: string;
  readonly message: ChildMessage;
}

/** From the child. */
export type ChildMessage =
  | { readonly type: 'observation'; readonly observation: Observation }
  | { readonly type: 'ready'; readonly members: Record<string, ExportType>; readonly callable: Record<string, ExportType> }
  | { readonly type: 'load-failed'; readonly error: LearnerError }
  | { readonly type: 'crash'; readonly origin: 'uncaughtException' | 'unhandledRejection'; readonly error: LearnerError }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly kind: 'threw' | 'unserializable'; readonly error: LearnerError }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly kind: 'not-callable'; readonly message: string };
