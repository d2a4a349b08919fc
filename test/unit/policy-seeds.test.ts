// The seed guides' NetworkPolicy examples (../shared/seeds/), verbatim, on a small cluster:
// default deny ingress, allow frontend -> backend on TCP 8080, the multi-tier strategy, and the
// guides' warning that default-deny egress also blocks DNS.
import test from 'ava';
import { compilePolicies } from '../../src/dataplane/policy/compile.js';
import { explainConnection } from '../../src/dataplane/policy/explain.js';
import { PROTO_TCP, PROTO_UDP, type PolicyTable } from '../../src/dataplane/policy/table.js';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { byKind, docs, namespace, pod } from '../helpers/policy-world.js';

type Obj = Record<string, any>;

// --- the guides' manifests, as printed ---------------------------------------------------
const DEFAULT_DENY_INGRESS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: production
spec:
  podSelector: {}
  policyTypes:
  - Ingress
`;
const ALLOW_FRONTEND_TO_BACKEND = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend-to-backend
  namespace: production
spec:
  podSelector:
    matchLabels:
      app: backend
  policyTypes:
  - Ingress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: frontend
    ports:
    - protocol: TCP
      port: 8080
`;
const ALLOW_EXTERNAL_API = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-external-api
spec:
  podSelector:
    matchLabels:
      app: backend
  policyTypes:
  - Egress
  egress:
  - to:
    - podSelector: {}  # Same namespace
  - to:
    - namespaceSelector:
        matchLabels:
          name: kube-system
  - to:  # External API
    ports:
    - protocol: TCP
      port: 443
`;
const MULTI_TIER = `
# 1. Deny all traffic by default
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-all
spec:
  podSelector: {}
  policyTypes:
  - Ingress
  - Egress
---
# 2. Allow frontend -> backend
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: frontend-to-backend
spec:
  podSelector:
    matchLabels:
      tier: backend
  ingress:
  - from:
    - podSelector:
        matchLabels:
          tier: frontend
---
# 3. Allow backend -> database
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: backend-to-database
spec:
  podSelector:
    matchLabels:
      tier: database
  ingress:
  - from:
    - podSelector:
        matchLabels:
          tier: backend
`;
// What the guides leave out: egress for the tiers and for DNS.
const ALLOW_TIER_EGRESS_AND_DNS = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-egress-in-namespace-and-dns
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector: {}
  - to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
    ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
`;

