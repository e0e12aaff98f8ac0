import { setTimeout as sleep } from 'node:timers/promises';
import type { ActivityRecord, SyncSink } from '../../domain/sync.js';
import type { PingOneApi } from './api.js';
import { statusOf } from './errors.js';
import { p1Activity } from './schemas.js';

/**
 * Sign-on events: a sign-on to an application (the activity's client), and a refused one.
 * The event type names are the likeliest reading of PingOne's audit event list, not confirmed.
 */
export const SIGN_ON_EVENTS = { 'USER.ACCESS_ALLOWED': 'success', 'USER.ACCESS_DENIED': 'failure' } as const;

const OVERLAP_MS = 60_000;

export interface AuditSettings {
  pageSize: number;
  /** A first sync reads this many days back. */
  lookbackDays: number;
  /** Each query covers at most this span: the endpoint wants a bounded recordedAt range. */
  windowMs: number;
  /** At least this long between two audit requests: the endpoint has a lower rate limit. */
  intervalMs: number;
  /** What reading the audit needs, for the warning when it is refused. */
  need: string;
  warnings: string[];
  progress: (phase: string, done: number) => void;
}

/**
 * Sign-ons per application since the last sync (from one minute before it), in bounded
 * windows, one query per event type, paced for the audit endpoint's lower rate limit. Returns
 * where the next sync starts. Without access to the audit log the rest of the sync stands.
 */
export async function readSignOns(
  api: PingOneApi,
  sink: SyncSink,
  s: AuditSettings,
  ctx: { now: Date; since: string | null; users: ReadonlySet<string>; appNames: ReadonlyMap<string, string> },
): Promise<string> {
  const until = ctx.now.getTime();
  const earliest = until - s.lookbackDays * 86_400_000;
  const since = ctx.since === null ? earliest : Math.max(earliest, Date.parse(ctx.since) - OVERLAP_MS);
  if (since >= until) return ctx.since ?? new Date(until).toISOString();
  let last = 0;
  const pace = async () => {
    const wait = last + s.intervalMs - Date.now();
    if (wait > 0) await sleep(wait);
    last = Date.now();
  };
  let count = 0;
  try {
    for (let from = since; from < until; from += s.windowMs) {
      const to = Math.min(until, from + s.windowMs);
      for (const [type, outcome] of Object.entries(SIGN_ON_EVENTS)) {
        const filter = `recordedAt ge "${new Date(from).toISOString()}" AND recordedAt lt "${new Date(to).toISOString()}" AND action.type eq "${type}"`;
        await api.list(
          '/activities',
          { filter, limit: Math.min(1000, s.pageSize) },
          ['activities'],
          p1Activity,
          'audit activities',
          (p) => {
            const rows: ActivityRecord[] = [];
            for (const e of p) {
              const user = e.actors?.user?.id;
              const client = e.actors?.client;
              const app = (client?.id ? ctx.appNames.get(client.id) : undefined) ?? client?.name ?? null;
              if (!user || !ctx.users.has(user) || !app) continue;
              rows.push({
                user_external_id: user,
                app,
                at: new Date(Date.parse(e.recordedAt)).toISOString(),
                outcome: outcome === 'success' && e.result?.status !== 'FAILED' ? 'success' : 'failure',
                src: { file: 'ping:audit', line: 0 },
              });
            }
            if (rows.length > 0) sink.activity(rows);
            count += rows.length;
            s.progress('sign-ons', count);
          },
          pace,
        );
      }
    }
  } catch (e) {
    if (statusOf(e) !== 403) throw e;
    s.warnings.push(
      `Audit activities were not read (HTTP 403): sign-ons per application need ${s.need}. Last sign-on dates were read.`,
    );
    return ctx.since ?? new Date(since).toISOString();
  }
  return new Date(until).toISOString();
}
