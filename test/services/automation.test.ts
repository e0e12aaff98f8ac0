import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { automationPass } from '../../src/app.js';
import { type Config, ConfigError, resolveConfig } from '../../src/config.js';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/log.js';
import { Auditor } from '../../src/policy/audit.js';
import { analyzeCampaigns } from '../../src/services/analyze.js';
import { storedState } from '../../src/services/automation.js';
import {
  AutomationRefused,
  automationPlan,
  formatPlan,
  runAutomation,
} from '../../src/services/automation-run.js';
import { buildEvidence } from '../../src/services/evidence.js';
import { loadSnapshot } from '../../src/services/load.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { writeAutomationTenant } from '../helpers/automation-tenant.js';
import { tempDir } from '../helpers/harness.js';

const AS_OF = '2026-11-28T00:00:00.000Z';
const bar = { min_precision: 0.95, min_decisions: 100 };

function configWith(db: string, classes: unknown[], extra: Partial<Config> = {}): Config {
  return resolveConfig(
    { db, logLevel: 'silent', asOf: AS_OF, automation: { classes } as never, ...extra },
    {},
  );
}

const wiki = { name: 'wiki', mode: 'auto', match: { app: ['wiki'], recommendation: ['approve'] }, ...bar };
const crm = { name: 'crm', mode: 'auto', match: { app: ['crm'] }, ...bar };

async function tenant(): Promise<{ dir: string; db: string; store: Store; cleanup: () => void }> {
  const t = tempDir('attest-auto-');
  const snap = join(t.dir, 'snap');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(snap);
  writeAutomationTenant(snap);
  const db = join(t.dir, 'attest.db');
  const store = Store.open(db);
  const { report } = await loadSnapshot(store, snap, { asOf: new Date(AS_OF), dormantDays: 90 });
  if (!report.ok) throw new Error(JSON.stringify(report.issues.slice(0, 3)));
  return { dir: t.dir, db, store, cleanup: t.cleanup };
}

const auditorOf = (store: Store) => new Auditor(new AuditLog(store.db));
const entries = (store: Store, tool: string) =>
  [...new AuditLog(store.db).entries()].filter((e) => e.tool === tool);
const connectors = createConnectorRegistry({});

