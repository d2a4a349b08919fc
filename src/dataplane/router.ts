// The per-packet pipeline. One TunPoller reads batches from every TUN into one arena; for each
// packet we validate, route by destination (int32 keys), decrement TTL and hand the batch to
// one native writeBatch. Nothing here allocates per packet: the arena, offsets, out-fds and the
// ICMP scratch buffer are preallocated, addresses are Smis, counters are fields.
import { native, type NativeAddon, type TunPoller } from '../native/index.js';
import { decTtl, validIpv4 } from './wire/ipv4.js';
import { buildEchoReplyInPlace, buildIcmpError } from './wire/icmp-build.js';
import { VNET_HDR_LEN, writeEmptyVnetHdr } from './wire/vnet.js';
import { CaptureHub } from './capture/hub.js';
import { NAT_DROP, NAT_FLOW, NAT_NONE, NAT_REJECT, ServiceProxy } from './proxy/proxy.js';
import type { ServiceTable } from './proxy/table.js';
import { compilePolicies } from './policy/compile.js';
import { FlowLog, type RawFlow } from './policy/flow-log.js';
import type { PolicyTable } from './policy/table.js';

export const MAX_SLOTS = 65536;
const MAX_BATCH = 64;
/** Big enough for a 64 KiB GSO super-packet plus its virtio_net_hdr. */
const SLOT_BYTES = 65536 + 16;

export type Zone = 'pod' | 'node' | 'external';
const ZONE_POD = 0;
const ZONE_NODE = 1;
const ZONE_EXTERNAL = 2;

export interface Endpoint {
  zone: Zone;
  /** Pod namespace (pods only). */
  namespace?: string;
  /** Pod, node or "external". */
  name: string;
  node: string;
  /** IPv4 as int32 (signed is fine). */
  ip: number;
  /** The router address this endpoint's default route points at (answers ping, sources ICMP errors). */
  gateway: number;
}

export class DataPlaneStats {
  rxPackets = 0;
  rxBytes = 0;
  txPackets = 0;
  dropMalformed = 0;
  dropIpv6 = 0;
  dropSpoofed = 0;
  dropNoRoute = 0;
  dropTtl = 0;
  dropWrite = 0;
  icmpSent = 0;
  icmpRateLimited = 0;
  gatewayEchoReplies = 0;
}

const ICMP_PER_SECOND = 1000;

export class DataPlane {
  readonly stats = new DataPlaneStats();
  readonly capture: CaptureHub;
  readonly proxy = new ServiceProxy(MAX_SLOTS);
  /** NetworkPolicy, compiled; swapped whole by PolicySync. */
  policyTable: PolicyTable = compilePolicies({ policies: [], pods: [], namespaces: [], nodes: [] });
  flows = new FlowLog();
  readonly policyStats = { dropPolicy: 0, dropNotProgrammed: 0, newFlows: 0 };
  /** Capture comment of the last policy drop. */
  policyReason = '';
  /** Called for each recorded (rate-limited) policy drop, off the hot path's allocation budget. */
  onPolicyDrop: ((raw: RawFlow) => void) | undefined;
  private readonly addon: NativeAddon;
  private readonly arena = Buffer.allocUnsafeSlow(SLOT_BYTES * MAX_BATCH);
  private readonly offs = new Int32Array(MAX_BATCH);
  private readonly lens = new Int32Array(MAX_BATCH);
  private readonly outFds = new Int32Array(MAX_BATCH);
  private readonly scratch = Buffer.alloc(2048);
  private readonly slotFd = new Int32Array(MAX_SLOTS).fill(-1);
  private readonly slotIp = new Int32Array(MAX_SLOTS);
  private readonly slotGw = new Int32Array(MAX_SLOTS);
  private readonly slotZone = new Uint8Array(MAX_SLOTS);
  private readonly slotInfo: (Endpoint | undefined)[] = new Array(MAX_SLOTS);
  /** Destination IP -> slot. */
  private readonly routes = new Map<number, number>();
  /** Router addresses the data plane answers pings for. */
  private readonly gateways = new Set<number>();
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private poller: TunPoller | undefined;
  private vnet = -1;
  private icmpBudget = ICMP_PER_SECOND;
  private icmpWindow = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(addon: NativeAddon = native()) {
    this.addon = addon;
    this.capture = new CaptureHub(addon, (slot) => this.slotInfo[slot]);
  }

