// TCP / UDP / ICMPv4 views over (buf, ipOff): every accessor takes the offset of the IPv4
// header and finds the L4 header through the IHL, so the per-packet path never has to carry a
// second offset around. Nothing here allocates.
//
// Callers must have checked validIpv4() and l4HeaderOk() first; accessors do not bounds-check.
// Non-first fragments (isNonFirstFragment) carry no L4 header at all.

import {
  csumAdjust16,
  csumAdjust32,
  fold16,
  partialAdjust32,
  pseudoHeaderSum,
  sum16,
  udpCsumAdjust16,
  udpCsumAdjust32,
} from './checksum.js';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, ipDst, ipSrc, setDst, setSrc, writeU16 } from './ipv4.js';

// ---- offsets relative to the L4 header -------------------------------------------------------
export const TCP_SRC_PORT = 0;
export const TCP_DST_PORT = 2;
export const TCP_SEQ = 4;
export const TCP_ACK = 8;
export const TCP_DATA_OFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CSUM = 16;
export const TCP_URGENT = 18;
export const TCP_MIN_HEADER_LEN = 20;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK_FLAG = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;
/** Short aliases for the flag bits (TCP_ACK is the ack-number field offset). */
export const TCPF_FIN = TCP_FIN;
export const TCPF_SYN = TCP_SYN;
export const TCPF_RST = TCP_RST;
export const TCPF_PSH = TCP_PSH;
export const TCPF_ACK = TCP_ACK_FLAG;
export const TCPF_URG = TCP_URG;
export const TCPF_ECE = TCP_ECE;
export const TCPF_CWR = TCP_CWR;

export const UDP_SRC_PORT = 0;
export const UDP_DST_PORT = 2;
export const UDP_LENGTH = 4;
export const UDP_CSUM = 6;
export const UDP_HEADER_LEN = 8;

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CSUM = 2;
export const ICMP_ECHO_ID = 4;
export const ICMP_ECHO_SEQ = 6;
/** Destination Unreachable / Fragmentation Needed: next-hop MTU (RFC 1191). */
export const ICMP_NEXT_HOP_MTU = 6;
export const ICMP_HEADER_LEN = 8;

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_SOURCE_QUENCH = 4;
export const ICMP_REDIRECT = 5;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_ROUTER_ADVERT = 9;
export const ICMP_ROUTER_SOLICIT = 10;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;
export const ICMP_TIMESTAMP = 13;
export const ICMP_TIMESTAMP_REPLY = 14;
export const ICMP_ADDRESS_MASK_REPLY = 18;

// Destination Unreachable codes (RFC 792, 1122, 1812)
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
export const ICMP_SR_FAILED = 5;
export const ICMP_NET_UNKNOWN = 6;
export const ICMP_HOST_UNKNOWN = 7;
export const ICMP_NET_ANO = 9;
export const ICMP_HOST_ANO = 10;
export const ICMP_PKT_FILTERED = 13;
// Time Exceeded codes
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

/**
 * Is this ICMP type an error (or unknown) message, to which no ICMP error may be sent
 * (RFC 1122 3.2.2, RFC 1812 4.3.2.7)? Like Linux's icmp_send: types above 18 count as errors.
 */
export function isIcmpErrorType(type: number): boolean {
  return (
    type > ICMP_ADDRESS_MASK_REPLY ||
    type === ICMP_DEST_UNREACH ||
    type === ICMP_SOURCE_QUENCH ||
    type === ICMP_REDIRECT ||
    type === ICMP_TIME_EXCEEDED ||
    type === ICMP_PARAMETER_PROBLEM
  );
}

// ---- generic --------------------------------------------------------------------------------
/** Offset of the L4 header: ipOff + ihl*4. */
export function l4Offset(b: Uint8Array, ipOff: number): number {
  return ipOff + ((b[ipOff] & 0x0f) << 2);
}
/** L4 length per the IP header: total length - ihl*4. */
export function l4Length(b: Uint8Array, ipOff: number): number {
  return ((b[ipOff + 2] << 8) | b[ipOff + 3]) - ((b[ipOff] & 0x0f) << 2);
}
/** Offset of the checksum field within the L4 header for a protocol (TCP 16, UDP 6, ICMP 2), -1 if none. */
export function l4ChecksumOffset(proto: number): number {
  return proto === IPPROTO_TCP ? TCP_CSUM : proto === IPPROTO_UDP ? UDP_CSUM : proto === IPPROTO_ICMP ? ICMP_CSUM : -1;
}

