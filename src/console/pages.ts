import type { Config } from '../config.js';
import type { CampaignSummary } from '../domain/index.js';
import type { Principal } from '../domain/principal.js';
import { barChart, type Html, html, num, pct, raw } from '../render/html.js';
import { BEHAVIOUR, campaignDashboard, reviewerBehaviour } from '../services/insights.js';
import type { ConfirmationRow } from '../store/decisions.js';
import type { ItemRow, Store } from '../store/store.js';

export interface PageContext {
  store: Store;
  principal: Principal;
  csrf: string;
  now: Date;
  config: Config;
}

const scopeOf = (ctx: PageContext) =>
  ctx.principal.role === 'admin' ? undefined : ctx.principal.reviewer_ids;

function layout(title: string, body: Html, ctx?: PageContext): string {
  const nav = ctx
    ? html`<a href="/console">Home</a>${ctx.principal.role === 'admin' ? html`<a href="/console/audit">Audit log</a>` : ''}<span style="margin-left:auto">${ctx.principal.id} (${ctx.principal.role})</span><form class="inline" method="post" action="/console/logout"><input type="hidden" name="csrf" value="${ctx.csrf}"><button type="submit">Sign out</button></form>`
    : html`<span>Attest</span>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${html`${title}`} · Attest</title><link rel="stylesheet" href="/console/static/app.css"></head><body><header><strong>Attest</strong>${nav}</header><main>${body}</main></body></html>`;
}

export function message(title: string, text: string): string {
  return layout(title, html`<h1>${title}</h1><p>${text}</p>`);
}

/** A pending confirmation of this principal (a human confirms only their own agent's batches). */
export function ownConfirmation(ctx: PageContext, id: string): ConfirmationRow | null {
  const c = ctx.store.decisions.confirmation(id);
  return c && c.principal === ctx.principal.id ? c : null;
}

export function campaignFor(ctx: PageContext, id: string): CampaignSummary | null {
  const scope = scopeOf(ctx);
  return ctx.store.listCampaigns(undefined, scope).find((c) => c.id === id) ?? null;
}

export function home(ctx: PageContext): string {
  const pending = ctx.store.decisions.pendingFor(ctx.principal.id, ctx.now);
  const campaigns = ctx.store.listCampaigns(undefined, scopeOf(ctx));
  return layout(
    'Home',
    html`<h1>Pending confirmations</h1>
${pending.length === 0 ? html`<p>Nothing is waiting for you.</p>` : html`<table id="pending"><tr><th>batch</th><th class="num">decisions</th><th>asked</th><th>expires</th><th>needs</th></tr>${pending.map((c) => html`<tr><td><a href="/console/confirmations/${encodeURIComponent(c.id)}">${c.id}</a></td><td class="num">${c.proposal_ids.length}</td><td>${c.created_at}</td><td>${c.expires_at}</td><td>${c.required_assurance ?? 'human-verified'}</td></tr>`)}</table>`}
<h1>Campaigns</h1>
<table id="campaigns"><tr><th>campaign</th><th>platform</th><th>status</th><th class="num">items</th><th class="num">pending</th><th class="num">proposed</th><th class="num">decided</th><th>due</th></tr>
${campaigns.map((c) => html`<tr><td><a href="/console/campaigns/${encodeURIComponent(c.id)}">${c.name}</a><br><span class="note">${c.id}</span></td><td>${c.platform}</td><td>${c.status}</td><td class="num">${num(c.counts.total)}</td><td class="num">${num(c.counts.pending)}</td><td class="num">${num(c.counts.proposed)}</td><td class="num">${num(c.counts.decided)}</td><td>${c.due_at ?? '–'}</td></tr>`)}</table>`,
    ctx,
  );
}

function itemCell(i: ItemRow): Html {
  return html`<td>${i.user.name ?? i.user.id}<br><span class="note">${i.user.email ?? ''} · ${i.user.id} · ${i.user.department ?? ''} ${i.user.title ?? ''}</span></td><td>${i.entitlement.name}${i.entitlement.privileged ? ' (privileged)' : ''}<br><span class="note">${i.entitlement.id}${i.entitlement.app ? ` · ${i.entitlement.app}` : ''}</span></td>`;
}

