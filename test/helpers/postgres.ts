/**
 * A throwaway PostgreSQL server for the store's tests: Debian's `postgresql` binaries, a
 * cluster made by initdb in a temporary folder, listening on a loopback port only, stopped and
 * deleted at the end.
 *
 * Running the PostgreSQL part locally:
 *   apt-get install -y postgresql      # the binaries only; no cluster of the system's is used
 *   npm test                           # finds them under /usr/lib/postgresql/<version>/bin
 * or point the tests at a server of your own (an empty database they may fill and empty):
 *   ATTEST_TEST_POSTGRES=postgres://user:pass@127.0.0.1:5432/attest_test npm test
 * Without either, the PostgreSQL tests are skipped with a message, except under CI=true,
 * where a missing server fails the run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** A connection string for a fresh database of its own. */
  url: string;
  /** A further empty database on the same server. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The folder holding initdb and postgres, or null when the server is not installed. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  return null;
}

/** Whether the PostgreSQL tests can run here (a server given, or binaries to start one). */
export function postgresAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.env.ATTEST_TEST_POSTGRES) return { ok: true };
  if (postgresBin()) return { ok: true };
  return {
    ok: false,
    why: 'no PostgreSQL: install Debian\'s "postgresql" package or set ATTEST_TEST_POSTGRES=postgres://…',
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Connects until the server accepts, or fails with its log once it has exited or the wait is over. */
async function waitReady(url: string, child: ChildProcess | null, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: unknown = null;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`postgres exited (${child.exitCode}): ${log()}`);
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      return;
    } catch (e) {
      last = e;
      await c.end().catch(() => {});
      // Readiness polling: the server gives no other signal that it accepts connections.
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not accept connections within 30 s: ${String(last)}\n${log()}`);
}

let shared: Promise<{ admin: string; stop: () => Promise<void> }> | null = null;

/** The server: the one given by ATTEST_TEST_POSTGRES, or one started once per test file. */
async function server(): Promise<{ admin: string; stop: () => Promise<void> }> {
  const given = process.env.ATTEST_TEST_POSTGRES;
  if (given) return { admin: given, stop: async () => {} };
  const bin = postgresBin();
  if (!bin) throw new Error(postgresAvailable().ok ? 'unreachable' : 'PostgreSQL is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'attest-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  // initdb and postgres refuse to run as root: run them as the package's `postgres` user then.
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot
    ? {
        uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
        gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
      }
    : {};
  if (ids.uid !== undefined && ids.gid !== undefined) chownSync(dir, ids.uid, ids.gid);
  chmodSync(dir, 0o700);
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'attest', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...ids },
  );
  const child = spawn(
    join(bin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir, ...ids },
  );
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  const admin = `postgres://attest@127.0.0.1:${port}/postgres`;
  await waitReady(admin, child, () => log);
  return {
    admin,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGINT'); // fast shutdown
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;

/** Starts (or reuses, within this test file) a server and makes a fresh database on it. */
export async function startPostgres(): Promise<TestPostgres> {
  shared ??= server();
  const s = await shared;
  const createDatabase = async (name: string) => {
    const c = new pg.Client({ connectionString: s.admin });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.query(`CREATE DATABASE "${name}"`);
    } finally {
      await c.end();
    }
    const u = new URL(s.admin);
    u.pathname = `/${name}`;
    return u.toString();
  };
  const url = await createDatabase(`attest_${process.pid}_${++counter}`);
  return {
    url,
    createDatabase,
    stop: async () => {
      const p = shared;
      shared = null;
      if (p) await (await p).stop();
    },
  };
}
