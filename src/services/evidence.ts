import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CampaignSummary } from '../domain/index.js';
import { barChart, esc, type Html, html, num, pct, raw, STYLESHEET } from '../render/html.js';
import type { BrokenEntry } from '../store/audit.js';
import { type DecidedRow, InsightsReader } from '../store/insights-reads.js';
import type { Store } from '../store/store.js';
import { campaignDashboard, reviewerBehaviour } from './insights.js';

/** Everything an auditor needs about one campaign, readable without Attest. */
export interface EvidencePack {
  campaign: CampaignSummary;
  generated_at: string;
  scope: {
    items: number;
    users: number;
    entitlements: number;
    apps: string[];
    reviewers: Array<string | null>;
  };
  decisions: Array<DecidedRow & { overridden: boolean; audit_seq: number | null }>;
  open_items: number;
  overrides: number;
  remediation: Record<string, number>;
  /** Decisions taken by policy classes without a human, per class, with the backtest figures that allowed them. */
  automatic: AutomaticSection[];
  audit: {
    verified: boolean;
    entries: number;
    /** The chain's head when the pack was made: the hash covers entries 1..head_seq. */
    head_seq: number;
    head_hash: string | null;
    broken: BrokenEntry[];
  };
}

/** One policy class's automatic decisions in a campaign. */
export interface AutomaticSection {
  class: string;
  principal: string;
  decisions: number;
  approve: number;
  revoke: number;
  applied: number;
  /** The figures each batch was decided under (one entry per distinct fit and bar). */
  figures: Array<{
    precision: number;
    decisions: number;
    min_precision: number;
    min_decisions: number;
    fit_id: string;
    items: number;
  }>;
}

function automaticSections(store: Store, campaignId: string): AutomaticSection[] {
  const by = new Map<string, AutomaticSection>();
  for (const a of store.automation.forCampaign(campaignId)) {
    let s = by.get(a.class);
    if (!s) {
      s = {
        class: a.class,
        principal: `policy:${a.class}`,
        decisions: 0,
        approve: 0,
        revoke: 0,
        applied: 0,
        figures: [],
      };
      by.set(a.class, s);
    }
    s.decisions++;
    s[a.decision]++;
    if (a.outbox_status === 'done') s.applied++;
    const f = s.figures.find(
      (x) =>
        x.fit_id === a.fit_id &&
        x.precision === a.precision &&
        x.min_precision === a.min_precision &&
        x.min_decisions === a.min_decisions,
    );
    if (f) f.items++;
    else
      s.figures.push({
        precision: a.precision,
        decisions: a.decisions,
        min_precision: a.min_precision,
        min_decisions: a.min_decisions,
        fit_id: a.fit_id,
        items: 1,
      });
  }
  return [...by.values()];
}

/** Builds the evidence pack of a campaign from the store and the audit log as they are now. */
export function buildEvidence(store: Store, campaign: CampaignSummary, now: Date): EvidencePack {
  const reader = new InsightsReader(store);
  const agg = reader.aggregates(campaign.id);
  const decided = reader.decided(campaign.id);
  const log = store.audit;
  const verify = log.verify();
  // The audit entry that recorded each decision's application (the platform's answer).
  const applied = new Map<string, number>();
  for (const e of log.entries()) {
    if (e.tool !== 'outbox:apply' || e.outcome !== 'ok') continue;
    const item = (e.arguments as { item_id?: string }).item_id;
    if (item) applied.set(item, e.seq);
  }
  const scope = store.campaignScope(campaign.id);
  const remediation: Record<string, number> = {};
  for (const d of decided)
    if (d.decision === 'revoke')
      remediation[d.remediation_status ?? 'none'] = (remediation[d.remediation_status ?? 'none'] ?? 0) + 1;
  const decisions = decided.map((d) => ({
    ...d,
    overridden: d.recommendation !== null && d.channel !== 'platform' && d.recommendation !== d.decision,
    audit_seq: applied.get(d.item_id) ?? null,
  }));
  return {
    campaign,
    generated_at: now.toISOString(),
    scope: {
      items: scope.items,
      users: scope.users,
      entitlements: scope.ents,
      apps: (JSON.parse(scope.apps) as Array<string | null>).filter((a): a is string => a !== null).sort(),
      reviewers: agg.by_reviewer.map((r) => r.reviewer_id),
    },
    decisions,
    open_items: scope.items - decided.length,
    overrides: decisions.filter((d) => d.overridden).length,
    remediation,
    automatic: automaticSections(store, campaign.id),
    audit: {
      verified: verify.ok,
      entries: verify.entries,
      head_seq: verify.head?.seq ?? 0,
      head_hash: verify.head?.hash ?? null,
      broken: verify.ok ? [] : verify.broken,
    },
  };
}

