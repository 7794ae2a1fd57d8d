import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  learnerFacingOutput,
  type TestResult,
  type VitestReport,
  VitestRunError,
  failureLocation,
  parseVitestReport,
  runVitest,
  stripAnsi,
} from '../../src/core/testing/vitestRun';
import { REPO_ROOT, useTempDirs, writeFiles } from './helpers';

const tempDir = useTempDirs('ddl-vitest-');

const SHOP_TEST = [
  "import { describe, expect, it } from 'vitest';", // 0
  "import { mustBePositive, total } from '../src/shop';", // 1
  '', // 2
  "describe('shop', () => {", // 3
  "  describe('total', () => {", // 4
  "    it('adds prices', () => {", // 5
  '      expect(total([1, 2])).toBe(3);', // 6
  '    });', // 7
  "    it('counts quantities', () => {", // 8
  '      expect(total([1, 2])).toBe(4);', // 9  <- fails here
  '    });', // 10
  '  });', // 11
  "  it('rejects negatives', () => {", // 12
  '    mustBePositive(-1);', // 13  <- throws from src/shop.ts
  '  });', // 14
  "  it.skip('is skipped', () => {});", // 15
  '});', // 16
  '',
].join('\n');

const SHOP_SRC = [
  'export function total(prices: number[]): number {', // 0
  '  return prices.reduce((sum, p) => sum + p, 0);', // 1
  '}', // 2
  'export function mustBePositive(n: number): void {', // 3
  '  if (n < 0) {', // 4
  "    throw new RangeError('must be positive, got ' + n);", // 5
  '  }', // 6
  '}', // 7
  '',
].join('\n');

const BROKEN_TEST = [
  "import { it } from 'vitest';", // 0
  "it('never runs', () => {", // 1
  '  const = 5;', // 2  <- syntax error
  '});',
  '',
].join('\n');

