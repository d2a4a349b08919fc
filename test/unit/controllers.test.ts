// Controllers against a real in-memory store: Deployment -> ReplicaSet -> Pods, scaling,
// StatefulSet ordinals with OrderedReady, scheduling with taints and selectors, GC.
import test from 'ava';
import { Store } from '../../src/store/store.js';
import { DeploymentController } from '../../src/controllers/deployment.js';
import { ReplicaSetController } from '../../src/controllers/replicaset.js';
import { StatefulSetController } from '../../src/controllers/statefulset.js';
import { Scheduler } from '../../src/controllers/scheduler.js';
import { GarbageCollector } from '../../src/controllers/garbage.js';

const tick = () => new Promise((r) => setTimeout(r, 20));
async function settle(n = 10) {
  for (let i = 0; i < n; i++) await tick();
}

function cluster() {
  const store = new Store();
  for (const [name, taint] of [['cp', true], ['w1', false], ['w2', false]] as const) {
    store.create('nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(name === 'w2' ? { disk: 'ssd' } : {}) } },
      spec: taint ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {},
    });
  }
  const ctrls = [new Scheduler(store), new ReplicaSetController(store), new DeploymentController(store), new StatefulSetController(store)];
  for (const c of ctrls) c.start();
  new GarbageCollector(store).start();
  return store;
}

const deployment = (replicas: number) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'default' },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx' }] } } },
});

test('a Deployment makes one ReplicaSet named by template hash and ReplicaSet-style pod names', async (t) => {
  const store = cluster();
  store.create('deployments', deployment(3));
  await settle();
  const rss = store.list('replicasets', 'default');
  t.is(rss.length, 1);
  const hash = rss[0]!.metadata.labels!['pod-template-hash']!;
  t.is(rss[0]!.metadata.name, `web-${hash}`);
  const pods = store.list('pods', 'default');
  t.is(pods.length, 3);
  for (const p of pods) {
    t.regex(p.metadata.name, new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    t.is(p.metadata.labels!['pod-template-hash'], hash);
    t.not(p.spec.nodeName, 'cp', 'the tainted control plane gets no pods');
  }
  // Pod names are random, so list order (by name) is too: compare the node sets sorted.
  t.deepEqual([...new Set(pods.map((p) => p.spec.nodeName))].sort(), ['w1', 'w2']);
});

test('scaling a Deployment down deletes pods gracefully; a template change rolls to a new ReplicaSet', async (t) => {
  const store = cluster();
  store.create('deployments', deployment(3));
  await settle();
  store.mutate('deployments', 'default', 'web', (d) => {
    d.spec.replicas = 1;
  });
  await settle();
  const live = store.list('pods', 'default').filter((p) => !p.metadata.deletionTimestamp);
  t.is(live.length, 1);
  t.is(store.list('pods', 'default').filter((p) => p.metadata.deletionTimestamp).length, 2);
  store.mutate('deployments', 'default', 'web', (d) => {
    d.spec.template.spec.containers[0].image = 'nginx:2';
  });
  await settle();
  const rss = store.list('replicasets', 'default');
  t.is(rss.length, 2);
  t.deepEqual(rss.map((r) => r.spec.replicas).sort(), [0, 1]);
});

test('StatefulSet creates ordinals one at a time (OrderedReady) with hostname and subdomain', async (t) => {
  const store = cluster();
  store.create('statefulsets', {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'db', namespace: 'default' },
    spec: { serviceName: 'db', replicas: 3, selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
  });
  await settle();
  t.deepEqual(store.list('pods', 'default').map((p) => p.metadata.name), ['db-0']);
  const p0 = store.get('pods', 'default', 'db-0')!;
  t.is(p0.spec.hostname, 'db-0');
  t.is(p0.spec.subdomain, 'db');
  t.is(p0.metadata.labels!['statefulset.kubernetes.io/pod-name'], 'db-0');
  const markReady = (name: string) =>
    store.mutate('pods', 'default', name, (p) => {
      p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
    });
  markReady('db-0');
  await settle();
  t.deepEqual(store.list('pods', 'default').map((p) => p.metadata.name), ['db-0', 'db-1']);
  markReady('db-1');
  await settle();
  markReady('db-2');
  await settle();
  t.is(store.get('statefulsets', 'default', 'db')!.status.readyReplicas, 3);
  store.mutate('statefulsets', 'default', 'db', (s) => {
    s.spec.replicas = 1;
  });
  await settle();
  // Highest ordinal first, one at a time.
  const deleting = store.list('pods', 'default').filter((p) => p.metadata.deletionTimestamp).map((p) => p.metadata.name);
  t.deepEqual(deleting, ['db-2']);
});

test('nodeSelector narrows the choice; an unschedulable pod says why', async (t) => {
  const store = cluster();
  store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ssd', namespace: 'default' }, spec: { nodeSelector: { disk: 'ssd' }, containers: [{ name: 'c', image: 'x' }] } });
  store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'nowhere', namespace: 'default' }, spec: { nodeSelector: { disk: 'tape' }, containers: [{ name: 'c', image: 'x' }] } });
  await settle();
  t.is(store.get('pods', 'default', 'ssd')!.spec.nodeName, 'w2');
  const nowhere = store.get('pods', 'default', 'nowhere')!;
  t.is(nowhere.spec.nodeName, undefined);
  t.is(nowhere.status.conditions[0].reason, 'Unschedulable');
});

test('deleting a Deployment cascades to its ReplicaSets and pods', async (t) => {
  const store = cluster();
  store.create('deployments', deployment(2));
  await settle();
  store.delete('deployments', 'default', 'web');
  await settle();
  t.is(store.list('replicasets', 'default').length, 0);
  t.true(store.list('pods', 'default').every((p) => p.metadata.deletionTimestamp));
});
