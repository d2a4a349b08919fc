// The kubelet's Service environment variables, from Services as the API stores them.
import test from 'ava';
import { serviceEnv } from '../../src/runtime/service-env.js';
import type { KObject } from '../../src/store/store.js';

const svc = (ns: string, name: string, spec: any): KObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec });

const SERVICES = [
  svc('default', 'kubernetes', { type: 'ClusterIP', clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] }),
  svc('prod', 'backend-service', { type: 'ClusterIP', clusterIP: '10.96.44.5', ports: [{ port: 80, protocol: 'TCP' }] }),
  svc('prod', 'dns', { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 53, protocol: 'TCP' }] }),
  svc('prod', 'headless', { type: 'ClusterIP', clusterIP: 'None', ports: [{ port: 5432, protocol: 'TCP' }] }),
  svc('prod', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
  svc('other', 'elsewhere', { type: 'ClusterIP', clusterIP: '10.96.9.9', ports: [{ port: 80, protocol: 'TCP' }] }),
];

test('a pod gets its namespace’s Services and default/kubernetes as the kubelet names them', (t) => {
  const env = serviceEnv(SERVICES, 'prod', true);
  t.like(env, {
    KUBERNETES_SERVICE_HOST: '10.96.0.1',
    KUBERNETES_SERVICE_PORT: '443',
    KUBERNETES_SERVICE_PORT_HTTPS: '443',
    KUBERNETES_PORT: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP: 'tcp://10.96.0.1:443',
    KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    KUBERNETES_PORT_443_TCP_PORT: '443',
    KUBERNETES_PORT_443_TCP_ADDR: '10.96.0.1',
    BACKEND_SERVICE_SERVICE_HOST: '10.96.44.5',
    BACKEND_SERVICE_SERVICE_PORT: '80',
    BACKEND_SERVICE_PORT: 'tcp://10.96.44.5:80',
    BACKEND_SERVICE_PORT_80_TCP: 'tcp://10.96.44.5:80',
    DNS_SERVICE_PORT: '53',
    DNS_SERVICE_PORT_DNS: '53',
    DNS_SERVICE_PORT_DNS_TCP: '53',
    DNS_PORT: 'udp://10.96.0.10:53',
    DNS_PORT_53_UDP: 'udp://10.96.0.10:53',
    DNS_PORT_53_UDP_PROTO: 'udp',
    DNS_PORT_53_TCP: 'tcp://10.96.0.10:53',
    DNS_PORT_53_TCP_ADDR: '10.96.0.10',
  });
  // Unnamed port: no _SERVICE_PORT_<NAME>; headless, ExternalName and other namespaces: nothing.
  t.false(Object.keys(env).some((k) => k.startsWith('BACKEND_SERVICE_SERVICE_PORT_')));
  t.false(Object.keys(env).some((k) => k.startsWith('HEADLESS_') || k.startsWith('EXT_') || k.startsWith('ELSEWHERE_')));
  t.is(Object.keys(env).length, 8 + 7 + 13);
});

test('enableServiceLinks: false leaves only the kubernetes Service variables', (t) => {
  const env = serviceEnv(SERVICES, 'prod', false);
  t.deepEqual(Object.keys(env).sort(), [
    'KUBERNETES_PORT',
    'KUBERNETES_PORT_443_TCP',
    'KUBERNETES_PORT_443_TCP_ADDR',
    'KUBERNETES_PORT_443_TCP_PORT',
    'KUBERNETES_PORT_443_TCP_PROTO',
    'KUBERNETES_SERVICE_HOST',
    'KUBERNETES_SERVICE_PORT',
    'KUBERNETES_SERVICE_PORT_HTTPS',
  ]);
});

test('a namespace’s own `kubernetes` Service wins over default’s', (t) => {
  const mine = svc('prod', 'kubernetes', { type: 'ClusterIP', clusterIP: '10.96.7.7', ports: [{ port: 8443, protocol: 'TCP' }] });
  t.is(serviceEnv([mine, ...SERVICES], 'prod', true).KUBERNETES_SERVICE_HOST, '10.96.7.7');
  t.is(serviceEnv([...SERVICES, mine], 'prod', true).KUBERNETES_SERVICE_HOST, '10.96.7.7');
  t.is(serviceEnv([...SERVICES, mine], 'default', true).KUBERNETES_SERVICE_HOST, '10.96.0.1');
});
