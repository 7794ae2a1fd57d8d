import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    // A lab's starter, solution and mutants are the learner's code, checked by the lab's own
    // tsconfig (test/labs/check-labs.mjs); its grader/ is the product's, and linted here.
    ignores: ['dist/**', 'node_modules/**', '**/labs/*/starter/**', '**/labs/*/solution/**', '**/labs/*/mutants/**', 'test/.variants/**', '.vscode-test/**', 'out/**', 'l10n/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
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
