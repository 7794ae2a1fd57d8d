import * as path from 'node:path';
import { defineConfig } from 'vitest/config';
import { buildScript } from '../support/buildScript';

/**
 * The unit tests: the kit, the services, the CLI (test/unit) and each lab pack's own
 * (checker tests beside the checkers, labs/<id>/grader). Plain Node, real files in temp
 * folders, real child processes; nothing that needs Docker (*.docker.test.ts) and no
 * grading rigor (rigor.test.ts). Graders are found as the bundles find them.
 */
export default defineConfig({
  root: path.resolve(__dirname, '..', '..'),
  plugins: [buildScript().labGradersVitePlugin()],
  test: {
    include: ['test/unit/**/*.test.ts', 'labs/*/grader/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'labs/*/grader/**/*.docker.test.ts', 'labs/*/grader/**/rigor.test.ts'],
    environment: 'node',
    pool: 'forks',
    // A few tests start real processes (npm, Vitest, node); give them room on a slow CI machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
