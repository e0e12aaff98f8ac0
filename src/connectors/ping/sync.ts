import type { RemovalRecord, ReviewItemRecord, SyncSink } from '../../domain/sync.js';
import type { SyncOptions } from '../types.js';
import type { AicApi, PingOneApi } from './api.js';
import type { PingConfig } from './config.js';
import {
  DEFAULT_DIRECTORY_PAGES,
  type Directory,
  type DirectoryPageSizes,
  DirectoryRead,
} from './directory.js';
import { type Operation, toConnectorError } from './errors.js';
import { type AicState, GovernanceRead } from './governance.js';
import { ids } from './mapping.js';

/** Page sizes per list: PingOne's `limit` (at most 1000) and AIC's `pageSize`. */
export interface PingPageSizes extends DirectoryPageSizes {
  certificationItems: number;
  certifications: number;
}

/**
 * PingOne lists take up to 1000 a page. AIC's maximum page size is not documented: 100 items
 * a page is assumed to be accepted (the admin UI asks for 10).
 */
export const DEFAULT_PAGE_SIZES: PingPageSizes = {
  ...DEFAULT_DIRECTORY_PAGES,
  certificationItems: 100,
  certifications: 100,
};

/** What a sync hands to the next one (no credentials). */
export interface PingSyncState {
  version: 1;
  lastFullSync: string;
  /** Audit activities were read up to here. */
  auditUntil: string | null;
  /** When Attest's own review of the directory began (its campaign's creation time). */
  reviewCreated: string | null;
  /** PingOne users and entitlements read last time: what is gone since is removed. */
  users: string[];
  entitlements: string[];
  aic: AicState | null;
}

export function readState(raw: Record<string, unknown> | null): PingSyncState | null {
  if (raw === null || raw.version !== 1 || typeof raw.lastFullSync !== 'string') return null;
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const aic = raw.aic as Partial<AicState> | null | undefined;
  const active: AicState['active'] = {};
  if (aic && typeof aic.active === 'object' && aic.active !== null)
    for (const [k, v] of Object.entries(aic.active))
      if (v !== null && typeof v === 'object' && !Array.isArray(v))
        active[k] = Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<
          string,
          string
        >;
  return {
    version: 1,
    lastFullSync: raw.lastFullSync,
    auditUntil: typeof raw.auditUntil === 'string' ? raw.auditUntil : null,
    reviewCreated: typeof raw.reviewCreated === 'string' ? raw.reviewCreated : null,
    users: list(raw.users),
    entitlements: list(raw.entitlements),
    aic: aic ? { active, completed: list(aic.completed) } : null,
  };
}

export interface RunSettings {
  pageSizes: PingPageSizes;
  secrets: string[];
  fullSyncEveryMs: number;
  concurrency: number;
  auditLookbackDays: number;
  auditWindowMs: number;
  auditIntervalMs: number;
  log: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

/**
 * One Ping sync: the PingOne directory (read in full every time: PingOne has no change feed
 * for memberships), then the Advanced Identity Cloud certifications (in full on a full sync;
 * otherwise the undecided items and those decided since), joined to the directory's people and
 * groups when both surfaces are configured. Without AIC (or with PINGONE_REVIEW_CAMPAIGN=on),
 * the directory's direct access becomes a campaign reviewed in Attest.
 */
export class PingSyncRun {
  readonly full: boolean;
  readonly warnings: string[] = [];

  constructor(
    private readonly config: PingConfig,
    private readonly apis: { pingone: PingOneApi | null; aic: AicApi | null },
    private readonly sink: SyncSink,
    private readonly options: SyncOptions,
    private readonly prev: PingSyncState | null,
    private readonly settings: RunSettings,
  ) {
    this.full =
      prev === null || options.now.getTime() - Date.parse(prev.lastFullSync) >= settings.fullSyncEveryMs;
  }

