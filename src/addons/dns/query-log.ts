// The resolver's side of `kemu dns-log`: every answered query, batched and POSTed to the
// daemon (which knows which pod a client IP is). Bounded: at most MAX_PER_SECOND entries a
// second leave the process (a benchmark must not turn into a logging benchmark), the rest are
// counted as dropped; a daemon that does not answer loses entries, never blocks answers.
import http from 'node:http';
import type { QueryEvent } from './server.js';

export interface DnsLogEntry {
  time: string;
  /** The kube-dns pod that answered. */
  server: string;
  client: string;
  proto: 'udp' | 'tcp';
  name: string;
  type: string;
  rcode: string;
  answers: string[];
  source: string;
  micros: number;
  error?: string;
}

const MAX_PER_SECOND = 2000;
const FLUSH_MS = 100;

export class QueryReporter {
  private batch: DnsLogEntry[] = [];
  private window = 0;
  private inWindow = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight = false;
  dropped = 0;

  constructor(
    private readonly socketPath: string,
    private readonly server: string,
  ) {}

  record(e: QueryEvent): void {
    const info = e.outcome.info;
    if (!info) return;
    const sec = Math.floor(Date.now() / 1000);
    if (sec !== this.window) {
      this.window = sec;
      this.inWindow = 0;
    }
    if (++this.inWindow > MAX_PER_SECOND || this.batch.length >= 10_000) {
      this.dropped++;
      return;
    }
    this.batch.push({
      time: new Date().toISOString(),
      server: this.server,
      client: e.client,
      proto: e.proto,
      name: info.name,
      type: info.type,
      rcode: info.rcode,
      answers: info.answers,
      source: info.source,
      micros: Math.round(e.micros),
      ...(info.error ? { error: info.error } : {}),
    });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    }
  }

  private flush(): void {
    this.timer = undefined;
    if (this.inflight || this.batch.length === 0) {
      if (this.batch.length) this.timer = setTimeout(() => this.flush(), FLUSH_MS);
      return;
    }
    const entries = this.batch;
    this.batch = [];
    const body = JSON.stringify({ entries, dropped: this.dropped });
    this.dropped = 0;
    this.inflight = true;
    const req = http.request(
      { socketPath: this.socketPath, path: '/kemu/v1/dns/log', method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => (this.inflight = false));
      },
    );
    req.setTimeout(2000, () => req.destroy());
    req.on('error', () => (this.inflight = false));
    req.end(body);
  }
}