/** The pack as one self-contained HTML document (no script, no external resource). */
export function renderEvidenceHtml(store: Store, pack: EvidencePack, now: Date): string {
  const dash = campaignDashboard(store, pack.campaign, now);
  const behaviour = reviewerBehaviour(store, pack.campaign.id);
  const c = pack.campaign;
  const row = (d: EvidencePack['decisions'][number]) =>
    html`<tr><td class="data">${d.item_id}</td><td>${d.user_name ?? d.user_id}<br><span class="note">${d.user_id}</span></td><td>${d.entitlement_name}${d.privileged ? ' (privileged)' : ''}<br><span class="note">${d.entitlement_id}${d.app ? ` · ${d.app}` : ''}</span></td><td class="num">${d.risk_score} ${d.risk_level}</td><td>${d.recommendation ?? '–'}${d.recommendation_confidence !== null ? ` (${Math.round(Number(d.recommendation_confidence) * 100)}%)` : ''}</td><td class="decision ${d.decision}">${d.decision.toUpperCase()}${d.overridden ? raw(' <span class="flag">override</span>') : ''}</td><td>${d.rationale ?? '–'}</td><td>${d.decided_by}${d.proposed_by ? html`<br><span class="note">proposed by ${d.proposed_by}${d.submitted_by ? `, submitted by ${d.submitted_by}` : ''}</span>` : ''}</td><td>${d.channel ?? '–'}${d.assurance ? html`<br><span class="note">${d.assurance}</span>` : ''}</td><td>${d.confirmed_at ?? d.decided_at}</td><td>${d.decision === 'revoke' ? (d.remediation_status ?? 'none') : '–'}${d.remediation_detail ? html`<br><span class="note">${d.remediation_detail}</span>` : ''}</td><td class="num">${d.audit_seq ?? '–'}</td></tr>`;
  const body: Html = html`
<h1>Access review evidence: ${c.name}</h1>
<p>Campaign <span class="data">${c.id}</span> on ${c.platform}, ${c.status}, created ${c.created_at}${c.due_at ? `, due ${c.due_at}` : ''}. Generated ${pack.generated_at} by Attest.</p>
<h2>Audit chain</h2>
<p class="${pack.audit.verified ? 'ok' : 'bad'}">${pack.audit.verified ? 'Verified' : 'NOT verified'}: ${num(pack.audit.entries)} entries checked; this pack covers entries 1 to ${pack.audit.head_seq}, whose chain head hash is <span class="data" id="chain-hash">${pack.audit.head_hash ?? '(empty log)'}</span>.${pack.audit.broken.length > 0 ? ` Broken entries: ${pack.audit.broken.map((b) => `${b.seq} (${b.reason})`).join('; ')}.` : ''}</p>
<p class="note">Each audit entry carries the SHA-256 of the one before it; re-running <span class="data">attest audit verify</span> on the same store must report the same head.</p>
<h2>Scope</h2>
<div class="cards"><div class="card"><div class="n">${num(pack.scope.items)}</div>review items</div><div class="card"><div class="n">${num(pack.scope.users)}</div>people</div><div class="card"><div class="n">${num(pack.scope.entitlements)}</div>entitlements</div><div class="card"><div class="n">${num(pack.decisions.length)}</div>decided</div><div class="card"><div class="n">${num(pack.open_items)}</div>open</div><div class="card"><div class="n">${num(pack.overrides)}</div>overrides of the recommendation</div></div>
<p>Applications: ${pack.scope.apps.join(', ') || '–'}. Reviewers assigned: ${pack.scope.reviewers.map((r) => r ?? 'none').join(', ')}.</p>
<h2>Progress and recommendations</h2>
${barChart(
  Object.entries(dash.aggregates.by_status).map(([label, value]) => ({ label, value })),
  { title: 'Items by status' },
)}
${barChart(
  Object.entries(dash.aggregates.by_recommendation).map(([label, value]) => ({ label, value })),
  { title: 'Engine recommendations' },
)}
<p>Recommendations compared with human decisions: ${num(dash.recommendations.compared)}; accepted ${pct(dash.recommendations.acceptance_rate)}, overridden ${pct(dash.recommendations.override_rate)}.</p>
<h2>Reviewers</h2>
<table><tr><th>decided by</th><th class="num">decisions</th><th class="num">approvals</th><th class="num">revokes</th><th class="num">median seconds per item</th><th>approved against a revoke recommendation</th><th>flags</th></tr>
${behaviour.map((b) => html`<tr><td>${b.decided_by}</td><td class="num">${b.decisions}</td><td class="num">${b.approvals}</td><td class="num">${b.revokes}</td><td class="num">${b.median_seconds_per_item ?? '–'}</td><td>${b.approved_against_revoke.length}${b.approved_against_revoke_without_rationale.length > 0 ? ` (${b.approved_against_revoke_without_rationale.length} without rationale)` : ''}</td><td>${b.flags.map((f) => html`<span class="flag">${f}</span>`)}</td></tr>`)}
</table>
<h2>Automatic decisions (policy)</h2>
${
  pack.automatic.length === 0
    ? html`<p>No decision in this campaign was taken by a policy class; every decision was confirmed by a human.</p>`
    : html`<p>Decisions a policy class took without a human (channel <span class="data">policy</span>), each allowed by the class's backtest on past human decisions clearing its bar.</p>
<table id="automatic"><tr><th>class (principal)</th><th class="num">decisions</th><th class="num">approve</th><th class="num">revoke</th><th class="num">applied</th><th>backtest figures</th></tr>
${pack.automatic.map((a) => html`<tr><td>${a.class}<br><span class="note">${a.principal}</span></td><td class="num">${a.decisions}</td><td class="num">${a.approve}</td><td class="num">${a.revoke}</td><td class="num">${a.applied}</td><td>${a.figures.map((f) => html`precision ${f.precision.toFixed(4)} on ${f.decisions} past decisions (bar ${f.min_precision} on ${f.min_decisions}), fit ${f.fit_id}: ${f.items} item(s)<br>`)}</td></tr>`)}
</table>`
}
<h2>Remediation of revoked access</h2>
<p>${
    Object.entries(pack.remediation)
      .map(([k, v]) => `${k}: ${v}`)
      .join(' · ') || 'No revocations.'
  }</p>
<h2>Every decision</h2>
<table id="decisions"><tr><th>item</th><th>person</th><th>access</th><th class="num">risk</th><th>recommendation</th><th>decision</th><th>rationale</th><th>decided by</th><th>channel</th><th>when</th><th>remediation</th><th class="num">audit entry</th></tr>
${pack.decisions.map(row)}
</table>
<p class="note">Names, titles and rationales are data from the directory and the reviewers, shown escaped.</p>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(`Evidence: ${c.name}`)}</title><style>${STYLESHEET}</style></head><body><main>${body}</main></body></html>`;
}

