import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { platformSchema, signalCodeSchema } from '../domain/index.js';
import type { ScopedAssignmentRow } from '../store/campaigns.js';
import type { Store } from '../store/store.js';

/** What a risk-triggered campaign covers and who reviews it (validated before anything is created). */
export const campaignSpecSchema = z
  .object({
    name: z.string().trim().min(1, 'name must not be empty').max(200).describe('The campaign name'),
    due_at: z.iso.datetime({ offset: true }).optional().describe('When reviewers should be done (ISO 8601)'),
    scope: z
      .object({
        min_risk: z
          .number()
          .int()
          .min(0)
          .max(100)
          .optional()
          .describe('Only access scored at least this risk'),
        signals: z
          .array(signalCodeSchema)
          .max(20)
          .optional()
          .describe('Only access showing any of these signals'),
        app: z.string().min(1).max(256).optional().describe('Only access to this app'),
        entitlement_ids: z
          .array(z.string().min(1).max(256))
          .max(500)
          .optional()
          .describe('Only these entitlements'),
        department: z.string().min(1).max(256).optional().describe('Only people of this department'),
        user_ids: z.array(z.string().min(1).max(256)).max(5000).optional().describe('Only these people'),
        platform: platformSchema.optional().describe('Only access on this platform'),
        changed_within_days: z
          .number()
          .int()
          .min(1)
          .max(3650)
          .optional()
          .describe(
            'Only people whose department or title changed within this many days (e.g. movers of the last 30 days)',
          ),
        max_items: z.number().int().min(1).max(1_000_000).default(50_000).describe('At most this many items'),
      })
      .strict()
      .describe('Which access to review: every given filter must hold'),
    reviewers: z
      .object({
        by: z
          .enum(['manager', 'owner', 'named'])
          .describe(
            "manager: each person's manager; owner: the entitlement's (or app's) owner; named: reviewer_id",
          ),
        reviewer_id: z.string().min(1).max(256).optional().describe('The reviewer for by = named'),
        fallback_reviewer_id: z
          .string()
          .min(1)
          .max(256)
          .describe('Who reviews when the chosen reviewer is missing or would review their own access'),
      })
      .strict(),
    on_platform: z
      .enum(['okta', 'entra', 'ping'])
      .optional()
      .describe(
        "Also create the campaign on this platform (an Okta Identity Governance campaign, an Entra access review, an Advanced Identity Cloud certification on Ping); only that platform's access is in scope",
      ),
  })
  .strict()
  .refine((s) => !s.on_platform || !s.scope.platform || s.scope.platform === s.on_platform, {
    message: 'scope.platform must be on_platform (or left out) when the campaign is created on a platform',
    path: ['scope', 'platform'],
  });
export type CampaignSpec = z.infer<typeof campaignSpecSchema>;

export interface CampaignPreview {
  items: number;
  users: number;
  entitlements: number;
  reviewers: Array<{ reviewer_id: string | null; items: number }>;
  /** Items whose chosen reviewer was the person themselves (or missing) and went to the fallback. */
  fallback: number;
  /** Items nobody could review without reviewing their own access. */
  unassigned: number;
  by_signal: Record<string, number>;
  /** Assignments that matched the other filters but have no score yet (left out by min_risk/signals). */
  unscored: number;
  /** More matched than max_items. */
  truncated: boolean;
}

/** A scoped assignment with its signals parsed. */
type Candidate = Omit<ScopedAssignmentRow, 'signals'> & { signals: string[] };

/**
 * The items a campaign spec covers, from the current assignments: filters on people and
 * access in SQL, then risk and signals from the engine's latest scoring of each pair (the
 * most recently analysed review item of the same person and entitlement).
 */
