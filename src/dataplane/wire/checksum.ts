// Internet checksum (RFC 1071) arithmetic for the packet path.
//
// Two kinds of functions live here:
//  - incremental updates (RFC 1624 eqn 3) used per packet when a field is rewritten in place;
//  - full sums used when building a new packet (ICMP errors) or verifying one (tests, --verify).
//
// Everything takes and returns plain numbers kept in the Smi range; nothing allocates.
//
// Values:
//  - "field"  = the 16-bit value stored in a checksum field (the ones' complement of the sum);
//  - "sum"    = a folded, *uncomplemented* 16-bit ones'-complement sum. A CHECKSUM_PARTIAL packet
//               (virtio_net_hdr NEEDS_CSUM) stores the pseudo-header sum in this form in its L4
//               checksum field; see partialAdjust16/32.

/** Fold a non-negative accumulator (< 2^31) into 16 bits with end-around carry. Not complemented. */
export function fold16(acc: number): number {
  acc = (acc & 0xffff) + (acc >>> 16);
  acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/**
 * RFC 1624 eqn 3: HC' = ~(~HC + ~m + m'). `field` is the current checksum field, `old16`/`new16`
 * the 16-bit word (as it sits in the packet, big-endian value) before and after the change.
 * Returns the new checksum field value.
 */
export function csumAdjust16(field: number, old16: number, new16: number): number {
  let s = (~field & 0xffff) + (~old16 & 0xffff) + (new16 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** RFC 1624 eqn 3 for a 32-bit word (an IPv4 address). Signed or unsigned 32-bit inputs. */
export function csumAdjust32(field: number, old32: number, new32: number): number {
  let s =
    (~field & 0xffff) +
    ((~old32 >>> 16) & 0xffff) +
    (~old32 & 0xffff) +
    ((new32 >>> 16) & 0xffff) +
    (new32 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * UDP flavour of csumAdjust32: a field of 0 means "no checksum" and stays 0; a computed 0 is
 * transmitted as 0xffff (RFC 768).
 */
export function udpCsumAdjust32(field: number, old32: number, new32: number): number {
  if (field === 0) return 0;
  const r = csumAdjust32(field, old32, new32);
  return r === 0 ? 0xffff : r;
}

/** UDP flavour of csumAdjust16 (ports). */
export function udpCsumAdjust16(field: number, old16: number, new16: number): number {
  if (field === 0) return 0;
  const r = csumAdjust16(field, old16, new16);
  return r === 0 ? 0xffff : r;
}

/**
 * CHECKSUM_PARTIAL update of the pseudo-header sum stored in the L4 field when a 16-bit
 * pseudo-header word changes: sum' = fold(sum + ~old + new), no final complement
 * (what the kernel's inet_proto_csum_replace2(..., pseudohdr=true) does for CHECKSUM_PARTIAL).
 * Only pseudo-header fields (addresses, length) change the stored sum; ports and ICMP ids are
 * covered later by whoever completes the checksum and must NOT be adjusted in partial mode.
 */
export function partialAdjust16(sum: number, old16: number, new16: number): number {
  let s = (sum & 0xffff) + (~old16 & 0xffff) + (new16 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/** CHECKSUM_PARTIAL update for a 32-bit pseudo-header word (an address). See partialAdjust16. */
export function partialAdjust32(sum: number, old32: number, new32: number): number {
  let s =
    (sum & 0xffff) +
    ((~old32 >>> 16) & 0xffff) +
    (~old32 & 0xffff) +
    ((new32 >>> 16) & 0xffff) +
    (new32 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return s & 0xffff;
}

/**
 * Folded, uncomplemented ones'-complement sum of `len` bytes starting at `off`, added to
 * `initial` (a previous sum, e.g. a pseudo-header sum; 0 to start). Big-endian 16-bit words;
 * an odd trailing byte is padded with zero. Result in 0..0xffff.
 */
export function sum16(buf: Uint8Array, off: number, len: number, initial: number): number {
  let acc = fold16(initial >>> 0);
  let i = off;
  const end = off + len;
  const evenEnd = end - ((end - off) & 1);
  while (i < evenEnd) {
    // At most 8192 words per chunk keeps the accumulator far below 2^30 (a Smi).
    let chunkEnd = i + 16384;
    if (chunkEnd > evenEnd) chunkEnd = evenEnd;
    for (; i < chunkEnd; i += 2) acc += (buf[i] << 8) | buf[i + 1];
    acc = fold16(acc);
  }
  if (i < end) acc = fold16(acc + (buf[i] << 8));
  return acc;
}

/**
 * The checksum field value for `len` bytes at `off` (ones' complement of sum16), seeded with
 * `initial` (e.g. pseudoHeaderSum(...), or 0). The field inside the range must be zero, or the
 * caller must compensate.
 */
export function checksum(buf: Uint8Array, off: number, len: number, initial: number): number {
  return ~sum16(buf, off, len, initial) & 0xffff;
}

/**
 * Folded, uncomplemented IPv4 pseudo-header sum for TCP/UDP: src, dst (int32), zero, protocol,
 * L4 length. This is exactly what a CHECKSUM_PARTIAL packet carries in its L4 checksum field.
 */
export function pseudoHeaderSum(src: number, dst: number, proto: number, l4len: number): number {
  const acc =
    ((src >>> 16) & 0xffff) +
    (src & 0xffff) +
    ((dst >>> 16) & 0xffff) +
    (dst & 0xffff) +
    (proto & 0xff) +
    (l4len & 0xffff);
  return fold16(acc);
}

/**
 * Full IPv4 header checksum (the field value) over ihl*4 bytes at `off`, treating the checksum
 * field itself as zero. Does not write it.
 */
export function ipv4HeaderChecksum(buf: Uint8Array, off: number): number {
  const hlen = (buf[off] & 0x0f) << 2;
  let acc = 0;
  for (let i = 0; i < hlen; i += 2) {
    if (i === 10) continue;
    acc += (buf[off + i] << 8) | buf[off + i + 1];
  }
  return ~fold16(acc) & 0xffff;
}
