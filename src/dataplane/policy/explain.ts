// `kemu explain`: a pure walkthrough of the NetworkPolicy verdict for one connection, without
// sending a packet, and the who-can-reach-whom matrix of namespaces. It walks the same compiled
// table and the same rule matchers as the packet path (table.ts), so it gives the verdict the
// packets get. Wording follows roxctl's connectivity explanations and the issue:
//   "NetworkPolicy production/default-deny-ingress selects production/backend-7d9f, but no
//    ingress rule allows default/frontend-5c4b"
//   "allowed by NetworkPolicy production/allow-frontend-to-backend ingress rule 0"
// The matrix is printed like the e2e netpol truth table (test/e2e/network/netpol/truthtable.go
// PrettyPrint): a "-" corner, tab-separated, rows = from, columns = to, "." allowed, "X" denied.
import { intToIp, ipToInt } from '../wire/ipv4.js';
import { compilePolicies, type PolicyInput } from './compile.js';
import {
  PROTO_NUMBERS,
  PolicyTable,
  protoName,
  rulePeerMatches,
  rulePortsMatch,
  type CompiledPolicy,
  type CompiledRule,
  type Direction,
  type PodEntry,
} from './table.js';

type Obj = Record<string, any>;

export interface ExplainInput extends PolicyInput {
  /** v1 Services and discovery.k8s.io/v1 EndpointSlices, to explain a connection to a Service. */
  services?: readonly Obj[];
  slices?: readonly Obj[];
}

/** One end of a connection: a pod (IP or not yet), or a bare address. */
export interface End {
  readonly pod: PodEntry | undefined;
  readonly ip: number | undefined;
  /** "ns/pod" or the dotted address. */
  readonly label: string;
}

export interface RuleCheck {
  readonly rule: CompiledRule;
  readonly peerMatches: boolean;
  readonly portsMatch: boolean;
}

export interface PolicyCheck {
  readonly policy: CompiledPolicy;
  readonly rules: readonly RuleCheck[];
}

export type DirectionWalk =
  | { readonly kind: 'self' }
  | { readonly kind: 'not-a-pod' }
  | { readonly kind: 'not-isolated' }
  | { readonly kind: 'own-node'; readonly nodeIp: number }
  | { readonly kind: 'allowed' | 'denied'; readonly policies: readonly PolicyCheck[]; readonly allowedBy: readonly CompiledRule[] };

export interface PairVerdict {
  readonly allowed: boolean;
  readonly egress: DirectionWalk;
  readonly ingress: DirectionWalk;
}

function checkDirection(dir: Direction, subject: PodEntry, peer: End, dstPod: PodEntry | undefined, proto: number, port: number): DirectionWalk {
  const set = subject[dir];
  if (set === null) return { kind: 'not-isolated' };
  if (peer.ip !== undefined && peer.ip === subject.nodeIp) return { kind: 'own-node', nodeIp: peer.ip };
  const allowedBy: CompiledRule[] = [];
  const policies = set.policies.map((policy) => ({
    policy,
    rules: policy[dir].map((rule) => {
      const peerMatches = rulePeerMatches(rule, peer.pod, peer.ip);
      const portsMatch = rulePortsMatch(rule, dstPod, proto, port);
      if (peerMatches && portsMatch) allowedBy.push(rule);
      return { rule, peerMatches, portsMatch };
    }),
  }));
  return { kind: allowedBy.length ? 'allowed' : 'denied', policies, allowedBy };
}

/** The verdict for src → dst (dst already the post-DNAT endpoint), with every rule checked. */
export function evaluatePair(src: End, dst: End, proto: number, port: number): PairVerdict {
  if (src.pod !== undefined && src.pod === dst.pod) return { allowed: true, egress: { kind: 'self' }, ingress: { kind: 'self' } };
  if (src.pod === undefined && dst.pod === undefined && src.ip !== undefined && src.ip === dst.ip) {
    return { allowed: true, egress: { kind: 'self' }, ingress: { kind: 'self' } };
  }
  const egress: DirectionWalk = src.pod ? checkDirection('egress', src.pod, dst, dst.pod, proto, port) : { kind: 'not-a-pod' };
  const ingress: DirectionWalk = dst.pod ? checkDirection('ingress', dst.pod, src, dst.pod, proto, port) : { kind: 'not-a-pod' };
  return { allowed: egress.kind !== 'denied' && ingress.kind !== 'denied', egress, ingress };
}

