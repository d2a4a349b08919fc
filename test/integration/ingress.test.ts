// Ingress end to end (issue 6): one real 3-node cluster with kemu's ingress controller pod,
// judged with curl from the external-client namespace through the controller's LoadBalancer IP
// (`curl --resolve host:port:<LB IP>`), as a user of the guides would. Every wait is bounded.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KEMU, ours, ROOT, run, type Run, TestCluster, uniqueName } from '../helpers/cluster.js';
import { PATH_TABLE, rowHost, rowManifest } from '../helpers/ingress-table.js';

const c = new TestCluster(uniqueName('i'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-ing-'));
const CONFIG = path.join(ROOT, 'examples', 'three-nodes.yaml');

const deployment = (name: string, replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
`;
const service = (name: string, app: string, port = 80) => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${app}}
  ports: [{port: ${port}, targetPort: 80}]
`;

const WORKLOADS = [
  fs.readFileSync(path.join(ROOT, 'examples', 'ingress', 'apps.yaml'), 'utf8'),
  ...['p0', 'p1', 'p2', 'pdef'].map((n) => deployment(n, 1)),
  ...[0, 1, 2].map((i) => service(`svc-${i}`, `p${i}`)),
  service('svc-default', 'pdef'),
  deployment('ten', 10),
  service('ten-svc', 'ten'),
  service('empty-svc', 'nothing-has-this-label'),
].join('---\n');

const ingress = (name: string, host: string, svc: string, extra = '') => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}}
spec:
${extra}  rules:
  - host: ${host}
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: ${svc}, port: {number: 80}}}}
`;

let lbIp = '';
const podOf: Record<string, string> = {}; // pod name -> app label

test.before(async () => {
  fs.writeFileSync(path.join(tmp, 'workloads.yaml'), WORKLOADS);
  // A CA and a certificate for app.example.com signed by it: the guide's tls-secret.
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: tmp, stdio: 'ignore' });
  o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=kemu test CA', '-keyout', 'ca.key', '-out', 'ca.crt']);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=app.example.com', '-keyout', 'tls.key', '-out', 'tls.csr']);
  fs.writeFileSync(path.join(tmp, 'san.cnf'), 'subjectAltName=DNS:app.example.com\n');
  o(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', 'tls.crt']);
  const r = await c.up([path.join(tmp, 'workloads.yaml')], CONFIG);
  if (r.code !== 0) throw new Error(`kemu up failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  for (const p of (await c.json(['get', 'pods'])).items) podOf[p.metadata.name] = p.metadata.labels.app;
  lbIp = await c.until('the controller Service to get an LB IP', async () => (await c.json(['get', 'svc', 'ingress-nginx-controller', '-n', 'ingress-nginx'])).status?.loadBalancer?.ingress?.[0]?.ip, 30_000);
});

test.after.always(async (t) => {
  await c.down();
  fs.rmSync(tmp, { recursive: true, force: true });
  t.deepEqual(ours(c.name), [], 'namespaces left behind');
});

// ----------------------------------------------------------------------------------------------
// helpers

const ext = (cmd: string[], timeoutMs = 30_000): Promise<Run> => run(KEMU, ['exec', '--name', c.name, '--external', '--', ...cmd], { timeoutMs });

async function apply(yaml: string): Promise<void> {
  const r = await c.kemu(['apply', '-f', '-'], { input: yaml });
  if (r.code !== 0) throw new Error(`apply failed: ${r.stderr}`);
}

