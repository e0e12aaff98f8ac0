/**
 * The fixed organization catalog of the demo tenant: departments, titles, apps,
 * entitlements, privileged roles and SoD rules. It does not depend on the seed; the seed
 * decides who is where and who holds what.
 *
 * Invariants the generator relies on (checked by `buildCatalog`):
 * - company-wide apps are used by no other entitlement;
 * - within a department, birthright apps are distinct and no title group uses one of them;
 * - a title's groups are on distinct apps;
 * - each privileged role is the only entitlement on its admin app;
 * - the two sides of an SoD rule belong to different titles whose own groups do not use
 *   the other side's apps, so a planted conflict never adds a second entitlement on an app.
 */
import { hostileDescription, hostileDescription2, hostileTitle } from './names.js';

export type Sens = 'low' | 'medium' | 'high' | 'critical';
export const sensRank: Record<Sens, number> = { low: 0, medium: 1, high: 2, critical: 3 };

export type EntKind = 'staff' | 'company' | 'birthright' | 'title' | 'privileged';

export interface EntDef {
  id: string;
  name: string;
  type: 'group' | 'app' | 'role';
  app: string | null;
  privileged: boolean;
  sensitivity: Sens;
  /** Owning department index, -1 for company-wide entitlements. */
  dept: number;
  kind: EntKind;
  description: string;
}

export type TitleRole = 'ic' | 'manager' | 'director' | 'head' | 'ceo' | 'service' | 'hostile';

export interface TitleDef {
  name: string;
  dept: number;
  role: TitleRole;
  weight: number;
  levelLo: number;
  levelHi: number;
  /** Entitlement indexes every holder of the title gets. */
  groups: number[];
}

export interface DeptDef {
  key: string;
  name: string;
  weight: number;
  division: string;
  costCenters: string[];
  birthrights: number[];
  icTitles: number[];
  managerTitle: number;
  directorTitle: number;
  headTitle: number;
}

export interface PrivRoleDef {
  ent: number;
  title: number;
}

export interface SodRuleDef {
  id: string;
  name: string;
  severity: 'high' | 'critical' | 'medium';
  left: number[];
  right: number[];
}

export interface Location {
  name: string;
  region: string;
  weight: number;
}

export interface Catalog {
  depts: DeptDef[];
  titles: TitleDef[];
  ents: EntDef[];
  entIndex: Map<string, number>;
  companyApps: number[];
  staffEnt: number;
  privRoles: PrivRoleDef[];
  sodRules: SodRuleDef[];
  locations: Location[];
  ceoTitle: number;
  serviceTitle: number;
  hostileTitle: number;
  /** Department holding the CEO, the service accounts and the hostile title. */
  ceoDept: number;
  serviceDept: number;
  hostileDept: number;
}

type GroupSpec = [id: string, app: string, name: string, sens: Sens, type?: 'group' | 'role'];

interface TitleSpec {
  name: string;
  weight: number;
  levels: [number, number];
  groups: GroupSpec[];
}

interface DeptSpec {
  key: string;
  name: string;
  weight: number;
  division: string;
  head: string;
  birthrights: [app: string, name: string, sens: Sens][];
  titles: TitleSpec[];
}

const companySpecs: [app: string, name: string, sens: Sens][] = [
  ['m365', 'Microsoft 365', 'low'],
  ['slack', 'Slack', 'low'],
  ['zoom', 'Zoom', 'low'],
  ['workday', 'Workday (self-service)', 'medium'],
  ['confluence', 'Confluence', 'low'],
  ['concur', 'SAP Concur', 'medium'],
  ['vpn', 'GlobalProtect VPN', 'medium'],
  ['lms', 'Learning Portal', 'low'],
  ['lucid', 'Lucidchart', 'low'],
  ['1password', '1Password', 'medium'],
];

