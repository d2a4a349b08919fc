// The ingress controller as ingress-nginx's "cloud" deploy.yaml installs it, created at daemon
// start through the daemon's own API (defaults, validation and allocators apply): namespace
// `ingress-nginx`, IngressClass `nginx` (controller k8s.io/ingress-nginx) marked as the default
// class, the `ingress-nginx-controller` LoadBalancer Service on 80/443 (NodePorts allocated,
// externalTrafficPolicy Local so backends see the client address in X-Forwarded-For) and the
// Deployment whose pod runs kemu's reverse proxy (src/runtime/images.ts maps the image).
import { Client, ClientError } from '../../cli/client.js';
import type { KObject } from '../../store/store.js';

export const INGRESS_NAMESPACE = 'ingress-nginx';
export const INGRESS_CONTROLLER_IMAGE = 'registry.k8s.io/ingress-nginx/controller:v1.9.0';
export const INGRESS_CLASS = 'nginx';
export const INGRESS_CONTROLLER_CLASS = 'k8s.io/ingress-nginx';
export const INGRESS_SERVICE = 'ingress-nginx-controller';

export function ingressControllerObjects(apiSocket: string): Array<{ path: string; object: KObject }> {
  const labels = { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/instance': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' };
  const ns = INGRESS_NAMESPACE;
  return [
    {
      path: '/api/v1/namespaces',
      object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/instance': 'ingress-nginx' } } },
    },
    {
      path: '/apis/networking.k8s.io/v1/ingressclasses',
      object: {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'IngressClass',
        metadata: { name: INGRESS_CLASS, labels, annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
        spec: { controller: INGRESS_CONTROLLER_CLASS },
      },
    },
    {
      path: `/api/v1/namespaces/${ns}/services`,
      object: {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: INGRESS_SERVICE, namespace: ns, labels },
        spec: {
          type: 'LoadBalancer',
          externalTrafficPolicy: 'Local',
          selector: labels,
          ports: [
            { name: 'http', port: 80, protocol: 'TCP', targetPort: 'http', appProtocol: 'http' },
            { name: 'https', port: 443, protocol: 'TCP', targetPort: 'https', appProtocol: 'https' },
          ],
        },
      },
    },
    {
      path: `/apis/apps/v1/namespaces/${ns}/deployments`,
      object: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: INGRESS_SERVICE, namespace: ns, labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [
                {
                  name: 'controller',
                  image: INGRESS_CONTROLLER_IMAGE,
                  ports: [
                    { name: 'http', containerPort: 80, protocol: 'TCP' },
                    { name: 'https', containerPort: 443, protocol: 'TCP' },
                    { name: 'metrics', containerPort: 10254, protocol: 'TCP' },
                  ],
                  env: [
                    { name: 'KEMU_API_SOCKET', value: apiSocket },
                    { name: 'KEMU_INGRESS_CLASS', value: INGRESS_CLASS },
                    { name: 'KEMU_INGRESS_CONTROLLER', value: INGRESS_CONTROLLER_CLASS },
                    { name: 'KEMU_PUBLISH_SERVICE', value: `${ns}/${INGRESS_SERVICE}` },
                  ],
                  readinessProbe: { httpGet: { path: '/healthz', port: 10254, scheme: 'HTTP' }, periodSeconds: 2 },
                },
              ],
            },
          },
        },
      },
    },
  ];
}

/** Create what is missing; an existing object (a restart, or a user's own) is left alone. */
export async function installIngressController(apiSocket: string, cluster: string): Promise<void> {
  const api = new Client(cluster);
  for (const { path, object } of ingressControllerObjects(apiSocket)) {
    try {
      await api.request('POST', path, object);
    } catch (err) {
      if (err instanceof ClientError && err.code === 409) continue;
      console.error(`ingress controller: creating ${object.kind} ${object.metadata.name}: ${(err as Error).message}`);
    }
  }
}
