import { redactSecrets } from '../okta/errors.js';
import type { ApplyOutcome, DecisionToApply } from '../types.js';
import type { AicApi } from './api.js';
import { failedOutcome, PingHttpError, statusOf } from './errors.js';
import { GOVERNANCE_OPS } from './governance.js';
import { TO_AIC } from './mapping.js';
import { aicItem } from './schemas.js';

/** The comment's maximum length is not documented; Attest keeps it under 1,000 characters. */
const COMMENT_MAX = 1000;

type Target = (typeof TO_AIC)[keyof typeof TO_AIC];

/** The comment AIC keeps on the item: the rationale, then who proposed and who confirmed, through which channel. */
export function commentFor(d: DecisionToApply, secrets: readonly string[]): string {
  const origin = d.engine_recommended ? 'AI-recommended' : 'Not AI-recommended';
  const trailer = `${origin}; proposed by ${d.proposed_by}, confirmed by ${d.confirmed_by} via ${d.channel}.`;
  const rationale = redactSecrets(d.rationale.trim(), secrets);
  const room = COMMENT_MAX - trailer.length - 1;
  return `${rationale.length > room ? `${rationale.slice(0, room - 1)}…` : rationale}\n${trailer}`;
}

interface Planned {
  index: number;
  d: DecisionToApply;
  cert: string;
  item: string;
  target: Target;
  ref: string;
}

/**
 * Confirmed decisions on Advanced Identity Cloud certification items: `certify`, `revoke` or
 * `exception` (for an escalation, where the certification allows exceptions). The item is read
 * first: the same decision already recorded is not sent again (a retry after a crash is safe),
 * and a different one made in AIC is never overturned. Batches of one certification go in bulk
 * calls (`…/items/{certify|revoke|exception}` with `ids`), one call per decision and comment;
 * when a bulk call is refused, each of its items is tried alone, so every item's result is its own.
 */
export class AicDecisions {
  constructor(
    private readonly api: AicApi | null,
    private readonly secrets: readonly string[],
  ) {}

  async apply(d: DecisionToApply): Promise<ApplyOutcome> {
    return (await this.applyBatch([d]))[0]!;
  }

  async applyBatch(decisions: readonly DecisionToApply[]): Promise<ApplyOutcome[]> {
    const out: ApplyOutcome[] = new Array(decisions.length);
    const planned: Planned[] = [];
    for (const [index, d] of decisions.entries()) {
      const c = d.item_coordinates;
      if (c.surface !== 'aic' || !c.certification_id || !c.item_id || this.api === null) {
        out[index] = {
          status: 'skipped',
          platform_ref: null,
          detail:
            c.surface === 'aic'
              ? 'Advanced Identity Cloud is not configured (PINGAIC_*): the decision is recorded in Attest only'
              : 'not an Advanced Identity Cloud certification item: recorded in Attest only',
        };
        continue;
      }
      const target = TO_AIC[d.decision];
      if (target === 'exception' && c.allow_exceptions === 'false') {
        out[index] = {
          status: 'skipped',
          platform_ref: null,
          detail: 'the certification does not allow exceptions: the escalation is recorded in Attest only',
        };
        continue;
      }
      const ref = `ping:aic:${c.certification_id}:${c.item_id}:${target}`;
      const current = await this.read(c.certification_id, c.item_id);
      if ('outcome' in current) {
        out[index] = current.outcome;
        continue;
      }
      if (current.decision === target) {
        out[index] = {
          status: 'done',
          platform_ref: ref,
          detail: 'the decision was already recorded in Advanced Identity Cloud',
        };
        continue;
      }
      if (current.decision !== null) {
        out[index] = {
          status: 'failed',
          retryable: false,
          error: `The certification item is already decided as ${current.decision} in Advanced Identity Cloud; it was not changed.`,
        };
        continue;
      }
      planned.push({ index, d, cert: c.certification_id, item: c.item_id, target, ref });
    }
    // One bulk call per certification, decision and comment (certify takes no comment).
    const groups = new Map<string, Planned[]>();
    for (const p of planned) {
      const comment = p.target === 'certify' ? '' : commentFor(p.d, this.secrets);
      const key = JSON.stringify([p.cert, p.target, comment]);
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    for (const [key, group] of groups) {
      const [cert, target, comment] = JSON.parse(key) as [string, Target, string];
      const results =
        group.length === 1 ? [await this.one(group[0]!)] : await this.bulk(cert, target, comment, group);
      for (const [i, p] of group.entries()) out[p.index] = results[i]!;
    }
    return out;
  }

  private async read(
    cert: string,
    item: string,
  ): Promise<{ decision: string | null } | { outcome: ApplyOutcome }> {
    try {
      const it = await this.api!.get(
        `/governance/certification/${encodeURIComponent(cert)}/items/${encodeURIComponent(item)}`,
        {},
        aicItem,
        'a certification item',
      );
      return { decision: it.decision?.certification?.decision ?? null };
    } catch (e) {
      if (statusOf(e) === 404)
        return {
          outcome: {
            status: 'failed',
            retryable: false,
            error: `Advanced Identity Cloud has no such certification item (${item}); nothing was recorded there.`,
          },
        };
      return { outcome: failedOutcome(e, GOVERNANCE_OPS.item, this.secrets) };
    }
  }

  private path(cert: string, rest: string): string {
    return `/governance/certification/${encodeURIComponent(cert)}/items/${rest}`;
  }

  /** One item: `…/items/{id}/{decision}` (with `{comment}` for revoke and exception), then a comment on a certify. */
  private async one(p: Planned): Promise<ApplyOutcome> {
    const comment = commentFor(p.d, this.secrets);
    try {
      await this.api!.send(
        'POST',
        this.path(p.cert, `${encodeURIComponent(p.item)}/${p.target}`),
        {},
        p.target === 'certify' ? undefined : { comment },
      );
    } catch (e) {
      return failedOutcome(e, GOVERNANCE_OPS.decide, this.secrets);
    }
    if (p.target === 'certify') await this.note(p, comment);
    return { status: 'done', platform_ref: p.ref };
  }

  private async bulk(
    cert: string,
    target: Target,
    comment: string,
    group: Planned[],
  ): Promise<ApplyOutcome[]> {
    try {
      await this.api!.send(
        'POST',
        this.path(cert, target),
        {},
        target === 'certify' ? { ids: group.map((p) => p.item) } : { ids: group.map((p) => p.item), comment },
      );
    } catch (e) {
      const s = statusOf(e);
      // Refused as a whole: each item alone says which of them is at fault.
      if (e instanceof PingHttpError && s !== null && s < 500 && s !== 408 && s !== 429) {
        const results: ApplyOutcome[] = [];
        for (const p of group) results.push(await this.one(p));
        return results;
      }
      const failed = failedOutcome(e, GOVERNANCE_OPS.decide, this.secrets);
      return group.map(() => failed);
    }
    if (target === 'certify') for (const p of group) await this.note(p, commentFor(p.d, this.secrets));
    return group.map((p) => ({ status: 'done', platform_ref: p.ref }));
  }

  /** The rationale and who confirmed, as a comment on a certified item; a refused comment does not undo the decision. */
  private async note(p: Planned, comment: string): Promise<void> {
    try {
      await this.api!.send(
        'POST',
        this.path(p.cert, `${encodeURIComponent(p.item)}/comment`),
        {},
        { comment },
      );
    } catch {
      // The decision stands; the comment is evidence only.
    }
  }
}
