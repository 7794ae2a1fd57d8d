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
  return events.map((raw: unknown, i) => {
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
}

const LINE = /^(?:.*?\s-\s(?:jepsen\.util\s+)?)?(\S+)\s+:(invoke|ok|fail|info)\s+:([\w-]+)(?:\s+(.*?))?\s*$/;

export function parseJepsenLog(text: string, source = 'the log'): HistoryOp[] {
  const out: HistoryOp[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const m = LINE.exec(line);
    if (!m) return; // not an event line
    const [, process, type, f, value = 'nil'] = m as unknown as [string, string, HistoryOp['type'], string, string | undefined];
    if (process.startsWith(':')) return; // the nemesis
    if (!KINDS.has(f as OperationKind)) {
      throw new HistoryFormatError(`${source}:${i + 1}: the operation :${f} is not :read, :write or :cas.`);
    }
    let parsed: unknown;
    try {
      // A :fail or :info completion may name the error after the value.
      parsed = parseEdn(value, type === 'fail' || type === 'info');
    } catch (error) {
      throw new HistoryFormatError(`${source}:${i + 1}: cannot read the value "${value}": ${(error as Error).message}`);
    }
    out.push({ process: /^\d+$/.test(process) ? Number(process) : process, type, f: f as OperationKind, ...(parsed !== null ? { value: parsed } : {}) });
  });
  if (out.length === 0) {
    throw new HistoryFormatError(`${source} has no event lines (process, :type, :f and value, separated by tabs or spaces).`);
  }
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
