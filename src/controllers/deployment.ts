// Deployment controller: one ReplicaSet per pod template (named by pod-template-hash); the
// current one is scaled to spec.replicas and older ones to zero (kemu rolls over at once).
import type { KObject, WatchEvent } from '../store/store.js';
import { ownerKey, Reconciler, safeHash, splitKey } from './reconciler.js';

export class DeploymentController extends Reconciler {
  protected initialKeys(): string[] {
    return this.store.list('deployments').map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
  }

  protected keysFor(ev: WatchEvent): string[] {
    if (ev.resource === 'deployments') return [`${ev.object.metadata.namespace}/${ev.object.metadata.name}`];
    if (ev.resource === 'replicasets') {
      const k = ownerKey(ev, 'Deployment');
      return k ? [k] : [];
    }
    return [];
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const d = this.store.get('deployments', ns, name);
    if (!d || d.metadata.deletionTimestamp) return;
    const tpl = d.spec.template ?? {};
    const hash = safeHash(JSON.stringify(tpl));
    const rsName = `${name}-${hash}`;
    const owned = this.store.list('replicasets', ns).filter((r) => r.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid && o.controller));
    const replicas: number = d.spec.replicas ?? 1;
    let current = owned.find((r) => r.metadata.name === rsName);
    if (!current) {
      const rs: KObject = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: rsName,
          namespace: ns,
          labels: { ...(tpl.metadata?.labels ?? {}), 'pod-template-hash': hash },
          annotations: { 'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/revision': String(owned.length + 1) },
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true }],
        },
        spec: {
          replicas,
          selector: { matchLabels: { ...(d.spec.selector?.matchLabels ?? {}), 'pod-template-hash': hash }, ...(d.spec.selector?.matchExpressions ? { matchExpressions: d.spec.selector.matchExpressions } : {}) },
          template: { metadata: { ...(tpl.metadata ?? {}), labels: { ...(tpl.metadata?.labels ?? {}), 'pod-template-hash': hash } }, spec: tpl.spec },
        },
      };
      current = this.store.create('replicasets', rs);
    } else if (current.spec.replicas !== replicas) {
      this.store.mutate('replicasets', ns, rsName, (o) => {
        o.spec.replicas = replicas;
        o.metadata.annotations = { ...(o.metadata.annotations ?? {}), 'deployment.kubernetes.io/desired-replicas': String(replicas) };
      });
    }
    for (const old of owned) {
      if (old.metadata.name !== rsName && old.spec.replicas !== 0) {
        this.store.mutate('replicasets', ns, old.metadata.name, (o) => {
          o.spec.replicas = 0;
        });
      }
    }
    const all = this.store.list('replicasets', ns).filter((r) => r.metadata.ownerReferences?.some((o) => o.uid === d.metadata.uid && o.controller));
    const sum = (f: (r: KObject) => number) => all.reduce((a, r) => a + f(r), 0);
    const cur = all.find((r) => r.metadata.name === rsName);
    const ready = sum((r) => r.status?.readyReplicas ?? 0);
    const total = sum((r) => r.status?.replicas ?? 0);
    const updated = cur?.status?.replicas ?? 0;
    this.store.mutate('deployments', ns, name, (o) => {
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const available = ready >= replicas;
      const prev = new Map<string, any>((o.status?.conditions ?? []).map((c: any) => [c.type, c]));
      const cond = (type: string, ok: boolean, reason: string, message: string) => {
        const status = ok ? 'True' : 'False';
        const p = prev.get(type);
        return { type, status, reason, message, lastUpdateTime: p && p.status === status && p.reason === reason ? p.lastUpdateTime : now, lastTransitionTime: p && p.status === status ? p.lastTransitionTime : now };
      };
      const s: any = {
        observedGeneration: o.metadata.generation,
        replicas: total,
        updatedReplicas: updated,
        readyReplicas: ready,
        availableReplicas: ready,
        conditions: [
          cond('Available', available, available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.'),
          cond('Progressing', true, updated >= replicas ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', `ReplicaSet "${rsName}" ${updated >= replicas ? 'has successfully progressed' : 'is progressing'}.`),
        ],
      };
      if (total - ready > 0) s.unavailableReplicas = total - ready;
      if (ready === 0) delete s.readyReplicas;
      if (ready === 0) delete s.availableReplicas;
      if (JSON.stringify(o.status) === JSON.stringify(s)) return false;
      o.status = s;
      return true;
    });
  }
}
