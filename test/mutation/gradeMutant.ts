/**
 * The command StrykerJS's command runner runs for the dry run and for each mutant, in its
 * sandbox (a copy of the learner's folder with the instrumented solution; the mutant is
 * switched on by __STRYKER_ACTIVE_MUTANT__, which the grading sandbox passes to the
 * learner's process). It grades that folder with `data-labs grade <lab> . --seed S
 * --backend docker --check <every check>` for each seed in turn (naming every check runs
 * exactly the full grade's checks with their seeds, without the demonstration and without
 * recording progress) and exits:
 *
 *   0  every check passed on every seed (the mutant survived);
 *   1  a check failed or was unknown, or the grading could not start (killed). It stops at
 *      the first: on a FAIL or UNKNOWN line it interrupts the CLI as Ctrl-C does (it heals
 *      its faults and stops the learner's process), and grades no further seed. A failed
 *      check counts only if it fails again when replayed alone on the same seed;
 *   3  twice on a seed, the grading itself broke (no verdict: the CLI crashed, Docker went
 *      away) or a failed check passed on replay: that says nothing of the mutant, and
 *      main.ts counts it as an error, not a kill (graded again on the next run).
 *
 * With `--lock SOCKET` it grades only while it holds main.ts's grading lock (gradingLock.ts).
 * It prints one verdict line (mutation.ts, formatVerdict), which Stryker keeps as the
 * mutant's status reason; `--log FILE` also appends it with the time taken, as JSON.
 *
 *   node grade-mutant.cjs --cli dist/cli.js --lab quorum --seeds 1,2 --checks a,b,c [--log FILE]
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { acquireGradingLock } from './gradingLock';
import { PROBLEM_LINE, type Verdict, formatVerdict, parseCheckLine, parseSeeds } from './mutation';

interface Options {
  readonly cli: string;
  readonly lab: string;
  readonly seeds: readonly number[];
  readonly checks: readonly string[];
  readonly log: string | undefined;
  /** The socket of main.ts's grading lock (gradingLock.ts): held while grading, so that gradings never overlap. */
  readonly lock: string | undefined;
}

function options(argv: readonly string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const cli = value('--cli');
  const lab = value('--lab');
  const seeds = parseSeeds(value('--seeds') ?? '');
  const checks = (value('--checks') ?? '').split(',').filter((c) => c !== '');
  if (cli === undefined || lab === undefined || seeds === undefined || checks.length === 0) {
    throw new Error('usage: grade-mutant --cli FILE --lab ID --seeds 1,2 --checks A,B [--log FILE] [--lock SOCKET]');
  }
  return { cli, lab, seeds, checks, log: value('--log'), lock: value('--lock') };
}

/** How long the CLI may take to stop cleanly after the interrupt before it is killed. */
const STOP_GRACE_MS = 60_000;

/** One `data-labs grade` on one seed (of `checks`, every check by default): 'pass', or the verdict it came to. */
function gradeOnce(o: Options, seed: number, checks: readonly string[] = o.checks): Promise<Verdict | 'pass'> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [o.cli, 'grade', o.lab, '.', '--seed', String(seed), '--backend', 'docker', '--check', checks.join(',')], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const keep = (line: string): void => {
      tail.push(line);
      if (tail.length > 15) tail.shift();
    };
    let failed: { id: string; status: 'fail' | 'unknown'; detail: string } | undefined;
    let problem: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      if (failed !== undefined) {
        if (failed.detail === '' && line.trimStart().startsWith('actual:')) failed.detail = line.trimStart().slice('actual:'.length).trim();
        return;
      }
      const check = parseCheckLine(line, checks);
      if (check !== undefined && check.status !== 'pass') {
        failed = { id: check.id, status: check.status, detail: '' };
        // Fail fast: the CLI stops cleanly on SIGINT (exit 130), as on Ctrl-C.
        child.kill('SIGINT');
        killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      } else if (line.startsWith(PROBLEM_LINE)) {
        problem = line.slice(PROBLEM_LINE.length).trim();
      }
    });
    createInterface({ input: child.stderr }).on('line', keep);
    child.on('error', (error) => resolve({ kind: 'error', seed, detail: `could not run the CLI: ${error.message}` }));
    child.on('close', (code, signal) => {
      clearTimeout(killTimer);
      if (failed !== undefined) {
        resolve({ kind: 'killed', seed, check: failed.id, status: failed.status, detail: failed.detail });
      } else if (code === 0) {
        resolve('pass');
      } else if (problem !== undefined && code === 1) {
        resolve({ kind: 'killed', seed, detail: `the grading could not start: ${problem}` });
      } else {
        resolve({ kind: 'error', seed, detail: `data-labs grade ended with ${signal ?? `exit code ${String(code)}`} and no verdict: ${tail.slice(-4).join(' | ')}` });
      }
    });
  });
}

/**
 * A check's failure stands only if replaying that check (the same seed: the same schedule)
 * fails again; one that passes on replay is a flaky check (a time limit under load, say),
 * not a kill, and is tested again on the next run. A grading that could not start needs no
 * replay: the code does not compile or load, whatever the schedule.
 */
async function confirmed(o: Options, verdict: Verdict): Promise<Verdict> {
  if (verdict.kind !== 'killed' || verdict.check === undefined) return verdict;
  const replay = await gradeOnce(o, verdict.seed, [verdict.check]);
  if (replay === 'pass') {
    return { kind: 'error', seed: verdict.seed, detail: `not reproduced: ${verdict.check} failed, then passed when replayed on the same seed (a flaky check?): ${verdict.detail}` };
  }
  return replay.kind === 'error' ? replay : verdict;
}

async function main(): Promise<number> {
  const o = options(process.argv.slice(2));
  const asked = performance.now();
  const lock = o.lock !== undefined ? await acquireGradingLock(o.lock) : undefined;
  const started = performance.now();
  let verdict: Verdict = { kind: 'survived', seeds: o.seeds };
  try {
    for (const seed of o.seeds) {
      // A grading that broke, or a failure that did not reproduce, gets one more full grade.
      let result: Verdict | 'pass' = 'pass';
      for (let attempt = 0; attempt < 2; attempt++) {
        result = await gradeOnce(o, seed);
        if (result !== 'pass') result = await confirmed(o, result);
        if (result === 'pass' || result.kind !== 'error') break;
      }
      if (result !== 'pass') {
        verdict = result;
        break;
      }
    }
  } finally {
    lock?.release();
  }
  const line = formatVerdict(verdict);
  console.log(line);
  if (o.log !== undefined) {
    const mutant = process.env['__STRYKER_ACTIVE_MUTANT__'] ?? null;
    appendFileSync(o.log, `${JSON.stringify({ at: new Date().toISOString(), mutant, waitedMs: Math.round(started - asked), ms: Math.round(performance.now() - started), verdict: line })}\n`);
  }
  return verdict.kind === 'survived' ? 0 : verdict.kind === 'killed' ? 1 : 3;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.log(formatVerdict({ kind: 'error', seed: 0, detail: error instanceof Error ? error.message : String(error) }));
    process.exitCode = 3;
  },
);
