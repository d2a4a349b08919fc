// GET /kemu/v1/conntrack?namespace=NS&pod=NS/NAME lists the live NAT flows, with the client
// interface they came from.
import type http from 'node:http';
import { json } from '../api/server.js';
import { describe, nowSeconds, type DataPlane } from '../dataplane/router.js';

export function conntrackRoute(dp: DataPlane) {
  return (req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean => {
    if (url.pathname !== '/kemu/v1/conntrack' || req.method !== 'GET') return false;
    const namespaces = url.searchParams.getAll('namespace');
    const pods = url.searchParams.getAll('pod');
    const filter = (slot: number): boolean => {
      const ep = dp.endpoint(slot);
      if (!namespaces.length && !pods.length) return true;
      if (!ep || ep.zone !== 'pod') return false;
      if (namespaces.length && !namespaces.includes(ep.namespace!)) return false;
      if (pods.length && !pods.includes(`${ep.namespace}/${ep.name}`)) return false;
      return true;
    };
    const flows = dp.proxy.list(nowSeconds(), filter).map((f: any) => {
      const ep = dp.endpoint(f.clientSlot);
      const { clientSlot, ...rest } = f;
      void clientSlot;
      return { ...rest, client: ep ? describe(ep) : 'unknown' };
    });
    json(res, 200, { kind: 'ConntrackList', count: dp.proxy.ct.count, max: dp.proxy.ct.capacity, full: dp.proxy.ct.full, items: flows });
    return true;
  };
}
