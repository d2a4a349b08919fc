// NetworkPolicy in the packet path, with real bytes and real manifests: a denied connection is
// dropped with its reason recorded, an allowed one is tracked so its replies pass even where a
// policy denies that direction, Service traffic is judged on the endpoint after DNAT, and the
// flow log names the policies.
import test from 'ava';
import YAML from 'yaml';
import type { NativeAddon } from '../../src/native/index.js';
import { DataPlane } from '../../src/dataplane/router.js';
import { compilePolicies } from '../../src/dataplane/policy/compile.js';
import { FlowLog, materialize } from '../../src/dataplane/policy/flow-log.js';
import { compileServices } from '../../src/dataplane/proxy/compile.js';
import { ipv4HeaderChecksum } from '../../src/dataplane/wire/checksum.js';
import { intToIp, ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { fillL4Checksum } from '../../src/dataplane/wire/l4.js';
import { FakeAddon } from '../helpers/fake-addon.js';
import { policyDropEvents } from '../../src/daemon/policy-events.js';

function tcp(src: string, sport: number, dst: string, dport: number, flags: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = 0x45;
  b.writeUInt16BE(40, 2);
  b[8] = 64;
  b[9] = 6;
  b.writeUInt32BE(ipToInt(src) >>> 0, 12);
  b.writeUInt32BE(ipToInt(dst) >>> 0, 16);
  b.writeUInt16BE(ipv4HeaderChecksum(b, 0), 10);
  b.writeUInt16BE(sport, 20);
  b.writeUInt16BE(dport, 22);
  b[32] = 5 << 4;
  b[33] = flags;
  b.writeUInt16BE(65535, 34);
  fillL4Checksum(b, 0);
  return b;
}

const WORLD = `
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, namespace: prod, labels: {app: frontend}}
spec: {nodeName: n1, containers: [{name: c, image: busybox}]}
status: {podIP: 10.244.1.2}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: prod, labels: {app: backend}}
spec: {nodeName: n2, containers: [{name: c, image: nginx, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: 10.244.2.2}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: prod, labels: {app: other}}
spec: {nodeName: n1, containers: [{name: c, image: busybox}]}
status: {podIP: 10.244.1.3}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: prod}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend-to-backend, namespace: prod}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{protocol: TCP, port: http}]}]
---
apiVersion: v1
kind: Service
metadata: {name: backend-service, namespace: prod}
spec: {clusterIP: 10.96.0.50, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-service-x, namespace: prod, labels: {kubernetes.io/service-name: backend-service}}
addressType: IPv4
ports: [{port: 8080, protocol: TCP}]
endpoints: [{addresses: [10.244.2.2], conditions: {ready: true}, nodeName: n2}]
`;

const NODES = [
  { name: 'n1', ip: ipToInt('172.18.0.2') },
  { name: 'n2', ip: ipToInt('172.18.0.3') },
];

function setup(withPolicies = true) {
  const docs = YAML.parseAllDocuments(WORLD).map((d) => d.toJS());
  const of = (k: string) => docs.filter((d) => d.kind === k);
  const addon = new FakeAddon();
  const dp = new DataPlane(addon as unknown as NativeAddon);
  dp.attach({ zone: 'pod', namespace: 'prod', name: 'frontend', node: 'n1', ip: ipToInt('10.244.1.2'), gateway: ipToInt('10.244.1.1') }, 101, true);
  dp.attach({ zone: 'pod', namespace: 'prod', name: 'backend', node: 'n2', ip: ipToInt('10.244.2.2'), gateway: ipToInt('10.244.2.1') }, 102, true);
  dp.attach({ zone: 'pod', namespace: 'prod', name: 'other', node: 'n1', ip: ipToInt('10.244.1.3'), gateway: ipToInt('10.244.1.1') }, 103, true);
  dp.setServices(compileServices({ services: of('Service'), slices: of('EndpointSlice'), nodes: NODES, serviceCidr: '10.96.0.0/12' }));
  dp.setPolicies(compilePolicies({ policies: withPolicies ? of('NetworkPolicy') : [], pods: of('Pod'), namespaces: of('Namespace'), nodes: NODES }));
  const send = (slot: number, pkt: Buffer) => {
    addon.written = [];
    addon.deliver(slot, [pkt]);
    return addon.written.map((w) => ({ fd: w.fd, src: intToIp(w.bytes.readInt32BE(22)), dst: intToIp(w.bytes.readInt32BE(26)) }));
  };
  return { dp, send };
}

test('a denied connection is dropped and recorded with the policies that isolate the pod', (t) => {
  const { dp, send } = setup();
  t.deepEqual(send(2, tcp('10.244.1.3', 40000, '10.244.2.2', 8080, 0x02)), []);
  t.is(dp.policyStats.dropPolicy, 1);
  t.regex(dp.policyReason, /dropped by NetworkPolicy \(ingress\): prod\/allow-frontend-to-backend, prod\/default-deny-ingress/);
  const rec = materialize(dp.flows.entries().at(-1)!);
  t.is(rec.verdict, 'DROPPED');
  t.is(rec.traffic_direction, 'INGRESS');
  t.deepEqual(
    (rec as any).ingress_denied_by.map((p: any) => p.name),
    ['allow-frontend-to-backend', 'default-deny-ingress'],
  );
});

test('an allowed connection through a Service is judged on the endpoint (named port) and its replies pass', (t) => {
  const { dp, send } = setup();
  const out = send(0, tcp('10.244.1.2', 40001, '10.96.0.50', 80, 0x02));
  t.deepEqual(out, [{ fd: 102, src: '10.244.1.2', dst: '10.244.2.2' }]);
  // backend -> frontend would be denied as a new connection (frontend is isolated too); as a reply it passes.
  const back = send(1, tcp('10.244.2.2', 8080, '10.244.1.2', 40001, 0x12));
  t.deepEqual(back, [{ fd: 101, src: '10.96.0.50', dst: '10.244.1.2' }]);
  t.deepEqual(send(1, tcp('10.244.2.2', 9999, '10.244.1.2', 40002, 0x02)), []);
  const rec = materialize(dp.flows.entries().find((r) => r.verdictId !== 0 && !r.table.isDenied(r.verdictId))!);
  t.is(rec.verdict, 'FORWARDED');
  t.deepEqual((rec as any).ingress_allowed_by, [{ namespace: 'prod', name: 'allow-frontend-to-backend', kind: 'NetworkPolicy', rule_index: 0 }]);
  t.like((rec as any).destination_service, { namespace: 'prod', name: 'backend-service' });
});

test('without policies every new connection is forwarded, tracked and logged', (t) => {
  const { dp, send } = setup(false);
  t.deepEqual(send(2, tcp('10.244.1.3', 40003, '10.244.2.2', 8080, 0x02)), [{ fd: 102, src: '10.244.1.3', dst: '10.244.2.2' }]);
  t.is(dp.proxy.ct.count, 1);
  t.is(materialize(dp.flows.entries().at(-1)!).verdict, 'FORWARDED');
});

test('drop records are rate-limited: a flood leaves at most 1000 per second and counts the rest', (t) => {
  const { dp, send } = setup();
  for (let i = 0; i < 1500; i++) send(2, tcp('10.244.1.3', 20000 + i, '10.244.2.2', 8080, 0x02));
  t.is(dp.policyStats.dropPolicy, 1500);
  const drops = dp.flows.entries().filter((r) => r.table.isDenied(r.verdictId)).length;
  // (The flood may straddle a second boundary, so only the sum is exact here.)
  t.is(dp.flows.suppressedDrops + drops, 1500);
  t.true(dp.flows.suppressedDrops > 0 || drops === 1500);
  const log = new FlowLog(10);
  let admitted = 0;
  for (let i = 0; i < 1500; i++) if (log.admitDrop(1000)) admitted++;
  t.is(admitted, 1000);
  t.is(log.suppressedDrops, 500);
  t.true(log.admitDrop(1001));
});

test('policy drops become sampled Warning events on the isolated pod', (t) => {
  const { dp, send } = setup();
  const recorded: { name: string; reason: string; message: string }[] = [];
  const store = { get: (_r: string, ns: string, name: string) => ({ metadata: { namespace: ns, name, uid: 'u' }, spec: { nodeName: 'n2' } }) };
  const recorder = { record: (obj: any, _type: string, reason: string, message: string) => recorded.push({ name: obj.metadata.name, reason, message }) };
  dp.onPolicyDrop = policyDropEvents(store as any, recorder as any);
  for (let i = 0; i < 5; i++) send(2, tcp('10.244.1.3', 30000 + i, '10.244.2.2', 8080, 0x02));
  send(0, tcp('10.244.1.2', 30100, '10.244.2.2', 8080, 0x02)); // allowed: no event
  t.is(recorded.length, 1);
  t.deepEqual(recorded[0], {
    name: 'backend',
    reason: 'PolicyDenied',
    message: 'NetworkPolicy denied ingress TCP/8080 from prod/other (isolated by prod/allow-frontend-to-backend, prod/default-deny-ingress)',
  });
});