export function podEnd(pod: PodEntry): End {
  return { pod, ip: pod.ip, label: pod.key };
}

export function ipEnd(table: PolicyTable, ip: number): End {
  const pod = table.podByIp(ip);
  if (pod) return podEnd(pod);
  const node = table.nodes.get(ip | 0);
  return { pod: undefined, ip: ip | 0, label: node !== undefined ? `${intToIp(ip)} (node ${node})` : intToIp(ip) };
}

// ---- sentences -----------------------------------------------------------------------------

function ref(p: CompiledPolicy): string {
  return `${p.ref.namespace}/${p.ref.name}`;
}

function ruleName(r: CompiledRule): string {
  return `NetworkPolicy ${ref(r.policy)} ${r.direction} rule ${r.index}`;
}

function rulePortsText(r: CompiledRule): string {
  return r.allPorts ? 'all ports and protocols' : r.ports.length ? r.ports.map((p) => p.text).join(', ') : 'no usable port';
}

function namedPortNote(r: CompiledRule, dstPod: PodEntry | undefined, proto: number): string {
  const names = r.ports.filter((p) => p.name !== null && p.proto === proto).map((p) => p.name!);
  if (!names.length) return '';
  if (!dstPod) return ` (a named port only matches a pod destination)`;
  return names
    .map((n) => {
      const l = dstPod.namedPorts.get(n)?.filter((x) => x.proto === proto);
      return l?.length ? ` (${dstPod.key} names ${l.map((x) => `${protoName(x.proto)}/${x.port}`).join(', ')} "${n}")` : ` (${dstPod.key} has no ${protoName(proto)} containerPort named "${n}")`;
    })
    .join('');
}

function directionLines(dir: Direction, walk: DirectionWalk, src: End, dst: End, proto: number, port: number): string[] {
  const subject = dir === 'egress' ? src : dst;
  const peer = dir === 'egress' ? dst : src;
  const head = dir === 'egress' ? `Egress from ${subject.label}` : `Ingress to ${subject.label}`;
  const conn = `${protoName(proto)}/${port}`;
  switch (walk.kind) {
    case 'self':
      return [`${head}: allowed: a pod can always reach itself`];
    case 'not-a-pod':
      return [`${head}: allowed: ${subject.label} is not a pod, so no NetworkPolicy applies`];
    case 'not-isolated':
      return [`${head}: allowed: no NetworkPolicy in ${subject.pod!.namespace} selects ${subject.label} for ${dir} (system default: allow all)`];
    case 'own-node':
      return [
        dir === 'ingress'
          ? `${head}: allowed: traffic from the pod's own node (${intToIp(walk.nodeIp)}) is always allowed`
          : `${head}: allowed: traffic to the pod's own node (${intToIp(walk.nodeIp)}) is always allowed`,
      ];
    case 'allowed': {
      const [first, ...more] = walk.allowedBy;
      const also = more.length ? ` (also ${more.map(ruleName).join(', ')})` : '';
      return [`${head}: allowed by ${ruleName(first!)}${also}`];
    }
    case 'denied': {
      const lines = [`${head}: DENIED`];
      for (const pc of walk.policies) {
        const rules = pc.policy[dir];
        let why: string;
        if (!rules.length) why = `it has no ${dir} rules`;
        else
          why = pc.rules
            .map((c) => {
              const dirWord = dir === 'ingress' ? 'from' : 'to';
              if (!c.peerMatches) return `rule ${c.rule.index} allows ${dirWord} ${c.rule.peerTexts.join(' or ')}, which does not include ${peer.label}`;
              return `rule ${c.rule.index} selects ${peer.label} but allows only ${rulePortsText(c.rule)}, not ${conn}${namedPortNote(c.rule, dst.pod, proto)}`;
            })
            .join('; ');
        lines.push(`  NetworkPolicy ${ref(pc.policy)} selects ${subject.label}, but no ${dir} rule allows ${peer.label} (${why})`);
      }
      return lines;
    }
  }
}