export function confirmation(ctx: PageContext, id: string, query: URLSearchParams): string | null {
  const c = ownConfirmation(ctx, id);
  if (!c) return null;
  const repo = ctx.store.decisions;
  const rows = c.proposal_ids.map((pid) => {
    const p = repo.proposal(pid)!;
    return { p, i: ctx.store.getItem(p.item_id)! };
  });
  const done = query.get('done');
  const outcome = done
    ? done === 'refused'
      ? html`<p class="bad" id="outcome">Refused: ${query.get('why') ?? 'the confirmation cannot be used'}. Nothing was applied.</p>`
      : html`<p class="ok" id="outcome">${done === 'confirm' ? 'Confirmed: the decisions are applied (the agent’s next submit_decision reports each result).' : 'Rejected: nothing was applied.'}</p>`
    : '';
  const open = c.status === 'pending' && Date.parse(c.expires_at) > ctx.now.getTime();
  const outbox = new Map(repo.outboxFor(c.proposal_ids).map((o) => [o.proposal_id, o]));
  const body = html`<h1>Batch ${c.id}</h1>
${outcome}
<p>${c.proposal_ids.length} decision(s) submitted by <span class="data">${c.principal}</span> at ${c.created_at}; status <strong id="status">${c.status}</strong>${c.channel ? ` (answered via ${c.channel} by ${c.answered_by ?? '?'})` : ''}; expires ${c.expires_at}. Confirming here is human-verified.</p>
<table id="batch"><tr><th>decision</th><th class="num">risk</th><th>person</th><th>access</th><th>signals</th><th>rationale</th><th>engine</th><th>evidence</th><th>applied</th></tr>
${rows.map(({ p, i }) => html`<tr><td class="decision ${p.decision}">${p.decision.toUpperCase()}</td><td class="num">${i.risk_score} ${i.risk_level}</td>${itemCell(i)}<td>${i.signals.map((s) => html`<span class="flag">${s.code}</span> ${s.detail}<br>`)}</td><td>${p.rationale}<br><span class="note">proposed by ${p.proposed_by}</span></td><td>${i.recommendation ? html`${i.recommendation.decision} (${Math.round(i.recommendation.confidence * 100)}%): ${i.recommendation.rationale}` : '–'}</td><td>${(i.recommendation?.evidence ?? []).slice(0, 6).map((e) => html`${e.kind}: ${String(e.value)} <span class="note">(${e.source}${e.at ? `, ${e.at}` : ''})</span><br>`)}</td><td>${outbox.get(p.id)?.status ?? '–'}</td></tr>`)}
</table>
${open ? html`<form class="inline" method="post" action="/console/confirmations/${encodeURIComponent(c.id)}"><input type="hidden" name="csrf" value="${ctx.csrf}"><input type="hidden" name="action" value="confirm"><button class="primary" id="confirm" type="submit">Confirm and apply ${c.proposal_ids.length} decision(s)</button></form> <form class="inline" method="post" action="/console/confirmations/${encodeURIComponent(c.id)}"><input type="hidden" name="csrf" value="${ctx.csrf}"><input type="hidden" name="action" value="reject"><button class="danger" id="reject" type="submit">Reject</button></form>` : ''}
<p class="note">Names, titles, rationales and evidence are data from the directory or the agent, shown escaped.</p>`;
  return layout(`Batch ${c.id}`, body, ctx);
}

