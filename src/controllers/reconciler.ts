// Level-triggered plumbing shared by the controllers: store events mark keys dirty, and one
// pass per tick recomputes each dirty key from the store's current state.
import type { Store, WatchEvent } from '../store/store.js';

export abstract class Reconciler {
  private readonly dirty = new Set<string>();
  private scheduled = false;
  private unsubscribe: (() => void) | undefined;

  constructor(protected readonly store: Store) {}

  /** Keys ("ns/name" of the controller's own resource) that an event makes dirty. */
  protected abstract keysFor(ev: WatchEvent): string[];
  protected abstract reconcile(key: string): void;
  /** Keys to reconcile at start-up. */
  protected abstract initialKeys(): string[];

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => {
      for (const k of this.keysFor(ev)) this.enqueue(k);
    });
    for (const k of this.initialKeys()) this.enqueue(k);
  }

  stop(): void {
    this.unsubscribe?.();
  }

  enqueue(key: string): void {
    this.dirty.add(key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const keys = [...this.dirty];
    this.dirty.clear();
    for (const k of keys) {
      try {
        this.reconcile(k);
      } catch (err) {
        console.error(`${this.constructor.name}: ${k}: ${(err as Error).message}`);
        // Retry later rather than spin.
        setTimeout(() => this.enqueue(k), 1000).unref();
      }
    }
  }
}

export function splitKey(k: string): [string, string] {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
}

export function ownerKey(ev: WatchEvent, kind: string): string | undefined {
  const ref = ev.object.metadata.ownerReferences?.find((r) => r.controller && r.kind === kind);
  return ref ? `${ev.object.metadata.namespace}/${ref.name}` : undefined;
}

export function matchesSelector(labels: Record<string, string> | undefined, sel: any): boolean {
  if (!sel) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    const vals: string[] = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !vals.includes(l[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && vals.includes(l[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function isPodReady(p: any): boolean {
  return (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

/** Random suffix in the apiserver's generateName alphabet (no vowels, no confusable digits). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
export function randomSuffix(n = 5): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
  return s;
}

/** FNV-1a 32 of a string, rendered in the same alphabet (like pod-template-hash). */
export function safeHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  let s = '';
  let v = h;
  do {
    s += ALPHABET[v % ALPHABET.length];
    v = Math.floor(v / ALPHABET.length);
  } while (v > 0);
  return s;
}
