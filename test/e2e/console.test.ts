import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';
import { runCli, startHttp } from './helpers.js';

/** Screenshots of each console page land here (named in the README). */
export const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'test-results', 'console');
const CHROMIUM = process.env.ATTEST_CHROMIUM ?? '/usr/bin/chromium';

// The console is driven in Debian's Chromium; CI installs it (.ci/run). Without it, outside CI,
// these tests are skipped rather than failing on a missing browser.
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`Chromium is required in CI (${CHROMIUM} is missing)`);

const tmp = tempDir();
const db = join(tmp.dir, 'console.db');
let server: ReturnType<typeof startHttp>;
let url: string;
let base: string;
let link: string;
let agentToken: string;
let otherToken: string;
let browser: Browser;
let context: BrowserContext;

function newLink(as = 'analyst@example.com') {
  return runCli(['console', '--link', '--url', base, '--as', as, '--db', db]).stdout.trim();
}

async function agent(token: string) {
  const client = new Client({ name: 'agent', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  const call = async <T>(name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    return r.structuredContent as T;
  };
  return { client, call };
}

type Submit = {
  status: string;
  confirmation: { id: string; url?: string } | null;
  results: Array<{ status: string }>;
};

async function pendingBatch(token: string, items: string[], decision = 'revoke') {
  const a = await agent(token);
  const ids = [];
  for (const item_id of items)
    ids.push(
      (
        await a.call<{ proposal_id: string }>('propose_decision', {
          item_id,
          decision,
          rationale: `Reviewed ${item_id}`,
        })
      ).proposal_id,
    );
  const r = await a.call<Submit>('submit_decision', { proposal_ids: ids });
  return { ...a, ids, r };
}

function count(sql: string): number {
  const store = Store.open(db);
  try {
    return (store.db.prepare(sql).get() as { n: number }).n;
  } finally {
    store.close();
  }
}

describe.skipIf(!haveChromium)('the console in headless Chromium', () => {
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const r = runCli(['demo', '--users', '300', '--db', db, '--dir', join(tmp.dir, 'snap')]);
    expect(r.code, r.stderr).toBe(0);
    agentToken = runCli([
      'token',
      'create',
      '--principal',
      'analyst@example.com',
      '--role',
      'admin',
      '--db',
      db,
    ]).stdout.trim();
    otherToken = runCli([
      'token',
      'create',
      '--principal',
      'other@example.com',
      '--role',
      'admin',
      '--db',
      db,
    ]).stdout.trim();
    server = startHttp(['--db', db, '--principal', 'analyst@example.com']);
    url = await server.url;
    base = url.replace(/\/mcp$/, '/console');
    link = newLink();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    tmp.cleanup();
  });

  it('signs in with the one-time link, confirms a pending batch, and the agent’s next submit is applied', async () => {
    const page = await context.newPage();
    await page.goto(link);
    expect(new URL(page.url()).pathname).toBe('/console');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'attest_console')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    await page.screenshot({ path: join(SCREENSHOTS, 'home.png'), fullPage: true });

    const batch = await pendingBatch(agentToken, await firstItems(2));
    expect(batch.r.status).toBe('awaiting_confirmation');
    expect(batch.r.confirmation!.url).toBe(`${base}/confirmations/${batch.r.confirmation!.id}`);
    await page.goto(batch.r.confirmation!.url!);
    expect(await page.locator('#batch tr').count()).toBe(3);
    await page.screenshot({ path: join(SCREENSHOTS, 'confirmation.png'), fullPage: true });
    await page.click('#confirm');
    await page.waitForSelector('#outcome');
    expect(await page.textContent('#outcome')).toMatch(/Confirmed/);
    expect(await page.textContent('#status')).toBe('used');
    const after = await batch.call<Submit>('submit_decision', { proposal_ids: batch.ids });
    expect(after.status).toBe('applied');
    expect(after.results.every((x) => x.status === 'applied')).toBe(true);
    expect(
      count(
        "SELECT count(*) AS n FROM item_decisions WHERE channel = 'console' AND assurance = 'human-verified' AND decided_by = 'analyst@example.com'",
      ),
    ).toBe(2);
    expect(
      count(
        "SELECT count(*) AS n FROM audit_log WHERE tool = 'console:confirm' AND principal = 'analyst@example.com'",
      ),
    ).toBe(1);
    await batch.client.close();

    const second = await pendingBatch(agentToken, await firstItems(1), 'approve');
    await page.goto(second.r.confirmation!.url!);
    await page.click('#reject');
    await page.waitForSelector('#outcome');
    expect(await page.textContent('#outcome')).toMatch(/Rejected/);
    expect((await second.call<Submit>('submit_decision', { proposal_ids: second.ids })).status).toBe(
      'rejected',
    );
    await second.client.close();
    await page.close();
  });

  it('refuses a form without the CSRF token, a bearer token on /console, the console cookie on /mcp, a replayed link and another principal’s batch', async () => {
    const fresh = newLink();
    const signIn = await fetch(fresh, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    expect((await fetch(fresh, { redirect: 'manual' })).status).toBe(401);

    const other = await pendingBatch(otherToken, await firstItems(1));
    const page = `${base}/confirmations/${other.r.confirmation!.id}`;
    expect((await fetch(page, { headers: { cookie } })).status).toBe(404);

    const mine = await pendingBatch(agentToken, await firstItems(1));
    const minePage = `${base}/confirmations/${mine.r.confirmation!.id}`;
    const noCsrf = await fetch(minePage, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=confirm',
      redirect: 'manual',
    });
    expect(noCsrf.status).toBe(403);
    const otherPost = await fetch(page, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=confirm&csrf=x',
      redirect: 'manual',
    });
    expect(otherPost.status).toBe(403);
    expect(
      count(
        `SELECT count(*) AS n FROM confirmations WHERE id IN ('${other.r.confirmation!.id}', '${mine.r.confirmation!.id}') AND status = 'pending'`,
      ),
    ).toBe(2);

    const bearer = await fetch(`${base}`, { headers: { authorization: `Bearer ${agentToken}` } });
    expect(bearer.status).toBe(401);
    expect(await bearer.text()).toMatch(/does not accept bearer tokens/);
    const mcp = await fetch(url, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(mcp.status).toBe(403);
    expect(await mcp.text()).toMatch(/console session cookie is not an MCP credential/);
    const mcpWithBoth = await fetch(url, {
      method: 'POST',
      headers: {
        cookie,
        authorization: `Bearer ${agentToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(mcpWithBoth.status).toBe(403);
    await other.client.close();
    await mine.client.close();
  });

  it('renders the dashboard, reviewer behaviour and audit pages with the store’s figures', async () => {
    const page = await context.newPage();
    await page.goto(newLink());
    await page.goto(`${base}/campaigns/c-q4`);
    const byStatus = (s: string) =>
      count(`SELECT count(*) AS n FROM review_items WHERE campaign_id = 'c-q4' AND status = '${s}'`);
    for (const s of ['pending', 'proposed', 'decided'])
      expect(Number((await page.textContent(`[data-status="${s}"]`))!.replace(/,/g, ''))).toBe(byStatus(s));
    const signals = await page.locator('#signals td').allTextContents();
    const heads = await page.locator('#signals th').allTextContents();
    const dormant = heads.indexOf('dormant');
    expect(Number(signals[dormant]!.replace(/,/g, ''))).toBe(
      count(
        "SELECT count(*) AS n FROM review_items, json_each(review_items.signals) j WHERE campaign_id = 'c-q4' AND j.value ->> '$.code' = 'dormant'",
      ),
    );
    expect(await page.locator('svg').count()).toBeGreaterThanOrEqual(3);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });

    await page.goto(`${base}/campaigns/c-q4/reviewers`);
    const decisions = await page
      .locator('#behaviour tr[data-reviewer="analyst@example.com"] td')
      .nth(1)
      .textContent();
    expect(Number(decisions)).toBe(
      count(
        "SELECT count(*) AS n FROM item_decisions d JOIN review_items i ON i.id = d.item_id WHERE i.campaign_id = 'c-q4' AND d.decided_by = 'analyst@example.com'",
      ),
    );
    await page.screenshot({ path: join(SCREENSHOTS, 'reviewers.png'), fullPage: true });

    await page.goto(`${base}/audit?tool=console:confirm`);
    expect(await page.locator('#entries tr').count()).toBe(
      1 + count("SELECT count(*) AS n FROM audit_log WHERE tool = 'console:confirm'"),
    );
    const verify = runCli(['audit', 'verify', '--db', db]);
    expect(verify.code).toBe(0);
    expect(await page.textContent('#chain')).toMatch(/Chain intact/);
    await page.screenshot({ path: join(SCREENSHOTS, 'audit.png'), fullPage: true });
    await page.click('#entries tr:nth-child(2) a');
    expect(JSON.parse((await page.textContent('#entry'))!)).toMatchObject({ tool: 'console:confirm' });
    await page.screenshot({ path: join(SCREENSHOTS, 'audit-entry.png'), fullPage: true });
    await page.goto(`${base}/campaigns/c-q4/evidence.html`);
    await page.screenshot({ path: join(SCREENSHOTS, 'evidence.png'), fullPage: true });
    await page.close();
  });

  it('attest evidence writes HTML and PDF holding every decision and the chain hash audit verify reports', () => {
    const html = join(tmp.dir, 'evidence.html');
    const pdf = join(tmp.dir, 'evidence.pdf');
    const r = runCli(['evidence', 'c-q4', '--format', 'html', '--out', html, '--db', db]);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(html, 'utf8');
    const store = Store.open(db);
    const decided = store.db
      .prepare(
        "SELECT d.item_id FROM item_decisions d JOIN review_items i ON i.id = d.item_id WHERE i.campaign_id = 'c-q4'",
      )
      .pluck()
      .all() as string[];
    const head = store.db
      .prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1')
      .pluck()
      .get() as string;
    store.close();
    expect(decided.length).toBeGreaterThan(0);
    for (const id of decided) expect(text).toContain(`<td class="data">${id}</td>`);
    expect(text).toContain(`<span class="data" id="chain-hash">${head}</span>`);
    expect(runCli(['audit', 'verify', '--db', db]).stdout).toMatch(/Audit log OK/);
    const p = runCli(['evidence', 'c-q4', '--format', 'pdf', '--out', pdf, '--db', db], {
      ATTEST_CHROMIUM: CHROMIUM,
    });
    expect(p.code, p.stderr).toBe(0);
    expect(readFileSync(pdf).subarray(0, 5).toString()).toBe('%PDF-');
  });
});

/** Pending items of the demo campaign that no proposal holds yet. */
async function firstItems(n: number): Promise<string[]> {
  const store = Store.open(db);
  try {
    return store.db
      .prepare(
        "SELECT id FROM review_items WHERE campaign_id = 'c-q4' AND status = 'pending' AND reviewer_id IS NOT NULL ORDER BY risk_score DESC, id LIMIT ?",
      )
      .pluck()
      .all(n) as string[];
  } finally {
    store.close();
  }
}
