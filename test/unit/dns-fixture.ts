// A small cluster for the resolver tests, in the API's own shapes (Service, EndpointSlice), plus
// helpers that send real wire bytes through the handler and decode what comes back.
import dnsPacket from 'dns-packet';
import { AnswerTable } from '../../src/addons/dns/compile.js';
import { Handler } from '../../src/addons/dns/handler.js';
import { DEFAULT_OPTIONS, type ResolveOptions } from '../../src/addons/dns/resolve.js';
import type { Forwarder } from '../../src/addons/dns/upstream.js';
import { buildView } from '../../src/addons/dns/view.js';
import type { KObject } from '../../src/store/store.js';

const ns = (name: string): KObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });

function svc(namespace: string, name: string, spec: any): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

function slice(namespace: string, service: string, endpoints: any[], ports: any[] = [{ name: 'http', port: 80, protocol: 'TCP' }], suffix = 'abcde'): KObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-${suffix}`, namespace, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints,
    ports,
  } as KObject;
}

const ep = (ip: string, ready = true, hostname?: string) => ({ addresses: [ip], conditions: { ready }, ...(hostname ? { hostname } : {}) });

export const OBJECTS = {
  namespaces: ['default', 'kube-system', 'testns', 'production'].map(ns),
  services: [
    svc('kube-system', 'kube-dns', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
        { name: 'metrics', port: 9153, protocol: 'TCP' },
      ],
    }),
    svc('testns', 'svc1', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.100',
      clusterIPs: ['10.96.0.100'],
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'https', port: 443, protocol: 'TCP' },
      ],
    }),
    svc('testns', 'dual', { type: 'ClusterIP', clusterIP: '10.96.0.101', clusterIPs: ['10.96.0.101', 'fd00:10:96::101'], ports: [{ port: 80, protocol: 'TCP' }] }),
    svc('testns', 'hdls1', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
    svc('testns', 'empty', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
    svc('testns', 'big', { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
    svc('testns', 'ext', { type: 'ExternalName', externalName: 'ext.interwebs.test' }),
    svc('testns', 'ext-in', { type: 'ExternalName', externalName: 'svc1.testns.svc.cluster.local' }),
    svc('production', 'backend-service', { type: 'ClusterIP', clusterIP: '10.96.100.1', clusterIPs: ['10.96.100.1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
  ],
  endpointSlices: [
    slice('kube-system', 'kube-dns', [ep('10.244.0.2'), ep('10.244.0.3')], [{ name: 'dns', port: 53, protocol: 'UDP' }]),
    slice('testns', 'svc1', [ep('10.244.1.10')]),
    slice('testns', 'hdls1', [ep('172.0.0.2'), ep('172.0.0.3', true, 'db-0'), ep('172.0.0.4', false)]),
    slice('testns', 'empty', [ep('172.0.0.9', false)]),
    slice('testns', 'big', Array.from({ length: 40 }, (_, i) => ep(`10.244.3.${i + 2}`))),
    slice('production', 'backend-service', [ep('10.244.1.5'), ep('10.244.2.6'), ep('10.244.1.9', false)]),
  ],
};

export function view(synced = true) {
  return buildView(OBJECTS, 'cluster.local', 1700000000, synced);
}

export function handler(o: Partial<ResolveOptions> = {}, forwarder?: Forwarder, synced = true): Handler {
  return new Handler(new AnswerTable(view(synced), { ...DEFAULT_OPTIONS, ...o }), forwarder);
}

export function query(name: string, type: string, opts: { id?: number; edns?: number; tcp?: boolean } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as 'A' }],
    additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns, flags: 0, options: [] } as any] : [],
  });
}

/** Send real bytes through the handler; decode the answer bytes with dns-packet. */
export async function ask(h: Handler, name: string, type: string, opts: { edns?: number; tcp?: boolean } = {}): Promise<any> {
  const out = await h.handle(query(name, type, opts), Boolean(opts.tcp));
  if (!out.bytes) throw new Error('no answer');
  return Object.assign(dnsPacket.decode(out.bytes), { raw: out.bytes });
}

/** "name type data" lines of a section, sorted (loadbalance shuffles). */
export function rr(section: any[] | undefined): string[] {
  return (section ?? [])
    .filter((r) => r.type !== 'OPT')
    .map((r) => `${r.name} ${r.ttl} ${r.type} ${typeof r.data === 'object' && !Buffer.isBuffer(r.data) && !Array.isArray(r.data) ? Object.values(r.data).join(' ') : Array.isArray(r.data) ? r.data.map(String).join('') : String(r.data)}`)
    .sort();
}
