/** The grade report as text (`data-labs grade` without --json): checks, then demonstrations, then the score. */
import { describe, expect, it } from 'vitest';
import { formatDemonstration, formatReport } from '../../src/core/grading/format';
import { type CheckResult, type GradeReport, allPassed, gradeReportSchema, score } from '../../src/core/grading/report';

const check = (id: string, status: CheckResult['status'], extra: Partial<CheckResult> = {}): CheckResult => ({
  id,
  title: `Check ${id}`,
  status,
  expected: `${id} holds.`,
  actual: status === 'pass' ? 'It held.' : `${id} broke.`,
  seed: 1,
  durationMs: 12,
  history: [],
  ...extra,
});

function report(checks: CheckResult[], extra: Partial<GradeReport> = {}): GradeReport {
  const r: GradeReport = { version: 1, labId: 'quorum', backend: 'docker', seed: 42, startedAt: '2025-06-01T10:00:00.000Z', durationMs: 3_210, passed: allPassed(checks), score: score(checks), checks, ...extra };
  gradeReportSchema.parse(JSON.parse(JSON.stringify(r)));
  return r;
}

const OPTIONS = { labDirShown: 'lab', replayCommand: 'data-labs grade quorum lab' };

describe('formatReport', () => {
  const demos = [
    check('eventual', 'pass', { title: 'With R = W = 1 a read can miss a write', actual: 'client-2 read 1 after the put of 2 completed.' }),
    check('partition', 'unknown', { title: 'A partitioned replica', actual: 'Not run on in-process replicas: it needs Docker.\nGrade with Docker to see it.' }),
  ];

  it('lists the demonstrations after the checks, never in the score, and names the engine', () => {
    const text = formatReport(report([check('a', 'pass'), check('b', 'fail', { hint: 'Use a quorum.' })], { engine: 'Redis replicas in Docker', demonstrations: demos }), OPTIONS);
    expect(text).toBe(
      [
        'PASS    Check a  (a, 12 ms)',
        'FAIL    Check b  (b, 12 ms)',
        '        expected: b holds.',
        '        actual:   b broke.',
        '        hint:     Use a quorum.',
        'Demonstration (not graded): With R = W = 1 a read can miss a write: client-2 read 1 after the put of 2 completed.',
        'Demonstration (not graded): A partitioned replica: Not run on in-process replicas: it needs Docker.',
        '        Grade with Docker to see it.',
        '',
        '1/2 checks passed, 1 failed in 3.2 s on Redis replicas in Docker.',
        'Replay the same schedule: data-labs grade quorum lab --seed 42 --check b',
        '',
      ].join('\n'),
    );
  });

  it('prints the demonstrations even when the checks were printed as they ran (demonstrations are not)', () => {
    const text = formatReport(report([check('a', 'pass')], { demonstrations: demos.slice(0, 1) }), { ...OPTIONS, checksPrinted: true });
    expect(text).toBe(
      [
        'Demonstration (not graded): With R = W = 1 a read can miss a write: client-2 read 1 after the put of 2 completed.',
        '',
        '1/1 checks passed in 3.2 s on PostgreSQL in Docker.',
        'Every check passed.',
        '',
      ].join('\n'),
    );
    expect(formatDemonstration(demos[0]!)).toBe('Demonstration (not graded): With R = W = 1 a read can miss a write: client-2 read 1 after the put of 2 completed.');
  });

  it('a check Docker must decide says how to decide it, under what it checks and why it was not run', () => {
    const text = formatReport(report([check('races', 'unknown', { actual: 'Not run on the embedded engine: it needs concurrency.', needsDocker: true })], { backend: 'embedded' }), OPTIONS);
    expect(text.split('\n').slice(0, 4)).toEqual([
      'UNKNOWN Check races  (races, 12 ms)',
      '        expected: races holds.',
      '        actual:   Not run on the embedded engine: it needs concurrency.',
      '        decide:   grade again with Docker running (--backend docker): this check runs only on real servers.',
    ]);
    expect(formatReport(report([check('slow', 'unknown')]), OPTIONS)).not.toContain('decide:');
  });

  it('a report without demonstrations reads as before', () => {
    expect(formatReport(report([check('a', 'pass')], { backend: 'embedded' }), OPTIONS)).toBe('PASS    Check a  (a, 12 ms)\n\n1/1 checks passed in 3.2 s on the embedded PostgreSQL.\nEvery check passed.\n');
  });
});
