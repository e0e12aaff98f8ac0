import pino, { type Logger } from 'pino';

/** Logs go to stderr only: stdout belongs to the stdio transport. */
export function createLogger(level: string = 'info'): Logger {
  return pino(
    {
      level,
      base: { name: 'attest' },
      redact: {
        paths: [
          '*.token',
          '*.apiToken',
          '*.privateKey',
          '*.clientSecret',
          '*.authorization',
          '*.headers.authorization',
        ],
        censor: '[REDACTED]',
      },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

export type { Logger };
