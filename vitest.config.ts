import { defineConfig } from 'vitest/config';
import { emulatorTls } from './test/emulators/tls.js';

export default defineConfig(async () => {
  // The Graph emulator speaks HTTPS with its own certificate; workers (and the CLIs tests
  // spawn) trust it through NODE_EXTRA_CA_CERTS, read by Node only at start.
  process.env.NODE_EXTRA_CA_CERTS = (await emulatorTls()).certPath;
  return {
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      pool: 'forks',
    },
  };
});
