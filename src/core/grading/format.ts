/** A grade report as text, for the terminal and the editor's output channel. */
import * as path from 'node:path';
import type { CheckResult, GradeReport } from './report';

const MARK: Readonly<Record<CheckResult['status'], string>> = { pass: 'PASS   ', fail: 'FAIL   ', unknown: 'UNKNOWN' };

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

/** One check: its verdict line, and for anything but a pass what was expected, what happened and the hint. */
export function formatCheck(check: CheckResult): string {
  const lines = [`${MARK[check.status]} ${check.title}  (${check.id}, ${check.durationMs} ms)`];
  if (check.status !== 'pass') {
    lines.push(indent(`expected: ${check.expected}`, '        '));
    lines.push(indent(`actual:   ${check.actual}`, '        '));
    if (check.hint !== undefined) {
      lines.push(indent(`hint:     ${check.hint}`, '        '));
    }
    if (check.needsDocker === true) {
      lines.push(indent('decide:   grade again with Docker running (--backend docker): this check runs only on real servers.', '        '));
    }
  }
  return lines.join('\n');
}

/**
 * A demonstration (a teaching run, not graded) in one line or more: its title and what it
 * showed, or why it could not show it.
 */
export function formatDemonstration(demonstration: CheckResult): string {
  // A multi-line `actual` goes on under the title, indented like a check's details.
  const [first = '', ...rest] = `Demonstration (not graded): ${demonstration.title}: ${demonstration.actual}`.split('\n');
  return [first, ...rest.map((line) => `        ${line}`)].join('\n');
}

export interface FormatOptions {
  /** The lab folder as the reader named it, so that `file:line` can be clicked or copied. */
  readonly labDirShown: string;
  /** The command that replays this run (the seed is appended). */
  readonly replayCommand: string;
  /** Whether the checks were already printed one by one as they were decided. */
  readonly checksPrinted?: boolean;
}

/**
 * The whole report: a problem that stopped the grading, or every check and then every
 * demonstration (not graded), then the score and how to replay.
 */
export function formatReport(report: GradeReport, options: FormatOptions): string {
  const out: string[] = [];
  if (report.problem !== undefined) {
    const p = report.problem;
    out.push(`The grading could not start: ${p.message.split('\n')[0] ?? ''}`);
    for (const d of p.diagnostics) {
      out.push(`  ${path.join(options.labDirShown, d.file)}:${d.line}:${d.column}: ${d.message}`);
    }
    if (p.output !== undefined && p.output.length > 0) {
      out.push('  Last output of your code:', ...p.output.slice(-10).map((l) => `    ${l}`));
    }
    out.push(p.kind === 'compile' ? 'Fix the file and grade again.' : p.kind === 'contract' ? 'Export what the lab asks for (see src/types.ts and the README), then grade again.' : 'Fix the error and grade again.');
    return `${out.join('\n')}\n`;
  }
  if (options.checksPrinted !== true) {
    out.push(...report.checks.map(formatCheck));
  }
  // Demonstrations are never printed as they run (they are not checks): always here.
  out.push(...(report.demonstrations ?? []).map(formatDemonstration));
  const s = report.score;
  out.push('');
  out.push(`${s.passed}/${s.total} checks passed${s.failed > 0 ? `, ${s.failed} failed` : ''}${s.unknown > 0 ? `, ${s.unknown} unknown (not a pass)` : ''} in ${(report.durationMs / 1000).toFixed(1)} s on ${report.engine ?? (report.backend === 'docker' ? 'PostgreSQL in Docker' : 'the embedded PostgreSQL')}.`);
  const failing = report.checks.filter((c) => c.status === 'fail');
  if (failing.length > 0) {
    out.push(`Replay the same schedule: ${options.replayCommand} --seed ${report.seed}${failing.length === 1 ? ` --check ${failing[0]?.id ?? ''}` : ''}`);
  } else if (report.passed) {
    out.push('Every check passed.');
  }
  return `${out.join('\n')}\n`;
}
