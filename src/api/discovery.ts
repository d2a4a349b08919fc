// What clients learn before they touch an object: /version, discovery (aggregated v2 for
// kubectl 1.30+, legacy APIVersions/APIGroupList/APIResourceList for older clients and other
// libraries) and an /openapi/v3 stub that lets kubectl's default --validate=strict pass (it
// then leaves field validation to the server: fieldValidation=Strict). The exact shapes and
// content types are in ../shared/reference/kubectl-api-surface.md §0–2.
import { createHash } from 'node:crypto';
import { allResources, type ResourceInfo } from './resources.js';

/**
 * minor "32" makes Google's kubectl-dispatcher run its built-in 1.32 (any other known minor
 * would exec an older or newer kubectl binary).
 */
export function version() {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0+kemu',
    gitCommit: 'kemu',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.23.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Only clients that ask for v2 get it; kubectl ≤1.29 asks for v2beta1 only and fails on v2. */
export function wantsAggregated(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((a) => /g=apidiscovery\.k8s\.io/.test(a) && /;\s*v=v2\s*(;|$)/.test(a) && /as=APIGroupDiscoveryList/.test(a));
}

const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const ALL_CATEGORY = new Set(['pods', 'services', 'deployments', 'statefulsets', 'replicasets']);

interface Sub {
  name: string;
  group: string;
  version: string;
  kind: string;
  verbs: string[];
}

function subresources(r: ResourceInfo): Sub[] {
  const out: Sub[] = [];
  const self = { group: r.group, version: r.version, kind: r.kind };
  if (['pods', 'services', 'deployments', 'statefulsets', 'replicasets', 'namespaces', 'nodes', 'ingresses', 'networkpolicies'].includes(r.resource)) {
    out.push({ name: 'status', ...self, verbs: ['get', 'patch', 'update'] });
  }
  if (r.resource === 'pods') out.push({ name: 'log', group: '', version: 'v1', kind: 'Pod', verbs: ['get'] });
  if (['deployments', 'statefulsets', 'replicasets'].includes(r.resource)) {
    out.push({ name: 'scale', group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
  }
  return out;
}

function aggregatedResource(r: ResourceInfo) {
  const subs = subresources(r);
  return {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: VERBS,
    ...(r.shortNames.length ? { shortNames: [...r.shortNames] } : {}),
    ...(ALL_CATEGORY.has(r.resource) ? { categories: ['all'] } : {}),
    ...(subs.length
      ? { subresources: subs.map((s) => ({ subresource: s.name, responseKind: { group: s.group, version: s.version, kind: s.kind }, verbs: s.verbs })) }
      : {}),
  };
}

/** Groups in a stable order: each group's versions with their resources. */
function groups(core: boolean): Map<string, Map<string, ResourceInfo[]>> {
  const out = new Map<string, Map<string, ResourceInfo[]>>();
  for (const r of allResources()) {
    if ((r.group === '') !== core) continue;
    let g = out.get(r.group);
    if (!g) out.set(r.group, (g = new Map()));
    let v = g.get(r.version);
    if (!v) g.set(r.version, (v = []));
    v.push(r);
  }
  return out;
}

/** GET /api or /apis with the v2 Accept. */
export function aggregatedDiscovery(core: boolean) {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: [...groups(core)].map(([name, versions]) => ({
      metadata: { name },
      versions: [...versions].map(([version, rs]) => ({ version, resources: rs.map(aggregatedResource), freshness: 'Current' })),
    })),
  };
}

export function legacyCore(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function legacyGroups() {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups(false)].map(([name, versions]) => {
      const vs = [...versions.keys()].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
      return { name, versions: vs, preferredVersion: vs[0] };
    }),
  };
}

/** GET /api/v1 or /apis/GROUP/VERSION; undefined when kemu serves no such group version. */
export function resourceList(group: string, version: string) {
  const rs = allResources().filter((r) => r.group === group && r.version === version);
  if (!rs.length) return undefined;
  const resources: unknown[] = [];
  for (const r of rs) {
    resources.push({
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
      ...(r.shortNames.length ? { shortNames: [...r.shortNames] } : {}),
      ...(ALL_CATEGORY.has(r.resource) ? { categories: ['all'] } : {}),
    });
    for (const s of subresources(r)) {
      resources.push({
        name: `${r.resource}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        ...(s.group !== r.group || s.version !== r.version ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function gvPath(r: ResourceInfo): string {
  return r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`;
}

function gvDoc(gv: string) {
  const paths: Record<string, unknown> = {};
  for (const r of allResources()) {
    if (gvPath(r) !== gv) continue;
    const ns = r.namespaced ? 'namespaces/{namespace}/' : '';
    paths[`/${gv}/${ns}${r.resource}/{name}`] = {
      patch: {
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (kemu)', version: 'v1.32.0' }, paths };
}

function hash(v: unknown): string {
  return createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 32).toUpperCase();
}

/** GET /openapi/v3 and /openapi/v3/<gv>: undefined for paths kemu does not serve. */
export function openapiV3(subpath: string): unknown {
  const gvs = [...new Set(allResources().map(gvPath))];
  if (subpath === '') {
    const paths: Record<string, unknown> = {};
    for (const gv of gvs) paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash(gvDoc(gv))}` };
    return { paths };
  }
  return gvs.includes(subpath) ? gvDoc(subpath) : undefined;
}
