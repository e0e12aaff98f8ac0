/**
 * The hospital tenant's catalogue (data only): departments with their titles, the apps, and each
 * app's many entitlements (an access group, title roles that bundle permissions, fine-grained
 * permissions, viewer and lead groups), birthright groups per department and project groups.
 * Unlike the demo tenant, most apps carry several entitlements, and access reaches users through
 * nested groups, so what is and is not redundant follows from `includes` alone.
 */

export type HospEntType = 'app' | 'group' | 'role';

/** One entitlement of the hospital. `includes` are ids of what it grants to its holders. */
export interface HospEnt {
  id: string;
  name: string;
  type: HospEntType;
  app: string | null;
  privileged?: boolean;
  sensitivity?: 'low' | 'medium' | 'high' | 'critical';
  includes?: string[];
  description?: string;
}

/** A job title of a department: its share of the department, and what the job is given. */
export interface HospTitle {
  name: string;
  share: number;
  /** Roles and groups assigned for the job (directly, or by rule for `ruleRoles`). */
  roles: string[];
  /** Permissions granted directly for the job (not bundled by any role the job holds). */
  perms?: string[];
  /** The job's roles come by an HR rule (source `rule`) rather than a request. */
  ruleRoles?: boolean;
}

export interface HospDept {
  key: string;
  name: string;
  share: number;
  clinical: boolean;
  titles: HospTitle[];
}

/** App keys are the `app` names the activity log uses. */
export const APPS = {
  ehr: 'Epicure EHR',
  dispense: 'MedDispense',
  pacs: 'PACS Imaging',
  lab: 'LabTrack LIS',
  ledger: 'Ledger ERP',
  procure: 'ProcureNet',
  dw: 'Insight Warehouse',
  people: 'PeopleHub',
  payroll: 'PayRun',
  itsm: 'ServiceDesk',
  diradmin: 'Directory Admin',
  rostr: 'Rostr Scheduling',
  mail: 'Outlook Mail',
  intranet: 'StaffNet',
  learn: 'LearnHub',
  badge: 'Badge Access',
  collab: 'Collab Sites',
} as const;

const app = (id: string, name: string, a: string, extra: Partial<HospEnt> = {}): HospEnt => ({
  id,
  name,
  type: 'app',
  app: a,
  ...extra,
});
const role = (
  id: string,
  name: string,
  a: string,
  includes: string[],
  extra: Partial<HospEnt> = {},
): HospEnt => ({
  id,
  name,
  type: 'role',
  app: a,
  includes,
  ...extra,
});
const perm = (id: string, name: string, a: string, extra: Partial<HospEnt> = {}): HospEnt => ({
  id,
  name,
  type: 'role',
  app: a,
  ...extra,
});
const group = (
  id: string,
  name: string,
  a: string | null,
  includes: string[],
  extra: Partial<HospEnt> = {},
) => ({ id, name, type: 'group', app: a, includes, ...extra }) satisfies HospEnt;

