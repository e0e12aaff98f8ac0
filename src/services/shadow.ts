import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { crossValidate, type ShadowReport } from '../analysis/shadow.js';
import { type AnalysisThresholds, defaultThresholds } from '../analysis/thresholds.js';
import { PeerIndex } from '../store/peers.js';
import type { Store } from '../store/store.js';
import { trainingRows } from './analyze.js';
import { decisionFeatures } from '../analysis/features.js';

export interface ShadowOptions {
  folds: number;
  seed?: number;
  /** Only past decisions of this campaign. */
  campaignId?: string;
  /** Read decisions from this CSV (decisions.csv columns) instead of the store. */
  decisionsFile?: string;
  thresholds?: Partial<AnalysisThresholds>;
}

export class ShadowInputError extends Error {
  override name = 'ShadowInputError';
}

async function rowsFromFile(store: Store, peers: PeerIndex, path: string) {
  const rows: Array<{ features: Record<string, string | null>; label: 0 | 1 }> = [];
  let line = 1;
  const unknown: string[] = [];
  const parser = createReadStream(path).pipe(parse({ columns: true, bom: true, skip_empty_lines: true }));
  try {
    for await (const rec of parser as AsyncIterable<Record<string, string>>) {
      line++;
      const decision = rec.decision;
      if (decision !== 'approve' && decision !== 'revoke') {
        throw new ShadowInputError(`${path}:${line} decision: "${String(decision).slice(0, 40)}" is not approve or revoke`);
      }
      const user = rec.user_id ? store.getUser(rec.user_id) : undefined;
      const ent = rec.entitlement_id ? store.getEntitlement(rec.entitlement_id) : undefined;
      if (!user || !ent) {
        if (unknown.length < 5) unknown.push(`${path}:${line} unknown ${!user ? `user_id "${rec.user_id}"` : `entitlement_id "${rec.entitlement_id}"`}`);
        continue;
      }
      rows.push({
        label: decision === 'revoke' ? 1 : 0,
        features: decisionFeatures(user, ent, peers.homeDepartment.get(ent.id)?.department ?? null),
      });
    }
  } catch (e) {
    if (e instanceof ShadowInputError) throw e;
    throw new ShadowInputError(`${path}: cannot be read as CSV (${(e as Error).message})`);
  }
  if (unknown.length > 0 && rows.length === 0) {
    throw new ShadowInputError(`no decision in ${path} matches users and entitlements in the store: ${unknown.join('; ')}`);
  }
  return rows;
}

/** Shadow mode: K-fold cross-validation of the recommendations against past human decisions. */
export async function runShadow(store: Store, options: ShadowOptions): Promise<ShadowReport> {
  const peers = new PeerIndex(store.db);
  let rows: Array<{ features: Record<string, string | null>; label: 0 | 1 }>;
  if (options.decisionsFile) {
    rows = await rowsFromFile(store, peers, options.decisionsFile);
  } else {
    const all = trainingRows(store, peers);
    if (options.campaignId !== undefined) {
      const keep = new Set(
        (
          store.db.prepare('SELECT user_id, entitlement_id FROM past_decisions WHERE campaign_id = ?').all(options.campaignId) as Array<{
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
