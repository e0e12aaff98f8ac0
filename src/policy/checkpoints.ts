import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { AuditLog } from '../store/audit.js';

/**
 * Signed checkpoints of the audit chain's head. The hash chain shows that no entry was
 * changed, removed or reordered, but not that the newest entries were not cut off together
 * with the chain's tail. A checkpoint (sequence number and hash, signed with an Ed25519 key
 * kept outside the store) appended every N entries to a sink the server can only append to
 * lets `attest audit verify --checkpoints` prove the log still reaches every checkpoint.
 */

/** Where checkpoints go and how often. */
export interface CheckpointSettings {
  /** PEM (PKCS#8) Ed25519 private key, outside the store. */
  keyFile: string;
  /** A file path (opened append-only) or an https:// URL (POSTed JSON). */
  sink: string;
  /** A checkpoint every this many entries. */
  every: number;
}

/** One checkpoint line. */
export interface Checkpoint {
  v: 1;
  seq: number;
  hash: string;
  at: string;
  key_id: string;
  sig: string;
}

const PREFIX = 'attest-audit-checkpoint/1';

function payload(c: Pick<Checkpoint, 'seq' | 'hash' | 'at'>): Buffer {
  return Buffer.from(`${PREFIX}\n${c.seq}\n${c.hash}\n${c.at}`, 'utf8');
}

/** A short fingerprint of the public key, to tell keys apart. */
export function keyId(publicKey: KeyObject): string {
  const raw = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Reads an Ed25519 private key file; the message names the file, never its content. */
export function readSigningKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(
      `audit checkpoint key ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}); create one with: attest audit keygen --key ${path}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new CheckpointError(`audit checkpoint key ${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CheckpointError(
      `audit checkpoint key ${path} is a ${key.asymmetricKeyType} key; it must be Ed25519`,
    );
  }
  return key;
}

/** Reads a public key (or derives it from a private key file) for verifying checkpoints. */
export function readVerifyKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`key ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const key = /PRIVATE KEY/.test(text) ? createPublicKey(createPrivateKey(text)) : createPublicKey(text);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw new CheckpointError(`key ${path} is not an Ed25519 PEM key`);
  }
}

/** Creates a new Ed25519 key file (never overwriting one); returns the public key PEM and its id. */
export function generateSigningKey(path: string): { publicKeyPem: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new CheckpointError(`${path} already exists; it is not overwritten`);
    throw new CheckpointError(`${path} cannot be written (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}

/** Signs and appends checkpoints of an audit log. */
export class CheckpointWriter {
  private readonly keyId: string;

  constructor(
    private readonly key: KeyObject,
    private readonly settings: CheckpointSettings,
    private readonly onError: (message: string) => void = () => {},
    private readonly now: () => Date = () => new Date(),
  ) {
    this.keyId = keyId(createPublicKey(key));
  }

  static fromSettings(settings: CheckpointSettings, onError?: (message: string) => void): CheckpointWriter {
    return new CheckpointWriter(readSigningKey(settings.keyFile), settings, onError);
  }

  /** Writes a checkpoint of entry `seq` when it is due one (every N entries). */
  maybe(log: AuditLog, seq: number): void {
    if (seq % this.settings.every !== 0) return;
    const hash = log.hashAt(seq);
    if (hash !== null) this.write(seq, hash);
  }

  /** Writes a checkpoint of the log's current head now (e.g. at shutdown); returns it. */
  writeHead(log: AuditLog): Checkpoint | null {
    const head = log.head();
    return head ? this.write(head.seq, head.hash) : null;
  }

  private write(seq: number, hash: string): Checkpoint {
    const at = this.now().toISOString();
    const c: Checkpoint = {
      v: 1,
      seq,
      hash,
      at,
      key_id: this.keyId,
      sig: sign(null, payload({ seq, hash, at }), this.key).toString('base64'),
    };
    const line = `${JSON.stringify(c)}\n`;
    if (/^https?:\/\//i.test(this.settings.sink)) {
      void fetch(this.settings.sink, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: line,
        signal: AbortSignal.timeout(10_000),
      })
        .then((r) => {
          if (!r.ok) this.onError(`audit checkpoint ${seq}: the sink answered HTTP ${r.status}`);
        })
        .catch((e: unknown) =>
          this.onError(`audit checkpoint ${seq}: the sink could not be reached (${(e as Error).name})`),
        );
    } else {
      try {
        appendFileSync(this.settings.sink, line, { flag: 'a' });
      } catch (e) {
        this.onError(
          `audit checkpoint ${seq}: ${this.settings.sink} cannot be appended to (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    }
    return c;
  }
}

/** What checking a log against its checkpoints found. */
export interface CheckpointReport {
  ok: boolean;
  checkpoints: number;
  /** The highest checkpointed sequence number. */
  latest: number | null;
  problems: string[];
}

/**
 * Checks the log against checkpoint lines: each line's signature, that the entry it names
 * still exists (the log was not cut below it) and still has the checkpointed hash.
 */
export function verifyCheckpoints(log: AuditLog, text: string, publicKey: KeyObject): CheckpointReport {
  const problems: string[] = [];
  const id = keyId(publicKey);
  let n = 0;
  let latest: number | null = null;
  const head = log.head();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let c: Checkpoint;
    try {
      c = JSON.parse(line) as Checkpoint;
      if (
        c.v !== 1 ||
        !Number.isInteger(c.seq) ||
        typeof c.hash !== 'string' ||
        typeof c.at !== 'string' ||
        typeof c.sig !== 'string'
      )
        throw new Error('shape');
    } catch {
      problems.push(`checkpoint line ${i + 1} is not a checkpoint`);
      continue;
    }
    n++;
    if (c.key_id !== id || !verify(null, payload(c), publicKey, Buffer.from(c.sig, 'base64'))) {
      problems.push(
        `checkpoint line ${i + 1} (entry ${c.seq}) has a signature that does not verify with this key`,
      );
      continue;
    }
    latest = Math.max(latest ?? 0, c.seq);
    const stored = log.hashAt(c.seq);
    if (stored === null) {
      problems.push(
        `entry ${c.seq} was checkpointed at ${c.at} but is no longer in the log (the log ends at ${head?.seq ?? 0}): entries were cut off`,
      );
    } else if (stored !== c.hash) {
      problems.push(`entry ${c.seq} no longer has the hash checkpointed at ${c.at}: the chain was rewritten`);
    }
  }
  return { ok: problems.length === 0, checkpoints: n, latest, problems };
}
