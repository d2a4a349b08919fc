// The daemon's HTTP API, shaped like the Kubernetes REST API so kubectl is a first-class
// client: /version, discovery and the openapi stub (discovery.ts), /api/v1/namespaces/NS/pods/
// NAME and /apis/GROUP/VERSION/…, Tables for `get` (tables.ts), PATCH in the four media types
// (patch-request.ts), the scale subresource, dryRun=All, label and field selectors, watch
// streams that stay open, Status errors. kemu-only endpoints live under /kemu/v1 (status,
// capture). The same handler serves the root-only unix socket and the HTTPS listener (which
// checks the bearer token first: daemon/https-listener.ts).
import http from 'node:http';
import { alreadyExists, ApiError, badRequest, conflict } from '../store/errors.js';
import type { KObject, Store, WatchEvent } from '../store/store.js';
import { fieldMatcher, labelMatcher, type Matcher } from './selectors.js';
import { resourceByPath, type ResourceInfo } from './resources.js';
import { admit } from './admission.js';
import { deleteObject } from '../controllers/garbage.js';
import { DEFAULTS } from '../config.js';
import { type Allocation, ServiceAllocator, type ServiceNetConfig } from './service-alloc.js';
import {
  AGGREGATED_CONTENT_TYPE,
  aggregatedDiscovery,
  legacyCore,
  legacyGroups,
  openapiV3,
  resourceList,
  version,
  wantsAggregated,
} from './discovery.js';
import { includeObjectParam, tableRow, tableColumns, toTable, wantsTable } from './tables.js';
import { isDryRun, isTrue, json, mediaType, readJson, text, warn } from './http-util.js';
import { applyPatch } from './patch-request.js';
import { applyScale, scaleOf } from './scale.js';

export { json } from './http-util.js';
export { mergePatch } from './patch/json-patch.js';

export type ExtraRoute = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean | Promise<boolean>;

interface Target {
  info: ResourceInfo;
  namespace?: string;
  name?: string;
  sub?: string;
}

const NOT_FOUND = 'the server could not find the requested resource';
const SCALABLE = new Set(['deployments', 'statefulsets', 'replicasets']);

function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

