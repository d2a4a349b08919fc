// npm run bench: kemu's pod-to-pod path against the kernel doing the same job in the same run
// (two namespaces joined through a router namespace with veth pairs), plus pod bring-up time
// and daemon memory. Everything runs inside namespaces this script creates; every load is
// bounded in time; everything is removed at the end, also on failure.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../src/cli/client.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..');
const KEMU = path.join(ROOT, 'bin', 'kemu');
const BLAST = path.join(ROOT, 'build', 'Release', 'udpblast');
const SECONDS = Number(process.env.KEMU_BENCH_SECONDS ?? 5);
const CLUSTER = 'kbench';
const K = { a: 'kemu_kbench_kernel_a', r: 'kemu_kbench_kernel_r', b: 'kemu_kbench_kernel_b' };

interface Result {
  name: string;
  unit: string;
  kemu: number;
  kernel: number | null;
  ratio: number | null;
  better: 'higher' | 'lower';
  target?: string;
}

function sh(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(String(stdout));
    });
  });
}

function shSync(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}

/** A runner enters a netns: the kernel's via `ip netns exec`, kemu pods via `kemu exec`. */
type Runner = { exec: (args: string[], timeoutMs?: number) => Promise<string>; spawn: (args: string[]) => ChildProcess };

const kernelNs = (ns: string): Runner => ({
  exec: (args, t) => sh('ip', ['netns', 'exec', ns, ...args], t),
  spawn: (args) => spawn('ip', ['netns', 'exec', ns, ...args], { stdio: 'ignore' }),
});

const kemuPod = (pod: string): Runner => ({
  exec: (args, t) => sh(KEMU, ['exec', '--name', CLUSTER, pod, '--', ...args], t),
  spawn: (args) => spawn(KEMU, ['exec', '--name', CLUSTER, pod, '--', ...args], { stdio: 'ignore' }),
});

