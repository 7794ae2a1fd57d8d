/**
 * The sandbox's child process: `node child.cjs <bundle> [adapter]`, started by process.ts
 * with an IPC channel. It loads the learner's bundle, then the lab's adapter around it
 * when there is one, reports the module's exports, and serves calls until the parent goes
 * away.
 *
 * It keeps its own references to `process.send` and `process.exit` before any learner code
 * runs, so that code replacing them cannot break the reporting. Bundled on its own
 * (dist/sandbox/child.cjs) from this file and the message types alone: nothing else of the
 * grader is loaded in the learner's process.
 */
import { closeSync, readSync } from 'node:fs';
import type { ExportType } from './contract';
import { ADAPTER_SANDBOX_KEY, type CallMessage, type ChildMessage, KEY_FD, type KeyedMessage, type LearnerError, type Observation } from './messages';

type Send = (message: KeyedMessage, callback?: (error: Error | null) => void) => boolean;

/** The key the parent wrote on KEY_FD (a line of hex), read before any learner code runs; the fd is closed after. */
function readKey(): string {
  const buffer = Buffer.alloc(256);
  let text = '';
  for (;;) {
    const n = readSync(KEY_FD, buffer, 0, buffer.length, null);
    if (n === 0) break;
    text += buffer.toString('utf8', 0, n);
    if (text.includes('\n')) break;
  }
  closeSync(KEY_FD);
  return text.trim();
}

function text(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '(a value that cannot be shown as text)';
  }
}

/** Any thrown value as plain data, whatever the learner threw (a string, a getter that throws...). */
function describeError(error: unknown): LearnerError {
  let name = 'Error';
  let message = '';
  let stack: string | undefined;
  let code: string | undefined;
  try {
    if (error !== null && (typeof error === 'object' || typeof error === 'function')) {
      const e = error as { name?: unknown; message?: unknown; stack?: unknown; code?: unknown };
      name = text(e.name !== undefined ? e.name : 'Error');
      message = text(e.message !== undefined ? e.message : error);
      if (typeof e.stack === 'string') stack = e.stack;
      if (typeof e.code === 'string' || typeof e.code === 'number') code = text(e.code);
    } else {
      name = typeof error;
      message = `a ${typeof error} was thrown instead of an Error: ${text(error)}`;
    }
  } catch {
    message = message !== '' ? message : 'the thrown value could not be inspected';
  }
  return { name, message, ...(stack !== undefined ? { stack } : {}), ...(code !== undefined ? { code } : {}) };
}

/** Each own enumerable property of a module or an adapter, with its `typeof`. */
function membersOf(value: unknown): Record<string, ExportType> {
  const out: Record<string, ExportType> = {};
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    const record = value as Record<string, unknown>;
    for (const name of Object.keys(record)) {
      try {
        out[name] = typeof record[name];
      } catch {
        out[name] = 'undefined';
      }
    }
  }
  return out;
}

function main(): void {
  const [, , bundlePath, adapterPath] = process.argv;
  if (process.send === undefined || bundlePath === undefined) {
    process.stderr.write('The sandbox child runs only under the grader, with an IPC channel and a bundle to load.\n');
    process.exit(2);
  }
  const rawSend: Send = process.send.bind(process) as Send;
  const exit = process.exit.bind(process);
  const key = readKey();
  const send = (message: ChildMessage, callback?: (error: Error | null) => void): boolean => rawSend({ key, message }, callback);
  let crashed = false;

  const post = (message: ChildMessage, then?: () => void): void => {
    try {
      send(message, () => then?.());
    } catch {
      then?.();
    }
  };

  process.on('uncaughtException', (error, origin) => {
    if (crashed) return;
    crashed = true;
    post({ type: 'crash', origin, error: describeError(error) }, () => exit(70));
  });
  process.on('disconnect', () => exit(0));

  let learnerModule: unknown;
  try {
    // A path known only at run time: Node's own require loads the learner's bundle.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bundle, loaded synchronously before the child reports ready
    learnerModule = require(bundlePath) as unknown;
  } catch (error) {
    post({ type: 'load-failed', error: describeError(error) }, () => exit(1));
    return;
  }
  const members = membersOf(learnerModule);

  // With an adapter, calls go to the object it makes around the learner's module.
  let target: unknown = learnerModule;
  if (adapterPath !== undefined) {
    try {
      // What the adapter sees (a call made inside a transaction) reaches the grader at once.
      const sandbox = { observe: (observation: Observation) => post({ type: 'observation', observation }) };
      (globalThis as Record<symbol, unknown>)[Symbol.for(ADAPTER_SANDBOX_KEY)] = sandbox;
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the lab's adapter bundle, CommonJS, found at run time
      const adapter = require(adapterPath) as { createAdapter(learner: unknown, sandbox: unknown): unknown };
      target = adapter.createAdapter(learnerModule, sandbox);
    } catch (error) {
      post({ type: 'load-failed', error: describeError(error) }, () => exit(1));
      return;
    }
  }
  const callable = membersOf(target);
  const functions = (target ?? {}) as Record<string, unknown>;

  const handle = async (message: CallMessage): Promise<void> => {
    const { id } = message;
    let reply: ChildMessage;
    try {
      const fn = functions[message.name];
      if (typeof fn !== 'function') {
        reply = { type: 'result', id, ok: false, kind: 'not-callable', message: `"${message.name}" is ${typeof fn}, not a function` };
      } else {
        const value: unknown = await (fn as (...args: unknown[]) => unknown).apply(functions, [...message.args]);
        reply = { type: 'result', id, ok: true, value };
      }
    } catch (error) {
      reply = { type: 'result', id, ok: false, kind: 'threw', error: describeError(error) };
    }
    try {
      send(reply);
    } catch (error) {
      post({ type: 'result', id, ok: false, kind: 'unserializable', error: describeError(error) });
    }
  };

  process.on('message', (message: unknown) => {
    const m = message as Partial<CallMessage> | null;
    if (m !== null && typeof m === 'object' && m.type === 'call' && typeof m.id === 'number' && typeof m.name === 'string' && Array.isArray(m.args)) {
      void handle(m as CallMessage);
    }
  });
  post({ type: 'ready', members, callable });
}

main();
