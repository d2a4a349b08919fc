// The sockets of kube-dns: UDP and TCP on port 53 (DNS over TCP with 2-byte length prefixes,
// pipelined, idle connections closed after 10 s as CoreDNS does), in the pod's own namespace.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Handler, Outcome } from './handler.js';

export interface QueryEvent {
  client: string;
  port: number;
  proto: 'udp' | 'tcp';
  outcome: Outcome;
  micros: number;
}

const TCP_IDLE_MS = 10_000;
const TCP_MAX_CONNS = 1000;

export class DnsServer {
  private readonly udp: dgram.Socket;
  private readonly tcp: net.Server;
  private readonly conns = new Set<net.Socket>();
  /** Set by main: every answered query (for the query log and metrics). */
  onQuery: ((e: QueryEvent) => void) | undefined;

  constructor(
    private readonly handler: Handler,
    private readonly port = 53,
    private readonly host = '0.0.0.0',
  ) {
    this.udp = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    this.udp.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
    // Errors on a UDP socket (ICMP for a client that left) concern one peer, not the server.
    this.udp.on('error', () => {});
    this.tcp = net.createServer((s) => this.onTcp(s));
    this.tcp.on('error', (err) => console.error(`[ERROR] kemu-dns: tcp: ${err.message}`));
  }

  listen(): Promise<void> {
    const udp = new Promise<void>((resolve, reject) => {
      this.udp.once('error', reject);
      this.udp.bind(this.port, this.host, () => {
        this.udp.removeListener('error', reject);
        resolve();
      });
    });
    const tcp = new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(this.port, this.host, () => resolve());
    });
    return Promise.all([udp, tcp]).then(() => undefined);
  }

  get address(): { udp: number; tcp: number } {
    return { udp: this.udp.address().port, tcp: (this.tcp.address() as net.AddressInfo).port };
  }

  close(): void {
    this.udp.close();
    this.tcp.close();
    for (const c of this.conns) c.destroy();
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const t0 = this.onQuery ? process.hrtime.bigint() : 0n;
    const out = this.handler.handle(msg, false);
    if (out instanceof Promise) {
      void out.then((o) => this.sendUdp(o, rinfo, t0));
      return;
    }
    this.sendUdp(out, rinfo, t0);
  }

  private sendUdp(o: Outcome, rinfo: dgram.RemoteInfo, t0: bigint): void {
    if (o.bytes) this.udp.send(o.bytes, rinfo.port, rinfo.address);
    if (this.onQuery && o.info) this.onQuery({ client: rinfo.address, port: rinfo.port, proto: 'udp', outcome: o, micros: Number(process.hrtime.bigint() - t0) / 1000 });
  }

  private onTcp(s: net.Socket): void {
    if (this.conns.size >= TCP_MAX_CONNS) {
      s.destroy();
      return;
    }
    this.conns.add(s);
    s.setNoDelay(true);
    s.setTimeout(TCP_IDLE_MS, () => s.destroy());
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        const t0 = this.onQuery ? process.hrtime.bigint() : 0n;
        const out = this.handler.handle(Buffer.from(msg), true);
        const send = (o: Outcome) => {
          if (o.bytes && !s.destroyed) {
            const hdr = Buffer.allocUnsafe(2);
            hdr.writeUInt16BE(o.bytes.length);
            s.write(Buffer.concat([hdr, o.bytes]));
          } else if (!o.bytes) s.destroy();
          if (this.onQuery && o.info) this.onQuery({ client: s.remoteAddress ?? '', port: s.remotePort ?? 0, proto: 'tcp', outcome: o, micros: Number(process.hrtime.bigint() - t0) / 1000 });
        };
        if (out instanceof Promise) void out.then(send);
        else send(out);
      }
    });
    s.on('error', () => s.destroy());
    s.on('close', () => this.conns.delete(s));
  }
}
