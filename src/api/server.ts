// The daemon's HTTP API, shaped like the Kubernetes REST API: /api/v1/namespaces/NS/pods/NAME,
// /apis/apps/v1/..., Status errors, ?watch=1 streams of JSON events, pods/log. kemu-only
// endpoints live under /kemu/v1 (status, capture).
import http from 'node:http';
import { alreadyExists, ApiError, badRequest } from '../store/errors.js';
import type { KObject, Store, WatchEvent } from '../store/store.js';
import { fieldMatcher, labelMatcher, type Matcher } from './selectors.js';
import { allResources, resourceByPath, type ResourceInfo } from './resources.js';
import { admit } from './admission.js';
import { deleteObject } from '../controllers/garbage.js';
import { DEFAULTS } from '../config.js';
import { type Allocation, ServiceAllocator, type ServiceNetConfig } from './service-alloc.js';

export type ExtraRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

interface Target {
  info: ResourceInfo;
  namespace?: string;
  name?: string;
  sub?: string;
}

export class ApiServer {
  readonly server: http.Server;
  private readonly extra: ExtraRoute[] = [];
  /** ClusterIP and NodePort allocations, rebuilt from the stored Services. */
  readonly services: ServiceAllocator;

  constructor(
    private readonly store: Store,
    net: ServiceNetConfig = DEFAULTS,
  ) {
    this.services = new ServiceAllocator(net);
    this.services.attach(store);
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => this.fail(res, err));
    });
    this.server.keepAliveTimeout = 60_000;
  }

  route(r: ExtraRoute): void {
    this.extra.push(r);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kemu');
    for (const r of this.extra) if (await r(req, res, url)) return;
    const p = url.pathname.replace(/\/+$/, '');
    if (p === '/version') return json(res, 200, version());
    if (p === '/healthz' || p === '/readyz' || p === '/livez') return text(res, 200, 'ok');
    if (p === '/api') return json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: 'localhost' }] });
    if (p === '/apis') return json(res, 200, groupList());
    const t = this.parse(p);
    if (!t) {
      const disc = resourceList(p);
      if (disc) return json(res, 200, disc);
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource`);
    }
    switch (req.method) {
      case 'GET':
        if (t.sub === 'log') return this.log(req, res, t, url);
        if (t.name && !t.sub) return json(res, 200, this.store.mustGet(t.info.resource, t.namespace, t.name));
        if (t.name && t.sub === 'status') return json(res, 200, this.store.mustGet(t.info.resource, t.namespace, t.name));
        if (t.name) throw new ApiError(404, 'NotFound', `the server could not find the requested resource`);
        if (isTrue(url.searchParams.get('watch'))) return this.watch(req, res, t, url);
        return json(res, 200, this.list(t, url));
      case 'POST': {
        if (t.name) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
        const body = await readJson(req);
        const obj = this.prepare(t, body, undefined);
        // Checked first so a re-sent object reads "already exists", not "IP already allocated".
        if (this.store.get(t.info.resource, t.namespace, obj.metadata.name)) throw alreadyExists(t.info.group, t.info.resource, obj.metadata.name);
        const { object, warnings, allocation } = admit(this.store, t.info, obj, 'create', url.searchParams.get('fieldValidation'), undefined, this.services);
        warn(res, warnings);
        return json(res, 201, this.commit(isDryRun(url), allocation, () => this.store.create(t.info.resource, object), object));
      }
      case 'PUT': {
        if (!t.name) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
        const body = await readJson(req);
        const obj = this.prepare(t, body, t.name);
        const cur = this.store.mustGet(t.info.resource, t.namespace, t.name);
        if (t.sub === 'status') {
          cur.status = obj.status;
          if (obj.metadata.resourceVersion) cur.metadata.resourceVersion = obj.metadata.resourceVersion;
          return json(res, 200, this.store.update(t.info.resource, cur));
        }
        obj.status = cur.status;
        const { object, warnings, allocation } = admit(this.store, t.info, obj, 'update', url.searchParams.get('fieldValidation'), cur, this.services);
        warn(res, warnings);
        return json(res, 200, this.commit(isDryRun(url), allocation, () => this.store.update(t.info.resource, object), object));
      }
      case 'PATCH': {
        if (!t.name) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
        const ct = String(req.headers['content-type'] ?? '');
        if (!ct.startsWith('application/merge-patch+json') && !ct.startsWith('application/json')) {
          throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`);
        }
        const patch = await readJson(req);
        const cur = this.store.mustGet(t.info.resource, t.namespace, t.name);
        if (t.sub === 'scale') {
          const replicas = (patch as any)?.spec?.replicas;
          if (!Number.isInteger(replicas) || replicas < 0) throw badRequest('spec.replicas: must be a non-negative integer');
          cur.spec.replicas = replicas;
          return json(res, 200, scaleOf(this.store.update(t.info.resource, cur)));
        }
        const merged = mergePatch(cur, patch) as KObject;
        merged.metadata.name = t.name;
        if (t.namespace) merged.metadata.namespace = t.namespace;
        const { object, warnings, allocation } = admit(this.store, t.info, merged, 'update', url.searchParams.get('fieldValidation'), cur, this.services);
        warn(res, warnings);
        return json(res, 200, this.commit(isDryRun(url), allocation, () => this.store.update(t.info.resource, object), object));
      }
      case 'DELETE': {
        if (!t.name) throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
        const cur = this.store.mustGet(t.info.resource, t.namespace, t.name);
        const body = (await readJson(req, true)) as any;
        const graceQ = url.searchParams.get('gracePeriodSeconds');
        const grace = graceQ !== null ? Number(graceQ) : body?.gracePeriodSeconds;
        if (isDryRun(url)) return json(res, 200, cur);
        if (t.info.resource === 'namespaces') {
          const o = this.store.mutate('namespaces', undefined, t.name, (n) => {
            if (n.metadata.deletionTimestamp) return false;
            n.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
            n.status = { ...(n.status ?? {}), phase: 'Terminating' };
          });
          return json(res, 200, o);
        }
        deleteObject(this.store, t.info.resource, cur, grace === undefined || Number.isNaN(grace) ? undefined : grace);
        const after = this.store.get(t.info.resource, t.namespace, t.name);
        return json(res, 200, after ?? cur);
      }
      default:
        throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
  }

  /** Stores an admitted object; what admission allocated is given back on dry runs and failures. */
  private commit(dryRun: boolean, allocation: Allocation | undefined, write: () => KObject, object: KObject): KObject {
    if (dryRun) {
      allocation?.revert();
      return object;
    }
    try {
      return write();
    } catch (err) {
      allocation?.revert();
      throw err;
    }
  }

  /** Object from a request body, with path namespace/name checks as the apiserver makes them. */
  private prepare(t: Target, body: unknown, name: string | undefined): KObject {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
    const o = body as KObject;
    if (!o.metadata || typeof o.metadata !== 'object') o.metadata = {} as KObject['metadata'];
    if (o.kind && o.kind !== t.info.kind) {
      throw badRequest(`the API version in the data (${o.apiVersion}) does not match the expected API version (${t.info.groupVersion}) or kind ${o.kind} is not ${t.info.kind}`);
    }
    o.kind = t.info.kind;
    o.apiVersion = t.info.groupVersion;
    if (t.info.namespaced) {
      if (o.metadata.namespace && o.metadata.namespace !== t.namespace) {
        throw badRequest(`the namespace of the provided object does not match the namespace sent on the request`);
      }
      o.metadata.namespace = t.namespace;
    }
    if (name !== undefined) {
      if (o.metadata.name && o.metadata.name !== name) throw badRequest(`the name of the object (${o.metadata.name}) does not match the name on the URL (${name})`);
      o.metadata.name = name;
    }
    if (!o.metadata.name && o.metadata.generateName) {
      o.metadata.name = `${o.metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    }
    return o;
  }

  private parse(p: string): Target | undefined {
    const parts = p.split('/').filter(Boolean);
    let group = '';
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 3) {
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const info = resourceByPath(group, version, rest[0]!);
    if (!info) {
      throw new ApiError(404, 'NotFound', `the server could not find the requested resource`);
    }
    if (namespace && !info.namespaced) throw new ApiError(404, 'NotFound', `the server could not find the requested resource`);
    return { info, namespace, name: rest[1], sub: rest[2] };
  }

  private list(t: Target, url: URL): KObject {
    const match = matcher(url);
    const items = this.store.list(t.info.resource, t.namespace).filter((o) => !match || match(o));
    return {
      kind: `${t.info.kind}List`,
      apiVersion: t.info.groupVersion,
      metadata: { resourceVersion: String(this.store.resourceVersion) } as any,
      items,
    };
  }

  private watch(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): void {
    const match = matcher(url);
    const rvParam = url.searchParams.get('resourceVersion');
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    const send = (type: string, object: KObject) => {
      res.write(JSON.stringify({ type, object }) + '\n');
    };
    const ok = (ev: WatchEvent) =>
      ev.resource === t.info.resource && (!t.namespace || ev.object.metadata.namespace === t.namespace) && (!match || match(ev.object));
    const buffered: WatchEvent[] = [];
    let live = false;
    const unsubscribe = this.store.subscribe((ev) => {
      if (!ok(ev)) return;
      if (live) send(ev.type, ev.object);
      else buffered.push(ev);
    });
    let from: number;
    if (!rvParam || rvParam === '0') {
      for (const o of this.list(t, url).items as KObject[]) send('ADDED', o);
      from = this.store.resourceVersion;
    } else {
      from = Number(rvParam);
      const past = this.store.since(from);
      if (!past) {
        send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.store.resourceVersion})`, reason: 'Expired', code: 410 } as unknown as KObject);
        unsubscribe();
        res.end();
        return;
      }
      for (const ev of past) if (ok(ev)) send(ev.type, ev.object);
      from = this.store.resourceVersion;
    }
    for (const ev of buffered) if (ev.rv > from) send(ev.type, ev.object);
    live = true;
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const stop = () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
    req.on('close', stop);
    res.on('close', stop);
  }

  private async log(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): Promise<void> {
    if (t.info.resource !== 'pods' || !t.name) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const pod = this.store.mustGet('pods', t.namespace, t.name);
    const containers: string[] = (pod.spec?.containers ?? []).map((c: any) => c.name);
    let container = url.searchParams.get('container') ?? undefined;
    if (!container) {
      if (containers.length !== 1) {
        throw badRequest(`a container name must be specified for pod ${t.name}, choose one of: [${containers.join(' ')}]`);
      }
      container = containers[0]!;
    }
    if (!containers.includes(container)) throw badRequest(`container ${container} is not valid for pod ${t.name}`);
    const logs = this.logs;
    if (!logs) throw new ApiError(503, 'ServiceUnavailable', 'logs are not available');
    await logs(req, res, pod, container, {
      follow: isTrue(url.searchParams.get('follow')),
      previous: isTrue(url.searchParams.get('previous')),
      tailLines: url.searchParams.has('tailLines') ? Number(url.searchParams.get('tailLines')) : undefined,
    });
  }

  /** Set by the daemon: streams a container's log file. */
  logs:
    | ((req: http.IncomingMessage, res: http.ServerResponse, pod: KObject, container: string, o: { follow: boolean; previous: boolean; tailLines?: number }) => Promise<void>)
    | undefined;

  private fail(res: http.ServerResponse, err: unknown): void {
    const e =
      err instanceof ApiError
        ? err
        : new ApiError(500, 'InternalError', `Internal error occurred: ${(err as Error)?.message ?? String(err)}`);
    if (e.code === 500) console.error((err as Error)?.stack ?? err);
    if (res.headersSent) {
      res.end();
      return;
    }
    json(res, e.code, e.toStatus());
  }
}

