// How the apiserver reads what a client meant when it writes a Service, before allocating:
// pkg/registry/core/service/storage (patchAllocatedValues, normalizeClusterIPs,
// initIPFamilyFields) and service/strategy.go (dropTypeDependentFields). Services are a union
// discriminated by `type`; these keep allocated values across updates that omit them and wipe
// the ones a new type no longer uses, so that `kubectl apply` of the same YAML is idempotent.
import { type Cause, type Obj, goStrings, invalid, looksIPv6 } from './field-errors.js';
import { needsHealthCheck, validateClusterIPFields } from './service-validation.js';

export const needsClusterIP = (spec: Obj): boolean => spec.type !== 'ExternalName';
export const needsNodePort = (spec: Obj): boolean => spec.type === 'NodePort' || spec.type === 'LoadBalancer';

/** Ports without an explicit nodePort get one (LoadBalancer may opt out). */
export function shouldAllocateNodePorts(spec: Obj): boolean {
  if (spec.type === 'NodePort') return true;
  if (spec.type === 'LoadBalancer') return spec.allocateLoadBalancerNodePorts !== false;
  return false;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const ports = (spec: Obj): Obj[] => (Array.isArray(spec.ports) ? spec.ports.filter((p: unknown) => p && typeof p === 'object') : []);

/** Values the client left out on update but the server allocated before are kept. */
export function patchAllocatedValues(spec: Obj, old: Obj): void {
  if (needsClusterIP(old) && needsClusterIP(spec)) {
    if (!spec.clusterIP) spec.clusterIP = old.clusterIP;
    if (!(spec.clusterIPs ?? []).length && (old.clusterIPs ?? []).length) spec.clusterIPs = [...old.clusterIPs];
  }
  if (needsNodePort(old) && needsNodePort(spec)) {
    const oldUsed = new Set(ports(old).map((p) => p.nodePort).filter(Boolean));
    const used = new Set(ports(spec).map((p) => p.nodePort).filter((n) => n && oldUsed.has(n)));
    // By port name: the user may have changed other properties of the port.
    const byName = new Map<string, number>(ports(old).map((p) => [p.name ?? '', p.nodePort ?? 0]));
    for (const p of ports(spec)) {
      if (p.nodePort) continue;
      const v = byName.get(p.name ?? '');
      if (v && !used.has(v)) p.nodePort = v;
    }
  }
  if (needsHealthCheck(old) && needsHealthCheck(spec) && !spec.healthCheckNodePort) spec.healthCheckNodePort = old.healthCheckNodePort;
}

/** clusterIP and clusterIPs describe one thing: old clients set only the former. */
export function normalizeClusterIPs(spec: Obj, old: Obj | undefined): void {
  const ips: string[] = spec.clusterIPs ?? [];
  if (!old) {
    if (spec.clusterIP && !ips.length) spec.clusterIPs = [spec.clusterIP];
    return;
  }
  const oldIPs: string[] = old.clusterIPs ?? [];
  if (oldIPs.length && !ips.length && old.clusterIP === spec.clusterIP) spec.clusterIPs = [...oldIPs];
  if ((old.clusterIP ?? '') !== (spec.clusterIP ?? '')) {
    if (old.clusterIP && !spec.clusterIP) {
      if (same(oldIPs, spec.clusterIPs)) delete spec.clusterIPs;
    } else if (same(oldIPs, spec.clusterIPs)) spec.clusterIPs = [spec.clusterIP];
  }
}

/** Fields a new type no longer uses are wiped, if the user did not change them too. */
export function dropTypeDependentFields(obj: Obj, oldObj: Obj): void {
  const spec = obj.spec;
  const old = oldObj.spec ?? {};
  if (needsClusterIP(old) && !needsClusterIP(spec)) {
    if ((old.clusterIP ?? '') === (spec.clusterIP ?? '') && same(old.clusterIPs, spec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (same(old.ipFamilies, spec.ipFamilies)) delete spec.ipFamilies;
    if ((old.ipFamilyPolicy ?? '') === (spec.ipFamilyPolicy ?? '')) delete spec.ipFamilyPolicy;
  }
  if (needsNodePort(old) && !needsNodePort(spec)) {
    const oldSet = new Set(ports(old).map((p) => p.nodePort).filter(Boolean));
    if (ports(spec).every((p) => !p.nodePort || oldSet.has(p.nodePort))) for (const p of ports(spec)) delete p.nodePort;
  }
  if (needsHealthCheck(old) && !needsHealthCheck(spec) && (old.healthCheckNodePort ?? 0) === (spec.healthCheckNodePort ?? 0)) delete spec.healthCheckNodePort;
  if (old.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts != null && spec.allocateLoadBalancerNodePorts === old.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
    if ((old.loadBalancerClass ?? null) === (spec.loadBalancerClass ?? null)) delete spec.loadBalancerClass;
  }
  const accessible = (s: Obj) => s.type === 'LoadBalancer' || s.type === 'NodePort' || (s.type === 'ClusterIP' && (s.externalIPs ?? []).length > 0);
  if (accessible(old) && !accessible(spec) && (old.externalTrafficPolicy ?? '') === (spec.externalTrafficPolicy ?? '')) delete spec.externalTrafficPolicy;
  // Load-balancer status goes with the type (the LB itself is released by its controller).
  if (spec.type !== 'LoadBalancer' && obj.status?.loadBalancer) obj.status = { ...obj.status, loadBalancer: {} };
}

/**
 * initIPFamilyFields for a single-stack IPv4 cluster: ipFamilyPolicy and ipFamilies defaulted,
 * dual-stack and IPv6 requests refused as such a cluster refuses them. Returns the errors.
 */
export function initIPFamilyFields(spec: Obj, old: Obj | undefined): Cause[] {
  if (spec.type === 'ExternalName') return [];
  const headlessNoSelector = spec.clusterIP === 'None' && !Object.keys(spec.selector ?? {}).length;
  if (spec.ipFamilyPolicy == null) {
    if (old?.ipFamilyPolicy != null) spec.ipFamilyPolicy = old.ipFamilyPolicy;
    else spec.ipFamilyPolicy = headlessNoSelector ? 'RequireDualStack' : 'SingleStack';
  }
  const pre = validateClusterIPFields(spec);
  if (pre.length) return pre;
  const out: Cause[] = [];
  const ips: string[] = spec.clusterIPs ?? [];
  if (old && spec.ipFamilyPolicy === 'SingleStack') {
    if (same(old.clusterIPs, spec.clusterIPs) && ips.length > 1) spec.clusterIPs = ips.slice(0, 1);
    if (same(old.ipFamilies, spec.ipFamilies) && (spec.ipFamilies ?? []).length > 1) spec.ipFamilies = spec.ipFamilies.slice(0, 1);
  }
  if (spec.ipFamilyPolicy === 'SingleStack') {
    if ((spec.clusterIPs ?? []).length === 2) {
      out.push(invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
    }
    if ((spec.ipFamilies ?? []).length === 2) {
      out.push(invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
    }
  }
  const fams: string[] = (spec.ipFamilies = [...(spec.ipFamilies ?? [])]);
  (spec.clusterIPs ?? []).forEach((ip: string, i: number) => {
    if (ip === 'None') return;
    if (i < fams.length) return;
    if (looksIPv6(ip)) out.push(invalid(`spec.clusterIPs[${i}]`, goStrings(spec.clusterIPs), 'IPv6 is not configured on this cluster'));
    else fams.push('IPv4');
  });
  if (out.length) return out;
  if (headlessNoSelector) {
    // Headless, selector-less Services may name families the cluster does not serve.
    if (!fams.length) fams.push('IPv4');
    if (fams.length < 2 && spec.ipFamilyPolicy !== 'SingleStack') fams.push(fams[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    return out;
  }
  if (spec.ipFamilyPolicy === 'RequireDualStack') out.push(invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
  fams.forEach((f, i) => {
    if (f !== 'IPv4') out.push(invalid(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
  });
  if (out.length) return out;
  if (!fams.length) fams.push('IPv4');
  return out;
}
