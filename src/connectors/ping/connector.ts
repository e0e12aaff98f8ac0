import type { SyncSink } from '../../domain/sync.js';
import type {
  CampaignCreationCapability,
  IdentityConnector,
  IncrementalCapability,
  PlatformItem,
  RemediationCapability,
  RoleCreationCapability,
  SyncCapability,
  SyncOptions,
  SyncOutcome,
  WriteBackCapability,
} from '../types.js';
import { AicApi, PingOneApi } from './api.js';
import { AicTokens, PingOneTokens } from './auth.js';
import { AIC_CAMPAIGN_PERMISSIONS, checkAicCampaign, createAicCertification } from './certifications.js';
import { DEFAULT_ATTRIBUTES, type PingConfig, pingSecrets } from './config.js';
import { checkPingRole, createPingRole, PING_ROLE_PERMISSIONS, planPingRole } from './create.js';
import { DEFAULT_RETRY, PingTransport, type RetryPolicy } from './http.js';
import { DirectoryRemediation } from './remediation.js';
import { DEFAULT_PAGE_SIZES, type PingPageSizes, PingSyncRun, readState } from './sync.js';
import { AicDecisions } from './writeback.js';

export { DEFAULT_PAGE_SIZES } from './sync.js';

export interface PingConnectorOptions {
  pageSizes?: Partial<PingPageSizes>;
  /** Parallel requests for per-user and per-group lists (default 8). */
  concurrency?: number;
  /** A full sync runs again once the last one is this old (default 24 h). */
  fullSyncEveryMs?: number;
  /** Audit activities of a first sync go back this many days (default PINGONE_AUDIT_DAYS, 14). */
  auditLookbackDays?: number;
  /** Span of one audit query (default one day). */
  auditWindowMs?: number;
  /** Pause between audit requests, for that endpoint's lower rate limit (default 250 ms). */
  auditIntervalMs?: number;
  retry?: Partial<RetryPolicy>;
  log?: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

/**
 * Ping Identity over undici: the PingOne directory (Platform API, Worker app) and Advanced
 * Identity Cloud certifications (Identity Governance API, service account), each optional.
 * Decisions are written back to AIC certification items; revoked directory access is removed
 * in PingOne. A confirmed mined role becomes a PingOne dynamic group (a SCIM user filter); a
 * confirmed campaign, an AIC certification (a template, run once).
 */
export class PingConnector implements IdentityConnector {
  readonly platform = 'ping' as const;
  readonly sync: SyncCapability = {
    permissions: [
      'PingOne: a Worker app with Identity Data Read-Only Admin, Configuration Read-Only Admin and Environment Admin (role assignments) on the environment',
      'Advanced Identity Cloud: a service account with the fr:iga:* scope (and fr:idm:*)',
    ],
    run: (sink, options) => this.runSync(sink, options),
  };
  readonly incremental: IncrementalCapability;
  readonly writeBack: WriteBackCapability = {
    // An escalation is the certification's exception ("allow for now"), where the certification allows it.
    decisions: ['approve', 'revoke', 'escalate'],
    permissions: ['Advanced Identity Cloud: fr:iga:* (a service account allowed to act on certifications)'],
    apply: (d) => this.decisions.apply(d),
    applyBatch: (ds) => this.decisions.applyBatch(ds),
  };
  readonly remediation: RemediationCapability = {
    permissions: [
      'PingOne: Identity Data Admin (memberships, application roles), Environment Admin (admin roles)',
    ],
    remove: (r) => this.removals.remove(r),
    byPlatform: (item) => this.certificationRemoves(item),
  };
  readonly roles: RoleCreationCapability = {
    noun: 'PingOne dynamic group',
    permissions: PING_ROLE_PERMISSIONS,
    check: (r) => checkPingRole(this.attributes, this.pingone !== null, r),
    plan: (r) => planPingRole(this.attributes, r),
    create: (r) =>
      this.pingone
        ? createPingRole(this.pingone, this.attributes, r, this.secrets)
        : Promise.resolve({
            status: 'failed',
            retryable: false,
            error: 'PingOne is not configured (PINGONE_*).',
          }),
  };
  /** A confirmed campaign becomes an Advanced Identity Cloud certification: a template, then run once. */
  readonly campaigns: CampaignCreationCapability = {
    noun: 'Advanced Identity Cloud certification',
    permissions: AIC_CAMPAIGN_PERMISSIONS,
    check: (r) => checkAicCampaign(r, this.aic !== null),
    create: (r) =>
      this.aic
        ? createAicCertification(this.aic, r, this.secrets)
        : Promise.resolve({
            status: 'failed',
            retryable: false,
            error: 'Advanced Identity Cloud is not configured (PINGAIC_*).',
          }),
  };

