import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allPassed, gradeReportSchema, score, type CheckResult, type GradeReport, type HistoryEvent } from '../../src/core/grading/report';
import { TO_DECIDE_WITH_DOCKER, buildReportModel, eventText, focusedEvents, valueText } from '../../src/core/grading/reportModel';

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
    expect(model.checks[0]).toEqual({ id: 'a', title: 'Check a', status: 'pass', expected: 'a holds.', actual: 'It held in every run.', seed: 1, durationMs: 101, expanded: false, timelines: [], culprits: [] });
    expect(model.demonstrations).toEqual([]);
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
    // No focus: one timeline, of the whole history.
    expect(race.timelines).toHaveLength(1);
    const t = race.timeline!;
    expect(race.timelines[0]).toBe(t);
    expect(t.focus).toBeUndefined();
    expect([t.start, t.end]).toEqual([0, 90]);
    expect(t.lanes.map((l) => l.process)).toEqual(['client-1', 'client-2', 'client-3']);
    // client-2's request (events 1 and 6) is blamed; client-1's (0 and 5) is not.
    expect(t.lanes[0]!.bars).toEqual([
      { op: OP, label: OP, start: 0, end: 58, outcome: 'ok', input: "{user: 'u1', key: 'k', body: {amount: 1200}}", output: `{status: 201, body: '{"charge":"ch_1"}'}`, highlighted: false, events: [0, 5] },
    ]);
    expect(t.lanes[1]!.bars[0]).toMatchObject({ start: 2, end: 61, outcome: 'ok', highlighted: true, output: "{status: 201, body: '<img src=x onerror=alert(1)>'}" });
    // An unknown outcome stays open to the end of the history.
    expect(t.lanes[2]!.bars[0]).toMatchObject({ start: 80, end: 90, outcome: 'info', detail: 'timed out', highlighted: false });
    // Marks carry their value as text; the provider's two charges are blamed, the fault is not.
    expect(t.marks.map((m) => [m.event, m.type, m.highlighted, m.value])).toEqual([
      [2, 'fault', false, undefined],
      [3, 'note', true, "{charge: 'ch_1'}"],
      [4, 'note', true, "{charge: 'ch_2'}"],
      [7, 'heal', false, undefined],
    ]);
    // Culprits in history order, without duplicates or indexes past the end.
    expect(race.culprits).toEqual([
      { event: 1, text: "+2 ms client-2 invoke POST /payments {user: 'u1', key: 'k', body: {amount: 1200}}" },
      { event: 3, text: "+41 ms provider note charge 1200 eur → {charge: 'ch_1'}" },
      { event: 4, text: "+44 ms provider note charge 1200 eur → {charge: 'ch_2'}" },
      { event: 6, text: "+61 ms client-2 ok POST /payments → {status: 201, body: '<img src=x onerror=alert(1)>'}" },
    ]);

    // An unknown check with a history is drawn too; one without has nothing to draw.
    expect(model.checks[1]!.timeline?.lanes[0]?.bars[0]).toMatchObject({ outcome: 'info', start: 0, end: 1_000, detail: 'timed out after 1 s' });
    expect(model.checks[1]!.hint).toBeUndefined();
    expect(model.checks[2]!.timeline).toBeUndefined();
    expect(model.checks[2]!.timelines).toEqual([]);

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
    // A set-up failure's place repeats its message: the message is shown once, the place as a link.
    const message = 'migrate(db) failed, so no check could run: Error: TODO(1): migrate is not written yet';
    const setup = buildReportModel(report([], { problem: { kind: 'setup', message, diagnostics: [{ file: 'src/payments.ts', line: 83, column: 9, message }] } }), 'X');
    expect(setup.problem?.diagnostics).toEqual([{ file: 'src/payments.ts', line: 83, column: 9, message: '', location: 'src/payments.ts:83:9' }]);
  });

  it('a check only Docker decides says how to decide it; other unknown checks and failures do not', () => {
    const unknownCheck = (id: string, extra: Partial<CheckResult>): CheckResult => ({ ...passing(id, 1), status: 'unknown', actual: 'Not run.', ...extra });
    const model = buildReportModel(report([unknownCheck('races', { needsDocker: true }), unknownCheck('late', {}), { ...raceCheck }]), 'X');
    expect(model.checks.map((c) => [c.id, c.toDecide])).toEqual([
      [raceCheck.id, undefined],
      ['races', TO_DECIDE_WITH_DOCKER],
      ['late', undefined],
    ]);
  });

  it('turns any value into text a person reads: strings as they are, the rest as literals, long ones cut, cycles and bigints without throwing', () => {
    expect(valueText('plain')).toBe('plain');
    expect(valueText({ a: [1, null] })).toBe('{a: [1, null]}');
    expect(valueText(12n)).toBe('12n');
    expect(valueText({ n: 12n, 'content-type': 'text', skipped: undefined })).toBe("{n: 12n, 'content-type': 'text'}");
    // A response whose body is JSON text: shown exactly, without a backslash before each quote.
    const body = JSON.stringify({ id: 'pay_1', amount: 500 });
    expect(valueText({ status: 201, body })).toBe(`{status: 201, body: '{"id":"pay_1","amount":500}'}`);
    expect(valueText({ text: "it's\n" })).toBe(String.raw`{text: 'it\'s\n'}`);
    expect(valueText({ at: new Date(0) })).toBe("{at: '1970-01-01T00:00:00.000Z'}");
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(valueText(cyclic)).toBe('[object Object]');
    expect(valueText('x'.repeat(50), 10)).toBe(`${'x'.repeat(10)}…`);
    expect(eventText(e(3.6, 'c', 'fail', 'charge', undefined, '409 conflict'))).toBe('+4 ms c fail charge (409 conflict)');
  });
});

