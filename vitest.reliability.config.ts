import { defineConfig } from 'vitest/config';

/**
 * The reliability suite (npm run test:reliability): generated input, crashes, load and
 * tampering against the built CLI and real SDK clients. One file at a time, so the
 * load figures are not skewed by crash runs beside them; each file runs its own
 * processes two at a time where that helps.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
