/**
 * Reading operation histories for the linearizability checker, in two formats:
 *
 * - JSON (this project's): an array of events, or `{ "history": [...] }`, each
 *   `{ "process": 0, "type": "invoke" | "ok" | "fail" | "info", "f": "read" | "write" | "cas",
 *      "key"?: "k1", "value"?: ... }`; a cas's value is `[expected, new]`.
 * - Jepsen's plain-text logs, as its register tests print them, one event per line:
 *   `INFO  jepsen.util - 3	:invoke	:cas	[4 2]` (process, type, f, value, separated by
 *   tabs, or by spaces as in logs that went through an editor or a terminal; the logger
 *   prefix is optional, and may be newer Jepsen's `INFO [date] jepsen worker 3 -
 *   jepsen.util 3	...`). Values are nil, numbers, strings, booleans and vectors; a
 *   missing value is nil; after a :fail or :info value, an error (`:timeout`) may follow
 *   and is ignored. Lines of the nemesis (`:nemesis` as the process) and other log lines
 *   are skipped.
 */
import type { HistoryOp, OperationKind } from './linearizability';

export class HistoryFormatError extends Error {}

const TYPES = new Set(['invoke', 'ok', 'fail', 'info']);
const KINDS = new Set<OperationKind>(['read', 'write', 'cas']);

/** Reads a history in either format (JSON when the text starts with `[` or `{`). */
export function parseHistory(text: string, source = 'the history'): HistoryOp[] {
  const trimmed = text.trimStart();
  return trimmed.startsWith('[') || trimmed.startsWith('{') ? parseJsonHistory(trimmed, source) : parseJepsenLog(text, source);
}

export function parseJsonHistory(text: string, source = 'the history'): HistoryOp[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new HistoryFormatError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  const events = Array.isArray(data) ? data : (data as { history?: unknown } | null)?.history;
  if (!Array.isArray(events)) {
    throw new HistoryFormatError(`${source}: expected an array of events, or an object with a "history" array.`);
  }
  const ops = events.map((raw: unknown, i) => {
    const e = raw as Record<string, unknown> | null;
    const where = `${source}, event ${i}`;
    if (e === null || typeof e !== 'object') throw new HistoryFormatError(`${where} is not an object.`);
    if (typeof e['process'] !== 'string' && typeof e['process'] !== 'number') throw new HistoryFormatError(`${where}: "process" must be a number or a string.`);
    if (!TYPES.has(String(e['type']))) throw new HistoryFormatError(`${where}: "type" must be invoke, ok, fail or info, not ${JSON.stringify(e['type'])}.`);
    if (!KINDS.has(e['f'] as OperationKind)) throw new HistoryFormatError(`${where}: "f" must be read, write or cas, not ${JSON.stringify(e['f'])}.`);
    if (e['key'] !== undefined && typeof e['key'] !== 'string') throw new HistoryFormatError(`${where}: "key" must be a string.`);
    return {
      process: e['process'] as string | number,
      type: e['type'] as HistoryOp['type'],
      f: e['f'] as OperationKind,
      ...(e['key'] !== undefined ? { key: e['key'] as string } : {}),
      ...(e['value'] !== undefined ? { value: e['value'] } : {}),
    };
  });
  checkPairs(ops, (i) => `${source}, event ${i}`);
  return ops;
}

/**
 * Each completion (ok, fail, info) must end an operation its process invoked and has not
 * completed yet, of the same kind (and key, where it names one): a completion with no
 * invoke, or of another operation, would make the checker judge a history nobody ran.
 */
function checkPairs(ops: readonly HistoryOp[], where: (index: number) => string): void {
  const open = new Map<string | number, { readonly op: HistoryOp; readonly index: number }>();
  const what = (o: HistoryOp): string => `:${o.f}${o.key !== undefined ? ` on key ${JSON.stringify(o.key)}` : ''}`;
  ops.forEach((op, i) => {
    const pending = open.get(op.process);
    if (op.type === 'invoke') {
      // An invoke never completed (its outcome unknown) may be followed by the process's next one.
      open.set(op.process, { op, index: i });
      return;
    }
    if (pending === undefined) {
      throw new HistoryFormatError(`${where(i)}: process ${String(op.process)} completes ${what(op)} (:${op.type}) without having invoked it.`);
    }
    if (pending.op.f !== op.f || (op.key !== undefined && op.key !== pending.op.key)) {
      throw new HistoryFormatError(`${where(i)}: process ${String(op.process)} completes ${what(op)} (:${op.type}), but it invoked ${what(pending.op)} (${where(pending.index)}).`);
    }
    open.delete(op.process);
  });
}

/** The words of a line (runs of non-whitespace), each with where it starts and ends. */
function wordsOf(line: string): { readonly text: string; readonly start: number; readonly end: number }[] {
  const words: { text: string; start: number; end: number }[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const space = i === line.length || /\s/.test(line[i] as string);
    if (space && start >= 0) {
      words.push({ text: line.slice(start, i), start, end: i });
      start = -1;
    } else if (!space && start < 0) {
      start = i;
    }
  }
  return words;
}

