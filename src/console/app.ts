import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import type { Principal } from '../domain/principal.js';
import type { Logger } from '../log.js';
import type { Auditor } from '../policy/audit.js';
import { STYLESHEET } from '../render/html.js';
import { writeAuditExport } from '../services/audit-export.js';
import { answerConfirmation } from '../services/decisions.js';
import { buildEvidence, htmlToPdf, renderEvidenceHtml } from '../services/evidence.js';
import type { Store } from '../store/store.js';
import * as pages from './pages.js';

export const COOKIE = 'attest_console';
/** How long a sign-in link printed on the terminal stays valid. */
export const LINK_TTL_MS = 15 * 60_000;
/** How long a console session lasts. */
export const SESSION_TTL_MS = 12 * 3600_000;

export interface ConsoleDeps {
  store: Store;
  config: Config;
  logger: Logger;
  auditor: Auditor;
  /** The principal for a name, with role and reviewer ids from the configuration. */
  principalFor: (id: string) => Principal;
  /** Applies confirmed decisions waiting in the outbox (after a confirmation here). */
  applyOutbox: () => Promise<void>;
  now?: () => Date;
}

/** A new one-time sign-in link for `principal`, for the human's terminal. */
export function signInLink(store: Store, base: string, principal: string, now = new Date()): string {
  const token = store.consoleAuth.createLink(principal, now, new Date(now.getTime() + LINK_TTL_MS));
  return `${base.replace(/\/$/, '')}/login?token=${token}`;
}

function cookieOf(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return null;
}

/** True when the request carries the console's session cookie (refused on /mcp). */
export function hasConsoleCookie(req: IncomingMessage): boolean {
  return cookieOf(req, COOKIE) !== null;
}

async function readForm(req: IncomingMessage, limit = 64 * 1024): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) return null;
    chunks.push(c as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer a form POST carries "Origin: null", which the Origin check refuses.
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = 'text/html; charset=utf-8',
  extra: Record<string, string | string[]> = {},
) {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS, ...extra });
  res.end(body);
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The console: server-rendered pages under /console for the humans (pending confirmations,
 * campaign dashboards, reviewer behaviour, the audit log, evidence packs). A session is a
 * human's: started from a one-time link printed on their terminal, carried in an HttpOnly,
 * SameSite=Strict cookie, never a bearer token; every state-changing request needs the
 * session's CSRF token. Returns false for paths it does not serve.
 */
