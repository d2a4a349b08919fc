// Keeps the data plane's policy table in step with NetworkPolicies, pods, namespaces and
// nodes. Changes are coalesced (at most one compile per 20 ms), except one case that is done
// at once: while any policy exists, a pod that just got an IP the table does not know is
// compiled in immediately, so its first packets are already judged by its policies (the
// router drops packets of pods the table does not know yet while policies exist).
import type { Store } from '../../store/store.js';
import type { DataPlane } from '../router.js';
import { compilePolicies } from './compile.js';
import { ipToInt } from '../wire/ipv4.js';

const MIN_SYNC_MS = 20;
const WATCHED = new Set(['networkpolicies', 'pods', 'namespaces', 'nodes']);

export class PolicySync {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private unsubscribe: (() => void) | undefined;
  syncs = 0;
  lastSyncMs = 0;

  constructor(
    private readonly store: Store,
    private readonly dp: DataPlane,
    private readonly nodes: () => { name: string; ip: number }[],
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => {
      if (!WATCHED.has(ev.resource)) return;
      const t = this.dp.policyTable;
      if (ev.resource === 'pods' && t.policies.length > 0 && ev.type !== 'DELETED') {
        const ip = ev.object.status?.podIP;
        if (typeof ip === 'string' && ip && !t.podByIp(ipToInt(ip))) {
          this.sync();
          return;
        }
      }
      this.schedule();
    });
    this.sync();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.last + MIN_SYNC_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sync();
    }, wait);
  }

  sync(): void {
    const t0 = performance.now();
    this.last = Date.now();
    this.dp.setPolicies(
      compilePolicies({
        policies: [...this.store.peek('networkpolicies')],
        pods: [...this.store.peek('pods')],
        namespaces: [...this.store.peek('namespaces')],
        nodes: this.nodes(),
      }),
    );
    this.syncs++;
    this.lastSyncMs = performance.now() - t0;
  }
}
