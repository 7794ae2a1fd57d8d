/**
 * Mutation testing's pure part (test/mutation/mutation.ts): the verdict line the grading
 * command prints, equivalent mutants matched by their text, the categories and the score,
 * which earlier results a run reuses; the lock that keeps gradings from overlapping; and,
 * with a real sandbox process, that the active mutant (and nothing else of the caller's
 * environment) reaches the learner's code.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { afterEach, describe, expect, it } from 'vitest';
import { compileLearnerCode, startSandbox } from '../../src/core/grading/sandbox';
import { acquireGradingLock, serveGradingLock } from '../mutation/gradingLock';
import {
  type GraderKey,
  type MutationReport,
  type ReportMutant,
  categorise,
  contextLines,
  countCategories,
  countsForGrader,
  formatVerdict,
  inlineCode,
  locateMutants,
  matchEquivalents,
  mutationScore,
  normalizeCode,
  parseCheckLine,
  parseLabMutationFile,
  parseSeeds,
  parseVerdict,
  resolveLabId,
  reusableResults,
  sourceAt,
} from '../mutation/mutation';
import { REAL_LABS_DIR, REPO_ROOT, buildSandboxChild, buildScript, useTempDirs } from './helpers';

const SOURCE = ['export function ok(n: number): boolean {', '  if (n > 0) return true;', '  return n >= 10;', '}', 'export function twin(n: number): boolean {', '  if (n > 0) return true;', '  return false;', '}'].join('\n');

function mutant(id: string, status: ReportMutant['status'], at: [number, number, number, number], mutatorName = 'EqualityOperator', replacement = 'n >= 0', statusReason?: string): ReportMutant {
  return { id, mutatorName, replacement, status, location: { start: { line: at[0], column: at[1] }, end: { line: at[2], column: at[3] } }, ...(statusReason !== undefined ? { statusReason } : {}) };
}

function report(...mutants: ReportMutant[]): MutationReport {
  return { schemaVersion: '2', thresholds: { high: 80, low: 60 }, files: { '/lab/src/ok.ts': { language: 'typescript', source: SOURCE, mutants } } };
}

describe('the grading command\'s verdict', () => {
  it('round-trips through the line Stryker keeps as the status reason', () => {
    const killed = { kind: 'killed', seed: 2, check: 'partial-write', status: 'fail', detail: 'a read went back\nto an older value' } as const;
    expect(parseVerdict(`noise\n${formatVerdict(killed)}\n`)).toEqual({ ...killed, detail: 'a read went back to an older value' });
    expect(parseVerdict(formatVerdict({ kind: 'killed', seed: 1, detail: 'the grading could not start: src/x.ts does not compile.' }))).toEqual({ kind: 'killed', seed: 1, detail: 'the grading could not start: src/x.ts does not compile.' });
    expect(parseVerdict(formatVerdict({ kind: 'survived', seeds: [1, 2] }))).toEqual({ kind: 'survived', seeds: [1, 2] });
    expect(parseVerdict(formatVerdict({ kind: 'error', seed: 1, detail: 'exit code 2' }))).toEqual({ kind: 'error', seed: 1, detail: 'exit code 2' });
    expect(parseVerdict('npm ERR! something else')).toBeUndefined();
    expect(parseVerdict(undefined)).toBeUndefined();
  });

  it('reads a check\'s line as `data-labs grade` prints it, for the lab\'s own checks only', () => {
    const ids = ['quorum-config', 'partial-write'];
    expect(parseCheckLine('FAIL    A write that reached fewer than W replicas is never seen and then unseen  (partial-write, 488 ms)', ids)).toEqual({ id: 'partial-write', status: 'fail' });
    expect(parseCheckLine('UNKNOWN R + W ≤ N is refused (or flagged)  (quorum-config, 24 ms)', ids)).toEqual({ id: 'quorum-config', status: 'unknown' });
    expect(parseCheckLine('PASS    R + W ≤ N is refused  (quorum-config, 24 ms)', ids)).toEqual({ id: 'quorum-config', status: 'pass' });
    expect(parseCheckLine('FAIL    something  (not-a-check, 3 ms)', ids)).toBeUndefined();
    expect(parseCheckLine('        actual:   FAIL (partial-write, 3 ms)', ids)).toBeUndefined();
  });
});

describe('equivalent mutants', () => {
  const located = locateMutants(
    report(mutant('1', 'Survived', [3, 10, 3, 17], 'EqualityOperator', 'n > 10'), mutant('2', 'Survived', [2, 7, 2, 12], 'EqualityOperator', 'n >= 0'), mutant('3', 'Survived', [6, 7, 6, 12], 'EqualityOperator', 'n >= 0')),
    '/lab',
  );
  const sources = { 'src/ok.ts': SOURCE };

  it('knows each mutant by its file relative to the learner\'s folder and the text it replaces', () => {
    expect(located.map((m) => [m.file, m.original])).toEqual([
      ['src/ok.ts', 'n >= 10'],
      ['src/ok.ts', 'n > 0'],
      ['src/ok.ts', 'n > 0'],
    ]);
    expect(sourceAt('ab\ncdef\ngh', { line: 1, column: 2 }, { line: 3, column: 2 })).toBe('b\ncdef\ng');
  });

  it('matches by file, mutator, original and replacement, whatever the whitespace and the line', () => {
    const [match] = matchEquivalents(located, [{ file: 'src/ok.ts', mutator: 'EqualityOperator', original: 'n  >=\n 10', replacement: 'n > 10', why: 'n is never 10' }], sources);
    expect(match?.mutantIds).toEqual(['1']);
    expect(match?.problem).toBeUndefined();
  });

  it('names no mutant when the entry is ambiguous, until a context tells them apart', () => {
    const entry = { file: 'src/ok.ts', mutator: 'EqualityOperator', original: 'n > 0', replacement: 'n >= 0', why: 'x' };
    const [ambiguous] = matchEquivalents(located, [entry], sources);
    expect(ambiguous?.mutantIds).toEqual([]);
    expect(ambiguous?.problem).toMatch(/matches 2 mutants \(lines 2, 6\)/);
    const [told] = matchEquivalents(located, [{ ...entry, context: 'function twin(' }], sources);
    expect(told?.mutantIds).toEqual(['3']);
  });

  it('takes, of two mutants on neighbouring lines that both see the context, the one whose own line holds it', () => {
    const near = ['if (r + w <= n) {', '  throw new Error(`sum ${r + w}`);', '}'].join('\n');
    const twins = [mutant('a', 'Survived', [1, 5, 1, 10], 'ArithmeticOperator', 'r - w'), mutant('b', 'Survived', [2, 27, 2, 32], 'ArithmeticOperator', 'r - w')].map((m) => ({ ...m, file: 'src/near.ts', original: 'r + w' }));
    const [match] = matchEquivalents(twins, [{ file: 'src/near.ts', mutator: 'ArithmeticOperator', original: 'r + w', replacement: 'r - w', context: 'throw new Error(', why: 'x' }], { 'src/near.ts': near });
    expect(match?.mutantIds).toEqual(['b']);
    expect(match?.problem).toBeUndefined();
  });

  it('says when an entry matches nothing (the code moved on), and never matches another mutator or file', () => {
    const entries = [
      { file: 'src/ok.ts', mutator: 'ConditionalExpression', original: 'n >= 10', replacement: 'n > 10', why: 'x' },
      { file: 'src/other.ts', mutator: 'EqualityOperator', original: 'n >= 10', replacement: 'n > 10', why: 'x' },
    ];
    for (const m of matchEquivalents(located, entries, sources)) {
      expect(m.mutantIds).toEqual([]);
      expect(m.problem).toMatch(/matches no mutant/);
    }
  });

  it('reads the lab\'s list and names what is wrong in it', () => {
    expect(parseLabMutationFile({ equivalent: [] }, 'm.json')).toEqual({ equivalent: [] });
    expect(parseLabMutationFile({ equivalent: [{ file: 'a', mutator: 'B', original: 'c', replacement: '', why: 'd' }] }, 'm.json').equivalent[0]?.replacement).toBe('');
    expect(() => parseLabMutationFile({ equivalent: [{ file: 'a', mutator: 'B', original: 'c', replacement: 'x' }] }, 'm.json')).toThrow('m.json: equivalent[0].why must be a non-empty string');
    expect(() => parseLabMutationFile([], 'm.json')).toThrow(/expected an object/);
  });
});

describe('each graded lab\'s list of equivalent mutants (labs/<id>/grader/mutation.json)', () => {
  for (const labId of buildScript().gradedLabIds(REAL_LABS_DIR)) {
    it(`${labId}: reads, and every entry names a file of the solution and text it has, with a reason`, async () => {
      const file = path.join(REAL_LABS_DIR, labId, 'grader', 'mutation.json');
      const text = await fs.readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined) return;
      const list = parseLabMutationFile(JSON.parse(text), file);
      for (const entry of list.equivalent) {
        const source = await fs.readFile(path.join(REAL_LABS_DIR, labId, 'solution', entry.file), 'utf8');
        expect(normalizeCode(source), `${entry.file} has no ${entry.original}`).toContain(normalizeCode(entry.original));
        if (entry.context !== undefined) expect(normalizeCode(source)).toContain(normalizeCode(entry.context));
      }
    });
  }
});

describe('categories and score', () => {
  it('counts a compile error and an equivalent mutant out, a timeout and a broken grading not as kills', () => {
    const killed = formatVerdict({ kind: 'killed', seed: 1, check: 'c', status: 'fail', detail: '' });
    const broken = formatVerdict({ kind: 'error', seed: 1, detail: 'Docker went away' });
    const mutants = [
      mutant('1', 'Killed', [1, 1, 1, 2], 'X', 'y', killed),
      mutant('2', 'Killed', [1, 1, 1, 2], 'X', 'y', killed),
      mutant('3', 'Killed', [1, 1, 1, 2], 'X', 'y', broken),
      mutant('4', 'Survived', [1, 1, 1, 2]),
      mutant('5', 'Survived', [1, 1, 1, 2]),
      mutant('6', 'Timeout', [1, 1, 1, 2]),
      mutant('7', 'CompileError', [1, 1, 1, 2]),
      mutant('8', 'CompileError', [1, 1, 1, 2]),
    ];
    const categories = mutants.map((m) => categorise(m, new Set(['5', '8'])));
    expect(categories).toEqual(['killed', 'killed', 'error', 'survived', 'equivalent', 'timeout', 'compile-error', 'compile-error']);
    const counts = countCategories(categories);
    expect(counts).toEqual({ generated: 8, killed: 2, survived: 1, timedOut: 1, compileErrors: 2, equivalent: 1, errors: 1, ignored: 0 });
    // 2 killed of 8 − 2 compile errors − 1 equivalent.
    expect(mutationScore(counts)).toBeCloseTo(2 / 5);
    expect(mutationScore(countCategories(['compile-error']))).toBeNull();
  });
});

describe('which earlier results a run reuses', () => {
  const killed = formatVerdict({ kind: 'killed', seed: 1, check: 'c', status: 'fail', detail: '' });
  const earlier = report(
    mutant('1', 'Killed', [2, 7, 2, 12], 'X', 'y', killed),
    mutant('2', 'Survived', [2, 7, 2, 12]),
    mutant('3', 'Timeout', [2, 7, 2, 12]),
    mutant('4', 'CompileError', [2, 7, 2, 12]),
    mutant('5', 'Killed', [2, 7, 2, 12], 'X', 'y', formatVerdict({ kind: 'error', seed: 1, detail: 'no Docker' })),
    mutant('6', 'RuntimeError', [2, 7, 2, 12]),
  );
  const key: GraderKey = { graderHash: 'abc', seeds: [1, 2] };
  const ids = (r: MutationReport | undefined): string[] => Object.values(r?.files ?? {}).flatMap((f) => f.mutants.map((m) => m.id));

  it('with the same grader and seeds, reuses everything but the errors', () => {
    const result = reusableResults(earlier, key, key, { fresh: false });
    expect(ids(result.report)).toEqual(['1', '2', '3', '4']);
    expect(result.dropped).toBe(2);
    expect(result.report?.['schemaVersion']).toBe('2');
  });

  it('when the grader, the kit or the seeds changed (or are not known), tests survivors and timeouts again and keeps kills and compile errors', () => {
    for (const previous of [{ graderHash: 'old', seeds: [1, 2] }, { graderHash: 'abc', seeds: [1] }, undefined]) {
      const result = reusableResults(earlier, previous, key, { fresh: false });
      expect(ids(result.report)).toEqual(['1', '4']);
      expect(result.dropped).toBe(4);
    }
  });

  it('--fresh reuses nothing', () => {
    expect(reusableResults(earlier, key, key, { fresh: true }).report).toBeUndefined();
    expect(reusableResults(undefined, key, key, { fresh: false }).report).toBeUndefined();
  });

  it('keys the grader on what grading runs, not on its docs, tests or list of equivalents', () => {
    expect(countsForGrader('labs/quorum/grader/scenarios.ts')).toBe(true);
    expect(countsForGrader('labs/quorum/grader/requirements.json')).toBe(true);
    expect(countsForGrader('labs/quorum/grader/README.md')).toBe(false);
    expect(countsForGrader('labs/quorum/grader/checkers.test.ts')).toBe(false);
    expect(countsForGrader('labs/quorum/grader/mutation.json')).toBe(false);
  });
});

describe('the command line', () => {
  it('takes a lab by a unique start of its id, and seeds as a list', () => {
    const ids = ['idempotency-keys', 'quorum', 'saga'];
    expect(resolveLabId('q', ids)).toBe('quorum');
    expect(resolveLabId('saga', ids)).toBe('saga');
    expect(resolveLabId('', ids)).toBeUndefined();
    expect(resolveLabId('x', ids)).toBeUndefined();
    expect(parseSeeds('1,2')).toEqual([1, 2]);
    expect(parseSeeds('7')).toEqual([7]);
    for (const bad of ['', '1,', '1,1', '-1', 'a', '4294967295']) expect(parseSeeds(bad)).toBeUndefined();
  });

  it('shows a mutant\'s texts as inline code, backticks and all', () => {
    expect(inlineCode('a > 0')).toBe('`a > 0`');
    expect(inlineCode('`${a}`')).toBe('`` `${a}` ``');
    expect(inlineCode('')).toBe('(nothing)');
  });

  it('shows a mutant with its lines, its own marked', () => {
    expect(contextLines(SOURCE, { line: 3, column: 10 }, { line: 3, column: 17 })).toEqual(['     2 |   if (n > 0) return true;', '>    3 |   return n >= 10;', '     4 | }']);
  });
});

describe('the active mutant in the learner\'s process', () => {
  const tempDir = useTempDirs('ddl-mutation-');
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ['__STRYKER_ACTIVE_MUTANT__', 'DATA_LABS_SECRET_FOR_TEST']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('is passed on when set, and nothing else of the caller\'s environment is', async () => {
    const labDir = await tempDir();
    await fs.mkdir(path.join(labDir, 'src'));
    await fs.writeFile(path.join(labDir, 'src', 'env.ts'), 'export function env(): Record<string, string | undefined> {\n  return { ...process.env };\n}\n');
    await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(labDir, 'node_modules'), 'dir');
    const bundle = await compileLearnerCode({ esbuild, labDir, entry: 'src/env.ts', outDir: await tempDir() });
    const childScript = await buildSandboxChild(await tempDir());
    const seen = async (): Promise<Record<string, string | undefined>> => {
      const sandbox = await startSandbox({ bundle, childScript, labDir, memoryMb: 64 });
      try {
        const result = await sandbox.call('env', [], 5000);
        if (!result.ok) throw new Error(result.message);
        return result.value as Record<string, string | undefined>;
      } finally {
        await sandbox.dispose();
      }
    };
    process.env['DATA_LABS_SECRET_FOR_TEST'] = 'not for the learner';
    delete process.env['__STRYKER_ACTIVE_MUTANT__'];
    const without = await seen();
    expect(without['PATH']).toBe(process.env['PATH']);
    expect(without['__STRYKER_ACTIVE_MUTANT__']).toBeUndefined();
    expect(without['DATA_LABS_SECRET_FOR_TEST']).toBeUndefined();
    process.env['__STRYKER_ACTIVE_MUTANT__'] = '42';
    const withMutant = await seen();
    expect(withMutant['__STRYKER_ACTIVE_MUTANT__']).toBe('42');
    expect(withMutant['DATA_LABS_SECRET_FOR_TEST']).toBeUndefined();
  });
});

describe('the grading lock', () => {
  const tempDir = useTempDirs('ddl-lock-');

  it('lets one holder at a time grade, first come first served, and passes on when a holder\'s socket closes', async () => {
    const socketPath = path.join(await tempDir(), 'lock.sock');
    const server = await serveGradingLock(socketPath);
    try {
      const order: string[] = [];
      const first = await acquireGradingLock(socketPath);
      order.push('first');
      const second = acquireGradingLock(socketPath).then((held) => {
        order.push('second');
        return held;
      });
      const third = acquireGradingLock(socketPath).then((held) => {
        order.push('third');
        return held;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(order).toEqual(['first']);
      expect(server.waiting()).toBe(3);
      first.release();
      (await second).release();
      (await third).release();
      expect(order).toEqual(['first', 'second', 'third']);
    } finally {
      await server.close();
    }
  });

  it('fails when nobody serves it, so that a grading never runs unguarded', async () => {
    await expect(acquireGradingLock(path.join(await tempDir(), 'none.sock'))).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });
});
