/**
 * A grade report as the report webview draws it: the header's figures and sentence, the
 * problem that stopped the grading (each diagnostic with its `file:line:column`), each
 * check as a card, failing and unknown ones first and expanded, with the history of a
 * check that did not pass as one timeline per part the check focused on, and the
 * demonstrations (teaching runs, not graded), each expanded with its timelines. Pure
 * data, JSON-serialisable: every value the learner's code produced is already turned
 * into text here, so the webview only ever puts strings into text nodes and attributes.
 */
import type { CheckResult, CheckStatus, GradeProblem, GradeReport, GradeScore, HistoryEvent, HistoryFocus } from './report';
import { buildTimeline, type BarOutcome, type TimelineArrow, type TimelineBar, type TimelineMark } from './timeline';

/** Longest value text shown for an input, output or note value; longer ones are cut with an ellipsis. */
export const MAX_VALUE_CHARS = 2_000;

export interface ReportHeaderModel {
  readonly title: string;
  readonly labId: string;
  readonly score: GradeScore;
  readonly backend: GradeReport['backend'];
  /** What ran the lab's services, as a reader names it: the report's `engine`, else the backend's ("PostgreSQL in Docker"). */
  readonly backendLabel: string;
  readonly seed: number;
  readonly durationMs: number;
  /** The duration as shown ("12.3 s", "850 ms"). */
  readonly durationText: string;
  readonly startedAt: string;
  readonly passed: boolean;
  /** One sentence: "Every check passed.", what failed, or why nothing ran. */
  readonly summary: string;
}

export interface DiagnosticModel {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
  /** `file:line:column`, as printed and clicked. */
  readonly location: string;
}

export interface ProblemModel {
  readonly kind: GradeProblem['kind'];
  /** A heading for the kind ("Your code does not compile"). */
  readonly heading: string;
  readonly message: string;
  readonly diagnostics: readonly DiagnosticModel[];
  /** The last lines the learner's process printed; empty when none. */
  readonly output: readonly string[];
  /** What to do next. */
  readonly advice: string;
}

export interface BarModel {
  readonly op: string;
  /**
   * The text drawn in the bar: the operation, and for a register operation its key and
   * value and what it returned ("put k2=5 → ok", "get k2 → 5"); otherwise the operation.
   */
  readonly label: string;
  /** A shorter text for a narrow bar, without the key ("put 5 → ok", "get → 5"); absent when `label` is the operation alone. */
  readonly shortLabel?: string;
  readonly start: number;
  readonly end: number;
  readonly outcome: BarOutcome;
  readonly input?: string;
  readonly output?: string;
  readonly detail?: string;
  readonly highlighted: boolean;
  readonly events: readonly number[];
}

export interface LaneModel {
  readonly process: string;
  readonly bars: readonly BarModel[];
}

export interface MarkModel extends TimelineMark {
  /** The event's value (a provider's note, say), as text. */
  readonly value?: string;
}

export interface TimelineModel {
  readonly start: number;
  readonly end: number;
  readonly lanes: readonly LaneModel[];
  readonly marks: readonly MarkModel[];
  /** Messages between lanes, from their sending to each receipt (or lost delivery). */
  readonly arrows: readonly TimelineArrow[];
  /** When the check focused a long history: what is shown, and how much was left out. */
  readonly focus?: { readonly label: string; readonly hiddenEvents: number; readonly totalEvents: number };
}

export interface CulpritModel {
  /** The event's index in the history. */
  readonly event: number;
  /** The event in one line: time, process, what happened, its value and detail. */
  readonly text: string;
}

export interface CheckModel {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  readonly expected: string;
  readonly actual: string;
  readonly hint?: string;
  readonly seed: number;
  readonly durationMs: number;
  /** Whether the card starts open: every check that did not pass, and every demonstration. */
  readonly expanded: boolean;
  /**
   * The history drawn, for a check that did not pass (or a demonstration) and has one:
   * one timeline for the check's `focus` (or the whole history), then one per `moreFocus`.
   * Empty when nothing is drawn.
   */
  readonly timelines: readonly TimelineModel[];
  /** The first of `timelines`, when there is one (kept for readers of a single timeline). */
  readonly timeline?: TimelineModel;
  /** The events the checker blamed, in history order. */
  readonly culprits: readonly CulpritModel[];
  /** For a check left undecided because it needs Docker: how to decide it. */
  readonly toDecide?: string;
}

