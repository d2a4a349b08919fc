// The API for kubectl and other Kubernetes clients: HTTPS on 127.0.0.1 with kemu's own
// certificate, served only to callers presenting the cluster's bearer token. There is no
// anonymous access, from loopback either: any local user could otherwise start processes in
// pods as root through the API. (The unix socket needs no token: only root can open it.)
import https from 'node:https';
import type http from 'node:http';
import type net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Credentials } from './kubeconfig.js';

const UNAUTHORIZED = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });

export function authorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createHttpsListener(creds: Credentials, handler: http.RequestListener): https.Server {
  const server = https.createServer({ cert: creds.cert, key: creds.key, minVersion: 'TLSv1.2' }, (req, res) => {
    if (!authorized(req.headers.authorization, creds.token)) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(UNAUTHORIZED) });
      res.end(UNAUTHORIZED);
      return;
    }
    handler(req, res);
  });
  server.keepAliveTimeout = 60_000;
  return server;
}

/** Listens on 127.0.0.1:preferred if it is free, else on a free port; resolves the port. */
export async function listenLoopback(server: https.Server, preferred: number | undefined): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const onErr = (err: Error) => reject(err);
      server.once('error', onErr);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onErr);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  if (preferred) {
    try {
      return await tryPort(preferred);
    } catch {
      /* taken: any free port */
    }
  }
  return tryPort(0);
}
