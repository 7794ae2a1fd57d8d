// The extension-tests entry point (`--extensionTestsPath`): VS Code's extension host
// loads the compiled out/extension-tests/index.js and calls run(). It runs mocha (tdd
// UI: suite/test/setup/teardown) over every *.test.js compiled next to it, in the
// extension host, with the real `vscode` API, and rejects if any test failed.
//
// Environment (all optional):
//   DATA_LABS_TEST_RESULT   file to write a JSON summary to (TestSummary below)
//   DATA_LABS_TEST_OUTPUT   file that also receives mocha's report, line by line
//                           (run-in-code-server.mjs prints it as it grows)
//   DATA_LABS_TEST_GREP     only run tests whose full title matches this regexp
//   DATA_LABS_MOCHA_TIMEOUT mocha's per-test timeout in ms (default 30000)
import * as fs from 'node:fs';
import { findSourceMap } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import Mocha from 'mocha';
import * as vscode from 'vscode';

export interface TestRecord {
  fullTitle: string;
  file?: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
}

export interface FailureRecord {
  title: string;
  fullTitle: string;
  file?: string;
  message: string;
  stack?: string;
}

export interface TestSummary {
  /** False while the run goes on: the summary is rewritten after every test. */
  finished: boolean;
  /** The test running when this was written, if any (names the culprit if the host dies). */
  running?: string;
  passed: number;
  failed: number;
  pending: number;
  total: number;
  durationMs: number;
  vscodeVersion: string;
  failures: FailureRecord[];
  tests: TestRecord[];
}

export async function run(): Promise<void> {
  const started = Date.now();
  // The build writes inline source maps; Node keeps them for the files loaded from now
  // on, and failures are reported with .ts positions (see mapStack).
  process.setSourceMapsEnabled(true);

  const summary: TestSummary = {
    finished: false,
    passed: 0,
    failed: 0,
    pending: 0,
    total: 0,
    durationMs: 0,
    vscodeVersion: vscode.version,
    failures: [],
    tests: [],
  };

  const restoreOutput = teeReporterOutput(process.env.DATA_LABS_TEST_OUTPUT);
  try {
    const options: Mocha.MochaOptions = {
      ui: 'tdd',
      color: false,
      timeout: Number(process.env.DATA_LABS_MOCHA_TIMEOUT) || 30_000,
    };
    if (process.env.DATA_LABS_TEST_GREP) options.grep = new RegExp(process.env.DATA_LABS_TEST_GREP);
    const mocha = new Mocha(options);
    const files = findTestFiles(__dirname);
    if (files.length === 0) throw new Error(`no *.test.js files next to ${__filename}`);
    for (const file of files) mocha.addFile(file);
    const resultFile = process.env.DATA_LABS_TEST_RESULT;
    await new Promise<void>((resolve) => {
      const runner = mocha.run(() => resolve());
      recordResults(runner, summary, () => writeSummary(resultFile, summary));
    });
  } catch (error) {
    // Loading a test file failed (a throw at its top level, a missing module…), or a bad grep.
    const err = toError(error);
    if (err.stack) err.stack = mapStack(err.stack);
    summary.failed += 1;
    summary.failures.push({ title: 'loading the tests', fullTitle: 'loading the tests', message: err.message, ...stackOf(err) });
    Mocha.reporters.Base.consoleLog('Could not run the tests: %s', err.stack ?? err.message);
  } finally {
    restoreOutput();
    summary.finished = true;
    delete summary.running;
    summary.durationMs = Date.now() - started;
    writeSummary(process.env.DATA_LABS_TEST_RESULT, summary);
  }

  if (summary.failed > 0) throw new Error(`${summary.failed} test(s) failed, ${summary.passed} passed`);
  if (summary.passed === 0) throw new Error('no test ran');
}

function recordResults(runner: Mocha.Runner, summary: TestSummary, save: () => void): void {
  const fileOf = (runnable: Mocha.Runnable) => (runnable.file ? { file: runnable.file } : {});
  runner.on('test', (test) => {
    summary.running = test.fullTitle();
    save();
  });
  runner.on('test end', () => {
    delete summary.running;
    save();
  });
  runner.on('hook', (hook) => {
    summary.running = hook.fullTitle();
  });
  runner.on('hook end', () => {
    delete summary.running;
  });
  runner.on('pass', (test) => {
    summary.passed += 1;
    summary.tests.push({ fullTitle: test.fullTitle(), ...fileOf(test), state: 'passed', durationMs: test.duration ?? 0 });
  });
  runner.on('pending', (test) => {
    summary.pending += 1;
    summary.tests.push({ fullTitle: test.fullTitle(), ...fileOf(test), state: 'pending' });
  });
  // Also emitted for a failing hook ("before all" hook…), which then counts as a failure.
  runner.on('fail', (test, error: unknown) => {
    const err = toError(error);
    // The reporter prints err.stack at the end of the run: it gets the .ts positions too.
    if (err.stack) err.stack = mapStack(err.stack);
    summary.failed += 1;
    summary.tests.push({ fullTitle: test.fullTitle(), ...fileOf(test), state: 'failed', durationMs: test.duration ?? 0 });
    summary.failures.push({ title: test.title, fullTitle: test.fullTitle(), ...fileOf(test), message: err.message, ...stackOf(err) });
  });
}

/** Every *.test.js under `dir`, in a stable order. */
function findTestFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.test.js'))
    .sort()
    .map((name) => path.join(dir, name));
}

/** Mocha's reporters print through Base.consoleLog: copy each line to `file` as well. */
function teeReporterOutput(file: string | undefined): () => void {
  if (!file) return () => {};
  const base = Mocha.reporters.Base;
  const original = base.consoleLog;
  const fd = fs.openSync(file, 'a');
  base.consoleLog = (...data: unknown[]) => {
    fs.writeSync(fd, `${format(...data)}\n`);
    original(...data);
  };
  return () => {
    base.consoleLog = original;
    fs.closeSync(fd);
  };
}

function writeSummary(file: string | undefined, summary: TestSummary): void {
  summary.total = summary.passed + summary.failed + summary.pending;
  if (!file) return;
  // Written whole, then renamed: a reader never sees half a file.
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(summary, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

/**
 * Rewrites `file.js:line:column` stack positions to the .ts sources through the source
 * maps Node has cached. (The extension host installs its own Error.prepareStackTrace,
 * so Node's automatic source-map support never applies there.)
 */
export function mapStack(stack: string): string {
  return stack.replace(/([^\s()]+\.js):(\d+):(\d+)/g, (whole: string, file: string, line: string, column: string) => {
    const map = findSourceMap(path.resolve(file));
    const entry = map?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry)) return whole;
    const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : entry.originalSource;
    return `${path.relative(process.cwd(), source)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

function stackOf(error: Error): { stack?: string } {
  return error.stack ? { stack: error.stack } : {};
}
