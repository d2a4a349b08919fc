// The e2e netpol model (namespaces x, y, z × pods a, b, c; servers on 80/81 TCP, UDP, SCTP) under
// many policy sets, every pair on every port checked three ways: the compiled table (decide), the
// explain matrix, and an independent straightforward reading of the API documentation written
// here over the raw objects (no code shared with src/).
import test from 'ava';
import { compilePolicies } from '../../src/dataplane/policy/compile.js';
import { policyMatrix } from '../../src/dataplane/policy/explain.js';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import { byKind, docs, MODEL_NAMESPACES, MODEL_PODS, MODEL_PORTS, modelIp, modelObjects } from '../helpers/policy-world.js';

type Obj = Record<string, any>;

// ---- the reference evaluator ---------------------------------------------------------------

function refSelector(sel: Obj | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const k of Object.keys(sel.matchLabels ?? {})) if (labels[k] !== String(sel.matchLabels[k])) return false;
  for (const e of sel.matchExpressions ?? []) {
    const present = e.key in labels;
    if (e.operator === 'In' && !(present && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && present && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !present) return false;
    if (e.operator === 'DoesNotExist' && present) return false;
  }
  return true;
}

function ipNum(s: string): number {
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function inCidrRef(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipNum(net!) / size) * size;
  const v = ipNum(ip);
  return v >= start && v < start + size;
}

interface RefPod {
  ns: string;
  name: string;
  labels: Record<string, string>;
  ip: string;
  ports: { name: string; port: number; protocol: string }[];
}

function refAllows(world: { pods: RefPod[]; nsLabels: Record<string, Record<string, string>>; policies: Obj[] }, src: RefPod, dst: RefPod, port: number, protocol: string): boolean {
  if (src === dst) return true;
  const nsLabelsOf = (ns: string) => ({ ...(world.nsLabels[ns] ?? {}), 'kubernetes.io/metadata.name': ns });
  const typesOf = (p: Obj): string[] => (p.spec.policyTypes?.length ? p.spec.policyTypes : p.spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress']);
  const peerOk = (policyNs: string, peers: Obj[] | undefined, other: RefPod): boolean => {
    if (!peers || peers.length === 0) return true;
    return peers.some((peer) => {
      if (peer.ipBlock) return inCidrRef(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c: string) => inCidrRef(other.ip, c));
      const nsOk = peer.namespaceSelector ? refSelector(peer.namespaceSelector, nsLabelsOf(other.ns)) : other.ns === policyNs;
      const podOk = peer.podSelector ? refSelector(peer.podSelector, other.labels) : true;
      return nsOk && podOk;
    });
  };
  const portOk = (ports: Obj[] | undefined): boolean => {
    if (!ports || ports.length === 0) return true;
    return ports.some((p) => {
      const proto = p.protocol ?? 'TCP';
      if (proto !== protocol) return false;
      if (p.port === undefined) return true;
      if (typeof p.port === 'string') return dst.ports.some((cp) => cp.name === p.port && cp.port === port && cp.protocol === protocol);
      return port >= p.port && port <= (p.endPort ?? p.port);
    });
  };
  const direction = (subject: RefPod, type: 'Ingress' | 'Egress', other: RefPod): boolean => {
    const applying = world.policies.filter((p) => (p.metadata.namespace ?? 'default') === subject.ns && refSelector(p.spec.podSelector, subject.labels) && typesOf(p).includes(type));
    if (applying.length === 0) return true;
    return applying.some((p) => {
      const rules: Obj[] = (type === 'Ingress' ? p.spec.ingress : p.spec.egress) ?? [];
      return rules.some((r) => peerOk(p.metadata.namespace, type === 'Ingress' ? r.from : r.to, other) && portOk(r.ports));
    });
  };
  return direction(src, 'Egress', dst) && direction(dst, 'Ingress', src);
}

// ---- the policy sets ---------------------------------------------------------------------

