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
  type RemovalRecord,
  type ReviewItemRecord,
  type SodRuleRecord,
  type SyncSink,
  type SyncSummary,
  storeId,
  type UserRecord,
} from '../domain/sync.js';
import type { Db } from './db.js';
import { FirstLoad } from './first-load.js';

/**
 * Stages a sync in TEMP tables (per connection, no lock on the main database),
 * validates references in SQL, then merges everything in one short transaction.
 * A failed or aborted sync leaves the store exactly as it was.
 */
export class StagedSync implements SyncSink {
  private readonly now: string;
  private readonly ins: Record<string, ReturnType<Db['prepare']>> = {};
  /** The same insert with ROWS_PER_INSERT rows per statement: fewer calls into SQLite. */
  private readonly insMany: Record<string, ReturnType<Db['prepare']>> = {};
  private readonly width: Record<string, number> = {};
  private indexed = false;
  private staged = false;
  private closed = false;
  /** Whether removals or complete entitlements were staged (the commit skips their pass otherwise). */
  private removing = false;
  /** Set by allowFirstLoad(). */
  private firstLoadAllowed = false;
  /** A snapshot into an empty store loads straight into its tables (see FirstLoad); undefined: not yet known. */
  private firstLoad: FirstLoad | null | undefined;

  constructor(
    private readonly db: Db,
    readonly platform: Platform,
    now: Date = new Date(),
    /** Called at each step of staging and of the merge (test hooks that stop the process there). */
    private readonly onStep: (where: string) => void = () => {},
  ) {
    this.now = now.toISOString();
  }

  /** Creates the staging tables and their inserts (once, before the first staged row). */
  private staging(): void {
    if (this.staged) return;
    this.staged = true;
    const db = this.db;
    // Staged rows of a large snapshot would otherwise sit in memory (hundreds of MB per million rows).
    db.pragma('temp_store = FILE');
    // Fresh tables without indexes: rows load faster, and the indexes are built once, sorted, before validation.
    for (const t of STAGE_TABLES) db.exec(`DROP TABLE IF EXISTS temp.${t}`);
    db.exec(STAGE_DDL);
    const tables: Record<string, string> = {
      users: 'stage_users',
      entitlements: 'stage_entitlements',
      includes: 'stage_includes',
      assignments: 'stage_assignments',
      activity: 'stage_activity',
      hr: 'stage_hr',
      sod: 'stage_sod',
      sodSide: 'stage_sod_sides',
      campaigns: 'stage_campaigns',
      items: 'stage_items',
      decisions: 'stage_decisions',
      removals: 'stage_removals',
      complete: 'stage_complete',
    };
    for (const [name, table] of Object.entries(tables)) {
      // Rows are positional: each sink method lists values in the table's column order (STAGE_DDL).
      const width = (db.pragma(`temp.table_info(${table})`) as unknown[]).length;
      const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
      this.ins[name] = db.prepare(`INSERT INTO temp.${table} VALUES ${row}`);
      this.insMany[name] = db.prepare(
        `INSERT INTO temp.${table} VALUES ${Array(ROWS_PER_INSERT).fill(row).join(', ')}`,
      );
      this.width[name] = width;
    }
  }

  private id(ext: string): string {
    return storeId(this.platform, ext);
  }

  /**
   * Lets a snapshot read into an empty store load straight into the store's tables (FirstLoad)
   * instead of staging. The caller promises to read at disk speed, to leave the connection to
   * this sync until it ends, and to call commit() outside any transaction of its own: the
   * load holds the write transaction from its first row to its commit.
   */
  allowFirstLoad(): void {
    this.firstLoadAllowed = true;
  }

  /** The first load, when one is allowed and the store is empty (decided at the first batch). */
  private direct(): FirstLoad | null {
    if (this.firstLoad === undefined) {
      this.firstLoad =
        this.firstLoadAllowed && this.platform === 'snapshot'
          ? FirstLoad.begin(this.db, this.platform, this.now, this.onStep)
          : null;
    }
    return this.firstLoad;
  }

  private optId(ext: string | null | undefined): string | null {
    return ext === null || ext === undefined || ext === '' ? null : this.id(ext);
  }

