import * as path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const ROOT = import.meta.dirname;

/**
 * The architecture's zones, as folders of the repository, each importing only from where it
 * may. A zone's rule applies to value imports; `import type` is free (it leaves nothing at
 * run time). Package imports are checked against the zone's `packages` when it has one.
 *
 * - src/core is shared by the editor and the CLI: it imports nothing of the editor (src
 *   outside src/core) and never `vscode`.
 * - src/cli is the other face: it imports only itself and src/core.
 * - src (the kit above all) never imports a lab: labs are found by the build, never named.
 * - Checkers and what they read are pure: a lab's checkers.ts, history.ts, protocol.ts,
 *   limits.ts, steps.ts and versions.ts import only each other and the kit's pure modules
 *   (report types, outcome helpers, history, linearizability, randomness, schema).
 */
const PURE_KIT = ['src/core/grading/report.ts', 'src/core/grading/outcome.ts', 'src/core/grading/history.ts', 'src/core/grading/linearizability.ts', 'src/core/random.ts', 'src/core/schema.ts', 'src/core/backend.ts'];
const PURE_LAB_MODULE = /^(?:test\/fixtures\/lab-pack\/)?labs\/[^/]+\/grader\/(?:checkers|history|protocol|limits|steps|versions)\.ts$/;

const ZONES = [
  {
    name: 'src/core',
    applies: (file) => file.startsWith('src/core/'),
    allows: (target) => target.startsWith('src/core/'),
    packages: (name) => name !== 'vscode',
    message: 'src/core is shared by the editor and the CLI: it may import only src/core (and never vscode).',
  },
  {
    name: 'src/cli',
    applies: (file) => file.startsWith('src/cli/'),
    allows: (target) => target.startsWith('src/cli/') || target.startsWith('src/core/'),
    packages: (name) => name !== 'vscode',
    message: 'The CLI may import only src/cli and src/core.',
  },
  {
    name: 'src',
    applies: (file) => file.startsWith('src/'),
    allows: (target) => !target.startsWith('labs/'),
    message: 'The product never names a lab: graders are found by the build (data-labs:lab-graders).',
  },
  {
    name: 'pure checkers',
    applies: (file) => PURE_LAB_MODULE.test(file),
    allows: (target) => PURE_KIT.includes(target) || PURE_LAB_MODULE.test(target),
    packages: (name) => name === 'zod' || name.startsWith('zod/'),
    message: "Checkers are pure functions of a history: they may import only the lab's pure modules (history, protocol, limits, steps, versions) and the kit's (report, outcome, history, linearizability, random, schema).",
  },
];

/** Resolves a relative import to the repository file it names (extensions and index files as TypeScript's bundler resolution tries them). */
function resolveImport(fromFile, source) {
  const base = path.resolve(path.dirname(fromFile), source);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts'), base.replace(/\.js$/, '.ts')]) {
    if (/\.(?:ts|js|mjs|cjs|json)$/.test(candidate)) return path.relative(ROOT, candidate).split(path.sep).join('/');
  }
  return path.relative(ROOT, `${base}.ts`).split(path.sep).join('/');
}

const zonesRule = {
  meta: { type: 'problem', schema: [], messages: { zone: '{{source}}: {{message}}' } },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join('/');
    const zones = ZONES.filter((z) => z.applies(file));
    if (zones.length === 0) return {};
    const check = (node, source, typeOnly) => {
      if (typeOnly || typeof source !== 'string') return;
      const relative = source.startsWith('.');
      for (const zone of zones) {
        const ok = relative ? zone.allows(resolveImport(context.filename, source)) : zone.packages === undefined || source.startsWith('node:') || zone.packages(source);
        if (!ok) context.report({ node, messageId: 'zone', data: { source, message: zone.message } });
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value, node.importKind === 'type' || (node.specifiers.length > 0 && node.specifiers.every((s) => s.importKind === 'type'))),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value, node.exportKind === 'type'),
      ExportAllDeclaration: (node) => check(node, node.source.value, node.exportKind === 'type'),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value, false),
    };
  },
};

export default tseslint.config(
  {
    // A lab's starter, solution, alternatives and mutants are the learner's code, checked by the
    // lab's own tsconfig (test/labs/check-labs.mjs); its grader/ is the product's, and linted here.
    // So is a test's learner code (test/fixtures/held-transaction: a saga laid over the lab's).
    ignores: ['dist/**', 'node_modules/**', '**/labs/*/starter/**', '**/labs/*/solution/**', '**/labs/*/alternatives/**', '**/labs/*/mutants/**', 'test/fixtures/held-transaction/**', 'test/.variants/**', 'test/.mutation/**', '.vscode-test/**', 'out/**', 'l10n/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: ROOT } },
    plugins: { 'data-labs': { rules: { zones: zonesRule } } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      // Type-aware: a promise nobody awaits, or one handed to what expects a plain function,
      // loses its errors; a switch over a union must handle every member.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      'data-labs/zones': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      // The core is shared by the extension and the CLI: it must never reach for the editor.
      'no-restricted-imports': ['error', { paths: [{ name: 'vscode', message: 'src/core and src/cli must not import vscode.' }] }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
