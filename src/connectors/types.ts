import type { DecisionValue, EntitlementType, Platform } from '../domain/index.js';
import type { SyncSink } from '../domain/sync.js';

/**
 * An identity platform behind a narrow interface: the snapshot importer, Okta,
 * Entra ID and Ping all implement it, and the shared contract suite in
 * test/connectors/contract.ts holds every one of them to it.
 *
 * What a connector can do is a set of optional capability groups. A platform
 * that cannot do something leaves that group out; nothing here is a stub that
 * throws. Callers (the CLI, the outbox, the tools) read the groups.
 *
 * Connectors see only the domain: they hand records to a SyncSink and answer
 * with plain results. They never touch the store, the audit log or MCP.
 */
export interface IdentityConnector {
  readonly platform: Platform;
  /** Reads the platform into the store. */
  readonly sync?: SyncCapability;
  /** A later sync reads only what changed (the saved state says since when). */
  readonly incremental?: IncrementalCapability;
  /** Records confirmed decisions on the platform's own review. */
  readonly writeBack?: WriteBackCapability;
  /** Removes revoked access (or says that the platform's own review will). */
  readonly remediation?: RemediationCapability;
  /** Creates review campaigns on the platform (its own governance product). */
  readonly campaigns?: CampaignCreationCapability;
  /** Creates a mined role on the platform (a group with a membership rule, and its grants). */
  readonly roles?: RoleCreationCapability;
  /** Why a capability this platform has in principle is left out here (said when it is asked for). */
  readonly withheld?: Partial<Record<CapabilityName, string>>;
}

