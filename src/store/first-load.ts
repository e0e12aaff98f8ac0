import type { Platform } from '../domain/index.js';
import {
  type ActivityRecord,
  type AssignmentRecord,
  type CampaignRecord,
  type EntitlementRecord,
  type HrChangeRecord,
  type IncludesRecord,
  type PastDecisionRecord,
  type RecordIssue,
  type ReviewItemRecord,
  type SodRuleRecord,
  type SourceRef,
  type SyncSummary,
  storeId,
  type UserRecord,
} from '../domain/sync.js';
import type { Db } from './db.js';

/**
 * A first load: a snapshot read into an empty store. The records go straight into the store's
 * own tables inside one write transaction, with no staging copy; the tables' secondary indexes
 * (and the item-count triggers) are dropped for the load and built once, from sorted keys, at
 * commit. References are checked in memory as the rows arrive, and duplicates by the tables'
 * own keys, with the same reasons, columns and order as a staged sync gives, so foreign keys
 * are not checked row by row. Aborting, or the process dying, rolls back everything: the store
 * stays empty.
 *
 * It holds the write lock from the first row to the commit, which is why only a local snapshot
 * (read at disk speed) is loaded this way; a platform sync, paced by HTTP, stages instead.
 * Records must arrive in the snapshot's file order (users and entitlements before what refers
 * to them); references within one file (managers, includes) are checked at validate().
 */
export class FirstLoad {
  private readonly issues: RecordIssue[][] = CHECKS.map(() => []);
  private readonly totals = new Array<number>(CHECKS.length).fill(0);
  private readonly users = new Set<string>();
  private readonly entitlements = new Set<string>();
  private readonly campaigns = new Set<string>();
  /** Same-file references checked at validate(): [id, src]. */
  private readonly managers: Array<[string, SourceRef]> = [];
  private readonly includers: Array<[string, SourceRef]> = [];
  private readonly includedIds: Array<[string, SourceRef]> = [];
  /** Items the platform already decided: their decisions are written at commit. */
  private readonly decided: Array<{ id: string; decided: NonNullable<ReviewItemRecord['decided']> }> = [];
  private readonly counts: Record<string, number> = {};
  private readonly ins = new Map<string, { one: Statement; many: Statement; width: number }>();
  private rebuild: string[] = [];
  private done = false;

  private constructor(
    private readonly db: Db,
    private readonly platform: Platform,
    private readonly now: string,
    private readonly onStep: (where: string) => void,
    /** Puts back the connection's foreign_keys and temp_store settings. */
    private readonly restore: () => void,
  ) {}

