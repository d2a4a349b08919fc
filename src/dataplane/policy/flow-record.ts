// Flow-log records for new connections and drops: JSON with Hubble's field names where they
// fit (cilium/cilium api/v1/flow/flow.proto: time, verdict, drop_reason_desc,
// traffic_direction, IP, l4, source/destination, destination_service, is_reply, Summary, and
// the policy correlation fields ingress_allowed_by / egress_allowed_by / ingress_denied_by /
// egress_denied_by), plus Calico's rule_index on the allowing rule and, per the design notes,
// ip/port on each endpoint and an optional packet_id joining the record to the pcap.
//
// One record per connection decision (not one per observation point as Hubble emits), so
// traffic_direction is the direction that dropped, or, for a forwarded flow, INGRESS when the
// destination is a pod (the flow is delivered to an endpoint) and EGRESS otherwise.
//
// formatFlowLine() prints `hubble observe`'s compact line (hubble/pkg/printer/printer.go:
// "TIME [NODE]: SRC -> DST TYPE VERDICT (SUMMARY)", StampMilli time, ns/pod:port hosts,
// reserved identities such as "(world)"), followed by the policy that decided, in brackets.
import { intToIp } from '../wire/ipv4.js';
import {
  PROTO_ICMP,
  PROTO_SCTP,
  PROTO_TCP,
  PROTO_UDP,
  protoName,
  type EndpointMeta,
  type PolicyRef,
  type PolicyRuleRef,
  type PolicyTable,
  type VerdictInfo,
} from './table.js';

/** Cilium's reserved identities for addresses that are not pods. */
export type ReservedIdentity = 'world' | 'host' | 'remote-node';

export interface ReservedEnd {
  readonly reserved: ReservedIdentity;
  readonly node_name?: string;
}

export type FlowEnd = EndpointMeta | ReservedEnd;

export interface FlowTuple {
  /** IP protocol number (6, 17, 132, 1). */
  proto: number;
  /** int32 addresses: the client before SNAT, the endpoint after DNAT. */
  srcIp: number;
  srcPort: number;
  dstIp: number;
  dstPort: number;
  /** TCP flags byte of the packet that opened the flow (0x02 = SYN). */
  tcpFlags?: number;
  icmpType?: number;
  icmpCode?: number;
}

export interface FlowRecordInput {
  time: Date | number;
  info: VerdictInfo;
  tuple: FlowTuple;
  source: FlowEnd;
  destination: FlowEnd;
  /** The Service the client addressed: "ns/name", with the original VIP and port. */
  destinationService?: { service: string; vip: number | string; port: number };
  nodeName?: string;
  packetId?: number;
}

export interface FlowPolicy {
  namespace: string;
  name: string;
  kind: 'NetworkPolicy';
  rule_index?: number;
}

export interface FlowEndpointJson {
  namespace?: string;
  pod_name?: string;
  labels: string[];
  ip: string;
  port?: number;
}

export interface FlowRecord {
  time: string;
  verdict: 'FORWARDED' | 'DROPPED';
  drop_reason?: number;
  drop_reason_desc?: 'POLICY_DENIED';
  traffic_direction: 'INGRESS' | 'EGRESS';
  IP: { source: string; destination: string; ipVersion: 'IPv4' };
  l4: Record<string, Record<string, unknown>>;
  source: FlowEndpointJson;
  destination: FlowEndpointJson;
  destination_service?: { namespace: string; name: string; ip: string; port: number };
  node_name?: string;
  ingress_allowed_by?: FlowPolicy[];
  egress_allowed_by?: FlowPolicy[];
  ingress_denied_by?: FlowPolicy[];
  egress_denied_by?: FlowPolicy[];
  is_reply: false;
  packet_id?: number;
  Summary: string;
}

/** Cilium's numeric drop reason for POLICY_DENIED (flow.proto DropReason). */
export const DROP_REASON_POLICY_DENIED = 133;

function isReserved(e: FlowEnd): e is ReservedEnd {
  return (e as ReservedEnd).reserved !== undefined;
}

/** The flow-log view of an address: its pod, or a reserved identity (own node = host). */
export function flowEnd(table: PolicyTable, ip: number, observerNode?: string): FlowEnd {
  const pod = table.podByIp(ip);
  if (pod) return pod.meta;
  const node = table.nodes.get(ip | 0);
  if (node !== undefined) return { reserved: node === observerNode ? 'host' : 'remote-node', node_name: node };
  return { reserved: 'world' };
}

