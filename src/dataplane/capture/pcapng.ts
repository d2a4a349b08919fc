// pcapng encoder (draft-ietf-opsawg-pcapng), little-endian sections.
//
// Layout kemu writes (see DESIGN.md "Capture"): one Section Header Block, one Interface
// Description Block per pod interface (LINKTYPE_RAW, if_name "ns/pod/eth0", if_description
// "k8s.ns=…;k8s.podName=…;k8s.node=…"), then Enhanced Packet Blocks with epb_flags (direction),
// epb_packetid (shared by the copies of one packet before and after NAT) and, rarely,
// opt_comment carrying the verdict.
//
// sectionHeader / interfaceDescription are called once per capture and allocate freely.
// EpbWriter.append is per packet and allocates nothing: it writes into one preallocated Buffer
// and copies packet bytes with an injectable copy function (the daemon passes native memcpy).

export const BT_SHB = 0x0a0d0d0a;
export const BT_IDB = 0x00000001;
export const BT_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

export const LINKTYPE_RAW = 101;
export const LINKTYPE_IPV4 = 228;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const EPB_FLAGS = 2;
export const EPB_PACKETID = 5;

/** epb_flags direction bits. */
export const EPB_FLAG_INBOUND = 1;
export const EPB_FLAG_OUTBOUND = 2;

/** Fixed part of an EPB: type, length, iface, ts hi, ts lo, caplen, origlen. */
const EPB_FIXED = 28;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function w32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}
function w16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}
function r32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
function r16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

interface Opt {
  code: number;
  value: Buffer;
}

function encodeOptions(opts: Opt[]): Buffer {
  if (opts.length === 0) return Buffer.alloc(0);
  let size = 4; // opt_endofopt
  for (const o of opts) size += 4 + pad4(o.value.length);
  const b = Buffer.alloc(size);
  let p = 0;
  for (const o of opts) {
    w16(b, p, o.code);
    w16(b, p + 2, o.value.length);
    o.value.copy(b, p + 4);
    p += 4 + pad4(o.value.length);
  }
  return b; // the last 4 zero bytes are opt_endofopt
}

function block(type: number, body: Buffer): Buffer {
  const total = 12 + body.length;
  const b = Buffer.alloc(total);
  w32(b, 0, type);
  w32(b, 4, total);
  body.copy(b, 8);
  w32(b, total - 4, total);
  return b;
}

function strOpt(code: number, s: string | undefined): Opt[] {
  if (s === undefined || s === '') return [];
  const value = Buffer.from(s, 'utf8');
  if (value.length > 0xffff) throw new RangeError(`pcapng option ${code} longer than 65535 bytes`);
  return [{ code, value }];
}

/** Section Header Block: version 1.0, section length unknown (-1), shb_userappl. */
export function sectionHeader(userAppl: string): Buffer {
  const fixed = Buffer.alloc(16);
  w32(fixed, 0, BYTE_ORDER_MAGIC);
  w16(fixed, 4, 1);
  w16(fixed, 6, 0);
  w32(fixed, 8, 0xffffffff);
  w32(fixed, 12, 0xffffffff);
  return block(BT_SHB, Buffer.concat([fixed, encodeOptions(strOpt(SHB_USERAPPL, userAppl))]));
}

export interface InterfaceDescriptionSpec {
  /** if_name, e.g. "default/web-0/eth0". */
  name: string;
  /** if_description, e.g. "k8s.ns=default;k8s.podName=web-0;k8s.node=node-1". */
  description?: string;
  /** Maximum captured length per packet; 0 = unlimited. */
  snaplen: number;
  /** Default LINKTYPE_RAW (101). */
  linktype?: number;
  /**
   * true (default): write if_tsresol = 6 explicitly. false: omit the option, which means the
   * pcapng default — also microseconds. EpbWriter timestamps are microseconds either way.
   */
  tsresolMicro?: boolean;
}

