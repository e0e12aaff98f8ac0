const SECRET_KEY =
  /(token|secret|password|passwd|private[_-]?key|authorization|api[_-]?key|client[_-]?assertion|cookie)/i;
const SECRET_VALUE = [
  /\b(SSWS|Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g,
  /\batt_[A-Za-z0-9_-]{16,}/g,
];

/** Text no SECRET_VALUE pattern can match lacks all of these (each pattern starts with one). */
const SECRET_HINT = /SSWS|Bearer|Basic|DPoP|-----BEGIN|eyJ|att_/i;

/** Replaces secrets in text (tokens, keys, JWTs) with [REDACTED]. */
export function redactText(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const k of known) if (k.length >= 6 && out.includes(k)) out = out.split(k).join('[REDACTED]');
  if (!SECRET_HINT.test(out)) return out;
  for (const re of SECRET_VALUE)
    out = out.replace(
      re,
      (m) =>
        `${m.split(/\s+/)[0]?.match(/^(SSWS|Bearer|Basic|DPoP)$/i) ? `${m.split(/\s+/)[0]} ` : ''}[REDACTED]`,
    );
  return out;
}

/** Deep copy with secret-looking keys and values redacted. */
export function redact(value: unknown, known: readonly string[] = [], depth = 0): unknown {
  if (depth > 20) return '[TRUNCATED]';
  if (typeof value === 'string') return redactText(value, known);
  if (Array.isArray(value)) return value.map((v) => redact(v, known, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // defineProperty, not assignment: an own "__proto__" key stays a key (assignment would set the prototype).
      Object.defineProperty(out, redactText(k, known), {
        value:
          SECRET_KEY.test(k) && v !== null && v !== undefined && v !== ''
            ? '[REDACTED]'
            : redact(v, known, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}
