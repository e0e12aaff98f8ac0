import type { EntitlementType, Platform } from '../domain/index.js';
import type { SyncSink } from '../domain/sync.js';

/**
 * An identity platform behind a narrow interface: the snapshot importer, Okta,
 * Entra ID and Ping all implement it, and the shared contract suite in
 * test/connectors/contract.ts holds every one of them to it.
 *
 * Connectors see only the domain: they hand records to a SyncSink and answer
 * with plain results. They never touch the store, the audit log or MCP.
 */
export interface IdentityConnector {
  readonly platform: Platform;
  readonly capabilities: ConnectorCapabilities;
  /**
   * Pulls identities, entitlements, assignments, activity and campaigns into the sink.
   * `state` is what the previous successful sync returned (cursors, high-water marks),
   * so a second sync fetches only what changed where the platform allows it.
   * Throws ConnectorError on failure; the caller then aborts the sink, and the store
   * keeps the last good sync.
   */
  sync(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome>;
  /** Records a confirmed decision on the platform's own review. Must be idempotent. */
  applyDecision(decision: DecisionToApply): Promise<ApplyOutcome>;
  /** Removes the access of a revoked item where the platform's campaign does not. Must be idempotent. */
  remediate(request: RemediationRequest): Promise<ApplyOutcome>;
}

export interface ConnectorCapabilities {
  /** Can record decisions on a platform review (write-back). */
  writeBack: boolean;
  /** Can remove access itself. */
  remediate: boolean;
  /** The platform's own campaign removes revoked access when it closes. */
  campaignRemediates: boolean;
  /** Scopes or permissions each feature needs, for documentation and error messages. */
  scopes: { sync: string[]; writeBack: string[]; remediate: string[] };
}

export interface SyncOptions {
  /** Opaque state returned by the previous successful sync of this platform. */
  state: Record<string, unknown> | null;
  /** Sync time; activity is fetched up to here. */
  now: Date;
  onProgress?: (event: { phase: string; done: number; total?: number }) => void;
  signal?: AbortSignal;
}

export interface SyncOutcome {
  /** State to pass to the next sync (e.g. the System Log high-water mark). */
  state: Record<string, unknown>;
  /** true when every assignment of the platform was staged, so stale ones can be removed. */
  fullAssignments: boolean;
  /** What could not be read, e.g. governance endpoints without a licence or scope. */
  warnings: string[];
  /** Requests made, for measuring. */
  requests: number;
}

/** A confirmed decision for one review item, in the platform's own ids. */
export interface DecisionToApply {
  /** Stable key (the outbox row's proposal id): the same key must never apply twice. */
  idempotency_key: string;
  item_external_id: string;
  campaign_external_id: string;
  user_external_id: string;
  entitlement_external_id: string;
  entitlement_type: EntitlementType;
  decision: 'approve' | 'revoke';
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
  /** Platform-specific detail kept on the entitlement (e.g. Okta group vs app, a role assignment id). */
  entitlement_attributes: Record<string, string>;
}

export type ApplyOutcome =
  | { status: 'done'; platform_ref: string | null; detail?: string }
  /** Nothing to do on this platform (e.g. the snapshot platform records locally; the campaign remediates itself). */
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