  /** Inserts staged rows (values in the TEMP table's column order), many rows per statement. */
  private run(name: string, rows: unknown[][]): void {
    this.staging();
    this.onStep(`stage:${name}`);
    const one = this.ins[name]!;
    const many = this.insMany[name]!;
    const w = this.width[name]!;
    const args: unknown[] = new Array(w * ROWS_PER_INSERT);
    this.db.transaction(() => {
      let i = 0;
      for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
        for (let r = 0; r < ROWS_PER_INSERT; r++) {
          const row = rows[i + r]!;
          for (let k = 0; k < w; k++) args[r * w + k] = row[k];
        }
        many.run(args);
      }
      for (; i < rows.length; i++) one.run(rows[i]!);
    })();
  }

  /** Builds the staging indexes (after loading, so each is built once from sorted keys). */
  private ensureIndexes(): void {
    this.staging();
    if (this.indexed) return;
    this.db.exec(STAGE_INDEXES);
    this.indexed = true;
  }

  users(batch: UserRecord[]): void {
    const first = this.direct();
    if (first) {
      first.userRows(batch);
      return;
    }
    this.run(
      'users',
      batch.map((u) => [
        this.id(u.external_id),
        u.external_id,
        u.email ?? null,
        u.name ?? null,
        u.department ?? null,
        u.title ?? null,
        this.optId(u.manager_external_id),
        u.location ?? null,
        u.status ?? 'active',
        u.employee_type ?? 'employee',
        u.hired_at ?? null,
        u.terminated_at ?? null,
        u.contract_end ?? null,
        u.last_sign_in ?? null,
        JSON.stringify(u.attributes ?? {}),
        u.src?.file ?? 'users',
        u.src?.line ?? 0,
      ]),
    );
  }

  entitlements(batch: EntitlementRecord[]): void {
    const first = this.direct();
    if (first) {
      first.entitlementRows(batch);
      return;
    }
    this.includes(batch.filter((e): e is EntitlementRecord & IncludesRecord => e.includes !== undefined));
    this.run(
      'entitlements',
      batch.map((e) => [
        this.id(e.external_id),
        e.external_id,
        e.name,
        e.type ?? 'group',
        e.app ?? null,
        e.privileged ? 1 : 0,
        e.sensitivity ?? 'medium',
        this.optId(e.owner_external_id),
        e.description ?? null,
        JSON.stringify(e.attributes ?? {}),
        e.src?.file ?? 'entitlements',
        e.src?.line ?? 0,
      ]),
    );
  }

  assignments(batch: AssignmentRecord[]): void {
    const first = this.direct();
    if (first) {
      first.assignmentRows(batch);
      return;
    }
    this.run(
      'assignments',
      batch.map((a) => [
        this.id(a.user_external_id),
        this.id(a.entitlement_external_id),
        a.granted_at ?? null,
        a.source ?? 'direct',
        this.optId(a.via),
        a.src?.file ?? 'assignments',
        a.src?.line ?? 0,
      ]),
    );
  }

  activity(batch: ActivityRecord[]): void {
    const first = this.direct();
    if (first) {
      first.activityRows(batch);
      return;
    }
    this.run(
      'activity',
      batch.map((a) => [
        this.id(a.user_external_id),
        a.app,
        a.at,
        a.outcome ?? 'success',
        a.src?.file ?? 'activity',
        a.src?.line ?? 0,
      ]),
    );
  }

  hrChanges(batch: HrChangeRecord[]): void {
    const first = this.direct();
    if (first) {
      first.hrRows(batch);
      return;
    }
    this.run(
      'hr',
      batch.map((h) => [
        this.id(h.user_external_id),
        h.field,
        h.from ?? null,
        h.to ?? null,
        h.at,
        h.src?.file ?? 'hr_changes',
        h.src?.line ?? 0,
      ]),
    );
  }

  sodRules(batch: SodRuleRecord[]): void {
    const first = this.direct();
    if (first) {
      first.sodRows(batch);
      return;
    }
    this.staging();
    this.db.transaction(() => {
      for (const r of batch) {
        const file = r.src?.file ?? 'sod_rules';
        const line = r.src?.line ?? 0;
        const id = this.id(r.external_id);
        this.ins.sod!.run([id, r.external_id, r.name, r.severity ?? 'high', file, line]);
        for (const [side, ids] of [
          ['left', r.left],
          ['right', r.right],
        ] as const) {
          for (const e of ids) this.ins.sodSide!.run([id, side, this.id(e), file, line]);
        }
      }
    })();
  }

  campaigns(batch: CampaignRecord[]): void {
    const first = this.direct();
    if (first) {
      first.campaignRows(batch);
      return;
    }
    this.run(
      'campaigns',
      batch.map((c) => [
        this.id(c.external_id),
        c.external_id,
        c.name,
        c.status ?? 'active',
        c.created_at ?? this.now,
        c.due_at ?? null,
        JSON.stringify(c.attributes ?? {}),
        c.src?.file ?? 'campaigns',
        c.src?.line ?? 0,
      ]),
    );
  }

  reviewItems(batch: ReviewItemRecord[]): void {
    const first = this.direct();
    if (first) {
      first.itemRows(batch);
      return;
    }
    this.run(
      'items',
      batch.map((i) => {
        const ext =
          i.external_id || `${i.campaign_external_id}:${i.user_external_id}:${i.entitlement_external_id}`;
        return [
          this.id(ext),
          ext,
          this.id(i.campaign_external_id),
          this.id(i.user_external_id),
          this.id(i.entitlement_external_id),
          this.optId(i.reviewer_external_id),
          i.decided?.decision ?? null,
          i.decided?.decided_by ?? null,
          i.decided?.decided_at ?? null,
          JSON.stringify(i.coordinates ?? {}),
          JSON.stringify(i.attributes ?? {}),
          i.src?.file ?? 'review_items',
          i.src?.line ?? 0,
        ];
      }),
    );
  }

  pastDecisions(batch: PastDecisionRecord[]): void {
    const first = this.direct();
    if (first) {
      first.decisionRows(batch);
      return;
    }
    this.run(
      'decisions',
      batch.map((d) => [
        this.id(d.user_external_id),
        this.id(d.entitlement_external_id),
        d.decision,
        d.decided_at ?? null,
        this.optId(d.reviewer_external_id),
        this.optId(d.campaign_external_id),
        d.src?.file ?? 'decisions',
        d.src?.line ?? 0,
      ]),
    );
  }

  includes(batch: IncludesRecord[]): void {
    const first = this.direct();
    if (first) {
      first.includeRows(batch);
      return;
    }
    const rows: unknown[][] = [];
    for (const e of batch) {
      const id = this.id(e.external_id);
      const file = e.src?.file ?? 'entitlements';
      const line = e.src?.line ?? 0;
      // An empty included id marks "includes were read and are empty", so the merge clears them.
      if (e.includes.length === 0) rows.push([id, null, file, line]);
      for (const inc of e.includes) rows.push([id, this.id(inc), file, line]);
    }
    if (rows.length > 0) this.run('includes', rows);
  }

  removals(batch: RemovalRecord[]): void {
    if (batch.length === 0) return;
    this.removing = true;
    this.run(
      'removals',
      batch.map((r) => [
        r.kind,
        r.kind === 'assignment'
          ? this.id(r.user_external_id)
          : r.kind === 'user'
            ? this.id(r.external_id)
            : null,
        r.kind === 'assignment'
          ? this.id(r.entitlement_external_id)
          : r.kind === 'entitlement'
            ? this.id(r.external_id)
            : null,
        r.src?.file ?? 'removals',
        r.src?.line ?? 0,
      ]),
    );
  }

  replaceAssignmentsOf(entitlementExternalIds: string[]): void {
    if (entitlementExternalIds.length === 0) return;
    this.removing = true;
    this.run(
      'complete',
      entitlementExternalIds.map((e) => [this.id(e)]),
    );
  }

  validate(limit: number): { issues: RecordIssue[]; total: number } {
    if (this.firstLoad) return this.firstLoad.validate(limit);
    const issues: RecordIssue[] = [];
    let total = 0;
    this.ensureIndexes();
    const check = (column: string, reason: string, from: string, where: string, reportAs = column) => {
      // One pass: the first rows in line order, each carrying the count of all.
      const rows = this.db
        .prepare(
          `SELECT file, line, ${column} AS v, count(*) OVER () AS n FROM ${from} WHERE ${where} ORDER BY line LIMIT ?`,
        )
        .all(limit) as Array<{ file: string; line: number; v: string; n: number }>;
      total += rows[0]?.n ?? 0;
      for (const r of rows) {
        issues.push({
          file: r.file,
          line: r.line,
          column: reportAs,
          reason: reason.replace('%s', extOf(r.v, this.platform)),
        });
      }
    };
    const userKnown = (col: string) =>
      `(${col} IN (SELECT id FROM temp.stage_users) OR ${col} IN (SELECT id FROM main.users))`;
    const entKnown = (col: string) =>
      `(${col} IN (SELECT id FROM temp.stage_entitlements) OR ${col} IN (SELECT id FROM main.entitlements))`;
    const campaignKnown = (col: string) =>
      `(${col} IN (SELECT id FROM temp.stage_campaigns) OR ${col} IN (SELECT id FROM main.campaigns))`;

    const dup = (table: string, key: string, what: string) => {
      // One grouping pass per key: every occurrence after the first of a duplicated key.
      const rows = this.db
        .prepare(
          `SELECT s.file, s.line, s.${key.split(',')[0]} AS v FROM temp.${table} s
           JOIN (SELECT ${key}, min(rowid) AS first FROM temp.${table} GROUP BY ${key} HAVING count(*) > 1) d
             ON ${key
               .split(',')
               .map((k) => `s.${k.trim()} = d.${k.trim()}`)
               .join(' AND ')} AND s.rowid != d.first
           ORDER BY s.line`,
        )
        .all() as Array<{ file: string; line: number; v: string }>;
      total += rows.length;
      for (const r of rows.slice(0, limit)) {
        issues.push({
          file: r.file,
          line: r.line,
          column: key.split(',')[0]!.trim(),
          reason: `duplicate ${what} "${extOf(r.v, this.platform)}"`,
        });
      }
    };

    dup('stage_users', 'id', 'user id');
    check(
      'manager_id',
      'unknown manager_id "%s" (no such user)',
      'temp.stage_users',
      `manager_id IS NOT NULL AND NOT ${userKnown('manager_id')}`,
    );
    dup('stage_entitlements', 'id', 'entitlement id');
    check('user_id', 'unknown user_id "%s"', 'temp.stage_assignments', `NOT ${userKnown('user_id')}`);
    check(
      'entitlement_id',
      'unknown entitlement_id "%s"',
      'temp.stage_assignments',
      `NOT ${entKnown('entitlement_id')}`,
    );
    dup('stage_assignments', 'user_id, entitlement_id', 'assignment of user');
    check(
      'via',
      'unknown via "%s" (no such entitlement)',
      'temp.stage_assignments',
      `via IS NOT NULL AND NOT ${entKnown('via')}`,
    );
    check(
      'via',
      'via "%s" is given for a direct assignment; via names what an inherited (source group or rule) assignment comes through',
      'temp.stage_assignments',
      `via IS NOT NULL AND source = 'direct'`,
    );
    check(
      'entitlement_id',
      'unknown entitlement "%s" given includes',
      'temp.stage_includes',
      `NOT ${entKnown('entitlement_id')}`,
      'includes',
    );
    check(
      'included_id',
      'unknown entitlement id "%s" in includes',
      'temp.stage_includes',
      `included_id IS NOT NULL AND NOT ${entKnown('included_id')}`,
      'includes',
    );
    check('user_id', 'unknown user_id "%s"', 'temp.stage_activity', `NOT ${userKnown('user_id')}`);
    check('user_id', 'unknown user_id "%s"', 'temp.stage_hr', `NOT ${userKnown('user_id')}`);
    dup('stage_sod', 'id', 'rule_id');
    check(
      'entitlement_id',
      'unknown entitlement id "%s" in a rule side',
      'temp.stage_sod_sides',
      `NOT ${entKnown('entitlement_id')}`,
    );
    dup('stage_campaigns', 'id', 'campaign id');
    check(
      'campaign_id',
      'unknown campaign_id "%s"',
      'temp.stage_items',
      `NOT ${campaignKnown('campaign_id')}`,
    );
    check('user_id', 'unknown user_id "%s"', 'temp.stage_items', `NOT ${userKnown('user_id')}`);
    check(
      'entitlement_id',
      'unknown entitlement_id "%s"',
      'temp.stage_items',
      `NOT ${entKnown('entitlement_id')}`,
    );
    dup('stage_items', 'campaign_id, user_id, entitlement_id', 'review item for user');
    dup('stage_items', 'id', 'review item id');
    check('user_id', 'unknown user_id "%s"', 'temp.stage_decisions', `NOT ${userKnown('user_id')}`);
    check(
      'entitlement_id',
      'unknown entitlement_id "%s"',
      'temp.stage_decisions',
      `NOT ${entKnown('entitlement_id')}`,
    );

    const order = new Map(FILE_ORDER.map((f, i) => [f, i]));
    issues.sort(
      (a, b) =>
        (order.get(a.file.replace(/\.csv$/, '')) ?? 99) - (order.get(b.file.replace(/\.csv$/, '')) ?? 99) ||
        a.line - b.line,
    );
    return { issues: issues.slice(0, limit), total };
  }

  commit(options: { replaceAssignments: boolean }): SyncSummary {
    if (this.closed) throw new Error('sync already finished');
    if (this.firstLoad) {
      const summary = this.firstLoad.commit(options);
      this.finish();
      return summary;
    }
    this.ensureIndexes();
    const p = { platform: this.platform, now: this.now };
    const counts: Record<string, number> = {};
    const removed: Record<string, number> = {};
    const run = (sql: string) => {
      this.onStep('merge');
      return this.db.prepare(sql).run(p).changes;
    };
    this.onStep('commit');
    this.db
      .transaction(() => {
        counts.users = run(`
          INSERT INTO users (id, platform, external_id, email, name, department, title, manager_id, location, status,
            employee_type, hired_at, terminated_at, contract_end, last_sign_in, attributes, updated_at)
          SELECT id, @platform, external_id, email, name, department, title, manager_id, location, status, employee_type,
            hired_at, terminated_at, contract_end, last_sign_in, attributes, @now FROM temp.stage_users WHERE true
          ON CONFLICT (id) DO UPDATE SET email = excluded.email, name = excluded.name, department = excluded.department,
            title = excluded.title, manager_id = excluded.manager_id, location = excluded.location, status = excluded.status,
            employee_type = excluded.employee_type, hired_at = excluded.hired_at, terminated_at = excluded.terminated_at,
            contract_end = excluded.contract_end,
            last_sign_in = coalesce(excluded.last_sign_in, users.last_sign_in), attributes = excluded.attributes,
            updated_at = excluded.updated_at
          WHERE ${changed('users', ['email', 'name', 'department', 'title', 'manager_id', 'location', 'status', 'employee_type', 'hired_at', 'terminated_at', 'contract_end', 'attributes'])}
            OR (excluded.last_sign_in IS NOT NULL AND excluded.last_sign_in IS NOT users.last_sign_in)`);
        counts.entitlements = run(`
          INSERT INTO entitlements (id, platform, external_id, name, type, app, privileged, sensitivity, owner_id,
            description, attributes, updated_at)
          SELECT id, @platform, external_id, name, type, app, privileged, sensitivity, owner_id, description, attributes, @now
          FROM temp.stage_entitlements WHERE true
          ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, app = excluded.app,
            privileged = excluded.privileged, sensitivity = excluded.sensitivity, owner_id = excluded.owner_id,
            description = excluded.description, attributes = excluded.attributes, updated_at = excluded.updated_at
          WHERE ${changed('entitlements', ['name', 'type', 'app', 'privileged', 'sensitivity', 'owner_id', 'description', 'attributes'])}`);
        // What the platform says is gone: deleted entitlements grant nothing and are granted by nothing.
        if (this.removing) {
          const n = run(`
            DELETE FROM entitlement_includes WHERE platform = @platform AND (
              entitlement_id IN (SELECT entitlement_id FROM temp.stage_removals WHERE kind = 'entitlement')
              OR included_id IN (SELECT entitlement_id FROM temp.stage_removals WHERE kind = 'entitlement'))`);
          if (n > 0) removed.entitlement_includes = n;
        }
        // Includes are replaced for every entitlement whose includes were read in this sync.
        const includesRemoved = run(`
          DELETE FROM entitlement_includes WHERE entitlement_id IN (SELECT entitlement_id FROM temp.stage_includes)
            AND NOT EXISTS (SELECT 1 FROM temp.stage_includes s WHERE s.entitlement_id = entitlement_includes.entitlement_id
              AND s.included_id = entitlement_includes.included_id)`);
        counts.entitlement_includes = run(`
          INSERT OR IGNORE INTO entitlement_includes (entitlement_id, included_id, platform)
          SELECT DISTINCT entitlement_id, included_id, @platform FROM temp.stage_includes WHERE included_id IS NOT NULL`);
        if (includesRemoved > 0)
          removed.entitlement_includes = (removed.entitlement_includes ?? 0) + includesRemoved;
        const firstAssignments = this.db.prepare('SELECT 1 FROM assignments LIMIT 1').get() === undefined;
        counts.assignments = run(`
          INSERT INTO assignments (user_id, entitlement_id, platform, granted_at, source, via, updated_at)
          SELECT user_id, entitlement_id, @platform, granted_at, source, via, @now FROM temp.stage_assignments WHERE true
          ORDER BY user_id, entitlement_id
          ON CONFLICT (user_id, entitlement_id) DO UPDATE SET granted_at = coalesce(excluded.granted_at, assignments.granted_at),
            source = excluded.source, via = excluded.via, updated_at = excluded.updated_at
          WHERE ${changed('assignments', ['source', 'via'])} OR (excluded.granted_at IS NOT NULL AND excluded.granted_at IS NOT assignments.granted_at)`);
        // Nothing to remove when the table was empty before this merge.
        if (options.replaceAssignments) {
          removed.assignments = firstAssignments
            ? 0
            : run(`
            DELETE FROM assignments WHERE platform = @platform AND NOT EXISTS (
              SELECT 1 FROM temp.stage_assignments s WHERE s.user_id = assignments.user_id
                AND s.entitlement_id = assignments.entitlement_id)`);
        }
        if (this.removing) {
          // Removals the platform reported, and the assignments of entitlements read in full this
          // sync that were not read again; never something this same sync staged.
          const n = run(`
            DELETE FROM assignments WHERE platform = @platform AND (
              EXISTS (SELECT 1 FROM temp.stage_removals r WHERE r.kind = 'assignment'
                AND r.user_id = assignments.user_id AND r.entitlement_id = assignments.entitlement_id)
              OR user_id IN (SELECT user_id FROM temp.stage_removals WHERE kind = 'user')
              OR entitlement_id IN (SELECT entitlement_id FROM temp.stage_removals WHERE kind = 'entitlement')
              OR entitlement_id IN (SELECT entitlement_id FROM temp.stage_complete))
            AND NOT EXISTS (SELECT 1 FROM temp.stage_assignments s WHERE s.user_id = assignments.user_id
              AND s.entitlement_id = assignments.entitlement_id)`);
          removed.assignments = (removed.assignments ?? 0) + n;
          const gone = run(`
            UPDATE users SET status = 'deprovisioned', updated_at = @now WHERE platform = @platform
              AND status != 'deprovisioned'
              AND id IN (SELECT user_id FROM temp.stage_removals WHERE kind = 'user')
              AND id NOT IN (SELECT id FROM temp.stage_users)`);
          if (gone > 0) removed.users = gone;
        }
        const firstActivity = this.db.prepare('SELECT 1 FROM activity_events LIMIT 1').get() === undefined;
        counts.activity_events = run(`
          INSERT OR IGNORE INTO activity_events (user_id, app, at, outcome, platform)
          SELECT user_id, app, at, outcome, @platform FROM temp.stage_activity`);
        // Keep the per user x app rollup in step for every pair this sync touched.
        run(`
          INSERT OR REPLACE INTO activity_rollup (user_id, app, first_used, last_used, sign_ins, failed, last_failed)
          SELECT ev.user_id, ev.app,
            min(CASE WHEN ev.outcome = 'success' THEN ev.at END), max(CASE WHEN ev.outcome = 'success' THEN ev.at END),
            sum(ev.outcome = 'success'), sum(ev.outcome = 'failure'), max(CASE WHEN ev.outcome = 'failure' THEN ev.at END)
          FROM activity_events ev
          ${firstActivity ? '' : 'WHERE (ev.user_id, ev.app) IN (SELECT DISTINCT user_id, app FROM temp.stage_activity)'}
          GROUP BY ev.user_id, ev.app`);
        counts.hr_changes = run(`
          INSERT OR IGNORE INTO hr_changes (user_id, field, from_value, to_value, at, platform)
          SELECT user_id, field, from_value, to_value, at, @platform FROM temp.stage_hr`);
        counts.sod_rules = run(`
          INSERT INTO sod_rules (id, platform, external_id, name, severity, updated_at)
          SELECT id, @platform, external_id, name, severity, @now FROM temp.stage_sod WHERE true
          ON CONFLICT (id) DO UPDATE SET name = excluded.name, severity = excluded.severity, updated_at = excluded.updated_at
          WHERE ${changed('sod_rules', ['name', 'severity'])}`);
        run(`DELETE FROM sod_rule_entitlements WHERE rule_id IN (SELECT id FROM temp.stage_sod)`);
        run(`INSERT OR IGNORE INTO sod_rule_entitlements (rule_id, side, entitlement_id)
             SELECT rule_id, side, entitlement_id FROM temp.stage_sod_sides`);
        counts.campaigns = run(`
          INSERT INTO campaigns (id, platform, external_id, name, status, created_at, due_at, attributes, updated_at)
          SELECT id, @platform, external_id, name, status, created_at, due_at, attributes, @now FROM temp.stage_campaigns WHERE true
          ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status, created_at = excluded.created_at,
            due_at = excluded.due_at, attributes = excluded.attributes, updated_at = excluded.updated_at
          WHERE ${changed('campaigns', ['name', 'status', 'created_at', 'due_at', 'attributes'])}`);
        // Into an empty table (a first import), secondary indexes and count triggers are built once
        // afterwards rather than updated row by row.
        const rebuildItems = this.dropSecondaryIfEmpty('review_items');
        counts.review_items = run(`
          INSERT INTO review_items (id, campaign_id, user_id, entitlement_id, reviewer_id, platform, external_id,
            platform_coordinates, platform_attributes, updated_at)
          SELECT id, campaign_id, user_id, entitlement_id, reviewer_id, @platform, external_id, coordinates, attributes, @now
          FROM temp.stage_items WHERE true
          ON CONFLICT (id) DO UPDATE SET reviewer_id = excluded.reviewer_id,
            platform_coordinates = excluded.platform_coordinates, platform_attributes = excluded.platform_attributes,
            updated_at = excluded.updated_at
          WHERE ${changed('review_items', ['reviewer_id', 'platform_coordinates', 'platform_attributes'])}`);
        if (rebuildItems) {
          rebuildItems();
          this.db.exec(`DELETE FROM review_item_counts;
            INSERT INTO review_item_counts (campaign_id, status, n)
              SELECT campaign_id, status, count(*) FROM review_items GROUP BY campaign_id, status`);
        }
        // Decisions already made on the platform itself.
        run(`
          INSERT OR IGNORE INTO item_decisions (item_id, proposal_id, decision, decided_by, decided_at, channel)
          SELECT id, NULL, decided, coalesce(decided_by, 'platform'), coalesce(decided_at, @now), 'platform'
          FROM temp.stage_items WHERE decided IS NOT NULL`);
        run(`
          UPDATE review_items SET status = 'decided'
          WHERE status != 'decided' AND id IN (SELECT id FROM temp.stage_items WHERE decided IS NOT NULL)`);
        counts.past_decisions = run(`
          INSERT OR IGNORE INTO past_decisions (user_id, entitlement_id, decision, decided_at, reviewer_id, campaign_id,
            source, platform)
          SELECT user_id, entitlement_id, decision, decided_at, reviewer_id, campaign_id, 'import', @platform
          FROM temp.stage_decisions`);
      })
      .immediate();
    this.finish();
    return { platform: this.platform, counts, removed };
  }

  /**
   * When `table` is empty, drops its secondary indexes and triggers (inside the merge's
   * transaction) and returns the function that recreates them from their stored SQL.
   * Unique constraints stay: they are part of the table.
   */
  private dropSecondaryIfEmpty(table: string): (() => void) | null {
    if (this.db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined) return null;
    const objects = this.db
      .prepare(
        `SELECT type, name, sql FROM sqlite_schema WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL`,
      )
      .all(table) as Array<{ type: 'index' | 'trigger'; name: string; sql: string }>;
    for (const o of objects) this.db.exec(`DROP ${o.type.toUpperCase()} "${o.name}"`);
    return () => {
      for (const o of objects) this.db.exec(o.sql);
    };
  }

  abort(): void {
    this.firstLoad?.abort();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.staged) return;
    for (const t of STAGE_TABLES) this.db.exec(`DROP TABLE IF EXISTS temp.${t}`);
  }
}

