// NetworkPolicy v1 semantics of the compiled table, one behaviour per test, with real
// manifests (k8s-network-semantics.md §3.1). Addresses are the post-DNAT ones the router passes.
import test from 'ava';
import { compilePolicies } from '../../src/dataplane/policy/compile.js';
import { PROTO_ICMP, PROTO_SCTP, PROTO_TCP, PROTO_UDP, type PolicyTable } from '../../src/dataplane/policy/table.js';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { byKind, docs, namespace, NODES, pod } from '../helpers/policy-world.js';

type Obj = Record<string, any>;

function table(yaml: string, extra: Obj[] = []): PolicyTable {
  return compilePolicies(byKind([...docs(yaml), ...extra]));
}

/** true = allowed */
function ok(t: PolicyTable, src: string, dst: string, port = 80, proto = PROTO_TCP): boolean {
  const a = t.decide(ipToInt(src), ipToInt(dst), proto, port);
  const b = t.evaluate(ipToInt(src), ipToInt(dst), proto, port);
  if ((a === 0) !== !t.isDenied(b)) throw new Error('decide and evaluate disagree');
  return a === 0;
}

// Two namespaces, a few pods: prod (web 10.244.1.10 on worker, db .11), dev (tool 10.244.0.20 on control plane)
const PODS: Obj[] = [
  namespace('prod', { env: 'prod' }),
  namespace('dev', { env: 'dev', team: 'blue' }),
  pod('prod', 'web', { app: 'web', tier: 'front' }, '10.244.1.10', 'kemu-worker', [{ name: 'http', containerPort: 8080 }]),
  pod('prod', 'db', { app: 'db' }, '10.244.1.11', 'kemu-worker', [{ name: 'pg', containerPort: 5432 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }]),
  pod('dev', 'tool', { app: 'tool' }, '10.244.0.20', 'kemu-control-plane', [{ name: 'http', containerPort: 9090 }]),
];
const WEB = '10.244.1.10';
const DB = '10.244.1.11';
const TOOL = '10.244.0.20';
const EXTERNAL = '172.18.0.1';
const WORKER = '172.18.0.3';
const CONTROL = '172.18.0.2';

const np = (ns: string, name: string, spec: string) => `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {namespace: ${ns}, name: ${name}}
spec:
${spec
  .split('\n')
  .map((l) => '  ' + l)
  .join('\n')}
---
`;

test('no policy: everything is allowed and evaluate() says so with id 0', (t) => {
  const tb = table('', PODS);
  t.true(ok(tb, TOOL, DB));
  t.is(tb.evaluate(ipToInt(TOOL), ipToInt(DB), PROTO_TCP, 80), 0);
  t.is(tb.verdictInfo(0).verdict, 'ALLOWED');
  t.true(ok(tb, EXTERNAL, WEB));
});

test('isolation is per direction: an Ingress policy does not restrict egress of the pod', (t) => {
  const tb = table(np('prod', 'deny-in', 'podSelector: {}\npolicyTypes: [Ingress]'), PODS);
  t.false(ok(tb, TOOL, WEB));
  t.false(ok(tb, DB, WEB), 'same namespace is denied too');
  t.true(ok(tb, WEB, TOOL), 'egress from an ingress-isolated pod is open');
  t.true(ok(tb, TOOL, EXTERNAL));
});

test('policyTypes defaulting: an egress section without policyTypes also isolates ingress', (t) => {
  const tb = table(np('prod', 'egress-only', 'podSelector: {matchLabels: {app: web}}\negress:\n- to:\n  - podSelector: {}'), PODS);
  t.true(ok(tb, WEB, DB), 'egress to prod pods allowed');
  t.false(ok(tb, WEB, TOOL), 'egress elsewhere denied');
  t.false(ok(tb, DB, WEB), 'ingress is denied: Ingress is always in the defaulted policyTypes');
  const info = tb.verdictInfo(tb.evaluate(ipToInt(DB), ipToInt(WEB), PROTO_TCP, 80));
  t.is(info.deniedDirection, 'ingress');
  t.deepEqual(info.ingress_denied_by, [{ namespace: 'prod', name: 'egress-only' }]);
});

