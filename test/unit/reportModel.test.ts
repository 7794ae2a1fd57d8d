import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPassed, gradeReportSchema, score, type CheckResult, type GradeReport, type HistoryEvent } from '../../src/core/grading/report';
import { buildReportModel, eventText, valueText } from '../../src/core/grading/reportModel';

const ROOT = path.resolve(__dirname, '..', '..');
const OP = 'POST /payments';

const e = (at: number, process: string, type: HistoryEvent['type'], op: string, value?: unknown, detail?: string): HistoryEvent => ({
  at,
  process,
  type,
  op,
  ...(value !== undefined ? { value } : {}),
  ...(detail !== undefined ? { detail } : {}),
});

function passing(id: string, seed: number, history: HistoryEvent[] = []): CheckResult {
  return { id, title: `Check ${id}`, status: 'pass', expected: `${id} holds.`, actual: 'It held in every run.', seed, durationMs: 100 + seed, history };
}

/** A report as `data-labs grade --json` prints it, checked against the documented schema. */
function report(checks: CheckResult[], extra: Partial<GradeReport> = {}): GradeReport {
  const r: GradeReport = {
    version: 1,
    labId: 'idempotency-keys',
    backend: 'docker',
    seed: 3,
    startedAt: '2025-06-01T10:00:00.000Z',
    durationMs: 11_480,
    passed: allPassed(checks),
    score: score(checks),
    checks,
    ...extra,
  };
  gradeReportSchema.parse(JSON.parse(JSON.stringify(r)));
  return r;
}

/** Two clients race on one key and both charge; the learner's response carries markup. */
const raceHistory: HistoryEvent[] = [
  e(0, 'client-1', 'invoke', OP, { user: 'u1', key: 'k', body: { amount: 1200 } }),
  e(2, 'client-2', 'invoke', OP, { user: 'u1', key: 'k', body: { amount: 1200 } }),
  e(5, 'harness', 'fault', 'pause postgres'),
  e(41, 'provider', 'note', 'charge 1200 eur', { charge: 'ch_1' }),
  e(44, 'provider', 'note', 'charge 1200 eur', { charge: 'ch_2' }),
  e(58, 'client-1', 'ok', OP, { status: 201, body: '{"charge":"ch_1"}' }),
  e(61, 'client-2', 'ok', OP, { status: 201, body: '<img src=x onerror=alert(1)>' }),
  e(70, 'harness', 'heal', 'unpause postgres'),
  e(80, 'client-3', 'invoke', OP, { user: 'u1', key: 'k' }),
  e(90, 'client-3', 'info', OP, undefined, 'timed out'),
];

const raceCheck: CheckResult = {
  id: 'concurrent-same-key',
  title: 'Concurrent requests with the same key charge once',
  status: 'fail',
  expected: 'One charge per key.',
  actual: 'Two requests both charged the card: ch_1 and ch_2.',
  hint: 'Make recording the key atomic.',
  // 99 is past the end of the history: ignored, not a crash.
  culprits: [6, 1, 4, 3, 99],
  seed: 17,
  durationMs: 1_840,
  history: raceHistory,
};

const undecided: CheckResult = {
  id: 'stale-lock',
  title: 'A stale lock is taken over',
  status: 'unknown',
  expected: 'A retry takes a dead holder’s lock over.',
  actual: 'The scenario did not get as far as its retries.',
  seed: 15,
  durationMs: 5_000,
  history: [e(0, 'client-1', 'invoke', OP), e(1_000, 'client-1', 'info', OP, undefined, 'timed out after 1 s')],
};

