// The real /usr/bin/kubectl (Google's dispatcher with kubectl 1.32 inside) against a kemu
// cluster through the kubeconfig `kemu up` writes: HTTPS on loopback with a bearer token. Each
// test gets a fresh HOME (so no discovery or HTTP cache carries over) and its own namespace.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { daemonPid, run, TestCluster, uniqueName, type Run } from '../helpers/cluster.js';

const KUBECTL = '/usr/bin/kubectl';
const c = new TestCluster(uniqueName('k'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-kubectl-'));
let kubeconfig = '';

/** A kubectl runner with its own fresh HOME. */
function kubectlFor(): (args: string[], opts?: { input?: string; env?: Record<string, string> }) => Promise<Run> {
  const home = fs.mkdtempSync(path.join(tmp, 'home-'));
  return (args, opts = {}) => run(KUBECTL, args, { input: opts.input, timeoutMs: 60_000, env: { HOME: home, KUBECONFIG: kubeconfig, ...(opts.env ?? {}) } });
}

function file(name: string, text: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
}

// The seed guides' manifests (nextgen-app Service and Deployment, an Ingress, a NetworkPolicy).
const APP = (ns: string, opts: { ports: number[]; level: string }) => `
apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nextgen-app
  namespace: ${ns}
spec:
  replicas: 2
  selector:
    matchLabels: {app: nextgen-app}
  template:
    metadata:
      labels: {app: nextgen-app}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
${opts.ports.map((p) => `        - containerPort: ${p}`).join('\n')}
        env:
        - name: MODE
          value: demo
        - name: LEVEL
          value: "${opts.level}"
---
apiVersion: v1
kind: Service
metadata:
  name: app-service
  namespace: ${ns}
spec:
  selector:
    app: nextgen-app
  ports:
  - port: 80
    targetPort: 3000
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: app-ingress
  namespace: ${ns}
spec:
  ingressClassName: nginx
  rules:
  - host: learn.nextgenplayground.org
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: app-service
            port:
              number: 80
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web-to-api
  namespace: ${ns}
spec:
  podSelector:
    matchLabels: {app: api}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {app: web}
    ports:
    - protocol: TCP
      port: 3000
`;

test.before(async () => {
  const r = await c.up([]);
  if (r.code !== 0) throw new Error(`kemu up failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  const k = await c.kemu(['kubeconfig']);
  if (k.code !== 0) throw new Error(`kemu kubeconfig failed: ${k.stderr}`);
  kubeconfig = k.stdout.trim();
});

test.after.always(async () => {
  await c.down();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('the kubeconfig is 0600, points at HTTPS on loopback, and kubectl talks to kemu through it', async (t) => {
  const st = fs.statSync(kubeconfig);
  t.is(st.mode & 0o777, 0o600);
  const text = fs.readFileSync(kubeconfig, 'utf8');
  t.regex(text, /server: https:\/\/127\.0\.0\.1:\d+/);
  t.regex(text, /token: \S{40,}/);
  const kubectl = kubectlFor();
  const v = await kubectl(['version']);
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /Server Version: v1\.32\.0\+kemu/);
  const pods = await kubectl(['get', 'pods', '-A']);
  t.is(pods.code, 0, pods.stderr);
  t.regex(pods.stdout, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\n/);
  t.regex(pods.stdout, /kube-system\s+coredns-/);
});

test.serial('without the kubeconfig credentials every request is refused with 401, from loopback too', async (t) => {
  const server = /server: (https:\/\/\S+)/.exec(fs.readFileSync(kubeconfig, 'utf8'))![1]!;
  for (const p of ['/version', '/api', '/api/v1/pods', '/openapi/v3']) {
    const r = await run('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `${server}${p}`]);
    t.is(r.stdout, '401', p);
  }
  const wrong = await run('curl', ['-sk', '-H', 'Authorization: Bearer not-the-token', `${server}/api/v1/pods`]);
  t.is(JSON.parse(wrong.stdout).reason, 'Unauthorized');
  const kubectl = kubectlFor();
  const r = await kubectl(['--token', 'wrong', 'get', 'pods']);
  t.not(r.code, 0);
  t.regex(r.stderr, /You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/);
  // A kubeconfig without the token (same server, same CA) gets nothing either.
  const anon = file('anon.kubeconfig', fs.readFileSync(kubeconfig, 'utf8').replace(/token: \S+/, 'token: ""'));
  const r2 = await kubectl(['get', 'pods'], { env: { KUBECONFIG: anon } });
  t.not(r2.code, 0);
  t.notRegex(r2.stdout, /coredns/);
});

test.serial('apply: created, unchanged, configured with lists merged by key; server-side apply; create twice is AlreadyExists', async (t) => {
  const kubectl = kubectlFor();
  const ns = 'ka';
  const v1 = file('app-v1.yaml', APP(ns, { ports: [3000, 8080], level: '1' }));
  const a1 = await kubectl(['apply', '-f', v1]);
  t.is(a1.code, 0, a1.stderr);
  t.is(
    a1.stdout,
    `namespace/${ns} created\ndeployment.apps/nextgen-app created\nservice/app-service created\ningress.networking.k8s.io/app-ingress created\nnetworkpolicy.networking.k8s.io/allow-web-to-api created\n`,
  );
  const a2 = await kubectl(['apply', '-f', v1]);
  t.is(a2.code, 0, a2.stderr);
  t.is(a2.stdout.split('\n').filter((l) => l.endsWith(' unchanged')).length, 5, a2.stdout);
  // A container port removed and an env var changed: kubectl sends a strategic merge patch
  // with $setElementOrder and {"$patch":"delete"} elements.
  const v2 = file('app-v2.yaml', APP(ns, { ports: [3000], level: '2' }));
  const a3 = await kubectl(['apply', '-f', v2]);
  t.is(a3.code, 0, a3.stderr);
  t.regex(a3.stdout, /deployment\.apps\/nextgen-app configured/);
  t.regex(a3.stdout, /service\/app-service unchanged/);
  const d = JSON.parse((await kubectl(['get', 'deploy', 'nextgen-app', '-n', ns, '-o', 'json'])).stdout);
  const ctr = d.spec.template.spec.containers[0];
  t.deepEqual(ctr.ports, [{ containerPort: 3000, protocol: 'TCP' }]);
  t.deepEqual(ctr.env, [{ name: 'MODE', value: 'demo' }, { name: 'LEVEL', value: '2' }]);
  const svc = JSON.parse((await kubectl(['get', 'svc', 'app-service', '-n', ns, '-o', 'json'])).stdout);
  // The server-defaulted protocol survives the merge.
  t.deepEqual(svc.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 3000 }]);
  t.is((await kubectl(['apply', '-f', v2])).stdout.split('\n').filter((l) => l.endsWith(' unchanged')).length, 5);

  // Server-side apply: create, then drop a key the same manager applied before.
  const cm1 = file('cm1.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-cfg, namespace: ${ns}}\ndata: {a: "1", b: "2"}\n`);
  const cm2 = file('cm2.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-cfg, namespace: ${ns}}\ndata: {a: "1", c: "3"}\n`);
  const s1 = await kubectl(['apply', '--server-side', '-f', cm1]);
  t.is(s1.code, 0, s1.stderr);
  t.is(s1.stdout, 'configmap/web-cfg serverside-applied\n');
  const s2 = await kubectl(['apply', '--server-side', '-f', cm2]);
  t.is(s2.code, 0, s2.stderr);
  const cm = JSON.parse((await kubectl(['get', 'cm', 'web-cfg', '-n', ns, '-o', 'json'])).stdout);
  t.deepEqual(cm.data, { a: '1', c: '3' });
  const ssaDeploy = await kubectl(['apply', '--server-side', '-f', v2]);
  t.is(ssaDeploy.code, 0, ssaDeploy.stderr);
  t.regex(ssaDeploy.stdout, /deployment\.apps\/nextgen-app serverside-applied/);

  const c1 = await kubectl(['create', '-f', cm1]);
  t.is(c1.code, 1);
  t.is(c1.stderr.trim(), `Error from server (AlreadyExists): error when creating "${cm1}": configmaps "web-cfg" already exists`);
  const fresh = file('cm-new.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: created-once, namespace: ${ns}}\ndata: {k: v}\n`);
  t.is((await kubectl(['create', '-f', fresh])).stdout, 'configmap/created-once created\n');
  const again = await kubectl(['create', '-f', fresh]);
  t.is(again.code, 1);
  t.regex(again.stderr, /Error from server \(AlreadyExists\): .*configmaps "created-once" already exists/);
});

test.serial('get prints the real apiserver columns for pods, svc, endpoints, endpointslices, ingress, networkpolicy (-A and -o wide); describe svc lists the endpoints', async (t) => {
  const kubectl = kubectlFor();
  const ns = 'ka';
  const w = await kubectl(['wait', '--for=condition=Ready', 'pod', '-l', 'app=nextgen-app', '-n', ns, '--timeout=60s']);
  t.is(w.code, 0, w.stderr);
  const r = await kubectl(['get', 'pods,svc,endpoints,endpointslices,ingress,networkpolicy', '-A']);
  t.is(r.code, 0, r.stderr);
  const headers = r.stdout.split('\n').filter((l) => l.startsWith('NAMESPACE'));
  t.deepEqual(
    headers.map((h) => h.split(/\s{2,}/)),
    [
      ['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
      ['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
      ['NAMESPACE', 'NAME', 'ENDPOINTS', 'AGE'],
      ['NAMESPACE', 'NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
      ['NAMESPACE', 'NAME', 'CLASS', 'HOSTS', 'ADDRESS', 'PORTS', 'AGE'],
      ['NAMESPACE', 'NAME', 'POD-SELECTOR', 'AGE'],
    ],
  );
  t.regex(r.stdout, /ka\s+service\/app-service\s+ClusterIP\s+10\.\d+\.\d+\.\d+\s+<none>\s+80\/TCP\s+\d+s/);
  t.regex(r.stdout, /ka\s+ingress\.networking\.k8s\.io\/app-ingress\s+nginx\s+learn\.nextgenplayground\.org\s+\S*\s*80\s+\d+s/);
  t.regex(r.stdout, /ka\s+networkpolicy\.networking\.k8s\.io\/allow-web-to-api\s+app=api\s+\d+s/);
  const wide = await kubectl(['get', 'pods,svc', '-n', ns, '-o', 'wide']);
  const wh = wide.stdout.split('\n').filter((l) => l.startsWith('NAME'));
  t.deepEqual(wh[0]!.split(/\s{2,}/), ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
  t.deepEqual(wh[1]!.split(/\s{2,}/), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
  t.regex(wide.stdout, /pod\/nextgen-app-\S+\s+1\/1\s+Running\s+0\s+\S+\s+10\.244\.\d+\.\d+\s+\S+-control-plane\s+<none>\s+<none>/);
  t.regex(wide.stdout, /service\/app-service .* app=nextgen-app/);

  const pods = JSON.parse((await kubectl(['get', 'pods', '-n', ns, '-l', 'app=nextgen-app', '-o', 'json'])).stdout).items;
  t.is(pods.length, 2);
  const d = await kubectl(['describe', 'svc', 'app-service', '-n', ns]);
  t.is(d.code, 0, d.stderr);
  const eps = /Endpoints:\s+(\S+)/.exec(d.stdout)![1]!.split(',').sort();
  t.deepEqual(eps, pods.map((p: any) => `${p.status.podIP}:3000`).sort());
  t.regex(d.stdout, /IP Families:\s+IPv4/);
  t.regex(d.stdout, /TargetPort:\s+3000\/TCP/);
  // Events tell the story: the Service's endpoints, the pods' scheduling and start.
  t.regex(d.stdout, /Normal\s+EndpointsSynced\s+.*kemu\s+2 endpoints ready/);
  const pd = await kubectl(['describe', 'pod', pods[0].metadata.name, '-n', ns]);
  t.regex(pd.stdout, /Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned ka\//);
  t.regex(pd.stdout, /Normal\s+Started\s+.*kubelet\s+Started container web/);
  const ev = await kubectl(['get', 'events', '-n', ns]);
  t.deepEqual(ev.stdout.split('\n')[0]!.split(/\s{2,}/), ['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
  t.regex(ev.stdout, /Normal\s+PolicyApplied\s+networkpolicy\/allow-web-to-api/);
});

test.serial('get pods -w shows a pod appearing and going away; delete -f waits until it is gone', async (t) => {
  const kubectl = kubectlFor();
  const ns = 'kw';
  const nsFile = file('kw-ns.yaml', `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}\n`);
  t.is((await kubectl(['apply', '-f', nsFile])).code, 0);
  const home = fs.mkdtempSync(path.join(tmp, 'home-w-'));
  const watcher = spawn(KUBECTL, ['get', 'pods', '-n', ns, '-w'], { env: { ...process.env, HOME: home, KUBECONFIG: kubeconfig } });
  let out = '';
  watcher.stdout.on('data', (b) => (out += String(b)));
  watcher.stderr.on('data', (b) => (out += String(b)));
  try {
    // kubectl prints nothing for an empty list under -w; give it time to list and start watching.
    await new Promise((r) => setTimeout(r, 2000));
    t.is(watcher.exitCode, null, out);
    const podFile = file('kw-pod.yaml', `apiVersion: v1\nkind: Pod\nmetadata: {name: tmp1, namespace: ${ns}}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, infinity]}]\n`);
    t.is((await kubectl(['apply', '-f', podFile])).code, 0);
    await c.until('the pod to show Running in the watch', async () => /tmp1\s+1\/1\s+Running/.test(out), 30_000);
    const del = await kubectl(['delete', '-f', podFile]);
    t.is(del.code, 0, del.stderr);
    t.is(del.stdout, 'pod "tmp1" deleted\n');
    // delete waited: the pod is gone when it returns.
    const gone = await kubectl(['get', 'pod', 'tmp1', '-n', ns]);
    t.regex(gone.stderr, /pods "tmp1" not found/);
    await c.until('the watch to show it terminating', async () => /tmp1\s+\S+\s+Terminating/.test(out), 15_000);
    // The stream stays open: the watcher is still running.
    t.is(watcher.exitCode, null);
    t.regex(out, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
  } finally {
    watcher.kill('SIGTERM');
  }
});

test.serial('scale deployment/x --replicas=5 and wait --for=condition=Ready', async (t) => {
  const kubectl = kubectlFor();
  const s = await kubectl(['scale', 'deployment/nextgen-app', '--replicas=5', '-n', 'ka']);
  t.is(s.code, 0, s.stderr);
  t.is(s.stdout, 'deployment.apps/nextgen-app scaled\n');
  await c.until('5 pods', async () => JSON.parse((await kubectl(['get', 'pods', '-n', 'ka', '-l', 'app=nextgen-app', '-o', 'json'])).stdout).items.length === 5);
  const w = await kubectl(['wait', '--for=condition=Ready', 'pod', '-l', 'app=nextgen-app', '-n', 'ka', '--timeout=60s']);
  t.is(w.code, 0, w.stderr);
  t.is(w.stdout.trim().split('\n').filter((l) => l.endsWith('condition met')).length, 5);
  const d = await kubectl(['get', 'deploy', 'nextgen-app', '-n', 'ka']);
  await c.until('the deployment to report 5/5', async () => /nextgen-app\s+5\/5\s+5\s+5/.test((await kubectl(['get', 'deploy', 'nextgen-app', '-n', 'ka'])).stdout));
  t.regex(d.stdout, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
});

test.serial('invalid manifests get the apiserver kind of error and nothing is half-applied', async (t) => {
  const kubectl = kubectlFor();
  const bad = file('bad-svc.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: bad-svc, namespace: ka}\nspec:\n  selector: {app: x}\n  ports: [{port: 70000, targetPort: 80}]\n');
  const r = await kubectl(['apply', '-f', bad]);
  t.is(r.code, 1);
  t.regex(r.stderr, /The Service "bad-svc" is invalid: spec\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive/);
  t.regex((await kubectl(['get', 'svc', 'bad-svc', '-n', 'ka'])).stderr, /services "bad-svc" not found/);
  // An invalid change to an existing object leaves it as it was.
  const before = JSON.parse((await kubectl(['get', 'svc', 'app-service', '-n', 'ka', '-o', 'json'])).stdout);
  const badUpdate = file('bad-update.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: app-service, namespace: ka}\nspec:\n  selector: {app: nextgen-app}\n  ports: [{port: 80, targetPort: 3000, protocol: TCPX}]\n');
  const u = await kubectl(['apply', '-f', badUpdate]);
  t.is(u.code, 1);
  t.regex(u.stderr, /spec\.ports\[0\]\.protocol: Unsupported value: "TCPX": supported values: "SCTP", "TCP", "UDP"/);
  const after = JSON.parse((await kubectl(['get', 'svc', 'app-service', '-n', 'ka', '-o', 'json'])).stdout);
  t.is(after.metadata.resourceVersion, before.metadata.resourceVersion);
  t.deepEqual(after.spec, before.spec);
  // Unknown fields: a strict decoding error (kubectl sends fieldValidation=Strict).
  const typo = file('typo.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo, namespace: ka}\ndatta: {a: b}\n');
  const s = await kubectl(['apply', '-f', typo]);
  t.is(s.code, 1);
  t.regex(s.stderr, /strict decoding error: unknown field "datta"/);
  t.regex((await kubectl(['get', 'cm', 'typo', '-n', 'ka'])).stderr, /configmaps "typo" not found/);
  // A stale resourceVersion is a 409 Conflict.
  const stale = { ...before, metadata: { ...before.metadata, resourceVersion: '1' } };
  const rep = await kubectl(['replace', '-f', '-'], { input: JSON.stringify(stale) });
  t.is(rep.code, 1);
  t.regex(rep.stderr, /Error from server \(Conflict\).*the object has been modified; please apply your changes to the latest version and try again/);
  // --dry-run=server validates and persists nothing.
  const dry = file('dry.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry, namespace: ka}\ndata: {a: b}\n');
  t.is((await kubectl(['apply', '-f', dry, '--dry-run=server'])).stdout, 'configmap/dry created (server dry run)\n');
  t.regex((await kubectl(['get', 'cm', 'dry', '-n', 'ka'])).stderr, /not found/);
});

test.serial('a daemon killed with kill -9 and started again has lost no object, pods keep their IPs, curl between pods works', async (t) => {
  const kubectl = kubectlFor();
  const client = file('client.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: ka}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, infinity]}]\n');
  t.is((await kubectl(['apply', '-f', client])).code, 0);
  t.is((await kubectl(['wait', '--for=condition=Ready', 'pod/client', '-n', 'ka', '--timeout=60s'])).code, 0);
  const names = async () => (await kubectl(['get', 'deploy,rs,pods,svc,endpoints,endpointslices,ingress,netpol,cm', '-A', '-o', 'name'])).stdout.split('\n').sort();
  const ips = async () => {
    const items = JSON.parse((await kubectl(['get', 'pods', '-A', '-o', 'json'])).stdout).items as any[];
    return Object.fromEntries(items.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p.status.podIP]));
  };
  const svcs = async () => Object.fromEntries((JSON.parse((await kubectl(['get', 'svc', '-A', '-o', 'json'])).stdout).items as any[]).map((s) => [s.metadata.name, s.spec.clusterIP]));
  const namesBefore = await names();
  const ipsBefore = await ips();
  const svcsBefore = await svcs();
  const rvBefore = JSON.parse((await kubectl(['get', 'svc', 'app-service', '-n', 'ka', '-o', 'json'])).stdout).metadata.resourceVersion;
  const pid = daemonPid(c.name)!;
  t.truthy(pid);
  process.kill(pid, 'SIGKILL');
  await c.until('the daemon to die', async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  const up = await c.kemu(['up', '--wait', '--timeout', '90s'], { timeoutMs: 120_000 });
  t.is(up.code, 0, up.stderr);
  t.not(daemonPid(c.name), pid);
  // The same kubeconfig still works (same port, certificate and token).
  await c.until('pods back with IPs', async () => {
    const now = await ips();
    return Object.keys(ipsBefore).every((k) => now[k]);
  }, 60_000);
  t.deepEqual(await names(), namesBefore);
  t.deepEqual(await ips(), ipsBefore);
  t.deepEqual(await svcs(), svcsBefore);
  const svc = JSON.parse((await kubectl(['get', 'svc', 'app-service', '-n', 'ka', '-o', 'json'])).stdout);
  t.is(svc.metadata.resourceVersion, rvBefore);
  const w = await kubectl(['wait', '--for=condition=Ready', 'pod', '--all', '-n', 'ka', '--timeout=60s']);
  t.is(w.code, 0, w.stderr);
  const target = Object.entries(ipsBefore).find(([k]) => k.startsWith('ka/nextgen-app'))!;
  const direct = await c.exec('client', ['curl', '-sS', '--max-time', '5', `http://${target[1]}:3000/hostname`], { namespace: 'ka' });
  t.is(direct.code, 0, direct.stderr);
  t.is(direct.stdout, target[0].split('/')[1]);
  const viaSvc = await c.exec('client', ['curl', '-sS', '--max-time', '5', `http://${svcsBefore['app-service']}/hostname`], { namespace: 'ka' });
  t.is(viaSvc.code, 0, viaSvc.stderr);
  t.regex(viaSvc.stdout, /^nextgen-app-/);
});