const TCP_FLAG_NAMES: [number, string][] = [
  [0x02, 'SYN'],
  [0x01, 'FIN'],
  [0x04, 'RST'],
  [0x08, 'PSH'],
  [0x10, 'ACK'],
  [0x20, 'URG'],
  [0x40, 'ECE'],
  [0x80, 'CWR'],
];

const ICMP_TYPES: Record<number, string> = { 0: 'EchoReply', 3: 'DestinationUnreachable', 8: 'EchoRequest', 11: 'TimeExceeded' };

function summary(t: FlowTuple): string {
  switch (t.proto) {
    case PROTO_TCP: {
      if (t.tcpFlags === undefined) return 'TCP';
      const names = TCP_FLAG_NAMES.filter(([b]) => (t.tcpFlags! & b) !== 0).map(([, n]) => n);
      return `TCP Flags: ${names.join(', ')}`;
    }
    case PROTO_UDP:
      return 'UDP';
    case PROTO_SCTP:
      return 'SCTP';
    case PROTO_ICMP:
      return `ICMPv4 ${t.icmpType !== undefined ? (ICMP_TYPES[t.icmpType] ?? `type ${t.icmpType}`) : ''}`.trimEnd();
    default:
      return protoName(t.proto);
  }
}

function l4(t: FlowTuple): Record<string, Record<string, unknown>> {
  switch (t.proto) {
    case PROTO_TCP: {
      const o: Record<string, unknown> = { source_port: t.srcPort, destination_port: t.dstPort };
      if (t.tcpFlags !== undefined) {
        const flags: Record<string, boolean> = {};
        for (const [b, n] of TCP_FLAG_NAMES) if (t.tcpFlags & b) flags[n] = true;
        o.flags = flags;
      }
      return { TCP: o };
    }
    case PROTO_UDP:
      return { UDP: { source_port: t.srcPort, destination_port: t.dstPort } };
    case PROTO_SCTP:
      return { SCTP: { source_port: t.srcPort, destination_port: t.dstPort } };
    case PROTO_ICMP:
      return { ICMPv4: { type: t.icmpType ?? 0, code: t.icmpCode ?? 0 } };
    default:
      return {};
  }
}

function hasPorts(proto: number): boolean {
  return proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP;
}

function endpointJson(e: FlowEnd, ip: number, port: number, withPort: boolean): FlowEndpointJson {
  const base: FlowEndpointJson = isReserved(e)
    ? { labels: [`reserved:${e.reserved}`], ip: intToIp(ip) }
    : { namespace: e.namespace, pod_name: e.pod_name, labels: [...e.labels], ip: intToIp(ip) };
  if (withPort) base.port = port;
  return base;
}

const ruleRefs = (l: readonly PolicyRuleRef[]): FlowPolicy[] =>
  l.map((r) => ({ namespace: r.namespace, name: r.name, kind: 'NetworkPolicy', rule_index: r.rule_index }));
const policyRefs = (l: readonly PolicyRef[]): FlowPolicy[] => l.map((r) => ({ namespace: r.namespace, name: r.name, kind: 'NetworkPolicy' }));

