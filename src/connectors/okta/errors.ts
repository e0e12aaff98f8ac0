import { type ApplyOutcome, ConnectorError } from '../types.js';

/** What was being done, for messages ("listing users"), and the scope it needs. */
export interface Operation {
  action: string;
  scope: string;
}

/** The fields of the SDK's OktaApiError / HttpError (and node-fetch's FetchError) this module reads. */
interface HttpLikeError {
  status?: unknown;
  errorCode?: unknown;
  errorSummary?: unknown;
  url?: unknown;
  code?: unknown;
  name?: unknown;
  message?: unknown;
}

export function statusOf(error: unknown): number | null {
  const s = (error as HttpLikeError | null)?.status;
  return typeof s === 'number' ? s : null;
}

function clip(text: string, max = 160): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Replaces each known secret value in a text. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 6) out = out.split(s).join('[REDACTED]');
  return out;
}

/**
 * "E0000007 Not found: …" from an Okta error body: the code and summary only,
 * never the raw body or the request URL.
 */
export function oktaReason(error: unknown, secrets: readonly string[]): string {
  const e = error as HttpLikeError;
  const code = typeof e.errorCode === 'string' ? e.errorCode : '';
  const summary = typeof e.errorSummary === 'string' ? e.errorSummary : '';
  const status = statusOf(error);
  const reason = [status === null ? '' : `HTTP ${status}`, code, summary].filter((x) => x !== '').join(' ');
  return redactSecrets(clip(reason || 'no details'), secrets);
}

const isTokenRequest = (error: unknown) =>
  String((error as HttpLikeError).url ?? '').includes('/oauth2/v1/token');

/** Maps anything the SDK throws to a ConnectorError whose message is safe to show. */
export function toConnectorError(error: unknown, op: Operation, secrets: readonly string[]): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const status = statusOf(error);
  const reason = oktaReason(error, secrets);
  if (status !== null && isTokenRequest(error)) {
    return new ConnectorError(
      `Okta refused the service app's token request (${reason}): check OKTA_CLIENT_ID, OKTA_KEY_ID, ` +
        'OKTA_PRIVATE_KEY and that every scope in OKTA_SCOPES is granted to the app.',
      'auth',
      status,
    );
  }
  if (status === 401) {
    return new ConnectorError(
      `Okta token rejected while ${op.action} (${reason}): check OKTA_API_TOKEN or the service app's scopes.`,
      'auth',
      401,
    );
  }
  if (status === 403) {
    return new ConnectorError(
      `Okta refused ${op.action} (${reason}): the service app needs the ${op.scope} scope ` +
        '(an API token needs an admin role that allows it).',
      'forbidden',
      403,
    );
  }
  if (status === 404)
    return new ConnectorError(`Okta found nothing while ${op.action} (${reason}).`, 'not_found', 404);
  if (status === 429) {
    return new ConnectorError(
      `Okta's rate limit was still exceeded after retries while ${op.action}; try again after the limit resets.`,
      'rate_limited',
      429,
    );
  }
  if (status !== null) {
    return new ConnectorError(
      `Okta answered ${reason} while ${op.action}; try again later.`,
      'upstream',
      status,
    );
  }
  const e = error as HttpLikeError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (/rate ?limit|429/i.test(message)) {
    return new ConnectorError(
      `Okta's rate limit would outlast the request timeout while ${op.action}.`,
      'rate_limited',
      429,
    );
  }
  if (e.name === 'FetchError' || typeof e.code === 'string') {
    const code = typeof e.code === 'string' ? e.code : 'network error';
    return new ConnectorError(`Could not reach the Okta org while ${op.action} (${code}).`, 'network');
  }
  return new ConnectorError(
    `Unexpected failure while ${op.action}: ${redactSecrets(clip(message), secrets)}`,
    'upstream',
  );
}

/** A write that failed: not retryable for 4xx other than 429, retryable otherwise. */
export function failedOutcome(error: unknown, op: Operation, secrets: readonly string[]): ApplyOutcome {
  const status = statusOf(error);
  const ce = toConnectorError(error, op, secrets);
  const retryable =
    status === null ? ce.kind === 'network' || ce.kind === 'rate_limited' : status === 429 || status >= 500;
  return retryable
    ? { status: 'failed', retryable: true, error: ce.message }
    : { status: 'failed', retryable: false, error: ce.message };
}
