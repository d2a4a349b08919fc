// kemu apply / kemu delete: manifests go to the API one object at a time, so one bad object
// is reported (naming file, object and field) while the others still apply.
import fs from 'node:fs';
import { loadManifests } from '../api/manifests.js';
import { kindInfo, resourceInfo, type ResourceInfo } from '../api/resources.js';
import { Client, ClientError, formatError } from './client.js';
import { collectionPath, kindRef, objectPath } from './paths.js';

function readStdinIfNeeded(paths: string[]): string | undefined {
  return paths.includes('-') ? fs.readFileSync(0, 'utf8') : undefined;
}

/** Fields an apply replaces on an existing object (the rest is the server's). */
function mergeForUpdate(cur: any, desired: any): any {
  const out = structuredClone(cur);
  out.metadata.labels = desired.metadata?.labels;
  out.metadata.annotations = desired.metadata?.annotations;
  for (const k of Object.keys(desired)) {
    if (k === 'metadata' || k === 'status' || k === 'apiVersion' || k === 'kind') continue;
    out[k] = desired[k];
  }
  return out;
}

export async function applyPaths(client: Client, paths: string[], namespace: string | undefined): Promise<number> {
  const { objects, errors } = loadManifests(paths, readStdinIfNeeded(paths));
  let failed = errors.length;
  for (const e of errors) console.error(`error: ${e.message}`);
  for (const item of objects) {
    const obj = item.object as any;
    const where = `"${item.source}"`;
    const info = kindInfo(String(obj.apiVersion), String(obj.kind));
    const label = `${obj.kind} "${obj.metadata?.name ?? '<no name>'}"`;
    if (!info) {
      console.error(`error: resource mapping not found for name: "${obj.metadata?.name ?? ''}" namespace: "${obj.metadata?.namespace ?? ''}" from ${where}: no matches for kind "${obj.kind}" in version "${obj.apiVersion}"`);
      failed++;
      continue;
    }
    const ns = info.namespaced ? obj.metadata?.namespace ?? namespace ?? 'default' : undefined;
    if (!obj.metadata?.name) {
      console.error(`error: error when creating ${where}: ${label}: metadata.name: Required value: name or generateName is required`);
      failed++;
      continue;
    }
    try {
      const q = '?fieldValidation=Strict&fieldManager=kemu';
      try {
        const r = await client.request('POST', collectionPath(info, ns) + q, obj);
        printWarnings(r.headers);
        console.log(`${kindRef(info, obj.metadata.name)} created`);
      } catch (err) {
        if (!(err instanceof ClientError) || err.reason !== 'AlreadyExists') throw err;
        const cur = await client.get(objectPath(info, ns, obj.metadata.name));
        const next = mergeForUpdate(cur, obj);
        const r = await client.request('PUT', objectPath(info, ns, obj.metadata.name) + q, next);
        printWarnings(r.headers);
        const changed = r.body?.metadata?.resourceVersion !== cur.metadata.resourceVersion;
        console.log(`${kindRef(info, obj.metadata.name)} ${changed ? 'configured' : 'unchanged'}`);
      }
    } catch (err) {
      failed++;
      const msg = err instanceof ClientError && err.code ? `Error from server (${err.reason}): error when applying ${where}: ${err.message}` : formatError(err);
      console.error(msg);
    }
  }
  return failed ? 1 : 0;
}

function printWarnings(h: Record<string, unknown>): void {
  const w = h['warning'];
  for (const line of Array.isArray(w) ? w : w ? [w] : []) {
    const m = /^\d+ - "(.*)"$/.exec(String(line));
    console.error(`Warning: ${m ? m[1] : line}`);
  }
}

export async function cmdApply(cluster: string, o: { filename: string[]; namespace?: string }): Promise<number> {
  return applyPaths(new Client(cluster), o.filename, o.namespace);
}

export async function cmdDelete(
  cluster: string,
  kind: string | undefined,
  names: string[],
  o: { filename: string[]; namespace?: string; wait: string; gracePeriod?: string },
): Promise<number> {
  const client = new Client(cluster);
  const targets: { info: ResourceInfo; ns?: string; name: string }[] = [];
  let failed = 0;
  if (o.filename.length) {
    const { objects, errors } = loadManifests(o.filename, readStdinIfNeeded(o.filename));
    for (const e of errors) {
      console.error(`error: ${e.message}`);
      failed++;
    }
    for (const item of objects) {
      const obj = item.object as any;
      const info = kindInfo(String(obj.apiVersion), String(obj.kind));
      if (!info) {
        console.error(`error: no matches for kind "${obj.kind}" in version "${obj.apiVersion}" (${item.source})`);
        failed++;
        continue;
      }
      targets.push({ info, ns: info.namespaced ? obj.metadata?.namespace ?? o.namespace ?? 'default' : undefined, name: obj.metadata?.name });
    }
  } else {
    if (!kind) throw new Error('you must provide one or more resources by argument or filename');
    const refs = kind.includes('/') ? [kind, ...names] : names.map((n) => `${kind}/${n}`);
    if (!refs.length) throw new Error(`resource(s) were provided, but no name was specified`);
    for (const ref of refs) {
      const [k, n] = ref.split('/') as [string, string];
      const info = resourceInfo(k);
      if (!info) throw new Error(`the server doesn't have a resource type "${k}"`);
      targets.push({ info, ns: info.namespaced ? o.namespace ?? 'default' : undefined, name: n });
    }
  }
  const grace = o.gracePeriod !== undefined ? `?gracePeriodSeconds=${Number(o.gracePeriod)}` : '';
  const deleted: typeof targets = [];
  for (const t of targets) {
    try {
      await client.request('DELETE', objectPath(t.info, t.ns, t.name) + grace);
      console.log(`${t.info.kind.toLowerCase()}${t.info.group ? '.' + t.info.group : ''} "${t.name}" deleted`);
      deleted.push(t);
    } catch (err) {
      failed++;
      console.error(formatError(err));
    }
  }
  if (o.wait !== 'false') {
    const deadline = Date.now() + 120_000;
    for (const t of deleted) {
      while (Date.now() < deadline) {
        try {
          await client.get(objectPath(t.info, t.ns, t.name));
        } catch (err) {
          if (err instanceof ClientError && err.code === 404) break;
          throw err;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  return failed ? 1 : 0;
}
