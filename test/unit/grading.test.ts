/**
 * The grading engine's core: seeded randomness that replays, verdicts where unknown is
 * never a pass, scenarios that cannot run on an engine said so, budgets that end a hung
 * scenario as unknown, and the documented report shape.
 */
import { describe, expect, it } from 'vitest';
import { Rng, seededRandom } from '../../src/core/random';
import { EMBEDDED_CANNOT, GradingCancelledError, HistoryRecorder, type Scenario, runScenarios } from '../../src/core/grading/engine';
import type { PlainEvent, ValueEvent } from '../../src/core/grading/history';
import { type CheckResult, allPassed, gradeReportSchema, score } from '../../src/core/grading/report';

describe('seeded randomness', () => {
  it('gives the same numbers for the same seed, and others for another', () => {
    const draw = (seed: number): unknown[] => {
      const rng = new Rng(seed);
      return [rng.int(1, 6), rng.int(1, 6), rng.float(), rng.chance(0.5), rng.pick(['a', 'b', 'c']), rng.shuffle([1, 2, 3, 4, 5])];
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(seededRandom(7)()).toBe(seededRandom(7)());
  });

  it('keeps whole numbers inside their bounds and refuses impossible ones', () => {
    const rng = new Rng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const n = rng.int(3, 7);
      expect(Number.isInteger(n) && n >= 3 && n <= 7).toBe(true);
      seen.add(n);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
    expect(() => rng.int(5, 4)).toThrow(RangeError);
    expect(() => rng.pick([])).toThrow(RangeError);
  });

  it('forks independent streams: what one part draws never shifts another', () => {
    const a = new Rng(9);
    const b = new Rng(9);
    a.fork('noisy').float();
    for (let i = 0; i < 100; i++) a.fork('noisy').float();
    expect(a.fork('quiet').float()).toBe(b.fork('quiet').float());
    expect(a.fork('quiet').seed).not.toBe(a.fork('other').seed);
    expect(new Rng(9).fork('quiet').seed).not.toBe(new Rng(10).fork('quiet').seed);
  });
});

/** A scenario whose history is a few seeded draws, judged by whether they include a six. */
type DiceEvent = PlainEvent<'invoke', 'roll'> | ValueEvent<'ok', 'roll', number>;

function diceScenario(id: string, options: Partial<Scenario<DiceEvent>> = {}): Scenario<DiceEvent> {
  return {
    id,
    title: `${id} never rolls a six`,
    expected: 'no six',
    async run({ rng, history }) {
      for (let i = 0; i < 5; i++) {
        history.record({ process: 'player', type: 'invoke', op: 'roll' });
        await Promise.resolve();
        history.record({ process: 'player', type: 'ok', op: 'roll', value: rng.int(1, 6) });
      }
    },
    check(events: readonly DiceEvent[]) {
      const sixes = events.flatMap((e, i) => (e.type === 'ok' && e.value === 6 ? [i] : []));
      return sixes.length === 0 ? { status: 'pass', actual: 'no six in 5 rolls' } : { status: 'fail', actual: `${sixes.length} six(es)`, hint: 'roll lower', culprits: sixes };
    },
    ...options,
  };
}

describe('runScenarios', () => {
  it('replays: the same seed gives the same histories and verdicts; the seed is in the report', async () => {
    const scenarios = [diceScenario('a'), diceScenario('b'), diceScenario('c')];
    const values = (r: Awaited<ReturnType<typeof runScenarios>>): unknown[] => r.checks.map((c) => [c.status, c.seed, c.history.map((e) => [e.type, e.value])]);
    const first = await runScenarios(scenarios, { labId: 'dice', backend: 'docker', seed: 5 });
    const again = await runScenarios(scenarios, { labId: 'dice', backend: 'docker', seed: 5 });
    expect(values(again)).toEqual(values(first));
    expect(first.seed).toBe(5);
    // Across seeds, the dice show both verdicts (the check really can fail and pass).
    const statuses = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      for (const c of (await runScenarios(scenarios, { labId: 'dice', backend: 'docker', seed })).checks) statuses.add(c.status);
    }
    expect([...statuses].sort()).toEqual(['fail', 'pass']);
  });

  it('a scenario\'s seed depends on its id, not on the scenarios before it', async () => {
    const alone = await runScenarios([diceScenario('b')], { labId: 'dice', backend: 'docker', seed: 11 });
    const after = await runScenarios([diceScenario('a'), diceScenario('b')], { labId: 'dice', backend: 'docker', seed: 11 });
    expect(after.checks[1]?.seed).toBe(alone.checks[0]?.seed);
    expect(after.checks[1]?.history.map((e) => e.value)).toEqual(alone.checks[0]?.history.map((e) => e.value));
  });

  it('on the embedded engine, a scenario that needs concurrency or container faults is unknown, saying Docker decides it', async () => {
    const report = await runScenarios(
      [diceScenario('races', { needs: ['concurrency'] }), diceScenario('pause', { needs: ['container-faults'] }), diceScenario('plain')],
      { labId: 'dice', backend: 'embedded', seed: 1 },
    );
    const [races, pause] = report.checks;
    expect(races).toMatchObject({ status: 'unknown', history: [] });
    expect(races?.actual).toContain(EMBEDDED_CANNOT.concurrency);
    expect(races?.needsDocker).toBe(true);
    expect(pause?.actual).toContain(EMBEDDED_CANNOT['container-faults']);
    expect(report.passed).toBe(false);
    // The same scenarios run on Docker.
    const docker = await runScenarios([diceScenario('races', { needs: ['concurrency'] })], { labId: 'dice', backend: 'docker', seed: 1 });
    expect(docker.checks[0]?.history.length).toBe(10);
  });

  it('a scenario over its budget, one whose harness throws, and a checker that throws are unknown, never a pass', async () => {
    // The scenario over its budget takes a while to stop once told to; the next one starts only after.
    let stopped = 0;
    let nextStarted = 0;
    const report = await runScenarios(
      [
        diceScenario('hangs', { budgetMs: 100, run: ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => setTimeout(() => resolve(void (stopped = performance.now())), 300))) }),
        diceScenario('breaks', {
          run: () => {
            nextStarted = performance.now();
            return Promise.reject(new Error('the harness lost its database'));
          },
        }),
        diceScenario('undecided', { check: () => { throw new Error('search budget exhausted'); } }),
      ],
      { labId: 'dice', backend: 'docker', seed: 3 },
    );
    expect(report.checks.map((c) => c.status)).toEqual(['unknown', 'unknown', 'unknown']);
    expect(report.checks[0]?.actual).toBe('The scenario did not finish within 0 s, so it could not be decided.');
    expect(report.checks[1]?.actual).toBe('The grader could not finish this scenario: the harness lost its database');
    expect(report.checks[2]?.actual).toBe('The checker could not decide: search budget exhausted');
    expect(report.passed).toBe(false);
    expect(report.score).toEqual({ passed: 0, failed: 0, unknown: 3, total: 3 });
    expect(stopped).toBeGreaterThan(0);
    expect(nextStarted).toBeGreaterThanOrEqual(stopped);
  });

  it('refuses two scenarios with one id', async () => {
    await expect(runScenarios([diceScenario('x'), diceScenario('x')], { labId: 'dice', backend: 'docker', seed: 1 })).rejects.toThrow('Two scenarios share the id "x".');
  });

  it('teaching scenarios become demonstrations: run with their own seed, never graded, not reported as checks', async () => {
    const seen: string[] = [];
    const demo = diceScenario('demo', { teaching: true, check: () => ({ status: 'pass', actual: 'rolled' }) });
    const stuck = diceScenario('stuck-demo', { teaching: true, budgetMs: 50, run: ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) });
    const report = await runScenarios([diceScenario('a'), demo, stuck, diceScenario('b')], { labId: 'dice', backend: 'docker', seed: 6, onCheck: (c) => seen.push(c.id), engine: 'dice in a cup' });
    expect(report.checks.map((c) => c.id)).toEqual(['a', 'b']);
    expect(seen).toEqual(['a', 'b']);
    expect(report.score.total).toBe(2);
    expect(report.passed).toBe(allPassed(report.checks));
    expect(report.engine).toBe('dice in a cup');
    expect(report.demonstrations?.map((d) => [d.id, d.status])).toEqual([
      ['demo', 'pass'],
      ['stuck-demo', 'unknown'],
    ]);
    // The same budget rule: over it, the demonstration could not show anything, and says why.
    expect(report.demonstrations?.[1]?.actual).toBe('The scenario did not finish within 0 s, so it could not be decided.');
    // Its seed comes from the run's seed and its id, as a check's does, and replays its history.
    const asCheck = await runScenarios([diceScenario('demo')], { labId: 'dice', backend: 'docker', seed: 6 });
    expect(report.demonstrations?.[0]?.seed).toBe(asCheck.checks[0]?.seed);
    expect(report.demonstrations?.[0]?.history.map((e) => e.value)).toEqual(asCheck.checks[0]?.history.map((e) => e.value));
    expect(gradeReportSchema.safeParse(JSON.parse(JSON.stringify(report))).success).toBe(true);
  });

  it('whatever the demonstrations show, only the checks decide the verdict; a run of demonstrations alone does not pass', async () => {
    const shown = diceScenario('demo', { teaching: true, check: () => ({ status: 'pass', actual: 'x' }) });
    const passing = diceScenario('p', { check: () => ({ status: 'pass', actual: 'x' }) });
    const withDemo = await runScenarios([passing, { ...shown, check: () => ({ status: 'unknown', actual: 'could not' }) }], { labId: 'dice', backend: 'docker', seed: 1 });
    expect([withDemo.passed, withDemo.score]).toEqual([true, { passed: 1, failed: 0, unknown: 0, total: 1 }]);
    const alone = await runScenarios([shown], { labId: 'dice', backend: 'docker', seed: 1 });
    expect(alone.checks).toEqual([]);
    expect(alone.demonstrations).toHaveLength(1);
    expect([alone.passed, alone.score.total]).toEqual([false, 0]);
    expect(gradeReportSchema.safeParse(JSON.parse(JSON.stringify(alone))).success).toBe(true);
    // Without teaching scenarios (or an engine), the report has neither field.
    const plain = await runScenarios([passing], { labId: 'dice', backend: 'docker', seed: 1 });
    expect('demonstrations' in plain || 'engine' in plain).toBe(false);
    // A teaching scenario shares the ids' namespace with the checks.
    await expect(runScenarios([passing, { ...shown, id: 'p' }], { labId: 'dice', backend: 'docker', seed: 1 })).rejects.toThrow('Two scenarios share the id "p".');
  });

  it('reports each check as it is decided', async () => {
    const seen: string[] = [];
    await runScenarios([diceScenario('a'), diceScenario('b')], { labId: 'dice', backend: 'docker', seed: 2, onCheck: (c) => seen.push(c.id) });
    expect(seen).toEqual(['a', 'b']);
  });
});