interface Req {
  host: string;
  path: string;
  https?: boolean;
  method?: string;
  args?: string[];
}
interface Answer {
  code: number;
  /** The app label of the pod that answered (from the built-in server's page), or ''. */
  app: string;
  pod: string;
  body: string;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs the requests in order in one exec from the external client; one answer each. */
async function requests(reqs: Req[]): Promise<Answer[]> {
  const lines = reqs.map((r, i) => {
    const port = r.https ? 443 : 80;
    const url = `${r.https ? 'https' : 'http'}://${r.host}${r.path}`;
    const args = ['-sS', '--max-time', '3', '--resolve', `${r.host}:${port}:${lbIp}`, '-X', r.method ?? 'GET', ...(r.args ?? []), '-w', '\\n@@code %{http_code}\\n', url];
    return `echo '@@req ${i}'; curl ${args.map(q).join(' ')} 2>&1`;
  });
  const r = await ext(['sh', '-c', lines.join('\n')], 10_000 + reqs.length * 4000);
  const out: Answer[] = [];
  for (const part of r.stdout.split('@@req ').slice(1)) {
    const body = part.slice(part.indexOf('\n') + 1);
    const code = Number(/@@code (\d+)/.exec(body)?.[1] ?? 0);
    const pod = /<title>Welcome to ([^!]+)!<\/title>/.exec(body)?.[1] ?? '';
    out.push({ code, pod, app: podOf[pod] ?? '', body });
  }
  if (out.length !== reqs.length) throw new Error(`expected ${reqs.length} answers, got ${out.length}: ${r.stdout}${r.stderr}`);
  return out;
}

const one = async (r: Req) => (await requests([r]))[0]!;

/** Waits until a request gets the wanted status code (the controller applies changes within ms; the bound is generous). */
async function until(r: Req, code: number, timeoutMs = 15_000): Promise<Answer> {
  return c.until(`${r.host}${r.path} -> ${code}`, async () => {
    const a = await one(r);
    return a.code === code ? a : undefined;
  }, timeoutMs);
}

async function ingressIp(name: string): Promise<string | undefined> {
  return (await c.json(['get', 'ingress', name])).status?.loadBalancer?.ingress?.[0]?.ip;
}

// ----------------------------------------------------------------------------------------------

test.serial('the controller runs as a pod in ingress-nginx behind a LoadBalancer Service; IngressClass nginx is the default', async (t) => {
  t.regex(lbIp, /^172\.18\.255\.\d+$/);
  const svc = await c.json(['get', 'svc', 'ingress-nginx-controller', '-n', 'ingress-nginx']);
  t.deepEqual(svc.spec.ports.map((p: any) => p.port), [80, 443]);
  t.true(svc.spec.ports.every((p: any) => p.nodePort >= 30000 && p.nodePort <= 32767));
  const pods = await c.pods('ingress-nginx');
  t.is(pods.length, 1);
  t.true(pods[0].status.conditions.some((x: any) => x.type === 'Ready' && x.status === 'True'));
  const cls = await c.json(['get', 'ingressclass', 'nginx']);
  t.is(cls.spec.controller, 'k8s.io/ingress-nginx');
  t.is(cls.metadata.annotations['ingressclass.kubernetes.io/is-default-class'], 'true');
});

test.serial("the guide's app.example.com Ingress over HTTP: /api/... reaches api pods, / reaches frontend pods; status gets the LB IP", async (t) => {
  await apply(fs.readFileSync(path.join(ROOT, 'examples', 'ingress', 'my-ingress.yaml'), 'utf8'));
  t.is(await c.until('my-ingress status', () => ingressIp('my-ingress')), lbIp);
  t.is((await c.json(['get', 'ingress', 'my-ingress'])).spec.ingressClassName, 'nginx', 'the DefaultIngressClass admission filled the class');
  await until({ host: 'app.example.com', path: '/' }, 200);
  const answers = await requests([
    ...Array.from({ length: 4 }, () => ({ host: 'app.example.com', path: '/api/users' })),
    ...Array.from({ length: 4 }, () => ({ host: 'app.example.com', path: '/' })),
    { host: 'app.example.com', path: '/apis' },
  ]);
  t.deepEqual(answers.map((a) => `${a.code} ${a.app}`), [...Array(4).fill('200 api'), ...Array(5).fill('200 frontend')]);
  t.is(new Set(answers.slice(0, 4).map((a) => a.pod)).size, 2, 'both api replicas answer');
  // The node hosting the controller answers on the http NodePort too (externalTrafficPolicy Local).
  const ctl = (await c.pods('ingress-nginx'))[0];
  const node = (await c.json(['get', 'nodes', ctl.spec.nodeName])).status.addresses.find((a: any) => a.type === 'InternalIP').address;
  const np = (await c.json(['get', 'svc', 'ingress-nginx-controller', '-n', 'ingress-nginx'])).spec.ports[0].nodePort;
  const viaNodePort = await ext(['curl', '-sS', '--max-time', '3', '-H', 'Host: app.example.com', `http://${node}:${np}/api`]);
  t.regex(viaNodePort.stdout, /Welcome to api-/);
});

test.serial("the guide's TLS Ingress (rewrite-target /, tls-secret): HTTPS verified against the secret's CA, HTTP redirected, the URI rewritten", async (t) => {
  await c.kemu(['delete', 'ingress', 'my-ingress']);
  const crt = fs.readFileSync(path.join(tmp, 'tls.crt')).toString('base64');
  const key = fs.readFileSync(path.join(tmp, 'tls.key')).toString('base64');
  await apply(`apiVersion: v1
kind: Secret
metadata: {name: tls-secret}
type: kubernetes.io/tls
data: {tls.crt: ${crt}, tls.key: ${key}}
---
${fs.readFileSync(path.join(ROOT, 'examples', 'ingress', 'app-ingress.yaml'), 'utf8')}`);
  const cacert = ['--cacert', path.join(tmp, 'ca.crt')];
  const first = await until({ host: 'app.example.com', path: '/api/users?page=2', https: true, args: cacert }, 200);
  t.is(first.app, 'api');
  const [api, front, plain, followed] = await requests([
    { host: 'app.example.com', path: '/api/users?page=2', https: true, args: [...cacert, '-v'] },
    { host: 'app.example.com', path: '/', https: true, args: cacert },
    { host: 'app.example.com', path: '/api/users', args: ['-i'] },
    { host: 'app.example.com', path: '/api/users', args: [...cacert, '-L', '--resolve', `app.example.com:443:${lbIp}`] },
  ]);
  t.is(api!.app, 'api');
  t.regex(api!.body, /subject: CN=app\.example\.com/);
  t.regex(api!.body, /SSL certificate verify ok/);
  t.is(front!.app, 'frontend');
  t.is(plain!.code, 308, 'HTTP to a TLS host is redirected (ingress-nginx ssl-redirect)');
  t.regex(plain!.body, /Location: https:\/\/app\.example\.com\/api\/users/i);
  t.is(followed!.app, 'api');
  // rewrite-target: / sends the whole URI as "/", the query string kept: the api pod's access log says so.
  const logs = await Promise.all(Object.entries(podOf).filter(([, app]) => app === 'api').map(([pod]) => c.kemu(['logs', pod])));
  t.regex(logs.map((l) => l.stdout).join(''), /"GET \/\?page=2 HTTP\/1\.1" 200/);
});

test.serial('hosts without a certificate get the self-signed default; headers: X-Forwarded-*, Host and the client headers arrive', async (t) => {
  await apply(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: headers}
spec:
  rules:
  - host: headers.test
    http: {paths: [{path: /headers, pathType: Exact, backend: {service: {name: svc-0, port: {number: 80}}}}]}
`);
  const a = await until({ host: 'headers.test', path: '/headers', https: true, args: ['-k', '-v', '-H', 'X-Custom: kept', '-A', 'kemu-test/1'] }, 200);
  t.regex(a.body, /subject: O=Acme Co; CN=Kubernetes Ingress Controller Fake Certificate/);
  const h = JSON.parse(/^\{".*\}/m.exec(a.body)?.[0] ?? '{}');
  t.is(h.host, 'headers.test');
  t.is(h['x-custom'], 'kept');
  t.is(h['user-agent'], 'kemu-test/1');
  t.is(h['x-forwarded-for'], '172.18.0.1', "the external client's address (externalTrafficPolicy Local keeps it)");
  t.is(h['x-real-ip'], '172.18.0.1');
  t.is(h['x-forwarded-proto'], 'https');
  t.is(h['x-forwarded-host'], 'headers.test');
  t.is(h['x-forwarded-port'], '443');
  t.regex(h['x-request-id'], /^[0-9a-f]{32}$/);
});

test.serial('the documented pathType table, row by row, against the live controller', async (t) => {
  await apply(PATH_TABLE.map((row, i) => rowManifest(row, i)).join('---\n'));
  await until({ host: rowHost(PATH_TABLE.length - 1), path: PATH_TABLE.at(-1)!.request }, 200);
  const answers = await requests(PATH_TABLE.map((row, i) => ({ host: rowHost(i), path: row.request })));
  PATH_TABLE.forEach((row, i) => {
    const want = row.match === null ? '404 ' : `200 ${row.match === 'default' ? 'pdef' : `p${row.match}`}`;
    t.is(`${answers[i]!.code} ${answers[i]!.app}`, want, `row ${i + 1}: ${row.kind} ${row.paths.map((p) => p.path).join(', ')} <- ${row.request}`);
  });
});

test.serial('wildcard host matches one label only; an unknown host gets 404', async (t) => {
  await apply(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: host-rules}
spec:
  rules:
  - host: "*.foo.com"
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-0, port: {number: 80}}}}]}
  - host: foo.bar.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: svc-1, port: {number: 80}}}}]}
`);
  await until({ host: 'foo.bar.com', path: '/' }, 200);
  const a = await requests(['foo.bar.com', 'bar.foo.com', 'baz.bar.foo.com', 'foo.com', 'subdomain.bar.com'].map((host) => ({ host, path: '/' })));
  t.deepEqual(a.map((x) => `${x.code} ${x.app}`), ['200 p1', '200 p0', '404 ', '404 ', '404 ']);
});

