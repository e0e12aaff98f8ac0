import type { ConnectorRegistration } from '../types.js';
import { PING_VARIABLES, type PingConfig, parsePingConfig, pingConfigured, pingSecrets } from './config.js';
import { PingConnector } from './connector.js';

export const pingRegistration: ConnectorRegistration<PingConfig> = {
  name: 'ping',
  title: 'Ping Identity',
  capabilities: ['sync', 'incremental', 'writeBack', 'remediation', 'campaigns', 'roles'],
  settings: {
    variables: PING_VARIABLES,
    read: (source) => (pingConfigured(source) ? parsePingConfig(source) : null),
    secrets: pingSecrets,
    missing:
      'PINGONE_ENVIRONMENT_ID, PINGONE_CLIENT_ID and PINGONE_CLIENT_SECRET (the PingOne directory), or PINGAIC_TENANT_URL, PINGAIC_SERVICE_ACCOUNT_ID and PINGAIC_SERVICE_ACCOUNT_KEY (Advanced Identity Cloud certifications), or both',
  },
  create: (config, context) => new PingConnector(config, context.log ? { log: context.log } : {}),
};