/**
 * Does the L4 header the accessors will read fit in the packet (within min(len, total length))?
 * TCP: 20 bytes and its data offset (>= 20); UDP: 8 bytes and udp length in [8, l4 length];
 * ICMP: 8 bytes. Non-first fragments and other protocols have nothing to read: true.
 * Assumes validIpv4(b, ipOff, len) === 0.
 */
export function l4HeaderOk(b: Uint8Array, ipOff: number, len: number): boolean {
  if (((b[ipOff + 6] & 0x1f) | b[ipOff + 7]) !== 0) return true;
  const hlen = (b[ipOff] & 0x0f) << 2;
  let total = (b[ipOff + 2] << 8) | b[ipOff + 3];
  if (total > len) total = len;
  const avail = total - hlen;
  const l4 = ipOff + hlen;
  const proto = b[ipOff + 9];
  if (proto === IPPROTO_TCP) {
    if (avail < TCP_MIN_HEADER_LEN) return false;
    const doff = (b[l4 + 12] >>> 4) << 2;
    return doff >= TCP_MIN_HEADER_LEN && doff <= avail;
  }
  if (proto === IPPROTO_UDP) {
    if (avail < UDP_HEADER_LEN) return false;
    const ulen = (b[l4 + 4] << 8) | b[l4 + 5];
    // A first fragment carries the whole datagram's length; only bound it by 8 then.
    if ((b[ipOff + 6] & 0x20) !== 0) return ulen >= UDP_HEADER_LEN;
    return ulen >= UDP_HEADER_LEN && ulen <= avail;
  }
  if (proto === IPPROTO_ICMP) return avail >= ICMP_HEADER_LEN;
  return true;
}

// ---- ports (TCP, UDP, SCTP share the layout) ------------------------------------------------
export function srcPort(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2);
  return (b[o] << 8) | b[o + 1];
}
export function dstPort(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2);
  return (b[o + 2] << 8) | b[o + 3];
}
/** Raw port write, no checksum maintenance. */
export function setSrcPort(b: Uint8Array, ipOff: number, port: number): void {
  writeU16(b, ipOff + ((b[ipOff] & 0x0f) << 2), port);
}
/** Raw port write, no checksum maintenance. */
export function setDstPort(b: Uint8Array, ipOff: number, port: number): void {
  writeU16(b, ipOff + ((b[ipOff] & 0x0f) << 2) + 2, port);
}

// ---- TCP ------------------------------------------------------------------------------------
/** Sequence number as int32 (signed; compare with `(a - b) | 0`). */
export function tcpSeq(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_SEQ;
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}
/** Acknowledgment number as int32 (signed). */
export function tcpAck(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_ACK;
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}
/** TCP header length in bytes (data offset * 4). */
export function tcpDataOffset(b: Uint8Array, ipOff: number): number {
  return (b[ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_DATA_OFF] >>> 4) << 2;
}
/** Flag byte: FIN 1, SYN 2, RST 4, PSH 8, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80. */
export function tcpFlags(b: Uint8Array, ipOff: number): number {
  return b[ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_FLAGS];
}
export function tcpWindow(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_WINDOW;
  return (b[o] << 8) | b[o + 1];
}
export function tcpChecksum(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_CSUM;
  return (b[o] << 8) | b[o + 1];
}
/** TCP payload length: total length - ihl*4 - data offset. */
export function tcpPayloadLength(b: Uint8Array, ipOff: number): number {
  return l4Length(b, ipOff) - tcpDataOffset(b, ipOff);
}

// ---- UDP ------------------------------------------------------------------------------------
export function udpLength(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + UDP_LENGTH;
  return (b[o] << 8) | b[o + 1];
}
/** 0 means the sender did not compute one. */
export function udpChecksum(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + UDP_CSUM;
  return (b[o] << 8) | b[o + 1];
}

