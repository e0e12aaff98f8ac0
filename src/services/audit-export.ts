import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { AuditLog } from '../store/audit.js';

const CSV_COLUMNS = [
  'seq',
  'at',
  'principal',
  'client_name',
  'client_version',
  'session_id',
  'transport',
  'tool',
  'kind',
  'outcome',
  'error',
  'duration_ms',
  'arguments',
  'details',
  'prev_hash',
  'hash',
] as const;

async function write(sink: Writable, text: string): Promise<void> {
  if (!sink.write(text)) await new Promise<void>((r) => sink.once('drain', () => r()));
}

/** Streams the audit log as JSON Lines or CSV; returns the number of entries written. */
export async function writeAuditExport(
  audit: AuditLog,
  sink: Writable,
  options: { format: 'jsonl' | 'csv'; since?: string | undefined },
): Promise<number> {
  let n = 0;
  if (options.format === 'csv') await write(sink, stringify([CSV_COLUMNS as unknown as string[]]));
  for (const e of audit.entries(options.since)) {
    n++;
    if (options.format === 'jsonl') {
      await write(sink, `${JSON.stringify(e)}\n`);
    } else {
      const row = CSV_COLUMNS.map((c) => {
        const v = e[c];
        return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      });
      await write(sink, stringify([row]));
    }
  }
  return n;
}
