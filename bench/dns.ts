// DNS benchmark (part of `npm run bench`, or alone: node dist/bench/dns.js): dnsperf against
// kemu's resolver process and against dnsmasq serving the same 1,000 Service records, each in a
// server namespace queried from a client namespace over a veth pair (same load, same path), then
// the same load end to end from a pod through the kube-dns ClusterIP of a kemu cluster.
// Namespaces and processes are this file's own; every load is bounded by dnsperf -l; everything
// is removed at the end, also on failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEMU, ROOT, sh, type BenchResult } from './common.js';

const DNS_MAIN = path.join(ROOT, 'dist', 'src', 'addons', 'dns', 'main.js');
const LATENCY = path.join(ROOT, 'dist', 'bench', 'dns-latency.js');
const NS = { c: 'kbdns_client', s: 'kbdns_server' };
const IP = { c: '10.252.53.1', s: '10.252.53.2' };
const CLUSTER = 'kbdns';
const SERVICES = 1000;

export type DnsResult = BenchResult;


function ip(...a: string[]): void {
  const r = spawnSync('ip', a, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${a.join(' ')}: ${r.stderr}`);
}

function teardown(): void {
  for (const n of Object.values(NS)) spawnSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
}

function setup(): void {
  teardown();
  ip('netns', 'add', NS.c);
  ip('netns', 'add', NS.s);
  ip('link', 'add', 'kbdns0', 'netns', NS.c, 'type', 'veth', 'peer', 'name', 'kbdns1', 'netns', NS.s);
  for (const [ns, dev, addr] of [
    [NS.c, 'kbdns0', IP.c],
    [NS.s, 'kbdns1', IP.s],
  ] as const) {
    ip('-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev);
    ip('-n', ns, 'link', 'set', dev, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}

const svcIp = (i: number) => `10.97.${(i >> 8) & 255}.${i & 255}`;

function records(tmp: string): { staticView: string; dnsmasqConf: string; queries: string } {
  const services = Array.from({ length: SERVICES }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: 'bench' },
    spec: { type: 'ClusterIP', clusterIP: svcIp(i), clusterIPs: [svcIp(i)], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  }));
  const staticView = path.join(tmp, 'view.json');
  fs.writeFileSync(staticView, JSON.stringify({ namespaces: [{ metadata: { name: 'default' } }, { metadata: { name: 'bench' } }], services, endpointSlices: [] }));
  const dnsmasqConf = path.join(tmp, 'dnsmasq.conf');
  // Authoritative for the cluster zone (local=), the same names and TTL, nothing upstream.
  fs.writeFileSync(
    dnsmasqConf,
    ['no-resolv', 'no-hosts', 'local=/cluster.local/', 'local-ttl=30', ...services.map((s, i) => `host-record=${s.metadata.name}.bench.svc.cluster.local,${svcIp(i)}`)].join('\n') + '\n',
  );
  const queries = path.join(tmp, 'queries.txt');
  let q = '';
  for (let i = 0; i < 20_000; i++) q += `svc-${(Math.random() * SERVICES) | 0}.bench.svc.cluster.local A\n`;
  fs.writeFileSync(queries, q);
  return { staticView, dnsmasqConf, queries };
}

interface Perf {
  qps: number;
  avgUs: number;
  lost: number;
  /** One query at a time (bench/dns-latency.ts). */
  p50: number;
  p99: number;
}

function parsePerf(out: string): Perf {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return { qps: num(/Queries per second:\s+([\d.]+)/), avgUs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1e6, lost: num(/Queries lost:\s+(\d+)/), p50: NaN, p99: NaN };
}

/** Full-speed throughput: 4 sockets, 100 queries outstanding. */
async function maxRate(run: (args: string[]) => Promise<string>, server: string, port: number, queries: string, seconds: number): Promise<Perf> {
  return parsePerf(await run(['dnsperf', '-s', server, '-p', String(port), '-d', queries, '-l', String(seconds), '-c', '4', '-q', '100', '-t', '2']));
}

/** Latency at a light fixed rate (dnsperf average), and one query at a time (p50/p99). */
async function lightLoad(run: (args: string[]) => Promise<string>, server: string, port: number, queries: string): Promise<Perf> {
  const light = parsePerf(await run(['dnsperf', '-s', server, '-p', String(port), '-d', queries, '-l', '3', '-Q', '2000', '-t', '2']));
  const pp = JSON.parse(await run([process.execPath, LATENCY, server, 'svc-1.bench.svc.cluster.local', '5000', String(port)]));
  light.p50 = pp.p50;
  light.p99 = pp.p99;
  return light;
}

async function perf(run: (args: string[]) => Promise<string>, server: string, queries: string, seconds: number): Promise<{ max: Perf; light: Perf }> {
  return { max: await maxRate(run, server, 53, queries, seconds), light: await lightLoad(run, server, 53, queries) };
}

async function waitUdp53(check: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await check()).includes('status: NOERROR')) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('DNS server did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stop(p: ChildProcess | undefined): void {
  if (p?.pid && p.exitCode === null) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function dnsBench(add: (r: DnsResult) => void, tmp: string, seconds: number): Promise<void> {
  for (const [tool, pkg] of [['dnsperf', 'dnsperf'], ['dnsmasq', 'dnsmasq-base']] as const) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: apt-get install ${pkg} (scripts/setup.sh does)`);
  }
  const files = records(tmp);
  const inClient = (args: string[]) => sh('ip', ['netns', 'exec', NS.c, ...args]);
  const probe = (port: number) => inClient(['dig', '+time=1', '+tries=1', '-p', String(port), `@${IP.s}`, 'svc-1.bench.svc.cluster.local']);
  let server: ChildProcess | undefined;
  let resolver: ChildProcess | undefined;
  try {
    setup();
    // Both servers listen at once (dnsmasq :53, kemu :5353) and are measured in alternating
    // rounds, best of three each: on a shared machine interference only ever lowers a rate.
    console.error('dns: dnsmasq (:53) and kemu (:5353) in one namespace, dnsperf from another over a veth pair');
    server = spawn('ip', ['netns', 'exec', NS.s, 'dnsmasq', '-k', '-u', 'root', `--conf-file=${files.dnsmasqConf}`, '--pid-file=', `--listen-address=${IP.s}`, '--bind-interfaces'], { stdio: 'ignore' });
    resolver = spawn('ip', ['netns', 'exec', NS.s, process.execPath, DNS_MAIN], {
      stdio: 'ignore',
      env: { ...process.env, KEMU_DNS_STATIC: files.staticView, KEMU_DNS_UPSTREAM: 'none', KEMU_DNS_LOG: '0', KEMU_DNS_PORT: '5353' },
    });
    await waitUdp53(() => probe(53));
    await waitUdp53(() => probe(5353));
    const cRates: Perf[] = [];
    const kRates: Perf[] = [];
    for (let round = 0; round < 3; round++) {
      cRates.push(await maxRate(inClient, IP.s, 53, files.queries, seconds));
      kRates.push(await maxRate(inClient, IP.s, 5353, files.queries, seconds));
      console.error(`  round ${round + 1}: dnsmasq ${(cRates[round]!.qps / 1000).toFixed(1)} kqps, kemu ${(kRates[round]!.qps / 1000).toFixed(1)} kqps`);
    }
    const best = (rs: Perf[]) => rs.reduce((a, b) => (b.qps > a.qps ? b : a));
    const c = { max: best(cRates), light: await lightLoad(inClient, IP.s, 53, files.queries) };
    const k = { max: best(kRates), light: await lightLoad(inClient, IP.s, 5353, files.queries) };
    stop(server);
    stop(resolver);
    server = undefined;
    resolver = undefined;
    teardown();

    console.error('dns: end to end, a pod querying the kube-dns ClusterIP (2 kube-dns pods)');
    const e2e = await endToEnd(tmp, seconds);

    add({ name: 'dns_qps_resolver', unit: 'kqps', kemu: k.max.qps / 1000, kernel: c.max.qps / 1000, better: 'higher', target: '>= 0.7x dnsmasq', baseline: 'dnsmasq' });
    add({ name: 'dns_latency_avg_2kqps', unit: 'us', kemu: k.light.avgUs, kernel: c.light.avgUs, better: 'lower', baseline: 'dnsmasq' });
    add({ name: 'dns_rtt_p50_one_at_a_time', unit: 'us', kemu: k.light.p50, kernel: c.light.p50, better: 'lower', baseline: 'dnsmasq' });
    add({ name: 'dns_rtt_p99_one_at_a_time', unit: 'us', kemu: k.light.p99, kernel: c.light.p99, better: 'lower', baseline: 'dnsmasq' });
    add({ name: 'dns_latency_avg_at_max_qps', unit: 'us', kemu: k.max.avgUs, kernel: c.max.avgUs, better: 'lower', baseline: 'dnsmasq' });
    add({ name: 'dns_qps_pod_via_kube_dns_clusterip', unit: 'kqps', kemu: e2e.max.qps / 1000, kernel: k.max.qps / 1000, better: 'higher', baseline: 'resolver over veth' });
    add({ name: 'dns_rtt_p50_pod_via_kube_dns', unit: 'us', kemu: e2e.light.p50, kernel: k.light.p50, better: 'lower', baseline: 'resolver over veth' });
    add({ name: 'dns_latency_avg_pod_via_kube_dns_2kqps', unit: 'us', kemu: e2e.light.avgUs, kernel: k.light.avgUs, better: 'lower', baseline: 'resolver over veth' });
    add({ name: 'dns_queries_lost', unit: 'queries', kemu: k.max.lost + k.light.lost + e2e.max.lost + e2e.light.lost, kernel: c.max.lost + c.light.lost, better: 'lower', baseline: 'dnsmasq' });
  } finally {
    stop(server);
    stop(resolver);
    teardown();
    spawnSync(KEMU, ['down', '--name', CLUSTER], { stdio: 'ignore' });
  }
}

