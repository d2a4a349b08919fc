// The reverse proxy of the controller pod: node:http on 80 and node:https on 443 (SNI picks the
// certificate, the Host header picks the route), HTTP/1.1 with keep-alive on both sides, and
// plaintext to the chosen endpoint. What reaches the backend is the client's method, path
// (rewritten when asked), body and headers, plus what ingress-nginx adds: X-Forwarded-For (the
// peer address: like ingress-nginx's default, a client's own X-Forwarded-For is not trusted),
// X-Real-IP, X-Forwarded-Host/-Port/-Proto/-Scheme, X-Scheme and X-Request-ID. The routing
// state is swapped whole on each cluster change; a request reads one snapshot.
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { type Endpoint, type EndpointSet, pick } from './backends.js';
import { rewriteUrl } from './rewrite.js';
import { forwardable, Upstreams } from './upstream.js';
import { emptyTable, route, type Decision, type RouteTable } from './routes.js';

export interface ProxyState {
  table: RouteTable;
  endpoints: Map<string, EndpointSet>;
}

export interface ProxyStats {
  requests: number;
  notFound: number;
  unavailable: number;
  badGateway: number;
  redirects: number;
  retries: number;
}

/** ingress-nginx's proxy-next-upstream-tries: a connection error moves on to another endpoint. */
const TRIES = 3;

