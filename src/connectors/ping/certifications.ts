import { z } from 'zod';
import { durationDays, hasMarker, markerOf, withMarker } from '../markers.js';
import type { ApplyOutcome, CampaignToCreate, CreateOutcome } from '../types.js';
import type { AicApi } from './api.js';
import { failedOutcome, type Operation } from './errors.js';
import { validate } from './http.js';

/**
 * Advanced Identity Cloud certifications made for a confirmed `create_campaign` change.
 *
 * What the admin UI's code shows (ForgeRock platform-ui, TemplateApi.js, the template editor's
 * save payload and the template list) and Attest follows:
 * - a certification is run from a template: `POST /governance/certification/template` saves the
 *   template (status `pending`), then `POST /governance/certification {"templateId"}` runs it
 *   (the template's status becomes `active`);
 * - templates are listed by `GET /governance/certification/template?pageSize&pageNumber&sortBy`,
 *   answering `{result, totalHits}`;
 * - the template body: name, description, certificationType (`identity`, `entitlement`, …),
 *   ownerId, stageDuration (days), stages `[{certifierType, certifierId}]` (`user` with a
 *   `managed/user/<id>`, `manager`, `entitlementOwner` for entitlement certifications),
 *   defaultCertifierId, and targetFilter `{type:[grant types], user, application, entitlement,
 *   role, account, decision}`, each filter `{operator, operand}` (`ALL`, `OR` of `EQUALS` on `id`).
 *
 * Unconfirmed, and chosen as the likeliest: what the two POSTs answer (the saved template and the
 * new certification, each with its `id`, are assumed; when the run answers without an id the
 * certification is found in the admin list), that a certification keeps its template's id as
 * `templateId` (or its description, which carries the marker), that the `user`, `application`,
 * `entitlement` and `role` filters combine as "these people's grants of these kinds in these
 * targets", and that `ownerId` accepts a `managed/user/<id>` reference.
 */
const OPS = {
  findTemplate: {
    surface: 'aic',
    action: 'looking for a certification template made earlier',
    need: 'fr:iga:*',
  },
  createTemplate: { surface: 'aic', action: 'creating a certification template', need: 'fr:iga:*' },
  findCampaign: { surface: 'aic', action: 'looking for the certification run earlier', need: 'fr:iga:*' },
  runTemplate: { surface: 'aic', action: 'running the certification template', need: 'fr:iga:*' },
} satisfies Record<string, Operation>;

export const AIC_CAMPAIGN_PERMISSIONS = [
  'Advanced Identity Cloud: a service account with the fr:iga:* scope (creates and runs certification templates)',
] as const;

// AIC's limits on a template's name and description are unconfirmed; Okta's are assumed.
const NAME_MAX = 255;
const DESCRIPTION_MAX = 1000;
const PAGE_SIZE = 100;

const template = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  description: z.string().nullish(),
  status: z.string().nullish(),
});
const templatePage = z.looseObject({
  result: z.array(template),
  totalHits: z.number().nullish(),
  totalCount: z.number().nullish(),
});
const certification = z.looseObject({
  id: z.string().min(1),
  name: z.string().nullish(),
  description: z.string().nullish(),
  templateId: z.string().nullish(),
  status: z.string().nullish(),
});
const runAnswer = z.looseObject({ id: z.string().nullish(), status: z.string().nullish() }).nullish();

type Target = { kind: 'app' | 'entitlement' | 'role'; id: string };

/** An AIC target of an entitlement's store id (`aic:app:<id>`, `aic:entitlement:<id>`, `aic:role:<id>`), or null. */
function targetOf(externalId: string): Target | null {
  const m = /^aic:(app|entitlement|role):(.+)$/.exec(externalId);
  return m ? { kind: m[1] as Target['kind'], id: m[2]! } : null;
}

/** The AIC managed user id of a store user id (`aic:user:<id>`), or null for a PingOne user. */
function aicUserOf(externalId: string | null): string | null {
  const m = externalId ? /^aic:user:(.+)$/.exec(externalId) : null;
  return m ? m[1]! : null;
}

const ref = (id: string) => `managed/user/${id}`;

