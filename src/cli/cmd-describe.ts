// kemu describe svc: kubectl describe's layout for a Service (staging/src/k8s.io/kubectl/pkg/
// describe/describe.go describeService), its endpoints read from the Service's EndpointSlices.
import { resourceInfo } from '../api/resources.js';
import type { KObject } from '../store/store.js';
import { Client, ClientError } from './client.js';
import { collectionPath, objectPath } from './paths.js';
import { formatLabels } from './printers.js';
import { tabwrite } from './tabwriter.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const MAX_ANNOTATION_LEN = 140;

function labelsMultiline(title: string, labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (!keys.length) return `${title}:\t<none>\n`;
  return keys.map((k, i) => `${i === 0 ? `${title}:` : ''}\t${k}=${labels![k]}\n`).join('');
}

function annotationsMultiline(title: string, annotations: Record<string, string> | undefined): string {
  const keys = Object.keys(annotations ?? {})
    .filter((k) => k !== LAST_APPLIED)
    .sort();
  if (!keys.length) return `${title}:\t<none>\n`;
  let s = `${title}:\t`;
  keys.forEach((k, i) => {
    if (i) s += '\t';
    const v = annotations![k]!.replace(/\n$/, '');
    if (v.length + k.length + 2 > MAX_ANNOTATION_LEN || v.includes('\n')) {
      s += `${k}:\n`;
      for (const line of v.split('\n')) s += `\t  ${line.length > MAX_ANNOTATION_LEN - 2 ? `${line.slice(0, MAX_ANNOTATION_LEN - 5)}...` : line}\n`;
    } else s += `${k}: ${v}\n`;
  });
  return s;
}

/** formatEndpointSlices: ready endpoints of the slices' ports with this name, "+ N more...". */
export function formatEndpointSlices(slices: KObject[], portName: string | undefined): string {
  if (!slices.length) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  for (const s of slices) {
    const eps: any[] = (s as any).endpoints ?? [];
    const ports: any[] = (s as any).ports ?? [];
    const ready = (ep: any) => ep.conditions?.ready == null || ep.conditions.ready;
    if (!ports.length) {
      for (const ep of eps) {
        if (list.length === max) more = true;
        if (!ready(ep)) continue;
        if (!more) list.push(ep.addresses[0]);
        count++;
      }
      continue;
    }
    for (const port of ports) {
      if (portName !== undefined && (port.name ?? '') !== portName) continue;
      for (const ep of eps) {
        if (list.length === max) more = true;
        if (!ready(ep)) continue;
        if (!more) list.push(`${ep.addresses[0]}:${port.port}`);
        count++;
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

/** describeService, as text before tab alignment. */
export function describeServiceText(svc: KObject, slices: KObject[]): string {
  const spec = svc.spec ?? {};
  let s = '';
  s += `Name:\t${svc.metadata.name}\n`;
  s += `Namespace:\t${svc.metadata.namespace}\n`;
  s += labelsMultiline('Labels', svc.metadata.labels);
  s += annotationsMultiline('Annotations', svc.metadata.annotations);
  s += `Selector:\t${formatLabels(spec.selector)}\n`;
  s += `Type:\t${spec.type ?? ''}\n`;
  if (spec.ipFamilyPolicy != null) s += `IP Family Policy:\t${spec.ipFamilyPolicy}\n`;
  s += `IP Families:\t${(spec.ipFamilies ?? []).length ? spec.ipFamilies.join(',') : '<none>'}\n`;
  s += `IP:\t${spec.clusterIP ?? ''}\n`;
  s += `IPs:\t${(spec.clusterIPs ?? []).length ? spec.clusterIPs.join(',') : '<none>'}\n`;
  if ((spec.externalIPs ?? []).length) s += `External IPs:\t${spec.externalIPs.join(',')}\n`;
  if (spec.loadBalancerIP) s += `Desired LoadBalancer IP:\t${spec.loadBalancerIP}\n`;
  if (spec.externalName) s += `External Name:\t${spec.externalName}\n`;
  const ingress: any[] = svc.status?.loadBalancer?.ingress ?? [];
  if (ingress.length) {
    s += `LoadBalancer Ingress:\t${ingress.map((i) => (i.ip ? `${i.ip}${i.ipMode ? ` (${i.ipMode})` : ''}` : (i.hostname ?? ''))).join(', ')}\n`;
  }
  for (const p of spec.ports ?? []) {
    const name = p.name || '<unset>';
    s += `Port:\t${name}\t${p.port}/${p.protocol}\n`;
    s += `TargetPort:\t${p.targetPort}/${p.protocol}\n`;
    if (p.nodePort) s += `NodePort:\t${name}\t${p.nodePort}/${p.protocol}\n`;
    s += `Endpoints:\t${formatEndpointSlices(slices, p.name ?? '')}\n`;
  }
  s += `Session Affinity:\t${spec.sessionAffinity ?? ''}\n`;
  if (spec.externalTrafficPolicy) s += `External Traffic Policy:\t${spec.externalTrafficPolicy}\n`;
  if (spec.internalTrafficPolicy != null) s += `Internal Traffic Policy:\t${spec.internalTrafficPolicy}\n`;
  if (spec.healthCheckNodePort) s += `HealthCheck NodePort:\t${spec.healthCheckNodePort}\n`;
  if ((spec.loadBalancerSourceRanges ?? []).length) s += `LoadBalancer Source Ranges:\t${spec.loadBalancerSourceRanges.join(',')}\n`;
  if (spec.trafficDistribution) s += `Traffic Distribution:\t${spec.trafficDistribution}\n`;
  // kemu keeps no Events yet; kubectl prints this line for an empty list.
  s += `Events:\t<none>\n`;
  return s;
}

export function describeService(svc: KObject, slices: KObject[]): string {
  return tabwrite(describeServiceText(svc, slices));
}

export async function cmdDescribe(cluster: string, kind: string, names: string[], o: { namespace?: string }): Promise<number> {
  const info = resourceInfo(kind);
  if (!info) {
    console.error(`error: the server doesn't have a resource type "${kind}"`);
    return 1;
  }
  if (info.resource !== 'services') throw new Error(`kemu describe supports services (svc) so far, not "${kind}"`);
  const client = new Client(cluster);
  const ns = o.namespace ?? 'default';
  let svcs: KObject[];
  let failed = 0;
  if (names.length) {
    svcs = [];
    for (const n of names) {
      try {
        svcs.push(await client.get(objectPath(info, ns, n)));
      } catch (err) {
        if (!(err instanceof ClientError) || err.code !== 404) throw err;
        console.error(`Error from server (NotFound): ${err.message}`);
        failed++;
      }
    }
  } else {
    svcs = (await client.get(collectionPath(info, ns))).items;
    if (!svcs.length) {
      console.error(`No resources found in ${ns} namespace.`);
      return 0;
    }
  }
  const sliceInfo = resourceInfo('endpointslices')!;
  const out: string[] = [];
  for (const svc of svcs) {
    const q = new URLSearchParams({ labelSelector: `kubernetes.io/service-name=${svc.metadata.name}` });
    const slices: KObject[] = (await client.get(`${collectionPath(sliceInfo, ns)}?${q}`)).items;
    out.push(describeService(svc, slices));
  }
  // kubectl separates described objects with two blank lines.
  if (out.length) process.stdout.write(out.join('\n\n'));
  return failed ? 1 : 0;
}
