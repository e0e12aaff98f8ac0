import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { stringify } from 'csv-stringify/sync';

const CHUNK_CHARS = 1 << 16;
const OPTIONS = { record_delimiter: 'unix' } as const;
const NEEDS_QUOTING = /[",\r\n]/;

/**
 * One CSV line. Rows made only of plain fields (ids, times, enums: the millions of rows)
 * are joined directly; any row with a field that needs RFC 4180 quoting (names, titles,
 * descriptions, hostile texts) is formatted by csv-stringify. Both give the same bytes
 * for plain rows, so csv-stringify stays the authority on quoting.
 */
export function csvLine(row: readonly string[]): string {
  for (const field of row) {
    if (NEEDS_QUOTING.test(field)) return stringify([[...row]], OPTIONS);
  }
  return `${row.join(',')}\n`;
}

/**
 * One CSV file written as buffered chunks to a file stream with backpressure. `write` is
 * synchronous; callers check `congested` at convenient points (e.g. after each user) and
 * `await drain()`, so at most one chunk and the stream's buffer are in memory, however
 * large the tenant is.
 */
export class CsvSink {
  rows = 0;
  congested = false;
  private buffer = '';
  private readonly out: WriteStream;
  private failure: Error | null = null;

  constructor(path: string, columns: readonly string[]) {
    this.out = createWriteStream(path);
    this.out.on('error', (err) => {
      this.failure = err;
    });
    this.buffer = csvLine(columns);
  }

  /** Writes one row; every value is already a string ('' for null). */
  write(row: readonly string[]): void {
    this.rows++;
    this.buffer += csvLine(row);
    if (this.buffer.length >= CHUNK_CHARS) this.flush();
  }

  async drain(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.congested) return;
    this.congested = false;
    if (this.out.writableNeedDrain) await once(this.out, 'drain');
  }

  async close(): Promise<number> {
    this.flush();
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      this.out.once('error', reject);
      this.out.end(() => resolve());
    });
    if (this.failure) throw this.failure;
    return this.rows;
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    if (!this.out.write(this.buffer)) this.congested = true;
    this.buffer = '';
  }
}

/** Drains every congested sink. */
export async function drainAll(sinks: readonly CsvSink[]): Promise<void> {
  for (const s of sinks) if (s.congested) await s.drain();
}
