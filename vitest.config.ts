import { defineConfig } from 'vitest/config';

// Native addons must run in child processes (forks), never worker threads:
// LibTorch's OpenMP pools and N-API instance data are per process.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 2 } },
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
