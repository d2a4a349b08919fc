// The object store: typed by resource ("pods", "deployments"…), one resourceVersion counter
// for the whole cluster (as etcd's revision), and watch fan-out with a bounded history so a
// watch can start from a recent resourceVersion.
import { randomUUID } from 'node:crypto';
import { alreadyExists, ApiError, conflict, notFound } from './errors.js';
import type { Snapshot, StoreBackend } from './backend.js';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  generateName?: string;
  [k: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: any;
  status?: any;
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: EventType;
  resource: string;
  object: KObject;
  rv: number;
}

export type Listener = (ev: WatchEvent) => void;

/** Where resource groups are for error messages ('' = core). */
export type GroupOf = (resource: string) => string;

const HISTORY = 4096;

export class Store {
  private rv = 0;
  private readonly byResource = new Map<string, Map<string, KObject>>();
  private readonly listeners = new Set<Listener>();
  private readonly history: WatchEvent[] = [];

  /**
   * With a backend, the store starts from what it persisted (objects and resourceVersion; the
   * watch history starts empty, so older resourceVersions get 410 Expired and clients relist)
   * and records every write in it.
   */
  constructor(
    private readonly groupOf: GroupOf = () => '',
    private readonly backend?: StoreBackend,
  ) {
    const snap = backend?.load();
    if (snap) {
      this.rv = snap.resourceVersion;
      for (const { resource, object } of snap.objects) this.table(resource).set(Store.key(object.metadata.namespace, object.metadata.name), object);
    }
  }

  /** True when the store started from persisted state (a restart, not a new cluster). */
  get restored(): boolean {
    return this.rv > 0 && this.byResource.size > 0;
  }

  /** Every object, for a backend's snapshot. */
  snapshot(): Snapshot {
    const objects: Snapshot['objects'] = [];
    for (const [resource, t] of this.byResource) for (const object of t.values()) objects.push({ resource, object });
    return { resourceVersion: this.rv, objects };
  }

  /** Flushes and closes the backend (daemon shutdown). */
  close(): void {
    this.backend?.close();
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private table(resource: string): Map<string, KObject> {
    let t = this.byResource.get(resource);
    if (!t) {
      t = new Map();
      this.byResource.set(resource, t);
    }
    return t;
  }

  private static key(ns: string | undefined, name: string): string {
    return ns ? `${ns}/${name}` : name;
  }

  get(resource: string, ns: string | undefined, name: string): KObject | undefined {
    const o = this.table(resource).get(Store.key(ns, name));
    return o ? structuredClone(o) : undefined;
  }

  mustGet(resource: string, ns: string | undefined, name: string): KObject {
    const o = this.get(resource, ns, name);
    if (!o) throw notFound(this.groupOf(resource), resource, name);
    return o;
  }

  /** Objects of a resource, optionally in one namespace, sorted by namespace/name. */
  list(resource: string, ns?: string): KObject[] {
    const out: KObject[] = [];
    for (const o of this.table(resource).values()) {
      if (ns && o.metadata.namespace !== ns) continue;
      out.push(structuredClone(o));
    }
    out.sort((a, b) =>
      Store.key(a.metadata.namespace, a.metadata.name).localeCompare(Store.key(b.metadata.namespace, b.metadata.name)),
    );
    return out;
  }

  /** Read-only iteration without cloning, for controllers that only look. */
  peek(resource: string): IterableIterator<KObject> {
    return this.table(resource).values();
  }

  create(resource: string, obj: KObject): KObject {
    const t = this.table(resource);
    const k = Store.key(obj.metadata.namespace, obj.metadata.name);
    if (t.has(k)) throw alreadyExists(this.groupOf(resource), resource, obj.metadata.name);
    const o = structuredClone(obj);
    o.metadata.uid = o.metadata.uid ?? randomUUID();
    o.metadata.creationTimestamp = o.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (o.spec !== undefined && o.metadata.generation === undefined) o.metadata.generation = 1;
    o.metadata.resourceVersion = String(++this.rv);
    t.set(k, o);
    this.emit('ADDED', resource, o);
    return structuredClone(o);
  }

  /**
   * Replace an object. A resourceVersion in the new object must match (optimistic
   * concurrency, 409 otherwise); an empty one means "unconditional", as in the apiserver.
   */
  update(resource: string, obj: KObject): KObject {
    const t = this.table(resource);
    const k = Store.key(obj.metadata.namespace, obj.metadata.name);
    const cur = t.get(k);
    if (!cur) throw notFound(this.groupOf(resource), resource, obj.metadata.name);
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw conflict(this.groupOf(resource), resource, obj.metadata.name);
    }
    const o = structuredClone(obj);
    o.metadata.uid = cur.metadata.uid;
    o.metadata.creationTimestamp = cur.metadata.creationTimestamp;
    // Kinds without a spec (Endpoints, EndpointSlice) have no generation, as on create.
    if (o.spec !== undefined || cur.metadata.generation !== undefined) {
      const gen = cur.metadata.generation ?? 1;
      o.metadata.generation = JSON.stringify(o.spec) !== JSON.stringify(cur.spec) ? gen + 1 : gen;
    }
    if (cur.metadata.deletionTimestamp && !o.metadata.deletionTimestamp) {
      o.metadata.deletionTimestamp = cur.metadata.deletionTimestamp;
    }
    o.metadata.resourceVersion = cur.metadata.resourceVersion;
    if (JSON.stringify(o) === JSON.stringify(cur)) {
      // Nothing changed: the apiserver does not bump resourceVersion for no-op updates.
      return structuredClone(cur);
    }
    o.metadata.resourceVersion = String(++this.rv);
    t.set(k, o);
    this.emit('MODIFIED', resource, o);
    return structuredClone(o);
  }

  /** Read-modify-write with retries on conflict; fn returns false to skip the write. */
  mutate(resource: string, ns: string | undefined, name: string, fn: (o: KObject) => boolean | void): KObject | undefined {
    for (let i = 0; i < 5; i++) {
      const o = this.get(resource, ns, name);
      if (!o) return undefined;
      if (fn(o) === false) return o;
      try {
        return this.update(resource, o);
      } catch (e) {
        if (e instanceof ApiError && e.code === 409) continue;
        throw e;
      }
    }
    throw conflict(this.groupOf(resource), resource, name);
  }

  delete(resource: string, ns: string | undefined, name: string): KObject {
    const t = this.table(resource);
    const k = Store.key(ns, name);
    const cur = t.get(k);
    if (!cur) throw notFound(this.groupOf(resource), resource, name);
    t.delete(k);
    const o = structuredClone(cur);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit('DELETED', resource, o);
    return o;
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after resourceVersion `from`, or undefined when history no longer reaches back (410 Gone). */
  since(from: number): WatchEvent[] | undefined {
    if (from >= this.rv) return [];
    const first = this.history[0];
    if (!first || first.rv > from + 1) return undefined;
    return this.history.filter((e) => e.rv > from);
  }

  private emit(type: EventType, resource: string, object: KObject): void {
    const ev: WatchEvent = { type, resource, object, rv: this.rv };
    // Persisted before anyone hears of it: a client never sees a write a crash could lose.
    this.backend?.write(type, resource, object, this.rv, () => this.snapshot());
    this.history.push(ev);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        // A broken listener must not break writes for everyone else.
        console.error(`store listener failed: ${(err as Error).stack ?? err}`);
      }
    }
  }
}
