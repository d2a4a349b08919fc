// The compiled form of NetworkPolicies that the packet path reads (built by compile.ts, swapped
// whole, never mutated except for the verdict intern table). One PodEntry per pod, indexed by
// pod IP as an int32; each entry carries the rule sets that isolate it per direction. Decisions
// are taken once per NEW connection (conntrack remembers them; replies and RELATED ICMP pass).
//
// Semantics (../shared/reference/k8s-network-semantics.md §3, networking.k8s.io/v1):
//   - a direction is isolated iff some policy in the pod's namespace selects it with that type
//     in (defaulted) policyTypes; a non-isolated direction allows everything;
//   - an isolated direction allows the union of the rules of the policies that select the pod;
//   - both ends must allow: the source pod's egress AND the destination pod's ingress;
//   - addresses are the POST-DNAT destination (a Service's chosen backend pod) and the source
//     before any SNAT; an address that is not a pod IP is never isolated and matches only
//     ipBlock peers;
//   - a pod can always reach itself; traffic between a pod and its own node's IP is always
//     allowed (ingress from it and egress to it);
//   - ICMP and other non-port protocols (kemu's choice for the "undefined" case, reference §6
//     item 5): a policy applies to ALL IP protocols, as Calico, Cilium and kube-network-policies
//     behave. A rule without `ports` allows every protocol (so `ping` works where the rule
//     allows the peer); a rule with `ports` allows only the listed TCP/UDP/SCTP traffic, so an
//     isolated pod does not answer a ping from a peer allowed only on TCP 80. ICMP errors
//     about an allowed connection are RELATED in conntrack and never reach this table.
import type { Labels } from './selector.js';

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_SCTP = 132;

export const PROTO_NUMBERS: Readonly<Record<string, number>> = { TCP: PROTO_TCP, UDP: PROTO_UDP, SCTP: PROTO_SCTP, ICMP: PROTO_ICMP };

export function protoName(p: number): string {
  switch (p) {
    case PROTO_TCP:
      return 'TCP';
    case PROTO_UDP:
      return 'UDP';
    case PROTO_SCTP:
      return 'SCTP';
    case PROTO_ICMP:
      return 'ICMP';
    default:
      return `proto-${p}`;
  }
}

export type Direction = 'ingress' | 'egress';

export interface PolicyRef {
  readonly namespace: string;
  readonly name: string;
}

/** A policy rule as the flow log names it (Hubble's policy fields plus Calico's rule_index). */
export interface PolicyRuleRef extends PolicyRef {
  readonly rule_index: number;
}

export interface CompiledPort {
  /** 6, 17 or 132 (the rule's protocol; TCP when omitted). */
  readonly proto: number;
  /** First port; 0 = every port of `proto` (also for a named port, see `name`). */
  readonly port: number;
  /** Last port, inclusive (= port without endPort). */
  readonly endPort: number;
  /** Named port, resolved against the destination pod's containerPorts; null for numbers. */
  readonly name: string | null;
  /** "TCP/8080", "TCP/8080-8090", "TCP/http", "SCTP (all ports)". */
  readonly text: string;
}

export interface CompiledRule {
  /** Index into PolicyTable.rules. */
  readonly gid: number;
  readonly policy: CompiledPolicy;
  readonly direction: Direction;
  /** Position in spec.ingress / spec.egress. */
  readonly index: number;
  /** `from`/`to` empty or missing: every peer, pod or not. */
  readonly allPeers: boolean;
  /** Some peer selects every pod of every namespace (namespaceSelector: {}). */
  readonly allPods: boolean;
  /** Pod indexes (PodEntry.idx) selected by the podSelector/namespaceSelector peers (union). */
  readonly pods: ReadonlySet<number>;
  /** ipBlock peers, flat: base, mask, exceptCount, then exceptCount × (base, mask). */
  readonly ipBlocks: Int32Array;
  /** `ports` empty or missing: every port of every protocol. */
  readonly allPorts: boolean;
  readonly ports: readonly CompiledPort[];
  /** One phrase per peer for explanations ("pods app=frontend in production"). */
  readonly peerTexts: readonly string[];
}

