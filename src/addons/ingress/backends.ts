// Backend Service -> the endpoints the proxy connects to, straight from EndpointSlices as
// ingress-nginx does (no ClusterIP hop, so its own balancing decides): the Service port chosen
// by number or name, its EndpointSlice port of the same name, ready endpoints only. Rebuilt
// whole on every cluster change; the proxy only reads it. ExternalName Services proxy to the
// external name, as ingress-nginx does.
import type { KObject } from '../../store/store.js';
import type { BackendTarget } from './routes.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface EndpointSet {
  endpoints: Endpoint[];
  /** Round-robin position (ingress-nginx's default load-balance: round_robin). */
  next: number;
  /** Why there are none: shown in the 503 log line. */
  why?: string;
}

export interface ServiceIndex {
  services: Map<string, KObject>;
  /** "ns/service" -> its EndpointSlices. */
  slices: Map<string, KObject[]>;
}

export function indexServices(services: Iterable<KObject>, slices: Iterable<KObject>): ServiceIndex {
  const idx: ServiceIndex = { services: new Map(), slices: new Map() };
  for (const s of services) idx.services.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  for (const sl of slices) {
    const svc = sl.metadata.labels?.['kubernetes.io/service-name'];
    if (!svc) continue;
    const k = `${sl.metadata.namespace}/${svc}`;
    const list = idx.slices.get(k);
    if (list) list.push(sl);
    else idx.slices.set(k, [sl]);
  }
  return idx;
}

export function resolveEndpoints(idx: ServiceIndex, t: BackendTarget): EndpointSet {
  const svc = idx.services.get(`${t.namespace}/${t.service}`);
  if (!svc) return { endpoints: [], next: 0, why: `service ${t.namespace}/${t.service} not found` };
  const sp = (svc.spec?.ports ?? []).find((p: any) => (t.port.number !== undefined ? p.port === t.port.number : p.name === t.port.name));
  if (!sp) return { endpoints: [], next: 0, why: `service ${t.namespace}/${t.service} has no port ${t.port.number ?? t.port.name}` };
  if (svc.spec?.type === 'ExternalName') {
    const port = typeof sp.targetPort === 'number' ? sp.targetPort : sp.port;
    return { endpoints: [{ host: svc.spec.externalName, port }], next: 0 };
  }
  const seen = new Set<string>();
  const endpoints: Endpoint[] = [];
  for (const sl of idx.slices.get(`${t.namespace}/${t.service}`) ?? []) {
    const slice = sl as any;
    if (slice.addressType && slice.addressType !== 'IPv4') continue;
    const port = (slice.ports ?? []).find((p: any) => (p.name ?? '') === (sp.name ?? '') && (p.protocol ?? 'TCP') === 'TCP')?.port;
    if (typeof port !== 'number') continue;
    for (const ep of (slice.endpoints ?? []) as any[]) {
      if (ep.conditions?.ready === false) continue;
      const ip = ep.addresses?.[0];
      if (!ip || seen.has(`${ip}:${port}`)) continue;
      seen.add(`${ip}:${port}`);
      endpoints.push({ host: ip, port });
    }
  }
  // A stable order, so round-robin visits each endpoint once per cycle across rebuilds.
  endpoints.sort((a, b) => (a.host === b.host ? a.port - b.port : a.host < b.host ? -1 : 1));
  return { endpoints, next: 0, why: endpoints.length ? undefined : `service ${t.namespace}/${t.service} has no ready endpoints` };
}

/** Every referenced backend resolved, keeping round-robin positions across rebuilds. */
export function resolveAll(idx: ServiceIndex, targets: Iterable<BackendTarget>, previous?: Map<string, EndpointSet>): Map<string, EndpointSet> {
  const out = new Map<string, EndpointSet>();
  for (const t of targets) {
    const set = resolveEndpoints(idx, t);
    const prev = previous?.get(t.key);
    if (prev && set.endpoints.length) set.next = prev.next % set.endpoints.length;
    out.set(t.key, set);
  }
  return out;
}

/** Next endpoint in round-robin order, or undefined when there is none (503). */
export function pick(set: EndpointSet | undefined): Endpoint | undefined {
  if (!set || set.endpoints.length === 0) return undefined;
  const e = set.endpoints[set.next % set.endpoints.length]!;
  set.next = (set.next + 1) % set.endpoints.length;
  return e;
}
