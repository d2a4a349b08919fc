// IPv4 header view (RFC 791) over (buf, off): named offsets and accessors, smoltcp-style.
//
// Hot-path rules: every accessor takes (buf, off) and returns a number; addresses are int32
// (signed, `b[o]<<24 | ...`) so they stay Smis; nothing allocates. The helpers at the bottom
// (ipToInt, intToIp, parseCidr) are for the edges (config, API objects, logs) and may allocate.

import { csumAdjust16, csumAdjust32, ipv4HeaderChecksum } from './checksum.js';

// ---- field offsets -------------------------------------------------------------------------
export const IPV4_VER_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOTAL_LEN = 2;
export const IPV4_ID = 4;
export const IPV4_FLAGS_FRAG = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTO = 9;
export const IPV4_CSUM = 10;
export const IPV4_SRC = 12;
export const IPV4_DST = 16;
export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;

/** Bits of the 16-bit flags/fragment-offset word. */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
export const IPV4_FRAG_OFFSET_MASK = 0x1fff;

// ---- protocol numbers ----------------------------------------------------------------------
export const IPPROTO_ICMP = 1;
export const IPPROTO_IGMP = 2;
export const IPPROTO_IPIP = 4;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_GRE = 47;
export const IPPROTO_ESP = 50;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_SCTP = 132;

// ---- accessors -----------------------------------------------------------------------------
export function ipVersion(b: Uint8Array, off: number): number {
  return b[off] >>> 4;
}
/** Header length in 32-bit words. */
export function ipIhl(b: Uint8Array, off: number): number {
  return b[off] & 0x0f;
}
/** Header length in bytes (ihl * 4). */
export function ipHeaderLength(b: Uint8Array, off: number): number {
  return (b[off] & 0x0f) << 2;
}
export function ipTos(b: Uint8Array, off: number): number {
  return b[off + IPV4_TOS];
}
export function ipTotalLength(b: Uint8Array, off: number): number {
  return (b[off + 2] << 8) | b[off + 3];
}
export function ipId(b: Uint8Array, off: number): number {
  return (b[off + 4] << 8) | b[off + 5];
}
/** The raw 16-bit flags + fragment offset word. */
export function ipFlagsFrag(b: Uint8Array, off: number): number {
  return (b[off + 6] << 8) | b[off + 7];
}
/** The 3 flag bits (bit 1 = DF, bit 0 = MF, as in the header: value 2 = DF, 1 = MF). */
export function ipFlags(b: Uint8Array, off: number): number {
  return b[off + 6] >>> 5;
}
export function ipDontFragment(b: Uint8Array, off: number): boolean {
  return (b[off + 6] & 0x40) !== 0;
}
export function ipMoreFragments(b: Uint8Array, off: number): boolean {
  return (b[off + 6] & 0x20) !== 0;
}
/** Fragment offset in 8-byte units, as in the header. */
export function ipFragOffset(b: Uint8Array, off: number): number {
  return ((b[off + 6] & 0x1f) << 8) | b[off + 7];
}
/** Fragment offset in bytes. */
export function ipFragOffsetBytes(b: Uint8Array, off: number): number {
  return (((b[off + 6] & 0x1f) << 8) | b[off + 7]) << 3;
}
/** True for any fragment: MF set or a non-zero offset. */
export function isFragment(b: Uint8Array, off: number): boolean {
  return ((b[off + 6] & 0x3f) | b[off + 7]) !== 0;
}
/** True only for the first fragment of a fragmented datagram (MF set, offset 0). */
export function isFirstFragment(b: Uint8Array, off: number): boolean {
  return (b[off + 6] & 0x3f) === 0x20 && b[off + 7] === 0;
}
/** True for a fragment with a non-zero offset: it carries no L4 header (no ports, no ICMP type). */
export function isNonFirstFragment(b: Uint8Array, off: number): boolean {
  return ((b[off + 6] & 0x1f) | b[off + 7]) !== 0;
}
export function ipTtl(b: Uint8Array, off: number): number {
  return b[off + IPV4_TTL];
}
export function ipProtocol(b: Uint8Array, off: number): number {
  return b[off + IPV4_PROTO];
}
export function ipChecksum(b: Uint8Array, off: number): number {
  return (b[off + 10] << 8) | b[off + 11];
}
/** Source address as int32 (signed). */
export function ipSrc(b: Uint8Array, off: number): number {
  return (b[off + 12] << 24) | (b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15];
}
/** Destination address as int32 (signed). */
export function ipDst(b: Uint8Array, off: number): number {
  return (b[off + 16] << 24) | (b[off + 17] << 16) | (b[off + 18] << 8) | b[off + 19];
}