/** A lab folder whose node_modules is the product's own (so Vitest is there), with passing, failing and broken tests. */
async function makeLab(): Promise<string> {
  const dir = await tempDir();
  await writeFiles(dir, {
    'package.json': JSON.stringify({ name: 'shop-lab', private: true, type: 'module' }),
    'src/shop.ts': SHOP_SRC,
    'test/shop.test.ts': SHOP_TEST,
    'test/broken.test.ts': BROKEN_TEST,
  });
  await fs.symlink(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return dir;
}

function byName(report: VitestReport, ...names: string[]): TestResult {
  const found = report.results.find((r) => r.names.join(' > ') === names.join(' > '));
  if (!found) {
    throw new Error(`no result for ${names.join(' > ')}; have ${report.results.map((r) => r.names.join(' > ')).join(', ')}`);
  }
  return found;
}

describe('runVitest on a real lab', () => {
  let lab: string;
  let report: VitestReport;
  let output = '';

  beforeAll(async () => {
    lab = await makeLab();
    report = await runVitest(lab, { onOutput: (text) => (output += text) });
  }, 60_000);

  it('reports every test with its status and its suites', () => {
    const rows = report.results.map((r) => [r.file, r.names, r.status]);
    const file = path.join(lab, 'test', 'shop.test.ts');
    expect(rows).toEqual([
      [file, ['shop', 'total', 'adds prices'], 'passed'],
      [file, ['shop', 'total', 'counts quantities'], 'failed'],
      [file, ['shop', 'rejects negatives'], 'failed'],
      [file, ['shop', 'is skipped'], 'skipped'],
    ]);
  });

  it('gives passed tests a duration and no message or location', () => {
    const passed = byName(report, 'shop', 'total', 'adds prices');
    expect(typeof passed.durationMs).toBe('number');
    expect(passed.message).toBeUndefined();
    expect(passed.failureLocation).toBeUndefined();
  });

  it('gives a failed expectation its message, without the stack', () => {
    const failed = byName(report, 'shop', 'total', 'counts quantities');
    expect(failed.message).toMatch(/^AssertionError: expected 3 to be 4/);
    expect(failed.message).not.toMatch(/\bat /);
    // eslint-disable-next-line no-control-regex -- checking that colour codes are gone.
    expect(failed.message).not.toMatch(/\u001b\[/);
  });

  it('places a failed expectation on its line of the test file (0-based)', () => {
    const failed = byName(report, 'shop', 'total', 'counts quantities');
    const lines = SHOP_TEST.split('\n');
    expect(failed.failureLocation).toEqual({
      file: path.join(lab, 'test', 'shop.test.ts'),
      line: 9,
      column: (lines[9] ?? '').indexOf('toBe'),
    });
  });

  it('places an error thrown in the learner\'s code on the test line that called it', () => {
    const failed = byName(report, 'shop', 'rejects negatives');
    expect(failed.message).toBe('RangeError: must be positive, got -1');
    expect(failed.failureLocation?.file).toBe(path.join(lab, 'test', 'shop.test.ts'));
    expect(failed.failureLocation?.line).toBe(13);
  });

  it('reports the file that cannot even be parsed as a file error, with its location', () => {
    expect(report.fileErrors).toHaveLength(1);
    const broken = report.fileErrors[0];
    expect(broken?.file).toBe(path.join(lab, 'test', 'broken.test.ts'));
    expect(broken?.message).toMatch(/Expected identifier|Unexpected token|Parse failure|SyntaxError/);
    expect(broken?.location).toMatchObject({ file: path.join(lab, 'test', 'broken.test.ts'), line: 2 });
    expect(report.results.some((r) => r.file.endsWith('broken.test.ts'))).toBe(false);
  });

  it('streams Vitest\'s console output', () => {
    const plain = stripAnsi(output);
    expect(plain).toContain('shop.test.ts');
    expect(plain).toMatch(/Tests\s+2 failed \| 1 passed \| 1 skipped/);
  });

  it('runs only the files asked for', async () => {
    const [only, absolute] = await Promise.all([
      runVitest(lab, { files: ['test/shop.test.ts'] }),
      runVitest(lab, { files: [path.join(lab, 'test', 'broken.test.ts')] }),
    ]);
    expect(only.fileErrors).toEqual([]);
    expect(only.results.map((r) => r.names.at(-1))).toEqual(['adds prices', 'counts quantities', 'rejects negatives', 'is skipped']);
    expect(absolute.results).toEqual([]);
    expect(absolute.fileErrors.map((e) => e.file)).toEqual([path.join(lab, 'test', 'broken.test.ts')]);
  }, 60_000);

  it('runs only the tests whose name matches', async () => {
    const matched = await runVitest(lab, { files: ['test/shop.test.ts'], namePattern: 'adds prices' });
    expect(matched.results.map((r) => [r.names.at(-1), r.status])).toEqual([
      ['adds prices', 'passed'],
      ['counts quantities', 'skipped'],
      ['rejects negatives', 'skipped'],
      ['is skipped', 'skipped'],
    ]);
  }, 60_000);

  // Regression test (fixed): Vitest reports real paths (it runs with the real cwd), so when the
  // lab folder is reached through a symlink no frame is "inside the lab" and the
  // failure gets no location.
  it('places failures when the lab folder is reached through a symlink', async () => {
    const link = path.join(await tempDir(), 'lab-link');
    await fs.symlink(lab, link, 'dir');
    const viaLink = await runVitest(link, { files: ['test/shop.test.ts'] });
    expect(byName(viaLink, 'shop', 'total', 'counts quantities').failureLocation?.line).toBe(9);
  }, 60_000);
});

describe('runVitest without Vitest', () => {
  it('asks for the lab\'s dependencies to be installed', async () => {
    const dir = await tempDir();
    const error = await runVitest(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VitestRunError);
    expect((error as Error).name).toBe('VitestRunError');
    expect((error as Error).message).toBe(`Vitest is not installed in ${dir}. Install the lab's dependencies first (npm install).`);
  });

  it('says so when Vitest exits without writing a report', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'node_modules/vitest/vitest.mjs': "console.error('vitest blew up');\nprocess.exit(7);\n" });
    let output = '';
    const error = await runVitest(dir, { onOutput: (t) => (output += t) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VitestRunError);
    expect((error as Error).message).toBe('Vitest exited with code 7 without a report; see the test output for its error.');
    expect(output).toContain('vitest blew up');
  });

  it('passes the report file, reporters, name pattern and files to Vitest, and parses what it writes', async () => {
    const dir = await tempDir();
    // A stand-in Vitest (a real Node process) that echoes its arguments into a report.
    await writeFiles(dir, {
      'node_modules/vitest/vitest.mjs': [
        "import { writeFileSync } from 'node:fs';",
        'const args = process.argv.slice(2);',
        "const out = args.find((a) => a.startsWith('--outputFile=')).slice('--outputFile='.length);",
        "writeFileSync(out, JSON.stringify({ testResults: [{ name: process.cwd() + '/a.test.ts', status: 'passed', assertionResults: [{ ancestorTitles: [], title: JSON.stringify(args.filter((a) => !a.startsWith('--outputFile='))), status: 'passed', duration: 1 }] }] }));",
      ].join('\n'),
    });
    const report = await runVitest(dir, { namePattern: 'adds', files: ['test/a.test.ts', 'test/b.test.ts'] });
    expect(JSON.parse(report.results[0]?.names[0] ?? '[]')).toEqual([
      'run',
      '--reporter=json',
      '--reporter=default',
      '--testNamePattern=adds',
      'test/a.test.ts',
      'test/b.test.ts',
    ]);
  });
});

