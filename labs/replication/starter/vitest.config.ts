import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One test file at a time: the two servers are shared, and tests pause and stop them.
    fileParallelism: false,
    // A read that waits for a standby without a bound is reported after 30 s.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
