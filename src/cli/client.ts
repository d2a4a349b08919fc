// HTTP client of the daemon's API over its root-only unix socket.
import http from 'node:http';
import { ClusterPaths } from '../config.js';

export class ClientError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly body?: any,
  ) {
    super(message);
  }
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export class Client {
  readonly paths: ClusterPaths;
  constructor(readonly cluster: string) {
    this.paths = new ClusterPaths(cluster);
  }

  raw(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          socketPath: this.paths.socket,
          method,
          path,
          headers: { Accept: 'application/json', ...(data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}), ...headers },
        },
        resolve,
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          reject(new ClientError(0, 'Unavailable', `cluster "${this.cluster}" is not running (no daemon at ${this.paths.socket}); start it with: kemu up --name ${this.cluster}`));
        } else if (err.code === 'EACCES') {
          reject(new ClientError(0, 'Forbidden', `permission denied on ${this.paths.socket}: kemu's API is for root only`));
        } else reject(err);
      });
      if (data) req.write(data);
      req.end();
    });
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const res = await this.raw(method, path, body, headers);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let parsed: any = text;
    if (String(res.headers['content-type'] ?? '').includes('json') && text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        /* keep text */
      }
    }
    if ((res.statusCode ?? 500) >= 400) {
      const msg = parsed && typeof parsed === 'object' && parsed.message ? parsed.message : text || `HTTP ${res.statusCode}`;
      const reason = parsed && typeof parsed === 'object' && parsed.reason ? parsed.reason : String(res.statusCode);
      throw new ClientError(res.statusCode ?? 500, reason, msg, parsed);
    }
    return { status: res.statusCode ?? 0, headers: res.headers, body: parsed };
  }

  async get(path: string): Promise<any> {
    return (await this.request('GET', path)).body;
  }
}

/** kubectl's rendering of a server error: `Error from server (NotFound): pods "x" not found`. */
export function formatError(err: unknown): string {
  if (err instanceof ClientError) {
    if (err.code === 0) return `error: ${err.message}`;
    return `Error from server (${err.reason}): ${err.message}`;
  }
  return `error: ${(err as Error)?.message ?? String(err)}`;
}