describe('the history recorder', () => {
  it('records events of the vocabulary in order, timed by its clock from its start', () => {
    let now = 1000;
    const h = new HistoryRecorder<ValueEvent<'invoke', 'charge', { amount: number }> | ValueEvent<'ok', 'charge', string> | PlainEvent<'fail', 'charge'>>(() => now);
    now += 5;
    expect(h.record({ process: 'c1', type: 'invoke', op: 'charge', value: { amount: 5 } })).toBe(0);
    now += 2.25;
    h.record({ process: 'c1', type: 'ok', op: 'charge', value: 'ch_1' });
    h.record({ process: 'c2', type: 'fail', op: 'charge', detail: 'card declined' });
    expect(h.events.map((e) => [e.at, e.process, e.type, e.op, e.value ?? e.detail])).toEqual([
      [5, 'c1', 'invoke', 'charge', { amount: 5 }],
      [7.3, 'c1', 'ok', 'charge', 'ch_1'],
      [7.3, 'c2', 'fail', 'charge', 'card declined'],
    ]);
  });
});

describe("a run's time limit and what the learner's process shows", () => {
  /** A scenario that runs until told to stop. */
  const hangs = (id: string, budgetMs = 30_000): Scenario<DiceEvent> =>
    diceScenario(id, { budgetMs, run: ({ signal }) => new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve())) });

  it('cuts the scenario under way short when the run\'s time runs out, runs none after it, and says so for each', async () => {
    const ran: string[] = [];
    const t0 = performance.now();
    const report = await runScenarios([diceScenario('quick', { run: async () => void ran.push('quick') }), hangs('long'), diceScenario('later', { run: async () => void ran.push('later') })], {
      labId: 'dice',
      backend: 'docker',
      seed: 1,
      timeLimitMs: 2_000,
    });
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(ran).toEqual(['quick']);
    expect(report.checks.map((c) => c.status)).toEqual(['pass', 'unknown', 'unknown']);
    expect(report.checks[1]?.actual).toBe("The grade's time limit (2 s) ran out while this scenario ran, so it could not be decided.");
    expect(report.checks[2]?.actual).toBe("Not run: the grade's time limit (2 s) ran out before this check's turn.");
    expect(report.passed).toBe(false);
  });

  it('a scenario that did not finish while the learner showed why fails with that, blaming an event added to its history; conclusive, it ends at once; the learner is stopped and resumed', async () => {
    const calls: string[] = [];
    let conclusive = false;
    const shown = { actual: 'The code held a transaction across a service call: …', hint: 'Commit first.', event: { op: 'held a transaction across a service call', detail: 'POST /x' } };
    const learner = {
      diagnose: (since: number) => (since > 0 ? { ...shown, conclusive } : undefined),
      interrupt: (reason: string) => void calls.push(`interrupt: ${reason}`),
      resume: () => void calls.push('resume'),
    };
    const overBudget = await runScenarios([hangs('stuck', 200)], { labId: 'dice', backend: 'embedded', seed: 1, learner });
    const check = overBudget.checks[0];
    expect(check).toMatchObject({ status: 'fail', actual: shown.actual, hint: shown.hint });
    expect(check?.history[check.culprits?.[0] ?? -1]).toMatchObject({ process: 'grader', type: 'note', op: 'held a transaction across a service call', detail: 'POST /x' });
    expect(calls).toEqual(['interrupt: The grader stopped this scenario: it did not finish in time.', 'resume']);

    conclusive = true;
    const t0 = performance.now();
    const early = await runScenarios([hangs('stuck', 60_000)], { labId: 'dice', backend: 'embedded', seed: 1, learner });
    expect(early.checks[0]?.status).toBe('fail');
    expect(performance.now() - t0).toBeLessThan(10_000);

    // Nothing shown: unknown as before, and a scenario that finishes is judged by its checker alone.
    const nothing = { ...learner, diagnose: () => undefined };
    expect((await runScenarios([hangs('stuck', 100), diceScenario('fine')], { labId: 'dice', backend: 'docker', seed: 1, learner: nothing })).checks.map((c) => c.status)).toEqual(['unknown', expect.any(String)]);
  });
});