describe('parseVitestReport', () => {
  const lab = '/home/learner/data-labs/shop';

  it('maps statuses, names and durations, and tolerates missing fields', () => {
    const json = JSON.stringify({
      testResults: [
        {
          name: `${lab}/test/a.test.ts`,
          status: 'passed',
          assertionResults: [
            { ancestorTitles: ['s'], title: 'p', status: 'passed', duration: 3 },
            { title: 't', status: 'todo', duration: null, failureMessages: null },
            { title: 'q', status: 'pending' },
          ],
        },
        { name: `${lab}/test/empty.test.ts`, status: 'passed', assertionResults: [] },
      ],
    });
    expect(parseVitestReport(json, lab)).toEqual({
      results: [
        { file: `${lab}/test/a.test.ts`, names: ['s', 'p'], status: 'passed', durationMs: 3, message: undefined, failureLocation: undefined },
        { file: `${lab}/test/a.test.ts`, names: ['t'], status: 'skipped', durationMs: undefined, message: undefined, failureLocation: undefined },
        { file: `${lab}/test/a.test.ts`, names: ['q'], status: 'skipped', durationMs: undefined, message: undefined, failureLocation: undefined },
      ],
      fileErrors: [],
    });
    expect(parseVitestReport('{}', lab)).toEqual({ results: [], fileErrors: [] });
  });

  it('keeps a multi-line failure message, strips colours and drops the stack', () => {
    const json = JSON.stringify({
      testResults: [{
        name: `${lab}/test/a.test.ts`,
        status: 'failed',
        assertionResults: [{
          title: 'f',
          status: 'failed',
          failureMessages: [`\u001b[31mAssertionError\u001b[39m: expected [ 1 ] to deeply equal [ 2 ]\n\n- Expected\n+ Received\n    at ${lab}/test/a.test.ts:4:7\n    at file:///x/node_modules/@vitest/runner/dist/index.js:1:1`],
        }],
      }],
    });
    const [result] = parseVitestReport(json, lab).results;
    expect(result?.message).toBe('AssertionError: expected [ 1 ] to deeply equal [ 2 ]\n\n- Expected\n+ Received');
    expect(result?.failureLocation).toEqual({ file: `${lab}/test/a.test.ts`, line: 3, column: 6 });
  });

  it('turns a failed file without tests into a file error with a default message', () => {
    const json = JSON.stringify({ testResults: [{ name: `${lab}/test/x.test.ts`, status: 'failed', assertionResults: [] }] });
    expect(parseVitestReport(json, lab).fileErrors).toEqual([
      { file: `${lab}/test/x.test.ts`, message: 'The test file failed to run.', location: undefined },
    ]);
  });
});

