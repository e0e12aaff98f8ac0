import type { PastDecisionRecord, ReviewItemRecord, SyncSink } from '../../domain/sync.js';
import { codeOf, type Operation, statusOf } from './errors.js';
import type { GraphApi } from './graph.js';
import { DEFAULT_ACCESS, entitlementIds, field, isoOf } from './mapping.js';
import type { Catalog } from './sync.js';

const AR = '/identityGovernance/accessReviews/definitions';

export interface ReviewSettings {
  pageSize: number;
  /** Completed instances already read by an earlier sync. */
  known: Set<string>;
  full: boolean;
  warnings: string[];
  step: <T>(op: Operation, fn: () => Promise<T>) => Promise<T>;
  progress: (phase: string, done: number) => void;
}

const OP: Operation = { action: 'listing access reviews', permission: 'AccessReview.Read.All' };
const DECISIONS = { Approve: 'approve', Deny: 'revoke', DontKnow: 'escalate' } as const;
/** Instances whose decisions are final. */
const FINAL = new Set(['Completed', 'AutoReviewed']);

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * Access reviews: every definition's instances. An instance in progress is a campaign,
 * its decision items are review items (with Entra's own recommendation and insights kept
 * as the item's platform attributes, and its place in the review as coordinates), and
 * decisions already made show as decided. A completed instance is read once: its
 * decisions become past decisions. Without the licence or the permission the rest of the
 * sync stands and a warning says why. Returns the completed instances read so far.
 */
export async function syncReviews(
  graph: GraphApi,
  sink: SyncSink,
  catalog: Catalog,
  s: ReviewSettings,
): Promise<string[]> {
  const definitions: unknown[] = [];
  try {
    // Reviews page with $skip (and $top, at most 100).
    await graph.list(AR, { $top: String(s.pageSize) }, (page) => {
      definitions.push(...page);
    });
  } catch (e) {
    const status = statusOf(e);
    if (status !== 403 && status !== 404) throw e;
    s.warnings.push(
      `Access reviews were not read (HTTP ${status} ${codeOf(e)}): they need Microsoft Entra ID Governance (or P2) and ` +
        `the ${OP.permission} permission. Everything else was synced.`,
    );
    return [...s.known];
  }
  const completed = new Set(s.known);
  let skipped = 0;
  let withoutInsights = false;
  for (const def of definitions) {
    const defId = text(field(def, 'id'));
    if (defId === null) continue;
    const instances: unknown[] = [];
    await s.step(OP, () =>
      graph.list(`${AR}/${encodeURIComponent(defId)}/instances`, { $top: String(s.pageSize) }, (page) => {
        instances.push(...page);
      }),
    );
    const settings = field(def, 'settings');
    const reviewers = field(def, 'reviewers');
    const reviewerQuery =
      Array.isArray(reviewers) && reviewers.length === 1 ? text(field(reviewers[0], 'query')) : null;
    for (const inst of instances) {
      const instId = text(field(inst, 'id'));
      const status = text(field(inst, 'status'));
      if (instId === null || status === null) continue;
      const live = status === 'InProgress';
      if (!live && !(FINAL.has(status) && !completed.has(instId))) continue;
      const name = text(field(def, 'displayName')) ?? defId;
      if (live) {
        sink.campaigns([
          {
            external_id: instId,
            name: `${name} (${String(field(inst, 'startDateTime') ?? '').slice(0, 10)} to ${String(field(inst, 'endDateTime') ?? '').slice(0, 10)})`,
            created_at: isoOf(field(inst, 'startDateTime')),
            due_at: isoOf(field(inst, 'endDateTime')),
            status: 'active',
            attributes: {
              entra_definition_id: defId,
              entra_instance_id: instId,
              entra_status: status,
              auto_apply: String(field(settings, 'autoApplyDecisionsEnabled') === true),
              justification_required: String(field(settings, 'justificationRequiredOnApproval') === true),
              ...(reviewerQuery ? { reviewers: reviewerQuery } : {}),
            },
            src: { file: 'entra:access-reviews', line: 0 },
          },
        ]);
      }
      // One item per user and entitlement: a second decision about the same app takes the user's next app role there.
      const used = new Set<string>();
      const instancePath = `${AR}/${encodeURIComponent(defId)}/instances/${encodeURIComponent(instId)}`;
      // A multi-stage review keeps decisions per stage: the stage in progress, or the last one once completed.
      const stageId = hasStages(def) ? await s.step(OP, () => currentStage(graph, instancePath, live)) : null;
      const base =
        stageId === null
          ? `${instancePath}/decisions`
          : `${instancePath}/stages/${encodeURIComponent(stageId)}/decisions`;
      const onPage = (page: unknown[]) => {
        const items: ReviewItemRecord[] = [];
        const past: PastDecisionRecord[] = [];
        for (const d of page) {
          const item = decisionItem(
            d,
            {
              defId,
              instId,
              stageId,
              reviewerQuery,
              autoApply: field(settings, 'autoApplyDecisionsEnabled') === true,
              used,
            },
            catalog,
          );
          if (item === null) {
            skipped++;
            continue;
          }
          if (live) items.push(item);
          else if (item.decided && item.decided.decision !== 'escalate') {
            past.push({
              user_external_id: item.user_external_id,
              entitlement_external_id: item.entitlement_external_id,
              decision: item.decided.decision,
              decided_at: item.decided.decided_at,
              reviewer_external_id: item.decided.decided_by?.replace(/^entra:/, '') ?? null,
              campaign_external_id: instId,
              src: { file: 'entra:access-reviews', line: 0 },
            });
          }
        }
        if (items.length > 0) sink.reviewItems(items);
        if (past.length > 0) sink.pastDecisions(past);
        s.progress('access reviews', items.length + past.length);
      };
      await s.step(OP, async () => {
        try {
          await graph.list(
            base,
            { $top: String(s.pageSize), ...(withoutInsights ? {} : { $expand: 'insights' }) },
            onPage,
          );
        } catch (e) {
          // Insights are documented on beta; where v1.0 refuses the $expand, the decisions are read without them.
          if (statusOf(e) !== 400 || withoutInsights) throw e;
          withoutInsights = true;
          s.warnings.push(
            "Access review insights were not returned by this Graph version; Entra's recommendations were kept.",
          );
          await graph.list(base, { $top: String(s.pageSize) }, onPage);
        }
      });
      if (!live) completed.add(instId);
    }
  }
  if (skipped > 0) {
    s.warnings.push(
      `${skipped} access review decisions were skipped: their principal is not a user, or their resource is not a group ` +
        'or an app this sync read.',
    );
  }
  return [...completed];
}

/** A decision item → a review item, or null when it is not about access this sync read. */
interface ItemContext {
  defId: string;
  instId: string;
  stageId: string | null;
  reviewerQuery: string | null;
  autoApply: boolean;
  /** user|entitlement pairs already given an item in this instance. */
  used: Set<string>;
}

function hasStages(def: unknown): boolean {
  const st = field(def, 'stageSettings');
  return Array.isArray(st) && st.length > 0;
}

/** The stage whose decisions count: the one in progress (live), or the last to end (completed). */
async function currentStage(graph: GraphApi, instancePath: string, live: boolean): Promise<string | null> {
  const stages: unknown[] = [];
  await graph.list(`${instancePath}/stages`, {}, (page) => {
    stages.push(...page);
  });
  const pick = live
    ? stages.find((st) => field(st, 'status') === 'InProgress')
    : [...stages]
        .sort((a, b) => String(field(a, 'endDateTime')).localeCompare(String(field(b, 'endDateTime'))))
        .at(-1);
  return text(field(pick, 'id'));
}

function decisionItem(d: unknown, ctx: ItemContext, catalog: Catalog): ReviewItemRecord | null {
  const { defId, instId, stageId, reviewerQuery, autoApply, used } = ctx;
  const id = text(field(d, 'id'));
  const principal = field(d, 'principal');
  const userId = text(field(principal, 'id'));
  const resource = field(d, 'resource');
  const resourceId = text(field(resource, 'id'));
  if (id === null || userId === null || resourceId === null) return null;
  const ptype = text(field(principal, '@odata.type'));
  if ((ptype !== null && ptype !== '#microsoft.graph.userIdentity') || !catalog.users.has(userId))
    return null;
  const entitlement = entitlementsFor(userId, resourceId, text(field(resource, 'type')), catalog).find(
    (e) => !used.has(`${userId}|${e}`),
  );
  if (entitlement === undefined) return null;
  used.add(`${userId}|${entitlement}`);
  const decision = text(field(d, 'decision'));
  const reviewedBy = text(field(field(d, 'reviewedBy'), 'id'));
  const mapped =
    decision !== null && decision in DECISIONS ? DECISIONS[decision as keyof typeof DECISIONS] : null;
  const attributes: Record<string, string> = {};
  const rec = text(field(d, 'recommendation'));
  if (rec) attributes.entra_recommendation = rec;
  const apply = text(field(d, 'applyResult'));
  if (apply) attributes.entra_apply_result = apply;
  const insights = field(d, 'insights');
  if (Array.isArray(insights)) {
    const kept: string[] = [];
    for (const i of insights) {
      const type = text(field(i, '@odata.type'));
      if (type === '#microsoft.graph.userSignInInsight') {
        const last = isoOf(field(i, 'lastSignInDateTime'));
        attributes.entra_insight_last_sign_in = last ?? 'never';
        kept.push('userSignInInsight');
      } else if (type === '#microsoft.graph.membershipOutlierInsight') {
        attributes.entra_insight_outlier = 'true';
        kept.push('membershipOutlierInsight');
      }
    }
    if (kept.length > 0) attributes.entra_insights = kept.join(',');
  }
  const reviewer =
    reviewerQuery === './manager'
      ? (catalog.managers.get(userId) ?? null)
      : (/^\/users\/([^/]+)$/.exec(reviewerQuery ?? '')?.[1] ?? null);
  return {
    external_id: `${instId}:${id}`,
    campaign_external_id: instId,
    user_external_id: userId,
    entitlement_external_id: entitlement,
    reviewer_external_id: reviewer !== null && catalog.users.has(reviewer) ? reviewer : null,
    decided:
      mapped === null
        ? null
        : {
            decision: mapped,
            decided_by:
              reviewedBy !== null && reviewedBy !== '00000000-0000-0000-0000-000000000000'
                ? `entra:${reviewedBy}`
                : null,
            decided_at: isoOf(field(d, 'reviewedDateTime')),
          },
    coordinates: {
      definition_id: defId,
      instance_id: instId,
      ...(stageId === null ? {} : { stage_id: stageId }),
      decision_id: id,
      principal_id: userId,
      resource_id: resourceId,
      auto_apply: String(autoApply),
    },
    attributes,
    src: { file: 'entra:access-reviews', line: 0 },
  };
}

/**
 * The entitlements a decision may be about: a group, or for an app (its service principal)
 * the app roles the user holds there (the default access when none).
 */
function entitlementsFor(
  userId: string,
  resourceId: string,
  type: string | null,
  catalog: Catalog,
): string[] {
  const group = entitlementIds.group(resourceId);
  if ((type === null || type === 'group') && catalog.entitlements.has(group)) return [group];
  if (catalog.apps.has(resourceId)) {
    const held = catalog.appRolesHeld.get(userId)?.get(resourceId) ?? [];
    if (held.length > 0) return held;
    const def = entitlementIds.appRole(resourceId, DEFAULT_ACCESS);
    return catalog.entitlements.has(def) ? [def] : [];
  }
  return [];
}
