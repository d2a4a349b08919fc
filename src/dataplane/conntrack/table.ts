// The connection-tracking table. Each flow has two tuples, the original (as the client sent it)
// and the reply (as the far end answers it); both are keys of one open-addressing hash table
// (linear probing, backward-shift deletion). Layout is chosen for the cache, because at
// 100,000 flows nearly every lookup misses it: a hash slot holds its whole key inline
// (src, dst, ports, proto|ref: 16 bytes), and a flow's fields sit together in one 64-byte
// record, so a packet of an established flow touches about three cache lines. Everything is
// typed arrays: a lookup allocates nothing. A full table refuses new flows and counts them
// (netfilter's "table full, dropping packet").
import { ICMP_FLOW, TCP_NONE, TIMEOUTS, UDP_UNREPLIED } from './tcp-state.js';

export const DIR_ORIG = 0;
export const DIR_REPLY = 1;

/** Flow flags. */
export const F_DNAT = 1;
export const F_SNAT = 2;

export interface FlowView {
  proto: number;
  origSrc: number;
  origDst: number;
  origSport: number;
  origDport: number;
  replySrc: number;
  replyDst: number;
  replySport: number;
  replyDport: number;
  state: number;
  expiresIn: number;
  flags: number;
  service: string;
  clientSlot: number;
  packets: [number, number];
  bytes: [number, number];
}

// Flow record (int32 words).
const REC = 16;
const W_META = 0; // proto | flags << 8 | state << 16 | fin << 24
const W_OSRC = 1;
const W_ODST = 2;
const W_OPORTS = 3;
const W_RSRC = 4;
const W_RDST = 5;
const W_RPORTS = 6;
const W_EXPIRES = 7;
const W_SLOT = 8;
const W_LIVE = 9;

function mix(src: number, dst: number, ports: number, proto: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ dst, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ ports, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ proto, 0x165667b1);
  return h ^ (h >>> 16);
}

export class Conntrack {
  readonly capacity: number;
  private readonly mask: number;
  /** 4 words per slot: src, dst, ports, proto << 24 | (flow << 1 | dir) + 1 (0 = empty). */
  private readonly slots: Int32Array;
  private readonly d: Int32Array;
  /** Per flow: packets orig, packets reply, bytes orig, bytes reply. */
  private readonly counters: Float64Array;
  /** "ns/svc:port/PROTO" of each NAT flow ('' for plain flows); set once per flow. */
  private readonly services: string[];
  private readonly free: Int32Array;
  private freeTop: number;
  count = 0;
  /** New flows refused because the table was full. */
  full = 0;
  /** New flows refused because their reply tuple was already in use. */
  clashes = 0;
  /** Why the last create() failed: 1 = table full, 2 = reply tuple in use. */
  lastFailure = 0;

  constructor(capacity = 262144) {
    if (capacity >= 1 << 22) throw new Error('conntrack capacity must be below 4194304');
    this.capacity = capacity;
    let size = 1;
    while (size < capacity * 4) size <<= 1; // two keys per flow, load <= 0.5
    this.mask = size - 1;
    this.slots = new Int32Array(size * 4);
    this.d = new Int32Array(capacity * REC);
    this.counters = new Float64Array(capacity * 4);
    this.services = new Array<string>(capacity).fill('');
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  /** (flow << 1 | dir) of the flow a packet belongs to, or -1. */
  lookup(src: number, dst: number, ports: number, proto: number): number {
    const mask = this.mask;
    const s = this.slots;
    let i = mix(src, dst, ports, proto) & mask;
    for (;;) {
      const o = i << 2;
      const v = s[o + 3]!;
      if (v === 0) return -1;
      if (s[o] === src && s[o + 1] === dst && s[o + 2] === ports && v >>> 24 === proto) return (v & 0xffffff) - 1;
      i = (i + 1) & mask;
    }
  }

  /**
   * A new flow; returns its index, or -1 when the table is full or the reply tuple is taken
   * (the caller may pick another port and retry).
   */
  create(
    proto: number,
    oSrc: number,
    oDst: number,
    oPorts: number,
    rSrc: number,
    rDst: number,
    rPorts: number,
    flags: number,
    now: number,
    service: string,
    clientSlot: number,
  ): number {
    if (this.lookup(rSrc, rDst, rPorts, proto) >= 0) {
      this.clashes++;
      this.lastFailure = 2;
      return -1;
    }
    if (this.freeTop === 0) {
      this.full++;
      this.lastFailure = 1;
      return -1;
    }
    const f = this.free[--this.freeTop]!;
    const st = proto === 6 ? TCP_NONE : proto === 17 ? UDP_UNREPLIED : ICMP_FLOW;
    const d = this.d;
    const b = f * REC;
    d[b + W_META] = proto | (flags << 8) | (st << 16);
    d[b + W_OSRC] = oSrc;
    d[b + W_ODST] = oDst;
    d[b + W_OPORTS] = oPorts;
    d[b + W_RSRC] = rSrc;
    d[b + W_RDST] = rDst;
    d[b + W_RPORTS] = rPorts;
    d[b + W_EXPIRES] = now + TIMEOUTS[st]!;
    d[b + W_SLOT] = clientSlot;
    d[b + W_LIVE] = 1;
    const c = f * 4;
    this.counters[c] = this.counters[c + 1] = this.counters[c + 2] = this.counters[c + 3] = 0;
    this.services[f] = service;
    this.insert(oSrc, oDst, oPorts, proto, (f << 1) | DIR_ORIG);
    this.insert(rSrc, rDst, rPorts, proto, (f << 1) | DIR_REPLY);
    this.count++;
    return f;
  }

  private insert(src: number, dst: number, ports: number, proto: number, ref: number): void {
    const mask = this.mask;
    const s = this.slots;
    let i = mix(src, dst, ports, proto) & mask;
    while (s[(i << 2) + 3] !== 0) i = (i + 1) & mask;
    const o = i << 2;
    s[o] = src;
    s[o + 1] = dst;
    s[o + 2] = ports;
    s[o + 3] = (proto << 24) | (ref + 1);
  }

  private erase(src: number, dst: number, ports: number, proto: number, ref: number): void {
    const mask = this.mask;
    const s = this.slots;
    const want = (proto << 24) | (ref + 1);
    let i = mix(src, dst, ports, proto) & mask;
    while (s[(i << 2) + 3] !== want) {
      if (s[(i << 2) + 3] === 0) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const oj = j << 2;
      const w = s[oj + 3]!;
      if (w === 0) break;
      const k = mix(s[oj]!, s[oj + 1]!, s[oj + 2]!, w >>> 24) & mask;
      const between = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!between) {
        const oi = i << 2;
        s[oi] = s[oj]!;
        s[oi + 1] = s[oj + 1]!;
        s[oi + 2] = s[oj + 2]!;
        s[oi + 3] = w;
        i = j;
      }
    }
    s[(i << 2) + 3] = 0;
  }

