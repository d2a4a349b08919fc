// Service defaults and validation against the apiserver's exact wording (pure: no allocation).
import test from 'ava';
import { applyDefaults, statusInvalid, validate } from '../../src/api/validation.js';
import { strictDecode, typeError } from '../../src/api/schema.js';

const svc = (spec: Record<string, unknown>, name = 'web'): any => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec });
const messages = (o: any) => validate(applyDefaults(o)).map((c) => c.message);

test('defaults: ClusterIP, None affinity, TCP, targetPort = port, internalTrafficPolicy Cluster, no externalTrafficPolicy', (t) => {
  const o = applyDefaults(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }));
  t.is(o.spec.type, 'ClusterIP');
  t.is(o.spec.sessionAffinity, 'None');
  t.deepEqual(o.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
  t.is(o.spec.internalTrafficPolicy, 'Cluster');
  t.is(o.spec.externalTrafficPolicy, undefined);
  t.is(o.spec.allocateLoadBalancerNodePorts, undefined);
});

test('defaults: ClientIP gets timeoutSeconds 10800; NodePort/LoadBalancer get externalTrafficPolicy Cluster; LB allocates node ports', (t) => {
  const c = applyDefaults(svc({ sessionAffinity: 'ClientIP', ports: [{ port: 80 }] }));
  t.deepEqual(c.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10800 } });
  const np = applyDefaults(svc({ type: 'NodePort', ports: [{ port: 80 }] }));
  t.is(np.spec.externalTrafficPolicy, 'Cluster');
  t.is(np.spec.allocateLoadBalancerNodePorts, undefined);
  const lb = applyDefaults(svc({ type: 'LoadBalancer', ports: [{ port: 80, targetPort: 'http' }] }));
  t.is(lb.spec.externalTrafficPolicy, 'Cluster');
  t.is(lb.spec.allocateLoadBalancerNodePorts, true);
  t.is(lb.spec.ports[0].targetPort, 'http');
  // externalIPs make a ClusterIP Service externally accessible too.
  t.is(applyDefaults(svc({ externalIPs: ['192.0.2.10'], ports: [{ port: 80 }] })).spec.externalTrafficPolicy, 'Cluster');
  t.deepEqual(messages(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] })), []);
});

test('port 70000 is refused with the apiserver wording, on port and (defaulted) targetPort', (t) => {
  const causes = validate(applyDefaults(svc({ ports: [{ port: 70000 }] })));
  t.deepEqual(
    causes.map((c) => c.message),
    ['spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive', 'spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive'],
  );
  t.is(
    statusInvalid('Service', 'web', '', causes).message,
    'Service "web" is invalid: [spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive, spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive]',
  );
});

test('a selector with a bad label key or value is refused at spec.selector', (t) => {
  const m = messages(svc({ selector: { 'bad label!': 'x', app: 'no good' }, ports: [{ port: 80 }] }));
  t.is(m.length, 2);
  t.true(m[0]!.startsWith(`spec.selector: Invalid value: "bad label!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`));
  t.true(m[1]!.startsWith(`spec.selector: Invalid value: "no good": a valid label must be an empty string or consist of alphanumeric characters`));
});

