// DNS wire format on the hot path: a query parser that reads only what the resolver needs
// (header, the one question, the EDNS0 OPT record) without allocating per label, and a response
// assembler that glues precompiled resource records behind the client's own question bytes.
// Everything else (encoding individual records, upstream traffic) goes through dns-packet.

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));

export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
/** Extended rcode BADVERS (RFC 6891): upper 8 bits in the OPT TTL. */
export const BADVERS = 16;

/** The EDNS0 UDP payload size kemu advertises and honours at most (DNS flag day 2020). */
export const EDNS_SIZE = 1232;

export interface Query {
  id: number;
  /** Raw flags of the query (RD and CD are echoed). */
  flags: number;
  opcode: number;
  /** Lower-case question name with a trailing dot ("." for the root). */
  name: string;
  type: number;
  qclass: number;
  /** End of the question in the query: bytes 12..questionEnd are echoed in the answer. */
  questionEnd: number;
  /** EDNS0: the client's UDP payload size, or 0 without OPT. */
  ednsSize: number;
  ednsVersion: number;
  /** Why the query is malformed (answer FORMERR), or ''. */
  error: string;
}

const EMPTY_QUERY: Query = { id: 0, flags: 0, opcode: 0, name: '', type: 0, qclass: 0, questionEnd: 12, ednsSize: 0, ednsVersion: 0, error: '' };

/**
 * Parse a query. Never throws: a message too short for a header returns undefined (no answer is
 * possible: there is no ID to echo), anything else malformed comes back with `error` set.
 */
export function parseQuery(b: Uint8Array, len = b.length): Query | undefined {
  if (len < 12) return undefined;
  const q: Query = { ...EMPTY_QUERY };
  q.id = (b[0]! << 8) | b[1]!;
  q.flags = (b[2]! << 8) | b[3]!;
  q.opcode = (q.flags >> 11) & 15;
  if (q.flags & 0x8000) {
    q.error = 'a response, not a query';
    return q;
  }
  const qd = (b[4]! << 8) | b[5]!;
  const an = (b[6]! << 8) | b[7]!;
  const ns = (b[8]! << 8) | b[9]!;
  const ar = (b[10]! << 8) | b[11]!;
  if (qd !== 1) {
    q.error = `${qd} questions`;
    return q;
  }
  let off = 12;
  let name = '';
  let total = 0;
  for (;;) {
    if (off >= len) {
      q.error = 'question name runs past the message';
      return q;
    }
    const l = b[off]!;
    if (l === 0) {
      off++;
      break;
    }
    if (l > 63) {
      q.error = 'compressed or invalid label in the question';
      return q;
    }
    if (off + 1 + l > len) {
      q.error = 'label runs past the message';
      return q;
    }
    total += l + 1;
    if (total > 254) {
      q.error = 'name longer than 255 bytes';
      return q;
    }
    for (let i = off + 1; i <= off + l; i++) {
      let c = b[i]!;
      if (c >= 65 && c <= 90) c += 32;
      // '.' inside a label or non-printable bytes: escape like presentation format.
      if (c === 46 || c === 92 || c < 33 || c > 126) name += `\\${c.toString().padStart(3, '0')}`;
      else name += String.fromCharCode(c);
    }
    name += '.';
    off += l + 1;
  }
  if (off + 4 > len) {
    q.error = 'question truncated';
    return q;
  }
  q.name = name === '' ? '.' : name;
  q.type = (b[off]! << 8) | b[off + 1]!;
  q.qclass = (b[off + 2]! << 8) | b[off + 3]!;
  off += 4;
  q.questionEnd = off;
  // Additional records: only an OPT matters. Records in answer/authority of a query (not sent
  // by real stub resolvers) are skipped over.
  for (let i = 0; i < an + ns + ar; i++) {
    const o = skipName(b, off, len);
    if (o < 0 || o + 10 > len) {
      q.error = 'record runs past the message';
      return q;
    }
    const type = (b[o]! << 8) | b[o + 1]!;
    const rdlen = (b[o + 8]! << 8) | b[o + 9]!;
    if (o + 10 + rdlen > len) {
      q.error = 'rdata runs past the message';
      return q;
    }
    if (type === TYPE.OPT && i >= an + ns) {
      if (q.ednsSize) {
        q.error = 'more than one OPT record';
        return q;
      }
      q.ednsSize = Math.max(512, (b[o + 2]! << 8) | b[o + 3]!);
      q.ednsVersion = b[o + 5]!;
    }
    off = o + 10 + rdlen;
  }
  return q;
}

export function skipName(b: Uint8Array, off: number, len: number): number {
  for (let hops = 0; hops < 128; hops++) {
    if (off >= len) return -1;
    const l = b[off]!;
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2;
    if (l > 63) return -1;
    off += l + 1;
  }
  return -1;
}

