// Warning Events for packets dropped by NetworkPolicy, sampled: at most one write per
// (isolated pod, peer, direction) every 10 s, so `kubectl describe pod` and `kubectl get
// events` show that traffic is being denied (and by which policies) without a flood of writes.
import { materialize, type RawFlow } from '../dataplane/policy/flow-log.js';
import type { EventRecorder } from '../controllers/event-recorder.js';
import type { Store } from '../store/store.js';

const SAMPLE_MS = 10_000;

export function policyDropEvents(store: Store, recorder: EventRecorder): (raw: RawFlow) => void {
  const last = new Map<string, number>();
  return (raw) => {
    const r = materialize(raw) as any;
    const egress = r.traffic_direction === 'EGRESS';
    const pod = egress ? r.source : r.destination;
    const peer = egress ? r.destination : r.source;
    if (!pod?.namespace || !pod?.pod_name) return;
    const peerText = peer?.pod_name ? `${peer.namespace}/${peer.pod_name}` : (peer?.ip ?? 'unknown');
    const key = `${pod.namespace}/${pod.pod_name}|${peerText}|${r.traffic_direction}`;
    const now = Date.now();
    if ((last.get(key) ?? 0) + SAMPLE_MS > now) return;
    last.set(key, now);
    if (last.size > 10_000) last.clear();
    const obj = store.get('pods', pod.namespace, pod.pod_name);
    if (!obj) return;
    const by = (egress ? r.egress_denied_by : r.ingress_denied_by) ?? [];
    const proto = Object.keys(r.l4 ?? {})[0] ?? 'IP';
    const port = r.destination?.port !== undefined ? `/${r.destination.port}` : '';
    const msg = egress
      ? `NetworkPolicy denied egress ${proto}${port} to ${peerText} (isolated by ${by.map((p: any) => `${p.namespace}/${p.name}`).join(', ')})`
      : `NetworkPolicy denied ingress ${proto}${port} from ${peerText} (isolated by ${by.map((p: any) => `${p.namespace}/${p.name}`).join(', ')})`;
    recorder.record(obj, 'Warning', 'PolicyDenied', msg, { component: 'kemu-dataplane', host: obj.spec?.nodeName });
  };
}