const NP = (ns: string, name: string, spec: string) =>
  `---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: ${ns}, name: ${name}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;

const SETS: Record<string, string> = {
  'deny all ingress in x': NP('x', 'deny', 'podSelector: {}\npolicyTypes: [Ingress]'),
  'allow x/a from pod=b in the same namespace only': NP('x', 'p', 'podSelector: {matchLabels: {pod: a}}\ningress:\n- from:\n  - podSelector: {matchLabels: {pod: b}}'),
  'namespaceSelector ns in (y): all pods of y reach x': NP('x', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector:\n      matchExpressions: [{key: ns, operator: In, values: [y]}]'),
  'AND: pod c in namespace y': NP('z', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}\n    podSelector: {matchLabels: {pod: c}}'),
  'OR: namespace y, or pod c of z': NP('z', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: y}}\n  - podSelector: {matchLabels: {pod: c}}'),
  'egress deny in y, then allow egress to z on TCP 80':
    NP('y', 'deny-egress', 'podSelector: {}\npolicyTypes: [Egress]') + NP('y', 'to-z-80', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to:\n  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}\n  ports:\n  - port: 80'),
  'named port serve-81-tcp and UDP 80 into z': NP('z', 'p', 'podSelector: {}\ningress:\n- ports:\n  - port: serve-81-tcp\n  - {port: 80, protocol: UDP}'),
  'endPort 80-81 on UDP into x/b': NP('x', 'p', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- ports:\n  - {protocol: UDP, port: 80, endPort: 81}'),
  'ipBlock 10.244.0.0/16 except the worker /24 into y': NP('y', 'p', 'podSelector: {}\ningress:\n- from:\n  - ipBlock: {cidr: 10.244.0.0/16, except: [10.244.1.0/24]}'),
  'matchExpressions NotIn and DoesNotExist': NP(
    'x',
    'p',
    'podSelector:\n  matchExpressions: [{key: pod, operator: NotIn, values: [a]}]\ningress:\n- from:\n  - namespaceSelector:\n      matchExpressions: [{key: missing, operator: DoesNotExist}]\n    podSelector:\n      matchExpressions: [{key: pod, operator: In, values: [a, c]}]',
  ),
  'egress section without policyTypes isolates ingress too': NP('y', 'p', 'podSelector: {matchLabels: {pod: a}}\negress:\n- to:\n  - namespaceSelector: {}'),
  'Egress-only deny all in z with an SCTP exception to x': NP('z', 'p', 'podSelector: {}\npolicyTypes: [Egress]\negress:\n- to:\n  - namespaceSelector: {matchLabels: {ns: x}}\n  ports:\n  - protocol: SCTP'),
  'additive: three policies on y/b': NP('y', 'p1', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from:\n  - podSelector: {matchLabels: {pod: a}}\n  ports: [{port: 81}]') +
    NP('y', 'p2', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {ns: x}}\n    podSelector: {matchLabels: {pod: c}}') +
    NP('y', 'p3', 'podSelector: {matchLabels: {pod: b}}\npolicyTypes: [Ingress, Egress]\negress:\n- to:\n  - ipBlock: {cidr: 10.244.0.0/24}'),
  'namespaceSelector {} + podSelector pod=a from every namespace, into all of x, y, z':
    NP('x', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {}\n    podSelector: {matchLabels: {pod: a}}') +
    NP('y', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {}\n    podSelector: {matchLabels: {pod: a}}') +
    NP('z', 'p', 'podSelector: {}\ningress:\n- from:\n  - namespaceSelector: {}\n    podSelector: {matchLabels: {pod: a}}'),
  'ipBlock egress to single pod IPs': NP('x', 'p', `podSelector: {matchLabels: {pod: c}}\npolicyTypes: [Egress]\negress:\n- to:\n  - ipBlock: {cidr: ${modelIp('y', 'b')}/32}\n  - ipBlock: {cidr: ${modelIp('z', 'a')}/31}`),
};

function refWorld(policies: Obj[], nsLabels: Record<string, Record<string, string>>) {
  const pods: RefPod[] = [];
  for (const ns of MODEL_NAMESPACES)
    for (const p of MODEL_PODS)
      pods.push({
        ns,
        name: p,
        labels: { pod: p },
        ip: modelIp(ns, p),
        ports: MODEL_PORTS.map((x) => ({ name: `serve-${x.port}-${x.protocol.toLowerCase()}`, port: x.port, protocol: x.protocol })),
      });
  return { pods, nsLabels, policies };
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

for (const [name, yaml] of Object.entries(SETS)) {
  test(`matrix agrees with the reference: ${name}`, (t) => {
    const nsLabels = { x: { ns: 'x' }, y: { ns: 'y' }, z: { ns: 'z' } };
    const policies = docs(yaml);
    const input = byKind([...modelObjects(nsLabels), ...policies]);
    const table = compilePolicies(input);
    const ref = refWorld(policies, nsLabels);
    let denied = 0;
    let allowed = 0;
    for (const { port, protocol } of MODEL_PORTS) {
      const m = policyMatrix(input, { namespaces: MODEL_NAMESPACES, port, protocol });
      t.is(m.pods.length, 9);
      const mismatches: string[] = [];
      for (const s of ref.pods) {
        for (const d of ref.pods) {
          const want = refAllows(ref, s, d, port, protocol);
          const got = table.decide(ipToInt(s.ip), ipToInt(d.ip), PROTO[protocol]!, port) === 0;
          const fromMatrix = m.allowed[m.pods.indexOf(`${s.ns}/${s.name}`)]![m.pods.indexOf(`${d.ns}/${d.name}`)]!;
          if (want !== got || want !== fromMatrix) mismatches.push(`${s.ns}/${s.name} -> ${d.ns}/${d.name} ${port}/${protocol}: reference ${want}, table ${got}, matrix ${fromMatrix}`);
          if (s !== d) want ? allowed++ : denied++;
        }
      }
      t.deepEqual(mismatches, [], m.text);
    }
    // every set must actually deny something and allow something, or it tests nothing
    t.true(denied > 0, 'the set denies some pairs');
    t.true(allowed > 0, 'the set allows some pairs');
  });
}

test('at least ten policy sets', (t) => {
  t.true(Object.keys(SETS).length >= 10);
});

test('namespace relabelling changes the matrix (recompile), in step with the reference', (t) => {
  const yaml = SETS['namespaceSelector ns in (y): all pods of y reach x']!;
  const policies = docs(yaml);
  const relabelled = { x: { ns: 'x' }, y: { ns: 'q' }, z: { ns: 'y' } }; // y loses the label, z gains it
  const before = policyMatrix(byKind([...modelObjects({ x: { ns: 'x' }, y: { ns: 'y' }, z: { ns: 'z' } }), ...policies]), { namespaces: MODEL_NAMESPACES, port: 80 });
  const after = policyMatrix(byKind([...modelObjects(relabelled), ...policies]), { namespaces: MODEL_NAMESPACES, port: 80 });
  const ya = before.pods.indexOf('y/a');
  const za = before.pods.indexOf('z/a');
  const xa = before.pods.indexOf('x/a');
  t.true(before.allowed[ya]![xa]!);
  t.false(before.allowed[za]![xa]!);
  t.false(after.allowed[ya]![xa]!);
  t.true(after.allowed[za]![xa]!);
  const ref = refWorld(policies, relabelled);
  const P = (ns: string, n: string) => ref.pods.find((p) => p.ns === ns && p.name === n)!;
  t.false(refAllows(ref, P('y', 'a'), P('x', 'a'), 80, 'TCP'));
  t.true(refAllows(ref, P('z', 'a'), P('x', 'a'), 80, 'TCP'));
});
