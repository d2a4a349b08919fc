// Where kemu's Events come from: a watcher of the store that notices transitions a user would
// want to read about in `kubectl describe` / `kubectl get events`, and records them as the
// component that caused them would. It reads store events only (no controller or kubelet code
// changes), keeps one small summary per pod and per Service, and writes through the recorder.
//   pods:            Scheduled (default-scheduler), Started / Killing (kubelet, per container),
//                    Ready (kemu: the pod's Ready condition turned True), FailedScheduling,
//                    FailedCreatePodSandBox, BackOff-like restarts as "Restarted";
//   services:        EndpointsSynced (kemu): how many endpoints are ready, when that changes;
//   networkpolicies: PolicyApplied (kemu): how many pods the policy selects, when it changes.
import type { KObject, Store, WatchEvent } from '../store/store.js';
import type { EventRecorder } from './event-recorder.js';
import { matchesSelector } from './reconciler.js';

interface PodSummary {
  node?: string;
  ready: boolean;
  /** Per container: restartCount and whether it runs. */
  containers: Map<string, { restarts: number; running: boolean }>;
  terminating: boolean;
  failedReason?: string;
}

export interface PodEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  component: 'default-scheduler' | 'kubelet' | 'kemu';
}

function summarize(p: KObject): PodSummary {
  const containers = new Map<string, { restarts: number; running: boolean }>();
  for (const c of p.status?.containerStatuses ?? []) containers.set(c.name, { restarts: c.restartCount ?? 0, running: Boolean(c.state?.running) });
  const ready = (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
  const unsched = (p.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False');
  return {
    node: p.spec?.nodeName,
    ready,
    containers,
    terminating: Boolean(p.metadata.deletionTimestamp),
    failedReason: p.status?.reason === 'FailedCreatePodSandBox' ? p.status.message : unsched ? `${unsched.reason}:${unsched.message}` : undefined,
  };
}

/** The events a pod's change from `prev` (undefined: first sight) to `p` deserves. Pure. */
export function podEvents(prev: PodSummary | undefined, p: KObject): { next: PodSummary; events: PodEvent[] } {
  const next = summarize(p);
  const out: PodEvent[] = [];
  const name = `${p.metadata.namespace}/${p.metadata.name}`;
  if (next.node && !prev?.node) out.push({ type: 'Normal', reason: 'Scheduled', message: `Successfully assigned ${name} to ${next.node}`, component: 'default-scheduler' });
  if (next.failedReason && next.failedReason !== prev?.failedReason) {
    const [reason, ...msg] = next.failedReason.includes(':') && !next.node ? next.failedReason.split(':') : ['FailedCreatePodSandBox', next.failedReason];
    out.push({ type: 'Warning', reason: reason === 'Unschedulable' ? 'FailedScheduling' : reason!, message: msg.join(':'), component: next.node ? 'kubelet' : 'default-scheduler' });
  }
  for (const [c, s] of next.containers) {
    const old = prev?.containers.get(c);
    if (s.running && (!old || !old.running || s.restarts !== old.restarts)) {
      if (old && s.restarts > old.restarts) out.push({ type: 'Warning', reason: 'Restarted', message: `Container ${c} exited and was restarted (restart ${s.restarts})`, component: 'kubelet' });
      out.push({ type: 'Normal', reason: 'Started', message: `Started container ${c}`, component: 'kubelet' });
    }
  }
  if (next.ready && !prev?.ready) out.push({ type: 'Normal', reason: 'Ready', message: 'All containers are ready; the pod is added to its Services\' endpoints', component: 'kemu' });
  if (next.terminating && !prev?.terminating) {
    for (const c of next.containers.keys()) out.push({ type: 'Normal', reason: 'Killing', message: `Stopping container ${c}`, component: 'kubelet' });
  }
  return { next, events: out };
}

export class EventSources {
  private readonly pods = new Map<string, PodSummary>();
  private readonly readyEndpoints = new Map<string, number>();
  private readonly policyCounts = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly recorder: EventRecorder,
  ) {}

  start(): void {
    // What exists at start-up is the baseline: a restarted daemon does not re-announce it.
    for (const p of this.store.list('pods')) this.pods.set(p.metadata.uid!, summarize(p));
    for (const e of this.store.list('endpoints')) this.readyEndpoints.set(`${e.metadata.namespace}/${e.metadata.name}`, readyCount(e));
    this.unsubscribe = this.store.subscribe((ev) => this.onEvent(ev));
  }

  stop(): void {
    this.unsubscribe?.();
  }

  private onEvent(ev: WatchEvent): void {
    switch (ev.resource) {
      case 'pods':
        return this.onPod(ev);
      case 'endpoints':
        return this.onEndpoints(ev);
      case 'networkpolicies':
        if (ev.type !== 'DELETED') this.onPolicy(ev.object);
        else this.policyCounts.delete(ev.object.metadata.uid!);
        return;
    }
  }

  private onPod(ev: WatchEvent): void {
    const uid = ev.object.metadata.uid!;
    if (ev.type === 'DELETED') {
      this.pods.delete(uid);
      return;
    }
    const { next, events } = podEvents(this.pods.get(uid), ev.object);
    this.pods.set(uid, next);
    for (const e of events) {
      this.recorder.record(ev.object, e.type, e.reason, e.message, { component: e.component, ...(e.component === 'kubelet' && next.node ? { host: next.node } : {}) });
    }
  }

  private onEndpoints(ev: WatchEvent): void {
    const key = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
    if (ev.type === 'DELETED') {
      this.readyEndpoints.delete(key);
      return;
    }
    const n = readyCount(ev.object);
    const old = this.readyEndpoints.get(key);
    this.readyEndpoints.set(key, n);
    if (old === n) return;
    const svc = this.store.get('services', ev.object.metadata.namespace, ev.object.metadata.name);
    if (!svc) return;
    this.recorder.record(svc, 'Normal', 'EndpointsSynced', `${n} endpoint${n === 1 ? '' : 's'} ready`, { component: 'kemu' });
  }

  private onPolicy(np: KObject): void {
    let n = 0;
    for (const p of this.store.peek('pods')) {
      if (p.metadata.namespace === np.metadata.namespace && matchesSelector(p.metadata.labels, np.spec?.podSelector ?? {})) n++;
    }
    const uid = np.metadata.uid!;
    if (this.policyCounts.get(uid) === n) return;
    this.policyCounts.set(uid, n);
    const types = (np.spec?.policyTypes ?? ['Ingress']).join(' and ');
    this.recorder.record(np, 'Normal', 'PolicyApplied', `Selects ${n} pod${n === 1 ? '' : 's'} in ${np.metadata.namespace}; ${types} traffic to them is now filtered`, { component: 'kemu' });
  }
}

function readyCount(ep: KObject): number {
  let n = 0;
  for (const s of (ep as any).subsets ?? []) n += (s.addresses ?? []).length;
  return n;
}
