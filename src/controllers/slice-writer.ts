// Writing a Service's EndpointSlices from a desired list, shared by the EndpointSlice and the
// mirroring controllers: existing slices of the same controller are reused where their port
// set matches (names stay stable while endpoints come and go), others created with
// `<name>-<5 random chars>`, leftovers deleted; nothing is written when nothing changed.
import type { KObject, OwnerReference, Store } from '../store/store.js';
import { randomSuffix } from './reconciler.js';
import { type DesiredSlice, MANAGED_BY_LABEL, portsKey, SERVICE_NAME_LABEL } from './service-endpoints.js';

export interface SliceSet {
  namespace: string;
  /** The Service name (label kubernetes.io/service-name, and the slices' name prefix). */
  service: string;
  /** The managing controller (label endpointslice.kubernetes.io/managed-by). */
  controller: string;
  labels: Record<string, string>;
  ownerReferences: OwnerReference[];
}

/** The slices one controller keeps for one Service, by name. */
export function ownedSlices(store: Store, ns: string, service: string, controller: string): KObject[] {
  const out: KObject[] = [];
  for (const s of store.peek('endpointslices')) {
    const l = s.metadata.labels ?? {};
    if (s.metadata.namespace === ns && l[SERVICE_NAME_LABEL] === service && l[MANAGED_BY_LABEL] === controller) out.push(s);
  }
  return out.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export function removeSlices(store: Store, slices: KObject[]): void {
  for (const s of slices) {
    try {
      store.delete('endpointslices', s.metadata.namespace, s.metadata.name);
    } catch {
      /* already gone */
    }
  }
}

export function writeSlices(store: Store, set: SliceSet, want: DesiredSlice[]): void {
  const labels = { ...set.labels, [SERVICE_NAME_LABEL]: set.service, [MANAGED_BY_LABEL]: set.controller };
  const pool = new Map<string, KObject[]>();
  for (const s of ownedSlices(store, set.namespace, set.service, set.controller)) {
    const k = portsKey((s.ports as DesiredSlice['ports']) ?? null);
    if (!pool.has(k)) pool.set(k, []);
    pool.get(k)!.push(s);
  }
  for (const d of want) {
    const body = { addressType: 'IPv4', endpoints: d.endpoints, ports: d.ports };
    const reuse = pool.get(portsKey(d.ports))?.shift();
    if (reuse) update(store, reuse, body, labels, set.ownerReferences);
    else create(store, set, body, labels);
  }
  for (const rest of pool.values()) removeSlices(store, rest);
}

function create(store: Store, set: SliceSet, body: Record<string, unknown>, labels: Record<string, string>): void {
  for (let attempt = 0; attempt < 5; attempt++) {
    const slice: KObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${set.service}-${randomSuffix()}`,
        generateName: `${set.service}-`,
        namespace: set.namespace,
        labels,
        ownerReferences: set.ownerReferences,
      },
      ...body,
    };
    try {
      store.create('endpointslices', slice);
      return;
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

function update(store: Store, cur: KObject, body: Record<string, unknown>, labels: Record<string, string>, refs: OwnerReference[]): void {
  const same =
    JSON.stringify([cur.addressType, cur.endpoints ?? null, cur.ports ?? null]) === JSON.stringify([body.addressType, body.endpoints, body.ports]) &&
    JSON.stringify(cur.metadata.labels ?? {}) === JSON.stringify(labels) &&
    JSON.stringify(cur.metadata.ownerReferences ?? []) === JSON.stringify(refs);
  if (same) return;
  store.mutate('endpointslices', cur.metadata.namespace, cur.metadata.name, (o) => {
    Object.assign(o, body);
    o.metadata.labels = labels;
    o.metadata.ownerReferences = refs;
  });
}
