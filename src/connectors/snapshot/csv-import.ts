import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  entitlementSnapshotColumns,
  entitlementSnapshotExtraColumns,
  userSnapshotColumns,
} from '../../domain/index.js';
import type { RecordIssue, SourceRef, SyncSink, SyncSummary } from '../../domain/sync.js';
import { readCsvFile } from './csv-reader.js';

/** Columns of each snapshot file: required ones and the ones with a fixed meaning. */
interface FileSpec {
  file: string;
  required: string[];
  known: string[];
  mandatory: boolean;
  /** Unknown columns are kept as attributes for these. */
  keepsExtras: boolean;
}

export const snapshotFiles: FileSpec[] = [
  {
    file: 'users.csv',
    required: ['id'],
    known: [...userSnapshotColumns],
    mandatory: true,
    keepsExtras: true,
  },
  {
    file: 'entitlements.csv',
    required: ['id', 'name'],
    known: [...entitlementSnapshotColumns, ...entitlementSnapshotExtraColumns],
    mandatory: true,
    keepsExtras: true,
  },
  {
    file: 'assignments.csv',
    required: ['user_id', 'entitlement_id'],
    known: ['user_id', 'entitlement_id', 'granted_at', 'source', 'via'],
    mandatory: true,
    keepsExtras: false,
  },
  {
    file: 'activity.csv',
    required: ['user_id', 'app', 'at'],
    known: ['user_id', 'app', 'at', 'outcome'],
    mandatory: false,
    keepsExtras: false,
  },
  {
    file: 'hr_changes.csv',
    required: ['user_id', 'field', 'at'],
    known: ['user_id', 'field', 'from', 'to', 'at'],
    mandatory: false,
    keepsExtras: false,
  },
  {
    file: 'sod_rules.csv',
    required: ['rule_id', 'name', 'left', 'right'],
    known: ['rule_id', 'name', 'left', 'right', 'severity'],
    mandatory: false,
    keepsExtras: false,
  },
  {
    file: 'campaigns.csv',
    required: ['id', 'name'],
    known: ['id', 'name', 'created_at', 'due_at', 'status'],
    mandatory: false,
    keepsExtras: true,
  },
  {
    file: 'review_items.csv',
    required: ['campaign_id', 'user_id', 'entitlement_id'],
    known: ['campaign_id', 'user_id', 'entitlement_id', 'reviewer_id', 'id'],
    mandatory: false,
    keepsExtras: false,
  },
  {
    file: 'decisions.csv',
    required: ['user_id', 'entitlement_id', 'decision'],
    known: ['user_id', 'entitlement_id', 'decision', 'decided_at', 'reviewer_id', 'campaign_id'],
    mandatory: false,
    keepsExtras: false,
  },
];

export interface ImportReport {
  ok: boolean;
  /** The first `maxIssues` problems, in file and line order. */
  issues: RecordIssue[];
  /** All problems found, including those not listed. */
  totalIssues: number;
  rows: Record<string, number>;
  summary: SyncSummary | null;
}

export interface ImportOptions {
  maxIssues?: number;
  onProgress?: (done: number, total: number, file: string) => void;
  batchSize?: number;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two or four ASCII digits at `at` as a number, or -1. */
function digits(v: string, at: number, n: number): number {
  let out = 0;
  for (let i = at; i < at + n; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    out = out * 10 + c;
  }
  return out;
}

/** `YYYY-MM-DDTHH:MM:SS.sssZ` naming a real instant: what `Date#toISOString` writes. */
function isCanonicalUtc(v: string): boolean {
  if (v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 84) return false;
  if (v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || v.charCodeAt(19) !== 46) return false;
  if (v.charCodeAt(23) !== 90 || digits(v, 20, 3) < 0) return false;
  const y = digits(v, 0, 4);
  const m = digits(v, 5, 2);
  const d = digits(v, 8, 2);
  const h = digits(v, 11, 2);
  const mi = digits(v, 14, 2);
  const s = digits(v, 17, 2);
  if (y < 0 || m < 1 || m > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59)
    return false;
  const leap = m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= DAYS_IN_MONTH[m - 1]! + (leap ? 1 : 0);
}

/** Parses an ISO 8601 date or date-time (a bare date is midnight UTC) to canonical UTC, or null. */
export function parseIsoTime(value: string): string | null {
  // Fast path: already canonical (what exports and the demo write), checked by character.
  if (value.length === 24 && isCanonicalUtc(value)) return value;
  const m = ISO.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi] = m;
  if (h !== undefined && mi === undefined) return null;
  const month = Number(mo);
  const day = Number(d);
  const year = Number(y);
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return null;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(m[6] ?? 0) > 59)) return null;
  let text = value.trim().replace(' ', 'T');
  if (h === undefined) text = `${y}-${mo}-${d}T00:00:00Z`;
  else if (m[8] === undefined) text += 'Z';
  const t = Date.parse(text);
  if (Number.isNaN(t)) return null;
  return new Date(t).toISOString();
}

