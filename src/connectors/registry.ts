import type { Platform } from '../domain/index.js';
import { entraRegistration } from './entra/registration.js';
import { oktaRegistration } from './okta/registration.js';
import { pingRegistration } from './ping/registration.js';
import { snapshotRegistration } from './snapshot/connector.js';
import {
  type ConnectorContext,
  ConnectorError,
  type ConnectorRegistration,
  type IdentityConnector,
  type SettingsSource,
} from './types.js';

/**
 * Every connector, one registration each. Adding a platform means adding its
 * registration here; the CLI (`attest sync`, help text), `serve --sync`, the outbox
 * and secret redaction all read this list.
 */
// biome-ignore lint/suspicious/noExplicitAny: each registration has its own settings type.
export const REGISTRATIONS: readonly ConnectorRegistration<any>[] = [
  snapshotRegistration,
  oktaRegistration,
  entraRegistration,
  pingRegistration,
];

type Env = Readonly<Record<string, string | undefined>>;

/** The config file's `connectors` section: per platform, settings by variable name or key. */
export type ConnectorFiles = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface RegistryOptions {
  /** The config file's `connectors` section. */
  files?: ConnectorFiles;
  context?: ConnectorContext;
}

export function registrationFor(name: string): ConnectorRegistration | undefined {
  return REGISTRATIONS.find((r) => r.name === name);
}

/** Platforms `attest sync` can pull. */
export function syncablePlatforms(): string[] {
  return REGISTRATIONS.filter((r) => r.capabilities.includes('sync')).map((r) => r.name);
}

/**
 * A registration's settings by variable name: the environment over the config file's
 * section for the platform, where a setting may be given by its variable name or its key.
 */
export function settingsSource(
  reg: ConnectorRegistration,
  env: Env,
  files: ConnectorFiles = {},
): SettingsSource {
  const file = files[reg.name] ?? {};
  const out: Record<string, string | undefined> = {};
  for (const v of reg.settings.variables) {
    const fromFile = file[v.name] ?? file[v.key];
    const text =
      fromFile === undefined || fromFile === null
        ? undefined
        : typeof fromFile === 'string'
          ? fromFile
          : JSON.stringify(fromFile);
    const value = env[v.name] !== undefined && env[v.name] !== '' ? env[v.name] : text;
    if (value !== undefined) out[v.name] = value;
  }
  return out;
}

/**
 * The connector that applies decisions for items of a platform, built from the
 * environment when the platform is configured (null otherwise: its decisions wait in
 * the outbox). A configuration error also gives null, and is logged once.
 */
export function createConnectorRegistry(
  env: Env,
  options: RegistryOptions = {},
): (platform: Platform) => IdentityConnector | null {
  const cache = new Map<Platform, IdentityConnector | null>();
  return (platform) => {
    if (!cache.has(platform)) {
      let connector: IdentityConnector | null = null;
      const reg = registrationFor(platform);
      if (reg) {
        try {
          const settings = reg.settings.read(settingsSource(reg, env, options.files));
          connector = settings === null ? null : reg.create(settings, options.context ?? {});
        } catch (e) {
          if (!(e instanceof ConnectorError)) throw e;
          options.context?.log?.('warn', `${reg.title} is not usable: ${e.message}`);
        }
      }
      cache.set(platform, connector);
    }
    return cache.get(platform) ?? null;
  };
}

/**
 * The connector `attest sync NAME` pulls from. Throws ConnectorError('config') for an
 * unknown platform, one without a sync, or one not (or badly) configured, naming the
 * variables; never their values.
 */
export function connectorForSync(name: string, env: Env, options: RegistryOptions = {}): IdentityConnector {
  const reg = registrationFor(name);
  const known = syncablePlatforms();
  if (!reg) {
    throw new ConnectorError(`unknown platform "${name}"; expected ${orList(known)}`, 'config');
  }
  if (!reg.capabilities.includes('sync')) {
    throw new ConnectorError(
      `${name} cannot be synced` + (name === 'snapshot' ? '; load a folder with attest import DIR' : ''),
      'config',
    );
  }
  let settings: unknown;
  try {
    settings = reg.settings.read(settingsSource(reg, env, options.files));
  } catch (e) {
    if (e instanceof ConnectorError) throw new ConnectorError(`${name}: ${e.message}`, 'config');
    throw e;
  }
  if (settings === null)
    throw new ConnectorError(`${name} is not configured: set ${reg.settings.missing}`, 'config');
  return reg.create(settings, options.context ?? {});
}

/** Every platform with a sync that is configured: its connector, or why it cannot be built. */
export function configuredForSync(
  env: Env,
  options: RegistryOptions = {},
): Array<{ name: Platform; connector: IdentityConnector } | { name: Platform; error: string }> {
  const out: Array<{ name: Platform; connector: IdentityConnector } | { name: Platform; error: string }> = [];
  for (const reg of REGISTRATIONS) {
    if (!reg.capabilities.includes('sync')) continue;
    try {
      const settings = reg.settings.read(settingsSource(reg, env, options.files));
      if (settings !== null)
        out.push({ name: reg.name, connector: reg.create(settings, options.context ?? {}) });
    } catch (e) {
      if (!(e instanceof ConnectorError)) throw e;
      out.push({ name: reg.name, error: e.message });
    }
  }
  return out;
}

/**
 * Secret values the process holds for every platform: each secret variable as set, and
 * the other forms a parsed setting takes (a key's PEM body, a JWK's members), for redaction.
 */
export function secretValues(env: Env, files: ConnectorFiles = {}): string[] {
  const out = new Set<string>();
  for (const reg of REGISTRATIONS) {
    const source = settingsSource(reg, env, files);
    for (const v of reg.settings.variables) {
      const value = source[v.name]?.trim();
      if (v.secret && value !== undefined && value.length >= 6) out.add(value);
    }
    try {
      const settings = reg.settings.read(source);
      if (settings !== null) for (const s of reg.settings.secrets(settings)) if (s.length >= 6) out.add(s);
    } catch {
      // A setting that does not parse holds nothing more than its raw value, listed above.
    }
  }
  return [...out];
}

function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
