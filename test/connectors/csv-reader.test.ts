import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { type CsvSyntaxIssue, readCsvFile } from '../../src/connectors/snapshot/csv-reader.js';
import { tempDir } from '../helpers/harness.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function read(content: string | Buffer, chunkSize?: number) {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const path = join(t.dir, 'f.csv');
  writeFileSync(path, content);
  const records: Array<{ cells: string[]; line: number }> = [];
  const issues: CsvSyntaxIssue[] = [];
  const result = await readCsvFile(
    path,
    (cells, line) => records.push({ cells, line }),
    (i) => issues.push(i),
    chunkSize === undefined ? {} : { chunkSize },
  );
  return { records, issues, result };
}

describe('readCsvFile', () => {
  it('reads plain, quoted, doubled-quote and multi-line fields with their starting line', async () => {
    const { records, issues, result } = await read(
      'id,name,note\r\n1,"Smith, Jane","says ""hi"""\r\n\r\n2,Bob,"two\nlines"\n3,,\n',
    );
    expect(issues).toEqual([]);
    expect(records).toEqual([
      { cells: ['id', 'name', 'note'], line: 1 },
      { cells: ['1', 'Smith, Jane', 'says "hi"'], line: 2 },
      { cells: ['2', 'Bob', 'two\nlines'], line: 4 },
      { cells: ['3', '', ''], line: 6 },
    ]);
    expect(result).toEqual({ records: 4, lines: 6 });
  });

  it('skips a UTF-8 byte order mark and reads a last line without a line end', async () => {
    const { records } = await read(
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a,b\nx,"y"')]),
    );
    expect(records.map((r) => r.cells)).toEqual([
      ['a', 'b'],
      ['x', 'y'],
    ]);
  });

  it('reports malformed records with their line and goes on with the next line', async () => {
    const { records, issues } = await read('a,b\nx"y,1\n"q"z,2\nok,3\n"open,4\n');
    expect(issues).toEqual([
      { line: 2, reason: expect.stringContaining('a quote inside an unquoted field') },
      { line: 3, reason: 'unexpected text after a closing quote' },
      { line: 5, reason: 'a quoted field is not closed before the end of the file' },
    ]);
    expect(records.map((r) => [r.cells, r.line])).toEqual([
      [['a', 'b'], 1],
      [['ok', '3'], 4],
    ]);
  });

  it('gives the same records whatever the chunk size, including chunks that split a UTF-8 character', async () => {
    const text =
      'id,name,desc\nu1,Zoë Ærø,"line one\r\nline ""two"""\nu2,日本語,plain\r\nu3,"a,b",\n\nu4,x,"é"\n';
    const whole = await read(text);
    expect(whole.records).toHaveLength(5);
    for (const size of [1, 2, 3, 5, 7, 13, 64]) {
      const pieces = await read(text, size);
      expect(pieces.records, `chunk ${size}`).toEqual(whole.records);
      expect(pieces.issues).toEqual([]);
    }
  });

  it('agrees with csv-parse on generated files with awkward fields', async () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const atoms = ['a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '日', 'xyz'];
    const field = () => {
      let v = '';
      const n = Math.floor(rand() * 6);
      for (let i = 0; i < n; i++) v += atoms[Math.floor(rand() * atoms.length)];
      return /[",\r\n]/.test(v) || (v !== '' && rand() < 0.2) ? `"${v.replace(/"/g, '""')}"` : v;
    };
    for (let file = 0; file < 20; file++) {
      const rows: string[] = [];
      for (let r = 0; r < 40; r++) rows.push([field(), field(), field()].join(','));
      const eol = rand() < 0.5 ? '\n' : '\r\n';
      const text = `${rows.join(eol)}${eol}`;
      const expected = (
        parse(text, { skip_empty_lines: true, relax_column_count: true }) as string[][]
      ).filter((cells) => !(cells.length === 1 && cells[0] === ''));
      const got = await read(text, 1 + Math.floor(rand() * 50));
      expect(got.issues).toEqual([]);
      expect(got.records.map((r) => r.cells)).toEqual(expected);
    }
  });
});