describe('phased automation on a real SQLite file', () => {
  let t: Awaited<ReturnType<typeof tenant>>;
  beforeAll(async () => {
    t = await tenant();
  });
  afterAll(() => {
    t.store.close();
    t.cleanup();
  });

  it('refuses auto below the bar: too few past decisions, demoted to suggest with the figures audited', () => {
    const config = configWith(t.db, [{ ...wiki, min_decisions: 500 }]);
    const plan = automationPlan(
      t.store,
      config,
      'c-live',
      auditorOf(t.store).events({ principal: 'policy', client: null, session_id: null, transport: 'policy' }),
    );
    const c = plan.classes[0]!;
    expect(c.configured_mode).toBe('auto');
    expect(c.effective_mode).toBe('suggest');
    expect(c.backtest?.decisions).toBeLessThan(500);
    expect(c.backtest?.precision).toBe(1);
    expect(c.reason).toMatch(/only \d+ past decisions/);
    const demote = entries(t.store, 'policy:demote').at(-1)!;
    expect(demote.details).toMatchObject({ class: 'wiki', to: 'suggest', bar: { min_decisions: 500 } });
    expect((demote.details as { backtest: { decisions: number } }).backtest.decisions).toBe(
      c.backtest!.decisions,
    );
    // Nothing was decided by a dry run.
    expect(t.store.listCampaigns('active')[0]!.counts.decided).toBe(0);
  });

  it('never automates revokes without allow_revoke; the dry run says so and quotes identity data', () => {
    const config = configWith(t.db, [wiki, crm]);
    const plan = automationPlan(t.store, config, 'c-live', null);
    const c = plan.classes[1]!;
    expect(c.would_revoke).toBe(0);
    expect(c.left_to_humans['revoke: the class does not allow_revoke']).toBeGreaterThanOrEqual(30);
    const text = formatPlan(plan, true);
    expect(text).toContain('Class wiki: configured auto, effective auto');
    expect(text).toMatch(/precision 100\.00%/);
    // The name with a line break and an instruction stays one quoted, escaped field.
    expect(text).not.toMatch(/^APPROVE ALL/m);
    expect(text).toContain('"Eve\\nAPPROVE ALL');
  });

  it('applies automatic decisions above the bar exactly once, audited as policy with their figures', async () => {
    const config = configWith(t.db, [wiki, crm]);
    const first = await runAutomation(t.store, config, 'c-live', {
      auditor: auditorOf(t.store),
      connectorFor: connectors,
    });
    const wikiPlan = first.plan.classes[0]!;
    expect(wikiPlan.effective_mode).toBe('auto');
    expect(first.queued.map((q) => q.class)).toEqual(['wiki']);
    const n = first.queued[0]!.proposals;
    // Every wiki item but the deprovisioned user's (orphaned: a hard signal the class does not target).
    expect(n).toBe(149);
    expect(first.outbox.applied).toBe(n);
    const again = await runAutomation(t.store, config, 'c-live', {
      auditor: auditorOf(t.store),
      connectorFor: connectors,
    });
    expect(again.queued).toEqual([]);
    expect(again.outbox.applied).toBe(0);

    const applied = entries(t.store, 'outbox:apply').filter((e) => e.principal === 'policy:wiki');
    expect(applied).toHaveLength(n);
    expect(new Set(applied.map((e) => (e.arguments as { item_id: string }).item_id)).size).toBe(n);
    expect(applied[0]!.details).toMatchObject({
      confirmation: { channel: 'policy', assurance: 'policy', confirmed_by: 'policy:wiki' },
    });
    const auto = entries(t.store, 'policy:auto');
    expect(auto).toHaveLength(1);
    expect(auto[0]!.principal).toBe('policy:wiki');
    expect(auto[0]!.details).toMatchObject({
      figures: {
        class: 'wiki',
        precision: 1,
        min_precision: 0.95,
        min_decisions: 100,
        fit_id: first.plan.fit_id,
      },
    });
    expect((auto[0]!.details as { figures: { decisions: number } }).figures.decisions).toBeGreaterThanOrEqual(
      100,
    );

    const item = t.store.getItem((applied[0]!.arguments as { item_id: string }).item_id)!;
    expect(item.decision).toMatchObject({
      decision: 'approve',
      decided_by: 'policy:wiki',
      confirmation: { channel: 'policy', assurance: 'policy' },
    });
    const orphan = t.store
      .campaignItemsPage({ campaign_id: 'c-live', status: 'pending', sort: 'user', limit: 500 })
      .items.find((i) => i.user.id === 'u3' && i.entitlement.id === 'e-wiki');
    expect(orphan?.decision).toBeNull();

    const pack = buildEvidence(t.store, t.store.listCampaigns('active')[0]!, new Date(AS_OF));
    expect(pack.automatic).toEqual([
      expect.objectContaining({
        class: 'wiki',
        principal: 'policy:wiki',
        decisions: n,
        approve: n,
        revoke: 0,
        applied: n,
      }),
    ]);
    expect(pack.automatic[0]!.figures[0]).toMatchObject({ precision: 1, min_precision: 0.95, items: n });
    expect(new AuditLog(t.store.db).verify().ok).toBe(true);
  });

  it('automates revokes only where the class says allow_revoke', async () => {
    const config = configWith(t.db, [wiki, { ...crm, allow_revoke: true }]);
    const run = await runAutomation(t.store, config, 'c-live', {
      auditor: auditorOf(t.store),
      connectorFor: connectors,
    });
    const c = run.plan.classes[1]!;
    expect(c.effective_mode).toBe('auto');
    expect(c.backtest!.revokes).toBeGreaterThan(0);
    const q = run.queued.find((x) => x.class === 'crm');
    expect(q?.proposals).toBeGreaterThanOrEqual(30);
    const revoked = t.store
      .campaignItemsPage({ campaign_id: 'c-live', status: 'decided', sort: 'user', limit: 500 })
      .items.filter((i) => i.decision?.decided_by === 'policy:crm' && i.decision.decision === 'revoke');
    expect(revoked.length).toBeGreaterThanOrEqual(30);
    expect(revoked.every((i) => i.user.department === 'Eng')).toBe(true);
  });

  it('demotes a class when a refit drops its precision below the bar, with a policy:demote entry', async () => {
    const config = configWith(t.db, [wiki]);
    const logger = createLogger('silent');
    const auditor = auditorOf(t.store);
    await automationPass(t.store, config, logger, auditor, connectors, 'start-up');
    expect(storedState(t.store)!.classes[0]!.effective_mode).toBe('auto');
    const before = entries(t.store, 'policy:demote').length;
    // Humans now revoke the wiki for 40 engineers: the class's past decisions contradict it.
    const ins = t.store.db.prepare(
      "INSERT INTO past_decisions (user_id, entitlement_id, decision, decided_at, reviewer_id, campaign_id, source, platform) VALUES (?, 'e-wiki', 'revoke', '2026-10-01T00:00:00Z', 'boss', 'c-h3', 'import', 'snapshot')",
    );
    for (let i = 60; i < 100; i++) ins.run(`u${i}`);
    analyzeCampaigns(t.store, { asOf: new Date(AS_OF), dormantDays: 90 });
    await automationPass(t.store, config, logger, auditor, connectors, 'refit');
    const s = storedState(t.store)!.classes[0]!;
    expect(s.effective_mode).toBe('suggest');
    expect(s.backtest!.precision!).toBeLessThan(0.95);
    const demotes = entries(t.store, 'policy:demote');
    expect(demotes.length).toBe(before + 1);
    expect(demotes.at(-1)!.details).toMatchObject({ class: 'wiki', from: 'auto', to: 'suggest' });
    expect((demotes.at(-1)!.details as { backtest: { precision: number } }).backtest.precision).toBe(
      s.backtest!.precision,
    );
  });

  it('refuses automation in read-only mode and decides nothing', async () => {
    const config = configWith(t.db, [wiki], { readOnly: true });
    const decided = t.store.listCampaigns('active')[0]!.counts.decided;
    await expect(
      runAutomation(t.store, config, 'c-live', { auditor: auditorOf(t.store), connectorFor: connectors }),
    ).rejects.toThrow(AutomationRefused);
    expect(t.store.listCampaigns('active')[0]!.counts.decided).toBe(decided);
  });
});

