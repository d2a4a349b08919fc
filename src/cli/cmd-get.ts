// kemu get / logs / scale / status.
import YAML from 'yaml';
import { resourceInfo } from '../api/resources.js';
import { Client, ClientError } from './client.js';
import { collectionPath, kindRef, objectPath } from './paths.js';
import { table } from './printers.js';

export async function cmdGet(
  cluster: string,
  kindArg: string,
  names: string[],
  o: { namespace?: string; allNamespaces?: boolean; output?: string; selector?: string; fieldSelector?: string },
): Promise<number> {
  const client = new Client(cluster);
  const fmt = o.output ?? '';
  if (!['', 'wide', 'yaml', 'json', 'name'].includes(fmt)) throw new Error(`unable to match a printer suitable for the output format "${fmt}", allowed formats are: json,name,wide,yaml`);
  // kind/name arguments, or "kind[,kind] [names…]".
  const groups: { kind: string; names: string[] }[] = [];
  if (kindArg.includes('/')) {
    for (const ref of [kindArg, ...names]) {
      const [k, n] = ref.split('/') as [string, string];
      groups.push({ kind: k, names: [n] });
    }
  } else for (const k of kindArg.split(',')) groups.push({ kind: k, names });
  const docs: any[] = [];
  let failed = 0;
  let printedTables = 0;
  for (const g of groups) {
    const info = resourceInfo(g.kind);
    if (!info) {
      console.error(`error: the server doesn't have a resource type "${g.kind}"`);
      failed++;
      continue;
    }
    const all = Boolean(o.allNamespaces) && info.namespaced;
    const ns = info.namespaced ? (all ? undefined : o.namespace ?? 'default') : undefined;
    let objs: any[] = [];
    if (g.names.length) {
      for (const n of g.names) {
        try {
          objs.push(await client.get(objectPath(info, ns, n)));
        } catch (err) {
          failed++;
          if (err instanceof ClientError && err.code === 404) console.error(`Error from server (NotFound): ${err.message}`);
          else throw err;
        }
      }
    } else {
      const q = new URLSearchParams();
      if (o.selector) q.set('labelSelector', o.selector);
      if (o.fieldSelector) q.set('fieldSelector', o.fieldSelector);
      const qs = q.toString();
      objs = (await client.get(collectionPath(info, ns) + (qs ? `?${qs}` : ''))).items;
      if (!objs.length && fmt !== 'json' && fmt !== 'yaml') {
        console.error(ns ? `No resources found in ${ns} namespace.` : 'No resources found');
        continue;
      }
    }
    if (fmt === 'json' || fmt === 'yaml') docs.push(...objs);
    else if (fmt === 'name') for (const x of objs) console.log(kindRef(info, x.metadata.name));
    else if (objs.length) {
      if (printedTables++) console.log('');
      console.log(table(info.resource, objs, { wide: fmt === 'wide', allNamespaces: all }));
    }
  }
  if (fmt === 'json' || fmt === 'yaml') {
    const single = docs.length === 1 && groups.length === 1 && groups[0]!.names.length === 1;
    const out = single ? docs[0] : { apiVersion: 'v1', kind: 'List', items: docs, metadata: { resourceVersion: '' } };
    console.log(fmt === 'json' ? JSON.stringify(out, null, 4) : YAML.stringify(out).trimEnd());
  }
  return failed ? 1 : 0;
}

export async function cmdLogs(cluster: string, pod: string, o: { namespace?: string; container?: string; follow?: boolean; previous?: boolean; tail?: string }): Promise<number> {
  const client = new Client(cluster);
  const ns = o.namespace ?? 'default';
  const q = new URLSearchParams();
  if (o.container) q.set('container', o.container);
  if (o.follow) q.set('follow', 'true');
  if (o.previous) q.set('previous', 'true');
  if (o.tail !== undefined) q.set('tailLines', o.tail);
  const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod.replace(/^pods?\//, ''))}/log?${q}`;
  const res = await client.raw('GET', path);
  if ((res.statusCode ?? 500) >= 400) {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    let msg = Buffer.concat(chunks).toString();
    let reason = String(res.statusCode);
    try {
      const b = JSON.parse(msg);
      msg = b.message;
      reason = b.reason;
    } catch {
      /* text */
    }
    throw new ClientError(res.statusCode ?? 500, reason, msg);
  }
  process.on('SIGINT', () => {
    res.destroy();
    process.exit(0);
  });
  for await (const c of res) process.stdout.write(c as Buffer);
  return 0;
}

export async function cmdScale(cluster: string, target: string, o: { replicas: string; namespace?: string }): Promise<number> {
  const client = new Client(cluster);
  const [k, n] = target.split('/');
  const info = k ? resourceInfo(k) : undefined;
  if (!info || !n || (info.resource !== 'deployments' && info.resource !== 'statefulsets' && info.resource !== 'replicasets')) {
    throw new Error(`cannot scale "${target}": use deployment/NAME, statefulset/NAME or replicaset/NAME`);
  }
  const replicas = Number(o.replicas);
  if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`--replicas: must be a non-negative integer, got "${o.replicas}"`);
  await client.request('PATCH', objectPath(info, o.namespace ?? 'default', n) + '/scale', { spec: { replicas } }, { 'Content-Type': 'application/merge-patch+json' });
  console.log(`${kindRef(info, n)} scaled`);
  return 0;
}

export async function cmdStatus(cluster: string, o: { output?: string }): Promise<number> {
  const client = new Client(cluster);
  const st = await client.get('/kemu/v1/status');
  if (o.output === 'json') {
    console.log(JSON.stringify(st, null, 2));
    return 0;
  }
  const d = st.dataplane;
  console.log(`cluster:   ${st.name} (daemon pid ${st.pid}, ${Math.round(st.memory.rss / 1048576)} MiB RSS)`);
  console.log(`nodes:     ${st.nodes.length}`);
  for (const n of st.nodes) console.log(`  ${n.name}  ${n.ip}  pods ${n.podCIDR} (${n.pods} IPs in use)  netns ${n.netns}`);
  console.log(`external:  ${st.external.ip}  netns ${st.external.netns}`);
  console.log(`pods:      ${st.pods} running sandboxes`);
  console.log(`dataplane: rx ${d.rxPackets} packets (${d.rxBytes} bytes), ${d.icmpSent} ICMP errors sent`);
  console.log(
    `  drops:   malformed ${d.dropMalformed}, ipv6 ${d.dropIpv6}, spoofed ${d.dropSpoofed}, no-route ${d.dropNoRoute}, ttl ${d.dropTtl}, write ${d.dropWrite}`,
  );
  console.log(`  capture: ${d.captureSessions} live sessions`);
  return 0;
}
