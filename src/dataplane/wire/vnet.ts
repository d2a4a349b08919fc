// struct virtio_net_hdr (linux/virtio_net.h), the 10-byte header a TUN opened with IFF_VNET_HDR
// puts in front of every packet (TUNSETVNETHDRSZ 10):
//
//   off 0  u8  flags        VIRTIO_NET_HDR_F_NEEDS_CSUM=1, F_DATA_VALID=2
//   off 1  u8  gso_type     NONE=0, TCPV4=1, UDP=3, TCPV6=4, UDP_L4=5, | ECN=0x80
//   off 2  u16 hdr_len
//   off 4  u16 gso_size
//   off 6  u16 csum_start   offset of the L4 header from the start of the packet (after this header)
//   off 8  u16 csum_offset  offset of the checksum field from csum_start (TCP 16, UDP 6)
//
// The u16 fields are in the host's byte order for a legacy TUN (and little-endian under
// TUNSETVNETLE / virtio 1.0). kemu only runs on little-endian hosts (x86-64, arm64), so they are
// read and written little-endian here.
//
// When flags & NEEDS_CSUM, the L4 checksum field holds the *uncomplemented pseudo-header sum*
// (CHECKSUM_PARTIAL); use partialAdjust32 from checksum.ts on address rewrites and leave port
// rewrites alone. gso_type/gso_size/hdr_len pass through untouched.

export const VNET_HDR_LEN = 10;

export const VNET_HDR_FLAGS = 0;
export const VNET_HDR_GSO_TYPE = 1;
export const VNET_HDR_HDR_LEN = 2;
export const VNET_HDR_GSO_SIZE = 4;
export const VNET_HDR_CSUM_START = 6;
export const VNET_HDR_CSUM_OFFSET = 8;

export const VNET_HDR_F_NEEDS_CSUM = 1;
export const VNET_HDR_F_DATA_VALID = 2;

export const VNET_HDR_GSO_NONE = 0;
export const VNET_HDR_GSO_TCPV4 = 1;
export const VNET_HDR_GSO_UDP = 3;
export const VNET_HDR_GSO_TCPV6 = 4;
export const VNET_HDR_GSO_UDP_L4 = 5;
export const VNET_HDR_GSO_ECN = 0x80;

function rd16le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function wr16le(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function vnetFlags(b: Uint8Array, off: number): number {
  return b[off];
}
export function vnetNeedsCsum(b: Uint8Array, off: number): boolean {
  return (b[off] & VNET_HDR_F_NEEDS_CSUM) !== 0;
}
/** gso_type including the ECN bit. */
export function vnetGsoType(b: Uint8Array, off: number): number {
  return b[off + VNET_HDR_GSO_TYPE];
}
export function vnetHdrLen(b: Uint8Array, off: number): number {
  return rd16le(b, off + VNET_HDR_HDR_LEN);
}
export function vnetGsoSize(b: Uint8Array, off: number): number {
  return rd16le(b, off + VNET_HDR_GSO_SIZE);
}
export function vnetCsumStart(b: Uint8Array, off: number): number {
  return rd16le(b, off + VNET_HDR_CSUM_START);
}
export function vnetCsumOffset(b: Uint8Array, off: number): number {
  return rd16le(b, off + VNET_HDR_CSUM_OFFSET);
}

export function setVnetFlags(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
}
export function setVnetGsoType(b: Uint8Array, off: number, v: number): void {
  b[off + VNET_HDR_GSO_TYPE] = v & 0xff;
}
export function setVnetHdrLen(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + VNET_HDR_HDR_LEN, v);
}
export function setVnetGsoSize(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + VNET_HDR_GSO_SIZE, v);
}
export function setVnetCsumStart(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + VNET_HDR_CSUM_START, v);
}
export function setVnetCsumOffset(b: Uint8Array, off: number, v: number): void {
  wr16le(b, off + VNET_HDR_CSUM_OFFSET, v);
}

/** Write all six fields at once. */
export function writeVnetHdr(
  b: Uint8Array,
  off: number,
  flags: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
): void {
  b[off] = flags & 0xff;
  b[off + 1] = gsoType & 0xff;
  wr16le(b, off + 2, hdrLen);
  wr16le(b, off + 4, gsoSize);
  wr16le(b, off + 6, csumStart);
  wr16le(b, off + 8, csumOffset);
}

/** All-zero header: no offload, checksums complete (what we put before packets we build). */
export function writeEmptyVnetHdr(b: Uint8Array, off: number): void {
  for (let i = 0; i < VNET_HDR_LEN; i++) b[off + i] = 0;
}
