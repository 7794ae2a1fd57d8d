import * as path from 'node:path';
import { defineConfig } from 'vitest/config';
import { buildScript } from '../support/buildScript';

/**
 * The graders' rigor: each lab's reference passes every check and each mutant fails the
 * check named for it, across seeds, on the lab's real services (Docker, and without it);
 * test/rigor is the same for every lab, and labs/<id>/grader/rigor.test.ts holds what is
 * particular to one. Needs the bundles (dist/sandbox, dist/cli.js): run after
 * `node esbuild.js`; `npm run test:rigor` does both. One file at a time: each grading run
 * already keeps both cores busy.
 */
export default defineConfig({
  root: path.resolve(__dirname, '..', '..'),
  plugins: [buildScript().labGradersVitePlugin()],
  test: {
    include: ['test/rigor/**/*.test.ts', 'labs/*/grader/rigor.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
