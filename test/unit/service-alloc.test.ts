// ClusterIP and NodePort allocation through the real HTTP API: bands, collisions, ranges,
// release on delete and type change, idempotent re-apply, and rebuilding from the store.
import test from 'ava';
import { BandedRange, ClusterIPRange, PortRange, AddressPool } from '../../src/api/allocators.js';
import { service, startApi } from '../helpers/api.js';

const ipNum = (ip: string) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);

test('automatic ClusterIPs come from the upper band of 10.96.0.0/12; the first 256 addresses are left for static requests', async (t) => {
  const a = await startApi();
  try {
    const ips: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await a.createService(service(`s${i}`, { ports: [{ port: 80 }] }));
      t.is(r.code, 201, JSON.stringify(r.body));
      t.deepEqual(r.body.spec.clusterIPs, [r.body.spec.clusterIP]);
      t.deepEqual(r.body.spec.ipFamilies, ['IPv4']);
      t.is(r.body.spec.ipFamilyPolicy, 'SingleStack');
      ips.push(r.body.spec.clusterIP);
    }
    t.is(new Set(ips).size, 20);
    for (const ip of ips) {
      const n = ipNum(ip);
      t.true(n >= ipNum('10.96.1.1') && n <= ipNum('10.111.255.254'), ip);
    }
  } finally {
    await a.close();
  }
});

test('a requested clusterIP is honoured, and refused when taken or outside the range', async (t) => {
  const a = await startApi();
  try {
    const dns = await a.createService(service('kube-dns', { clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }), 'default');
    t.is(dns.code, 201);
    t.is(dns.body.spec.clusterIP, '10.96.0.10');
    const dup = await a.createService(service('other', { clusterIP: '10.96.0.10', ports: [{ port: 80 }] }));
    t.is(dup.code, 422);
    t.is(dup.body.message, 'Service "other" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated');
    t.deepEqual(dup.body.details.causes, [
      { reason: 'FieldValueInvalid', field: 'spec.clusterIPs', message: 'Invalid value: []string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is already allocated' },
    ]);
    const out = await a.createService(service('far', { clusterIP: '192.168.1.1', ports: [{ port: 80 }] }));
    t.is(out.body.message, 'Service "far" is invalid: spec.clusterIPs: Invalid value: []string{"192.168.1.1"}: failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12');
    const net = await a.createService(service('net', { clusterIP: '10.96.0.0', ports: [{ port: 80 }] }));
    t.is(net.code, 422, 'the network address is not a Service IP');
    t.is(a.api.services.holderOf('10.96.0.10'), 'default/kube-dns');
    t.is(a.api.services.holderOf('192.168.1.1'), undefined, 'a refused request keeps nothing');
  } finally {
    await a.close();
  }
});

test('NodePorts: allocated per port in 30000-32767, explicit ones honoured; collisions and out-of-range refused', async (t) => {
  const a = await startApi();
  try {
    const web = await a.createService(service('web', { type: 'NodePort', ports: [{ name: 'http', port: 80, nodePort: 30080 }, { name: 'https', port: 443 }] }));
    t.is(web.code, 201);
    t.is(web.body.spec.ports[0].nodePort, 30080);
    const auto = web.body.spec.ports[1].nodePort;
    t.true(auto >= 30086 && auto <= 32767, `dynamic ports come from above the static band: ${auto}`);
    t.is(web.body.spec.externalTrafficPolicy, 'Cluster');
    const taken = await a.createService(service('web2', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }));
    t.is(taken.code, 422);
    t.is(taken.body.message, 'Service "web2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated');
    const twice = await a.createService(service('web3', { type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30090 }, { name: 'b', port: 81, nodePort: 30090 }] }));
    t.is(twice.body.message, 'Service "web3" is invalid: spec.ports[1].nodePort: Invalid value: 30090: provided port is already allocated');
    t.is(a.api.services.holderOf(30090), undefined, 'the failed create gave 30090 back');
    const low = await a.createService(service('web4', { type: 'NodePort', ports: [{ port: 80, nodePort: 20000 }] }));
    t.is(low.body.message, 'Service "web4" is invalid: spec.ports[0].nodePort: Invalid value: 20000: provided port is not in the valid range. The range of valid ports is 30000-32767');
    // TCP and UDP on one port number share one NodePort.
    const dns = await a.createService(service('dns', { type: 'NodePort', ports: [{ name: 'udp', port: 53, protocol: 'UDP' }, { name: 'tcp', port: 53, protocol: 'TCP' }] }));
    t.is(dns.code, 201);
    t.is(dns.body.spec.ports[0].nodePort, dns.body.spec.ports[1].nodePort);
  } finally {
    await a.close();
  }
});