// ---- ICMP -----------------------------------------------------------------------------------
export function icmpType(b: Uint8Array, ipOff: number): number {
  return b[ipOff + ((b[ipOff] & 0x0f) << 2)];
}
export function icmpCode(b: Uint8Array, ipOff: number): number {
  return b[ipOff + ((b[ipOff] & 0x0f) << 2) + 1];
}
export function icmpChecksum(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + ICMP_CSUM;
  return (b[o] << 8) | b[o + 1];
}
/** Echo request/reply identifier. */
export function icmpEchoId(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + ICMP_ECHO_ID;
  return (b[o] << 8) | b[o + 1];
}
/** Echo request/reply sequence number. */
export function icmpEchoSeq(b: Uint8Array, ipOff: number): number {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + ICMP_ECHO_SEQ;
  return (b[o] << 8) | b[o + 1];
}
export function isIcmpEcho(b: Uint8Array, ipOff: number): boolean {
  const t = b[ipOff + ((b[ipOff] & 0x0f) << 2)];
  return t === ICMP_ECHO_REQUEST || t === ICMP_ECHO_REPLY;
}

// ---- full checksums (building, verifying; O(length)) -----------------------------------------
/** Folded, uncomplemented pseudo-header sum of this packet (what a NEEDS_CSUM packet stores). */
export function ipv4PseudoSum(b: Uint8Array, ipOff: number): number {
  return pseudoHeaderSum(ipSrc(b, ipOff), ipDst(b, ipOff), b[ipOff + 9], l4Length(b, ipOff));
}

/**
 * The correct full checksum field value for this TCP/UDP/ICMP packet, computed from scratch
 * over the L4 length given by the IP header (with the pseudo header for TCP/UDP), treating the
 * checksum field as zero. UDP's computed 0 is returned as 0xffff. Returns -1 for other protocols.
 */
export function computeL4Checksum(b: Uint8Array, ipOff: number): number {
  const proto = b[ipOff + 9];
  const co = l4ChecksumOffset(proto);
  if (co < 0) return -1;
  const l4 = l4Offset(b, ipOff);
  const len = l4Length(b, ipOff);
  const init = proto === IPPROTO_ICMP ? 0 : ipv4PseudoSum(b, ipOff);
  const field = (b[l4 + co] << 8) | b[l4 + co + 1];
  // sum over the segment including the current field, then take the field back out.
  const s = fold16(sum16(b, l4, len, init) + (~field & 0xffff));
  const r = ~s & 0xffff;
  return proto === IPPROTO_UDP && r === 0 ? 0xffff : r;
}

/** Write computeL4Checksum into the field (for packets we build). No-op for other protocols. */
export function fillL4Checksum(b: Uint8Array, ipOff: number): void {
  const co = l4ChecksumOffset(b[ipOff + 9]);
  if (co < 0) return;
  writeU16(b, l4Offset(b, ipOff) + co, computeL4Checksum(b, ipOff));
}

/**
 * Does the packet's full L4 checksum verify? UDP with a 0 field (no checksum) counts as valid.
 * Only meaningful for complete checksums (not NEEDS_CSUM packets). Other protocols: true.
 */
export function l4ChecksumOk(b: Uint8Array, ipOff: number): boolean {
  const proto = b[ipOff + 9];
  const co = l4ChecksumOffset(proto);
  if (co < 0) return true;
  const l4 = l4Offset(b, ipOff);
  if (proto === IPPROTO_UDP && b[l4 + 6] === 0 && b[l4 + 7] === 0) return true;
  const init = proto === IPPROTO_ICMP ? 0 : ipv4PseudoSum(b, ipOff);
  return sum16(b, l4, l4Length(b, ipOff), init) === 0xffff;
}

// ---- NAT rewrites: address/port/id + every checksum that covers it --------------------------
//
// `partial` = the packet came with virtio_net_hdr NEEDS_CSUM, so its TCP/UDP checksum field
// holds the uncomplemented pseudo-header sum (CHECKSUM_PARTIAL): address changes adjust it
// without the final complement, port/id changes leave it alone (the kernel completes the sum
// over the payload later). Non-first fragments have no L4 header; only the IP header changes.