// --- the cluster ----------------------------------------------------------------------------
const CLUSTER: Obj[] = [
  namespace('production'),
  namespace('default'),
  namespace('kube-system'),
  pod('production', 'backend-7d9f', { app: 'backend' }, '10.244.1.5', 'kemu-worker', [{ name: 'http', containerPort: 8080 }]),
  pod('production', 'frontend-6a1e', { app: 'frontend' }, '10.244.1.6', 'kemu-worker', [{ containerPort: 3000 }]),
  pod('default', 'frontend-5c4b', { app: 'frontend' }, '10.244.0.7', 'kemu-control-plane'),
  pod('default', 'web-0', { tier: 'frontend' }, '10.244.0.8', 'kemu-control-plane', [{ containerPort: 3000 }]),
  pod('default', 'api-0', { tier: 'backend' }, '10.244.1.9', 'kemu-worker', [{ containerPort: 8080 }]),
  pod('default', 'postgres-0', { tier: 'database' }, '10.244.1.10', 'kemu-worker', [{ containerPort: 5432 }]),
  pod('kube-system', 'coredns-1', { 'k8s-app': 'kube-dns' }, '10.244.0.2', 'kemu-control-plane', [
    { name: 'dns', containerPort: 53, protocol: 'UDP' },
    { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
  ]),
  ...docs(`
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system}
spec:
  clusterIP: 10.96.0.10
  selector: {k8s-app: kube-dns}
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-abcde
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns}
addressType: IPv4
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
endpoints:
- addresses: [10.244.0.2]
  conditions: {ready: true}
  targetRef: {kind: Pod, namespace: kube-system, name: coredns-1}
`),
];

const IP: Record<string, string> = {
  'production/backend-7d9f': '10.244.1.5',
  'production/frontend-6a1e': '10.244.1.6',
  'default/frontend-5c4b': '10.244.0.7',
  'default/web-0': '10.244.0.8',
  'default/api-0': '10.244.1.9',
  'default/postgres-0': '10.244.1.10',
  'kube-system/coredns-1': '10.244.0.2',
};

function world(...yamls: string[]) {
  const input = byKind([...CLUSTER, ...yamls.flatMap(docs)]);
  return { input, table: compilePolicies(input) };
}

function ok(t: PolicyTable, from: string, to: string, port: number, proto = PROTO_TCP): boolean {
  return t.decide(ipToInt(IP[from] ?? from), ipToInt(IP[to] ?? to), proto, port) === 0;
}

test('default-deny-ingress blocks everything into production and nothing out of it', (t) => {
  const { table } = world(DEFAULT_DENY_INGRESS);
  t.false(ok(table, 'default/frontend-5c4b', 'production/backend-7d9f', 8080));
  t.false(ok(table, 'production/frontend-6a1e', 'production/backend-7d9f', 8080));
  t.false(ok(table, 'default/frontend-5c4b', 'production/frontend-6a1e', 3000));
  t.false(ok(table, '172.18.0.1', 'production/backend-7d9f', 8080), 'external client');
  t.true(ok(table, 'production/backend-7d9f', 'default/web-0', 3000), 'egress is not isolated');
  t.true(ok(table, 'default/web-0', 'default/api-0', 8080), 'other namespaces are untouched');
});

test('allow-frontend-to-backend lets only production frontends reach backend, only on TCP 8080', (t) => {
  const { table } = world(DEFAULT_DENY_INGRESS, ALLOW_FRONTEND_TO_BACKEND);
  t.true(ok(table, 'production/frontend-6a1e', 'production/backend-7d9f', 8080));
  t.false(ok(table, 'production/frontend-6a1e', 'production/backend-7d9f', 80));
  t.false(ok(table, 'production/frontend-6a1e', 'production/backend-7d9f', 8080, PROTO_UDP));
  t.false(ok(table, 'default/frontend-5c4b', 'production/backend-7d9f', 8080), 'podSelector alone means: in production');
  t.false(ok(table, 'production/backend-7d9f', 'production/frontend-6a1e', 3000), 'not the reverse');
  const info = table.verdictInfo(table.evaluate(ipToInt('10.244.1.6'), ipToInt('10.244.1.5'), PROTO_TCP, 8080));
  t.deepEqual(info.ingress_allowed_by, [{ namespace: 'production', name: 'allow-frontend-to-backend', rule_index: 0 }]);
});

test('multi-tier strategy as printed: default-deny-all also denies all egress, so no tier reaches another', (t) => {
  const { table, input } = world(MULTI_TIER);
  t.false(ok(table, 'default/web-0', 'default/api-0', 8080));
  t.false(ok(table, 'default/api-0', 'default/postgres-0', 5432));
  const id = table.decide(ipToInt(IP['default/web-0']!), ipToInt(IP['default/api-0']!), PROTO_TCP, 8080);
  const info = table.verdictInfo(id);
  t.is(info.deniedDirection, 'egress');
  t.deepEqual(info.egress_denied_by, [{ namespace: 'default', name: 'default-deny-all' }]);
  t.deepEqual(info.ingress_allowed_by, [{ namespace: 'default', name: 'frontend-to-backend', rule_index: 0 }], 'the ingress side alone would allow');
  const ex = explainConnection(input, { from: 'default/web-0', to: 'default/api-0', port: 8080 });
  t.false(ex.allowed);
  t.true(ex.text.includes('NetworkPolicy default/default-deny-all selects default/web-0, but no egress rule allows default/api-0 (it has no egress rules)'), ex.text);
  t.true(ex.text.includes('Ingress to default/api-0: allowed by NetworkPolicy default/frontend-to-backend ingress rule 0'), ex.text);
});

test('multi-tier strategy with tier egress and DNS allowed: exactly frontend -> backend -> database', (t) => {
  const { table } = world(MULTI_TIER, ALLOW_TIER_EGRESS_AND_DNS);
  const tiers = ['default/web-0', 'default/api-0', 'default/postgres-0'];
  const port: Record<string, number> = { 'default/web-0': 3000, 'default/api-0': 8080, 'default/postgres-0': 5432 };
  const allowed: string[] = [];
  for (const a of tiers) for (const b of tiers) if (a !== b && ok(table, a, b, port[b]!)) allowed.push(`${a}->${b}`);
  t.deepEqual(allowed, ['default/web-0->default/api-0', 'default/api-0->default/postgres-0']);
  t.false(ok(table, 'production/frontend-6a1e', 'default/api-0', 8080), 'podSelector peers are namespace-local');
  t.true(ok(table, 'default/web-0', 'kube-system/coredns-1', 53, PROTO_UDP));
});

test('default-deny-all blocks DNS (UDP 53 to the kube-dns pod) until an egress rule allows it', (t) => {
  const before = world(MULTI_TIER);
  t.false(ok(before.table, 'default/web-0', 'kube-system/coredns-1', 53, PROTO_UDP));
  t.false(ok(before.table, 'default/web-0', 'kube-system/coredns-1', 53, PROTO_TCP));
  const ex = explainConnection(before.input, { from: 'default/web-0', to: 'kube-system/kube-dns', port: 53, protocol: 'UDP' });
  t.false(ex.allowed);
  t.regex(ex.text, /Service kube-system\/kube-dns \(10\.96\.0\.10:53\) port 53\/UDP forwards to targetPort 53 on 1 endpoint: kube-system\/coredns-1 \(10\.244\.0\.2\)/);
  t.true(ex.text.includes('Egress from default/web-0: DENIED'), ex.text);
  const after = world(MULTI_TIER, ALLOW_TIER_EGRESS_AND_DNS);
  t.true(ok(after.table, 'default/web-0', 'kube-system/coredns-1', 53, PROTO_UDP));
  t.true(ok(after.table, 'default/web-0', 'kube-system/coredns-1', 53, PROTO_TCP));
  t.false(ok(after.table, 'default/web-0', 'kube-system/coredns-1', 54, PROTO_UDP));
  t.true(explainConnection(after.input, { from: 'default/web-0', to: 'kube-system/kube-dns', port: 53, protocol: 'UDP' }).allowed);
});

test('DNS egress by ipBlock of the kube-dns ClusterIP does not work: policy sees the endpoint after DNAT', (t) => {
  const byVip = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: dns-by-vip, namespace: default}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.96.0.10/32}
    ports:
    - {protocol: UDP, port: 53}
`;
  const { table } = world(byVip);
  t.false(ok(table, 'default/web-0', 'kube-system/coredns-1', 53, PROTO_UDP));
});

test('the guide\'s allow-external-api: kube-system has no `name` label, so DNS is blocked; 443 anywhere is open', (t) => {
  const { table } = world(ALLOW_EXTERNAL_API.replace('name: allow-external-api', 'name: allow-external-api\n  namespace: production'));
  t.false(ok(table, 'production/backend-7d9f', 'kube-system/coredns-1', 53, PROTO_UDP));
  t.true(ok(table, 'production/backend-7d9f', '93.184.216.34', 443));
  t.false(ok(table, 'production/backend-7d9f', '93.184.216.34', 80));
  t.true(ok(table, 'production/backend-7d9f', 'production/frontend-6a1e', 3000), 'same namespace');
  t.true(ok(table, 'default/web-0', 'production/backend-7d9f', 8080), 'Egress-only policyTypes: ingress open');
  // label kube-system the way the guide assumes and DNS works
  const labelled = byKind([...CLUSTER.map((o) => (o.kind === 'Namespace' && o.metadata.name === 'kube-system' ? namespace('kube-system', { name: 'kube-system' }) : o)), ...docs(ALLOW_EXTERNAL_API.replace('name: allow-external-api', 'name: allow-external-api\n  namespace: production'))]);
  t.true(ok(compilePolicies(labelled), 'production/backend-7d9f', 'kube-system/coredns-1', 53, PROTO_UDP));
});
