import { redactSecrets } from '../okta/errors.js';
import { type ApplyOutcome, ConnectorError } from '../types.js';
import { TokenRequestError } from './auth.js';

/** What was being done ("listing users") and the Graph application permission it needs. */
export interface Operation {
  action: string;
  permission: string;
}

/** The fields of the SDK's GraphError this module reads. */
interface GraphLikeError {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
  name?: unknown;
  cause?: unknown;
}

export function statusOf(error: unknown): number | null {
  if (error instanceof TokenRequestError) return error.status;
  const s = (error as GraphLikeError | null)?.statusCode;
  return typeof s === 'number' && s > 0 ? s : null;
}

export function codeOf(error: unknown): string {
  const c = (error as GraphLikeError | null)?.code;
  return typeof c === 'string' ? c : '';
}

function clip(text: string, max = 200): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** "HTTP 403 Authorization_RequestDenied: Insufficient privileges…": status, code and message only, never a URL or body. */
export function graphReason(error: unknown, secrets: readonly string[]): string {
  const status = statusOf(error);
  const code = codeOf(error);
  const raw = (error as GraphLikeError).message;
  const message =
    typeof raw === 'string' && !/^\s*[{[]/.test(raw) ? raw.replace(/https?:\/\/\S+/g, '[url]') : '';
  const head = [status === null ? '' : `HTTP ${status}`, code].filter((x) => x !== '').join(' ');
  return redactSecrets(clip([head, message].filter((x) => x !== '').join(': ') || 'no details'), secrets);
}

/** Maps anything the SDK or the token client throws to a ConnectorError whose message is safe to show. */
export function toConnectorError(error: unknown, op: Operation, secrets: readonly string[]): ConnectorError {
  if (error instanceof ConnectorError) return error;
  if (error instanceof TokenRequestError) {
    return new ConnectorError(
      `Microsoft Entra refused the app's token request (HTTP ${error.status} ${error.oauthError}${error.description ? `: ${redactSecrets(error.description, secrets)}` : ''}): ` +
        'check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (or the certificate), and that it has not expired.',
      'auth',
      error.status,
    );
  }
  const status = statusOf(error);
  const reason = graphReason(error, secrets);
  if (status === 401) {
    return new ConnectorError(
      `Microsoft Graph rejected the app's token while ${op.action} (${reason}): check the app's credential and that it is not revoked.`,
      'auth',
      401,
    );
  }
  if (status === 403) {
    return new ConnectorError(
      `Microsoft Graph refused ${op.action} (${reason}): the app needs the ${op.permission} application permission, with admin consent.`,
      'forbidden',
      403,
    );
  }
  if (status === 404)
    return new ConnectorError(
      `Microsoft Graph found nothing while ${op.action} (${reason}).`,
      'not_found',
      404,
    );
  if (status === 429) {
    return new ConnectorError(
      `Microsoft Graph kept throttling (429) after retries while ${op.action}; try again later.`,
      'rate_limited',
      429,
    );
  }
  if (status !== null)
    return new ConnectorError(
      `Microsoft Graph answered ${reason} while ${op.action}; try again later.`,
      'upstream',
      status,
    );
  const e = error as GraphLikeError;
  const message = `${typeof e.message === 'string' ? e.message : String(error)} ${String(e.cause ?? '')}`;
  if (/fetch failed|ECONN|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|certificate|socket/i.test(message)) {
    const code =
      /(E[A-Z_]{4,}|CERT_[A-Z_]+|UNABLE_TO_[A-Z_]+|SELF_SIGNED[A-Z_]*)/.exec(message)?.[1] ?? 'network error';
    return new ConnectorError(`Could not reach Microsoft Entra while ${op.action} (${code}).`, 'network');
  }
  return new ConnectorError(
    `Unexpected failure while ${op.action}: ${redactSecrets(clip(message), secrets)}`,
    'upstream',
  );
}

/** A write that failed: final for 4xx other than 429, retryable otherwise. */
export function failedOutcome(error: unknown, op: Operation, secrets: readonly string[]): ApplyOutcome {
  const status = statusOf(error);
  const ce = toConnectorError(error, op, secrets);
  const retryable =
    status === null
      ? ce.kind === 'network' || ce.kind === 'rate_limited' || ce.kind === 'upstream'
      : status === 429 || status >= 500;
  return retryable
    ? { status: 'failed', retryable: true, error: ce.message }
    : { status: 'failed', retryable: false, error: ce.message };
}
