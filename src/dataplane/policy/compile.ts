// NetworkPolicies + Pods + Namespaces + nodes (plain API objects) -> PolicyTable. Pure: no
// store, no sockets, so unit tests feed it real manifests; the daemon recompiles the whole table
// on any change of those objects and swaps it (kube-proxy style), so label changes reach new
// connections after one update. Semantics are listed in table.ts.
import { ipToInt, parseCidr } from '../wire/ipv4.js';
import { compileLabelSelector, isEmptySelector, selectorText, type Labels } from './selector.js';
import {
  PROTO_NUMBERS,
  PolicyTable,
  protoName,
  type CompiledPolicy,
  type CompiledPort,
  type CompiledRule,
  type Direction,
  type EndpointMeta,
  type NamedPort,
  type PodEntry,
  type RuleSet,
} from './table.js';

type Obj = Record<string, any>;

export interface PolicyInput {
  /** networking.k8s.io/v1 NetworkPolicy objects. */
  policies: readonly Obj[];
  /** v1 Pods: metadata.labels, spec.nodeName, spec.containers[].ports, status.podIP. */
  pods: readonly Obj[];
  /** v1 Namespaces; `kubernetes.io/metadata.name` is added when the object lacks it, and a
   *  pod whose namespace object is missing still gets that label. */
  namespaces: readonly Obj[];
  /** Node name and int32 IP. */
  nodes: readonly { name: string; ip: number }[];
}

export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

function parseIp(s: unknown): number | undefined {
  if (typeof s !== 'string' || !s) return undefined;
  try {
    return ipToInt(s);
  } catch {
    return undefined; // IPv6 or garbage: kemu's data plane is IPv4
  }
}

