// kube-proxy in the packet path: for each packet, either it belongs to a tracked NAT flow (and
// is translated like its flow), or it opens a new connection to a Service frontend (and an
// endpoint is chosen, the flow created and the packet translated), or it is none of our
// business. Decisions follow iptables mode: random endpoint, ClientIP affinity, REJECT when a
// port has no endpoints, DROP on a Local-policy miss, masquerade for external traffic with
// policy Cluster and for hairpin, nothing for ping or undefined ports of a ClusterIP.
// classify() decides (and creates the flow); apply() rewrites the bytes, so the router can
// record the packet as it was before translation in between.
import { Conntrack, DIR_ORIG, F_DNAT, F_SNAT } from '../conntrack/table.js';
import { STATE_NAMES, TIMEOUTS, UDP_REPLIED, UDP_UNREPLIED, tcpNext } from '../conntrack/tcp-state.js';
import { natSetDstIp, natSetDstPort, natSetSrcIp, natSetSrcPort } from '../wire/l4.js';
import { checksum, ipv4HeaderChecksum } from '../wire/checksum.js';
import { EMPTY_TABLE, FE_CLUSTER_IP, FE_KIND_NAMES, FE_LOAD_BALANCER, FE_NODE_PORT, type Frontend, type ServicePort, type ServiceTable } from './table.js';

export const NAT_NONE = 0;
export const NAT_FLOW = 1;
export const NAT_DROP = 2;
export const NAT_REJECT = 3;

export const ZONE_POD = 0;
export const ZONE_NODE = 1;
export const ZONE_EXTERNAL = 2;

export class ProxyStats {
  natNew = 0;
  natPackets = 0;
  rejectNoEndpoints = 0;
  dropNoLocalEndpoints = 0;
  dropSourceRange = 0;
  dropUndefinedPort = 0;
  dropInvalid = 0;
  dropConntrackFull = 0;
  staleFlowsFlushed = 0;
}

interface Affinity {
  ip: number;
  port: number;
  expires: number;
}

