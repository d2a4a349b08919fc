// The packet path with real IPv4 bytes and a recording stand-in for the native addon (no TUN,
// no root): routing, TTL, drops with their counters, ICMP errors, gateway pings, capture.
import test from 'ava';
import type { NativeAddon } from '../../src/native/index.js';
import { DataPlane } from '../../src/dataplane/router.js';
import { checksum, ipv4HeaderChecksum } from '../../src/dataplane/wire/checksum.js';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { parsePcapng } from '../../src/dataplane/capture/pcapng.js';
import { FakeAddon } from '../helpers/fake-addon.js';

/** A real ICMP echo request, built byte by byte. */
function echoRequest(src: string, dst: string, ttl = 64, id = 0x1234): Buffer {
  const b = Buffer.alloc(28 + 8);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(id, 4);
  b[8] = ttl;
  b[9] = 1;
  b.writeUInt32BE(ipToInt(src) >>> 0, 12);
  b.writeUInt32BE(ipToInt(dst) >>> 0, 16);
  b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
  b[20] = 8;
  b.writeUInt16BE(0xbeef, 24);
  b.writeUInt16BE(1, 26);
  b.write('kemuping', 28);
  b.writeUInt16BE(checksum(b, 20, b.length - 20, 0), 22);
  return b;
}

function setup() {
  const addon = new FakeAddon();
  const dp = new DataPlane(addon as unknown as NativeAddon);
  const gwA = ipToInt('10.244.1.1');
  const a = dp.attach({ zone: 'pod', namespace: 'default', name: 'a', node: 'n1', ip: ipToInt('10.244.1.2'), gateway: gwA }, 101, true);
  const b = dp.attach({ zone: 'pod', namespace: 'default', name: 'b', node: 'n2', ip: ipToInt('10.244.2.2'), gateway: ipToInt('10.244.2.1') }, 102, true);
  const ext = dp.attach({ zone: 'external', name: 'external', node: '', ip: ipToInt('172.18.0.1'), gateway: ipToInt('172.18.0.254') }, 103, true);
  return { addon, dp, a, b, ext };
}

const ip = (pkt: Buffer) => pkt.subarray(10);

test('a packet is routed to the destination TUN with TTL decremented and a valid header checksum', (t) => {
  const { addon, dp, a } = setup();
  addon.deliver(a, [echoRequest('10.244.1.2', '10.244.2.2')]);
  t.is(addon.written.length, 1);
  const w = addon.written[0]!;
  t.is(w.fd, 102);
  t.is(ip(w.bytes)[8], 63);
  t.is(checksum(ip(w.bytes), 0, 20, 0), 0, 'header checksum verifies');
  t.is(dp.stats.rxPackets, 1);
});

test('garbage, IPv6 and spoofed sources are dropped and counted; the rest of the batch still goes', (t) => {
  const { addon, dp, a } = setup();
  const truncated = Buffer.from([0x45, 0x00, 0xff, 0xff, 1, 2, 3]);
  const badIhl = Buffer.alloc(40, 0x41);
  const v6 = Buffer.alloc(48);
  v6[0] = 0x60;
  const spoof = echoRequest('10.244.9.9', '10.244.2.2');
  const good = echoRequest('10.244.1.2', '10.244.2.2');
  addon.deliver(a, [truncated, badIhl, v6, spoof, good, Buffer.alloc(0)]);
  t.is(dp.stats.dropMalformed, 3);
  t.is(dp.stats.dropIpv6, 1);
  t.is(dp.stats.dropSpoofed, 1);
  t.deepEqual(addon.written.map((w) => w.fd), [102]);
});

test('an unknown destination gets ICMP host unreachable from the gateway, quoting the original header', (t) => {
  const { addon, dp, a } = setup();
  const orig = echoRequest('10.244.1.2', '10.244.77.7');
  addon.deliver(a, [orig]);
  t.is(dp.stats.dropNoRoute, 1);
  t.is(addon.written.length, 1);
  const w = ip(addon.written[0]!.bytes);
  t.is(addon.written[0]!.fd, 101);
  t.is(w.readUInt32BE(12), ipToInt('10.244.1.1') >>> 0);
  t.is(w.readUInt32BE(16), ipToInt('10.244.1.2') >>> 0);
  t.is(w[9], 1);
  t.is(w[20], 3, 'destination unreachable');
  t.is(w[21], 1, 'host unreachable');
  t.deepEqual(w.subarray(28, 28 + 28), orig.subarray(0, 28));
  t.is(checksum(w, 0, 20, 0), 0);
  t.is(checksum(w, 20, w.length - 20, 0), 0);
});

test('TTL 1 gets ICMP time exceeded; a ping of the gateway is answered', (t) => {
  const { addon, dp, a } = setup();
  addon.deliver(a, [echoRequest('10.244.1.2', '10.244.2.2', 1)]);
  t.is(dp.stats.dropTtl, 1);
  t.is(ip(addon.written[0]!.bytes)[20], 11);
  addon.written = [];
  addon.deliver(a, [echoRequest('10.244.1.2', '10.244.1.1')]);
  const r = ip(addon.written[0]!.bytes);
  t.is(addon.written[0]!.fd, 101);
  t.is(r[20], 0, 'echo reply');
  t.is(r.readUInt32BE(12), ipToInt('10.244.1.1') >>> 0);
  t.is(checksum(r, 20, r.length - 20, 0), 0);
  t.is(checksum(r, 0, 20, 0), 0);
});

test('the external client cannot reach pod IPs (net unreachable) but reaches nothing else by accident', (t) => {
  const { addon, dp, ext } = setup();
  addon.deliver(ext, [echoRequest('172.18.0.1', '10.244.2.2')]);
  t.is(dp.stats.dropNoRoute, 1);
  const w = ip(addon.written[0]!.bytes);
  t.is(addon.written[0]!.fd, 103);
  t.is(w[20], 3);
  t.is(w[21], 0, 'net unreachable');
  t.is(w.readUInt32BE(12), ipToInt('172.18.0.254') >>> 0);
});

test('capture: one packet appears on both pods with the same packet id, outbound then inbound, TTL before and after', (t) => {
  const { addon, dp, a } = setup();
  const chunks: Buffer[] = [];
  const s = dp.capture.open({ filter: { namespaces: [], pods: [], includeInfra: false }, snaplen: 2048, count: 0, sink: (c) => (chunks.push(Buffer.from(c)), true), onEnd: () => {} });
  addon.deliver(a, [echoRequest('10.244.1.2', '10.244.2.2')]);
  dp.capture.close(s);
  const parsed = parsePcapng(Buffer.concat(chunks));
  t.deepEqual(parsed.interfaces.map((i) => i.name), ['default/a/eth0', 'default/b/eth0']);
  t.is(parsed.interfaces[0]!.description, 'k8s.ns=default;k8s.podName=a;k8s.node=n1');
  t.is(parsed.packets.length, 2);
  const [out, inn] = parsed.packets;
  t.is(out!.packetId, inn!.packetId);
  t.is(out!.flags & 3, 2);
  t.is(inn!.flags & 3, 1);
  t.is(out!.data[8], 64);
  t.is(inn!.data[8], 63);
  t.false(dp.capture.active);
});
