// kemu conntrack: the live NAT flows of the Service proxy, like `conntrack -L` on a node, with
// the Service each one belongs to.
import { Client } from './client.js';

function pad(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]! + 3))).join('').trimEnd()).join('\n');
}

export async function cmdConntrack(cluster: string, o: { namespace?: string; pod: string[]; output?: string }): Promise<number> {
  const q = new URLSearchParams();
  if (o.namespace) q.append('namespace', o.namespace);
  for (const p of o.pod) q.append('pod', p.includes('/') ? p : `${o.namespace ?? 'default'}/${p}`);
  const r = await new Client(cluster).get(`/kemu/v1/conntrack?${q}`);
  if (o.output === 'json') {
    console.log(JSON.stringify(r, null, 2));
    return 0;
  }
  if (!r.items.length) {
    console.error(`No flows (${r.count} in the table of ${r.max}).`);
    return 0;
  }
  const rows = [['CLIENT', 'PROTO', 'STATE', 'ORIGINAL (SRC -> DST)', 'TRANSLATED (SRC -> ENDPOINT)', 'SERVICE', 'EXPIRES']];
  for (const f of r.items) {
    const src = f.snat ? `${f.reply.dst}:${f.reply.dport}` : `${f.original.src}:${f.original.sport}`;
    rows.push([
      f.client.replace(/^pod /, ''),
      f.protocol,
      f.state,
      `${f.original.src}:${f.original.sport} -> ${f.original.dst}:${f.original.dport}`,
      `${src} -> ${f.reply.src}:${f.reply.sport}`,
      f.service,
      `${f.expiresIn}s`,
    ]);
  }
  console.log(pad(rows));
  return 0;
}
