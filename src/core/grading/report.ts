/**
 * What a grading run found, as data: each check's verdict with what was expected, what
 * happened, the history that shows it and a hint for that failure; and the run's seed,
 * so the same schedule can be replayed. `data-labs grade --json` prints exactly this
 * (GRADE_REPORT_VERSION says which shape), and the editor's report is drawn from it.
 */
import type { GradedSources } from './sources';
import type { Backend } from '../backend';
import * as z from '../schema';

export const GRADE_REPORT_VERSION = 1;

/**
 * pass: the property held in every run. fail: a run broke it (the history shows how).
 * unknown: it could not be decided (the checker's budget ran out, or the engine cannot
 * cause what the check needs); never counted as a pass.
 */
export type CheckStatus = 'pass' | 'fail' | 'unknown';

/**
 * One thing that happened, Jepsen-style: an operation is invoked and then completes as
 * ok (it happened), fail (it did not) or info (unknown: a timeout, a crash; it may have
 * happened). Faults, crashes and notes mark the timeline in between.
 */
export type HistoryEventType = 'invoke' | 'ok' | 'fail' | 'info' | 'fault' | 'heal' | 'crash' | 'note';

export interface HistoryEvent {
  /** Milliseconds since the scenario started. */
  readonly at: number;
  /** Who did it: a client ("client-2"), the harness, a service. */
  readonly process: string;
  readonly type: HistoryEventType;
  /** The operation ("POST /orders", "put", "pause postgres"). */
  readonly op: string;
  /** Its arguments or result, as plain data. */
  readonly value?: unknown;
  readonly detail?: string;
  /**
   * The id of a message between processes that this event sends (a `note`) or receives (an
   * `invoke`, or a `note` for a copy the channel dropped): a timeline draws each receipt as
   * an arrow from the sending.
   */
  readonly message?: string;
}

/** What a checker decides about one scenario's history (the property it judged is its check's, in the lab's lab.json). */
export interface Verdict {
  readonly status: CheckStatus;
  /** What the history shows. */
  readonly actual: string;
  /** Advice written for this failure; none for a pass. */
  readonly hint?: string;
  /** The events that break the property (indexes into the history), for highlighting. */
  readonly culprits?: readonly number[];
  /** What the report's timeline should show of a long history (see `HistoryFocus`). */
  readonly focus?: HistoryFocus;
  /**
   * Further parts of the same history to draw, each as a timeline of its own after the
   * one `focus` names (each further key whose operations cannot be linearized, say).
   */
  readonly moreFocus?: readonly HistoryFocus[];
  /**
   * Set on an unknown verdict when the check was not run because the backend could not
   * cause what it needs (the embedded engine, a check that kills a server): Docker decides it.
   */
  readonly needsDocker?: true;
}

/** A verdict with the property it judged, as the report shows it. */
export interface CheckOutcome extends Verdict {
  /** The property, as the learner should read it. */
  readonly expected: string;
}

/**
 * The part of a long history that shows a failure: a grader that ran hundreds of requests
 * points at the one that broke. The timeline keeps every event of `processes`, the
 * `events` named, the culprits, and, within the time those span, the events of `context`
 * processes and every fault, heal, crash and note. `processes` may be empty when the
 * part is a set of events rather than whole processes (the operations on one key).
 */
export interface HistoryFocus {
  /** What is shown, as a reader names it ("order s1-o7"). */
  readonly label: string;
  readonly processes: readonly string[];
  readonly context?: readonly string[];
  readonly events?: readonly number[];
}

export interface CheckResult extends CheckOutcome {
  readonly id: string;
  readonly title: string;
  /** The seed this check's scenario ran with; `--seed` replays it. */
  readonly seed: number;
  readonly durationMs: number;
  readonly history: readonly HistoryEvent[];
}

export interface GradeScore {
  readonly passed: number;
  readonly failed: number;
  readonly unknown: number;
  readonly total: number;
}

