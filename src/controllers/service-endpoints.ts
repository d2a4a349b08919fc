// Which pods back a Service, on which ports, in which state: the pure rules the endpoints and
// EndpointSlice controllers share, after pkg/controller/endpoint, pkg/controller/endpointslice
// (reconciler.go, utils.go) and pkg/api/v1/pod (FindPort). Plain data in, plain data out.
import type { KObject } from '../store/store.js';
import { isPodReady, matchesSelector } from './reconciler.js';

type Obj = Record<string, any>;

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const SLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
/** --max-endpoints-per-slice default. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** A Service's selector as the controllers read it: none (or empty) means "not ours to manage". */
export function serviceSelector(svc: KObject): Record<string, string> | undefined {
  const sel = svc.spec?.selector;
  return sel && typeof sel === 'object' && Object.keys(sel).length ? sel : undefined;
}

export function selectsPod(svc: KObject, pod: KObject): boolean {
  const sel = serviceSelector(svc);
  return Boolean(sel) && pod.metadata.namespace === svc.metadata.namespace && matchesSelector(pod.metadata.labels, { matchLabels: sel });
}

export function podIP(pod: KObject): string | undefined {
  return pod.status?.podIP || pod.status?.podIPs?.[0]?.ip || undefined;
}

const isTerminal = (pod: KObject) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/** ShouldPodBeInEndpoints: not finished, has an IP, and terminating only when asked for. */
export function shouldPodBeInEndpoints(pod: KObject, includeTerminating: boolean): boolean {
  if (isTerminal(pod)) return false;
  if (!podIP(pod)) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  return true;
}

/**
 * FindPort: a numeric targetPort is used as is; a named one is the containerPort of that name
 * and protocol in this pod (so pods of one Service may listen on different numbers).
 */
export function findPort(pod: KObject, sp: Obj): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (typeof tp !== 'string') return undefined;
  const protocol = sp.protocol ?? 'TCP';
  const containers: Obj[] = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []).filter((c: Obj) => c.restartPolicy === 'Always')];
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === tp && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  return undefined;
}

/** ShouldSetHostname: a pod with spec.hostname whose subdomain is this Service's name. */
export function shouldSetHostname(pod: KObject, svc: KObject): boolean {
  return Boolean(pod.spec?.hostname) && pod.spec?.subdomain === svc.metadata.name && pod.metadata.namespace === svc.metadata.namespace;
}

function ipNum(ip: string): number {
  return ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);
}

/** The labels both controllers give their objects: the Service's, plus the headless marker. */
export function inheritedLabels(svc: KObject): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) {
    if (k === SERVICE_NAME_LABEL || k === MANAGED_BY_LABEL) continue;
    labels[k] = v;
  }
  if (svc.spec?.clusterIP === 'None') labels[HEADLESS_LABEL] = '';
  else delete labels[HEADLESS_LABEL];
  return labels;
}

// ---------------------------------------------------------------------------------------------
// v1 Endpoints

export interface EndpointPortV1 {
  name?: string;
  port: number;
  protocol: string;
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: Obj[];
  notReadyAddresses?: Obj[];
  ports?: EndpointPortV1[];
}

function endpointAddress(pod: KObject, svc: KObject): Obj {
  const a: Obj = { ip: podIP(pod) };
  if (shouldSetHostname(pod, svc)) a.hostname = pod.spec.hostname;
  if (pod.spec?.nodeName) a.nodeName = pod.spec.nodeName;
  a.targetRef = { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid };
  return a;
}

function v1Port(sp: Obj, port: number): EndpointPortV1 {
  const p: EndpointPortV1 = { port, protocol: sp.protocol ?? 'TCP' };
  if (sp.name) p.name = sp.name;
  if (sp.appProtocol) p.appProtocol = sp.appProtocol;
  return p;
}

/**
 * The subsets the endpoints controller writes: each (pod, port) pair goes to `addresses` or
 * `notReadyAddresses`, then RepackSubsets groups addresses that offer the same port set.
 */
