// Scheduler: binds pods without spec.nodeName to a node that fits nodeSelector and tolerates
// its taints, spreading by pod count (least-allocated first, name as the tie-break).
import type { KObject, WatchEvent } from '../store/store.js';
import { Reconciler, splitKey } from './reconciler.js';

export class Scheduler extends Reconciler {
  protected initialKeys(): string[] {
    return this.store.list('pods').filter((p) => !p.spec?.nodeName).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
  }

  protected keysFor(ev: WatchEvent): string[] {
    if (ev.resource === 'pods' && ev.type !== 'DELETED' && !ev.object.spec?.nodeName) {
      return [`${ev.object.metadata.namespace}/${ev.object.metadata.name}`];
    }
    return [];
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = this.store.get('pods', ns, name);
    if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp) return;
    const node = this.pick(pod);
    if (!node) {
      this.store.mutate('pods', ns, name, (o) => {
        const msg = `0/${[...this.store.peek('nodes')].length} nodes are available: no node matches the pod's node selector and taints.`;
        if (o.status?.conditions?.[0]?.message === msg) return false;
        o.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: msg, lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }], qosClass: 'BestEffort' };
        return true;
      });
      return;
    }
    this.store.mutate('pods', ns, name, (o) => {
      if (o.spec.nodeName) return false;
      o.spec.nodeName = node;
      o.status = { ...(o.status ?? {}), phase: 'Pending', qosClass: 'BestEffort', conditions: [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] };
    });
  }

  private pick(pod: KObject): string | undefined {
    const counts = new Map<string, number>();
    for (const p of this.store.peek('pods')) {
      const n = p.spec?.nodeName;
      if (n) counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    const sel: Record<string, string> = pod.spec?.nodeSelector ?? {};
    const tolerations: any[] = pod.spec?.tolerations ?? [];
    const fits = [...this.store.peek('nodes')].filter((n) => {
      for (const [k, v] of Object.entries(sel)) if (n.metadata.labels?.[k] !== v) return false;
      for (const t of n.spec?.taints ?? []) {
        if (t.effect !== 'NoSchedule' && t.effect !== 'NoExecute') continue;
        const ok = tolerations.some((tol) => (tol.operator === 'Exists' && (!tol.key || tol.key === t.key)) || (tol.key === t.key && (tol.value ?? '') === (t.value ?? '')));
        if (!ok) return false;
      }
      return true;
    });
    fits.sort((a, b) => (counts.get(a.metadata.name) ?? 0) - (counts.get(b.metadata.name) ?? 0) || a.metadata.name.localeCompare(b.metadata.name));
    return fits[0]?.metadata.name;
  }
}
