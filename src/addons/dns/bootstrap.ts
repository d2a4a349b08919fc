// Cluster DNS as kubeadm installs it: the `coredns` Deployment (2 replicas, k8s-app=kube-dns,
// dnsPolicy Default, tolerating the control-plane taint) and the `kube-dns` Service at the
// tenth address of the service CIDR. Created through the daemon's own API, as kubeadm applies
// its addon manifests, so defaults, validation and the ClusterIP allocator apply to them.
import { Client, ClientError } from '../../cli/client.js';
import type { ClusterConfig } from '../../config.js';
import type { KObject } from '../../store/store.js';

export const COREDNS_IMAGE = 'registry.k8s.io/coredns/coredns:v1.11.3';

/** The n-th address of a CIDR ("10.96.0.0/12", 10 -> "10.96.0.10"). */
export function nthAddress(cidr: string, n: number): string {
  const [base] = cidr.split('/') as [string];
  const v = base.split('.').reduce((a, o) => (a << 8) + Number(o), 0) + n;
  return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join('.');
}

export function clusterDnsObjects(cfg: ClusterConfig, apiSocket: string): { service: KObject; deployment: KObject } {
  const labels = { 'k8s-app': 'kube-dns' };
  const service: KObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'kube-dns',
      namespace: 'kube-system',
      labels: { ...labels, 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' },
      annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' },
    },
    spec: {
      selector: labels,
      clusterIP: nthAddress(cfg.serviceSubnet, 10),
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: 9153 },
      ],
    },
  };
  const deployment: KObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'coredns', namespace: 'kube-system', labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          // CoreDNS forwards to the node's resolvers (`forward . /etc/resolv.conf`).
          dnsPolicy: 'Default',
          tolerations: [
            { key: 'CriticalAddonsOnly', operator: 'Exists' },
            { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
          ],
          containers: [
            {
              name: 'coredns',
              image: COREDNS_IMAGE,
              ports: [
                { name: 'dns', containerPort: 53, protocol: 'UDP' },
                { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
              ],
              // The resolver watches the cluster through the daemon's API, as CoreDNS watches the
              // apiserver. Pods cannot reach the machine's own resolvers (kemu routes nothing
              // outside the emulated network), so by default names outside the cluster are
              // REFUSED at once instead of timing out; set KEMU_DNS_UPSTREAM to "ip[:port]" of a
              // DNS server inside the cluster to forward them there (docs/dns.md).
              env: [
                { name: 'KEMU_API_SOCKET', value: apiSocket },
                { name: 'KEMU_DNS_ZONE', value: cfg.clusterDomain },
                { name: 'KEMU_DNS_UPSTREAM', value: 'none' },
              ],
              readinessProbe: { httpGet: { path: '/ready', port: 8181, scheme: 'HTTP' }, periodSeconds: 2 },
            },
          ],
        },
      },
    },
  };
  return { service, deployment };
}

/** Create what is missing; an existing object (a restart, or a user's own) is left alone. */
export async function installClusterDns(cfg: ClusterConfig, apiSocket: string, cluster: string): Promise<void> {
  const api = new Client(cluster);
  const { service, deployment } = clusterDnsObjects(cfg, apiSocket);
  for (const [path, obj] of [
    ['/api/v1/namespaces/kube-system/services', service],
    ['/apis/apps/v1/namespaces/kube-system/deployments', deployment],
  ] as const) {
    try {
      await api.request('POST', path, obj);
    } catch (err) {
      if (err instanceof ClientError && err.code === 409) continue;
      console.error(`cluster DNS: creating ${obj.kind} kube-system/${obj.metadata.name}: ${(err as Error).message}`);
    }
  }
}