class RowErrors {
  readonly issues: RecordIssue[] = [];
  total = 0;
  constructor(private readonly max: number) {}
  add(issue: RecordIssue): void {
    this.total++;
    if (this.issues.length < this.max) this.issues.push(issue);
  }
}

/**
 * A row reader: typed getters that validate a cell and record an issue naming
 * the file, line and column when it is wrong. One per file, pointed at each row in turn.
 */
class RowReader {
  ok = true;
  private cells: string[] = [];
  src: SourceRef;
  private readonly index = new Map<string, number>();
  private readonly extraColumns: Array<[name: string, index: number]>;

  constructor(
    columns: string[],
    known: string[],
    file: string,
    private readonly errors: RowErrors,
  ) {
    columns.forEach((c, i) => {
      this.index.set(c, i);
    });
    this.extraColumns = columns.flatMap(
      (c, i): Array<[string, number]> => (known.includes(c) ? [] : [[c, i]]),
    );
    this.src = { file, line: 0 };
  }

  /** Points the reader at the next row. */
  reset(cells: string[], line: number): void {
    this.cells = cells;
    this.ok = true;
    this.src = { file: this.src.file, line };
  }

  private fail(column: string, reason: string): null {
    this.ok = false;
    this.errors.add({ file: this.src.file, line: this.src.line, column, reason });
    return null;
  }

  text(column: string): string | null {
    const i = this.index.get(column);
    if (i === undefined) return null;
    const v = this.cells[i];
    return v === undefined || v === '' ? null : v;
  }

  required(column: string): string {
    const v = this.text(column);
    if (v === null) {
      this.fail(column, `required value is empty`);
      return '';
    }
    return v;
  }

  oneOf<T extends string>(column: string, allowed: readonly T[], fallback: T): T {
    const v = this.text(column);
    if (v === null) return fallback;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    this.fail(column, `"${clip(v)}" is not one of ${allowed.join(', ')}`);
    return fallback;
  }

  bool(column: string, fallback: boolean): boolean {
    const v = this.text(column);
    if (v === null) return fallback;
    if (v === 'true') return true;
    if (v === 'false') return false;
    this.fail(column, `"${clip(v)}" is not a boolean (true or false)`);
    return fallback;
  }

  time(column: string, required = false): string | null {
    const v = this.text(column);
    if (v === null) {
      if (required) this.fail(column, 'required time is empty');
      return null;
    }
    const t = parseIsoTime(v);
    if (t === null) return this.fail(column, `"${clip(v)}" is not an ISO 8601 time`);
    return t;
  }

  /** Cells of columns without a fixed meaning, kept as attributes (empty ones left out). */
  extras(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, i] of this.extraColumns) {
      const v = this.cells[i];
      if (v !== undefined && v !== '') out[k] = v;
    }
    return out;
  }
}

function clip(v: string): string {
  return v.length > 60 ? `${v.slice(0, 57)}...` : v;
}

export interface ReadReport {
  issues: RecordIssue[];
  totalIssues: number;
  rows: Record<string, number>;
}

/**
 * Streams every file of a snapshot folder into a sink (no whole file in memory),
 * validating each row. Stops staging at the first bad row but keeps reading to
 * report every problem. Does not commit.
 */