  start(): void {
    if (this.poller) return;
    this.poller = new this.addon.TunPoller(this.arena, this.offs, this.lens, SLOT_BYTES, MAX_BATCH, this.onBatch);
    // Expired conntrack entries go once a second, off the packet path.
    this.sweeper = setInterval(() => this.proxy.ct.sweep(nowSeconds()), 1000);
    this.sweeper.unref();
  }

  /** Swap in a compiled policy table (whole, between two batches). */
  setPolicies(t: PolicyTable): void {
    this.policyTable = t;
  }

  /**
   * NetworkPolicy for a new connection from slot (src, before SNAT) to dst (after DNAT).
   * Records the flow (every new connection; drops rate-limited) and returns whether it may
   * pass. `natFlow` >= 0 names the Service flow for the record's destination_service.
   */
  private admit(slot: number, srcZone: number, src: number, dst: number, proto: number, sport: number, dport: number, tcpFlags: number, icmpType: number, natFlow: number, now: number): boolean {
    const pt = this.policyTable;
    let id = 0;
    let allowed = true;
    if (pt.policies.length !== 0) {
      const dslot = this.routes.get(dst);
      if ((srcZone === ZONE_POD && pt.byIp.get(src) === undefined) || (dslot !== undefined && this.slotZone[dslot] === ZONE_POD && pt.byIp.get(dst) === undefined)) {
        // A pod the policy table does not know yet: hold its traffic until it is programmed.
        this.policyStats.dropNotProgrammed++;
        this.policyReason = 'dropped: NetworkPolicy not yet programmed for this pod';
        return false;
      }
      id = pt.evaluate(src, dst, proto, dport);
      allowed = !pt.isDenied(id);
    }
    if (allowed) this.policyStats.newFlows++;
    else {
      this.policyStats.dropPolicy++;
      const info = pt.verdictInfo(id);
      const by = info.deniedDirection === 'egress' ? info.egress_denied_by : info.ingress_denied_by;
      this.policyReason = `dropped by NetworkPolicy (${info.deniedDirection}): ${by.map((r) => `${r.namespace}/${r.name}`).join(', ')}`;
      if (!this.flows.admitDrop(now)) return false;
    }
    const ct = this.proxy.ct;
    const raw: RawFlow = {
      time: Date.now(),
      proto,
      src,
      sport,
      dst,
      dport,
      tcpFlags,
      icmpType,
      verdictId: id,
      table: pt,
      service: natFlow >= 0 ? ct.service(natFlow).replace(/:.*$/, '') : '',
      vip: natFlow >= 0 ? ct.oDst(natFlow) : 0,
      vport: natFlow >= 0 ? ct.oPorts(natFlow) & 0xffff : 0,
      node: this.slotInfo[slot]?.node ?? '',
    };
    this.flows.add(raw);
    if (!allowed && this.onPolicyDrop) this.onPolicyDrop(raw);
    return allowed;
  }

  /** Swap in a compiled Service table (whole, between two batches). */
  setServices(t: ServiceTable): void {
    this.proxy.setTable(t, (slot) => this.slotInfo[slot]?.node);
  }