const deptSpecs: DeptSpec[] = [
  {
    key: 'fin',
    name: 'Finance',
    weight: 6,
    division: 'G&A',
    head: 'Chief Financial Officer',
    birthrights: [
      ['looker', 'Finance - Looker Viewers', 'medium'],
      ['blackline', 'Finance - BlackLine Reconciliations', 'high'],
    ],
    titles: [
      {
        name: 'Financial Analyst',
        weight: 4,
        levels: [1, 3],
        groups: [['grp-netsuite-reporting', 'netsuite', 'NetSuite - Financial Reporting', 'low']],
      },
      {
        name: 'Accountant',
        weight: 4,
        levels: [2, 4],
        groups: [['grp-netsuite-journal-entry', 'netsuite', 'NetSuite - Journal Entry', 'medium']],
      },
      {
        name: 'AP Specialist',
        weight: 3,
        levels: [1, 3],
        groups: [['grp-netsuite-ap-vendor', 'netsuite', 'NetSuite - AP Vendor Maintenance', 'high']],
      },
      {
        name: 'Treasury Analyst',
        weight: 2,
        levels: [2, 4],
        groups: [
          ['role-billpay-payment-approver', 'billpay', 'BillPay - Payment Approver', 'critical', 'role'],
        ],
      },
      {
        name: 'Controller',
        weight: 1,
        levels: [4, 4],
        groups: [['grp-netsuite-period-close', 'netsuite', 'NetSuite - Period Close', 'critical']],
      },
    ],
  },
  {
    key: 'proc',
    name: 'Procurement',
    weight: 3,
    division: 'G&A',
    head: 'VP of Procurement',
    birthrights: [
      ['netsuite', 'Procurement - NetSuite Purchasing', 'medium'],
      ['docusign', 'Procurement - DocuSign Senders', 'low'],
    ],
    titles: [
      {
        name: 'Buyer',
        weight: 4,
        levels: [1, 3],
        groups: [['grp-coupa-po-creator', 'coupa', 'Coupa - PO Creator', 'medium']],
      },
      {
        name: 'Category Manager',
        weight: 2,
        levels: [3, 4],
        groups: [['grp-coupa-supplier-onboarding', 'coupa', 'Coupa - Supplier Onboarding', 'high']],
      },
      {
        name: 'Procurement Analyst',
        weight: 3,
        levels: [1, 3],
        groups: [['grp-coupa-reporting', 'coupa', 'Coupa - Reporting', 'low']],
      },
      {
        name: 'Receiving Coordinator',
        weight: 2,
        levels: [1, 2],
        groups: [['grp-receiving-goods-receipt', 'receiving', 'Receiving - Goods Receipt', 'medium']],
      },
    ],
  },
  {
    key: 'hr',
    name: 'HR',
    weight: 4,
    division: 'G&A',
    head: 'Chief People Officer',
    birthrights: [
      ['greenhouse', 'HR - Greenhouse Recruiting', 'medium'],
      ['lattice', 'HR - Lattice Performance', 'medium'],
    ],
    titles: [
      {
        name: 'HR Business Partner',
        weight: 3,
        levels: [3, 4],
        groups: [['role-pave-comp-approver', 'pave', 'Pave - Compensation Approver', 'high', 'role']],
      },
      { name: 'Recruiter', weight: 4, levels: [1, 3], groups: [] },
      {
        name: 'Payroll Specialist',
        weight: 2,
        levels: [2, 3],
        groups: [['grp-adp-payroll-editor', 'adp', 'ADP - Payroll Editor', 'critical']],
      },
      {
        name: 'HRIS Analyst',
        weight: 2,
        levels: [2, 4],
        groups: [['grp-adp-reports', 'adp', 'ADP - Reports', 'low']],
      },
      { name: 'People Operations Coordinator', weight: 2, levels: [1, 2], groups: [] },
    ],
  },
  {
    key: 'legal',
    name: 'Legal',
    weight: 3,
    division: 'G&A',
    head: 'General Counsel',
    birthrights: [
      ['ironclad', 'Legal - Ironclad Contracts', 'high'],
      ['docusign', 'Legal - DocuSign Senders', 'medium'],
    ],
    titles: [
      {
        name: 'Counsel',
        weight: 3,
        levels: [3, 4],
        groups: [['grp-relativity-reviewers', 'relativity', 'Relativity - eDiscovery Reviewers', 'high']],
      },
      { name: 'Paralegal', weight: 3, levels: [1, 3], groups: [] },
      { name: 'Contracts Manager', weight: 2, levels: [3, 4], groups: [] },
      { name: 'Compliance Analyst', weight: 2, levels: [2, 3], groups: [] },
    ],
  },
  {
    key: 'mkt',
    name: 'Marketing',
    weight: 7,
    division: 'Go-To-Market',
    head: 'Chief Marketing Officer',
    birthrights: [
      ['canva', 'Marketing - Canva Team', 'low'],
      ['wordpress', 'Marketing - Website CMS', 'medium'],
    ],
    titles: [
      {
        name: 'Marketing Coordinator',
        weight: 3,
        levels: [1, 2],
        groups: [['grp-hubspot-viewer', 'hubspot', 'HubSpot - Contacts Viewer', 'low']],
      },
      {
        name: 'Growth Marketer',
        weight: 3,
        levels: [2, 3],
        groups: [['grp-hubspot-campaigns', 'hubspot', 'HubSpot - Campaign Editor', 'medium']],
      },
      {
        name: 'Marketing Operations Specialist',
        weight: 2,
        levels: [2, 4],
        groups: [['grp-hubspot-workflows', 'hubspot', 'HubSpot - Workflow Admin', 'high']],
      },
      { name: 'Content Strategist', weight: 3, levels: [1, 3], groups: [] },
      { name: 'Product Marketing Manager', weight: 2, levels: [3, 4], groups: [] },
    ],
  },
  {
    key: 'sales',
    name: 'Sales',
    weight: 16,
    division: 'Go-To-Market',
    head: 'Chief Revenue Officer',
    birthrights: [
      ['gong', 'Sales - Gong Call Recording', 'medium'],
      ['hubspot', 'Sales - HubSpot Sequences', 'low'],
      ['highspot', 'Sales - Highspot Content', 'low'],
    ],
    titles: [
      {
        name: 'Sales Development Representative',
        weight: 5,
        levels: [1, 2],
        groups: [['grp-salesforce-leads', 'salesforce', 'Salesforce - Leads', 'low']],
      },
      {
        name: 'Account Executive',
        weight: 6,
        levels: [2, 4],
        groups: [['grp-salesforce-opportunities', 'salesforce', 'Salesforce - Opportunities', 'medium']],
      },
      {
        name: 'Sales Operations Analyst',
        weight: 2,
        levels: [2, 4],
        groups: [['grp-salesforce-forecast', 'salesforce', 'Salesforce - Forecast Admin', 'high']],
      },
      {
        name: 'Deal Desk Analyst',
        weight: 2,
        levels: [2, 3],
        groups: [['role-cpq-discount-approver', 'cpq', 'CPQ - Discount Approver', 'high', 'role']],
      },
      { name: 'Solutions Engineer', weight: 3, levels: [2, 4], groups: [] },
    ],
  },
  {
    key: 'sup',
    name: 'Support',
    weight: 12,
    division: 'Go-To-Market',
    head: 'VP of Customer Support',
    birthrights: [
      ['guru', 'Support - Guru Knowledge Base', 'low'],
      ['jira', 'Support - Jira Service Management', 'low'],
    ],
    titles: [
      {
        name: 'Support Agent',
        weight: 8,
        levels: [1, 2],
        groups: [['grp-zendesk-agents', 'zendesk', 'Zendesk - Agents', 'low']],
      },
      {
        name: 'Support Engineer',
        weight: 4,
        levels: [2, 3],
        groups: [['grp-zendesk-tier2', 'zendesk', 'Zendesk - Tier 2', 'medium']],
      },
      {
        name: 'Support Operations Specialist',
        weight: 1,
        levels: [2, 4],
        groups: [['grp-zendesk-workflow-admins', 'zendesk', 'Zendesk - Workflow Admins', 'high']],
      },
      {
        name: 'Customer Success Manager',
        weight: 3,
        levels: [2, 4],
        groups: [
          ['grp-salesforce-customer-success', 'salesforce', 'Salesforce - Customer Success', 'medium'],
        ],
      },
    ],
  },
  {
    key: 'eng',
    name: 'Engineering',
    weight: 22,
    division: 'R&D',
    head: 'VP of Engineering',
    birthrights: [
      ['jira', 'Engineering - Jira Software', 'low'],
      ['datadog', 'Engineering - Datadog Viewers', 'medium'],
      ['sentry', 'Engineering - Sentry', 'low'],
    ],
    titles: [
      {
        name: 'Software Engineer',
        weight: 10,
        levels: [1, 3],
        groups: [['grp-github-contributors', 'github', 'GitHub - Contributors', 'medium']],
      },
      {
        name: 'Senior Software Engineer',
        weight: 6,
        levels: [3, 4],
        groups: [['grp-github-maintainers', 'github', 'GitHub - Maintainers', 'high']],
      },
      {
        name: 'QA Engineer',
        weight: 3,
        levels: [1, 3],
        groups: [['grp-github-readonly', 'github', 'GitHub - Read Only', 'low']],
      },
      {
        name: 'Staff Engineer',
        weight: 2,
        levels: [4, 4],
        groups: [['grp-github-release-managers', 'github', 'GitHub - Release Managers', 'critical']],
      },
      {
        name: 'Site Reliability Engineer',
        weight: 3,
        levels: [2, 4],
        groups: [
          ['grp-spinnaker-prod-deployer', 'spinnaker', 'Spinnaker - Production Deployer', 'high'],
          [
            'role-pagerduty-incident-commander',
            'pagerduty',
            'PagerDuty - Incident Commander',
            'medium',
            'role',
          ],
        ],
      },
    ],
  },
  {
    key: 'it',
    name: 'IT',
    weight: 6,
    division: 'Operations',
    head: 'Chief Information Officer',
    birthrights: [
      ['jamf', 'IT - Jamf Pro Technicians', 'medium'],
      ['datadog', 'IT - Datadog Infrastructure', 'medium'],
    ],
    titles: [
      {
        name: 'IT Support Specialist',
        weight: 5,
        levels: [1, 2],
        groups: [['grp-servicenow-fulfillers', 'servicenow', 'ServiceNow - Fulfillers', 'medium']],
      },
      {
        name: 'Systems Administrator',
        weight: 3,
        levels: [2, 4],
        groups: [['grp-servicenow-change-managers', 'servicenow', 'ServiceNow - Change Managers', 'high']],
      },
      {
        name: 'Network Engineer',
        weight: 2,
        levels: [2, 4],
        groups: [['grp-servicenow-requesters', 'servicenow', 'ServiceNow - Requesters', 'low']],
      },
      {
        name: 'IAM Analyst',
        weight: 2,
        levels: [2, 3],
        groups: [['grp-sailpoint-approvers', 'sailpoint', 'SailPoint - Access Approvers', 'high']],
      },
    ],
  },
  {
    key: 'sec',
    name: 'Security',
    weight: 4,
    division: 'R&D',
    head: 'Chief Information Security Officer',
    birthrights: [
      ['crowdstrike', 'Security - CrowdStrike Falcon Analysts', 'high'],
      ['splunk', 'Security - Splunk SIEM', 'high'],
    ],
    titles: [
      {
        name: 'Security Engineer',
        weight: 3,
        levels: [2, 4],
        groups: [['grp-vault-operators', 'vault', 'Vault - Operators', 'critical']],
      },
      {
        name: 'Security Analyst',
        weight: 3,
        levels: [1, 3],
        groups: [['grp-wiz-readers', 'wiz', 'Wiz - Readers', 'medium']],
      },
      { name: 'GRC Analyst', weight: 2, levels: [2, 3], groups: [] },
    ],
  },
  {
    key: 'ops',
    name: 'Operations',
    weight: 8,
    division: 'Operations',
    head: 'Chief Operating Officer',
    birthrights: [
      ['asana', 'Operations - Asana', 'low'],
      ['smartsheet', 'Operations - Smartsheet', 'low'],
    ],
    titles: [
      { name: 'Operations Analyst', weight: 4, levels: [1, 3], groups: [] },
      { name: 'Program Manager', weight: 3, levels: [3, 4], groups: [] },
      {
        name: 'Facilities Coordinator',
        weight: 2,
        levels: [1, 2],
        groups: [['grp-envoy-front-desk', 'envoy', 'Envoy - Front Desk', 'low']],
      },
    ],
  },
  {
    key: 'data',
    name: 'Data',
    weight: 6,
    division: 'R&D',
    head: 'Chief Data Officer',
    birthrights: [
      ['looker', 'Data - Looker Developers', 'medium'],
      ['github', 'Data - GitHub Analytics Repos', 'medium'],
    ],
    titles: [
      {
        name: 'Data Analyst',
        weight: 4,
        levels: [1, 3],
        groups: [['grp-snowflake-analyst', 'snowflake', 'Snowflake - Analyst', 'low']],
      },
      {
        name: 'Data Scientist',
        weight: 3,
        levels: [2, 4],
        groups: [['grp-snowflake-data-science', 'snowflake', 'Snowflake - Data Science', 'medium']],
      },
      {
        name: 'Data Engineer',
        weight: 3,
        levels: [2, 4],
        groups: [
          ['grp-snowflake-transformer', 'snowflake', 'Snowflake - Transformer', 'high'],
          ['grp-dbt-developers', 'dbt', 'dbt Cloud - Developers', 'medium'],
        ],
      },
    ],
  },
];