export function resolveCampaign(store: Store, spec: CampaignSpec, now: Date) {
  const s = spec.scope;
  const rows = store.campaigns.scopedAssignments({
    platform: s.platform ?? spec.on_platform,
    app: s.app,
    department: s.department,
    entitlement_ids: s.entitlement_ids,
    user_ids: s.user_ids,
    changed_since: s.changed_within_days
      ? new Date(now.getTime() - s.changed_within_days * 86_400_000).toISOString()
      : undefined,
  });
  const needScore = s.min_risk !== undefined || (s.signals?.length ?? 0) > 0;
  const wanted = new Set<string>(s.signals ?? []);
  let unscored = 0;
  const matched: Candidate[] = [];
  for (const r of rows) {
    const signals = r.signals ? (JSON.parse(r.signals) as Array<{ code: string }>).map((x) => x.code) : [];
    if (needScore && r.risk === null) {
      unscored++;
      continue;
    }
    if (s.min_risk !== undefined && (r.risk ?? 0) < s.min_risk) continue;
    if (wanted.size > 0 && !signals.some((c) => wanted.has(c))) continue;
    matched.push({ ...r, signals });
  }
  const truncated = matched.length > s.max_items;
  const chosen = truncated ? matched.slice(0, s.max_items) : matched;
  let fallback = 0;
  let unassigned = 0;
  const items = chosen.map((c) => {
    const first =
      spec.reviewers.by === 'manager'
        ? c.manager_id
        : spec.reviewers.by === 'owner'
          ? (c.owner_id ?? (c.app ? store.appOwner(c.app) : null))
          : (spec.reviewers.reviewer_id ?? null);
    let reviewer: string | null = first && first !== c.user_id ? first : null;
    if (reviewer === null) {
      fallback++;
      reviewer =
        spec.reviewers.fallback_reviewer_id !== c.user_id ? spec.reviewers.fallback_reviewer_id : null;
      if (reviewer === null) unassigned++;
    }
    return { ...c, reviewer_id: reviewer };
  });
  const byReviewer = new Map<string | null, number>();
  const bySignal: Record<string, number> = {};
  for (const i of items) {
    byReviewer.set(i.reviewer_id, (byReviewer.get(i.reviewer_id) ?? 0) + 1);
    for (const c of i.signals) bySignal[c] = (bySignal[c] ?? 0) + 1;
  }
  const preview: CampaignPreview = {
    items: items.length,
    users: new Set(items.map((i) => i.user_id)).size,
    entitlements: new Set(items.map((i) => i.entitlement_id)).size,
    reviewers: [...byReviewer.entries()]
      .map(([reviewer_id, n]) => ({ reviewer_id, items: n }))
      .sort((a, b) => b.items - a.items || String(a.reviewer_id).localeCompare(String(b.reviewer_id))),
    fallback,
    unassigned,
    by_signal: bySignal,
    unscored,
    truncated,
  };
  return { items, preview };
}

/** One line that says what the campaign is, for the human who confirms it (data fields quoted by the renderer). */
export function campaignSummary(spec: CampaignSpec, preview: CampaignPreview): string {
  const f = spec.scope;
  const filters = [
    f.min_risk !== undefined ? `risk >= ${f.min_risk}` : null,
    f.signals?.length ? `signals ${f.signals.join('/')}` : null,
    f.app ? `app ${JSON.stringify(f.app)}` : null,
    f.department ? `department ${JSON.stringify(f.department)}` : null,
    f.entitlement_ids ? `${f.entitlement_ids.length} entitlement(s)` : null,
    f.user_ids ? `${f.user_ids.length} person(s)` : null,
    f.platform ? `platform ${f.platform}` : null,
    f.changed_within_days ? `movers of the last ${f.changed_within_days} days` : null,
  ].filter((x) => x !== null);
  return `Create campaign ${JSON.stringify(spec.name)}${spec.on_platform ? ` locally and on ${spec.on_platform}` : ''}: ${preview.items} item(s) of ${preview.users} person(s) (${filters.join(', ') || 'every assignment'}), reviewed by ${spec.reviewers.by === 'named' ? JSON.stringify(spec.reviewers.reviewer_id) : `each item's ${spec.reviewers.by}`}, fallback ${JSON.stringify(spec.reviewers.fallback_reviewer_id)}${spec.due_at ? `, due ${spec.due_at}` : ''}`;
}

/**
 * Creates the campaign and its items in the store (inside the caller's transaction): a
 * campaign of Attest's own (`origin: attest`), whose decisions are recorded here and whose
 * revoked access is removed on each item's platform directly. Items are resolved again now,
 * so what is created is what the data says at the moment of the human's confirmation.
 */
export function createCampaignLocally(
  store: Store,
  spec: CampaignSpec,
  changeId: string,
  now: Date,
  options: {
    /** The items resolved for the platform call, so both hold the same ones. */
    resolved?: ReturnType<typeof resolveCampaign>;
    /** The platform's id of the same campaign. */
    platformCampaignId?: string | null;
  } = {},
): { campaign_id: string; items: number; preview: CampaignPreview; platform_campaign_id: string | null } {
  const { items, preview } = options.resolved ?? resolveCampaign(store, spec, now);
  const platformCampaignId = options.platformCampaignId ?? null;
  const id = `cmp-${randomBytes(6).toString('hex')}`;
  const at = now.toISOString();
  // Listed under the platform of its access when that is one platform (the items keep theirs).
  const platforms = new Set(items.map((i) => i.platform));
  const platform = platforms.size === 1 ? [...platforms][0]! : 'snapshot';
  store.campaigns.insertLocal({
    id,
    platform,
    name: spec.name,
    created_at: at,
    due_at: spec.due_at ? new Date(spec.due_at).toISOString() : null,
    attributes: {
      origin: 'attest',
      change_id: changeId,
      scope: JSON.stringify(spec.scope),
      reviewers: spec.reviewers.by,
      ...(spec.on_platform ? { created_on: spec.on_platform } : {}),
    },
    platform_campaign_id: platformCampaignId,
    items: items.map((i, n) => ({
      id: `${id}-${n + 1}`,
      user_id: i.user_id,
      entitlement_id: i.entitlement_id,
      reviewer_id: i.reviewer_id,
      platform: i.platform,
    })),
  });
  return { campaign_id: id, items: items.length, preview, platform_campaign_id: platformCampaignId };
}