/** Why Advanced Identity Cloud cannot take this certification, or null. */
export function checkAicCampaign(r: CampaignToCreate, configured: boolean): string | null {
  if (!configured)
    return 'Advanced Identity Cloud is not configured (PINGAIC_*): Ping campaigns are its certifications';
  const targets = r.resources.map((x) => targetOf(x.external_id));
  const other = targets.filter((t) => t === null).length;
  if (other > 0)
    return `${other} entitlement(s) in scope are PingOne directory access, not Advanced Identity Cloud applications, entitlements or roles (a certification targets AIC's own ids); narrow the scope to access read from certifications`;
  if (r.resources.length === 0) return 'no Advanced Identity Cloud access is in scope';
  const users = r.user_external_ids.map(aicUserOf);
  if (users.length === 0)
    return 'none of the people in scope is known to Advanced Identity Cloud in the store';
  if (users.some((u) => u === null))
    return 'some people in scope are known by their PingOne id only (their Advanced Identity Cloud id is not kept once joined to the directory), so a certification cannot name them; create it with PINGAIC_* alone, or in Attest only';
  if (r.reviewers.by === 'named' && !aicUserOf(r.reviewers.reviewer_external_id))
    return 'the named reviewer has no Advanced Identity Cloud account in the store';
  if (r.reviewers.by !== 'named' && !aicUserOf(r.reviewers.fallback_external_id))
    return 'the fallback reviewer has no Advanced Identity Cloud account in the store (a manager or owner certification needs one: the default certifier and the template owner)';
  if (r.reviewers.by === 'owner' && targets.some((t) => t!.kind !== 'entitlement'))
    return 'an entitlement owner certifies entitlements only (an AIC entitlement certification); applications or roles are in scope: review them by manager or a named reviewer';
  if (r.name.length > NAME_MAX)
    return `an Advanced Identity Cloud template name holds at most ${NAME_MAX} characters here`;
  return null;
}

const ALL = { operator: 'ALL', operand: [] };
const anyOf = (ids: string[]) => ({
  operator: 'OR',
  operand: ids.map((id) => ({ operator: 'EQUALS', operand: { targetName: 'id', targetValue: id } })),
});

/** The certification template of exactly these people's grants of these targets. */
export function aicTemplateBody(r: CampaignToCreate): Record<string, unknown> {
  const targets = r.resources.map((x) => targetOf(x.external_id)!);
  const of = (kind: Target['kind']) =>
    [...new Set(targets.filter((t) => t.kind === kind).map((t) => t.id))].sort();
  const apps = of('app');
  const entitlements = of('entitlement');
  const roles = of('role');
  const users = [...new Set(r.user_external_ids.map((u) => aicUserOf(u)!))].sort();
  const byOwner = r.reviewers.by === 'owner';
  const type = [
    ...(apps.length > 0 ? ['accountGrant'] : []),
    ...(entitlements.length > 0 ? ['entitlementGrant'] : []),
    ...(roles.length > 0 ? ['roleMembership'] : []),
  ];
  const named = aicUserOf(r.reviewers.reviewer_external_id);
  const fallback = aicUserOf(r.reviewers.fallback_external_id);
  const stage =
    r.reviewers.by === 'named'
      ? { certifierType: 'user', certifierId: ref(named!), certifierScript: null, certifierPath: null }
      : {
          certifierType: byOwner ? 'entitlementOwner' : 'manager',
          certifierId: null,
          certifierScript: null,
          certifierPath: null,
        };
  return {
    name: r.name,
    description: withMarker(r.description, r.idempotency_key, DESCRIPTION_MAX),
    certificationType: byOwner ? 'entitlement' : 'identity',
    status: 'pending',
    isEventBased: false,
    stagingEnabled: false,
    schedule: null,
    ownerId: ref((fallback ?? named)!),
    stageDuration: durationDays(r.start_at, r.due_at),
    stages: [stage],
    defaultCertifierId: fallback && fallback !== named ? ref(fallback) : null,
    allowSelfCertification: false,
    selfCertificationRule: 'none',
    enableForward: true,
    enableReassign: true,
    allowBulkCertify: true,
    allowPartialSignoff: false,
    requireJustification: { revoke: true, exceptionAllowed: true },
    exceptionDuration: 14,
    expirationAction: null,
    // Attest removes revoked access through its own outbox, unless PINGAIC_REMEDIATION says otherwise.
    remediationRule: null,
    remediationDelay: 0,
    excludeConditionalAccess: true,
    excludeRoleBasedAccess: true,
    targetFilter: {
      type,
      user: anyOf(users),
      // Every application when only entitlements or roles are in scope (accountGrant is then not reviewed).
      application: apps.length > 0 ? anyOf(apps) : ALL,
      ...(entitlements.length > 0 ? { entitlement: anyOf(entitlements) } : {}),
      ...(roles.length > 0 ? { role: anyOf(roles) } : {}),
      account: ALL,
      decision: ALL,
      memberOfOrg: [],
    },
  };
}

