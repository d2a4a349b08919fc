// Backends, rewrite-target, status, SNI lookup and the bootstrap objects of the ingress addon.
import test from 'ava';
import { indexServices, pick, resolveAll, resolveEndpoints } from '../../src/addons/ingress/backends.js';
import { ingressControllerObjects } from '../../src/addons/ingress/bootstrap.js';
import { keyPairOf, lookupSni, tlsHosts } from '../../src/addons/ingress/certs.js';
import { rewriteUrl } from '../../src/addons/ingress/rewrite.js';
import { compileRoutes, route } from '../../src/addons/ingress/routes.js';
import { publishedAddresses, statusChanges } from '../../src/addons/ingress/status.js';
import { admit } from '../../src/api/admission.js';
import { groupOfResource, resourceInfo } from '../../src/api/resources.js';
import { imageEntrypoint } from '../../src/runtime/images.js';
import { Store, type KObject } from '../../src/store/store.js';

const svc = (name: string, ports: any[], extra: any = {}): KObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports, ...extra } });
const slice = (service: string, ports: any[], endpoints: any[]): KObject =>
  ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: `${service}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } }, addressType: 'IPv4', ports, endpoints }) as KObject;
const target = (service: string, port: { number?: number; name?: string }) => ({ namespace: 'default', service, port, key: `default/${service}:${port.number ?? port.name}` });

test('endpoints: Service port by number or name -> EndpointSlice port of the same name, ready endpoints only', (t) => {
  const idx = indexServices(
    [svc('web', [{ name: 'http', port: 80, targetPort: 'web' }, { name: 'admin', port: 9000, targetPort: 9000 }])],
    [
      slice('web', [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'admin', port: 9000, protocol: 'TCP' }], [
        { addresses: ['10.244.1.2'], conditions: { ready: true } },
        { addresses: ['10.244.1.3'], conditions: { ready: false } },
        { addresses: ['10.244.2.2'], conditions: {} },
      ]),
    ],
  );
  t.deepEqual(resolveEndpoints(idx, target('web', { number: 80 })).endpoints, [{ host: '10.244.1.2', port: 8080 }, { host: '10.244.2.2', port: 8080 }]);
  t.deepEqual(resolveEndpoints(idx, target('web', { name: 'admin' })).endpoints.map((e) => e.port), [9000, 9000]);
  t.regex(resolveEndpoints(idx, target('web', { number: 81 })).why!, /has no port 81/);
  t.regex(resolveEndpoints(idx, target('nope', { number: 80 })).why!, /not found/);
});

test('round robin visits every endpoint once per cycle, and keeps its place across rebuilds', (t) => {
  const eps = Array.from({ length: 10 }, (_, i) => ({ addresses: [`10.244.1.${i + 2}`], conditions: { ready: true } }));
  const idx = indexServices([svc('ten', [{ port: 80, targetPort: 8080 }])], [slice('ten', [{ port: 8080, protocol: 'TCP' }], eps)]);
  const tg = target('ten', { number: 80 });
  let sets = resolveAll(idx, [tg]);
  const order: string[] = [];
  for (let i = 0; i < 10; i++) order.push(pick(sets.get(tg.key))!.host);
  t.is(new Set(order).size, 10);
  pick(sets.get(tg.key));
  sets = resolveAll(idx, [tg], sets);
  t.is(pick(sets.get(tg.key))!.host, order[1], 'continues after a rebuild');
  t.is(pick(resolveAll(indexServices([], []), [tg]).get(tg.key)), undefined, 'no Service: nothing to pick (503)');
});

test("rewrite-target as ingress-nginx renders it: the guide's `/` replaces the whole URI; capture groups", (t) => {
  const table = compileRoutes([
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'app-ingress', namespace: 'default', annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/' } },
      spec: { rules: [{ host: 'app.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'frontend-service', port: { number: 80 } } } }, { path: '/api', pathType: 'Prefix', backend: { service: { name: 'backend-service', port: { number: 8080 } } } }] } }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'strip', namespace: 'default', annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/$2' } },
      spec: { rules: [{ host: 'strip.test', http: { paths: [{ path: '/api(/|$)(.*)', pathType: 'ImplementationSpecific', backend: { service: { name: 'api', port: { number: 80 } } } }] } }] },
    },
  ]);
  const rw = (host: string, path: string, search = '') => {
    const d = route(table, host, path);
    return d.kind === 'backend' ? `${d.target.service} ${rewriteUrl(d.route, path, search)}` : '404';
  };
  t.is(rw('app.example.com', '/api/users', '?page=2'), 'backend-service /?page=2');
  t.is(rw('app.example.com', '/index.html'), 'frontend-service /');
  t.is(rw('strip.test', '/api/users/7', '?a=1'), 'api /users/7?a=1');
  t.is(rw('strip.test', '/api'), 'api /');
  t.is(rewriteUrl(undefined, '/x', '?y'), '/x?y');
});

test('status: owned Ingresses get the controller address; another class loses exactly ours; pending LB writes nothing', (t) => {
  const lb = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'c', namespace: 'ingress-nginx' }, status: { loadBalancer: { ingress: [{ ip: '172.18.255.1', ipMode: 'VIP' }] } } } as KObject;
  const addr = publishedAddresses(lb);
  t.deepEqual(addr, [{ ip: '172.18.255.1' }]);
  const ing = (name: string, status?: any) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'default' }, spec: {}, status }) as KObject;
  const all = [ing('mine'), ing('mine-done', { loadBalancer: { ingress: [{ ip: '172.18.255.1' }] } }), ing('other'), ing('moved', { loadBalancer: { ingress: [{ ip: '172.18.255.1' }] } })];
  const owned = (i: KObject) => i.metadata.name.startsWith('mine');
  const ch = statusChanges(all, owned, addr).map((c) => `${c.ingress.metadata.name}=${JSON.stringify(c.loadBalancer)}`);
  t.deepEqual(ch, ['mine={"ingress":[{"ip":"172.18.255.1"}]}', 'moved={}']);
  t.deepEqual(statusChanges(all, owned, []), []);
});

test('SNI: exact host, then a one-label wildcard; the oldest Ingress owns a host; Secrets decoded', (t) => {
  const hosts = tlsHosts([
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'b', namespace: 'ns', creationTimestamp: '2026-01-02T00:00:00Z' }, spec: { tls: [{ hosts: ['app.example.com'], secretName: 'newer' }] } },
    { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'a', namespace: 'ns', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { tls: [{ hosts: ['app.example.com', '*.foo.com'], secretName: 'tls-secret' }] } },
  ]);
  t.is(lookupSni(hosts, 'app.example.com'), 'ns/tls-secret');
  t.is(lookupSni(hosts, 'APP.example.com.'), 'ns/tls-secret');
  t.is(lookupSni(hosts, 'bar.foo.com'), 'ns/tls-secret');
  t.is(lookupSni(hosts, 'baz.bar.foo.com'), undefined);
  t.is(lookupSni(hosts, undefined), undefined);
  t.deepEqual(keyPairOf({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { 'tls.crt': Buffer.from('C').toString('base64'), 'tls.key': Buffer.from('K').toString('base64') } } as KObject), { cert: 'C', key: 'K' });
  t.is(keyPairOf(undefined), 'secret not found');
});

test('bootstrap: namespace, default IngressClass, LB Service and Deployment pass strict admission; the image runs the proxy', (t) => {
  const store = new Store(groupOfResource);
  const objs = ingressControllerObjects('/run/kemu/k/api.sock');
  t.deepEqual(objs.map((o) => `${o.object.kind}/${o.object.metadata.name}`), ['Namespace/ingress-nginx', 'IngressClass/nginx', 'Service/ingress-nginx-controller', 'Deployment/ingress-nginx-controller']);
  for (const { path, object } of objs) {
    const resource = path.split('/').at(-1)!;
    if (resource === 'services') continue; // needs the allocator (ClusterIP, NodePorts); checked live
    const r = admit(store, resourceInfo(resource)!, structuredClone(object), 'create', 'Strict');
    t.deepEqual(r.warnings, [], resource);
    if (resource === 'namespaces') store.create('namespaces', r.object);
  }
  const svcObj = objs[2]!.object;
  t.is(svcObj.spec.type, 'LoadBalancer');
  t.deepEqual(svcObj.spec.ports.map((p: any) => p.port), [80, 443]);
  t.is(objs[1]!.object.metadata.annotations!['ingressclass.kubernetes.io/is-default-class'], 'true');
  const image = objs[3]!.object.spec.template.spec.containers[0].image;
  t.regex(imageEntrypoint(image).at(-1)!, /addons\/ingress\/main\.js$/);
  for (const img of ['registry.k8s.io/ingress-nginx/controller:v1.9.0', 'registry.k8s.io/ingress-nginx/controller@sha256:' + 'a'.repeat(64), 'ingress-nginx/controller']) {
    t.regex(imageEntrypoint(img).at(-1)!, /addons\/ingress\/main\.js$/, img);
  }
  t.regex(imageEntrypoint('nginx').at(-1)!, /builtin-server\.js$/);
});
