// The compiled form of Services + EndpointSlices that the packet path reads: for each frontend
// address (ClusterIP, node IP for NodePorts, LoadBalancer IP, external IP) a map from
// (port, protocol) to the Service port it stands for, with that port's usable endpoints already
// chosen (ready ones, or serving-terminating ones when none is ready) for the cluster and per
// node. Built whole by compile.ts and swapped in one assignment, so a packet never sees a
// half-updated table (kube-proxy's syncProxyRules, in miniature).

export const FE_CLUSTER_IP = 0;
export const FE_NODE_PORT = 1;
export const FE_EXTERNAL_IP = 2;
export const FE_LOAD_BALANCER = 3;
export const FE_KIND_NAMES = ['ClusterIP', 'NodePort', 'ExternalIP', 'LoadBalancer'] as const;

/** Protocol number -> 2-bit code used in frontend keys. */
export function protoCode(proto: number): number {
  return proto === 6 ? 0 : proto === 17 ? 1 : proto === 132 ? 2 : 3;
}

/** Map key of (port, protocol) on one frontend IP: a Smi, so lookups allocate nothing. */
export function portKey(port: number, proto: number): number {
  return (port << 2) | protoCode(proto);
}

export interface EndpointRef {
  ip: number;
  port: number;
  /** Node index (into ServiceTable.nodeNames), -1 if unknown. */
  node: number;
  ready: boolean;
  /** serving && terminating: the fallback set. */
  servingTerminating: boolean;
  /** "ns/pod" when the slice names its pod. */
  target: string;
}

export interface ServicePort {
  /** "ns/name:port/PROTO" — stable across table swaps; flows and affinity are keyed by it. */
  key: string;
  namespace: string;
  name: string;
  portName: string;
  port: number;
  proto: number;
  clusterIP: number;
  endpoints: EndpointRef[];
  /** Indices into endpoints used for Cluster policy (ready, else serving-terminating). */
  cluster: Int32Array;
  /** Per node index: indices used for Local policy; missing or empty = no local endpoint. */
  local: (Int32Array | undefined)[];
  /** Seconds of ClientIP affinity; 0 = None. */
  affinitySeconds: number;
  internalLocal: boolean;
  externalLocal: boolean;
  /** loadBalancerSourceRanges as [base, mask] pairs; empty = everyone. */
  sourceRanges: Int32Array;
}

export interface Frontend {
  kind: number;
  ip: number;
  sp: ServicePort;
  /** For NodePort frontends: the node that owns ip. */
  node: number;
}

export class ServiceTable {
  /** frontend IP -> portKey -> Frontend */
  readonly byIp = new Map<number, Map<number, Frontend>>();
  /** ClusterIPs in use (a packet to one on an undefined port is dropped, as iptables mode does). */
  readonly clusterIPs = new Set<number>();
  readonly ports: ServicePort[] = [];
  readonly nodeNames: string[] = [];
  readonly nodeIps: number[] = [];
  readonly nodeIndex = new Map<string, number>();
  serviceCidrBase = 0;
  serviceCidrMask = -1;
  /** Number of Services compiled (for status). */
  services = 0;

  frontend(ip: number, port: number, proto: number): Frontend | undefined {
    const m = this.byIp.get(ip);
    return m === undefined ? undefined : m.get(portKey(port, proto));
  }

  hasIp(ip: number): boolean {
    return this.byIp.has(ip);
  }

  inServiceCidr(ip: number): boolean {
    return (ip & this.serviceCidrMask) === this.serviceCidrBase;
  }

  add(fe: Frontend, port: number): void {
    let m = this.byIp.get(fe.ip);
    if (!m) this.byIp.set(fe.ip, (m = new Map()));
    m.set(portKey(port, fe.sp.proto), fe);
  }
}

export const EMPTY_TABLE = new ServiceTable();
