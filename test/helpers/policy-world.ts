// Fixtures for the NetworkPolicy unit tests: real manifests (YAML) split by kind, and the e2e
// netpol model (namespaces x, y, z; pods a, b, c; servers on 80/81 TCP, UDP and SCTP with
// ports named serve-<port>-<proto>, as K8S test/e2e/network/netpol/model.go builds them).
import YAML from 'yaml';
import { ipToInt } from '../../src/dataplane/wire/ipv4.js';
import type { ExplainInput } from '../../src/dataplane/policy/explain.js';

type Obj = Record<string, any>;

export const NODES = [
  { name: 'kemu-control-plane', ip: ipToInt('172.18.0.2') },
  { name: 'kemu-worker', ip: ipToInt('172.18.0.3') },
];

export function docs(yaml: string): Obj[] {
  return YAML.parseAllDocuments(yaml)
    .map((d) => d.toJS())
    .filter((d) => d && typeof d === 'object');
}

export function byKind(objs: Obj[]): ExplainInput {
  return {
    policies: objs.filter((o) => o.kind === 'NetworkPolicy'),
    pods: objs.filter((o) => o.kind === 'Pod'),
    namespaces: objs.filter((o) => o.kind === 'Namespace'),
    services: objs.filter((o) => o.kind === 'Service'),
    slices: objs.filter((o) => o.kind === 'EndpointSlice'),
    nodes: NODES,
  };
}

export function pod(
  ns: string,
  name: string,
  labels: Record<string, string>,
  ip: string | undefined,
  node = 'kemu-worker',
  ports: { name?: string; containerPort: number; protocol?: string }[] = [],
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: ns, name, labels },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'kemu/server', ports }] },
    status: ip ? { phase: 'Running', podIP: ip, podIPs: [{ ip }] } : { phase: 'Pending' },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** The e2e model: 3 namespaces × 3 pods; x pods on the control-plane node, y and z on the worker. */
export const MODEL_NAMESPACES = ['x', 'y', 'z'];
export const MODEL_PODS = ['a', 'b', 'c'];
export const MODEL_PORTS: { port: number; protocol: string }[] = [
  { port: 80, protocol: 'TCP' },
  { port: 81, protocol: 'TCP' },
  { port: 80, protocol: 'UDP' },
  { port: 81, protocol: 'UDP' },
  { port: 80, protocol: 'SCTP' },
];

export function modelIp(ns: string, p: string): string {
  return `10.244.${MODEL_NAMESPACES.indexOf(ns) === 0 ? 0 : 1}.${10 + MODEL_NAMESPACES.indexOf(ns) * 10 + MODEL_PODS.indexOf(p)}`;
}

export function modelObjects(nsLabels: Record<string, Record<string, string>> = {}): Obj[] {
  const out: Obj[] = [];
  for (const ns of MODEL_NAMESPACES) {
    // No kubernetes.io/metadata.name here on purpose: the compiler must add it.
    out.push(namespace(ns, nsLabels[ns] ?? { ns }));
    for (const p of MODEL_PODS) {
      out.push(
        pod(
          ns,
          p,
          { pod: p },
          modelIp(ns, p),
          ns === 'x' ? 'kemu-control-plane' : 'kemu-worker',
          MODEL_PORTS.map((x) => ({ name: `serve-${x.port}-${x.protocol.toLowerCase()}`, containerPort: x.port, protocol: x.protocol })),
        ),
      );
    }
  }
  return out;
}