test('deleting a Service releases its ClusterIP and NodePorts for others to take', async (t) => {
  const a = await startApi();
  try {
    t.is((await a.createService(service('a', { type: 'NodePort', clusterIP: '10.96.0.50', ports: [{ port: 80, nodePort: 30100 }] }))).code, 201);
    t.is((await a.req('DELETE', '/api/v1/namespaces/default/services/a')).code, 200);
    t.is(a.api.services.holderOf(30100), undefined);
    const b = await a.createService(service('b', { type: 'NodePort', clusterIP: '10.96.0.50', ports: [{ port: 80, nodePort: 30100 }] }));
    t.is(b.code, 201, JSON.stringify(b.body));
    t.is(a.api.services.holderOf(30100), 'default/b');
    // Namespace deletion and garbage collection delete through the store; allocations follow.
    a.store.delete('services', 'default', 'b');
    t.is(a.api.services.holderOf('10.96.0.50'), undefined);
  } finally {
    await a.close();
  }
});

test('updates keep what was allocated; NodePort -> ClusterIP releases the ports, ExternalName <-> ClusterIP allocates and clears the IP', async (t) => {
  const a = await startApi();
  try {
    const created = await a.createService(service('web', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] }));
    const { clusterIP } = created.body.spec;
    const nodePort = created.body.spec.ports[0].nodePort;
    // A re-apply of the same manifest (no clusterIP, no nodePort) changes nothing that was allocated.
    const again = await a.req('PUT', '/api/v1/namespaces/default/services/web', service('web', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] }));
    t.is(again.code, 200, JSON.stringify(again.body));
    t.is(again.body.spec.clusterIP, clusterIP);
    t.is(again.body.spec.ports[0].nodePort, nodePort);
    t.is(again.body.metadata.resourceVersion, created.body.metadata.resourceVersion, 'nothing changed, nothing written');
    // kubectl patch leaves the nodePort in place while changing the type: it is dropped and freed.
    const toCluster = await a.req('PATCH', '/api/v1/namespaces/default/services/web', { spec: { type: 'ClusterIP' } });
    t.is(toCluster.code, 200, JSON.stringify(toCluster.body));
    t.is(toCluster.body.spec.ports[0].nodePort, undefined);
    t.is(toCluster.body.spec.externalTrafficPolicy, undefined);
    t.is(toCluster.body.spec.clusterIP, clusterIP);
    t.is(a.api.services.holderOf(nodePort), undefined);
    const toExt = await a.req('PATCH', '/api/v1/namespaces/default/services/web', { spec: { type: 'ExternalName', externalName: 'example.com' } });
    t.is(toExt.code, 200, JSON.stringify(toExt.body));
    t.is(toExt.body.spec.clusterIP, undefined);
    t.is(toExt.body.spec.clusterIPs, undefined);
    t.is(toExt.body.spec.ipFamilies, undefined);
    t.is(a.api.services.holderOf(clusterIP), undefined);
    const back = await a.req('PATCH', '/api/v1/namespaces/default/services/web', { spec: { type: 'NodePort', externalName: null } });
    t.is(back.code, 200, JSON.stringify(back.body));
    t.regex(back.body.spec.clusterIP, /^10\.(9[6-9]|10\d|11[01])\./);
    t.true(back.body.spec.ports[0].nodePort >= 30000);
    t.is(a.api.services.holderOf(back.body.spec.clusterIP), 'default/web');
    const change = await a.req('PATCH', '/api/v1/namespaces/default/services/web', { spec: { clusterIP: '10.96.0.99', clusterIPs: ['10.96.0.99'] } });
    t.is(change.code, 422);
    t.is(change.body.message, 'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.0.99"}: may not change once set');
    t.is(a.api.services.holderOf('10.96.0.99'), undefined, 'the refused update gave the requested IP back');
  } finally {
    await a.close();
  }
});

