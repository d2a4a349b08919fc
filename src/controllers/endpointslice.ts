// The EndpointSlice controller: for every Service with a selector, discovery.k8s.io/v1 slices
// named `<service>-<5 random chars>`, labelled with the Service name and this controller, owned
// by the Service (so they go with it), one group per distinct resolved port set, at most 100
// endpoints each, and one empty placeholder when nothing backs the Service.
import type { WatchEvent } from '../store/store.js';
import { splitKey } from './reconciler.js';
import { ServiceKeyedReconciler } from './service-reconciler.js';
import { desiredSlices, inheritedLabels, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, serviceSelector, SLICE_CONTROLLER } from './service-endpoints.js';
import { ownedSlices, removeSlices, writeSlices } from './slice-writer.js';

export class EndpointSliceController extends ServiceKeyedReconciler {
  /** Someone else editing or deleting our slices makes us put them right again. */
  protected override extraKeys(ev: WatchEvent): string[] {
    if (ev.resource !== 'endpointslices') return [];
    const l = ev.object.metadata.labels ?? {};
    if (l[MANAGED_BY_LABEL] !== SLICE_CONTROLLER || !l[SERVICE_NAME_LABEL]) return [];
    return [`${ev.object.metadata.namespace}/${l[SERVICE_NAME_LABEL]}`];
  }

  private zones(): Map<string, string> {
    const m = new Map<string, string>();
    for (const n of this.store.peek('nodes')) {
      const z = n.metadata.labels?.['topology.kubernetes.io/zone'];
      if (z) m.set(n.metadata.name, z);
    }
    return m;
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const svc = this.store.get('services', ns, name);
    if (!svc || !serviceSelector(svc)) {
      this.track(key, []);
      removeSlices(this.store, ownedSlices(this.store, ns, name, SLICE_CONTROLLER));
      return;
    }
    const pods = this.selectedPods(svc);
    this.track(key, pods);
    const zones = this.zones();
    writeSlices(
      this.store,
      {
        namespace: ns,
        service: name,
        controller: SLICE_CONTROLLER,
        labels: inheritedLabels(svc),
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      desiredSlices(svc, pods, (n) => zones.get(n)),
    );
  }
}
