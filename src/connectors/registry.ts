import type { Platform } from '../domain/index.js';
import { OktaConnector } from './okta/connector.js';
import { SnapshotConnector } from './snapshot/connector.js';
import type { IdentityConnector } from './types.js';

/**
 * The connector that applies decisions for items of a platform. Snapshot items are
 * applied locally; platform connectors are built from the environment when configured.
 */
export function createConnectorRegistry(
  env: Record<string, string | undefined>,
  factories: Partial<
    Record<Platform, (env: Record<string, string | undefined>) => IdentityConnector | null>
  > = {},
): (platform: Platform) => IdentityConnector | null {
  const cache = new Map<Platform, IdentityConnector | null>();
  return (platform) => {
    if (!cache.has(platform)) {
      const make = factories[platform] ?? defaultFactories[platform];
      cache.set(platform, make?.(env) ?? null);
    }
    return cache.get(platform) ?? null;
  };
}

const defaultFactories: Partial<
  Record<Platform, (env: Record<string, string | undefined>) => IdentityConnector | null>
> = {
  snapshot: () => new SnapshotConnector(),
  // Okta decisions are applied only when the org is configured; otherwise they wait in the outbox.
  okta: (env) => (env.OKTA_ORG_URL ? OktaConnector.fromEnv(env) : null),
};