describe('failureLocation', () => {
  const lab = '/home/learner/data-labs/shop';
  const testFile = `${lab}/test/shop.test.ts`;

  it('takes a plain "at file:line:col" frame in the test file (1-based → 0-based)', () => {
    expect(failureLocation(`Error: x\n    at ${testFile}:10:27`, testFile, lab)).toEqual({ file: testFile, line: 9, column: 26 });
  });

  it('reads file:// URLs and frames in parentheses', () => {
    const stack = `Error: x\n    at Object.<anonymous> (file://${testFile}:3:5)\n    at run (file:///elsewhere/runner.js:1:1)`;
    expect(failureLocation(stack, testFile, lab)).toEqual({ file: testFile, line: 2, column: 4 });
  });

  it('prefers the test file over the learner\'s source, even when the source frame comes first', () => {
    const stack = [
      'RangeError: bad',
      `    at mustBePositive (${lab}/src/shop.ts:6:11)`,
      `    at ${testFile}:14:5`,
      `    at ${testFile}:40:1`,
    ].join('\n');
    expect(failureLocation(stack, testFile, lab)).toEqual({ file: testFile, line: 13, column: 4 });
  });

  it('falls back to the first frame inside the lab when the test file is not on the stack', () => {
    const stack = `Error: boom\n    at helper (${lab}/src/db.ts:20:3)\n    at other (${lab}/src/shop.ts:2:2)`;
    expect(failureLocation(stack, testFile, lab)).toEqual({ file: `${lab}/src/db.ts`, line: 19, column: 2 });
  });

  it('ignores frames in node_modules, outside the lab, and in a folder that merely starts with the lab\'s name', () => {
    const stack = [
      'Error: deep',
      `    at x (${lab}/node_modules/pg/lib/client.js:100:1)`,
      `    at y (file://${lab}/node_modules/.pnpm/vitest/dist/index.js:5:5)`,
      `    at z (${lab}-solution/src/shop.ts:1:1)`,
      '    at w (/usr/lib/node/internal.js:1:1)',
      '    at processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at new Promise (<anonymous>)',
    ].join('\n');
    expect(failureLocation(stack, testFile, lab)).toBeUndefined();
  });

  it('strips colour codes before reading frames, and clamps column 0', () => {
    expect(failureLocation(`\u001b[2m    at ${testFile}:5:0\u001b[22m`, testFile, lab)).toEqual({ file: testFile, line: 4, column: 0 });
  });

  it('accepts a lab folder given with a trailing slash or relative segments', () => {
    expect(failureLocation(`at ${testFile}:2:3`, testFile, `${lab}/`)?.line).toBe(1);
    expect(failureLocation(`at ${testFile}:2:3`, testFile, `${lab}/test/..`)?.line).toBe(1);
  });

  it('finds nothing in a message without frames', () => {
    expect(failureLocation('AssertionError: expected 1 to be 2', testFile, lab)).toBeUndefined();
  });

  // Regression test (fixed): the frame pattern stops at whitespace, so a lab under a folder
  // with a space (common on Windows and macOS: "John Smith", "My Labs") gets no
  // location. Vitest prints such paths unquoted: "at /tmp/My Labs/lab/x.test.ts:8:21".
  it('places failures in a lab whose path contains a space', () => {
    const spaced = '/home/learner/My Labs/shop';
    const file = `${spaced}/test/shop.test.ts`;
    expect(failureLocation(`AssertionError: x\n    at ${file}:10:27`, file, spaced)).toEqual({ file, line: 9, column: 26 });
  });

  it('strips ANSI colour codes', () => {
    expect(stripAnsi('\u001b[32m- Expected\u001b[39m\n\u001b[1;31m+ Received\u001b[0m')).toBe('- Expected\n+ Received');
  });
});

describe("Vitest's output in Test Results", () => {
  it('comes in whole lines, without the JSON report note, with plain dashes for the rules fonts lack', () => {
    const seen: string[] = [];
    const out = learnerFacingOutput((text) => seen.push(text));
    out.write(' ✓ test/a.test.ts (2 tests)\n⎯⎯⎯ Failed Tests 1 ⎯⎯⎯\n JSON report wri');
    out.write('tten to /tmp/data-labs-vitest-x/report.json\n Test Files  1 failed');
    out.end();
    expect(seen.join('')).toBe(' ✓ test/a.test.ts (2 tests)\n--- Failed Tests 1 ---\n Test Files  1 failed');
  });
});