export interface ReportModel {
  readonly header: ReportHeaderModel;
  readonly problem?: ProblemModel;
  /** Failing checks first, then unknown ones, then passes; the report's order within each. */
  readonly checks: readonly CheckModel[];
  /** Teaching runs, not graded, in the report's order; each expanded, its timelines drawn whatever its status. */
  readonly demonstrations: readonly CheckModel[];
}

const BACKEND_LABEL: Readonly<Record<GradeReport['backend'], string>> = {
  docker: 'PostgreSQL in Docker',
  embedded: 'embedded PostgreSQL',
};

const PROBLEM_HEADING: Readonly<Record<GradeProblem['kind'], string>> = {
  compile: 'Your code does not compile',
  contract: "Your code's exports do not match the lab",
  load: 'Your code threw as it loaded',
  setup: "Your code's set-up failed",
};

const PROBLEM_ADVICE: Readonly<Record<GradeProblem['kind'], string>> = {
  compile: 'Fix the errors below, then grade again.',
  contract: 'Export what the lab asks for (see src/types.ts and the README), then grade again.',
  load: 'Fix the error, then grade again.',
  setup: 'Fix the error, then grade again.',
};

const STATUS_ORDER: Readonly<Record<CheckStatus, number>> = { fail: 0, unknown: 1, pass: 2 };

/**
 * Any value as one line of text a person reads: strings as they are; everything else
 * written as a JavaScript literal (`{status: 201, body: '{"id":"p1"}'}`): keys bare
 * where they can be, strings inside in single quotes so the JSON they often hold
 * (a response body) shows without a backslash before every quote, and exactly as it is.
 * Cut at `max` characters.
 */
export function valueText(value: unknown, max = MAX_VALUE_CHARS): string {
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else {
    try {
      text = literal(value, new Set());
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const BARE_KEY = /^[A-Za-z_$][\w$]*$/;

function quoted(text: string): string {
  let out = "'";
  for (const c of text) {
    const code = c.charCodeAt(0);
    out += c === '\\' ? '\\\\' : c === "'" ? "\\'" : c === '\n' ? '\\n' : c === '\t' ? '\\t' : code < 0x20 || code === 0x2028 || code === 0x2029 ? `\\u${code.toString(16).padStart(4, '0')}` : c;
  }
  return `${out}'`;
}

/** One value as a literal; a cycle throws (the caller then names the value's type). */
function literal(value: unknown, seen: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return quoted(value);
    case 'bigint':
      return `${value}n`;
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'function':
    case 'symbol':
      return String(value);
    case 'object':
      break;
  }
  if (value === null) {
    return 'null';
  }
  const object = value as object;
  if (seen.has(object)) {
    throw new Error('cycle');
  }
  const json = (object as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') {
    return literal(json.call(object), seen);
  }
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      return `[${object.map((v) => literal(v, seen)).join(', ')}]`;
    }
    const entries = Object.entries(object).filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol');
    return `{${entries.map(([k, v]) => `${BARE_KEY.test(k) ? k : quoted(k)}: ${literal(v, seen)}`).join(', ')}}`;
  } finally {
    seen.delete(object);
  }
}

