// The patch strategies of the Kubernetes Go types (the `patchStrategy`/`patchMergeKey` struct
// tags) for the kinds kemu serves, keyed by field path without list indices. kubectl builds
// its strategic merge patches from the same tags, so the server must merge lists the same way:
// a list with a merge key merges element by element, a primitive list marked `merge` is a set,
// every other list is replaced whole (NetworkPolicy rules, Ingress rules, tolerations…).

export interface ListStrategy {
  /** Field of each element that identifies it ("name", "containerPort"). */
  mergeKey?: string;
  /** A primitive list merged as a set (metadata.finalizers). */
  primitiveMerge?: boolean;
}

/** Within a Container. */
const CONTAINER: Record<string, ListStrategy> = {
  ports: { mergeKey: 'containerPort' },
  env: { mergeKey: 'name' },
  volumeMounts: { mergeKey: 'mountPath' },
  volumeDevices: { mergeKey: 'devicePath' },
  resizePolicy: { mergeKey: 'resourceName' },
};

/** Within a PodSpec. */
const POD_SPEC: Record<string, ListStrategy> = {
  containers: { mergeKey: 'name' },
  initContainers: { mergeKey: 'name' },
  ephemeralContainers: { mergeKey: 'name' },
  volumes: { mergeKey: 'name' },
  imagePullSecrets: { mergeKey: 'name' },
  schedulingGates: { mergeKey: 'name' },
  resourceClaims: { mergeKey: 'name' },
  hostAliases: { mergeKey: 'ip' },
  topologySpreadConstraints: { mergeKey: 'topologyKey' },
};

const META: Record<string, ListStrategy> = {
  ownerReferences: { mergeKey: 'uid' },
  finalizers: { primitiveMerge: true },
};

function withPrefix(prefix: string, table: Record<string, ListStrategy>, into: Map<string, ListStrategy>): void {
  for (const [k, v] of Object.entries(table)) into.set(prefix ? `${prefix}.${k}` : k, v);
}

function podSpecAt(prefix: string, into: Map<string, ListStrategy>): void {
  withPrefix(prefix, POD_SPEC, into);
  for (const c of ['containers', 'initContainers', 'ephemeralContainers']) withPrefix(`${prefix}.${c}`, CONTAINER, into);
}

const BY_KIND = new Map<string, Map<string, ListStrategy>>();

function table(kind: string): Map<string, ListStrategy> {
  let m = BY_KIND.get(kind);
  if (m) return m;
  m = new Map();
  withPrefix('metadata', META, m);
  switch (kind) {
    case 'Pod':
      podSpecAt('spec', m);
      m.set('status.conditions', { mergeKey: 'type' });
      m.set('status.containerStatuses', {});
      break;
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'Job':
      podSpecAt('spec.template.spec', m);
      withPrefix('spec.template.metadata', META, m);
      m.set('status.conditions', { mergeKey: 'type' });
      break;
    case 'Service':
      m.set('spec.ports', { mergeKey: 'port' });
      m.set('status.conditions', { mergeKey: 'type' });
      break;
    case 'Node':
      m.set('status.conditions', { mergeKey: 'type' });
      m.set('status.addresses', { mergeKey: 'type' });
      break;
  }
  BY_KIND.set(kind, m);
  return m;
}

/** How the list at `path` ("spec.template.spec.containers") of a kind merges; undefined = atomic. */
export function listStrategy(kind: string, path: readonly string[]): ListStrategy | undefined {
  const s = table(kind).get(path.join('.'));
  return s && (s.mergeKey || s.primitiveMerge) ? s : undefined;
}
