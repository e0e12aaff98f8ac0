import type {
  AssignmentSource,
  CampaignStatus,
  EmployeeType,
  EntitlementType,
  Platform,
  Sensitivity,
  Severity,
  UserStatus,
} from './index.js';

/**
 * Records a connector hands to the store. Every id here is the platform's own id;
 * the store derives its stable id from (platform, external id), so a later sync of
 * the same platform updates records instead of duplicating them.
 */

/** Where a record came from, for error reports (a CSV line, an API object). */
export interface SourceRef {
  file: string;
  line: number;
}

export interface UserRecord {
  external_id: string;
  email?: string | null;
  name?: string | null;
  department?: string | null;
  title?: string | null;
  manager_external_id?: string | null;
  location?: string | null;
  status?: UserStatus;
  employee_type?: EmployeeType;
  hired_at?: string | null;
  terminated_at?: string | null;
  contract_end?: string | null;
  last_sign_in?: string | null;
  attributes?: Record<string, string>;
  src?: SourceRef;
}

export interface EntitlementRecord {
  external_id: string;
  name: string;
  type?: EntitlementType;
  app?: string | null;
  privileged?: boolean;
  sensitivity?: Sensitivity;
  owner_external_id?: string | null;
  description?: string | null;
  /**
   * Entitlements (platform ids) this one grants to its holders: a nested group, an app the
   * group is assigned to, the permissions a role bundles. Undefined leaves what the store
   * holds unchanged (an incremental sync that did not read them); [] clears it.
   */
  includes?: string[];
  attributes?: Record<string, string>;
  src?: SourceRef;
}

export interface AssignmentRecord {
  user_external_id: string;
  entitlement_external_id: string;
  granted_at?: string | null;
  source?: AssignmentSource;
  /** For an inherited assignment (`group` or `rule`): the entitlement (platform id) it comes through. */
  via?: string | null;
  src?: SourceRef;
}

export interface ActivityRecord {
  user_external_id: string;
  app: string;
  at: string;
  outcome?: 'success' | 'failure';
  src?: SourceRef;
}

export interface HrChangeRecord {
  user_external_id: string;
  field: string;
  from?: string | null;
  to?: string | null;
  at: string;
  src?: SourceRef;
}

export interface SodRuleRecord {
  external_id: string;
  name: string;
  left: string[];
  right: string[];
  severity?: Severity;
  src?: SourceRef;
}

export interface CampaignRecord {
  external_id: string;
  name: string;
  created_at?: string | null;
  due_at?: string | null;
  status?: CampaignStatus;
  attributes?: Record<string, string>;
  src?: SourceRef;
}

export interface ReviewItemRecord {
  external_id?: string | null;
  campaign_external_id: string;
  user_external_id: string;
  entitlement_external_id: string;
  reviewer_external_id?: string | null;
  /**
   * Set when the platform already holds a decision for this item; `escalate` is the
   * platform's "don't know".
   */
  decided?: {
    decision: 'approve' | 'revoke' | 'escalate';
    decided_by: string | null;
    decided_at: string | null;
  } | null;
  /**
   * Where the item sits in the platform's own review, in the platform's terms (Entra:
   * definition, instance, stage and decision ids), so a decision can be written back there.
   */
  coordinates?: Record<string, string>;
  /** What the platform itself says about the item (its own recommendation, insights), kept as evidence. */
  attributes?: Record<string, string>;
  src?: SourceRef;
}

export interface PastDecisionRecord {
  user_external_id: string;
  entitlement_external_id: string;
  decision: 'approve' | 'revoke';
  decided_at?: string | null;
  reviewer_external_id?: string | null;
  campaign_external_id?: string | null;
  src?: SourceRef;
}

/**
 * What an entitlement grants, for an entitlement whose record is not staged again in this
 * sync (an incremental sync that re-read only its relations). Replaces what the store holds.
 */
export interface IncludesRecord {
  external_id: string;
  includes: string[];
  src?: SourceRef;
}

/**
 * Something the platform says is gone, as an incremental sync learns it (e.g. a delta
 * query's `@removed`). Applied at commit after everything staged, and never to a record
 * the same sync staged again.
 */
export type RemovalRecord =
  /** The user no longer holds the entitlement. */
  | { kind: 'assignment'; user_external_id: string; entitlement_external_id: string; src?: SourceRef }
  /** The user was deleted: the store keeps them as deprovisioned, without access. */
  | { kind: 'user'; external_id: string; src?: SourceRef }
  /** The entitlement was deleted: nobody holds it and it grants nothing. */
  | { kind: 'entitlement'; external_id: string; src?: SourceRef };

/** A problem with one record: where, which column, what is wrong. */
export interface RecordIssue {
  file: string;
  line: number;
  column: string | null;
  reason: string;
}

export interface SyncSummary {
  platform: Platform;
  counts: Record<string, number>;
  removed: Record<string, number>;
}

/**
 * The store side of a sync. Batches are staged; nothing is visible until
 * `commit()` validates references and merges everything in one transaction.
 * `abort()` discards the staged records.
 */
export interface SyncSink {
  readonly platform: Platform;
  users(batch: UserRecord[]): void;
  entitlements(batch: EntitlementRecord[]): void;
  assignments(batch: AssignmentRecord[]): void;
  activity(batch: ActivityRecord[]): void;
  hrChanges(batch: HrChangeRecord[]): void;
  sodRules(batch: SodRuleRecord[]): void;
  campaigns(batch: CampaignRecord[]): void;
  reviewItems(batch: ReviewItemRecord[]): void;
  pastDecisions(batch: PastDecisionRecord[]): void;
  /** What entitlements grant, for entitlements not staged in this sync (see IncludesRecord). */
  includes(batch: IncludesRecord[]): void;
  /** What the platform says was removed (see RemovalRecord). */
  removals(batch: RemovalRecord[]): void;
  /**
   * These entitlements' assignments were all read in this sync, so at commit any other
   * assignment of them is removed: how an incremental sync that re-reads some lists in full
   * (an app's users, a changed group's members) drops what is gone from them.
   */
  replaceAssignmentsOf(entitlementExternalIds: string[]): void;
  /** Reference problems (unknown ids) among the staged records; first `limit`, and the total. */
  validate(limit: number): { issues: RecordIssue[]; total: number };
  /**
   * Merges the staged records. With `replaceAssignments`, assignments of this
   * platform that were not staged are removed (a full sync); otherwise only added or updated.
   */
  commit(options: { replaceAssignments: boolean }): SyncSummary;
  abort(): void;
}

/** The store's stable id for a platform record. Snapshot ids are kept as they are. */
export function storeId(platform: Platform, externalId: string): string {
  return platform === 'snapshot' ? externalId : `${platform}:${externalId}`;
}