/** Build one flow-log record (a plain JSON-able object). */
export function flowRecord(input: FlowRecordInput): FlowRecord {
  const { info, tuple: t } = input;
  const dropped = info.verdict === 'DROPPED';
  const withPorts = hasPorts(t.proto);
  const direction = dropped ? info.deniedDirection! : isReserved(input.destination) ? 'egress' : 'ingress';
  const rec: FlowRecord = {
    time: new Date(input.time).toISOString(),
    verdict: dropped ? 'DROPPED' : 'FORWARDED',
    ...(dropped ? { drop_reason: DROP_REASON_POLICY_DENIED, drop_reason_desc: 'POLICY_DENIED' as const } : {}),
    traffic_direction: direction === 'ingress' ? 'INGRESS' : 'EGRESS',
    IP: { source: intToIp(t.srcIp), destination: intToIp(t.dstIp), ipVersion: 'IPv4' },
    l4: l4(t),
    source: endpointJson(input.source, t.srcIp, t.srcPort, withPorts),
    destination: endpointJson(input.destination, t.dstIp, t.dstPort, withPorts),
    is_reply: false,
    Summary: summary(t),
  };
  if (input.destinationService) {
    const s = input.destinationService.service;
    const i = s.indexOf('/');
    rec.destination_service = {
      namespace: i > 0 ? s.slice(0, i) : 'default',
      name: i > 0 ? s.slice(i + 1) : s,
      ip: typeof input.destinationService.vip === 'number' ? intToIp(input.destinationService.vip) : input.destinationService.vip,
      port: input.destinationService.port,
    };
  }
  if (input.nodeName) rec.node_name = input.nodeName;
  if (info.ingress_allowed_by.length) rec.ingress_allowed_by = ruleRefs(info.ingress_allowed_by);
  if (info.egress_allowed_by.length) rec.egress_allowed_by = ruleRefs(info.egress_allowed_by);
  if (info.ingress_denied_by.length) rec.ingress_denied_by = policyRefs(info.ingress_denied_by);
  if (info.egress_denied_by.length) rec.egress_denied_by = policyRefs(info.egress_denied_by);
  if (input.packetId !== undefined) rec.packet_id = input.packetId;
  // Key order in JSON: keep Summary last, like Hubble's jsonpb output ends with it.
  const { Summary, ...rest } = rec;
  return { ...rest, Summary } as FlowRecord;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number) => String(n).padStart(2, '0');

/** Go's time.StampMilli ("Jan _2 15:04:05.000"), local time unless utc. */
export function stampMilli(d: Date, utc = false): string {
  const [mo, day, h, m, s, ms] = utc
    ? [d.getUTCMonth(), d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${MONTHS[mo]} ${String(day).padStart(2, ' ')} ${p2(h)}:${p2(m)}:${p2(s)}.${String(ms).padStart(3, '0')}`;
}

function host(e: FlowEndpointJson): string {
  const h = e.pod_name ? `${e.namespace}/${e.pod_name}` : e.ip;
  return e.port ? `${h}:${e.port}` : h;
}

function identity(e: FlowEndpointJson): string {
  const r = e.labels.find((l) => l.startsWith('reserved:'));
  return r ? ` (${r.slice('reserved:'.length)})` : '';
}

const policyText = (l: FlowPolicy[]) => l.map((p) => `${p.namespace}/${p.name}${p.rule_index !== undefined ? ` rule ${p.rule_index}` : ''}`).join(', ');

/**
 * `hubble observe` compact line, then kemu's reason:
 *   Mar  4 10:00:00.123 [kemu-worker]: default/frontend:43210 -> production/backend:8080 Policy denied DROPPED (TCP Flags: SYN) [ingress denied by production/default-deny-ingress]
 */
export function formatFlowLine(r: FlowRecord, opts: { utc?: boolean; nodeName?: boolean } = {}): string {
  const node = opts.nodeName && r.node_name ? ` [${r.node_name}]` : '';
  const type = r.verdict === 'DROPPED' ? 'Policy denied' : r.destination.pod_name ? 'to-endpoint' : 'to-network';
  const why: string[] = [];
  if (r.egress_denied_by && r.traffic_direction === 'EGRESS' && r.verdict === 'DROPPED') why.push(`egress denied by ${policyText(r.egress_denied_by)}`);
  if (r.ingress_denied_by && (r.traffic_direction === 'INGRESS' || !r.egress_denied_by)) why.push(`ingress denied by ${policyText(r.ingress_denied_by)}`);
  if (r.egress_allowed_by) why.push(`egress allowed by ${policyText(r.egress_allowed_by)}`);
  if (r.ingress_allowed_by) why.push(`ingress allowed by ${policyText(r.ingress_allowed_by)}`);
  if (r.destination_service) why.push(`service ${r.destination_service.namespace}/${r.destination_service.name} ${r.destination_service.ip}:${r.destination_service.port}`);
  const tail = why.length ? ` [${why.join('; ')}]` : '';
  return `${stampMilli(new Date(r.time), opts.utc)}${node}: ${host(r.source)}${identity(r.source)} -> ${host(r.destination)}${identity(r.destination)} ${type} ${r.verdict} (${r.Summary})${tail}`;
}