function changed(table: string, cols: string[]): string {
  return cols.map((c) => `${table}.${c} IS NOT excluded.${c}`).join(' OR ');
}

function extOf(id: string | null, platform: Platform): string {
  if (id === null) return '';
  const prefix = `${platform}:`;
  return platform !== 'snapshot' && id.startsWith(prefix) ? id.slice(prefix.length) : id;
}

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

const STAGE_TABLES = [
  'stage_users',
  'stage_entitlements',
  'stage_includes',
  'stage_assignments',
  'stage_activity',
  'stage_hr',
  'stage_sod',
  'stage_sod_sides',
  'stage_campaigns',
  'stage_items',
  'stage_decisions',
  'stage_removals',
  'stage_complete',
];

const ROWS_PER_INSERT = 64;

const STAGE_INDEXES = `
CREATE INDEX IF NOT EXISTS temp.stage_users_id ON stage_users (id);
CREATE INDEX IF NOT EXISTS temp.stage_entitlements_id ON stage_entitlements (id);
CREATE INDEX IF NOT EXISTS temp.stage_assignments_key ON stage_assignments (user_id, entitlement_id);
CREATE INDEX IF NOT EXISTS temp.stage_includes_key ON stage_includes (entitlement_id, included_id);
CREATE INDEX IF NOT EXISTS temp.stage_items_id ON stage_items (id);
CREATE INDEX IF NOT EXISTS temp.stage_removals_key ON stage_removals (kind, user_id, entitlement_id);
CREATE INDEX IF NOT EXISTS temp.stage_complete_id ON stage_complete (entitlement_id);
`;

