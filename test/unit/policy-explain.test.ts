// `kemu explain` core: the sentences of the walkthrough (roxctl/issue wording), Service
// resolution to endpoints and targetPort, agreement with the packet path, and the matrix in the
// e2e truth-table layout.
import test from 'ava';
import { compilePolicies } from '../../src/dataplane/policy/compile.js';
import { explainConnection, ExplainError, formatTruthTable, parsePortSpec, policyMatrix, declaredPorts } from '../../src/dataplane/policy/explain.js';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { byKind, docs, MODEL_NAMESPACES, modelIp, modelObjects, namespace, pod } from '../helpers/policy-world.js';

type Obj = Record<string, any>;

const BASE: Obj[] = [
  namespace('production'),
  namespace('default'),
  namespace('ops', { team: 'ops' }),
  pod('production', 'backend-7d9f', { app: 'backend' }, '10.244.1.5', 'kemu-worker', [{ name: 'http', containerPort: 8080 }]),
  pod('production', 'backend-8e0a', { app: 'backend', canary: 'true' }, '10.244.0.5', 'kemu-control-plane', [{ name: 'http', containerPort: 8080 }]),
  pod('production', 'frontend-6a1e', { app: 'frontend' }, '10.244.1.6'),
  pod('default', 'frontend-5c4b', { app: 'frontend' }, '10.244.0.7', 'kemu-control-plane'),
  pod('ops', 'debug', { app: 'debug' }, '10.244.0.9', 'kemu-control-plane'),
  ...docs(`
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: production}
spec:
  clusterIP: 10.96.0.50
  selector: {app: backend}
  ports:
  - {name: web, port: 80, targetPort: http, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-x1, namespace: production, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{name: web, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.244.1.5]
  conditions: {ready: true}
  targetRef: {kind: Pod, namespace: production, name: backend-7d9f}
- addresses: [10.244.0.5]
  targetRef: {kind: Pod, namespace: production, name: backend-8e0a}
- addresses: [10.244.9.9]
  conditions: {ready: false}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: production}
spec:
  clusterIP: 10.96.0.51
  ports: [{port: 80, protocol: TCP}]
`),
];

const DENY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: production}
spec: {podSelector: {}, policyTypes: [Ingress]}
`;
const ALLOW = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend-to-backend, namespace: production}
spec:
  podSelector: {matchLabels: {app: backend}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
    ports:
    - {protocol: TCP, port: 8080}
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
    ports:
    - {port: http}
`;

const input = (...yamls: string[]) => byKind([...BASE, ...yamls.flatMap(docs)]);

test("the issue's sentence: a default deny selects the pod, but no ingress rule allows the client", (t) => {
  const ex = explainConnection(input(DENY), { from: 'default/frontend-5c4b', to: 'production/backend-7d9f', port: 8080 });
  t.false(ex.allowed);
  t.is(
    ex.text,
    [
      'default/frontend-5c4b (10.244.0.7) -> production/backend-7d9f (10.244.1.5) TCP/8080: DENIED',
      '  Egress from default/frontend-5c4b: allowed: no NetworkPolicy in default selects default/frontend-5c4b for egress (system default: allow all)',
      '  Ingress to production/backend-7d9f: DENIED',
      '    NetworkPolicy production/default-deny-ingress selects production/backend-7d9f, but no ingress rule allows default/frontend-5c4b (it has no ingress rules)',
    ].join('\n'),
  );
});

test('allowed by a rule: names the policy and rule index', (t) => {
  const ex = explainConnection(input(DENY, ALLOW), { from: 'production/frontend-6a1e', to: 'production/backend-7d9f', port: 8080 });
  t.true(ex.allowed);
  t.true(ex.lines.includes('  Ingress to production/backend-7d9f: allowed by NetworkPolicy production/allow-frontend-to-backend ingress rule 0'), ex.text);
});