const privSpecs: [id: string, app: string, name: string, sens: Sens, dept: string, title: string][] = [
  ['role-ad-domain-admins', 'ad-admin', 'AD Domain Admins', 'critical', 'it', 'Systems Administrator'],
  ['role-firewall-admin', 'firewall-admin', 'Firewall Administrator', 'high', 'it', 'Network Engineer'],
  ['role-okta-super-admin', 'okta-admin', 'Okta Super Administrator', 'critical', 'sec', 'Security Engineer'],
  [
    'role-aws-prod-admin',
    'aws-prod-admin',
    'AWS Production Administrator',
    'critical',
    'eng',
    'Site Reliability Engineer',
  ],
  [
    'role-snowflake-accountadmin',
    'snowflake-admin',
    'Snowflake ACCOUNTADMIN',
    'critical',
    'data',
    'Data Engineer',
  ],
  [
    'role-workday-security-admin',
    'workday-admin',
    'Workday Security Administrator',
    'high',
    'hr',
    'HRIS Analyst',
  ],
  [
    'role-salesforce-sysadmin',
    'salesforce-admin',
    'Salesforce System Administrator',
    'high',
    'sales',
    'Sales Operations Analyst',
  ],
  ['role-netsuite-admin', 'netsuite-admin', 'NetSuite Administrator', 'high', 'fin', 'Accountant'],
];