export interface CompiledPolicy {
  readonly ref: PolicyRef;
  /** Effective policyTypes after defaulting. */
  readonly ingressType: boolean;
  readonly egressType: boolean;
  readonly podSelectorText: string;
  readonly ingress: readonly CompiledRule[];
  readonly egress: readonly CompiledRule[];
  /** Pods (PodEntry.idx) the policy selects. */
  readonly selects: ReadonlySet<number>;
}

/** The policies that isolate one pod in one direction, and their rules in evaluation order. */
export interface RuleSet {
  /** Unique per table; used in verdict ids. */
  readonly id: number;
  readonly direction: Direction;
  readonly pod: PodEntry;
  /** Sorted by namespace/name (all in the pod's namespace). */
  readonly policies: readonly CompiledPolicy[];
  /** The policies' rules, policy by policy, each in spec order. */
  readonly rules: readonly CompiledRule[];
}

export interface NamedPort {
  readonly proto: number;
  readonly port: number;
}

/** What the flow log says about an endpoint (precomputed: building a record allocates little). */
export interface EndpointMeta {
  readonly namespace: string;
  readonly pod_name: string;
  /** Hubble style: "k8s:app=web", sorted, plus "k8s:io.kubernetes.pod.namespace=<ns>". */
  readonly labels: readonly string[];
  readonly node_name?: string;
}

export interface PodEntry {
  readonly idx: number;
  readonly namespace: string;
  readonly name: string;
  /** "ns/name" */
  readonly key: string;
  /** int32, or undefined while the pod has no IP (it can still be explained by name). */
  readonly ip: number | undefined;
  readonly ipText: string | undefined;
  readonly nodeName: string | undefined;
  /** int32 IP of the pod's node, if known. */
  readonly nodeIp: number | undefined;
  readonly labels: Labels;
  readonly namespaceLabels: Labels;
  /** containerPorts[].name → (protocol, containerPort) */
  readonly namedPorts: ReadonlyMap<string, readonly NamedPort[]>;
  readonly ingress: RuleSet | null;
  readonly egress: RuleSet | null;
  readonly meta: EndpointMeta;
}

export type DirectionOutcome =
  | { readonly kind: 'not-isolated' }
  | { readonly kind: 'exempt'; readonly reason: 'own-node' }
  | { readonly kind: 'allowed'; readonly rule: PolicyRuleRef }
  | { readonly kind: 'denied'; readonly isolatedBy: readonly PolicyRef[] };

export interface VerdictInfo {
  readonly id: number;
  readonly verdict: 'ALLOWED' | 'DROPPED';
  /** The direction that dropped (egress when both would: the source's egress comes first). */
  readonly deniedDirection: Direction | undefined;
  readonly ingress: DirectionOutcome;
  readonly egress: DirectionOutcome;
  /** Hubble's fields; at most one rule each (the first allowing rule in policy-name order). */
  readonly ingress_allowed_by: readonly PolicyRuleRef[];
  readonly egress_allowed_by: readonly PolicyRuleRef[];
  /** Every policy that isolates the pod in that direction (sorted); the first is the
   *  "trigger" in Calico's end-of-tier sense. Empty unless that direction denied. */
  readonly ingress_denied_by: readonly PolicyRef[];
  readonly egress_denied_by: readonly PolicyRef[];
}

// Per-direction outcome codes (small ints; a verdict id interns an (ingress, egress) pair).
const OUT_NOT_ISOLATED = 0;
const OUT_EXEMPT_NODE = 1;
// allowed by rule gid:  2 + gid
// denied by rule set:   -(1 + set.id)

const ALLOWED_NO_POLICY: VerdictInfo = Object.freeze({
  id: 0,
  verdict: 'ALLOWED',
  deniedDirection: undefined,
  ingress: { kind: 'not-isolated' },
  egress: { kind: 'not-isolated' },
  ingress_allowed_by: [],
  egress_allowed_by: [],
  ingress_denied_by: [],
  egress_denied_by: [],
}) as VerdictInfo;

