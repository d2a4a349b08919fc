// Defaults and validation as the apiserver applies them after decoding: the same default
// values, the same field paths and the same wording (k8s.io/apimachinery field.Error), so a
// kemu error reads like the one a real cluster would give. Pods and workloads are here;
// Services, Endpoints and EndpointSlices in service-validation.ts, probes in
// probe-validation.ts, the shared field.Error and name rules in field-errors.ts.
import { applyNetworkPolicyDefaults, validateNetworkPolicy } from './networkpolicy-validation.js';
import { applyEventDefaults, applySecretDefaults, validateConfigMap, validateEvent, validateSecret } from './config-validation.js';
import { applyIngressDefaults, validateIngress, validateIngressClass } from './ingress-validation.js';
import {
  type Cause,
  type CauseType,
  type Obj,
  duplicate,
  invalid,
  labelErrors,
  PORT_RANGE,
  portNameErrors,
  required,
  subdomainErrors,
  unsupported,
  validateLabels,
  validateMeta,
  validPort,
} from './field-errors.js';
import { applyProbeDefaults, validateProbes } from './probe-validation.js';
import { ignoredFields, strictDecode, typeError } from './schema.js';
import {
  applyEndpointSliceDefaults,
  applyEndpointsDefaults,
  applyServiceDefaults,
  validateEndpoints,
  validateEndpointSlice,
  validateService,
} from './service-validation.js';

export { ignoredFields, strictDecode, typeError };
export type { Cause, CauseType };

// ---------------------------------------------------------------------------------------------
// Defaults

function defaultPodSpec(spec: Obj | undefined): void {
  if (!spec || typeof spec !== 'object') return;
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  for (const list of [spec.containers, spec.initContainers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!c || typeof c !== 'object') continue;
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
        const tag = /:([^/:@]+)$/.exec(c.image)?.[1];
        c.imagePullPolicy = !tag || tag === 'latest' ? 'Always' : 'IfNotPresent';
      }
      if (Array.isArray(c.ports)) for (const p of c.ports) if (p && typeof p === 'object') p.protocol ??= 'TCP';
      c.resources ??= {};
      applyProbeDefaults(c);
    }
  }
}

function defaultSelector(spec: Obj): void {
  // apps/v1 has no selector defaulting; nothing to do, validation insists on it.
  void spec;
}

