// The `default/kubernetes` Service, as the apiserver keeps it: ClusterIP the first address of
// the service range, port `https` 443 -> 6443, and Endpoints and an EndpointSlice (both named
// `kubernetes`) pointing at the control-plane node's address on 6443. Recreated if deleted,
// put back if edited, like the apiserver's bootstrap controller and endpoint reconciler do.
import { ClusterIPRange } from '../api/allocators.js';
import { orderFields } from '../api/schema.js';
import { applyDefaults } from '../api/validation.js';
import type { KObject, Store, WatchEvent } from '../store/store.js';
import { Reconciler } from './reconciler.js';
import { SERVICE_NAME_LABEL } from './service-endpoints.js';

const NS = 'default';
const NAME = 'kubernetes';
const KEY = `${NS}/${NAME}`;
const PORT = 6443;

export class KubernetesServiceController extends Reconciler {
  private readonly clusterIP: string;

  constructor(store: Store, serviceSubnet: string) {
    super(store);
    this.clusterIP = new ClusterIPRange(serviceSubnet).nth(0);
  }

  /** The Service is there before anything else starts, so pods see KUBERNETES_* variables. */
  override start(): void {
    this.reconcile();
    super.start();
  }

  protected initialKeys(): string[] {
    return [KEY];
  }

  protected keysFor(ev: WatchEvent): string[] {
    const o = ev.object;
    if (ev.resource === 'nodes') return [KEY];
    if (['services', 'endpoints', 'endpointslices'].includes(ev.resource) && o.metadata.namespace === NS && o.metadata.name === NAME) return [KEY];
    return [];
  }

  private controlPlaneIP(): string | undefined {
    for (const n of this.store.peek('nodes')) {
      if (!Object.prototype.hasOwnProperty.call(n.metadata.labels ?? {}, 'node-role.kubernetes.io/control-plane')) continue;
      return (n.status?.addresses ?? []).find((a: any) => a.type === 'InternalIP')?.address;
    }
    return undefined;
  }

  protected reconcile(): void {
    this.ensureService();
    const ip = this.controlPlaneIP();
    if (!ip) return;
    this.ensure('endpoints', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: NAME, namespace: NS, labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets: [{ addresses: [{ ip }], ports: [{ name: 'https', port: PORT, protocol: 'TCP' }] }],
    });
    this.ensure('endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: NAME, namespace: NS, labels: { [SERVICE_NAME_LABEL]: NAME } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [ip], conditions: { ready: true } }],
      ports: [{ name: 'https', port: PORT, protocol: 'TCP' }],
    });
  }

  private ensureService(): void {
    const desired = orderFields(applyDefaults({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: NAME, namespace: NS, labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: {
        type: 'ClusterIP',
        clusterIP: this.clusterIP,
        clusterIPs: [this.clusterIP],
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
        ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: PORT }],
        sessionAffinity: 'None',
      },
    })) as KObject;
    const cur = this.store.get('services', NS, NAME);
    if (!cur) {
      this.store.create('services', desired);
      return;
    }
    // Only what the apiserver itself enforces: the ports (and the ClusterIP, immutable anyway).
    if (JSON.stringify(cur.spec?.ports) === JSON.stringify(desired.spec.ports) && cur.spec?.clusterIP === this.clusterIP) return;
    this.store.mutate('services', NS, NAME, (o) => {
      o.spec = { ...o.spec, ports: desired.spec.ports, clusterIP: this.clusterIP, clusterIPs: [this.clusterIP] };
    });
  }

  private ensure(resource: string, desired: KObject): void {
    const cur = this.store.get(resource, NS, NAME);
    if (!cur) {
      this.store.create(resource, desired);
      return;
    }
    const strip = (o: KObject) => {
      const { metadata, ...rest } = o;
      return JSON.stringify([rest, metadata.labels ?? {}]);
    };
    const merged = { ...cur, ...desired, metadata: { ...cur.metadata, labels: desired.metadata.labels } } as KObject;
    if (strip(merged) === strip(cur)) return;
    this.store.update(resource, merged);
  }
}