test.serial('defaultBackend catches the rest (every method, any host); removed, unknown hosts get 404 again', async (t) => {
  await apply(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: default-backend}
spec:
  defaultBackend:
    service: {name: svc-default, port: {number: 80}}
`);
  await until({ host: 'nothing.test', path: '/' }, 200);
  const a = await requests(['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].map((method) => ({ host: 'nothing.test', path: '/some/sub/path', method })));
  t.deepEqual(a.map((x) => `${x.code} ${x.app}`), Array(5).fill('200 pdef'));
  await c.kemu(['delete', 'ingress', 'default-backend']);
  await until({ host: 'nothing.test', path: '/' }, 404);
  t.pass();
});

test.serial('a backend Service without endpoints, or missing, gives 503', async (t) => {
  await apply(ingress('empty', 'empty.test', 'empty-svc') + '---\n' + ingress('missing', 'missing.test', 'no-such-service'));
  const a = await until({ host: 'empty.test', path: '/' }, 503);
  t.regex(a.body, /503 Service Temporarily Unavailable/);
  t.is((await one({ host: 'missing.test', path: '/' })).code, 503);
});

test.serial('100 requests to a 10-replica backend reach all 10 pods', async (t) => {
  await apply(ingress('lb', 'lb.test', 'ten-svc'));
  await until({ host: 'lb.test', path: '/' }, 200);
  const a = await requests(Array.from({ length: 100 }, () => ({ host: 'lb.test', path: '/' })));
  t.true(a.every((x) => x.code === 200 && x.app === 'ten'));
  t.is(new Set(a.map((x) => x.pod)).size, 10);
});

test.serial('an Ingress of another class gets no address and no traffic', async (t) => {
  await apply(ingress('other-class', 'other.test', 'svc-0', '  ingressClassName: other\n') + '---\n' + ingress('same-time', 'same.test', 'svc-0', '  ingressClassName: nginx\n'));
  // Its twin of our class gets its address; by then the other one would have had it too.
  await c.until('same-time status', () => ingressIp('same-time'));
  await until({ host: 'same.test', path: '/' }, 200);
  t.is(await ingressIp('other-class'), undefined);
  t.is((await one({ host: 'other.test', path: '/' })).code, 404);
});

test.serial('changing an Ingress takes effect without restarting the controller', async (t) => {
  const before = (await c.pods('ingress-nginx'))[0];
  await apply(ingress('change', 'change.test', 'svc-0'));
  t.is((await until({ host: 'change.test', path: '/' }, 200)).app, 'p0');
  await apply(ingress('change', 'change.test', 'svc-1'));
  await c.until('the new backend to answer', async () => (await one({ host: 'change.test', path: '/' })).app === 'p1', 15_000);
  // A class change takes it away, address included.
  await apply(ingress('change', 'change.test', 'svc-1', '  ingressClassName: other\n'));
  await until({ host: 'change.test', path: '/' }, 404);
  await c.until('the address to be withdrawn', async () => (await ingressIp('change')) === undefined, 15_000);
  const after = (await c.pods('ingress-nginx'))[0];
  t.is(after.metadata.uid, before.metadata.uid);
  t.is(after.status.containerStatuses[0].restartCount, 0);
});