function kernelSetup(): void {
  kernelTeardown();
  const run = (...a: string[]) => {
    const r = spawnSync('ip', a, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`);
  };
  for (const n of Object.values(K)) run('netns', 'add', n);
  run('link', 'add', 'kbk-a0', 'netns', K.a, 'type', 'veth', 'peer', 'name', 'kbk-a1', 'netns', K.r);
  run('link', 'add', 'kbk-b0', 'netns', K.b, 'type', 'veth', 'peer', 'name', 'kbk-b1', 'netns', K.r);
  const ns = (n: string, ...a: string[]) => run('-n', n, ...a);
  ns(K.a, 'addr', 'add', '10.251.1.2/24', 'dev', 'kbk-a0');
  ns(K.r, 'addr', 'add', '10.251.1.1/24', 'dev', 'kbk-a1');
  ns(K.r, 'addr', 'add', '10.251.2.1/24', 'dev', 'kbk-b1');
  ns(K.b, 'addr', 'add', '10.251.2.2/24', 'dev', 'kbk-b0');
  for (const [n, d] of [[K.a, 'kbk-a0'], [K.r, 'kbk-a1'], [K.r, 'kbk-b1'], [K.b, 'kbk-b0']] as const) {
    ns(n, 'link', 'set', d, 'up');
    ns(n, 'link', 'set', 'lo', 'up');
  }
  ns(K.a, 'route', 'add', 'default', 'via', '10.251.1.1');
  ns(K.b, 'route', 'add', 'default', 'via', '10.251.2.1');
  spawnSync('ip', ['netns', 'exec', K.r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
}

function kernelTeardown(): void {
  for (const n of Object.values(K)) shSync('ip', ['netns', 'del', n]);
}

async function iperfTcp(client: Runner, server: Runner, ip: string): Promise<number> {
  const srv = server.spawn(['iperf3', '-s', '-1', '-p', '5201']);
  try {
    await sleep(500);
    const out = await client.exec(['iperf3', '-c', ip, '-p', '5201', '-t', String(SECONDS), '-J'], (SECONDS + 20) * 1000);
    const j = JSON.parse(out);
    return j.end.sum_received.bits_per_second / 1e9;
  } finally {
    srv.kill('SIGKILL');
  }
}

async function udpNoPorts(server: Runner): Promise<number> {
  const snmp = await server.exec(['cat', '/proc/net/snmp']);
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  return Number(vals[keys.indexOf('NoPorts')]);
}

/** 64-byte IP packets (36 bytes of UDP payload) to a closed port; counted where they arrive. */
async function smallPacketRate(client: Runner, server: Runner, ip: string): Promise<number> {
  const before = await udpNoPorts(server);
  await client.exec([BLAST, ip, '9', '36', String(SECONDS)], (SECONDS + 20) * 1000);
  await sleep(300);
  const after = await udpNoPorts(server);
  return (after - before) / SECONDS / 1000;
}

async function latency(client: Runner, server: Runner, ip: string): Promise<{ p50: number; p99: number }> {
  const srv = server.spawn(['sockperf', 'server', '--tcp', '-i', ip, '-p', '11111']);
  try {
    await sleep(700);
    const out = await client.exec(['sockperf', 'ping-pong', '--tcp', '-i', ip, '-p', '11111', '-t', String(SECONDS), '-m', '64', '--full-rtt'], (SECONDS + 20) * 1000);
    const pct = (p: string) => {
      const m = new RegExp(`percentile ${p.replace('.', '\\.')}\\d* =\\s+([\\d.]+)`).exec(out);
      if (!m) throw new Error(`sockperf output without percentile ${p}:\n${out}`);
      return Number(m[1]);
    };
    return { p50: pct('50.00'), p99: pct('99.00') };
  } finally {
    srv.kill('SIGKILL');
  }
}

async function kemu(args: string[], timeoutMs = 300_000): Promise<string> {
  return sh(KEMU, [args[0]!, '--name', CLUSTER, ...args.slice(1)], timeoutMs);
}

async function podBringUp(replicas: number, tmp: string): Promise<{ seconds: number; rssMiB: number }> {
  const workers = Math.ceil(replicas / 240);
  const cfg = path.join(tmp, `nodes-${replicas}.yaml`);
  fs.writeFileSync(cfg, `kind: Cluster\nnodes:\n- role: control-plane\n${'- role: worker\n'.repeat(workers)}`);
  const manifest = path.join(tmp, `pods-${replicas}.yaml`);
  fs.writeFileSync(
    manifest,
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: many}}
  template:
    metadata: {labels: {app: many}}
    spec:
      containers: [{name: sleep, image: busybox, command: [sleep, infinity]}]
`,
  );
  await kemu(['up', '--config', cfg]);
  const client = new Client(CLUSTER);
  const t0 = performance.now();
  await kemu(['apply', '-f', manifest]);
  for (;;) {
    const d = await client.get('/apis/apps/v1/namespaces/default/deployments/many');
    if ((d.status?.readyReplicas ?? 0) >= replicas) break;
    if (performance.now() - t0 > 300_000) throw new Error(`${replicas} pods not Ready after 300 s`);
    await sleep(100);
  }
  const seconds = (performance.now() - t0) / 1000;
  const st = await client.get('/kemu/v1/status');
  await kemu(['down']);
  return { seconds, rssMiB: st.memory.rss / 1048576 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (namespaces, TUN devices)');
  for (const tool of ['iperf3', 'sockperf']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      console.error(`installing ${tool}`);
      spawnSync('sh', ['-c', `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${tool} >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${tool})`], { stdio: 'inherit' });
    }
  }
  if (!fs.existsSync(BLAST)) throw new Error(`${BLAST} is missing: run npm install (node-gyp builds it)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-bench-'));
  const results: Result[] = [];
  const add = (r: Omit<Result, 'ratio'>) => {
    const ratio = r.kernel ? Number((r.kemu / r.kernel).toFixed(3)) : null;
    results.push({ ...r, ratio });
    console.error(`  ${r.name}: kemu ${r.kemu.toFixed(2)} ${r.unit}${r.kernel !== null ? `, kernel ${r.kernel.toFixed(2)} ${r.unit}, ratio ${ratio}` : ''}`);
  };
  try {
    console.error('kernel path: veth + router namespace');
    kernelSetup();
    const ka = kernelNs(K.a);
    const kb = kernelNs(K.b);
    const kTcp = await iperfTcp(ka, kb, '10.251.2.2');
    const kPps = await smallPacketRate(ka, kb, '10.251.2.2');
    const kLat = await latency(ka, kb, '10.251.2.2');
    kernelTeardown();

    console.error('kemu path: pod to pod across nodes');
    const cfg = path.join(tmp, 'two.yaml');
    fs.writeFileSync(cfg, 'kind: Cluster\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n');
    const pods = path.join(tmp, 'pods.yaml');
    fs.writeFileSync(
      pods,
      ['a', 'b']
        .map((n, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: bench-${n}}\nspec:\n  nodeName: ${CLUSTER}-worker${i ? '2' : ''}\n  containers: [{name: c, image: busybox, command: [sleep, infinity]}]\n`)
        .join('---\n'),
    );
    await kemu(['up', '--config', cfg, '-f', pods, '--wait']);
    const client = new Client(CLUSTER);
    const ipB = (await client.get('/api/v1/namespaces/default/pods/bench-b')).status.podIP;
    const pa = kemuPod('bench-a');
    const pb = kemuPod('bench-b');
    const mTcp = await iperfTcp(pa, pb, ipB);
    const mPps = await smallPacketRate(pa, pb, ipB);
    const mLat = await latency(pa, pb, ipB);
    await kemu(['down']);

    add({ name: 'tcp_single_stream_throughput', unit: 'Gbit/s', kemu: mTcp, kernel: kTcp, better: 'higher', target: '>= 0.8x kernel' });
    add({ name: 'udp_64B_packet_rate', unit: 'kpps', kemu: mPps, kernel: kPps, better: 'higher', target: '>= 300 kpps' });
    add({ name: 'tcp_rtt_p50', unit: 'us', kemu: mLat.p50, kernel: kLat.p50, better: 'lower', target: '<= 2.5x kernel' });
    add({ name: 'tcp_rtt_p99', unit: 'us', kemu: mLat.p99, kernel: kLat.p99, better: 'lower' });

    for (const n of [100, 1000]) {
      console.error(`bring-up: ${n} pods`);
      const r = await podBringUp(n, tmp);
      add({ name: `pods_${n}_ready_time`, unit: 's', kemu: r.seconds, kernel: null, better: 'lower', target: n === 1000 ? '<= 30 s' : undefined });
      add({ name: `pods_${n}_daemon_rss`, unit: 'MiB', kemu: r.rssMiB, kernel: null, better: 'lower' });
    }
  } finally {
    kernelTeardown();
    spawnSync(KEMU, ['down', '--name', CLUSTER], { stdio: 'ignore' });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const out = { date: new Date().toISOString(), host: { cpus: os.cpus().length, kernel: os.release(), node: process.version }, seconds: SECONDS, results };
  fs.mkdirSync(path.join(ROOT, 'bench'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results.json'), JSON.stringify(out, null, 2) + '\n');
  console.log('| measurement | kemu | kernel | ratio | target |');
  console.log('|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.name} | ${r.kemu.toFixed(2)} ${r.unit} | ${r.kernel !== null ? `${r.kernel.toFixed(2)} ${r.unit}` : '–'} | ${r.ratio ?? '–'} | ${r.target ?? ''} |`);
  }
  console.log(`\nwritten to bench/results.json`);
}

main().catch((err) => {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exitCode = 1;
});
