// The EndpointSlice mirroring controller: Endpoints written by hand for a Service without a
// selector (the "Services without selectors" pattern) are mirrored into EndpointSlices, which
// is what the proxy reads, as kube-controller-manager's endpointslicemirroring does. Slices are
// owned by the Endpoints and labelled managed-by endpointslicemirroring-controller.k8s.io.
import type { KObject, WatchEvent } from '../store/store.js';
import { Reconciler, splitKey } from './reconciler.js';
import { type DesiredSlice, MANAGED_BY_LABEL, MAX_ENDPOINTS_PER_SLICE, portsKey, SERVICE_NAME_LABEL, serviceSelector, type SliceEndpoint, type SlicePort } from './service-endpoints.js';
import { ownedSlices, removeSlices, writeSlices } from './slice-writer.js';

export const MIRROR_CONTROLLER = 'endpointslicemirroring-controller.k8s.io';
const SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';

type Obj = Record<string, any>;

function mirrorEndpoint(a: Obj, ready: boolean): SliceEndpoint {
  const ep: SliceEndpoint = { addresses: [a.ip], conditions: { ready } };
  if (a.hostname) ep.hostname = a.hostname;
  if (a.targetRef) ep.targetRef = a.targetRef;
  if (a.nodeName) ep.nodeName = a.nodeName;
  return ep;
}

/** The slices mirroring an Endpoints object: one group per subset port set, 100 endpoints each. */
export function mirroredSlices(ep: KObject): DesiredSlice[] {
  const groups = new Map<string, { ports: SlicePort[]; endpoints: SliceEndpoint[] }>();
  for (const ss of ((ep as Obj).subsets ?? []) as Obj[]) {
    const ports: SlicePort[] = (ss.ports ?? []).map((p: Obj) => {
      const sp: SlicePort = { name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: p.port };
      if (p.appProtocol) sp.appProtocol = p.appProtocol;
      return sp;
    });
    const k = portsKey(ports);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { ports, endpoints: [] }));
    // An IPv4 slice carries only IPv4 addresses.
    for (const a of ss.addresses ?? []) if (!String(a.ip).includes(':')) g.endpoints.push(mirrorEndpoint(a, true));
    for (const a of ss.notReadyAddresses ?? []) if (!String(a.ip).includes(':')) g.endpoints.push(mirrorEndpoint(a, false));
  }
  const out: DesiredSlice[] = [];
  for (const g of groups.values()) {
    for (let i = 0; i < g.endpoints.length; i += MAX_ENDPOINTS_PER_SLICE) out.push({ ports: g.ports, endpoints: g.endpoints.slice(i, i + MAX_ENDPOINTS_PER_SLICE) });
  }
  return out;
}

export class EndpointSliceMirroringController extends Reconciler {
  protected initialKeys(): string[] {
    return [...this.store.peek('endpoints')].map((e) => `${e.metadata.namespace}/${e.metadata.name}`);
  }

  protected keysFor(ev: WatchEvent): string[] {
    const o = ev.object;
    if (ev.resource === 'endpoints' || ev.resource === 'services') return [`${o.metadata.namespace}/${o.metadata.name}`];
    if (ev.resource === 'endpointslices' && o.metadata.labels?.[MANAGED_BY_LABEL] === MIRROR_CONTROLLER) {
      return [`${o.metadata.namespace}/${o.metadata.labels[SERVICE_NAME_LABEL]}`];
    }
    return [];
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const ep = this.store.get('endpoints', ns, name);
    const svc = this.store.get('services', ns, name);
    if (!ep || !svc || serviceSelector(svc) || ep.metadata.labels?.[SKIP_MIRROR] === 'true') {
      removeSlices(this.store, ownedSlices(this.store, ns, name, MIRROR_CONTROLLER));
      return;
    }
    const labels = { ...(ep.metadata.labels ?? {}) };
    delete labels[MANAGED_BY_LABEL];
    delete labels[SERVICE_NAME_LABEL];
    writeSlices(
      this.store,
      {
        namespace: ns,
        service: name,
        controller: MIRROR_CONTROLLER,
        labels,
        ownerReferences: [{ apiVersion: 'v1', kind: 'Endpoints', name, uid: ep.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      mirroredSlices(ep),
    );
  }
}