test('policyTypes defaulting: `egress: []` without policyTypes is Ingress only', (t) => {
  const tb = table(np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\negress: []\ningress:\n- {}'), PODS);
  t.true(ok(tb, WEB, TOOL), 'egress not isolated');
  t.true(ok(tb, TOOL, WEB));
});

test('explicit Egress with no egress rules denies all egress (and leaves ingress open)', (t) => {
  const tb = table(np('prod', 'deny-out', 'podSelector: {}\npolicyTypes: [Egress]'), PODS);
  t.false(ok(tb, WEB, TOOL));
  t.false(ok(tb, WEB, EXTERNAL));
  t.true(ok(tb, TOOL, WEB));
  t.true(ok(tb, EXTERNAL, WEB));
});

test('ingress: [] and a missing ingress list both deny; a rule {} allows everything', (t) => {
  t.false(ok(table(np('prod', 'p', 'podSelector: {}\npolicyTypes: [Ingress]\ningress: []'), PODS), TOOL, WEB));
  t.false(ok(table(np('prod', 'p', 'podSelector: {}'), PODS), TOOL, WEB));
  const all = table(np('prod', 'p', 'podSelector: {}\ningress:\n- {}'), PODS);
  t.true(ok(all, TOOL, WEB, 1234, PROTO_UDP));
  t.true(ok(all, EXTERNAL, WEB, 9, PROTO_SCTP));
  const emptyLists = table(np('prod', 'p', 'podSelector: {}\ningress:\n- from: []\n  ports: []'), PODS);
  t.true(ok(emptyLists, EXTERNAL, DB, 5432));
});

test('additive union of policies, order irrelevant', (t) => {
  const y =
    np('prod', 'deny', 'podSelector: {}\npolicyTypes: [Ingress]') +
    np('prod', 'from-tool', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {env: dev}}') +
    np('prod', 'from-db', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - podSelector: {matchLabels: {app: db}}');
  const tb = table(y, PODS);
  t.true(ok(tb, TOOL, WEB));
  t.true(ok(tb, DB, WEB));
  t.false(ok(tb, EXTERNAL, WEB));
  const reversed = compilePolicies(byKind([...docs(y).reverse(), ...PODS]));
  for (const [s, d] of [[TOOL, WEB], [DB, WEB], [EXTERNAL, WEB], [WEB, DB]] as const) t.is(ok(reversed, s, d), ok(tb, s, d));
});

test('both ends must allow: egress deny at the source drops even where the destination allows', (t) => {
  const y = np('dev', 'deny-out', 'podSelector: {}\npolicyTypes: [Egress]') + np('prod', 'allow-all-in', 'podSelector: {}\ningress:\n- {}');
  const tb = table(y, PODS);
  const id = tb.decide(ipToInt(TOOL), ipToInt(WEB), PROTO_TCP, 8080);
  t.true(id > 0);
  const info = tb.verdictInfo(id);
  t.is(info.verdict, 'DROPPED');
  t.is(info.deniedDirection, 'egress');
  t.deepEqual(info.egress_denied_by, [{ namespace: 'dev', name: 'deny-out' }]);
  t.deepEqual(info.ingress_allowed_by, [{ namespace: 'prod', name: 'allow-all-in', rule_index: 0 }]);
  // and when the destination's ingress denies, the source's egress allowance does not help
  const y2 = np('dev', 'all-out', 'podSelector: {}\negress:\n- {}') + np('prod', 'deny-in', 'podSelector: {}');
  const tb2 = table(y2, PODS);
  const info2 = tb2.verdictInfo(tb2.decide(ipToInt(TOOL), ipToInt(WEB), PROTO_TCP, 80));
  t.is(info2.deniedDirection, 'ingress');
  t.deepEqual(info2.egress_allowed_by, [{ namespace: 'dev', name: 'all-out', rule_index: 0 }]);
});

test('podSelector alone selects pods of the policy namespace only', (t) => {
  const y = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - podSelector: {matchLabels: {app: tool}}');
  const extra = [pod('prod', 'tool2', { app: 'tool' }, '10.244.1.30')];
  const tb = table(y, [...PODS, ...extra]);
  t.false(ok(tb, TOOL, WEB), 'dev/tool has app=tool but lives in dev');
  t.true(ok(tb, '10.244.1.30', WEB));
});

test('namespaceSelector alone selects all pods of matching namespaces; {} = all namespaces, never external', (t) => {
  const y = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {team: blue}}');
  const tb = table(y, PODS);
  t.true(ok(tb, TOOL, WEB));
  t.false(ok(tb, DB, WEB), 'prod has no team=blue');
  const all = table(np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {}'), PODS);
  t.true(ok(all, TOOL, WEB));
  t.true(ok(all, DB, WEB));
  t.false(ok(all, EXTERNAL, WEB), 'an external address is not a pod of any namespace');
  t.false(ok(all, WORKER.replace('.3', '.9'), WEB));
});

test('podSelector and namespaceSelector in one peer = AND; in two peers = OR', (t) => {
  const and = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {env: dev}}\n    podSelector: {matchLabels: {app: db}}');
  const or = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {env: dev}}\n  - podSelector: {matchLabels: {app: db}}');
  const extra = [pod('dev', 'db', { app: 'db' }, '10.244.0.21', 'kemu-control-plane')];
  const tAnd = table(and, [...PODS, ...extra]);
  const tOr = table(or, [...PODS, ...extra]);
  t.false(ok(tAnd, TOOL, WEB), 'dev but not app=db');
  t.false(ok(tAnd, DB, WEB), 'app=db but not in dev');
  t.true(ok(tAnd, '10.244.0.21', WEB), 'dev/db is both');
  t.true(ok(tOr, TOOL, WEB));
  t.true(ok(tOr, DB, WEB), 'podSelector peer: prod/db');
  t.true(ok(tOr, '10.244.0.21', WEB));
});