function isTrue(v: string | null): boolean {
  return v === 'true' || v === '1';
}

function isDryRun(url: URL): boolean {
  return url.searchParams.getAll('dryRun').includes('All');
}

function matcher(url: URL): Matcher | undefined {
  const l = labelMatcher(url.searchParams.get('labelSelector'));
  const f = fieldMatcher(url.searchParams.get('fieldSelector'));
  if (l && f) return (o) => l(o) && f(o);
  return l ?? f;
}

function warn(res: http.ServerResponse, warnings: string[]): void {
  if (warnings.length) res.setHeader('Warning', warnings.map((w) => `299 - "${w.replace(/"/g, "'")}"`));
}

export function json(res: http.ServerResponse, code: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}

function text(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function readJson(req: http.IncomingMessage, optional = false): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 8 << 20) throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is larger than 8 MiB');
    chunks.push(c as Buffer);
  }
  const s = Buffer.concat(chunks).toString('utf8');
  if (!s.trim()) {
    if (optional) return undefined;
    throw badRequest('the request body is empty');
  }
  try {
    return JSON.parse(s);
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function scaleOf(o: KObject): unknown {
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion },
    spec: { replicas: o.spec.replicas },
    status: { replicas: o.status?.replicas ?? 0 },
  };
}

function version() {
  return {
    major: '1',
    minor: '31',
    gitVersion: 'v1.31.0-kemu',
    gitCommit: 'kemu',
    gitTreeState: 'clean',
    buildDate: '2026-11-22T00:00:00Z',
    goVersion: 'n/a',
    compiler: 'kemu',
    platform: 'linux/amd64',
  };
}

function groupList() {
  const groups = new Map<string, Set<string>>();
  for (const r of allResources()) {
    if (!r.group) continue;
    if (!groups.has(r.group)) groups.set(r.group, new Set());
    groups.get(r.group)!.add(r.version);
  }
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups].map(([name, versions]) => ({
      name,
      versions: [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${[...versions][0]}`, version: [...versions][0] },
    })),
  };
}

function resourceList(p: string) {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const version = m[1] ?? m[3]!;
  const rs = allResources().filter((r) => r.group === group && r.version === version);
  if (!rs.length) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: rs.map((r) => ({
      name: r.resource,
      singularName: r.kind.toLowerCase(),
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      shortNames: r.shortNames.length ? r.shortNames : undefined,
    })),
  };
}
