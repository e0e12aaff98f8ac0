import type {
  AssignmentRecord,
  EntitlementRecord,
  PastDecisionRecord,
  RemovalRecord,
  ReviewItemRecord,
  SyncSink,
  UserRecord,
} from '../../domain/sync.js';
import { isoOf } from '../okta/mapping.js';
import type { AicApi } from './api.js';
import type { Directory } from './directory.js';
import { type Operation, statusOf } from './errors.js';
import { aicAccessName, aicEntitlementOf, FROM_AIC, ids } from './mapping.js';
import { type AicCertification, type AicItem, aicCertification, aicItem } from './schemas.js';

const op = (action: string): Operation => ({
  surface: 'aic',
  action,
  need: 'the fr:iga:* scope, granted to the service account with an Identity Governance administrator role',
});

export const GOVERNANCE_OPS = {
  certifications: op('listing certifications'),
  items: op("searching a certification's items"),
  item: op('reading a certification item'),
  decide: op('recording the certification decision'),
};

/** Statuses of a certification being reviewed, and of one that is over (the full list is not published). */
const LIVE = new Set(['in-progress', 'active']);
const OVER = new Set(['signed-off', 'closed', 'completed', 'expired', 'cancelled', 'canceled']);
/** Items of an active certification that vanished since the last sync are read one by one up to this many. */
const READ_ONE_BY_ONE = 200;

/** targetFilter for items nobody has decided yet (the operators and field are the admin UI's own). */
export const UNDECIDED = {
  operator: 'NOT',
  operand: [{ operator: 'EXISTS', operand: { targetName: 'decision.certification.decision' } }],
};

/** What a sync remembers of the certifications. */
export interface AicState {
  /**
   * Active certification → its undecided items at the last sync (searched again; the others only
   * when they change): item id → "user<TAB>access" for access that is AIC's own, else "".
   */
  active: Record<string, Record<string, string>>;
  /** Completed certifications whose decisions were read. */
  completed: string[];
}

export interface GovernanceSettings {
  itemPageSize: number;
  listPageSize: number;
  /** Read every item of every active certification (a full sync), not only the undecided ones. */
  full: boolean;
  prev: AicState | null;
  /** The PingOne directory read in this sync, when it is configured: items join its people and groups. */
  directory: Directory | null;
  joinKey: 'username' | 'email';
  warnings: string[];
  step: <T>(op: Operation, fn: () => Promise<T>) => Promise<T>;
  progress: (phase: string, done: number) => void;
}

const ITEM_QUERY = { isAdmin: true, sortBy: 'id', sortDir: 'asc' };

/**
 * Advanced Identity Cloud certifications: an active certification is a campaign and its
 * items are review items (decisions already made show as decided, `exception` as an
 * escalation); a completed certification is read once, its certify and revoke decisions kept
 * as past decisions. A later sync searches only the items still undecided (`targetFilter`) and
 * reads the ones decided since one by one. With the PingOne directory configured, an item's
 * user is the PingOne user with the same username (or email, PINGAIC_JOIN) and its access the
 * PingOne group of the same name where there is one; anything else is kept as AIC's own.
 */
export class GovernanceRead {
  private readonly stagedUsers = new Set<string>();
  private readonly stagedEntitlements = new Set<string>();
  private readonly heldPairs = new Set<string>();
  private unmatched = 0;
  private duplicates = 0;
  readonly state: AicState = { active: {}, completed: [] };

  constructor(
    private readonly api: AicApi,
    private readonly sink: SyncSink,
    private readonly s: GovernanceSettings,
  ) {}

  async run(): Promise<AicState> {
    const active = await this.s.step(GOVERNANCE_OPS.certifications, () => this.list('active'));
    const over = await this.listCompleted();
    for (const c of active.filter((x) => LIVE.has(x.status))) await this.readActive(c);
    const known = new Set(this.s.prev?.completed ?? []);
    this.state.completed = [...known];
    for (const c of over.filter((x) => OVER.has(x.status) && !known.has(x.id))) {
      await this.readCompleted(c, this.s.prev?.active[c.id] !== undefined);
      this.state.completed.push(c.id);
    }
    if (this.unmatched > 0)
      this.s.warnings.push(
        `${this.unmatched} certification items name a user with no PingOne user of the same ${this.s.joinKey}; they are kept as Advanced Identity Cloud users.`,
      );
    if (this.duplicates > 0)
      this.s.warnings.push(
        `${this.duplicates} certification items were skipped: another item of the same certification is about the same user and access.`,
      );
    return this.state;
  }

  private async list(status: string): Promise<AicCertification[]> {
    const out: AicCertification[] = [];
    await this.api.pages(
      '/governance/admin/certification',
      { status },
      undefined,
      aicCertification,
      this.s.listPageSize,
      'certifications',
      (p) => {
        out.push(...p);
      },
    );
    return out;
  }

