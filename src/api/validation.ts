// Defaults and validation as the apiserver applies them after decoding: the same default
// values, the same field paths and the same wording (k8s.io/apimachinery field.Error), so a
// kemu error reads like the one a real cluster would give.
import { ignoredFields, strictDecode, typeError } from './schema.js';

export { ignoredFields, strictDecode, typeError };

type Obj = Record<string, any>;

export type CauseType = 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden';

export interface Cause {
  field: string;
  type: CauseType;
  /** The offending value, where the message shows it. */
  value?: unknown;
  detail: string;
  /** As field.Error.Error() prints it. */
  message: string;
}

function fmtValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

function cause(field: string, type: CauseType, detail: string, value?: unknown, supported?: string[]): Cause {
  let body: string;
  switch (type) {
    case 'FieldValueRequired':
      body = `Required value${detail ? `: ${detail}` : ''}`;
      break;
    case 'FieldValueInvalid':
      body = `Invalid value: ${fmtValue(value)}${detail ? `: ${detail}` : ''}`;
      break;
    case 'FieldValueNotSupported':
      body = `Unsupported value: ${fmtValue(value)}: supported values: ${(supported ?? []).map((s) => `"${s}"`).join(', ')}`;
      detail = `supported values: ${(supported ?? []).map((s) => `"${s}"`).join(', ')}`;
      break;
    case 'FieldValueDuplicate':
      body = `Duplicate value: ${fmtValue(value)}`;
      break;
    case 'FieldValueForbidden':
      body = `Forbidden${detail ? `: ${detail}` : ''}`;
      break;
  }
  return { field, type, value, detail, message: `${field}: ${body}` };
}

const required = (f: string, detail = ''): Cause => cause(f, 'FieldValueRequired', detail);
const invalid = (f: string, v: unknown, detail: string): Cause => cause(f, 'FieldValueInvalid', detail, v);
const unsupported = (f: string, v: unknown, supported: string[]): Cause => cause(f, 'FieldValueNotSupported', '', v, supported);
const duplicate = (f: string, v: unknown): Cause => cause(f, 'FieldValueDuplicate', '', v);

// ---------------------------------------------------------------------------------------------
// Name rules (k8s.io/apimachinery/pkg/util/validation)

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

function labelErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(v)) {
    out.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
  }
  return out;
}

function subdomainErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) {
    out.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  }
  return out;
}

function portNameErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 15) out.push('must be no more than 15 characters');
  if (!IANA_SVC_NAME.test(v)) out.push(`must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`);
  if (v.includes('--')) out.push('must not contain consecutive hyphens');
  if (!/[a-z]/.test(v)) out.push('must contain at least one letter (a-z)');
  if (v.startsWith('-') || v.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}

const PORT_RANGE = 'must be between 1 and 65535, inclusive';

function validPort(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

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

function validateMeta(meta: Obj | undefined, rule: 'label' | 'subdomain', namespaced: boolean, out: Cause[]): void {
  if (!meta || typeof meta !== 'object') {
    out.push(required('metadata.name', 'name or generateName is required'));
    return;
  }
  const name = meta.name;
  if (!name) out.push(required('metadata.name', 'name or generateName is required'));
  else {
    for (const msg of rule === 'label' ? labelErrors(name) : subdomainErrors(name)) out.push(invalid('metadata.name', name, msg));
  }
  if (namespaced && meta.namespace !== undefined) for (const msg of labelErrors(meta.namespace)) out.push(invalid('metadata.namespace', meta.namespace, msg));
  validateLabels(meta.labels, 'metadata.labels', out);
}

function validateLabels(labels: unknown, field: string, out: Cause[]): void {
  if (!labels || typeof labels !== 'object') return;
  for (const [k, v] of Object.entries(labels as Obj)) {
    const slash = k.lastIndexOf('/');
    const nm = slash >= 0 ? k.slice(slash + 1) : k;
    const prefix = slash >= 0 ? k.slice(0, slash) : '';
    if (nm.length > 63 || !QUALIFIED_NAME.test(nm) || (prefix && subdomainErrors(prefix).length)) {
      out.push(
        invalid(
          field,
          k,
          `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
        ),
      );
    }
    if (typeof v === 'string' && (v.length > 63 || !LABEL_VALUE.test(v))) {
      out.push(
        invalid(
          field,
          v,
          `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
        ),
      );
    }
  }
}

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

/** Every validation error of a defaulted object, in the apiserver's order (roughly: metadata, spec). */
export function validate(obj: Obj): Cause[] {
  const out: Cause[] = [];
  switch (`${obj.apiVersion}/${obj.kind}`) {
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