const sodSpecs: [id: string, name: string, severity: 'high' | 'critical', left: string[], right: string[]][] =
  [
    [
      'sod-fin-vendor-payment',
      'Vendor maintenance vs payment approval',
      'critical',
      ['grp-netsuite-ap-vendor'],
      ['role-billpay-payment-approver'],
    ],
    [
      'sod-proc-po-receipt',
      'Purchase order / supplier creation vs goods receipt',
      'high',
      ['grp-coupa-po-creator', 'grp-coupa-supplier-onboarding'],
      ['grp-receiving-goods-receipt'],
    ],
    [
      'sod-hr-payroll-comp',
      'Payroll maintenance vs compensation approval',
      'critical',
      ['grp-adp-payroll-editor'],
      ['role-pave-comp-approver'],
    ],
    [
      'sod-eng-merge-deploy',
      'Code approval vs production deployment',
      'high',
      ['grp-github-maintainers'],
      ['grp-spinnaker-prod-deployer'],
    ],
    [
      'sod-it-fulfil-approve',
      'Access fulfilment vs access approval',
      'high',
      ['grp-servicenow-fulfillers'],
      ['grp-sailpoint-approvers'],
    ],
    [
      'sod-sales-deal-discount',
      'Opportunity ownership vs discount approval',
      'high',
      ['grp-salesforce-opportunities'],
      ['role-cpq-discount-approver'],
    ],
  ];

