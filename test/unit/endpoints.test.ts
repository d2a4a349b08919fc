// Endpoints, EndpointSlices, the `kubernetes` Service and LoadBalancer addresses from real
// manifests against an in-memory store, with pods in the states the kubelet reports.
import test from 'ava';
import { parseManifestText } from '../../src/api/manifests.js';
import { applyDefaults } from '../../src/api/validation.js';
import { EndpointsController } from '../../src/controllers/endpoints.js';
import { EndpointSliceController } from '../../src/controllers/endpointslice.js';
import { EndpointSliceMirroringController } from '../../src/controllers/endpointslice-mirroring.js';
import { GarbageCollector } from '../../src/controllers/garbage.js';
import { KubernetesServiceController } from '../../src/controllers/kubernetes-service.js';
import { LoadBalancerController } from '../../src/controllers/loadbalancer.js';
import { type KObject, Store } from '../../src/store/store.js';
import { table } from '../../src/cli/printers.js';

const settle = async (n = 8) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 10));
};

function cluster() {
  const store = new Store();
  for (const ns of ['default', 'prod']) store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (const c of [new EndpointsController(store), new EndpointSliceController(store)]) c.start();
  new GarbageCollector(store).start();
  return store;
}

/** Objects from YAML, defaulted as the API would store them. */
function apply(store: Store, yaml: string): void {
  const { objects, errors } = parseManifestText(yaml, 'test.yaml');
  if (errors.length) throw new Error(errors[0]!.message);
  for (const { object } of objects) {
    const o = applyDefaults(structuredClone(object) as any) as KObject;
    o.metadata.namespace ??= 'default';
    const resource = o.kind === 'Service' ? 'services' : 'pods';
    store.create(resource, o);
  }
}

/** Pod status as the kubelet writes it. */
function run(store: Store, name: string, ip: string | undefined, ready: boolean, ns = 'default'): void {
  store.mutate('pods', ns, name, (p) => {
    p.spec.nodeName ??= 'kemu-worker';
    p.status = { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }], ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}) };
  });
}

const slicesOf = (store: Store, svc: string, ns = 'default') => store.list('endpointslices', ns).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc);

const BACKEND = `
apiVersion: v1
kind: Service
metadata: {name: backend-service, labels: {tier: backend}}
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: backend-a, labels: {app: backend}}
spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-b, labels: {app: backend}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: backend-c, labels: {app: backend}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pending, labels: {app: backend}}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: frontend, labels: {app: frontend}}
spec: {containers: [{name: c, image: nginx}]}
`;