test('ports: names required when several, unique, DNS labels; duplicate (protocol, port) pairs; protocols', (t) => {
  const m = messages(svc({ ports: [{ port: 80 }, { name: 'Web', port: 81, targetPort: 'no--way' }, { name: 'a', port: 53, protocol: 'UDP' }, { name: 'a', port: 53, protocol: 'UDP' }, { name: 'x', port: 9, protocol: 'ICMP' }] }));
  t.true(m.includes('spec.ports[0].name: Required value'));
  t.true(m.some((x) => x.startsWith('spec.ports[1].name: Invalid value: "Web": a lowercase RFC 1123 label')));
  t.true(m.includes('spec.ports[1].targetPort: Invalid value: "no--way": must not contain consecutive hyphens'));
  t.true(m.includes('spec.ports[3].name: Duplicate value: "a"'));
  t.true(
    m.includes(
      'spec.ports[3]: Duplicate value: core.ServicePort{Name:"", Protocol:"UDP", AppProtocol:(*string)(nil), Port:53, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ),
  );
  t.true(m.includes('spec.ports[4].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'));
});

test('ports are required except for headless and ExternalName Services; type must be known', (t) => {
  t.deepEqual(messages(svc({ selector: { a: 'b' } })), ['spec.ports: Required value']);
  t.deepEqual(messages(svc({ clusterIP: 'None', clusterIPs: ['None'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' })), []);
  t.deepEqual(messages(svc({ type: 'Balanced', ports: [{ port: 80 }] })), ['spec.type: Unsupported value: "Balanced": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']);
});

test('ExternalName needs a DNS name and takes no cluster IP fields', (t) => {
  t.deepEqual(messages(svc({ type: 'ExternalName' })), ['spec.externalName: Required value']);
  t.deepEqual(messages(svc({ type: 'ExternalName', externalName: 'my.database.example.com.' })), []);
  t.deepEqual(messages(svc({ type: 'ExternalName', externalName: 'db', clusterIPs: ['10.96.0.9'], clusterIP: '10.96.0.9' })), ['spec.clusterIPs: Forbidden: may not be set for ExternalName services']);
  t.true(messages(svc({ type: 'ExternalName', externalName: 'Not_A_Name' }))[0]!.startsWith('spec.externalName: Invalid value: "Not_A_Name": a lowercase RFC 1123 subdomain'));
});

test('NodePort and LoadBalancer cannot be headless; ClusterIP cannot name a nodePort', (t) => {
  t.true(messages(svc({ type: 'NodePort', clusterIP: 'None', clusterIPs: ['None'], ports: [{ port: 80 }] })).includes(`spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services`));
  t.deepEqual(messages(svc({ ports: [{ port: 80, nodePort: 30080 }] })), ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]);
  t.deepEqual(messages(svc({ type: 'NodePort', ports: [{ name: 'a', port: 80, nodePort: 30080 }, { name: 'b', port: 81, nodePort: 30080 }] })), ['spec.ports[1].nodePort: Duplicate value: 30080']);
});

test('session affinity, traffic policies, source ranges and health check port follow the apiserver', (t) => {
  t.deepEqual(messages(svc({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 90000 } }, ports: [{ port: 80 }] })), [
    'spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 90000: must be greater than 0 and less than 86400',
  ]);
  t.deepEqual(messages(svc({ sessionAffinity: 'Sticky', ports: [{ port: 80 }] })), ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']);
  t.deepEqual(messages(svc({ externalTrafficPolicy: 'Local', ports: [{ port: 80 }] })), ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']);
  t.deepEqual(messages(svc({ type: 'NodePort', internalTrafficPolicy: 'Nearby', ports: [{ port: 80 }] })), ['spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"']);
  t.deepEqual(messages(svc({ loadBalancerSourceRanges: ['10.0.0.0/8'], ports: [{ port: 80 }] })), ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]);
  t.deepEqual(messages(svc({ type: 'LoadBalancer', loadBalancerSourceRanges: ['10.0.0.0/33'], ports: [{ port: 80 }] })), [
    'spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
  ]);
  t.deepEqual(messages(svc({ type: 'NodePort', healthCheckNodePort: 30100, ports: [{ port: 80 }] })), [
    "spec.healthCheckNodePort: Invalid value: 30100: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
  ]);
  // Before allocation an ETP=Local LoadBalancer has no health check port yet: the allocator gives one.
  t.deepEqual(messages(svc({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }] })), ['spec.healthCheckNodePort: Required value']);
  t.deepEqual(messages(svc({ type: 'ClusterIP', externalIPs: ['127.0.0.1', 'x'], ports: [{ port: 80 }] })), [
    'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
    'spec.externalIPs[1]: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
});

test('Service names are DNS-1035 labels (no leading digit)', (t) => {
  t.true(messages(svc({ ports: [{ port: 80 }] }, '1web'))[0]!.startsWith('metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower case alphanumeric characters or \'-\', start with an alphabetic character'));
});

test('clusterIPs must agree with clusterIP and be IPs; cluster IPs may not change on update', (t) => {
  t.deepEqual(messages(svc({ clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.21'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] })), [
    'spec.clusterIPs: Invalid value: []string{"10.96.0.21"}: first value must match `clusterIP`',
  ]);
  t.deepEqual(messages(svc({ clusterIP: 'ten', clusterIPs: ['ten'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] })), [
    'spec.clusterIPs[0]: Invalid value: "ten": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  ]);
  const old = applyDefaults(svc({ clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] }));
  const next = applyDefaults(svc({ clusterIP: '10.96.0.21', clusterIPs: ['10.96.0.21'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [{ port: 80 }] }));
  t.deepEqual(validate(next, old).map((c) => c.message), ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.21"}: may not change once set']);
});

test('Service, Endpoints and EndpointSlice fields decode strictly, with Go-style type errors', (t) => {
  t.deepEqual(strictDecode(svc({ ports: [{ port: 80, nodeport: 30000 }], selectr: {} })), ['spec.ports[0].nodeport', 'spec.selectr']);
  t.is(typeError(svc({ ports: [{ port: '80' }] }))?.message, 'json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32');
  t.is(typeError(svc({ ports: [{ port: 80, targetPort: true }] }))?.message, 'json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type intstr.IntOrString');
  t.deepEqual(strictDecode({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true, healthy: true } }] }), [
    'endpoints[0].conditions.healthy',
  ]);
  t.deepEqual(strictDecode({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] }), []);
});

test('Endpoints and EndpointSlices written by hand are validated', (t) => {
  const ep = applyDefaults({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'db', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.0.0.300' }], ports: [{ port: 5432 }] }] });
  t.is(ep.subsets[0].ports[0].protocol, 'TCP');
  t.deepEqual(validate(ep).map((c) => c.message), ['subsets[0].addresses[0].ip: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
  const slice = applyDefaults({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'db-1', namespace: 'default' }, addressType: 'IPv5', endpoints: [], ports: [{ port: 5432 }] });
  t.deepEqual(slice.ports, [{ port: 5432, name: '', protocol: 'TCP' }]);
  t.deepEqual(validate(slice).map((c) => c.message), ['addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"']);
});

test('readiness probes are defaulted and validated like the apiserver does', (t) => {
  const pod = applyDefaults({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'nginx', readinessProbe: { httpGet: { port: 'http' } } }, { name: 'd', image: 'x', readinessProbe: { periodSeconds: 2 } }] },
  });
  t.deepEqual(pod.spec.containers[0].readinessProbe, { httpGet: { port: 'http', path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
  t.deepEqual(validate(pod).map((c) => c.message), ['spec.containers[1].readinessProbe: Required value: must specify a handler type']);
});