/** Effective policyTypes (SetDefaults_NetworkPolicy): Ingress always; Egress iff egress rules exist. */
export function effectivePolicyTypes(spec: Obj): { ingress: boolean; egress: boolean } {
  const types: unknown = spec?.policyTypes;
  if (Array.isArray(types) && types.length) return { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
  return { ingress: true, egress: Array.isArray(spec?.egress) && spec.egress.length !== 0 };
}

function namespaceLabelsOf(nsObjs: readonly Obj[]): Map<string, Labels> {
  const m = new Map<string, Labels>();
  for (const n of nsObjs) {
    const name = n?.metadata?.name;
    if (typeof name !== 'string') continue;
    m.set(name, Object.freeze({ ...(n.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: name }));
  }
  return m;
}

function isFinished(pod: Obj): boolean {
  const phase = pod?.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

function namedPortsOf(pod: Obj): Map<string, NamedPort[]> {
  const m = new Map<string, NamedPort[]>();
  for (const c of pod?.spec?.containers ?? []) {
    for (const p of c?.ports ?? []) {
      if (typeof p?.name !== 'string' || !p.name || typeof p.containerPort !== 'number') continue;
      const proto = PROTO_NUMBERS[p.protocol ?? 'TCP'];
      if (proto === undefined) continue;
      let l = m.get(p.name);
      if (!l) m.set(p.name, (l = []));
      l.push({ proto, port: p.containerPort });
    }
  }
  return m;
}

function compilePorts(raw: unknown): { allPorts: boolean; ports: CompiledPort[] } {
  if (!Array.isArray(raw) || raw.length === 0) return { allPorts: true, ports: [] };
  const ports: CompiledPort[] = [];
  for (const p of raw) {
    const pn = String(p?.protocol ?? 'TCP');
    const proto = PROTO_NUMBERS[pn];
    // Unknown protocol: the entry matches nothing (the rule is NOT widened to all ports).
    if (proto === undefined || pn === 'ICMP') continue;
    const port = p?.port;
    if (port === undefined || port === null) {
      ports.push({ proto, port: 0, endPort: 0, name: null, text: `${pn} (all ports)` });
    } else if (typeof port === 'number' || (typeof port === 'string' && /^[0-9]+$/.test(port))) {
      const n = Number(port);
      const end = typeof p.endPort === 'number' && p.endPort >= n ? p.endPort : n;
      ports.push({ proto, port: n, endPort: end, name: null, text: end !== n ? `${pn}/${n}-${end}` : `${pn}/${n}` });
    } else if (typeof port === 'string') {
      ports.push({ proto, port: 0, endPort: 0, name: port, text: `${pn}/${port}` });
    }
  }
  return { allPorts: false, ports };
}

interface PodDraft {
  idx: number;
  obj: Obj;
  namespace: string;
  name: string;
  labels: Labels;
  nsLabels: Labels;
  ip: number | undefined;
  ingressPolicies: CompiledPolicy[];
  egressPolicies: CompiledPolicy[];
}

export function compilePolicies(input: PolicyInput): PolicyTable {
  const nsLabels = namespaceLabelsOf(input.namespaces);
  const labelsOfNs = (ns: string): Labels => {
    let l = nsLabels.get(ns);
    if (!l) nsLabels.set(ns, (l = Object.freeze({ [NAMESPACE_NAME_LABEL]: ns })));
    return l;
  };
  const nodeIpByName = new Map<string, number>();
  const nodes = new Map<number, string>();
  for (const n of input.nodes) {
    nodeIpByName.set(n.name, n.ip | 0);
    nodes.set(n.ip | 0, n.name);
  }

  // Pods that take part in policy: not hostNetwork (that is node traffic), not finished.
  const drafts: PodDraft[] = [];
  for (const obj of input.pods) {
    if (!obj?.metadata?.name || obj.spec?.hostNetwork === true || isFinished(obj)) continue;
    const namespace = obj.metadata.namespace ?? 'default';
    drafts.push({
      idx: drafts.length,
      obj,
      namespace,
      name: obj.metadata.name,
      labels: Object.freeze({ ...(obj.metadata.labels ?? {}) }),
      nsLabels: labelsOfNs(namespace),
      ip: parseIp(obj.status?.podIP),
      ingressPolicies: [],
      egressPolicies: [],
    });
  }

  // Policies in a fixed order (namespace, name) so "the first allowing rule" is stable.
  const rawPolicies = input.policies
    .filter((p) => p?.metadata?.name)
    .slice()
    .sort((a, b) => {
      const an = a.metadata.namespace ?? 'default';
      const bn = b.metadata.namespace ?? 'default';
      return an < bn ? -1 : an > bn ? 1 : a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
    });

  const rules: CompiledRule[] = [];
  const policies: CompiledPolicy[] = [];

  for (const raw of rawPolicies) {
    const ns: string = raw.metadata.namespace ?? 'default';
    const spec: Obj = raw.spec ?? {};
    const types = effectivePolicyTypes(spec);
    const podSel = compileLabelSelector(spec.podSelector ?? {});
    const selects = new Set<number>();
    for (const d of drafts) if (d.namespace === ns && podSel(d.labels)) selects.add(d.idx);
    const policy: { -readonly [K in keyof CompiledPolicy]: CompiledPolicy[K] } = {
      ref: Object.freeze({ namespace: ns, name: raw.metadata.name as string }),
      ingressType: types.ingress,
      egressType: types.egress,
      podSelectorText: selectorText(spec.podSelector ?? {}),
      ingress: [],
      egress: [],
      selects,
    };
    const compileRules = (direction: Direction, list: unknown, peerKey: 'from' | 'to'): CompiledRule[] => {
      if (!Array.isArray(list)) return [];
      return list.map((r: Obj, index: number) => {
        const peersRaw: unknown = r?.[peerKey];
        const allPeers = !Array.isArray(peersRaw) || peersRaw.length === 0;
        let allPods = false;
        const pods = new Set<number>();
        const blocks: number[] = [];
        const peerTexts: string[] = [];
        if (!allPeers) {
          for (const peer of peersRaw as Obj[]) {
            if (peer?.ipBlock) {
              let cidr;
              try {
                cidr = parseCidr(String(peer.ipBlock.cidr));
              } catch {
                peerTexts.push(`ipBlock ${peer.ipBlock.cidr} (not IPv4: matches nothing)`);
                continue;
              }
              const ex: number[] = [];
              for (const e of peer.ipBlock.except ?? []) {
                try {
                  const c = parseCidr(String(e));
                  ex.push(c.base, c.mask);
                } catch {
                  /* IPv6 except inside an IPv4 cidr cannot occur; ignore garbage */
                }
              }
              blocks.push(cidr.base, cidr.mask, ex.length / 2, ...ex);
              const exText = (peer.ipBlock.except ?? []).length ? ` except ${(peer.ipBlock.except as string[]).join(', ')}` : '';
              peerTexts.push(`ipBlock ${peer.ipBlock.cidr}${exText}`);
              continue;
            }
            const hasPod = peer?.podSelector != null;
            const hasNs = peer?.namespaceSelector != null;
            if (!hasPod && !hasNs) {
              peerTexts.push('an empty peer (matches nothing)');
              continue;
            }
            if (hasNs && isEmptySelector(peer.namespaceSelector) && (!hasPod || isEmptySelector(peer.podSelector))) {
              allPods = true;
              peerTexts.push('all pods in all namespaces');
              continue;
            }
            const podPred = compileLabelSelector(hasPod ? peer.podSelector : {});
            const nsPred = hasNs ? compileLabelSelector(peer.namespaceSelector) : undefined;
            for (const d of drafts) {
              if (nsPred ? !nsPred(d.nsLabels) : d.namespace !== ns) continue;
              if (podPred(d.labels)) pods.add(d.idx);
            }
            const podPart = hasPod && !isEmptySelector(peer.podSelector) ? `pods ${selectorText(peer.podSelector)}` : 'all pods';
            const nsPart = hasNs
              ? isEmptySelector(peer.namespaceSelector)
                ? 'in all namespaces'
                : `in namespaces ${selectorText(peer.namespaceSelector)}`
              : `in ${ns}`;
            peerTexts.push(`${podPart} ${nsPart}`);
          }
        }
        const { allPorts, ports } = compilePorts(r?.ports);
        const rule: CompiledRule = Object.freeze({
          gid: rules.length,
          policy: policy as CompiledPolicy,
          direction,
          index,
          allPeers,
          allPods,
          pods,
          ipBlocks: Int32Array.from(blocks),
          allPorts,
          ports: Object.freeze(ports),
          peerTexts: Object.freeze(allPeers ? [direction === 'ingress' ? 'every source' : 'every destination'] : peerTexts),
        });
        rules.push(rule);
        return rule;
      });
    };
    // Rules of a direction the policy's types leave out are ignored (as the API says).
    policy.ingress = types.ingress ? compileRules('ingress', spec.ingress, 'from') : [];
    policy.egress = types.egress ? compileRules('egress', spec.egress, 'to') : [];
    Object.freeze(policy);
    policies.push(policy);
    for (const i of selects) {
      if (types.ingress) drafts[i]!.ingressPolicies.push(policy);
      if (types.egress) drafts[i]!.egressPolicies.push(policy);
    }
  }

  let setId = 0;
  const entries: PodEntry[] = [];
  const byIp = new Map<number, PodEntry>();
  for (const d of drafts) {
    const nodeName: string | undefined = d.obj.spec?.nodeName || undefined;
    const meta: EndpointMeta = Object.freeze({
      namespace: d.namespace,
      pod_name: d.name,
      labels: Object.freeze(
        [...Object.entries(d.labels).map(([k, v]) => `k8s:${k}=${v}`), `k8s:io.kubernetes.pod.namespace=${d.namespace}`].sort(),
      ),
      ...(nodeName ? { node_name: nodeName } : {}),
    });
    const entry = {
      idx: d.idx,
      namespace: d.namespace,
      name: d.name,
      key: `${d.namespace}/${d.name}`,
      ip: d.ip,
      ipText: d.ip === undefined ? undefined : String(d.obj.status.podIP),
      nodeName,
      nodeIp: nodeName !== undefined ? nodeIpByName.get(nodeName) : undefined,
      labels: d.labels,
      namespaceLabels: d.nsLabels,
      namedPorts: namedPortsOf(d.obj),
      ingress: null as RuleSet | null,
      egress: null as RuleSet | null,
      meta,
    };
    const mkSet = (direction: Direction, ps: CompiledPolicy[]): RuleSet | null =>
      ps.length
        ? Object.freeze({ id: setId++, direction, pod: entry as PodEntry, policies: Object.freeze(ps), rules: Object.freeze(ps.flatMap((p) => p[direction])) })
        : null;
    entry.ingress = mkSet('ingress', d.ingressPolicies);
    entry.egress = mkSet('egress', d.egressPolicies);
    Object.freeze(entry);
    entries.push(entry);
    // First pod wins an IP (two live pods never share one; a stale object might).
    if (d.ip !== undefined && !byIp.has(d.ip)) byIp.set(d.ip, entry);
  }

  return new PolicyTable(entries, byIp, policies, rules, nodes, nsLabels);
}

export { protoName };
