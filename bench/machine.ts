/** What the numbers were measured on, recorded with every result so runs are comparable. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import Database from 'better-sqlite3';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  v8: string;
  sqlite: string;
  platform: string;
  arch: string;
  kernel: string;
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  const engine = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  db.close();
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../node_modules/better-sqlite3/package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    return `SQLite ${engine} (better-sqlite3 ${pkg.version})`;
  } catch {
    return `SQLite ${engine}`;
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    sqlite: sqliteVersion(),
    platform: os.platform(),
    arch: os.arch(),
    kernel: os.release(),
  };
}
