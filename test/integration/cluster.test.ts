// The foundation end to end: a 3-node cluster of real namespaces and TUNs, judged with curl,
// ping, wget, tshark and ip.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { daemonPid, ours, processesIn, ROOT, run, TestCluster, uniqueName } from '../helpers/cluster.js';

const c = new TestCluster(uniqueName('c'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-it-'));
const CONFIG = path.join(ROOT, 'examples', 'three-nodes.yaml');

const PODS = `
apiVersion: v1
kind: Pod
metadata: {name: server, labels: {app: server}}
spec:
  nodeName: ${c.name}-worker
  containers:
  - name: web
    image: nginx
    ports: [{containerPort: 80}, {containerPort: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: ${c.name}-worker2
  containers:
  - name: shell
    image: busybox
    command: ["sleep", "infinity"]
    env: [{name: GREETING, value: hello}]
`;

test.before(async () => {
  fs.writeFileSync(path.join(tmp, 'pods.yaml'), PODS);
  const r = await c.up([path.join(tmp, 'pods.yaml'), path.join(ROOT, 'examples', 'hello', 'multi-container-pod.yaml')], CONFIG);
  if (r.code !== 0) throw new Error(`kemu up failed (${r.code}): ${r.stderr}\n${r.stdout}`);
});

test.after.always(async () => {
  await c.down();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.serial('a pod on one node curls a pod on another and gets its name; the server sees the real client IP', async (t) => {
  const server = await c.pod('server');
  const client = await c.pod('client');
  t.not(server.spec.nodeName, client.spec.nodeName);
  t.regex(server.status.podIP, /^10\.244\.\d+\.\d+$/);
  const r = await c.exec('client', ['curl', '-sS', '--max-time', '5', `http://${server.status.podIP}/hostname`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'server');
  const ip = await c.exec('client', ['curl', '-sS', '--max-time', '5', `http://${server.status.podIP}/clientip`]);
  t.is(ip.stdout.split(':')[0], client.status.podIP);
  const ping = await c.exec('client', ['ping', '-c', '2', '-W', '2', server.status.podIP]);
  t.is(ping.code, 0, ping.stdout + ping.stderr);
  t.regex(ping.stdout, /2 received/);
  // Routed across the data plane: TTL is one less than the sender's 64.
  t.regex(ping.stdout, /ttl=63/);
});

test.serial('UDP echo between pods', async (t) => {
  const server = await c.pod('server');
  const r = await c.exec('client', ['sh', '-c', `printf 'ping-udp' | nc -u -w 2 ${server.status.podIP} 5353`]);
  t.is(r.stdout, 'ping-udp');
});

test.serial('the pod sandbox: hostname, resolv.conf, /etc/hosts, eth0 and default route', async (t) => {
  const client = await c.pod('client');
  t.is((await c.exec('client', ['hostname'])).stdout.trim(), 'client');
  const resolv = (await c.exec('client', ['cat', '/etc/resolv.conf'])).stdout;
  t.is(resolv, 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n');
  const hosts = (await c.exec('client', ['cat', '/etc/hosts'])).stdout;
  t.true(hosts.startsWith('# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n'));
  t.true(hosts.includes(`${client.status.podIP}\tclient\n`));
  const addr = (await c.exec('client', ['ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout;
  t.regex(addr, new RegExp(`inet ${client.status.podIP.replace(/\./g, '\\.')}/24`));
  const route = (await c.exec('client', ['ip', 'route', 'show', 'default'])).stdout;
  t.regex(route, /^default via 10\.244\.\d+\.1 dev eth0/);
  t.is((await c.exec('client', ['sh', '-c', 'echo $GREETING'])).stdout.trim(), 'hello');
});

test.serial('kemu exec passes stdin, stdout and the exit code through', async (t) => {
  const cat = await c.exec('client', ['cat'], { input: 'through the pipe\n' });
  t.is(cat.stdout, 'through the pipe\n');
  const exit = await c.exec('client', ['sh', '-c', 'exit 7']);
  t.is(exit.code, 7);
});

test.serial("the guide's two-container pod: the sidecar reaches nginx on localhost and its logs show the page", async (t) => {
  const logs = await c.until('sidecar logs with the page', async () => {
    const r = await c.kemu(['logs', 'multi-container-pod', '-c', 'sidecar']);
    return r.stdout.includes('multi-container-pod') ? r.stdout : undefined;
  });
  t.regex(logs, /<title>[^<]*multi-container-pod/);
  const noContainer = await c.kemu(['logs', 'multi-container-pod']);
  t.not(noContainer.code, 0);
  t.regex(noContainer.stderr, /a container name must be specified for pod multi-container-pod, choose one of: \[nginx sidecar\]/);
});

test.serial('kemu capture writes pcapng that tshark reads, with the HTTP request on both pods by name', async (t) => {
  const server = await c.pod('server');
  const file = path.join(tmp, 'curl.pcapng');
  const cap = run(path.join(ROOT, 'bin', 'kemu'), ['capture', '--name', c.name, '--pod', 'server', '--pod', 'client', '-w', file, '--duration', '4s']);
  await new Promise((r) => setTimeout(r, 800));
  const r = await c.exec('client', ['curl', '-sS', '--max-time', '3', `http://${server.status.podIP}/echo?msg=captured`]);
  t.is(r.stdout, 'captured');
  const done = await cap;
  t.is(done.code, 0, done.stderr);
  // Both copies of a packet share one TCP stream in tshark's eyes; without this it calls the
  // second copy a retransmission and does not dissect its HTTP.
  const ts = await run('tshark', ['-o', 'tcp.analyze_sequence_numbers:FALSE', '-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'frame.interface_name', '-e', 'http.request.uri', '-e', 'ip.ttl']);
  t.is(ts.code, 0, ts.stderr);
  const lines = ts.stdout.trim().split('\n').sort();
  t.deepEqual(lines, ['default/client/eth0\t/echo?msg=captured\t64', 'default/server/eth0\t/echo?msg=captured\t63']);
  const desc = await run('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.interface_description', '-Y', 'ip']);
  const descs = [...new Set(desc.stdout.trim().split('\n'))].sort();
  t.deepEqual(descs, [`k8s.ns=default;k8s.podName=client;k8s.node=${c.name}-worker2`, `k8s.ns=default;k8s.podName=server;k8s.node=${c.name}-worker`]);
});

test.serial('kemu capture without -w prints a tshark summary of the live packets', async (t) => {
  const server = await c.pod('server');
  const cap = run(path.join(ROOT, 'bin', 'kemu'), ['capture', '--name', c.name, '--pod', 'client', '--duration', '3s']);
  await new Promise((r) => setTimeout(r, 800));
  const r = await c.exec('client', ['curl', '-sS', '--max-time', '2', `http://${server.status.podIP}/hostname`]);
  t.is(r.stdout, 'server');
  const done = await cap;
  t.is(done.code, 0, done.stderr);
  t.regex(done.stdout, new RegExp(`${server.status.podIP.replace(/\./g, '\\.')} .*HTTP .*GET /hostname HTTP/1\\.1`));
});

test.serial('a Deployment of 3 gives 3 Ready pods with distinct IPs; scaling to 1 removes two pods and their namespaces', async (t) => {
  const file = path.join(tmp, 'deploy.yaml');
  const doc = (n: number) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: ${n}
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers: [{name: echo, image: agnhost, ports: [{containerPort: 8080}]}]
`;
  fs.writeFileSync(file, doc(3));
  const ap = await c.kemu(['apply', '-f', file]);
  t.is(ap.stdout.trim(), 'deployment.apps/echo created');
  const pods = await c.until('3 ready echo pods', async () => {
    const items = (await c.json(['get', 'pods', '-l', 'app=echo'])).items;
    const ready = items.filter((p: any) => p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'));
    return ready.length === 3 ? ready : undefined;
  });
  const ips = new Set(pods.map((p: any) => p.status.podIP));
  t.is(ips.size, 3);
  for (const p of pods) t.regex(p.metadata.name, /^echo-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  const table = await c.kemu(['get', 'deployments']);
  t.regex(table.stdout.trim(), /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\necho\s+3\/3\s+3\s+3\s+\d+s$/);
  fs.writeFileSync(file, doc(1));
  t.is((await c.kemu(['apply', '-f', file])).stdout.trim(), 'deployment.apps/echo configured');
  const left = await c.until('one echo pod left', async () => {
    const items = (await c.json(['get', 'pods', '-l', 'app=echo'])).items;
    return items.length === 1 ? items : undefined;
  });
  const gone = pods.filter((p: any) => p.metadata.name !== left[0].metadata.name);
  t.is(gone.length, 2);
  const nsNow = c.netnsList();
  for (const p of gone) t.false(nsNow.includes(`kemu_${c.name}_default_${p.metadata.name}`));
  t.true(nsNow.includes(`kemu_${c.name}_default_${left[0].metadata.name}`));
  t.is((await c.kemu(['delete', '-f', file])).code, 0);
});

test.serial('bad YAML and bad fields get clear errors naming file, object and field; valid objects still apply', async (t) => {
  const bad = path.join(tmp, 'mixed.yaml');
  fs.writeFileSync(
    bad,
    `apiVersion: v1
kind: Pod
metadata: {name: good-one}
spec:
  containers: [{name: c, image: busybox, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: bad-port}
spec:
  containers: [{name: c, image: nginx, ports: [{containerPort: 70000}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  contaners: [{name: c, image: nginx}]
---
apiVersion: v1
kind: Gizmo
metadata: {name: g}
`,
  );
  const r = await c.kemu(['apply', '-f', bad]);
  t.is(r.code, 1);
  t.regex(r.stdout, /pod\/good-one created/);
  t.regex(r.stderr, /mixed\.yaml.*spec\.containers\[0\]\.ports\[0\]\.containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive/);
  t.regex(r.stderr, /mixed\.yaml.*unknown field "spec\.contaners"/);
  t.regex(r.stderr, /no matches for kind "Gizmo" in version "v1"/);
  const syntax = path.join(tmp, 'syntax.yaml');
  fs.writeFileSync(syntax, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n');
  const s = await c.kemu(['apply', '-f', syntax]);
  t.is(s.code, 1);
  t.regex(s.stderr, /syntax\.yaml/);
  t.is((await c.pod('good-one')).metadata.name, 'good-one');
  await c.kemu(['delete', 'pod', 'good-one', '--grace-period', '0']);
});

test.serial('garbage written into a pod TUN is counted and dropped; forwarding for others goes on', async (t) => {
  const server = await c.pod('server');
  const before = (await c.json(['status'])).dataplane;
  // AF_PACKET on the TUN hands raw bytes to the daemon exactly as written.
  const py = `
import socket, os
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
frames = [os.urandom(40), b"\\x45\\x00\\xff\\xff" + os.urandom(30), b"\\x4f" + os.urandom(60), b"\\x60" + os.urandom(50), b"\\x45", os.urandom(1400)]
for i in range(50):
    for f in frames:
        s.send(f)
print("sent")
`;
  const g = await c.exec('client', ['python3', '-c', py]);
  t.is(g.stdout.trim(), 'sent', g.stderr);
  const after = await c.until('drop counters to move', async () => {
    const d = (await c.json(['status'])).dataplane;
    return d.dropMalformed + d.dropIpv6 + d.dropSpoofed > before.dropMalformed + before.dropIpv6 + before.dropSpoofed + 100 ? d : undefined;
  });
  t.true(after.dropMalformed > before.dropMalformed);
  const r = await c.exec('client', ['curl', '-sS', '--max-time', '5', `http://${server.status.podIP}/hostname`]);
  t.is(r.stdout, 'server');
});

test.serial('the external client reaches nodes but not pod IPs; unknown destinations get ICMP unreachable', async (t) => {
  const nodes = (await c.json(['get', 'nodes'])).items;
  t.is(nodes.length, 3);
  const nodeIp = nodes[1].status.addresses.find((a: any) => a.type === 'InternalIP').address;
  const ping = await run(path.join(ROOT, 'bin', 'kemu'), ['exec', '--name', c.name, '--external', '--', 'ping', '-c', '1', '-W', '2', nodeIp]);
  t.is(ping.code, 0, ping.stdout + ping.stderr);
  const server = await c.pod('server');
  const toPod = await run(path.join(ROOT, 'bin', 'kemu'), ['exec', '--name', c.name, '--external', '--', 'ping', '-c', '1', '-W', '2', server.status.podIP]);
  t.not(toPod.code, 0);
  t.regex(toPod.stdout, /Unreachable/);
  const nowhere = await c.exec('client', ['curl', '-sS', '--max-time', '3', 'http://10.244.250.9/']);
  t.not(nowhere.code, 0);
  t.regex(nowhere.stderr, /No route to host|Couldn't connect/);
});

test.serial('a container that exits is restarted per restartPolicy and its previous logs are kept', async (t) => {
  const f = path.join(tmp, 'crash.yaml');
  fs.writeFileSync(
    f,
    `apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers: [{name: c, image: busybox, command: [sh, -c, 'echo run-$PPID; sleep 0.3; exit 3']}]
---
apiVersion: v1
kind: Pod
metadata: {name: oneshot}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [sh, -c, 'echo done; exit 0']}]
`,
  );
  t.is((await c.kemu(['apply', '-f', f])).code, 0);
  const p = await c.until('a restart', async () => {
    const pod = await c.pod('crasher');
    return pod.status?.containerStatuses?.[0]?.restartCount >= 1 ? pod : undefined;
  });
  t.is(p.status.containerStatuses[0].lastState.terminated.exitCode, 3);
  const prev = await c.kemu(['logs', 'crasher', '--previous']);
  t.regex(prev.stdout, /^run-\d+/);
  const done = await c.until('oneshot Succeeded', async () => {
    const pod = await c.pod('oneshot');
    return pod.status?.phase === 'Succeeded' ? pod : undefined;
  });
  t.is(done.status.containerStatuses[0].state.terminated.reason, 'Completed');
  const table = await c.kemu(['get', 'pods', 'oneshot']);
  t.regex(table.stdout, /oneshot\s+0\/1\s+Completed\s+0\s+/);
  await c.kemu(['delete', '-f', f, '--grace-period', '0']);
});

test.serial('a process started with kemu exec dies with its pod, as in a container', async (t) => {
  fs.writeFileSync(path.join(tmp, 'ephemeral.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: ephemeral}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, infinity]}]\n');
  t.is((await c.kemu(['apply', '-f', path.join(tmp, 'ephemeral.yaml')])).code, 0);
  await c.until('ephemeral running', async () => ((await c.pod('ephemeral')).status?.podIP ? true : undefined));
  const marker = `sleep ${4000 + (process.pid % 1000)}`;
  const child = run(path.join(ROOT, 'bin', 'kemu'), ['exec', '--name', c.name, 'ephemeral', '--', ...marker.split(' ')], { timeoutMs: 30_000 });
  const pids = await c.until('the exec\'d process to run', async () => {
    const r = await run('pgrep', ['-f', `^${marker}$`]);
    return r.stdout.trim() ? r.stdout.trim() : undefined;
  });
  t.truthy(pids);
  await c.kemu(['delete', 'pod', 'ephemeral', '--grace-period', '0']);
  await c.until('the exec\'d process to be gone', async () => ((await run('pgrep', ['-f', `^${marker}$`])).code === 1 ? true : undefined));
  await child;
  t.pass();
});

test.serial('kill -9 of the daemon, then up again: leftovers are cleaned and traffic flows; down leaves nothing', async (t) => {
  const pid = daemonPid(c.name)!;
  t.truthy(pid);
  process.kill(pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  // The crash leaves namespaces and container processes behind…
  t.true(ours(c.name).length > 0);
  t.true(processesIn(c.name).length > 0);
  // …which the next start removes before it builds anything.
  fs.writeFileSync(path.join(tmp, 'pods2.yaml'), PODS);
  const up = await c.up([path.join(tmp, 'pods2.yaml')], CONFIG);
  t.is(up.code, 0, up.stderr);
  const server = await c.pod('server');
  const r = await c.exec('client', ['curl', '-sS', '--max-time', '5', `http://${server.status.podIP}/hostname`]);
  t.is(r.stdout, 'server');
  const down = await c.down();
  t.is(down.code, 0, down.stderr);
  t.deepEqual(ours(c.name), []);
  t.false(fs.existsSync(`/run/kemu/${c.name}`));
  t.deepEqual(fs.readdirSync('/etc/netns').filter((d) => d.startsWith(`kemu_${c.name}_`)), []);
  const links = await run('ip', ['-o', 'link', 'show']);
  t.false(links.stdout.includes(`kemu_${c.name}`));
});
