/**
 * Runs a lab's visible tests with the lab's own Vitest and turns Vitest's JSON
 * report into per-test results, each failure placed at the line that failed.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export type TestStatus = 'passed' | 'failed' | 'skipped';

export interface TestLocation {
  readonly file: string;
  /** 0-based. */
  readonly line: number;
  /** 0-based. */
  readonly column: number;
}

export interface TestResult {
  /** Absolute path of the test file. */
  readonly file: string;
  /** Enclosing suite names, outermost first, then the test's own name. */
  readonly names: readonly string[];
  readonly status: TestStatus;
  readonly durationMs: number | undefined;
  readonly message: string | undefined;
  /** Where it failed: the deepest stack frame inside the test file, else inside the lab. */
  readonly failureLocation: TestLocation | undefined;
}

export interface FileError {
  readonly file: string;
  /** Why the file could not run at all (a syntax error, a failed import). */
  readonly message: string;
  readonly location: TestLocation | undefined;
}

export interface VitestReport {
  readonly results: readonly TestResult[];
  readonly fileErrors: readonly FileError[];
}

/** The parts of Vitest's (Jest-compatible) JSON report that are used here. */
interface JsonReport {
  testResults?: Array<{
    name: string;
    status?: string;
    message?: string;
    assertionResults?: Array<{
      ancestorTitles?: string[];
      title: string;
      status: string;
      duration?: number | null;
      failureMessages?: string[] | null;
    }>;
  }>;
}

