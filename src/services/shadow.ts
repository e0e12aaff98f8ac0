import { decisionFeatures, entitlementDepartment } from '../analysis/features.js';
import { crossValidate, type ShadowReport } from '../analysis/shadow.js';
import { type AnalysisThresholds, defaultThresholds } from '../analysis/thresholds.js';
import { parseIsoTime } from '../connectors/snapshot/csv-import.js';
import { readCsvFile } from '../connectors/snapshot/csv-reader.js';
import { PeerIndex } from '../store/peers.js';
import type { Store } from '../store/store.js';
import { trainingRows } from './analyze.js';

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
) {
  const rows: Array<{ features: Record<string, string | null>; label: 0 | 1 }> = [];
  const nowIso = (asOf ?? new Date()).toISOString();
  const lastUseBefore = store.stmt(
    `SELECT max(at) AS at FROM activity_events WHERE user_id = ? AND app = ? AND outcome = 'success' AND at <= ?`,
  );
  let userId = '';
  const idleAt = (app: string | null, at: string): number | null | undefined => {
    if (app === null) return undefined;
    const last = (lastUseBefore.get(userId, app, at) as { at: string | null }).at;
    return last === null ? null : Math.floor((Date.parse(at) - Date.parse(last)) / 86_400_000);
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
        idleAt(ent.app, rec.decided_at ? (parseIsoTime(rec.decided_at) ?? nowIso) : nowIso),
        dormantDays,
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

/** Shadow mode: K-fold cross-validation of the recommendations against past human decisions. */
export async function runShadow(store: Store, options: ShadowOptions): Promise<ShadowReport> {
  const peers = new PeerIndex(store.db);
  let rows: Array<{ features: Record<string, string | null>; label: 0 | 1 }>;
  if (options.decisionsFile) {
    rows = await rowsFromFile(store, peers, options.decisionsFile, options.asOf, options.dormantDays ?? 90);
  } else {
    const all = trainingRows(store, peers, options.asOf ?? new Date(), options.dormantDays ?? 90);
    if (options.campaignId !== undefined) {
      const keep = new Set(
        (
          store.db
            .prepare('SELECT user_id, entitlement_id FROM past_decisions WHERE campaign_id = ?')
            .all(options.campaignId) as Array<{
            user_id: string;
            entitlement_id: string;
          }>
        ).map((r) => `${r.user_id}\u0000${r.entitlement_id}`),
      );
      rows = all.filter((r) => keep.has(r.key));
    } else rows = all;
  }
  if (rows.length < options.folds * 2) {
    throw new ShadowInputError(
      `shadow mode needs at least ${options.folds * 2} past decisions for ${options.folds} folds; found ${rows.length}. Import a decisions.csv or record decisions first.`,
    );
  }
  const thresholds = { ...defaultThresholds, ...options.thresholds };
  return crossValidate(rows, { folds: options.folds, seed: options.seed ?? 1, thresholds });
}