// ---- raw writers (no checksum maintenance) -------------------------------------------------
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
export function setIpChecksum(b: Uint8Array, off: number, v: number): void {
  b[off + 10] = (v >>> 8) & 0xff;
  b[off + 11] = v & 0xff;
}
/** Recompute and store the full header checksum (for packets we build). */
export function fillIpChecksum(b: Uint8Array, off: number): void {
  setIpChecksum(b, off, ipv4HeaderChecksum(b, off));
}

// ---- in-place rewrites with incremental header checksum (RFC 1624) --------------------------
/**
 * Set the source address and fix the IP header checksum. The L4 (TCP/UDP) pseudo-header
 * checksum is NOT touched here: use natSetSrcIp in l4.ts for NAT.
 */
export function setSrc(b: Uint8Array, off: number, ip: number): void {
  const old = ipSrc(b, off);
  writeU32(b, off + IPV4_SRC, ip);
  setIpChecksum(b, off, csumAdjust32(ipChecksum(b, off), old, ip));
}
/** Set the destination address and fix the IP header checksum (L4 untouched; see setSrc). */
export function setDst(b: Uint8Array, off: number, ip: number): void {
  const old = ipDst(b, off);
  writeU32(b, off + IPV4_DST, ip);
  setIpChecksum(b, off, csumAdjust32(ipChecksum(b, off), old, ip));
}
/** Set TTL and fix the header checksum (TTL shares a 16-bit word with the protocol). */
export function setTtl(b: Uint8Array, off: number, ttl: number): void {
  const proto = b[off + 9];
  const old16 = (b[off + 8] << 8) | proto;
  b[off + 8] = ttl & 0xff;
  setIpChecksum(b, off, csumAdjust16(ipChecksum(b, off), old16, ((ttl & 0xff) << 8) | proto));
}
/** Set the TOS byte and fix the header checksum. */
export function setTos(b: Uint8Array, off: number, tos: number): void {
  const vi = b[off];
  const old16 = (vi << 8) | b[off + 1];
  b[off + 1] = tos & 0xff;
  setIpChecksum(b, off, csumAdjust16(ipChecksum(b, off), old16, (vi << 8) | (tos & 0xff)));
}

/**
 * Router TTL handling (RFC 1812 5.3.1). If TTL <= 1 the packet is left untouched and 0 is
 * returned: the caller drops it and sends ICMP Time Exceeded. Otherwise TTL is decremented, the
 * header checksum fixed incrementally, and the new TTL (>= 1) returned.
 */
export function decTtl(b: Uint8Array, off: number): number {
  const ttl = b[off + 8];
  if (ttl <= 1) return 0;
  const proto = b[off + 9];
  const nt = ttl - 1;
  b[off + 8] = nt;
  setIpChecksum(b, off, csumAdjust16(ipChecksum(b, off), (ttl << 8) | proto, (nt << 8) | proto));
  return nt;
}

// ---- validation ----------------------------------------------------------------------------
export const IPV4_OK = 0;
/** Fewer than 20 bytes. */
export const IPV4_TOO_SHORT = 1;
/** Version nibble is not 4. */
export const IPV4_BAD_VERSION = 2;
/** IHL < 5, or the header does not fit in the bytes we have. */
export const IPV4_BAD_IHL = 3;
/** Total length > bytes we have, or < ihl*4 (0 included: IPv4 BIG TCP is not supported). */
export const IPV4_BAD_TOTAL_LENGTH = 4;
/** Fragment would extend beyond 65535 bytes. */
export const IPV4_BAD_FRAGMENT = 5;
/** Header checksum wrong (only when validIpv4 is asked to check it). */
export const IPV4_BAD_CHECKSUM = 6;

const IPV4_REASONS: readonly string[] = [
  'ok',
  'ipv4_too_short',
  'ipv4_bad_version',
  'ipv4_bad_ihl',
  'ipv4_bad_total_length',
  'ipv4_bad_fragment',
  'ipv4_bad_checksum',
];

/** Stable snake_case name of a validIpv4 reason code, for counters and logs. */
export function ipv4Reason(code: number): string {
  return code >= 0 && code < IPV4_REASONS.length ? IPV4_REASONS[code] : 'ipv4_unknown';
}

/**
 * Check that the `len` bytes at `off` start with a sane IPv4 header. Returns IPV4_OK (0) or a
 * reason code. Trailing bytes beyond the total length are allowed (padding). The header
 * checksum is verified only when `checkHeaderChecksum` is true (packets read from our own TUNs
 * come from a kernel stack and are always right, so the per-packet path skips it).
 */