test('why each rule fails: peer not selected, ports not matching, named port missing', (t) => {
  const ex = explainConnection(input(DENY, ALLOW), { from: 'production/frontend-6a1e', to: 'production/backend-7d9f', port: 9090 });
  t.false(ex.allowed);
  t.true(
    ex.text.includes(
      'NetworkPolicy production/allow-frontend-to-backend selects production/backend-7d9f, but no ingress rule allows production/frontend-6a1e (rule 0 selects production/frontend-6a1e but allows only TCP/8080, not TCP/9090; rule 1 allows from all pods in namespaces team=ops, which does not include production/frontend-6a1e)',
    ),
    ex.text,
  );
  const ops = explainConnection(input(DENY, ALLOW), { from: 'ops/debug', to: 'production/backend-7d9f', port: 9090 });
  t.true(ops.text.includes('rule 1 selects ops/debug but allows only TCP/http, not TCP/9090 (production/backend-7d9f names TCP/8080 "http")'), ops.text);
  const opsOk = explainConnection(input(DENY, ALLOW), { from: 'ops/debug', to: 'production/backend-7d9f', port: 8080 });
  t.true(opsOk.allowed);
  t.true(opsOk.text.includes('allowed by NetworkPolicy production/allow-frontend-to-backend ingress rule 1'), opsOk.text);
});

test('a Service resolves to its ready endpoints and targetPort; each endpoint is explained', (t) => {
  const canaryDeny = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: canary-from-ops-only, namespace: production}
spec:
  podSelector: {matchLabels: {canary: "true"}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
`;
  const ex = explainConnection(input(canaryDeny), { from: 'production/frontend-6a1e', to: 'production/backend', port: 80 });
  t.is(ex.lines[0], 'Service production/backend (10.96.0.50:80) port 80/TCP forwards to targetPort "http" (= 8080) on 2 endpoints: production/backend-7d9f (10.244.1.5), production/backend-8e0a (10.244.0.5)');
  t.is(ex.lines[1], 'NetworkPolicy is evaluated on each endpoint after DNAT: the destination is the backend pod and its port 8080, not the ClusterIP');
  t.deepEqual(
    ex.targets.map((x) => [x.dst.label, x.port, x.verdict.allowed]),
    [
      ['production/backend-7d9f', 8080, true],
      ['production/backend-8e0a', 8080, false],
    ],
  );
  t.false(ex.allowed);
  t.is(ex.lines.at(-1), 'Verdict: 1 of 2 endpoints allowed (the connection succeeds or times out depending on the endpoint kube-proxy picks)');
  // addressing the ClusterIP is the same thing
  const byVip = explainConnection(input(canaryDeny), { from: 'production/frontend-6a1e', to: '10.96.0.50', port: 80 });
  t.deepEqual(byVip.lines, ex.lines);
});

test('Service errors and the no-endpoints case', (t) => {
  t.throws(() => explainConnection(input(), { from: 'default/frontend-5c4b', to: 'production/backend', port: 8080 }), {
    instanceOf: ExplainError,
    message: 'Service production/backend has no port 8080/TCP (its ports: 80/TCP)',
  });
  const ex = explainConnection(input(), { from: 'default/frontend-5c4b', to: 'production/empty', port: 80 });
  t.false(ex.allowed);
  t.deepEqual(ex.lines, ['Service production/empty (10.96.0.51:80) port 80/TCP has no ready endpoints: kube-proxy rejects the connection before any NetworkPolicy is evaluated']);
  t.throws(() => explainConnection(input(), { from: 'default/nope', to: 'production/empty', port: 80 }), { message: '--from default/nope: no such pod' });
  t.throws(() => explainConnection(input(), { from: 'default/frontend-5c4b', to: 'production/nothing', port: 80 }), { message: '--to production/nothing: no pod or Service of that name' });
  t.throws(() => explainConnection(input(), { from: 'frontend', to: 'production/empty', port: 80 }), { instanceOf: ExplainError });
});

test('egress denial, self, own node and external addresses', (t) => {
  const denyOut = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: default}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
`;
  const ex = explainConnection(input(denyOut), { from: 'default/frontend-5c4b', to: 'production/backend-7d9f', port: 8080 });
  t.true(ex.lines.includes('  Egress from default/frontend-5c4b: DENIED'));
  t.true(ex.lines.includes('    NetworkPolicy default/deny-all selects default/frontend-5c4b, but no egress rule allows production/backend-7d9f (it has no egress rules)'), ex.text);
  t.true(ex.lines.includes('  Ingress to production/backend-7d9f: allowed: no NetworkPolicy in production selects production/backend-7d9f for ingress (system default: allow all)'));
  const self = explainConnection(input(denyOut), { from: 'default/frontend-5c4b', to: 'default/frontend-5c4b', port: 80 });
  t.true(self.allowed);
  t.true(self.lines.includes('  Ingress to default/frontend-5c4b: allowed: a pod can always reach itself'));
  const node = explainConnection(input(denyOut), { from: '172.18.0.2', to: 'default/frontend-5c4b', port: 80 });
  t.true(node.allowed);
  t.is(node.lines[0], '172.18.0.2 (node kemu-control-plane) -> default/frontend-5c4b (10.244.0.7) TCP/80: ALLOWED');
  t.true(node.lines.includes("  Ingress to default/frontend-5c4b: allowed: traffic from the pod's own node (172.18.0.2) is always allowed"));
  const ext = explainConnection(input(denyOut), { from: '172.18.0.1', to: 'default/frontend-5c4b', port: 80 });
  t.false(ext.allowed);
  t.true(ext.lines.includes('  Egress from 172.18.0.1: allowed: 172.18.0.1 is not a pod, so no NetworkPolicy applies'));
  t.true(ext.text.includes('but no ingress rule allows 172.18.0.1'));
  const out = explainConnection(input(denyOut), { from: 'default/frontend-5c4b', to: '8.8.8.8', port: 53, protocol: 'UDP' });
  t.false(out.allowed);
  t.true(out.lines.includes('  Ingress to 8.8.8.8: allowed: 8.8.8.8 is not a pod, so no NetworkPolicy applies'));
});

