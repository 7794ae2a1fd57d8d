/**
 * What the sandbox's parent and its child process (child.ts) say to each other over IPC,
 * and the learner's errors as data. Types only: the child imports nothing else of the kit.
 */
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

/** From the child. */
export type ChildMessage =
  | { readonly type: 'ready'; readonly members: Record<string, ExportType>; readonly callable: Record<string, ExportType> }
  | { readonly type: 'load-failed'; readonly error: LearnerError }
  | { readonly type: 'crash'; readonly origin: 'uncaughtException' | 'unhandledRejection'; readonly error: LearnerError }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly kind: 'threw' | 'unserializable'; readonly error: LearnerError }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly kind: 'not-callable'; readonly message: string };