/** A response made of precompiled records; owner names that are the question are pointers (0xC00C). */
export interface Compiled {
  rcode: number;
  aa: boolean;
  answer: Buffer[];
  /** answer[shuffleFrom..] are address records that `loadbalance` shuffles. */
  shuffleFrom: number;
  authority: Buffer[];
  additional: Buffer[];
}

/** Response flags: QR, the query's opcode, RD and CD echoed, RA (CoreDNS sets it), AA, TC, rcode. */
function flags(q: Query, aa: boolean, tc: boolean, rcode: number): number {
  return 0x8000 | (q.flags & 0x7910 & ~0x0400) | (aa ? 0x0400 : 0) | (tc ? 0x0200 : 0) | 0x0080 | (rcode & 15);
}

const OPT_LEN = 11;

function writeOpt(out: Buffer, off: number, extRcode: number): number {
  out[off] = 0;
  out.writeUInt16BE(TYPE.OPT, off + 1);
  out.writeUInt16BE(EDNS_SIZE, off + 3);
  out[off + 5] = extRcode;
  out[off + 6] = 0;
  out.writeUInt16BE(0, off + 7);
  out.writeUInt16BE(0, off + 9);
  return off + OPT_LEN;
}

/** Most bytes a response to `q` may have: 512 without EDNS over UDP (RFC 1035), else the advertised size. */
export function sizeLimit(q: Query, tcp: boolean): number {
  if (tcp) return 65535;
  return q.ednsSize ? Math.min(q.ednsSize, 65535) : 512;
}

/**
 * The response bytes for a compiled answer: header, the client's question verbatim (so its case
 * is echoed), the records (address records shuffled), OPT when the client sent one. Truncates
 * at record boundaries with TC set when the answer does not fit.
 */
export function assemble(q: Query, query: Uint8Array, c: Compiled, tcp: boolean): Buffer {
  const qlen = q.questionEnd - 12;
  const opt = q.ednsSize ? OPT_LEN : 0;
  const limit = sizeLimit(q, tcp);
  let size = 12 + qlen + opt;
  let an = 0;
  let ns = 0;
  let ar = 0;
  let tc = false;
  const order = c.answer.length - c.shuffleFrom > 1 ? shuffled(c) : c.answer;
  for (const r of order) {
    if (size + r.length > limit) {
      tc = true;
      break;
    }
    size += r.length;
    an++;
  }
  if (!tc) {
    for (const r of c.authority) {
      if (size + r.length > limit) break;
      size += r.length;
      ns++;
    }
    // Additional records are optional: dropped without TC when they do not fit (RFC 2181 9).
    for (const r of c.additional) {
      if (size + r.length > limit) break;
      size += r.length;
      ar++;
    }
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(flags(q, c.aa, tc, c.rcode), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(an, 6);
  out.writeUInt16BE(ns, 8);
  out.writeUInt16BE(ar + (opt ? 1 : 0), 10);
  out.set(query.subarray(12, q.questionEnd), 12);
  let off = q.questionEnd;
  for (let i = 0; i < an; i++) {
    const r = order[i]!;
    out.set(r, off);
    off += r.length;
  }
  for (let i = 0; i < ns; i++) {
    out.set(c.authority[i]!, off);
    off += c.authority[i]!.length;
  }
  for (let i = 0; i < ar; i++) {
    out.set(c.additional[i]!, off);
    off += c.additional[i]!.length;
  }
  if (opt) writeOpt(out, off, 0);
  return out;
}

function shuffled(c: Compiled): Buffer[] {
  const a = c.answer.slice();
  for (let i = a.length - 1; i > c.shuffleFrom; i--) {
    const j = c.shuffleFrom + Math.floor(Math.random() * (i - c.shuffleFrom + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/**
 * An answer with no records: FORMERR, SERVFAIL, REFUSED, NOTIMP, BADVERS. The question is
 * echoed when it parsed; a FORMERR for an unparseable question carries only the header.
 */
export function bare(q: Query, query: Uint8Array, rcode: number): Buffer {
  const withQ = q.questionEnd > 12 && q.error === '';
  const qlen = withQ ? q.questionEnd - 12 : 0;
  const opt = q.ednsSize && q.error === '' ? OPT_LEN : 0;
  const out = Buffer.alloc(12 + qlen + opt);
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(flags(q, false, false, rcode & 15), 2);
  out.writeUInt16BE(withQ ? 1 : 0, 4);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  if (withQ) out.set(query.subarray(12, q.questionEnd), 12);
  if (opt) writeOpt(out, 12 + qlen, rcode >> 4);
  return out;
}
