/**
 * The state of an emulated Microsoft Entra tenant (see entra.ts for the HTTPS server),
 * and a seeded generator. Tests read and change it directly; every change goes through a
 * method that records it for delta queries.
 */
import { createRng } from '../../src/analysis/stats.js';

export interface SignInActivity {
  lastSignInDateTime: string;
  lastSignInRequestId: string;
  lastNonInteractiveSignInDateTime: string;
  lastNonInteractiveSignInRequestId: string;
  lastSuccessfulSignInDateTime?: string;
  lastSuccessfulSignInRequestId?: string;
}

export interface EmuUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail: string | null;
  accountEnabled: boolean;
  userType: 'Member' | 'Guest';
  externalUserState: string | null;
  createdDateTime: string;
  department: string | null;
  jobTitle: string | null;
  employeeType: string | null;
  employeeId: string | null;
  employeeHireDate: string | null;
  onPremisesSyncEnabled: boolean | null;
  officeLocation: string | null;
  city: string | null;
  country: string | null;
  managerId: string | null;
  signInActivity: SignInActivity;
}

export interface EmuGroup {
  id: string;
  displayName: string;
  description: string | null;
  groupTypes: string[];
  securityEnabled: boolean;
  mailEnabled: boolean;
  mailNickname: string;
  membershipRule: string | null;
  membershipRuleProcessingState: string | null;
  isAssignableToRole: boolean;
  onPremisesSyncEnabled: boolean | null;
  createdDateTime: string;
}

export interface EmuAppRole {
  id: string;
  displayName: string;
  value: string | null;
  description: string;
  allowedMemberTypes: string[];
  isEnabled: boolean;
}

export interface EmuServicePrincipal {
  id: string;
  appId: string;
  displayName: string;
  tags: string[];
  appRoles: EmuAppRole[];
  servicePrincipalType: 'Application';
}

export interface EmuAppRoleAssignment {
  id: string;
  appRoleId: string;
  principalId: string;
  principalType: 'User' | 'Group' | 'ServicePrincipal';
  principalDisplayName: string;
  resourceId: string;
  resourceDisplayName: string;
  createdDateTime: string;
}

export interface EmuRoleDefinition {
  id: string;
  displayName: string;
  description: string;
  templateId: string;
  isBuiltIn: boolean;
  isEnabled: boolean;
  isPrivileged: boolean;
}

export interface EmuRoleAssignment {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  directoryScopeId: string;
}

export interface EmuSignIn {
  id: string;
  createdDateTime: string;
  userId: string;
  userPrincipalName: string;
  userDisplayName: string;
  appId: string;
  appDisplayName: string;
  isInteractive: boolean;
  status: { errorCode: number; failureReason: string | null; additionalDetails: string | null };
}

export interface EmuDefinition {
  id: string;
  displayName: string;
  status: string;
  descriptionForReviewers: string;
  createdDateTime: string;
  scope: { '@odata.type': string; query: string; queryType: string };
  reviewers: Array<{ query: string; queryType: string; queryRoot: string | null }>;
  settings: {
    justificationRequiredOnApproval: boolean;
    autoApplyDecisionsEnabled: boolean;
    recommendationsEnabled: boolean;
    defaultDecisionEnabled: boolean;
    defaultDecision: string;
    instanceDurationInDays: number;
  };
  /** Multi-stage reviews: one entry per stage (empty for a single-stage review). */
  stageSettings: Array<{ stageId: string; durationInDays: number; dependsOn: string[] }>;
}

export interface EmuStage {
  id: string;
  instanceId: string;
  startDateTime: string;
  endDateTime: string;
  status: 'NotStarted' | 'InProgress' | 'Completed';
}

export interface EmuInstance {
  id: string;
  definitionId: string;
  startDateTime: string;
  endDateTime: string;
  status: 'NotStarted' | 'InProgress' | 'Completing' | 'Completed' | 'AutoReviewed';
}

export interface EmuIdentity {
  id: string;
  displayName: string;
  userPrincipalName: string;
}

