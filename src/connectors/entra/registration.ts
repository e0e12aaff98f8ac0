import type { ConnectorRegistration } from '../types.js';
import {
  ENTRA_IDENTIFYING,
  ENTRA_VARIABLES,
  type EntraConfig,
  entraSecrets,
  parseEntraConfig,
} from './config.js';
import { EntraConnector } from './connector.js';

export const entraRegistration: ConnectorRegistration<EntraConfig> = {
  name: 'entra',
  title: 'Microsoft Entra ID',
  capabilities: ['sync', 'incremental', 'writeBack', 'remediation', 'campaigns', 'roles'],
  settings: {
    variables: ENTRA_VARIABLES,
    read: (source) => (ENTRA_IDENTIFYING.some((n) => source[n]?.trim()) ? parseEntraConfig(source) : null),
    secrets: entraSecrets,
    missing: 'AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)',
  },
  create: (config, context) => new EntraConnector(config, context.log ? { log: context.log } : {}),
};
