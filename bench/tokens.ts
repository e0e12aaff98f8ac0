/**
 * Bytes and tokens per result. A token is estimated as 4 bytes of JSON. "Before" is the same
 * result with the text renderings the tools had before the compact text (issue 17): the list
 * page's old one-line-per-item text without names, recommendation, status or cursor, and the
 * whole structuredContent as JSON again for get_user_activity and check_sod; the structured
 * content is the same data in both.
 */

export interface ResultBytes {
  /** The whole CallToolResult as JSON. */
  total: number;
  structured: number;
  text: number;
  /** Items on the page (list_campaign_items), else null. */
  items: number | null;
  /** Text bytes per item (list pages). */
  textPerItem: number | null;
  tokens: number;
  /** The same result with the text rendering of before the change. */
  before: { total: number; text: number; tokens: number };
}

type Result = {
  content: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
};

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

interface OldItem {
  item_id: string;
  risk: { score: number; signals: Array<{ code: string }> };
  user: { id: string };
  entitlement: { id: string };
}

/** The list page's text as it was rendered before the change. */
function oldListText(sc: Record<string, unknown>): string {
  const items = (sc.items as OldItem[]) ?? [];
  return (
    `${items.length} of ${sc.total} items${sc.next_cursor ? ' (more: pass next_cursor)' : ''}.\n` +
    items
      .map(
        (i) =>
          `- ${i.item_id} risk ${i.risk.score} [${i.risk.signals.map((s) => s.code).join(',') || 'no signals'}] user ${i.user.id} ent ${i.entitlement.id}`,
      )
      .join('\n') +
    `\n${String(sc.note ?? '')}`
  );
}

export function resultBytes(tool: string, r: Result): ResultBytes {
  const sc = r.structuredContent ?? {};
  const text = r.content.map((c) => c.text ?? '').join('');
  const total = bytes(JSON.stringify(r));
  const items = Array.isArray(sc.items) ? sc.items.length : null;
  // Before the change: list pages had the old line format; the other tools sent the JSON again.
  const oldText = tool === 'list_campaign_items' ? oldListText(sc) : JSON.stringify(sc);
  const beforeTotal = bytes(
    JSON.stringify({ content: [{ type: 'text', text: oldText }], structuredContent: sc }),
  );
  return {
    total,
    structured: bytes(JSON.stringify(sc)),
    text: bytes(text),
    items,
    textPerItem: items ? bytes(text) / items : null,
    tokens: Math.round(total / 4),
    before: { total: beforeTotal, text: bytes(oldText), tokens: Math.round(beforeTotal / 4) },
  };
}