  /**
   * Starts a first load when every table a sync writes is empty; otherwise returns null and
   * leaves the store as it was. The write transaction begins here.
   */
  static begin(db: Db, platform: Platform, now: string, onStep: (where: string) => void): FirstLoad | null {
    const empty = () => WRITTEN.every((t) => db.prepare(`SELECT 1 FROM ${t} LIMIT 1`).get() === undefined);
    if (db.inTransaction || !empty()) return null;
    // Both can be set outside a transaction only. References are checked in memory instead of
    // by foreign keys; statement journals (a multi-row insert may have to undo itself) stay in
    // memory, since nothing is staged in TEMP tables.
    const foreignKeys = db.pragma('foreign_keys', { simple: true }) === 1;
    const tempStore = db.pragma('temp_store', { simple: true }) as number;
    const restore = () => {
      if (foreignKeys) db.pragma('foreign_keys = ON');
      db.pragma(`temp_store = ${tempStore}`);
    };
    db.pragma('foreign_keys = OFF');
    db.pragma('temp_store = MEMORY');
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      restore();
      throw e;
    }
    // Another connection may have written since the first look.
    if (!empty()) {
      db.exec('ROLLBACK');
      restore();
      return null;
    }
    const load = new FirstLoad(db, platform, now, onStep, restore);
    load.dropSecondary();
    return load;
  }

  /** Drops the written tables' non-unique indexes and the item-count triggers; commit() recreates them. */
  private dropSecondary(): void {
    const list = WRITTEN.map((t) => `'${t}'`).join(', ');
    const objects = this.db
      .prepare(
        `SELECT type, name, sql FROM sqlite_schema WHERE tbl_name IN (${list}) AND sql IS NOT NULL
           AND ((type = 'index' AND sql NOT LIKE 'CREATE UNIQUE%') OR (type = 'trigger' AND name LIKE 'review_items_count_%'))`,
      )
      .all() as Array<{ type: string; name: string; sql: string }>;
    for (const o of objects) this.db.exec(`DROP ${o.type.toUpperCase()} "${o.name}"`);
    this.rebuild = objects.map((o) => o.sql);
  }

  private id(ext: string): string {
    return storeId(this.platform, ext);
  }

  private optId(ext: string | null | undefined): string | null {
    return ext === null || ext === undefined || ext === '' ? null : this.id(ext);
  }

  private issue(check: Check, src: SourceRef | undefined, value: string): void {
    const k = CHECK_INDEX[check];
    this.totals[k]!++;
    const list = this.issues[k]!;
    // Each check keeps its first issues in line order (rows arrive in line order).
    if (list.length < MAX_KEPT) {
      const c = CHECKS[k]!;
      list.push({
        file: src?.file ?? c.file,
        line: src?.line ?? 0,
        column: c.column,
        reason: c.reason.replace('%s', value),
      });
    }
  }

  private statement(table: string, columns: string[], verb = 'INSERT') {
    const key = `${verb} ${table}`;
    let s = this.ins.get(key);
    if (!s) {
      const row = `(${columns.map(() => '?').join(', ')})`;
      const head = `${verb} INTO ${table} (${columns.join(', ')}) VALUES `;
      s = {
        one: this.db.prepare(head + row),
        many: this.db.prepare(head + Array(ROWS_PER_INSERT).fill(row).join(', ')),
        width: columns.length,
      };
      this.ins.set(key, s);
    }
    return s;
  }

  /**
   * Inserts rows (values in `columns` order), many per statement. With `onDuplicate`, a
   * statement that breaks a key is rolled back and its rows are inserted one by one, each row
   * that breaks a key being reported; otherwise (INSERT OR IGNORE) duplicates are skipped.
   * Returns how many rows went in.
   */
  private insert(
    name: string,
    table: string,
    columns: string[],
    rows: unknown[][],
    onDuplicate: ((row: unknown[], index: number) => void) | null,
  ): number {
    this.onStep(`stage:${name}`);
    const { one, many, width } = this.statement(table, columns, onDuplicate ? 'INSERT' : 'INSERT OR IGNORE');
    const args: unknown[] = new Array(width * ROWS_PER_INSERT);
    let inserted = 0;
    const oneByOne = (from: number, to: number) => {
      for (let r = from; r < to; r++) {
        try {
          inserted += one.run(rows[r]!).changes;
        } catch (e) {
          if (!onDuplicate || !isKeyViolation(e)) throw e;
          onDuplicate(rows[r]!, r);
        }
      }
    };
    let i = 0;
    for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
      for (let r = 0; r < ROWS_PER_INSERT; r++) {
        const row = rows[i + r]!;
        for (let k = 0; k < width; k++) args[r * width + k] = row[k];
      }
      try {
        inserted += many.run(args).changes;
      } catch (e) {
        // The failed statement's rows are already undone (the transaction stays open).
        if (!onDuplicate || !isKeyViolation(e)) throw e;
        oneByOne(i, i + ROWS_PER_INSERT);
      }
    }
    oneByOne(i, rows.length);
    return inserted;
  }

  private add(what: string, n: number): void {
    this.counts[what] = (this.counts[what] ?? 0) + n;
  }

  userRows(batch: UserRecord[]): void {
    const rows = batch.map((u) => {
      const manager = this.optId(u.manager_external_id);
      if (manager !== null && u.src) this.managers.push([manager, u.src]);
      return [
        this.id(u.external_id),
        this.platform,
        u.external_id,
        u.email ?? null,
        u.name ?? null,
        u.department ?? null,
        u.title ?? null,
        manager,
        u.location ?? null,
        u.status ?? 'active',
        u.employee_type ?? 'employee',
        u.hired_at ?? null,
        u.terminated_at ?? null,
        u.contract_end ?? null,
        u.last_sign_in ?? null,
        JSON.stringify(u.attributes ?? {}),
        this.now,
      ];
    });
    const n = this.insert('users', 'users', USER_COLUMNS, rows, (row, i) =>
      this.issue('dupUser', batch[i]!.src, String(row[0])),
    );
    for (const u of batch) this.users.add(this.id(u.external_id));
    this.add('users', n);
  }

  entitlementRows(batch: EntitlementRecord[]): void {
    this.includeRows(batch.filter((e): e is EntitlementRecord & IncludesRecord => e.includes !== undefined));
    const rows = batch.map((e) => [
      this.id(e.external_id),
      this.platform,
      e.external_id,
      e.name,
      e.type ?? 'group',
      e.app ?? null,
      e.privileged ? 1 : 0,
      e.sensitivity ?? 'medium',
      this.optId(e.owner_external_id),
      e.description ?? null,
      JSON.stringify(e.attributes ?? {}),
      this.now,
    ]);
    const n = this.insert('entitlements', 'entitlements', ENTITLEMENT_COLUMNS, rows, (row, i) =>
      this.issue('dupEntitlement', batch[i]!.src, String(row[0])),
    );
    for (const e of batch) this.entitlements.add(this.id(e.external_id));
    this.add('entitlements', n);
  }

  includeRows(batch: IncludesRecord[]): void {
    const rows: unknown[][] = [];
    for (const e of batch) {
      const id = this.id(e.external_id);
      for (const inc of e.includes) {
        const included = this.id(inc);
        if (e.src) this.includedIds.push([included, e.src]);
        rows.push([id, included, this.platform]);
      }
    }
    // Includes of an entitlement not in this load are checked at validate() (it may come later).
    for (const e of batch) if (e.src) this.includers.push([this.id(e.external_id), e.src]);
    if (rows.length > 0)
      this.add(
        'entitlement_includes',
        this.insert('includes', 'entitlement_includes', INCLUDE_COLUMNS, rows, null),
      );
  }

  assignmentRows(batch: AssignmentRecord[]): void {
    const rows = batch.map((a) => {
      const user = this.id(a.user_external_id);
      const ent = this.id(a.entitlement_external_id);
      const via = this.optId(a.via);
      const source = a.source ?? 'direct';
      if (!this.users.has(user)) this.issue('assignmentUser', a.src, user);
      if (!this.entitlements.has(ent)) this.issue('assignmentEntitlement', a.src, ent);
      if (via !== null && !this.entitlements.has(via)) this.issue('viaUnknown', a.src, via);
      if (via !== null && source === 'direct') this.issue('viaDirect', a.src, via);
      return [user, ent, this.platform, a.granted_at ?? null, source, via, this.now];
    });
    const n = this.insert('assignments', 'assignments', ASSIGNMENT_COLUMNS, rows, (row, i) =>
      this.issue('dupAssignment', batch[i]!.src, String(row[0])),
    );
    this.add('assignments', n);
  }

  activityRows(batch: ActivityRecord[]): void {
    const rows = batch.map((a) => {
      const user = this.id(a.user_external_id);
      if (!this.users.has(user)) this.issue('activityUser', a.src, user);
      return [user, a.app, a.at, a.outcome ?? 'success', this.platform];
    });
    this.add('activity_events', this.insert('activity', 'activity_events', ACTIVITY_COLUMNS, rows, null));
  }

  hrRows(batch: HrChangeRecord[]): void {
    const rows = batch.map((h) => {
      const user = this.id(h.user_external_id);
      if (!this.users.has(user)) this.issue('hrUser', h.src, user);
      return [user, h.field, h.from ?? null, h.to ?? null, h.at, this.platform];
    });
    this.add('hr_changes', this.insert('hr', 'hr_changes', HR_COLUMNS, rows, null));
  }

  sodRows(batch: SodRuleRecord[]): void {
    const rules = batch.map((r) => [
      this.id(r.external_id),
      this.platform,
      r.external_id,
      r.name,
      r.severity ?? 'high',
      this.now,
    ]);
    const n = this.insert('sod', 'sod_rules', SOD_COLUMNS, rules, (row, i) =>
      this.issue('dupSod', batch[i]!.src, String(row[0])),
    );
    this.add('sod_rules', n);
    const sides: unknown[][] = [];
    for (const r of batch) {
      for (const [side, ids] of [
        ['left', r.left],
        ['right', r.right],
      ] as const) {
        for (const e of ids) {
          const ent = this.id(e);
          if (!this.entitlements.has(ent)) this.issue('sodEntitlement', r.src, ent);
          sides.push([this.id(r.external_id), side, ent]);
        }
      }
    }
    if (sides.length > 0) this.insert('sodSide', 'sod_rule_entitlements', SOD_SIDE_COLUMNS, sides, null);
  }

  campaignRows(batch: CampaignRecord[]): void {
    const rows = batch.map((c) => [
      this.id(c.external_id),
      this.platform,
      c.external_id,
      c.name,
      c.status ?? 'active',
      c.created_at ?? this.now,
      c.due_at ?? null,
      JSON.stringify(c.attributes ?? {}),
      this.now,
    ]);
    const n = this.insert('campaigns', 'campaigns', CAMPAIGN_COLUMNS, rows, (row, i) =>
      this.issue('dupCampaign', batch[i]!.src, String(row[0])),
    );
    for (const c of batch) this.campaigns.add(this.id(c.external_id));
    this.add('campaigns', n);
  }

  itemRows(batch: ReviewItemRecord[]): void {
    const rows = batch.map((i) => {
      const ext =
        i.external_id || `${i.campaign_external_id}:${i.user_external_id}:${i.entitlement_external_id}`;
      const campaign = this.id(i.campaign_external_id);
      const user = this.id(i.user_external_id);
      const ent = this.id(i.entitlement_external_id);
      if (!this.campaigns.has(campaign)) this.issue('itemCampaign', i.src, campaign);
      if (!this.users.has(user)) this.issue('itemUser', i.src, user);
      if (!this.entitlements.has(ent)) this.issue('itemEntitlement', i.src, ent);
      if (i.decided) this.decided.push({ id: this.id(ext), decided: i.decided });
      return [
        this.id(ext),
        campaign,
        user,
        ent,
        this.optId(i.reviewer_external_id),
        this.platform,
        ext,
        i.decided ? 'decided' : 'pending',
        JSON.stringify(i.coordinates ?? {}),
        JSON.stringify(i.attributes ?? {}),
        this.now,
      ];
    });
    const byId = this.db.prepare('SELECT 1 FROM review_items WHERE id = ?');
    const byPair = this.db.prepare(
      'SELECT 1 FROM review_items WHERE campaign_id = ? AND user_id = ? AND entitlement_id = ?',
    );
    const n = this.insert('items', 'review_items', ITEM_COLUMNS, rows, (row, i) => {
      const src = batch[i]!.src;
      if (byPair.get(row[1], row[2], row[3]) !== undefined) this.issue('dupItemPair', src, String(row[1]));
      if (byId.get(row[0]) !== undefined) this.issue('dupItemId', src, String(row[0]));
    });
    this.add('review_items', n);
  }

  decisionRows(batch: PastDecisionRecord[]): void {
    const rows = batch.map((d) => {
      const user = this.id(d.user_external_id);
      const ent = this.id(d.entitlement_external_id);
      if (!this.users.has(user)) this.issue('decisionUser', d.src, user);
      if (!this.entitlements.has(ent)) this.issue('decisionEntitlement', d.src, ent);
      return [
        user,
        ent,
        d.decision,
        d.decided_at ?? null,
        this.optId(d.reviewer_external_id),
        this.optId(d.campaign_external_id),
        'import',
        this.platform,
      ];
    });
    this.add('past_decisions', this.insert('decisions', 'past_decisions', DECISION_COLUMNS, rows, null));
  }

  /** Reference and duplicate problems: the first `limit` in file and line order, and the total. */
  validate(limit: number): { issues: RecordIssue[]; total: number } {
    for (const [manager, src] of this.managers) {
      if (!this.users.has(manager)) this.issue('manager', src, manager);
    }
    for (const [id, src] of this.includers) {
      if (!this.entitlements.has(id)) this.issue('includer', src, id);
    }
    for (const [id, src] of this.includedIds) {
      if (!this.entitlements.has(id)) this.issue('included', src, id);
    }
    this.managers.length = 0;
    this.includers.length = 0;
    this.includedIds.length = 0;
    const all = this.issues.flat();
    const order = new Map(FILE_ORDER.map((f, i) => [f, i]));
    all.sort(
      (a, b) =>
        (order.get(a.file.replace(/\.csv$/, '')) ?? 99) - (order.get(b.file.replace(/\.csv$/, '')) ?? 99) ||
        a.line - b.line,
    );
    return { issues: all.slice(0, limit), total: this.totals.reduce((s, n) => s + n, 0) };
  }

  /** Builds the dropped indexes and triggers, the rollup and the item counts, and commits. */
  commit(options: { replaceAssignments: boolean }): SyncSummary {
    if (this.done) throw new Error('sync already finished');
    const run = (sql: string) => {
      this.onStep('merge');
      return this.db.prepare(sql).run({ now: this.now }).changes;
    };
    run(`
      INSERT OR REPLACE INTO activity_rollup (user_id, app, first_used, last_used, sign_ins, failed, last_failed)
      SELECT user_id, app,
        min(CASE WHEN outcome = 'success' THEN at END), max(CASE WHEN outcome = 'success' THEN at END),
        sum(outcome = 'success'), sum(outcome = 'failure'), max(CASE WHEN outcome = 'failure' THEN at END)
      FROM activity_events GROUP BY user_id, app`);
    if (this.decided.length > 0) {
      const s = this.db.prepare(
        `INSERT OR IGNORE INTO item_decisions (item_id, proposal_id, decision, decided_by, decided_at, channel)
         VALUES (?, NULL, ?, ?, ?, 'platform')`,
      );
      for (const { id, decided } of this.decided) {
        s.run(id, decided.decision, decided.decided_by ?? 'platform', decided.decided_at ?? this.now);
      }
    }
    for (const sql of this.rebuild) {
      this.onStep('merge');
      this.db.exec(sql);
    }
    run(`DELETE FROM review_item_counts`);
    run(`INSERT INTO review_item_counts (campaign_id, status, n)
         SELECT campaign_id, status, count(*) FROM review_items GROUP BY campaign_id, status`);
    this.onStep('commit');
    this.db.exec('COMMIT');
    this.finish();
    const counts: Record<string, number> = {};
    for (const k of SUMMARY_COUNTS) counts[k] = this.counts[k] ?? 0;
    // Nothing was there to remove: a full sync reports none removed, as a staged one does.
    return { platform: this.platform, counts, removed: options.replaceAssignments ? { assignments: 0 } : {} };
  }

  abort(): void {
    if (this.done) return;
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.finish();
  }

  private finish(): void {
    this.done = true;
    this.restore();
  }
}