test('matchExpressions In, NotIn, Exists, DoesNotExist (NotIn matches pods without the key)', (t) => {
  const extra = [pod('prod', 'nolabel', {}, '10.244.1.40'), pod('prod', 'canary', { app: 'web', track: 'canary' }, '10.244.1.41')];
  const mk = (expr: string) =>
    table(np('prod', 'p', `podSelector: {matchLabels: {app: db}}\ningress:\n- from:\n  - podSelector:\n      matchExpressions:\n      - ${expr}`), [...PODS, ...extra]);
  const inT = mk('{key: app, operator: In, values: [web, tool]}');
  t.true(ok(inT, WEB, DB));
  t.false(ok(inT, '10.244.1.40', DB));
  const notIn = mk('{key: app, operator: NotIn, values: [web]}');
  t.false(ok(notIn, WEB, DB));
  t.false(ok(notIn, '10.244.1.41', DB));
  t.true(ok(notIn, '10.244.1.40', DB), 'no app label at all: NotIn matches');
  const exists = mk('{key: track, operator: Exists}');
  t.true(ok(exists, '10.244.1.41', DB));
  t.false(ok(exists, WEB, DB));
  const dne = mk('{key: track, operator: DoesNotExist}');
  t.true(ok(dne, WEB, DB));
  t.true(ok(dne, '10.244.1.40', DB));
  t.false(ok(dne, '10.244.1.41', DB));
  // matchLabels AND matchExpressions
  const both = table(
    np('prod', 'p', 'podSelector: {matchLabels: {app: db}}\ningress:\n- from:\n  - podSelector:\n      matchLabels: {app: web}\n      matchExpressions:\n      - {key: track, operator: In, values: [canary]}'),
    [...PODS, ...extra],
  );
  t.true(ok(both, '10.244.1.41', DB));
  t.false(ok(both, WEB, DB));
});

test('kubernetes.io/metadata.name is honoured when the Namespace object lacks it, or is missing entirely', (t) => {
  const y = np('prod', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: dev}}');
  const tb = table(y, PODS); // PODS' namespaces carry env/team labels only
  t.true(ok(tb, TOOL, WEB));
  t.false(ok(tb, DB, WEB));
  const noNsObjects = table(y, PODS.filter((o) => o.kind !== 'Namespace'));
  t.true(ok(noNsObjects, TOOL, WEB));
  // a Namespace object claiming another name in that label cannot impersonate
  const forged = table(y, [...PODS.filter((o) => o.kind !== 'Namespace'), namespace('prod', { 'kubernetes.io/metadata.name': 'dev' })]);
  t.false(ok(forged, DB, WEB));
});

test('ipBlock with except; it matches pod IPs and external addresses alike', (t) => {
  const y = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.0/24]}\n  - ipBlock: {cidr: 172.18.0.1/32}');
  const tb = table(y, PODS);
  t.true(ok(tb, TOOL, WEB), '10.244.0.20 is inside the cidr');
  t.false(ok(tb, DB, WEB), '10.244.1.11 is in the except');
  t.true(ok(tb, EXTERNAL, WEB));
  t.false(ok(tb, '172.18.0.5', WEB));
  const egress = table(np('dev', 'p', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to:\n  - ipBlock: {cidr: 10.244.1.11/32}'), PODS);
  t.true(ok(egress, TOOL, DB), 'egress to a pod via <podIP>/32 (e2e does this)');
  t.false(ok(egress, TOOL, WEB));
});

