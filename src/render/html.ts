import { escapeUnsafe } from '../policy/human-text.js';

/**
 * HTML built from a tagged template that escapes every interpolated value, so text from
 * the directory or an agent cannot become markup. Control characters, bidi overrides and
 * other invisible characters are also shown as escapes (as in every text shown to a human).
 * `raw()` marks HTML that is already safe (built by this module).
 */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export const raw = (s: string) => new Html(s);

export function esc(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(esc).join('');
  return escapeUnsafe(String(v)).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += esc(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** A number for people: thousands separated, a share as a percentage. */
export const num = (n: number) => n.toLocaleString('en-US');
export const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);

/** A horizontal bar chart as inline SVG, with the numbers beside the bars (no script, no network). */
export function barChart(
  rows: Array<{ label: string; value: number }>,
  options: { width?: number; title: string },
): Html {
  const width = options.width ?? 520;
  const rowH = 22;
  const labelW = 170;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const h = rows.length * rowH + 8;
  const bars = rows.map((r, i) => {
    const w = Math.round(((width - labelW - 70) * r.value) / max);
    const y = i * rowH + 4;
    return html`<text x="0" y="${y + 15}" class="lbl">${r.label.length > 26 ? `${r.label.slice(0, 25)}…` : r.label}</text><rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 8}" class="bar"></rect><text x="${labelW + w + 6}" y="${y + 15}" class="val">${num(r.value)}</text>`;
  });
  return html`<svg role="img" aria-label="${options.title}" viewBox="0 0 ${width} ${h}" width="${width}" height="${h}" xmlns="http://www.w3.org/2000/svg"><title>${options.title}</title>${bars}</svg>`;
}

/** The console's and the evidence pack's stylesheet (served as a file, never inline). */
export const STYLESHEET = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2430;background:#f7f8fa}
header{background:#1d2430;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfe0ff;text-decoration:none}
main{padding:16px 24px;max-width:1200px}
h1{font-size:20px;margin:8px 0 16px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff;margin:8px 0}
th,td{border:1px solid #dde1e7;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 14px;min-width:150px}
.card .n{font-size:22px;font-weight:600}
.bar{fill:#4b7bec}.lbl{font-size:12px;fill:#333}.val{font-size:12px;fill:#333}
.decision{font-weight:700}.revoke{color:#b3261e}.approve{color:#1b6e34}.escalate{color:#8a5a00}
.flag{display:inline-block;background:#fde7e7;color:#8a1c1c;border-radius:4px;padding:0 6px;margin-right:4px}
.data{font-family:ui-monospace,Menlo,Consolas,monospace;background:#f1f3f6;padding:0 3px;border-radius:3px}
form.inline{display:inline}
button{font:inherit;padding:6px 14px;border-radius:4px;border:1px solid #888;background:#fff;cursor:pointer}
button.primary{background:#1b6e34;color:#fff;border-color:#1b6e34}button.danger{background:#b3261e;color:#fff;border-color:#b3261e}
.note{color:#555;font-size:12px}.ok{color:#1b6e34}.bad{color:#b3261e}
@media print{header{display:none}body{background:#fff}}
`;
