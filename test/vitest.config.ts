import { defineConfig } from 'vitest/config';

// End-to-end scenarios start a whole platform and real clusters: long timeouts, one file at a time.
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    // After every test: the platforms it ran leaked no secret into their output or events.
    setupFiles: ['e2e/logScan.setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
