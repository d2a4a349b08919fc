// Live pcapng capture sessions fed by the packet path. When nobody captures, the router pays
// one boolean test per batch. When someone does, each packet costs one EPB append per
// matching session (native memcpy of at most snaplen bytes into a preallocated buffer); the
// buffer is handed to the session's sink once per batch.
import type { NativeAddon } from '../../native/index.js';
import type { Endpoint } from '../router.js';
import { EpbWriter, interfaceDescription, sectionHeader } from './pcapng.js';

export interface CaptureFilter {
  /** Capture pods in these namespaces (empty: no namespace filter). */
  namespaces: string[];
  /** Capture these pods ("ns/name"); empty: all pods allowed by the namespace filter. */
  pods: string[];
  /** Also capture node and external interfaces (default when no filter is given). */
  includeInfra: boolean;
}

export interface CaptureOptions {
  filter: CaptureFilter;
  snaplen: number;
  /** Stop after this many packet records (0 = unlimited). */
  count: number;
  /** Called with pcapng bytes; return false when the consumer is backed up (records are then dropped). */
  sink: (chunk: Buffer) => boolean;
  /** Called once when the session ends by itself (count reached). */
  onEnd: () => void;
}

const EPB_FLAG_INBOUND = 1;
const EPB_FLAG_OUTBOUND = 2;

export function interfaceName(ep: Endpoint): string {
  if (ep.zone === 'pod') return `${ep.namespace}/${ep.name}/eth0`;
  if (ep.zone === 'node') return `node/${ep.name}/eth0`;
  return 'external/eth0';
}

export function interfaceDescriptionText(ep: Endpoint): string {
  if (ep.zone === 'pod') return `k8s.ns=${ep.namespace};k8s.podName=${ep.name};k8s.node=${ep.node}`;
  if (ep.zone === 'node') return `k8s.node=${ep.node};kemu.role=node`;
  return 'kemu.role=external-client';
}

export class CaptureSession {
  /** slot -> interface id in this session's section (-1 = not yet described, -2 = filtered out). */
  private readonly ifaceOf = new Map<number, number>();
  private nextIface = 0;
  records = 0;
  backpressureDrops = 0;
  ended = false;
  readonly writer: EpbWriter;

  constructor(
    readonly id: number,
    readonly opts: CaptureOptions,
    private readonly info: (slot: number) => Endpoint | undefined,
    copy: NativeAddon['copy'],
  ) {
    this.writer = new EpbWriter(4 << 20, copy);
    opts.sink(sectionHeader('kemu'));
  }

  matches(ep: Endpoint): boolean {
    const f = this.opts.filter;
    if (ep.zone !== 'pod') return f.includeInfra;
    if (f.namespaces.length && !f.namespaces.includes(ep.namespace!)) return false;
    if (f.pods.length && !f.pods.includes(`${ep.namespace}/${ep.name}`)) return false;
    return true;
  }

  /** Interface id for a slot, describing it first if this is its first packet; -1 if filtered. */
  iface(slot: number): number {
    const id = this.ifaceOf.get(slot);
    if (id !== undefined) return id;
    const ep = this.info(slot);
    if (!ep || !this.matches(ep)) {
      this.ifaceOf.set(slot, -1);
      return -1;
    }
    // IDBs must precede the EPBs that use them: flush pending records first (rare: once per interface).
    this.flush();
    this.opts.sink(
      interfaceDescription({ name: interfaceName(ep), description: interfaceDescriptionText(ep), snaplen: this.opts.snaplen }),
    );
    const n = this.nextIface++;
    this.ifaceOf.set(slot, n);
    return n;
  }

  forget(slot: number): void {
    // The slot may be reused by another pod: describe it again on its next packet.
    this.ifaceOf.delete(slot);
  }

  record(slot: number, buf: Buffer, off: number, len: number, h: number, ts: number, inbound: boolean, packetId: number, comment: string | undefined): void {
    if (this.ended) return;
    const ifc = this.iface(slot);
    if (ifc < 0) return;
    const plen = len - h;
    if (plen <= 0) return;
    const capLen = plen < this.opts.snaplen ? plen : this.opts.snaplen;
    if (!this.writer.append(ifc, ts, buf, off + h, capLen, plen, inbound ? EPB_FLAG_INBOUND : EPB_FLAG_OUTBOUND, packetId, comment)) {
      this.flush();
      this.writer.append(ifc, ts, buf, off + h, capLen, plen, inbound ? EPB_FLAG_INBOUND : EPB_FLAG_OUTBOUND, packetId, comment);
    }
    this.records++;
    if (this.opts.count > 0 && this.records >= this.opts.count) {
      this.flush();
      this.ended = true;
      this.opts.onEnd();
    }
  }

  flush(): void {
    if (this.writer.used === 0) return;
    const chunk = this.writer.take();
    if (!this.opts.sink(chunk)) this.backpressureDrops++;
  }
}

export class CaptureHub {
  /** Read by the router once per batch. */
  active = false;
  private readonly sessions: CaptureSession[] = [];
  private packetId = 0;
  private nextSessionId = 1;

  constructor(
    private readonly addon: NativeAddon,
    private readonly info: (slot: number) => Endpoint | undefined,
  ) {}

  open(opts: CaptureOptions): CaptureSession {
    const s = new CaptureSession(this.nextSessionId++, opts, this.info, this.addon.copy);
    this.sessions.push(s);
    this.active = true;
    return s;
  }

  close(s: CaptureSession): void {
    s.flush();
    s.ended = true;
    const i = this.sessions.indexOf(s);
    if (i >= 0) this.sessions.splice(i, 1);
    this.active = this.sessions.length > 0;
  }

  get sessionCount(): number {
    return this.sessions.length;
  }

  onAttach(slot: number): void {
    for (const s of this.sessions) s.forget(slot);
  }

  now(): number {
    return Math.round((performance.timeOrigin + performance.now()) * 1000);
  }

  /** A packet leaving `slot` (sent by that interface's owner); starts a new packet id. */
  egress(slot: number, buf: Buffer, off: number, len: number, h: number, ts: number, comment: string | undefined): void {
    const id = ++this.packetId;
    for (let i = 0; i < this.sessions.length; i++) this.sessions[i]!.record(slot, buf, off, len, h, ts, false, id, comment);
  }

  /** The same packet (same id as the last egress) arriving at `slot`. */
  ingress(slot: number, buf: Buffer, off: number, len: number, h: number, ts: number, comment: string | undefined): void {
    for (let i = 0; i < this.sessions.length; i++) this.sessions[i]!.record(slot, buf, off, len, h, ts, true, this.packetId, comment);
  }

  /** A packet the data plane made itself (ICMP errors): a fresh id with no egress copy. */
  generated(): void {
    ++this.packetId;
  }

  flush(): void {
    for (let i = 0; i < this.sessions.length; i++) this.sessions[i]!.flush();
  }
}
