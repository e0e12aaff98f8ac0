import { describe, expect, it } from 'vitest';
import {
  configuredForSync,
  connectorForSync,
  createConnectorRegistry,
  REGISTRATIONS,
  secretValues,
  settingsSource,
  syncablePlatforms,
} from '../../src/connectors/registry.js';
import { ConnectorError } from '../../src/connectors/types.js';

const entra = {
  AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555',
  AZURE_CLIENT_ID: '66666666-7777-4888-8999-000000000000',
  AZURE_CLIENT_SECRET: 'Sup3r~secret.value-0123456789',
};

describe('connector registry', () => {
  it('lists one registration per platform, with the platforms that can sync', () => {
    expect(REGISTRATIONS.map((r) => r.name)).toEqual(['snapshot', 'okta', 'entra', 'ping']);
    expect(syncablePlatforms()).toEqual(['okta', 'entra', 'ping']);
    for (const r of REGISTRATIONS)
      for (const v of r.settings.variables)
        expect(v.secret).toBe(/SECRET|TOKEN|PRIVATE_KEY|PASSWORD|ACCOUNT_KEY/.test(v.name));
  });

  it('builds only configured platforms, and the snapshot always', () => {
    const registry = createConnectorRegistry({});
    expect(registry('okta')).toBeNull();
    expect(registry('entra')).toBeNull();
    expect(registry('snapshot')?.remediation).toBeDefined();
    expect(createConnectorRegistry(entra)('entra')?.writeBack?.decisions).toEqual([
      'approve',
      'revoke',
      'escalate',
    ]);
    // A badly configured platform is not built (its decisions wait in the outbox), and the problem is logged.
    const logged: string[] = [];
    const bad = createConnectorRegistry(
      { ...entra, AZURE_CLIENT_ID: 'x' },
      { context: { log: (_l, m) => logged.push(m) } },
    );
    expect(bad('entra')).toBeNull();
    expect(logged.join(' ')).toMatch(/Microsoft Entra ID is not usable: AZURE_CLIENT_ID must be/);
    expect(logged.join(' ')).not.toContain(entra.AZURE_CLIENT_SECRET);
  });

  it('reads settings from the config file by key or variable name, the environment winning', () => {
    const reg = REGISTRATIONS.find((r) => r.name === 'entra')!;
    const files = { entra: { remediation: 'direct', AZURE_TENANT_ID: 'contoso.onmicrosoft.com' } };
    expect(settingsSource(reg, entra, files)).toMatchObject({
      ENTRA_REMEDIATION: 'direct',
      AZURE_TENANT_ID: entra.AZURE_TENANT_ID,
    });
    expect(configuredForSync(entra, { files }).map((p) => p.name)).toEqual(['entra']);
  });

  it('says what to set for an unknown, unsyncable or unconfigured platform', () => {
    const messageOf = (name: string, env: Record<string, string> = {}) => {
      try {
        connectorForSync(name, env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConnectorError);
        return (e as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(messageOf('onelogin')).toMatch(/unknown platform "onelogin"; expected okta, entra or ping/);
    expect(messageOf('ping')).toMatch(
      /ping is not configured: set PINGONE_ENVIRONMENT_ID, .* PINGAIC_TENANT_URL/,
    );
    expect(messageOf('snapshot')).toMatch(/snapshot cannot be synced; load a folder with attest import DIR/);
    expect(messageOf('entra')).toMatch(/entra is not configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID/);
    expect(messageOf('okta', { OKTA_API_TOKEN: 'x'.repeat(30) })).toMatch(/^okta: OKTA_ORG_URL is not set/);
  });

  it('collects every secret value for redaction, from every platform', () => {
    const secrets = secretValues({
      ...entra,
      OKTA_ORG_URL: 'https://example.okta.com',
      OKTA_API_TOKEN: 'okta-token-0123456789',
    });
    expect(secrets).toEqual(expect.arrayContaining([entra.AZURE_CLIENT_SECRET, 'okta-token-0123456789']));
    expect(secrets).not.toContain(entra.AZURE_CLIENT_ID);
  });
});
