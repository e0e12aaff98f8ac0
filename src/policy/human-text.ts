/**
 * Text shown to a human who confirms a write (the elicitation form, the terminal, the
 * console). Every field that comes from directory data or from the agent is passed
 * through {@link quoteField}: control characters, line breaks, bidirectional overrides and
 * other invisible format characters become visible escapes, the field is quoted and cut
 * to a bounded length. So a name cannot start a new line that looks like another item, an
 * ANSI escape cannot repaint the terminal, and the decision and risk, which are written
 * by Attest at fixed places, cannot be imitated by the data.
 */

// C0 and C1 controls, DEL, line and paragraph separators, bidi embeddings/overrides/isolates,
// zero-width and other invisible format characters, the BOM, and interlinear annotation marks.
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** The text with every unsafe character replaced by a visible escape (`\n`, `\u202e`). */
export function escapeUnsafe(text: string): string {
  return text
    .replace(LONE_SURROGATE, '\ufffd')
    .replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/**
 * One field for a human: escaped, cut to `max` characters (saying how much was left out),
 * and quoted, with quotes inside escaped. `null` shows as a dash.
 */
export function quoteField(value: string | null | undefined, max = 160): string {
  if (value === null || value === undefined || value === '') return '-';
  let text = escapeUnsafe(value.replace(/\\/g, '\\\\').replace(/"/g, '\\"'));
  if (text.length > max) {
    let cut = text.slice(0, max);
    if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
    text = `${cut}… (+${text.length - cut.length} chars)`;
  }
  return `"${text}"`;
}

/** What one line of a batch shows: everything but the decision and risk is data. */
export interface BatchLine {
  decision: 'approve' | 'revoke' | 'escalate';
  risk_score: number;
  risk_level: string;
  signals: string[];
  privileged: boolean;
  user_name: string | null;
  user_email: string | null;
  user_id: string;
  entitlement_name: string;
  entitlement_app: string | null;
  entitlement_id: string;
  rationale: string;
  proposed_by: string;
}

const SIGNAL = /^[a-z_]{1,40}$/;

/**
 * A batch as lines a human reads. Each item begins with its number, the decision and the
 * risk, written by Attest; the quoted fields after them are data.
 */
export function renderBatch(lines: BatchLine[]): string {
  return lines
    .map((l, i) => {
      const signals = l.signals.filter((s) => SIGNAL.test(s)).join(', ') || 'none';
      return [
        `[${i + 1}/${lines.length}] ${l.decision.toUpperCase()} · risk ${Math.round(l.risk_score)} ${l.risk_level}${l.privileged ? ' · privileged' : ''} · signals: ${signals}`,
        `    user:        ${quoteField(l.user_name)} ${quoteField(l.user_email)} (id ${quoteField(l.user_id, 80)})`,
        `    access:      ${quoteField(l.entitlement_name)} in ${quoteField(l.entitlement_app)} (id ${quoteField(l.entitlement_id, 80)})`,
        `    rationale:   ${quoteField(l.rationale, 400)}`,
        `    proposed by: ${quoteField(l.proposed_by, 120)}`,
      ].join('\n');
    })
    .join('\n');
}