export function createConsole(deps: ConsoleDeps) {
  const now = deps.now ?? (() => new Date());
  const auth = deps.store.consoleAuth;

  return async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname !== '/console' && !url.pathname.startsWith('/console/')) return false;
    const path = url.pathname.slice('/console'.length) || '/';
    if (req.headers.authorization !== undefined) {
      send(
        res,
        401,
        pages.message(
          'Not here',
          'The console does not accept bearer tokens: sign in with the one-time link that attest console or attest serve prints on your terminal.',
        ),
      );
      return true;
    }
    if (path === '/static/app.css') {
      send(res, 200, STYLESHEET, 'text/css; charset=utf-8', { 'cache-control': 'max-age=3600' });
      return true;
    }
    const secure = (req.headers['x-forwarded-proto'] ?? '') === 'https';
    if (path === '/login' && req.method === 'GET') {
      const token = url.searchParams.get('token') ?? '';
      const used = auth.useLink(token, now());
      if ('error' in used) {
        send(
          res,
          401,
          pages.message(
            'Sign-in refused',
            `${used.error}. Ask for a new link: it is printed by attest console (or attest console link) on the machine that runs Attest.`,
          ),
        );
        return true;
      }
      const session = auth.createSession(used.principal, now(), new Date(now().getTime() + SESSION_TTL_MS));
      deps.auditor.record({
        at: now().toISOString(),
        principal: used.principal,
        client: null,
        session_id: null,
        transport: 'console',
        tool: 'console:sign-in',
        kind: 'read',
        arguments: {},
        outcome: 'ok',
        error: null,
        duration_ms: 0,
        details: null,
      });
      res.writeHead(303, {
        location: '/console',
        'set-cookie': `${COOKIE}=${session.sid}; HttpOnly; SameSite=Strict; Path=/console; Max-Age=${SESSION_TTL_MS / 1000}${secure ? '; Secure' : ''}`,
        ...SECURITY_HEADERS,
      });
      res.end();
      return true;
    }
    const sid = cookieOf(req, COOKIE);
    const session = sid ? auth.session(sid, now()) : null;
    if (!session || !sid) {
      send(
        res,
        401,
        pages.message(
          'Signed out',
          'Sign in with the one-time link that attest console (or attest console link --as YOU) prints on your terminal.',
        ),
      );
      return true;
    }
    const principal = deps.principalFor(session.principal);
    const ctx: pages.PageContext = {
      store: deps.store,
      principal,
      csrf: session.csrf,
      now: now(),
      config: deps.config,
    };

    if (req.method === 'POST') {
      // Same-origin forms only, each carrying the session's CSRF token.
      const form = await readForm(req);
      const token = form?.get('csrf') ?? '';
      if (!form || !same(token, session.csrf)) {
        send(
          res,
          403,
          pages.message(
            'Refused',
            'The form was not sent by this console (missing or wrong CSRF token). Nothing was changed.',
          ),
        );
        return true;
      }
      if (path === '/logout') {
        auth.endSession(sid);
        res.writeHead(303, {
          location: '/console/signed-out',
          'set-cookie': `${COOKIE}=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0`,
          ...SECURITY_HEADERS,
        });
        res.end();
        return true;
      }
      const m = /^\/confirmations\/([^/]+)$/.exec(path);
      if (m) {
        const id = decodeURIComponent(m[1]!);
        const action = form.get('action');
        if (action !== 'confirm' && action !== 'reject') {
          send(res, 400, pages.message('Refused', 'action must be confirm or reject. Nothing was changed.'));
          return true;
        }
        const c = pages.ownConfirmation(ctx, id);
        if (!c) {
          send(
            res,
            404,
            pages.message('Not found', 'No pending confirmation of yours has that id. Nothing was changed.'),
          );
          return true;
        }
        const r = await answerConfirmation(deps.store, id, action, session.principal, now(), {
          channel: 'console',
          confirmerReviewerIds: principal.reviewer_ids,
          allowSelfReview: deps.config.allowSelfReview,
          eventEntry: deps.auditor.eventEntries(
            { principal: session.principal, client: null, session_id: null, transport: 'console' },
            now,
          ),
          audited: (seq) => deps.auditor.afterCommit(seq),
        });
        if (r.ok && action === 'confirm' && !deps.config.readOnly) await deps.applyOutbox();
        res.writeHead(303, {
          location: `/console/confirmations/${encodeURIComponent(id)}?done=${r.ok ? action : 'refused'}${r.ok ? '' : `&why=${encodeURIComponent(r.error)}`}`,
          ...SECURITY_HEADERS,
        });
        res.end();
        return true;
      }
      send(res, 404, pages.message('Not found', 'Nothing to post here.'));
      return true;
    }
    if (req.method !== 'GET') {
      send(res, 405, pages.message('Not allowed', 'Use GET or a form of this console.'), undefined, {
        allow: 'GET, POST',
      });
      return true;
    }

    const admin = principal.role === 'admin';
    const notFound = (text: string) => ({ status: 404, body: pages.message('Not found', text) });
    const forAdmins = () => ({ status: 403, body: pages.message('Refused', 'The audit log is for admins.') });
    const routes: Array<[RegExp, (m: RegExpExecArray) => { status: number; body: string }]> = [
      [/^\/?$/, () => ({ status: 200, body: pages.home(ctx) })],
      [/^\/signed-out$/, () => ({ status: 200, body: pages.message('Signed out', 'You are signed out.') })],
      [
        /^\/confirmations\/([^/]+)$/,
        (m) => {
          const page = pages.confirmation(ctx, decodeURIComponent(m[1]!), url.searchParams);
          return page ? { status: 200, body: page } : notFound('No confirmation of yours has that id.');
        },
      ],
      [
        /^\/campaigns\/([^/]+)$/,
        (m) => {
          const page = pages.dashboard(ctx, decodeURIComponent(m[1]!));
          return page ? { status: 200, body: page } : notFound('No campaign with that id.');
        },
      ],
      [
        /^\/campaigns\/([^/]+)\/reviewers$/,
        (m) => {
          const page = pages.reviewers(ctx, decodeURIComponent(m[1]!));
          return page ? { status: 200, body: page } : notFound('No campaign with that id.');
        },
      ],
      [
        /^\/campaigns\/([^/]+)\/items$/,
        (m) => {
          const page = pages.items(ctx, decodeURIComponent(m[1]!), url.searchParams);
          return page ? { status: 200, body: page } : notFound('No campaign with that id.');
        },
      ],
      [/^\/audit$/, () => (admin ? { status: 200, body: pages.audit(ctx, url.searchParams) } : forAdmins())],
      [
        /^\/audit\/(\d+)$/,
        (m) => {
          if (!admin) return forAdmins();
          const page = pages.auditEntry(ctx, Number(m[1]));
          return page ? { status: 200, body: page } : notFound('No audit entry with that number.');
        },
      ],
    ];
    for (const [re, render] of routes) {
      const m = re.exec(path);
      if (!m) continue;
      const r = render(m);
      send(res, r.status, r.body);
      return true;
    }
    const evidence = /^\/campaigns\/([^/]+)\/evidence\.(html|pdf)$/.exec(path);
    if (evidence) {
      const m = evidence;
      const campaign = pages.campaignFor(ctx, decodeURIComponent(m[1]!));
      if (!campaign || !admin) {
        send(res, 404, pages.message('Not found', 'Evidence packs are for admins, of campaigns that exist.'));
        return true;
      }
      const text = renderEvidenceHtml(deps.store, buildEvidence(deps.store, campaign, now()), now());
      if (m[2] === 'html') {
        // The pack is one self-contained document: its stylesheet is inline.
        send(res, 200, text, 'text/html; charset=utf-8', {
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        });
        return true;
      }
      const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 'attest-evidence-'));
      try {
        const out = join(dir, 'evidence.pdf');
        await htmlToPdf(text, out);
        res.writeHead(200, {
          'content-type': 'application/pdf',
          'content-disposition': `attachment; filename="evidence-${campaign.id.replace(/[^A-Za-z0-9._-]/g, '_')}.pdf"`,
          ...SECURITY_HEADERS,
        });
        res.end(readFileSync(out));
      } catch (e) {
        send(res, 503, pages.message('No PDF', (e as Error).message));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return true;
    }
    if (path === '/audit/export') {
      if (!admin) {
        const r = forAdmins();
        send(res, r.status, r.body);
        return true;
      }
      const format = url.searchParams.get('format') === 'csv' ? 'csv' : 'jsonl';
      res.writeHead(200, {
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson',
        'content-disposition': `attachment; filename="attest-audit.${format}"`,
        ...SECURITY_HEADERS,
      });
      await writeAuditExport(deps.store.audit, res, {
        format,
        since: url.searchParams.get('from') || undefined,
      });
      res.end();
      return true;
    }
    send(res, 404, pages.message('Not found', 'No such page.'));
    return true;
  };
}
