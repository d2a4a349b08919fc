// Flow-log records (Hubble field names) and the `hubble observe`-style compact line, built from
// real verdicts of a compiled table.
import test from 'ava';
import { compilePolicies } from '../../src/dataplane/policy/compile.js';
import { flowEnd, flowRecord, formatFlowLine, stampMilli } from '../../src/dataplane/policy/flow-record.js';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../src/dataplane/policy/table.js';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { byKind, docs, namespace, pod } from '../helpers/policy-world.js';

const WORLD = byKind([
  namespace('production'),
  namespace('default'),
  pod('production', 'backend-7d9f', { app: 'backend', tier: 'api' }, '10.244.1.5', 'kemu-worker', [{ containerPort: 8080 }]),
  pod('production', 'frontend-6a1e', { app: 'frontend' }, '10.244.1.6', 'kemu-worker'),
  pod('default', 'frontend-5c4b', { app: 'frontend' }, '10.244.0.7', 'kemu-control-plane'),
  ...docs(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: production}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend-to-backend, namespace: production}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 8080}]
`),
]);
const table = compilePolicies(WORLD);
const T = Date.UTC(2025, 2, 4, 10, 0, 0, 123);

test('a dropped SYN: DROPPED, POLICY_DENIED, INGRESS, the isolating policies', (t) => {
  const src = ipToInt('10.244.0.7');
  const dst = ipToInt('10.244.1.5');
  const id = table.decide(src, dst, PROTO_TCP, 8080);
  t.true(id > 0);
  const rec = flowRecord({
    time: T,
    info: table.verdictInfo(id),
    tuple: { proto: PROTO_TCP, srcIp: src, srcPort: 43210, dstIp: dst, dstPort: 8080, tcpFlags: 0x02 },
    source: flowEnd(table, src),
    destination: flowEnd(table, dst),
    destinationService: { service: 'production/backend', vip: ipToInt('10.96.0.50'), port: 80 },
    nodeName: 'kemu-worker',
    packetId: 42,
  });
  t.deepEqual(JSON.parse(JSON.stringify(rec)), {
    time: '2025-03-04T10:00:00.123Z',
    verdict: 'DROPPED',
    drop_reason: 133,
    drop_reason_desc: 'POLICY_DENIED',
    traffic_direction: 'INGRESS',
    IP: { source: '10.244.0.7', destination: '10.244.1.5', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 43210, destination_port: 8080, flags: { SYN: true } } },
    source: { namespace: 'default', pod_name: 'frontend-5c4b', labels: ['k8s:app=frontend', 'k8s:io.kubernetes.pod.namespace=default'], ip: '10.244.0.7', port: 43210 },
    destination: {
      namespace: 'production',
      pod_name: 'backend-7d9f',
      labels: ['k8s:app=backend', 'k8s:io.kubernetes.pod.namespace=production', 'k8s:tier=api'],
      ip: '10.244.1.5',
      port: 8080,
    },
    destination_service: { namespace: 'production', name: 'backend', ip: '10.96.0.50', port: 80 },
    node_name: 'kemu-worker',
    ingress_denied_by: [
      { namespace: 'production', name: 'allow-frontend-to-backend', kind: 'NetworkPolicy' },
      { namespace: 'production', name: 'default-deny-ingress', kind: 'NetworkPolicy' },
    ],
    is_reply: false,
    packet_id: 42,
    Summary: 'TCP Flags: SYN',
  });
  t.is(Object.keys(rec).at(-1), 'Summary');
  t.is(
    formatFlowLine(rec, { utc: true, nodeName: true }),
    'Mar  4 10:00:00.123 [kemu-worker]: default/frontend-5c4b:43210 -> production/backend-7d9f:8080 Policy denied DROPPED (TCP Flags: SYN) ' +
      '[ingress denied by production/allow-frontend-to-backend, production/default-deny-ingress; service production/backend 10.96.0.50:80]',
  );
});

test('an allowed flow: FORWARDED with the allowing rule', (t) => {
  const src = ipToInt('10.244.1.6');
  const dst = ipToInt('10.244.1.5');
  const id = table.evaluate(src, dst, PROTO_TCP, 8080);
  t.is(table.decide(src, dst, PROTO_TCP, 8080), 0);
  const rec = flowRecord({
    time: new Date(T),
    info: table.verdictInfo(id),
    tuple: { proto: PROTO_TCP, srcIp: src, srcPort: 50000, dstIp: dst, dstPort: 8080, tcpFlags: 0x02 },
    source: flowEnd(table, src),
    destination: flowEnd(table, dst),
  });
  t.is(rec.verdict, 'FORWARDED');
  t.is(rec.drop_reason_desc, undefined);
  t.is(rec.traffic_direction, 'INGRESS');
  t.deepEqual(rec.ingress_allowed_by, [{ namespace: 'production', name: 'allow-frontend-to-backend', kind: 'NetworkPolicy', rule_index: 0 }]);
  t.is(rec.egress_allowed_by, undefined);
  t.is(
    formatFlowLine(rec, { utc: true }),
    'Mar  4 10:00:00.123: production/frontend-6a1e:50000 -> production/backend-7d9f:8080 to-endpoint FORWARDED (TCP Flags: SYN) [ingress allowed by production/allow-frontend-to-backend rule 0]',
  );
});

test('non-pod ends get reserved identities; UDP and ICMP summaries', (t) => {
  const ext = ipToInt('172.18.0.1');
  const worker = ipToInt('172.18.0.3');
  const fe = ipToInt('10.244.0.7');
  t.deepEqual(flowEnd(table, ext), { reserved: 'world' });
  t.deepEqual(flowEnd(table, worker, 'kemu-worker'), { reserved: 'host', node_name: 'kemu-worker' });
  t.deepEqual(flowEnd(table, worker, 'kemu-control-plane'), { reserved: 'remote-node', node_name: 'kemu-worker' });
  const udp = flowRecord({
    time: T,
    info: table.verdictInfo(table.evaluate(fe, ipToInt('8.8.8.8'), PROTO_UDP, 53)),
    tuple: { proto: PROTO_UDP, srcIp: fe, srcPort: 40000, dstIp: ipToInt('8.8.8.8'), dstPort: 53 },
    source: flowEnd(table, fe),
    destination: flowEnd(table, ipToInt('8.8.8.8')),
  });
  t.is(udp.traffic_direction, 'EGRESS');
  t.deepEqual(udp.destination, { labels: ['reserved:world'], ip: '8.8.8.8', port: 53 });
  t.deepEqual(udp.l4, { UDP: { source_port: 40000, destination_port: 53 } });
  t.is(formatFlowLine(udp, { utc: true }), 'Mar  4 10:00:00.123: default/frontend-5c4b:40000 -> 8.8.8.8:53 (world) to-network FORWARDED (UDP)');
  const be = ipToInt('10.244.1.5');
  const ping = flowRecord({
    time: T,
    info: table.verdictInfo(table.decide(ext, be, PROTO_ICMP, 0)),
    tuple: { proto: PROTO_ICMP, srcIp: ext, srcPort: 0, dstIp: be, dstPort: 0, icmpType: 8 },
    source: flowEnd(table, ext),
    destination: flowEnd(table, be),
  });
  t.is(ping.verdict, 'DROPPED');
  t.deepEqual(ping.l4, { ICMPv4: { type: 8, code: 0 } });
  t.is(ping.source.port, undefined);
  t.is(
    formatFlowLine(ping, { utc: true }),
    'Mar  4 10:00:00.123: 172.18.0.1 (world) -> production/backend-7d9f Policy denied DROPPED (ICMPv4 EchoRequest) [ingress denied by production/allow-frontend-to-backend, production/default-deny-ingress]',
  );
});

test('egress drop names the egress policy; time stamps like Go StampMilli', (t) => {
  const deny = compilePolicies(
    byKind([
      ...(WORLD.pods as any[]),
      ...docs(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lockdown, namespace: default}
spec: {podSelector: {}, policyTypes: [Egress]}
`),
    ]),
  );
  const src = ipToInt('10.244.0.7');
  const dst = ipToInt('10.244.1.6');
  const rec = flowRecord({
    time: T,
    info: deny.verdictInfo(deny.decide(src, dst, PROTO_TCP, 80)),
    tuple: { proto: PROTO_TCP, srcIp: src, srcPort: 1, dstIp: dst, dstPort: 80, tcpFlags: 0x12 },
    source: flowEnd(deny, src),
    destination: flowEnd(deny, dst),
  });
  t.is(rec.traffic_direction, 'EGRESS');
  t.deepEqual(rec.egress_denied_by, [{ namespace: 'default', name: 'lockdown', kind: 'NetworkPolicy' }]);
  t.is(rec.Summary, 'TCP Flags: SYN, ACK');
  t.true(formatFlowLine(rec, { utc: true }).endsWith('Policy denied DROPPED (TCP Flags: SYN, ACK) [egress denied by default/lockdown]'));
  t.is(stampMilli(new Date(Date.UTC(2025, 11, 25, 3, 4, 5, 6)), true), 'Dec 25 03:04:05.006');
});