/**
 * A Quorum-like history: two clients put and get keys of a replicated register, while the
 * harness partitions a replica. client-1's get of k2 reads 3, which nobody wrote (the
 * culprit of key k2); client-2's get of k1 reads null after the put of 1 completed (the
 * culprit of key k1); client-1's last put has an unknown outcome.
 */
const PUT = 'put';
const GET = 'get';
const quorumHistory: HistoryEvent[] = [
  e(0, 'client-1', 'invoke', PUT, { key: 'k1', value: 1 }), // 0
  e(1, 'client-2', 'invoke', PUT, { key: 'k2', value: 5 }), // 1
  e(3, 'client-1', 'ok', PUT, { version: 1 }), // 2
  e(4, 'harness', 'fault', 'partition replica-3'), // 3
  e(6, 'client-2', 'ok', PUT, { version: 1 }), // 4
  e(7, 'client-1', 'invoke', GET, { key: 'k2' }), // 5
  e(9, 'client-1', 'ok', GET, { value: 3, version: 0 }), // 6
  e(10, 'client-2', 'invoke', GET, { key: 'k1' }), // 7
  e(12, 'client-2', 'ok', GET, { value: null, version: 0 }), // 8
  e(14, 'harness', 'heal', 'partition replica-3'), // 9
  e(15, 'client-1', 'invoke', PUT, { key: 'k3', value: 7 }), // 10
  e(30, 'client-1', 'info', PUT, undefined, 'timed out after 15 ms'), // 11
  e(31, 'harness', 'note', 'replicas converged'), // 12
];
const K2 = { label: 'key k2', processes: [], events: [1, 4, 5, 6] };
const K1 = { label: 'key k1', processes: [], events: [0, 2, 7, 8] };