export async function readSnapshot(
  dir: string,
  sink: SyncSink,
  options: ImportOptions = {},
): Promise<ReadReport> {
  const maxIssues = options.maxIssues ?? 20;
  const batchSize = options.batchSize ?? 5000;
  const errors = new RowErrors(maxIssues);
  const rows: Record<string, number> = {};

  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    errors.add({ file: dir, line: 0, column: null, reason: 'is not a folder' });
    return { issues: errors.issues, totalIssues: errors.total, rows };
  }
  const present = snapshotFiles.filter((f) => existsSync(join(dir, f.file)));
  for (const f of snapshotFiles) {
    if (f.mandatory && !present.includes(f)) {
      errors.add({ file: f.file, line: 0, column: null, reason: 'required file is missing' });
    }
  }
  const totalBytes = present.reduce((s, f) => s + statSync(join(dir, f.file)).size, 0);
  let doneBytes = 0;

  for (const spec of present) {
    const path = join(dir, spec.file);
    const size = statSync(path).size;
    let batch: unknown[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      pushBatch(sink, spec.file, batch);
      batch = [];
    };
    let count = 0;
    let width = 0;
    let reader: RowReader | null = null;
    let headerOk = true;
    const header = (raw: string[]) => {
      const cols = raw.map((h) => h.trim());
      const missing = spec.required.filter((c) => !cols.includes(c));
      for (const c of missing) {
        errors.add({
          file: spec.file,
          line: 1,
          column: c,
          reason: 'required column is missing from the header',
        });
      }
      const seen = new Set<string>();
      for (const c of cols) {
        if (seen.has(c))
          errors.add({ file: spec.file, line: 1, column: c, reason: 'column appears twice in the header' });
        seen.add(c);
      }
      headerOk = missing.length === 0 && seen.size === cols.length;
      width = cols.length;
      reader = new RowReader(cols, spec.known, spec.file, errors);
    };
    const read = await readCsvFile(
      path,
      (cells, line) => {
        if (reader === null) return header(cells);
        if (!headerOk) return;
        count++;
        if (cells.length !== width) {
          errors.add({
            file: spec.file,
            line,
            column: null,
            reason: `malformed CSV: ${cells.length} fields where the header has ${width}`,
          });
          return;
        }
        const r: RowReader = reader;
        r.reset(cells, line);
        const record = toRecord(spec, r);
        if (r.ok && record !== null && errors.total === 0) {
          batch.push(record);
          if (batch.length >= batchSize) flush();
        }
      },
      (issue) => {
        if (reader !== null) count++;
        errors.add({
          file: spec.file,
          line: issue.line,
          column: null,
          reason: `malformed CSV: ${issue.reason}`,
        });
      },
      { onBytes: (b) => options.onProgress?.(doneBytes + Math.min(b, size), totalBytes, spec.file) },
    );
    if (read.records === 0 && spec.mandatory) {
      errors.add({ file: spec.file, line: 1, column: null, reason: 'the file has no header row' });
    }
    if (errors.total === 0) flush();
    rows[spec.file] = count;
    doneBytes += size;
    options.onProgress?.(doneBytes, totalBytes, spec.file);
  }
  return { issues: errors.issues, totalIssues: errors.total, rows };
}

/**
 * A sink that can load a snapshot straight into an empty store instead of staging it (the
 * store's StagedSync can): the caller then reads at disk speed and commits outside any
 * transaction of its own, as importSnapshot does.
 */
interface FirstLoadSink extends SyncSink {
  allowFirstLoad(): void;
}

function canLoadFirst(sink: SyncSink): sink is FirstLoadSink {
  return typeof (sink as Partial<FirstLoadSink>).allowFirstLoad === 'function';
}

/**
 * Loads a snapshot folder: reads and validates every row, lets the sink check
 * references, and commits only when nothing is wrong (all-or-nothing).
 */
export async function importSnapshot(
  dir: string,
  sink: SyncSink,
  options: ImportOptions = {},
): Promise<ImportReport> {
  if (canLoadFirst(sink)) sink.allowFirstLoad();
  try {
    const read = await readSnapshot(dir, sink, options);
    if (read.totalIssues > 0) {
      sink.abort();
      return {
        ok: false,
        issues: read.issues,
        totalIssues: read.totalIssues,
        rows: read.rows,
        summary: null,
      };
    }
    const refs = sink.validate(options.maxIssues ?? 20);
    if (refs.total > 0) {
      sink.abort();
      return { ok: false, issues: refs.issues, totalIssues: refs.total, rows: read.rows, summary: null };
    }
    const summary = sink.commit({ replaceAssignments: true });
    return { ok: true, issues: [], totalIssues: 0, rows: read.rows, summary };
  } catch (e) {
    sink.abort();
    throw e;
  }
}

