import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePlantedTenant } from '../../src/demo/planted-roles.js';
import { Store } from '../../src/store/store.js';
import { startServer, tempDir } from '../helpers/harness.js';
import { runCli } from './helpers.js';

const tmp = tempDir();
const db = join(tmp.dir, 'roles.db');
beforeAll(async () => {
  const dir = join(tmp.dir, 'snapshot');
  mkdirSync(dir);
  // Users, entitlements and assignments only: the least a store can hold.
  await writePlantedTenant(dir, { users: 600, seed: 3 });
  const r = runCli(['import', dir, '--db', db]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => tmp.cleanup());

describe('attest roles mine (built CLI)', () => {
  it('--json prints one object with the contract fields', () => {
    const r = runCli(['roles', 'mine', '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      roles: Array<{
        role_id: string;
        entitlement_ids: string[];
        user_ids: string[];
        pattern?: Record<string, string>;
        coverage: number;
      }>;
      covered_assignments: number;
      total_assignments: number;
      leftover_assignments: number;
    };
    expect(report.roles.length).toBeGreaterThan(10);
    for (const role of report.roles) {
      expect(role.role_id).toMatch(/^role-[0-9a-f]{12}$/);
      expect(role.entitlement_ids.length).toBeGreaterThanOrEqual(2);
      expect(role.user_ids.length).toBeGreaterThan(0);
      expect(role.coverage).toBeGreaterThan(0);
    }
    expect(report.covered_assignments + report.leftover_assignments).toBe(report.total_assignments);
    expect(report.roles.some((x) => x.pattern?.department !== undefined)).toBe(true);
    // Same data, same roles.
    expect(
      JSON.parse(runCli(['roles', 'mine', '--db', db, '--json']).stdout).roles.map(
        (x: { role_id: string }) => x.role_id,
      ),
    ).toEqual(report.roles.map((x) => x.role_id));
  });

  it('--out writes CSV or JSON and --leftover the uncovered assignments', () => {
    const csv = join(tmp.dir, 'roles.csv');
    const json = join(tmp.dir, 'roles.json');
    const left = join(tmp.dir, 'left.csv');
    expect(runCli(['roles', 'mine', '--db', db, '--out', csv, '--leftover', left]).code).toBe(0);
    expect(runCli(['roles', 'mine', '--db', db, '--out', json]).code).toBe(0);
    const full = JSON.parse(readFileSync(json, 'utf8')) as {
      roles: Array<{ entitlement_ids: string[] }>;
      leftover: unknown[];
      leftover_assignments: number;
    };
    expect(full.leftover).toHaveLength(full.leftover_assignments);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe(
      'role_id,entitlement_id,entitlement_name,app,users,coverage,pattern,pattern_precision,pattern_recall',
    );
    expect(rows.length - 1).toBe(full.roles.reduce((n, r) => n + r.entitlement_ids.length, 0));
    expect(readFileSync(left, 'utf8').trim().split('\n')).toHaveLength(full.leftover_assignments + 1);
  });

  it('mine_roles serves a summary to admins over MCP and refuses reviewers', async () => {
    const store = Store.open(db);
    const admin = await startServer({ store });
    const r = await admin.ok<{ roles: unknown[]; roles_found: number; coverage: number }>('mine_roles', {
      limit: 5,
    });
    expect(r.roles).toHaveLength(5);
    expect(r.roles_found).toBeGreaterThan(5);
    expect(r.coverage).toBeGreaterThan(0.5);
    // The last mining is a resource too.
    const res = await admin.client.readResource({ uri: 'attest://roles' });
    const body = JSON.parse((res.contents[0] as { text: string }).text) as {
      roles: unknown[];
      coverage: number;
    };
    expect(body.coverage).toBe(r.coverage);
    expect(body.roles.length).toBe(r.roles_found);
    await admin.close();
    const reviewer = await startServer({
      store,
      principal: { id: 'r', role: 'reviewer', reviewer_ids: ['u1'] },
    });
    expect(await reviewer.fail('mine_roles', {})).toMatch(/for admins/);
    await reviewer.close();
    store.close();
  });
});
