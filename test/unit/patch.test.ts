// Strategic merge patch, server-side apply and JSON (merge) patch, with the patch bodies kubectl
// 1.32 really sends (../shared/reference/kubectl-api-surface.md §3).
import test from 'ava';
import { strategicMerge } from '../../src/api/patch/strategic-merge.js';
import { serverSideApply, fieldSet, deletions } from '../../src/api/patch/apply.js';
import { jsonPatch, mergePatch } from '../../src/api/patch/json-patch.js';

const deployment = () => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', labels: { a: '1', b: '2' } },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          {
            name: 'a',
            image: 'nginx',
            ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 81, protocol: 'TCP' }],
            env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }],
          },
          { name: 'b', image: 'busybox' },
        ],
      },
    },
  },
});

test('the Deployment patch kubectl sends: elements deleted and changed by merge key, server defaults kept', (t) => {
  const patch = {
    spec: {
      template: {
        spec: {
          $setElementOrder: undefined,
          '$setElementOrder/containers': [{ name: 'a' }],
          containers: [
            {
              '$setElementOrder/env': [{ name: 'B' }],
              '$setElementOrder/ports': [{ containerPort: 81 }],
              env: [{ name: 'B', value: '3' }, { $patch: 'delete', name: 'A' }],
              name: 'a',
              ports: [{ containerPort: 81 }, { $patch: 'delete', containerPort: 80 }],
            },
            { $patch: 'delete', name: 'b' },
          ],
        },
      },
    },
  };
  delete (patch.spec.template.spec as any).$setElementOrder;
  const out = strategicMerge('Deployment', deployment(), patch) as any;
  t.deepEqual(out.spec.template.spec.containers, [
    { name: 'a', image: 'nginx', ports: [{ containerPort: 81, protocol: 'TCP' }], env: [{ name: 'B', value: '3' }] },
  ]);
  t.is(out.spec.replicas, 1);
});

test('the Service patch kubectl sends: a label removed with null, ports merged by port and reordered', (t) => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', labels: { a: '1', b: '2' } },
    spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }, { port: 443, protocol: 'TCP', targetPort: 8443 }] },
  };
  const patch = {
    metadata: { labels: { b: null } },
    spec: { '$setElementOrder/ports': [{ port: 443 }], ports: [{ port: 443, targetPort: 9443 }, { $patch: 'delete', port: 80 }] },
  };
  const out = strategicMerge('Service', svc, patch) as any;
  t.deepEqual(out.metadata.labels, { a: '1' });
  t.deepEqual(out.spec.ports, [{ port: 443, protocol: 'TCP', targetPort: 9443 }]);
});

test('lists without a merge key are replaced whole (NetworkPolicy ingress); $patch replace and $retainKeys', (t) => {
  const np = { kind: 'NetworkPolicy', spec: { ingress: [{ from: [{ podSelector: { matchLabels: { app: 'y' } } }] }, { from: [] }] } };
  const out = strategicMerge('NetworkPolicy', np, { spec: { ingress: [{ from: [{ podSelector: { matchLabels: { app: 'z' } } }] }] } }) as any;
  t.deepEqual(out.spec.ingress, [{ from: [{ podSelector: { matchLabels: { app: 'z' } } }] }]);
  const d = strategicMerge('Deployment', { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%' } } } }, {
    spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } },
  }) as any;
  t.deepEqual(d.spec.strategy, { type: 'Recreate' });
  const r = strategicMerge('Pod', { metadata: { labels: { a: '1', b: '2' } } }, { metadata: { labels: { $patch: 'replace', c: '3' } } }) as any;
  t.deepEqual(r.metadata.labels, { c: '3' });
  const lr = strategicMerge('Pod', { spec: { containers: [{ name: 'a' }, { name: 'b' }] } }, { spec: { containers: [{ name: 'c' }, { $patch: 'replace' }] } }) as any;
  t.deepEqual(lr.spec.containers, [{ name: 'c' }]);
});

test('finalizers are a primitive set: merged, and removed with $deleteFromPrimitiveList', (t) => {
  const o = { metadata: { finalizers: ['a', 'b'] } };
  t.deepEqual((strategicMerge('ConfigMap', o, { metadata: { finalizers: ['b', 'c'] } }) as any).metadata.finalizers, ['a', 'b', 'c']);
  t.deepEqual((strategicMerge('ConfigMap', o, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }) as any).metadata.finalizers, ['b']);
});

