// pcapng encoder tests: byte layout, round trip through our parser, and the real tshark reading
// what EpbWriter wrote (interface names/descriptions, direction flags, packet ids, comments,
// timestamps, snap lengths, and — independently of our checksum code — the IP/TCP/UDP/ICMP
// checksums of packets rewritten by the wire/ helpers).
//
// Packets: real ones captured on 2026-11-23 from a TUN device in a throwaway network namespace
// (kernel 6.18.44; no offload, so checksums are complete) — the same fixtures as wire.test.ts.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  BT_EPB,
  BT_IDB,
  BT_SHB,
  EPB_FLAG_INBOUND,
  EPB_FLAG_OUTBOUND,
  EpbWriter,
  LINKTYPE_RAW,
  interfaceDescription,
  jsCopy,
  parsePcapng,
  sectionHeader,
} from '../../src/dataplane/capture/pcapng.js';
import { decTtl, ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { natSetDstIp, natSetDstPort, natSetSrcIp, natSetSrcPort } from '../../src/dataplane/wire/l4.js';
import { buildEchoReplyInPlace, buildIcmpError } from '../../src/dataplane/wire/icmp-build.js';

/** `ping -c1 -p 6b656d75 10.250.0.2` echo request from 10.250.0.1 (84 bytes) */
const PING = Buffer.from(
  '45000054d17a4000400153380afa00010afa00020800b9f00f690001159e036b00000000940f0900000000006b656d75' +
    '6b656d756b656d756b656d756b656d756b656d756b656d756b656d756b656d756b656d75',
  'hex',
);
/** `curl http://10.250.0.2:8080/` SYN (60 bytes) */
const SYN = Buffer.from(
  '4500003c19c8400040060afe0afa00010afa0002e25c1f902335451000000000a002faf096820000020405b40402080a' +
    '7013c64d000000000103030a',
  'hex',
);
/** `echo hello-udp > /dev/udp/10.250.0.2/5353` (38 bytes) */
const UDP = Buffer.from('45000026379e40004011ed320afa00010afa0002ce3b14e90012dd4068656c6c6f2d7564700a', 'hex');

const T0 = 1795399189594191; // µs; > 2^32, so both timestamp halves matter

function cp(b: Buffer): Buffer {
  return Buffer.from(b);
}
function u32(b: Buffer, o: number): number {
  return b.readUInt32LE(o);
}

function haveTshark(): boolean {
  const r = spawnSync('tshark', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

// ---- block layout ----------------------------------------------------------------------------

test('Section Header Block layout', (t) => {
  const b = sectionHeader('kemu 0.1.0');
  t.is(b.length % 4, 0);
  t.is(u32(b, 0), BT_SHB);
  t.is(u32(b, 4), b.length);
  t.is(u32(b, b.length - 4), b.length);
  t.is(u32(b, 8), 0x1a2b3c4d);
  t.is(b.readUInt16LE(12), 1);
  t.is(b.readUInt16LE(14), 0);
  t.is(b.readBigInt64LE(16), -1n, 'section length unknown');
  t.is(b.readUInt16LE(24), 4, 'shb_userappl');
  t.is(b.readUInt16LE(26), 10);
  t.is(b.subarray(28, 38).toString(), 'kemu 0.1.0');
  t.deepEqual([...b.subarray(38, 40)], [0, 0], 'padding');
  t.is(u32(b, 40), 0, 'opt_endofopt');
  t.is(b.length, 48);
  t.is(parsePcapng(b).userAppl, 'kemu 0.1.0');
});

test('Interface Description Block layout and options', (t) => {
  const b = interfaceDescription({ name: 'default/web-0/eth0', description: 'k8s.ns=default;k8s.podName=web-0;k8s.node=node-1', snaplen: 256 });
  t.is(u32(b, 0), BT_IDB);
  t.is(u32(b, 4), b.length);
  t.is(u32(b, b.length - 4), b.length);
  t.is(b.readUInt16LE(8), LINKTYPE_RAW);
  t.is(b.readUInt16LE(10), 0);
  t.is(u32(b, 12), 256);
  t.is(b.readUInt16LE(16), 2, 'if_name');
  t.is(b.readUInt16LE(18), 18);
  t.is(b.subarray(20, 38).toString(), 'default/web-0/eth0');
  const parsed = parsePcapng(Buffer.concat([sectionHeader('x'), b])).interfaces;
  t.deepEqual(parsed, [
    { name: 'default/web-0/eth0', description: 'k8s.ns=default;k8s.podName=web-0;k8s.node=node-1', linktype: 101, snaplen: 256, tsresol: 6 },
  ]);
  const bare = parsePcapng(Buffer.concat([sectionHeader('x'), interfaceDescription({ name: 'n', snaplen: 0, linktype: 228, tsresolMicro: false })]));
  t.deepEqual(bare.interfaces, [{ name: 'n', description: undefined, linktype: 228, snaplen: 0, tsresol: undefined }]);
});

// ---- EpbWriter --------------------------------------------------------------------------------

test('EpbWriter round-trips through parsePcapng: flags, packet ids, comments, snap, padding', (t) => {
  const w = new EpbWriter();
  const big = 2 ** 40 + 5;
  const note = 'DNAT 10.96.0.20:80 → 10.244.2.5:8080 (service default/web, endpoint web-0) ✓';
  t.true(w.append(0, T0, PING, 0, PING.length, PING.length, EPB_FLAG_OUTBOUND, 1));
  t.true(w.append(1, T0 + 12, PING, 0, PING.length, PING.length, EPB_FLAG_INBOUND, 1, note));
  t.true(w.append(0, T0 + 0.5, SYN, 0, 41, 60, 0, -1)); // fraction floored; snapped, odd length, no options
  t.true(w.append(1, T0 + 1, UDP, 3, 35, 35, EPB_FLAG_INBOUND, big, undefined));
  t.true(w.append(0, 2 ** 52, UDP, 0, 0, 38, EPB_FLAG_OUTBOUND, 2 ** 53 - 1, ''));
  t.is(w.count, 5);
  const used = w.used;
  const chunk = w.take();
  t.is(chunk.length, used);
  t.is(w.used, 0);
  t.is(w.count, 0);
  const p = parsePcapng(Buffer.concat([sectionHeader('t'), interfaceDescription({ name: 'a', snaplen: 0 }), interfaceDescription({ name: 'b', snaplen: 0 }), chunk]));
  t.deepEqual(
    p.blocks.map((b) => b.type),
    [BT_SHB, BT_IDB, BT_IDB, BT_EPB, BT_EPB, BT_EPB, BT_EPB, BT_EPB],
  );
  t.true(p.blocks.every((b) => b.length % 4 === 0));
  const [a, b, c, d, e] = p.packets;
  t.like(a, { ifaceId: 0, tsMicros: T0, capLen: 84, origLen: 84, flags: 2, packetId: 1, comment: undefined });
  t.deepEqual(a!.data, PING);
  t.like(b, { ifaceId: 1, tsMicros: T0 + 12, flags: 1, packetId: 1, comment: note });
  t.like(c, { ifaceId: 0, tsMicros: T0, capLen: 41, origLen: 60, flags: 0, packetId: undefined, comment: undefined });
  t.deepEqual(c!.data, SYN.subarray(0, 41));
  t.like(d, { ifaceId: 1, capLen: 35, origLen: 35, packetId: big });
  t.deepEqual(d!.data, UDP.subarray(3, 38));
  t.like(e, { ifaceId: 0, tsMicros: 2 ** 52, capLen: 0, origLen: 38, flags: 2, packetId: 2 ** 53 - 1, comment: undefined });
  // the block without options is exactly 28 + pad4(41) + 4 bytes
  t.is(p.blocks[5]!.length, 28 + 44 + 4);
  // orig < cap is clamped so readers do not reject the block
  const w2 = new EpbWriter(4096);
  w2.append(0, 0, SYN, 0, 60, 10, 0, -1);
  t.like(parsePcapng(w2.take()).packets[0], { capLen: 60, origLen: 60 });
});

test('EpbWriter zeroes padding in a reused, dirty buffer', (t) => {
  const w = new EpbWriter(4096);
  const dirt = Buffer.alloc(1000, 0xff);
  t.true(w.append(0xffffffff, 0, dirt, 0, 1000, 1000, 0xffffffff, 0x7fffffff, '\u00ff'.repeat(100)));
  w.take();
  const one = Buffer.from([0x45]);
  t.true(w.append(0, 5, one, 0, 1, 1, 1, 2, 'xyz'));
  const c = w.take();
  // EPB: 28 fixed, data 1 + 3 padding, flags 8, packetid 12, comment 4 + 3 + 1 padding, end 4, trailer 4
  t.is(c.length, 28 + 4 + 8 + 12 + 8 + 4 + 4);
  t.deepEqual([...c.subarray(28, 32)], [0x45, 0, 0, 0], 'data padding');
  t.deepEqual([...c.subarray(32, 40)], [2, 0, 4, 0, 1, 0, 0, 0], 'epb_flags');
  t.deepEqual([...c.subarray(40, 52)], [5, 0, 8, 0, 2, 0, 0, 0, 0, 0, 0, 0], 'epb_packetid');
  t.deepEqual([...c.subarray(52, 60)], [1, 0, 3, 0, 0x78, 0x79, 0x7a, 0], 'opt_comment + padding');
  t.deepEqual([...c.subarray(60, 64)], [0, 0, 0, 0], 'opt_endofopt');
  t.is(u32(c, 64), c.length);
});

test('EpbWriter drops and counts what does not fit; take() returns an independent copy', (t) => {
  const w = new EpbWriter(256);
  t.true(w.append(0, 1, PING, 0, 84, 84, 1, 1)); // 28 + 84 + 8 + 12 + 4 + 4 = 140
  t.is(w.used, 140);
  t.false(w.append(0, 2, PING, 0, 84, 84, 1, 2));
  t.is(w.dropped, 1);
  t.is(w.used, 140, 'nothing partial written');
  t.true(w.append(0, 3, UDP, 0, 38, 38, 0, -1)); // 28 + 40 + 4 = 72 fits (212)
  t.false(w.append(0, 4, UDP, 0, 38, 38, 0, -1, 'a comment that does not fit anymore'));
  t.is(w.dropped, 2);
  const taken = w.take();
  t.is(taken.length, 212);
  const snapshot = Buffer.from(taken);
  t.true(w.append(0, 5, SYN, 0, 60, 60, 2, 9, 'again'));
  t.deepEqual(taken, snapshot, 'later appends do not change a taken chunk');
  t.deepEqual(parsePcapng(taken).packets.map((p) => p.tsMicros), [1, 3]);
  t.is(w.dropped, 2, 'drop count survives take()');
  t.false(new EpbWriter(64).append(0, 0, PING, 0, 84, 84, 0, -1), 'larger than the whole buffer');
  t.throws(() => new EpbWriter(10));
  t.throws(() => w.append(0, 0, PING, 80, 10, 10, 0, -1), { instanceOf: RangeError });
  t.throws(() => w.append(0, 0, PING, -1, 10, 10, 0, -1), { instanceOf: RangeError });
});

test('EpbWriter copies packet bytes with the injected copy function', (t) => {
  const calls: [number, number, number][] = [];
  const w = new EpbWriter(4096, (dst, dstOff, src, srcOff, len) => {
    calls.push([dstOff, srcOff, len]);
    jsCopy(dst, dstOff, src, srcOff, len);
  });
  w.append(0, 0, UDP, 4, 20, 34, 0, -1);
  w.append(0, 0, UDP, 0, 0, 38, 0, -1);
  w.append(0, 0, PING, 0, 84, 84, 0, -1);
  t.deepEqual(calls, [
    [28, 4, 20],
    [52 + 32 + 28, 0, 84], // after a 52-byte and a 32-byte (capLen 0: no copy call) block
  ]);
  const p = parsePcapng(w.take()).packets;
  t.deepEqual(p[0]!.data, UDP.subarray(4, 24));
  t.deepEqual(p[2]!.data, PING);
});

test('EpbWriter appends allocate nothing: no GC in 2M appends under --trace-gc', (t) => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const mod = JSON.stringify(new URL(`file://${path.resolve(here, '../../src/dataplane/capture/pcapng.js')}`).href);
  const dir = mkdtempSync(path.join(tmpdir(), 'kemu-pcapng-gc-'));
  try {
    const file = path.join(dir, 'gc.mjs');
    // setTime once per 64-packet batch with a real (non-Smi) µs timestamp, then appendBatchTime;
    // append() itself with a Smi timestamp (a per-packet double would be boxed by the caller);
    // a verdict comment on every 8th packet.
    writeFileSync(
      file,
      `import { EpbWriter } from ${mod};
const pkt = Buffer.alloc(1500, 7);
const w = new EpbWriter(1 << 20);
const comment = 'dropped: NetworkPolicy default/deny-all';
function run(n) {
  let used = 0;
  for (let i = 0; i < n; i++) {
    if ((i & 63) === 0) w.setTime(${T0} + i);
    const c = (i & 7) === 0 ? comment : undefined;
    const ok = (i & 1) === 0
      ? w.appendBatchTime(i & 3, pkt, 0, 128, 1500, 1, i, c)
      : w.append(i & 3, i, pkt, 3, 127, 1500, 2, i, c);
    if (!ok) { used += w.used; w.reset(); }
  }
  return used + w.dropped;
}
run(200000);
console.log('KEMU-MEASURE-START');
const r = run(2000000);
console.log('KEMU-MEASURE-END', r);
`,
    );
    const res = spawnSync(process.execPath, ['--trace-gc', file], { encoding: 'utf8', timeout: 120_000 });
    t.is(res.status, 0, res.stderr);
    const s = res.stdout.indexOf('KEMU-MEASURE-START');
    const e = res.stdout.indexOf('KEMU-MEASURE-END');
    t.true(s >= 0 && e > s, res.stdout.slice(-2000));
    const gcs = res.stdout.slice(s, e).split('\n').filter((l) => /Scavenge|Mark-Compact|Mark-sweep|Minor/i.test(l));
    t.deepEqual(gcs, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setTime + appendBatchTime write the same block as append', (t) => {
  const a = new EpbWriter(4096);
  const b = new EpbWriter(4096);
  for (const ts of [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, T0, T0 + 0.75, 2 ** 53 - 1]) {
    a.append(3, ts, PING, 0, 84, 84, 1, 9, 'x');
    b.setTime(ts);
    b.appendBatchTime(3, PING, 0, 84, 84, 1, 9, 'x');
  }
  const ca = a.take();
  t.deepEqual(ca, b.take());
  t.deepEqual(
    parsePcapng(ca).packets.map((p) => p.tsMicros),
    [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, T0, T0, 2 ** 53 - 1],
  );
});

// ---- the real tshark ----------------------------------------------------------------------------

const FIELDS = [
  'frame.number',
  'frame.interface_id',
  'frame.interface_name',
  'frame.interface_description',
  'ip.src',
  'ip.dst',
  'frame.comment',
  'frame.packet_flags_direction',
  'frame.packet_id',
  'frame.time_epoch',
  'frame.len',
  'frame.cap_len',
  'ip.ttl',
  'ip.checksum.status',
  'tcp.checksum.status',
  'udp.checksum.status',
  'icmp.checksum.status',
  'icmp.type',
  'tcp.dstport',
  'udp.dstport',
] as const;
type Row = Record<(typeof FIELDS)[number], string>;

/**
 * Run tshark on a file (`-r FILE`), or on the file fed through a real pipe (`-i -`, like
 * `kemu capture -w - | wireshark -k -i -`; Node's own stdio pipes are sockets, which tshark refuses).
 */
function tshark(t: { fail: (m: string) => void }, file: string, viaPipe: boolean): Row[] {
  const args = viaPipe ? ['-c', 'f=$1; shift; cat "$f" | exec tshark "$@"', 'sh', file, '-i', '-'] : ['-r', file];
  const r = spawnSync(
    viaPipe ? 'sh' : 'tshark',
    [
      ...args,
      '-o', 'ip.check_checksum:TRUE',
      '-o', 'tcp.check_checksum:TRUE',
      '-o', 'udp.check_checksum:TRUE',
      '-T', 'fields',
      '-E', 'separator=/t',
      '-E', 'occurrence=a',
      '-E', 'aggregator=,',
      ...FIELDS.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0 || /damaged|corrupt|malformed|invalid/i.test(r.stderr)) t.fail(`tshark failed (${r.status}): ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const cols = l.split('\t');
      return Object.fromEntries(FIELDS.map((f, i) => [f, cols[i] ?? ''])) as Row;
    });
}

const CLIENT = { name: 'default/client-0/eth0', description: 'k8s.ns=default;k8s.podName=client-0;k8s.node=node-1', snaplen: 65535 };
const WEB = { name: 'default/web-0/eth0', description: 'k8s.ns=default;k8s.podName=web-0;k8s.node=node-2', snaplen: 65535 };
const DNAT_NOTE = 'DNAT 10.250.0.2:8080 → 10.244.2.5:80 (service default/web, endpoint default/web-0)';

/** A capture like the router writes: each packet leaving one pod and (rewritten) arriving at another. */
function buildCapture(): { file: Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [sectionHeader('kemu test'), interfaceDescription(CLIENT)];
  const w = new EpbWriter(1 << 16);
  // 1-2: ping, forwarded (TTL - 1) with DNAT
  const ping = cp(PING);
  w.append(0, T0, ping, 0, ping.length, ping.length, EPB_FLAG_OUTBOUND, 1);
  natSetDstIp(ping, 0, ipToInt('10.244.2.5'), false);
  decTtl(ping, 0);
  chunks.push(w.take(), interfaceDescription(WEB)); // a new interface appears mid-stream, as in the hub
  w.append(1, T0 + 5, ping, 0, ping.length, ping.length, EPB_FLAG_INBOUND, 1, DNAT_NOTE);
  // 3: the web pod's echo reply, built in place
  buildEchoReplyInPlace(ping, 0);
  w.append(1, T0 + 9, ping, 0, ping.length, ping.length, EPB_FLAG_OUTBOUND, 2);
  // 4-5: TCP SYN: snapped copy on the way out, DNAT + port rewrite on the way in; huge packet id
  const syn = cp(SYN);
  const id = 2 ** 40 + 5;
  w.append(0, T0 + 20, syn, 0, 40, 60, EPB_FLAG_OUTBOUND, id);
  natSetDstIp(syn, 0, ipToInt('10.244.2.5'), false);
  natSetDstPort(syn, 0, 80, false);
  natSetSrcIp(syn, 0, ipToInt('10.244.1.7'), false);
  natSetSrcPort(syn, 0, 61000, false);
  decTtl(syn, 0);
  w.append(1, T0 + 21, syn, 0, 60, 60, EPB_FLAG_INBOUND, id, DNAT_NOTE);
  // 6: UDP with SNAT; 7: ICMP port unreachable generated by the data plane for it
  const udp = cp(UDP);
  natSetSrcIp(udp, 0, ipToInt('10.244.1.7'), false);
  natSetDstPort(udp, 0, 53, false);
  w.append(0, T0 + 30, udp, 0, udp.length, udp.length, EPB_FLAG_OUTBOUND, 3);
  const err = Buffer.alloc(128);
  const n = buildIcmpError(err, 0, 3, 3, ipToInt('10.244.1.1'), udp, 0, udp.length, 0);
  w.append(0, T0 + 31, err, 0, n, n, EPB_FLAG_INBOUND, 4, 'generated by the kemu data plane: no endpoints');
  chunks.push(w.take());
  return { file: Buffer.concat(chunks), chunks };
}

test('tshark reads interfaces, directions, packet ids, comments, timestamps and checksums we wrote', (t) => {
  if (!haveTshark()) return t.fail('tshark not installed: apt-get install -y tshark');
  const { file } = buildCapture();
  const dir = mkdtempSync(path.join(tmpdir(), 'kemu-pcapng-'));
  try {
    const f = path.join(dir, 'capture.pcapng');
    writeFileSync(f, file);
    const rows = tshark(t, f, false);
    t.is(rows.length, 7);
    const [r1, r2, r3, r4, r5, r6, r7] = rows as [Row, Row, Row, Row, Row, Row, Row];
    for (const [i, r] of rows.entries()) {
      t.is(r['frame.number'], String(i + 1));
      const want = r['frame.interface_id'] === '0' ? CLIENT : WEB;
      t.is(r['frame.interface_name'], want.name);
      t.is(r['frame.interface_description'], want.description);
    }
    t.deepEqual(rows.map((r) => r['frame.interface_id']), ['0', '1', '1', '0', '1', '0', '0']);
    // tshark prints epb_flags' direction as hex (0x00000002); 1 = inbound, 2 = outbound
    t.deepEqual(rows.map((r) => Number(r['frame.packet_flags_direction'])), [2, 1, 2, 2, 1, 2, 1]);
    t.deepEqual(rows.map((r) => r['frame.packet_id']), ['1', '1', '2', String(2 ** 40 + 5), String(2 ** 40 + 5), '3', '4']);
    t.deepEqual(rows.map((r) => r['frame.comment']), ['', DNAT_NOTE, '', '', DNAT_NOTE, '', 'generated by the kemu data plane: no endpoints']);
    t.is(r1['frame.time_epoch'], '1795399189.594191000');
    t.is(r2['frame.time_epoch'], '1795399189.594196000');

    t.like(r1, { 'ip.src': '10.250.0.1', 'ip.dst': '10.250.0.2', 'ip.ttl': '64', 'ip.checksum.status': '1', 'icmp.checksum.status': '1', 'icmp.type': '8' });
    t.like(r2, { 'ip.src': '10.250.0.1', 'ip.dst': '10.244.2.5', 'ip.ttl': '63', 'ip.checksum.status': '1', 'icmp.checksum.status': '1' });
    t.like(r3, { 'ip.src': '10.244.2.5', 'ip.dst': '10.250.0.1', 'ip.ttl': '64', 'ip.checksum.status': '1', 'icmp.checksum.status': '1', 'icmp.type': '0' });
    t.like(r4, { 'ip.src': '10.250.0.1', 'ip.dst': '10.250.0.2', 'frame.len': '60', 'frame.cap_len': '40', 'ip.checksum.status': '1' });
    t.like(r5, {
      'ip.src': '10.244.1.7',
      'ip.dst': '10.244.2.5',
      'tcp.dstport': '80',
      'ip.ttl': '63',
      'frame.len': '60',
      'frame.cap_len': '60',
      'ip.checksum.status': '1',
      'tcp.checksum.status': '1',
    });
    t.like(r6, { 'ip.src': '10.244.1.7', 'ip.dst': '10.250.0.2', 'udp.dstport': '53', 'ip.checksum.status': '1', 'udp.checksum.status': '1' });
    // ICMP error: outer header, then the quoted datagram's header
    t.like(r7, {
      'ip.src': '10.244.1.1,10.244.1.7',
      'ip.dst': '10.244.1.7,10.250.0.2',
      'ip.checksum.status': '1,1',
      'icmp.checksum.status': '1',
      'icmp.type': '3',
      'udp.dstport': '53',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tshark reads the capture as a stream through a pipe (wireshark -k -i - style)', (t) => {
  if (!haveTshark()) return t.fail('tshark not installed: apt-get install -y tshark');
  const { chunks } = buildCapture();
  t.true(chunks.length >= 4, 'the IDB for web-0 arrives after EPBs');
  const dir = mkdtempSync(path.join(tmpdir(), 'kemu-pcapng-'));
  try {
    const f = path.join(dir, 'stream.pcapng');
    writeFileSync(f, Buffer.concat(chunks));
    const rows = tshark(t, f, true);
    t.is(rows.length, 7);
    t.deepEqual([...new Set(rows.map((r) => r['frame.interface_name']))], [CLIENT.name, WEB.name]);
    t.deepEqual(rows.map((r) => r['frame.packet_id']), ['1', '1', '2', String(2 ** 40 + 5), String(2 ** 40 + 5), '3', '4']);
    t.is(rows[6]!['frame.comment'], 'generated by the kemu data plane: no endpoints');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tshark rejects a corrupted block, so the check above can fail', (t) => {
  if (!haveTshark()) return t.fail('tshark not installed: apt-get install -y tshark');
  const { file } = buildCapture();
  const bad = Buffer.from(file);
  bad.writeUInt32LE(u32(bad, bad.length - 4) + 4, bad.length - 4); // trailing length of the last EPB
  const dir = mkdtempSync(path.join(tmpdir(), 'kemu-pcapng-'));
  try {
    const f = path.join(dir, 'bad.pcapng');
    writeFileSync(f, bad);
    const r = spawnSync('tshark', ['-r', f, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    t.true(r.status !== 0 && /damaged|corrupt|malformed|invalid/i.test(r.stderr), `status ${r.status}: ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.throws(() => parsePcapng(bad), { message: /trailing length/ });
});