/** Interface Description Block with if_name, if_description, if_tsresol. */
export function interfaceDescription(spec: InterfaceDescriptionSpec): Buffer {
  const { name, description, snaplen, linktype = LINKTYPE_RAW, tsresolMicro = true } = spec;
  const fixed = Buffer.alloc(8);
  w16(fixed, 0, linktype);
  w16(fixed, 2, 0);
  w32(fixed, 4, snaplen);
  const opts: Opt[] = [...strOpt(IF_NAME, name), ...strOpt(IF_DESCRIPTION, description)];
  if (tsresolMicro) opts.push({ code: IF_TSRESOL, value: Buffer.from([6]) });
  return block(BT_IDB, Buffer.concat([fixed, encodeOptions(opts)]));
}

/**
 * copy(dst, dstOff, src, srcOff, len): must not allocate (e.g. the addon's native memcpy).
 * Declared through a method signature so that a copier typed for Buffers (the addon's
 * `copy(dst: Buffer, …, src: Buffer, …)`) is accepted: `src` is whatever the caller hands to
 * append(), and the daemon hands Buffers.
 */
export type CopyFn = {
  bivarianceHack(dst: Buffer, dstOff: number, src: Uint8Array, srcOff: number, len: number): void;
}['bivarianceHack'];

/** Default copier: a plain byte loop (allocation-free, unlike Buffer.copy/subarray with offsets). */
export function jsCopy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, len: number): void {
  for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
}

export const EPB_WRITER_DEFAULT_SIZE = 1 << 20;

/**
 * Appends Enhanced Packet Blocks into one preallocated Buffer. A block that does not fit is
 * dropped and counted, never split. `take()` hands out a copy of what was written and resets.
 */
export class EpbWriter {
  private readonly buf: Buffer;
  private readonly copy: CopyFn;
  private pos = 0;
  private drops = 0;
  private packets = 0;
  private tsHi = 0;
  private tsLo = 0;

  constructor(size: number = EPB_WRITER_DEFAULT_SIZE, copy: CopyFn = jsCopy) {
    if (!Number.isInteger(size) || size < 64) throw new RangeError(`EpbWriter size must be an integer >= 64, got ${size}`);
    this.buf = Buffer.allocUnsafeSlow(size);
    this.copy = copy;
  }

  /** Bytes written since the last take(). */
  get used(): number {
    return this.pos;
  }
  /** Buffer size. */
  get capacity(): number {
    return this.buf.length;
  }
  /** Blocks refused because they did not fit (cumulative). */
  get dropped(): number {
    return this.drops;
  }
  /** Blocks appended since the last take(). */
  get count(): number {
    return this.packets;
  }

  /**
   * Set the batch timestamp used by appendBatchTime() (microseconds since the epoch; fractions
   * floored). Call once per batch.
   */
  setTime(tsMicros: number): void {
    const t = Math.floor(tsMicros);
    this.tsHi = Math.floor(t / 4294967296) | 0;
    this.tsLo = t | 0;
  }

  /**
   * Append one EPB. `tsMicros` is microseconds since the epoch (fractions are floored),
   * `src[srcOff .. srcOff+capLen)` the captured bytes (capLen <= origLen), `flags` epb_flags
   * (EPB_FLAG_INBOUND / EPB_FLAG_OUTBOUND; 0 = option omitted), `packetId` epb_packetid
   * (a non-negative integer below 2^53; negative = option omitted), `comment` opt_comment
   * (UTF-8; undefined or '' = omitted). Returns false, counting a drop, if it does not fit.
   * Throws RangeError if the source range is out of bounds (a caller bug; protects memcpy).
   *
   * Allocation note: today's timestamps in µs exceed the Smi range, so a caller that computes a
   * fresh `tsMicros` per packet in optimized code boxes a HeapNumber per call. Pass the same
   * number value for a whole batch, or use setTime() + appendBatchTime(), which never box.
   */
  append(
    ifaceId: number,
    tsMicros: number,
    src: Uint8Array,
    srcOff: number,
    capLen: number,
    origLen: number,
    flags: number,
    packetId: number,
    comment?: string | undefined,
  ): boolean {
    const t = Math.floor(tsMicros);
    return this.put(ifaceId, Math.floor(t / 4294967296) | 0, t | 0, src, srcOff, capLen, origLen, flags, packetId, comment);
  }