test('ETP=Local LoadBalancers get a healthCheckNodePort; headless and ExternalName Services get no IP; dry runs keep nothing', async (t) => {
  const a = await startApi();
  try {
    const lb = await a.createService(service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] }));
    t.is(lb.code, 201, JSON.stringify(lb.body));
    t.true(lb.body.spec.healthCheckNodePort >= 30000);
    t.not(lb.body.spec.healthCheckNodePort, lb.body.spec.ports[0].nodePort);
    t.is(lb.body.spec.allocateLoadBalancerNodePorts, true);
    const noPorts = await a.createService(service('lb2', { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }] }));
    t.is(noPorts.body.spec.ports[0].nodePort, undefined);
    const hl = await a.createService(service('db', { clusterIP: 'None', selector: { app: 'db' }, ports: [{ port: 5432 }] }));
    t.deepEqual(hl.body.spec.clusterIPs, ['None']);
    t.deepEqual(hl.body.spec.ipFamilies, ['IPv4']);
    const ext = await a.createService(service('ext', { type: 'ExternalName', externalName: 'db.example.com' }));
    t.is(ext.body.spec.clusterIP, undefined);
    const before = a.api.services.ips.inUse;
    const dry = await a.req('POST', '/api/v1/namespaces/default/services?dryRun=All', service('dry', { clusterIP: '10.96.0.77', ports: [{ port: 80 }] }));
    t.is(dry.code, 201);
    t.is(dry.body.spec.clusterIP, '10.96.0.77');
    t.is(a.api.services.ips.inUse, before);
    t.is(a.api.services.holderOf('10.96.0.77'), undefined);
  } finally {
    await a.close();
  }
});

test('allocations are rebuilt from the stored Services when the API server starts', async (t) => {
  const a = await startApi();
  const made = await a.createService(service('keep', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }));
  await a.close();
  // A new API server over the same store, as after a daemon restart with persisted objects.
  const b = await startApi(a.store);
  try {
    t.is(b.api.services.holderOf(made.body.spec.clusterIP), 'default/keep');
    t.is(b.api.services.holderOf(31000), 'default/keep');
    const clash = await b.createService(service('clash', { type: 'NodePort', ports: [{ port: 80, nodePort: 31000 }] }));
    t.is(clash.body.message, 'Service "clash" is invalid: spec.ports[0].nodePort: Invalid value: 31000: provided port is already allocated');
    const ipClash = await b.createService(service('clash', { clusterIP: made.body.spec.clusterIP, ports: [{ port: 80 }] }));
    t.is(ipClash.code, 422);
  } finally {
    await b.close();
  }
});

test('range arithmetic: static bands, randomness within the upper band, exhaustion, pools', (t) => {
  const r = new ClusterIPRange('10.96.0.0/12');
  t.is(r.nth(0), '10.96.0.1');
  t.is(r.nth(9), '10.96.0.10');
  const small = new ClusterIPRange('10.0.0.0/28');
  const got = new Set<string>();
  for (let i = 0; i < 14; i++) got.add(small.allocateNext());
  t.is(got.size, 14);
  t.throws(() => small.allocateNext(), { message: 'range is full' });
  // /24: 256 addresses, static band 16: the first 16 usable ones are taken last.
  const c24 = new ClusterIPRange('10.1.0.0/24', () => 0);
  t.is(c24.allocateNext(), '10.1.0.17');
  const ports = new PortRange('30000-32767', () => 0);
  t.is(ports.allocateNext(), 30086);
  const band = new BandedRange(4, 2, () => 0);
  t.deepEqual([band.next(), band.next(), band.next(), band.next(), band.next()], [2, 3, 0, 1, undefined]);
  const pool = new AddressPool('172.18.255.0/24');
  t.is(pool.next(), '172.18.255.1');
  t.true(pool.claim('172.18.255.200'));
  t.false(pool.claim('172.18.255.200'));
  t.false(pool.claim('172.18.254.1'));
  const range = new AddressPool('172.18.255.200-172.18.255.201');
  t.deepEqual([range.next(), range.next(), range.next()], ['172.18.255.200', '172.18.255.201', undefined]);
});

test('hand-written Endpoints and EndpointSlices go through the API and re-apply unchanged', async (t) => {
  const a = await startApi();
  try {
    const ep = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'db' }, subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 5432 }] }] };
    const made = await a.req('POST', '/api/v1/namespaces/default/endpoints?fieldValidation=Strict', ep);
    t.is(made.code, 201, JSON.stringify(made.body));
    t.is(made.body.subsets[0].ports[0].protocol, 'TCP');
    // kemu apply's update: the stored object with the manifest's fields laid over it.
    const again = await a.req('PUT', '/api/v1/namespaces/default/endpoints/db?fieldValidation=Strict', { ...made.body, subsets: ep.subsets });
    t.is(again.code, 200, JSON.stringify(again.body));
    t.is(again.body.metadata.resourceVersion, made.body.metadata.resourceVersion);
    const bad = await a.req('POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's' }, addressType: 'IPv4', endpoints: [{ addresses: ['not-an-ip'] }] });
    t.is(bad.code, 422);
    t.is(bad.body.message, 'EndpointSlice.discovery.k8s.io "s" is invalid: endpoints[0].addresses[0]: Invalid value: "not-an-ip": must be a valid IPv4 address');
  } finally {
    await a.close();
  }
});