test('a merge-key list element without its key is a 400, not a silent replace', (t) => {
  const err = t.throws(() => strategicMerge('Pod', { spec: { containers: [{ name: 'a' }] } }, { spec: { containers: [{ image: 'x' }] } }));
  t.regex(err!.message, /does not contain declared merge key: name/);
});

test('server-side apply: creates, then removes what the same manager no longer applies, keeps what others set', (t) => {
  const cfg1 = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', labels: { x: '1' } }, data: { a: '1', b: '2' } };
  const o1 = serverSideApply('ConfigMap', undefined, cfg1, 'kubectl', '2026-01-01T00:00:00Z') as any;
  t.deepEqual(o1.data, { a: '1', b: '2' });
  t.is(o1.metadata.managedFields[0].manager, 'kubectl');
  t.is(o1.metadata.managedFields[0].operation, 'Apply');
  t.deepEqual(o1.metadata.managedFields[0].fieldsV1, { 'f:metadata': { 'f:labels': { 'f:x': {} } }, 'f:data': { 'f:a': {}, 'f:b': {} } });
  // Someone else adds a key.
  o1.data.other = 'kept';
  const cfg2 = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1', c: '3' } };
  const o2 = serverSideApply('ConfigMap', o1, cfg2, 'kubectl', '2026-01-01T00:01:00Z') as any;
  t.deepEqual(o2.data, { a: '1', other: 'kept', c: '3' });
  t.deepEqual(o2.metadata.labels ?? {}, {});
  t.is(o2.metadata.name, 'c');
  // Re-applying the same configuration changes nothing, not even the entry's time.
  const o3 = serverSideApply('ConfigMap', o2, cfg2, 'kubectl', '2026-01-01T00:02:00Z') as any;
  t.deepEqual(o3, o2);
});

test('server-side apply merges keyed lists: a container port dropped by the manager is removed', (t) => {
  const cfg = (ports: number[]) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'a', image: 'nginx', ports: ports.map((p) => ({ containerPort: p })) }] },
  });
  const fs1 = fieldSet('Pod', cfg([80, 81]));
  t.truthy((fs1 as any)['f:spec']['f:containers']['k:{"name":"a"}']['f:ports']['k:{"containerPort":81}']);
  const fs2 = fieldSet('Pod', cfg([80]));
  t.deepEqual(deletions(fs1, fs2), { spec: { containers: [{ ports: [{ $patch: 'delete', containerPort: 81 }], name: 'a' }] } });
  const live = serverSideApply('Pod', undefined, cfg([80, 81]), 'm', 't') as any;
  live.spec.containers[0].ports.forEach((p: any) => (p.protocol = 'TCP'));
  const next = serverSideApply('Pod', live, cfg([80]), 'm', 't2') as any;
  t.deepEqual(next.spec.containers[0].ports, [{ containerPort: 80, protocol: 'TCP' }]);
});

test('JSON merge patch replaces lists; JSON patch add/remove/replace/test', (t) => {
  t.deepEqual(mergePatch({ a: [1, 2], b: { c: 1, d: 2 } }, { a: [3], b: { d: null } }), { a: [3], b: { c: 1 } });
  const doc = { metadata: { labels: { a: '1' } }, spec: { ports: [{ port: 80 }] } };
  const out = jsonPatch(doc, [
    { op: 'add', path: '/metadata/labels/b', value: '2' },
    { op: 'replace', path: '/spec/ports/0/port', value: 81 },
    { op: 'add', path: '/spec/ports/-', value: { port: 82 } },
    { op: 'remove', path: '/metadata/labels/a' },
    { op: 'test', path: '/metadata/labels/b', value: '2' },
  ]);
  t.deepEqual(out, { metadata: { labels: { b: '2' } }, spec: { ports: [{ port: 81 }, { port: 82 }] } });
  t.deepEqual(doc.metadata.labels, { a: '1' }, 'the input is not modified');
  const err = t.throws(() => jsonPatch(doc, [{ op: 'remove', path: '/nope/x' }]));
  t.regex(err!.message, /doc is missing path/);
});