/** The object with the apiserver's defaults filled in (mutated in place and returned). */
export function applyDefaults(obj: Obj): Obj {
  const spec = obj.spec;
  switch (`${obj.apiVersion}/${obj.kind}`) {
    case 'v1/Pod':
      obj.spec ??= {};
      defaultPodSpec(obj.spec);
      break;
    case 'v1/Namespace':
      obj.spec ??= {};
      obj.spec.finalizers ??= ['kubernetes'];
      obj.metadata ??= {};
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
      break;
    case 'v1/Service':
      applyServiceDefaults(obj);
      break;
    case 'v1/Endpoints':
      applyEndpointsDefaults(obj);
      break;
    case 'discovery.k8s.io/v1/EndpointSlice':
      applyEndpointSliceDefaults(obj);
      break;
    case 'networking.k8s.io/v1/NetworkPolicy':
      applyNetworkPolicyDefaults(obj);
      break;
    case 'v1/Secret':
      applySecretDefaults(obj);
      break;
    case 'v1/Event':
      applyEventDefaults(obj);
      break;
    case 'networking.k8s.io/v1/Ingress':
      applyIngressDefaults(obj);
      break;
    case 'apps/v1/Deployment':
      if (!spec || typeof spec !== 'object') break;
      spec.replicas ??= 1;
      spec.strategy ??= { type: 'RollingUpdate' };
      if (spec.strategy.type === undefined) spec.strategy.type = 'RollingUpdate';
      if (spec.strategy.type === 'RollingUpdate') {
        spec.strategy.rollingUpdate ??= {};
        spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
        spec.strategy.rollingUpdate.maxSurge ??= '25%';
      }
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      defaultSelector(spec);
      defaultPodSpec(spec.template?.spec);
      break;
    case 'apps/v1/ReplicaSet':
      if (!spec || typeof spec !== 'object') break;
      spec.replicas ??= 1;
      defaultPodSpec(spec.template?.spec);
      break;
    case 'apps/v1/StatefulSet':
      if (!spec || typeof spec !== 'object') break;
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (spec.updateStrategy.type === 'RollingUpdate') {
        spec.updateStrategy.rollingUpdate ??= {};
        spec.updateStrategy.rollingUpdate.partition ??= 0;
      }
      spec.revisionHistoryLimit ??= 10;
      spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      defaultPodSpec(spec.template?.spec);
      break;
  }
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Validation

const RESTART = ['Always', 'Never', 'OnFailure'];
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validateContainers(list: unknown, f: string, out: Cause[], needOne: boolean): void {
  if (!Array.isArray(list) || list.length === 0) {
    if (needOne) out.push(required(f));
    return;
  }
  const names = new Set<string>();
  list.forEach((c: Obj, i) => {
    const p = `${f}[${i}]`;
    if (!c || typeof c !== 'object') return out.push(required(p)) as unknown as void;
    if (!c.name) out.push(required(`${p}.name`));
    else {
      for (const msg of labelErrors(c.name)) out.push(invalid(`${p}.name`, c.name, msg));
      if (names.has(c.name)) out.push(duplicate(`${p}.name`, c.name));
      names.add(c.name);
    }
    if (!c.image) out.push(required(`${p}.image`));
    const portNames = new Set<string>();
    if (Array.isArray(c.ports)) {
      c.ports.forEach((port: Obj, j: number) => {
        const pp = `${p}.ports[${j}]`;
        if (!port || typeof port !== 'object') return;
        if (port.name !== undefined && port.name !== '') {
          for (const msg of portNameErrors(port.name)) out.push(invalid(`${pp}.name`, port.name, msg));
          if (portNames.has(port.name)) out.push(duplicate(`${pp}.name`, port.name));
          portNames.add(port.name);
        }
        if (port.containerPort === undefined || port.containerPort === 0) out.push(required(`${pp}.containerPort`));
        else if (!validPort(port.containerPort)) out.push(invalid(`${pp}.containerPort`, port.containerPort, PORT_RANGE));
        if (port.hostPort !== undefined && port.hostPort !== 0 && !validPort(port.hostPort)) out.push(invalid(`${pp}.hostPort`, port.hostPort, PORT_RANGE));
        if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol)) out.push(unsupported(`${pp}.protocol`, port.protocol, PROTOCOLS));
      });
    }
    if (Array.isArray(c.env)) {
      c.env.forEach((e: Obj, j: number) => {
        const ep = `${p}.env[${j}]`;
        if (!e || typeof e !== 'object') return;
        if (!e.name) out.push(required(`${ep}.name`));
        if (e.value !== undefined && e.value !== '' && e.valueFrom !== undefined) {
          out.push(invalid(`${ep}.valueFrom`, '', 'may not be specified when `value` is not empty'));
        }
      });
    }
    validateProbes(c, p, out);
  });
}

