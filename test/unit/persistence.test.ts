// The embedded store backend: every write survives a restart (objects, resourceVersions,
// ClusterIP/NodePort allocations rebuilt from them), a torn last line is ignored, compaction
// keeps the state.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileBackend } from '../../src/store/file-backend.js';
import { Store } from '../../src/store/store.js';
import { groupOfResource } from '../../src/api/resources.js';
import { startApi } from '../helpers/api.js';

function dir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-store-'));
}

const cm = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default' }, data });

test('objects and the resourceVersion counter come back; deletes stay deleted', (t) => {
  const d = dir();
  const s1 = new Store(groupOfResource, new FileBackend(d));
  t.false(s1.restored);
  s1.create('configmaps', cm('a', { x: '1' }));
  const b = s1.create('configmaps', cm('b', { x: '1' }));
  s1.update('configmaps', { ...b, data: { x: '2' } });
  s1.create('configmaps', cm('c', {}));
  s1.delete('configmaps', 'default', 'c');
  const rv = s1.resourceVersion;
  const before = s1.list('configmaps');
  // No close(): as after kill -9.
  const s2 = new Store(groupOfResource, new FileBackend(d));
  t.true(s2.restored);
  t.is(s2.resourceVersion, rv);
  t.deepEqual(s2.list('configmaps'), before);
  t.is((s2.get('configmaps', 'default', 'b') as any).data.x, '2');
  t.is(s2.get('configmaps', 'default', 'c'), undefined);
  // New writes continue the counter; an update with the old resourceVersion still conflicts.
  const a = s2.create('configmaps', cm('d', {}));
  t.is(Number(a.metadata.resourceVersion), rv + 1);
  t.throws(() => s2.update('configmaps', { ...before[1]!, metadata: { ...before[1]!.metadata, resourceVersion: '1' } }), { message: /the object has been modified/ });
  // A watch from a resourceVersion before the restart gets 410 (no history): clients relist.
  t.is(s2.since(1), undefined);
  s2.close();
  fs.rmSync(d, { recursive: true, force: true });
});

test('a torn last line (a crash mid-write) is ignored; the files are 0600 in a 0700 dir', (t) => {
  const d = path.join(dir(), 'store');
  const s1 = new Store(groupOfResource, new FileBackend(d));
  s1.create('configmaps', cm('a', {}));
  s1.close();
  fs.appendFileSync(path.join(d, 'log.jsonl'), '{"t":"A","r":"configmaps","rv":9,"o":{"metad');
  const s2 = new Store(groupOfResource, new FileBackend(d));
  t.deepEqual(s2.list('configmaps').map((o) => o.metadata.name), ['a']);
  t.is(fs.statSync(d).mode & 0o777, 0o700);
  t.is(fs.statSync(path.join(d, 'log.jsonl')).mode & 0o777, 0o600);
  s2.close();
});

test('compaction folds the log into a snapshot without losing anything', (t) => {
  const d = dir();
  const be = new FileBackend(d);
  const s1 = new Store(groupOfResource, be);
  for (let i = 0; i < 50; i++) s1.create('configmaps', cm(`c${i}`, { i: String(i) }));
  be.compact(s1.snapshot());
  t.is(fs.readFileSync(be.logFile, 'utf8'), '');
  s1.delete('configmaps', 'default', 'c0');
  s1.create('configmaps', cm('after', {}));
  const s2 = new Store(groupOfResource, new FileBackend(d));
  t.is(s2.list('configmaps').length, 50);
  t.is(s2.get('configmaps', 'default', 'c0'), undefined);
  t.truthy(s2.get('configmaps', 'default', 'after'));
  t.is(s2.resourceVersion, s1.resourceVersion);
});

test('allocated ClusterIPs and NodePorts survive: a restarted API server refuses to hand them out again', async (t) => {
  const d = dir();
  const a1 = await startApi(new Store(groupOfResource, new FileBackend(d)));
  const r = await a1.createService({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'np' }, spec: { type: 'NodePort', selector: { app: 'x' }, ports: [{ port: 80 }] } });
  t.is(r.code, 201);
  await a1.close();
  const a2 = await startApi(new Store(groupOfResource, new FileBackend(d)));
  try {
    const got = await a2.req('GET', '/api/v1/namespaces/default/services/np');
    t.is(got.body.spec.clusterIP, r.body.spec.clusterIP);
    t.is(a2.api.services.holderOf(r.body.spec.clusterIP), 'default/np');
    t.is(a2.api.services.holderOf(r.body.spec.ports[0].nodePort), 'default/np');
    const clash = await a2.createService({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'other' }, spec: { clusterIP: r.body.spec.clusterIP, selector: { app: 'y' }, ports: [{ port: 80 }] } });
    t.is(clash.code, 422);
    t.regex(clash.body.message, /provided IP is already allocated/);
  } finally {
    await a2.close();
  }
});
