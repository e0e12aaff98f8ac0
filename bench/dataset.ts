/**
 * The generated tenants the benchmark measures, cached under bench/.cache/ between runs.
 * A snapshot folder is keyed by the generator options and a hash of the compiled generator,
 * so a change to the generator regenerates it. A loaded store is keyed by its snapshot and a
 * hash of the migrations (its schema); its marker records a hash of the rest of the compiled
 * sources, so a --skip-load run can warn that the store was loaded by other code.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CACHE_DIR, DIST_SRC } from './paths.js';

/** The analysis date every tenant is generated and analysed as of, so runs are reproducible. */
export const AS_OF = '2026-11-28T00:00:00.000Z';
export const SEED = 42;
export const ASSIGNMENTS_PER_USER = 10;
export const DORMANT_DAYS = 90;
export const CAMPAIGN_ID = 'c-q4';

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(p));
    else if (entry.name.endsWith('.js') || entry.name.endsWith('.sql')) out.push(p);
  }
  return out.sort();
}

function hashTree(dir: string, exclude?: string): string {
  const h = createHash('sha256');
  for (const f of listFiles(dir)) {
    if (exclude && f.startsWith(exclude)) continue;
    h.update(relative(dir, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 10);
}

export interface Tenant {
  users: number;
  /** The snapshot folder. */
  snapshotDir: string;
  /** Written once the snapshot folder is complete: the generator's row counts. */
  snapshotMarker: string;
  /** The loaded and analysed store used for latency. */
  dbPath: string;
  /** Written once the store has been imported and analysed. */
  dbMarker: string;
  /** Hash of the compiled sources other than the generator (import, analysis, tools). */
  codeHash: string;
}

export function tenantFor(users: number): Tenant {
  const demoDir = join(DIST_SRC, 'demo');
  const genHash = hashTree(demoDir);
  const codeHash = hashTree(DIST_SRC, demoDir);
  const schemaHash = hashTree(join(DIST_SRC, 'store', 'migrations'));
  const snapKey = `u${users}-s${SEED}-a${ASSIGNMENTS_PER_USER}-${AS_OF.slice(0, 10)}-${genHash}`;
  const snapshotDir = join(CACHE_DIR, `snapshot-${snapKey}`);
  const dbPath = join(CACHE_DIR, `store-${snapKey}-${schemaHash}.db`);
  return {
    users,
    snapshotDir,
    snapshotMarker: join(snapshotDir, '.complete.json'),
    dbPath,
    dbMarker: `${dbPath}.complete.json`,
    codeHash,
  };
}

export function readMarker<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function writeMarker(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Removes a store file with its WAL and shared-memory files and its marker. */
export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '.complete.json']) rmSync(path + suffix, { force: true });
}

/** Deletes cached snapshots and stores of this size that belong to older code (they are large). */
export function pruneStale(t: Tenant): string[] {
  mkdirSync(CACHE_DIR, { recursive: true });
  const removed: string[] = [];
  const snapName = t.snapshotDir.slice(CACHE_DIR.length + 1);
  const dbName = t.dbPath.slice(CACHE_DIR.length + 1);
  for (const name of readdirSync(CACHE_DIR)) {
    const path = join(CACHE_DIR, name);
    if (name.startsWith(`snapshot-u${t.users}-`) && name !== snapName) {
      rmSync(path, { recursive: true, force: true });
      removed.push(name);
    } else if (name.startsWith(`store-u${t.users}-`) && name.endsWith('.db') && name !== dbName) {
      removeDb(path);
      removed.push(name);
    }
  }
  return removed;
}

/** Total size of the snapshot files, in bytes. */
export function dirBytes(dir: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) n += statSync(join(dir, entry.name)).size;
  }
  return n;
}

export function fileBytes(path: string): number {
  let n = 0;
  for (const suffix of ['', '-wal']) {
    try {
      n += statSync(path + suffix).size;
    } catch {
      // absent
    }
  }
  return n;
}