  /** append() with the timestamp last given to setTime(). */
  appendBatchTime(
    ifaceId: number,
    src: Uint8Array,
    srcOff: number,
    capLen: number,
    origLen: number,
    flags: number,
    packetId: number,
    comment?: string | undefined,
  ): boolean {
    return this.put(ifaceId, this.tsHi, this.tsLo, src, srcOff, capLen, origLen, flags, packetId, comment);
  }

  private put(
    ifaceId: number,
    tsHi: number,
    tsLo: number,
    src: Uint8Array,
    srcOff: number,
    capLen: number,
    origLen: number,
    flags: number,
    packetId: number,
    comment: string | undefined,
  ): boolean {
    if (srcOff < 0 || capLen < 0 || srcOff + capLen > src.length) {
      throw new RangeError('EpbWriter.append: source range out of bounds');
    }
    const dataPad = pad4(capLen);
    let clen = 0;
    let optLen = 0;
    if (flags !== 0) optLen += 8;
    if (packetId >= 0) optLen += 12;
    if (comment !== undefined && comment.length !== 0) {
      clen = Buffer.byteLength(comment, 'utf8');
      if (clen > 0xffff) clen = 0xffff;
      optLen += 4 + pad4(clen);
    }
    if (optLen !== 0) optLen += 4; // opt_endofopt
    const total = EPB_FIXED + dataPad + optLen + 4;
    const b = this.buf;
    const o = this.pos;
    if (o + total > b.length) {
      this.drops++;
      return false;
    }
    w32(b, o, BT_EPB);
    w32(b, o + 4, total);
    w32(b, o + 8, ifaceId);
    w32(b, o + 12, tsHi);
    w32(b, o + 16, tsLo);
    w32(b, o + 20, capLen);
    w32(b, o + 24, origLen < capLen ? capLen : origLen);
    let p = o + EPB_FIXED;
    if (capLen > 0) this.copy(b, p, src, srcOff, capLen);
    p += capLen;
    while (p < o + EPB_FIXED + dataPad) b[p++] = 0;
    if (flags !== 0) {
      w16(b, p, EPB_FLAGS);
      w16(b, p + 2, 4);
      w32(b, p + 4, flags);
      p += 8;
    }
    if (packetId >= 0) {
      w16(b, p, EPB_PACKETID);
      w16(b, p + 2, 8);
      w32(b, p + 4, packetId % 4294967296);
      w32(b, p + 8, Math.floor(packetId / 4294967296));
      p += 12;
    }
    if (clen !== 0) {
      // write() stores only whole characters: n < clen only when a > 64 KiB comment was cut.
      const n = b.write(comment as string, p + 4, clen, 'utf8');
      w16(b, p, OPT_COMMENT);
      w16(b, p + 2, n);
      const end = p + 4 + pad4(clen);
      p += 4 + n;
      while (p < end) b[p++] = 0;
    }
    if (optLen !== 0) {
      w32(b, p, 0);
      p += 4;
    }
    w32(b, p, total);
    this.pos = o + total;
    this.packets++;
    return true;
  }

  /** A copy of the bytes written since the last take(); resets the writer (drop count kept). */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    this.packets = 0;
    return out;
  }

  /** Forget what was written (drop count kept). */
  reset(): void {
    this.pos = 0;
    this.packets = 0;
  }
}

// ---- reader (tests, tooling; allocates) -------------------------------------------------------

export interface ParsedInterface {
  name: string | undefined;
  description: string | undefined;
  linktype: number;
  snaplen: number;
  tsresol: number | undefined;
}

export interface ParsedPacket {
  ifaceId: number;
  tsMicros: number;
  capLen: number;
  origLen: number;
  data: Buffer;
  flags: number;
  packetId: number | undefined;
  comment: string | undefined;
}