const STATUS_TEXT: Record<number, string> = { 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out', 308: 'Permanent Redirect', 400: 'Bad Request' };

function errorPage(code: number): string {
  const t = `${code} ${STATUS_TEXT[code] ?? ''}`;
  return `<html>\r\n<head><title>${t}</title></head>\r\n<body>\r\n<center><h1>${t}</h1></center>\r\n<hr><center>kemu-ingress</center>\r\n</body>\r\n</html>\r\n`;
}

/** `::ffff:10.0.0.1` (a dual-stack socket's view of IPv4) -> `10.0.0.1`, as nginx's $remote_addr. */
function peerOf(req: http.IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** ingress-nginx's proxy headers (proxy_set_header … in its template) replace the client's. */
const OVERRIDDEN = new Set(['x-real-ip', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-proto', 'x-forwarded-scheme', 'x-scheme']);

/** The request's headers as a flat list, case kept, minus hop-by-hop ones, plus the proxy's. */
function upstreamHeaders(req: http.IncomingMessage, peer: string, scheme: string, port: number): string[] {
  const raw = req.rawHeaders;
  const listed = req.headers.connection;
  const alsoDrop = listed ? new Set(listed.split(',').map((n) => n.trim().toLowerCase())) : undefined;
  const out: string[] = [];
  let requestId: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (!forwardable(lower) || OVERRIDDEN.has(lower) || alsoDrop?.has(lower)) continue;
    if (lower === 'x-request-id') requestId = raw[i + 1];
    else out.push(raw[i]!, raw[i + 1]!);
  }
  out.push(
    'X-Request-ID', requestId ?? crypto.randomUUID().replace(/-/g, ''),
    'X-Real-IP', peer,
    'X-Forwarded-For', peer,
    'X-Forwarded-Host', req.headers.host ?? '',
    'X-Forwarded-Port', String(port),
    'X-Forwarded-Proto', scheme,
    'X-Forwarded-Scheme', scheme,
    'X-Scheme', scheme,
  );
  return out;
}

function splitUrl(url: string): { pathname: string; search: string } {
  const q = url.indexOf('?');
  return q < 0 ? { pathname: url, search: '' } : { pathname: url.slice(0, q), search: url.slice(q) };
}

export class IngressProxy {
  state: ProxyState = { table: emptyTable(), endpoints: new Map() };
  readonly stats: ProxyStats = { requests: 0, notFound: 0, unavailable: 0, badGateway: 0, redirects: 0, retries: 0 };
  readonly upstreams = new Upstreams();
  private logBuf: string[] = [];

  constructor(private readonly accessLog: boolean = true) {}

  /** Swap in a new routing state; pools of endpoints that left are closed. */
  setState(state: ProxyState): void {
    this.state = state;
    this.upstreams.retain((function* () {
      for (const set of state.endpoints.values()) yield* set.endpoints;
    })());
  }

  /** Request handler for a listener of `scheme` on `port`. */
  handler(scheme: 'http' | 'https', port: number): (req: http.IncomingMessage, res: http.ServerResponse) => void {
    return (req, res) => this.handle(req, res, scheme, port);
  }

  private decide(req: http.IncomingMessage): { d: Decision; pathname: string; search: string } | undefined {
    const url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* '/' */) return undefined;
    const { pathname, search } = splitUrl(url);
    return { d: route(this.state.table, req.headers.host, pathname), pathname, search };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, scheme: 'http' | 'https', port: number): void {
    this.stats.requests++;
    const t0 = performance.now();
    const x = this.decide(req);
    if (!x) return this.reply(req, res, 400, t0);
    const { d, pathname, search } = x;
    if (d.kind === 'not-found') {
      this.stats.notFound++;
      return this.reply(req, res, 404, t0);
    }
    if (scheme === 'http' && d.route?.sslRedirect) {
      this.stats.redirects++;
      res.setHeader('Location', `https://${req.headers.host ?? ''}${req.url}`);
      return this.reply(req, res, 308, t0);
    }
    const set = this.state.endpoints.get(d.target.key);
    const first = pick(set);
    if (!first) {
      this.stats.unavailable++;
      return this.reply(req, res, 503, t0, `${d.target.key}: ${set?.why ?? 'no endpoints'}`);
    }
    const peer = peerOf(req);
    const headers = upstreamHeaders(req, peer, scheme, port);
    const path = rewriteUrl(d.route, pathname, search);
    // Only a request without a body can be replayed on another endpoint after a connection error.
    const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    this.forward(req, res, first, set!, path, headers, hasBody ? req : null, hasBody ? 1 : TRIES, t0, d.target.key);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, ep: Endpoint, set: EndpointSet, path: string, headers: string[], body: http.IncomingMessage | null, triesLeft: number, t0: number, key: string): void {
    let abort: ((err?: Error) => void) | undefined;
    const onClose = () => {
      if (!res.writableFinished) abort?.();
    };
    res.on('close', onClose);
    this.upstreams.dispatch(ep, req.method ?? 'GET', path, headers, body, {
      onAbort: (a) => (abort = a),
      onResume: (resume) => res.on('drain', resume),
      headers: (status, h) => {
        res.writeHead(status, h);
        this.log(req, status, t0, `${ep.host}:${ep.port}`);
      },
      data: (chunk) => res.write(chunk),
      end: () => res.end(),
      error: (err, beforeResponse) => {
        res.off('close', onClose);
        if (!beforeResponse || res.headersSent) {
          res.destroy();
          return;
        }
        // Refused, timed out, or a kept-alive connection the backend had closed: next endpoint.
        if (triesLeft > 1) {
          const next = pick(set);
          if (next) {
            this.stats.retries++;
            this.forward(req, res, next, set, path, headers, body, triesLeft - 1, t0, key);
            return;
          }
        }
        this.stats.badGateway++;
        const timeout = /Timeout/i.test(err.code ?? '') || /timeout/i.test(err.message);
        this.reply(req, res, timeout ? 504 : 502, t0, `${key} ${ep.host}:${ep.port}: ${err.code ?? err.message}`);
      },
    });
  }

  private reply(req: http.IncomingMessage, res: http.ServerResponse, code: number, t0: number, why?: string): void {
    const body = errorPage(code);
    res.writeHead(code, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(body), Server: 'kemu-ingress' });
    res.end(req.method === 'HEAD' ? undefined : body);
    req.resume();
    this.log(req, code, t0, '-', why);
  }

  /** WebSocket and other Upgrade requests: the same routing, then raw bytes both ways. */
  upgrade(scheme: 'http' | 'https', port: number): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
    return (req, socket, head) => {
      const x = this.decide(req);
      const ep = x && x.d.kind === 'backend' ? pick(this.state.endpoints.get(x.d.target.key)) : undefined;
      if (!x || !ep || x.d.kind !== 'backend') {
        socket.end(`HTTP/1.1 ${ep ? 400 : 404} ${ep ? 'Bad Request' : 'Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      const upstream = net.connect(ep.port, ep.host, () => {
        const peer = peerOf(req);
        const lines = [`${req.method} ${rewriteUrl(x.d.kind === 'backend' ? x.d.route : undefined, x.pathname, x.search)} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2) {
          if (/^x-(forwarded-|real-ip)/i.test(req.rawHeaders[i]!)) continue;
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        }
        lines.push(`X-Forwarded-For: ${peer}`, `X-Real-IP: ${peer}`, `X-Forwarded-Host: ${req.headers.host ?? ''}`, `X-Forwarded-Port: ${port}`, `X-Forwarded-Proto: ${scheme}`);
        upstream.write(lines.join('\r\n') + '\r\n\r\n');
        if (head.length) upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    };
  }

  /** One line per request in the spirit of ingress-nginx's log format, written in batches. */
  private log(req: http.IncomingMessage, status: number, t0: number, upstream: string, why?: string): void {
    if (!this.accessLog) return;
    const ms = (performance.now() - t0) / 1000;
    const line = `${peerOf(req) || '-'} - - [${new Date().toISOString()}] "${req.method} ${req.url} HTTP/${req.httpVersion}" ${status} "${req.headers['user-agent'] ?? '-'}" host=${req.headers.host ?? '-'} ${ms.toFixed(3)} [${upstream}]${why ? ` ${why}` : ''}\n`;
    if (this.logBuf.push(line) === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const lines = this.logBuf;
    this.logBuf = [];
    process.stdout.write(lines.join(''));
  }
}