/** Does any ipBlock in the flat encoding contain ip (and none of its excepts)? */
function inIpBlocks(b: Int32Array, ip: number): boolean {
  let i = 0;
  while (i < b.length) {
    const base = b[i]!;
    const mask = b[i + 1]!;
    const n = b[i + 2]!;
    let hit = (ip & mask) === base;
    i += 3;
    if (hit) {
      for (let j = 0; j < n; j++) {
        if ((ip & b[i + 2 * j + 1]!) === b[i + 2 * j]!) {
          hit = false;
          break;
        }
      }
      if (hit) return true;
    }
    i += 2 * n;
  }
  return false;
}

/** Does the rule's peer list select this end (a pod entry, or a bare IP when pod is undefined)? */
export function rulePeerMatches(rule: CompiledRule, pod: PodEntry | undefined, ip: number | undefined): boolean {
  if (rule.allPeers) return true;
  if (pod !== undefined && (rule.allPods || rule.pods.has(pod.idx))) return true;
  if (ip !== undefined && rule.ipBlocks.length !== 0 && inIpBlocks(rule.ipBlocks, ip)) return true;
  return false;
}

/**
 * Do the rule's ports allow (proto, dstPort) to the destination? Named ports match when the
 * destination pod declares a containerPort with that name, protocol and number (a non-pod
 * destination never matches a named port).
 */
export function rulePortsMatch(rule: CompiledRule, dstPod: PodEntry | undefined, proto: number, dstPort: number): boolean {
  if (rule.allPorts) return true;
  const ports = rule.ports;
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i]!;
    if (p.proto !== proto) continue;
    if (p.name !== null) {
      if (dstPod === undefined) continue;
      const named = dstPod.namedPorts.get(p.name);
      if (named === undefined) continue;
      for (let j = 0; j < named.length; j++) if (named[j]!.proto === proto && named[j]!.port === dstPort) return true;
      continue;
    }
    if (p.port === 0) return true;
    if (dstPort >= p.port && dstPort <= p.endPort) return true;
  }
  return false;
}

export class PolicyTable {
  /** Every verdict id handed out so far; index = id. Entry 0 = allowed, no policy involved. */
  private readonly infos: VerdictInfo[] = [ALLOWED_NO_POLICY];
  private readonly denied: boolean[] = [false];
  private readonly intern = new Map<number, Map<number, number>>();
  private readonly setsById: RuleSet[] = [];

  constructor(
    /** Every pod given to the compiler, IP or not, in input order (idx = position). */
    readonly pods: readonly PodEntry[],
    /** Pods that own their IP (not hostNetwork, not finished), keyed by int32 IP. */
    readonly byIp: ReadonlyMap<number, PodEntry>,
    readonly policies: readonly CompiledPolicy[],
    /** Every compiled rule; index = gid. */
    readonly rules: readonly CompiledRule[],
    /** Node IPs (int32) → node name. */
    readonly nodes: ReadonlyMap<number, string>,
    readonly namespaceLabels: ReadonlyMap<string, Labels>,
  ) {
    for (const p of pods) {
      if (p.ingress) this.setsById[p.ingress.id] = p.ingress;
      if (p.egress) this.setsById[p.egress.id] = p.egress;
    }
  }

  /** Number of pods with a policy-isolated direction (for status output). */
  get isolatedPods(): number {
    let n = 0;
    for (const p of this.pods) if (p.ingress || p.egress) n++;
    return n;
  }

  podByIp(ip: number): PodEntry | undefined {
    return this.byIp.get(ip | 0);
  }

  podByName(namespace: string, name: string): PodEntry | undefined {
    for (const p of this.pods) if (p.namespace === namespace && p.name === name) return p;
    return undefined;
  }

  /**
   * Hot path, once per NEW connection: 0 = allowed, else a positive verdict id of a DROP
   * (see verdictInfo). Use evaluate() instead when the allowing policy is wanted too.
   */
  decide(srcIp: number, dstIp: number, proto: number, dstPort: number): number {
    const v = this.evaluate(srcIp, dstIp, proto, dstPort);
    return this.denied[v] ? v : 0;
  }