  async step<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (this.options.signal?.aborted) throw e;
      throw toConnectorError(e, op, this.settings.secrets);
    }
  }

  private progress(phase: string, done: number, total?: number): void {
    this.options.signal?.throwIfAborted();
    this.options.onProgress?.(total === undefined ? { phase, done } : { phase, done, total });
  }

  async execute(): Promise<PingSyncState> {
    const now = this.options.now.toISOString();
    this.settings.log('info', `Ping sync started (${this.full ? 'full' : 'incremental'})`);
    const common = {
      warnings: this.warnings,
      step: <T>(op: Operation, fn: () => Promise<T>) => this.step(op, fn),
      progress: (phase: string, done: number, total?: number) => this.progress(phase, done, total),
    };
    let directory: Directory | null = null;
    if (this.apis.pingone) {
      directory = await new DirectoryRead(
        this.apis.pingone,
        this.sink,
        {
          ...common,
          pages: this.settings.pageSizes,
          concurrency: this.settings.concurrency,
          auditLookbackDays: this.settings.auditLookbackDays,
          auditWindowMs: this.settings.auditWindowMs,
          auditIntervalMs: this.settings.auditIntervalMs,
        },
        this.options.now,
        this.prev?.auditUntil ?? null,
      ).run();
    }
    let aic: AicState | null = null;
    if (this.apis.aic) {
      aic = await new GovernanceRead(this.apis.aic, this.sink, {
        ...common,
        itemPageSize: this.settings.pageSizes.certificationItems,
        listPageSize: this.settings.pageSizes.certifications,
        full: this.full,
        prev: this.prev?.aic ?? null,
        directory,
        joinKey: this.config.aic!.joinKey,
      }).run();
    }
    const reviewCreated =
      directory !== null && this.reviewInAttest() ? (this.prev?.reviewCreated ?? now) : null;
    if (directory !== null) {
      if (reviewCreated !== null) this.stageReview(directory, reviewCreated);
      this.removeGone(directory);
    }
    return {
      version: 1,
      lastFullSync: this.full ? now : this.prev!.lastFullSync,
      auditUntil: directory?.auditUntil ?? null,
      reviewCreated,
      users: directory ? [...directory.users].sort() : [],
      entitlements: directory ? [...directory.entitlements].sort() : [],
      aic,
    };
  }

  private reviewInAttest(): boolean {
    const mode = this.config.pingone!.reviewCampaign;
    return mode === 'on' || (mode === 'auto' && this.config.aic === null);
  }

  /** Attest's own review of the directory: one item per direct grant, reviewed by the user's manager. */
  private stageReview(d: Directory, created: string): void {
    const env = this.config.pingone!.environmentId;
    const campaign = ids.directoryCampaign(env);
    this.sink.campaigns([
      {
        external_id: campaign,
        name: 'PingOne directory access review',
        created_at: created,
        due_at: null,
        status: 'active',
        attributes: { ping_environment_id: env, reviewed_in: 'attest' },
        src: { file: 'ping:directory-review', line: 0 },
      },
    ]);
    const items: ReviewItemRecord[] = d.direct.map((a) => ({
      campaign_external_id: campaign,
      user_external_id: a.user_external_id,
      entitlement_external_id: a.entitlement_external_id,
      reviewer_external_id: d.managers.get(a.user_external_id) ?? null,
      src: { file: 'ping:directory-review', line: 0 },
    }));
    for (let i = 0; i < items.length; i += 2000) this.sink.reviewItems(items.slice(i, i + 2000));
  }

  /**
   * PingOne has no change feed: what the last sync read and this one did not is gone. Users
   * are kept as deprovisioned, entitlements lose their holders; on an incremental sync the
   * assignments of every entitlement read again are replaced, as a full sync's are.
   */
  private removeGone(d: Directory): void {
    if (this.prev === null) return;
    const removals: RemovalRecord[] = [];
    for (const u of this.prev.users) if (!d.users.has(u)) removals.push({ kind: 'user', external_id: u });
    for (const e of this.prev.entitlements)
      if (!d.entitlements.has(e)) removals.push({ kind: 'entitlement', external_id: e });
    if (removals.length > 0) this.sink.removals(removals);
    if (!this.full) this.sink.replaceAssignmentsOf([...d.entitlements].sort());
  }
}
