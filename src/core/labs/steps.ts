/**
 * A lab's TODOs as steps: which ones the learner has written, which ones their visible tests
 * prove done, and the step to work on next. Pure: the editor reads the files and the test
 * results, and shows what this decides (the Curriculum's "TODO 3 of 6", the next-step offer).
 *
 * - A TODO is written once no `throw new Error('TODO(n)…')` of it is left in the lab's source.
 * - A visible test is named after what it needs: `TODO(3) …` passes once TODO(1..3) are done,
 *   `TODO(3–6) …` checks TODO(3) and needs TODO(6) too (labs/README.md).
 * - Step n is done when TODO(1..n) are written and every test that needs no TODO after n
 *   passed in its latest run (a test never run, or failing, keeps its step open).
 */

/** Where a TODO is explained in a file: its first `TODO(n): …` comment. */
export interface TodoMark {
  readonly todo: number;
  /** 0-based. */
  readonly line: number;
  /** The comment's first line, after `TODO(n):`. */
  readonly title: string;
}

/** The TODOs a starter file explains, by number, at their first `// TODO(n): title` comment. */
export function todoMarks(source: string): TodoMark[] {
  const marks = new Map<number, TodoMark>();
  source.split(/\r?\n/).forEach((text, line) => {
    const m = /\/\/\s*(?:─+\s*)?TODO\((\d+)\)(?:\s+and\s+TODO\(\d+\))?:?\s*(.*?)\s*─*\s*$/.exec(text);
    if (m === null) return;
    const todo = Number(m[1]);
    if (!marks.has(todo)) marks.set(todo, { todo, line, title: (m[2] ?? '').trim() });
  });
  return [...marks.values()].sort((a, b) => a.todo - b.todo);
}

/** The TODOs whose `throw new Error('TODO(n)…')` is still in `source`. */
export function unwrittenTodos(source: string): Set<number> {
  return new Set([...source.matchAll(/throw\s+new\s+Error\(\s*['"`]TODO\((\d+)\)/g)].map((m) => Number(m[1])));
}

/** What a visible test needs, from its name: `TODO(3)` → 3, `TODO(3–6)` → 6; undefined without a label. */
export function testNeeds(name: string): number | undefined {
  const numbers = [...name.matchAll(/TODO\((\d+)(?:\s*[-–,]\s*(\d+))?\)/g)].flatMap((m) => [Number(m[1]), ...(m[2] !== undefined ? [Number(m[2])] : [])]);
  return numbers.length > 0 ? Math.max(...numbers) : undefined;
}

export type LatestOutcome = 'passed' | 'failed' | 'errored' | 'skipped';

export interface StepState {
  /** How many TODOs the lab has. */
  readonly total: number;
  /** The first step not done, or undefined when every one is. */
  readonly current: number | undefined;
  /** Steps done, in order (1..current-1). */
  readonly done: number;
}

/**
 * The lab's steps, from the TODOs still unwritten in its source and the latest outcome of
 * each visible test (by name; a test absent from `latest` has not run yet).
 */
export function stepState(total: number, unwritten: ReadonlySet<number>, testNames: readonly string[], latest: ReadonlyMap<string, LatestOutcome>): StepState {
  for (let step = 1; step <= total; step++) {
    const written = !unwritten.has(step);
    const proven = testNames.every((name) => {
      const needs = testNeeds(name);
      return needs === undefined || needs !== step || latest.get(name) === 'passed';
    });
    if (!written || !proven) {
      return { total, current: step, done: step - 1 };
    }
  }
  return { total, current: undefined, done: total };
}

/** The questions of a lab README's "Going further" section, as plain sentences. */
export function goingFurther(readme: string): string[] {
  const lines = readme.split(/\r?\n/);
  const start = lines.findIndex((l) => /^##\s+Going further\s*$/i.test(l));
  if (start < 0) return [];
  const questions: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,2}\s/.test(line)) break;
    const item = /^\s*(?:\d+\.|[-*])\s+(.*)$/.exec(line);
    if (item) questions.push(item[1] ?? '');
    else if (questions.length > 0 && /^\s{2,}\S/.test(line)) questions[questions.length - 1] += ` ${line.trim()}`;
  }
  return questions;
}
