// The process of an ingress-controller pod (image registry.k8s.io/ingress-nginx/controller
// without a command). Watches Ingresses, IngressClasses, Services, EndpointSlices and Secrets
// through the daemon's API, serves HTTP on 80 and HTTPS on 443 in the pod's own network
// namespace, /healthz and /metrics on 10254, and writes the controller Service's address into
// status.loadBalancer of every Ingress it owns.
//
// Configuration (container env; the daemon's bootstrap sets them):
//   KEMU_API_SOCKET           the daemon's API socket (required)
//   KEMU_INGRESS_CLASS        class name, default nginx (--ingress-class)
//   KEMU_INGRESS_CONTROLLER   IngressClass spec.controller, default k8s.io/ingress-nginx (--controller-class)
//   KEMU_PUBLISH_SERVICE      ns/name whose LB address is published, default ingress-nginx/ingress-nginx-controller
//   KEMU_INGRESS_ACCESS_LOG=0 no access log
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { KObject } from '../../store/store.js';
import { indexServices, resolveAll } from './backends.js';
import { CertStore } from './certs.js';
import { ownedBy } from './classes.js';
import { generateDefaultCert } from './default-cert.js';
import { apiRequest, Informer, type Snapshot } from '../informer.js';
import { IngressProxy } from './proxy.js';
import { compileRoutes } from './routes.js';
import { publishedAddresses, statusChanges } from './status.js';

const RESOURCES = {
  ingresses: '/apis/networking.k8s.io/v1/ingresses',
  ingressClasses: '/apis/networking.k8s.io/v1/ingressclasses',
  services: '/api/v1/services',
  endpointSlices: '/apis/discovery.k8s.io/v1/endpointslices',
  secrets: '/api/v1/secrets',
};
type Res = keyof typeof RESOURCES;

const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);

function signalReady(): void {
  const fd = Number(process.env.KEMU_READY_FD ?? '');
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    fs.writeSync(fd, 'ready\n');
  } catch {
    /* run by hand: no control pipe */
  }
}

function listen(server: http.Server, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`${what} :${port}: ${err.message}`)));
    server.listen(port, () => resolve());
  });
}

async function main(): Promise<void> {
  const env = process.env;
  const socket = env.KEMU_API_SOCKET;
  if (!socket) throw new Error('KEMU_API_SOCKET is not set: the controller needs the daemon API to watch');
  const id = { className: env.KEMU_INGRESS_CLASS || 'nginx', controller: env.KEMU_INGRESS_CONTROLLER || 'k8s.io/ingress-nginx' };
  const publish = env.KEMU_PUBLISH_SERVICE || 'ingress-nginx/ingress-nginx-controller';

  const defaultPair = generateDefaultCert();
  const certs = new CertStore(defaultPair, log);
  const proxy = new IngressProxy(env.KEMU_INGRESS_ACCESS_LOG !== '0');
  const plain = http.createServer({ keepAliveTimeout: 75_000 }, proxy.handler('http', 80));
  const secure = https.createServer({ ...defaultPair, SNICallback: certs.sni, ALPNProtocols: ['http/1.1'], keepAliveTimeout: 75_000 }, proxy.handler('https', 443));
  // nginx's keepalive_timeout is 75 s; Node's default header timeout would cut such idle sockets.
  for (const s of [plain, secure]) s.headersTimeout = 76_000;
  plain.on('upgrade', proxy.upgrade('http', 80));
  secure.on('upgrade', proxy.upgrade('https', 443));
  await listen(plain, 80, 'http');
  await listen(secure, 443, 'https');

  let ready = false;
  let signature = '';
  const pending = new Set<string>();
  const sync = (s: Snapshot<Res>, synced: boolean): void => {
    const owned = ownedBy(id, s.ingressClasses.values());
    const mine = [...s.ingresses.values()].filter(owned);
    const table = compileRoutes(mine);
    const endpoints = resolveAll(indexServices(s.services.values(), s.endpointSlices.values()), table.targets.values(), proxy.state.endpoints);
    proxy.setState({ table, endpoints });
    certs.update(mine, s.secrets);
    const eps = [...endpoints.values()].reduce((n, e) => n + e.endpoints.length, 0);
    const sig = `${mine.map((i) => `${i.metadata.namespace}/${i.metadata.name}@${i.metadata.generation ?? i.metadata.resourceVersion}`).join(',')} ${eps}`;
    if (sig !== signature) {
      signature = sig;
      log(`I configuration: ${mine.length} ingresses of class ${id.className}, ${table.exact.size + table.wildcard.size + (table.catchAll ? 1 : 0)} hosts, ${table.targets.size} backends with ${eps} endpoints, ${certs.hosts} TLS hosts`);
    }
    if (!synced) return;
    if (!ready) {
      ready = true;
      log('I synced with the kemu API; serving');
      signalReady();
    }
    const addresses = publishedAddresses(s.services.get(publish));
    for (const ch of statusChanges(s.ingresses.values(), owned, addresses)) void writeStatus(ch.ingress, ch.loadBalancer);
  };

  const writeStatus = async (ing: KObject, loadBalancer: unknown): Promise<void> => {
    const key = `${ing.metadata.namespace}/${ing.metadata.name} ${JSON.stringify(loadBalancer)}`;
    if (pending.has(key)) return;
    pending.add(key);
    try {
      const path = `/apis/networking.k8s.io/v1/namespaces/${ing.metadata.namespace}/ingresses/${ing.metadata.name}/status`;
      await apiRequest(socket, 'PUT', path, { ...ing, status: { ...(ing.status ?? {}), loadBalancer } });
      log(`I status: ingress ${ing.metadata.namespace}/${ing.metadata.name} loadBalancer ${JSON.stringify(loadBalancer)}`);
    } catch (err) {
      log(`W status: ingress ${ing.metadata.namespace}/${ing.metadata.name}: ${(err as Error).message}`);
    } finally {
      pending.delete(key);
    }
  };

  const informer = new Informer<Res>(socket, RESOURCES, sync, (k, m) => log(`W informer ${k}: ${m}`));
  informer.start();

  const health = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.statusCode = ready ? 200 : 500;
      res.end(ready ? 'ok' : 'not synced');
    } else if (req.url === '/metrics') {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end(Object.entries(proxy.stats).map(([k, v]) => `kemu_ingress_${k}_total ${v}\n`).join(''));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  health.on('error', (err) => log(`E health :10254: ${err.message}`));
  health.listen(10254);
  log(`I kemu ingress controller (class ${id.className}, controller ${id.controller}) listening on :80 and :443, publishing ${publish}`);

  const stop = () => {
    informer.stop();
    for (const s of [plain, secure, health]) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('uncaughtException', (err) => log(`E uncaught: ${err.stack ?? err}`));
}

main().catch((err) => {
  console.error(`F kemu ingress controller: ${(err as Error).message}`);
  process.exit(1);
});
