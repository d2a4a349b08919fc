// ReplicaSet controller: keeps `replicas` pods matching the selector, owned by the ReplicaSet.
import type { KObject, WatchEvent } from '../store/store.js';
import { isPodReady, matchesSelector, ownerKey, randomSuffix, Reconciler, splitKey } from './reconciler.js';

export class ReplicaSetController extends Reconciler {
  protected initialKeys(): string[] {
    return this.store.list('replicasets').map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
  }

  protected keysFor(ev: WatchEvent): string[] {
    if (ev.resource === 'replicasets') return [`${ev.object.metadata.namespace}/${ev.object.metadata.name}`];
    if (ev.resource === 'pods') {
      const k = ownerKey(ev, 'ReplicaSet');
      return k ? [k] : [];
    }
    return [];
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const rs = this.store.get('replicasets', ns, name);
    if (!rs || rs.metadata.deletionTimestamp) return;
    const pods = this.store
      .list('pods', ns)
      .filter((p) => p.metadata.ownerReferences?.some((r) => r.uid === rs.metadata.uid && r.controller));
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    const want: number = rs.spec?.replicas ?? 1;
    if (live.length < want) {
      for (let i = live.length; i < want; i++) this.createPod(rs);
    } else if (live.length > want) {
      // Delete the least valuable first, like the ReplicaSet controller: unscheduled, not ready, newest.
      const ranked = [...live].sort((a, b) => rank(a) - rank(b) || (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
      for (const p of ranked.slice(0, live.length - want)) deletePod(this.store, p);
    }
    const ready = live.filter(isPodReady).length;
    this.store.mutate('replicasets', ns, name, (o) => {
      const s = {
        replicas: Math.min(live.length, Math.max(live.length, 0)),
        fullyLabeledReplicas: live.length,
        readyReplicas: ready,
        availableReplicas: ready,
        observedGeneration: o.metadata.generation,
      };
      if (JSON.stringify(o.status) === JSON.stringify(s)) return false;
      o.status = s;
      return true;
    });
  }

  private createPod(rs: KObject): void {
    const tpl = rs.spec.template ?? {};
    for (let attempt = 0; attempt < 5; attempt++) {
      const pod: KObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${rs.metadata.name}-${randomSuffix()}`,
          generateName: `${rs.metadata.name}-`,
          namespace: rs.metadata.namespace,
          labels: { ...(tpl.metadata?.labels ?? {}) },
          annotations: { ...(tpl.metadata?.annotations ?? {}) },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs.metadata.name, uid: rs.metadata.uid!, controller: true, blockOwnerDeletion: true },
          ],
        },
        spec: structuredClone(tpl.spec ?? {}),
      };
      if (Object.keys(pod.metadata.annotations!).length === 0) delete pod.metadata.annotations;
      try {
        this.store.create('pods', pod);
        return;
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
  }
}

function rank(p: KObject): number {
  if (!p.spec?.nodeName) return 0;
  if (p.status?.phase === 'Pending') return 1;
  if (!isPodReady(p)) return 2;
  return 3;
}

/** Graceful pod deletion as the apiserver does it: mark, and let the kubelet finish. */
export function deletePod(store: import('../store/store.js').Store, p: KObject, graceSeconds?: number): void {
  store.mutate('pods', p.metadata.namespace, p.metadata.name, (o) => {
    if (o.metadata.deletionTimestamp) return false;
    const grace = graceSeconds ?? o.spec?.terminationGracePeriodSeconds ?? 30;
    o.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    o.metadata.deletionGracePeriodSeconds = grace;
    return true;
  });
}