describe('buildReportModel', () => {
  it('a report where every check passed: collapsed cards, no timelines, "Every check passed."', () => {
    const r = report([passing('a', 1, raceHistory), passing('b', 2), passing('c', 3)]);
    const model = buildReportModel(r, 'Idempotency keys');
    expect(model.header).toEqual({
      title: 'Idempotency keys',
      labId: 'idempotency-keys',
      score: { passed: 3, failed: 0, unknown: 0, total: 3 },
      backend: 'docker',
      backendLabel: 'PostgreSQL in Docker',
      seed: 3,
      durationMs: 11_480,
      durationText: '11.5 s',
      startedAt: '2025-06-01T10:00:00.000Z',
      passed: true,
      summary: 'Every check passed.',
    });
    expect(model.problem).toBeUndefined();
    expect(model.checks.map((c) => c.id)).toEqual(['a', 'b', 'c']);
    for (const c of model.checks) {
      expect(c.expanded).toBe(false);
      // Even a passing check with a history gets no timeline: there is nothing to look for.
      expect(c.timeline).toBeUndefined();
      expect(c.culprits).toEqual([]);
    }
    expect(model.checks[0]).toEqual({ id: 'a', title: 'Check a', status: 'pass', expected: 'a holds.', actual: 'It held in every run.', seed: 1, durationMs: 101, expanded: false, culprits: [] });
  });

  it('a failing check: first and expanded, with its timeline, the culprits highlighted, and their events as text', () => {
    const r = report([passing('a', 1), undecided, raceCheck, { ...undecided, id: 'no-history', title: 'Keys expire', history: [] }]);
    const model = buildReportModel(r, 'Idempotency keys');

    // Failures first, then unknowns, then passes; the report's order within each.
    expect(model.checks.map((c) => [c.id, c.status, c.expanded])).toEqual([
      ['concurrent-same-key', 'fail', true],
      ['stale-lock', 'unknown', true],
      ['no-history', 'unknown', true],
      ['a', 'pass', false],
    ]);
    expect(model.header.passed).toBe(false);
    expect(model.header.summary).toBe(
      'Failed: Concurrent requests with the same key charge once. Could not be decided (not a pass): A stale lock is taken over; Keys expire.',
    );

    const race = model.checks[0]!;
    expect(race).toMatchObject({ expected: 'One charge per key.', actual: 'Two requests both charged the card: ch_1 and ch_2.', hint: 'Make recording the key atomic.', seed: 17, durationMs: 1_840 });
    const t = race.timeline!;
    expect([t.start, t.end]).toEqual([0, 90]);
    expect(t.lanes.map((l) => l.process)).toEqual(['client-1', 'client-2', 'client-3']);
    // client-2's request (events 1 and 6) is blamed; client-1's (0 and 5) is not.
    expect(t.lanes[0]!.bars).toEqual([
      { op: OP, start: 0, end: 58, outcome: 'ok', input: '{"user":"u1","key":"k","body":{"amount":1200}}', output: '{"status":201,"body":"{\\"charge\\":\\"ch_1\\"}"}', highlighted: false, events: [0, 5] },
    ]);
    expect(t.lanes[1]!.bars[0]).toMatchObject({ start: 2, end: 61, outcome: 'ok', highlighted: true, output: '{"status":201,"body":"<img src=x onerror=alert(1)>"}' });
    // An unknown outcome stays open to the end of the history.
    expect(t.lanes[2]!.bars[0]).toMatchObject({ start: 80, end: 90, outcome: 'info', detail: 'timed out', highlighted: false });
    // Marks carry their value as text; the provider's two charges are blamed, the fault is not.
    expect(t.marks.map((m) => [m.event, m.type, m.highlighted, m.value])).toEqual([
      [2, 'fault', false, undefined],
      [3, 'note', true, '{"charge":"ch_1"}'],
      [4, 'note', true, '{"charge":"ch_2"}'],
      [7, 'heal', false, undefined],
    ]);
    // Culprits in history order, without duplicates or indexes past the end.
    expect(race.culprits).toEqual([
      { event: 1, text: '+2 ms client-2 invoke POST /payments {"user":"u1","key":"k","body":{"amount":1200}}' },
      { event: 3, text: '+41 ms provider note charge 1200 eur → {"charge":"ch_1"}' },
      { event: 4, text: '+44 ms provider note charge 1200 eur → {"charge":"ch_2"}' },
      { event: 6, text: '+61 ms client-2 ok POST /payments → {"status":201,"body":"<img src=x onerror=alert(1)>"}' },
    ]);

    // An unknown check with a history is drawn too; one without has nothing to draw.
    expect(model.checks[1]!.timeline?.lanes[0]?.bars[0]).toMatchObject({ outcome: 'info', start: 0, end: 1_000, detail: 'timed out after 1 s' });
    expect(model.checks[1]!.hint).toBeUndefined();
    expect(model.checks[2]!.timeline).toBeUndefined();

    // It goes to the webview by postMessage: JSON must carry all of it.
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });

  it('a report whose grading could not start: the problem with clickable locations, no checks', () => {
    const r = report([], {
      backend: 'embedded',
      durationMs: 850,
      problem: {
        kind: 'compile',
        message: 'TypeScript found 2 errors in your code.',
        diagnostics: [
          { file: 'src/payments.ts', line: 42, column: 7, message: "Type 'string' is not assignable to type 'number'." },
          { file: 'src/keys.ts', line: 8, column: 15, message: "Cannot find name 'pool'." },
        ],
        output: ['> tsc --noEmit'],
      },
    });
    const model = buildReportModel(r, 'Idempotency keys');
    expect(model.header).toMatchObject({ passed: false, backendLabel: 'embedded PostgreSQL', durationText: '850 ms', summary: 'The grading could not start: your code does not compile.' });
    expect(model.checks).toEqual([]);
    expect(model.problem).toEqual({
      kind: 'compile',
      heading: 'Your code does not compile',
      message: 'TypeScript found 2 errors in your code.',
      diagnostics: [
        { file: 'src/payments.ts', line: 42, column: 7, message: "Type 'string' is not assignable to type 'number'.", location: 'src/payments.ts:42:7' },
        { file: 'src/keys.ts', line: 8, column: 15, message: "Cannot find name 'pool'.", location: 'src/keys.ts:8:15' },
      ],
      output: ['> tsc --noEmit'],
      advice: 'Fix the errors below, then grade again.',
    });
    const contract = buildReportModel(report([], { problem: { kind: 'contract', message: 'createPayment is not exported.', diagnostics: [] } }), 'X');
    expect(contract.problem).toMatchObject({ heading: "Your code's exports do not match the lab", diagnostics: [], output: [] });
  });

  it('turns any value into text: strings as they are, the rest as JSON, long ones cut, cycles and bigints without throwing', () => {
    expect(valueText('plain')).toBe('plain');
    expect(valueText({ a: [1, null] })).toBe('{"a":[1,null]}');
    expect(valueText(12n)).toBe('12n');
    expect(valueText({ n: 12n })).toBe('{"n":"12n"}');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(valueText(cyclic)).toBe('[object Object]');
    expect(valueText('x'.repeat(50), 10)).toBe(`${'x'.repeat(10)}…`);
    expect(eventText(e(3.6, 'c', 'fail', 'charge', undefined, '409 conflict'))).toBe('+4 ms c fail charge (409 conflict)');
  });
});

