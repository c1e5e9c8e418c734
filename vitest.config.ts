import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'cli/**/*.test.ts', 'server/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: ['default', './test/reporters/closing-line.ts'],
    // tfjs keeps one global engine per process: isolate test files in their own processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