  private async listCompleted(): Promise<AicCertification[]> {
    try {
      return await this.s.step(GOVERNANCE_OPS.certifications, () => this.list('closed'));
    } catch (e) {
      const s = statusOf(e);
      if (s !== 400 && s !== 404) throw e;
      this.s.warnings.push(
        `Completed certifications were not listed (HTTP ${s}): past decisions were not read; active certifications were.`,
      );
      return [];
    }
  }

  private campaign(c: AicCertification, status: 'active' | 'closed'): void {
    this.sink.campaigns([
      {
        external_id: ids.aicCampaign(c.id),
        name: c.name,
        created_at: isoOf(c.startDate ?? c.createdDate ?? null),
        due_at: isoOf(c.deadline ?? null),
        status,
        attributes: {
          aic_certification_id: c.id,
          aic_status: c.status,
          ...(c.certificationType ? { certification_type: c.certificationType } : {}),
          allow_exceptions: allowsExceptions(c),
        },
        src: { file: 'ping:aic-certifications', line: 0 },
      },
    ]);
  }

  private search(certId: string, filter: unknown, onPage: (items: AicItem[]) => void): Promise<number> {
    return this.s.step(GOVERNANCE_OPS.items, () =>
      this.api.pages(
        `/governance/certification/${encodeURIComponent(certId)}/items/search`,
        ITEM_QUERY,
        filter === null ? {} : { targetFilter: filter },
        aicItem,
        this.s.itemPageSize,
        'certification items',
        onPage,
      ),
    );
  }

  private async readActive(c: AicCertification): Promise<void> {
    this.campaign(c, 'active');
    const before = this.s.prev?.active[c.id];
    const pending: Record<string, string> = {};
    const onPage = (items: AicItem[]) => {
      const out: ReviewItemRecord[] = [];
      for (const item of items) {
        const r = this.item(c, item, true);
        if (r === null) continue;
        out.push(r.rec);
        if (!r.rec.decided)
          pending[item.id] = r.own ? `${r.rec.user_external_id}\t${r.rec.entitlement_external_id}` : '';
      }
      if (out.length > 0) this.sink.reviewItems(out);
      this.s.progress('certification items', out.length);
    };
    if (this.s.full || before === undefined) {
      await this.search(c.id, null, onPage);
    } else {
      await this.search(c.id, UNDECIDED, onPage);
      const vanished = Object.keys(before).filter((id) => !(id in pending));
      if (vanished.length > READ_ONE_BY_ONE) {
        for (const k of Object.keys(pending)) delete pending[k];
        await this.search(c.id, null, onPage);
      } else {
        const removals: RemovalRecord[] = [];
        for (const id of vanished) {
          const item = await this.readItem(c.id, id);
          if (item !== null) onPage([item]);
          else if (before[id]) {
            // Gone from the certification: its own access goes with it, unless another item holds it.
            const [user, ent] = before[id]!.split('\t') as [string, string];
            if (!this.heldPairs.has(`held|${user}|${ent}`))
              removals.push({ kind: 'assignment', user_external_id: user, entitlement_external_id: ent });
          }
        }
        this.sink.removals(removals);
      }
    }
    this.state.active[c.id] = pending;
  }

  /** One item; null when the certification no longer has it. */
  private async readItem(certId: string, itemId: string): Promise<AicItem | null> {
    try {
      return await this.s.step(GOVERNANCE_OPS.item, () =>
        this.api.get(
          `/governance/certification/${encodeURIComponent(certId)}/items/${encodeURIComponent(itemId)}`,
          {},
          aicItem,
          'a certification item',
        ),
      );
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw e;
    }
  }

  private async readCompleted(c: AicCertification, wasActive: boolean): Promise<void> {
    if (wasActive) this.campaign(c, 'closed');
    await this.search(c.id, null, (items) => {
      const past: PastDecisionRecord[] = [];
      const decided: ReviewItemRecord[] = [];
      for (const item of items) {
        const rec = this.item(c, item, false)?.rec ?? null;
        if (rec === null || !rec.decided) continue;
        if (wasActive) decided.push(rec);
        if (rec.decided.decision === 'escalate') continue;
        past.push({
          user_external_id: rec.user_external_id,
          entitlement_external_id: rec.entitlement_external_id,
          decision: rec.decided.decision,
          decided_at: rec.decided.decided_at,
          reviewer_external_id: reviewerOf(item, this.s),
          campaign_external_id: wasActive ? ids.aicCampaign(c.id) : null,
          src: { file: 'ping:aic-decisions', line: 0 },
        });
      }
      if (decided.length > 0) this.sink.reviewItems(decided);
      if (past.length > 0) this.sink.pastDecisions(past);
      this.s.progress('past decisions', past.length);
    });
  }