export function validIpv4(b: Uint8Array, off: number, len: number, checkHeaderChecksum = false): number {
  if (len < IPV4_MIN_HEADER_LEN || off < 0 || off + IPV4_MIN_HEADER_LEN > b.length) return IPV4_TOO_SHORT;
  if (off + len > b.length) len = b.length - off;
  const vi = b[off];
  if (vi >>> 4 !== 4) return IPV4_BAD_VERSION;
  const hlen = (vi & 0x0f) << 2;
  if (hlen < IPV4_MIN_HEADER_LEN || hlen > len) return IPV4_BAD_IHL;
  const total = (b[off + 2] << 8) | b[off + 3];
  if (total > len || total < hlen) return IPV4_BAD_TOTAL_LENGTH;
  const fragBytes = (((b[off + 6] & 0x1f) << 8) | b[off + 7]) << 3;
  if (fragBytes + (total - hlen) > 65535) return IPV4_BAD_FRAGMENT;
  if (checkHeaderChecksum && ipv4HeaderChecksum(b, off) !== ipChecksum(b, off)) return IPV4_BAD_CHECKSUM;
  return IPV4_OK;
}

// ---- address classes (int32 in, boolean out) -------------------------------------------------
const NIBBLE_MASK = 0xf0000000 | 0;
const MULTICAST_NET = 0xe0000000 | 0;
/** 224.0.0.0/4 */
export function isMulticast(ip: number): boolean {
  return (ip & NIBBLE_MASK) === MULTICAST_NET;
}
/** 255.255.255.255 */
export function isLimitedBroadcast(ip: number): boolean {
  return (ip | 0) === -1;
}
/** 240.0.0.0/4, which includes 255.255.255.255 */
export function isClassE(ip: number): boolean {
  return (ip & NIBBLE_MASK) === NIBBLE_MASK;
}
/** 0.0.0.0/8 ("this network") */
export function isThisNetwork(ip: number): boolean {
  return (ip & 0xff000000) === 0;
}
/** 127.0.0.0/8 */
export function isLoopback(ip: number): boolean {
  return (ip & 0xff000000) === 0x7f000000;
}

// ---- edge helpers (may allocate; never per packet) -----------------------------------------
/**
 * Parse dotted-quad IPv4 text into an int32 (signed, the same value ipSrc/ipDst return).
 * Throws on anything but four decimal octets 0..255 (no leading zeros, as Go's net.ParseIP).
 */
export function ipToInt(s: string): number {
  const parts = s.split('.');
  if (parts.length !== 4) throw new Error(`invalid IPv4 address ${JSON.stringify(s)}`);
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) throw new Error(`invalid IPv4 address ${JSON.stringify(s)}`);
    const v = Number(p);
    if (v > 255) throw new Error(`invalid IPv4 address ${JSON.stringify(s)}`);
    n = (n << 8) | v;
  }
  return n | 0;
}

/** Dotted-quad text of an int32 or uint32 address. */
export function intToIp(n: number): string {
  return `${(n >>> 24) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Unsigned view of an int32 address (e.g. for the native addon, which takes uint32). */
export function toUint32(ip: number): number {
  return ip >>> 0;
}

/** Netmask int32 for a prefix length 0..32 (/0 = 0, /32 = -1). */
export function prefixMask(prefixLen: number): number {
  return prefixLen <= 0 ? 0 : prefixLen >= 32 ? -1 : (-1 << (32 - prefixLen)) | 0;
}

export interface Cidr {
  /** Network address as int32 (host bits cleared). */
  base: number;
  prefixLen: number;
  /** Netmask as int32. */
  mask: number;
}

/**
 * Parse "10.244.0.0/16". Host bits are cleared like Go's net.ParseCIDR does
 * ("10.244.1.7/16" gives base 10.244.0.0). Throws on malformed input.
 */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw new Error(`invalid CIDR ${JSON.stringify(s)}: missing /prefix`);
  const pl = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]?)$/.test(pl) || Number(pl) > 32) {
    throw new Error(`invalid CIDR ${JSON.stringify(s)}: prefix length must be 0..32`);
  }
  const prefixLen = Number(pl);
  let ip: number;
  try {
    ip = ipToInt(s.slice(0, slash));
  } catch {
    throw new Error(`invalid CIDR ${JSON.stringify(s)}: bad address`);
  }
  const mask = prefixMask(prefixLen);
  return { base: ip & mask, prefixLen, mask };
}

/** Is ip (int32) inside base/mask (from parseCidr)? Allocation-free; fine per packet. */
export function inCidr(ip: number, base: number, mask: number): boolean {
  return (ip & mask) === (base & mask);
}