const locations: Location[] = [
  { name: 'New York', region: 'NA', weight: 24 },
  { name: 'Austin', region: 'NA', weight: 12 },
  { name: 'San Francisco', region: 'NA', weight: 18 },
  { name: 'London', region: 'EMEA', weight: 20 },
  { name: 'Berlin', region: 'EMEA', weight: 12 },
  { name: 'Singapore', region: 'APAC', weight: 14 },
];

/** Builds the indexed catalog and checks its invariants (throws on a broken catalog). */
export function buildCatalog(): Catalog {
  const ents: EntDef[] = [];
  const entIndex = new Map<string, number>();
  const titles: TitleDef[] = [];
  const depts: DeptDef[] = [];

  const addEnt = (e: EntDef): number => {
    const existing = entIndex.get(e.id);
    if (existing !== undefined) return existing;
    ents.push(e);
    entIndex.set(e.id, ents.length - 1);
    return ents.length - 1;
  };
  const addTitle = (t: TitleDef): number => {
    titles.push(t);
    return titles.length - 1;
  };

  const staffEnt = addEnt({
    id: 'grp-all-staff',
    name: 'All Staff (distribution list)',
    type: 'group',
    app: null,
    privileged: false,
    sensitivity: 'low',
    dept: -1,
    kind: 'staff',
    description: 'Company-wide mailing list. No application access.',
  });
  const companyApps = companySpecs.map(([app, name, sens]) =>
    addEnt({
      id: `app-${app}`,
      name,
      type: 'app',
      app,
      privileged: false,
      sensitivity: sens,
      dept: -1,
      kind: 'company',
      description: `Standard ${name} access for every employee and contractor.`,
    }),
  );

  deptSpecs.forEach((spec, d) => {
    const birthrights = spec.birthrights.map(([app, name, sens]) =>
      addEnt({
        id: `grp-${spec.key}-${app}`,
        name,
        type: 'group',
        app,
        privileged: false,
        sensitivity: sens,
        dept: d,
        kind: 'birthright',
        description: `Birthright access to ${app} for the ${spec.name} department.`,
      }),
    );
    const icTitles = spec.titles.map((t) =>
      addTitle({
        name: t.name,
        dept: d,
        role: 'ic',
        weight: t.weight,
        levelLo: t.levels[0],
        levelHi: t.levels[1],
        groups: t.groups.map(([id, app, name, sens, type]) =>
          addEnt({
            id,
            name,
            type: type ?? 'group',
            app,
            privileged: false,
            sensitivity: sens,
            dept: d,
            kind: 'title',
            description: `Granted to every ${t.name} in ${spec.name}.`,
          }),
        ),
      }),
    );
    const managerTitle = addTitle({
      name: `${spec.name} Manager`,
      dept: d,
      role: 'manager',
      weight: 0,
      levelLo: 5,
      levelHi: 5,
      groups: [],
    });
    const directorTitle = addTitle({
      name: `Director of ${spec.name}`,
      dept: d,
      role: 'director',
      weight: 0,
      levelLo: 6,
      levelHi: 6,
      groups: [],
    });
    const headTitle = addTitle({
      name: spec.head,
      dept: d,
      role: 'head',
      weight: 0,
      levelLo: 7,
      levelHi: 7,
      groups: [],
    });
    depts.push({
      key: spec.key,
      name: spec.name,
      weight: spec.weight,
      division: spec.division,
      costCenters: [`CC-${1000 + d * 100 + 10}`, `CC-${1000 + d * 100 + 20}`],
      birthrights,
      icTitles,
      managerTitle,
      directorTitle,
      headTitle,
    });
  });

  const deptByKey = (key: string): number => {
    const d = depts.findIndex((x) => x.key === key);
    if (d < 0) throw new Error(`catalog: unknown department ${key}`);
    return d;
  };
  const titleByName = (name: string): number => {
    const t = titles.findIndex((x) => x.name === name);
    if (t < 0) throw new Error(`catalog: unknown title ${name}`);
    return t;
  };

  const ceoDept = deptByKey('ops');
  const serviceDept = deptByKey('it');
  const hostileDept = deptByKey('mkt');
  const ceoTitle = addTitle({
    name: 'Chief Executive Officer',
    dept: ceoDept,
    role: 'ceo',
    weight: 0,
    levelLo: 7,
    levelHi: 7,
    groups: [],
  });
  const serviceTitle = addTitle({
    name: 'Service Account',
    dept: serviceDept,
    role: 'service',
    weight: 0,
    levelLo: 0,
    levelHi: 0,
    groups: [],
  });
  const hostileTitleIdx = addTitle({
    name: hostileTitle,
    dept: hostileDept,
    role: 'hostile',
    weight: 0,
    levelLo: 2,
    levelHi: 3,
    groups: [],
  });

  const privRoles = privSpecs.map(([id, app, name, sens, deptKey, title]) => {
    const d = deptByKey(deptKey);
    const t = titleByName(title);
    if (titles[t]?.dept !== d) throw new Error(`catalog: ${title} is not in ${deptKey}`);
    const ent = addEnt({
      id,
      name,
      type: 'role',
      app,
      privileged: true,
      sensitivity: sens,
      dept: d,
      kind: 'privileged',
      description: `Privileged administrative access to ${app}. Use requires a change ticket.`,
    });
    return { ent, title: t };
  });

  // Hostile descriptions on two ordinary birthright groups.
  const cms = ents[entIndex.get('grp-mkt-wordpress') ?? -1];
  if (cms) cms.description = hostileDescription;
  const asana = ents[entIndex.get('grp-ops-asana') ?? -1];
  if (asana) asana.description = hostileDescription2;

  const idx = (id: string): number => {
    const i = entIndex.get(id);
    if (i === undefined) throw new Error(`catalog: unknown entitlement ${id}`);
    return i;
  };
  const sodRules = sodSpecs.map(([id, name, severity, left, right]) => ({
    id,
    name,
    severity,
    left: left.map(idx),
    right: right.map(idx),
  }));

  const catalog: Catalog = {
    depts,
    titles,
    ents,
    entIndex,
    companyApps,
    staffEnt,
    privRoles,
    sodRules,
    locations,
    ceoTitle,
    serviceTitle,
    hostileTitle: hostileTitleIdx,
    ceoDept,
    serviceDept,
    hostileDept,
  };
  checkCatalog(catalog);
  return catalog;
}

