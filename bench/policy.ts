// NetworkPolicy benchmark (part of `npm run bench`, or alone: node dist/bench/policy.js): what
// policies cost on kemu's packet path. One cluster, a client pod and a server pod on two
// workers; the same two loads with no policies, with 10 and with 1,000 policies (taking turns,
// three rounds) selecting the server pod (the one that lets the client in sorts last, so every
// decoy is looked at before it):
//   - 64-byte UDP packets of one established flow (udpblast to a closed port, counted where
//     they arrive): the verdict is taken on the first packet and kept in conntrack, so the
//     rest must cost the same whatever the number of policies;
//   - new TCP connections per second: a Node client inside the client pod opens a bounded
//     number of short connections (connect, then RST so no TIME_WAIT piles up) to the
//     built-in server, 8 at a time: every SYN is a new connection judged by the policies.
// Everything runs in the cluster's own namespaces; every load is bounded; the cluster is
// removed at the end, also on failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../src/cli/client.js';
import { BLAST, KEMU, kemuOf, sh, type BenchResult } from './common.js';

const CLUSTER = 'kbpol';
const SERVER_PORT = 8080;
const BLAST_PORT = 9; // closed on the server: each datagram counts in Udp NoPorts
const CONNECTIONS = 6000; // per round
const CONCURRENCY = 8;
const ROUNDS = 3;

export type PolicyResult = BenchResult;


const kemu = kemuOf(CLUSTER);
const podExec = (pod: string, args: string[], timeoutMs = 60_000) => sh(KEMU, ['exec', '--name', CLUSTER, pod, '--', ...args], timeoutMs);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The new-connection client, run by the node binary inside the client pod. */
const CONNECT_CLIENT = `'use strict';
const net = require('net');
const [ip, port, total, conc, capSeconds] = process.argv.slice(2);
const N = Number(total);
const deadline = Date.now() + Number(capSeconds) * 1000;
let started = 0, ok = 0, failed = 0, active = 0, done = false;
const t0 = process.hrtime.bigint();
function finish() {
  if (done) return;
  done = true;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ ok, failed, seconds, rate: ok / seconds }));
  process.exit(0);
}
function next() {
  if (started >= N || Date.now() > deadline) {
    if (active === 0) finish();
    return;
  }
  started++;
  active++;
  const s = net.connect({ host: ip, port: Number(port) });
  s.once('connect', () => { ok++; s.resetAndDestroy(); });
  s.once('error', () => { failed++; });
  s.once('close', () => { active--; next(); });
}
for (let i = 0; i < Number(conc); i++) next();
`;

/**
 * n policies selecting the server pod: n-1 decoys (each lets in a label nobody has, on a port
 * of its own) and `zz-allow-client`, which lets the client in on every port. `from` numbers
 * the decoys so that a second apply adds to the first.
 */
function policies(from: number, to: number, withAllow: boolean): string {
  const docs: string[] = [];
  for (let i = from; i < to; i++) {
    docs.push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: decoy-${String(i).padStart(4, '0')}}
spec:
  podSelector: {matchLabels: {app: bench-b}}
  ingress:
  - from: [{podSelector: {matchLabels: {client: c-${i}}}}]
    ports: [{port: ${20000 + i}}]
`);
  }
  if (withAllow) {
    docs.push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: zz-allow-client}
spec:
  podSelector: {matchLabels: {app: bench-b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: bench-a}}}]
`);
  }
  return docs.join('---\n');
}

async function udpNoPorts(): Promise<number> {
  const snmp = await podExec('bench-b', ['cat', '/proc/net/snmp']);
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0]!.split(/\s+/);
  const vals = lines[1]!.split(/\s+/);
  return Number(vals[keys.indexOf('NoPorts')]);
}

/** 64-byte IP packets of one flow, counted where they arrive; kpps. */
async function packetRate(ip: string, seconds: number): Promise<number> {
  const before = await udpNoPorts();
  await podExec('bench-a', [BLAST, ip, String(BLAST_PORT), '36', String(seconds)], (seconds + 20) * 1000);
  await sleep(300);
  return ((await udpNoPorts()) - before) / seconds / 1000;
}

async function connectRate(client: string, ip: string): Promise<number> {
  const out = await podExec('bench-a', [process.execPath, client, ip, String(SERVER_PORT), String(CONNECTIONS), String(CONCURRENCY), '30'], 60_000);
  const r = JSON.parse(out.trim().split('\n').pop()!);
  if (r.failed > 0 || r.ok < CONNECTIONS) throw new Error(`connection client: ${out}`);
  return r.rate;
}

async function policyStatus(api: Client): Promise<{ policies: number; newFlows: number; dropPolicy: number; lastSyncMs: number }> {
  return (await api.get('/kemu/v1/status')).policy;
}