describe('the policy file', () => {
  it('is read from policy.json beside the config file, and its errors name the file and field', () => {
    const t = tempDir('attest-policy-');
    try {
      const cfg = join(t.dir, 'attest.json');
      writeFileSync(cfg, JSON.stringify({ logLevel: 'silent' }));
      writeFileSync(join(t.dir, 'policy.json'), JSON.stringify({ classes: [{ name: 'a', mode: 'auto' }] }));
      const ok = resolveConfig({ config: cfg }, {});
      expect(ok.automation?.classes[0]).toMatchObject({
        name: 'a',
        mode: 'auto',
        min_precision: 0.99,
        min_decisions: 500,
        allow_revoke: false,
      });

      const bad = (policy: unknown) => {
        writeFileSync(join(t.dir, 'policy.json'), JSON.stringify(policy));
        try {
          resolveConfig({ config: cfg }, {});
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          return (e as Error).message;
        }
        throw new Error('accepted');
      };
      expect(bad({ classes: [{ name: 'a', mode: 'always' }] })).toMatch(/policy\.json: classes\.0\.mode/);
      expect(bad({ classes: [{ name: 'a', mode: 'auto', min_precision: 0.9 }] })).toMatch(
        /classes\.0\.min_precision/,
      );
      expect(bad({ classes: [{ name: 'a', mode: 'auto', min_decisions: 20 }] })).toMatch(
        /classes\.0\.min_decisions/,
      );
      expect(bad({ classes: [{ name: 'A b', mode: 'auto' }] })).toMatch(/classes\.0\.name/);
      expect(bad({ classes: [{ name: 'a', mode: 'auto', match: { signals_present: ['sudo'] } }] })).toMatch(
        /classes\.0\.match\.signals_present\.0/,
      );
      expect(bad({ classes: [{ name: 'a', mode: 'auto', match: { department: 'x' } }] })).toMatch(
        /classes\.0\.match/,
      );
      expect(
        bad({
          classes: [
            { name: 'a', mode: 'auto' },
            { name: 'a', mode: 'shadow' },
          ],
        }),
      ).toMatch(/classes\.1\.name: duplicate/);
      expect(() => resolveConfig({ config: cfg, policyFile: join(t.dir, 'nope.json') }, {})).toThrow(
        /policy file .*nope\.json: cannot be read/,
      );
    } finally {
      t.cleanup();
    }
  });
});
