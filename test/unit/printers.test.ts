import test from 'ava';
import { humanAge, podStatusText, table } from '../../src/cli/printers.js';

const now = Date.parse('2026-11-22T12:00:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString();

test('ages render as kubectl renders them', (t) => {
  t.is(humanAge(ago(5), now), '5s');
  t.is(humanAge(ago(119), now), '119s');
  t.is(humanAge(ago(150), now), '2m30s');
  t.is(humanAge(ago(600), now), '10m');
  t.is(humanAge(ago(3 * 3600 + 60 * 5), now), '3h5m');
  t.is(humanAge(ago(30 * 3600), now), '30h');
  t.is(humanAge(ago(3 * 86400), now), '3d');
});

test('pod status text follows container states and deletion', (t) => {
  const base = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: 'n' } };
  t.is(podStatusText({ ...base, status: { phase: 'Running', containerStatuses: [{ state: { running: {} } }] } }), 'Running');
  t.is(podStatusText({ ...base, status: { phase: 'Running', containerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }), 'CrashLoopBackOff');
  t.is(podStatusText({ ...base, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { reason: 'Completed', exitCode: 0 } } }] } }), 'Completed');
  t.is(podStatusText({ ...base, metadata: { name: 'p', deletionTimestamp: 'x' }, status: { phase: 'Running' } }), 'Terminating');
});

test('pods table with -o wide and -A', (t) => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'prod', creationTimestamp: ago(42) },
    spec: { nodeName: 'kemu-worker', containers: [{ name: 'a' }, { name: 'b' }] },
    status: { phase: 'Running', podIP: '10.244.1.2', containerStatuses: [{ ready: true, restartCount: 0, state: { running: {} } }, { ready: false, restartCount: 0, state: { running: {} } }] },
  };
  t.is(
    table('pods', [pod], { wide: true, allNamespaces: true }, now),
    'NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   IP           NODE          NOMINATED NODE   READINESS GATES\n' +
      'prod        web-0   1/2     Running   0          42s   10.244.1.2   kemu-worker   <none>           <none>',
  );
});

// ---------------------------------------------------------------------------------------------
// Services, Endpoints, EndpointSlices, describe

const svc = (name: string, spec: any, status: any = {}) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', creationTimestamp: ago(300) }, spec, status });

test('services table: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S) as kubectl prints them; -o wide adds SELECTOR', (t) => {
  const rows = [
    svc('backend-service', { type: 'ClusterIP', clusterIP: '10.96.12.34', clusterIPs: ['10.96.12.34'], selector: { app: 'backend', tier: 'api' }, ports: [{ port: 80, protocol: 'TCP' }] }),
    svc('web', { type: 'NodePort', clusterIPs: ['10.96.1.2'], ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }, { port: 443, protocol: 'TCP' }] }),
    svc('lb', { type: 'LoadBalancer', clusterIPs: ['10.96.1.3'], ports: [{ port: 80, nodePort: 31000, protocol: 'TCP' }] }, { loadBalancer: { ingress: [{ ip: '172.18.255.1', ipMode: 'VIP' }] } }),
    svc('lb-pending', { type: 'LoadBalancer', clusterIPs: ['10.96.1.4'], ports: [{ port: 53, nodePort: 31001, protocol: 'UDP' }] }),
    svc('db', { type: 'ClusterIP', clusterIP: 'None', clusterIPs: ['None'], selector: { app: 'db' } }),
    svc('ext', { type: 'ExternalName', externalName: 'db.example.com' }),
    svc('eip', { type: 'ClusterIP', clusterIPs: ['10.96.1.5'], externalIPs: ['192.0.2.1', '192.0.2.2'], ports: [{ port: 8080, protocol: 'TCP' }] }),
  ];
  t.is(
    table('services', rows, { wide: true, allNamespaces: false }, now),
    [
      'NAME              TYPE           CLUSTER-IP    EXTERNAL-IP           PORT(S)                AGE   SELECTOR',
      'backend-service   ClusterIP      10.96.12.34   <none>                80/TCP                 5m    app=backend,tier=api',
      'web               NodePort       10.96.1.2     <none>                80:30080/TCP,443/TCP   5m    <none>',
      'lb                LoadBalancer   10.96.1.3     172.18.255.1          80:31000/TCP           5m    <none>',
      'lb-pending        LoadBalancer   10.96.1.4     <pending>             53:31001/UDP           5m    <none>',
      'db                ClusterIP      None          <none>                <none>                 5m    app=db',
      'ext               ExternalName   <none>        db.example.com        <none>                 5m    <none>',
      'eip               ClusterIP      10.96.1.5     192.0.2.1,192.0.2.2   8080/TCP               5m    <none>',
    ].join('\n'),
  );
  // Without -o wide, several LB addresses are clipped to 16 characters.
  const two = svc('lb2', { type: 'LoadBalancer', clusterIPs: ['10.96.1.6'], ports: [] }, { loadBalancer: { ingress: [{ ip: '172.18.255.10' }, { ip: '172.18.255.11' }] } });
  t.is(table('services', [two], { wide: false, allNamespaces: false }, now).split('\n')[1], 'lb2    LoadBalancer   10.96.1.6    172.18.255.10...   <none>    5m');
});