function fixL4ForAddress(b: Uint8Array, ipOff: number, oldIp: number, newIp: number, partial: boolean): void {
  if (((b[ipOff + 6] & 0x1f) | b[ipOff + 7]) !== 0) return;
  const proto = b[ipOff + 9];
  let o: number;
  if (proto === IPPROTO_TCP) o = ipOff + ((b[ipOff] & 0x0f) << 2) + TCP_CSUM;
  else if (proto === IPPROTO_UDP) o = ipOff + ((b[ipOff] & 0x0f) << 2) + UDP_CSUM;
  else return;
  const field = (b[o] << 8) | b[o + 1];
  const nf = partial
    ? partialAdjust32(field, oldIp, newIp)
    : proto === IPPROTO_TCP
      ? csumAdjust32(field, oldIp, newIp)
      : udpCsumAdjust32(field, oldIp, newIp);
  b[o] = nf >>> 8;
  b[o + 1] = nf & 0xff;
}

function fixL4ForWord(b: Uint8Array, ipOff: number, old16: number, new16: number, partial: boolean): void {
  if (partial) return;
  const proto = b[ipOff + 9];
  const l4 = ipOff + ((b[ipOff] & 0x0f) << 2);
  let o: number;
  let nf: number;
  if (proto === IPPROTO_TCP) {
    o = l4 + TCP_CSUM;
    nf = csumAdjust16((b[o] << 8) | b[o + 1], old16, new16);
  } else if (proto === IPPROTO_UDP) {
    o = l4 + UDP_CSUM;
    nf = udpCsumAdjust16((b[o] << 8) | b[o + 1], old16, new16);
  } else if (proto === IPPROTO_ICMP) {
    o = l4 + ICMP_CSUM;
    nf = csumAdjust16((b[o] << 8) | b[o + 1], old16, new16);
  } else return;
  b[o] = nf >>> 8;
  b[o + 1] = nf & 0xff;
}

/** SNAT: set the source address; fix the IP header checksum and the TCP/UDP checksum. */
export function natSetSrcIp(b: Uint8Array, ipOff: number, ip: number, partial: boolean): void {
  const old = ipSrc(b, ipOff);
  setSrc(b, ipOff, ip);
  fixL4ForAddress(b, ipOff, old, ip | 0, partial);
}

/** DNAT: set the destination address; fix the IP header checksum and the TCP/UDP checksum. */
export function natSetDstIp(b: Uint8Array, ipOff: number, ip: number, partial: boolean): void {
  const old = ipDst(b, ipOff);
  setDst(b, ipOff, ip);
  fixL4ForAddress(b, ipOff, old, ip | 0, partial);
}

/** Set the TCP/UDP source port and fix the L4 checksum. Caller ensures not a non-first fragment. */
export function natSetSrcPort(b: Uint8Array, ipOff: number, port: number, partial: boolean): void {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2);
  const old = (b[o] << 8) | b[o + 1];
  b[o] = (port >>> 8) & 0xff;
  b[o + 1] = port & 0xff;
  fixL4ForWord(b, ipOff, old, port & 0xffff, partial);
}

/** Set the TCP/UDP destination port and fix the L4 checksum. */
export function natSetDstPort(b: Uint8Array, ipOff: number, port: number, partial: boolean): void {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + 2;
  const old = (b[o] << 8) | b[o + 1];
  b[o] = (port >>> 8) & 0xff;
  b[o + 1] = port & 0xff;
  fixL4ForWord(b, ipOff, old, port & 0xffff, partial);
}

/** Set an ICMP echo identifier (ICMP "port" NAT) and fix the ICMP checksum. */
export function natSetIcmpEchoId(b: Uint8Array, ipOff: number, id: number, partial: boolean): void {
  const o = ipOff + ((b[ipOff] & 0x0f) << 2) + ICMP_ECHO_ID;
  const old = (b[o] << 8) | b[o + 1];
  b[o] = (id >>> 8) & 0xff;
  b[o + 1] = id & 0xff;
  fixL4ForWord(b, ipOff, old, id & 0xffff, partial);
}