export function dashboard(ctx: PageContext, id: string): string | null {
  const campaign = campaignFor(ctx, id);
  if (!campaign) return null;
  const d = campaignDashboard(ctx.store, campaign, ctx.now, scopeOf(ctx));
  const a = d.aggregates;
  const link = (ids: string[], text: string) =>
    ids.length === 0
      ? html`${text}`
      : html`<a href="/console/campaigns/${encodeURIComponent(id)}/items?ids=${ids.slice(0, 500).join(',')}">${text}</a>`;
  const bands = a.risk_histogram.map((value, i) => ({
    label: `${i * 10}-${i === 9 ? 100 : i * 10 + 9}`,
    value,
  }));
  const body = html`<h1>${campaign.name}</h1>
<p><span class="data">${campaign.id}</span> · ${campaign.platform} · ${campaign.status} · created ${campaign.created_at}${campaign.due_at ? ` · due ${campaign.due_at}` : ''} · <a href="/console/campaigns/${encodeURIComponent(id)}/reviewers">reviewer behaviour</a>${ctx.principal.role === 'admin' ? html` · evidence pack <a href="/console/campaigns/${encodeURIComponent(id)}/evidence.html">HTML</a> <a href="/console/campaigns/${encodeURIComponent(id)}/evidence.pdf">PDF</a>` : ''}</p>
<div class="cards" id="progress">${['pending', 'proposed', 'decided'].map((s) => html`<div class="card"><div class="n" data-status="${s}">${num(a.by_status[s] ?? 0)}</div>${s}</div>`)}<div class="card"><div class="n" id="acceptance">${pct(d.recommendations.acceptance_rate)}</div>recommendations accepted (${num(d.recommendations.compared)} compared)</div><div class="card"><div class="n" id="override">${pct(d.recommendations.override_rate)}</div>${link(d.recommendations.overrides, 'overridden')}</div><div class="card"><div class="n">${d.time_to_decide.median_hours ?? '–'} h</div>median time to decide (p90 ${d.time_to_decide.p90_hours ?? '–'} h; ${d.time_to_decide.median_confirm_seconds ?? '–'} s from proposal to confirmation)</div></div>
<h2>Progress by reviewer</h2>
<table id="reviewers"><tr><th>reviewer</th><th class="num">items</th><th class="num">pending</th><th class="num">proposed</th><th class="num">decided</th></tr>${a.by_reviewer.map((r) => html`<tr><td>${r.reviewer_id ?? 'unassigned'}</td><td class="num">${num(r.total)}</td><td class="num">${num(r.pending)}</td><td class="num">${num(r.proposed)}</td><td class="num">${num(r.decided)}</td></tr>`)}</table>
${d.overdue.length > 0 ? html`<h2>Overdue</h2><table id="overdue"><tr><th>reviewer</th><th class="num">open items after the due date</th></tr>${d.overdue.map((o) => html`<tr><td>${o.reviewer_id ?? 'unassigned'}</td><td class="num">${link(o.items, num(o.open))}</td></tr>`)}</table>` : ''}
<h2>Risk</h2>
${barChart(bands, { title: 'Items by risk score' })}
<table id="levels"><tr>${Object.keys(a.by_level).map((k) => html`<th>${k}</th>`)}</tr><tr>${Object.values(a.by_level).map((v) => html`<td class="num">${num(v)}</td>`)}</tr></table>
<h2>Recommendation mix</h2>
${barChart(
  Object.entries(a.by_recommendation).map(([label, value]) => ({ label, value })),
  { title: 'Engine recommendations' },
)}
<table id="recommendations"><tr>${Object.keys(a.by_recommendation).map((k) => html`<th>${k}</th>`)}</tr><tr>${Object.values(a.by_recommendation).map((v) => html`<td class="num">${num(v)}</td>`)}</tr></table>
<h2>Signals</h2>
${barChart(
  Object.entries(a.by_signal).map(([label, value]) => ({ label, value })),
  { title: 'Risk signals' },
)}
<table id="signals"><tr>${Object.keys(a.by_signal).map((k) => html`<th>${k}</th>`)}</tr><tr>${Object.values(a.by_signal).map((v) => html`<td class="num">${num(v)}</td>`)}</tr></table>`;
  return layout(campaign.name, body, ctx);
}

export function reviewers(ctx: PageContext, id: string): string | null {
  const campaign = campaignFor(ctx, id);
  if (!campaign) return null;
  const rows = reviewerBehaviour(ctx.store, id, scopeOf(ctx));
  const link = (ids: string[], text: string) =>
    ids.length === 0
      ? html`${text}`
      : html`<a href="/console/campaigns/${encodeURIComponent(id)}/items?ids=${ids.slice(0, 500).join(',')}">${text}</a>`;
  const body = html`<h1>Reviewer behaviour: ${campaign.name}</h1>
<p class="note">Flags: rubber_stamping when at least ${BEHAVIOUR.rubberStampApproval * 100}% of ${BEHAVIOUR.minDecisions} or more decisions are approvals made a median of under ${BEHAVIOUR.rubberStampSeconds} s apart; never_revokes when ${BEHAVIOUR.minDecisions} or more decisions hold no revoke. A rationale under ${BEHAVIOUR.minRationale} characters counts as none.</p>
<table id="behaviour"><tr><th>decided by</th><th class="num">decisions</th><th class="num">approval rate</th><th class="num">revokes</th><th class="num">median seconds per item</th><th>approved against a revoke recommendation</th><th>of them without rationale</th><th>flags</th></tr>
${rows.map((b) => html`<tr data-reviewer="${b.decided_by}"><td>${b.decided_by}</td><td class="num">${link(b.items, num(b.decisions))}</td><td class="num">${pct(b.approval_rate)}</td><td class="num">${num(b.revokes)}</td><td class="num">${b.median_seconds_per_item ?? '–'}</td><td class="num">${link(b.approved_against_revoke, num(b.approved_against_revoke.length))}</td><td class="num">${link(b.approved_against_revoke_without_rationale, num(b.approved_against_revoke_without_rationale.length))}</td><td>${b.flags.map((f) => html`<span class="flag">${f}</span>`)}</td></tr>`)}
</table>`;
  return layout(`Reviewers: ${campaign.name}`, body, ctx);
}

