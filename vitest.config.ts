import { defineConfig } from 'vitest/config';

// Native addons must run in child processes (forks), never worker threads:
// LibTorch's OpenMP pools and N-API instance data are per process.
export default defineConfig({
  test: {
    pool: 'forks',
    // One test file at a time: each native model already uses every core (OpenMP), and
    // two such processes on a 2-core machine spin against each other and run 5x slower.
    fileParallelism: false,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
