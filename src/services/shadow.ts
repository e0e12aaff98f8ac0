import {
  type ActivityCoverage,
  appCoverage,
  decisionFeatures,
  entitlementDepartment,
  usageAt,
} from '../analysis/features.js';
import { crossValidate, type ShadowReport } from '../analysis/shadow.js';
import { type AnalysisThresholds, defaultThresholds } from '../analysis/thresholds.js';
import { parseIsoTime } from '../connectors/snapshot/csv-import.js';
import { readCsvFile } from '../connectors/snapshot/csv-reader.js';
import type { PeerIndex } from '../store/peers.js';
import type { Store } from '../store/store.js';
import { activityCoverage, trainingRows } from './analyze.js';

export interface ShadowOptions {
  folds: number;
  seed?: number;
  /** Only past decisions of this campaign. */
  campaignId?: string;
  /** Read decisions from this CSV (decisions.csv columns) instead of the store. */
  decisionsFile?: string;
  thresholds?: Partial<AnalysisThresholds>;
  /** Analysis date for decisions without a date. */
  asOf?: Date;
  dormantDays?: number;
}

export class ShadowInputError extends Error {
  override name = 'ShadowInputError';
}

async function rowsFromFile(
  store: Store,
  peers: PeerIndex,
  path: string,
  asOf: Date | undefined,
  dormantDays: number,
  coverage: ActivityCoverage,
) {
  const rows: Array<{ features: Record<string, string | null>; label: 0 | 1 }> = [];
  const nowIso = (asOf ?? new Date()).toISOString();
  let userId = '';
  // Usage as of the decision, worked out as for the store's own decisions.
  const usageOf = (ent: { id: string; app: string | null }, at: string) => {
    if (ent.app === null) return null;
    const last = store.lastUseBefore(userId, ent.app, at);
    const atMs = Date.parse(at);
    const granted = store.heldEntitlements(userId).find((h) => h.id === ent.id)?.granted_at ?? null;
    const grantMs = granted === null ? null : Date.parse(granted);
    return usageAt(
      last === null ? null : Date.parse(last),
      atMs,
      grantMs !== null && grantMs <= atMs ? grantMs : null,
      appCoverage(coverage, ent.app),
      dormantDays,
    );
  };
  const unknown: string[] = [];
  let columns: string[] | null = null;
  const onRecord = (cells: string[], line: number) => {
    if (columns === null) {
      columns = cells.map((c) => c.trim());
      return;
    }
    const rec: Record<string, string | undefined> = {};
    columns.forEach((c, i) => {
      rec[c] = cells[i];
    });
    const decision = rec.decision;
    if (decision !== 'approve' && decision !== 'revoke') {
      throw new ShadowInputError(
        `${path}:${line} decision: "${String(decision).slice(0, 40)}" is not approve or revoke`,
      );
    }
    const user = rec.user_id ? store.getUser(rec.user_id) : undefined;
    const ent = rec.entitlement_id ? store.getEntitlement(rec.entitlement_id) : undefined;
    userId = rec.user_id ?? '';
    if (!user || !ent) {
      if (unknown.length < 5)
        unknown.push(
          `${path}:${line} unknown ${!user ? `user_id "${rec.user_id}"` : `entitlement_id "${rec.entitlement_id}"`}`,
        );
      return;
    }
    rows.push({
      label: decision === 'revoke' ? 1 : 0,
      features: decisionFeatures(
        user,
        ent,
        entitlementDepartment(ent, peers.homeDepartment.get(ent.id)?.department ?? null),
        rec.reviewer_id || null,
        usageOf(ent, rec.decided_at ? (parseIsoTime(rec.decided_at) ?? nowIso) : nowIso),
      ),
    });
  };
  try {
    await readCsvFile(path, onRecord, (issue) => {
      throw new ShadowInputError(`${path}:${issue.line} cannot be read as CSV (${issue.reason})`);
    });
  } catch (e) {
    if (e instanceof ShadowInputError) throw e;
    throw new ShadowInputError(`${path}: cannot be read as CSV (${(e as Error).message})`);
  }
  if (unknown.length > 0 && rows.length === 0) {
    throw new ShadowInputError(
      `no decision in ${path} matches users and entitlements in the store: ${unknown.join('; ')}`,
    );
  }
  return rows;
}

/** How the live queue's items are recommended now, for comparison with the backtest. */
export interface LiveQueueMix {
  /** The campaign looked at, or null for every active campaign. */
  campaign_id: string | null;
  items: number;
  approve: number;
  revoke: number;
  escalate: number;
  /** Share of the items recommended `escalate`. */
  escalation_rate: number;
}

/** The recommendation mix of a campaign's items (or of every active campaign's). */
export function liveQueueMix(store: Store, campaignId?: string): LiveQueueMix {
  const ids =
    campaignId !== undefined
      ? store.getCampaign(campaignId)
        ? [campaignId]
        : []
      : store.listCampaigns('active').map((c) => c.id);
  const mix = { approve: 0, revoke: 0, escalate: 0, items: 0 };
  for (const id of ids) {
    const b = store.campaignBreakdown(id).by_recommendation;
    for (const [k, n] of Object.entries(b)) {
      mix.items += n;
      if (k === 'approve' || k === 'revoke' || k === 'escalate') mix[k] += n;
    }
  }
  return {
    campaign_id: campaignId ?? null,
    ...mix,
    escalation_rate: mix.items === 0 ? 0 : mix.escalate / mix.items,
  };
}

/** Shadow mode: K-fold cross-validation of the recommendations against past human decisions. */
export async function runShadow(
  store: Store,
  options: ShadowOptions,
): Promise<ShadowReport & { live_queue: LiveQueueMix }> {
  const peers = store.peerIndex();
  const dormantDays = options.dormantDays ?? 90;
  let rows: Array<{ features: Record<string, string | null>; label: 0 | 1; weight?: number }>;
  if (options.decisionsFile) {
    rows = await rowsFromFile(
      store,
      peers,
      options.decisionsFile,
      options.asOf,
      dormantDays,
      activityCoverage(store),
    );
  } else {
    const all = trainingRows(store, peers, options.asOf ?? new Date(), dormantDays);
    // Only the decisions made in that campaign (not every decision on the same user and entitlement).
    rows = options.campaignId === undefined ? all : all.filter((r) => r.campaign_id === options.campaignId);
  }
  if (rows.length < options.folds * 2) {
    throw new ShadowInputError(
      `shadow mode needs at least ${options.folds * 2} past decisions for ${options.folds} folds; found ${rows.length}. Import a decisions.csv or record decisions first.`,
    );
  }
  const thresholds = { ...defaultThresholds, ...options.thresholds };
  const report = crossValidate(rows, { folds: options.folds, seed: options.seed ?? 1, thresholds });
  return { ...report, live_queue: liveQueueMix(store, options.campaignId) };
}