test('ports: protocol defaults to TCP; numeric ports; a UDP rule does not open TCP', (t) => {
  const tb = table(np('prod', 'p', 'podSelector: {}\ningress:\n- ports:\n  - port: 5432\n  - {protocol: UDP, port: 53}'), PODS);
  t.true(ok(tb, TOOL, DB, 5432));
  t.false(ok(tb, TOOL, DB, 5432, PROTO_UDP));
  t.true(ok(tb, TOOL, DB, 53, PROTO_UDP));
  t.false(ok(tb, TOOL, DB, 53, PROTO_TCP));
  t.false(ok(tb, TOOL, DB, 5433));
});

test('named ports resolve against the destination pod, for ingress and for egress', (t) => {
  const ing = table(np('prod', 'p', 'podSelector: {}\ningress:\n- ports:\n  - port: http'), PODS);
  t.true(ok(ing, TOOL, WEB, 8080), 'web names 8080 "http"');
  t.false(ok(ing, TOOL, WEB, 9090));
  t.false(ok(ing, TOOL, DB, 8080), 'db has no port named http');
  // egress: the name is looked up on the destination of the connection, not on the source
  const eg = table(np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]\negress:\n- ports:\n  - port: http'), PODS);
  t.true(ok(eg, WEB, TOOL, 9090), 'dev/tool names 9090 "http"');
  t.false(ok(eg, WEB, TOOL, 8080), "8080 is the source's own http port, not the destination's");
  t.false(ok(eg, WEB, EXTERNAL, 8080), 'a non-pod destination has no named ports');
  // protocol must agree with the container port's protocol
  const udpName = table(np('prod', 'p', 'podSelector: {}\ningress:\n- ports:\n  - {port: dns, protocol: UDP}\n  - {port: pg, protocol: UDP}'), PODS);
  t.true(ok(udpName, TOOL, DB, 53, PROTO_UDP));
  t.false(ok(udpName, TOOL, DB, 5432, PROTO_UDP), 'pg is a TCP container port');
});

test('endPort gives an inclusive range', (t) => {
  const tb = table(np('prod', 'p', 'podSelector: {}\ningress:\n- ports:\n  - {port: 32000, endPort: 32768}'), PODS);
  t.false(ok(tb, TOOL, WEB, 31999));
  t.true(ok(tb, TOOL, WEB, 32000));
  t.true(ok(tb, TOOL, WEB, 32500));
  t.true(ok(tb, TOOL, WEB, 32768));
  t.false(ok(tb, TOOL, WEB, 32769));
});

test('protocol-only rules allow every port of that protocol and nothing else', (t) => {
  const tb = table(np('prod', 'p', 'podSelector: {}\ningress:\n- ports:\n  - protocol: SCTP'), PODS);
  t.true(ok(tb, TOOL, WEB, 1, PROTO_SCTP));
  t.true(ok(tb, TOOL, WEB, 65535, PROTO_SCTP));
  t.false(ok(tb, TOOL, WEB, 80, PROTO_TCP));
  t.false(ok(tb, TOOL, WEB, 80, PROTO_UDP));
});

test('a pod can always reach itself; its own node can always reach it (and it its node)', (t) => {
  const tb = table(np('prod', 'deny', 'podSelector: {}\npolicyTypes: [Ingress, Egress]'), PODS);
  t.true(ok(tb, WEB, WEB, 8080));
  t.true(ok(tb, WORKER, WEB, 8080), 'kubelet probes from the node');
  t.false(ok(tb, CONTROL, WEB, 8080), 'another node is not exempt');
  t.true(ok(tb, WEB, WORKER, 10250), 'egress to the own node is exempt');
  t.false(ok(tb, WEB, CONTROL, 10250));
  t.false(ok(tb, DB, WEB));
  const info = tb.verdictInfo(tb.evaluate(ipToInt(WORKER), ipToInt(WEB), PROTO_TCP, 8080));
  t.is(info.verdict, 'ALLOWED');
  t.deepEqual(info.ingress, { kind: 'exempt', reason: 'own-node' });
});

test('a non-pod end is never isolated and matches only ipBlock peers', (t) => {
  const tb = table(np('prod', 'p', 'podSelector: {}\ningress:\n- from:\n  - podSelector: {}\n  - namespaceSelector: {}'), PODS);
  t.false(ok(tb, EXTERNAL, WEB));
  t.true(ok(tb, TOOL, WEB));
  // the external address itself has no policy: traffic to it is only limited by the source's egress
  t.true(ok(tb, WEB, EXTERNAL));
  // a ClusterIP (pre-DNAT) is not a pod: policies never see it as one
  t.true(ok(tb, TOOL, '10.96.0.10', 53, PROTO_UDP));
});