  remove(f: number): void {
    const d = this.d;
    const b = f * REC;
    if (d[b + W_LIVE] !== 1) return;
    const proto = d[b + W_META]! & 0xff;
    this.erase(d[b + W_OSRC]!, d[b + W_ODST]!, d[b + W_OPORTS]!, proto, (f << 1) | DIR_ORIG);
    this.erase(d[b + W_RSRC]!, d[b + W_RDST]!, d[b + W_RPORTS]!, proto, (f << 1) | DIR_REPLY);
    d[b + W_LIVE] = 0;
    this.services[f] = '';
    this.free[this.freeTop++] = f;
    this.count--;
  }

  // Field access (inlined by the JIT; one record, one cache line).
  isLive(f: number): boolean {
    return this.d[f * REC + W_LIVE] === 1;
  }
  proto(f: number): number {
    return this.d[f * REC + W_META]! & 0xff;
  }
  flags(f: number): number {
    return (this.d[f * REC + W_META]! >>> 8) & 0xff;
  }
  state(f: number): number {
    return (this.d[f * REC + W_META]! >>> 16) & 0xff;
  }
  fin(f: number): number {
    return this.d[f * REC + W_META]! >>> 24;
  }
  setState(f: number, state: number, fin: number): void {
    const b = f * REC + W_META;
    this.d[b] = (this.d[b]! & 0xffff) | (state << 16) | (fin << 24);
  }
  oSrc(f: number): number {
    return this.d[f * REC + W_OSRC]!;
  }
  oDst(f: number): number {
    return this.d[f * REC + W_ODST]!;
  }
  oPorts(f: number): number {
    return this.d[f * REC + W_OPORTS]!;
  }
  rSrc(f: number): number {
    return this.d[f * REC + W_RSRC]!;
  }
  rDst(f: number): number {
    return this.d[f * REC + W_RDST]!;
  }
  rPorts(f: number): number {
    return this.d[f * REC + W_RPORTS]!;
  }
  expires(f: number): number {
    return this.d[f * REC + W_EXPIRES]!;
  }
  setExpires(f: number, t: number): void {
    this.d[f * REC + W_EXPIRES] = t;
  }
  clientSlot(f: number): number {
    return this.d[f * REC + W_SLOT]!;
  }
  service(f: number): string {
    return this.services[f]!;
  }
  /** Counts a packet of `bytes` in direction `dir`. */
  account(f: number, dir: number, bytes: number): void {
    const c = f * 4;
    this.counters[c + dir]!++;
    this.counters[c + 2 + dir] += bytes;
  }

  /** Removes expired flows; returns how many. Called about once a second, off the packet path. */
  sweep(now: number): number {
    let n = 0;
    const d = this.d;
    for (let f = 0; f < this.capacity; f++) {
      const b = f * REC;
      if (d[b + W_LIVE] === 1 && d[b + W_EXPIRES]! <= now) {
        this.remove(f);
        n++;
      }
    }
    return n;
  }

  /** Removes the flows `pred` selects (endpoint gone, etc.). */
  removeWhere(pred: (f: number) => boolean): number {
    let n = 0;
    for (let f = 0; f < this.capacity; f++) {
      if (this.d[f * REC + W_LIVE] === 1 && pred(f)) {
        this.remove(f);
        n++;
      }
    }
    return n;
  }

  view(f: number, now: number): FlowView {
    const c = f * 4;
    return {
      proto: this.proto(f),
      origSrc: this.oSrc(f),
      origDst: this.oDst(f),
      origSport: this.oPorts(f) >>> 16,
      origDport: this.oPorts(f) & 0xffff,
      replySrc: this.rSrc(f),
      replyDst: this.rDst(f),
      replySport: this.rPorts(f) >>> 16,
      replyDport: this.rPorts(f) & 0xffff,
      state: this.state(f),
      expiresIn: this.expires(f) - now,
      flags: this.flags(f),
      service: this.services[f]!,
      clientSlot: this.clientSlot(f),
      packets: [this.counters[c]!, this.counters[c + 1]!],
      bytes: [this.counters[c + 2]!, this.counters[c + 3]!],
    };
  }

  *flows(): Generator<number> {
    for (let f = 0; f < this.capacity; f++) if (this.d[f * REC + W_LIVE] === 1) yield f;
  }
}
