// Level-triggered compile of a data-plane table from the store: any change to the watched
// resources schedules one whole rebuild, coalesced to at most one per `minMs` (kube-proxy's
// minSyncPeriod), then a single swap. `urgent` lets a caller rebuild at once for events that
// must not wait (see PolicySync).
import type { Store, WatchEvent } from '../store/store.js';

export class TableSync {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private unsubscribe: (() => void) | undefined;
  syncs = 0;
  lastSyncMs = 0;

  constructor(
    private readonly store: Store,
    private readonly watched: ReadonlySet<string>,
    private readonly minMs: number,
    private readonly rebuild: () => void,
    private readonly urgent: (ev: WatchEvent) => boolean = () => false,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => {
      if (!this.watched.has(ev.resource)) return;
      if (this.urgent(ev)) this.sync();
      else this.schedule();
    });
    this.sync();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.last + this.minMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sync();
    }, wait);
  }

  sync(): void {
    const t0 = performance.now();
    this.last = Date.now();
    this.rebuild();
    this.syncs++;
    this.lastSyncMs = performance.now() - t0;
  }
}
