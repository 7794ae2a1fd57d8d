import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The tests run on the lab's three Redis servers (test/stores.ts reads .env), one
    // file at a time: each empties the database it uses.
    fileParallelism: false,
    testTimeout: 20_000,
  },
});
