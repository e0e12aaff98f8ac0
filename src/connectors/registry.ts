import type { Platform } from '../domain/index.js';
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
      const make = factories[platform];
      cache.set(platform, platform === 'snapshot' && !make ? new SnapshotConnector() : (make?.(env) ?? null));
    }
    return cache.get(platform) ?? null;
  };
}
