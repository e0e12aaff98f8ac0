import { ConnectorError, type IdentityConnector, type SyncOutcome } from '../connectors/types.js';
import type { SyncSummary } from '../domain/sync.js';
import type { Store } from '../store/store.js';
import { analyzeCampaigns } from './analyze.js';
import { crashPoint } from './faults.js';

export interface RunSyncOptions {
  /** Sync time: activity is read up to here, and analysis scores as of it. */
  now: Date;
  dormantDays: number;
  onProgress?: (event: { phase: string; done: number; total?: number }) => void;
  signal?: AbortSignal;
  /** Ignore the saved state: a full sync, as if for the first time. */
  full?: boolean;
}

export interface RunSyncResult {
  summary: SyncSummary;
  warnings: string[];
  requests: number;
  durationMs: number;
}

/** The meta key holding a platform's sync state (cursors and watermarks, never credentials). */
export const syncStateKey = (platform: string) => `sync_state:${platform}`;

/**
 * Pulls a platform into the store: the connector stages everything, references
 * are validated, and one transaction merges it, then the active campaigns are
 * re-scored. Any failure discards the staged records, so the store keeps the
 * last good sync and its saved state.
 */
export async function runSync(
  store: Store,
  connector: IdentityConnector,
  options: RunSyncOptions,
): Promise<RunSyncResult> {
  const started = performance.now();
  if (!connector.sync) throw new ConnectorError(`${connector.platform} cannot be synced`, 'config');
  const key = syncStateKey(connector.platform);
  const state = options.full ? null : parseState(store.getMeta(key));
  const sink = store.stagedSync(connector.platform, new Date(), crashPoint);
  let summary: SyncSummary;
  let outcome: SyncOutcome;
  try {
    outcome = await connector.sync.run(sink, {
      state,
      now: options.now,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    options.onProgress?.({ phase: 'validate', done: 0 });
    const { issues, total } = sink.validate(20);
    if (total > 0) {
      const listed = issues.map(
        (i) => `${i.file}${i.line > 0 ? `:${i.line}` : ''}${i.column ? ` ${i.column}` : ''}: ${i.reason}`,
      );
      throw new Error(
        `The ${connector.platform} sync was not saved: ${total} record(s) refer to something unknown.\n` +
          listed.join('\n') +
          (total > issues.length ? `\n… and ${total - issues.length} more` : ''),
      );
    }
    summary = store.transaction(() => {
      const s = sink.commit({ replaceAssignments: outcome.fullAssignments });
      store.setMeta(key, JSON.stringify(outcome.state));
      return s;
    });
  } catch (e) {
    sink.abort();
    throw e;
  }
  options.onProgress?.({ phase: 'analyze', done: 0 });
  analyzeCampaigns(store, { asOf: options.now, dormantDays: options.dormantDays });
  return {
    summary,
    warnings: outcome.warnings,
    requests: outcome.requests,
    durationMs: Math.round(performance.now() - started),
  };
}

function parseState(text: string | undefined): Record<string, unknown> | null {
  if (text === undefined) return null;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