function checkCatalog(c: Catalog): void {
  const fail = (msg: string): never => {
    throw new Error(`demo catalog invariant broken: ${msg}`);
  };
  const appOf = (e: number): string | null => c.ents[e]?.app ?? null;
  const companyAppNames = new Set(c.companyApps.map(appOf));
  const usage = new Map<string, number>();
  for (const e of c.ents) if (e.app) usage.set(e.app, (usage.get(e.app) ?? 0) + 1);
  for (const e of c.ents) {
    if (!e.app) continue;
    if (e.kind !== 'company' && companyAppNames.has(e.app)) fail(`${e.id} uses company app ${e.app}`);
    if ((e.kind === 'privileged' || e.kind === 'company') && usage.get(e.app) !== 1)
      fail(`${e.app} is shared`);
  }
  for (const d of c.depts) {
    const bApps = d.birthrights.map(appOf);
    if (new Set(bApps).size !== bApps.length) fail(`${d.name} birthright apps repeat`);
    if (d.birthrights.length < 2 || d.birthrights.length > 4) fail(`${d.name} birthright count`);
    for (const t of d.icTitles) {
      const tApps = (c.titles[t]?.groups ?? []).map(appOf);
      if (new Set(tApps).size !== tApps.length) fail(`${c.titles[t]?.name} groups repeat an app`);
      for (const a of tApps) if (bApps.includes(a)) fail(`${c.titles[t]?.name} group on birthright app ${a}`);
    }
  }
  for (const r of c.sodRules) {
    const sideTitles = (side: number[]) =>
      c.titles.filter((t) => t.groups.some((g) => side.includes(g))).map((t) => c.titles.indexOf(t));
    const lt = sideTitles(r.left);
    const rt = sideTitles(r.right);
    for (const t of lt) if (rt.includes(t)) fail(`${r.id}: a title holds both sides`);
    const sideApps = (side: number[]) => new Set(side.map(appOf));
    const la = sideApps(r.left);
    const ra = sideApps(r.right);
    for (const t of lt)
      for (const g of c.titles[t]?.groups ?? []) if (ra.has(appOf(g))) fail(`${r.id} app overlap`);
    for (const t of rt)
      for (const g of c.titles[t]?.groups ?? []) if (la.has(appOf(g))) fail(`${r.id} app overlap`);
  }
}
