// The resources kemu serves, as discovery lists them. Adding a kind starts here.
export interface ResourceInfo {
  group: string;
  version: string;
  /** "v1" or "apps/v1". */
  groupVersion: string;
  kind: string;
  /** Plural, lowercase: the path segment. */
  resource: string;
  namespaced: boolean;
  shortNames: string[];
}

const R = (group: string, version: string, kind: string, resource: string, namespaced: boolean, shortNames: string[] = []): ResourceInfo => ({
  group,
  version,
  groupVersion: group ? `${group}/${version}` : version,
  kind,
  resource,
  namespaced,
  shortNames,
});

const RESOURCES: ResourceInfo[] = [
  R('', 'v1', 'Namespace', 'namespaces', false, ['ns']),
  R('', 'v1', 'Node', 'nodes', false, ['no']),
  R('', 'v1', 'Pod', 'pods', true, ['po']),
  R('apps', 'v1', 'Deployment', 'deployments', true, ['deploy']),
  R('apps', 'v1', 'ReplicaSet', 'replicasets', true, ['rs']),
  R('apps', 'v1', 'StatefulSet', 'statefulsets', true, ['sts']),
];

export function allResources(): ResourceInfo[] {
  return RESOURCES;
}

export function resourceByPath(group: string, version: string, resource: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

/** By apiVersion + kind, as in a manifest. */
export function kindInfo(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.groupVersion === apiVersion && r.kind === kind);
}

/** By what a user types: plural, singular, short name, kind, or resource.group. */
export function resourceInfo(name: string): ResourceInfo | undefined {
  const n = name.toLowerCase();
  return RESOURCES.find(
    (r) =>
      r.resource === n ||
      r.kind.toLowerCase() === n ||
      r.shortNames.includes(n) ||
      (r.group && (`${r.resource}.${r.group}` === n || `${r.kind.toLowerCase()}.${r.group}` === n)),
  );
}

export function groupOfResource(resource: string): string {
  return RESOURCES.find((r) => r.resource === resource)?.group ?? '';
}