export function endpointSubsets(svc: KObject, pods: Iterable<KObject>): EndpointSubset[] {
  const tolerate = Boolean(svc.spec?.publishNotReadyAddresses);
  const svcPorts: Obj[] = svc.spec?.ports ?? [];
  // address key -> {address, ready}, and port key -> address keys
  const addrs = new Map<string, { a: Obj; ready: boolean }>();
  const byPort = new Map<string, { port: EndpointPortV1 | undefined; keys: Set<string> }>();
  const add = (pod: KObject, port: EndpointPortV1 | undefined) => {
    const a = endpointAddress(pod, svc);
    const k = `${a.ip}/${pod.metadata.uid}`;
    addrs.set(k, { a, ready: tolerate || isPodReady(pod) });
    const pk = port ? JSON.stringify([port.name ?? '', port.port, port.protocol, port.appProtocol ?? '']) : '-';
    let e = byPort.get(pk);
    if (!e) byPort.set(pk, (e = { port, keys: new Set() }));
    e.keys.add(k);
  };
  for (const pod of pods) {
    if (!selectsPod(svc, pod) || !shouldPodBeInEndpoints(pod, tolerate)) continue;
    if (!svcPorts.length) {
      if (svc.spec?.clusterIP === 'None') add(pod, undefined);
      continue;
    }
    for (const sp of svcPorts) {
      const n = findPort(pod, sp);
      if (n !== undefined) add(pod, v1Port(sp, n));
    }
  }
  // Group ports by the exact set of addresses offering them.
  const groups = new Map<string, { keys: string[]; ports: EndpointPortV1[] }>();
  for (const { port, keys } of byPort.values()) {
    const sorted = [...keys].sort();
    const gk = sorted.join(',');
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { keys: sorted, ports: [] }));
    if (port) g.ports.push(port);
  }
  const out: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const list = g.keys.map((k) => addrs.get(k)!).sort((x, y) => ipNum(x.a.ip) - ipNum(y.a.ip) || String(x.a.targetRef?.uid).localeCompare(String(y.a.targetRef?.uid)));
    const ss: EndpointSubset = {};
    const ready = list.filter((x) => x.ready).map((x) => x.a);
    const notReady = list.filter((x) => !x.ready).map((x) => x.a);
    if (ready.length) ss.addresses = ready;
    if (notReady.length) ss.notReadyAddresses = notReady;
    if (g.ports.length) ss.ports = g.ports.sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.port - b.port || a.protocol.localeCompare(b.protocol));
    out.push(ss);
  }
  const first = (s: EndpointSubset) => (s.addresses ?? s.notReadyAddresses ?? [])[0]?.ip ?? '';
  return out.sort((a, b) => ipNum(first(a)) - ipNum(first(b)) || JSON.stringify(a.ports).localeCompare(JSON.stringify(b.ports)));
}

// ---------------------------------------------------------------------------------------------
// discovery/v1 EndpointSlices

export interface SlicePort {
  name: string;
  protocol: string;
  port: number;
  appProtocol?: string;
}

export interface SliceEndpoint {
  addresses: string[];
  /** Mirrored Endpoints only know readiness; the others are left unset, as upstream does. */
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  targetRef?: Obj;
  nodeName?: string;
  zone?: string;
}

/** One desired slice: the ports its endpoints share, and at most MAX_ENDPOINTS_PER_SLICE endpoints. */
export interface DesiredSlice {
  /** null for the placeholder a Service without endpoints keeps. */
  ports: SlicePort[] | null;
  endpoints: SliceEndpoint[] | null;
}

/** podToEndpoint: ready (or published anyway), serving (Ready even while terminating), terminating. */
export function sliceEndpoint(pod: KObject, svc: KObject, zoneOf: (node: string) => string | undefined): SliceEndpoint {
  const publish = Boolean(svc.spec?.publishNotReadyAddresses);
  const serving = isPodReady(pod);
  const terminating = Boolean(pod.metadata.deletionTimestamp);
  let ready = publish || serving;
  if (terminating && !publish) ready = false;
  const ep: SliceEndpoint = {
    addresses: [podIP(pod)!],
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
  if (shouldSetHostname(pod, svc)) ep.hostname = pod.spec.hostname;
  if (pod.spec?.nodeName) {
    ep.nodeName = pod.spec.nodeName;
    const zone = zoneOf(pod.spec.nodeName);
    if (zone) ep.zone = zone;
  }
  return ep;
}

/** getEndpointPorts: the Service's ports this pod can serve, with their per-pod numbers. */
export function slicePorts(pod: KObject, svc: KObject): SlicePort[] {
  const out: SlicePort[] = [];
  for (const sp of svc.spec?.ports ?? []) {
    const n = findPort(pod, sp);
    if (n === undefined) continue;
    const p: SlicePort = { name: sp.name ?? '', protocol: sp.protocol ?? 'TCP', port: n };
    if (sp.appProtocol) p.appProtocol = sp.appProtocol;
    out.push(p);
  }
  return out;
}

/** Identity of a port set (NewPortMapKey sorts by name). */
export function portsKey(ports: SlicePort[] | null): string {
  if (!ports) return 'null';
  return JSON.stringify([...ports].sort((a, b) => a.name.localeCompare(b.name)).map((p) => [p.name, p.protocol, p.port, p.appProtocol ?? '']));
}

/**
 * The slices a Service should have: one group per distinct port set (pods whose named
 * targetPort resolves to different numbers land in different groups), split at 100
 * endpoints; a single empty placeholder when there are no endpoints at all.
 */
export function desiredSlices(svc: KObject, pods: Iterable<KObject>, zoneOf: (node: string) => string | undefined = () => undefined): DesiredSlice[] {
  const groups = new Map<string, { ports: SlicePort[]; endpoints: SliceEndpoint[] }>();
  for (const pod of pods) {
    if (!selectsPod(svc, pod) || !shouldPodBeInEndpoints(pod, true)) continue;
    const ports = slicePorts(pod, svc);
    const k = portsKey(ports);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports, endpoints: [] }));
    g.endpoints.push(sliceEndpoint(pod, svc, zoneOf));
  }
  const out: DesiredSlice[] = [];
  for (const k of [...groups.keys()].sort()) {
    const g = groups.get(k)!;
    g.endpoints.sort((a, b) => ipNum(a.addresses[0]!) - ipNum(b.addresses[0]!) || String(a.targetRef?.name).localeCompare(String(b.targetRef?.name)));
    for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) {
      out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
    }
  }
  if (!out.length) out.push({ ports: null, endpoints: null });
  return out;
}