const STAGE_DDL = `
CREATE TEMP TABLE stage_users (id TEXT, external_id TEXT, email TEXT, name TEXT, department TEXT, title TEXT,
  manager_id TEXT, location TEXT, status TEXT, employee_type TEXT, hired_at TEXT, terminated_at TEXT, contract_end TEXT,
  last_sign_in TEXT, attributes TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_entitlements (id TEXT, external_id TEXT, name TEXT, type TEXT, app TEXT,
  privileged INTEGER, sensitivity TEXT, owner_id TEXT, description TEXT, attributes TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_includes (entitlement_id TEXT, included_id TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_assignments (user_id TEXT, entitlement_id TEXT, granted_at TEXT, source TEXT, via TEXT,
  file TEXT, line INTEGER);
CREATE TEMP TABLE stage_activity (user_id TEXT, app TEXT, at TEXT, outcome TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_hr (user_id TEXT, field TEXT, from_value TEXT, to_value TEXT, at TEXT, file TEXT,
  line INTEGER);
CREATE TEMP TABLE stage_sod (id TEXT, external_id TEXT, name TEXT, severity TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_sod_sides (rule_id TEXT, side TEXT, entitlement_id TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_campaigns (id TEXT, external_id TEXT, name TEXT, status TEXT, created_at TEXT,
  due_at TEXT, attributes TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_items (id TEXT, external_id TEXT, campaign_id TEXT, user_id TEXT, entitlement_id TEXT,
  reviewer_id TEXT, decided TEXT, decided_by TEXT, decided_at TEXT, coordinates TEXT, attributes TEXT, file TEXT,
  line INTEGER);
CREATE TEMP TABLE stage_decisions (user_id TEXT, entitlement_id TEXT, decision TEXT, decided_at TEXT,
  reviewer_id TEXT, campaign_id TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_removals (kind TEXT, user_id TEXT, entitlement_id TEXT, file TEXT, line INTEGER);
CREATE TEMP TABLE stage_complete (entitlement_id TEXT);
`;
