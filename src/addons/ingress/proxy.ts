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

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade'];
/** ingress-nginx's proxy-next-upstream-tries: a connection error moves on to another endpoint. */
const TRIES = 3;
const CONNECT_TIMEOUT_MS = 5_000;
const READ_TIMEOUT_MS = 60_000;

const STATUS_TEXT: Record<number, string> = { 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out', 308: 'Permanent Redirect', 400: 'Bad Request' };

function errorPage(code: number): string {
  const t = `${code} ${STATUS_TEXT[code] ?? ''}`;
  return `<html>\r\n<head><title>${t}</title></head>\r\n<body>\r\n<center><h1>${t}</h1></center>\r\n<hr><center>kemu-ingress</center>\r\n</body>\r\n</html>\r\n`;
}

function stripHopByHop(h: http.IncomingHttpHeaders | http.OutgoingHttpHeaders): void {
  const listed = h.connection;
  if (typeof listed === 'string') for (const n of listed.split(',')) delete h[n.trim().toLowerCase()];
  for (const n of HOP_BY_HOP) delete h[n];
}

/** `::ffff:10.0.0.1` (a dual-stack socket's view of IPv4) -> `10.0.0.1`, as nginx's $remote_addr. */
function peerOf(req: http.IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

function splitUrl(url: string): { pathname: string; search: string } {
  const q = url.indexOf('?');
  return q < 0 ? { pathname: url, search: '' } : { pathname: url.slice(0, q), search: url.slice(q) };
}

export class IngressProxy {
  state: ProxyState = { table: emptyTable(), endpoints: new Map() };
  readonly stats: ProxyStats = { requests: 0, notFound: 0, unavailable: 0, badGateway: 0, redirects: 0, retries: 0 };
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 256, timeout: READ_TIMEOUT_MS });
  private logBuf: string[] = [];

  constructor(private readonly accessLog: boolean = true) {}

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
    const headers: http.OutgoingHttpHeaders = { ...req.headers };
    stripHopByHop(headers);
    const peer = peerOf(req);
    headers['x-request-id'] ??= crypto.randomUUID().replace(/-/g, '');
    headers['x-real-ip'] = peer;
    headers['x-forwarded-for'] = peer;
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-port'] = String(port);
    headers['x-forwarded-proto'] = scheme;
    headers['x-forwarded-scheme'] = scheme;
    headers['x-scheme'] = scheme;
    const path = rewriteUrl(d.route, pathname, search);
    // Only a request without a body can be replayed on another endpoint after a connection error.
    const replayable = !req.headers['content-length'] && !req.headers['transfer-encoding'];
    this.forward(req, res, first, set!, path, headers, replayable ? TRIES : 1, t0, d.target.key);
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, ep: Endpoint, set: EndpointSet, path: string, headers: http.OutgoingHttpHeaders, triesLeft: number, t0: number, key: string, retry = false): void {
    let connected = false;
    const up = http.request({ host: ep.host, port: ep.port, method: req.method, path, headers, agent: this.agent, setHost: false });
    const connectTimer = setTimeout(() => up.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), CONNECT_TIMEOUT_MS);
    up.on('socket', (s) => {
      // Nagle would hold a request written in pieces until the backend's delayed ACK (40 ms).
      (s as net.Socket).setNoDelay(true);
      if (!(s as net.Socket).connecting) {
        connected = true;
        clearTimeout(connectTimer);
      } else
        s.once('connect', () => {
          connected = true;
          clearTimeout(connectTimer);
        });
    });
    up.on('response', (ur) => {
      clearTimeout(connectTimer);
      const h = { ...ur.headers };
      stripHopByHop(h);
      res.writeHead(ur.statusCode ?? 502, h);
      ur.pipe(res);
      ur.on('end', () => this.log(req, ur.statusCode ?? 0, t0, `${ep.host}:${ep.port}`));
      ur.on('error', () => res.destroy());
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A refused connect, or a kept-alive socket the backend had closed: try the next endpoint.
      const reused = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      if (triesLeft > 1 && (!connected || reused)) {
        const next = pick(set);
        if (next) {
          this.stats.retries++;
          this.forward(req, res, next, set, path, headers, triesLeft - 1, t0, key, true);
          return;
        }
      }
      this.stats.badGateway++;
      this.reply(req, res, err.code === 'ETIMEDOUT' ? 504 : 502, t0, `${key} ${ep.host}:${ep.port}: ${err.code ?? err.message}`);
    });
    up.setTimeout(READ_TIMEOUT_MS, () => up.destroy(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' })));
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    // A retry only happens for a request without a body, which has nothing left to pipe.
    if (retry) up.end();
    else req.pipe(up);
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
