/**
 * The marker a platform object created for a confirmed change carries (in its description,
 * or its name where there is no description), so a retry after a crash finds what an earlier
 * attempt made instead of making a second one.
 */
export const markerOf = (changeId: string) => `[attest:${changeId}]`;

/** Whether a platform text carries the marker of this change. */
export const hasMarker = (text: unknown, changeId: string) =>
  typeof text === 'string' && text.includes(markerOf(changeId));

/** A description with the marker appended, cut to `max` characters (the marker always kept). */
export function withMarker(description: string, changeId: string, max: number): string {
  const marker = markerOf(changeId);
  const room = max - marker.length - 1;
  const text = description.length > room ? `${description.slice(0, Math.max(0, room - 1))}…` : description;
  return `${text} ${marker}`.trim();
}

/** Days from `start` to `due` (at least 1; 14 when there is no due date). */
export function durationDays(startIso: string, dueIso: string | null, fallback = 14): number {
  if (!dueIso) return fallback;
  const days = Math.ceil((Date.parse(dueIso) - Date.parse(startIso)) / 86_400_000);
  return Number.isFinite(days) ? Math.max(1, Math.min(365, days)) : fallback;
}

/** Characters no platform rule language here can be trusted to quote: refused in role patterns. */
export const UNQUOTABLE = {
  test: (value: string) =>
    /[\\"'`]/.test(value) || [...value].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127),
};