export function durationText(ms: number): string {
  if (ms < 1_000) {
    return `${Math.round(ms)} ms`;
  }
  if (ms < 60_000) {
    return `${(ms / 1_000).toFixed(1)} s`;
  }
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1_000)} s`;
}

/** One history event in one line, e.g. `+12 ms client-2 ok POST /orders → {"status":201} (replayed)`. */
export function eventText(event: HistoryEvent): string {
  const value = event.value !== undefined ? ` ${event.type === 'invoke' ? '' : '→ '}${valueText(event.value, 300)}` : '';
  const detail = event.detail !== undefined ? ` (${event.detail})` : '';
  return `+${Math.round(event.at)} ms ${event.process} ${event.type} ${event.op}${value}${detail}`;
}

function summaryOf(report: GradeReport, checks: readonly CheckResult[]): string {
  if (report.problem !== undefined) {
    return `The grading could not start: ${PROBLEM_HEADING[report.problem.kind].toLowerCase()}.`;
  }
  if (checks.length === 0) {
    return (report.demonstrations ?? []).length > 0 ? 'No graded check ran; the demonstrations below are not graded.' : 'No check ran.';
  }
  if (report.passed) {
    return 'Every check passed.';
  }
  const failed = checks.filter((c) => c.status === 'fail');
  const unknown = checks.filter((c) => c.status === 'unknown');
  const parts: string[] = [];
  if (failed.length > 0) {
    parts.push(`Failed: ${failed.map((c) => c.title).join('; ')}.`);
  }
  if (unknown.length > 0) {
    parts.push(`Could not be decided (not a pass): ${unknown.map((c) => c.title).join('; ')}.`);
  }
  return parts.join(' ');
}

const MARK_TYPES = new Set<HistoryEvent['type']>(['fault', 'heal', 'crash', 'note']);

/**
 * Each operation's two events as partners: an invocation and its process's next completion
 * (ok, fail or info), as `buildTimeline` pairs them. An invocation followed by another of
 * its process, or by none, has no partner.
 */
function partnersOf(history: readonly HistoryEvent[]): Map<number, number> {
  const partners = new Map<number, number>();
  const open = new Map<string, number>();
  history.forEach((e, i) => {
    if (e.type === 'invoke') {
      open.set(e.process, i);
    } else if (!MARK_TYPES.has(e.type)) {
      const invoked = open.get(e.process);
      if (invoked !== undefined) {
        open.delete(e.process);
        partners.set(invoked, i);
        partners.set(i, invoked);
      }
    }
  });
  return partners;
}

/**
 * The indexes of the events a focused timeline keeps (see `HistoryFocus`), in order: every
 * event of `focus.processes`; the `focus.events` and `culprits`; and, within the time the
 * focus's processes and events span, the events of `focus.context` and every fault, heal,
 * crash and note. A focus may name events only (`processes: []`), such as the operations
 * on one key. An operation kept by one of its events keeps the other, so its bar is whole.
 */
export function focusedEvents(history: readonly HistoryEvent[], focus: HistoryFocus, culprits: readonly number[]): number[] {
  const primary = new Set(focus.processes);
  const context = new Set(focus.context ?? []);
  const partners = partnersOf(history);
  const inHistory = (i: number): boolean => Number.isInteger(i) && i >= 0 && i < history.length;
  const named = new Set((focus.events ?? []).filter(inHistory));
  const anchors = history.flatMap((e, i) => (primary.has(e.process) || named.has(i) ? [e.at] : []));
  const from = anchors.length > 0 ? Math.min(...anchors) : -Infinity;
  const to = anchors.length > 0 ? Math.max(...anchors) : Infinity;
  const kept = new Set<number>();
  for (const i of [...named, ...culprits.filter(inHistory)]) {
    kept.add(i);
  }
  history.forEach((e, i) => {
    if (primary.has(e.process) || (e.at >= from && e.at <= to && (context.has(e.process) || MARK_TYPES.has(e.type)))) {
      kept.add(i);
    }
  });
  for (const i of [...kept]) {
    const partner = partners.get(i);
    if (partner !== undefined) {
      kept.add(partner);
    }
  }
  return [...kept].sort((a, b) => a - b);
}

/** At most `max` characters of a value, for a bar's label. */
function shortValue(value: unknown, max = 24): string {
  return value === null ? 'null' : valueText(value, max);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const REGISTER_INPUT_KEYS = new Set(['key', 'value']);
const REGISTER_OUTPUT_KEYS = new Set(['value', 'version']);

/**
 * A bar's text. A register operation (its input `{key}` or `{key, value}`) reads as what it
 * did and what it returned: "put k2=5 → ok", "get k2 → 5", "put k2=5 → ?" (unknown), with a
 * shorter form without the key for narrow bars. Any other operation is its name.
 */
function barLabels(bar: TimelineBar): { label: string; shortLabel?: string } {
  const input = bar.input;
  if (!isPlainRecord(input) || !('key' in input) || !Object.keys(input).every((k) => REGISTER_INPUT_KEYS.has(k))) {
    return { label: bar.op };
  }
  const hasValue = 'value' in input;
  const key = shortValue(input['key'], 16);
  let result: string | undefined;
  switch (bar.outcome) {
    case 'ok': {
      const output = bar.output;
      if (isPlainRecord(output) && 'value' in output && Object.keys(output).every((k) => REGISTER_OUTPUT_KEYS.has(k))) {
        result = shortValue(output['value']);
      } else if (output !== undefined && !isPlainRecord(output) && !Array.isArray(output)) {
        result = shortValue(output);
      } else {
        result = 'ok';
      }
      break;
    }
    case 'fail':
      result = 'fail';
      break;
    case 'info':
      result = '?';
      break;
    case 'pending':
      result = undefined;
      break;
  }
  const tail = result !== undefined ? ` → ${result}` : '';
  const value = hasValue ? shortValue(input['value']) : undefined;
  return {
    label: `${bar.op} ${key}${value !== undefined ? `=${value}` : ''}${tail}`,
    shortLabel: `${bar.op}${value !== undefined ? ` ${value}` : ''}${tail}`,
  };
}

/**
 * One timeline of `check`'s history: the part `focus` names (the whole history without
 * one). It highlights every culprit it shows, and keeps those of `owned`.
 */
function timelineOf(check: CheckResult, focus: HistoryFocus | undefined, owned: readonly number[]): TimelineModel {
  const all = check.history;
  const kept = focus !== undefined ? focusedEvents(all, focus, owned) : all.map((_, i) => i);
  const position = new Map(kept.map((original, i) => [original, i]));
  const culprits = (check.culprits ?? []).flatMap((c) => (position.has(c) ? [position.get(c) as number] : []));
  const timeline = buildTimeline(
    kept.map((i) => all[i] as HistoryEvent),
    culprits,
  );
  const original = (i: number): number => kept[i] ?? i;
  return {
    start: timeline.start,
    end: timeline.end,
    lanes: timeline.lanes.map((lane) => ({
      process: lane.process,
      bars: lane.bars.map((bar) => ({
        op: bar.op,
        ...barLabels(bar),
        start: bar.start,
        end: bar.end,
        outcome: bar.outcome,
        ...(bar.input !== undefined ? { input: valueText(bar.input) } : {}),
        ...(bar.output !== undefined ? { output: valueText(bar.output) } : {}),
        ...(bar.detail !== undefined ? { detail: bar.detail } : {}),
        highlighted: bar.highlighted,
        events: bar.events.map(original),
      })),
    })),
    marks: timeline.marks.map((mark) => {
      const event = original(mark.event);
      const value = all[event]?.value;
      return { ...mark, event, ...(value !== undefined ? { value: valueText(value) } : {}) };
    }),
    arrows: timeline.arrows.map((a) => ({ ...a, from: { ...a.from, event: original(a.from.event) }, to: { ...a.to, event: original(a.to.event) } })),
    ...(focus !== undefined ? { focus: { label: focus.label, hiddenEvents: all.length - kept.length, totalEvents: all.length } } : {}),
  };
}

/**
 * Every timeline of `check`: one per focus (`focus`, then each of `moreFocus`), or the
 * whole history when it has none. Each focus keeps the culprits among its own processes
 * and events (and their operations' other events); a culprit of none of them is kept by
 * the first, so that every blamed event is drawn somewhere.
 */
function timelinesOf(check: CheckResult): TimelineModel[] {
  const focuses = [...(check.focus !== undefined ? [check.focus] : []), ...(check.moreFocus ?? [])];
  if (focuses.length === 0) {
    return [timelineOf(check, undefined, [])];
  }
  const culprits = check.culprits ?? [];
  if (focuses.length === 1) {
    return [timelineOf(check, focuses[0], culprits)];
  }
  const partners = partnersOf(check.history);
  const belongs = (focus: HistoryFocus, c: number): boolean => {
    const events = new Set(focus.events ?? []);
    const partner = partners.get(c);
    return focus.processes.includes(check.history[c]?.process ?? '') || events.has(c) || (partner !== undefined && events.has(partner));
  };
  const unclaimed = culprits.filter((c) => !focuses.some((f) => belongs(f, c)));
  return focuses.map((focus, i) => timelineOf(check, focus, [...culprits.filter((c) => belongs(focus, c)), ...(i === 0 ? unclaimed : [])]));
}

function checkModel(check: CheckResult, demonstration = false): CheckModel {
  // A check's history is drawn when it did not pass; a demonstration's always, as it is what it shows.
  const drawn = demonstration || check.status !== 'pass';
  const timelines = drawn && check.history.length > 0 ? timelinesOf(check) : [];
  const culprits = [...new Set(check.culprits ?? [])]
    .filter((i) => Number.isInteger(i) && i >= 0 && i < check.history.length)
    .sort((a, b) => a - b)
    .map((i) => ({ event: i, text: eventText(check.history[i] as HistoryEvent) }));
  return {
    id: check.id,
    title: check.title,
    status: check.status,
    expected: check.expected,
    actual: check.actual,
    ...(check.hint !== undefined ? { hint: check.hint } : {}),
    seed: check.seed,
    durationMs: check.durationMs,
    expanded: drawn,
    timelines,
    ...(timelines[0] !== undefined ? { timeline: timelines[0] } : {}),
    culprits,
    ...(check.status === 'unknown' && check.needsDocker === true ? { toDecide: TO_DECIDE_WITH_DOCKER } : {}),
  };
}

/** What a learner without Docker can do about a check only Docker decides. */
export const TO_DECIDE_WITH_DOCKER =
  'This check runs only on real servers. Start Docker (or install Docker Desktop or Docker Engine) and grade with Docker; or let GitHub\'s runners, which have Docker, grade your code (Grade in CI), then import their report.';

function problemModel(problem: GradeProblem): ProblemModel {
  return {
    kind: problem.kind,
    heading: PROBLEM_HEADING[problem.kind],
    message: problem.message,
    diagnostics: problem.diagnostics.map((d) => ({
      file: d.file,
      line: d.line,
      column: d.column,
      // The problem's own message is shown once, above: its place then needs only the link.
      message: d.message === problem.message ? '' : d.message,
      location: `${d.file}:${d.line}:${d.column}`,
    })),
    output: [...(problem.output ?? [])],
    advice: PROBLEM_ADVICE[problem.kind],
  };
}

/** What the report webview draws for `report` of the lab titled `labTitle`. */
export function buildReportModel(report: GradeReport, labTitle: string): ReportModel {
  const checks = report.checks
    .map((check, order) => ({ check, order }))
    .sort((a, b) => STATUS_ORDER[a.check.status] - STATUS_ORDER[b.check.status] || a.order - b.order)
    .map(({ check }) => check);
  return {
    header: {
      title: labTitle,
      labId: report.labId,
      score: { ...report.score },
      backend: report.backend,
      backendLabel: report.engine ?? BACKEND_LABEL[report.backend],
      seed: report.seed,
      durationMs: report.durationMs,
      durationText: durationText(report.durationMs),
      startedAt: report.startedAt,
      passed: report.passed,
      summary: summaryOf(report, checks),
    },
    ...(report.problem !== undefined ? { problem: problemModel(report.problem) } : {}),
    checks: checks.map((check) => checkModel(check)),
    demonstrations: (report.demonstrations ?? []).map((demonstration) => checkModel(demonstration, true)),
  };
}
