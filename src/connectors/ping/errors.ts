import { redactSecrets } from '../okta/errors.js';
import { type ApplyOutcome, ConnectorError } from '../types.js';

/** Which Ping API a request went to. */
export type Surface = 'pingone' | 'aic';

export const SURFACE_TITLE: Record<Surface, string> = {
  pingone: 'PingOne',
  aic: 'Advanced Identity Cloud',
};

/** What was being done ("listing users") and what the caller needs for it (a PingOne role, an AIC scope). */
export interface Operation {
  surface: Surface;
  action: string;
  need: string;
}

/**
 * An HTTP answer of 400 or more: the status and the error body's code and message
 * (PingOne's `{id, code, message, details}`, or Advanced Identity Cloud's `{code, reason, message}`),
 * never the URL or the raw body.
 */
export class PingHttpError extends Error {
  override name = 'PingHttpError';
  constructor(
    readonly surface: Surface,
    readonly status: number,
    readonly code: string,
    readonly detail: string,
  ) {
    super(`${SURFACE_TITLE[surface]} answered HTTP ${status}${code ? ` ${code}` : ''}`);
  }
}

/** A token endpoint refused: the OAuth error and the first sentence of its description. */
export class PingTokenError extends Error {
  override name = 'PingTokenError';
  constructor(
    readonly surface: Surface,
    readonly status: number,
    readonly oauthError: string,
    readonly description: string,
  ) {
    super(`token request refused: HTTP ${status} ${oauthError}`);
  }
}

/** The request never got an answer (refused connection, reset, timeout). */
export class PingNetworkError extends Error {
  override name = 'PingNetworkError';
  constructor(
    readonly surface: Surface,
    readonly code: string,
  ) {
    super(`network error: ${code}`);
  }
}

function clip(text: string, max = 200): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** "HTTP 403 ACCESS_FAILED: You do not have access…": status, code and message, never a URL. */
export function reasonOf(e: PingHttpError, secrets: readonly string[]): string {
  const head = `HTTP ${e.status}${e.code ? ` ${e.code}` : ''}`;
  const detail = e.detail.replace(/https?:\/\/\S+/g, '[url]');
  return redactSecrets(clip(detail ? `${head}: ${detail}` : head), secrets);
}

export function statusOf(error: unknown): number | null {
  if (error instanceof PingHttpError || error instanceof PingTokenError) return error.status;
  if (error instanceof ConnectorError) return error.status ?? null;
  return null;
}

const CREDENTIALS: Record<Surface, string> = {
  pingone:
    'check PINGONE_ENVIRONMENT_ID, PINGONE_CLIENT_ID and PINGONE_CLIENT_SECRET, that the Worker app is enabled, and that its secret has not been rotated or revoked',
  aic: 'check PINGAIC_SERVICE_ACCOUNT_ID and PINGAIC_SERVICE_ACCOUNT_KEY, that the service account is active and its key not revoked, and that it is granted every scope in PINGAIC_SCOPES',
};

/** Maps anything the Ping client throws to a ConnectorError whose message is safe to show. */
export function toConnectorError(error: unknown, op: Operation, secrets: readonly string[]): ConnectorError {
  if (error instanceof ConnectorError) return error;
  const title = SURFACE_TITLE[op.surface];
  if (error instanceof PingTokenError) {
    const who = error.surface === 'pingone' ? "the Worker app's" : "the service account's";
    const desc = error.description ? `: ${redactSecrets(error.description, secrets)}` : '';
    return new ConnectorError(
      `${SURFACE_TITLE[error.surface]} refused ${who} token request (HTTP ${error.status} ${error.oauthError}${desc}): ${CREDENTIALS[error.surface]}.`,
      'auth',
      error.status,
    );
  }
  if (error instanceof PingNetworkError)
    return new ConnectorError(
      `Could not reach ${SURFACE_TITLE[error.surface]} while ${op.action} (${error.code}).`,
      'network',
    );
  if (error instanceof PingHttpError) {
    const reason = reasonOf(error, secrets);
    if (error.status === 401)
      return new ConnectorError(
        `${title} rejected the access token while ${op.action} (${reason}): ${CREDENTIALS[op.surface]}.`,
        'auth',
        401,
      );
    if (error.status === 403)
      return new ConnectorError(
        `${title} refused ${op.action} (${reason}): it needs ${op.need}.`,
        'forbidden',
        403,
      );
    if (error.status === 404)
      return new ConnectorError(`${title} found nothing while ${op.action} (${reason}).`, 'not_found', 404);
    if (error.status === 429)
      return new ConnectorError(
        `${title} kept rate-limiting (429) after retries while ${op.action}; try again later.`,
        'rate_limited',
        429,
      );
    return new ConnectorError(
      `${title} answered ${reason} while ${op.action}; try again later.`,
      'upstream',
      error.status,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectorError(
    `Unexpected failure while ${op.action}: ${redactSecrets(clip(message), secrets)}`,
    'upstream',
  );
}

/** A write that failed: final for 4xx other than 408 and 429, retryable otherwise. */
export function failedOutcome(error: unknown, op: Operation, secrets: readonly string[]): ApplyOutcome {
  const ce = toConnectorError(error, op, secrets);
  const status = statusOf(error);
  const retryable =
    status === null
      ? ce.kind === 'network' || ce.kind === 'rate_limited' || ce.kind === 'upstream'
      : status === 408 || status === 429 || status >= 500;
  return retryable
    ? { status: 'failed', retryable: true, error: ce.message }
    : { status: 'failed', retryable: false, error: ce.message };
}