function ipStr(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class ServiceProxy {
  table: ServiceTable = EMPTY_TABLE;
  readonly ct: Conntrack;
  readonly stats = new ProxyStats();
  /** Slot -> node index in the current table (-1: none). Kept by the router. */
  readonly slotNode: Int32Array;
  /** Per service-port key: client IP -> sticky endpoint. Survives table swaps. */
  private readonly affinity = new Map<string, Map<number, Affinity>>();
  // Results of classify() for the router.
  flow = -1;
  dir = 0;
  /** Whether classify() just created this.flow (a new connection). */
  created = false;
  /** Why the last packet was dropped or rejected (for capture comments). */
  reason = '';
  /** Source of the ICMP error for NAT_REJECT (the frontend address). */
  rejectFrom = 0;

  constructor(maxSlots: number, conntrackMax = 262144) {
    this.ct = new Conntrack(conntrackMax);
    this.slotNode = new Int32Array(maxSlots).fill(-1);
  }

  /**
   * Classifies the IPv4 packet at a[ip]. `ports` = sport << 16 | dport (TCP/UDP), `flags` the
   * TCP flags (0 otherwise). Returns NAT_NONE, NAT_FLOW (this.flow/this.dir set), NAT_DROP or
   * NAT_REJECT (this.reason, this.rejectFrom set).
   */
  classify(src: number, dst: number, proto: number, ports: number, flags: number, slot: number, zone: number, gw: number, now: number): number {
    const ct = this.ct;
    if (ct.count !== 0) {
      const ref = ct.lookup(src, dst, ports, proto);
      if (ref >= 0) {
        this.flow = ref >> 1;
        this.dir = ref & 1;
        this.created = false;
        return NAT_FLOW;
      }
    }
    const t = this.table;
    const m = t.byIp.get(dst);
    if (m === undefined) return NAT_NONE;
    const fe = proto === 6 || proto === 17 || proto === 132 ? m.get(((ports & 0xffff) << 2) | (proto === 6 ? 0 : proto === 17 ? 1 : 2)) : undefined;
    if (fe === undefined) {
      if (t.clusterIPs.has(dst)) {
        // iptables mode: no rule matches, the packet goes nowhere (ping of a ClusterIP, K5/K6).
        this.stats.dropUndefinedPort++;
        this.reason = 'dropped: no Service port matches this ClusterIP port/protocol (kube-proxy iptables mode)';
        return NAT_DROP;
      }
      return NAT_NONE; // a node IP on a non-NodePort port: ordinary traffic to the node
    }
    if (proto === 6 && (flags & 0x12) !== 0x02) {
      // Not a SYN and no flow: conntrack calls it INVALID and kube-proxy drops it (K25).
      this.stats.dropInvalid++;
      this.reason = 'dropped: TCP segment without a tracked connection (conntrack INVALID)';
      return NAT_DROP;
    }
    return this.open(fe, src, dst, proto, ports, slot, zone, gw, now);
  }

  private open(fe: Frontend, src: number, dst: number, proto: number, ports: number, slot: number, zone: number, gw: number, now: number): number {
    const sp = fe.sp;
    if (fe.kind === FE_LOAD_BALANCER && sp.sourceRanges.length !== 0 && !inRanges(src, sp.sourceRanges)) {
      this.stats.dropSourceRange++;
      this.reason = `dropped: ${sp.key} loadBalancerSourceRanges do not include ${ipStr(src)}`;
      return NAT_DROP;
    }
    if (sp.cluster.length === 0) {
      this.stats.rejectNoEndpoints++;
      this.reason = `rejected: ${sp.key} has no endpoints`;
      this.rejectFrom = dst;
      return NAT_REJECT;
    }
    const external = fe.kind !== FE_CLUSTER_IP;
    let set = sp.cluster;
    let snat = 0;
    if (!external) {
      if (sp.internalLocal) {
        const n = this.slotNode[slot]!;
        const l = n >= 0 ? sp.local[n] : undefined;
        if (l === undefined || l.length === 0) return this.noLocal(sp);
        set = l;
      }
    } else if (zone === ZONE_EXTERNAL) {
      if (sp.externalLocal) {
        if (fe.kind === FE_NODE_PORT) {
          const l = sp.local[fe.node];
          if (l === undefined || l.length === 0) return this.noLocal(sp);
          set = l;
        }
        // LB/external IPs: the load balancer only sends to nodes with local endpoints, so any
        // endpoint will do, and the client's address is kept.
      } else snat = -1; // masquerade; the address depends on the endpoint chosen below
    }
    // Pods and nodes reaching external frontends are short-circuited to the Cluster endpoints
    // without masquerade (kube-proxy's detect-local rule).
    const e = this.choose(sp, set, src, now);
    const ep = sp.endpoints[e]!;
    if (snat === -1) {
      const n = fe.kind === FE_NODE_PORT ? fe.node : ep.node;
      snat = n >= 0 ? this.table.nodeIps[n]! : this.table.nodeIps[0] ?? gw;
    }
    if (ep.ip === src) snat = gw; // hairpin: back to oneself, seen as coming from the gateway
    const sport = ports >>> 16;
    const rPortsBase = (ep.port << 16) | 0;
    let f = -1;
    if (snat !== 0) {
      f = this.ct.create(proto, src, dst, ports, ep.ip, snat, rPortsBase | sport, F_DNAT | F_SNAT, now, sp.key, slot);
      for (let tries = 0; f < 0 && this.ct.lastFailure === 2 && tries < 16; tries++) {
        const p = 32768 + ((Math.random() * 28232) | 0);
        f = this.ct.create(proto, src, dst, ports, ep.ip, snat, rPortsBase | p, F_DNAT | F_SNAT, now, sp.key, slot);
      }
    } else {
      f = this.ct.create(proto, src, dst, ports, ep.ip, src, rPortsBase | sport, F_DNAT, now, sp.key, slot);
      // The reply tuple is taken (the same client port already talks to this endpoint port
      // through another Service): like netfilter's NAT clash resolution, keep the address and
      // pick another source port.
      for (let tries = 0; f < 0 && this.ct.lastFailure === 2 && tries < 16; tries++) {
        const p = 32768 + ((Math.random() * 28232) | 0);
        f = this.ct.create(proto, src, dst, ports, ep.ip, src, rPortsBase | p, F_DNAT | F_SNAT, now, sp.key, slot);
      }
    }
    if (f < 0) {
      this.stats.dropConntrackFull++;
      this.reason = 'dropped: conntrack table full (or no free SNAT port)';
      return NAT_DROP;
    }
    this.stats.natNew++;
    this.flow = f;
    this.dir = DIR_ORIG;
    this.created = true;
    return NAT_FLOW;
  }

  private noLocal(sp: ServicePort): number {
    this.stats.dropNoLocalEndpoints++;
    this.reason = `dropped: ${sp.key} has no local endpoints`;
    return NAT_DROP;
  }

  /** A random endpoint of `set`, or the client's sticky one under ClientIP affinity. */
  private choose(sp: ServicePort, set: Int32Array, client: number, now: number): number {
    if (sp.affinitySeconds === 0) return set[(Math.random() * set.length) | 0]!;
    let m = this.affinity.get(sp.key);
    if (!m) this.affinity.set(sp.key, (m = new Map()));
    const a = m.get(client);
    if (a !== undefined && a.expires > now) {
      for (let i = 0; i < set.length; i++) {
        const ep = sp.endpoints[set[i]!]!;
        if (ep.ip === a.ip && ep.port === a.port) {
          a.expires = now + sp.affinitySeconds; // refreshed by each new connection (-m recent --set)
          return set[i]!;
        }
      }
    }
    const e = set[(Math.random() * set.length) | 0]!;
    const ep = sp.endpoints[e]!;
    m.set(client, { ip: ep.ip, port: ep.port, expires: now + sp.affinitySeconds });
    return e;
  }

  /** Rewrites the packet at a[ip] for this.flow/this.dir and advances the flow's state. */
  apply(a: Uint8Array, ip: number, plen: number, proto: number, flags: number, partial: boolean, now: number): void {
    const ct = this.ct;
    const f = this.flow;
    const fl = ct.flags(f);
    if (fl === 0) {
      // A tracked flow without translation (kept for NetworkPolicy's stateful verdicts).
    } else if (this.dir === DIR_ORIG) {
      if (fl & F_DNAT) {
        natSetDstIp(a, ip, ct.rSrc(f), partial);
        natSetDstPort(a, ip, ct.rPorts(f) >>> 16, partial);
      }
      if (fl & F_SNAT) {
        natSetSrcIp(a, ip, ct.rDst(f), partial);
        const p = ct.rPorts(f) & 0xffff;
        if (p !== ct.oPorts(f) >>> 16) natSetSrcPort(a, ip, p, partial);
      }
    } else {
      natSetSrcIp(a, ip, ct.oDst(f), partial);
      natSetSrcPort(a, ip, ct.oPorts(f) & 0xffff, partial);
      if (fl & F_SNAT) {
        natSetDstIp(a, ip, ct.oSrc(f), partial);
        const p = ct.oPorts(f) >>> 16;
        if (p !== (ct.rPorts(f) & 0xffff)) natSetDstPort(a, ip, p, partial);
      }
    }
    let st = ct.state(f);
    if (proto === 6) {
      const r = tcpNext(st, ct.fin(f), flags, this.dir !== DIR_ORIG);
      st = r & 0xff;
      ct.setState(f, st, r >> 8);
    } else if (proto === 17 && this.dir !== DIR_ORIG && st === UDP_UNREPLIED) {
      st = UDP_REPLIED;
      ct.setState(f, st, 0);
    }
    ct.setExpires(f, now + TIMEOUTS[st]!);
    ct.account(f, this.dir, plen);
    if (fl !== 0) this.stats.natPackets++;
  }

  /**
   * An ICMP error (unreachable, time exceeded, parameter problem) about a packet of a NAT flow,
   * sent by the endpoint back towards the client: netfilter calls it RELATED and translates
   * both the outer and the quoted inner header, so the client's socket sees its own
   * connection (the VIP) in the error — `nc -u` to a Service whose endpoint has no listener
   * then reports "Connection refused" as it would on a cluster. Returns true if translated.
   */
  translateIcmpError(a: Uint8Array, ip: number, plen: number): boolean {
    const ct = this.ct;
    if (ct.count === 0) return false;
    const ihl = (a[ip]! & 15) << 2;
    const icmp = ip + ihl;
    const t = a[icmp]!;
    if (t !== 3 && t !== 11 && t !== 12) return false;
    const inner = icmp + 8;
    if (plen < ihl + 8 + 20) return false;
    const iihl = (a[inner]! & 15) << 2;
    if (plen < ihl + 8 + iihl + 4) return false;
    const proto = a[inner + 9]!;
    if (proto !== 6 && proto !== 17 && proto !== 132) return false;
    const isrc = (a[inner + 12]! << 24) | (a[inner + 13]! << 16) | (a[inner + 14]! << 8) | a[inner + 15]!;
    const idst = (a[inner + 16]! << 24) | (a[inner + 17]! << 16) | (a[inner + 18]! << 8) | a[inner + 19]!;
    const il4 = inner + iihl;
    const isport = (a[il4]! << 8) | a[il4 + 1]!;
    const idport = (a[il4 + 2]! << 8) | a[il4 + 3]!;
    // The quoted packet went client -> endpoint, so its reverse is the flow's reply tuple.
    const ref = ct.lookup(idst, isrc, (idport << 16) | isport, proto);
    if (ref < 0 || (ref & 1) !== 1) return false;
    const f = ref >> 1;
    const oSrc = ct.oSrc(f);
    const oDst = ct.oDst(f);
    const oPorts = ct.oPorts(f);
    // Inner: as the client sent it.
    writeIp(a, inner + 12, oSrc);
    writeIp(a, inner + 16, oDst);
    a[il4] = oPorts >>> 24;
    a[il4 + 1] = (oPorts >>> 16) & 255;
    a[il4 + 2] = (oPorts >>> 8) & 255;
    a[il4 + 3] = oPorts & 255;
    a[inner + 10] = 0;
    a[inner + 11] = 0;
    const ic = ipv4HeaderChecksum(a, inner);
    a[inner + 10] = ic >>> 8;
    a[inner + 11] = ic & 255;
    // Outer: from the frontend (when the error comes from the endpoint itself) to the client.
    const osrc = (a[ip + 12]! << 24) | (a[ip + 13]! << 16) | (a[ip + 14]! << 8) | a[ip + 15]!;
    if (osrc === ct.rSrc(f)) natSetSrcIp(a, ip, oDst, false);
    natSetDstIp(a, ip, oSrc, false);
    a[icmp + 2] = 0;
    a[icmp + 3] = 0;
    const c = checksum(a, icmp, plen - ihl, 0);
    a[icmp + 2] = c >>> 8;
    a[icmp + 3] = c & 255;
    this.flow = f;
    this.dir = 1;
    return true;
  }

  /** The capture comment of a translated packet (built only when someone captures). */
  comment(): string {
    const ct = this.ct;
    const f = this.flow;
    const fe = `${ipStr(ct.oDst(f))}:${ct.oPorts(f) & 0xffff}`;
    const ep = `${ipStr(ct.rSrc(f))}:${ct.rPorts(f) >>> 16}`;
    const snat = ct.flags(f) & F_SNAT ? `, SNAT ${ipStr(ct.oSrc(f))}:${ct.oPorts(f) >>> 16} -> ${ipStr(ct.rDst(f))}:${ct.rPorts(f) & 0xffff}` : '';
    return this.dir === DIR_ORIG
      ? `service ${ct.service(f)}: DNAT ${fe} -> endpoint ${ep}${snat}`
      : `service ${ct.service(f)}: reply from endpoint ${ep} rewritten to ${fe}${snat ? ' (un-SNAT)' : ''}`;
  }

  /**
   * Swap in a new table. UDP flows whose endpoint is no longer usable for their Service port
   * are flushed (kube-proxy's conntrack cleanup), so a client that keeps its source port
   * reaches a new endpoint instead of a dead one (K24).
   */
  setTable(t: ServiceTable, slotNodeName: (slot: number) => string | undefined): void {
    const usable = new Map<string, Set<number>>();
    for (const sp of t.ports) {
      const s = new Set<number>();
      for (const i of sp.cluster) s.add(sp.endpoints[i]!.ip * 65536 + sp.endpoints[i]!.port);
      for (const l of sp.local) if (l) for (const i of l) s.add(sp.endpoints[i]!.ip * 65536 + sp.endpoints[i]!.port);
      usable.set(sp.key, s);
    }
    this.table = t;
    for (let s = 0; s < this.slotNode.length; s++) {
      const n = slotNodeName(s);
      this.slotNode[s] = n === undefined ? -1 : (t.nodeIndex.get(n) ?? -1);
    }
    const ct = this.ct;
    if (ct.count !== 0) {
      this.stats.staleFlowsFlushed += ct.removeWhere((f) => {
        if (ct.proto(f) !== 17 || ct.flags(f) === 0) return false;
        const s = usable.get(ct.service(f));
        return !s || !s.has(ct.rSrc(f) * 65536 + (ct.rPorts(f) >>> 16));
      });
    }
    for (const key of [...this.affinity.keys()]) if (!usable.has(key)) this.affinity.delete(key);
  }

  /** Flows for `kemu conntrack`. */
  list(now: number, filter: (slot: number) => boolean): object[] {
    const out: object[] = [];
    for (const f of this.ct.flows()) {
      if (!filter(this.ct.clientSlot(f))) continue;
      const v = this.ct.view(f, now);
      out.push({
        protocol: v.proto === 6 ? 'tcp' : v.proto === 17 ? 'udp' : v.proto === 132 ? 'sctp' : String(v.proto),
        state: STATE_NAMES[v.state],
        service: v.service,
        original: { src: ipStr(v.origSrc), sport: v.origSport, dst: ipStr(v.origDst), dport: v.origDport },
        reply: { src: ipStr(v.replySrc), sport: v.replySport, dst: ipStr(v.replyDst), dport: v.replyDport },
        snat: (v.flags & F_SNAT) !== 0,
        expiresIn: v.expiresIn,
        packets: v.packets,
        bytes: v.bytes,
        clientSlot: v.clientSlot,
      });
    }
    return out;
  }

  describeFrontend(fe: Frontend): string {
    return `${FE_KIND_NAMES[fe.kind]} ${ipStr(fe.ip)}`;
  }
}

function writeIp(a: Uint8Array, o: number, v: number): void {
  a[o] = v >>> 24;
  a[o + 1] = (v >>> 16) & 255;
  a[o + 2] = (v >>> 8) & 255;
  a[o + 3] = v & 255;
}

function inRanges(ip: number, r: Int32Array): boolean {
  for (let i = 0; i < r.length; i += 2) if ((ip & r[i + 1]!) === r[i]) return true;
  return false;
}