test('a selector Service gets Endpoints (ready and not-ready addresses) and one labelled, owned EndpointSlice', async (t) => {
  const store = cluster();
  apply(store, BACKEND);
  run(store, 'backend-a', '10.244.1.2', true);
  run(store, 'backend-b', '10.244.2.2', true);
  run(store, 'backend-c', '10.244.1.3', false);
  run(store, 'pending', undefined, false);
  run(store, 'frontend', '10.244.2.9', true);
  await settle();
  const ep = store.get('endpoints', 'default', 'backend-service')!;
  t.deepEqual(ep.metadata.labels, { tier: 'backend' });
  const subsets = (ep as any).subsets;
  t.is(subsets.length, 1);
  t.deepEqual(subsets[0].addresses.map((a: any) => a.ip), ['10.244.1.2', '10.244.2.2']);
  t.deepEqual(subsets[0].notReadyAddresses.map((a: any) => a.ip), ['10.244.1.3']);
  t.deepEqual(subsets[0].ports, [{ port: 8080, protocol: 'TCP' }]);
  t.deepEqual(subsets[0].addresses[0].targetRef, { kind: 'Pod', namespace: 'default', name: 'backend-a', uid: store.get('pods', 'default', 'backend-a')!.metadata.uid });
  t.is(subsets[0].addresses[0].nodeName, 'kemu-worker');

  const slices = slicesOf(store, 'backend-service');
  t.is(slices.length, 1);
  const s = slices[0] as any;
  t.regex(s.metadata.name, /^backend-service-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.is(s.metadata.generateName, 'backend-service-');
  t.deepEqual(s.metadata.labels, { tier: 'backend', 'kubernetes.io/service-name': 'backend-service', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' });
  const svc = store.get('services', 'default', 'backend-service')!;
  t.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'backend-service', uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  t.is(s.addressType, 'IPv4');
  t.deepEqual(s.ports, [{ name: '', protocol: 'TCP', port: 8080 }]);
  t.deepEqual(
    s.endpoints.map((e: any) => [e.addresses[0], e.conditions, e.nodeName, e.targetRef.name]),
    [
      ['10.244.1.2', { ready: true, serving: true, terminating: false }, 'kemu-worker', 'backend-a'],
      ['10.244.1.3', { ready: false, serving: false, terminating: false }, 'kemu-worker', 'backend-c'],
      ['10.244.2.2', { ready: true, serving: true, terminating: false }, 'kemu-worker', 'backend-b'],
    ],
  );
  // kubectl's columns for both.
  t.is(table('endpoints', [ep], { wide: false, allNamespaces: false }, Date.parse(ep.metadata.creationTimestamp!)).split('\n')[1], 'backend-service   10.244.1.2:8080,10.244.2.2:8080   0s');
  t.regex(table('endpointslices', [s], { wide: false, allNamespaces: false }).split('\n')[1]!, /^backend-service-\w{5}\s+IPv4\s+8080\s+10\.244\.1\.2,10\.244\.1\.3,10\.244\.2\.2\s+\d+s$/);
});

test('readiness changes, relabelling and deletion keep Endpoints and slices current, under the same slice name', async (t) => {
  const store = cluster();
  apply(store, BACKEND);
  run(store, 'backend-a', '10.244.1.2', true);
  await settle();
  const name = slicesOf(store, 'backend-service')[0]!.metadata.name;
  run(store, 'backend-b', '10.244.2.2', true);
  store.mutate('pods', 'default', 'backend-a', (p) => {
    p.metadata.labels = { app: 'other' };
  });
  await settle();
  const s = slicesOf(store, 'backend-service');
  t.deepEqual(s.map((x) => x.metadata.name), [name]);
  t.deepEqual((s[0] as any).endpoints.map((e: any) => e.addresses[0]), ['10.244.2.2']);
  t.deepEqual((store.get('endpoints', 'default', 'backend-service') as any).subsets[0].addresses.map((a: any) => a.ip), ['10.244.2.2']);
  store.delete('pods', 'default', 'backend-b');
  await settle();
  // Nothing left: Endpoints without subsets, one placeholder slice with neither ports nor endpoints.
  t.is((store.get('endpoints', 'default', 'backend-service') as any).subsets, undefined);
  const placeholder = slicesOf(store, 'backend-service');
  t.is(placeholder.length, 1);
  t.is((placeholder[0] as any).ports, null);
  t.is((placeholder[0] as any).endpoints, null);
  const ep = store.get('endpoints', 'default', 'backend-service')!;
  t.regex(table('endpoints', [ep], { wide: false, allNamespaces: false }).split('\n')[1]!, /^backend-service\s+<none>\s+\d+s$/);
  t.regex(table('endpointslices', placeholder, { wide: false, allNamespaces: false }).split('\n')[1]!, /\s+IPv4\s+<unset>\s+<unset>\s+/);
});

test('a named targetPort resolves per pod: pods with different numbers land in separate slices and subsets', async (t) => {
  const store = cluster();
  apply(
    store,
    `
apiVersion: v1
kind: Service
metadata: {name: multi}
spec:
  selector: {app: multi}
  ports:
  - {name: web, port: 80, targetPort: http}
  - {name: metrics, port: 81, targetPort: 9100}
---
apiVersion: v1
kind: Pod
metadata: {name: p1, labels: {app: multi}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 100}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, labels: {app: multi}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 101}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p3, labels: {app: multi}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 101, protocol: UDP}]}]}
`,
  );
  run(store, 'p1', '10.244.1.5', true);
  run(store, 'p2', '10.244.2.5', true);
  run(store, 'p3', '10.244.2.6', true);
  await settle();
  const slices = slicesOf(store, 'multi').map((s: any) => ({ ports: s.ports.map((p: any) => `${p.name}:${p.port}/${p.protocol}`), ips: s.endpoints.map((e: any) => e.addresses[0]) }));
  slices.sort((a, b) => a.ips[0].localeCompare(b.ips[0]));
  t.deepEqual(slices, [
    { ports: ['web:100/TCP', 'metrics:9100/TCP'], ips: ['10.244.1.5'] },
    { ports: ['web:101/TCP', 'metrics:9100/TCP'], ips: ['10.244.2.5'] },
    // p3's "http" port is UDP: the TCP Service port finds no match there, only metrics remains.
    { ports: ['metrics:9100/TCP'], ips: ['10.244.2.6'] },
  ]);
  const subsets = (store.get('endpoints', 'default', 'multi') as any).subsets.map((s: any) => ({ ips: s.addresses.map((a: any) => a.ip), ports: s.ports.map((p: any) => `${p.name}:${p.port}`) }));
  t.deepEqual(subsets, [
    { ips: ['10.244.1.5'], ports: ['web:100'] },
    { ips: ['10.244.1.5', '10.244.2.5', '10.244.2.6'], ports: ['metrics:9100'] },
    { ips: ['10.244.2.5'], ports: ['web:101'] },
  ]);
});

test('publishNotReadyAddresses makes unready pods ready endpoints; terminating pods are serving-but-not-ready', async (t) => {
  const store = cluster();
  apply(
    store,
    `
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: db-ready}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, labels: {app: db}}
spec: {hostname: db-0, subdomain: db, containers: [{name: c, image: postgres}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db-1, labels: {app: db}}
spec: {containers: [{name: c, image: postgres}]}
`,
  );
  run(store, 'db-0', '10.244.1.7', false);
  run(store, 'db-1', '10.244.1.8', true);
  store.mutate('pods', 'default', 'db-1', (p) => {
    p.metadata.deletionTimestamp = new Date().toISOString();
  });
  await settle();
  const pub = slicesOf(store, 'db')[0] as any;
  t.is(pub.metadata.labels['service.kubernetes.io/headless'], '');
  t.deepEqual(
    pub.endpoints.map((e: any) => [e.addresses[0], e.conditions, e.hostname]),
    [
      ['10.244.1.7', { ready: true, serving: false, terminating: false }, 'db-0'],
      ['10.244.1.8', { ready: true, serving: true, terminating: true }, undefined],
    ],
  );
  t.deepEqual((store.get('endpoints', 'default', 'db') as any).subsets[0].addresses.map((a: any) => [a.ip, a.hostname]), [
    ['10.244.1.7', 'db-0'],
    ['10.244.1.8', undefined],
  ]);
  const plain = slicesOf(store, 'db-ready')[0] as any;
  t.deepEqual(
    plain.endpoints.map((e: any) => [e.addresses[0], e.conditions]),
    [
      ['10.244.1.7', { ready: false, serving: false, terminating: false }],
      ['10.244.1.8', { ready: false, serving: true, terminating: true }],
    ],
  );
  // v1 Endpoints leave terminating pods out unless published anyway.
  const ep = (store.get('endpoints', 'default', 'db-ready') as any).subsets[0];
  t.deepEqual([ep.addresses, ep.notReadyAddresses.map((a: any) => a.ip)], [undefined, ['10.244.1.7']]);
});

test('more than 100 endpoints split into slices; deleting the Service takes Endpoints and slices with it', async (t) => {
  const store = cluster();
  apply(store, `apiVersion: v1\nkind: Service\nmetadata: {name: big}\nspec: {selector: {app: big}, ports: [{port: 80}]}\n`);
  for (let i = 0; i < 130; i++) {
    store.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: `big-${i}`, namespace: 'default', labels: { app: 'big' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    run(store, `big-${i}`, `10.244.${1 + (i >> 7)}.${(i % 128) + 2}`, true);
  }
  await settle(15);
  const sizes = slicesOf(store, 'big').map((s: any) => s.endpoints.length).sort((a, b) => b - a);
  t.deepEqual(sizes, [100, 30]);
  t.regex(table('endpoints', [store.get('endpoints', 'default', 'big')!], { wide: false, allNamespaces: false }).split('\n')[1]!, /10\.244\.1\.2:80,10\.244\.1\.3:80,10\.244\.1\.4:80 \+ 127 more\.\.\./);
  store.delete('services', 'default', 'big');
  await settle();
  t.is(store.get('endpoints', 'default', 'big'), undefined);
  t.deepEqual(slicesOf(store, 'big'), []);
});

test('hand-written Endpoints of a selector-less Service stay, and are mirrored into EndpointSlices', async (t) => {
  const store = cluster();
  new EndpointSliceMirroringController(store).start();
  apply(store, `apiVersion: v1\nkind: Service\nmetadata: {name: external-db}\nspec: {ports: [{name: pg, port: 5432}]}\n`);
  store.create('endpoints', {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'external-db', namespace: 'default', labels: { team: 'data' } },
    subsets: [{ addresses: [{ ip: '192.0.2.10' }], notReadyAddresses: [{ ip: '192.0.2.11' }], ports: [{ name: 'pg', port: 5432, protocol: 'TCP' }] }],
  });
  await settle();
  const ep = store.get('endpoints', 'default', 'external-db')!;
  t.deepEqual((ep as any).subsets[0].addresses, [{ ip: '192.0.2.10' }], 'the endpoints controller leaves them alone');
  const slices = slicesOf(store, 'external-db');
  t.is(slices.length, 1);
  const s = slices[0] as any;
  t.deepEqual(s.metadata.labels, { team: 'data', 'kubernetes.io/service-name': 'external-db', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' });
  t.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Endpoints', name: 'external-db', uid: ep.metadata.uid, controller: true, blockOwnerDeletion: true }]);
  t.deepEqual(s.ports, [{ name: 'pg', protocol: 'TCP', port: 5432 }]);
  t.deepEqual(s.endpoints, [
    { addresses: ['192.0.2.10'], conditions: { ready: true } },
    { addresses: ['192.0.2.11'], conditions: { ready: false } },
  ]);
  // Giving the Service a selector hands it to the EndpointSlice controller; the mirror goes.
  store.mutate('services', 'default', 'external-db', (o) => {
    o.spec.selector = { app: 'db' };
  });
  await settle();
  t.deepEqual(slicesOf(store, 'external-db').map((x) => x.metadata.labels!['endpointslice.kubernetes.io/managed-by']), ['endpointslice-controller.k8s.io']);
});

test('default/kubernetes: first service IP, https 443 -> 6443, Endpoints and slice at the control-plane node; put back when deleted', async (t) => {
  const store = new Store();
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  store.create('nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'kemu-control-plane', labels: { 'node-role.kubernetes.io/control-plane': '' } },
    status: { addresses: [{ type: 'InternalIP', address: '172.18.0.2' }] },
  });
  const c = new KubernetesServiceController(store, '10.96.0.0/12');
  c.start();
  // There synchronously, before the kubelet starts pods.
  const svc = store.get('services', 'default', 'kubernetes')!;
  t.is(svc.spec.clusterIP, '10.96.0.1');
  t.deepEqual(svc.spec.ports, [{ name: 'https', port: 443, protocol: 'TCP', targetPort: 6443 }]);
  t.deepEqual(svc.metadata.labels, { component: 'apiserver', provider: 'kubernetes' });
  t.is(svc.spec.internalTrafficPolicy, 'Cluster');
  const slice = store.get('endpointslices', 'default', 'kubernetes') as any;
  t.deepEqual(slice.endpoints, [{ addresses: ['172.18.0.2'], conditions: { ready: true } }]);
  t.deepEqual(slice.ports, [{ name: 'https', port: 6443, protocol: 'TCP' }]);
  t.is(slice.metadata.labels['kubernetes.io/service-name'], 'kubernetes');
  t.deepEqual((store.get('endpoints', 'default', 'kubernetes') as any).subsets, [{ addresses: [{ ip: '172.18.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] }]);
  store.delete('services', 'default', 'kubernetes');
  store.delete('endpointslices', 'default', 'kubernetes');
  await settle();
  t.is(store.get('services', 'default', 'kubernetes')?.spec.clusterIP, '10.96.0.1');
  t.truthy(store.get('endpointslices', 'default', 'kubernetes'));
  c.stop();
});

test('LoadBalancer Services get pool addresses (requested ones honoured), pending when none fits, released on delete and type change', async (t) => {
  const store = cluster();
  const svcs = `
apiVersion: v1
kind: Service
metadata: {name: lb-a}
spec: {type: LoadBalancer, selector: {app: a}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-b}
spec: {type: LoadBalancer, loadBalancerIP: 172.18.255.200, selector: {app: b}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-c}
spec: {type: LoadBalancer, loadBalancerIP: 172.18.255.200, selector: {app: c}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb-other}
spec: {type: LoadBalancer, loadBalancerClass: example.com/other, selector: {app: c}, ports: [{port: 80}]}
`;
  apply(store, svcs);
  const lb = new LoadBalancerController(store, '172.18.255.0/24');
  lb.start();
  await settle();
  const ingress = (n: string) => store.get('services', 'default', n)!.status?.loadBalancer?.ingress;
  t.deepEqual(ingress('lb-a'), [{ ip: '172.18.255.1', ipMode: 'VIP' }]);
  t.deepEqual(ingress('lb-b'), [{ ip: '172.18.255.200', ipMode: 'VIP' }]);
  t.is(ingress('lb-c'), undefined, 'the requested address is taken: pending');
  t.is(ingress('lb-other'), undefined, 'another implementation’s class');
  t.is(table('services', [store.get('services', 'default', 'lb-c')!], { wide: false, allNamespaces: false }).split('\n')[1]!.split(/\s+/)[3], '<pending>');
  store.delete('services', 'default', 'lb-b');
  await settle();
  t.deepEqual(ingress('lb-c'), [{ ip: '172.18.255.200', ipMode: 'VIP' }], 'a pending Service gets the address once it is free');
  store.mutate('services', 'default', 'lb-a', (s) => {
    s.spec.type = 'ClusterIP';
  });
  await settle();
  t.is(ingress('lb-a'), undefined);
  t.is(lb.addressOf('default', 'lb-a'), undefined);
  lb.stop();
  // A restarted controller keeps the published addresses and hands out the next free one.
  const lb2 = new LoadBalancerController(store, '172.18.255.0/24');
  apply(store, `apiVersion: v1\nkind: Service\nmetadata: {name: lb-d}\nspec: {type: LoadBalancer, selector: {app: d}, ports: [{port: 80}]}\n`);
  lb2.start();
  await settle();
  t.is(lb2.addressOf('default', 'lb-c'), '172.18.255.200');
  t.deepEqual(ingress('lb-d'), [{ ip: '172.18.255.1', ipMode: 'VIP' }]);
  lb2.stop();
});
