/**
 * A grade report as the report webview draws it: the header's figures and sentence, the
 * problem that stopped the grading (each diagnostic with its `file:line:column`), and
 * each check as a card, failing and unknown ones first and expanded, with the history
 * of a check that did not pass as a timeline. Pure data, JSON-serialisable: every value
 * the learner's code produced is already turned into text here, so the webview only
 * ever puts strings into text nodes and attributes.
 */
import type { CheckResult, CheckStatus, GradeProblem, GradeReport, GradeScore, HistoryEvent, HistoryFocus } from './report';
import { buildTimeline, type BarOutcome, type TimelineMark } from './timeline';

/** Longest value text shown for an input, output or note value; longer ones are cut with an ellipsis. */
export const MAX_VALUE_CHARS = 2_000;

export interface ReportHeaderModel {
  readonly title: string;
  readonly labId: string;
  readonly score: GradeScore;
  readonly backend: GradeReport['backend'];
  /** The backend as a reader names it ("PostgreSQL in Docker"). */
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
  /** Whether the card starts open: every check that did not pass. */
  readonly expanded: boolean;
  /** The history drawn, for a check that did not pass and has one. */
  readonly timeline?: TimelineModel;
  /** The events the checker blamed, in history order. */
  readonly culprits: readonly CulpritModel[];
}

export interface ReportModel {
  readonly header: ReportHeaderModel;
  readonly problem?: ProblemModel;
  /** Failing checks first, then unknown ones, then passes; the report's order within each. */
  readonly checks: readonly CheckModel[];
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

/** Any value as one line of text: strings as they are, everything else as JSON; cut at `max` characters. */
export function valueText(value: unknown, max = MAX_VALUE_CHARS): string {
  let text: string;
  if (typeof value === 'string') {
    text = value;
  } else if (typeof value === 'bigint') {
    text = `${value}n`;
  } else if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    text = String(value);
  } else {
    try {
      text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
    } catch {
      // A cycle: say what it is rather than fail the whole report.
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
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

/** One history event in one line, e.g. `+12 ms client-2 ok POST /payments → {"status":201} (replayed)`. */
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
    return 'No check ran.';
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
 * The indexes of the events a focused timeline keeps (see `HistoryFocus`), in order. An
 * invocation kept for being in the window keeps its completion, so its bar is whole.
 */
export function focusedEvents(history: readonly HistoryEvent[], focus: HistoryFocus, culprits: readonly number[]): number[] {
  const primary = new Set(focus.processes);
  const context = new Set(focus.context ?? []);
  const named = new Set([...(focus.events ?? []), ...culprits]);
  const anchors = history.filter((e, i) => primary.has(e.process) || (focus.events ?? []).includes(i)).map((e) => e.at);
  const from = anchors.length > 0 ? Math.min(...anchors) : -Infinity;
  const to = anchors.length > 0 ? Math.max(...anchors) : Infinity;
  const kept: number[] = [];
  const openInvoke = new Set<string>();
  history.forEach((e, i) => {
    const inWindow = e.at >= from && e.at <= to;
    let keep = primary.has(e.process) || named.has(i) || (inWindow && (context.has(e.process) || MARK_TYPES.has(e.type)));
    if (!keep && context.has(e.process) && e.type !== 'invoke' && openInvoke.has(e.process)) {
      keep = true; // the completion of an operation invoked within the window
    }
    if (keep) {
      kept.push(i);
      if (e.type === 'invoke') openInvoke.add(e.process);
      else if (!MARK_TYPES.has(e.type)) openInvoke.delete(e.process);
    }
  });
  return kept;
}

function timelineOf(check: CheckResult): TimelineModel {
  const all = check.history;
  const kept = check.focus !== undefined ? focusedEvents(all, check.focus, check.culprits ?? []) : all.map((_, i) => i);
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
    ...(check.focus !== undefined ? { focus: { label: check.focus.label, hiddenEvents: all.length - kept.length, totalEvents: all.length } } : {}),
  };
}

function checkModel(check: CheckResult): CheckModel {
  const passed = check.status === 'pass';
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
    expanded: !passed,
    ...(!passed && check.history.length > 0 ? { timeline: timelineOf(check) } : {}),
    culprits,
  };
}

function problemModel(problem: GradeProblem): ProblemModel {
  return {
    kind: problem.kind,
    heading: PROBLEM_HEADING[problem.kind],
    message: problem.message,
    diagnostics: problem.diagnostics.map((d) => ({
      file: d.file,
      line: d.line,
      column: d.column,
      message: d.message,
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
      backendLabel: BACKEND_LABEL[report.backend],
      seed: report.seed,
      durationMs: report.durationMs,
      durationText: durationText(report.durationMs),
      startedAt: report.startedAt,
      passed: report.passed,
      summary: summaryOf(report, checks),
    },
    ...(report.problem !== undefined ? { problem: problemModel(report.problem) } : {}),
    checks: checks.map(checkModel),
  };
}
