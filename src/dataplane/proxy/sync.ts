// Keeps the data plane's Service table in step with the store: any change to Services,
// EndpointSlices or nodes schedules one recompile of the whole table (coalesced, at most one
// every 50 ms, as kube-proxy's minSyncPeriod bounds its syncs), then a single swap.
import type { Store } from '../../store/store.js';
import type { DataPlane } from '../router.js';
import { compileServices } from './compile.js';

const MIN_SYNC_MS = 50;
const WATCHED = new Set(['services', 'endpointslices', 'nodes']);

export class ProxySync {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private unsubscribe: (() => void) | undefined;
  syncs = 0;
  lastSyncMs = 0;

  constructor(
    private readonly store: Store,
    private readonly dp: DataPlane,
    private readonly nodes: () => { name: string; ip: number }[],
    private readonly serviceCidr: string,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => {
      if (WATCHED.has(ev.resource)) this.schedule();
    });
    this.sync();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
  }

  schedule(): void {
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
    const table = compileServices({
      // peek: no clones; compile only reads.
      services: [...this.store.peek('services')],
      slices: [...this.store.peek('endpointslices')],
      nodes: this.nodes(),
      serviceCidr: this.serviceCidr,
    });
    this.dp.setServices(table);
    this.syncs++;
    this.lastSyncMs = performance.now() - t0;
  }
}
