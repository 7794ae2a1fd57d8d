import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One test file at a time: the three servers are shared, and prepared transactions
    // hold locks until they are finished.
    fileParallelism: false,
    // Code that waits for ever (a vote with no time limit, phase 2 retrying a gid that
    // will never finish) is reported after 30 s.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
