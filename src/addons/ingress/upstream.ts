// The proxy's side towards the backends: one undici Pool of kept-alive HTTP/1.1 connections
// per endpoint (ingress-nginx's upstream keepalive), driven through undici's low-level
// dispatch API so a response streams to the client without an intermediate object per chunk.
// undici (by Node's own HTTP maintainers; the 6.x line supports Node 20) does the upstream work
// at about twice the rate of node:http's ClientRequest + Agent, which matters because the
// proxy is one single-threaded process measured against one nginx worker.
import { Pool } from 'undici';
import type { Endpoint } from './backends.js';

const CONNECT_TIMEOUT_MS = 5_000;
const READ_TIMEOUT_MS = 60_000;

export interface UpstreamHandler {
  /** Status and raw header pairs (names and values as strings, hop-by-hop ones removed). */
  headers(status: number, headers: string[]): void;
  /** A body chunk; false means "stop until resume()" (the client is slow). */
  data(chunk: Buffer): boolean;
  end(): void;
  /** `beforeResponse`: nothing has been received, so the request may go to another endpoint. */
  error(err: Error & { code?: string }, beforeResponse: boolean): void;
  /** Called once with the function that resumes a paused body. */
  onResume(resume: () => void): void;
  /** Called once with the function that aborts the upstream request (the client went away). */
  onAbort(abort: (err?: Error) => void): void;
}

/** Headers a proxy never forwards (RFC 9110 §7.6.1), plus those undici manages itself. */
const DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

export function forwardable(name: string): boolean {
  return !DROP.has(name);
}

export class Upstreams {
  private readonly pools = new Map<string, Pool>();

  private pool(ep: Endpoint): Pool {
    const origin = `http://${ep.host}:${ep.port}`;
    let p = this.pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: 256,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        connectTimeout: CONNECT_TIMEOUT_MS,
        headersTimeout: READ_TIMEOUT_MS,
        bodyTimeout: READ_TIMEOUT_MS,
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  /** Close the pools of endpoints that are gone (in-flight requests finish first). */
  retain(live: Iterable<Endpoint>): void {
    const keep = new Set<string>();
    for (const ep of live) keep.add(`http://${ep.host}:${ep.port}`);
    for (const [origin, p] of this.pools) {
      if (keep.has(origin)) continue;
      this.pools.delete(origin);
      void p.close().catch(() => {});
    }
  }

  /** `headers` is a flat [name, value, …] list; `body` null for a request without one. */
  dispatch(ep: Endpoint, method: string, path: string, headers: string[], body: NodeJS.ReadableStream | null, h: UpstreamHandler): void {
    let responded = false;
    this.pool(ep).dispatch(
      { method: method as any, path, headers, body: body as any, idempotent: body === null },
      {
        onConnect(abort: (err?: Error) => void): void {
          h.onAbort(abort);
        },
        onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
          if (status < 200) return true; // 1xx interim responses are not relayed
          responded = true;
          const out: string[] = [];
          for (let i = 0; i < raw.length; i += 2) {
            const name = raw[i]!.toString('latin1');
            if (DROP.has(name.toLowerCase())) continue;
            out.push(name, raw[i + 1]!.toString('latin1'));
          }
          h.onResume(resume);
          h.headers(status, out);
          return true;
        },
        onData(chunk: Buffer): boolean {
          return h.data(chunk);
        },
        onComplete(): void {
          h.end();
        },
        onError(err: Error): void {
          h.error(err as Error & { code?: string }, !responded);
        },
      },
    );
  }
}
