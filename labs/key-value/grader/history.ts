/**
 * The Key-Value grader's history vocabulary: each request the grader made of the learner's
 * service (its lane, its arguments, its answer, when it ran on the service's clock and how
 * long it took), the faults and kills, and what the grader read itself: the keys Redis
 * holds with their expiry, how often each product was loaded, the database's truth. The
 * checkers (checkers.ts) read it back.
 */
import type { FaultEvent, HealEvent, PlainEvent, ValueEvent } from '../../../src/core/grading/history';
import type { CacheKind, ServiceConfig } from './protocol';

export const GRADER = 'grader';
export const NEMESIS = 'nemesis';

export type OpName = 'login' | 'currentUser' | 'logout' | 'allowFixed' | 'allowSliding' | 'get' | 'update';

/** What a request asked: its arguments. */
export interface OpInput {
  readonly user?: string;
  readonly session?: string;
  readonly client?: string;
  readonly cache?: CacheKind;
  readonly id?: string;
  readonly value?: string;
  /** The service's clock when the grader sent it. */
  readonly t: number;
}

/** How a request ended: its answer (ok), or its error (fail); when, on the service's clock, and how long it took. */
export interface OpEnd {
  readonly result?: string | boolean | null;
  readonly t: number;
  readonly ms: number;
}

/** One Redis key, its remaining time to live (PTTL: -1 = none), and its value when it is a string. */
export interface KeyTtl {
  readonly key: string;
  readonly pttl: number;
  readonly value?: string;
}

export type KvEvent =
  | ValueEvent<'invoke', OpName, OpInput>
  | ValueEvent<'ok' | 'fail', OpName, OpEnd>
  | ValueEvent<'note', 'case', { readonly name: string }>
  | ValueEvent<'note', 'config', ServiceConfig>
  | ValueEvent<'note', 'keys', { readonly keys: readonly KeyTtl[] }>
  | ValueEvent<'note', 'loads', { readonly cache: CacheKind; readonly id: string; readonly count: number; readonly readers: number }>
  | ValueEvent<'note', 'truth', { readonly id: string; readonly value: string }>
  | ValueEvent<'note', 'sessions-open', { readonly count: number }>
  | PlainEvent<'note', 'clock'>
  | PlainEvent<'crash', 'killed' | 'died'>
  | FaultEvent
  | HealEvent;

type E = KvEvent;

/** One request with its outcome; indexes are positions in the history. */
export interface Operation {
  readonly index: number;
  readonly process: string;
  readonly op: OpName;
  readonly input: OpInput;
  /** ok, fail, or pending (never completed: its process was killed). */
  readonly outcome: 'ok' | 'fail' | 'pending';
  readonly end?: OpEnd;
  readonly completion?: number;
  readonly detail?: string;
}

/** Pairs invocations with completions per lane (a lane has one request at a time). */
export function operationsOf(history: readonly E[]): Operation[] {
  const open = new Map<string, number>();
  const ops: Operation[] = [];
  history.forEach((e, index) => {
    if (e.type === 'invoke') {
      open.set(e.process, ops.length);
      ops.push({ index, process: e.process, op: e.op, input: e.value, outcome: 'pending' });
    } else if ((e.type === 'ok' || e.type === 'fail') && e.op !== undefined && open.has(e.process)) {
      const at = open.get(e.process) as number;
      open.delete(e.process);
      const started = ops[at] as Operation;
      ops[at] = { ...started, outcome: e.type, end: e.value, completion: index, ...(e.detail !== undefined ? { detail: e.detail } : {}) };
    }
  });
  return ops;
}

/** The configuration each request ran under: the last config note before it. */
export function configAt(history: readonly E[], index: number): ServiceConfig | undefined {
  for (let i = index; i >= 0; i--) {
    const e = history[i];
    if (e?.type === 'note' && e.op === 'config') return e.value;
  }
  return undefined;
}

/** The case each event belongs to: the last case note before it. */
export function caseAt(history: readonly E[], index: number): string | undefined {
  for (let i = index; i >= 0; i--) {
    const e = history[i];
    if (e?.type === 'note' && e.op === 'case') return e.value.name;
  }
  return undefined;
}

/** "allowFixed('alice')", as messages name a request. */
export function opText(o: Operation): string {
  const i = o.input;
  switch (o.op) {
    case 'login':
      return `login(${JSON.stringify(i.user)})`;
    case 'currentUser':
    case 'logout':
      return `${o.op}(${sessionText(i.session)})`;
    case 'allowFixed':
    case 'allowSliding':
      return `${o.op}(${JSON.stringify(i.client)})`;
    case 'get':
      return `${i.cache} get(${JSON.stringify(i.id)})`;
    case 'update':
      return `${i.cache} update(${JSON.stringify(i.id)}, ${JSON.stringify(i.value)})`;
  }
}

/** A session id, shortened for messages. */
export const sessionText = (id: string | undefined): string => (id === undefined ? '?' : id.length > 10 ? `"${id.slice(0, 8)}…"` : JSON.stringify(id));
