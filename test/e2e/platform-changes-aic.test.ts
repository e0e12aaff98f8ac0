/**
 * Confirmed campaigns on Ping become Advanced Identity Cloud certifications: a template saved
 * with exactly the campaign's people and access, then run once. Driven through the built CLI
 * with undici against the emulator, which validates templates as AIC does (400 `{code, reason,
 * message}`) and answers 429 with Retry-After; a crash between the platform call and recording
 * it finds the template (beyond the first page) and its certification instead of making more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { runChangeOutbox } from '../../src/services/changes.js';
import { Store } from '../../src/store/store.js';
import { generatePingTenant, type PingEmulator, startPingEmulator } from '../emulators/ping.js';
import { pingEnv } from '../emulators/ping-env.js';
import { startServer, tempDir } from '../helpers/harness.js';
import {
  createCampaignArgs,
  NO_PING_ENV,
  runCliAsync,
  startConfirmingServer,
  storeCopies,
} from './platform-helpers.js';

const tmp = tempDir();
const copies = storeCopies(tmp.dir);
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: PingEmulator;
let env: Record<string, string>;

const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCliAsync(args, { ...NO_PING_ENV, ...env, ...extra });

/** The AIC entitlement (a governed group) held by the most people in the store, and who holds it. */
function scope(db: string) {
  const s = Store.open(db);
  try {
    const row = s.db
      .prepare(
        `SELECT e.id, e.external_id FROM entitlements e JOIN assignments a ON a.entitlement_id = e.id
         WHERE e.platform = 'ping' AND e.external_id LIKE 'aic:entitlement:%'
         GROUP BY e.id ORDER BY count(*) DESC, e.id LIMIT 1`,
      )
      .get() as { id: string; external_id: string };
    const holders = (
      s.db
        .prepare(
          'SELECT u.external_id FROM assignments a JOIN users u ON u.id = a.user_id WHERE a.entitlement_id = ?',
        )
        .pluck()
        .all(row.id) as string[]
    ).map((x) => x.replace(/^aic:user:/, ''));
    const app = s.db
      .prepare("SELECT id FROM entitlements WHERE platform = 'ping' AND external_id LIKE 'aic:app:%' LIMIT 1")
      .pluck()
      .get() as string;
    return {
      entitlement: row.id,
      aicEntitlementId: row.external_id.slice('aic:entitlement:'.length),
      holders,
      app,
    };
  } finally {
    s.close();
  }
}

const ours = (changeId: string) =>
  emu.tenant.templates.filter((t) => t.description.includes(`[attest:${changeId}]`));