/** A place in a learner's file. Both numbers are 1-based, as printed in `file:line:column`. */
export interface SourceDiagnostic {
  /** Relative to the lab folder, with `/` separators (`src/main.ts`). */
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/**
 * Why no check could run: the code does not compile, its exports do not match the lab's
 * contract, it throws as it loads, or its set-up (creating its tables) failed.
 */
export interface GradeProblem {
  readonly kind: 'compile' | 'contract' | 'load' | 'setup';
  readonly message: string;
  /** Where, in the learner's files; empty when no line can be named. */
  readonly diagnostics: readonly SourceDiagnostic[];
  /** The last lines the learner's process printed, when it ran. */
  readonly output?: readonly string[];
}

export interface GradeReport {
  readonly version: typeof GRADE_REPORT_VERSION;
  readonly labId: string;
  readonly backend: Backend;
  /**
   * What ran the lab's services, as a reader names it ("Redis replicas in Docker",
   * "in-process replicas (no Docker)"); when absent, `backend` names the lab's PostgreSQL.
   */
  readonly engine?: string;
  readonly seed: number;
  readonly startedAt: string;
  readonly durationMs: number;
  /** True only when every check passed: an unknown is not a pass. */
  readonly passed: boolean;
  readonly score: GradeScore;
  readonly checks: readonly CheckResult[];
  /** The learner's code this report graded (a digest of `src/`): a report made elsewhere is imported only for that code. */
  readonly sources?: GradedSources;
  /**
   * Teaching runs: scenarios that show the learner something (what a weaker setting lets
   * happen, say) and are never graded: they are not in `checks`, `score` or `passed`. A
   * demonstration's `pass` means it showed what it meant to; `unknown` means it could not
   * (its `actual` says why); it is not meant to `fail`. Absent when the lab has none.
   */
  readonly demonstrations?: readonly CheckResult[];
  /** Set when the grading could not start; `checks` is then empty and `passed` false. */
  readonly problem?: GradeProblem;
}

export function score(checks: readonly Pick<CheckResult, 'status'>[]): GradeScore {
  const count = (status: CheckStatus): number => checks.filter((c) => c.status === status).length;
  return { passed: count('pass'), failed: count('fail'), unknown: count('unknown'), total: checks.length };
}

/** A run passes when it has checks and every one of them passed. */
export function allPassed(checks: readonly Pick<CheckResult, 'status'>[]): boolean {
  return checks.length > 0 && checks.every((c) => c.status === 'pass');
}

const historyEventSchema = z.strictObject({
  at: z.number(),
  process: z.string(),
  type: z.enum(['invoke', 'ok', 'fail', 'info', 'fault', 'heal', 'crash', 'note']),
  op: z.string(),
  value: z.optional(z.unknown()),
  detail: z.optional(z.string()),
  message: z.optional(z.string()),
});

const eventIndexesSchema = z.array(z.number().check(z.int(), z.nonnegative()));

const historyFocusSchema = z.strictObject({
  label: z.string(),
  processes: z.array(z.string()),
  context: z.optional(z.array(z.string())),
  events: z.optional(eventIndexesSchema),
});

const checkResultSchema = z.strictObject({
  id: z.string(),
  title: z.string(),
  status: z.enum(['pass', 'fail', 'unknown']),
  expected: z.string(),
  actual: z.string(),
  hint: z.optional(z.string()),
  culprits: z.optional(eventIndexesSchema),
  needsDocker: z.optional(z.literal(true)),
  focus: z.optional(historyFocusSchema),
  moreFocus: z.optional(z.array(historyFocusSchema)),
  seed: z.number().check(z.int(), z.nonnegative()),
  durationMs: z.number().check(z.nonnegative()),
  history: z.array(historyEventSchema),
});

/** The documented shape of `data-labs grade --json`; reports read back are checked against it. */
export const gradeReportSchema = z
  .strictObject({
    version: z.literal(GRADE_REPORT_VERSION),
    labId: z.string(),
    backend: z.enum(['docker', 'embedded']),
    engine: z.optional(z.string()),
    seed: z.number().check(z.int(), z.nonnegative()),
    startedAt: z.string(),
    durationMs: z.number().check(z.nonnegative()),
    passed: z.boolean(),
    score: z.strictObject({ passed: z.number(), failed: z.number(), unknown: z.number(), total: z.number() }),
    checks: z.array(checkResultSchema),
    sources: z.optional(z.strictObject({ digest: z.string().check(z.regex(/^[0-9a-f]{64}$/)), files: z.number().check(z.int(), z.nonnegative()) })),
    demonstrations: z.optional(z.array(checkResultSchema)),
    problem: z.optional(
      z.strictObject({
        kind: z.enum(['compile', 'contract', 'load', 'setup']),
        message: z.string(),
        diagnostics: z.array(z.strictObject({ file: z.string(), line: z.number().check(z.int(), z.positive()), column: z.number().check(z.int(), z.positive()), message: z.string() })),
        output: z.optional(z.array(z.string())),
      }),
    ),
  })
  // Only the checks are graded: demonstrations count in neither the verdict nor the score.
  .check(
    z.refine((r) => r.passed === allPassed(r.checks), { message: 'passed must be true exactly when every check passed' }),
    z.refine((r) => JSON.stringify(r.score) === JSON.stringify(score(r.checks)), { message: 'score must count the checks' }),
  );
