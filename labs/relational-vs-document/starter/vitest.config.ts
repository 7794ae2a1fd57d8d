import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Checks once per file that the database is reachable (see test/setup.ts).
    setupFiles: ['test/setup.ts'],
    // One test file at a time. The embedded server runs every connection in one shared
    // PostgreSQL session, so two files at once would change each other's search_path.
    fileParallelism: false,
    // Code that does not finish (a stuck transaction, retries that never stop) is reported
    // after 10 s (see inTime in test/support.ts); the cleanup after it needs a few seconds more.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
