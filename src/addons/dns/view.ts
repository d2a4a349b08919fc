// The cluster as the resolver sees it: namespaces, Services and their ready endpoints, reduced
// from API objects (Namespace, Service, EndpointSlice) to plain indexed data. Pure: the watcher
// feeds it objects, the resolver reads it, unit tests build it from literals.
import type { KObject } from '../../store/store.js';

export interface SvcPort {
  name: string;
  protocol: string;
  port: number;
}

export interface Endpoint {
  ip: string;
  /** `hostname` of the EndpointSlice endpoint, or the dashed IP (CoreDNS endpointHostname). */
  host: string;
  /** Port -1 stands for "no ports" (CoreDNS's sentinel: A records yes, SRV no). */
  ports: SvcPort[];
}

export interface Service {
  name: string;
  namespace: string;
  type: string;
  headless: boolean;
  clusterIPs: string[];
  externalName: string;
  ports: SvcPort[];
  /** Ready endpoints across all of the Service's EndpointSlices, in slice order (duplicates kept). */
  endpoints: Endpoint[];
}

export interface ClusterView {
  zone: string;
  namespaces: ReadonlySet<string>;
  /** key `<ns>/<name>`, lower case. */
  services: ReadonlyMap<string, Service>;
  /** ClusterIP -> Service (first one wins, as CoreDNS returns one PTR for a ClusterIP). */
  byClusterIP: ReadonlyMap<string, Service>;
  /** Endpoint IP -> PTR targets (one per Service selecting it). */
  byEndpointIP: ReadonlyMap<string, string[]>;
  /** The SOA serial: last change of the watched objects (Unix seconds). */
  serial: number;
  /** False until every watched resource has been listed once (CoreDNS answers SERVFAIL then). */
  synced: boolean;
}

/** Objects of the three watched resources, keyed however the caller likes. */
export interface ViewSource {
  namespaces: Iterable<KObject>;
  services: Iterable<KObject>;
  endpointSlices: Iterable<KObject>;
}

/** CoreDNS endpointHostname: the hostname, else the IP with '.'/':' turned into '-'. */
export function endpointHostname(ip: string, hostname: string | undefined): string {
  if (hostname) return hostname;
  if (ip.includes('.')) return ip.replace(/\./g, '-');
  let h = ip.replace(/:/g, '-');
  // A label may not end in '-' ("fd00::" -> "fd00--0"), as CoreDNS does it.
  if (h.endsWith('-')) h += '0';
  return h;
}

function ports(list: any[] | undefined): SvcPort[] {
  return (list ?? []).map((p) => ({ name: String(p?.name ?? ''), protocol: String(p?.protocol ?? 'TCP'), port: Number(p?.port ?? 0) }));
}

/** Build the view. Deleted or terminating namespaces still answer, as in CoreDNS (it lists them). */
export function buildView(src: ViewSource, zone: string, serial: number, synced = true): ClusterView {
  const namespaces = new Set<string>();
  for (const n of src.namespaces) namespaces.add(n.metadata.name.toLowerCase());
  const services = new Map<string, Service>();
  for (const s of src.services) {
    const spec = s.spec ?? {};
    const type: string = spec.type ?? 'ClusterIP';
    const cips: string[] = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter((ip: string) => ip && ip !== 'None');
    const svc: Service = {
      name: s.metadata.name.toLowerCase(),
      namespace: (s.metadata.namespace ?? 'default').toLowerCase(),
      type,
      headless: type !== 'ExternalName' && spec.clusterIP === 'None',
      clusterIPs: type === 'ExternalName' ? [] : cips,
      externalName: type === 'ExternalName' ? String(spec.externalName ?? '') : '',
      ports: ports(spec.ports),
      endpoints: [],
    };
    services.set(`${svc.namespace}/${svc.name}`, svc);
  }
  // Slices in a stable order, so answers do not depend on watch arrival order.
  const slices = [...src.endpointSlices].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  for (const sl of slices) {
    const owner = sl.metadata.labels?.['kubernetes.io/service-name'];
    if (!owner) continue;
    const svc = services.get(`${(sl.metadata.namespace ?? 'default').toLowerCase()}/${owner.toLowerCase()}`);
    if (!svc) continue;
    let p = ports((sl as any).ports);
    if (p.length === 0) p = [{ name: '', protocol: '', port: -1 }];
    for (const e of ((sl as any).endpoints ?? []) as any[]) {
      // CoreDNS endpointsliceReady: ready true, or unset (nil counts as ready).
      if (e?.conditions?.ready === false) continue;
      for (const ip of (e?.addresses ?? []) as string[]) {
        svc.endpoints.push({ ip, host: endpointHostname(ip, e.hostname).toLowerCase(), ports: p });
      }
    }
  }
  const byClusterIP = new Map<string, Service>();
  const byEndpointIP = new Map<string, string[]>();
  for (const svc of services.values()) {
    for (const ip of svc.clusterIPs) if (!byClusterIP.has(ip)) byClusterIP.set(ip, svc);
    const seen = new Set<string>();
    for (const ep of svc.endpoints) {
      const target = `${ep.host}.${svc.name}.${svc.namespace}.svc.${zone}.`;
      const k = `${ep.ip} ${target}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const list = byEndpointIP.get(ep.ip);
      if (list) list.push(target);
      else byEndpointIP.set(ep.ip, [target]);
    }
  }
  return { zone: zone.toLowerCase(), namespaces, services, byClusterIP, byEndpointIP, serial, synced };
}
