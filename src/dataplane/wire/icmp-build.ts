// Allocation-free ICMPv4 builders for the router: errors (Destination Unreachable, Time
// Exceeded, ...) written into a caller-provided scratch buffer, and echo replies made in place.

import { checksum, csumAdjust16 } from './checksum.js';
import {
  IPPROTO_ICMP,
  IPV4_OK,
  fillIpChecksum,
  ipDst,
  ipHeaderLength,
  ipSrc,
  ipTotalLength,
  isClassE,
  isFragment,
  isLimitedBroadcast,
  isLoopback,
  isMulticast,
  isNonFirstFragment,
  isThisNetwork,
  setTtl,
  validIpv4,
  writeU16,
  writeU32,
} from './ipv4.js';
import { ICMP_CSUM, ICMP_DEST_UNREACH, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_FRAG_NEEDED, isIcmpErrorType } from './l4.js';

/** TTL of packets the emulated router originates (Linux's default ip_default_ttl). */
export const ICMP_ERROR_TTL = 64;
/** Bytes of the original datagram's payload quoted after its IP header (RFC 792). */
export const ICMP_QUOTE_PAYLOAD = 8;
/** Largest packet buildIcmpError can produce: 20 + 8 + 60 + 8. */
export const ICMP_ERROR_MAX_LEN = 96;

let nextIpId = 0;

/**
 * Build an ICMPv4 error about the IPv4 packet at orig[origIpOff .. origIpOff+origLen) into
 * out[outOff ..]: from `routerIp` (int32) to the original source, TTL 64, TOS
 * (orig TOS & 0x1e) | 0xc0 as Linux sends, quoting the original IP header (with options) and the
 * first 8 bytes of its payload (as they are: a CHECKSUM_PARTIAL L4 checksum is quoted as-is).
 * For Destination Unreachable / Fragmentation Needed (3/4) a non-zero `mtuOrZero` is written as
 * the next-hop MTU (RFC 1191). IP and ICMP checksums are complete.
 *
 * Returns the length of the IP packet written, or 0 when no error may be sent
 * (RFC 1122 3.2.2, RFC 1812 4.3.2.7) or it cannot be built:
 *  - the original is not a valid IPv4 packet, or `out` is too small;
 *  - the original is an ICMP error (or unknown ICMP type), or its ICMP type is not present;
 *  - the original is a non-first fragment;
 *  - its source is not a single host: 0/8, 127/8, multicast 224/4, class E 240/4 (incl. 255.255.255.255);
 *  - its destination is multicast or the limited broadcast.
 */
export function buildIcmpError(
  out: Uint8Array,
  outOff: number,
  type: number,
  code: number,
  routerIp: number,
  orig: Uint8Array,
  origIpOff: number,
  origLen: number,
  mtuOrZero: number,
): number {
  if (validIpv4(orig, origIpOff, origLen) !== IPV4_OK) return 0;
  if (isNonFirstFragment(orig, origIpOff)) return 0;
  const ohl = ipHeaderLength(orig, origIpOff);
  let avail = ipTotalLength(orig, origIpOff);
  if (avail > origLen) avail = origLen;
  if (orig[origIpOff + 9] === IPPROTO_ICMP) {
    if (avail <= ohl) return 0;
    if (isIcmpErrorType(orig[origIpOff + ohl])) return 0;
  }
  const src = ipSrc(orig, origIpOff);
  if (isThisNetwork(src) || isLoopback(src) || isMulticast(src) || isClassE(src)) return 0;
  const dst = ipDst(orig, origIpOff);
  if (isMulticast(dst) || isLimitedBroadcast(dst)) return 0;

  let quote = ohl + ICMP_QUOTE_PAYLOAD;
  if (quote > avail) quote = avail;
  const total = 20 + 8 + quote;
  if (outOff < 0 || outOff + total > out.length) return 0;

  const o = outOff;
  // IPv4 header
  out[o] = 0x45;
  out[o + 1] = (orig[origIpOff + 1] & 0x1e) | 0xc0;
  writeU16(out, o + 2, total);
  nextIpId = (nextIpId + 1) & 0xffff;
  writeU16(out, o + 4, nextIpId);
  out[o + 6] = 0;
  out[o + 7] = 0;
  out[o + 8] = ICMP_ERROR_TTL;
  out[o + 9] = IPPROTO_ICMP;
  out[o + 10] = 0;
  out[o + 11] = 0;
  writeU32(out, o + 12, routerIp);
  writeU32(out, o + 16, src);
  fillIpChecksum(out, o);

  // ICMP header
  const ic = o + 20;
  out[ic] = type & 0xff;
  out[ic + 1] = code & 0xff;
  out[ic + 2] = 0;
  out[ic + 3] = 0;
  out[ic + 4] = 0;
  out[ic + 5] = 0;
  if (type === ICMP_DEST_UNREACH && code === ICMP_FRAG_NEEDED && mtuOrZero > 0) {
    writeU16(out, ic + 6, mtuOrZero);
  } else {
    out[ic + 6] = 0;
    out[ic + 7] = 0;
  }
  const q = ic + 8;
  for (let i = 0; i < quote; i++) out[q + i] = orig[origIpOff + i];
  writeU16(out, ic + ICMP_CSUM, checksum(out, ic, 8 + quote, 0));
  return total;
}

/**
 * Turn the ICMP echo request at buf[ipOff..] into the echo reply in place: swap source and
 * destination (the IP header sum is unchanged by a swap), TTL reset to 64, type 8 -> 0 with an
 * incremental ICMP checksum fix; id, sequence and data stay. Returns the IP total length, or 0
 * (packet untouched) if it is not an unfragmented ICMP echo request. Assumes validIpv4 and
 * l4HeaderOk passed.
 */
export function buildEchoReplyInPlace(buf: Uint8Array, ipOff: number): number {
  if (buf[ipOff + 9] !== IPPROTO_ICMP || isFragment(buf, ipOff)) return 0;
  const ic = ipOff + ipHeaderLength(buf, ipOff);
  if (buf[ic] !== ICMP_ECHO_REQUEST) return 0;
  const src = ipSrc(buf, ipOff);
  const dst = ipDst(buf, ipOff);
  writeU32(buf, ipOff + 12, dst);
  writeU32(buf, ipOff + 16, src);
  setTtl(buf, ipOff, ICMP_ERROR_TTL);
  const code = buf[ic + 1];
  buf[ic] = ICMP_ECHO_REPLY;
  const field = (buf[ic + 2] << 8) | buf[ic + 3];
  writeU16(buf, ic + 2, csumAdjust16(field, (ICMP_ECHO_REQUEST << 8) | code, (ICMP_ECHO_REPLY << 8) | code));
  return ipTotalLength(buf, ipOff);
}
