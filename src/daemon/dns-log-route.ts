// The daemon's side of `kemu dns-log`: kube-dns pods POST batches of answered queries to
// /kemu/v1/dns/log; the daemon names each client (pod or node, from the store), keeps the last
// RING entries and serves them, filtered by client namespace/pod, optionally following.
import type http from 'node:http';
import { json } from '../api/server.js';
import type { Store } from '../store/store.js';

const RING = 20_000;
const MAX_BODY = 8 << 20;

export interface LoggedQuery {
  time: string;
  server: string;
  client: string;
  /** "ns/name" of the client pod, "node NAME", or "" when unknown. */
  clientPod: string;
  proto: string;
  name: string;
  type: string;
  rcode: string;
  answers: string[];
  source: string;
  micros: number;
  error?: string;
}

export class DnsLog {
  private readonly ring: LoggedQuery[] = [];
  private readonly followers = new Set<(q: LoggedQuery) => void>();
  private names = new Map<string, string>();
  private namesRv = -1;
  dropped = 0;

  constructor(private readonly store: Store) {}

  private whoIs(ip: string): string {
    if (this.namesRv !== this.store.resourceVersion) {
      const m = new Map<string, string>();
      for (const n of this.store.list('nodes')) {
        for (const a of n.status?.addresses ?? []) if (a.type === 'InternalIP') m.set(a.address, `node ${n.metadata.name}`);
      }
      for (const p of this.store.list('pods')) {
        if (p.status?.podIP && !p.spec?.hostNetwork) m.set(p.status.podIP, `${p.metadata.namespace}/${p.metadata.name}`);
      }
      this.names = m;
      this.namesRv = this.store.resourceVersion;
    }
    return this.names.get(ip) ?? '';
  }

  add(entries: any[], dropped: number): void {
    this.dropped += Number(dropped) || 0;
    for (const e of entries) {
      if (!e || typeof e !== 'object') continue;
      const q: LoggedQuery = {
        time: String(e.time ?? ''),
        server: String(e.server ?? ''),
        client: String(e.client ?? ''),
        clientPod: this.whoIs(String(e.client ?? '')),
        proto: String(e.proto ?? ''),
        name: String(e.name ?? ''),
        type: String(e.type ?? ''),
        rcode: String(e.rcode ?? ''),
        answers: Array.isArray(e.answers) ? e.answers.map(String) : [],
        source: String(e.source ?? ''),
        micros: Number(e.micros) || 0,
        ...(e.error ? { error: String(e.error) } : {}),
      };
      this.ring.push(q);
      for (const f of this.followers) f(q);
    }
    if (this.ring.length > RING) this.ring.splice(0, this.ring.length - RING);
  }

  /** Kept entries that match, oldest first; the last `tail` when tail >= 0. */
  entries(match: (q: LoggedQuery) => boolean, tail = -1): LoggedQuery[] {
    // Two DNS pods report in their own batches: put their entries back in time order.
    const past = this.ring.filter(match).sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    return tail >= 0 ? past.slice(Math.max(0, past.length - tail)) : past;
  }

  route() {
    return async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> => {
      if (url.pathname !== '/kemu/v1/dns/log') return false;
      if (req.method === 'POST') {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of req) {
          size += (c as Buffer).length;
          if (size > MAX_BODY) {
            json(res, 413, { kind: 'Status', status: 'Failure', message: 'too large', code: 413 });
            return true;
          }
          chunks.push(c as Buffer);
        }
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          this.add(Array.isArray(body?.entries) ? body.entries : [], body?.dropped ?? 0);
        } catch {
          json(res, 400, { kind: 'Status', status: 'Failure', message: 'bad JSON', code: 400 });
          return true;
        }
        json(res, 200, { ok: true });
        return true;
      }
      if (req.method !== 'GET') return false;
      const match = matcher(url.searchParams.get('namespace'), url.searchParams.getAll('pod'));
      const follow = url.searchParams.get('follow') === 'true' || url.searchParams.get('follow') === '1';
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-cache', 'X-Kemu-Dropped': String(this.dropped) });
      const tail = url.searchParams.has('tail') ? Number(url.searchParams.get('tail')) : -1;
      for (const q of this.entries(match, tail)) res.write(JSON.stringify(q) + '\n');
      if (!follow) {
        res.end();
        return true;
      }
      const f = (q: LoggedQuery) => {
        if (match(q)) res.write(JSON.stringify(q) + '\n');
      };
      this.followers.add(f);
      const stop = () => this.followers.delete(f);
      req.on('close', stop);
      res.on('close', stop);
      return true;
    };
  }
}

/** Client filter: `namespace` of the client pod and/or exact `ns/name`s. */
export function matcher(ns: string | null, pods: string[]): (q: LoggedQuery) => boolean {
  return (q) => (!ns || q.clientPod.startsWith(`${ns}/`)) && (!pods.length || pods.includes(q.clientPod));
}