export function items(ctx: PageContext, id: string, query: URLSearchParams): string | null {
  const campaign = campaignFor(ctx, id);
  if (!campaign) return null;
  const ids = (query.get('ids') ?? '')
    .split(',')
    .filter((x) => x !== '')
    .slice(0, 500);
  const scope = scopeOf(ctx);
  const rows = ids
    .map((i) => ctx.store.getItem(i))
    .filter(
      (i): i is ItemRow =>
        i !== undefined &&
        i.campaign_id === id &&
        (scope === undefined || (i.reviewer_id !== null && scope.includes(i.reviewer_id))),
    );
  const body = html`<h1>${num(rows.length)} item(s) of ${campaign.name}</h1>
<table id="items"><tr><th>item</th><th>person</th><th>access</th><th class="num">risk</th><th>recommendation</th><th>decision</th></tr>
${rows.map((i) => html`<tr><td class="data">${i.item_id}</td>${itemCell(i)}<td class="num">${i.risk_score} ${i.risk_level}</td><td>${i.recommendation?.decision ?? '–'}</td><td>${i.decision ? html`<span class="decision ${i.decision.decision}">${i.decision.decision}</span> by ${i.decision.decided_by}` : i.status}</td></tr>`)}
</table>`;
  return layout(`Items of ${campaign.name}`, body, ctx);
}

export function audit(ctx: PageContext, q: URLSearchParams): string {
  const log = ctx.store.audit;
  const get = (k: string) => q.get(k) || undefined;
  const before = get('before');
  const rows = log.search({
    from: get('from'),
    to: get('to'),
    principal: get('principal'),
    tool: get('tool'),
    outcome: get('outcome'),
    beforeSeq: before ? Number(before) : undefined,
    limit: 100,
  });
  const v = log.verify();
  const filters = new URLSearchParams([...q.entries()].filter(([k]) => k !== 'before'));
  const next =
    rows.length === 100
      ? `?${new URLSearchParams([...filters.entries(), ['before', String(rows.at(-1)!.seq)]])}`
      : null;
  const field = (k: string, label: string) =>
    html`<label>${label} <input name="${k}" value="${q.get(k) ?? ''}"></label> `;
  const body = html`<h1>Audit log</h1>
<p id="chain" class="${v.ok ? 'ok' : 'bad'}">${v.ok ? `Chain intact: ${num(v.entries)} entries verified; head entry ${v.head?.seq ?? 0}, hash ` : `Chain BROKEN: ${v.ok ? 0 : v.broken.length} entries do not verify (first: ${v.ok ? '' : `${v.seq}, ${v.reason}`}); head hash `}<span class="data">${v.head?.hash ?? '–'}</span></p>
<form method="get" action="/console/audit">${field('from', 'from')}${field('to', 'to')}${field('principal', 'principal')}${field('tool', 'tool')}${field('outcome', 'outcome')}<button type="submit">Filter</button></form>
<p><a href="/console/audit/export?format=jsonl${q.get('from') ? `&from=${encodeURIComponent(q.get('from')!)}` : ''}">Export JSON Lines</a> · <a href="/console/audit/export?format=csv${q.get('from') ? `&from=${encodeURIComponent(q.get('from')!)}` : ''}">Export CSV</a></p>
<table id="entries"><tr><th class="num">seq</th><th>at</th><th>principal</th><th>tool</th><th>outcome</th><th>transport</th><th>client</th><th class="num">ms</th></tr>
${rows.map((e) => html`<tr><td class="num"><a href="/console/audit/${e.seq}">${e.seq}</a></td><td>${e.at}</td><td>${e.principal}</td><td>${e.tool}</td><td>${e.outcome}</td><td>${e.transport ?? ''}</td><td>${e.client_name ?? ''} ${e.client_version ?? ''}</td><td class="num">${e.duration_ms}</td></tr>`)}
</table>${next ? html`<p><a href="/console/audit${raw(next)}">Older entries</a></p>` : ''}`;
  return layout('Audit log', body, ctx);
}

export function auditEntry(ctx: PageContext, seq: number): string | null {
  const e = ctx.store.audit.entry(seq);
  if (!e) return null;
  const text = raw(
    JSON.stringify(e, null, 2)
      .split('\n')
      .map((l) => html`${l}`.value)
      .join('\n'),
  );
  const body = html`<h1>Audit entry ${e.seq}</h1><pre class="data" id="entry">${text}</pre><p><a href="/console/audit">Back to the log</a></p>`;
  return layout(`Audit entry ${e.seq}`, body, ctx);
}
