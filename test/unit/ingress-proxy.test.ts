// The controller's proxy shell on loopback: a real node:http backend that echoes what it got,
// IngressProxy in front of it, requests with node:http. Method, path, body and headers arrive;
// the proxy's headers replace the client's; bodies stream both ways; dead endpoints are skipped.
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { indexServices, resolveAll } from '../../src/addons/ingress/backends.js';
import { IngressProxy } from '../../src/addons/ingress/proxy.js';
import { compileRoutes } from '../../src/addons/ingress/routes.js';
import type { KObject } from '../../src/store/store.js';

const servers: http.Server[] = [];
const listen = (s: http.Server) =>
  new Promise<number>((r) => {
    servers.push(s);
    s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port));
  });

let proxyPort = 0;
let backendPort = 0;
const proxy = new IngressProxy(false);

const ingress = (name: string, host: string, svc: string, extra: any = {}): KObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default', ...extra.metadata },
  spec: { rules: [{ host, http: { paths: [{ path: extra.path ?? '/', pathType: extra.pathType ?? 'Prefix', backend: { service: { name: svc, port: { number: 80 } } } }] } }], ...extra.spec },
});
const service = (name: string): KObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
const slice = (svc: string, ports: number[]): KObject =>
  ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${svc}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4', ports: [{ port: ports[0], protocol: 'TCP' }], endpoints: [{ addresses: ['127.0.0.1'] }] }) as KObject;

test.before(async () => {
  backendPort = await listen(
    http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        if (req.url === '/big') {
          res.setHeader('Content-Type', 'application/octet-stream');
          for (let i = 0; i < 64; i++) res.write(Buffer.alloc(16384, i));
          res.end();
          return;
        }
        res.setHeader('X-Backend', 'echo');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
      });
    }),
  );
  const dead = await listen(http.createServer());
  servers.pop()!.close(); // a port nobody listens on any more
  const ingresses = [
    ingress('echo', 'echo.test', 'echo'),
    ingress('flaky', 'flaky.test', 'flaky'),
    ingress('down', 'down.test', 'down'),
    ingress('empty', 'empty.test', 'empty'),
    ingress('tls', 'tls.test', 'echo', { spec: { tls: [{ hosts: ['tls.test'], secretName: 's' }] } }),
    ingress('strip', 'strip.test', 'echo', { metadata: { annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' } }, path: '/api(/|$)(.*)', pathType: 'ImplementationSpecific' }),
  ];
  const table = compileRoutes(ingresses);
  const flaky = { ...slice('flaky', [dead]), endpoints: [{ addresses: ['127.0.0.1'] }] } as KObject;
  const idx = indexServices([service('echo'), service('flaky'), service('down'), service('empty')], [slice('echo', [backendPort]), slice('down', [dead]), flaky]);
  // flaky: the dead port and the live one, so round robin meets the dead one first half the time.
  const endpoints = resolveAll(idx, table.targets.values());
  endpoints.get('default/flaky:80')!.endpoints = [{ host: '127.0.0.1', port: dead }, { host: '127.0.0.1', port: backendPort }];
  proxy.setState({ table, endpoints });
  proxyPort = await listen(http.createServer(proxy.handler('http', 80)));
});

test.after.always(() => {
  for (const s of servers) s.close();
});

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(host: string, path: string, opts: { method?: string; body?: string | Buffer[]; headers?: Record<string, string>; agent?: http.Agent } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path, method: opts.method ?? 'GET', headers: { Host: host, ...opts.headers }, agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (Array.isArray(opts.body)) {
      for (const b of opts.body) req.write(b); // no Content-Length: chunked
      req.end();
    } else req.end(opts.body);
  });
}

test('method, path, query, body and headers reach the backend; the proxy sets X-Forwarded-*', async (t) => {
  const r = await request('echo.test:80', '/a/b?c=d', { method: 'PATCH', body: '{"x":1}', headers: { 'Content-Type': 'application/json', 'X-Custom': 'yes', 'X-Forwarded-For': '6.6.6.6', 'User-Agent': 'ua/1' } });
  t.is(r.status, 200);
  t.is(r.headers['x-backend'], 'echo');
  const e = JSON.parse(r.body.toString());
  t.is(e.method, 'PATCH');
  t.is(e.url, '/a/b?c=d');
  t.is(e.body, '{"x":1}');
  t.is(e.headers.host, 'echo.test:80');
  t.is(e.headers['content-type'], 'application/json');
  t.is(e.headers['x-custom'], 'yes');
  t.is(e.headers['user-agent'], 'ua/1');
  t.is(e.headers['x-forwarded-for'], '127.0.0.1', "the client's own X-Forwarded-For is replaced (ingress-nginx's default)");
  t.is(e.headers['x-real-ip'], '127.0.0.1');
  t.is(e.headers['x-forwarded-host'], 'echo.test:80');
  t.is(e.headers['x-forwarded-proto'], 'http');
  t.is(e.headers['x-forwarded-port'], '80');
  t.regex(e.headers['x-request-id'], /^[0-9a-f]{32}$/);
});

test('a chunked upload and a 1 MiB streamed response arrive intact', async (t) => {
  const up = await request('echo.test', '/upload', { method: 'POST', body: [Buffer.from('part one, '), Buffer.from('part two')] });
  t.is(JSON.parse(up.body.toString()).body, 'part one, part two');
  const big = await request('echo.test', '/big');
  t.is(big.body.length, 64 * 16384);
  t.true(big.body.subarray(16384 * 5, 16384 * 6).every((b) => b === 5));
});

test('keep-alive: several requests share one client connection', async (t) => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set<number>();
  agent.on('free', (s) => ports.add(s.localPort!));
  for (let i = 0; i < 5; i++) t.is((await request('echo.test', '/', { agent })).status, 200);
  t.is(ports.size, 1);
  agent.destroy();
});

test('404 without a route, 503 without endpoints, 502 when every endpoint refuses, a refused endpoint is skipped', async (t) => {
  t.is((await request('nowhere.test', '/')).status, 404);
  t.is((await request('empty.test', '/')).status, 503);
  t.is((await request('down.test', '/')).status, 502);
  for (let i = 0; i < 4; i++) t.is((await request('flaky.test', '/')).status, 200, `request ${i}`);
});

test('ssl-redirect for TLS hosts over HTTP; rewrite-target with capture groups', async (t) => {
  const r = await request('tls.test', '/x?y=1');
  t.is(r.status, 308);
  t.is(r.headers.location, 'https://tls.test/x?y=1');
  const s = await request('strip.test', '/api/users/7?q=1');
  t.is(JSON.parse(s.body.toString()).url, '/users/7?q=1');
});