/** Every entitlement but the per-department birthright groups and the project groups. */
export const hospitalEntitlements: HospEnt[] = [
  // Company-wide apps (the badge system keeps no sign-in log).
  app('app-mail', 'Outlook Mail users', APPS.mail, { sensitivity: 'low' }),
  app('app-intranet', 'StaffNet users', APPS.intranet, { sensitivity: 'low' }),
  app('app-learn', 'LearnHub learners', APPS.learn, { sensitivity: 'low' }),
  app('app-badge', 'Badge Access holders', APPS.badge, { sensitivity: 'low' }),
  group('bg-all-staff', 'All Staff', null, ['app-mail', 'app-intranet', 'app-learn', 'app-badge']),
  group('bg-clinical', 'Clinical Staff', null, ['app-ehr', 'app-lab']),
  // Epicure EHR: access, title roles, fine-grained permissions.
  app('app-ehr', 'Epicure EHR access', APPS.ehr),
  perm('perm-ehr-prescribe', 'EHR: Prescribe', APPS.ehr, { sensitivity: 'high' }),
  perm('perm-ehr-sign-orders', 'EHR: Sign Orders', APPS.ehr, { sensitivity: 'high' }),
  perm('perm-ehr-document', 'EHR: Clinical Documentation', APPS.ehr),
  perm('perm-ehr-med-admin', 'EHR: Medication Administration', APPS.ehr, { sensitivity: 'high' }),
  perm('perm-ehr-registration', 'EHR: Patient Registration', APPS.ehr),
  perm('perm-ehr-break-glass', 'EHR: Break-Glass Access', APPS.ehr, {
    privileged: true,
    sensitivity: 'critical',
  }),
  role('role-ehr-physician', 'EHR Physician', APPS.ehr, [
    'app-ehr',
    'perm-ehr-prescribe',
    'perm-ehr-sign-orders',
    'perm-ehr-document',
  ]),
  role('role-ehr-nurse', 'EHR Nurse', APPS.ehr, ['app-ehr', 'perm-ehr-document', 'perm-ehr-med-admin']),
  // A role whose permissions live inside the app: its includes are only the app's access.
  role('role-ehr-clerk', 'EHR Unit Clerk', APPS.ehr, ['app-ehr']),
  role('role-ehr-registrar', 'EHR Registrar', APPS.ehr, ['app-ehr', 'perm-ehr-registration']),
  // MedDispense.
  app('app-dispense', 'MedDispense access', APPS.dispense, { sensitivity: 'high' }),
  perm('perm-dispense-dispense', 'MedDispense: Dispense Medication', APPS.dispense, { sensitivity: 'high' }),
  perm('perm-dispense-verify', 'MedDispense: Verify Orders', APPS.dispense, { sensitivity: 'high' }),
  perm('perm-dispense-withdraw', 'MedDispense: Withdraw from Cabinet', APPS.dispense, {
    sensitivity: 'high',
  }),
  perm('perm-dispense-restock', 'MedDispense: Restock Cabinet', APPS.dispense),
  perm('perm-dispense-controlled', 'MedDispense: Controlled Substances', APPS.dispense, {
    sensitivity: 'critical',
  }),
  perm('perm-dispense-override', 'MedDispense: Cabinet Override', APPS.dispense, {
    privileged: true,
    sensitivity: 'critical',
  }),
  role('role-dispense-pharmacist', 'MedDispense Pharmacist', APPS.dispense, [
    'app-dispense',
    'perm-dispense-dispense',
    'perm-dispense-verify',
  ]),
  role('role-dispense-nurse', 'MedDispense Nurse', APPS.dispense, ['app-dispense', 'perm-dispense-withdraw']),
  role('role-dispense-tech', 'MedDispense Technician', APPS.dispense, [
    'app-dispense',
    'perm-dispense-restock',
  ]),
  // PACS: a viewers group and a leads group that grants everything viewers has and more.
  app('app-pacs', 'PACS access', APPS.pacs),
  perm('perm-pacs-view', 'PACS: View Studies', APPS.pacs),
  perm('perm-pacs-report', 'PACS: Report Studies', APPS.pacs, { sensitivity: 'high' }),
  perm('perm-pacs-annotate', 'PACS: Annotate', APPS.pacs),
  group('grp-pacs-viewers', 'PACS Viewers', APPS.pacs, ['app-pacs', 'perm-pacs-view']),
  group('grp-pacs-leads', 'PACS Reading Leads', APPS.pacs, [
    'app-pacs',
    'perm-pacs-view',
    'perm-pacs-report',
    'perm-pacs-annotate',
  ]),
  // LabTrack.
  app('app-lab', 'LabTrack access', APPS.lab),
  perm('perm-lab-order', 'LabTrack: Order Tests', APPS.lab),
  perm('perm-lab-result', 'LabTrack: Enter Results', APPS.lab, { sensitivity: 'high' }),
  perm('perm-lab-validate', 'LabTrack: Validate Results', APPS.lab, { sensitivity: 'high' }),
  perm('perm-lab-collect', 'LabTrack: Specimen Collection', APPS.lab),
  role('role-lab-scientist', 'LabTrack Scientist', APPS.lab, [
    'app-lab',
    'perm-lab-result',
    'perm-lab-validate',
  ]),
  role('role-lab-phlebotomist', 'LabTrack Phlebotomist', APPS.lab, ['app-lab', 'perm-lab-collect']),
  // Ledger ERP: fine-grained finance permissions, two of which must not meet.
  app('app-ledger', 'Ledger ERP access', APPS.ledger),
  perm('perm-ledger-invoice', 'Ledger: Invoice Entry', APPS.ledger),
  perm('perm-ledger-receipts', 'Ledger: Cash Receipts', APPS.ledger),
  perm('perm-ledger-journal', 'Ledger: Post Journals', APPS.ledger, { sensitivity: 'high' }),
  perm('perm-ledger-vendor-master', 'Ledger: Vendor Master', APPS.ledger, { sensitivity: 'high' }),
  perm('perm-ledger-approve-payments', 'Ledger: Approve Payments', APPS.ledger, { sensitivity: 'critical' }),
  role('role-ledger-ap', 'Ledger AP Clerk', APPS.ledger, ['app-ledger', 'perm-ledger-invoice']),
  role('role-ledger-ar', 'Ledger AR Clerk', APPS.ledger, ['app-ledger', 'perm-ledger-receipts']),
  role('role-ledger-accountant', 'Ledger Accountant', APPS.ledger, [
    'app-ledger',
    'perm-ledger-journal',
    'perm-ledger-receipts',
  ]),
  // ProcureNet.
  app('app-procure', 'ProcureNet access', APPS.procure),
  perm('perm-procure-po', 'ProcureNet: Raise Purchase Orders', APPS.procure),
  perm('perm-procure-approve', 'ProcureNet: Approve Purchase Orders', APPS.procure, { sensitivity: 'high' }),
  role('role-procure-buyer', 'ProcureNet Buyer', APPS.procure, ['app-procure', 'perm-procure-po']),
  // Insight Warehouse: readers and analysts (analysts include all readers have).
  app('app-dw', 'Insight Warehouse access', APPS.dw),
  perm('perm-dw-read', 'Warehouse: Read Marts', APPS.dw),
  perm('perm-dw-export', 'Warehouse: Export Data', APPS.dw, { sensitivity: 'high' }),
  group('grp-dw-readers', 'Warehouse Readers', APPS.dw, ['app-dw', 'perm-dw-read']),
  group('grp-dw-analysts', 'Warehouse Analysts', APPS.dw, ['app-dw', 'perm-dw-read', 'perm-dw-export']),
  // PeopleHub and PayRun.
  app('app-people', 'PeopleHub access', APPS.people),
  perm('perm-people-records', 'PeopleHub: Employee Records', APPS.people, { sensitivity: 'high' }),
  perm('perm-people-requisitions', 'PeopleHub: Requisitions', APPS.people),
  perm('perm-people-compensation', 'PeopleHub: Compensation', APPS.people, { sensitivity: 'critical' }),
  role('role-people-generalist', 'PeopleHub Generalist', APPS.people, ['app-people', 'perm-people-records']),
  role('role-people-recruiter', 'PeopleHub Recruiter', APPS.people, [
    'app-people',
    'perm-people-requisitions',
  ]),
  app('app-payroll', 'PayRun access', APPS.payroll, { sensitivity: 'high' }),
  perm('perm-payroll-run', 'PayRun: Run Payroll', APPS.payroll, {
    privileged: true,
    sensitivity: 'critical',
  }),
  role('role-payroll-specialist', 'PayRun Specialist', APPS.payroll, ['app-payroll', 'perm-payroll-run']),
  // ServiceDesk and directory administration (a separate console: its own app).
  app('app-itsm', 'ServiceDesk access', APPS.itsm),
  perm('perm-itsm-resolve', 'ServiceDesk: Resolve Tickets', APPS.itsm),
  perm('perm-itsm-config', 'ServiceDesk: Configuration', APPS.itsm, { sensitivity: 'high' }),
  role('role-itsm-agent', 'ServiceDesk Agent', APPS.itsm, ['app-itsm', 'perm-itsm-resolve']),
  role('role-itsm-admin', 'ServiceDesk Administrator', APPS.itsm, ['app-itsm', 'perm-itsm-config']),
  perm('perm-dir-password-reset', 'Directory: Password Reset', APPS.diradmin, { sensitivity: 'high' }),
  perm('role-dir-domain-admin', 'Directory: Domain Admin', APPS.diradmin, {
    privileged: true,
    sensitivity: 'critical',
  }),
  // On-call groups that include each other (a cycle the platform allows).
  group('grp-it-oncall', 'IT On-Call', APPS.itsm, ['grp-it-escalation', 'app-itsm']),
  group('grp-it-escalation', 'IT Escalation', APPS.itsm, ['grp-it-oncall']),
  // Rostr.
  app('app-rostr', 'Rostr access', APPS.rostr, { sensitivity: 'low' }),
  perm('perm-rostr-edit', 'Rostr: Edit Rosters', APPS.rostr),
  role('role-rostr-scheduler', 'Rostr Scheduler', APPS.rostr, ['app-rostr', 'perm-rostr-edit']),
];

