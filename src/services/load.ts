import { type ImportReport, importSnapshot } from '../connectors/snapshot/csv-import.js';
import type { Store } from '../store/store.js';
import { type AnalyzeResult, analyzeCampaigns } from './analyze.js';
import { crashPoint } from './faults.js';

export interface LoadOptions {
  asOf: Date;
  dormantDays: number;
  onProgress?: (done: number, total: number, file: string) => void;
  onAnalyzeProgress?: (done: number, total: number) => void;
}

/** Imports a snapshot folder (all-or-nothing) and, when it loaded, re-scores the active campaigns. */
export async function loadSnapshot(
  store: Store,
  dir: string,
  options: LoadOptions,
): Promise<{ report: ImportReport; analysis: AnalyzeResult | null }> {
  const sink = store.stagedSync('snapshot', new Date(), crashPoint);
  const report = await importSnapshot(dir, sink, { onProgress: options.onProgress });
  if (!report.ok) return { report, analysis: null };
  const analysis = analyzeCampaigns(store, {
    asOf: options.asOf,
    dormantDays: options.dormantDays,
    onProgress: options.onAnalyzeProgress,
  });
  return { report, analysis };
}