/** Sentences for one (already resolved) pair. */
export function explainPair(src: End, dst: End, proto: number, port: number): { verdict: PairVerdict; lines: string[] } {
  const verdict = evaluatePair(src, dst, proto, port);
  const where = (e: End) => (e.pod ? `${e.label} (${e.pod.ipText ?? 'no IP yet'})` : e.label);
  const lines = [`${where(src)} -> ${where(dst)} ${protoName(proto)}/${port}: ${verdict.allowed ? 'ALLOWED' : 'DENIED'}`];
  for (const l of directionLines('egress', verdict.egress, src, dst, proto, port)) lines.push(`  ${l}`);
  for (const l of directionLines('ingress', verdict.ingress, src, dst, proto, port)) lines.push(`  ${l}`);
  return { verdict, lines };
}

// ---- resolving the request ---------------------------------------------------------------

export interface ExplainRequest {
  /** "NS/POD" or an IPv4 address (e.g. the external client 172.18.0.1). */
  from: string;
  /** "NS/POD", "NS/SERVICE" or an IPv4 address (a pod IP, a ClusterIP, anything else). */
  to: string;
  port: number;
  /** TCP (default), UDP or SCTP. */
  protocol?: string;
}

export interface ExplainTarget {
  /** The endpoint evaluated (the Service's backend pod for a Service). */
  dst: End;
  port: number;
  verdict: PairVerdict;
}

export interface Explanation {
  /** True when every evaluated endpoint is allowed and at least one exists. */
  allowed: boolean;
  targets: ExplainTarget[];
  lines: string[];
  text: string;
}

export class ExplainError extends Error {}

/** Parse "8080", "8080/TCP", "53/udp". */
export function parsePortSpec(s: string, protocol?: string): { port: number; proto: number } {
  const m = /^([0-9]{1,5})(?:\/([A-Za-z]+))?$/.exec(s.trim());
  if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new ExplainError(`invalid port "${s}": want P or P/PROTO, e.g. 8080 or 53/UDP`);
  const pn = (m[2] ?? protocol ?? 'TCP').toUpperCase();
  const proto = PROTO_NUMBERS[pn];
  if (proto === undefined || pn === 'ICMP') throw new ExplainError(`invalid protocol "${pn}": want TCP, UDP or SCTP`);
  return { port: Number(m[1]), proto };
}

function tryIp(s: string): number | undefined {
  try {
    return ipToInt(s);
  } catch {
    return undefined;
  }
}

function splitName(s: string, what: string): [string, string] {
  const i = s.indexOf('/');
  if (i <= 0 || i === s.length - 1 || s.indexOf('/', i + 1) >= 0) throw new ExplainError(`${what} "${s}": want NAMESPACE/NAME or an IPv4 address`);
  return [s.slice(0, i), s.slice(i + 1)];
}

function resolvePod(table: PolicyTable, input: ExplainInput, s: string, what: string): End | undefined {
  const [ns, name] = splitName(s, what);
  const pod = table.podByName(ns, name);
  if (pod) return podEnd(pod);
  const raw = input.pods.find((p) => (p.metadata?.namespace ?? 'default') === ns && p.metadata?.name === name);
  if (raw) {
    if (raw.spec?.hostNetwork === true) {
      const ip = tryIp(raw.status?.podIP ?? '');
      if (ip === undefined) throw new ExplainError(`${what} ${s} is a hostNetwork pod without an IP yet`);
      return { pod: undefined, ip, label: `${s} (hostNetwork, node address ${intToIp(ip)})` };
    }
    throw new ExplainError(`${what} ${s} has finished (phase ${raw.status?.phase}): it has no network`);
  }
  return undefined;
}

