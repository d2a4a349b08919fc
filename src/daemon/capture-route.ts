// GET /kemu/v1/capture?namespace=NS&pod=NS/NAME&snaplen=N&count=N&infra=1 streams pcapng.
import type http from 'node:http';
import type { DataPlane } from '../dataplane/router.js';
import { badRequest } from '../store/errors.js';

export const DEFAULT_SNAPLEN = 2048;

export function captureRoute(dp: DataPlane) {
  return (req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean => {
    if (url.pathname !== '/kemu/v1/capture' || req.method !== 'GET') return false;
    const q = url.searchParams;
    const snaplen = q.has('snaplen') ? Number(q.get('snaplen')) : DEFAULT_SNAPLEN;
    if (!Number.isInteger(snaplen) || snaplen < 0 || snaplen > 262144) throw badRequest('snaplen: must be an integer between 0 and 262144');
    const count = q.has('count') ? Number(q.get('count')) : 0;
    if (!Number.isInteger(count) || count < 0) throw badRequest('count: must be a non-negative integer');
    const namespaces = q.getAll('namespace');
    const pods = q.getAll('pod');
    const includeInfra = q.has('infra') ? q.get('infra') === '1' : namespaces.length === 0 && pods.length === 0;
    res.writeHead(200, { 'Content-Type': 'application/x-pcapng', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    res.flushHeaders();
    const session = dp.capture.open({
      filter: { namespaces, pods, includeInfra },
      snaplen: snaplen === 0 ? 262144 : snaplen,
      count,
      // Bounded: if the reader falls behind by more than 32 MiB we drop rather than grow.
      sink: (chunk) => {
        if (res.writableLength > 32 << 20) return false;
        res.write(chunk);
        return true;
      },
      onEnd: () => setImmediate(() => {
        dp.capture.close(session);
        res.end();
      }),
    });
    const stop = () => dp.capture.close(session);
    req.on('close', stop);
    res.on('close', stop);
    return true;
  };
}
