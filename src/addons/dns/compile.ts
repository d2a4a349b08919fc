// Resolutions turned into wire-format records once, then reused for every identical question
// until the cluster view changes: the hot path only copies bytes (precomputed answers).
import dnsPacket, { type Answer } from 'dns-packet';
import { QNAME, resolve, type Resolution, type ResolveOptions } from './resolve.js';
import type { ClusterView } from './view.js';
import { RCODE, type Compiled } from './wire.js';

export interface Entry extends Compiled {
  /** Forward the question upstream (not in a cluster zone, or a reverse miss with fallthrough). */
  forward: boolean;
  /** If forwarding is impossible (offline), answer with this instead (NXDOMAIN for reverse misses). */
  fallthrough: boolean;
  chase?: { target: string; type: string };
  /** For the query log: "10.96.0.10", "CNAME foo.example.com.", … */
  summary: string[];
}

const POINTER_TO_QUESTION = Buffer.from([0xc0, 0x0c]);

/** One resource record in wire format; an owner of QNAME becomes a pointer to the question. */
export function encodeRecord(rr: Answer): Buffer {
  const own = rr.name === QNAME;
  const b = dnsPacket.encode({ type: 'response', answers: [{ ...rr, name: own ? '.' : rr.name } as Answer] });
  const rec = b.subarray(12);
  return own ? Buffer.concat([POINTER_TO_QUESTION, rec.subarray(1)]) : Buffer.from(rec);
}

export function summarize(rr: Answer): string {
  const d: any = (rr as any).data;
  switch (rr.type) {
    case 'A':
    case 'AAAA':
      return String(d);
    case 'SRV':
      return `SRV ${d.priority} ${d.weight} ${d.port} ${d.target}`;
    case 'TXT':
      return `TXT "${Array.isArray(d) ? d.join('') : String(d)}"`;
    case 'SOA':
      return `SOA ${d.mname}`;
    default:
      return `${rr.type} ${typeof d === 'string' ? d : JSON.stringify(d)}`;
  }
}

export function compile(r: Resolution): Entry {
  // CNAMEs lead; the address records after them are what `loadbalance` shuffles.
  let shuffleFrom = 0;
  while (shuffleFrom < r.answer.length && r.answer[shuffleFrom]!.type !== 'A' && r.answer[shuffleFrom]!.type !== 'AAAA') shuffleFrom++;
  const onlyAddresses = r.answer.slice(shuffleFrom).every((a) => a.type === 'A' || a.type === 'AAAA');
  return {
    rcode: RCODE[r.rcode],
    aa: r.aa,
    answer: r.answer.map(encodeRecord),
    shuffleFrom: onlyAddresses ? shuffleFrom : r.answer.length,
    authority: r.authority.map(encodeRecord),
    additional: r.additional.map(encodeRecord),
    forward: Boolean(r.forward),
    fallthrough: Boolean(r.fallthrough),
    chase: r.chase,
    summary: r.answer.map(summarize),
  };
}

const MAX_ENTRIES = 100_000;

/** Compiled answers per (name, type) for one view; a new view starts an empty table. */
export class AnswerTable {
  private entries = new Map<string, Entry>();
  private view: ClusterView;

  constructor(
    view: ClusterView,
    private readonly opts: ResolveOptions,
  ) {
    this.view = view;
  }

  setView(view: ClusterView): void {
    this.view = view;
    this.entries = new Map();
  }

  get current(): ClusterView {
    return this.view;
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(name: string, type: number, typeStr: string): Entry {
    const key = `${name}\u0000${type}`;
    let e = this.entries.get(key);
    if (e) return e;
    e = compile(resolve(this.view, name, typeStr, this.opts));
    // Bounded: random names (NXDOMAIN floods) must not grow it without limit.
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, e);
    return e;
  }
}
