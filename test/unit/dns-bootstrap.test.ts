// The kube-dns objects the daemon creates at start: kubeadm's shapes, accepted by kemu's own
// admission with strict field validation; the CoreDNS image runs kemu's resolver.
import test from 'ava';
import { admit } from '../../src/api/admission.js';
import { groupOfResource, resourceInfo } from '../../src/api/resources.js';
import { clusterDnsObjects, nthAddress } from '../../src/addons/dns/bootstrap.js';
import { DEFAULTS } from '../../src/config.js';
import { imageEntrypoint } from '../../src/runtime/images.js';
import { Store } from '../../src/store/store.js';

const cfg = { name: 'k', ...DEFAULTS };

test('kube-dns at the tenth address of the service CIDR, with kubeadm\'s ports and labels', (t) => {
  t.is(nthAddress('10.96.0.0/12', 10), '10.96.0.10');
  t.is(nthAddress('10.100.0.0/16', 10), '10.100.0.10');
  const { service, deployment } = clusterDnsObjects(cfg, '/run/kemu/k/api.sock');
  t.is(service.spec.clusterIP, '10.96.0.10');
  t.deepEqual(service.spec.ports.map((p: any) => `${p.name}:${p.port}/${p.protocol}`), ['dns:53/UDP', 'dns-tcp:53/TCP', 'metrics:9153/TCP']);
  t.deepEqual(service.spec.selector, { 'k8s-app': 'kube-dns' });
  t.is(deployment.metadata.name, 'coredns');
  t.is(deployment.spec.replicas, 2);
  t.is(deployment.spec.template.spec.dnsPolicy, 'Default');
  const env = Object.fromEntries(deployment.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
  t.deepEqual(env, { KEMU_API_SOCKET: '/run/kemu/k/api.sock', KEMU_DNS_ZONE: 'cluster.local', KEMU_DNS_UPSTREAM: 'none' });
});

test('both objects pass kemu\'s admission with strict field validation, without warnings', (t) => {
  const store = new Store(groupOfResource);
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-system' } });
  const { service, deployment } = clusterDnsObjects(cfg, '/run/kemu/k/api.sock');
  // The apiserver's allocator fills clusterIPs from clusterIP before validation (admit without one here).
  service.spec.clusterIPs = [service.spec.clusterIP];
  for (const [res, obj] of [['services', service], ['deployments', deployment]] as const) {
    const r = admit(store, resourceInfo(res)!, structuredClone(obj), 'create', 'Strict');
    t.deepEqual(r.warnings, [], res);
  }
});

test('CoreDNS images run kemu\'s resolver; other images the built-in server', (t) => {
  for (const img of ['registry.k8s.io/coredns/coredns:v1.11.3', 'coredns/coredns', 'registry.k8s.io/coredns/coredns@sha256:' + 'a'.repeat(64), 'coredns:1.11']) {
    t.regex(imageEntrypoint(img).at(-1)!, /addons\/dns\/main\.js$/, img);
  }
  for (const img of ['nginx', 'busybox', 'example.com/corednsx:1', 'registry.k8s.io/coredns/coredns-tools:1']) {
    t.regex(imageEntrypoint(img).at(-1)!, /builtin-server\.js$/, img);
  }
});