describe('cancelling a run', () => {
  it('stops the scenario under way, starts no other, and rejects with GradingCancelledError', async () => {
    const cancel = new AbortController();
    const ran: string[] = [];
    let stoppedBySignal = false;
    const waiting = diceScenario('waits', {
      run: ({ signal }) =>
        new Promise<void>((resolve) => {
          ran.push('waits');
          cancel.abort();
          signal.addEventListener('abort', () => {
            stoppedBySignal = true;
            resolve();
          });
        }),
    });
    const after = diceScenario('after', { run: async () => void ran.push('after') });
    await expect(runScenarios([diceScenario('first'), waiting, after], { labId: 'dice', backend: 'docker', seed: 1, signal: cancel.signal })).rejects.toBeInstanceOf(GradingCancelledError);
    expect(ran).toEqual(['waits']);
    expect(stoppedBySignal).toBe(true);
  });

  it('with the signal aborted before it starts, runs nothing', async () => {
    const ran: string[] = [];
    await expect(runScenarios([diceScenario('a', { run: async () => void ran.push('a') })], { labId: 'dice', backend: 'docker', seed: 1, signal: AbortSignal.abort() })).rejects.toBeInstanceOf(GradingCancelledError);
    expect(ran).toEqual([]);
  });
});

describe('the report format', () => {
  it('is what runScenarios produces, and the schema refuses a report whose verdict or score lies', async () => {
    const report = await runScenarios([diceScenario('a'), diceScenario('b')], { labId: 'dice', backend: 'docker', seed: 4 });
    expect(gradeReportSchema.safeParse(JSON.parse(JSON.stringify(report))).success).toBe(true);
    const failing: CheckResult = { ...report.checks[0]!, status: 'fail' };
    const lying = { ...report, checks: [failing], passed: true, score: score([failing]) };
    expect(gradeReportSchema.safeParse(lying).success).toBe(false);
    const miscounted = { ...report, score: { passed: 9, failed: 0, unknown: 0, total: 9 } };
    expect(gradeReportSchema.safeParse(miscounted).success).toBe(false);
  });

  it('passes only with at least one check and all of them passed', () => {
    expect(allPassed([])).toBe(false);
    expect(allPassed([{ status: 'pass' }, { status: 'unknown' }])).toBe(false);
    expect(allPassed([{ status: 'pass' }, { status: 'pass' }])).toBe(true);
  });
});
