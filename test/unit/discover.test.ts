import { describe, expect, it } from 'vitest';
import { type DiscoveredTest, discoverTests } from '../../src/core/testing/discover';

/** A compact view of the tree: `suite name@line { ... }` / `test name@line`. */
type Shape = [kind: 'suite' | 'test', name: string, line: number, children?: Shape[]];

function shape(nodes: readonly DiscoveredTest[]): Shape[] {
  return nodes.map((n) => (n.children.length > 0 ? [n.kind, n.name, n.line, shape(n.children)] : [n.kind, n.name, n.line]));
}

function found(source: string): Shape[] {
  return shape(discoverTests(source));
}

describe('discoverTests', () => {
  it('finds nested describe / it / test with 0-based lines', () => {
    const source = [
      "import { describe, expect, it, test } from 'vitest';", // 0
      '', // 1
      "describe('orders', () => {", // 2
      "  it('are saved', () => {", // 3
      '    expect(1).toBe(1);', // 4
      '  });', // 5
      '', // 6
      "  describe('with items', () => {", // 7
      "    test('keep their price', async () => {});", // 8
      '  });', // 9
      "  it('come last', () => {});", // 10
      '});', // 11
      "test('top level', () => {});", // 12
    ].join('\n');
    expect(found(source)).toEqual([
      ['suite', 'orders', 2, [
        ['test', 'are saved', 3],
        ['suite', 'with items', 7, [['test', 'keep their price', 8]]],
        ['test', 'come last', 10],
      ]],
      ['test', 'top level', 12],
    ]);
  });

  it('returns plain objects with empty children for tests', () => {
    expect(discoverTests("it('x', () => {});")).toEqual([{ kind: 'test', name: 'x', line: 0, children: [] }]);
    expect(discoverTests('')).toEqual([]);
  });

  it('reads names in single quotes, double quotes and plain template literals, with escapes', () => {
    const source = [
      "it('single', () => {});",
      'it("double", () => {});',
      'it(`template`, () => {});',
      "it('it\\'s escaped', () => {});",
      'it("say \\"hi\\"", () => {});',
      "it('tab\\there', () => {});",
    ].join('\n');
    expect(found(source).map(([, name]) => name)).toEqual(['single', 'double', 'template', "it's escaped", 'say "hi"', 'tab\there']);
  });

  it('skips names built with ${} but keeps counting lines and nesting after them', () => {
    const source = [
      'describe(`orders for ${customer}`, () => {', // 0
      "  it('inside', () => {});", // 1
      '});', // 2
      "it(`id ${1 + 2} and ${'nested' + `${'deeper'}`}`, () => {});", // 3
      "it('after', () => {});", // 4
    ].join('\n');
    const result = found(source);
    expect(result.map(([, name]) => name)).not.toContain('orders for ${customer}');
    expect(result.at(-1)).toEqual(['test', 'after', 4]);
    expect(JSON.stringify(result)).not.toContain('id ');
  });

  it('ignores it( and describe( inside comments and strings', () => {
    const source = [
      "// it('line comment', () => {});", // 0
      '/* describe(\'block comment\', () => {', // 1
      "   it('still a comment', () => {}); */", // 2
      'const a = "it(\'in a string\')";', // 3
      "const b = 'describe(\"also a string\")';", // 4
      'const c = `test(\'in a template\')`;', // 5
      "it('real', () => {}); // it('trailing')", // 6
    ].join('\n');
    expect(found(source)).toEqual([['test', 'real', 6]]);
  });

  it('counts lines inside multi-line comments, strings and templates', () => {
    const source = [
      '/*', // 0
      ' * a long comment', // 1
      ' */', // 2
      'const t = `line', // 3
      'line', // 4
      '${`x', // 5
      '`}`;', // 6
      "const s = 'a\\", // 7: an escaped newline inside a string
      "b';", // 8
      "it('after them', () => {});", // 9
    ].join('\n');
    expect(found(source)).toEqual([['test', 'after them', 9]]);
  });

  it('accepts modifiers: skip, only, todo, concurrent, sequential, fails, chained', () => {
    const source = [
      "describe.skip('skipped suite', () => {", // 0
      "  it.only('only', () => {});", // 1
      "  test.concurrent.only('chained', async () => {});", // 2
      '});', // 3
      "describe.sequential('seq', () => {", // 4
      "  it.todo('later');", // 5
      "  it.fails('known bad', () => {});", // 6
      '});', // 7
      "suite('a suite', () => { test.skip('x', () => {}); });", // 8
    ].join('\n');
    expect(found(source)).toEqual([
      ['suite', 'skipped suite', 0, [['test', 'only', 1], ['test', 'chained', 2]]],
      ['suite', 'seq', 4, [['test', 'later', 5], ['test', 'known bad', 6]]],
      ['suite', 'a suite', 8, [['test', 'x', 8]]],
    ]);
  });

  it('reads describe.skipIf(cond)(name) and it.runIf(cond)(name), conditions spanning lines', () => {
    const source = [
      "describe.skipIf(process.platform === 'win32')('posix only', () => {", // 0
      '  it.runIf(', // 1
      '    hasDocker(),', // 2
      "  )('with docker', () => {});", // 3
      '});', // 4
      "it('after', () => {});", // 5
    ].join('\n');
    expect(found(source)).toEqual([
      ['suite', 'posix only', 0, [['test', 'with docker', 1]]],
      ['test', 'after', 5],
    ]);
  });

  it('leaves .each tables to the runner without losing the tests around them', () => {
    const source = [
      "describe('math', () => {", // 0
      '  it.each([', // 1
      '    [1, 1, 2],', // 2
      "    [2, 2, 4],", // 3
      "  ])('adds %i + %i', (a, b, sum) => {", // 4
      '    expect(a + b).toBe(sum);', // 5
      '  });', // 6
      "  test.each`a | b`('table', () => {});", // 7
      "  it('plain', () => {});", // 8
      '});', // 9
      "it('top', () => {});", // 10
    ].join('\n');
    expect(found(source)).toEqual([
      ['suite', 'math', 0, [['test', 'plain', 8]]],
      ['test', 'top', 10],
    ]);
  });

  it('ignores methods called it or describe on other objects, and unknown modifiers', () => {
    const source = [
      "foo.it('not vitest', () => {});",
      "chai.describe('not vitest', () => {});",
      "it.extend({}).only('unknown chain', () => {});",
      "split('x'); exit(1); items('y'); describer('z');",
      "it('real', () => {});",
    ].join('\n');
    expect(found(source)).toEqual([['test', 'real', 4]]);
  });

  it('accepts function expressions, whitespace and comments before the name', () => {
    const source = [
      'describe (', // 0
      "  /* why */ 'spaced',", // 1
      '  function () {', // 2
      "    it( // a comment\n      'inner', async function () {});", // 3-4
      '  },', // 5
      ');', // 6
    ].join('\n');
    expect(found(source)).toEqual([['suite', 'spaced', 0, [['test', 'inner', 3]]]]);
  });

  it('ignores calls whose name is not a literal but keeps their nested tests in place', () => {
    const source = [
      "const name = 'dynamic';",
      'describe(name, () => {',
      "  it('inside', () => {});",
      '});',
      "describe('static', () => {",
      "  it('x', () => {});",
      '});',
    ].join('\n');
    const result = found(source);
    expect(result.map(([kind, name]) => `${kind}:${name}`)).not.toContain('suite:name');
    expect(result.at(-1)).toEqual(['suite', 'static', 4, [['test', 'x', 5]]]);
  });

  it('survives unbalanced or truncated source (a file mid-edit)', () => {
    expect(found("describe('open', () => {\n  it('half', () => {")).toEqual([['suite', 'open', 0, [['test', 'half', 1]]]]);
    expect(found("it('unterminated")).toEqual([['test', 'unterminated', 0]]);
    expect(found('}); it(\'x\', () => {})')).toEqual([['test', 'x', 0]]);
  });

  // Regression test (fixed): regex literals are not skipped. A "//" inside one starts a comment
  // that swallows the rest of the line (closing parentheses included), so later tests
  // get nested in the wrong suite; a lone quote inside one starts a string.
  it('keeps nesting right after a regex literal containing //', () => {
    const source = [
      "describe('urls', () => {",
      "  it('is a postgres url', () => { expect(url).toMatch(/^postgres:\\/\\//); });",
      '});',
      "it('top', () => {});",
    ].join('\n');
    expect(found(source)).toEqual([
      ['suite', 'urls', 0, [['test', 'is a postgres url', 1]]],
      ['test', 'top', 3],
    ]);
  });

  it('finds a test after a regex literal containing a quote', () => {
    expect(found("const apostrophe = /'/;\nit('after', () => {});")).toEqual([['test', 'after', 1]]);
  });
});
