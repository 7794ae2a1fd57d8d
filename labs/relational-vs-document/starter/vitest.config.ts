import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every test starts its own embedded PostgreSQL, which takes a few seconds.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