test('ICMP: a rule without ports allows it, a rule with ports does not (kemu: policy covers all IP protocols)', (t) => {
  const y = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {env: dev}}\n- from:\n  - podSelector: {matchLabels: {app: db}}\n  ports:\n  - port: 8080');
  const tb = table(y, PODS);
  t.true(ok(tb, TOOL, WEB, 0, PROTO_ICMP));
  t.false(ok(tb, DB, WEB, 0, PROTO_ICMP));
  t.true(ok(tb, DB, WEB, 8080, PROTO_TCP));
  t.true(ok(table('', PODS), DB, WEB, 0, PROTO_ICMP), 'not isolated: ICMP passes');
});

test('verdict ids: interned per (ingress, egress) outcome, first allowing rule in policy-name order', (t) => {
  const y =
    np('prod', 'b-second', 'podSelector: {}\ningress:\n- from:\n  - podSelector: {matchLabels: {app: nothing}}\n- from:\n  - namespaceSelector: {}') +
    np('prod', 'a-first', 'podSelector: {}\ningress:\n- ports:\n  - port: 1\n- ports:\n  - port: 8080') +
    np('prod', 'c-deny', 'podSelector: {}\npolicyTypes: [Ingress]');
  const tb = table(y, PODS);
  const id1 = tb.evaluate(ipToInt(TOOL), ipToInt(WEB), PROTO_TCP, 8080);
  const id2 = tb.evaluate(ipToInt(DB), ipToInt(WEB), PROTO_TCP, 8080);
  t.true(id1 > 0);
  t.is(id1, id2, 'same outcome, same id');
  t.deepEqual(tb.verdictInfo(id1).ingress_allowed_by, [{ namespace: 'prod', name: 'a-first', rule_index: 1 }]);
  t.is(tb.decide(ipToInt(TOOL), ipToInt(WEB), PROTO_TCP, 8080), 0, 'decide() is 0 for allowed');
  const id3 = tb.evaluate(ipToInt(TOOL), ipToInt(WEB), PROTO_TCP, 80);
  t.deepEqual(tb.verdictInfo(id3).ingress_allowed_by, [{ namespace: 'prod', name: 'b-second', rule_index: 1 }]);
  const drop = tb.decide(ipToInt(EXTERNAL), ipToInt(WEB), PROTO_TCP, 80);
  t.true(tb.isDenied(drop));
  t.deepEqual(tb.verdictInfo(drop).ingress_denied_by.map((p) => p.name), ['a-first', 'b-second', 'c-deny']);
  t.throws(() => tb.verdictInfo(9999));
});

test('pods without an IP, hostNetwork pods and finished pods', (t) => {
  const extra = [
    pod('prod', 'pending', { app: 'web' }, undefined),
    { ...pod('prod', 'hostnet', { app: 'web' }, WORKER), spec: { hostNetwork: true, nodeName: 'kemu-worker', containers: [] } },
    { ...pod('prod', 'done', { app: 'db' }, '10.244.1.99'), status: { phase: 'Succeeded', podIP: '10.244.1.99' } },
  ];
  const tb = table(np('prod', 'deny', 'podSelector: {}'), [...PODS, ...extra]);
  t.truthy(tb.podByName('prod', 'pending'), 'kept for explain');
  t.is(tb.podByName('prod', 'pending')!.ip, undefined);
  t.is(tb.podByName('prod', 'hostnet'), undefined, 'hostNetwork pods are node traffic');
  t.is(tb.podByIp(ipToInt('10.244.1.99')), undefined, 'a finished pod no longer owns its IP');
  t.true(ok(tb, '10.244.1.99', TOOL));
  t.is(tb.isolatedPods, 3, 'web, db and pending are isolated');
});

test('label changes take effect on recompile (namespace and pod labels)', (t) => {
  const y = np('prod', 'p', 'podSelector: {matchLabels: {app: web}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {trusted: "yes"}}');
  const before = table(y, PODS);
  t.false(ok(before, TOOL, WEB));
  const relabelled = PODS.map((o) => (o.kind === 'Namespace' && o.metadata.name === 'dev' ? namespace('dev', { ...o.metadata.labels, trusted: 'yes' }) : o));
  t.true(ok(table(y, relabelled), TOOL, WEB));
  t.false(ok(before, TOOL, WEB), 'the old table is immutable');
  // relabel the destination pod so the policy no longer selects it
  const podRelabelled = PODS.map((o) => (o.kind === 'Pod' && o.metadata.name === 'web' ? pod('prod', 'web', { app: 'web2' }, WEB) : o));
  t.true(ok(table(y, podRelabelled), DB, WEB));
});

test('nodes are listed by IP', (t) => {
  const tb = table('', PODS);
  t.is(tb.nodes.get(NODES[1]!.ip), 'kemu-worker');
});