  stop(): void {
    this.poller?.close();
    this.poller = undefined;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Attach a TUN; returns its slot. vnetHdr must match the other TUNs (all or none). */
  attach(ep: Endpoint, fd: number, vnetHdr: boolean): number {
    const v = vnetHdr ? 1 : 0;
    if (this.vnet === -1) this.vnet = v;
    else if (this.vnet !== v) {
      throw new Error(`TUN for ${describe(ep)} ${vnetHdr ? 'has' : 'lacks'} a virtio_net_hdr unlike the others; all TUNs must agree`);
    }
    const existing = this.routes.get(ep.ip | 0);
    if (existing !== undefined) throw new Error(`IP ${ipStr(ep.ip)} is already attached to ${describe(this.slotInfo[existing]!)}`);
    const slot = this.freeSlots.pop() ?? this.nextSlot++;
    if (slot >= MAX_SLOTS) throw new Error(`data plane is full (${MAX_SLOTS} interfaces)`);
    this.slotFd[slot] = fd;
    this.slotIp[slot] = ep.ip | 0;
    this.slotGw[slot] = ep.gateway | 0;
    this.slotZone[slot] = ep.zone === 'pod' ? ZONE_POD : ep.zone === 'node' ? ZONE_NODE : ZONE_EXTERNAL;
    this.slotInfo[slot] = ep;
    this.routes.set(ep.ip | 0, slot);
    this.gateways.add(ep.gateway | 0);
    this.proxy.slotNode[slot] = this.proxy.table.nodeIndex.get(ep.node) ?? -1;
    this.start();
    this.poller!.add(slot, fd);
    this.capture.onAttach(slot);
    return slot;
  }

  /** Detach a slot; the caller closes the fd afterwards. */
  detach(slot: number): void {
    const ep = this.slotInfo[slot];
    if (!ep) return;
    this.poller?.remove(slot);
    if (this.routes.get(ep.ip | 0) === slot) this.routes.delete(ep.ip | 0);
    this.slotFd[slot] = -1;
    this.slotInfo[slot] = undefined;
    this.proxy.slotNode[slot] = -1;
    // Its flows go with it: the slot (and later the IP) may belong to another pod next.
    const ct = this.proxy.ct;
    const ip = ep.ip | 0;
    if (ct.count !== 0) ct.removeWhere((f) => ct.clientSlot(f) === slot || ct.oSrc(f) === ip || ct.rSrc(f) === ip);
    this.freeSlots.push(slot);
  }

  endpoint(slot: number): Endpoint | undefined {
    return this.slotInfo[slot];
  }

  get vnetHdrLen(): number {
    return this.vnet === 1 ? VNET_HDR_LEN : 0;
  }

  /** The packet path. An arrow function so the native poller can call it without a bind per call. */
  private readonly onBatch = (slot: number, count: number): void => {
    const a = this.arena;
    const offs = this.offs;
    const lens = this.lens;
    const out = this.outFds;
    const h = this.vnet === 1 ? VNET_HDR_LEN : 0;
    const st = this.stats;
    const srcIp = this.slotIp[slot]!;
    const srcZone = this.slotZone[slot]!;
    const cap = this.capture.active;
    const ts = cap ? this.capture.now() : 0;
    const now = nowSeconds();
    for (let i = 0; i < count; i++) {
      const off = offs[i]!;
      const len = lens[i]!;
      const ip = off + h;
      const plen = len - h;
      out[i] = -1;
      st.rxPackets++;
      st.rxBytes += len;
      if (plen > 0 && a[ip]! >> 4 === 6) {
        st.dropIpv6++;
        if (cap) this.capture.egress(slot, a, off, len, h, ts, 'dropped: IPv6 is not routed by kemu');
        continue;
      }
      if (validIpv4(a, ip, plen) !== 0) {
        st.dropMalformed++;
        if (cap) this.capture.egress(slot, a, off, len, h, ts, 'dropped: malformed IPv4 packet');
        continue;
      }
      const src = (a[ip + 12]! << 24) | (a[ip + 13]! << 16) | (a[ip + 14]! << 8) | a[ip + 15]!;
      if (src !== srcIp) {
        // Like a CNI's reverse-path check: an interface may only send from its own address.
        st.dropSpoofed++;
        if (cap) this.capture.egress(slot, a, off, len, h, ts, "dropped: source address is not the interface's");
        continue;
      }
      let dst = (a[ip + 16]! << 24) | (a[ip + 17]! << 16) | (a[ip + 18]! << 8) | a[ip + 19]!;
      // Services: a tracked flow or a new connection to a frontend is translated here; the
      // capture records the packet as sent (before) and as delivered (after, with a comment).
      // NetworkPolicy is judged once per new connection, on the endpoint after DNAT; the
      // verdict lives on in conntrack, so replies and later packets pass without a lookup.
      let natted = false;
      let newPlain = false;
      const proto = a[ip + 9]!;
      const l4 = ip + ((a[ip] & 15) << 2);
      let ports = 0;
      let tcpFlags = 0;
      const px = this.proxy;
      if ((proto === 6 || proto === 17 || proto === 132) && (a[ip + 6]! & 0x1f) === 0 && a[ip + 7] === 0 && plen >= l4 - ip + (proto === 6 ? 14 : 4)) {
        ports = (a[l4]! << 24) | (a[l4 + 1]! << 16) | (a[l4 + 2]! << 8) | a[l4 + 3]!;
        tcpFlags = proto === 6 ? a[l4 + 13]! : 0;
        const verdict = px.table.byIp.size === 0 && px.ct.count === 0 ? NAT_NONE : px.classify(src, dst, proto, ports, tcpFlags, slot, srcZone, this.slotGw[slot]!, now);
        if (verdict === NAT_FLOW) {
          const f = px.flow;
          const translated = px.ct.flags(f) !== 0;
          if (px.created && !this.admit(slot, srcZone, src, px.ct.rSrc(f), proto, ports >>> 16, px.ct.rPorts(f) >>> 16, tcpFlags, 0, f, now)) {
            px.ct.remove(f);
            if (cap) this.capture.egress(slot, a, off, len, h, ts, this.policyReason);
            continue;
          }
          if (cap && translated) this.capture.egress(slot, a, off, len, h, ts, px.comment());
          px.apply(a, ip, plen, proto, tcpFlags, h !== 0 && (a[off]! & 1) === 1, now);
          if (translated) {
            dst = (a[ip + 16]! << 24) | (a[ip + 17]! << 16) | (a[ip + 18]! << 8) | a[ip + 19]!;
            natted = true;
          }
        } else if (verdict === NAT_DROP) {
          if (cap) this.capture.egress(slot, a, off, len, h, ts, px.reason);
          continue;
        } else if (verdict === NAT_REJECT) {
          if (cap) this.capture.egress(slot, a, off, len, h, ts, px.reason);
          this.icmpError(slot, ip, plen, 3, 3, px.rejectFrom);
          continue;
        } else newPlain = true;
      } else if (proto === 1 && plen >= l4 - ip + 8) {
        const type = a[l4]!;
        if ((type === 3 || type === 11 || type === 12) && px.ct.count !== 0 && px.translateIcmpError(a, ip, plen)) {
          // An ICMP error about a NAT flow (RELATED): recorded as it arrives in the capture only.
          dst = (a[ip + 16]! << 24) | (a[ip + 17]! << 16) | (a[ip + 18]! << 8) | a[ip + 19]!;
          natted = true;
        } else if (px.table.clusterIPs.has(dst)) {
          // Ping of a ClusterIP: iptables-mode kube-proxy has no rule for it; nobody answers (K5).
          px.stats.dropUndefinedPort++;
          if (cap) this.capture.egress(slot, a, off, len, h, ts, 'dropped: nothing answers ICMP for a ClusterIP (kube-proxy iptables mode)');
          continue;
        } else if (type === 8 || type === 0) {
          // Echo: tracked like a connection, keyed by its identifier.
          const id = (a[l4 + 4]! << 8) | a[l4 + 5]!;
          ports = id;
          const ref = px.ct.count === 0 ? -1 : px.ct.lookup(src, dst, id, 1);
          if (ref >= 0) {
            px.flow = ref >> 1;
            px.dir = ref & 1;
            px.apply(a, ip, plen, 1, 0, false, now);
          } else newPlain = true;
        } else if (type !== 3 && type !== 11 && type !== 12) newPlain = true; // judged per packet, untracked
      }
      const dslot = this.routes.get(dst);
      if (dslot === undefined || (srcZone === ZONE_EXTERNAL && this.slotZone[dslot] === ZONE_POD && !natted)) {
        if (natted) {
          st.dropNoRoute++;
          continue;
        }
        if (this.gateways.has(dst) && a[ip + 9] === 1 && a[ip + ((a[ip]! & 15) << 2)] === 8) {
          // Ping of the gateway: answer like a router would (unfragmented requests only).
          if (cap) this.capture.egress(slot, a, off, len, h, ts, undefined);
          if (buildEchoReplyInPlace(a, ip) !== 0) {
            if (cap) this.capture.ingress(slot, a, off, len, h, ts, undefined);
            out[i] = this.slotFd[slot]!;
            st.gatewayEchoReplies++;
          } else st.dropMalformed++;
          continue;
        }
        st.dropNoRoute++;
        if (cap) this.capture.egress(slot, a, off, len, h, ts, 'dropped: no route to host');
        this.icmpError(slot, ip, plen, 3, dslot === undefined ? 1 : 0, 0);
        continue;
      }
      if (newPlain) {
        const dport = proto === 1 ? 0 : ports & 0xffff;
        if (!this.admit(slot, srcZone, src, dst, proto, proto === 1 ? 0 : ports >>> 16, dport, tcpFlags, proto === 1 ? a[l4]! : 0, -1, now)) {
          if (cap) this.capture.egress(slot, a, off, len, h, ts, this.policyReason);
          continue;
        }
        const t = proto === 1 ? a[l4]! : -1;
        if (t === -1 || t === 8 || t === 0) {
          // Track it, so the reply (and the rest of the connection) keeps this verdict.
          const rports = proto === 1 ? ports : ((ports & 0xffff) << 16) | (ports >>> 16);
          const f = px.ct.create(proto, src, dst, ports, dst, src, rports, 0, now, '', slot);
          if (f >= 0) {
            px.flow = f;
            px.dir = 0;
            px.apply(a, ip, plen, proto, tcpFlags, false, now);
          }
        }
      }
      if (a[ip + 8]! <= 1) {
        st.dropTtl++;
        if (cap && !natted) this.capture.egress(slot, a, off, len, h, ts, 'dropped: TTL exceeded in transit');
        this.icmpError(slot, ip, plen, 11, 0, 0);
        continue;
      }
      if (cap && !natted) this.capture.egress(slot, a, off, len, h, ts, undefined);
      decTtl(a, ip);
      out[i] = this.slotFd[dslot]!;
      if (cap) this.capture.ingress(dslot, a, off, len, h, ts, natted ? this.proxy.comment() : undefined);
    }
    const failed = this.addon.writeBatch(out, a, offs, lens, count);
    st.dropWrite += failed;
    if (cap) this.capture.flush();
  };

  /**
   * ICMP error back to the sender of the packet at arena[ip], sourced from `from` (a Service
   * frontend for REJECT) or, when 0, from the sender's gateway.
   */
  private icmpError(slot: number, ip: number, plen: number, type: number, code: number, from: number): void {
    const now = Date.now() >>> 10; // ~1 s windows without a division
    if (now !== this.icmpWindow) {
      this.icmpWindow = now;
      this.icmpBudget = ICMP_PER_SECOND;
    }
    if (this.icmpBudget <= 0) {
      this.stats.icmpRateLimited++;
      return;
    }
    const h = this.vnet === 1 ? VNET_HDR_LEN : 0;
    const s = this.scratch;
    if (h) writeEmptyVnetHdr(s, 0);
    const n = buildIcmpError(s, h, type, code, from !== 0 ? from : this.slotGw[slot]!, this.arena, ip, plen, 0);
    if (n === 0) return;
    this.icmpBudget--;
    this.stats.icmpSent++;
    if (this.capture.active) {
      const ts = this.capture.now();
      this.capture.generated();
      this.capture.ingress(slot, s, 0, n + h, h, ts, 'generated by the kemu data plane');
    }
    if (this.addon.writePacket(this.slotFd[slot]!, s, 0, n + h) < 0) this.stats.dropWrite++;
  }
}

/** Coarse clock for conntrack timeouts: whole seconds. */
export function nowSeconds(): number {
  return (Date.now() / 1000) | 0;
}

function ipStr(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function describe(ep: Endpoint): string {
  if (ep.zone === 'pod') return `pod ${ep.namespace}/${ep.name}`;
  if (ep.zone === 'node') return `node ${ep.name}`;
  return 'the external client';
}
