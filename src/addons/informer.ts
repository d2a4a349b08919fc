// List + watch of several resources over the daemon's API socket, as a controller's informers
// watch the apiserver: one snapshot of every object per resource, a debounced callback after
// changes (a rollout touches many objects at once), relist after a broken watch or an ERROR event.
// Shared by the add-on processes that run in pods (cluster DNS, the ingress controller).
import http from 'node:http';
import type { KObject } from '../store/store.js';

export function apiRequest(socketPath: string, method: string, path: string, body?: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { Accept: 'application/json' };
    if (data) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    const req = http.request({ socketPath, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        else {
          try {
            resolve(text ? JSON.parse(text) : undefined);
          } catch (err) {
            reject(err);
          }
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

export type Snapshot<K extends string> = Record<K, Map<string, KObject>>;

export class Informer<K extends string> {
  readonly objects: Snapshot<K>;
  private readonly listed = new Set<K>();
  private readonly requests = new Set<http.ClientRequest>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly socketPath: string,
    private readonly resources: Record<K, string>,
    /** Called (debounced) after changes; `synced` once every resource has been listed. */
    private readonly onChange: (s: Snapshot<K>, synced: boolean) => void,
    /** A warning about one resource's list or watch (the caller words it for its log). */
    private readonly warn: (key: K, message: string) => void = (k, m) => console.log(`W informer ${k}: ${m}`),
  ) {
    this.objects = Object.fromEntries(Object.keys(resources).map((k) => [k, new Map()])) as Snapshot<K>;
  }

  get synced(): boolean {
    return this.listed.size === Object.keys(this.resources).length;
  }

  start(): void {
    for (const k of Object.keys(this.resources) as K[]) void this.run(k, this.resources[k]);
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.requests) r.destroy();
    if (this.timer) clearTimeout(this.timer);
  }

  private changed(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onChange(this.objects, this.synced);
    }, 5);
  }

  private async run(key: K, path: string): Promise<void> {
    let delay = 100;
    while (!this.stopped) {
      try {
        const list = await apiRequest(this.socketPath, 'GET', path);
        const m = this.objects[key];
        m.clear();
        for (const o of list.items ?? []) m.set(objKey(o), o);
        this.listed.add(key);
        this.changed();
        delay = 100;
        await this.watch(key, path, String(list.metadata?.resourceVersion ?? ''));
      } catch (err) {
        if (this.stopped) return;
        this.warn(key, `${(err as Error).message}; retrying`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  private watch(key: K, path: string, rv: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, path: `${path}?watch=1&resourceVersion=${encodeURIComponent(rv)}`, method: 'GET' }, (res) => {
        if ((res.statusCode ?? 500) >= 400) {
          res.resume();
          reject(new Error(`watch ${path}: HTTP ${res.statusCode}`));
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!line.trim()) continue;
            let ev: { type: string; object: KObject };
            try {
              ev = JSON.parse(line);
            } catch {
              continue;
            }
            if (ev.type === 'ERROR') {
              this.warn(key, 'watch ended with an error event; relisting');
              req.destroy(); // 410 Gone and the like: relist
              resolve();
              return;
            }
            if (ev.type === 'DELETED') this.objects[key].delete(objKey(ev.object));
            else this.objects[key].set(objKey(ev.object), ev.object);
            this.changed();
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      this.requests.add(req);
      req.on('close', () => this.requests.delete(req));
      req.on('error', reject);
      req.end();
    });
  }
}

function objKey(o: KObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
