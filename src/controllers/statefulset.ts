// StatefulSet controller: ordinal pods <name>-0..n-1 with stable hostname/subdomain; with
// OrderedReady, pod i is created only when 0..i-1 are Running and Ready, and scale-down
// removes the highest ordinal first, one at a time.
import type { KObject, WatchEvent } from '../store/store.js';
import { isPodReady, ownerKey, Reconciler, safeHash, splitKey } from './reconciler.js';
import { deletePod } from './replicaset.js';

export class StatefulSetController extends Reconciler {
  protected initialKeys(): string[] {
    return this.store.list('statefulsets').map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
  }

  protected keysFor(ev: WatchEvent): string[] {
    if (ev.resource === 'statefulsets') return [`${ev.object.metadata.namespace}/${ev.object.metadata.name}`];
    if (ev.resource === 'pods') {
      const k = ownerKey(ev, 'StatefulSet');
      return k ? [k] : [];
    }
    return [];
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const sts = this.store.get('statefulsets', ns, name);
    if (!sts || sts.metadata.deletionTimestamp) return;
    const replicas: number = sts.spec.replicas ?? 1;
    const ordered = (sts.spec.podManagementPolicy ?? 'OrderedReady') === 'OrderedReady';
    const tpl = sts.spec.template ?? {};
    const revision = `${name}-${safeHash(JSON.stringify(tpl))}`;
    const pods = new Map<number, KObject>();
    for (const p of this.store.list('pods', ns)) {
      if (!p.metadata.ownerReferences?.some((r) => r.uid === sts.metadata.uid && r.controller)) continue;
      const m = new RegExp(`^${name.replace(/[.]/g, '\\.')}-(\\d+)$`).exec(p.metadata.name);
      if (m) pods.set(Number(m[1]), p);
    }
    // Scale up / replace missing.
    for (let i = 0; i < replicas; i++) {
      const p = pods.get(i);
      if (p) {
        if (ordered && (p.metadata.deletionTimestamp || !isPodReady(p))) break;
        continue;
      }
      this.store.create('pods', this.podFor(sts, i, revision));
      if (ordered) break;
    }
    // Scale down: highest ordinal first.
    const extra = [...pods.keys()].filter((i) => i >= replicas).sort((a, b) => b - a);
    if (extra.length) {
      const allOthersReady = [...pods.entries()].filter(([i]) => i < replicas).every(([, p]) => isPodReady(p));
      if (!ordered) for (const i of extra) deletePod(this.store, pods.get(i)!);
      else if (allOthersReady && !extra.some((i) => pods.get(i)!.metadata.deletionTimestamp)) deletePod(this.store, pods.get(extra[0]!)!);
    }
    const live = [...pods.values()].filter((p) => !p.metadata.deletionTimestamp);
    const ready = live.filter(isPodReady).length;
    this.store.mutate('statefulsets', ns, name, (o) => {
      const s: any = {
        observedGeneration: o.metadata.generation,
        replicas: live.length,
        readyReplicas: ready,
        currentReplicas: live.length,
        updatedReplicas: live.length,
        availableReplicas: ready,
        currentRevision: revision,
        updateRevision: revision,
        collisionCount: 0,
      };
      if (JSON.stringify(o.status) === JSON.stringify(s)) return false;
      o.status = s;
      return true;
    });
  }

  private podFor(sts: KObject, i: number, revision: string): KObject {
    const tpl = sts.spec.template ?? {};
    const name = `${sts.metadata.name}-${i}`;
    const spec = structuredClone(tpl.spec ?? {});
    spec.hostname = name;
    if (sts.spec.serviceName) spec.subdomain = sts.spec.serviceName;
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: sts.metadata.namespace,
        labels: {
          ...(tpl.metadata?.labels ?? {}),
          'apps.kubernetes.io/pod-index': String(i),
          'controller-revision-hash': revision,
          'statefulset.kubernetes.io/pod-name': name,
        },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: sts.metadata.name, uid: sts.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec,
    };
  }
}