test('explain agrees with the packet path for every pair of the model under a mixed policy set', (t) => {
  const yaml = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{port: serve-80-tcp}]
  egress:
  - to: [{podSelector: {matchLabels: {pod: b}}, namespaceSelector: {}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: q, namespace: z}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.244.0.0/24}}]
`;
  const inp = byKind([...modelObjects(), ...docs(yaml)]);
  const table = compilePolicies(inp);
  let denied = 0;
  for (const sn of MODEL_NAMESPACES)
    for (const sp of ['a', 'b', 'c'])
      for (const dn of MODEL_NAMESPACES)
        for (const dp of ['a', 'b', 'c'])
          for (const port of [80, 81]) {
            const ex = explainConnection(inp, { from: `${sn}/${sp}`, to: `${dn}/${dp}`, port }, table);
            const packets = table.decide(ipToInt(modelIp(sn, sp)), ipToInt(modelIp(dn, dp)), 6, port) === 0;
            t.is(ex.allowed, packets, `${sn}/${sp} -> ${dn}/${dp}:${port}`);
            if (!packets) denied++;
          }
  t.true(denied > 20);
});

test('matrix: the e2e truth table layout', (t) => {
  const m = policyMatrix(input(DENY, ALLOW), { namespaces: ['production', 'default'], port: 8080 });
  t.deepEqual(m.pods, ['default/frontend-5c4b', 'production/backend-7d9f', 'production/backend-8e0a', 'production/frontend-6a1e']);
  t.is(
    m.text,
    [
      '-\tdefault/frontend-5c4b\tproduction/backend-7d9f\tproduction/backend-8e0a\tproduction/frontend-6a1e',
      'default/frontend-5c4b\t.\tX\tX\tX',
      'production/backend-7d9f\t.\t.\tX\tX',
      'production/backend-8e0a\t.\tX\t.\tX',
      'production/frontend-6a1e\t.\t.\t.\t.',
    ].join('\n'),
  );
  t.is(formatTruthTable(['a'], ['a', 'b'], [[true, false]], '  '), '  -\ta\tb\n  a\t.\tX');
});

test('port parsing and declared ports', (t) => {
  t.deepEqual(parsePortSpec('53/udp'), { port: 53, proto: 17 });
  t.deepEqual(parsePortSpec('8080'), { port: 8080, proto: 6 });
  t.deepEqual(parsePortSpec('9', 'SCTP'), { port: 9, proto: 132 });
  t.throws(() => parsePortSpec('0'));
  t.throws(() => parsePortSpec('80/ICMP'));
  t.throws(() => parsePortSpec('http'));
  t.deepEqual(declaredPorts(input(), ['production']), [{ port: 8080, protocol: 'TCP' }]);
});
