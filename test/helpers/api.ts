// An in-process API server over a fresh store, on a loopback TCP port: unit tests drive the
// same HTTP path kubectl and the kemu CLI use, without namespaces or root.
import { ApiServer } from '../../src/api/server.js';
import { groupOfResource } from '../../src/api/resources.js';
import type { ServiceNetConfig } from '../../src/api/service-alloc.js';
import { type KObject, Store } from '../../src/store/store.js';

export interface Reply {
  code: number;
  body: any;
}

export interface TestApi {
  store: Store;
  api: ApiServer;
  req(method: string, path: string, body?: unknown): Promise<Reply>;
  /** POST a Service to /api/v1/namespaces/NS/services. */
  createService(svc: KObject | Record<string, unknown>, ns?: string): Promise<Reply>;
  close(): Promise<void>;
}

export async function startApi(store = new Store(groupOfResource), net?: ServiceNetConfig): Promise<TestApi> {
  for (const ns of ['default', 'prod']) {
    if (!store.get('namespaces', undefined, ns)) store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  }
  const api = new ApiServer(store, net);
  await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
  const addr = api.server.address() as { port: number };
  const req = async (method: string, path: string, body?: unknown): Promise<Reply> => {
    const r = await fetch(`http://127.0.0.1:${addr.port}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { code: r.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    store,
    api,
    req,
    createService: (svc, ns = 'default') => req('POST', `/api/v1/namespaces/${ns}/services`, svc),
    close: () =>
      new Promise<void>((r) => {
        api.services.detach();
        api.server.close(() => r());
        api.server.closeAllConnections();
      }),
  };
}

export function service(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, ...extra }, spec };
}