  /** A certification item as a review item, staging its user, access and assignment where they are AIC's own. */
  private item(
    c: AicCertification,
    item: AicItem,
    live: boolean,
  ): { rec: ReviewItemRecord; own: boolean } | null {
    const user = this.userOf(item);
    const ent = this.entitlementOf(item);
    if (ent === null) return null;
    const pair = `${c.id}|${user.id}|${ent.id}`;
    if (this.heldPairs.has(pair)) {
      this.duplicates++;
      return null;
    }
    this.heldPairs.add(pair);
    if (live && ent.own) {
      const a: AssignmentRecord = {
        user_external_id: user.id,
        entitlement_external_id: ent.id,
        source: 'direct',
        src: { file: 'ping:aic-items', line: 0 },
      };
      if (!this.heldPairs.has(`held|${user.id}|${ent.id}`)) {
        this.heldPairs.add(`held|${user.id}|${ent.id}`);
        this.sink.assignments([a]);
      }
    }
    const d = decisionOf(item);
    const by = item.decision?.certification?.decisionBy;
    const rec: ReviewItemRecord = {
      external_id: ids.aicItem(c.id, item.id),
      campaign_external_id: ids.aicCampaign(c.id),
      user_external_id: user.id,
      entitlement_external_id: ent.id,
      reviewer_external_id: null,
      decided:
        d === null
          ? null
          : {
              decision: d,
              decided_by: `aic:${by?.userName ?? by?.mail ?? by?.id ?? 'reviewer'}`,
              decided_at: isoOf(item.decision?.certification?.decisionDate ?? null),
            },
      coordinates: {
        surface: 'aic',
        certification_id: c.id,
        item_id: item.id,
        joined: user.joined ? 'pingone' : 'aic',
        allow_exceptions: allowsExceptions(c),
      },
      attributes: {
        ...(c.certificationType ? { aic_certification_type: c.certificationType } : {}),
        ...(item.decision?.certification?.status
          ? { aic_item_status: item.decision.certification.status }
          : {}),
      },
      src: { file: 'ping:aic-items', line: 0 },
    };
    return { rec, own: ent.own };
  }

  private userOf(item: AicItem): { id: string; joined: boolean } {
    const dir = this.s.directory;
    if (dir !== null) {
      const key = this.s.joinKey === 'username' ? item.user.userName : item.user.mail;
      const found = key
        ? (this.s.joinKey === 'username' ? dir.byUsername : dir.byEmail).get(key.toLowerCase())
        : undefined;
      if (found) return { id: found, joined: true };
      this.unmatched++;
    }
    const id = ids.aicUser(item.user.id);
    if (!this.stagedUsers.has(id)) {
      this.stagedUsers.add(id);
      const u = item.user;
      const name =
        [u.givenName, u.sn].filter((x) => typeof x === 'string' && x !== '').join(' ') || u.userName || null;
      const rec: UserRecord = {
        external_id: id,
        email: u.mail ?? null,
        name,
        attributes: { aic_user_id: u.id, ...(u.userName ? { username: u.userName } : {}) },
        src: { file: 'ping:aic-users', line: 0 },
      };
      this.sink.users([rec]);
    }
    return { id, joined: false };
  }

  /** The access an item is about: the PingOne group of the same name, or AIC's own entitlement (`own`). */
  private entitlementOf(item: AicItem): { id: string; own: boolean } | null {
    const dir = this.s.directory;
    const name = aicAccessName(item);
    if (dir !== null && name !== null && item.role?.id == null) {
      const g = dir.groupsByName.get(name.toLowerCase());
      if (g) return { id: ids.group(g), own: false };
    }
    const rec: EntitlementRecord | null = aicEntitlementOf(item);
    if (rec === null) return null;
    if (!this.stagedEntitlements.has(rec.external_id)) {
      this.stagedEntitlements.add(rec.external_id);
      this.sink.entitlements([rec]);
    }
    return { id: rec.external_id, own: true };
  }
}

function decisionOf(item: AicItem): 'approve' | 'revoke' | 'escalate' | null {
  const d = item.decision?.certification?.decision;
  return d && d in FROM_AIC ? FROM_AIC[d as keyof typeof FROM_AIC] : null;
}

function reviewerOf(item: AicItem, s: GovernanceSettings): string | null {
  const by = item.decision?.certification?.decisionBy;
  const dir = s.directory;
  if (!by || dir === null) return null;
  const key = s.joinKey === 'username' ? by.userName : by.mail;
  return key
    ? ((s.joinKey === 'username' ? dir.byUsername : dir.byEmail).get(key.toLowerCase()) ?? null)
    : null;
}

/**
 * Whether a certification lets its reviewers make exceptions: `true`/`false` where it says
 * (`allowExceptions`, or an `exceptionDuration`), `unknown` where it does not (the field names
 * are the likeliest reading of the template settings, not confirmed).
 */
function allowsExceptions(c: AicCertification): 'true' | 'false' | 'unknown' {
  if (typeof c.allowExceptions === 'boolean') return String(c.allowExceptions) as 'true' | 'false';
  if (typeof c.exceptionDuration === 'number') return c.exceptionDuration > 0 ? 'true' : 'false';
  return 'unknown';
}
