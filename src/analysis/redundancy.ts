/**
 * Redundant access: several held entitlements onto the same app. The one granting the most
 * (privileged first, then the highest sensitivity) is kept; every other one adds nothing the kept
 * one does not already grant, so it can go.
 */
import type { Sensitivity } from '../domain/index.js';

/** One entitlement a user holds, as far as redundancy is concerned. */
export interface HeldEntitlement {
  entitlement_id: string;
  app: string | null;
  privileged: boolean;
  sensitivity: Sensitivity;
}

/** Why an entitlement is redundant: which one is kept instead, in words. */
export interface RedundancyFinding {
  kept: string;
  detail: string;
}

const sensitivityRank: Record<Sensitivity, number> = { critical: 3, high: 2, medium: 1, low: 0 };

function compareBreadth(a: HeldEntitlement, b: HeldEntitlement): number {
  if (a.privileged !== b.privileged) return a.privileged ? -1 : 1;
  const s = (sensitivityRank[b.sensitivity] ?? 0) - (sensitivityRank[a.sensitivity] ?? 0);
  if (s !== 0) return s;
  return a.entitlement_id < b.entitlement_id ? -1 : a.entitlement_id > b.entitlement_id ? 1 : 0;
}

/**
 * For each app with two or more held entitlements, keeps the broadest and marks the others
 * redundant. Entitlements without an app are never redundant. Keyed by the redundant
 * entitlement's id.
 */
export function findRedundant(held: HeldEntitlement[]): Map<string, RedundancyFinding> {
  const byApp = new Map<string, Map<string, HeldEntitlement>>();
  for (const h of held) {
    if (h.app === null) continue;
    let group = byApp.get(h.app);
    if (!group) {
      group = new Map();
      byApp.set(h.app, group);
    }
    const existing = group.get(h.entitlement_id);
    // The same entitlement listed twice counts once, with its broadest description.
    if (!existing || compareBreadth(h, existing) < 0) group.set(h.entitlement_id, h);
  }
  const out = new Map<string, RedundancyFinding>();
  const apps = [...byApp.keys()].sort();
  for (const app of apps) {
    const members = [...byApp.get(app)!.values()].sort(compareBreadth);
    if (members.length < 2) continue;
    const kept = members[0]!.entitlement_id;
    const extras = members.length - 1;
    const detail =
      `member of ${members.length} entitlements onto ${app} with similar or narrower access: ` +
      `keep ${kept}, revoke ${extras}`;
    for (const m of members.slice(1)) out.set(m.entitlement_id, { kept, detail });
  }
  return out;
}
