// The resolver's informer against a fake API on a unix socket: list, then watch events change
// the view; a watch that ends relists (so a deletion missed meanwhile is not kept forever).
import test from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ClusterView } from '../../src/addons/dns/view.js';
import { ClusterWatcher } from '../../src/addons/dns/watch.js';

const svc = (name: string, ip: string) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ port: 80 }] } });

test('list + watch build the view; a closed watch relists', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-watch-'));
  const sock = path.join(dir, 'api.sock');
  let services = [svc('a', '10.96.0.20')];
  const watches: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const items = url.pathname === '/api/v1/namespaces' ? [{ metadata: { name: 'default' } }] : url.pathname === '/api/v1/services' ? services : [];
    if (url.searchParams.get('watch')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('');
      if (url.pathname === '/api/v1/services') watches.push(res);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ metadata: { resourceVersion: '5' }, items }));
  });
  await new Promise<void>((r) => server.listen(sock, () => r()));
  const views: ClusterView[] = [];
  const w = new ClusterWatcher(sock, 'cluster.local', (v) => views.push(v), () => {});
  w.start();
  const until = async (what: string, fn: () => boolean) => {
    const end = Date.now() + 3000;
    while (!fn()) {
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  try {
    await until('synced view with a', () => views.some((v) => v.synced && v.services.has('default/a')));
    await until('services watch', () => watches.length === 1);
    watches[0]!.write(JSON.stringify({ type: 'ADDED', object: svc('b', '10.96.0.21') }) + '\n');
    await until('b added', () => w.view.byClusterIP.get('10.96.0.21')?.name === 'b');
    watches[0]!.write(JSON.stringify({ type: 'DELETED', object: svc('a', '10.96.0.20') }) + '\n');
    await until('a deleted', () => !w.view.services.has('default/a'));
    // The server drops the watch; meanwhile b went away. The relist must notice.
    services = [svc('c', '10.96.0.22')];
    watches[0]!.end();
    await until('relisted', () => w.view.services.has('default/c') && !w.view.services.has('default/b'));
    t.pass();
  } finally {
    w.stop();
    for (const r of watches) r.destroy();
    server.close();
    server.closeAllConnections();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
