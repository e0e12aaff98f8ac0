import type { ConnectorRegistration, SettingSpec } from '../types.js';
import { type OktaConfig, oktaSecrets, parseOktaConfig } from './config.js';
import { OktaConnector } from './connector.js';

const VARIABLES: SettingSpec[] = [
  { name: 'OKTA_ORG_URL', key: 'orgUrl', secret: false, describe: "the org's base address" },
  { name: 'OKTA_API_TOKEN', key: 'apiToken', secret: true, describe: 'an API token' },
  { name: 'OKTA_CLIENT_ID', key: 'clientId', secret: false, describe: "a service app's client id" },
  { name: 'OKTA_PRIVATE_KEY', key: 'privateKey', secret: true, describe: "the service app's private key" },
  { name: 'OKTA_KEY_ID', key: 'keyId', secret: false, describe: "the key's id (kid)" },
  { name: 'OKTA_SCOPES', key: 'scopes', secret: false, describe: 'scopes to request' },
  {
    name: 'OKTA_REVIEWER_MODE',
    key: 'reviewerMode',
    secret: false,
    describe: 'reassign (default) or mapped: how decisions reach reviews owned by others',
  },
  {
    name: 'OKTA_REVIEWER_MAP',
    key: 'reviewerMap',
    secret: false,
    describe: 'JSON: confirming principal to the Okta reviewer (id or login)',
  },
  {
    name: 'OKTA_ACTOR_ID',
    key: 'actorId',
    secret: false,
    describe: "Attest's own Okta user (id or login); default the API token's user",
  },
];

/** Variables whose presence means "Okta is meant to be configured". */
const IDENTIFYING = ['OKTA_ORG_URL', 'OKTA_API_TOKEN', 'OKTA_CLIENT_ID', 'OKTA_PRIVATE_KEY'];

export const oktaRegistration: ConnectorRegistration<OktaConfig> = {
  name: 'okta',
  title: 'Okta',
  capabilities: ['sync', 'incremental', 'writeBack', 'remediation', 'campaigns', 'roles'],
  settings: {
    variables: VARIABLES,
    read: (source) => (IDENTIFYING.some((n) => source[n]?.trim()) ? parseOktaConfig(source) : null),
    secrets: oktaSecrets,
    missing: 'OKTA_ORG_URL and OKTA_API_TOKEN (or OKTA_CLIENT_ID, OKTA_PRIVATE_KEY and OKTA_KEY_ID)',
  },
  create: (config, context) => new OktaConnector(config, context.log ? { log: context.log } : {}),
};