/** Runs the policy section; `add` records one result (see bench/run.ts). */
export async function policyBench(add: (r: PolicyResult) => void, tmp: string, seconds: number): Promise<void> {
  const cfg = path.join(tmp, 'policy-nodes.yaml');
  fs.writeFileSync(cfg, 'kind: Cluster\nnodes:\n- role: control-plane\n- role: worker\n- role: worker\n');
  const pods = path.join(tmp, 'policy-pods.yaml');
  fs.writeFileSync(
    pods,
    `apiVersion: v1
kind: Pod
metadata: {name: bench-a, labels: {app: bench-a}}
spec:
  nodeName: ${CLUSTER}-worker
  containers: [{name: c, image: busybox, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: bench-b, labels: {app: bench-b}}
spec:
  nodeName: ${CLUSTER}-worker2
  containers: [{name: server, image: agnhost, ports: [{containerPort: ${SERVER_PORT}}]}]
`,
  );
  const client = path.join(tmp, 'connect-client.cjs');
  fs.writeFileSync(client, CONNECT_CLIENT);
  spawnSync(KEMU, ['down', '--name', CLUSTER], { stdio: 'ignore' });
  try {
    await kemu(['up', '--config', cfg, '-f', pods, '--wait']);
    const api = new Client(CLUSTER);
    const ipB = (await api.get('/api/v1/namespaces/default/pods/bench-b')).status.podIP as string;
    // Warm-up: the server answers, the JIT of every process on the path is warm.
    await connectRate(client, ipB);

    // The three levels take turns, round after round, so that a change in the machine's load
    // during the run hits all of them alike; each level keeps its best round.
    const files = new Map<number, string>([
      [10, path.join(tmp, 'policies-10.yaml')], // decoys 0..8 and the allow policy
      [1000, path.join(tmp, 'policies-1000.yaml')], // decoys 9..998 on top
    ]);
    fs.writeFileSync(files.get(10)!, policies(0, 9, true));
    fs.writeFileSync(files.get(1000)!, policies(9, 999, false));
    let compile1000 = 0;
    const setLevel = async (n: number): Promise<void> => {
      const t0 = performance.now();
      if (n === 0) await kemu(['delete', '--wait', 'false', '-f', files.get(1000)!, '-f', files.get(10)!], 600_000);
      else await kemu(['apply', '-f', files.get(n)!], 600_000);
      const deadline = performance.now() + 120_000;
      while ((await policyStatus(api)).policies !== n) {
        if (performance.now() > deadline) throw new Error(`the data plane does not hold ${n} policies after 120 s`);
        await sleep(100);
      }
      await sleep(200);
      const st = await policyStatus(api);
      if (n === 1000) compile1000 = Math.max(compile1000, st.lastSyncMs);
      console.error(`  ${n} policies in the data plane after ${((performance.now() - t0) / 1000).toFixed(1)} s (last compile ${st.lastSyncMs} ms)`);
    };
    const levels = [0, 10, 1000].map((n) => ({ n, pps: [] as number[], cps: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const l of levels) {
        if (round > 0 || l.n > 0) await setLevel(l.n);
        const drops0 = (await policyStatus(api)).dropPolicy;
        l.pps.push(await packetRate(ipB, seconds));
        l.cps.push(await connectRate(client, ipB));
        const st = await policyStatus(api);
        if (st.dropPolicy !== drops0) throw new Error(`the policies dropped ${st.dropPolicy - drops0} packets: the bench must measure allowed traffic`);
        console.error(`policy bench, round ${round + 1}, ${l.n} policies selecting the server pod: 64-byte packets of one flow ${l.pps.at(-1)!.toFixed(1)} kpps, new connections ${l.cps.at(-1)!.toFixed(0)}/s`);
      }
    }
    const best = (l: (typeof levels)[0]) => ({ pps: Math.max(...l.pps), cps: Math.max(...l.cps) });
    const [none, ten, thousand] = levels.map(best) as [ReturnType<typeof best>, ReturnType<typeof best>, ReturnType<typeof best>];
    add({ name: 'policy_udp_64B_rate_no_policies', unit: 'kpps', kemu: none.pps, kernel: null, better: 'higher' });
    add({ name: 'policy_udp_64B_rate_10_policies', unit: 'kpps', kemu: ten.pps, kernel: none.pps, better: 'higher', baseline: 'kemu with no policies' });
    add({ name: 'policy_udp_64B_rate_1000_policies', unit: 'kpps', kemu: thousand.pps, kernel: none.pps, better: 'higher', baseline: 'kemu with no policies' });
    // Per-packet cost of an established flow = 1 / rate: the same with 1,000 policies as none.
    add({ name: 'policy_per_packet_cost_1000_vs_none', unit: 'ns', kemu: 1e6 / thousand.pps, kernel: 1e6 / none.pps, better: 'lower', target: '<= 1.1x', baseline: 'kemu with no policies' });
    add({ name: 'policy_new_conn_rate_no_policies', unit: 'conn/s', kemu: none.cps, kernel: null, better: 'higher' });
    add({ name: 'policy_new_conn_rate_10_policies', unit: 'conn/s', kemu: ten.cps, kernel: none.cps, better: 'higher', baseline: 'kemu with no policies' });
    add({ name: 'policy_compile_1000_policies', unit: 'ms', kemu: compile1000, kernel: null, better: 'lower' });
    add({ name: 'policy_new_conn_rate_1000_policies', unit: 'conn/s', kemu: thousand.cps, kernel: none.cps, better: 'higher', target: '>= 0.5x', baseline: 'kemu with no policies' });
  } finally {
    spawnSync(KEMU, ['down', '--name', CLUSTER], { stdio: 'ignore' });
  }
}

// Alone: node dist/bench/policy.js (prints the results as JSON lines).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-bench-policy-'));
  policyBench((r) => {
    const ratio = r.kernel ? Number((r.kemu / r.kernel).toFixed(3)) : null;
    console.log(JSON.stringify({ ...r, ratio }));
  }, tmp, Number(process.env.KEMU_BENCH_SECONDS ?? 5))
    .catch((err) => {
      console.error(`policy bench failed: ${err.stack ?? err}`);
      process.exitCode = 1;
    })
    .finally(() => fs.rmSync(tmp, { recursive: true, force: true }));
}