export class ApiServer {
  /** The listener on the daemon's root-only unix socket. */
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
    this.server = http.createServer(this.handler);
    this.server.keepAliveTimeout = 60_000;
  }

  /** The request handler, for any listener that has decided the caller may use the API. */
  readonly handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.handle(req, res).catch((err) => this.fail(res, err));
  };

  route(r: ExtraRoute): void {
    this.extra.push(r);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kemu');
    for (const r of this.extra) if (await r(req, res, url)) return;
    const p = url.pathname.replace(/\/+$/, '');
    const accept = req.headers.accept;
    if (p === '/version') return json(res, 200, version());
    if (p === '/healthz' || p === '/readyz' || p === '/livez') return text(res, 200, 'ok');
    if (p === '/api' || p === '/apis') {
      const core = p === '/api';
      if (wantsAggregated(accept)) return json(res, 200, aggregatedDiscovery(core), AGGREGATED_CONTENT_TYPE);
      return json(res, 200, core ? legacyCore(String(req.headers.host ?? 'localhost')) : legacyGroups());
    }
    if (p === '/openapi/v3' || p.startsWith('/openapi/v3/')) {
      const doc = openapiV3(p.slice('/openapi/v3'.length).replace(/^\//, ''));
      if (!doc) throw new ApiError(404, 'NotFound', NOT_FOUND);
      res.setHeader('Cache-Control', 'no-cache, private');
      return json(res, 200, doc);
    }
    const t = this.parse(p);
    if (!t) {
      const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(p);
      const disc = m ? resourceList(m[2] ?? '', m[1] ?? m[3]!) : undefined;
      if (disc) return json(res, 200, disc);
      throw new ApiError(404, 'NotFound', NOT_FOUND);
    }
    if (t.sub && !['status', 'log', 'scale'].includes(t.sub)) throw new ApiError(404, 'NotFound', NOT_FOUND);
    if (t.sub === 'scale' && !SCALABLE.has(t.info.resource)) throw new ApiError(404, 'NotFound', NOT_FOUND);
    switch (req.method) {
      case 'GET':
        return this.get(req, res, t, url);
      case 'POST':
        return this.post(req, res, t, url);
      case 'PUT':
        return this.put(req, res, t, url);
      case 'PATCH':
        return this.patch(req, res, t, url);
      case 'DELETE':
        return this.delete(req, res, t, url);
      default:
        throw methodNotAllowed();
    }
  }

  private async get(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): Promise<void> {
    if (t.sub === 'log') return this.log(req, res, t, url);
    if (t.name) {
      const o = this.store.mustGet(t.info.resource, t.namespace, t.name);
      if (t.sub === 'scale') return json(res, 200, scaleOf(o));
      if (wantsTable(req.headers.accept) && !t.sub) {
        return json(res, 200, toTable(t.info.resource, [o], o.metadata.resourceVersion, includeObjectParam(url.searchParams.get('includeObject'))));
      }
      return json(res, 200, o);
    }
    if (isTrue(url.searchParams.get('watch'))) return this.watch(req, res, t, url);
    const list = this.list(t, url);
    if (wantsTable(req.headers.accept)) {
      return json(res, 200, toTable(t.info.resource, list.items as KObject[], list.metadata.resourceVersion, includeObjectParam(url.searchParams.get('includeObject'))));
    }
    return json(res, 200, list);
  }

  private async post(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): Promise<void> {
    if (t.name) throw methodNotAllowed();
    const body = await readJson(req);
    const obj = this.prepare(t, body, undefined);
    // Checked first so a re-sent object reads "already exists", not "IP already allocated".
    if (this.store.get(t.info.resource, t.namespace, obj.metadata.name)) throw alreadyExists(t.info.group, t.info.resource, obj.metadata.name);
    const dryRun = isDryRun(url);
    const { object, warnings, allocation } = admit(this.store, t.info, obj, 'create', url.searchParams.get('fieldValidation'), undefined, this.services);
    warn(res, warnings);
    return json(res, 201, this.commit(dryRun, allocation, () => this.store.create(t.info.resource, object), object));
  }

  private async put(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): Promise<void> {
    if (!t.name) throw methodNotAllowed();
    const body = await readJson(req);
    const dryRun = isDryRun(url);
    const cur = this.store.mustGet(t.info.resource, t.namespace, t.name);
    if (t.sub === 'scale') {
      const next = applyScale(t.info.group, t.info.resource, cur, body);
      return json(res, 200, scaleOf(dryRun ? next : this.store.update(t.info.resource, next)));
    }
    const obj = this.prepare(t, body, t.name);
    if (t.sub === 'status') {
      cur.status = obj.status;
      if (obj.metadata.resourceVersion) cur.metadata.resourceVersion = obj.metadata.resourceVersion;
      return json(res, 200, dryRun ? cur : this.store.update(t.info.resource, cur));
    }
    obj.status = cur.status;
    this.keepServerFields(obj, cur);
    const { object, warnings, allocation } = admit(this.store, t.info, obj, 'update', url.searchParams.get('fieldValidation'), cur, this.services);
    warn(res, warnings);
    return json(res, 200, this.commit(dryRun, allocation, () => this.store.update(t.info.resource, object), object));
  }

  private async patch(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): Promise<void> {
    if (!t.name) throw methodNotAllowed();
    const type = mediaType(req);
    const body = await readJson(req);
    const dryRun = isDryRun(url);
    const cur = this.store.get(t.info.resource, t.namespace, t.name);
    if (t.sub === 'scale') {
      if (!cur) this.store.mustGet(t.info.resource, t.namespace, t.name);
      const scale = applyPatch({ ...t.info, kind: 'Scale' }, type === 'application/apply-patch+yaml' ? 'application/merge-patch+json' : type, scaleOf(cur!), body, null, t.name).object;
      const next = applyScale(t.info.group, t.info.resource, cur!, scale);
      return json(res, 200, scaleOf(dryRun ? next : this.store.update(t.info.resource, next)));
    }
    const manager = url.searchParams.get('fieldManager');
    const { object: patched, created } = applyPatch(t.info, type, cur, body, manager, t.name);
    if (t.sub === 'status') {
      if (!cur) throw new ApiError(404, 'NotFound', NOT_FOUND);
      const next = structuredClone(cur);
      next.status = patched.status;
      if (patched.metadata?.resourceVersion) next.metadata.resourceVersion = patched.metadata.resourceVersion;
      return json(res, 200, dryRun ? next : this.store.update(t.info.resource, next));
    }
    if (!isPlainObject(patched) || !isPlainObject(patched.metadata)) throw badRequest('the patched object must be a JSON object with metadata');
    patched.kind = t.info.kind;
    patched.apiVersion = t.info.groupVersion;
    patched.metadata.name = t.name;
    if (t.info.namespaced) patched.metadata.namespace = t.namespace;
    else delete patched.metadata.namespace;
    const fv = url.searchParams.get('fieldValidation');
    if (created) {
      const obj = this.prepare(t, patched, t.name);
      const { object, warnings, allocation } = admit(this.store, t.info, obj, 'create', fv, undefined, this.services);
      warn(res, warnings);
      return json(res, 201, this.commit(dryRun, allocation, () => this.store.create(t.info.resource, object), object));
    }
    // Identity and server-owned fields are not the patch's to change.
    patched.metadata.uid = cur!.metadata.uid;
    patched.metadata.creationTimestamp = cur!.metadata.creationTimestamp;
    if (patched.metadata.resourceVersion !== cur!.metadata.resourceVersion && !patched.metadata.resourceVersion) patched.metadata.resourceVersion = cur!.metadata.resourceVersion;
    patched.status = cur!.status;
    const { object, warnings, allocation } = admit(this.store, t.info, patched, 'update', fv, cur, this.services);
    warn(res, warnings);
    return json(res, 200, this.commit(dryRun, allocation, () => this.store.update(t.info.resource, object), object));
  }

  private async delete(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): Promise<void> {
    if (!t.name || t.sub) throw methodNotAllowed();
    const cur = this.store.mustGet(t.info.resource, t.namespace, t.name);
    const body = (await readJson(req, true)) as any;
    const pre = body?.preconditions;
    if (pre?.uid && pre.uid !== cur.metadata.uid) {
      throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${cur.metadata.uid}`);
    }
    if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) throw conflict(t.info.group, t.info.resource, t.name);
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
    deleteObject(this.store, t.info.resource, cur, grace === undefined || grace === null || Number.isNaN(grace) ? undefined : grace);
    const after = this.store.get(t.info.resource, t.namespace, t.name);
    return json(res, 200, after ?? { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: t.name, group: t.info.group, kind: t.info.resource, uid: cur.metadata.uid } });
  }

  /** A PUT body without server-owned metadata keeps the stored one (managedFields). */
  private keepServerFields(obj: KObject, cur: KObject): void {
    if (obj.metadata.managedFields === undefined && cur.metadata.managedFields !== undefined) obj.metadata.managedFields = cur.metadata.managedFields;
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
    const parts = p.split('/').filter(Boolean).map(decodeURIComponent);
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
    if (!info) throw new ApiError(404, 'NotFound', NOT_FOUND);
    if (namespace && !info.namespaced) throw new ApiError(404, 'NotFound', NOT_FOUND);
    if (rest.length > 3) throw new ApiError(404, 'NotFound', NOT_FOUND);
    return { info, namespace, name: rest[1], sub: rest[2] };
  }

  private list(t: Target, url: URL): { kind: string; apiVersion: string; metadata: { resourceVersion: string }; items: KObject[] } {
    const match = matcher(url);
    const items = this.store.list(t.info.resource, t.namespace).filter((o) => !match || match(o));
    return {
      kind: `${t.info.kind}List`,
      apiVersion: t.info.groupVersion,
      metadata: { resourceVersion: String(this.store.resourceVersion) },
      items,
    };
  }

  /**
   * A watch stream: newline-delimited events, flushed one by one, open until the client goes
   * (kubectl get -w exits when the server closes) or timeoutSeconds passes (reflectors reopen).
   * resourceVersion unset or "0" starts with a synthetic ADDED per object; any other value
   * resumes after it from the store's history, or answers 410 Expired when that is gone.
   */
  private watch(req: http.IncomingMessage, res: http.ServerResponse, t: Target, url: URL): void {
    const match = matcher(url);
    const rvParam = url.searchParams.get('resourceVersion');
    const asTable = wantsTable(req.headers.accept);
    const include = includeObjectParam(url.searchParams.get('includeObject'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    let first = true;
    const send = (type: string, object: KObject) => {
      let out: unknown = object;
      if (asTable && type !== 'ERROR') {
        // One-row Tables; the apiserver sends the column definitions with the first only.
        out = {
          kind: 'Table',
          apiVersion: 'meta.k8s.io/v1',
          metadata: { resourceVersion: object.metadata.resourceVersion },
          columnDefinitions: first ? tableColumns(t.info.resource) : [],
          rows: [tableRow(t.info.resource, object, include)],
        };
        first = false;
      }
      res.write(JSON.stringify({ type, object: out }) + '\n');
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
      for (const o of this.list(t, url).items) send('ADDED', o);
      from = this.store.resourceVersion;
    } else {
      from = Number(rvParam);
      const past = Number.isInteger(from) ? this.store.since(from) : undefined;
      if (!past) {
        send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${rvParam} (${this.store.resourceVersion})`, reason: 'Expired', code: 410 } as unknown as KObject);
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
    if (t.info.resource !== 'pods' || !t.name) throw new ApiError(404, 'NotFound', NOT_FOUND);
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

function isPlainObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function matcher(url: URL): Matcher | undefined {
  const l = labelMatcher(url.searchParams.get('labelSelector'));
  const f = fieldMatcher(url.searchParams.get('fieldSelector'));
  if (l && f) return (o) => l(o) && f(o);
  return l ?? f;
}