const TYPE_WORDS = new Map<string, HistoryOp['type']>([
  [':invoke', 'invoke'],
  [':ok', 'ok'],
  [':fail', 'fail'],
  [':info', 'info'],
]);

/**
 * An event line's process, type, f and value text, or undefined for another line. Read by
 * words, in one pass (a regular expression with a lazy prefix took seconds on a long line):
 * the process is the word before `:type :f`, first at the start of the line or after the
 * logger's ` - ` (and `jepsen.util`); the value is the rest of the line.
 */
function eventLine(line: string): { readonly process: string; readonly type: HistoryOp['type']; readonly f: string; readonly value: string } | undefined {
  const words = wordsOf(line);
  // A value is one line: a line break other than \n (\r, U+2028, U+2029) inside it makes no event.
  const last = words[words.length - 1];
  let lastBreak = -1;
  for (let i = 0; last !== undefined && i < last.end; i++) {
    if (line[i] === '\r' || line[i] === '\u2028' || line[i] === '\u2029') lastBreak = i;
  }
  const at = (k: number): { process: string; type: HistoryOp['type']; f: string; value: string } | undefined => {
    const type = TYPE_WORDS.get(words[k + 1]?.text ?? '');
    const f = words[k + 2];
    const process = words[k];
    if (type === undefined || f === undefined || process === undefined || !/^:[\w-]+$/.test(f.text)) return undefined;
    const valueStart = words[k + 3]?.start;
    if (valueStart !== undefined && lastBreak > valueStart) return undefined;
    const value = line.slice(f.end).trim();
    return { process: process.text, type, f: f.text.slice(1), value: value === '' ? 'nil' : value };
  };
  // After the logger's prefix, the first place that reads as an event; else at the very start.
  for (let k = 1; k + 2 < words.length; k++) {
    const before = words[k - 1]?.text;
    const afterDash = before === '-' || (before === 'jepsen.util' && words[k - 2]?.text === '-');
    const dash = before === '-' ? words[k - 1] : words[k - 2];
    if (afterDash && dash !== undefined && dash.start > 0) {
      const event = at(k);
      if (event !== undefined) return event;
    }
  }
  return words[0]?.start === 0 ? at(0) : undefined;
}

export function parseJepsenLog(text: string, source = 'the log'): HistoryOp[] {
  const out: HistoryOp[] = [];
  const lines: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const event = eventLine(line);
    if (event === undefined) return; // not an event line
    const { process, type, f, value } = event;
    if (process.startsWith(':')) return; // the nemesis
    if (!KINDS.has(f as OperationKind)) {
      throw new HistoryFormatError(`${source}:${i + 1}: the operation :${f} is not :read, :write or :cas.`);
    }
    let parsed: unknown;
    try {
      // A :fail or :info completion may name the error after the value.
      parsed = parseEdn(value, type === 'fail' || type === 'info');
    } catch (error) {
      throw new HistoryFormatError(`${source}:${i + 1}: cannot read the value "${value.length > 80 ? `${value.slice(0, 80)}...` : value}": ${(error as Error).message}`);
    }
    out.push({ process: /^\d+$/.test(process) ? Number(process) : process, type, f: f as OperationKind, ...(parsed !== null ? { value: parsed } : {}) });
    lines.push(i + 1);
  });
  if (out.length === 0) {
    throw new HistoryFormatError(`${source} has no event lines (process, :type, :f and value, separated by tabs or spaces).`);
  }
  checkPairs(out, (i) => `${source}:${lines[i] ?? '?'}`);
  return out;
}

/**
 * The small part of EDN these logs use: nil, booleans, numbers, strings, keywords, vectors
 * and lists. With `ignoreRest`, what follows the first value is ignored.
 */
function parseEdn(text: string, ignoreRest = false): unknown {
  let i = 0;
  const skip = (): void => {
    while (i < text.length && /[\s,]/.test(text[i] as string)) i++;
  };
  const value = (): unknown => {
    skip();
    const c = text[i];
    if (c === undefined) throw new Error('it ends early');
    if (c === '[' || c === '(') {
      const close = c === '[' ? ']' : ')';
      i++;
      const items: unknown[] = [];
      for (;;) {
        skip();
        if (text[i] === close) {
          i++;
          return items;
        }
        if (i >= text.length) throw new Error(`no closing ${close}`);
        items.push(value());
      }
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new Error('an unclosed string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const start = i;
    while (i < text.length && !/[\s,\])]/.test(text[i] as string)) i++;
    const token = text.slice(start, i);
    if (token === 'nil') return null;
    if (token === 'true') return true;
    if (token === 'false') return false;
    if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
    if (token.startsWith(':')) return token.slice(1);
    throw new Error(`unknown token "${token}"`);
  };
  const result = value();
  skip();
  if (i < text.length && !ignoreRest) throw new Error(`unexpected "${text.slice(i)}"`);
  return result;
}
