import * as path from 'node:path';
import { defineConfig } from 'vitest/config';
import { buildScript } from '../support/buildScript';

/**
 * The container runtime against a real Docker engine and the local images that
 * test/setup/docker.sh builds (test/docker), and the lab packs' own Docker tests
 * (labs/<id>/grader/*.docker.test.ts). One file at a time: the files share one engine, and
 * parallel container starts on a 2-core machine only make the timings noisy.
 */
export default defineConfig({
  root: path.resolve(__dirname, '..', '..'),
  plugins: [buildScript().labGradersVitePlugin()],
  test: {
    include: ['test/docker/**/*.test.ts', 'labs/*/grader/**/*.docker.test.ts'],
    environment: 'node',
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
