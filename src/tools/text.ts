import { quoteField } from '../policy/human-text.js';

/**
 * The text content of every tool result, in one compact style for hosts that pass only
 * `content[]` to the model: a summary line, `key: value` lines, and one line per element for
 * lists (`name (n): col | col` as the header, then `- value | value`). Nothing of the
 * structured result is left out, and it is not a second copy of the JSON. Every string that is
 * not a plain token (an id, an enum, a timestamp) is quoted and escaped with quoteField, so
 * directory text can neither start a line of its own nor pass for a value Attest wrote.
 */

/** Ids, enums, timestamps and numbers as text: no spaces, quotes or controls, bounded. */
const TOKEN = /^[A-Za-z0-9_.:@/+#=-]{1,80}$/;

/** Longest string shown whole (longer ones are cut with quoteField's marker). */
const MAX_STRING = 600;

/** A scalar as text: a plain token bare, any other string quoted, null as a dash. */
export function cell(v: unknown, max = MAX_STRING): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'string') return TOKEN.test(v) ? v : quoteField(v, max);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return inline(v);
}

/** A nested value on one line: `k=v, k=v` for objects, `a, b` for arrays. */
function inline(v: unknown): string {
  if (v === null || typeof v !== 'object') return cell(v);
  if (Array.isArray(v)) return v.length === 0 ? 'none' : v.map(inline).join(', ');
  const parts = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `${k}=${x !== null && typeof x === 'object' ? `{${inline(x)}}` : cell(x)}`);
  return parts.join(', ');
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** A list of objects: a header naming the columns, then one line per element. */
export function table(name: string, rows: readonly Record<string, unknown>[]): string[] {
  if (rows.length === 0) return [`${name}: none`];
  const columns: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!columns.includes(k)) columns.push(k);
  return [
    `${name} (${rows.length}): ${columns.join(' | ')}`,
    ...rows.map((r) => `- ${columns.map((c) => cell(r[c])).join(' | ')}`),
  ];
}

/** Any tool result in the compact style; `note` (written by Attest) comes last, as it is. */
export function renderCompact(result: Record<string, unknown>, prefix = ''): string {
  const lines: string[] = [];
  let note: string | null = null;
  for (const [k, v] of Object.entries(result)) {
    if (v === undefined) continue;
    const name = prefix + k;
    if (k === 'note' && prefix === '' && typeof v === 'string') note = v;
    else if (Array.isArray(v) && v.length > 0 && v.every(isRecord)) lines.push(...table(name, v));
    else if (Array.isArray(v)) lines.push(`${name}: ${inline(v)}`);
    else if (isRecord(v) && Object.values(v).some((x) => x !== null && typeof x === 'object'))
      lines.push(renderCompact(v, `${name}.`));
    else lines.push(`${name}: ${isRecord(v) ? inline(v) : cell(v)}`);
  }
  if (note !== null) lines.push(note);
  return lines.join('\n');
}
