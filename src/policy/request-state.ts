import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../domain/principal.js';
import type { RequestStateLedger } from '../store/request-states.js';
import { digestOf } from './audit.js';

/** What a tool binds into the state it hands the client (signed, readable by the client: never secrets). */
export type StateBinding = Record<string, string | number | boolean>;

/**
 * A requestState the pipeline refuses: not issued by this server, expired, issued to another
 * principal, for another call, or already used. Answered as a JSON-RPC -32602 error (the
 * 2026-07-28 spec: state that fails verification is rejected), audited as refused.
 */
export class RequestStateRefusal extends Error {
  override name = 'RequestStateRefusal';
  constructor(
    readonly reason: 'malformed' | 'signature' | 'expired' | 'principal' | 'call' | 'replayed' | 'content',
    message: string,
  ) {
    super(message);
  }
}

/** The call a state belongs to: who makes it, which tool, with which (parsed) arguments. */
export interface StateCall {
  principal: Principal;
  tool: string;
  args: unknown;
}

interface Payload {
  /** Format version. */
  v: 1;
  /** Nonce: the single-use key. */
  n: string;
  /** Keyed digest of the principal's whole binding (id, role, reviewer ids, interactive host). */
  p: string;
  /** Tool name. */
  t: string;
  /** Digest of the call's parsed arguments. */
  a: string;
  /** Expiry, epoch milliseconds. */
  e: number;
  /** The tool's own binding (e.g. the batch's content hash). */
  b: StateBinding;
}

const PREFIX = 'as1';
const MAX_LENGTH = 4096;

/**
 * Opaque requestState for multi-round-trip calls: `as1.<payload>.<mac>`, base64url, the MAC
 * an HMAC-SHA256 under the store's key. Bound to the principal, the tool and a digest of the
 * arguments, with a short expiry; single use is enforced in the store when a state is
 * accepted. The payload is signed, not encrypted: it holds digests and ids, never secrets.
 */
export class RequestStateCodec {
  private keyCache: Buffer | null = null;

  constructor(
    private readonly ledger: RequestStateLedger,
    private readonly ttlMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private key(): Buffer {
    this.keyCache ??= this.ledger.key();
    return this.keyCache;
  }

  private mac(body: string): Buffer {
    return createHmac('sha256', this.key()).update(`attest.requestState.v1\0${body}`).digest();
  }

  private principalDigest(p: Principal): string {
    const binding = JSON.stringify([p.id, p.role, [...p.reviewer_ids].sort(), p.interactive_host === true]);
    return createHmac('sha256', this.key())
      .update(`attest.requestState.principal\0${binding}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /** Seals a state for this call; returns the wire string and when it expires. */
  mint(call: StateCall, bind: StateBinding): { state: string; expiresAt: Date } {
    const expiresAt = new Date(this.now().getTime() + this.ttlMs);
    const payload: Payload = {
      v: 1,
      n: randomBytes(16).toString('base64url'),
      p: this.principalDigest(call.principal),
      t: call.tool,
      a: digestOf(call.args ?? {}),
      e: expiresAt.getTime(),
      b: bind,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return { state: `${PREFIX}.${body}.${this.mac(body).toString('base64url')}`, expiresAt };
  }

  /**
   * Checks a state echoed by the client for this call and consumes it; returns the tool's
   * binding. Throws RequestStateRefusal saying what is wrong, in that order: not ours,
   * expired, another principal, another call, already used.
   */
  accept(wire: unknown, call: StateCall): StateBinding {
    const notOurs = (reason: 'malformed' | 'signature') =>
      new RequestStateRefusal(reason, 'the requestState was not issued by this server');
    if (typeof wire !== 'string' || wire.length > MAX_LENGTH) throw notOurs('malformed');
    const parts = wire.split('.');
    if (parts.length !== 3 || parts[0] !== PREFIX || !parts[1] || !parts[2]) throw notOurs('malformed');
    const [, body, sig] = parts as [string, string, string];
    const given = Buffer.from(sig, 'base64url');
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw notOurs('signature');
    let p: Payload;
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload;
    } catch {
      throw notOurs('malformed');
    }
    if (p.v !== 1 || typeof p.n !== 'string' || typeof p.e !== 'number' || typeof p.b !== 'object' || !p.b) {
      throw notOurs('malformed');
    }
    const now = this.now();
    if (p.e <= now.getTime()) {
      throw new RequestStateRefusal('expired', `the requestState expired at ${new Date(p.e).toISOString()}`);
    }
    if (p.p !== this.principalDigest(call.principal)) {
      throw new RequestStateRefusal('principal', 'the requestState was issued to another principal');
    }
    if (p.t !== call.tool || p.a !== digestOf(call.args ?? {})) {
      throw new RequestStateRefusal(
        'call',
        'the requestState was issued for another call (another tool or other arguments)',
      );
    }
    if (!this.ledger.consume(p.n, p.t, new Date(p.e), now)) {
      throw new RequestStateRefusal('replayed', 'the requestState was already used');
    }
    return p.b;
  }
}
