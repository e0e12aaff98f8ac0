import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/demo/generate.js';
import { loadSnapshot } from '../../src/services/load.js';
import { runShadow, ShadowInputError } from '../../src/services/shadow.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';

const AS_OF = new Date('2026-11-28T00:00:00.000Z');
const tmp = tempDir();
let store: Store;

beforeAll(async () => {
  await generateDemo(tmp.dir, { users: 400, asOf: AS_OF.toISOString() });
  store = Store.open(':memory:');
  const { report } = await loadSnapshot(store, tmp.dir, { asOf: AS_OF, dormantDays: 90 });
  expect(report.ok).toBe(true);
});

afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('shadow mode on a decisions file', () => {
  it('gives the report the same decisions give from the store', async () => {
    const options = { folds: 3, asOf: AS_OF, dormantDays: 90 };
    const fromStore = await runShadow(store, options);
    const fromFile = await runShadow(store, { ...options, decisionsFile: join(tmp.dir, 'decisions.csv') });
    expect(fromStore.n).toBeGreaterThan(1000);
    expect(fromFile).toEqual(fromStore);
  });

  it('names the physical line of a bad row, after a quoted field spanning lines', async () => {
    const [header, first] = readFileSync(join(tmp.dir, 'decisions.csv'), 'utf8').split('\n');
    const path = join(tmp.dir, 'bad.csv');
    const cols = header!.split(',');
    const row = (decision: string, reviewer: string) =>
      cols
        .map((c, i) => (c === 'decision' ? decision : c === 'reviewer_id' ? reviewer : first!.split(',')[i]))
        .join(',');
    writeFileSync(path, `${header}\n${row('approve', '"two\nlines"')}\n${row('maybe', 'x')}\n`);
    await expect(runShadow(store, { folds: 3, asOf: AS_OF, decisionsFile: path })).rejects.toThrow(
      `${path}:4 decision: "maybe" is not approve or revoke`,
    );
    writeFileSync(path, `${header}\n${row('approve', '"open')}\n`);
    await expect(runShadow(store, { folds: 3, asOf: AS_OF, decisionsFile: path })).rejects.toThrow(
      new ShadowInputError(
        `${path}:2 cannot be read as CSV (a quoted field is not closed before the end of the file)`,
      ),
    );
  });
});