  readonly transport: PingTransport;
  private readonly pingone: PingOneApi | null;
  private readonly aic: AicApi | null;
  private readonly decisions: AicDecisions;
  private readonly removals: DirectoryRemediation;
  private readonly secrets: string[];
  private get attributes() {
    return this.config.pingone?.attributes ?? DEFAULT_ATTRIBUTES;
  }

  constructor(
    private readonly config: PingConfig,
    private readonly options: PingConnectorOptions = {},
  ) {
    this.secrets = pingSecrets(config);
    const origins = new Set<string>();
    if (config.pingone) {
      origins.add(new URL(config.pingone.apiBase).origin);
      origins.add(new URL(config.pingone.authBase).origin);
    }
    if (config.aic) origins.add(config.aic.tenantUrl);
    this.transport = new PingTransport(origins, { ...DEFAULT_RETRY, ...options.retry });
    this.pingone = config.pingone
      ? new PingOneApi(config.pingone, this.transport, new PingOneTokens(config.pingone, this.transport))
      : null;
    this.aic = config.aic
      ? new AicApi(config.aic, this.transport, new AicTokens(config.aic, this.transport))
      : null;
    this.decisions = new AicDecisions(this.aic, this.secrets);
    this.removals = new DirectoryRemediation(this.pingone, this.secrets);
    this.incremental = {
      method:
        'audit activities since the last sync; of active certifications, only the undecided items (targetFilter) and those decided since',
      // PingOne is read in full every time, so every removal there is seen.
      removals: 'all',
      fullSyncEveryMs: options.fullSyncEveryMs ?? 86_400_000,
    };
  }

  /** HTTP requests sent so far (token requests included). */
  get requests(): number {
    return this.transport.requests;
  }

  private async runSync(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome> {
    const before = this.transport.requests;
    const run = new PingSyncRun(
      this.config,
      { pingone: this.pingone, aic: this.aic },
      sink,
      options,
      readState(options.state),
      {
        pageSizes: { ...DEFAULT_PAGE_SIZES, ...this.options.pageSizes },
        secrets: this.secrets,
        fullSyncEveryMs: this.incremental.fullSyncEveryMs,
        concurrency: this.options.concurrency ?? 8,
        auditLookbackDays: this.options.auditLookbackDays ?? this.config.pingone?.auditDays ?? 14,
        auditWindowMs: this.options.auditWindowMs ?? 86_400_000,
        auditIntervalMs: this.options.auditIntervalMs ?? 250,
        log: this.options.log ?? (() => {}),
      },
    );
    const state = await run.execute();
    return {
      state: { ...state },
      fullAssignments: run.full,
      warnings: run.warnings,
      requests: this.transport.requests - before,
    };
  }

  /**
   * An AIC certification removes the access of its revoked items itself, as its template's
   * remediation is configured (unconfirmed: the trigger and timing are not documented in what
   * could be read); with PINGAIC_REMEDIATION=direct, Attest removes access it can find in PingOne.
   */
  private certificationRemoves(item: PlatformItem): string | null {
    const c = item.item_coordinates;
    if (c.surface !== 'aic') return null;
    if (this.config.aic?.remediation === 'direct' && c.joined === 'pingone') return null;
    return 'Advanced Identity Cloud removes this access when the certification processes its revocations (as its template’s remediation settings say); set PINGAIC_REMEDIATION=direct to have Attest remove it in PingOne';
  }
}
