// Services + EndpointSlices (plain API objects) -> ServiceTable. Pure: no store, no sockets,
// so unit tests feed it real manifests. Rules follow kube-proxy's iptables mode (see
// ../shared/reference/k8s-network-semantics.md §2): headless and ExternalName Services and
// those labelled service-proxy-name/headless get no frontends (K22, K23); only ready endpoints
// are used, else serving-terminating ones, independently for Cluster and per-node Local (K3).
import { ipToInt, parseCidr } from '../wire/ipv4.js';
import { FE_CLUSTER_IP, FE_EXTERNAL_IP, FE_LOAD_BALANCER, FE_NODE_PORT, ServiceTable, type EndpointRef, type ServicePort } from './table.js';

type Obj = Record<string, any>;

export interface CompileInput {
  services: Obj[];
  slices: Obj[];
  nodes: { name: string; ip: number }[];
  serviceCidr: string;
}

const PROTO: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

function ip(s: unknown): number | undefined {
  if (typeof s !== 'string' || !s) return undefined;
  try {
    return ipToInt(s);
  } catch {
    return undefined;
  }
}

function pick(eps: EndpointRef[], idx: number[]): Int32Array {
  const ready = idx.filter((i) => eps[i]!.ready);
  return Int32Array.from(ready.length ? ready : idx.filter((i) => eps[i]!.servingTerminating));
}

export function compileServices(input: CompileInput): ServiceTable {
  const t = new ServiceTable();
  const cidr = parseCidr(input.serviceCidr);
  t.serviceCidrBase = cidr.base;
  t.serviceCidrMask = cidr.mask;
  input.nodes.forEach((n, i) => {
    t.nodeNames.push(n.name);
    t.nodeIps.push(n.ip | 0);
    t.nodeIndex.set(n.name, i);
  });

  // Slices by "ns/service".
  const slicesBySvc = new Map<string, Obj[]>();
  for (const s of input.slices) {
    const svc = s.metadata?.labels?.['kubernetes.io/service-name'];
    if (!svc || s.addressType !== 'IPv4') continue;
    const k = `${s.metadata.namespace}/${svc}`;
    let l = slicesBySvc.get(k);
    if (!l) slicesBySvc.set(k, (l = []));
    l.push(s);
  }

  for (const svc of input.services) {
    const spec = svc.spec ?? {};
    const labels = svc.metadata?.labels ?? {};
    if (labels['service.kubernetes.io/service-proxy-name'] !== undefined || labels['service.kubernetes.io/headless'] !== undefined) continue;
    if (spec.type === 'ExternalName') continue;
    const vip = ip(spec.clusterIP);
    if (vip === undefined) continue; // headless ("None") or not yet allocated
    t.services++;
    t.clusterIPs.add(vip);
    const ns = svc.metadata.namespace;
    const name = svc.metadata.name;
    const slices = slicesBySvc.get(`${ns}/${name}`) ?? [];
    const affinitySeconds = spec.sessionAffinity === 'ClientIP' ? Number(spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
    const ranges: number[] = [];
    for (const r of spec.loadBalancerSourceRanges ?? []) {
      try {
        const c = parseCidr(String(r).trim());
        ranges.push(c.base, c.mask);
      } catch {
        /* validation refuses these; ignore here */
      }
    }
    const external = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
    for (const p of spec.ports ?? []) {
      const protoName = p.protocol ?? 'TCP';
      const proto = PROTO[protoName];
      if (proto === undefined || typeof p.port !== 'number') continue;
      const portName = p.name ?? '';
      const endpoints: EndpointRef[] = [];
      const seen = new Set<string>();
      for (const s of slices) {
        const sp = (s.ports ?? []).find((x: Obj) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protoName);
        if (!sp || typeof sp.port !== 'number') continue;
        for (const e of s.endpoints ?? []) {
          const c = e.conditions ?? {};
          const ready = c.ready !== false;
          const serving = c.serving ?? ready;
          const terminating = c.terminating === true;
          for (const a of e.addresses ?? []) {
            const epIp = ip(a);
            if (epIp === undefined) continue;
            const dedupe = `${a}:${sp.port}`;
            if (seen.has(dedupe)) continue;
            seen.add(dedupe);
            endpoints.push({
              ip: epIp,
              port: sp.port,
              node: e.nodeName !== undefined ? (t.nodeIndex.get(e.nodeName) ?? -1) : -1,
              ready: ready && !terminating,
              servingTerminating: serving && terminating,
              target: e.targetRef?.name ? `${e.targetRef.namespace ?? ns}/${e.targetRef.name}` : '',
            });
          }
        }
      }
      const all = endpoints.map((_, i) => i);
      const local: (Int32Array | undefined)[] = [];
      for (let n = 0; n < t.nodeNames.length; n++) {
        const mine = all.filter((i) => endpoints[i]!.node === n);
        local.push(mine.length ? pick(endpoints, mine) : undefined);
      }
      const sp: ServicePort = {
        key: `${ns}/${name}:${p.port}/${protoName}`,
        namespace: ns,
        name,
        portName,
        port: p.port,
        proto,
        clusterIP: vip,
        endpoints,
        cluster: pick(endpoints, all),
        local,
        affinitySeconds,
        internalLocal: spec.internalTrafficPolicy === 'Local',
        externalLocal: external || (spec.externalIPs ?? []).length ? spec.externalTrafficPolicy === 'Local' : false,
        sourceRanges: Int32Array.from(ranges),
      };
      t.ports.push(sp);
      t.add({ kind: FE_CLUSTER_IP, ip: vip, sp, node: -1 }, p.port);
      for (const e of spec.externalIPs ?? []) {
        const x = ip(e);
        if (x !== undefined) t.add({ kind: FE_EXTERNAL_IP, ip: x, sp, node: -1 }, p.port);
      }
      if (spec.type === 'LoadBalancer') {
        for (const ing of svc.status?.loadBalancer?.ingress ?? []) {
          const x = ip(ing.ip);
          if (x !== undefined) t.add({ kind: FE_LOAD_BALANCER, ip: x, sp, node: -1 }, p.port);
        }
      }
      if (external && typeof p.nodePort === 'number' && p.nodePort > 0) {
        t.nodeIps.forEach((nip, n) => t.add({ kind: FE_NODE_PORT, ip: nip, sp, node: n }, p.nodePort));
      }
    }
  }
  return t;
}