interface ServiceTargets {
  lines: string[];
  targets: { dst: End; port: number }[];
}

function serviceTargets(table: PolicyTable, input: ExplainInput, svc: Obj, port: number, proto: number): ServiceTargets {
  const ns: string = svc.metadata.namespace ?? 'default';
  const name: string = svc.metadata.name;
  const pn = protoName(proto);
  const sp = (svc.spec?.ports ?? []).find((p: Obj) => p.port === port && (p.protocol ?? 'TCP') === pn);
  if (!sp) {
    const have = (svc.spec?.ports ?? []).map((p: Obj) => `${p.port}/${p.protocol ?? 'TCP'}`).join(', ') || 'none';
    throw new ExplainError(`Service ${ns}/${name} has no port ${port}/${pn} (its ports: ${have})`);
  }
  const targets: { dst: End; port: number }[] = [];
  const seen = new Set<string>();
  for (const sl of input.slices ?? []) {
    if ((sl.metadata?.namespace ?? 'default') !== ns || sl.metadata?.labels?.['kubernetes.io/service-name'] !== name) continue;
    if (sl.addressType && sl.addressType !== 'IPv4') continue;
    const slp = (sl.ports ?? []).find((p: Obj) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === pn);
    if (!slp || typeof slp.port !== 'number') continue;
    for (const ep of sl.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) {
        const ip = tryIp(a);
        if (ip === undefined || seen.has(`${a}:${slp.port}`)) continue;
        seen.add(`${a}:${slp.port}`);
        let dst = ipEnd(table, ip);
        if (!dst.pod && ep.targetRef?.kind === 'Pod') {
          const pod = table.podByName(ep.targetRef.namespace ?? ns, ep.targetRef.name);
          if (pod) dst = podEnd(pod);
        }
        targets.push({ dst, port: slp.port });
      }
    }
  }
  const vip = svc.spec?.clusterIP && svc.spec.clusterIP !== 'None' ? ` (${svc.spec.clusterIP}:${port})` : '';
  const tp = sp.targetPort ?? port;
  const lines: string[] = [];
  if (!targets.length) {
    lines.push(`Service ${ns}/${name}${vip} port ${port}/${pn} has no ready endpoints: kube-proxy rejects the connection before any NetworkPolicy is evaluated`);
  } else {
    const ports = [...new Set(targets.map((t) => t.port))].join(', ');
    const tpText = typeof tp === 'string' ? `targetPort "${tp}" (= ${ports})` : `targetPort ${ports}`;
    lines.push(
      `Service ${ns}/${name}${vip} port ${port}/${pn} forwards to ${tpText} on ${targets.length} endpoint${targets.length > 1 ? 's' : ''}: ` +
        targets.map((t) => (t.dst.pod ? `${t.dst.label} (${t.dst.pod.ipText})` : t.dst.label)).join(', '),
    );
    lines.push(
      vip
        ? `NetworkPolicy is evaluated on each endpoint after DNAT: the destination is the backend pod and its port ${ports}, not the ClusterIP`
        : `The Service is headless: clients connect to the endpoint pods directly`,
    );
  }
  return { lines, targets };
}

