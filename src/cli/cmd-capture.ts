// kemu capture: stream pcapng from the daemon to a file, to stdout (-w -, for
// `wireshark -k -i -`), or through tshark for a readable summary.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Client, ClientError } from './client.js';
import { parseDuration } from './cmd-up.js';

export async function cmdCapture(
  cluster: string,
  o: { namespace: string[]; pod: string[]; write?: string; duration?: string; count?: string; snaplen: string },
): Promise<number> {
  const client = new Client(cluster);
  const q = new URLSearchParams();
  for (const n of o.namespace) q.append('namespace', n);
  for (const p of o.pod) q.append('pod', p.includes('/') ? p : `${o.namespace[0] ?? 'default'}/${p}`);
  q.set('snaplen', o.snaplen);
  if (o.count) q.set('count', o.count);
  const res = await client.raw('GET', `/kemu/v1/capture?${q}`);
  if ((res.statusCode ?? 500) >= 400) {
    let body = '';
    for await (const c of res) body += c;
    let msg = body;
    try {
      msg = JSON.parse(body).message;
    } catch {
      /* text */
    }
    throw new ClientError(res.statusCode ?? 500, 'BadRequest', msg);
  }
  let out: NodeJS.WritableStream;
  let tshark: ReturnType<typeof spawn> | undefined;
  if (o.write === '-') out = process.stdout;
  else if (o.write) out = fs.createWriteStream(o.write);
  else {
    tshark = spawn('tshark', ['-l', '-n', '-Q', '-P', '-i', '-'], { stdio: ['pipe', 'inherit', 'inherit'] });
    tshark.on('error', () => {
      console.error('error: tshark is not installed; use -w FILE or -w - (e.g. kemu capture -w - | wireshark -k -i -)');
      process.exit(1);
    });
    out = tshark.stdin!;
  }
  const what = o.pod.length ? `pods ${o.pod.join(', ')}` : o.namespace.length ? `namespaces ${o.namespace.join(', ')}` : 'all interfaces';
  console.error(`kemu: capturing on ${what} (snaplen ${o.snaplen === '0' ? 'whole packet' : o.snaplen}); Ctrl-C to stop`);
  let bytes = 0;
  const finish = () => {
    res.destroy();
  };
  process.on('SIGINT', finish);
  process.on('SIGTERM', finish);
  const timer = o.duration ? setTimeout(finish, parseDuration(o.duration)) : undefined;
  try {
    for await (const c of res) {
      bytes += (c as Buffer).length;
      if (!out.write(c as Buffer)) await new Promise((r) => out.once('drain', r));
    }
  } catch {
    /* aborted by us */
  }
  if (timer) clearTimeout(timer);
  await new Promise<void>((r) => {
    if (out === process.stdout) return r();
    out.end(() => r());
  });
  if (tshark) await new Promise((r) => tshark!.on('exit', r));
  if (o.write) console.error(`kemu: wrote ${bytes} bytes of pcapng${o.write !== '-' ? ` to ${o.write}` : ''}`);
  return 0;
}
