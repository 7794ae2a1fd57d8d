/**
 * Finds the `describe` / `it` / `test` blocks in a Vitest test file without running
 * it, so the Testing view can list a lab's tests before its dependencies are even
 * installed. It reads the source with a small tokenizer (strings, template literals
 * and comments are skipped) rather than a full parser, and only names given as
 * plain string literals are found; running the tests reports any others.
 */

export interface DiscoveredTest {
  readonly kind: 'suite' | 'test';
  readonly name: string;
  /** 0-based line of the call. */
  readonly line: number;
  readonly children: DiscoveredTest[];
}

const SUITE_NAMES = new Set(['describe', 'suite']);
const TEST_NAMES = new Set(['it', 'test']);
const MODIFIERS = new Set(['skip', 'only', 'todo', 'concurrent', 'sequential', 'fails', 'skipIf', 'runIf']);

/** Keywords after which a `/` starts a regex literal. */
const REGEX_KEYWORDS = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await']);

interface Frame {
  readonly node: DiscoveredTest | undefined;
}

export function discoverTests(source: string): DiscoveredTest[] {
  const root: DiscoveredTest[] = [];
  // One frame per open parenthesis; a suite's frame collects the tests inside its call.
  const frames: Frame[] = [];
  let line = 0;
  let i = 0;
  const n = source.length;

  const currentChildren = (): DiscoveredTest[] => {
    for (let f = frames.length - 1; f >= 0; f--) {
      const node = frames[f]?.node;
      if (node) {
        return node.children;
      }
    }
    return root;
  };

  /** Reads a string literal starting at `i` (the quote); returns its value, or undefined for a template with `${`. */
  const readString = (): string | undefined => {
    const quote = source[i];
    let value = '';
    let plain = true;
    i++;
    while (i < n && source[i] !== quote) {
      const c = source[i];
      if (c === '\\') {
        const next = source[i + 1] ?? '';
        value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
        if (next === '\n') {
          line++;
        }
        i += 2;
        continue;
      }
      if (c === '\n') {
        line++;
      }
      if (quote === '`' && c === '$' && source[i + 1] === '{') {
        plain = false;
        i = skipTemplateExpression(i + 2);
        continue;
      }
      value += c;
      i++;
    }
    i++;
    return plain ? value : undefined;
  };

  /** Skips a `${ ... }` inside a template literal, nested braces and strings included. */
  const skipTemplateExpression = (start: number): number => {
    let depth = 1;
    i = start;
    while (i < n && depth > 0) {
      const c = source[i];
      if (c === '\n') {
        line++;
      }
      if (c === '{') {
        depth++;
      } else if (c === '}') {
        depth--;
      } else if (c === '"' || c === "'" || c === '`') {
        readString();
        continue;
      }
      i++;
    }
    return i;
  };

  const skipSpace = (): void => {
    while (i < n) {
      const c = source[i];
      if (c === '\n') {
        line++;
        i++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        i++;
      } else if (c === '/' && source[i + 1] === '/') {
        while (i < n && source[i] !== '\n') i++;
      } else if (c === '/' && source[i + 1] === '*') {
        i += 2;
        while (i < n && !(source[i] === '*' && source[i + 1] === '/')) {
          if (source[i] === '\n') line++;
          i++;
        }
        i += 2;
      } else {
        break;
      }
    }
  };

  /** Skips a regex literal starting at `i` (the opening slash), classes and escapes included. */
  const skipRegex = (): void => {
    let inClass = false;
    i++;
    while (i < n && source[i] !== '\n') {
      const c = source[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '[') {
        inClass = true;
      } else if (c === ']') {
        inClass = false;
      } else if (c === '/' && !inClass) {
        break;
      }
      i++;
    }
    i++;
    while (i < n && /[a-z]/i.test(source[i] as string)) i++;
  };

  // What came before a `/` tells a regex from a division: after a value (a name, a
  // number, a closing bracket, a string) it divides; after an operator it starts a regex.
  let lastSignificant = '';
  let lastWord = '';

  while (i < n) {
    const c = source[i] as string;
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r' || (c === '/' && (source[i + 1] === '/' || source[i + 1] === '*'))) {
      skipSpace();
      continue;
    }
    if (c === '/' && (/^[(,=:[!&|?{};+\-*%<>~^]?$/.test(lastSignificant) || (lastSignificant === 'a' && REGEX_KEYWORDS.has(lastWord)))) {
      skipRegex();
      lastSignificant = '/';
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      readString();
      lastSignificant = '"';
      continue;
    }
    if (c === '(') {
      frames.push({ node: undefined });
      i++;
      lastSignificant = c;
      continue;
    }
    if (c === ')') {
      frames.pop();
      i++;
      lastSignificant = c;
      continue;
    }
    if (/[A-Za-z_$0-9]/.test(c)) {
      const startLine = line;
      const previous = source[i - 1];
      let word = '';
      while (i < n && /[\w$]/.test(source[i] as string)) {
        word += source[i];
        i++;
      }
      lastSignificant = 'a';
      lastWord = word;
      // `foo.it(` or `x.describe(` are somebody else's methods, not Vitest's.
      if (previous === '.' || (!SUITE_NAMES.has(word) && !TEST_NAMES.has(word))) {
        continue;
      }
      const kind = SUITE_NAMES.has(word) ? 'suite' : 'test';
      // Accept modifiers: describe.skip(, it.only(, test.each([...])( is left to the runner.
      skipSpace();
      while (source[i] === '.') {
        i++;
        skipSpace();
        let modifier = '';
        while (i < n && /[\w$]/.test(source[i] as string)) {
          modifier += source[i];
          i++;
        }
        skipSpace();
        if (!MODIFIERS.has(modifier)) {
          word = '';
          break;
        }
        if (modifier === 'skipIf' || modifier === 'runIf') {
          // skipIf(cond)( 'name', ...): skip over the condition's parentheses.
          if (source[i] === '(') {
            let depth = 0;
            do {
              if (source[i] === '(') depth++;
              else if (source[i] === ')') depth--;
              else if (source[i] === '\n') line++;
              i++;
            } while (i < n && depth > 0);
            skipSpace();
          }
        }
      }
      if (!word || source[i] !== '(') {
        continue;
      }
      i++;
      skipSpace();
      const quote = source[i];
      let name: string | undefined;
      if (quote === '"' || quote === "'" || quote === '`') {
        name = readString();
      }
      const node: DiscoveredTest | undefined = name === undefined ? undefined : { kind, name, line: startLine, children: [] };
      if (node) {
        currentChildren().push(node);
      }
      frames.push({ node: kind === 'suite' ? node : undefined });
      lastSignificant = '(';
      continue;
    }
    lastSignificant = c;
    i++;
  }
  return root;
}
