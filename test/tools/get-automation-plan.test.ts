import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { Auditor } from '../../src/policy/audit.js';
import { runAutomation } from '../../src/services/automation-run.js';
import { loadSnapshot } from '../../src/services/load.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { writeAutomationTenant } from '../helpers/automation-tenant.js';
import { type Harness, startServer, tempDir, testConfig } from '../helpers/harness.js';

const automation = {
  classes: [
    {
      name: 'wiki',
      mode: 'auto',
      match: { app: ['wiki'], recommendation: ['approve'] },
      min_precision: 0.95,
      min_decisions: 100,
    },
    { name: 'crm', mode: 'shadow', match: { app: ['crm'] } },
  ],
} as never;

describe('get_automation_plan', () => {
  let t: ReturnType<typeof tempDir>;
  let store: Store;
  let h: Harness;
  beforeAll(async () => {
    t = tempDir('attest-plan-');
    mkdirSync(join(t.dir, 'snap'));
    writeAutomationTenant(join(t.dir, 'snap'));
    store = Store.open(join(t.dir, 'attest.db'));
    await loadSnapshot(store, join(t.dir, 'snap'), {
      asOf: new Date('2026-11-28T00:00:00Z'),
      dormantDays: 90,
    });
    h = await startServer({ store, config: { automation } });
  });
  afterAll(async () => {
    await h.close();
    t.cleanup();
  });

  it('shows configured and effective modes, the backtest figures and what each class would do', async () => {
    const plan = await h.ok<{
      classes: Array<{
        name: string;
        configured_mode: string;
        effective_mode: string;
        would_approve: number;
        backtest: { precision: number; decisions: number };
      }>;
      unclassified: number;
    }>('get_automation_plan', { campaign_id: 'c-live' });
    expect(plan.classes.map((c) => [c.name, c.configured_mode, c.effective_mode])).toEqual([
      ['wiki', 'auto', 'auto'],
      ['crm', 'shadow', 'shadow'],
    ]);
    expect(plan.classes[0]!.backtest.precision).toBe(1);
    expect(plan.classes[0]!.would_approve).toBe(149);
    // The deprovisioned user's wiki item is recommended revoke: no class takes it.
    expect(plan.unclassified).toBe(1);
    // A dry run decides nothing.
    const items = await h.ok<{ total: number }>('list_campaign_items', {
      campaign_id: 'c-live',
      status: 'decided',
    });
    expect(items.total).toBe(0);
  });

  it('is refused to a reviewer', async () => {
    const r = await startServer({
      store,
      config: { automation },
      principal: { id: 'rev', role: 'reviewer', reviewer_ids: ['boss'] },
    });
    try {
      expect(await r.fail('get_automation_plan', { campaign_id: 'c-live' })).toMatch(/for admins/);
    } finally {
      await r.close();
    }
  });

  it('list_campaign_items shows automatic decisions as decided by policy:<class>', async () => {
    await runAutomation(store, testConfig({ automation, db: join(t.dir, 'attest.db') }), 'c-live', {
      auditor: new Auditor(new AuditLog(store.db)),
      connectorFor: createConnectorRegistry({}),
    });
    const page = await h.ok<{
      items: Array<{
        decision: { decided_by: string; confirmation: { channel: string; assurance: string } };
      }>;
      total: number;
    }>('list_campaign_items', { campaign_id: 'c-live', status: 'decided', limit: 5 });
    expect(page.total).toBe(149);
    expect(page.items[0]!.decision).toMatchObject({
      decided_by: 'policy:wiki',
      confirmation: { channel: 'policy', assurance: 'policy' },
    });
  });
});
