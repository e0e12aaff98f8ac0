/** Settings and log helpers for tests that drive the Ping connector against the emulator (ping.ts). */
import type { PingConnectorOptions } from '../../src/connectors/ping/connector.js';
import type { PingEmulator, RequestLogEntry } from './ping.js';

/** Short back-offs; 429 and 503 wait the emulator's Retry-After (1 s). No audit pacing, three days of audit. */
export const FAST_PING: PingConnectorOptions = {
  retry: { baseDelayMs: 5 },
  auditIntervalMs: 0,
  auditLookbackDays: 3,
};

export type Surfaces = 'pingone' | 'aic' | 'both';

/** The PINGONE_* and PINGAIC_* variables that point at the emulator, for one surface or both. */
export function pingEnv(
  emu: PingEmulator,
  surfaces: Surfaces = 'both',
  extra: Record<string, string> = {},
): Record<string, string> {
  const p1 = {
    PINGONE_ENVIRONMENT_ID: emu.tenant.envId,
    PINGONE_CLIENT_ID: emu.clientId,
    PINGONE_CLIENT_SECRET: emu.clientSecret,
    PINGONE_API_URL: emu.url,
    PINGONE_AUTH_URL: emu.url,
  };
  const aic = {
    PINGAIC_TENANT_URL: emu.url,
    PINGAIC_SERVICE_ACCOUNT_ID: emu.serviceAccountId,
    PINGAIC_SERVICE_ACCOUNT_KEY: emu.serviceAccountJwk,
  };
  return { ...(surfaces === 'aic' ? {} : p1), ...(surfaces === 'pingone' ? {} : aic), ...extra };
}

/** How often the emulator answered a status, and how often the same request was then sent again and succeeded. */
export function answered(log: RequestLogEntry[], status: number): { times: number; retried: number } {
  let times = 0;
  let retried = 0;
  log.forEach((r, i) => {
    if (r.status !== status) return;
    times++;
    const again = log
      .slice(i + 1)
      .find(
        (x) =>
          x.method === r.method &&
          x.path === r.path &&
          JSON.stringify(x.query) === JSON.stringify(r.query) &&
          JSON.stringify(x.body) === JSON.stringify(r.body),
      );
    if (again && again.status < 400) retried++;
  });
  return { times, retried };
}
