import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The visible tests need no server: the replicas are in memory (test/replicas.ts).
    // A coordinator that hangs is reported after 5 s by inTime (test/support.ts), well before this.
    testTimeout: 20_000,
  },
});
