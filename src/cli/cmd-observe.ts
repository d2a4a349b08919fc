// kemu observe: the flow log, like `hubble observe` — every new connection and every policy
// drop, readable by default, JSON lines with -o json, following with -f.
import readline from 'node:readline';
import { Client } from './client.js';
import { formatFlowLine } from '../dataplane/policy/flow-record.js';

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`invalid duration "${s}" (use e.g. 30s, 5m, 1h)`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : m[2] === 'h' ? n * 3600 : n;
}

export async function cmdObserve(
  cluster: string,
  o: { namespace?: string; pod: string[]; verdict?: string; since?: string; follow?: boolean; output?: string },
): Promise<number> {
  const q = new URLSearchParams();
  if (o.namespace) q.append('namespace', o.namespace);
  for (const p of o.pod) q.append('pod', p.includes('/') ? p : `${o.namespace ?? 'default'}/${p}`);
  if (o.verdict) {
    const v = o.verdict.toUpperCase();
    if (v !== 'DROPPED' && v !== 'FORWARDED') throw new Error(`invalid --verdict "${o.verdict}": use FORWARDED or DROPPED`);
    q.set('verdict', v);
  }
  if (o.since) q.set('since', String(parseDuration(o.since)));
  if (o.follow) q.set('follow', '1');
  const res = await new Client(cluster).raw('GET', `/kemu/v1/flows?${q}`);
  if ((res.statusCode ?? 500) >= 400) throw new Error(`daemon answered ${res.statusCode}`);
  const rl = readline.createInterface({ input: res });
  process.on('SIGINT', () => {
    res.destroy();
    process.exit(0);
  });
  for await (const line of rl) {
    if (!line) continue;
    if (o.output === 'json') console.log(line);
    else console.log(formatFlowLine(JSON.parse(line)));
  }
  return 0;
}