describe('focusedEvents', () => {
  it('a focus of events only (processes: []): those events, the culprits, and the marks within their time span', () => {
    // k2's operations span 1..9 ms: the fault at 4 ms is in, the heal at 14 ms and the note at 31 ms are not.
    expect(focusedEvents(quorumHistory, K2, [6])).toEqual([1, 3, 4, 5, 6]);
    // A culprit outside the focus is kept all the same (with the other event of its operation).
    expect(focusedEvents(quorumHistory, K2, [8])).toEqual([1, 3, 4, 5, 6, 7, 8]);
    // No events and no processes: no window, so only the culprits, whole, and every mark.
    expect(focusedEvents(quorumHistory, { label: 'nothing', processes: [] }, [])).toEqual([3, 9, 12]);
  });

  it("keeps an operation whole: a named invocation keeps its completion, a named completion its invocation", () => {
    expect(focusedEvents(quorumHistory, { label: 'the get', processes: [], events: [5] }, [])).toEqual([5, 6]);
    expect(focusedEvents(quorumHistory, { label: 'the get', processes: [], events: [6] }, [])).toEqual([5, 6]);
    // An unknown outcome (info) is the completion of its put; the note at 31 ms is outside 15..30 ms.
    expect(focusedEvents(quorumHistory, { label: 'key k3', processes: [], events: [10] }, [])).toEqual([10, 11]);
    // Indexes past the end are ignored, not a crash.
    expect(focusedEvents(quorumHistory, { label: 'bad', processes: [], events: [99] }, [-1, 1.5, 40])).toEqual([3, 9, 12]);
  });

  it('a focus on processes still keeps all of their events, and context processes only within the window', () => {
    const kept = focusedEvents(quorumHistory, { label: 'client-2', processes: ['client-2'], context: ['client-1'] }, []);
    // client-2 spans 1..12 ms: client-1's operations invoked in it are kept whole (the get,
    // and the put of k1 whose completion is at 3 ms); its put of k3 at 15 ms is not.
    expect(kept).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('register operations, several focuses and demonstrations', () => {
  /** The whole history, no focus. */
  const unfocused: CheckResult = {
    id: 'linearizable-under-faults',
    title: 'Every key stays linearizable',
    status: 'fail',
    expected: 'Every key linearizable.',
    actual: 'Keys k2 and k1 have reads that no order of the operations explains.',
    hint: 'Read from R replicas and take the newest version.',
    // 12 (the note) belongs to no key: it is drawn with the first.
    culprits: [6, 8, 12],
    seed: 9,
    durationMs: 2_000,
    history: quorumHistory,
  };
  const stale: CheckResult = { ...unfocused, focus: K2, moreFocus: [K1] };

  it('draws a register operation as what it did and returned: "put k2=5 → ok", "get k2 → 3", "put k3=7 → ?"', () => {
    const model = buildReportModel(report([unfocused]), 'Quorum');
    const bars = model.checks[0]!.timeline!.lanes.flatMap((l) => l.bars.map((b) => [l.process, b.label, b.shortLabel, b.outcome]));
    expect(bars).toEqual([
      ['client-1', 'put k1=1 → ok', 'put 1 → ok', 'ok'],
      ['client-1', 'get k2 → 3', 'get → 3', 'ok'],
      ['client-1', 'put k3=7 → ?', 'put 7 → ?', 'info'],
      ['client-2', 'put k2=5 → ok', 'put 5 → ok', 'ok'],
      ['client-2', 'get k1 → null', 'get → null', 'ok'],
    ]);
    // The full input and output stay in the details.
    expect(model.checks[0]!.timeline!.lanes[0]!.bars[1]).toMatchObject({ op: GET, input: "{key: 'k2'}", output: '{value: 3, version: 0}', highlighted: true });
    // A failed put, one never completed, and an operation that is not a register's.
    const other = buildReportModel(
      report([
        {
          ...unfocused,
          culprits: [],
          history: [
            e(0, 'c', 'invoke', PUT, { key: 'k', value: { deep: 'x'.repeat(40) } }),
            e(1, 'c', 'fail', PUT, undefined, 'no quorum'),
            e(2, 'c', 'invoke', GET, { key: 'k' }),
            e(3, 'd', 'invoke', 'scan', { from: 'a', to: 'z' }),
            e(4, 'd', 'ok', 'scan', ['a']),
          ],
        },
      ]),
      'Quorum',
    );
    expect(other.checks[0]!.timeline!.lanes.flatMap((l) => l.bars.map((b) => [b.label, b.shortLabel]))).toEqual([
      // A long value is cut at 24 characters.
      [`put k={deep: '${'x'.repeat(16)}… → fail`, `put {deep: '${'x'.repeat(16)}… → fail`],
      // Never completed: no result.
      ['get k', 'get'],
      ['scan', undefined],
    ]);
  });

  it('moreFocus: one timeline per key, each with its label, its hidden count and its own culprits', () => {
    const model = buildReportModel(report([stale]), 'Quorum');
    const check = model.checks[0]!;
    expect(check.timelines.map((t) => t.focus)).toEqual([
      { label: 'key k2', hiddenEvents: 7, totalEvents: 13 },
      { label: 'key k1', hiddenEvents: 8, totalEvents: 13 },
    ]);
    expect(check.timeline).toBe(check.timelines[0]);
    const [k2, k1] = check.timelines;
    // Key k2: both of its operations, the fault meanwhile, and the note no key claims.
    expect(k2!.lanes.map((l) => [l.process, l.bars.map((b) => [b.label, b.highlighted])])).toEqual([
      ['client-2', [['put k2=5 → ok', false]]],
      ['client-1', [['get k2 → 3', true]]],
    ]);
    expect(k2!.marks.map((m) => [m.event, m.type, m.highlighted])).toEqual([
      [3, 'fault', false],
      [12, 'note', true],
    ]);
    // Key k1: its operations and the fault within 0..12 ms; not k2's culprit, nor the note.
    expect(k1!.lanes.map((l) => [l.process, l.bars.map((b) => [b.label, b.highlighted, b.events])])).toEqual([
      ['client-1', [['put k1=1 → ok', false, [0, 2]]]],
      ['client-2', [['get k1 → null', true, [7, 8]]]],
    ]);
    expect(k1!.marks.map((m) => [m.event, m.type, m.highlighted])).toEqual([[3, 'fault', false]]);
    // Every culprit is listed once, whatever timeline draws it.
    expect(check.culprits.map((c) => c.event)).toEqual([6, 8, 12]);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });

  it('demonstrations: after the checks, expanded, drawn though they "pass", never in the score; the engine names the backend', () => {
    const demo: CheckResult = {
      id: 'eventual-reads',
      title: 'With R + W ≤ N, a read can miss the latest write',
      status: 'pass',
      expected: 'A read with R = 1 after a write with W = 1 can return the old value.',
      actual: 'client-1 read 3 after the put of 5 completed.',
      culprits: [6],
      focus: K2,
      seed: 21,
      durationMs: 400,
      history: quorumHistory,
    };
    const couldNot: CheckResult = { ...demo, id: 'partition-demo', title: 'A partition', status: 'unknown', actual: 'Not run: it needs Docker.', history: [] };
    const r = report([passing('a', 1, quorumHistory)], { engine: 'Redis replicas in Docker', labId: 'quorum', demonstrations: [demo, couldNot] });
    const model = buildReportModel(r, 'Quorum reads and writes');
    expect(model.header).toMatchObject({ backend: 'docker', backendLabel: 'Redis replicas in Docker', passed: true, summary: 'Every check passed.', score: { passed: 1, total: 1 } });
    expect(model.checks.map((c) => [c.id, c.expanded, c.timelines.length])).toEqual([['a', false, 0]]);
    expect(model.demonstrations.map((d) => [d.id, d.status, d.expanded, d.timelines.length])).toEqual([
      ['eventual-reads', 'pass', true, 1],
      ['partition-demo', 'unknown', true, 0],
    ]);
    const drawn = model.demonstrations[0]!;
    expect(drawn.timeline?.focus?.label).toBe('key k2');
    expect(drawn.timeline?.lanes.flatMap((l) => l.bars).filter((b) => b.highlighted).map((b) => b.label)).toEqual(['get k2 → 3']);
    expect(drawn.culprits.map((c) => c.text)).toEqual(['+9 ms client-1 ok get → {value: 3, version: 0}']);

    // Only demonstrations: no check ran, so the run does not pass.
    const only = buildReportModel(report([], { demonstrations: [demo] }), 'Quorum');
    expect(only.header).toMatchObject({ passed: false, backendLabel: 'PostgreSQL in Docker', summary: 'No graded check ran; the demonstrations below are not graded.' });
  });
});

describe('gradeReportSchema', () => {
  const base = (): Record<string, unknown> => JSON.parse(JSON.stringify(report([raceCheck]))) as Record<string, unknown>;

  it('reads a report without the optional fields (as reports were before them) and one with all of them', () => {
    const old = base();
    expect(['engine', 'demonstrations'].filter((k) => k in old)).toEqual([]);
    expect(gradeReportSchema.safeParse(old).success).toBe(true);
    const full = {
      ...old,
      engine: 'in-process replicas (no Docker)',
      checks: [{ ...raceCheck, focus: K2, moreFocus: [K1, { label: 'client-3', processes: ['client-3'], context: ['harness'] }] }],
      demonstrations: [{ ...raceCheck, id: 'demo', status: 'pass' }],
    };
    expect(gradeReportSchema.safeParse(JSON.parse(JSON.stringify(full))).success).toBe(true);
  });

  it('grades only the checks: a demonstration that could not be shown does not fail the run, nor count in the score', () => {
    const r = report([passing('a', 1)], { demonstrations: [{ ...undecided, id: 'demo' }] });
    expect(r.passed).toBe(true);
    const counted = { ...r, score: score([...r.checks, ...(r.demonstrations ?? [])]) };
    expect(gradeReportSchema.safeParse(counted).success).toBe(false);
    const notPassed = { ...r, passed: false };
    expect(gradeReportSchema.safeParse(notPassed).success).toBe(false);
  });

  it('refuses malformed new fields', () => {
    const bad = (extra: Record<string, unknown>): boolean => gradeReportSchema.safeParse({ ...base(), ...extra }).success;
    expect(bad({ engine: 3 })).toBe(false);
    expect(bad({ demonstrations: [{ id: 'demo' }] })).toBe(false);
    expect(bad({ checks: [{ ...raceCheck, moreFocus: [{ label: 'key k1' }] }] })).toBe(false);
    expect(bad({ checks: [{ ...raceCheck, moreFocus: [{ ...K1, events: [-1] }] }] })).toBe(false);
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