function pushBatch(sink: SyncSink, file: string, batch: unknown[]): void {
  switch (file) {
    case 'users.csv':
      sink.users(batch as never);
      return;
    case 'entitlements.csv':
      sink.entitlements(batch as never);
      return;
    case 'assignments.csv':
      sink.assignments(batch as never);
      return;
    case 'activity.csv':
      sink.activity(batch as never);
      return;
    case 'hr_changes.csv':
      sink.hrChanges(batch as never);
      return;
    case 'sod_rules.csv':
      sink.sodRules(batch as never);
      return;
    case 'campaigns.csv':
      sink.campaigns(batch as never);
      return;
    case 'review_items.csv':
      sink.reviewItems(batch as never);
      return;
    case 'decisions.csv':
      sink.pastDecisions(batch as never);
      return;
  }
}

const splitIds = (v: string | null) =>
  (v ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function toRecord(spec: FileSpec, r: RowReader): unknown {
  const src = r.src;
  switch (spec.file) {
    case 'users.csv':
      return {
        external_id: r.required('id'),
        email: r.text('email'),
        name: r.text('name'),
        department: r.text('department'),
        title: r.text('title'),
        manager_external_id: r.text('manager_id'),
        location: r.text('location'),
        status: r.oneOf('status', ['active', 'suspended', 'deprovisioned'] as const, 'active'),
        employee_type: r.oneOf('employee_type', ['employee', 'contractor', 'service'] as const, 'employee'),
        hired_at: r.time('hired_at'),
        terminated_at: r.time('terminated_at'),
        contract_end: r.time('contract_end'),
        attributes: r.extras(),
        src,
      };
    case 'entitlements.csv':
      return {
        external_id: r.required('id'),
        name: r.required('name'),
        type: r.oneOf('type', ['group', 'app', 'role'] as const, 'group'),
        app: r.text('app'),
        privileged: r.bool('privileged', false),
        sensitivity: r.oneOf('sensitivity', ['low', 'medium', 'high', 'critical'] as const, 'medium'),
        owner_external_id: r.text('owner_id'),
        description: r.text('description'),
        // A snapshot states its includes in full: an empty cell means none.
        includes: splitIds(r.text('includes')),
        attributes: r.extras(),
        src,
      };
    case 'assignments.csv':
      return {
        user_external_id: r.required('user_id'),
        entitlement_external_id: r.required('entitlement_id'),
        granted_at: r.time('granted_at'),
        source: r.oneOf('source', ['direct', 'group', 'rule'] as const, 'direct'),
        via: r.text('via'),
        src,
      };
    case 'activity.csv':
      return {
        user_external_id: r.required('user_id'),
        app: r.required('app'),
        at: r.time('at', true),
        outcome: r.oneOf('outcome', ['success', 'failure'] as const, 'success'),
        src,
      };
    case 'hr_changes.csv':
      return {
        user_external_id: r.required('user_id'),
        field: r.required('field'),
        from: r.text('from'),
        to: r.text('to'),
        at: r.time('at', true),
        src,
      };
    case 'sod_rules.csv': {
      const left = splitIds(r.required('left'));
      const right = splitIds(r.required('right'));
      const rec = {
        external_id: r.required('rule_id'),
        name: r.required('name'),
        left,
        right,
        severity: r.oneOf('severity', ['low', 'medium', 'high', 'critical'] as const, 'high'),
        src,
      };
      return rec;
    }
    case 'campaigns.csv':
      return {
        external_id: r.required('id'),
        name: r.required('name'),
        created_at: r.time('created_at'),
        due_at: r.time('due_at'),
        status: r.oneOf('status', ['active', 'closed'] as const, 'active'),
        attributes: r.extras(),
        src,
      };
    case 'review_items.csv':
      return {
        external_id: r.text('id'),
        campaign_external_id: r.required('campaign_id'),
        user_external_id: r.required('user_id'),
        entitlement_external_id: r.required('entitlement_id'),
        reviewer_external_id: r.text('reviewer_id'),
        src,
      };
    case 'decisions.csv':
      return {
        user_external_id: r.required('user_id'),
        entitlement_external_id: r.required('entitlement_id'),
        decision: r.oneOf('decision', ['approve', 'revoke'] as const, 'approve'),
        decided_at: r.time('decided_at'),
        reviewer_external_id: r.text('reviewer_id'),
        campaign_external_id: r.text('campaign_id'),
        src,
      };
  }
  return null;
}
