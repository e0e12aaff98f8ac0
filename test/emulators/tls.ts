/**
 * The loopback certificate the Graph emulator serves. Node reads NODE_EXTRA_CA_CERTS only
 * when it starts, so the certificate lives in a file made before any process that trusts
 * it starts: vitest.config.ts makes it and sets the variable for the test workers, and
 * tests hand the same variable to every CLI they spawn.
 */

import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EmulatorTls {
  certPath: string;
  cert: string;
  key: string;
}

const DIR = join(tmpdir(), 'attest-emulator-tls');

/** The certificate and key, generated once (self-signed, SAN 127.0.0.1 and localhost, valid ten years). */
export async function emulatorTls(): Promise<EmulatorTls> {
  const certPath = join(DIR, 'cert.pem');
  const keyPath = join(DIR, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    if (Date.parse(new X509Certificate(cert).validTo) > Date.now() + 86_400_000) {
      return { certPath, cert, key: readFileSync(keyPath, 'utf8') };
    }
  }
  const { generate } = (await import('selfsigned')) as {
    generate: (attrs: unknown, options: unknown) => Promise<{ private: string; cert: string }>;
  };
  const notBeforeDate = new Date(Date.now() - 86_400_000);
  const pems = await generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 3650 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  mkdirSync(DIR, { recursive: true });
  // Written aside and renamed, so a process reading at the same moment never sees half a file.
  const tag = `${process.pid}-${Date.now()}`;
  writeFileSync(`${keyPath}.${tag}`, pems.private, { mode: 0o600 });
  writeFileSync(`${certPath}.${tag}`, pems.cert);
  renameSync(`${keyPath}.${tag}`, keyPath);
  renameSync(`${certPath}.${tag}`, certPath);
  return { certPath, cert: pems.cert, key: pems.private };
}
