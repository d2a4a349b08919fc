// GET /kemu/v1/flows?namespace=NS&pod=NS/NAME&verdict=DROPPED&since=SECONDS&follow=1 returns
// the flow log as JSON lines (Hubble's field names), optionally following new records.
import type http from 'node:http';
import type { DataPlane } from '../dataplane/router.js';
import { materialize, type RawFlow } from '../dataplane/policy/flow-log.js';
import type { FlowRecord } from '../dataplane/policy/flow-record.js';

export function flowsRoute(dp: DataPlane) {
  return (req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean => {
    if (url.pathname !== '/kemu/v1/flows' || req.method !== 'GET') return false;
    const q = url.searchParams;
    const namespaces = q.getAll('namespace');
    const pods = q.getAll('pod');
    const verdict = q.get('verdict');
    const since = q.has('since') ? Date.now() - Number(q.get('since')) * 1000 : 0;
    const follow = q.get('follow') === '1';
    const ends = (r: FlowRecord) => [r.source, r.destination];
    const keep = (raw: RawFlow, r: FlowRecord): boolean => {
      if (raw.time < since) return false;
      if (verdict && r.verdict !== verdict) return false;
      if (namespaces.length && !ends(r).some((e) => e.namespace && namespaces.includes(e.namespace))) return false;
      if (pods.length && !ends(r).some((e) => e.namespace && pods.includes(`${e.namespace}/${e.pod_name}`))) return false;
      return true;
    };
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache' });
    let out = '';
    for (const raw of dp.flows.entries()) {
      const r = materialize(raw);
      if (keep(raw, r)) out += JSON.stringify(r) + '\n';
    }
    res.write(out);
    if (!follow) {
      res.end();
      return true;
    }
    const stop = dp.flows.follow((raw) => {
      const r = materialize(raw);
      if (keep(raw, r)) res.write(JSON.stringify(r) + '\n');
    });
    req.on('close', stop);
    res.on('close', stop);
    return true;
  };
}
