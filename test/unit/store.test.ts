import test from 'ava';
import { Store, type WatchEvent } from '../../src/store/store.js';
import { ApiError } from '../../src/store/errors.js';

const pod = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels },
  spec: { containers: [{ name: 'c', image: 'nginx' }] },
});

test('create assigns uid, creationTimestamp, generation and a growing resourceVersion', (t) => {
  const s = new Store();
  const a = s.create('pods', pod('a'));
  const b = s.create('pods', pod('b'));
  t.regex(a.metadata.uid!, /^[0-9a-f-]{36}$/);
  t.regex(a.metadata.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.is(a.metadata.generation, 1);
  t.true(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
});

test('create of an existing name is 409 AlreadyExists with the apiserver message', (t) => {
  const s = new Store((r) => (r === 'deployments' ? 'apps' : ''));
  s.create('pods', pod('a'));
  const e = t.throws(() => s.create('pods', pod('a')), { instanceOf: ApiError })!;
  t.is(e.code, 409);
  t.is(e.message, 'pods "a" already exists');
  s.create('deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' }, spec: {} });
  t.is(t.throws(() => s.create('deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default' }, spec: {} }))!.message, 'deployments.apps "d" already exists');
});

test('update with a stale resourceVersion is 409 Conflict; generation moves only with spec', (t) => {
  const s = new Store();
  const a = s.create('pods', pod('a'));
  const b = s.update('pods', { ...a, metadata: { ...a.metadata, labels: { x: '1' } } });
  t.is(b.metadata.generation, 1);
  const c = s.update('pods', { ...b, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } });
  t.is(c.metadata.generation, 2);
  const e = t.throws(() => s.update('pods', a), { instanceOf: ApiError })!;
  t.is(e.code, 409);
  t.regex(e.message, /the object has been modified/);
});

test('a no-op update does not bump the resourceVersion or notify watchers', (t) => {
  const s = new Store();
  const a = s.create('pods', pod('a'));
  let events = 0;
  s.subscribe(() => events++);
  const same = s.update('pods', a);
  t.is(same.metadata.resourceVersion, a.metadata.resourceVersion);
  t.is(events, 0);
});

test('watch history replays events after a resourceVersion; too old gives undefined', (t) => {
  const s = new Store();
  const seen: WatchEvent[] = [];
  s.subscribe((e) => seen.push(e));
  const a = s.create('pods', pod('a'));
  s.create('pods', pod('b'));
  s.delete('pods', 'default', 'a');
  t.deepEqual(seen.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED a', 'ADDED b', 'DELETED a']);
  const since = s.since(Number(a.metadata.resourceVersion))!;
  t.deepEqual(since.map((e) => e.type), ['ADDED', 'DELETED']);
  t.deepEqual(s.since(s.resourceVersion), []);
});

test('list filters by namespace and returns copies', (t) => {
  const s = new Store();
  s.create('pods', pod('a'));
  s.create('pods', { ...pod('b'), metadata: { name: 'b', namespace: 'other' } });
  t.deepEqual(s.list('pods', 'default').map((p) => p.metadata.name), ['a']);
  t.is(s.list('pods').length, 2);
  s.list('pods')[0]!.metadata.name = 'mutated';
  t.is(s.list('pods')[0]!.metadata.name, 'a');
});
