import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { goingFurther, stepState, testNeeds, todoMarks, unwrittenTodos } from '../../src/core/labs/steps';
import { REPO_ROOT } from './helpers';

const starter = (lab: string, file: string): string => readFileSync(path.join(REPO_ROOT, 'labs', lab, 'starter', file), 'utf8');

describe("a lab's TODOs as steps", () => {
  it("finds each TODO's first explaining comment in every lab's starter, with a title, and every TODO unwritten", () => {
    for (const [lab, file, count, thrown] of [
      ['relational-vs-document', 'src/shop.ts', 6, [1, 2, 3, 4, 5, 6]],
      // TODO(5), the provider call, is written inside createPayment (whose starter throws TODO(2)).
      ['idempotency-keys', 'src/payments.ts', 6, [1, 2, 3, 4, 6]],
      ['saga', 'src/saga.ts', 6, [1, 3, 4, 5, 6]],
      ['quorum', 'src/quorum.ts', 5, [1, 2, 3, 4, 5]],
    ] as const) {
      const source = starter(lab, file);
      const marks = todoMarks(source);
      expect(marks.map((m) => m.todo), lab).toEqual(Array.from({ length: count }, (_, i) => i + 1));
      for (const mark of marks) {
        expect(mark.title, `${lab} TODO(${mark.todo})`).toMatch(/\w{3}/);
        expect(source.split('\n')[mark.line]).toContain(`TODO(${mark.todo})`);
      }
      expect([...unwrittenTodos(source)].sort(), lab).toEqual(thrown);
    }
    expect(todoMarks(starter('quorum', 'src/quorum.ts'))[0]?.title).toBe('the configuration');
  });

  it('reads what a test needs from its name: TODO(3), TODO(3–6), none', () => {
    expect(testNeeds('TODO(3) a retry gets the stored response')).toBe(3);
    expect(testNeeds('suite TODO(2–6) an order without faults')).toBe(6);
    expect(testNeeds('TODO(2-5) ascii dash')).toBe(5);
    expect(testNeeds('no label')).toBeUndefined();
  });

  it('a step is done once it is written and every test that needs no later TODO passed in its latest run', () => {
    const names = ['TODO(1) schema', 'TODO(2) order', 'TODO(2–3) totals', 'TODO(3) more', 'unlabelled'];
    const latest = new Map([
      ['TODO(1) schema', 'passed'],
      ['TODO(2) order', 'passed'],
      ['TODO(2–3) totals', 'failed'],
    ] as const);
    expect(stepState(3, new Set([3]), names, latest)).toEqual({ total: 3, current: 3, done: 2 });
    // Written, but a test of step 3 failed, and another never ran.
    expect(stepState(3, new Set(), names, latest)).toEqual({ total: 3, current: 3, done: 2 });
    expect(stepState(3, new Set(), names, new Map([...latest, ['TODO(2–3) totals', 'passed'], ['TODO(3) more', 'passed']]))).toEqual({ total: 3, current: undefined, done: 3 });
    // A failing test of step 1 holds everything at step 1, whatever is written after it.
    expect(stepState(3, new Set(), names, new Map([...latest, ['TODO(1) schema', 'failed']]))).toEqual({ total: 3, current: 1, done: 0 });
    // Steps with no test of their own (the saga's, all through TODO(6)) are done once written.
    expect(stepState(6, new Set([4, 5, 6]), ['TODO(2–6) x'], new Map())).toEqual({ total: 6, current: 4, done: 3 });
  });
});

describe('after passing', () => {
  it("every lab's README has its Going further questions, read as sentences", () => {
    const labs = readdirSync(path.join(REPO_ROOT, 'labs'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(labs).toEqual(expect.arrayContaining(['relational-vs-document', 'idempotency-keys', 'saga', 'quorum', 'two-phase-commit']));
    for (const lab of labs) {
      const questions = goingFurther(readFileSync(path.join(REPO_ROOT, 'labs', lab, 'README.md'), 'utf8'));
      expect(questions.length, lab).toBeGreaterThanOrEqual(3);
      for (const q of questions) expect(q, lab).toMatch(/^\S.*[?.)]$/);
    }
    expect(goingFurther('# T\n\n## Going further\n\n1. One?\n2. Two,\n   continued?\n\n## Next\n\n- not this')).toEqual(['One?', 'Two, continued?']);
    expect(goingFurther('# No such section')).toEqual([]);
  });
});