function validatePodSpec(spec: unknown, f: string, out: Cause[], templateRestart?: string[]): void {
  if (!spec || typeof spec !== 'object') {
    out.push(required(`${f}.containers`));
    return;
  }
  const s = spec as Obj;
  validateContainers(s.containers, `${f}.containers`, out, true);
  validateContainers(s.initContainers, `${f}.initContainers`, out, false);
  const allowed = templateRestart ?? RESTART;
  if (s.restartPolicy !== undefined && !allowed.includes(s.restartPolicy)) out.push(unsupported(`${f}.restartPolicy`, s.restartPolicy, allowed));
  if (s.dnsPolicy !== undefined && !DNS_POLICIES.includes(s.dnsPolicy)) out.push(unsupported(`${f}.dnsPolicy`, s.dnsPolicy, DNS_POLICIES));
  if (s.dnsPolicy === 'None' && !s.dnsConfig) out.push(required(`${f}.dnsConfig`, 'must provide `dnsConfig` when `dnsPolicy` is None'));
  if (s.hostname !== undefined) for (const msg of labelErrors(s.hostname)) out.push(invalid(`${f}.hostname`, s.hostname, msg));
  if (s.subdomain !== undefined) for (const msg of labelErrors(s.subdomain)) out.push(invalid(`${f}.subdomain`, s.subdomain, msg));
  if (typeof s.terminationGracePeriodSeconds === 'number' && s.terminationGracePeriodSeconds < 0) {
    out.push(invalid(`${f}.terminationGracePeriodSeconds`, s.terminationGracePeriodSeconds, 'must be greater than or equal to 0'));
  }
  if (Array.isArray(s.hostAliases)) {
    s.hostAliases.forEach((h: Obj, i: number) => {
      if (!h || typeof h !== 'object') return;
      if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(String(h.ip ?? ''))) out.push(invalid(`${f}.hostAliases[${i}].ip`, h.ip ?? '', 'must be a valid IP address'));
    });
  }
  if (s.dnsConfig && Array.isArray(s.dnsConfig.nameservers) && s.dnsConfig.nameservers.length > 3) {
    out.push(invalid(`${f}.dnsConfig.nameservers`, s.dnsConfig.nameservers, 'must not have more than 3 nameservers'));
  }
}

