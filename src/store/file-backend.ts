// The embedded store backend: a JSON snapshot plus an append-only log of writes, in one
// directory (0700, files 0600). Why not SQLite: kemu's state is small (hundreds to a few
// thousand objects), written one object at a time, and read back whole only at start-up; a
// log of JSON lines does exactly that with no native dependency, and it can be read with
// `jq` when something looks wrong.
//
// Durability: each write is appended with one write(2) before the API answers, so a daemon
// killed with SIGKILL loses nothing (the data is in the kernel's page cache). The log is
// fdatasync'ed at most every 200 ms, so a power cut may lose the last fraction of a second,
// as etcd's default batching would not, but an emulator can afford. A torn last line (a crash
// in the middle of a write) is ignored at load. When the log grows past a limit it is folded
// into a new snapshot (written to a temporary file, fsync'ed, renamed over the old one) and
// truncated.
import fs from 'node:fs';
import path from 'node:path';
import type { EventType, KObject } from './store.js';
import type { Snapshot, StoreBackend } from './backend.js';

interface LogLine {
  /** A(dded) M(odified) D(eleted). */
  t: 'A' | 'M' | 'D';
  r: string;
  rv: number;
  o: KObject;
}

const COMPACT_LINES = 20_000;
const COMPACT_BYTES = 32 << 20;
const SYNC_MS = 200;

function key(resource: string, o: KObject): string {
  return `${resource}\0${o.metadata.namespace ?? ''}\0${o.metadata.name}`;
}

export class FileBackend implements StoreBackend {
  private fd: number | undefined;
  private lines = 0;
  private bytes = 0;
  private syncTimer: NodeJS.Timeout | undefined;

  constructor(readonly dir: string) {}

  get snapshotFile(): string {
    return path.join(this.dir, 'snapshot.json');
  }

  get logFile(): string {
    return path.join(this.dir, 'log.jsonl');
  }

  load(): Snapshot | undefined {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const objects = new Map<string, { resource: string; object: KObject }>();
    let rv = 0;
    let snapRv = 0;
    let found = false;
    if (fs.existsSync(this.snapshotFile)) {
      const snap = JSON.parse(fs.readFileSync(this.snapshotFile, 'utf8')) as Snapshot;
      rv = snap.resourceVersion;
      snapRv = rv;
      for (const s of snap.objects) objects.set(key(s.resource, s.object), s);
      found = true;
    }
    if (fs.existsSync(this.logFile)) {
      const text = fs.readFileSync(this.logFile, 'utf8');
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i]!;
        if (!l) continue;
        let e: LogLine;
        try {
          e = JSON.parse(l) as LogLine;
        } catch (err) {
          // Only the last line can be torn (a crash mid-write); anything else is corruption.
          if (i >= lines.length - 2) break;
          throw new Error(`${this.logFile}: line ${i + 1}: ${(err as Error).message}`);
        }
        found = true;
        // Already in the snapshot (a crash between writing it and truncating the log).
        if (e.rv <= snapRv) continue;
        if (e.t === 'D') objects.delete(key(e.r, e.o));
        else objects.set(key(e.r, e.o), { resource: e.r, object: e.o });
        rv = Math.max(rv, e.rv);
        this.lines++;
      }
      this.bytes = Buffer.byteLength(text);
    }
    this.open();
    return found ? { resourceVersion: rv, objects: [...objects.values()] } : undefined;
  }

  private open(): void {
    if (this.fd !== undefined) return;
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.fd = fs.openSync(this.logFile, 'a', 0o600);
  }

  write(type: EventType, resource: string, object: KObject, resourceVersion: number, snapshot: () => Snapshot): void {
    this.open();
    const line: LogLine = { t: type === 'ADDED' ? 'A' : type === 'MODIFIED' ? 'M' : 'D', r: resource, rv: resourceVersion, o: object };
    const buf = Buffer.from(JSON.stringify(line) + '\n');
    fs.writeSync(this.fd!, buf);
    this.lines++;
    this.bytes += buf.length;
    if (this.lines >= COMPACT_LINES || this.bytes >= COMPACT_BYTES) this.compact(snapshot());
    else this.scheduleSync();
  }

  private scheduleSync(): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (this.fd !== undefined) fs.fdatasyncSync(this.fd);
    }, SYNC_MS);
    this.syncTimer.unref();
  }

  /** Folds the log into a new snapshot. */
  compact(snap: Snapshot): void {
    const tmp = `${this.snapshotFile}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, JSON.stringify(snap));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.snapshotFile);
    // The snapshot holds everything the log did: start a new one.
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = fs.openSync(this.logFile, 'w', 0o600);
    this.lines = 0;
    this.bytes = 0;
  }

  close(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.fd !== undefined) {
      fs.fdatasyncSync(this.fd);
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Removes a cluster's persisted objects (`kemu down`). */
export function deleteStoreDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
