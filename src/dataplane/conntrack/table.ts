// The connection-tracking table of NAT flows. Each flow has two tuples, the original (as the
// client sent it) and the reply (as the endpoint answers it); both are keys of one
// open-addressing hash table (linear probing, backward-shift deletion) held in typed arrays,
// so a per-packet lookup allocates nothing and reads a few cache lines. Flows live in
// struct-of-arrays; a full table refuses new flows and counts them (netfilter's "table full,
// dropping packet").
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
  private readonly slots: Int32Array;
  // Flow fields.
  readonly proto: Uint8Array;
  readonly oSrc: Int32Array;
  readonly oDst: Int32Array;
  readonly oPorts: Int32Array;
  readonly rSrc: Int32Array;
  readonly rDst: Int32Array;
  readonly rPorts: Int32Array;
  readonly state: Uint8Array;
  readonly fin: Uint8Array;
  readonly flags: Uint8Array;
  readonly expires: Int32Array;
  /** The slot (interface) of the client, for `kemu conntrack --pod`. */
  readonly clientSlot: Int32Array;
  readonly pkts: Float64Array;
  readonly bytes: Float64Array;
  /** "ns/svc:port" of each flow (strings, set once per flow, not per packet). */
  readonly service: string[];
  private readonly free: Int32Array;
  private freeTop: number;
  private readonly live: Uint8Array;
  count = 0;
  /** New flows refused because the table was full. */
  full = 0;
  /** New flows refused because their reply tuple was already in use. */
  clashes = 0;
  /** Why the last create() failed: 1 = table full, 2 = reply tuple in use. */
  lastFailure = 0;

  constructor(capacity = 262144) {
    this.capacity = capacity;
    let size = 1;
    while (size < capacity * 4) size <<= 1; // two keys per flow, load <= 0.5
    this.mask = size - 1;
    this.slots = new Int32Array(size);
    this.proto = new Uint8Array(capacity);
    this.oSrc = new Int32Array(capacity);
    this.oDst = new Int32Array(capacity);
    this.oPorts = new Int32Array(capacity);
    this.rSrc = new Int32Array(capacity);
    this.rDst = new Int32Array(capacity);
    this.rPorts = new Int32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.fin = new Uint8Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.expires = new Int32Array(capacity);
    this.clientSlot = new Int32Array(capacity);
    this.pkts = new Float64Array(capacity * 2);
    this.bytes = new Float64Array(capacity * 2);
    this.service = new Array<string>(capacity).fill('');
    this.live = new Uint8Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  /** (flow << 1 | dir) of the flow a packet belongs to, or -1. */
  lookup(src: number, dst: number, ports: number, proto: number): number {
    const mask = this.mask;
    const slots = this.slots;
    let i = mix(src, dst, ports, proto) & mask;
    for (;;) {
      const v = slots[i]!;
      if (v === 0) return -1;
      const ref = v - 1;
      const f = ref >> 1;
      if (this.proto[f] === proto) {
        if ((ref & 1) === DIR_ORIG) {
          if (this.oSrc[f] === src && this.oDst[f] === dst && this.oPorts[f] === ports) return ref;
        } else if (this.rSrc[f] === src && this.rDst[f] === dst && this.rPorts[f] === ports) return ref;
      }
      i = (i + 1) & mask;
    }
  }

  /**
   * A new flow; returns its index, or -1 when the table is full or the reply tuple is taken
   * (the caller may pick another SNAT port and retry).
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
    this.proto[f] = proto;
    this.oSrc[f] = oSrc;
    this.oDst[f] = oDst;
    this.oPorts[f] = oPorts;
    this.rSrc[f] = rSrc;
    this.rDst[f] = rDst;
    this.rPorts[f] = rPorts;
    const st = proto === 6 ? TCP_NONE : proto === 17 ? UDP_UNREPLIED : ICMP_FLOW;
    this.state[f] = st;
    this.fin[f] = 0;
    this.flags[f] = flags;
    this.expires[f] = now + TIMEOUTS[st]!;
    this.clientSlot[f] = clientSlot;
    this.pkts[2 * f] = this.pkts[2 * f + 1] = 0;
    this.bytes[2 * f] = this.bytes[2 * f + 1] = 0;
    this.service[f] = service;
    this.live[f] = 1;
    this.insert(mix(oSrc, oDst, oPorts, proto), ((f << 1) | DIR_ORIG) + 1);
    this.insert(mix(rSrc, rDst, rPorts, proto), ((f << 1) | DIR_REPLY) + 1);
    this.count++;
    return f;
  }

  private insert(h: number, v: number): void {
    const mask = this.mask;
    let i = h & mask;
    while (this.slots[i] !== 0) i = (i + 1) & mask;
    this.slots[i] = v;
  }

  private home(v: number): number {
    const ref = v - 1;
    const f = ref >> 1;
    return (ref & 1) === DIR_ORIG
      ? mix(this.oSrc[f]!, this.oDst[f]!, this.oPorts[f]!, this.proto[f]!) & this.mask
      : mix(this.rSrc[f]!, this.rDst[f]!, this.rPorts[f]!, this.proto[f]!) & this.mask;
  }

  private erase(h: number, v: number): void {
    const mask = this.mask;
    const slots = this.slots;
    let i = h & mask;
    while (slots[i] !== v) {
      if (slots[i] === 0) return;
      i = (i + 1) & mask;
    }
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const w = slots[j]!;
      if (w === 0) break;
      const k = this.home(w);
      const between = i <= j ? i < k && k <= j : i < k || k <= j;
      if (!between) {
        slots[i] = w;
        i = j;
      }
    }
    slots[i] = 0;
  }

  remove(f: number): void {
    if (!this.live[f]) return;
    this.erase(mix(this.oSrc[f]!, this.oDst[f]!, this.oPorts[f]!, this.proto[f]!), ((f << 1) | DIR_ORIG) + 1);
    this.erase(mix(this.rSrc[f]!, this.rDst[f]!, this.rPorts[f]!, this.proto[f]!), ((f << 1) | DIR_REPLY) + 1);
    this.live[f] = 0;
    this.service[f] = '';
    this.free[this.freeTop++] = f;
    this.count--;
  }

  isLive(f: number): boolean {
    return this.live[f] === 1;
  }

  /** Removes expired flows; returns how many. Called about once a second, off the packet path. */
  sweep(now: number): number {
    let n = 0;
    for (let f = 0; f < this.capacity; f++) {
      if (this.live[f] && this.expires[f]! <= now) {
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
      if (this.live[f] && pred(f)) {
        this.remove(f);
        n++;
      }
    }
    return n;
  }

  view(f: number, now: number): FlowView {
    return {
      proto: this.proto[f]!,
      origSrc: this.oSrc[f]!,
      origDst: this.oDst[f]!,
      origSport: this.oPorts[f]! >>> 16,
      origDport: this.oPorts[f]! & 0xffff,
      replySrc: this.rSrc[f]!,
      replyDst: this.rDst[f]!,
      replySport: this.rPorts[f]! >>> 16,
      replyDport: this.rPorts[f]! & 0xffff,
      state: this.state[f]!,
      expiresIn: this.expires[f]! - now,
      flags: this.flags[f]!,
      service: this.service[f]!,
      clientSlot: this.clientSlot[f]!,
      packets: [this.pkts[2 * f]!, this.pkts[2 * f + 1]!],
      bytes: [this.bytes[2 * f]!, this.bytes[2 * f + 1]!],
    };
  }

  *flows(): Generator<number> {
    for (let f = 0; f < this.capacity; f++) if (this.live[f]) yield f;
  }
}