describe('the report webview files', () => {
  const script = path.join(ROOT, 'media', 'report', 'report.js');
  const style = path.join(ROOT, 'media', 'report', 'report.css');
  const panel = path.join(ROOT, 'src', 'grading', 'reportPanel.ts');

  it('report.js and report.css exist', () => {
    expect(fs.statSync(script).size).toBeGreaterThan(0);
    expect(fs.statSync(style).size).toBeGreaterThan(0);
  });

  it('report.js never parses markup or code from strings, nor sets inline styles', () => {
    const source = fs.readFileSync(script, 'utf8');
    for (const forbidden of [/\binnerHTML\b/, /\bouterHTML\b/, /\binsertAdjacentHTML\b/, /\beval\s*\(/, /\bnew\s+Function\b/, /document\.write/, /\.style\./, /setAttribute\(\s*['"]style['"]/]) {
      expect(source, `report.js matches ${forbidden}`).not.toMatch(forbidden);
    }
    // Text goes in as text; SVG is built with createElementNS.
    expect(source).toMatch(/\.textContent\s*=/);
    expect(source).toMatch(/createElementNS\(/);
  });

  it("the panel's CSP allows no inline script or style, and only a nonce'd script", () => {
    const source = fs.readFileSync(panel, 'utf8');
    const csp = /`(default-src[^`]*)`/.exec(source)?.[1];
    expect(csp, 'reportPanel.ts builds its CSP in a template string starting with default-src').toBeDefined();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'nonce-${nonce}'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(source).not.toContain('unsafe-inline');
    // The page has no inline handlers or style attributes either.
    expect(source).not.toMatch(/\son[a-z]+=|\sstyle=/);
  });
});
