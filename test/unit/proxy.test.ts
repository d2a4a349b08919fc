// The Service proxy with real packets and real manifests: the compiled table, DNAT and its
// reverse, REJECT, iptables-mode silence for pings, NodePort masquerade, Local policies,
// hairpin, ClientIP affinity, stale UDP flushing, and the conntrack table itself.
import test from 'ava';
import YAML from 'yaml';
import type { NativeAddon } from '../../src/native/index.js';
import { DataPlane } from '../../src/dataplane/router.js';
import { Conntrack } from '../../src/dataplane/conntrack/table.js';
import { compileServices } from '../../src/dataplane/proxy/compile.js';
import { FE_CLUSTER_IP, FE_LOAD_BALANCER, FE_NODE_PORT } from '../../src/dataplane/proxy/table.js';
import { checksum, ipv4HeaderChecksum } from '../../src/dataplane/wire/checksum.js';
import { buildIcmpError } from '../../src/dataplane/wire/icmp-build.js';
import { intToIp, ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { fillL4Checksum, l4ChecksumOk } from '../../src/dataplane/wire/l4.js';
import { FakeAddon } from '../helpers/fake-addon.js';

const NODES = [
  { name: 'n1', ip: ipToInt('172.18.0.2') },
  { name: 'n2', ip: ipToInt('172.18.0.3') },
];

function tcp(src: string, sport: number, dst: string, dport: number, flags: number, payload = ''): Buffer {
  const b = Buffer.alloc(40 + payload.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b[8] = 64;
  b[9] = 6;
  b.writeUInt32BE(ipToInt(src) >>> 0, 12);
  b.writeUInt32BE(ipToInt(dst) >>> 0, 16);
  b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b.writeUInt32BE(1000, 24);
  b[32] = 5 << 4;
  b[33] = flags;
  b.writeUInt16BE(65535, 34);
  b.write(payload, 40);
  fillL4Checksum(b, 0);
  return b;
}

function udp(src: string, sport: number, dst: string, dport: number, payload = 'hi'): Buffer {
  const b = Buffer.alloc(28 + payload.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b[8] = 64;
  b[9] = 17;
  b.writeUInt32BE(ipToInt(src) >>> 0, 12);
  b.writeUInt32BE(ipToInt(dst) >>> 0, 16);
  b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b.writeUInt16BE(8 + payload.length, 24);
  b.write(payload, 28);
  fillL4Checksum(b, 0);
  return b;
}

function ping(src: string, dst: string): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x45;
  b.writeUInt16BE(28, 2);
  b[8] = 64;
  b[9] = 1;
  b.writeUInt32BE(ipToInt(src) >>> 0, 12);
  b.writeUInt32BE(ipToInt(dst) >>> 0, 16);
  b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
  b[20] = 8;
  return b;
}

const SYN = 0x02;
const SYNACK = 0x12;
const ACK = 0x10;

function parse(w: { fd: number; bytes: Buffer }) {
  const p = w.bytes.subarray(10);
  return {
    fd: w.fd,
    src: intToIp(p.readInt32BE(12)),
    dst: intToIp(p.readInt32BE(16)),
    proto: p[9],
    sport: p.readUInt16BE(20),
    dport: p.readUInt16BE(22),
    icmpType: p[20],
    icmpCode: p[21],
    ipOk: ipv4HeaderChecksum(p, 0) === p.readUInt16BE(10),
    l4Ok: p[9] === 1 ? checksum(p, 20, p.length - 20, 0) === 0 : l4ChecksumOk(p, 0),
    inner: p[9] === 1 && p.length >= 56 ? `${intToIp(p.readInt32BE(40))}:${p.readUInt16BE(48)} -> ${intToIp(p.readInt32BE(44))}:${p.readUInt16BE(50)}` : '',
  };
}

const MANIFESTS = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.50
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abcde, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.2.2], conditions: {ready: true, serving: true, terminating: false}, nodeName: n2, targetRef: {kind: Pod, name: b, namespace: default}}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec: {clusterIP: 10.96.0.60, selector: {app: none}, ports: [{port: 80, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: local, namespace: default}
spec:
  type: NodePort
  clusterIP: 10.96.0.70
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
  ports: [{port: 80, targetPort: 8080, nodePort: 30070}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-x, namespace: default, labels: {kubernetes.io/service-name: local}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: default}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.80
  loadBalancerSourceRanges: [172.18.0.1/32]
  ports: [{port: 80, targetPort: 8080, nodePort: 30090}]
status: {loadBalancer: {ingress: [{ip: 172.18.255.1}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: lb-x, namespace: default, labels: {kubernetes.io/service-name: lb}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: default}
spec: {clusterIP: None, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ignored, namespace: default, labels: {service.kubernetes.io/service-proxy-name: other}}
spec: {clusterIP: 10.96.0.90, ports: [{port: 80}]}
`;

function objects(text: string) {
  const docs = YAML.parseAllDocuments(text).map((d) => d.toJS());
  return { services: docs.filter((d) => d.kind === 'Service'), slices: docs.filter((d) => d.kind === 'EndpointSlice') };
}

function setup(text = MANIFESTS) {
  const addon = new FakeAddon();
  const dp = new DataPlane(addon as unknown as NativeAddon);
  dp.attach({ zone: 'pod', namespace: 'default', name: 'a', node: 'n1', ip: ipToInt('10.244.1.2'), gateway: ipToInt('10.244.1.1') }, 101, true);
  dp.attach({ zone: 'pod', namespace: 'default', name: 'b', node: 'n2', ip: ipToInt('10.244.2.2'), gateway: ipToInt('10.244.2.1') }, 102, true);
  dp.attach({ zone: 'pod', namespace: 'default', name: 'c', node: 'n2', ip: ipToInt('10.244.2.3'), gateway: ipToInt('10.244.2.1') }, 104, true);
  dp.attach({ zone: 'node', name: 'n1', node: 'n1', ip: NODES[0]!.ip, gateway: ipToInt('172.18.0.1') }, 105, true);
  dp.attach({ zone: 'node', name: 'n2', node: 'n2', ip: NODES[1]!.ip, gateway: ipToInt('172.18.0.1') }, 106, true);
  dp.attach({ zone: 'external', name: 'external', node: '', ip: ipToInt('172.18.0.1'), gateway: ipToInt('172.18.0.254') }, 103, true);
  dp.attach({ zone: 'pod', namespace: 'default', name: 'd', node: 'n1', ip: ipToInt('10.244.1.9'), gateway: ipToInt('10.244.1.1') }, 107, true);
  const { services, slices } = objects(text);
  dp.setServices(compileServices({ services, slices, nodes: NODES, serviceCidr: '10.96.0.0/12' }));
  const send = (slot: number, pkt: Buffer) => {
    addon.written = [];
    addon.deliver(slot, [pkt]);
    return addon.written.map(parse);
  };
  return { dp, addon, send };
}

test('compile: frontends per ClusterIP, NodePort on every node, LB IP; headless and proxy-name Services get none', (t) => {
  const { services, slices } = objects(MANIFESTS);
  const tb = compileServices({ services, slices, nodes: NODES, serviceCidr: '10.96.0.0/12' });
  t.is(tb.frontend(ipToInt('10.96.0.50'), 80, 6)?.kind, FE_CLUSTER_IP);
  t.is(tb.frontend(ipToInt('172.18.0.2'), 30080, 6)?.kind, FE_NODE_PORT);
  t.is(tb.frontend(ipToInt('172.18.0.3'), 30080, 6)?.node, 1);
  t.is(tb.frontend(ipToInt('172.18.255.1'), 80, 6)?.kind, FE_LOAD_BALANCER);
  t.is(tb.frontend(ipToInt('10.96.0.50'), 80, 17), undefined);
  t.false(tb.clusterIPs.has(ipToInt('10.96.0.90')));
  t.is(tb.services, 4);
  const web = tb.frontend(ipToInt('10.96.0.50'), 80, 6)!.sp;
  t.is(web.key, 'default/web:80/TCP');
  t.deepEqual([...web.cluster].map((i) => intToIp(web.endpoints[i]!.ip)), ['10.244.2.2']);
  t.is(web.local[0], undefined);
  t.deepEqual([...web.local[1]!], [0]);
});

test('compile: ready endpoints only; serving-terminating ones when none is ready; never not-serving ones', (t) => {
  const slice = (conds: string) => `
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {clusterIP: 10.96.0.5, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s-1, namespace: default, labels: {kubernetes.io/service-name: s}}
addressType: IPv4
ports: [{port: 80, protocol: TCP}]
endpoints:
${conds}`;
  const ips = (text: string) => {
    const { services, slices } = objects(text);
    const sp = compileServices({ services, slices, nodes: NODES, serviceCidr: '10.96.0.0/12' }).ports[0]!;
    return [...sp.cluster].map((i) => intToIp(sp.endpoints[i]!.ip));
  };
  t.deepEqual(ips(slice(`- {addresses: [10.244.1.5], conditions: {ready: true}}
- {addresses: [10.244.1.6], conditions: {ready: false, serving: true, terminating: true}}`)), ['10.244.1.5']);
  t.deepEqual(ips(slice(`- {addresses: [10.244.1.6], conditions: {ready: false, serving: true, terminating: true}}
- {addresses: [10.244.1.7], conditions: {ready: false, serving: false, terminating: true}}`)), ['10.244.1.6']);
  t.deepEqual(ips(slice(`- {addresses: [10.244.1.8], conditions: {ready: false, serving: false, terminating: false}}`)), []);
});

test('DNAT to the endpoint and back: checksums stay right and the client sees the VIP', (t) => {
  const { dp, send } = setup();
  const out = send(0, tcp('10.244.1.2', 40000, '10.96.0.50', 80, SYN));
  t.is(out.length, 1);
  t.like(out[0], { fd: 102, src: '10.244.1.2', sport: 40000, dst: '10.244.2.2', dport: 8080, ipOk: true, l4Ok: true });
  const back = send(1, tcp('10.244.2.2', 8080, '10.244.1.2', 40000, SYNACK));
  t.like(back[0], { fd: 101, src: '10.96.0.50', sport: 80, dst: '10.244.1.2', dport: 40000, ipOk: true, l4Ok: true });
  send(0, tcp('10.244.1.2', 40000, '10.96.0.50', 80, ACK, 'GET / HTTP/1.1\r\n\r\n'));
  const flows = dp.proxy.list(0, () => true) as any[];
  t.is(flows.length, 1);
  t.like(flows[0], { protocol: 'tcp', state: 'ESTABLISHED', service: 'default/web:80/TCP', snat: false });
  t.deepEqual(flows[0].reply, { src: '10.244.2.2', sport: 8080, dst: '10.244.1.2', dport: 40000 });
});

test('a Service port without endpoints answers ICMP port unreachable from the VIP (REJECT), TCP and UDP', (t) => {
  const { send } = setup();
  for (const pkt of [tcp('10.244.1.2', 40001, '10.96.0.60', 80, SYN), udp('10.244.1.2', 40002, '10.96.0.60', 53)]) {
    const out = send(0, pkt);
    t.is(out.length, 1);
    t.like(out[0], { fd: 101, src: '10.96.0.60', dst: '10.244.1.2', proto: 1, icmpType: 3, icmpCode: 3 });
  }
});

test('ping of a ClusterIP and an undefined port get nothing back (iptables mode)', (t) => {
  const { dp, send } = setup();
  t.deepEqual(send(0, ping('10.244.1.2', '10.96.0.50')), []);
  t.deepEqual(send(0, tcp('10.244.1.2', 40003, '10.96.0.50', 81, SYN)), []);
  t.is(dp.proxy.stats.dropUndefinedPort, 2);
});

test('NodePort from the external client: masqueraded to the node IP, reply un-NATed; pod IPs stay unreachable', (t) => {
  const { send } = setup();
  const out = send(5, tcp('172.18.0.1', 50000, '172.18.0.2', 30080, SYN));
  t.like(out[0], { fd: 102, src: '172.18.0.2', dst: '10.244.2.2', dport: 8080, ipOk: true, l4Ok: true });
  const back = send(1, tcp('10.244.2.2', 8080, '172.18.0.2', out[0]!.sport, SYNACK));
  t.like(back[0], { fd: 103, src: '172.18.0.2', sport: 30080, dst: '172.18.0.1', dport: 50000, ipOk: true, l4Ok: true });
  // Without a Service in between the external client still cannot reach a pod.
  const direct = send(5, tcp('172.18.0.1', 50001, '10.244.2.2', 8080, SYN));
  t.like(direct[0], { fd: 103, proto: 1, icmpType: 3 });
});

test('externalTrafficPolicy Local keeps the client IP on a node with an endpoint and drops on one without', (t) => {
  const { dp, send } = setup();
  const ok = send(5, tcp('172.18.0.1', 50002, '172.18.0.3', 30070, SYN));
  t.like(ok[0], { fd: 102, src: '172.18.0.1', dst: '10.244.2.2' });
  t.deepEqual(send(5, tcp('172.18.0.1', 50003, '172.18.0.2', 30070, SYN)), []);
  t.is(dp.proxy.stats.dropNoLocalEndpoints, 1);
});

test('internalTrafficPolicy Local: a client on a node without an endpoint is dropped, one beside it is served', (t) => {
  const { send } = setup();
  t.deepEqual(send(0, tcp('10.244.1.2', 40010, '10.96.0.70', 80, SYN)), []);
  t.like(send(2, tcp('10.244.2.3', 40011, '10.96.0.70', 80, SYN))[0], { fd: 102, src: '10.244.2.3', dst: '10.244.2.2' });
});

test('loadBalancerSourceRanges: allowed source reaches the LB IP; a pod outside the range is dropped', (t) => {
  const { send } = setup();
  t.like(send(5, tcp('172.18.0.1', 50004, '172.18.255.1', 80, SYN))[0], { fd: 102, dst: '10.244.2.2' });
  t.deepEqual(send(0, tcp('10.244.1.2', 40012, '172.18.255.1', 80, SYN)), []);
});

test('hairpin: a pod reaching itself through its Service is SNATed to its gateway and gets the reply from the VIP', (t) => {
  const { send } = setup();
  const out = send(1, tcp('10.244.2.2', 40020, '10.96.0.50', 80, SYN));
  t.like(out[0], { fd: 102, src: '10.244.2.1', dst: '10.244.2.2', dport: 8080, l4Ok: true });
  const back = send(1, tcp('10.244.2.2', 8080, '10.244.2.1', out[0]!.sport, SYNACK));
  t.like(back[0], { fd: 102, src: '10.96.0.50', sport: 80, dst: '10.244.2.2', dport: 40020, l4Ok: true });
});

const THREE = (affinity: string) => `
apiVersion: v1
kind: Service
metadata: {name: s3, namespace: default}
spec: {clusterIP: 10.96.0.33, ${affinity} ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s3-x, namespace: default, labels: {kubernetes.io/service-name: s3}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}
- {addresses: [10.244.2.3], conditions: {ready: true}, nodeName: n2}
- {addresses: [10.244.1.9], conditions: {ready: true}, nodeName: n1}
`;

test('sessionAffinity ClientIP pins 20 connections to one endpoint; None spreads them', (t) => {
  const dests = (text: string) => {
    const { send } = setup(text);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const out = send(0, tcp('10.244.1.2', 41000 + i, '10.96.0.33', 80, SYN));
      seen.add(out[0]?.dst ?? 'none');
    }
    return seen;
  };
  t.is(dests(THREE('sessionAffinity: ClientIP,')).size, 1);
  t.true(dests(THREE('')).size > 1);
});

test('stale UDP flows are flushed when their endpoint goes, so the same source port reaches the new one', (t) => {
  const text = THREE('').replace('targetPort: 8080}', 'targetPort: 8080, protocol: UDP}').replace('protocol: TCP', 'protocol: UDP');
  const { dp, send } = setup(text);
  const first = send(0, udp('10.244.1.2', 12345, '10.96.0.33', 80));
  const old = first[0]!.dst;
  t.is(send(0, udp('10.244.1.2', 12345, '10.96.0.33', 80))[0]!.dst, old);
  const remaining = text.split('\n').filter((l) => !l.includes(`[${old}]`)).join('\n');
  const { services, slices } = objects(remaining);
  dp.setServices(compileServices({ services, slices, nodes: NODES, serviceCidr: '10.96.0.0/12' }));
  t.is(dp.proxy.stats.staleFlowsFlushed, 1);
  const next = send(0, udp('10.244.1.2', 12345, '10.96.0.33', 80))[0]!.dst;
  t.not(next, old);
});

test('a TCP segment that is not a SYN and has no flow is dropped as INVALID', (t) => {
  const { dp, send } = setup();
  t.deepEqual(send(0, tcp('10.244.1.2', 40030, '10.96.0.50', 80, ACK)), []);
  t.is(dp.proxy.stats.dropInvalid, 1);
});

test('conntrack table: lookups survive deletions (backward shift), a full table refuses and counts', (t) => {
  const ct = new Conntrack(1000);
  const ids: number[] = [];
  for (let i = 0; i < 1000; i++) ids.push(ct.create(6, 1, 2, i, 3, 1, (80 << 16) | i, 1, 0, 's', 0));
  t.true(ids.every((f) => f >= 0));
  t.is(ct.create(6, 9, 9, 9, 9, 9, 9, 1, 0, 's', 0), -1);
  t.is(ct.full, 1);
  for (let i = 0; i < 1000; i += 2) ct.remove(ids[i]!);
  t.is(ct.count, 500);
  for (let i = 0; i < 1000; i++) {
    const o = ct.lookup(1, 2, i, 6);
    const r = ct.lookup(3, 1, (80 << 16) | i, 6);
    if (i % 2 === 0) t.true(o === -1 && r === -1);
    else if (o >> 1 !== ids[i] || r >> 1 !== ids[i] || (o & 1) !== 0 || (r & 1) !== 1) t.fail(`flow ${i} lost`);
  }
  t.is(ct.sweep(100), 500);
  t.is(ct.count, 0);
  t.is(ct.lookup(1, 2, 1, 6), -1);
});

test('an ICMP error from the endpoint about a NAT flow reaches the client translated (RELATED)', (t) => {
  const { send } = setup(`
apiVersion: v1
kind: Service
metadata: {name: u, namespace: default}
spec: {clusterIP: 10.96.0.44, ports: [{port: 53, targetPort: 5353, protocol: UDP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: u-x, namespace: default, labels: {kubernetes.io/service-name: u}}
addressType: IPv4
ports: [{port: 5353, protocol: UDP}]
endpoints:
- {addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}
`);
  const fwd = send(0, udp('10.244.1.2', 33333, '10.96.0.44', 53, 'query'));
  t.like(fwd[0], { fd: 102, dst: '10.244.2.2', dport: 5353 });
  // What the endpoint's kernel sends when nothing listens on 5353: it quotes what it received.
  const received = udp('10.244.1.2', 33333, '10.244.2.2', 5353, 'query');
  const err = Buffer.alloc(200);
  const n = buildIcmpError(err, 0, 3, 3, ipToInt('10.244.2.2'), received, 0, received.length, 0);
  const out = send(1, err.subarray(0, n));
  t.is(out.length, 1);
  const pkt = out[0]!;
  t.like(pkt, { fd: 101, src: '10.96.0.44', dst: '10.244.1.2', proto: 1, icmpType: 3, icmpCode: 3, ipOk: true, l4Ok: true, inner: '10.244.1.2:33333 -> 10.96.0.44:53' });
});

test('two Services to the same endpoint port from one client port: the second gets another source port (NAT clash resolution)', (t) => {
  const two = `
apiVersion: v1
kind: Service
metadata: {name: u1, namespace: default}
spec: {clusterIP: 10.96.0.41, ports: [{port: 53, targetPort: 5353, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: u2, namespace: default}
spec: {clusterIP: 10.96.0.42, ports: [{port: 53, targetPort: 5353, protocol: UDP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: u1-x, namespace: default, labels: {kubernetes.io/service-name: u1}}
addressType: IPv4
ports: [{port: 5353, protocol: UDP}]
endpoints: [{addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: u2-x, namespace: default, labels: {kubernetes.io/service-name: u2}}
addressType: IPv4
ports: [{port: 5353, protocol: UDP}]
endpoints: [{addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}]
`;
  const { send } = setup(two);
  const a = send(0, udp('10.244.1.2', 5000, '10.96.0.41', 53))[0]!;
  const b = send(0, udp('10.244.1.2', 5000, '10.96.0.42', 53))[0]!;
  t.like(a, { src: '10.244.1.2', sport: 5000, dst: '10.244.2.2', dport: 5353, l4Ok: true });
  t.like(b, { src: '10.244.1.2', dst: '10.244.2.2', dport: 5353, l4Ok: true });
  t.not(b.sport, 5000);
  // Each reply finds its own flow and comes back from the right Service address and port.
  t.like(send(1, udp('10.244.2.2', 5353, '10.244.1.2', 5000))[0], { fd: 101, src: '10.96.0.41', sport: 53, dport: 5000 });
  t.like(send(1, udp('10.244.2.2', 5353, '10.244.1.2', b.sport))[0], { fd: 101, src: '10.96.0.42', sport: 53, dport: 5000 });
});