// eslint-disable-next-line no-control-regex -- ANSI colour codes are control characters by definition.
const ANSI = /\u001b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * Finds the most useful place to show a failure: a stack frame in the test file
 * itself, otherwise the first frame inside the lab folder (the learner's code).
 */
export function failureLocation(stack: string, testFile: string, labDir: string): TestLocation | undefined {
  const frames: TestLocation[] = [];
  // One place per line: a stack frame `at [fn (]path:line:col[)]`, or a compiler
  // diagnostic `path:line:col: ERROR: ...`. Paths are absolute and read up to the
  // line:col, so paths with spaces ("My Labs") survive.
  const frame = /^\s*(?:at (?:.*? \()?)?((?:file:\/\/|[A-Za-z]:[\\/]|\/).+?):(\d+):(\d+)(?:\)?\s*$|: )/;
  for (const line of stripAnsi(stack).split(/\r?\n/)) {
    const match = frame.exec(line);
    if (!match) {
      continue;
    }
    let rawFile = match[1] ?? '';
    if (rawFile.startsWith('file://')) {
      try {
        rawFile = fileURLToPath(rawFile);
      } catch {
        continue;
      }
    }
    frames.push({ file: path.resolve(rawFile), line: Number(match[2]) - 1, column: Math.max(0, Number(match[3]) - 1) });
  }
  const inLab = frames.filter((f) => f.file.startsWith(path.resolve(labDir) + path.sep) && !f.file.includes(`${path.sep}node_modules${path.sep}`));
  return inLab.find((f) => f.file === path.resolve(testFile)) ?? inLab[0];
}

export function parseVitestReport(json: string, labDir: string): VitestReport {
  const report = JSON.parse(json) as JsonReport;
  const results: TestResult[] = [];
  const fileErrors: FileError[] = [];
  for (const file of report.testResults ?? []) {
    const assertions = file.assertionResults ?? [];
    if (assertions.length === 0 && file.status === 'failed') {
      const message = stripAnsi(file.message ?? 'The test file failed to run.');
      fileErrors.push({ file: file.name, message, location: failureLocation(message, file.name, labDir) });
      continue;
    }
    for (const a of assertions) {
      const status: TestStatus = a.status === 'passed' ? 'passed' : a.status === 'failed' ? 'failed' : 'skipped';
      const failure = (a.failureMessages ?? []).map(stripAnsi).join('\n');
      results.push({
        file: file.name,
        names: [...(a.ancestorTitles ?? []), a.title],
        status,
        durationMs: a.duration ?? undefined,
        message: status === 'failed' ? firstParagraph(failure) : undefined,
        failureLocation: status === 'failed' ? failureLocation(failure, file.name, labDir) : undefined,
      });
    }
  }
  return { results, fileErrors };
}

/** The error message without the stack trace that follows it. */
function firstParagraph(failure: string): string {
  const lines = failure.split('\n');
  const stackStart = lines.findIndex((l) => /^\s+at /.test(l));
  return (stackStart === -1 ? lines : lines.slice(0, stackStart)).join('\n').trim();
}

/** Rewrites every path under `from` in a report to lie under `to` instead. */
function rebaseReport(report: VitestReport, from: string, to: string): VitestReport {
  const rebase = (file: string): string => (file === from || file.startsWith(from + path.sep) ? to + file.slice(from.length) : file);
  const location = (l: TestLocation | undefined): TestLocation | undefined => l && { ...l, file: rebase(l.file) };
  return {
    results: report.results.map((r) => ({ ...r, file: rebase(r.file), failureLocation: location(r.failureLocation) })),
    fileErrors: report.fileErrors.map((e) => ({ ...e, file: rebase(e.file), location: location(e.location) })),
  };
}

export interface RunOptions {
  /** Test files to run (absolute or relative to the lab); all when empty. */
  readonly files?: readonly string[];
  /** Only tests whose full name matches (Vitest's `--testNamePattern`). */
  readonly namePattern?: string;
  readonly signal?: AbortSignal;
  /** Vitest's console output, line by line, for a terminal or a log. */
  readonly onOutput?: (text: string) => void;
  /** The Node executable; in VS Code this is the editor's own runtime. */
  readonly nodePath?: string;
}

export class VitestRunError extends Error {
  override readonly name = 'VitestRunError';
}

/**
 * Vitest's console output as a learner reads it in Test Results: whole lines, without the
 * notes about our own plumbing (where the JSON report went), and with the long-dash rules
 * many terminal fonts lack (drawn as boxes) as plain dashes.
 */
export function learnerFacingOutput(emit: (text: string) => void): { write(chunk: string): void; end(): void } {
  let pending = '';
  const clean = (line: string): string | undefined => (/^\s*JSON report written to /.test(line) ? undefined : line.replace(/⎯/g, '-'));
  return {
    write(chunk) {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      const kept = lines.map(clean).filter((l): l is string => l !== undefined);
      if (kept.length > 0) emit(`${kept.join('\n')}\n`);
    },
    end() {
      const last = pending === '' ? undefined : clean(pending);
      pending = '';
      if (last !== undefined) emit(last);
    },
  };
}

/** Runs the lab's Vitest once and returns the parsed report. */
export async function runVitest(labDir: string, options: RunOptions = {}): Promise<VitestReport> {
  const vitestEntry = path.join(labDir, 'node_modules', 'vitest', 'vitest.mjs');
  try {
    await fs.access(vitestEntry);
  } catch {
    throw new VitestRunError(`Vitest is not installed in ${labDir}. Install the lab's dependencies first (npm install).`);
  }
  const outDir = await fs.mkdtemp(path.join(os.tmpdir(), 'data-labs-vitest-'));
  const outputFile = path.join(outDir, 'report.json');
  const args = [vitestEntry, 'run', '--reporter=json', `--outputFile=${outputFile}`, '--reporter=default'];
  if (options.namePattern) {
    args.push(`--testNamePattern=${options.namePattern}`);
  }
  args.push(...(options.files ?? []));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(options.nodePath ?? process.execPath, args, {
        cwd: labDir,
        // ELECTRON_RUN_AS_NODE makes desktop VS Code's runtime behave as plain Node.
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', FORCE_COLOR: '0', CI: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const out = learnerFacingOutput((text) => options.onOutput?.(text));
      child.stdout.on('data', (d: Buffer) => out.write(d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => out.write(d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => {
        out.end();
        resolve(code);
      });
    });
    let json: string;
    try {
      json = await fs.readFile(outputFile, 'utf8');
    } catch {
      throw new VitestRunError(`Vitest exited with code ${String(code)} without a report; see the test output for its error.`);
    }
    // Vitest reports real paths; a lab reached through a symlink is shown under the path the learner opened.
    const realLab = await fs.realpath(labDir);
    const report = parseVitestReport(json, realLab);
    return realLab === path.resolve(labDir) ? report : rebaseReport(report, realLab, path.resolve(labDir));
  } finally {
    await fs.rm(outDir, { recursive: true, force: true });
  }
}
