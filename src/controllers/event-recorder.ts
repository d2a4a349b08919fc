// core/v1 Events for what kemu does, written as the kubelet and controllers write them: one
// Event per (object, reason, message, source), its count and lastTimestamp bumped when it
// happens again (`kubectl describe` shows "(x3 over 14m)"), deleted an hour after it last
// happened (the apiserver's default event TTL). Writes are queued and done on the next tick,
// outside the store's listener calls that usually trigger them, and cost one store write each.
import type { KObject, Store } from '../store/store.js';

export interface EventSource {
  component: string;
  host?: string;
}

const TTL_MS = 60 * 60 * 1000;

function ts(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

interface Pending {
  obj: KObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  source: EventSource;
}

export class EventRecorder {
  /** Aggregation key → event name, for events recorded by this daemon run. */
  private readonly names = new Map<string, string>();
  private readonly queue: Pending[] = [];
  private scheduled = false;
  private gcTimer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(private readonly store: Store) {}

  start(): void {
    this.gcTimer = setInterval(() => this.expire(), 60_000);
    this.gcTimer.unref();
  }

  stop(): void {
    if (this.gcTimer) clearInterval(this.gcTimer);
  }

  record(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string, source: EventSource): void {
    this.queue.push({ obj, type, reason, message, source });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes what is queued now (also called by tests). */
  flush(): void {
    this.scheduled = false;
    for (const p of this.queue.splice(0)) {
      try {
        this.write(p);
      } catch (err) {
        // An event is never worth failing anything else for.
        console.error(`event ${p.reason} for ${p.obj.metadata.name}: ${(err as Error).message}`);
      }
    }
  }

  private write(p: Pending): void {
    const o = p.obj;
    const ns = o.metadata.namespace ?? 'default';
    if (!this.store.get('namespaces', undefined, ns)) return;
    const key = [o.metadata.uid, p.type, p.reason, p.message, p.source.component, p.source.host ?? ''].join('\0');
    const now = ts();
    const name = this.names.get(key);
    if (name && this.store.get('events', ns, name)) {
      this.store.mutate('events', ns, name, (e: any) => {
        e.count = (e.count ?? 1) + 1;
        e.lastTimestamp = now;
      });
      return;
    }
    // "<object>.<unix nanoseconds in hex>", as client-go's recorder names them.
    const nano = BigInt(Date.now()) * 1_000_000n + BigInt(this.seq++ % 1_000_000);
    const evName = `${o.metadata.name}.${nano.toString(16)}`;
    this.store.create('events', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: evName, namespace: ns },
      involvedObject: {
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
        uid: o.metadata.uid,
        resourceVersion: o.metadata.resourceVersion,
      },
      reason: p.reason,
      message: p.message,
      source: { component: p.source.component, ...(p.source.host ? { host: p.source.host } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type: p.type,
      eventTime: null,
      reportingComponent: p.source.component,
      reportingInstance: p.source.host ?? '',
    });
    this.names.set(key, evName);
  }

  /** Deletes events whose last occurrence is older than the TTL. */
  expire(now = Date.now()): number {
    let n = 0;
    for (const e of [...this.store.peek('events')] as any[]) {
      const last = Date.parse(e.lastTimestamp ?? e.metadata.creationTimestamp ?? '');
      if (Number.isFinite(last) && now - last > TTL_MS) {
        try {
          this.store.delete('events', e.metadata.namespace, e.metadata.name);
          n++;
        } catch {
          /* gone */
        }
      }
    }
    return n;
  }
}
