import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as OktaSdk from '@okta/okta-sdk-nodejs';
import { ConnectorError } from '../types.js';
import { isLoopback, type OktaConfig } from './config.js';

/** How hard the client tries before giving up on one request. */
export interface RetryPolicy {
  /** 429 retries, each after the X-Rate-Limit-Reset the SDK reads (the SDK's own logic). */
  rateLimitRetries: number;
  /** Retries of a GET that answered 5xx or failed on the network. */
  serverErrorRetries: number;
  /** First back-off for those retries; doubles each time. */
  retryDelayMs: number;
  /** Cap on one request including its 429 waits (0: none). */
  requestTimeoutMs: number;
}

/** The slice of a node-fetch Response this module reads (the SDK types leave it untyped). */
interface FetchResponse {
  status: number;
  text(): Promise<string>;
}

/** The request fields this module reads (the SDK's RequestOptions extends node-fetch types it does not ship). */
interface Request {
  url?: string;
  method?: string;
  headers?: Record<string, string>;
  startTime?: Date;
  attestAttempt?: number;
}

const TRANSIENT = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);

/**
 * The SDK, loaded on first use: it takes over a second to load, and most runs
 * (stdio servers, `attest confirm`, snapshot imports) never talk to Okta.
 */
let sdk: typeof OktaSdk | undefined;
function loadSdk(): typeof OktaSdk {
  sdk ??= createRequire(import.meta.url)('@okta/okta-sdk-nodejs') as typeof OktaSdk;
  return sdk;
}

export type OktaRequestExecutor = InstanceType<ReturnType<typeof defineExecutor>>;
let Executor: ReturnType<typeof defineExecutor> | undefined;

/** A counting, retrying executor for one org (see defineExecutor). */
export function createOktaExecutor(origin: string, policy: RetryPolicy): OktaRequestExecutor {
  Executor ??= defineExecutor(loadSdk().DefaultRequestExecutor);
  return new Executor(origin, policy);
}

/**
 * The SDK's DefaultRequestExecutor (429s retried after X-Rate-Limit-Reset) plus:
 * a request counter, bounded retries of GETs on 5xx and network errors, and a
 * guard that refuses to send the credentials to any origin but the org's (the
 * SDK follows Link headers verbatim).
 */
function defineExecutor(Base: typeof OktaSdk.DefaultRequestExecutor) {
  return class OktaRequestExecutor extends Base {
    /** Every HTTP request sent, retries and token requests included. */
    requests = 0;

    constructor(
      private readonly origin: string,
      private readonly policy: RetryPolicy,
    ) {
      super({ maxRetries: policy.rateLimitRetries, requestTimeout: policy.requestTimeoutMs });
      this.on('request', () => {
        this.requests++;
      });
    }

    override fetch(request: Request): ReturnType<OktaSdk.DefaultRequestExecutor['fetch']> {
      let target: string;
      try {
        target = new URL(String(request.url)).origin;
      } catch {
        target = '';
      }
      if (target !== this.origin) {
        return Promise.reject(
          new ConnectorError('Okta returned a link to another host; the sync stopped there.', 'upstream'),
        );
      }
      const attempt = request.attestAttempt ?? 0;
      const idempotent = String(request.method ?? 'GET').toUpperCase() === 'GET';
      const canRetry = idempotent && attempt < this.policy.serverErrorRetries;
      const again = async () => {
        await sleep(this.policy.retryDelayMs * 2 ** attempt);
        const { startTime: _s, ...rest } = request;
        return this.fetch({ ...rest, headers: { ...request.headers }, attestAttempt: attempt + 1 });
      };
      return super.fetch(request).then(
        async (response: FetchResponse) => {
          if (response.status >= 500 && canRetry) {
            await response.text().catch(() => '');
            return again();
          }
          if (response.status >= 400 && String(request.url).endsWith('/oauth2/v1/token')) {
            throw await tokenRequestError(String(request.url), response);
          }
          return response;
        },
        (error: unknown) => {
          const code = String((error as { code?: unknown }).code ?? '');
          if (canRetry && TRANSIENT.has(code)) return again();
          throw error;
        },
      );
    }
  };
}

/**
 * The SDK does not check the status of its token request (oauth.js calls a
 * missing `Http.errorFilter`), so a refused request would turn into
 * "Bearer undefined" and a puzzling 401 later. Fail here instead, with the
 * OAuth error code and description (they carry no secret).
 */
async function tokenRequestError(url: string, response: FetchResponse): Promise<Error> {
  let body: { error?: unknown; error_description?: unknown } = {};
  try {
    body = JSON.parse(await response.text()) as typeof body;
  } catch {
    // Not JSON: the status alone says enough.
  }
  return Object.assign(new Error('token request refused'), {
    status: response.status,
    url,
    errorCode: typeof body.error === 'string' ? body.error : '',
    errorSummary: typeof body.error_description === 'string' ? body.error_description : '',
  });
}

/**
 * An SDK client with every setting passed explicitly (so no okta.yaml or
 * OKTA_CLIENT_* variable can leak in), no response cache, and the counting
 * executor.
 */
export function createOktaClient(config: OktaConfig, executor: OktaRequestExecutor): OktaSdk.Client {
  const { Client } = loadSdk();
  const common = { orgUrl: config.orgUrl, requestExecutor: executor, cacheMiddleware: null };
  const auth = config.auth;
  const client =
    auth.mode === 'SSWS'
      ? new Client({
          ...common,
          authorizationMode: 'SSWS',
          token: auth.token,
          clientId: '',
          privateKey: '',
          keyId: '',
        })
      : new Client({
          ...common,
          authorizationMode: 'PrivateKey',
          token: '',
          clientId: auth.clientId,
          scopes: auth.scopes,
          // A fresh copy: the SDK writes `alg` into the JWK it is given.
          privateKey: { ...auth.privateJwk } as Record<string, unknown>,
          keyId: auth.keyId,
        });
  // The SDK picks up HTTPS_PROXY from the environment; a proxy never applies to a loopback org.
  if (isLoopback(new URL(config.orgUrl).hostname)) client.http.agent = undefined;
  return client;
}