async function endToEnd(tmp: string, seconds: number): Promise<{ max: Perf; light: Perf }> {
  const cfg = path.join(tmp, 'dns-cluster.yaml');
  fs.writeFileSync(cfg, 'kind: Cluster\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n');
  const n = 200;
  const objs = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench}\n',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: dnsperf}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, infinity]}]\n',
    ...Array.from({ length: n }, (_, i) => `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}, namespace: bench}\nspec:\n  ports: [{name: http, port: 80}]\n`),
  ];
  const manifests = path.join(tmp, 'dns-objects.yaml');
  fs.writeFileSync(manifests, objs.join('---\n'));
  await sh(KEMU, ['up', '--name', CLUSTER, '--config', cfg, '-f', manifests, '--wait', '--timeout', '120s'], 180_000);
  const queries = path.join(tmp, 'queries-e2e.txt');
  let q = '';
  for (let i = 0; i < 20_000; i++) q += `svc-${(Math.random() * n) | 0}.bench.svc.cluster.local A\n`;
  fs.writeFileSync(queries, q);
  const inPod = (args: string[]) => sh(KEMU, ['exec', '--name', CLUSTER, 'dnsperf', '--', ...args]);
  await waitUdp53(() => inPod(['dig', '+time=1', '+tries=1', 'svc-1.bench.svc.cluster.local']));
  const r = await perf(inPod, '10.96.0.10', queries, Math.max(3, Math.round(seconds)));
  await sh(KEMU, ['down', '--name', CLUSTER]);
  return r;
}

// Alone: node dist/bench/dns.js
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-dnsbench-'));
  const seconds = Number(process.env.KEMU_BENCH_SECONDS ?? 5);
  dnsBench(
    (r) => {
      const ratio = r.kernel ? (r.kemu / r.kernel).toFixed(3) : '–';
      console.log(`${r.name}: kemu ${r.kemu.toFixed(2)} ${r.unit}, ${r.baseline} ${r.kernel?.toFixed(2) ?? '–'} ${r.unit}, ratio ${ratio}`);
    },
    tmp,
    seconds,
  )
    .catch((err) => {
      console.error(`dns bench failed: ${err.stack ?? err}`);
      process.exitCode = 1;
    })
    .finally(() => fs.rmSync(tmp, { recursive: true, force: true }));
}
