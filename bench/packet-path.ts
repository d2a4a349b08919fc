// Per-packet cost of kemu's packet path, without TUNs or the kernel: the real router over a
// stand-in addon, fed batches of 64 real UDP packets. Deterministic enough to compare layouts
// and table sizes (10 vs 10,000 Services, few vs 100,000 conntrack entries) in one run.
//   node dist/bench/packet-path.js
import type { NativeAddon } from '../src/native/index.js';
import { DataPlane } from '../src/dataplane/router.js';
import { compileServices } from '../src/dataplane/proxy/compile.js';
import { ipv4HeaderChecksum } from '../src/dataplane/wire/checksum.js';
import { ipToInt } from '../src/dataplane/wire/ipv4.js';
import { fillL4Checksum } from '../src/dataplane/wire/l4.js';

const BATCH = 64;
const SLOT = 65536 + 16;

function udp(buf: Buffer, off: number, src: number, sport: number, dst: number, dport: number): number {
  const b = buf.subarray(off + 10);
  b.fill(0, 0, 64);
  b[0] = 0x45;
  b.writeUInt16BE(64, 2);
  b[8] = 64;
  b[9] = 17;
  b.writeInt32BE(src, 12);
  b.writeInt32BE(dst, 16);
  b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b.writeUInt16BE(44, 24);
  fillL4Checksum(b, 0);
  return 74;
}

function world(services: number) {
  let poller: { arena: Buffer; offs: Int32Array; lens: Int32Array; onBatch: (s: number, n: number) => void } | undefined;
  const addon = {
    TunPoller: class {
      constructor(arena: Buffer, offs: Int32Array, lens: Int32Array, _sb: number, _m: number, onBatch: (s: number, n: number) => void) {
        poller = { arena, offs, lens, onBatch };
      }
      add() {}
      remove() {}
      close() {}
    },
    writeBatch: () => 0,
    writePacket: () => 0,
    copy: () => {},
  } as unknown as NativeAddon;
  const dp = new DataPlane(addon);
  dp.attach({ zone: 'pod', namespace: 'b', name: 'client', node: 'n1', ip: ipToInt('10.244.1.2'), gateway: ipToInt('10.244.1.1') }, 10, true);
  dp.attach({ zone: 'pod', namespace: 'b', name: 'server', node: 'n2', ip: ipToInt('10.244.2.2'), gateway: ipToInt('10.244.2.1') }, 11, true);
  const svcs: any[] = [];
  const slices: any[] = [];
  for (let i = 0; i < services; i++) {
    const ip = `10.100.${(i >> 8) & 255}.${i & 255}`;
    svcs.push({ metadata: { namespace: 'b', name: `s${i}` }, spec: { clusterIP: ip, ports: [{ port: 10, protocol: 'UDP' }] } });
    slices.push({
      metadata: { namespace: 'b', name: `s${i}-x`, labels: { 'kubernetes.io/service-name': `s${i}` } },
      addressType: 'IPv4',
      ports: [{ port: 9 + (i & 1), protocol: 'UDP' }],
      endpoints: [{ addresses: ['10.244.2.2'], conditions: { ready: true }, nodeName: 'n2' }],
    });
  }
  dp.setServices(compileServices({ services: svcs, slices, nodes: [{ name: 'n1', ip: ipToInt('172.18.0.2') }, { name: 'n2', ip: ipToInt('172.18.0.3') }], serviceCidr: '10.96.0.0/12' }));
  return { dp, p: poller! };
}

/** ns per packet for UDP to the first Service's VIP from `flows` rotating source ports. */
function measure(services: number, flows: number, seconds = 1.5): { ns: number; entries: number } {
  const { dp, p } = world(services);
  const src = ipToInt('10.244.1.2');
  const vip = ipToInt('10.100.0.0');
  // Pre-build batches covering all flows once (also fills conntrack).
  const batches = Math.ceil(flows / BATCH);
  const pre: Buffer[] = [];
  for (let b = 0; b < Math.min(batches, 256); b++) {
    const buf = Buffer.alloc(BATCH * 128);
    for (let i = 0; i < BATCH; i++) udp(buf, i * 128, src, 1024 + ((b * BATCH + i) % flows), vip, 10);
    pre.push(buf);
  }
  const run = (b: number) => {
    // Copy a prepared batch into the arena (the packet path rewrites in place).
    const tmpl = pre[b % pre.length]!;
    for (let i = 0; i < BATCH; i++) {
      tmpl.copy(p.arena, i * SLOT, i * 128, i * 128 + 74);
      p.offs[i] = i * SLOT;
      p.lens[i] = 74;
    }
    p.onBatch(0, BATCH);
  };
  // Fill conntrack with `flows` entries (sources beyond the prepared batches too).
  if (flows > pre.length * BATCH) {
    const buf = Buffer.alloc(BATCH * 128);
    for (let f = 0; f < flows; f += BATCH) {
      for (let i = 0; i < BATCH; i++) udp(buf, i * 128, src, 1024 + ((f + i) % 64000), f + i >= 64000 ? ipToInt('10.100.0.1') : vip, 10);
      for (let i = 0; i < BATCH; i++) {
        buf.copy(p.arena, i * SLOT, i * 128, i * 128 + 74);
        p.offs[i] = i * SLOT;
        p.lens[i] = 74;
      }
      p.onBatch(0, BATCH);
    }
  }
  for (let b = 0; b < 2000; b++) run(b); // warm up
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  let t = t0;
  while (t < end) {
    for (let k = 0; k < 200; k++) run(n++);
    t = process.hrtime.bigint();
  }
  const ns = Number(t - t0) / (n * BATCH);
  const entries = dp.proxy.ct.count;
  dp.stop();
  return { ns, entries };
}

// Service count alone (both with 100,000 flows), and flows alone (both with 10 Services).
const rounds = Number(process.env.ROUNDS ?? 3);
const best = (svc: number, flows: number) => {
  let r = measure(svc, flows);
  for (let i = 1; i < rounds; i++) {
    const x = measure(svc, flows);
    if (x.ns < r.ns) r = x;
  }
  return r;
};
const a = best(10, 100000);
const b = best(10000, 100000);
const c = best(10, 64);
console.log(`10 Services, ${a.entries} flows: ${a.ns.toFixed(1)} ns/packet`);
console.log(`10,000 Services, ${b.entries} flows: ${b.ns.toFixed(1)} ns/packet (ratio to 10 Services ${(b.ns / a.ns).toFixed(3)})`);
console.log(`10 Services, ${c.entries} flows: ${c.ns.toFixed(1)} ns/packet (100k flows cost ${(a.ns / c.ns).toFixed(3)}x of 64 flows)`);
