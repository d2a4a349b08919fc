// The kinds kemu serves and the shape of their fields.
//
// Every kind is one entry in KINDS: its REST identity (group, version, resource, short names,
// scope), the rule its metadata.name follows, and a compact field schema of the JSON the
// apiserver would decode. The schema drives three things the way the apiserver's decoder does:
//   - typeError():    the first JSON type mismatch, worded like Go's encoding/json
//                     ("json: cannot unmarshal string into Go struct field ContainerPort.spec.
//                     containers.ports.containerPort of type int32");
//   - strictDecode(): paths of unknown fields ("spec.containers[0].imagee"), as the
//                     apiserver's strict decoding reports them;
//   - ignoredFields(): paths of fields kemu accepts but does not act on (warnings).
// Adding a kind (Service, EndpointSlice, NetworkPolicy…) is adding an entry here (and, for
// kind-specific defaults and validation, a hook in validation.ts).

export interface ResourceInfo {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  /** "v1" or "apps/v1": the apiVersion objects of this kind carry. */
  readonly groupVersion: string;
  readonly kind: string;
  /** Plural, lower case: the REST path segment ("pods", "deployments"). */
  readonly resource: string;
  /** Lower-case singular ("pod"). */
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Field types

export type FieldType =
  | { readonly t: 'string' | 'int32' | 'int64' | 'float64' | 'bool' | 'intOrString' | 'quantity' | 'time' | 'any'; readonly ignored?: boolean }
  /** A Go struct: known fields only (unknown ones are strict-decoding errors). */
  | { readonly t: 'struct'; readonly go: string; readonly fields: Readonly<Record<string, FieldType>>; readonly ignored?: boolean }
  /** A Go struct kemu does not look into: any fields accepted, but it must be a JSON object. */
  | { readonly t: 'opaque'; readonly go: string; readonly ignored?: boolean }
  | { readonly t: 'array'; readonly of: FieldType; readonly ignored?: boolean }
  | { readonly t: 'map'; readonly of: FieldType; readonly ignored?: boolean };

export type StructType = Extract<FieldType, { t: 'struct' }>;

const STR: FieldType = { t: 'string' };
const I32: FieldType = { t: 'int32' };
const I64: FieldType = { t: 'int64' };
const BOOL: FieldType = { t: 'bool' };
const IOS: FieldType = { t: 'intOrString' };
const QTY: FieldType = { t: 'quantity' };
const TIME: FieldType = { t: 'time' };
const ANY: FieldType = { t: 'any' };

/** Schema constructors, exported so later kinds can be described in the same terms. */
export const T = {
  string: STR,
  int32: I32,
  int64: I64,
  bool: BOOL,
  intOrString: IOS,
  quantity: QTY,
  time: TIME,
  any: ANY,
  float64: { t: 'float64' } as FieldType,
  struct: (go: string, fields: Record<string, FieldType>): StructType => ({ t: 'struct', go, fields }),
  opaque: (go: string): FieldType => ({ t: 'opaque', go }),
  array: (of: FieldType): FieldType => ({ t: 'array', of }),
  map: (of: FieldType): FieldType => ({ t: 'map', of }),
  /** Accepted, but kemu does not act on it: reported by ignoredFields(). */
  ignored: (f: FieldType): FieldType => ({ ...f, ignored: true }) as FieldType,
};
const { struct, opaque, array, map, ignored } = T;
const STRS = array(STR);
const STRMAP = map(STR);

/** The Go type name as encoding/json prints it ("int32", "[]v1.Container", "map[string]string"). */
export function goTypeName(f: FieldType): string {
  switch (f.t) {
    case 'string':
    case 'int32':
    case 'int64':
    case 'float64':
    case 'bool':
      return f.t;
    case 'intOrString':
      return 'intstr.IntOrString';
    case 'quantity':
      return 'resource.Quantity';
    case 'time':
      return 'v1.Time';
    case 'any':
      return 'interface {}';
    case 'struct':
    case 'opaque':
      return f.go;
    case 'array':
      return `[]${goTypeName(f.of)}`;
    case 'map':
      return `map[string]${goTypeName(f.of)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces: ObjectMeta, LabelSelector, PodSpec

const ObjectMeta = struct('v1.ObjectMeta', {
  name: STR,
  generateName: STR,
  namespace: STR,
  selfLink: STR,
  uid: STR,
  resourceVersion: STR,
  generation: I64,
  creationTimestamp: TIME,
  deletionTimestamp: TIME,
  deletionGracePeriodSeconds: I64,
  labels: STRMAP,
  annotations: STRMAP,
  ownerReferences: array(
    struct('v1.OwnerReference', { apiVersion: STR, kind: STR, name: STR, uid: STR, controller: BOOL, blockOwnerDeletion: BOOL }),
  ),
  finalizers: STRS,
  managedFields: array(opaque('v1.ManagedFieldsEntry')),
});

export const LabelSelector = struct('v1.LabelSelector', {
  matchLabels: STRMAP,
  matchExpressions: array(struct('v1.LabelSelectorRequirement', { key: STR, operator: STR, values: STRS })),
});

const EnvVarSource = struct('v1.EnvVarSource', {
  fieldRef: struct('v1.ObjectFieldSelector', { apiVersion: STR, fieldPath: STR }),
  resourceFieldRef: struct('v1.ResourceFieldSelector', { containerName: STR, resource: STR, divisor: QTY }),
  configMapKeyRef: struct('v1.ConfigMapKeySelector', { name: STR, key: STR, optional: BOOL }),
  secretKeyRef: struct('v1.SecretKeySelector', { name: STR, key: STR, optional: BOOL }),
});

const Probe = struct('v1.Probe', {
  exec: struct('v1.ExecAction', { command: STRS }),
  httpGet: struct('v1.HTTPGetAction', {
    path: STR,
    port: IOS,
    host: STR,
    scheme: STR,
    httpHeaders: array(struct('v1.HTTPHeader', { name: STR, value: STR })),
  }),
  tcpSocket: struct('v1.TCPSocketAction', { port: IOS, host: STR }),
  grpc: ignored(struct('v1.GRPCAction', { port: I32, service: STR })),
  initialDelaySeconds: I32,
  timeoutSeconds: I32,
  periodSeconds: I32,
  successThreshold: I32,
  failureThreshold: I32,
  terminationGracePeriodSeconds: I64,
});

const Container = struct('v1.Container', {
  name: STR,
  image: STR,
  command: STRS,
  args: STRS,
  workingDir: STR,
  ports: array(struct('v1.ContainerPort', { name: STR, hostPort: I32, containerPort: I32, protocol: STR, hostIP: STR })),
  envFrom: ignored(
    array(
      struct('v1.EnvFromSource', {
        prefix: STR,
        configMapRef: struct('v1.ConfigMapEnvSource', { name: STR, optional: BOOL }),
        secretRef: struct('v1.SecretEnvSource', { name: STR, optional: BOOL }),
      }),
    ),
  ),
  env: array(struct('v1.EnvVar', { name: STR, value: STR, valueFrom: EnvVarSource })),
  resources: ignored(
    struct('v1.ResourceRequirements', { limits: map(QTY), requests: map(QTY), claims: array(opaque('v1.ResourceClaim')) }),
  ),
  resizePolicy: ignored(array(opaque('v1.ContainerResizePolicy'))),
  restartPolicy: STR,
  volumeMounts: ignored(
    array(
      struct('v1.VolumeMount', {
        name: STR,
        readOnly: BOOL,
        recursiveReadOnly: STR,
        mountPath: STR,
        subPath: STR,
        mountPropagation: STR,
        subPathExpr: STR,
      }),
    ),
  ),
  volumeDevices: ignored(array(opaque('v1.VolumeDevice'))),
  livenessProbe: ignored(Probe),
  readinessProbe: Probe,
  startupProbe: ignored(Probe),
  lifecycle: ignored(opaque('v1.Lifecycle')),
  terminationMessagePath: STR,
  terminationMessagePolicy: STR,
  imagePullPolicy: STR,
  securityContext: ignored(opaque('v1.SecurityContext')),
  stdin: BOOL,
  stdinOnce: BOOL,
  tty: BOOL,
});

export const PodSpec = struct('v1.PodSpec', {
  volumes: ignored(array(opaque('v1.Volume'))),
  initContainers: ignored(array(Container)),
  containers: array(Container),
  ephemeralContainers: ignored(array(opaque('v1.EphemeralContainer'))),
  restartPolicy: STR,
  terminationGracePeriodSeconds: I64,
  activeDeadlineSeconds: I64,
  dnsPolicy: STR,
  nodeSelector: STRMAP,
  serviceAccountName: STR,
  serviceAccount: STR,
  automountServiceAccountToken: BOOL,
  nodeName: STR,
  hostNetwork: BOOL,
  hostPID: ignored(BOOL),
  hostIPC: ignored(BOOL),
  shareProcessNamespace: ignored(BOOL),
  securityContext: ignored(opaque('v1.PodSecurityContext')),
  imagePullSecrets: ignored(array(struct('v1.LocalObjectReference', { name: STR }))),
  hostname: STR,
  subdomain: STR,
  affinity: ignored(opaque('v1.Affinity')),
  schedulerName: STR,
  tolerations: array(
    struct('v1.Toleration', { key: STR, operator: STR, value: STR, effect: STR, tolerationSeconds: I64 }),
  ),
  hostAliases: array(struct('v1.HostAlias', { ip: STR, hostnames: STRS })),
  priorityClassName: ignored(STR),
  priority: I32,
  dnsConfig: struct('v1.PodDNSConfig', {
    nameservers: STRS,
    searches: STRS,
    options: array(struct('v1.PodDNSConfigOption', { name: STR, value: STR })),
  }),
  readinessGates: ignored(array(struct('v1.PodReadinessGate', { conditionType: STR }))),
  runtimeClassName: ignored(STR),
  enableServiceLinks: BOOL,
  preemptionPolicy: STR,
  overhead: ignored(map(QTY)),
  topologySpreadConstraints: ignored(array(opaque('v1.TopologySpreadConstraint'))),
  setHostnameAsFQDN: BOOL,
  os: ignored(struct('v1.PodOS', { name: STR })),
  hostUsers: ignored(BOOL),
  schedulingGates: ignored(array(struct('v1.PodSchedulingGate', { name: STR }))),
  resourceClaims: ignored(array(opaque('v1.PodResourceClaim'))),
  resources: ignored(opaque('v1.ResourceRequirements')),
});

// Service, Endpoints, EndpointSlice (core/v1 and discovery.k8s.io/v1)

const ServicePort = struct('v1.ServicePort', {
  name: STR,
  protocol: STR,
  appProtocol: STR,
  port: I32,
  targetPort: IOS,
  nodePort: I32,
});

const ServiceSpec = struct('v1.ServiceSpec', {
  ports: array(ServicePort),
  selector: STRMAP,
  clusterIP: STR,
  clusterIPs: STRS,
  type: STR,
  externalIPs: STRS,
  sessionAffinity: STR,
  loadBalancerIP: STR,
  loadBalancerSourceRanges: STRS,
  externalName: STR,
  externalTrafficPolicy: STR,
  healthCheckNodePort: I32,
  publishNotReadyAddresses: BOOL,
  sessionAffinityConfig: struct('v1.SessionAffinityConfig', {
    clientIP: struct('v1.ClientIPConfig', { timeoutSeconds: I32 }),
  }),
  ipFamilies: STRS,
  ipFamilyPolicy: STR,
  allocateLoadBalancerNodePorts: BOOL,
  loadBalancerClass: STR,
  internalTrafficPolicy: STR,
  trafficDistribution: STR,
});

const PortStatus = struct('v1.PortStatus', { port: I32, protocol: STR, error: STR });

const ServiceStatus = struct('v1.ServiceStatus', {
  loadBalancer: struct('v1.LoadBalancerStatus', {
    ingress: array(struct('v1.LoadBalancerIngress', { ip: STR, hostname: STR, ipMode: STR, ports: array(PortStatus) })),
  }),
  conditions: array(opaque('v1.Condition')),
});

const ObjectReference = struct('v1.ObjectReference', {
  kind: STR,
  namespace: STR,
  name: STR,
  uid: STR,
  apiVersion: STR,
  resourceVersion: STR,
  fieldPath: STR,
});

const EndpointAddress = struct('v1.EndpointAddress', { ip: STR, hostname: STR, nodeName: STR, targetRef: ObjectReference });

const EndpointSubset = struct('v1.EndpointSubset', {
  addresses: array(EndpointAddress),
  notReadyAddresses: array(EndpointAddress),
  ports: array(struct('v1.EndpointPort', { name: STR, port: I32, protocol: STR, appProtocol: STR })),
});

const DiscoveryEndpoint = struct('v1.Endpoint', {
  addresses: STRS,
  conditions: struct('v1.EndpointConditions', { ready: BOOL, serving: BOOL, terminating: BOOL }),
  hostname: STR,
  targetRef: ObjectReference,
  deprecatedTopology: STRMAP,
  nodeName: STR,
  zone: STR,
  hints: struct('v1.EndpointHints', { forZones: array(struct('v1.ForZone', { name: STR })) }),
});

const PodTemplateSpec = struct('v1.PodTemplateSpec', { metadata: ObjectMeta, spec: PodSpec });

/** Top-level object: apiVersion, kind, metadata, then the kind's own fields. */
function root(go: string, fields: Record<string, FieldType>): StructType {
  return struct(go, { apiVersion: STR, kind: STR, metadata: ObjectMeta, ...fields });
}

// ---------------------------------------------------------------------------------------------
// The kinds

export type NameRule = 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label';

export interface KindSchema {
  group: string;
  version: string;
  kind: string;
  resource: string;
  namespaced: boolean;
  shortNames?: string[];
  /** How metadata.name is validated. */
  nameRule: NameRule;
  /** The whole object, apiVersion to status. */
  schema: StructType;
}

const NetworkPolicyPort = struct('v1.NetworkPolicyPort', { protocol: STR, port: IOS, endPort: I32 });
const NetworkPolicyPeer = struct('v1.NetworkPolicyPeer', {
  podSelector: LabelSelector,
  namespaceSelector: LabelSelector,
  ipBlock: struct('v1.IPBlock', { cidr: STR, except: STRS }),
});

const IngressBackend = struct('v1.IngressBackend', {
  service: struct('v1.IngressServiceBackend', { name: STR, port: struct('v1.ServiceBackendPort', { name: STR, number: I32 }) }),
  resource: struct('v1.TypedLocalObjectReference', { apiGroup: STR, kind: STR, name: STR }),
});
const IngressSpec = struct('v1.IngressSpec', {
  ingressClassName: STR,
  defaultBackend: IngressBackend,
  tls: array(struct('v1.IngressTLS', { hosts: STRS, secretName: STR })),
  rules: array(
    struct('v1.IngressRule', {
      host: STR,
      http: struct('v1.HTTPIngressRuleValue', {
        paths: array(struct('v1.HTTPIngressPath', { path: STR, pathType: STR, backend: IngressBackend })),
      }),
    }),
  ),
});
const IngressStatus = struct('v1.IngressStatus', {
  loadBalancer: struct('v1.IngressLoadBalancerStatus', {
    ingress: array(struct('v1.IngressLoadBalancerIngress', { ip: STR, hostname: STR, ports: array(PortStatus) })),
  }),
});

const KINDS: KindSchema[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    resource: 'namespaces',
    namespaced: false,
    shortNames: ['ns'],
    nameRule: 'dns1123-label',
    schema: root('v1.Namespace', { spec: struct('v1.NamespaceSpec', { finalizers: STRS }), status: ANY }),
  },
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    resource: 'pods',
    namespaced: true,
    shortNames: ['po'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Pod', { spec: PodSpec, status: ANY }),
  },
  {
    group: '',
    version: 'v1',
    kind: 'Node',
    resource: 'nodes',
    namespaced: false,
    shortNames: ['no'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Node', {
      spec: struct('v1.NodeSpec', {
        podCIDR: STR,
        podCIDRs: STRS,
        providerID: STR,
        unschedulable: BOOL,
        taints: array(struct('v1.Taint', { key: STR, value: STR, effect: STR, timeAdded: TIME })),
        configSource: opaque('v1.NodeConfigSource'),
        externalID: STR,
      }),
      status: ANY,
    }),
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    resource: 'deployments',
    namespaced: true,
    shortNames: ['deploy'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Deployment', {
      spec: struct('v1.DeploymentSpec', {
        replicas: I32,
        selector: LabelSelector,
        template: PodTemplateSpec,
        strategy: struct('v1.DeploymentStrategy', {
          type: STR,
          rollingUpdate: struct('v1.RollingUpdateDeployment', { maxUnavailable: IOS, maxSurge: IOS }),
        }),
        minReadySeconds: I32,
        revisionHistoryLimit: I32,
        paused: BOOL,
        progressDeadlineSeconds: I32,
      }),
      status: ANY,
    }),
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'ReplicaSet',
    resource: 'replicasets',
    namespaced: true,
    shortNames: ['rs'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.ReplicaSet', {
      spec: struct('v1.ReplicaSetSpec', { replicas: I32, minReadySeconds: I32, selector: LabelSelector, template: PodTemplateSpec }),
      status: ANY,
    }),
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'StatefulSet',
    resource: 'statefulsets',
    namespaced: true,
    shortNames: ['sts'],
    nameRule: 'dns1123-label',
    schema: root('v1.StatefulSet', {
      spec: struct('v1.StatefulSetSpec', {
        replicas: I32,
        selector: LabelSelector,
        template: PodTemplateSpec,
        volumeClaimTemplates: ignored(array(opaque('v1.PersistentVolumeClaim'))),
        serviceName: STR,
        podManagementPolicy: STR,
        updateStrategy: struct('v1.StatefulSetUpdateStrategy', {
          type: STR,
          rollingUpdate: struct('v1.RollingUpdateStatefulSetStrategy', { partition: I32, maxUnavailable: IOS }),
        }),
        revisionHistoryLimit: I32,
        minReadySeconds: I32,
        persistentVolumeClaimRetentionPolicy: ignored(
          struct('v1.StatefulSetPersistentVolumeClaimRetentionPolicy', { whenDeleted: STR, whenScaled: STR }),
        ),
        ordinals: struct('v1.StatefulSetOrdinals', { start: I32 }),
      }),
      status: ANY,
    }),
  },
  {
    group: '',
    version: 'v1',
    kind: 'Service',
    resource: 'services',
    namespaced: true,
    shortNames: ['svc'],
    nameRule: 'dns1035-label',
    schema: root('v1.Service', { spec: ServiceSpec, status: ServiceStatus }),
  },
  {
    group: '',
    version: 'v1',
    kind: 'Endpoints',
    resource: 'endpoints',
    namespaced: true,
    shortNames: ['ep'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Endpoints', { subsets: array(EndpointSubset) }),
  },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    kind: 'EndpointSlice',
    resource: 'endpointslices',
    namespaced: true,
    nameRule: 'dns1123-subdomain',
    schema: root('v1.EndpointSlice', {
      addressType: STR,
      endpoints: array(DiscoveryEndpoint),
      ports: array(struct('v1.EndpointPort', { name: STR, protocol: STR, port: I32, appProtocol: STR })),
    }),
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'NetworkPolicy',
    resource: 'networkpolicies',
    namespaced: true,
    shortNames: ['netpol'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.NetworkPolicy', {
      spec: struct('v1.NetworkPolicySpec', {
        podSelector: LabelSelector,
        ingress: array(struct('v1.NetworkPolicyIngressRule', { ports: array(NetworkPolicyPort), from: array(NetworkPolicyPeer) })),
        egress: array(struct('v1.NetworkPolicyEgressRule', { ports: array(NetworkPolicyPort), to: array(NetworkPolicyPeer) })),
        policyTypes: STRS,
      }),
      status: ANY,
    }),
  },
  // Secret, ConfigMap, Event (core/v1); Ingress, IngressClass (networking.k8s.io/v1). kemu
  // stores and serves them; the Ingress controller that acts on Ingresses is a separate piece.
  {
    group: '',
    version: 'v1',
    kind: 'Secret',
    resource: 'secrets',
    namespaced: true,
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Secret', { immutable: BOOL, data: STRMAP, stringData: STRMAP, type: STR }),
  },
  {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    resource: 'configmaps',
    namespaced: true,
    shortNames: ['cm'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.ConfigMap', { immutable: BOOL, data: STRMAP, binaryData: STRMAP }),
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    resource: 'events',
    namespaced: true,
    shortNames: ['ev'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Event', {
      involvedObject: ObjectReference,
      reason: STR,
      message: STR,
      source: struct('v1.EventSource', { component: STR, host: STR }),
      firstTimestamp: TIME,
      lastTimestamp: TIME,
      count: I32,
      type: STR,
      eventTime: TIME,
      series: struct('v1.EventSeries', { count: I32, lastObservedTime: TIME }),
      action: STR,
      related: ObjectReference,
      reportingComponent: STR,
      reportingInstance: STR,
    }),
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'Ingress',
    resource: 'ingresses',
    namespaced: true,
    shortNames: ['ing'],
    nameRule: 'dns1123-subdomain',
    schema: root('v1.Ingress', { spec: IngressSpec, status: IngressStatus }),
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    kind: 'IngressClass',
    resource: 'ingressclasses',
    namespaced: false,
    nameRule: 'dns1123-subdomain',
    schema: root('v1.IngressClass', {
      spec: struct('v1.IngressClassSpec', {
        controller: STR,
        parameters: struct('v1.IngressClassParametersReference', { apiGroup: STR, kind: STR, name: STR, scope: STR, namespace: STR }),
      }),
    }),
  },
];

// ---------------------------------------------------------------------------------------------
// Registry

const byKind = new Map<string, KindSchema>(); // "group/version/Kind"
const infos = new Map<KindSchema, ResourceInfo>();

function infoOf(k: KindSchema): ResourceInfo {
  return Object.freeze({
    group: k.group,
    version: k.version,
    groupVersion: k.group ? `${k.group}/${k.version}` : k.version,
    kind: k.kind,
    resource: k.resource,
    singular: k.kind.toLowerCase(),
    namespaced: k.namespaced,
    shortNames: Object.freeze([...(k.shortNames ?? [])]),
  });
}

/** Adds (or replaces) a kind. */
export function registerKind(k: KindSchema): void {
  const key = `${k.group}/${k.version}/${k.kind}`;
  const old = byKind.get(key);
  if (old) infos.delete(old);
  byKind.set(key, k);
  infos.set(k, infoOf(k));
}

for (const k of KINDS) registerKind(k);

/** "apps/v1" → ["apps", "v1"]; "v1" → ["", "v1"]. */
export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const i = apiVersion.indexOf('/');
  return i < 0 ? ['', apiVersion] : [apiVersion.slice(0, i), apiVersion.slice(i + 1)];
}

/** The schema entry for an object's apiVersion and kind, or undefined if kemu does not serve it. */
export function kindSchema(apiVersion: string, kind: string): KindSchema | undefined {
  const [group, version] = splitApiVersion(apiVersion);
  return byKind.get(`${group}/${version}/${kind}`);
}

/**
 * What kemu knows of apiVersion+kind, or undefined: the caller then reports kubectl's
 * `no matches for kind "Foo" in version "v1"`.
 */
export function kindInfo(apiVersion: string, kind: string): ResourceInfo | undefined {
  const k = kindSchema(apiVersion, kind);
  return k && infos.get(k);
}

/** Every kind served, in registration order. */
export function allResources(): ResourceInfo[] {
  return [...infos.values()];
}

/** The kind behind /api/v1/... or /apis/GROUP/VERSION/... and a resource (plural) name. */
export function resourceByPath(group: string, version: string, resource: string): ResourceInfo | undefined {
  for (const r of infos.values()) if (r.group === group && r.version === version && r.resource === resource) return r;
  return undefined;
}

/**
 * What `kemu get X` means by X: plural, singular, short name or kind, any case, optionally
 * qualified by group ("deployments.apps", "deploy.apps") — as kubectl resolves it.
 */
export function resourceInfo(name: string): ResourceInfo | undefined {
  let n = name.trim().toLowerCase();
  let group: string | undefined;
  const dot = n.indexOf('.');
  if (dot > 0) {
    group = n.slice(dot + 1);
    n = n.slice(0, dot);
    // "deployments.v1.apps" (kubectl's fully specified form)
    const m = /^(v\d+(?:(?:alpha|beta)\d+)?)\.(.+)$/.exec(group);
    if (m) group = m[2];
  }
  const all = [...infos.values()].filter((r) => group === undefined || r.group === group || (group === 'core' && r.group === ''));
  return (
    all.find((r) => r.resource === n) ??
    all.find((r) => r.singular === n) ??
    all.find((r) => r.shortNames.includes(n))
  );
}

/** The API group of a resource (plural), '' for core or unknown ones. */
export function groupOfResource(resource: string): string {
  for (const r of infos.values()) if (r.resource === resource) return r.group;
  return '';
}

// ---------------------------------------------------------------------------------------------
// Decoding checks

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonKind(v: unknown): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

const INT_RANGE: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

const QUANTITY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;

export interface TypeError {
  /** Path with indices, e.g. "spec.containers[0].ports[0].containerPort". */
  path: string;
  /** encoding/json's wording, e.g. "json: cannot unmarshal string into Go struct field ...". */
  message: string;
}

interface Ctx {
  /** Go struct name of the innermost struct ("ContainerPort"). */
  struct: string;
  /** JSON field names from the root, without indices ("spec.containers.ports"). */
  goPath: string;
  /** Path with indices ("spec.containers[0].ports[0]"). */
  path: string;
}

function bare(go: string): string {
  const i = go.lastIndexOf('.');
  return i < 0 ? go : go.slice(i + 1);
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** One value against its type; returns the first mismatch (depth first, document order). */
function checkType(v: unknown, f: FieldType, c: Ctx): TypeError | undefined {
  if (v === null || v === undefined) return undefined; // null decodes to the zero value
  const fail = (value: string, type = goTypeName(f)): TypeError => ({
    path: c.path,
    message: c.goPath
      ? `json: cannot unmarshal ${value} into Go struct field ${c.struct}.${c.goPath} of type ${type}`
      : `json: cannot unmarshal ${value} into Go value of type ${type}`,
  });
  switch (f.t) {
    case 'any':
      return undefined;
    case 'string':
      return typeof v === 'string' ? undefined : fail(jsonKind(v));
    case 'bool':
      return typeof v === 'boolean' ? undefined : fail(jsonKind(v));
    case 'float64':
      return typeof v === 'number' ? undefined : fail(jsonKind(v));
    case 'time':
      return typeof v === 'string' ? undefined : fail(jsonKind(v));
    case 'int32':
    case 'int64': {
      if (typeof v !== 'number') return fail(jsonKind(v));
      const [lo, hi] = INT_RANGE[f.t]!;
      if (!Number.isInteger(v) || v < lo || v > hi) return fail(`number ${v}`);
      return undefined;
    }
    case 'intOrString': {
      if (typeof v === 'string') return undefined;
      if (typeof v !== 'number') return fail(jsonKind(v));
      if (!Number.isInteger(v) || v < INT_RANGE.int32![0] || v > INT_RANGE.int32![1]) return fail(`number ${v}`, 'int32');
      return undefined;
    }
    case 'quantity': {
      if (typeof v === 'number') return undefined;
      if (typeof v !== 'string') return fail(jsonKind(v));
      if (!QUANTITY_RE.test(v.trim())) {
        return { path: c.path, message: `${c.path}: quantities must match the regular expression '${QUANTITY_RE.source}'` };
      }
      return undefined;
    }
    case 'opaque':
      return isObj(v) ? undefined : fail(jsonKind(v));
    case 'array': {
      if (!Array.isArray(v)) return fail(jsonKind(v));
      for (let i = 0; i < v.length; i++) {
        const e = checkType(v[i], f.of, { ...c, path: `${c.path}[${i}]` });
        if (e) return e;
      }
      return undefined;
    }
    case 'map': {
      if (!isObj(v)) return fail(jsonKind(v));
      for (const [k, x] of Object.entries(v)) {
        const e = checkType(x, f.of, { ...c, path: `${c.path}[${k}]` });
        if (e) return e;
      }
      return undefined;
    }
    case 'struct': {
      if (!isObj(v)) return fail(jsonKind(v));
      const name = bare(f.go);
      for (const [k, x] of Object.entries(v)) {
        const ft = f.fields[k];
        if (!ft) continue;
        const e = checkType(x, ft, { struct: name, goPath: join(c.goPath, k), path: join(c.path, k) });
        if (e) return e;
      }
      return undefined;
    }
  }
}

/**
 * The first JSON type mismatch in obj, as the apiserver's decoder reports it, or undefined.
 * The caller wraps it: `Pod in version "v1" cannot be handled as a Pod: <message>`.
 */
export function typeError(obj: unknown): TypeError | undefined {
  if (!isObj(obj)) return { path: '', message: `json: cannot unmarshal ${jsonKind(obj)} into Go value of type map[string]interface {}` };
  const k = kindSchema(String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
  if (!k) return undefined;
  return checkType(obj, k.schema, { struct: bare(k.schema.go), goPath: '', path: '' });
}

function walkUnknown(v: unknown, f: FieldType, path: string, out: string[]): void {
  if (v === null || v === undefined) return;
  switch (f.t) {
    case 'array':
      if (Array.isArray(v)) v.forEach((e, i) => walkUnknown(e, f.of, `${path}[${i}]`, out));
      return;
    case 'map':
      if (isObj(v)) for (const [k, e] of Object.entries(v)) walkUnknown(e, f.of, `${path}[${k}]`, out);
      return;
    case 'struct':
      if (!isObj(v)) return;
      for (const [k, e] of Object.entries(v)) {
        const ft = f.fields[k];
        // An undefined value is an absent field (it never reaches JSON).
        if (!ft) {
          if (e !== undefined) out.push(join(path, k));
        } else walkUnknown(e, ft, join(path, k), out);
      }
      return;
    default:
      return;
  }
}

/**
 * Paths of the fields the kind does not have, in document order, as the apiserver's strict
 * decoding names them: ["spec.containers[0].imagee"]. [] for unknown kinds.
 */
export function strictDecode(obj: unknown): string[] {
  if (!isObj(obj)) return [];
  const k = kindSchema(String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
  if (!k) return [];
  const out: string[] = [];
  walkUnknown(obj, k.schema, '', out);
  return out;
}

/** `strict decoding error: unknown field "a", unknown field "b"` */
export function strictDecodingMessage(unknown: string[]): string {
  return `strict decoding error: ${unknown.map((p) => `unknown field "${p}"`).join(', ')}`;
}

function isEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (isObj(v)) return Object.keys(v).length === 0;
  return false;
}

function walkIgnored(v: unknown, f: FieldType, path: string, out: string[]): void {
  if (v === null || v === undefined) return;
  if (f.ignored) {
    if (!isEmpty(v)) out.push(path);
    return;
  }
  switch (f.t) {
    case 'array':
      if (Array.isArray(v)) v.forEach((e, i) => walkIgnored(e, f.of, `${path}[${i}]`, out));
      return;
    case 'map':
      if (isObj(v)) for (const [k, e] of Object.entries(v)) walkIgnored(e, f.of, `${path}[${k}]`, out);
      return;
    case 'struct':
      if (!isObj(v)) return;
      for (const [k, e] of Object.entries(v)) {
        const ft = f.fields[k];
        if (ft) walkIgnored(e, ft, join(path, k), out);
      }
      return;
    default:
      return;
  }
}

/**
 * Paths of fields that are set (non-empty) and that kemu accepts but does not act on:
 * ["spec.containers[0].resources", "spec.volumes"]. For `Warning` headers.
 */
export function ignoredFields(obj: unknown): string[] {
  if (!isObj(obj)) return [];
  const k = kindSchema(String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
  if (!k) return [];
  const out: string[] = [];
  walkIgnored(obj, k.schema, '', out);
  return out;
}

function orderValue(v: unknown, f: FieldType): unknown {
  if (v === null || v === undefined) return v;
  switch (f.t) {
    case 'array':
      return Array.isArray(v) ? v.map((e) => orderValue(e, f.of)) : v;
    case 'map':
      if (!isObj(v)) return v;
      for (const k of Object.keys(v)) v[k] = orderValue(v[k], f.of);
      return v;
    case 'struct': {
      if (!isObj(v)) return v;
      const out: Obj = {};
      for (const [k, ft] of Object.entries(f.fields)) if (k in v) out[k] = orderValue(v[k], ft);
      for (const k of Object.keys(v)) if (!(k in out)) out[k] = v[k];
      return out;
    }
    default:
      return v;
  }
}

/**
 * The object with its fields in the kind's declared (Go struct) order, as the apiserver
 * serializes them. Objects whose fields the server fills in at different points of a create
 * and an update (a Service's clusterIP, ipFamilies…) then compare equal when nothing changed.
 */
export function orderFields<T>(obj: T): T {
  if (!isObj(obj)) return obj;
  const k = kindSchema(String(obj.apiVersion ?? ''), String(obj.kind ?? ''));
  if (!k) return obj;
  // metadata keeps its order: the store adds uid, resourceVersion… where it always has.
  const out = orderValue({ ...obj, metadata: undefined }, k.schema) as Obj;
  out.metadata = obj.metadata;
  return out as T;
}
