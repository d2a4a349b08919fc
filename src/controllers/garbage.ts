// Garbage collector and namespace lifecycle: dependents go when their owner goes (background
// cascading deletion), and a deleted namespace takes its objects with it.
import type { KObject, Store, WatchEvent } from '../store/store.js';
import { deletePod } from './replicaset.js';

const NAMESPACED = ['deployments', 'replicasets', 'statefulsets', 'pods', 'services', 'endpoints', 'endpointslices', 'networkpolicies', 'ingresses', 'configmaps', 'secrets', 'events'];

export class GarbageCollector {
  private unsubscribe: (() => void) | undefined;
  constructor(private readonly store: Store) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => this.onEvent(ev));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  private onEvent(ev: WatchEvent): void {
    if (ev.type !== 'DELETED') {
      if (ev.resource === 'namespaces' && ev.object.metadata.deletionTimestamp) setImmediate(() => this.drainNamespace(ev.object));
      return;
    }
    const uid = ev.object.metadata.uid;
    const ns = ev.object.metadata.namespace;
    setImmediate(() => {
      for (const r of NAMESPACED) {
        for (const o of this.store.list(r, ns)) {
          if (o.metadata.ownerReferences?.some((ref) => ref.uid === uid)) deleteObject(this.store, r, o);
        }
      }
    });
  }

  private drainNamespace(nsObj: KObject): void {
    const ns = nsObj.metadata.name;
    let left = 0;
    for (const r of NAMESPACED) {
      for (const o of this.store.list(r, ns)) {
        left++;
        deleteObject(this.store, r, o);
      }
    }
    if (left === 0) {
      try {
        this.store.delete('namespaces', undefined, ns);
      } catch {
        /* gone */
      }
    } else {
      setTimeout(() => {
        const cur = this.store.get('namespaces', undefined, ns);
        if (cur?.metadata.deletionTimestamp) this.drainNamespace(cur);
      }, 200).unref();
    }
  }
}

/** Delete an object the way the apiserver does: pods gracefully, everything else at once. */
export function deleteObject(store: Store, resource: string, o: KObject, graceSeconds?: number): void {
  try {
    if (resource === 'pods') deletePod(store, o, graceSeconds);
    else store.delete(resource, o.metadata.namespace, o.metadata.name);
  } catch {
    /* already gone */
  }
}