/** Apps each department's birthright group includes, besides Clinical Staff for clinical ones. */
export const deptApps: Record<string, string[]> = {
  ed: ['app-dispense', 'app-pacs', 'app-rostr'],
  card: ['app-pacs', 'app-rostr'],
  onc: ['app-dispense', 'app-rostr'],
  rad: ['app-pacs', 'app-rostr'],
  pha: ['app-dispense', 'app-procure'],
  lab: ['app-rostr'],
  fin: ['app-ledger', 'app-procure'],
  hr: ['app-people'],
  it: ['app-itsm'],
  ops: ['app-rostr', 'app-dw'],
  exec: [],
};

export const hospitalDepts: HospDept[] = [
  {
    key: 'ed',
    name: 'Emergency Department',
    share: 0.14,
    clinical: true,
    titles: [
      {
        name: 'Emergency Physician',
        share: 0.18,
        roles: ['role-ehr-physician', 'grp-pacs-viewers'],
        perms: ['perm-ehr-break-glass', 'perm-lab-order'],
      },
      {
        name: 'ED Nurse',
        share: 0.55,
        roles: ['role-ehr-nurse', 'role-dispense-nurse'],
        perms: ['perm-lab-order'],
        ruleRoles: true,
      },
      { name: 'ED Unit Clerk', share: 0.15, roles: ['role-ehr-clerk', 'role-ehr-registrar'] },
      { name: 'ED Technician', share: 0.12, roles: ['role-lab-phlebotomist'] },
    ],
  },
  {
    key: 'card',
    name: 'Cardiology',
    share: 0.1,
    clinical: true,
    titles: [
      {
        name: 'Cardiologist',
        share: 0.2,
        roles: ['role-ehr-physician', 'grp-pacs-viewers'],
        perms: ['perm-lab-order'],
      },
      {
        name: 'Cardiac Nurse',
        share: 0.6,
        roles: ['role-ehr-nurse'],
        perms: ['perm-lab-order'],
        ruleRoles: true,
      },
      { name: 'Echo Technician', share: 0.2, roles: ['role-ehr-clerk', 'grp-pacs-viewers'] },
    ],
  },
  {
    key: 'onc',
    name: 'Oncology',
    share: 0.09,
    clinical: true,
    titles: [
      { name: 'Oncologist', share: 0.2, roles: ['role-ehr-physician'], perms: ['perm-lab-order'] },
      {
        name: 'Oncology Nurse',
        share: 0.65,
        roles: ['role-ehr-nurse', 'role-dispense-nurse'],
        ruleRoles: true,
      },
      { name: 'Oncology Coordinator', share: 0.15, roles: ['role-ehr-registrar', 'role-rostr-scheduler'] },
    ],
  },
  {
    key: 'rad',
    name: 'Radiology',
    share: 0.08,
    clinical: true,
    titles: [
      { name: 'Radiologist', share: 0.3, roles: ['role-ehr-physician', 'grp-pacs-leads'] },
      { name: 'Radiographer', share: 0.55, roles: ['role-ehr-clerk', 'grp-pacs-viewers'] },
      { name: 'Radiology Nurse', share: 0.15, roles: ['role-ehr-nurse'] },
    ],
  },
  {
    key: 'pha',
    name: 'Pharmacy',
    share: 0.07,
    clinical: true,
    titles: [
      {
        name: 'Pharmacist',
        share: 0.45,
        roles: ['role-dispense-pharmacist'],
        perms: ['perm-dispense-controlled'],
      },
      { name: 'Pharmacy Technician', share: 0.45, roles: ['role-dispense-tech'] },
      { name: 'Pharmacy Buyer', share: 0.1, roles: ['role-procure-buyer'] },
    ],
  },
  {
    key: 'lab',
    name: 'Laboratory',
    share: 0.08,
    clinical: true,
    titles: [
      { name: 'Lab Scientist', share: 0.6, roles: ['role-lab-scientist'], ruleRoles: true },
      { name: 'Phlebotomist', share: 0.4, roles: ['role-lab-phlebotomist'] },
    ],
  },
  {
    key: 'fin',
    name: 'Finance',
    share: 0.08,
    clinical: false,
    titles: [
      { name: 'AP Clerk', share: 0.35, roles: ['role-ledger-ap'] },
      { name: 'AR Clerk', share: 0.25, roles: ['role-ledger-ar'] },
      { name: 'Accountant', share: 0.3, roles: ['role-ledger-accountant', 'grp-dw-readers'] },
      {
        name: 'Financial Controller',
        share: 0.1,
        roles: ['role-ledger-accountant', 'grp-dw-analysts'],
        perms: ['perm-ledger-approve-payments', 'perm-procure-approve'],
      },
    ],
  },
  {
    key: 'hr',
    name: 'Human Resources',
    share: 0.05,
    clinical: false,
    titles: [
      { name: 'HR Generalist', share: 0.5, roles: ['role-people-generalist'] },
      { name: 'Recruiter', share: 0.3, roles: ['role-people-recruiter'] },
      {
        name: 'Payroll Specialist',
        share: 0.2,
        roles: ['role-payroll-specialist', 'role-people-generalist'],
        perms: ['perm-people-compensation'],
      },
    ],
  },
  {
    key: 'it',
    name: 'Information Technology',
    share: 0.07,
    clinical: false,
    titles: [
      {
        name: 'Service Desk Analyst',
        share: 0.55,
        roles: ['role-itsm-agent'],
        perms: ['perm-dir-password-reset'],
      },
      {
        name: 'Systems Engineer',
        share: 0.35,
        roles: ['role-itsm-admin', 'grp-it-oncall'],
        perms: ['role-dir-domain-admin'],
      },
      { name: 'Data Engineer', share: 0.1, roles: ['grp-dw-analysts', 'role-itsm-agent'] },
    ],
  },
  {
    key: 'ops',
    name: 'Clinical Operations',
    share: 0.22,
    clinical: true,
    titles: [
      { name: 'Operations Coordinator', share: 0.4, roles: ['role-ehr-clerk', 'grp-dw-readers'] },
      { name: 'Bed Manager', share: 0.25, roles: ['role-ehr-registrar'] },
      { name: 'Scheduler', share: 0.35, roles: ['role-rostr-scheduler', 'role-ehr-clerk'], ruleRoles: true },
    ],
  },
  {
    key: 'exec',
    name: 'Executive Office',
    share: 0.02,
    clinical: false,
    titles: [{ name: 'Executive Assistant', share: 1, roles: ['grp-dw-readers'] }],
  },
];

/** Project groups: each grants its own collaboration site, held by a few whole teams. */
export const hospitalProjects = [
  'Sepsis Pathway',
  'EHR Upgrade 2027',
  'Budget Planning',
  'Stroke Protocol',
  'Supply Chain Review',
  'Patient Flow',
  'Antimicrobial Stewardship',
  'Nurse Staffing Model',
] as const;

/** Separation-of-duties rules: [id, name, left, right]. */
export const hospitalSodRules: Array<[string, string, string, string]> = [
  [
    'sod-vendor-pay',
    'Vendor master vs payment approval',
    'perm-ledger-vendor-master',
    'perm-ledger-approve-payments',
  ],
  [
    'sod-controlled-buy',
    'Controlled substances vs purchase approval',
    'perm-dispense-controlled',
    'perm-procure-approve',
  ],
];
