import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuditLog } from '../../src/store/audit.js';
import { defineTool } from '../../src/tools/define.js';
import { type Harness, startServer } from '../helpers/harness.js';

const SECRET = 'SSWS 00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789';
const RAW_SECRET = '00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789';

const boom = defineTool({
  name: 'explode_now',
  title: 'Explode',
  description: 'Fails with an unexpected error that carries an upstream body and a token, for testing.',
  kind: 'read',
  input: z.object({ note: z.string().optional().describe('anything') }),
  output: z.object({}),
  handle() {
    throw new Error(`upstream said 500 at https://org.example/api/v1/users with Authorization: ${SECRET}`);
  },
});

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('unexpected failures and secrets', () => {
  it('returns a short reference, not a stack trace or upstream body, and audits the reference', async () => {
    h = await startServer({ deps: { extraTools: [boom as never], secrets: () => [RAW_SECRET] } });
    const text = await h.fail('explode_now', {});
    expect(text).toMatch(/^Internal error \(ref ERR-[0-9a-f]{8}\)/);
    expect(text).not.toMatch(/upstream|org\.example|SSWS|at Object|\.ts:/);
    const ref = /ERR-[0-9a-f]{8}/.exec(text)![0];
    const entry = [...new AuditLog(h.store.db).entries()].at(-1)!;
    expect(entry.details).toMatchObject({ error_ref: ref });
    expect(JSON.stringify(entry)).not.toContain(RAW_SECRET);
  });

  it('never writes a secret that reaches tool arguments into the audit log', async () => {
    h = await startServer({ deps: { secrets: () => [RAW_SECRET] } });
    await h.ok('propose_decision', {
      item_id: 'i8',
      decision: 'revoke',
      rationale: `token is ${RAW_SECRET} and ${SECRET}`,
    });
    await h.fail('get_user_activity', { user_id: RAW_SECRET });
    await h.fail('list_campaign_items', {
      campaign_id: 'c1',
      api_token: 'att_abcdefghijklmnopqrstuvwxyz',
      limit: 0,
    });
    const log = JSON.stringify([...new AuditLog(h.store.db).entries()]);
    expect(log).not.toContain(RAW_SECRET);
    expect(log).not.toContain('att_abcdefghijklmnopqrstuvwxyz');
    expect(log).toContain('[REDACTED]');
  });
});