test('describe svc prints kubectl describe’s layout, with endpoints from the slices', async (t) => {
  const { describeService } = await import('../../src/cli/cmd-describe.js');
  const s = svc(
    'web',
    {
      type: 'LoadBalancer',
      selector: { app: 'web' },
      clusterIP: '10.96.100.7',
      clusterIPs: ['10.96.100.7'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [
        { name: 'http', port: 80, targetPort: 'http', nodePort: 30080, protocol: 'TCP' },
        { port: 9100, targetPort: 9100, nodePort: 30081, protocol: 'TCP' },
      ],
      sessionAffinity: 'None',
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Cluster',
      healthCheckNodePort: 31999,
      allocateLoadBalancerNodePorts: true,
    },
    { loadBalancer: { ingress: [{ ip: '172.18.255.1', ipMode: 'VIP' }] } },
  ) as any;
  s.metadata.labels = { app: 'web', tier: 'front' };
  s.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{}', owner: 'team-a' };
  const slices = [
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-abcde' },
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: '', port: 9100, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.244.1.2'], conditions: { ready: true } },
        { addresses: ['10.244.1.3'], conditions: { ready: false } },
        { addresses: ['10.244.2.2'], conditions: { ready: true } },
      ],
    },
  ] as any[];
  t.is(
    describeService(s, slices),
    [
      'Name:                     web',
      'Namespace:                default',
      'Labels:                   app=web',
      '                          tier=front',
      'Annotations:              owner: team-a',
      'Selector:                 app=web',
      'Type:                     LoadBalancer',
      'IP Family Policy:         SingleStack',
      'IP Families:              IPv4',
      'IP:                       10.96.100.7',
      'IPs:                      10.96.100.7',
      'LoadBalancer Ingress:     172.18.255.1 (VIP)',
      'Port:                     http  80/TCP',
      'TargetPort:               http/TCP',
      'NodePort:                 http  30080/TCP',
      'Endpoints:                10.244.1.2:8080,10.244.2.2:8080',
      'Port:                     <unset>  9100/TCP',
      'TargetPort:               9100/TCP',
      'NodePort:                 <unset>  30081/TCP',
      'Endpoints:                10.244.1.2:9100,10.244.2.2:9100',
      'Session Affinity:         None',
      'External Traffic Policy:  Local',
      'Internal Traffic Policy:  Cluster',
      'HealthCheck NodePort:     31999',
      'Events:                   <none>',
      '',
    ].join('\n'),
  );
  const bare = svc('none', { type: 'ClusterIP', clusterIP: '10.96.0.9', clusterIPs: ['10.96.0.9'], ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }], sessionAffinity: 'None' }) as any;
  t.true(describeService(bare, []).includes('\nEndpoints:         <none>\n'));
  t.true(describeService(bare, []).startsWith('Name:              none\nNamespace:         default\nLabels:            <none>\nAnnotations:       <none>\nSelector:          <none>\n'));
});