export interface EmuDecision {
  id: string;
  instanceId: string;
  decision: 'Approve' | 'Deny' | 'NotReviewed' | 'DontKnow';
  recommendation: 'Approve' | 'Deny' | 'NoInfoAvailable';
  justification: string;
  reviewedDateTime: string | null;
  reviewedBy: EmuIdentity;
  principalId: string;
  resource: { id: string; displayName: string; type: 'group' | 'servicePrincipal' };
  /** In a multi-stage review: the stage the decision belongs to. */
  stageId?: string;
  /** The principal's last sign-in and whether peers hold it: the two insight kinds. */
  lastSignIn: string | null;
  outlier: boolean;
}

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';
export const NEVER = '0001-01-01T00:00:00Z';
export const INTEGRATED_APP_TAG = 'WindowsAzureActiveDirectoryIntegratedApp';

/** Built-in directory roles by template id (the ids Entra uses in every tenant). */
export const BUILT_IN_ROLES: Array<[string, string, boolean]> = [
  ['62e90394-69f5-4237-9190-012177145e10', 'Global Administrator', true],
  ['e8611ab8-c189-46e8-94e1-60213ab1f814', 'Privileged Role Administrator', true],
  ['fe930be7-5e62-47db-91af-98c3a49a38b1', 'User Administrator', true],
  ['729827e3-9c14-49f7-bb1b-9608f156bbb8', 'Helpdesk Administrator', true],
  ['f2ef992c-3afb-46b9-b7cf-a126ee74c451', 'Global Reader', true],
  ['88d8e3e3-8f55-4a1e-953a-9b9898b8876b', 'Directory Readers', false],
  ['29232cdf-9323-42fd-ade2-1d097af3e4de', 'Exchange Administrator', false],
];

/** A change, for delta queries: the version it happened at. */
type Change =
  | { v: number; kind: 'user'; id: string; removed: boolean }
  | { v: number; kind: 'group'; id: string; removed: boolean }
  | {
      v: number;
      kind: 'member';
      groupId: string;
      memberId: string;
      memberType: 'user' | 'group';
      removed: boolean;
    };

export class EntraTenant {
  tenantId = '';
  users: EmuUser[] = [];
  groups: EmuGroup[] = [];
  /** group id → member ids (users and groups). */
  members = new Map<string, string[]>();
  servicePrincipals: EmuServicePrincipal[] = [];
  appRoleAssignments: EmuAppRoleAssignment[] = [];
  roleDefinitions: EmuRoleDefinition[] = [];
  roleAssignments: EmuRoleAssignment[] = [];
  roleEligibilities: EmuRoleAssignment[] = [];
  signIns: EmuSignIn[] = [];
  definitions: EmuDefinition[] = [];
  instances: EmuInstance[] = [];
  decisions: EmuDecision[] = [];
  stages: EmuStage[] = [];
  /** Users deleted through the API (the DELETE without $ref deletes the member object itself). */
  deletedUsers: EmuUser[] = [];
  /** Every decision write the tenant accepted. */
  decisionWrites: Array<{
    instanceId: string;
    decisionIds: string[];
    decision: string;
    justification: string;
    via: 'batchRecordDecisions' | 'patch';
    at: string;
  }> = [];
  version = 1;
  changes: Change[] = [];

  private index: {
    key: string;
    lists: unknown[];
    users: Map<string, EmuUser>;
    groups: Map<string, EmuGroup>;
    sps: Map<string, EmuServicePrincipal>;
  } | null = null;

  /** Lookups by id, rebuilt when a list changed (tests may replace or extend them). */
  private lookup() {
    const key = `${this.users.length}/${this.groups.length}/${this.servicePrincipals.length}`;
    const i = this.index;
    if (
      i === null ||
      i.key !== key ||
      i.lists[0] !== this.users ||
      i.lists[1] !== this.groups ||
      i.lists[2] !== this.servicePrincipals
    ) {
      this.index = {
        key,
        lists: [this.users, this.groups, this.servicePrincipals],
        users: new Map(this.users.map((u) => [u.id, u])),
        groups: new Map(this.groups.map((g) => [g.id, g])),
        sps: new Map(this.servicePrincipals.map((x) => [x.id, x])),
      };
    }
    return this.index!;
  }