/** Where the headless Chromium is, or null. */
export function findChromium(env: Record<string, string | undefined> = process.env): string | null {
  const candidates = [
    env.ATTEST_CHROMIUM,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return null;
}

/** Prints an HTML document to PDF with the headless Chromium; says clearly when there is none. */
export async function htmlToPdf(htmlText: string, out: string, chromium = findChromium()): Promise<void> {
  if (!chromium)
    throw new Error(
      "no Chromium found for the PDF (looked at ATTEST_CHROMIUM, /usr/bin/chromium, /usr/bin/chromium-browser, /usr/bin/google-chrome). Install Debian's chromium package (apt-get install chromium), or write HTML with --format html and print it yourself.",
    );
  const dir = mkdtempSync(join(tmpdir(), 'attest-pdf-'));
  try {
    const input = join(dir, 'evidence.html');
    writeFileSync(input, htmlText);
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        chromium,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          `--user-data-dir=${join(dir, 'profile')}`,
          '--no-pdf-header-footer',
          `--print-to-pdf=${out}`,
          `file://${input}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += String(d);
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 && existsSync(out)
          ? resolve()
          : reject(
              new Error(
                `Chromium could not print the PDF (exit ${code}): ${stderr.trim().split('\n').pop() ?? ''}`,
              ),
            ),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
