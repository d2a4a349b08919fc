// Services end to end (issue 3): one real 3-node cluster, judged with curl and nc run inside
// pods and in the external-client namespace. Every wait is bounded.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { daemonPid, KEMU, ours, ROOT, run, type Run, TestCluster, uniqueName } from '../helpers/cluster.js';

const c = new TestCluster(uniqueName('s'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-svc-'));
const CONFIG = path.join(ROOT, 'examples', 'three-nodes.yaml');
const W1 = `${c.name}-worker`;
const W2 = `${c.name}-worker2`;
const CP = `${c.name}-control-plane`;

const pod = (name: string, labels: string, node: string | undefined, ports: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, labels: {${labels}}}
spec:
${node ? `  nodeName: ${node}\n` : ''}  containers: [{name: server, image: agnhost, ports: ${ports}}]
`;

const deployment = (name: string, replicas: number, ports: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers: [{name: ${name}, image: agnhost, ports: ${ports}}]
`;

const WORKLOADS = [
  deployment('backend', 3, '[{containerPort: 8080}]'),
  deployment('scaler', 0, '[{containerPort: 8080}]'),
  deployment('udp-echo', 1, '[{containerPort: 5353, protocol: UDP}]'),
  `apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: ${W2}
  containers: [{name: shell, image: busybox, command: [sleep, infinity]}]
`,
  // The only endpoint of the externalTrafficPolicy: Local Service lives on worker 1.
  pod('local-backend', 'app: local', W1, '[{containerPort: 8080}]'),
  // One port name, two numbers.
  pod('named-a', 'app: named', W1, '[{name: web, containerPort: 8081}]'),
  pod('named-b', 'app: named', W2, '[{name: web, containerPort: 8082}]'),
  // A two-port Service whose ports each resolve on one pod only.
  pod('mp-a', 'app: multi', W1, '[{name: p-a, containerPort: 100}]'),
  pod('mp-b', 'app: multi', W2, '[{name: p-b, containerPort: 101}]'),
].join('---\n');

const SERVICES = `# The guide's Service, verbatim.
apiVersion: v1
kind: Service
metadata:
  name: backend-service
spec:
  selector:
    app: backend
  ports:
  - protocol: TCP
    port: 80
    targetPort: 8080
  type: ClusterIP
---
apiVersion: v1
kind: Service
metadata: {name: backend-nodeport}
spec:
  type: NodePort
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-lb}
spec:
  type: LoadBalancer
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: local-np}
spec:
  type: NodePort
  externalTrafficPolicy: Local
  selector: {app: local}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
---
apiVersion: v1
kind: Service
metadata: {name: scaler-svc}
spec:
  selector: {app: scaler}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: affinity-svc}
spec:
  sessionAffinity: ClientIP
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: udp-svc}
spec:
  selector: {app: udp-echo}
  ports: [{protocol: UDP, port: 5353, targetPort: 5353}]
---
apiVersion: v1
kind: Service
metadata: {name: named-svc}
spec:
  selector: {app: named}
  ports: [{port: 80, targetPort: web}]
---
apiVersion: v1
kind: Service
metadata: {name: multi-svc}
spec:
  selector: {app: multi}
  ports:
  - {name: a, port: 80, targetPort: p-a}
  - {name: b, port: 81, targetPort: p-b}
`;

let servicesApplied: Run | undefined;
const nodeIps: Record<string, string> = {};

test.before(async () => {
  fs.writeFileSync(path.join(tmp, 'workloads.yaml'), WORKLOADS);
  fs.writeFileSync(path.join(tmp, 'services.yaml'), SERVICES);
  const r = await c.up([path.join(tmp, 'workloads.yaml')], CONFIG);
  if (r.code !== 0) throw new Error(`kemu up failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  for (const n of (await c.json(['get', 'nodes'])).items) {
    nodeIps[n.metadata.name] = n.status.addresses.find((a: any) => a.type === 'InternalIP').address;
  }
  // Applied apart from the workloads so that each test below fails on its own while Services
  // are missing, instead of the whole file failing in this hook.
  servicesApplied = await c.kemu(['apply', '-f', path.join(tmp, 'services.yaml')]);
});

test.after.always(async (t) => {
  await c.down();
  fs.rmSync(tmp, { recursive: true, force: true });
  t.deepEqual(ours(c.name), [], 'namespaces left behind');
  t.false(fs.existsSync(`/run/kemu/${c.name}`), 'state dir left behind');
});

// ----------------------------------------------------------------------------------------------
// helpers

const ext = (cmd: string[], timeoutMs = 30_000): Promise<Run> => run(KEMU, ['exec', '--name', c.name, '--external', '--', ...cmd], { timeoutMs });

const curlArgs = (url: string, maxTime = 2) => ['curl', '-sS', '--max-time', String(maxTime), url];

async function svc(name: string): Promise<any> {
  return c.json(['get', 'svc', name]);
}

async function vip(name: string): Promise<string> {
  const s = await svc(name);
  if (!/^10\.(9[6-9]|1[01]\d)\.\d+\.\d+$/.test(s.spec?.clusterIP ?? '')) throw new Error(`service ${name} has clusterIP ${s.spec?.clusterIP}`);
  return s.spec.clusterIP;
}

async function podsOf(app: string): Promise<any[]> {
  return (await c.json(['get', 'pods', '-l', `app=${app}`])).items;
}

const isReady = (p: any) => p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True');

/** Runs `n` curls inside one pod (one exec) and returns one answer per line ('' for a failed curl). */
async function curlLoop(podName: string, url: string, n: number): Promise<string[]> {
  const script = `for i in $(seq ${n}); do curl -sS --max-time 2 '${url}' 2>/dev/null; echo; done`;
  const r = await c.exec(podName, ['sh', '-c', script], { timeoutMs: n * 3000 + 10_000 });
  return r.stdout.split('\n').slice(0, n);
}

/** Waits until a curl from `from` (a pod, or 'external') to `url` answers, and returns the answer. */
async function answered(from: string, url: string, timeoutMs = 20_000): Promise<string> {
  return c.until(`${from} -> ${url} to answer`, async () => {
    const r = from === 'external' ? await ext(curlArgs(url)) : await c.exec(from, curlArgs(url));
    return r.code === 0 ? r.stdout : undefined;
  }, timeoutMs);
}

// ----------------------------------------------------------------------------------------------

test.serial('all Services of the manifest apply', (t) => {
  t.truthy(servicesApplied);
  t.is(servicesApplied!.code, 0, servicesApplied!.stderr);
  for (const n of ['backend-service', 'backend-nodeport', 'backend-lb', 'local-np', 'scaler-svc', 'affinity-svc', 'udp-svc', 'named-svc', 'multi-svc']) {
    t.regex(servicesApplied!.stdout, new RegExp(`service/${n} created`));
  }
});

test.serial("the guide's backend-service: reached by VIP from another pod, every replica answers, the backend sees the client pod's IP", async (t) => {
  const ip = await vip('backend-service');
  const backends = (await podsOf('backend')).map((p: any) => p.metadata.name).sort();
  t.is(backends.length, 3);
  const first = await answered('client', `http://${ip}/hostname`);
  t.true(backends.includes(first), first);
  const answers = await curlLoop('client', `http://${ip}/hostname`, 30);
  t.deepEqual(answers.filter((a) => !backends.includes(a)), [], 'every curl reaches a backend');
  t.deepEqual([...new Set(answers)].sort(), backends);
  const client = await c.pod('client');
  const seen = await c.exec('client', curlArgs(`http://${ip}:80/clientip`));
  t.is(seen.code, 0, seen.stderr);
  t.is(seen.stdout.split(':')[0], client.status.podIP);
});

test.serial('NodePort 30080 answers from the external client on every node IP', async (t) => {
  t.is(Object.keys(nodeIps).length, 3);
  const backends = (await podsOf('backend')).map((p: any) => p.metadata.name);
  for (const [node, ip] of Object.entries(nodeIps)) {
    t.regex(ip, /^172\.18\.0\.\d+$/);
    const h = await answered('external', `http://${ip}:30080/hostname`);
    t.true(backends.includes(h), `${node} (${ip}:30080) answered ${h}`);
  }
});

test.serial('externalTrafficPolicy Cluster: a NodePort on a node without endpoints forwards, the backend sees that node IP', async (t) => {
  // The control plane carries no backend pod, so the connection must leave it SNATed.
  const cpIp = nodeIps[CP]!;
  const seen = await answered('external', `http://${cpIp}:30080/clientip`);
  const src = seen.split(':')[0]!;
  t.regex(src, /^172\.18\.0\.\d+$/);
  t.not(src, '172.18.0.1', 'the external client IP must be masqueraded');
  t.is(src, cpIp);
});

test.serial('LoadBalancer: an IP from the pool in status.loadBalancer.ingress, reached from the external client', async (t) => {
  const s = await c.until('an LB ingress IP', async () => (await svc('backend-lb')).status?.loadBalancer?.ingress?.[0]?.ip);
  t.regex(s, /^172\.18\.255\.\d+$/);
  const backends = (await podsOf('backend')).map((p: any) => p.metadata.name);
  const h = await answered('external', `http://${s}/hostname`);
  t.true(backends.includes(h), h);
});

test.serial('externalTrafficPolicy Local: the backend sees the external client IP; nodes without a local endpoint drop', async (t) => {
  const seen = await answered('external', `http://${nodeIps[W1]}:30081/clientip`);
  t.is(seen.split(':')[0], '172.18.0.1');
  for (const node of [W2, CP]) {
    const r = await ext(curlArgs(`http://${nodeIps[node]}:30081/clientip`));
    t.is(r.code, 28, `${node}: expected a timeout (28), got ${r.code}: ${r.stdout}${r.stderr}`);
  }
});

test.serial('a Service with no endpoints refuses at once; scaled 0 -> 1 it answers without restarting anything', async (t) => {
  const ip = await vip('scaler-svc');
  const pid = daemonPid(c.name);
  // curl 7.88 prints the errno ("Connection refused") only in its -v trace.
  const script = `s=$(date +%s%N); curl -v -sS --max-time 5 http://${ip}/hostname; rc=$?; e=$(date +%s%N); echo "rc=$rc ms=$(( (e - s) / 1000000 ))"`;
  const r = await c.exec('client', ['sh', '-c', script]);
  const m = /rc=(\d+) ms=(\d+)/.exec(r.stdout);
  t.truthy(m, r.stdout + r.stderr);
  t.is(Number(m![1]), 7, r.stderr);
  t.regex(r.stderr, /Connection refused/);
  t.true(Number(m![2]) < 1000, `refused after ${m![2]} ms`);
  t.log(`refused after ${m![2]} ms`);
  t.is((await c.kemu(['scale', 'deployment/scaler', '--replicas', '1'])).code, 0);
  const h = await answered('client', `http://${ip}/hostname`, 30_000);
  const pods = await podsOf('scaler');
  t.deepEqual(pods.map((p: any) => p.metadata.name), [h]);
  t.is(pods[0].status.containerStatuses[0].restartCount, 0);
  t.is(await vip('scaler-svc'), ip);
  t.is(daemonPid(c.name), pid);
});

test.serial('sessionAffinity ClientIP: 20 curls land on one endpoint; None spreads them', async (t) => {
  const sticky = await vip('affinity-svc');
  await answered('client', `http://${sticky}/hostname`);
  const a = await curlLoop('client', `http://${sticky}/hostname`, 20);
  t.false(a.includes(''), a.join(','));
  t.is(new Set(a).size, 1, a.join(','));
  const plain = await vip('backend-service');
  const b = await curlLoop('client', `http://${plain}/hostname`, 20);
  t.false(b.includes(''), b.join(','));
  t.true(new Set(b).size > 1, b.join(','));
});

test.serial('hairpin: a backend pod reaches itself through its own Service', async (t) => {
  const ip = await vip('backend-service');
  const me = (await podsOf('backend'))[0].metadata.name;
  const script = `for i in $(seq 40); do h=$(curl -sS --max-time 2 http://${ip}/hostname); echo "$h"; [ "$h" = "${me}" ] && exit 0; done; exit 1`;
  const r = await c.exec(me, ['sh', '-c', script], { timeoutMs: 150_000 });
  t.is(r.code, 0, `${me} never reached itself: ${r.stdout} ${r.stderr}`);
  t.true(r.stdout.split('\n').includes(me));
});

test.serial('UDP through a Service keeps working from the same source port when the serving pod is replaced', async (t) => {
  const ip = await vip('udp-svc');
  const ask = async () => (await c.exec('client', ['sh', '-c', `printf hostname | nc -u -p 12345 -w 1 ${ip} 5353`])).stdout.trim();
  const [old] = await podsOf('udp-echo');
  const first = await c.until('a UDP answer', async () => (await ask()) || undefined);
  t.is(first, old.metadata.name);
  t.is((await c.kemu(['delete', 'pod', old.metadata.name, '--grace-period', '0'])).code, 0);
  const fresh = await c.until('a replacement udp-echo pod Ready', async () => {
    const p = (await podsOf('udp-echo')).find((x: any) => x.metadata.name !== old.metadata.name && isReady(x));
    return p?.metadata.name;
  });
  const t0 = Date.now();
  const got = await c.until(`the same source port to reach ${fresh}`, async () => ((await ask()) === fresh ? fresh : undefined), 10_000).catch(() => undefined);
  t.is(got, fresh, `no answer from ${fresh} within 10 s of it being Ready (last answer: ${await ask()})`);
  t.log(`switched after ${Date.now() - t0} ms`);
});

test.serial('a named targetPort resolves per pod; a two-port Service routes each port independently', async (t) => {
  const named = await vip('named-svc');
  await answered('client', `http://${named}/hostname`);
  const a = await curlLoop('client', `http://${named}/hostname`, 20);
  t.false(a.includes(''), a.join(','));
  t.deepEqual([...new Set(a)].sort(), ['named-a', 'named-b']);
  const multi = await vip('multi-svc');
  await answered('client', `http://${multi}:80/hostname`);
  await answered('client', `http://${multi}:81/hostname`);
  t.deepEqual([...new Set(await curlLoop('client', `http://${multi}:80/hostname`, 8))], ['mp-a']);
  t.deepEqual([...new Set(await curlLoop('client', `http://${multi}:81/hostname`, 8))], ['mp-b']);
});

test.serial('ping to a ClusterIP gets no reply and no ICMP error', async (t) => {
  const ip = await vip('backend-service');
  const r = await c.exec('client', ['ping', '-c', '2', '-W', '1', ip]);
  t.not(r.code, 0);
  t.regex(r.stdout, /100% packet loss/);
  t.notRegex(r.stdout + r.stderr, /Unreachable/i);
});

test.serial('invalid Services are refused naming the field; valid ones in the same file apply', async (t) => {
  const f = path.join(tmp, 'bad-services.yaml');
  fs.writeFileSync(
    f,
    `apiVersion: v1
kind: Service
metadata: {name: valid-one}
spec:
  selector: {app: backend}
  ports: [{port: 8000, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: dup-nodeport}
spec:
  type: NodePort
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: port-too-big}
spec:
  selector: {app: backend}
  ports: [{port: 70000, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: bad-selector}
spec:
  selector: {app: "bad value!"}
  ports: [{port: 80, targetPort: 8080}]
`,
  );
  const r = await c.kemu(['apply', '-f', f]);
  t.is(r.code, 1);
  t.regex(r.stdout, /service\/valid-one created/);
  t.regex(r.stderr, /dup-nodeport[^\n]*spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/);
  t.regex(r.stderr, /port-too-big[^\n]*spec\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive/);
  t.regex(r.stderr, /bad-selector[^\n]*spec\.selector: Invalid value: "bad value!"/);
  t.is((await c.kemu(['get', 'svc', 'valid-one'])).code, 0);
  for (const n of ['dup-nodeport', 'port-too-big', 'bad-selector']) t.not((await c.kemu(['get', 'svc', n])).code, 0, n);
  await c.kemu(['delete', 'svc', 'valid-one']);
});

test.serial('kemu get svc shows the kubectl columns', async (t) => {
  const ip = await vip('backend-service');
  const np = await vip('backend-nodeport');
  const lb = (await svc('backend-lb')).status?.loadBalancer?.ingress?.[0]?.ip;
  const r = await c.kemu(['get', 'svc']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
  const row = (name: string) => lines.find((l) => l.split(/\s+/)[0] === name) ?? '';
  const q = (s: string) => s.replace(/\./g, '\\.');
  t.regex(row('kubernetes'), /^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP\s+\d+[smhd]/);
  t.regex(row('backend-service'), new RegExp(`^backend-service\\s+ClusterIP\\s+${q(ip)}\\s+<none>\\s+80/TCP\\s+\\d+[smhd]`));
  t.regex(row('backend-nodeport'), new RegExp(`^backend-nodeport\\s+NodePort\\s+${q(np)}\\s+<none>\\s+80:30080/TCP\\s+`));
  t.regex(row('backend-lb'), new RegExp(`^backend-lb\\s+LoadBalancer\\s+10\\.\\S+\\s+${q(lb ?? 'missing')}\\s+80:3\\d{4}/TCP\\s+`));
  t.regex(row('udp-svc'), /^udp-svc\s+ClusterIP\s+10\.\S+\s+<none>\s+5353\/UDP\s+/);
  t.regex(row('multi-svc'), /^multi-svc\s+ClusterIP\s+10\.\S+\s+<none>\s+80\/TCP,81\/TCP\s+/);
  const wide = await c.kemu(['get', 'svc', 'backend-service', '-o', 'wide']);
  t.regex(wide.stdout, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR\n/);
  t.regex(wide.stdout.trimEnd().split('\n')[1] ?? '', /^backend-service\s.*\sapp=backend$/);
});

test.serial('kemu conntrack shows a live flow with the original VIP and the translated endpoint', async (t) => {
  const ip = await vip('backend-service');
  const client = await c.pod('client');
  const backendIps = (await podsOf('backend')).map((p: any) => p.status.podIP);
  // A TCP connection from a known source port, held open for a few seconds: nc waits on stdin
  // while sleep runs, then (-N) shuts its side down; the built-in server closes in turn.
  const held = c.exec('client', ['sh', '-c', `sleep 4 | nc -N -p 40123 ${ip} 80`], { timeoutMs: 20_000 });
  try {
    const line = await c.until('a live conntrack flow from the client with the VIP and an endpoint', async () => {
      const r = await c.kemu(['conntrack']);
      return r.stdout.split('\n').find((l) => l.includes(`${client.status.podIP}:40123`) && l.includes(`${ip}:80`) && backendIps.some((b: string) => l.includes(`${b}:8080`)));
    }, 3_000);
    t.regex(line, /ESTABLISHED/);
    t.log(line);
    const byPod = await c.kemu(['conntrack', '--pod', 'client']);
    t.true(byPod.stdout.includes(`${ip}:80`), byPod.stdout + byPod.stderr);
  } finally {
    await held;
  }
});

test.serial('a pod started after a Service gets its {SVC}_SERVICE_HOST and _PORT variables', async (t) => {
  const ip = await vip('backend-service');
  const f = path.join(tmp, 'env-reader.yaml');
  fs.writeFileSync(
    f,
    `apiVersion: v1
kind: Pod
metadata: {name: env-reader}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, 'echo "HOST=$BACKEND_SERVICE_SERVICE_HOST"; echo "SPORT=$BACKEND_SERVICE_SERVICE_PORT"; echo "PORT=$BACKEND_SERVICE_PORT"; echo "K8S=$KUBERNETES_SERVICE_HOST"; sleep infinity']
`,
  );
  t.is((await c.kemu(['apply', '-f', f])).code, 0);
  const logs = await c.until('env-reader logs', async () => {
    const r = await c.kemu(['logs', 'env-reader']);
    return r.stdout.includes('K8S=') ? r.stdout : undefined;
  });
  t.regex(logs, new RegExp(`^HOST=${ip.replace(/\./g, '\\.')}$`, 'm'));
  t.regex(logs, /^SPORT=80$/m);
  t.regex(logs, new RegExp(`^PORT=tcp://${ip.replace(/\./g, '\\.')}:80$`, 'm'));
  t.regex(logs, /^K8S=10\.96\.0\.1$/m);
  await c.kemu(['delete', 'pod', 'env-reader', '--grace-period', '0']);
});