  user(id: string): EmuUser | undefined {
    return this.lookup().users.get(id);
  }

  group(id: string): EmuGroup | undefined {
    return this.lookup().groups.get(id);
  }

  sp(id: string): EmuServicePrincipal | undefined {
    return this.lookup().sps.get(id);
  }

  isMember(groupId: string, memberId: string): boolean {
    return this.members.get(groupId)?.includes(memberId) ?? false;
  }

  /** Groups the object is in directly or through nested groups. */
  transitiveGroupsOf(id: string): string[] {
    const out = new Set<string>();
    const walk = (member: string) => {
      for (const [g, ids] of this.members) {
        if (ids.includes(member) && !out.has(g)) {
          out.add(g);
          walk(g);
        }
      }
    };
    walk(id);
    return [...out];
  }

  private bump(c: Omit<Change, 'v'> & Record<string, unknown>): void {
    this.version++;
    this.changes.push({ ...c, v: this.version } as Change);
  }

  updateUser(id: string, patch: Partial<EmuUser>): void {
    const u = this.user(id);
    if (!u) throw new Error(`no user ${id}`);
    Object.assign(u, patch);
    this.bump({ kind: 'user', id, removed: false });
  }

  deleteUser(id: string): void {
    const i = this.users.findIndex((u) => u.id === id);
    if (i < 0) return;
    this.deletedUsers.push(this.users[i]!);
    this.users.splice(i, 1);
    for (const [g, ids] of this.members) if (ids.includes(id)) this.removeMember(g, id);
    this.appRoleAssignments = this.appRoleAssignments.filter((a) => a.principalId !== id);
    this.roleAssignments = this.roleAssignments.filter((a) => a.principalId !== id);
    this.bump({ kind: 'user', id, removed: true });
  }

  addMember(groupId: string, memberId: string): void {
    const ids = this.members.get(groupId) ?? [];
    if (ids.includes(memberId)) return;
    ids.push(memberId);
    this.members.set(groupId, ids);
    const memberType = this.group(memberId) ? 'group' : 'user';
    this.bump({ kind: 'member', groupId, memberId, memberType, removed: false });
  }

  removeMember(groupId: string, memberId: string): boolean {
    const ids = this.members.get(groupId);
    const i = ids?.indexOf(memberId) ?? -1;
    if (!ids || i < 0) return false;
    ids.splice(i, 1);
    const memberType = this.group(memberId) ? 'group' : 'user';
    this.bump({ kind: 'member', groupId, memberId, memberType, removed: true });
    return true;
  }

  deleteGroup(id: string): void {
    this.groups = this.groups.filter((g) => g.id !== id);
    this.members.delete(id);
    for (const ids of this.members.values()) {
      const i = ids.indexOf(id);
      if (i >= 0) ids.splice(i, 1);
    }
    this.appRoleAssignments = this.appRoleAssignments.filter((a) => a.principalId !== id);
    this.bump({ kind: 'group', id, removed: true });
  }

  /** Direct app role assignments of a user, and whether they hold the role through a group. */
  holdsAppRole(userId: string, spId: string, appRoleId: string): boolean {
    const groups = new Set(this.transitiveGroupsOf(userId).filter((g) => this.isMember(g, userId)));
    return this.appRoleAssignments.some(
      (a) =>
        a.resourceId === spId &&
        a.appRoleId === appRoleId &&
        (a.principalId === userId || (a.principalType === 'Group' && groups.has(a.principalId))),
    );
  }

  holdsRole(userId: string, roleDefinitionId: string): boolean {
    const groups = new Set(this.transitiveGroupsOf(userId));
    return this.roleAssignments.some(
      (a) =>
        a.roleDefinitionId === roleDefinitionId && (a.principalId === userId || groups.has(a.principalId)),
    );
  }

  stats(): { users: number; groups: number; memberships: number; appRoleAssignments: number } {
    let memberships = 0;
    for (const ids of this.members.values()) memberships += ids.length;
    return {
      users: this.users.length,
      groups: this.groups.length,
      memberships,
      appRoleAssignments: this.appRoleAssignments.length,
    };
  }
}

