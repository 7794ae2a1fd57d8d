import * as path from 'node:path';
import { defineConfig } from 'vitest/config';

/** The unit tests of src/core and src/cli: plain Node, real files in temp folders, real child processes. */
export default defineConfig({
  root: path.resolve(__dirname, '..', '..'),
  test: {
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // A few tests start real processes (npm, Vitest, node); give them room on a slow CI machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
