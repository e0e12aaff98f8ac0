import { configDefaults, defineConfig } from 'vitest/config';
import { emulatorTls } from './test/emulators/tls.js';

export default defineConfig(async () => {
  // The Graph emulator speaks HTTPS with its own certificate; workers (and the CLIs tests
  // spawn) trust it through NODE_EXTRA_CA_CERTS, read by Node only at start.
  process.env.NODE_EXTRA_CA_CERTS = (await emulatorTls()).certPath;
  return {
    test: {
      include: ['test/**/*.test.ts'],
      // The reliability suite runs on its own (npm run test:reliability): it takes minutes.
      exclude: [...configDefaults.exclude, 'test/reliability/**'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
    },
  };
});