/**
 * Makes the template (or finds the one an earlier attempt made, by the marker in its
 * description, reading every template page by page: whether `queryString` searches descriptions
 * is unconfirmed), then runs it once: a template already `active`, or a certification of it in
 * the admin list, has been run, and is found again instead of run twice.
 */
export async function createAicCertification(
  aic: AicApi,
  r: CampaignToCreate,
  secrets: readonly string[],
): Promise<CreateOutcome> {
  let found: z.infer<typeof template> | null = null;
  try {
    // Pages are counted by what came back: the server may answer fewer than asked for.
    let seen = 0;
    for (let pageNumber = 0; found === null; pageNumber++) {
      const res = await aic.send('GET', '/governance/certification/template', {
        pageSize: PAGE_SIZE,
        pageNumber,
        sortBy: 'name',
      });
      const page = validate(
        templatePage,
        res.json,
        'aic',
        `the certification templates (page ${pageNumber})`,
      );
      found = page.result.find((t) => hasMarker(t.description, r.idempotency_key)) ?? null;
      seen += page.result.length;
      const total = page.totalHits ?? page.totalCount ?? null;
      if (page.result.length === 0 || (total !== null ? seen >= total : page.result.length < PAGE_SIZE))
        break;
      if (pageNumber > 10_000) break;
    }
  } catch (e) {
    return asCreateFailure(failedOutcome(e, OPS.findTemplate, secrets));
  }
  const existed = found !== null;
  let templateId: string;
  if (found) templateId = found.id;
  else {
    try {
      const res = await aic.send('POST', '/governance/certification/template', {}, aicTemplateBody(r));
      templateId = validate(template, res.json, 'aic', 'the created certification template').id;
    } catch (e) {
      return asCreateFailure(failedOutcome(e, OPS.createTemplate, secrets));
    }
  }
  let campaignId: string | null = null;
  if (existed) {
    try {
      campaignId = await findCertification(aic, templateId, r);
    } catch (e) {
      return asCreateFailure(failedOutcome(e, OPS.findCampaign, secrets));
    }
    if (campaignId === null && found?.status === 'active')
      return {
        status: 'failed',
        retryable: true,
        error: `Advanced Identity Cloud shows the template ${templateId} as run, but its certification is not among the active ones yet; this is tried again.`,
      };
  }
  let ran = false;
  if (campaignId === null) {
    try {
      const res = await aic.send('POST', '/governance/certification', {}, { templateId });
      campaignId = validate(runAnswer, res.json, 'aic', 'the certification run')?.id ?? null;
      ran = true;
      campaignId ??= await findCertification(aic, templateId, r);
    } catch (e) {
      return asCreateFailure(failedOutcome(e, OPS.runTemplate, secrets));
    }
    if (campaignId === null)
      return {
        status: 'failed',
        retryable: true,
        error: `Advanced Identity Cloud ran the template ${templateId} but its certification is not listed yet; this is tried again (the template is not run twice).`,
      };
  }
  return {
    status: 'done',
    platform_id: campaignId,
    existed: existed && !ran,
    details: {
      aic_certification_id: campaignId,
      aic_template_id: templateId,
      marker: markerOf(r.idempotency_key),
    },
  };
}

/** The active certification run from this template (by its templateId, or the marker in its description). */
async function findCertification(
  aic: AicApi,
  templateId: string,
  r: CampaignToCreate,
): Promise<string | null> {
  let id: string | null = null;
  await aic.pages(
    '/governance/admin/certification',
    { status: 'active' },
    undefined,
    certification,
    PAGE_SIZE,
    'the active certifications',
    (page) => {
      id ??=
        page.find((c) => c.templateId === templateId || hasMarker(c.description, r.idempotency_key))?.id ??
        null;
    },
  );
  return id;
}

function asCreateFailure(o: ApplyOutcome): CreateOutcome {
  return o.status === 'failed'
    ? { status: 'failed', retryable: o.retryable, error: o.error }
    : { status: 'failed', retryable: false, error: 'unexpected outcome' };
}
