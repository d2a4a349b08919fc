// The endpoints controller: for every Service with a selector, a v1 Endpoints object of the same
// name listing the selected pods' addresses (ready ones under `addresses`, others under
// `notReadyAddresses`) per port. Services without a selector are left to their users, who may
// write Endpoints by hand. When a Service goes, its Endpoints go with it.
import type { KObject } from '../store/store.js';
import { splitKey } from './reconciler.js';
import { ServiceKeyedReconciler } from './service-reconciler.js';
import { endpointSubsets, inheritedLabels, serviceSelector } from './service-endpoints.js';

export class EndpointsController extends ServiceKeyedReconciler {
  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const svc = this.store.get('services', ns, name);
    const current = this.store.get('endpoints', ns, name);
    if (!svc) {
      this.track(key, []);
      if (current) this.store.delete('endpoints', ns, name);
      return;
    }
    if (!serviceSelector(svc)) {
      this.track(key, []);
      return;
    }
    const pods = this.selectedPods(svc);
    this.track(key, pods);
    const subsets = endpointSubsets(svc, pods);
    const desired: KObject = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: ns, labels: inheritedLabels(svc) },
    };
    if (subsets.length) desired.subsets = subsets;
    if (!Object.keys(desired.metadata.labels!).length) delete desired.metadata.labels;
    if (!current) {
      this.store.create('endpoints', desired);
      return;
    }
    const same = JSON.stringify(current.subsets ?? null) === JSON.stringify(desired.subsets ?? null) && JSON.stringify(current.metadata.labels ?? {}) === JSON.stringify(desired.metadata.labels ?? {});
    if (same) return;
    this.store.mutate('endpoints', ns, name, (o) => {
      o.metadata.labels = desired.metadata.labels;
      if (!o.metadata.labels) delete o.metadata.labels;
      if (desired.subsets) o.subsets = desired.subsets;
      else delete o.subsets;
    });
  }
}