/** Does a selector (matchLabels + matchExpressions) select these labels? */
function selectorMatches(sel: Obj, labels: Obj): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const val = labels[e.key];
    switch (e.operator) {
      case 'In':
        if (!has || !(e.values ?? []).includes(val)) return false;
        break;
      case 'NotIn':
        if (has && (e.values ?? []).includes(val)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

function validateSelector(sel: unknown, f: string, out: Cause[]): boolean {
  if (!sel || typeof sel !== 'object') {
    out.push(required(f));
    return false;
  }
  const s = sel as Obj;
  const empty = !Object.keys(s.matchLabels ?? {}).length && !(s.matchExpressions ?? []).length;
  if (empty) {
    out.push(invalid(f, s, 'empty selector is invalid for deployment'));
    return false;
  }
  validateLabels(s.matchLabels, `${f}.matchLabels`, out);
  let ok = true;
  (s.matchExpressions ?? []).forEach((e: Obj, i: number) => {
    const ops = ['DoesNotExist', 'Exists', 'In', 'NotIn'];
    if (!ops.includes(e?.operator)) {
      out.push(unsupported(`${f}.matchExpressions[${i}].operator`, e?.operator ?? '', ops));
      ok = false;
    } else if ((e.operator === 'In' || e.operator === 'NotIn') && !(e.values ?? []).length) {
      out.push(required(`${f}.matchExpressions[${i}].values`, 'must be specified when `operator` is \'In\' or \'NotIn\''));
      ok = false;
    }
  });
  return ok;
}

function validateWorkload(obj: Obj, out: Cause[], kind: 'Deployment' | 'ReplicaSet' | 'StatefulSet'): void {
  const spec = obj.spec;
  if (!spec || typeof spec !== 'object') {
    out.push(required('spec.selector'));
    out.push(required('spec.template.spec.containers'));
    return;
  }
  if (typeof spec.replicas === 'number' && spec.replicas < 0) out.push(invalid('spec.replicas', spec.replicas, 'must be greater than or equal to 0'));
  const selOk = validateSelector(spec.selector, 'spec.selector', out);
  const tmpl = spec.template;
  if (!tmpl || typeof tmpl !== 'object') {
    out.push(required('spec.template.spec.containers'));
    return;
  }
  validateLabels(tmpl.metadata?.labels, 'spec.template.metadata.labels', out);
  if (selOk && !selectorMatches(spec.selector, tmpl.metadata?.labels ?? {})) {
    out.push(invalid('spec.template.metadata.labels', tmpl.metadata?.labels ?? {}, '`selector` does not match template `labels`'));
  }
  validatePodSpec(tmpl.spec, 'spec.template.spec', out, ['Always']);
  if (kind === 'StatefulSet') {
    const pmp = spec.podManagementPolicy;
    if (pmp !== undefined && !['OrderedReady', 'Parallel'].includes(pmp)) out.push(unsupported('spec.podManagementPolicy', pmp, ['OrderedReady', 'Parallel']));
    if (spec.serviceName !== undefined && spec.serviceName !== '') {
      for (const msg of labelErrors(spec.serviceName)) out.push(invalid('spec.serviceName', spec.serviceName, msg));
    }
  }
}

/**
 * Every validation error of a defaulted object, in the apiserver's order (roughly: metadata,
 * spec). `old` is the stored object on update (for fields that may not change once set).
 */
export function validate(obj: Obj, old?: Obj): Cause[] {
  const out: Cause[] = [];
  switch (`${obj.apiVersion}/${obj.kind}`) {
    case 'v1/Service':
      return validateService(obj, old);
    case 'v1/Endpoints':
      return validateEndpoints(obj);
    case 'discovery.k8s.io/v1/EndpointSlice':
      return validateEndpointSlice(obj);
    case 'networking.k8s.io/v1/NetworkPolicy':
      return validateNetworkPolicy(obj);
    case 'v1/Secret':
      return validateSecret(obj, old);
    case 'v1/ConfigMap':
      return validateConfigMap(obj, old);
    case 'v1/Event':
      return validateEvent(obj);
    case 'networking.k8s.io/v1/Ingress':
      return validateIngress(obj);
    case 'networking.k8s.io/v1/IngressClass':
      return validateIngressClass(obj, old);
    case 'v1/Namespace':
      validateMeta(obj.metadata, 'label', false, out);
      break;
    case 'v1/Node':
      validateMeta(obj.metadata, 'subdomain', false, out);
      break;
    case 'v1/Pod':
      validateMeta(obj.metadata, 'subdomain', true, out);
      validatePodSpec(obj.spec, 'spec', out);
      break;
    case 'apps/v1/Deployment':
      validateMeta(obj.metadata, 'subdomain', true, out);
      validateWorkload(obj, out, 'Deployment');
      break;
    case 'apps/v1/ReplicaSet':
      validateMeta(obj.metadata, 'subdomain', true, out);
      validateWorkload(obj, out, 'ReplicaSet');
      break;
    case 'apps/v1/StatefulSet':
      validateMeta(obj.metadata, 'label', true, out);
      validateWorkload(obj, out, 'StatefulSet');
      break;
  }
  return out;
}

export interface InvalidStatus {
  message: string;
  details: { name: string; group?: string; kind: string; causes: { reason: CauseType; message: string; field: string }[] };
}

/** The 422 Status body: `Pod "x" is invalid: <cause>` or `... is invalid: [<cause>, <cause>]`. */
export function statusInvalid(kind: string, name: string, group: string, causes: Cause[]): InvalidStatus {
  const qualified = group ? `${kind}.${group}` : kind;
  const list = causes.length === 1 ? causes[0]!.message : `[${causes.map((c) => c.message).join(', ')}]`;
  return {
    message: `${qualified} "${name}" is invalid: ${list}`,
    details: {
      name,
      ...(group ? { group } : {}),
      kind: kind.toLowerCase() === kind ? kind : kind,
      causes: causes.map((c) => ({ reason: c.type, message: c.message.slice(c.field.length + 2), field: c.field })),
    },
  };
}