  /**
   * Like decide(), but returns a verdict id for allowed connections too: 0 = allowed with no
   * policy on either end; any other id is interned per table (isDenied(id) is a cheap check,
   * verdictInfo(id) the details). Ids belong to this table: resolve them before a swap.
   */
  evaluate(srcIp: number, dstIp: number, proto: number, dstPort: number): number {
    srcIp |= 0;
    dstIp |= 0;
    if (srcIp === dstIp) return 0; // a pod can always reach itself
    const sp = this.byIp.get(srcIp);
    const dp = this.byIp.get(dstIp);
    let eg = OUT_NOT_ISOLATED;
    let ing = OUT_NOT_ISOLATED;
    if (sp !== undefined && sp.egress !== null) {
      eg = dstIp === sp.nodeIp ? OUT_EXEMPT_NODE : this.outcome(sp.egress, dp, dstIp, dp, proto, dstPort);
    }
    if (dp !== undefined && dp.ingress !== null) {
      ing = srcIp === dp.nodeIp ? OUT_EXEMPT_NODE : this.outcome(dp.ingress, sp, srcIp, dp, proto, dstPort);
    }
    if (eg === OUT_NOT_ISOLATED && ing === OUT_NOT_ISOLATED) return 0;
    return this.verdictId(ing, eg);
  }

  isDenied(id: number): boolean {
    return this.denied[id] === true;
  }

  verdictInfo(id: number): VerdictInfo {
    const v = this.infos[id];
    if (!v) throw new RangeError(`unknown policy verdict id ${id}`);
    return v;
  }

  /** First rule of the set that allows the connection: 2 + gid; or -(1 + set id). */
  private outcome(set: RuleSet, peer: PodEntry | undefined, peerIp: number, dstPod: PodEntry | undefined, proto: number, dstPort: number): number {
    const rules = set.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (rulePeerMatches(r, peer, peerIp) && rulePortsMatch(r, dstPod, proto, dstPort)) return 2 + r.gid;
    }
    return -(1 + set.id);
  }

  private verdictId(ing: number, eg: number): number {
    let inner = this.intern.get(ing);
    if (inner === undefined) this.intern.set(ing, (inner = new Map()));
    let id = inner.get(eg);
    if (id === undefined) {
      id = this.infos.length;
      const info = this.buildInfo(id, ing, eg);
      this.infos.push(info);
      this.denied.push(info.verdict === 'DROPPED');
      inner.set(eg, id);
    }
    return id;
  }

  private decode(code: number): DirectionOutcome {
    if (code === OUT_NOT_ISOLATED) return { kind: 'not-isolated' };
    if (code === OUT_EXEMPT_NODE) return { kind: 'exempt', reason: 'own-node' };
    if (code >= 2) {
      const r = this.rules[code - 2]!;
      return { kind: 'allowed', rule: { namespace: r.policy.ref.namespace, name: r.policy.ref.name, rule_index: r.index } };
    }
    const set = this.setsById[-code - 1]!;
    return { kind: 'denied', isolatedBy: set.policies.map((p) => p.ref) };
  }

  private buildInfo(id: number, ing: number, eg: number): VerdictInfo {
    const ingress = this.decode(ing);
    const egress = this.decode(eg);
    const deniedDirection: Direction | undefined = egress.kind === 'denied' ? 'egress' : ingress.kind === 'denied' ? 'ingress' : undefined;
    return Object.freeze({
      id,
      verdict: deniedDirection ? 'DROPPED' : 'ALLOWED',
      deniedDirection,
      ingress,
      egress,
      ingress_allowed_by: ingress.kind === 'allowed' ? [ingress.rule] : [],
      egress_allowed_by: egress.kind === 'allowed' ? [egress.rule] : [],
      ingress_denied_by: ingress.kind === 'denied' ? ingress.isolatedBy : [],
      egress_denied_by: egress.kind === 'denied' ? egress.isolatedBy : [],
    });
  }
}
