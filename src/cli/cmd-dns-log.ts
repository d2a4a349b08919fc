// kemu dns-log: every query the cluster's kube-dns pods answered, with the client pod, the
// name, the type, the rcode and the answers; -f follows. Makes the ndots:5 search expansion
// of one `curl http://backend-service` plain to see.
import { Client } from './client.js';

export interface DnsLogLine {
  time: string;
  server: string;
  client: string;
  clientPod: string;
  proto: string;
  name: string;
  type: string;
  rcode: string;
  answers: string[];
  source: string;
  micros: number;
  error?: string;
}

/** One readable line: time, client, question, rcode, answers (and where the answer came from). */
export function formatDnsLog(q: DnsLogLine): string {
  const t = q.time.slice(11, 23);
  const who = q.clientPod || q.client;
  const ans = q.answers.length ? q.answers.join(', ') : q.error ? `(${q.error})` : '-';
  const via = q.source === 'cluster' ? '' : ` [${q.source}]`;
  return `${t}  ${who.padEnd(28)} ${q.proto}  ${q.type.padEnd(5)} ${q.name.padEnd(48)} ${q.rcode.padEnd(8)} ${ans}${via}`;
}

export async function cmdDnsLog(cluster: string, o: { namespace?: string; pod: string[]; follow?: boolean; output?: string; tail?: string }): Promise<number> {
  const q = new URLSearchParams();
  if (o.namespace) q.set('namespace', o.namespace);
  for (const p of o.pod) q.append('pod', p.includes('/') ? p : `${o.namespace ?? 'default'}/${p}`);
  if (o.follow) q.set('follow', 'true');
  if (o.tail !== undefined) q.set('tail', o.tail);
  const res = await new Client(cluster).raw('GET', `/kemu/v1/dns/log?${q}`);
  if ((res.statusCode ?? 500) >= 400) {
    console.error(`error: the daemon answered HTTP ${res.statusCode}`);
    return 1;
  }
  let buf = '';
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      if (o.output === 'json') process.stdout.write(line + '\n');
      else process.stdout.write(formatDnsLog(JSON.parse(line)) + '\n');
    }
  }
  return 0;
}