export interface ParsedPcapng {
  blocks: { type: number; length: number }[];
  userAppl: string | undefined;
  interfaces: ParsedInterface[];
  packets: ParsedPacket[];
}

function* options(b: Buffer, start: number, end: number): Generator<{ code: number; value: Buffer }> {
  let p = start;
  while (p + 4 <= end) {
    const code = r16(b, p);
    const len = r16(b, p + 2);
    if (code === OPT_ENDOFOPT) return;
    if (p + 4 + len > end) throw new Error(`pcapng: option ${code} overruns its block at ${p}`);
    yield { code, value: b.subarray(p + 4, p + 4 + len) };
    p += 4 + pad4(len);
  }
}

/**
 * Parse a little-endian pcapng byte string (one or more sections). Throws on malformed blocks
 * (mismatched trailing length, overruns, big-endian sections). For tests and tooling only.
 */
export function parsePcapng(buf: Buffer): ParsedPcapng {
  const res: ParsedPcapng = { blocks: [], userAppl: undefined, interfaces: [], packets: [] };
  let p = 0;
  while (p < buf.length) {
    if (p + 12 > buf.length) throw new Error(`pcapng: truncated block at ${p}`);
    const type = r32(buf, p);
    if (type === BT_SHB && r32(buf, p + 8) !== BYTE_ORDER_MAGIC) {
      throw new Error(`pcapng: not a little-endian section at ${p}`);
    }
    const len = r32(buf, p + 4);
    if (len < 12 || len % 4 !== 0 || p + len > buf.length) throw new Error(`pcapng: bad block length ${len} at ${p}`);
    if (r32(buf, p + len - 4) !== len) throw new Error(`pcapng: trailing length mismatch at ${p}`);
    res.blocks.push({ type, length: len });
    const end = p + len - 4;
    if (type === BT_SHB) {
      if (res.userAppl === undefined) {
        for (const o of options(buf, p + 24, end)) {
          if (o.code === SHB_USERAPPL) res.userAppl = o.value.toString('utf8');
        }
      }
      res.interfaces = []; // interface ids are per section
    } else if (type === BT_IDB) {
      const iface: ParsedInterface = {
        name: undefined,
        description: undefined,
        linktype: r16(buf, p + 8),
        snaplen: r32(buf, p + 12),
        tsresol: undefined,
      };
      for (const o of options(buf, p + 16, end)) {
        if (o.code === IF_NAME) iface.name = o.value.toString('utf8');
        else if (o.code === IF_DESCRIPTION) iface.description = o.value.toString('utf8');
        else if (o.code === IF_TSRESOL) iface.tsresol = o.value[0];
      }
      res.interfaces.push(iface);
    } else if (type === BT_EPB) {
      const capLen = r32(buf, p + 20);
      if (p + EPB_FIXED + pad4(capLen) > end) throw new Error(`pcapng: EPB data overruns block at ${p}`);
      const pkt: ParsedPacket = {
        ifaceId: r32(buf, p + 8),
        tsMicros: r32(buf, p + 12) * 4294967296 + r32(buf, p + 16),
        capLen,
        origLen: r32(buf, p + 24),
        data: Buffer.from(buf.subarray(p + EPB_FIXED, p + EPB_FIXED + capLen)),
        flags: 0,
        packetId: undefined,
        comment: undefined,
      };
      for (const o of options(buf, p + EPB_FIXED + pad4(capLen), end)) {
        if (o.code === EPB_FLAGS && o.value.length === 4) pkt.flags = r32(o.value, 0);
        else if (o.code === EPB_PACKETID && o.value.length === 8) pkt.packetId = r32(o.value, 4) * 4294967296 + r32(o.value, 0);
        else if (o.code === OPT_COMMENT) pkt.comment = o.value.toString('utf8');
      }
      res.packets.push(pkt);
    }
    p += len;
  }
  return res;
}
