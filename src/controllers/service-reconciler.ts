// Shared plumbing of the controllers keyed by Service (endpoints, EndpointSlices): a pod event
// dirties the Services that select the pod now and those that selected it at their last
// reconcile (so a relabelled or deleted pod leaves them too), without scanning every Service.
import type { KObject, WatchEvent } from '../store/store.js';
import { Reconciler } from './reconciler.js';
import { selectsPod } from './service-endpoints.js';

const keyOf = (o: KObject) => `${o.metadata.namespace}/${o.metadata.name}`;

export abstract class ServiceKeyedReconciler extends Reconciler {
  /** pod key -> keys of the Services whose last reconcile included it. */
  private readonly podToServices = new Map<string, Set<string>>();
  /** Service key -> pod keys it included, to undo the index above. */
  private readonly serviceToPods = new Map<string, Set<string>>();

  protected initialKeys(): string[] {
    return [...this.store.peek('services')].map(keyOf);
  }

  /** Other resources whose events concern a Service key (e.g. the controller's own output). */
  protected extraKeys(_ev: WatchEvent): string[] {
    return [];
  }

  protected keysFor(ev: WatchEvent): string[] {
    if (ev.resource === 'services') return [keyOf(ev.object)];
    if (ev.resource === 'pods') {
      const pod = ev.object;
      const keys = new Set(this.podToServices.get(keyOf(pod)) ?? []);
      if (ev.type !== 'DELETED') {
        for (const svc of this.store.peek('services')) if (svc.metadata.namespace === pod.metadata.namespace && selectsPod(svc, pod)) keys.add(keyOf(svc));
      }
      return [...keys];
    }
    return this.extraKeys(ev);
  }

  /** Records which pods a Service's reconcile used ([] when the Service is gone). */
  protected track(svcKey: string, pods: KObject[]): void {
    for (const p of this.serviceToPods.get(svcKey) ?? []) {
      const s = this.podToServices.get(p);
      s?.delete(svcKey);
      if (s && !s.size) this.podToServices.delete(p);
    }
    const now = new Set(pods.map(keyOf));
    if (now.size) this.serviceToPods.set(svcKey, now);
    else this.serviceToPods.delete(svcKey);
    for (const p of now) {
      let s = this.podToServices.get(p);
      if (!s) this.podToServices.set(p, (s = new Set()));
      s.add(svcKey);
    }
  }

  /** The pods in a namespace a Service selects (read-only views, not copies). */
  protected selectedPods(svc: KObject): KObject[] {
    const out: KObject[] = [];
    for (const p of this.store.peek('pods')) if (p.metadata.namespace === svc.metadata.namespace && selectsPod(svc, p)) out.push(p);
    return out;
  }
}
