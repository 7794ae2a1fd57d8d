import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * The graders' rigor: each lab's reference passes every check and each mutant fails the
 * check named for it, across seeds, on the lab's real PostgreSQL (Docker, and embedded).
 * Needs the bundles (dist/adapters, dist/cli.js): run after `node esbuild.js`.
 * One file at a time: each grading run already keeps both cores busy.
 */
export default defineConfig({
  root: path.resolve(__dirname, '..', '..'),
  test: {
    include: ['test/graders/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