type Statement = ReturnType<Db['prepare']>;

function isKeyViolation(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** Rows per multi-row INSERT. */
const ROWS_PER_INSERT = 64;
/** Issues kept per check (a check reports its first ones in line order; validate() sorts and cuts). */
const MAX_KEPT = 10_000;

/** Every table a sync writes: a first load needs them all empty. */
const WRITTEN = [
  'users',
  'entitlements',
  'entitlement_includes',
  'assignments',
  'activity_events',
  'activity_rollup',
  'hr_changes',
  'sod_rules',
  'sod_rule_entitlements',
  'campaigns',
  'review_items',
  'item_decisions',
  'past_decisions',
];

const SUMMARY_COUNTS = [
  'users',
  'entitlements',
  'entitlement_includes',
  'assignments',
  'activity_events',
  'hr_changes',
  'sod_rules',
  'campaigns',
  'review_items',
  'past_decisions',
];

const USER_COLUMNS = [
  'id',
  'platform',
  'external_id',
  'email',
  'name',
  'department',
  'title',
  'manager_id',
  'location',
  'status',
  'employee_type',
  'hired_at',
  'terminated_at',
  'contract_end',
  'last_sign_in',
  'attributes',
  'updated_at',
];
const ENTITLEMENT_COLUMNS = [
  'id',
  'platform',
  'external_id',
  'name',
  'type',
  'app',
  'privileged',
  'sensitivity',
  'owner_id',
  'description',
  'attributes',
  'updated_at',
];
const INCLUDE_COLUMNS = ['entitlement_id', 'included_id', 'platform'];
const ASSIGNMENT_COLUMNS = [
  'user_id',
  'entitlement_id',
  'platform',
  'granted_at',
  'source',
  'via',
  'updated_at',
];
const ACTIVITY_COLUMNS = ['user_id', 'app', 'at', 'outcome', 'platform'];
const HR_COLUMNS = ['user_id', 'field', 'from_value', 'to_value', 'at', 'platform'];
const SOD_COLUMNS = ['id', 'platform', 'external_id', 'name', 'severity', 'updated_at'];
const SOD_SIDE_COLUMNS = ['rule_id', 'side', 'entitlement_id'];
const CAMPAIGN_COLUMNS = [
  'id',
  'platform',
  'external_id',
  'name',
  'status',
  'created_at',
  'due_at',
  'attributes',
  'updated_at',
];
const ITEM_COLUMNS = [
  'id',
  'campaign_id',
  'user_id',
  'entitlement_id',
  'reviewer_id',
  'platform',
  'external_id',
  'status',
  'platform_coordinates',
  'platform_attributes',
  'updated_at',
];
const DECISION_COLUMNS = [
  'user_id',
  'entitlement_id',
  'decision',
  'decided_at',
  'reviewer_id',
  'campaign_id',
  'source',
  'platform',
];

/** The reference and duplicate checks, in the order a staged sync runs them (ties in a line keep it). */
const CHECK_LIST = [
  ['dupUser', 'users', 'id', 'duplicate user id "%s"'],
  ['manager', 'users', 'manager_id', 'unknown manager_id "%s" (no such user)'],
  ['dupEntitlement', 'entitlements', 'id', 'duplicate entitlement id "%s"'],
  ['assignmentUser', 'assignments', 'user_id', 'unknown user_id "%s"'],
  ['assignmentEntitlement', 'assignments', 'entitlement_id', 'unknown entitlement_id "%s"'],
  ['dupAssignment', 'assignments', 'user_id', 'duplicate assignment of user "%s"'],
  ['viaUnknown', 'assignments', 'via', 'unknown via "%s" (no such entitlement)'],
  [
    'viaDirect',
    'assignments',
    'via',
    'via "%s" is given for a direct assignment; via names what an inherited (source group or rule) assignment comes through',
  ],
  ['includer', 'entitlements', 'includes', 'unknown entitlement "%s" given includes'],
  ['included', 'entitlements', 'includes', 'unknown entitlement id "%s" in includes'],
  ['activityUser', 'activity', 'user_id', 'unknown user_id "%s"'],
  ['hrUser', 'hr_changes', 'user_id', 'unknown user_id "%s"'],
  ['dupSod', 'sod_rules', 'id', 'duplicate rule_id "%s"'],
  ['sodEntitlement', 'sod_rules', 'entitlement_id', 'unknown entitlement id "%s" in a rule side'],
  ['dupCampaign', 'campaigns', 'id', 'duplicate campaign id "%s"'],
  ['itemCampaign', 'review_items', 'campaign_id', 'unknown campaign_id "%s"'],
  ['itemUser', 'review_items', 'user_id', 'unknown user_id "%s"'],
  ['itemEntitlement', 'review_items', 'entitlement_id', 'unknown entitlement_id "%s"'],
  ['dupItemPair', 'review_items', 'campaign_id', 'duplicate review item for user "%s"'],
  ['dupItemId', 'review_items', 'id', 'duplicate review item id "%s"'],
  ['decisionUser', 'decisions', 'user_id', 'unknown user_id "%s"'],
  ['decisionEntitlement', 'decisions', 'entitlement_id', 'unknown entitlement_id "%s"'],
] as const;

type Check = (typeof CHECK_LIST)[number][0];
const CHECKS = CHECK_LIST.map(([, file, column, reason]) => ({ file, column, reason }));
const CHECK_INDEX = Object.fromEntries(CHECK_LIST.map(([name], i) => [name, i])) as Record<Check, number>;

const FILE_ORDER = [
  'users',
  'entitlements',
  'assignments',
  'activity',
  'hr_changes',
  'sod_rules',
  'campaigns',
  'review_items',
  'decisions',
];
