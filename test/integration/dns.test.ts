// Cluster DNS end to end: kube-dns pods behind 10.96.0.10 answering real dig, nslookup and curl
// inside pods of a 3-node cluster, over UDP and TCP; forwarding to an upstream the test runs
// itself (dnsmasq in a pod) and SERVFAIL once it is gone; Services appearing and disappearing.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, TestCluster, uniqueName } from '../helpers/cluster.js';

const c = new TestCluster(uniqueName('dns'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-dns-'));
const CONFIG = path.join(ROOT, 'examples', 'three-nodes.yaml');

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: {name: production}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: backend, namespace: production}
spec:
  replicas: 2
  selector: {matchLabels: {app: backend}}
  template:
    metadata: {labels: {app: backend}}
    spec:
      containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-service, namespace: production}
spec:
  selector: {app: backend}
  ports: [{name: http, port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: production}
spec: {containers: [{name: shell, image: busybox, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {containers: [{name: shell, image: busybox, command: [sleep, infinity]}]}
---
apiVersion: v1
kind: Service
metadata: {name: database}
spec:
  clusterIP: None
  selector: {app: database}
  ports: [{name: pg, port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: database}
spec:
  serviceName: database
  replicas: 2
  selector: {matchLabels: {app: database}}
  template:
    metadata: {labels: {app: database}}
    spec:
      containers: [{name: db, image: postgres, ports: [{containerPort: 5432}]}]
---
apiVersion: v1
kind: Service
metadata: {name: ext-db}
spec: {type: ExternalName, externalName: database.default.svc.cluster.local}
---
apiVersion: v1
kind: Service
metadata: {name: ext-web}
spec: {type: ExternalName, externalName: www.example.test}
---
apiVersion: v1
kind: Namespace
metadata: {name: dns-upstream}
---
apiVersion: v1
kind: Pod
metadata: {name: upstream, namespace: dns-upstream}
spec:
  containers:
  - name: dnsmasq
    image: dnsmasq
    command: [dnsmasq, -k, -u, root, --no-resolv, --no-hosts, --pid-file=, --log-facility=-, --log-queries, --address=/example.test/192.0.2.10, --local-ttl=60]
    ports: [{containerPort: 53, protocol: UDP}]
`;

// Applied after `up --wait`: it never becomes ready, on purpose.
const UNREADY = `
apiVersion: v1
kind: Pod
metadata: {name: database-unready, labels: {app: database}}
spec:
  containers:
  - name: db
    image: postgres
    ports: [{containerPort: 5432}]
    readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}
`;

const LATE = `
apiVersion: v1
kind: Service
metadata: {name: late, namespace: production}
spec:
  selector: {app: backend}
  ports: [{port: 8080, targetPort: 80}]
`;

test.before(async () => {
  fs.writeFileSync(path.join(tmp, 'dns.yaml'), MANIFESTS);
  fs.writeFileSync(path.join(tmp, 'unready.yaml'), UNREADY);
  fs.writeFileSync(path.join(tmp, 'late.yaml'), LATE);
  const r = await c.up([path.join(tmp, 'dns.yaml')], CONFIG);
  if (r.code !== 0) throw new Error(`kemu up failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  const u = await c.kemu(['apply', '-f', path.join(tmp, 'unready.yaml')]);
  if (u.code !== 0) throw new Error(`apply failed: ${u.stderr}`);
});

test.after.always(async () => {
  await c.down();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** dig inside a pod; `args` are dig's own. */
async function dig(pod: string, args: string[], namespace = 'default'): Promise<string> {
  const r = await c.exec(pod, ['dig', '+time=3', '+tries=1', ...args], { namespace });
  return r.stdout + r.stderr;
}

async function short(pod: string, args: string[], namespace = 'default'): Promise<string[]> {
  return (await dig(pod, ['+short', ...args], namespace)).split('\n').filter(Boolean).sort();
}

function status(out: string): string {
  return /status: (\w+)/.exec(out)?.[1] ?? `no status in: ${out}`;
}

async function svcIP(name: string, ns: string): Promise<string> {
  return (await c.json(['get', 'svc', name, '-n', ns])).spec.clusterIP;
}

test.serial('kube-dns: Service at 10.96.0.10 with dns/dns-tcp/metrics ports, two coredns pods, pods resolve through it', async (t) => {
  const svc = await c.json(['get', 'svc', 'kube-dns', '-n', 'kube-system']);
  t.is(svc.spec.clusterIP, '10.96.0.10');
  t.deepEqual(
    svc.spec.ports.map((p: any) => `${p.name} ${p.port}/${p.protocol}`),
    ['dns 53/UDP', 'dns-tcp 53/TCP', 'metrics 9153/TCP'],
  );
  const pods = (await c.json(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns'])).items;
  t.is(pods.length, 2);
  t.true(pods.every((p: any) => p.status.conditions.find((x: any) => x.type === 'Ready').status === 'True'));
  const out = await dig('client', ['kubernetes.default.svc.cluster.local']);
  t.regex(out, /SERVER: 10\.96\.0\.10#53\(10\.96\.0\.10\) \(UDP\)/);
  t.regex(out, /flags: qr aa rd ra;/);
  t.regex(out, /kubernetes\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s+10\.96\.0\.1\n/);
});

test.serial('curl by short name, name.namespace and FQDN from the right namespaces; nslookup backend-service', async (t) => {
  const short1 = await c.exec('client', ['curl', '-sS', '--max-time', '5', 'http://backend-service/hostname'], { namespace: 'production' });
  t.is(short1.code, 0, short1.stderr);
  t.regex(short1.stdout, /^backend-/);
  for (const url of ['http://backend-service.production/hostname', 'http://backend-service.production.svc.cluster.local/hostname']) {
    const r = await c.exec('client', ['curl', '-sS', '--max-time', '5', url]);
    t.is(r.code, 0, `${url}: ${r.stderr}`);
    t.regex(r.stdout, /^backend-/);
  }
  // From another namespace the short name does not exist: curl cannot resolve it (exit 6),
  // at once (no upstream by default: the absolute name is REFUSED, not left to time out).
  const t0 = Date.now();
  const wrong = await c.exec('client', ['curl', '-sS', '--max-time', '5', 'http://backend-service/hostname']);
  t.is(wrong.code, 6, wrong.stderr);
  t.true(Date.now() - t0 < 2000);
  const ip = await svcIP('backend-service', 'production');
  const ns = await c.exec('client', ['nslookup', 'backend-service'], { namespace: 'production' });
  t.is(ns.code, 0, ns.stdout + ns.stderr);
  t.regex(ns.stdout, /Server:\s+10\.96\.0\.10/);
  t.regex(ns.stdout, new RegExp(`Name:\\s+backend-service\\.production\\.svc\\.cluster\\.local\\nAddress: ${ip.replace(/\./g, '\\.')}`));
});

for (const proto of ['+notcp', '+tcp']) {
  test.serial(`dig ${proto}: ClusterIP A, headless set (ready only), StatefulSet pod name, SRV, PTR, ExternalName, pod record`, async (t) => {
    const ip = await svcIP('backend-service', 'production');
    t.deepEqual(await short('client', [proto, 'backend-service.production.svc.cluster.local']), [ip]);
    const db0 = await c.pod('database-0');
    const db1 = await c.pod('database-1');
    const unready = await c.until('database-unready to run, not ready', async () => {
      const p = await c.pod('database-unready');
      return p.status?.podIP && p.status.conditions?.find((x: any) => x.type === 'Ready')?.status === 'False' ? p : undefined;
    });
    const set = await short('client', [proto, 'database.default.svc.cluster.local']);
    t.deepEqual(set, [db0.status.podIP, db1.status.podIP].sort());
    t.false(set.includes(unready.status.podIP));
    t.deepEqual(await short('client', [proto, 'database-0.database.default.svc.cluster.local']), [db0.status.podIP]);
    t.deepEqual(await short('client', [proto, 'SRV', '_http._tcp.backend-service.production.svc.cluster.local']), ['0 100 80 backend-service.production.svc.cluster.local.']);
    t.deepEqual(await short('client', [proto, 'SRV', '_pg._tcp.database.default.svc.cluster.local']), [
      '0 50 5432 database-0.database.default.svc.cluster.local.',
      '0 50 5432 database-1.database.default.svc.cluster.local.',
    ]);
    t.deepEqual(await short('client', [proto, '-x', ip]), ['backend-service.production.svc.cluster.local.']);
    t.deepEqual(await short('client', [proto, '-x', db0.status.podIP]), ['database-0.database.default.svc.cluster.local.']);
    t.deepEqual(await short('client', [proto, 'CNAME', 'ext-db.default.svc.cluster.local']), ['database.default.svc.cluster.local.']);
    const chain = (await dig('client', [proto, 'ext-db.default.svc.cluster.local'])).split('\n');
    t.true(chain.some((l) => /^ext-db\.default\.svc\.cluster\.local\.\s+30\s+IN\s+CNAME\s+database\.default\.svc\.cluster\.local\.$/.test(l)));
    t.is(chain.filter((l) => /^database\.default\.svc\.cluster\.local\.\s+30\s+IN\s+A\s/.test(l)).length, 2);
    const me = await c.pod('client', 'production');
    const dashed = me.status.podIP.replace(/\./g, '-');
    t.deepEqual(await short('client', [proto, `${dashed}.production.pod.cluster.local`]), [me.status.podIP]);
  });

  test.serial(`dig ${proto}: NXDOMAIN for a missing Service and namespace, NODATA for AAAA of an IPv4 Service`, async (t) => {
    for (const name of ['nope.default.svc.cluster.local', 'backend-service.nonamespace.svc.cluster.local']) {
      const out = await dig('client', [proto, name]);
      t.is(status(out), 'NXDOMAIN', name);
      t.regex(out, /flags: qr aa rd ra; QUERY: 1, ANSWER: 0, AUTHORITY: 1/);
      t.regex(out, /cluster\.local\.\s+30\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. \d+ 7200 1800 86400 30/);
    }
    const aaaa = await dig('client', [proto, 'AAAA', 'backend-service.production.svc.cluster.local']);
    t.is(status(aaaa), 'NOERROR');
    t.regex(aaaa, /ANSWER: 0, AUTHORITY: 1/);
  });
}

test.serial('dns-log shows the ndots:5 search expansion of one lookup, with the client pod and rcodes', async (t) => {
  await c.exec('client', ['curl', '-sS', '--max-time', '3', 'http://nothing-here/'], { namespace: 'production' });
  const want = ['nothing-here.production.svc.cluster.local.', 'nothing-here.svc.cluster.local.', 'nothing-here.cluster.local.'];
  const lines = await c.until('the expansion in dns-log', async () => {
    const r = await c.kemu(['dns-log', '-n', 'production', '--pod', 'client', '-o', 'json']);
    const qs = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((q) => q.name.startsWith('nothing-here'));
    return want.every((w) => qs.some((q) => q.name === w)) && qs.some((q) => q.name === 'nothing-here.') ? qs : undefined;
  }, 10_000);
  for (const q of lines) t.is(q.clientPod, 'production/client');
  for (const w of want) t.true(lines.some((q: any) => q.name === w && q.type === 'A' && q.rcode === 'NXDOMAIN'), w);
  const text = await c.kemu(['dns-log', '--pod', 'production/client']);
  t.regex(text.stdout, /production\/client\s+udp\s+A\s+nothing-here\.production\.svc\.cluster\.local\.\s+NXDOMAIN/);
});

test.serial('a new Service resolves as soon as it exists; a deleted one is NXDOMAIN right after', async (t) => {
  t.is(status(await dig('client', ['late.production.svc.cluster.local'])), 'NXDOMAIN');
  const t0 = Date.now();
  t.is((await c.kemu(['apply', '-f', path.join(tmp, 'late.yaml')])).code, 0);
  const ip = await svcIP('late', 'production');
  await c.until('late to resolve', async () => (await short('client', ['late.production.svc.cluster.local'])).includes(ip), 5000);
  const appeared = Date.now() - t0;
  t.true(appeared < 3000, `resolved after ${appeared} ms`);
  t.is((await c.kemu(['delete', 'svc', 'late', '-n', 'production'])).code, 0);
  const t1 = Date.now();
  await c.until('late to be NXDOMAIN', async () => status(await dig('client', ['late.production.svc.cluster.local'])) === 'NXDOMAIN', 5000);
  t.true(Date.now() - t1 < 3000);
});

test.serial('outside names go to the upstream (dnsmasq in a pod); with it gone, SERVFAIL promptly and a log line', async (t) => {
  const up = await c.pod('upstream', 'dns-upstream');
  const dep = await c.json(['get', 'deployment', 'coredns', '-n', 'kube-system']);
  const container = dep.spec.template.spec.containers[0];
  container.env = [...(container.env ?? []).filter((e: any) => e.name !== 'KEMU_DNS_UPSTREAM'), { name: 'KEMU_DNS_UPSTREAM', value: up.status.podIP }];
  delete dep.metadata.resourceVersion;
  const file = path.join(tmp, 'coredns.json');
  fs.writeFileSync(file, JSON.stringify(dep));
  t.is((await c.kemu(['apply', '-f', file])).code, 0);
  await c.until('coredns rolled over to the new upstream', async () => {
    const pods = (await c.json(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns'])).items;
    return (
      pods.length === 2 &&
      pods.every((p: any) => p.spec.containers[0].env.some((e: any) => e.value === up.status.podIP) && p.status.conditions?.find((x: any) => x.type === 'Ready')?.status === 'True')
    );
  }, 60_000);
  const eps = await c.until('kube-dns endpoints to be the new pods', async () => {
    const pods = (await c.json(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns'])).items.map((p: any) => p.status.podIP).sort();
    const slices = (await c.json(['get', 'endpointslices', '-n', 'kube-system', '-l', 'kubernetes.io/service-name=kube-dns'])).items;
    const ips = slices.flatMap((s: any) => (s.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).flatMap((e: any) => e.addresses)).sort();
    return JSON.stringify(ips) === JSON.stringify(pods) ? ips : undefined;
  }, 30_000);
  t.is(eps.length, 2);
  const fwd = await dig('client', ['www.example.test']);
  t.is(status(fwd), 'NOERROR', fwd);
  // Passed through as the upstream wrote it (dnsmasq is authoritative for --address names).
  t.regex(fwd, /www\.example\.test\.\s+60\s+IN\s+A\s+192\.0\.2\.10/);
  const fromLog = await c.kemu(['dns-log', '--pod', 'client', '-o', 'json']);
  t.true(fromLog.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).some((q) => q.name === 'www.example.test.' && q.source === 'upstream'));
  // ExternalName to an outside name: our CNAME, then the upstream's A.
  const ext = await dig('client', ['+tcp', 'ext-web.default.svc.cluster.local']);
  t.regex(ext, /ext-web\.default\.svc\.cluster\.local\.\s+30\s+IN\s+CNAME\s+www\.example\.test\./);
  t.regex(ext, /www\.example\.test\.\s+\d+\s+IN\s+A\s+192\.0\.2\.10/);
  // The upstream goes away: its address is no longer routed, the data plane says so (ICMP).
  t.is((await c.kemu(['delete', 'pod', 'upstream', '-n', 'dns-upstream', '--grace-period', '0'])).code, 0);
  const t0 = Date.now();
  const down = await dig('client', ['+time=5', 'other.example.test']);
  const took = Date.now() - t0;
  t.is(status(down), 'SERVFAIL', down);
  // ICMP host unreachable does not fail a connected UDP socket (only port unreachable does):
  // the 2 s upstream read timeout (CoreDNS forward's) decides, well before dig's 5 s.
  t.true(took < 3000, `SERVFAIL after ${took} ms`);
  // Cluster names still answer.
  t.is(status(await dig('client', ['backend-service.production.svc.cluster.local'])), 'NOERROR');
  const logs = await Promise.all(
    (await c.json(['get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-dns'])).items.map((p: any) => c.kemu(['logs', p.metadata.name, '-n', 'kube-system'])),
  );
  t.true(
    logs.some((l) => new RegExp(`\\[ERROR\\] plugin/errors: 2 other\\.example\\.test\\. A: forward to ${up.status.podIP.replace(/\./g, '\\.')}:53 failed`).test(l.stdout)),
    logs.map((l) => l.stdout).join('\n'),
  );
});