beforeAll(async () => {
  const tenant = generatePingTenant({ users: 24, items: 24, now });
  emu = await startPingEmulator({ tenant, maxPageSize: 4 });
  // Templates made by others, sorted before ours, so the one a crash left behind is beyond page 1.
  for (let k = 0; k < 6; k++)
    tenant.templates.push({
      id: `0000000${k}-0000-4000-8000-000000000000`,
      name: `A quarterly review ${k}`,
      description: 'made in the admin console',
      status: 'active',
      certificationType: 'identity',
      body: { name: `A quarterly review ${k}`, description: 'made in the admin console' },
    });
  env = pingEnv(emu, 'aic');
  const synced = await cli(['sync', 'ping', '--db', copies.base]);
  expect(synced.code, synced.stderr).toBe(0);
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

describe('Ping campaigns created as Advanced Identity Cloud certifications', () => {
  it('attest campaign create --on-platform ping saves one template (these people, this entitlement, manager certifiers, fallback) and runs it once; 429 waited out', async () => {
    const db = await copies.fresh();
    const { entitlement, aicEntitlementId, holders } = scope(db);
    expect(holders.length).toBeGreaterThan(1);
    const fallback = emu.tenant.aicUsers[0]!.id;
    emu.clearLog();
    emu.injectFault({ status: 429, times: 1, path: '/certification/template', method: 'POST' });
    const r = await cli(
      createCampaignArgs({
        db,
        name: 'Finance follow-up',
        access: ['--entitlement', entitlement],
        platform: 'ping',
        reviewers: { by: 'manager' },
        fallback: `ping:aic:user:${fallback}`,
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    const id = /On ping: ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
    expect(id, r.stdout).toBeDefined();
    const posts = emu.requests.filter(
      (q) => q.method === 'POST' && q.path.endsWith('/certification/template'),
    );
    expect(posts.map((q) => q.status)).toEqual([429, 200]);
    expect(
      emu.requests.filter((q) => q.method === 'POST' && q.path === '/iga/governance/certification'),
    ).toHaveLength(1);
    const made = emu.tenant.templates.filter((t) => t.name === 'Finance follow-up');
    expect(made).toHaveLength(1);
    const body = made[0]!.body as {
      description: string;
      certificationType: string;
      stages: unknown;
      defaultCertifierId: string | null;
      targetFilter: {
        type: string[];
        entitlement: unknown;
        user: { operand: Array<{ operand: { targetValue: string } }> };
      };
    };
    expect(body.description).toMatch(/\[attest:ch_[\w-]+\]$/);
    expect(body.certificationType).toBe('identity');
    expect(body.stages).toEqual([
      { certifierType: 'manager', certifierId: null, certifierScript: null, certifierPath: null },
    ]);
    expect(body.defaultCertifierId).toBe(`managed/user/${fallback}`);
    expect(body.targetFilter.type).toEqual(['entitlementGrant']);
    expect(body.targetFilter.entitlement).toEqual({
      operator: 'OR',
      operand: [{ operator: 'EQUALS', operand: { targetName: 'id', targetValue: aicEntitlementId } }],
    });
    expect(body.targetFilter.user.operand.map((o) => o.operand.targetValue)).toEqual(
      [...new Set(holders)].sort(),
    );
    // The certification is the template's, and holds exactly those people's grants of that entitlement.
    const cert = emu.tenant.certifications.find((c) => c.id === id)!;
    expect(cert.templateId).toBe(made[0]!.id);
    const items = emu.tenant.items.get(id!)!;
    expect(items.length).toBe(new Set(holders).size);
    expect(new Set(items.map((i) => i.entitlement?.id))).toEqual(new Set([aicEntitlementId]));
    const after = Store.open(db);
    expect(after.listCampaigns().filter((c) => c.platform_campaign_id === id)).toHaveLength(1);
    after.close();
  });

  it('a crash between the platform call and recording it leaves one template and one certification, found again across pages', async () => {
    const db = await copies.fresh();
    const { entitlement, app } = scope(db);
    const named = emu.tenant.aicUsers[1]!.id;
    const killed = await cli(
      createCampaignArgs({
        db,
        name: 'Crash test',
        access: ['--entitlement', entitlement, '--entitlement', app],
        platform: 'ping',
        reviewers: { by: 'named', reviewer: `ping:aic:user:${named}` },
        fallback: `ping:aic:user:${named}`,
      }),
      { ATTEST_CRASH_AT: '1' },
    );
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    const s = Store.open(db);
    try {
      const change = s.db.prepare("SELECT id FROM changes WHERE kind = 'create_campaign'").get() as {
        id: string;
      };
      expect(ours(change.id)).toHaveLength(1);
      const tpl = ours(change.id)[0]!;
      expect((tpl.body as { stages: unknown }).stages).toEqual([
        {
          certifierType: 'user',
          certifierId: `managed/user/${named}`,
          certifierScript: null,
          certifierPath: null,
        },
      ]);
      expect((tpl.body as { targetFilter: { type: string[] } }).targetFilter.type.sort()).toEqual([
        'accountGrant',
        'entitlementGrant',
      ]);
      expect(emu.tenant.templates.length).toBeGreaterThan(4);
      emu.clearLog();
      const run = await runChangeOutbox(s, {
        connectorFor: createConnectorRegistry({ ...NO_PING_ENV, ...env }),
      });
      expect(run.applied).toBe(1);
      expect(
        emu.requests.filter((q) => q.method === 'POST' && q.path.includes('/certification')),
      ).toHaveLength(0);
      expect(
        emu.requests.filter((q) => q.path.endsWith('/certification/template') && q.query.pageNumber === '1')
          .length,
      ).toBeGreaterThan(0);
      await runChangeOutbox(s, { connectorFor: createConnectorRegistry({ ...NO_PING_ENV, ...env }) });
      expect(ours(change.id)).toHaveLength(1);
      const certs = emu.tenant.certifications.filter((c) => c.templateId === tpl.id);
      expect(certs).toHaveLength(1);
      expect(
        s
          .listCampaigns()
          .filter((c) => c.platform_campaign_id)
          .map((c) => c.platform_campaign_id),
      ).toEqual([certs[0]!.id]);
    } finally {
      s.close();
    }
  });

  it('a template AIC refuses (400 in its error body) keeps its message; nothing is retried, run or recorded', async () => {
    const db = await copies.fresh();
    const { entitlement } = scope(db);
    const gone = emu.tenant.aicUsers[2]!;
    const templates = emu.tenant.templates.length;
    const certifications = emu.tenant.certifications.length;
    // The named reviewer left AIC after the sync.
    emu.tenant.aicUsers = emu.tenant.aicUsers.filter((u) => u !== gone);
    emu.clearLog();
    try {
      const r = await cli(
        createCampaignArgs({
          db,
          name: 'Gone reviewer',
          access: ['--entitlement', entitlement],
          platform: 'ping',
          reviewers: { by: 'named', reviewer: `ping:aic:user:${gone.id}` },
          fallback: `ping:aic:user:${gone.id}`,
        }),
      );
      expect(r.stdout + r.stderr).toMatch(
        /Invalid certification template: (ownerId|stages\[0\]\.certifierId) must reference an existing user/,
      );
    } finally {
      emu.tenant.aicUsers.push(gone);
    }
    expect(
      emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/certification/template')),
    ).toHaveLength(1);
    expect(
      emu.requests.filter((q) => q.method === 'POST' && q.path === '/iga/governance/certification'),
    ).toHaveLength(0);
    expect(emu.tenant.templates).toHaveLength(templates);
    expect(emu.tenant.certifications).toHaveLength(certifications);
    const s = Store.open(db);
    try {
      expect(s.listCampaigns().filter((c) => c.platform_campaign_id)).toHaveLength(0);
      expect(s.db.prepare("SELECT status FROM changes WHERE kind = 'create_campaign'").pluck().all()).toEqual(
        ['failed'],
      );
    } finally {
      s.close();
    }
  });

  it('through MCP nothing reaches AIC before confirmation; what AIC cannot take is refused before anyone is asked', async () => {
    const db = await copies.fresh();
    const { entitlement, app } = scope(db);
    const store = Store.open(db);
    const templates = emu.tenant.templates.length;
    const fallback = `ping:aic:user:${emu.tenant.aicUsers[0]!.id}`;
    const h = await startServer({
      store,
      elicit: { action: 'decline' },
      deps: { connectorFor: createConnectorRegistry({ ...NO_PING_ENV, ...env }) },
    });
    try {
      // An owner certification is AIC's entitlement certification: an application in scope is refused.
      expect(
        await h.fail('create_campaign', {
          name: 'Owners',
          scope: { entitlement_ids: [entitlement, app] },
          reviewers: { by: 'owner', fallback_reviewer_id: fallback },
          on_platform: 'ping',
        }),
      ).toMatch(/cannot be created on ping: an entitlement owner certifies entitlements only/);
      expect(h.elicitations).toHaveLength(0);
      // Declined by the human: nothing is created.
      await h.call('create_campaign', {
        name: 'Declined',
        scope: { entitlement_ids: [entitlement] },
        reviewers: { by: 'manager', fallback_reviewer_id: fallback },
        on_platform: 'ping',
      });
      expect(h.elicitations).toHaveLength(1);
      await runChangeOutbox(store, { connectorFor: createConnectorRegistry({ ...NO_PING_ENV, ...env }) });
      expect(emu.tenant.templates).toHaveLength(templates);
    } finally {
      await h.close();
    }
    // Accepted, and the run answers without an id: the certification is found in the admin list.
    emu.setRunAnswer('empty');
    const accepted = await startConfirmingServer(store, { ...NO_PING_ENV, ...env });
    try {
      emu.clearLog();
      await accepted.ok('create_campaign', {
        name: 'Accepted',
        scope: { entitlement_ids: [entitlement] },
        reviewers: { by: 'manager', fallback_reviewer_id: fallback },
        on_platform: 'ping',
      });
      expect(emu.tenant.templates).toHaveLength(templates);
      const run = await runChangeOutbox(store, {
        connectorFor: createConnectorRegistry({ ...NO_PING_ENV, ...env }),
      });
      expect(run.applied).toBe(1);
      const made = emu.tenant.templates.filter((t) => t.name === 'Accepted');
      expect(made).toHaveLength(1);
      const certs = emu.tenant.certifications.filter((c) => c.templateId === made[0]!.id);
      expect(certs).toHaveLength(1);
      expect(emu.requests.some((q) => q.path.endsWith('/admin/certification'))).toBe(true);
      expect(store.listCampaigns().filter((c) => c.platform_campaign_id === certs[0]!.id)).toHaveLength(1);
    } finally {
      emu.setRunAnswer('certification');
      await accepted.close();
      store.close();
    }
  });
});
