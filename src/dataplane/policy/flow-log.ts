// The flow log: every new connection and every policy drop, kept as small raw entries in a
// bounded ring (the packet path stores numbers and a table reference; the Hubble-style JSON
// is built only when someone reads), and appended to a rotating JSON-lines file once a second.
// Drops are rate-limited (a flood of denied packets must not flood memory or disk); what was
// suppressed is counted.
import fs from 'node:fs';
import { flowEnd, flowRecord, type FlowRecord } from './flow-record.js';
import type { PolicyTable } from './table.js';

export interface RawFlow {
  time: number;
  proto: number;
  src: number;
  sport: number;
  dst: number;
  dport: number;
  tcpFlags: number;
  icmpType: number;
  verdictId: number;
  table: PolicyTable;
  /** "ns/svc" when the client addressed a Service, with the VIP and port it used. */
  service: string;
  vip: number;
  vport: number;
  node: string;
}

const DROPS_PER_SECOND = 1000;
const FILE_MAX = 16 << 20;

export class FlowLog {
  private readonly ring: (RawFlow | undefined)[];
  private next = 0;
  /** Sequence number of the newest entry (for followers). */
  seq = 0;
  suppressedDrops = 0;
  private dropBudget = DROPS_PER_SECOND;
  private dropWindow = 0;
  private pending: RawFlow[] = [];
  private flusher: NodeJS.Timeout | undefined;
  private readonly followers = new Set<(r: RawFlow) => void>();

  constructor(
    readonly capacity = 16384,
    private readonly file?: string,
  ) {
    this.ring = new Array(capacity);
    if (file) {
      this.flusher = setInterval(() => this.flushFile(), 1000);
      this.flusher.unref();
    }
  }

  /** false when a drop is over the rate limit (the caller then skips building the entry). */
  admitDrop(nowSec: number): boolean {
    if (nowSec !== this.dropWindow) {
      this.dropWindow = nowSec;
      this.dropBudget = DROPS_PER_SECOND;
    }
    if (this.dropBudget <= 0) {
      this.suppressedDrops++;
      return false;
    }
    this.dropBudget--;
    return true;
  }

  add(r: RawFlow): void {
    this.ring[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
    this.seq++;
    if (this.file) this.pending.push(r);
    for (const f of this.followers) f(r);
  }

  /** Entries oldest first. */
  entries(): RawFlow[] {
    const out: RawFlow[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const r = this.ring[(this.next + i) % this.capacity];
      if (r) out.push(r);
    }
    return out;
  }

  follow(fn: (r: RawFlow) => void): () => void {
    this.followers.add(fn);
    return () => this.followers.delete(fn);
  }

  private flushFile(): void {
    if (!this.pending.length || !this.file) return;
    // At most what fits the file's budget per flush: a flood must not write more than that.
    const batch = this.pending.length > 20_000 ? this.pending.slice(-20_000) : this.pending;
    const lines = batch.map((r) => JSON.stringify(materialize(r))).join('\n') + '\n';
    this.pending = [];
    try {
      const st = fs.statSync(this.file, { throwIfNoEntry: false });
      if (st && st.size > FILE_MAX) fs.renameSync(this.file, `${this.file}.1`);
      fs.appendFileSync(this.file, lines);
    } catch {
      /* the log file is a convenience; the ring stays authoritative */
    }
  }

  close(): void {
    this.flushFile();
    if (this.flusher) clearInterval(this.flusher);
  }
}

export function materialize(r: RawFlow): FlowRecord {
  const info = r.table.verdictInfo(r.verdictId);
  return flowRecord({
    time: r.time,
    info,
    tuple: {
      proto: r.proto,
      srcIp: r.src,
      srcPort: r.sport,
      dstIp: r.dst,
      dstPort: r.dport,
      ...(r.proto === 6 ? { tcpFlags: r.tcpFlags } : {}),
      ...(r.proto === 1 ? { icmpType: r.icmpType } : {}),
    },
    source: flowEnd(r.table, r.src, r.node),
    destination: flowEnd(r.table, r.dst, r.node),
    ...(r.service ? { destinationService: { service: r.service, vip: r.vip, port: r.vport } } : {}),
    nodeName: r.node || undefined,
  });
}
