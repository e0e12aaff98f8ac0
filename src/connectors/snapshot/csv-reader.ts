import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

/** A CSV syntax problem at a physical line (1-based). */
export interface CsvSyntaxIssue {
  line: number;
  reason: string;
}

export interface CsvReadOptions {
  /** Bytes read per chunk (default 1 MiB). */
  chunkSize?: number;
  /** Called after each chunk with the bytes read so far. */
  onBytes?: (bytes: number) => void;
}

export interface CsvReadResult {
  /** Data records seen (empty lines excluded), including malformed ones. */
  records: number;
  /** Physical lines read. */
  lines: number;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/**
 * Reads an RFC 4180 CSV file in chunks and calls `onRecord` for each record with its
 * cells and the physical line it starts on. Quoted fields may hold commas, doubled quotes
 * and line breaks; CRLF and LF line ends are both accepted; a UTF-8 byte order mark is
 * skipped; empty lines are skipped. A malformed record (unclosed quote, a quote inside an
 * unquoted field, text after a closing quote) goes to `onIssue` and reading goes on with
 * the next line, so every problem of a file can be reported in one pass.
 *
 * Unquoted lines, the common case, are split with native `String#split`; only lines
 * holding a quote go through the character loop.
 */
export async function readCsvFile(
  path: string,
  onRecord: (cells: string[], line: number) => void,
  onIssue: (issue: CsvSyntaxIssue) => void,
  options: CsvReadOptions = {},
): Promise<CsvReadResult> {
  const size = options.chunkSize ?? 1 << 20;
  const fh = await open(path, 'r');
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.allocUnsafe(size);
  const state = new CsvState(onRecord, onIssue);
  let bytes = 0;
  let first = true;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, size, null);
      if (bytesRead === 0) break;
      bytes += bytesRead;
      let text = decoder.write(bytesRead === size ? buf : buf.subarray(0, bytesRead));
      if (first) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      state.feed(text, false);
      options.onBytes?.(bytes);
    }
    state.feed(decoder.end(), true);
  } finally {
    await fh.close();
  }
  return { records: state.records, lines: state.line - 1 };
}

/** Parses text fed in pieces; keeps an incomplete trailing record for the next piece. */
class CsvState {
  /** Physical line number of the next unread line (1-based). */
  line = 1;
  records = 0;
  private carry = '';

  constructor(
    private readonly onRecord: (cells: string[], line: number) => void,
    private readonly onIssue: (issue: CsvSyntaxIssue) => void,
  ) {}

  feed(piece: string, last: boolean): void {
    const text = this.carry === '' ? piece : this.carry + piece;
    this.carry = '';
    const n = text.length;
    let pos = 0;
    // Position of the next quote at or after pos (n when none): searched again only once passed.
    let nextQuote = text.indexOf('"');
    if (nextQuote === -1) nextQuote = n;
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (nextQuote < pos) {
        nextQuote = text.indexOf('"', pos);
        if (nextQuote === -1) nextQuote = n;
      }
      if (nextQuote < (nl === -1 ? n : nl)) {
        // The record holds a quote: character loop, possibly over several lines.
        const end = this.quoted(text, pos, last);
        if (end === -1) break; // incomplete: wait for more text
        pos = end;
        continue;
      }
      if (nl === -1) {
        if (!last) break;
        nl = n;
      }
      const lineEnd = nl > pos && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
      if (lineEnd > pos) {
        this.records++;
        this.onRecord(text.slice(pos, lineEnd).split(','), this.line);
      }
      this.line++;
      pos = nl + 1;
    }
    if (pos < n) this.carry = text.slice(pos);
  }

  /**
   * Parses one record starting at `start` that holds a quote. Returns the position after
   * its line end, or -1 when the text ends inside it and more may come.
   */
  private quoted(text: string, start: number, last: boolean): number {
    const n = text.length;
    const cells: string[] = [];
    const startLine = this.line;
    let lines = 0;
    let i = start;
    let problem: string | null = null;
    for (;;) {
      // One field starting at i.
      if (text.charCodeAt(i) === QUOTE) {
        let value = '';
        let from = i + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q === -1) {
            if (!last) return -1;
            problem = 'a quoted field is not closed before the end of the file';
            break;
          }
          // A quote at the very end may be the first of a doubled pair: wait for more text.
          if (q + 1 >= n && !last) return -1;
          value += text.slice(from, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += '"';
            from = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        if (problem !== null) {
          for (let k = start; k < n; k++) if (text.charCodeAt(k) === LF) lines++;
          i = n;
          break;
        }
        for (let k = value.indexOf('\n'); k !== -1; k = value.indexOf('\n', k + 1)) lines++;
        cells.push(value);
        const c = text.charCodeAt(i);
        if (c === COMMA) {
          i++;
          continue;
        }
        if (i >= n) {
          if (!last) return -1;
          break;
        }
        if (c === LF || (c === CR && text.charCodeAt(i + 1) === LF)) break;
        if (c === CR && i + 1 >= n && !last) return -1;
        problem = 'unexpected text after a closing quote';
        break;
      }
      // Unquoted field: up to the next comma or line end.
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === COMMA || c === LF) break;
        if (c === CR && text.charCodeAt(j + 1) === LF) break;
        j++;
      }
      if (j >= n && !last) return -1;
      const value = text.slice(i, j);
      if (value.includes('"')) {
        problem = `a quote inside an unquoted field (${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)})`;
        i = j;
        break;
      }
      cells.push(value);
      i = j;
      if (j < n && text.charCodeAt(j) === COMMA) {
        i++;
        continue;
      }
      break;
    }
    // Skip to the end of the line (after a problem, the rest of the line is dropped).
    let nl = text.indexOf('\n', i);
    if (nl === -1) {
      if (!last) return -1;
      nl = n;
    }
    this.records++;
    if (problem === null) this.onRecord(cells, startLine);
    else this.onIssue({ line: startLine, reason: problem });
    this.line += lines + 1;
    return nl + 1;
  }
}
