// Forwarding of names outside the cluster zones (CoreDNS `forward . <upstream>` + `cache 30`):
// the client's message goes out as is (new ID), the answer comes back as is (old ID). One
// connected UDP socket per upstream, so an ICMP "port/host unreachable" fails the pending
// queries at once (ECONNREFUSED/EHOSTUNREACH) instead of after a timeout: SERVFAIL promptly.
import dgram from 'node:dgram';
import net from 'node:net';
import { skipName } from './wire.js';

export interface Server {
  host: string;
  port: number;
}

/** "10.0.0.2", "10.0.0.2:5353", "[fd00::1]:53" -> Server. */
export function parseServer(s: string): Server {
  const t = s.trim();
  const v6 = /^\[(.+)\](?::(\d+))?$/.exec(t);
  if (v6) return { host: v6[1]!, port: v6[2] ? Number(v6[2]) : 53 };
  if (net.isIPv6(t)) return { host: t, port: 53 };
  const [host, port] = t.split(':') as [string, string | undefined];
  if (!net.isIPv4(host)) throw new Error(`upstream "${s}": not an IP address`);
  return { host, port: port ? Number(port) : 53 };
}

/** Nameservers of a resolv.conf (CoreDNS `forward . /etc/resolv.conf`). */
export function resolvConfServers(text: string): Server[] {
  const out: Server[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && net.isIP(m[1]!)) out.push({ host: m[1]!, port: 53 });
  }
  return out;
}

export class UpstreamError extends Error {}

const TIMEOUT_MS = 2000;
const CACHE_MAX_TTL = 30;
const CACHE_MAX_ENTRIES = 10_000;

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class UdpConn {
  private readonly sock: dgram.Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly ready: Promise<void>;

  constructor(readonly server: Server) {
    this.sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    this.sock.on('message', (m) => {
      if (m.length < 12) return;
      const p = this.pending.get(m.readUInt16BE(0));
      if (!p) return;
      this.pending.delete(m.readUInt16BE(0));
      clearTimeout(p.timer);
      p.resolve(m);
    });
    // On a connected socket the kernel reports ICMP errors for this peer: every query waiting
    // on it went to a dead address.
    this.sock.on('error', (err) => this.failAll(err));
    this.ready = new Promise((res) => this.sock.connect(server.port, server.host, () => res()));
    this.sock.unref();
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  async exchange(msg: Buffer): Promise<Buffer> {
    await this.ready;
    let id = (Math.random() * 65536) | 0;
    for (let i = 0; this.pending.has(id) && i < 16; i++) id = (Math.random() * 65536) | 0;
    const out = Buffer.from(msg);
    out.writeUInt16BE(id, 0);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new UpstreamError('i/o timeout'));
      }, TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.sock.send(out, (err) => {
        if (err && this.pending.get(id)?.timer === timer) {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  close(): void {
    this.failAll(new UpstreamError('closing'));
    try {
      this.sock.close();
    } catch {
      /* closed */
    }
  }
}

function tcpExchange(server: Server, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: server.host, port: server.port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, b?: Buffer) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(b!);
    };
    const timer = setTimeout(() => done(new UpstreamError('i/o timeout')), TIMEOUT_MS);
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      s.write(Buffer.concat([len, msg]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) done(undefined, buf.subarray(2, 2 + buf.readUInt16BE(0)));
    });
    s.on('error', (e) => done(e));
    s.on('close', () => done(new UpstreamError('connection closed')));
  });
}

interface CacheEntry {
  bytes: Buffer;
  /** Seconds. */
  stored: number;
  expires: number;
}

/** The upstream forwarder with its answer cache. */
export class Forwarder {
  private readonly udp: UdpConn[];
  private readonly cache = new Map<string, CacheEntry>();
  hits = 0;
  misses = 0;
  failures = 0;

  constructor(readonly servers: Server[]) {
    this.udp = servers.map((s) => new UdpConn(s));
  }

  describe(): string {
    return this.servers.map(hostPort).join(' ');
  }

  /**
   * Forward `msg` (a complete query). Resolves with the response bytes (ID = the query's), from
   * the cache when it has them; rejects when no upstream answered.
   */
  async forward(msg: Buffer, key: string, questionEnd: number, tcp: boolean): Promise<Buffer> {
    const now = Date.now() / 1000;
    const c = this.cache.get(key);
    if (c && c.expires > now) {
      this.hits++;
      return fromCache(c, msg, questionEnd, now);
    }
    if (c) this.cache.delete(key);
    this.misses++;
    let last: Error = new UpstreamError('no upstream configured');
    // Random start, like forward's default `policy random`.
    const start = (Math.random() * this.servers.length) | 0;
    for (let i = 0; i < this.servers.length; i++) {
      const k = (start + i) % this.servers.length;
      try {
        const res = tcp ? await tcpExchange(this.servers[k]!, msg) : await this.udp[k]!.exchange(msg);
        const out = Buffer.from(res);
        out.writeUInt16BE(msg.readUInt16BE(0), 0);
        this.store(key, out, now);
        return out;
      } catch (err) {
        last = err as Error;
        last = new UpstreamError(`${hostPort(this.servers[k]!)}: ${(err as NodeJS.ErrnoException).code ?? last.message}`);
      }
    }
    this.failures++;
    throw last;
  }

  private store(key: string, res: Buffer, now: number): void {
    const flags = res.readUInt16BE(2);
    const rcode = flags & 15;
    // Truncated and failed answers are not kept (the client retries over TCP / later).
    if (flags & 0x0200 || (rcode !== 0 && rcode !== 3)) return;
    const ttl = Math.min(CACHE_MAX_TTL, minTtl(res));
    if (ttl <= 0) return;
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(key, { bytes: res, stored: now, expires: now + ttl });
  }

  close(): void {
    for (const u of this.udp) u.close();
  }
}

export function hostPort(s: Server): string {
  return net.isIPv6(s.host) ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

/** A cached answer for a new asker: its ID, its question bytes (its case), TTLs aged. */
function fromCache(c: CacheEntry, query: Buffer, questionEnd: number, now: number): Buffer {
  const out = Buffer.from(c.bytes);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  // Same name modulo case, so the question has the same length: overwrite it in place.
  query.copy(out, 12, 12, questionEnd);
  const age = Math.floor(now - c.stored);
  if (age > 0) walkTtls(out, (ttl) => Math.max(0, ttl - age));
  return out;
}

/** Smallest TTL of the answer (or, for a negative answer, of the authority SOA). */
function minTtl(res: Buffer): number {
  let min = Infinity;
  walkTtls(res, (ttl, type) => {
    if (type !== 41 && ttl < min) min = ttl;
    return ttl;
  });
  return min === Infinity ? 0 : min;
}

/** Visit (and rewrite) the TTL of every record but OPT. */
function walkTtls(b: Buffer, fn: (ttl: number, type: number) => number): void {
  if (b.length < 12) return;
  const qd = b.readUInt16BE(4);
  const n = b.readUInt16BE(6) + b.readUInt16BE(8) + b.readUInt16BE(10);
  let off = 12;
  for (let i = 0; i < qd; i++) {
    off = skipName(b, off, b.length);
    if (off < 0) return;
    off += 4;
  }
  for (let i = 0; i < n; i++) {
    off = skipName(b, off, b.length);
    if (off < 0 || off + 10 > b.length) return;
    const type = b.readUInt16BE(off);
    if (type !== 41) b.writeUInt32BE(fn(b.readUInt32BE(off + 4), type) >>> 0, off + 4);
    off += 10 + b.readUInt16BE(off + 8);
  }
}