export interface SyncCapability {
  /**
   * Pulls identities, entitlements, assignments, activity and campaigns into the sink.
   * `state` is what the previous successful sync returned (cursors, delta links), so
   * a later sync fetches only what changed where the platform allows it.
   * Throws ConnectorError on failure; the caller then aborts the sink, and the store
   * keeps the last good sync.
   */
  run(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome>;
  /** Scopes or permissions a sync needs, for documentation and error messages. */
  permissions: readonly string[];
}

export interface IncrementalCapability {
  /** How a later sync learns what changed, for people: e.g. "delta queries". */
  method: string;
  /**
   * What an incremental sync learns about removed access: `all` (the platform reports
   * every removal) or `partial` (only removals within the lists it reads again; the
   * periodic full sync catches the rest).
   */
  removals: 'all' | 'partial';
  /** A full sync runs again once the last one is this old. */
  fullSyncEveryMs: number;
}

export interface WriteBackCapability {
  /** Decisions the platform's review can record (`escalate`: the review's "don't know"). */
  decisions: readonly DecisionValue[];
  /** Records one confirmed decision. Must be idempotent: the same key never applies twice. */
  apply(decision: DecisionToApply): Promise<ApplyOutcome>;
  /**
   * Records several confirmed decisions at once, where the platform has bulk calls: one
   * outcome per decision, in order, each as `apply` would give it (same idempotency).
   */
  applyBatch?(decisions: readonly DecisionToApply[]): Promise<ApplyOutcome[]>;
  permissions: readonly string[];
}

export interface RemediationCapability {
  /** Removes the access of a revoked item. Must be idempotent. */
  remove(request: RemediationRequest): Promise<ApplyOutcome>;
  /**
   * When the platform's own review removes this item's access itself once it applies its
   * decisions: a sentence saying so (Attest then leaves the removal to it). Null: Attest removes it.
   */
  byPlatform?(item: PlatformItem): string | null;
  permissions: readonly string[];
}

/**
 * Creating a campaign on the platform. `check` runs before the human is asked, so a
 * campaign the platform cannot take is refused at preview time and never half-made;
 * `create` must be idempotent by `idempotency_key` (a retry or a rerun after a crash finds
 * the campaign it made before instead of making a second one).
 */
export interface CampaignCreationCapability {
  /** What the platform calls it, for people ("Okta Identity Governance campaign"). */
  noun: string;
  /** Why this campaign cannot be created here, or null when it can. */
  check(request: CampaignToCreate): string | null;
  create(request: CampaignToCreate): Promise<CreateOutcome>;
  permissions: readonly string[];
}

export interface CampaignToCreate {
  /** The change id: the marker the platform object carries, so a retry finds it. */
  idempotency_key: string;
  name: string;
  /** People-readable; the connector appends the marker. */
  description: string;
  start_at: string;
  due_at: string | null;
  reviewers: {
    by: 'manager' | 'owner' | 'named';
    /** The named reviewer's platform id (by = named). */
    reviewer_external_id: string | null;
    /** The fallback reviewer's platform id, when they have one on this platform. */
    fallback_external_id: string | null;
  };
  /** The people whose access is reviewed (platform ids). */
  user_external_ids: string[];
  /** The access reviewed: the platform's groups, apps and roles. */
  resources: Array<{ external_id: string; type: EntitlementType; name: string }>;
}

/**
 * Creating a mined role on the platform. `plan` says, line by line, exactly what `create`
 * will make (the human confirms those lines); `check` refuses what the platform cannot
 * express safely (an attribute with no counterpart, a value that cannot be quoted).
 */
export interface RoleCreationCapability {
  noun: string;
  check(request: RoleToCreate): string | null;
  plan(request: RoleToCreate): string[];
  create(request: RoleToCreate): Promise<CreateOutcome>;
  permissions: readonly string[];
}

export interface RoleToCreate {
  idempotency_key: string;
  name: string;
  description: string;
  /**
   * Attribute values every member has (store attribute names: department, title, location,
   * manager_id as the manager's platform id, attributes.<name>). Empty: members are assigned.
   */
  pattern: Record<string, string>;
  /** The members' platform ids (used when there is no pattern). */
  member_external_ids: string[];
  entitlements: Array<{ external_id: string; type: EntitlementType; name: string }>;
}

export type CreateOutcome =
  | {
      status: 'done';
      /** The platform's id of what was created (the campaign, the group). */
      platform_id: string;
      /** True when a retry found what an earlier attempt had made. */
      existed: boolean;
      /** What was made, for the audit log and the agent (ids, not secrets). */
      details: Record<string, unknown>;
    }
  | { status: 'failed'; retryable: boolean; error: string };

export interface SyncOptions {
  /** Opaque state returned by the previous successful sync of this platform. */
  state: Record<string, unknown> | null;
  /** Sync time; activity is fetched up to here. */
  now: Date;
  onProgress?: (event: { phase: string; done: number; total?: number }) => void;
  signal?: AbortSignal;
}

export interface SyncOutcome {
  /** State to pass to the next sync (e.g. the System Log high-water mark, delta links). */
  state: Record<string, unknown>;
  /** true when every assignment of the platform was staged, so stale ones can be removed. */
  fullAssignments: boolean;
  /** What could not be read, e.g. governance endpoints without a licence or scope. */
  warnings: string[];
  /** Requests made, for measuring. */
  requests: number;
}

/** A review item as the platform knows it. */
export interface PlatformItem {
  item_external_id: string;
  campaign_external_id: string;
  /** The item's place in the platform's own review (empty for items of campaigns that are not the platform's). */
  item_coordinates: Record<string, string>;
}

/** A confirmed decision for one review item, in the platform's own ids. */
export interface DecisionToApply extends PlatformItem {
  /** Stable key (the outbox row's proposal id): the same key must never apply twice. */
  idempotency_key: string;
  user_external_id: string;
  entitlement_external_id: string;
  entitlement_type: EntitlementType;
  /** `escalate` reaches a connector only when its write-back lists it (the review's "don't know"). */
  decision: DecisionValue;
  rationale: string;
  /** Who proposed (the agent's principal) and who confirmed (a human), for the justification note. */
  proposed_by: string;
  confirmed_by: string;
  channel: string;
  engine_recommended: boolean;
}

export interface RemediationRequest {
  idempotency_key: string;
  user_external_id: string;
  entitlement_external_id: string;
  entitlement_type: EntitlementType;
  /** Platform-specific detail kept on the entitlement (e.g. Okta group vs app, a group's type). */
  entitlement_attributes: Record<string, string>;
}

export type ApplyOutcome =
  | { status: 'done'; platform_ref: string | null; detail?: string }
  /** Nothing to do on this platform (e.g. the item is not in one of the platform's reviews). */
  | { status: 'skipped'; platform_ref: string | null; detail: string }
  /** Will not succeed on retry (4xx other than 429): recorded on the item and shown to the agent. */
  | { status: 'failed'; retryable: false; error: string }
  /** May succeed later (429, 5xx, network). */
  | { status: 'failed'; retryable: true; error: string };

/** A failure the caller can explain: the message is safe to show (no secrets, no raw bodies). */
export class ConnectorError extends Error {
  override name = 'ConnectorError';
  constructor(
    message: string,
    readonly kind: 'auth' | 'forbidden' | 'rate_limited' | 'upstream' | 'network' | 'config' | 'not_found',
    readonly status?: number,
  ) {
    super(message);
  }
}

/** What a registration hands the connector it builds. */
export interface ConnectorContext {
  /** Optional log sink; messages never hold secrets. */
  log?: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

/** One setting a connector reads. */
export interface SettingSpec {
  /** The environment variable, e.g. AZURE_TENANT_ID. */
  name: string;
  /** The same setting in the config file's `connectors.<platform>` section (the variable's name works there too). */
  key: string;
  /** Never logged, stored or shown; redacted wherever it might appear. */
  secret: boolean;
  /** One line for people. */
  describe: string;
}

/** Settings by variable name, from the environment over the config file. */
export type SettingsSource = Readonly<Record<string, string | undefined>>;

export type CapabilityName = 'sync' | 'incremental' | 'writeBack' | 'remediation' | 'campaigns' | 'roles';

/**
 * A connector is one registration: its name, how it reads its settings and which of
 * them are secrets, which capabilities it has, and how it is built. The CLI, the server
 * and the outbox find connectors only through the registry (src/connectors/registry.ts).
 */
export interface ConnectorRegistration<S = unknown> {
  name: Platform;
  /** The platform's name for people, e.g. "Microsoft Entra ID". */
  title: string;
  /** The capability groups a connector built from this registration has (the contract tests check it). */
  capabilities: readonly CapabilityName[];
  settings: {
    variables: readonly SettingSpec[];
    /**
     * The validated settings; null when the platform is not configured at all (none of
     * its variables is set). Throws ConnectorError('config') naming the variable at
     * fault, never its value.
     */
    read(source: SettingsSource): S | null;
    /** Every secret value the settings hold, in each form it could appear (for redaction). */
    secrets(settings: S): string[];
    /** What to set, for a platform that is not configured. */
    missing: string;
  };
  /** Builds the connector; vendor SDKs load here, on first use. */
  create(settings: S, context: ConnectorContext): IdentityConnector;
}
