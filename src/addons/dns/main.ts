// kube-dns: the process of a `coredns` pod. Watches the cluster through the daemon's API, answers
// DNS on UDP and TCP port 53 in the pod's own network namespace, forwards other names upstream,
// serves /health (8080), /ready (8181) and /metrics (9153) like CoreDNS's plugins of those names.
//
// Configuration (container env; the daemon's bootstrap sets the first one):
//   KEMU_API_SOCKET     the daemon's API socket (required unless KEMU_DNS_STATIC is set)
//   KEMU_DNS_UPSTREAM   "ip[:port],…" | unset/"/etc/resolv.conf" (CoreDNS `forward . /etc/resolv.conf`) | "none" (offline)
//   KEMU_DNS_TTL        record TTL, default 30 (kubeadm); KEMU_DNS_PODS insecure|disabled
//   KEMU_DNS_ZONE       cluster domain, default cluster.local; KEMU_DNS_PORT, default 53
//   KEMU_DNS_STATIC     a JSON file {namespaces, services, endpointSlices} instead of watching (benchmarks)
//   KEMU_DNS_LOG=0      do not report queries to the daemon
import fs from 'node:fs';
import http from 'node:http';
import { AnswerTable } from './compile.js';
import { Handler } from './handler.js';
import { Metrics } from './metrics.js';
import { QueryReporter } from './query-log.js';
import { DEFAULT_OPTIONS, type ResolveOptions } from './resolve.js';
import { DnsServer } from './server.js';
import { Forwarder, parseServer, resolvConfServers, type Server } from './upstream.js';
import { buildView, type ClusterView } from './view.js';
import { ClusterWatcher } from './watch.js';

function upstreams(spec: string | undefined): Server[] | undefined {
  const s = (spec ?? '').trim();
  if (s === 'none' || s === 'offline') return undefined;
  if (s === '' || s.startsWith('/')) {
    const file = s || '/etc/resolv.conf';
    try {
      return resolvConfServers(fs.readFileSync(file, 'utf8'));
    } catch {
      return [];
    }
  }
  return s.split(/[,\s]+/).filter(Boolean).map(parseServer);
}

function signalReady(): void {
  const fd = Number(process.env.KEMU_READY_FD ?? '');
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    fs.writeSync(fd, 'ready\n');
  } catch {
    /* no control pipe (run by hand) */
  }
}

async function main(): Promise<void> {
  const env = process.env;
  const zone = (env.KEMU_DNS_ZONE ?? 'cluster.local').replace(/\.$/, '').toLowerCase();
  const opts: ResolveOptions = {
    ...DEFAULT_OPTIONS,
    ttl: Math.max(0, Math.min(3600, Number(env.KEMU_DNS_TTL ?? 30) || 0)),
    pods: env.KEMU_DNS_PODS === 'disabled' ? 'disabled' : 'insecure',
    selfIPs: env.KEMU_POD_IP ? [env.KEMU_POD_IP] : [],
  };
  const ups = upstreams(env.KEMU_DNS_UPSTREAM);
  const forwarder = ups ? new Forwarder(ups) : undefined;
  let initial: ClusterView;
  let watcher: ClusterWatcher | undefined;
  if (env.KEMU_DNS_STATIC) {
    const objs = JSON.parse(fs.readFileSync(env.KEMU_DNS_STATIC, 'utf8'));
    initial = buildView({ namespaces: objs.namespaces ?? [], services: objs.services ?? [], endpointSlices: objs.endpointSlices ?? [] }, zone, Math.floor(Date.now() / 1000));
  } else {
    if (!env.KEMU_API_SOCKET) throw new Error('KEMU_API_SOCKET is not set: kube-dns needs the daemon API to watch');
    initial = buildView({ namespaces: [], services: [], endpointSlices: [] }, zone, 0, false);
  }
  const table = new AnswerTable(initial, opts);
  const handler = new Handler(table, forwarder);
  const metrics = new Metrics();
  const server = new DnsServer(handler, Number(env.KEMU_DNS_PORT ?? 53));
  const reporter = env.KEMU_API_SOCKET && env.KEMU_DNS_LOG !== '0' ? new QueryReporter(env.KEMU_API_SOCKET, `${env.KEMU_POD_NAMESPACE ?? 'kube-system'}/${env.KEMU_POD_NAME ?? 'kube-dns'}`) : undefined;
  server.onQuery = (e) => {
    metrics.count(e);
    reporter?.record(e);
  };
  await server.listen();
  console.log(`[INFO] kemu-dns: serving ${zone} (and in-addr.arpa, ip6.arpa) on :${server.address.udp} udp/tcp, ttl ${opts.ttl}, pods ${opts.pods}`);
  console.log(forwarder ? `[INFO] kemu-dns: forwarding other names to ${forwarder.describe() || '(no nameserver found)'}` : '[INFO] kemu-dns: offline: other names are REFUSED');
  let ready = Boolean(env.KEMU_DNS_STATIC);
  const becomeReady = () => {
    if (ready) return;
    ready = true;
    signalReady();
  };
  if (env.KEMU_DNS_STATIC) signalReady();
  else {
    watcher = new ClusterWatcher(env.KEMU_API_SOCKET!, zone, (v) => {
      table.setView(v);
      if (v.synced) becomeReady();
    });
    watcher.start();
  }
  // health (8080), ready (8181), metrics (9153): one handler, three ports, as CoreDNS's plugins.
  const web = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/health') res.end('OK');
    else if (req.url === '/ready') {
      res.statusCode = ready ? 200 : 503;
      res.end(ready ? 'OK' : 'kubernetes');
    } else if (req.url === '/metrics') {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end(metrics.render(forwarder, table.size));
    } else {
      res.statusCode = 404;
      res.end();
    }
  };
  if (!env.KEMU_DNS_STATIC) {
    for (const port of [8080, 8181, 9153]) {
      const s = http.createServer(web);
      s.on('error', (err) => console.error(`[ERROR] kemu-dns: :${port}: ${err.message}`));
      s.listen(port);
    }
  }
  handler.onError = (line) => console.log(line);
  const stop = () => {
    watcher?.stop();
    server.close();
    forwarder?.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('uncaughtException', (err) => console.error(`[ERROR] kemu-dns: uncaught: ${err.stack ?? err}`));
  if (ups && ups.length === 0) console.log('[WARNING] kemu-dns: no upstream nameserver: names outside the cluster get SERVFAIL');
}

main().catch((err) => {
  console.error(`[FATAL] kemu-dns: ${(err as Error).message}`);
  process.exit(1);
});
