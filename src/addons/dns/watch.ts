// The resolver's informers: list + watch of Namespaces, Services and EndpointSlices over the
// daemon's API socket, as CoreDNS watches the apiserver. Each change rebuilds the view (a
// level-triggered snapshot, debounced); a broken watch relists.
import http from 'node:http';
import type { KObject } from '../../store/store.js';
import { buildView, type ClusterView } from './view.js';

const RESOURCES = [
  { key: 'namespaces', path: '/api/v1/namespaces' },
  { key: 'services', path: '/api/v1/services' },
  { key: 'endpointSlices', path: '/apis/discovery.k8s.io/v1/endpointslices' },
] as const;

type Key = (typeof RESOURCES)[number]['key'];

function get(socketPath: string, path: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path, method: 'GET', headers: { Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 400) reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        else {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(err);
          }
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export class ClusterWatcher {
  private readonly objects: Record<Key, Map<string, KObject>> = { namespaces: new Map(), services: new Map(), endpointSlices: new Map() };
  private readonly listed = new Set<Key>();
  private readonly requests = new Set<http.ClientRequest>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private serial = Math.floor(Date.now() / 1000);
  /** Last view built; undefined until the first build. */
  view: ClusterView;

  constructor(
    private readonly socketPath: string,
    private readonly zone: string,
    private readonly onView: (v: ClusterView) => void,
    private readonly log: (line: string) => void = console.log,
  ) {
    this.view = this.build();
  }

  start(): void {
    for (const r of RESOURCES) void this.run(r.key, r.path);
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.requests) r.destroy();
    if (this.timer) clearTimeout(this.timer);
  }

  private build(): ClusterView {
    return buildView(
      { namespaces: this.objects.namespaces.values(), services: this.objects.services.values(), endpointSlices: this.objects.endpointSlices.values() },
      this.zone,
      this.serial,
      this.listed.size === RESOURCES.length,
    );
  }

  /** Coalesce bursts (a rollout touches many objects) into one rebuild. */
  private changed(): void {
    this.serial = Math.floor(Date.now() / 1000);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.view = this.build();
      this.onView(this.view);
    }, 5);
  }

  private async run(key: Key, path: string): Promise<void> {
    let delay = 100;
    while (!this.stopped) {
      try {
        const list = await get(this.socketPath, path);
        const m = new Map<string, KObject>();
        for (const o of list.items ?? []) m.set(objKey(o), o);
        this.objects[key] = m;
        const first = !this.listed.has(key);
        this.listed.add(key);
        if (first && this.listed.size === RESOURCES.length) this.log('[INFO] plugin/kubernetes: synced with the kemu API');
        this.changed();
        delay = 100;
        await this.watch(key, path, String(list.metadata?.resourceVersion ?? ''));
      } catch (err) {
        if (this.stopped) return;
        this.log(`[WARNING] plugin/kubernetes: ${key}: ${(err as Error).message}; retrying`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }

  /** Resolves when the watch ends (server closed it, or an error event such as 410 Gone). */
  private watch(key: Key, path: string, rv: string): Promise<void> {
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
            if (line.trim() && !this.event(key, line)) {
              // An ERROR event (410 Gone after a long disconnect…): relist.
              this.log(`[WARNING] plugin/kubernetes: watch ${key} ended with an error event; relisting`);
              req.destroy();
              resolve();
              return;
            }
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

  /** Apply one watch event; false for an ERROR event. */
  private event(key: Key, line: string): boolean {
    let ev: { type: string; object: KObject };
    try {
      ev = JSON.parse(line);
    } catch {
      return true;
    }
    if (ev.type === 'ERROR') return false;
    const k = objKey(ev.object);
    if (ev.type === 'DELETED') this.objects[key].delete(k);
    else this.objects[key].set(k, ev.object);
    this.changed();
    return true;
  }
}

function objKey(o: KObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