export interface GenerateEntraOptions {
  users: number;
  /** Total assignments to aim for: memberships and app role assignments (directory roles come on top). */
  assignments: number;
  seed?: number;
  now?: Date;
  /** Decision items in the in-progress review (default min(120, assignments / 4)). */
  reviews?: number;
  /** Sign-in events per active user (default 2). */
  signInsPerUser?: number;
}

/** A GUID-shaped id from the seeded generator. */
export function guid(rnd: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const DEPARTMENTS: Record<string, string[]> = {
  Engineering: ['Software Engineer', 'Senior Software Engineer', 'Engineering Manager'],
  Finance: ['Accountant', 'Controller', 'Finance Manager'],
  Sales: ['Account Executive', 'Sales Manager'],
  Support: ['Support Agent', 'Support Lead'],
  IT: ['IT Administrator', 'Helpdesk Technician', 'Security Engineer'],
};
const FIRST = ['Ana', 'Ben', 'Chloe', 'Dev', 'Eva', 'Finn', 'Gia', 'Hugo', 'Ines', 'Jon', 'Kai', 'Lea'];
const LAST = ['Lee', 'Smith', 'Garcia', 'Khan', 'Novak', 'Silva', 'Tanaka', 'Okafor', 'Berg'];
const APPS = [
  'Salesforce',
  'Workday',
  'GitHub Enterprise',
  'ServiceNow',
  'Slack',
  'Jira',
  'Snowflake',
  'Tableau',
];

/**
 * A seeded tenant: people (guests, disabled accounts, on-premises synced users, a zero
 * "never" sign-in date), security, Microsoft 365, dynamic, role-assignable and
 * on-premises groups with nesting, enterprise apps with several app roles assigned to
 * users and to groups, directory roles (Global Administrator, a role held through a
 * role-assignable group, PIM eligibilities), sign-ins with failures, an access review in
 * progress with some decisions made and a completed one.
 */
export function generateEntraTenant(options: GenerateEntraOptions): EntraTenant {
  const rnd = createRng(options.seed ?? 7);
  const now = (options.now ?? new Date('2026-11-28T00:00:00.000Z')).getTime();
  const day = 86_400_000;
  const iso = (t: number) => new Date(Math.floor(t)).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const t = new EntraTenant();
  t.tenantId = guid(rnd);
  const depts = Object.keys(DEPARTMENTS);

  for (let i = 0; i < options.users; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const guest = i > 2 && rnd() < 0.03;
    const dept = i === 0 ? 'Executive' : pick(depts);
    const upn = guest
      ? `${first.toLowerCase()}.${last.toLowerCase()}_partner.example#EXT#@contoso.onmicrosoft.com`
      : `${first.toLowerCase()}.${last.toLowerCase()}.${i}@contoso.example`;
    const r = rnd();
    const lastSuccess = r < 0.05 ? NEVER : iso(now - rnd() * 150 * day);
    const nonInteractive = r < 0.05 ? NEVER : iso(now - rnd() * 20 * day);
    const signIn: SignInActivity = {
      lastSignInDateTime: r < 0.05 ? NEVER : iso(now - rnd() * 160 * day),
      lastSignInRequestId: r < 0.05 ? '' : guid(rnd),
      lastNonInteractiveSignInDateTime: nonInteractive,
      lastNonInteractiveSignInRequestId: r < 0.05 ? '' : guid(rnd),
    };
    // Tenants older than the property (from December 2023) may lack it for some users.
    if (rnd() > 0.1) {
      signIn.lastSuccessfulSignInDateTime = lastSuccess;
      signIn.lastSuccessfulSignInRequestId = r < 0.05 ? '' : guid(rnd);
    }
    const kind = rnd();
    t.users.push({
      id: guid(rnd),
      displayName: `${first} ${last}`,
      userPrincipalName: upn,
      mail: guest ? `${first.toLowerCase()}@partner.example` : upn,
      accountEnabled: i < 3 || rnd() > 0.03,
      userType: guest ? 'Guest' : 'Member',
      externalUserState: guest ? (rnd() < 0.7 ? 'Accepted' : 'PendingAcceptance') : null,
      createdDateTime: iso(now - (30 + rnd() * 1200) * day),
      department: guest ? null : dept,
      jobTitle: i === 0 ? 'CEO' : guest ? null : pick(DEPARTMENTS[dept] ?? ['Staff']),
      employeeType: guest ? null : kind < 0.85 ? 'Employee' : kind < 0.95 ? 'Contractor' : 'Vendor',
      employeeId: guest ? null : String(10000 + i),
      employeeHireDate: guest ? null : iso(now - (30 + rnd() * 1200) * day),
      onPremisesSyncEnabled: guest ? null : rnd() < 0.4 ? true : null,
      officeLocation: guest ? null : pick(['Berlin', 'Austin', 'Lisbon', 'Remote']),
      city: null,
      country: guest ? null : pick(['DE', 'US', 'PT']),
      managerId: i === 0 || guest ? null : t.users[Math.floor(rnd() * Math.min(i, 1 + i / 10))]!.id,
      signInActivity: signIn,
    });
  }
  const members = t.users.filter((u) => u.userType === 'Member');

  // Groups: security, Microsoft 365, a dynamic one per department, role-assignable, synced from AD.
  const groupCount = Math.max(8, Math.min(2000, Math.ceil(options.users / 50)));
  for (let i = 0; i < groupCount; i++) {
    const dept = depts[i % depts.length]!;
    const kind =
      i === 0 ? 'dynamic' : i === 1 ? 'role' : i === 2 ? 'onprem' : i % 4 === 3 ? 'm365' : 'security';
    t.groups.push({
      id: guid(rnd),
      displayName:
        kind === 'dynamic'
          ? `All ${dept}`
          : kind === 'role'
            ? 'Helpdesk Admins'
            : `${dept} ${kind === 'm365' ? 'Team' : 'Access'} ${i}`,
      description: `${dept} (${kind})`,
      groupTypes: kind === 'dynamic' ? ['DynamicMembership'] : kind === 'm365' ? ['Unified'] : [],
      securityEnabled: kind !== 'm365',
      mailEnabled: kind === 'm365',
      mailNickname: `group${i}`,
      membershipRule: kind === 'dynamic' ? `(user.department -eq "${dept}")` : null,
      membershipRuleProcessingState: kind === 'dynamic' ? 'On' : null,
      isAssignableToRole: kind === 'role',
      onPremisesSyncEnabled: kind === 'onprem' ? true : null,
      createdDateTime: iso(now - (100 + rnd() * 900) * day),
    });
    t.members.set(t.groups[i]!.id, []);
  }
  const dynamic = t.groups[0]!;
  const dynDept = depts[0]!;
  t.members.set(
    dynamic.id,
    members.filter((u) => u.department === dynDept).map((u) => u.id),
  );

  // Enterprise apps (each with default access and a few roles) and one first-party app without the tag.
  const appCount = Math.max(3, Math.min(300, Math.ceil(options.users / 250)));
  for (let i = 0; i < appCount; i++) {
    const base = APPS[i % APPS.length]!;
    const name = i < APPS.length ? base : `${base} ${Math.floor(i / APPS.length) + 1}`;
    const roles: EmuAppRole[] = [
      {
        id: guid(rnd),
        displayName: 'User',
        value: 'User',
        description: 'Use the app',
        allowedMemberTypes: ['User'],
        isEnabled: true,
      },
      {
        id: guid(rnd),
        displayName: 'Admin',
        value: 'Admin',
        description: 'Administer the app',
        allowedMemberTypes: ['User'],
        isEnabled: true,
      },
    ];
    if (i % 2 === 0)
      roles.push({
        id: guid(rnd),
        displayName: 'Reader',
        value: 'Reader',
        description: 'Read',
        allowedMemberTypes: ['User'],
        isEnabled: true,
      });
    t.servicePrincipals.push({
      id: guid(rnd),
      appId: guid(rnd),
      displayName: name,
      tags: [INTEGRATED_APP_TAG],
      appRoles: roles,
      servicePrincipalType: 'Application',
    });
  }
  t.servicePrincipals.push({
    id: guid(rnd),
    appId: '00000003-0000-0000-c000-000000000000',
    displayName: 'Microsoft Graph',
    tags: [],
    appRoles: [],
    servicePrincipalType: 'Application',
  });

  // Directory roles: GA for the first user, a few others, one through the role-assignable group; PIM eligibilities.
  for (const [templateId, name, privileged] of BUILT_IN_ROLES) {
    t.roleDefinitions.push({
      id: templateId,
      displayName: name,
      description: `${name} (built-in)`,
      templateId,
      isBuiltIn: true,
      isEnabled: true,
      isPrivileged: privileged,
    });
  }
  const roleAssignment = (principalId: string, roleDefinitionId: string): EmuRoleAssignment => ({
    id: `${guid(rnd).replace(/-/g, '').slice(0, 22)}-1`,
    principalId,
    roleDefinitionId,
    directoryScopeId: '/',
  });
  t.roleAssignments.push(roleAssignment(members[0]!.id, BUILT_IN_ROLES[0]![0]));
  const admins = Math.max(2, Math.round(options.users * 0.003));
  for (let i = 0; i < admins; i++) {
    const u = members[1 + Math.floor(rnd() * (members.length - 1))]!;
    const role = BUILT_IN_ROLES[2 + Math.floor(rnd() * 3)]![0];
    if (!t.roleAssignments.some((a) => a.principalId === u.id && a.roleDefinitionId === role))
      t.roleAssignments.push(roleAssignment(u.id, role));
  }
  const roleGroup = t.groups[1]!;
  t.roleAssignments.push(roleAssignment(roleGroup.id, BUILT_IN_ROLES[3]![0]));
  for (let i = 0; i < Math.max(1, Math.round(admins / 2)); i++) {
    const u = members[1 + Math.floor(rnd() * (members.length - 1))]!;
    t.roleEligibilities.push(roleAssignment(u.id, BUILT_IN_ROLES[i % 2]![0]));
  }

  // Memberships (60 % of the budget), app role assignments to groups and to users for the rest.
  const budget = Math.max(0, options.assignments);
  const target = Math.round(budget * 0.6);
  const editable = t.groups.filter((g) => !g.groupTypes.includes('DynamicMembership'));
  let made = t.members.get(dynamic.id)!.length;
  const sets = new Map(editable.map((g) => [g.id, new Set<string>()]));
  for (let tries = 0; made < target && tries < target * 4; tries++) {
    const g = editable[Math.floor(rnd() ** 2 * editable.length)]!;
    const u = t.users[Math.floor(rnd() * t.users.length)]!;
    const set = sets.get(g.id)!;
    if (g.isAssignableToRole && set.size >= 4) continue;
    if (!set.has(u.id)) {
      set.add(u.id);
      made++;
    }
  }
  for (const [g, set] of sets) t.members.set(g, [...set]);
  // Nesting: a few security groups contain another (never role-assignable ones, no cycles).
  const nestable = editable.filter((g) => !g.isAssignableToRole && g.securityEnabled);
  for (let i = 0; i + 1 < nestable.length && i < 6; i += 2) {
    t.members.get(nestable[i]!.id)!.push(nestable[i + 1]!.id);
  }
  const assignment = (
    sp: EmuServicePrincipal,
    role: EmuAppRole,
    principalId: string,
    type: 'User' | 'Group',
    name: string,
  ) =>
    t.appRoleAssignments.push({
      id: guid(rnd).replace(/-/g, '').slice(0, 22) + 'AAAA'.slice(0, 2) + guid(rnd).slice(0, 19),
      appRoleId: role.id,
      principalId,
      principalType: type,
      principalDisplayName: name,
      resourceId: sp.id,
      resourceDisplayName: sp.displayName,
      createdDateTime: iso(now - rnd() * 400 * day),
    });
  const apps = t.servicePrincipals.filter((s) => s.tags.includes(INTEGRATED_APP_TAG));
  let derived = 0;
  for (const sp of apps) {
    if (rnd() > 0.5) continue;
    const g = nestable[Math.floor(rnd() * nestable.length)]!;
    if (derived + t.members.get(g.id)!.length > budget * 0.15) continue;
    assignment(sp, sp.appRoles[0]!, g.id, 'Group', g.displayName);
    derived += t.members.get(g.id)!.length;
  }
  let direct = budget - made - derived;
  const held = new Set<string>();
  for (let tries = 0; direct > 0 && tries < budget * 4; tries++) {
    const sp = apps[Math.floor(rnd() ** 1.5 * apps.length)]!;
    const role = sp.appRoles[rnd() < 0.7 ? 0 : 1 + Math.floor(rnd() * (sp.appRoles.length - 1))]!;
    const u = t.users[Math.floor(rnd() * t.users.length)]!;
    const key = `${u.id}|${sp.id}|${role.id}`;
    if (held.has(key)) continue;
    held.add(key);
    assignment(sp, role, u.id, 'User', u.displayName);
    direct--;
  }

  // Sign-ins over the last 25 days to the apps people hold; some fail.
  const perUser = options.signInsPerUser ?? 2;
  const appsOf = new Map<string, EmuServicePrincipal[]>();
  for (const a of t.appRoleAssignments) {
    if (a.principalType !== 'User') continue;
    const l = appsOf.get(a.principalId) ?? [];
    l.push(t.sp(a.resourceId)!);
    appsOf.set(a.principalId, l);
  }
  for (const u of t.users) {
    if (!u.accountEnabled) continue;
    for (let k = 0; k < perUser; k++) {
      const held = appsOf.get(u.id) ?? [];
      const sp = held.length > 0 && rnd() < 0.7 ? pick(held) : t.servicePrincipals.at(-1)!;
      const failed = rnd() < 0.06;
      t.signIns.push({
        id: guid(rnd),
        createdDateTime: iso(now - rnd() * 25 * day),
        userId: u.id,
        userPrincipalName: u.userPrincipalName,
        userDisplayName: u.displayName,
        appId: sp.appId,
        appDisplayName: sp.displayName,
        isInteractive: true,
        status: failed
          ? { errorCode: 50126, failureReason: 'Invalid username or password.', additionalDetails: null }
          : { errorCode: 0, failureReason: null, additionalDetails: null },
      });
    }
  }
  // Newest first, as the sign-in log lists them.
  t.signIns.sort((a, b) => (a.createdDateTime < b.createdDateTime ? 1 : -1));

  // Access reviews: one in progress (managers review), one completed.
  const definition = (name: string, query: string): EmuDefinition => ({
    id: guid(rnd),
    displayName: name,
    status: 'InProgress',
    descriptionForReviewers: `${name} (generated)`,
    createdDateTime: iso(now - 200 * day),
    scope: { '@odata.type': '#microsoft.graph.accessReviewQueryScope', query, queryType: 'MicrosoftGraph' },
    reviewers: [{ query: './manager', queryType: 'MicrosoftGraph', queryRoot: 'decisions' }],
    settings: {
      justificationRequiredOnApproval: true,
      autoApplyDecisionsEnabled: true,
      recommendationsEnabled: true,
      defaultDecisionEnabled: false,
      defaultDecision: 'None',
      instanceDurationInDays: 14,
    },
    stageSettings: [],
  });
  const current = definition('Quarterly access review', "/groups?$filter=groupTypes/any(c:c+eq+'Unified')");
  const past = definition('Previous quarter review', '/groups');
  t.definitions.push(current, past);
  const live: EmuInstance = {
    id: guid(rnd),
    definitionId: current.id,
    startDateTime: iso(now - 5 * day),
    endDateTime: iso(now + 9 * day),
    status: 'InProgress',
  };
  const done: EmuInstance = {
    id: guid(rnd),
    definitionId: past.id,
    startDateTime: iso(now - 100 * day),
    endDateTime: iso(now - 86 * day),
    status: 'Completed',
  };
  t.instances.push(live, done);
  const pairs: Array<{
    user: string;
    resource: { id: string; displayName: string; type: 'group' | 'servicePrincipal' };
  }> = [];
  for (const g of t.groups) {
    if (g.groupTypes.includes('DynamicMembership')) continue;
    for (const id of t.members.get(g.id)!)
      if (t.user(id))
        pairs.push({ user: id, resource: { id: g.id, displayName: g.displayName, type: 'group' } });
  }
  for (const a of t.appRoleAssignments) {
    if (a.principalType !== 'User') continue;
    pairs.push({
      user: a.principalId,
      resource: { id: a.resourceId, displayName: a.resourceDisplayName, type: 'servicePrincipal' },
    });
  }
  // Entra has one decision per principal and resource.
  const seenPairs = new Set<string>();
  for (let i = pairs.length - 1; i >= 0; i--) {
    const k = `${pairs[i]!.user}|${pairs[i]!.resource.id}`;
    if (seenPairs.has(k)) pairs.splice(i, 1);
    else seenPairs.add(k);
  }
  const count = Math.min(pairs.length, options.reviews ?? Math.min(120, Math.floor(budget / 4)));
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(rnd() * pairs.length));
  let n = 0;
  const nobody: EmuIdentity = { id: ZERO_GUID, displayName: '', userPrincipalName: '' };
  for (const i of [...chosen].sort((a, b) => a - b)) {
    const p = pairs[i]!;
    const inPast = n++ % 4 === 0;
    const u = t.user(p.user)!;
    const reviewer = t.user(u.managerId ?? members[0]!.id)!;
    const decided = inPast || rnd() < 0.1;
    const last = u.signInActivity.lastSuccessfulSignInDateTime ?? u.signInActivity.lastSignInDateTime;
    const stale = last === NEVER || Date.parse(last) < now - 35 * day;
    const decision = decided ? (rnd() < 0.75 ? 'Approve' : rnd() < 0.8 ? 'Deny' : 'DontKnow') : 'NotReviewed';
    t.decisions.push({
      id: guid(rnd),
      instanceId: inPast ? done.id : live.id,
      decision,
      recommendation: last === NEVER ? 'NoInfoAvailable' : stale ? 'Deny' : 'Approve',
      justification: decided ? 'Reviewed by the manager' : '',
      reviewedDateTime: decided ? iso(now - (inPast ? 95 : 3) * day) : null,
      reviewedBy: decided
        ? {
            id: reviewer.id,
            displayName: reviewer.displayName,
            userPrincipalName: reviewer.userPrincipalName,
          }
        : nobody,
      principalId: p.user,
      resource: p.resource,
      lastSignIn: last === NEVER ? null : last,
      outlier: rnd() < 0.15,
    });
  }

  // A two-stage review of app access in progress: the first stage decided, the second open.
  const staged = definition('Two-stage app access review', '/servicePrincipals');
  staged.stageSettings = [
    { stageId: '1', durationInDays: 7, dependsOn: [] },
    { stageId: '2', durationInDays: 7, dependsOn: ['1'] },
  ];
  t.definitions.push(staged);
  const multi: EmuInstance = {
    id: guid(rnd),
    definitionId: staged.id,
    startDateTime: iso(now - 8 * day),
    endDateTime: iso(now + 6 * day),
    status: 'InProgress',
  };
  t.instances.push(multi);
  const first: EmuStage = {
    id: guid(rnd),
    instanceId: multi.id,
    startDateTime: multi.startDateTime,
    endDateTime: iso(now - day),
    status: 'Completed',
  };
  const second: EmuStage = {
    ...first,
    id: guid(rnd),
    startDateTime: iso(now - day),
    endDateTime: multi.endDateTime,
    status: 'InProgress',
  };
  t.stages.push(first, second);
  const appPairs = pairs.filter((p) => p.resource.type === 'servicePrincipal').slice(0, 6);
  for (const p of appPairs) {
    const u = t.user(p.user)!;
    for (const stage of [first, second]) {
      t.decisions.push({
        id: guid(rnd),
        instanceId: multi.id,
        stageId: stage.id,
        decision: stage === first ? 'Approve' : 'NotReviewed',
        recommendation: 'Approve',
        justification: stage === first ? 'Manager approved' : '',
        reviewedDateTime: stage === first ? iso(now - 2 * day) : null,
        reviewedBy:
          stage === first
            ? {
                id: members[0]!.id,
                displayName: members[0]!.displayName,
                userPrincipalName: members[0]!.userPrincipalName,
              }
            : nobody,
        principalId: u.id,
        resource: p.resource,
        lastSignIn: null,
        outlier: false,
      });
    }
  }
  return t;
}
