// Where the store keeps its objects between daemon runs. The in-memory Store is the source of
// truth while the daemon runs; a backend only records each write and hands everything back at
// start-up. An interface so a distributed backend (etcd, say) could take the place of the
// embedded one later.
import type { EventType, KObject } from './store.js';

export interface StoredObject {
  resource: string;
  object: KObject;
}

export interface Snapshot {
  /** The store's resourceVersion counter (etcd's revision). */
  resourceVersion: number;
  objects: StoredObject[];
}

export interface StoreBackend {
  /** What was persisted, or undefined for a new cluster. */
  load(): Snapshot | undefined;
  /** Records one write that already happened in memory; `snapshot` gives the whole state if the backend wants to compact. */
  write(type: EventType, resource: string, object: KObject, resourceVersion: number, snapshot: () => Snapshot): void;
  /** Makes everything written so far durable and releases files. */
  close(): void;
}