/** Explain one connection (a pod, Service or address as destination). Throws ExplainError on bad input. */
export function explainConnection(input: ExplainInput, req: ExplainRequest, table: PolicyTable = compilePolicies(input)): Explanation {
  const { proto } = parsePortSpec(String(req.port), req.protocol);
  const port = Number(req.port);
  const lines: string[] = [];
  const fromIp = tryIp(req.from);
  const src = fromIp !== undefined ? ipEnd(table, fromIp) : resolvePod(table, input, req.from, '--from');
  if (!src) throw new ExplainError(`--from ${req.from}: no such pod`);

  let targets: { dst: End; port: number }[];
  const toIp = tryIp(req.to);
  if (toIp !== undefined) {
    const svc = (input.services ?? []).find((s) => s.spec?.clusterIP === req.to || (s.spec?.clusterIPs ?? []).includes(req.to));
    if (svc && !table.podByIp(toIp)) {
      const st = serviceTargets(table, input, svc, port, proto);
      lines.push(...st.lines);
      targets = st.targets;
    } else targets = [{ dst: ipEnd(table, toIp), port }];
  } else {
    const pod = resolvePod(table, input, req.to, '--to');
    if (pod) targets = [{ dst: pod, port }];
    else {
      const [ns, name] = splitName(req.to, '--to');
      const svc = (input.services ?? []).find((s) => (s.metadata?.namespace ?? 'default') === ns && s.metadata?.name === name);
      if (!svc) throw new ExplainError(`--to ${req.to}: no pod or Service of that name`);
      const st = serviceTargets(table, input, svc, port, proto);
      lines.push(...st.lines);
      targets = st.targets;
    }
  }

  const results: ExplainTarget[] = [];
  for (const t of targets) {
    const { verdict, lines: l } = explainPair(src, t.dst, proto, t.port);
    results.push({ dst: t.dst, port: t.port, verdict });
    lines.push(...l);
  }
  const allowed = results.length > 0 && results.every((r) => r.verdict.allowed);
  if (results.length > 1) {
    const n = results.filter((r) => r.verdict.allowed).length;
    lines.push(`Verdict: ${n} of ${results.length} endpoints allowed${n && n < results.length ? ' (the connection succeeds or times out depending on the endpoint kube-proxy picks)' : ''}`);
  }
  return { allowed, targets: results, lines, text: lines.join('\n') };
}

// ---- matrix ------------------------------------------------------------------------------

export interface MatrixRequest {
  namespaces: readonly string[];
  port: number;
  protocol?: string;
}

export interface Matrix {
  /** "ns/pod", sorted by namespace then name (same list for rows and columns). */
  pods: string[];
  /** allowed[from][to] */
  allowed: boolean[][];
  /** The e2e truth-table rendering. */
  text: string;
}

/** TruthTable.PrettyPrint: "-" then the column names, tab-separated; "." allowed, "X" denied. */
export function formatTruthTable(froms: readonly string[], tos: readonly string[], allowed: readonly (readonly boolean[])[], indent = ''): string {
  const lines = [indent + ['-', ...tos].join('\t')];
  froms.forEach((f, i) => lines.push(indent + [f, ...tos.map((_, j) => (allowed[i]![j] ? '.' : 'X'))].join('\t')));
  return lines.join('\n');
}

/** Who can reach whom among the pods of the namespaces on one port (self counts as allowed). */
export function policyMatrix(input: PolicyInput, req: MatrixRequest, table: PolicyTable = compilePolicies(input)): Matrix {
  const { proto } = parsePortSpec(String(req.port), req.protocol);
  const want = new Set(req.namespaces);
  const pods = table.pods.filter((p) => want.has(p.namespace)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const allowed = pods.map((s) => pods.map((d) => evaluatePair(podEnd(s), podEnd(d), proto, req.port).allowed));
  const names = pods.map((p) => p.key);
  return { pods: names, allowed, text: formatTruthTable(names, names, allowed) };
}

/** The distinct (port, protocol) pairs the pods of these namespaces declare, sorted. */
export function declaredPorts(input: PolicyInput, namespaces: readonly string[]): { port: number; protocol: string }[] {
  const want = new Set(namespaces);
  const seen = new Map<string, { port: number; protocol: string }>();
  for (const p of input.pods) {
    if (!want.has(p.metadata?.namespace ?? 'default')) continue;
    for (const c of p.spec?.containers ?? []) {
      for (const cp of c.ports ?? []) {
        if (typeof cp.containerPort !== 'number') continue;
        const protocol = cp.protocol ?? 'TCP';
        seen.set(`${cp.containerPort}/${protocol}`, { port: cp.containerPort, protocol });
      }
    }
  }
  return [...seen.values()].sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : 1));
}
