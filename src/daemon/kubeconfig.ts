// The credentials of a cluster's HTTPS API and the kubeconfig that carries them, all in the
// cluster's state dir (0700) as 0600 files, kept across daemon restarts so a kubeconfig keeps
// working:
//   tls/server.crt, tls/server.key  a self-signed ECDSA P-256 certificate for 127.0.0.1
//   token                           the bearer token (32 random bytes, base64url)
//   kubeconfig                      server https://127.0.0.1:PORT, the certificate as its CA
//
// The certificate is made by the openssl CLI: Node's crypto makes keys but cannot issue X.509
// certificates, and the npm X.509 libraries that can (@peculiar/x509 and friends) pull in a
// global reflect-metadata polyfill and some twenty packages, where openssl is a Debian base
// package that setup.sh installs and that every TLS user already trusts.
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { ClusterPaths } from '../config.js';

export interface Credentials {
  cert: string;
  key: string;
  token: string;
}

export function kubeconfigPath(paths: ClusterPaths): string {
  return path.join(paths.stateDir, 'kubeconfig');
}

function tlsDir(paths: ClusterPaths): string {
  return path.join(paths.stateDir, 'tls');
}

function tokenFile(paths: ClusterPaths): string {
  return path.join(paths.stateDir, 'token');
}

function write0600(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function validCert(certFile: string): boolean {
  try {
    const c = new X509Certificate(fs.readFileSync(certFile));
    return Date.parse(c.validTo) > Date.now() + 86_400_000 && /IP Address:127\.0\.0\.1/.test(c.subjectAltName ?? '');
  } catch {
    return false;
  }
}

/** The cluster's certificate, key and token: the existing ones, or new ones. */
export function ensureCredentials(paths: ClusterPaths): Credentials {
  const dir = tlsDir(paths);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  if (!validCert(certFile) || !fs.existsSync(keyFile)) {
    const oldMask = process.umask(0o077);
    try {
      execFileSync(
        'openssl',
        [
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', keyFile, '-out', certFile, '-days', '3650',
          '-subj', `/CN=kemu-apiserver/O=kemu cluster ${paths.cluster}`,
          '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
          '-addext', 'extendedKeyUsage=serverAuth',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === 'ENOENT') throw new Error('openssl is needed to make the API server certificate: apt-get install openssl (or run scripts/setup.sh)');
      throw new Error(`openssl could not make the API server certificate: ${e.stderr?.toString() ?? e.message}`);
    } finally {
      process.umask(oldMask);
    }
    fs.chmodSync(keyFile, 0o600);
    fs.chmodSync(certFile, 0o600);
  }
  let token = '';
  try {
    token = fs.readFileSync(tokenFile(paths), 'utf8').trim();
  } catch {
    /* new */
  }
  if (token.length < 32) {
    token = randomBytes(32).toString('base64url');
    write0600(tokenFile(paths), token + '\n');
  }
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), token };
}

/** The port the last kubeconfig named, to keep it valid across restarts when it is free. */
export function previousPort(paths: ClusterPaths): number | undefined {
  try {
    const doc = YAML.parse(fs.readFileSync(kubeconfigPath(paths), 'utf8'));
    const server: string = doc?.clusters?.[0]?.cluster?.server ?? '';
    const port = Number(new URL(server).port);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

export function writeKubeconfig(paths: ClusterPaths, port: number, creds: Credentials): string {
  const name = `kemu-${paths.cluster}`;
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name, cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(creds.cert).toString('base64') } }],
    users: [{ name, user: { token: creds.token } }],
    contexts: [{ name, context: { cluster: name, user: name, namespace: 'default' } }],
    'current-context': name,
  };
  const file = kubeconfigPath(paths);
  write0600(file, YAML.stringify(doc));
  return file;
}

/** Everything this module keeps (`kemu down` removes it with the store). */
export function credentialFiles(paths: ClusterPaths): string[] {
  return [kubeconfigPath(paths), tlsDir(paths), tokenFile(paths)];
}
