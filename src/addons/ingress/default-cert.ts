// The controller's default certificate, self-signed at start like ingress-nginx's "Kubernetes
// Ingress Controller Fake Certificate". Made by the openssl command (Debian's package, the same
// OpenSSL that Node links): Node can sign but has no X.509 builder, and the npm alternatives
// either generate keys in slow pure JS and have had signature-verification CVEs (node-forge,
// behind `selfsigned`) or pull a WebCrypto/ASN.1 stack we would ship for one certificate.
// RSA 2048 like ingress-nginx's: with an EC default, OpenSSL kept serving the default
// certificate when SNI selected a Secret's RSA certificate (seen with Node 20 / OpenSSL 3.0);
// an RSA default switches correctly to RSA and EC certificates alike.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeyPair } from './certs.js';

export const FAKE_CERT_SUBJECT = '/O=Acme Co/CN=Kubernetes Ingress Controller Fake Certificate';

export function generateDefaultCert(days = 365): KeyPair {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-ingress-cert-'));
  try {
    const key = path.join(dir, 'tls.key');
    const crt = path.join(dir, 'tls.crt');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', String(days), '-subj', FAKE_CERT_SUBJECT, '-addext', 'subjectAltName=DNS:ingress.local', '-keyout', key, '-out', crt],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 },
    );
    return { cert: fs.readFileSync(crt, 'utf8'), key: fs.readFileSync(key, 'utf8') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
