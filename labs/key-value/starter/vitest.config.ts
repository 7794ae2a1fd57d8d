import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests run on the lab's Redis, Memcached and PostgreSQL (test/stores.ts reads .env),
    // one file at a time: each empties what it uses.
    fileParallelism: false,
    testTimeout: 20_000,
  },
});
