// Service, Endpoints and EndpointSlice defaults and validation, after pkg/apis/core/v1/defaults.go
// (SetDefaults_Service), pkg/apis/core/validation/validation.go (ValidateService,
// ValidateServiceUpdate) and pkg/apis/discovery/validation: same paths, same order, same words.
import {
  type Cause,
  type Obj,
  CIDR_MSG,
  duplicate,
  forbidden,
  GoValue,
  goStrings,
  invalid,
  IP_MSG,
  isValidCIDR,
  isValidIP,
  labelErrors,
  looksIPv6,
  nonSpecialIPErrors,
  PORT_RANGE,
  portNameErrors,
  qualifiedNameErrors,
  required,
  subdomainErrors,
  unsupported,
  validateLabels,
  validateMeta,
  validPort,
} from './field-errors.js';

const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const AFFINITIES = ['ClientIP', 'None'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'];
const FAMILIES = ['IPv4', 'IPv6'];
const FAMILY_POLICIES = ['PreferDualStack', 'RequireDualStack', 'SingleStack'];
const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

/** core.DefaultClientIPServiceAffinitySeconds / MaxClientIPServiceAffinitySeconds. */
export const DEFAULT_AFFINITY_SECONDS = 10800;
const MAX_AFFINITY_SECONDS = 86400;

/** ExternallyAccessible (pkg/api/service): the types externalTrafficPolicy means something for. */
export function externallyAccessible(spec: Obj): boolean {
  return spec.type === 'LoadBalancer' || spec.type === 'NodePort' || (spec.type === 'ClusterIP' && (spec.externalIPs ?? []).length > 0);
}

/** NeedsHealthCheck: only LoadBalancer Services with externalTrafficPolicy Local get a healthCheckNodePort. */
export function needsHealthCheck(spec: Obj): boolean {
  return spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
}

export function isHeadless(spec: Obj): boolean {
  return Array.isArray(spec.clusterIPs) && spec.clusterIPs.length === 1 && spec.clusterIPs[0] === 'None';
}

// ---------------------------------------------------------------------------------------------
// Defaults (SetDefaults_Service; ipFamilies/ipFamilyPolicy/clusterIPs are the allocator's, as
// in the apiserver's registry)

export function applyServiceDefaults(obj: Obj): void {
  obj.spec ??= {};
  const spec = obj.spec;
  if (typeof spec !== 'object') return;
  spec.sessionAffinity ||= 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP' && typeof spec.sessionAffinityConfig?.clientIP?.timeoutSeconds !== 'number') {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: DEFAULT_AFFINITY_SECONDS } };
  }
  spec.type ||= 'ClusterIP';
  if (Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (!p || typeof p !== 'object') continue;
      p.protocol ||= 'TCP';
      if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
    }
  }
  if (externallyAccessible(spec) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  if (spec.internalTrafficPolicy == null && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) spec.internalTrafficPolicy = 'Cluster';
  if (spec.type === 'LoadBalancer') {
    spec.allocateLoadBalancerNodePorts ??= true;
    for (const ing of obj.status?.loadBalancer?.ingress ?? []) if (ing?.ip && !ing.ipMode) ing.ipMode = 'VIP';
  }
}

export function applyEndpointsDefaults(obj: Obj): void {
  for (const ss of Array.isArray(obj.subsets) ? obj.subsets : []) for (const p of ss?.ports ?? []) if (p && typeof p === 'object') p.protocol ||= 'TCP';
}

export function applyEndpointSliceDefaults(obj: Obj): void {
  for (const p of Array.isArray(obj.ports) ? obj.ports : []) {
    if (!p || typeof p !== 'object') continue;
    p.name ??= '';
    p.protocol ??= 'TCP';
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

/** ValidatePortNumOrName. */
function portNumOrName(v: unknown, f: string, out: Cause[]): void {
  if (typeof v === 'number') {
    if (!validPort(v)) out.push(invalid(f, v, PORT_RANGE));
  } else if (typeof v === 'string') {
    for (const m of portNameErrors(v)) out.push(invalid(f, v, m));
  }
}

/** %#v of the core.ServicePort key ValidateService builds for duplicate (protocol, port) pairs. */
function portKey(protocol: string, port: number): GoValue {
  return new GoValue(
    `core.ServicePort{Name:"", Protocol:${JSON.stringify(protocol)}, AppProtocol:(*string)(nil), Port:${port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`,
  );
}

function validateServicePort(sp: Obj, i: number, requireName: boolean, names: Set<string>, out: Cause[]): void {
  const f = `spec.ports[${i}]`;
  if (requireName && !sp.name) out.push(required(`${f}.name`));
  else if (sp.name) {
    for (const m of labelErrors(sp.name)) out.push(invalid(`${f}.name`, sp.name, m));
    if (names.has(sp.name)) out.push(duplicate(`${f}.name`, sp.name));
    else names.add(sp.name);
  }
  if (!validPort(sp.port)) out.push(invalid(`${f}.port`, sp.port ?? 0, PORT_RANGE));
  if (!sp.protocol) out.push(required(`${f}.protocol`));
  else if (!PROTOCOLS.includes(sp.protocol)) out.push(unsupported(`${f}.protocol`, sp.protocol, PROTOCOLS));
  portNumOrName(sp.targetPort, `${f}.targetPort`, out);
  if (sp.appProtocol !== undefined) for (const m of qualifiedNameErrors(sp.appProtocol)) out.push(invalid(`${f}.appProtocol`, sp.appProtocol, m));
}

/** ValidateServiceClusterIPsRelatedFields. */
export function validateClusterIPFields(spec: Obj): Cause[] {
  const out: Cause[] = [];
  if (spec.type === 'ExternalName') return out;
  const ips: string[] = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [];
  if (spec.clusterIP) {
    if (!ips.length) out.push(required('spec.clusterIPs'));
    else if (ips[0] !== spec.clusterIP) out.push(invalid('spec.clusterIPs', goStrings(ips), 'first value must match `clusterIP`'));
  } else if (ips.length) {
    out.push(invalid('spec.clusterIPs', goStrings(ips), 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (Array.isArray(spec.ipFamilies) ? spec.ipFamilies : []).forEach((fam: string, i: number) => {
    if (!FAMILIES.includes(fam)) out.push(unsupported(`spec.ipFamilies[${i}]`, fam, FAMILIES));
    if (seen.has(fam)) out.push(duplicate(`spec.ipFamilies[${i}]`, fam));
    seen.add(fam);
  });
  if (spec.ipFamilyPolicy != null && !FAMILY_POLICIES.includes(spec.ipFamilyPolicy)) out.push(unsupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, FAMILY_POLICIES));
  let badIPs = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        badIPs = true;
        out.push(invalid('spec.clusterIPs', goStrings(ips), "'None' must be the first and only value"));
      }
      return;
    }
    if (!isValidIP(ip)) {
      badIPs = true;
      out.push(invalid(`spec.clusterIPs[${i}]`, ip, IP_MSG));
    }
  });
  if (ips.length > 2) out.push(invalid('spec.clusterIPs', goStrings(ips), 'may only hold up to 2 values'));
  if (badIPs) return out;
  if (ips.length > 1 && looksIPv6(ips[0]!) === looksIPv6(ips[1]!)) {
    out.push(invalid('spec.clusterIPs', goStrings(ips), 'may specify no more than one IP for each IP family'));
  }
  const fams: string[] = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  if (!isHeadless(spec)) {
    ips.forEach((ip, i) => {
      if (i >= fams.length) return;
      if (fams[i] === 'IPv4' && looksIPv6(ip)) out.push(invalid(`spec.clusterIPs[${i}]`, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (fams[i] === 'IPv6' && !looksIPv6(ip)) out.push(invalid(`spec.clusterIPs[${i}]`, ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return out;
}

function validateAffinity(spec: Obj, out: Cause[]): void {
  if (!spec.sessionAffinity) out.push(required('spec.sessionAffinity'));
  else if (!AFFINITIES.includes(spec.sessionAffinity)) out.push(unsupported('spec.sessionAffinity', spec.sessionAffinity, AFFINITIES));
  if (spec.sessionAffinity === 'ClientIP') {
    const f = 'spec.sessionAffinityConfig';
    const why = 'when session affinity type is ClientIP';
    const c = spec.sessionAffinityConfig;
    if (!c) out.push(required(f, why));
    else if (!c.clientIP) out.push(required(`${f}.clientIP`, why));
    else if (c.clientIP.timeoutSeconds == null) out.push(required(`${f}.clientIP.timeoutSeconds`, why));
    else if (c.clientIP.timeoutSeconds <= 0 || c.clientIP.timeoutSeconds > MAX_AFFINITY_SECONDS) {
      out.push(invalid(`${f}.clientIP.timeoutSeconds`, c.clientIP.timeoutSeconds, `must be greater than 0 and less than ${MAX_AFFINITY_SECONDS}`));
    }
  } else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig != null) {
    out.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
}

function validateTrafficPolicies(spec: Obj, out: Cause[]): void {
  if (!externallyAccessible(spec)) {
    if (spec.externalTrafficPolicy) out.push(invalid('spec.externalTrafficPolicy', spec.externalTrafficPolicy, 'may only be set for externally-accessible services'));
  } else if (!spec.externalTrafficPolicy) out.push(required('spec.externalTrafficPolicy'));
  else if (!TRAFFIC_POLICIES.includes(spec.externalTrafficPolicy)) out.push(unsupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, TRAFFIC_POLICIES));
  const hc = spec.healthCheckNodePort ?? 0;
  if (!needsHealthCheck(spec)) {
    if (hc !== 0) out.push(invalid('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  } else if (hc === 0) out.push(required('spec.healthCheckNodePort'));
  else if (!validPort(hc)) out.push(invalid('spec.healthCheckNodePort', hc, PORT_RANGE));
  if (spec.internalTrafficPolicy == null) {
    if (['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) out.push(required('spec.internalTrafficPolicy'));
  } else if (!TRAFFIC_POLICIES.includes(spec.internalTrafficPolicy)) out.push(unsupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, TRAFFIC_POLICIES));
  if (spec.trafficDistribution != null && spec.trafficDistribution !== 'PreferClose') {
    out.push(unsupported('spec.trafficDistribution', spec.trafficDistribution, ['PreferClose']));
  }
}

/** ValidateService (create), preceded on update by ValidateServiceUpdate's own checks. */
export function validateService(obj: Obj, old?: Obj): Cause[] {
  const out: Cause[] = [];
  const spec: Obj = obj.spec && typeof obj.spec === 'object' ? obj.spec : {};
  if (old) validateServiceUpdate(spec, old.spec ?? {}, out);
  validateMeta(obj.metadata, 'dns1035', true, out);
  const ports: Obj[] = Array.isArray(spec.ports) ? spec.ports.filter((p: unknown) => p && typeof p === 'object') : [];
  const headless = isHeadless(spec);
  if (!ports.length && !headless && spec.type !== 'ExternalName') out.push(required('spec.ports'));
  switch (spec.type) {
    case 'LoadBalancer':
    case 'NodePort':
      if (headless) out.push(invalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${spec.type} services`));
      break;
    case 'ExternalName': {
      if ((spec.clusterIPs ?? []).length) out.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
      if ((spec.ipFamilies ?? []).length) out.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
      if (spec.ipFamilyPolicy != null) out.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
      const cname = String(spec.externalName ?? '').replace(/\.$/, '');
      if (cname) for (const m of subdomainErrors(cname)) out.push(invalid('spec.externalName', cname, m));
      else out.push(required('spec.externalName'));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((p, i) => validateServicePort(p, i, ports.length > 1, names, out));
  if (spec.selector != null) validateLabels(spec.selector, 'spec.selector', out);
  validateAffinity(spec, out);
  out.push(...validateClusterIPFields(spec));
  (Array.isArray(spec.externalIPs) ? spec.externalIPs : []).forEach((ip: string, i: number) => {
    const f = `spec.externalIPs[${i}]`;
    if (!isValidIP(ip)) out.push(invalid(f, ip, IP_MSG));
    else for (const m of nonSpecialIPErrors(ip)) out.push(invalid(f, ip, m));
  });
  if (!spec.type) out.push(required('spec.type'));
  else if (!TYPES.includes(spec.type)) out.push(unsupported('spec.type', spec.type, TYPES));
  if (spec.type === 'ClusterIP') {
    ports.forEach((p, i) => {
      if (p.nodePort) out.push(forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p.nodePort) return;
    const k = `${p.protocol}/${p.nodePort}`;
    if (nodePorts.has(k)) out.push(duplicate(`spec.ports[${i}].nodePort`, p.nodePort));
    nodePorts.add(k);
  });
  const portPairs = new Set<string>();
  ports.forEach((p, i) => {
    const k = `${p.protocol}/${p.port}`;
    if (portPairs.has(k)) out.push(duplicate(`spec.ports[${i}]`, portKey(p.protocol ?? '', p.port ?? 0)));
    portPairs.add(k);
  });
  const ranges: unknown[] = Array.isArray(spec.loadBalancerSourceRanges) ? spec.loadBalancerSourceRanges : [];
  if (ranges.length) {
    // The capital L is the apiserver's own (a historical accident kept for compatibility).
    const f = 'spec.LoadBalancerSourceRanges';
    if (spec.type !== 'LoadBalancer') out.push(forbidden(f, "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => {
      const v = String(r ?? '').trim();
      if (!isValidCIDR(v)) out.push(invalid(`${f}[${i}]`, v, CIDR_MSG));
    });
  }
  if (spec.allocateLoadBalancerNodePorts != null && spec.type !== 'LoadBalancer') {
    out.push(forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  if (spec.type === 'LoadBalancer') {
    if (spec.loadBalancerClass != null) for (const m of qualifiedNameErrors(spec.loadBalancerClass)) out.push(invalid('spec.loadBalancerClass', spec.loadBalancerClass, m));
  } else if (spec.loadBalancerClass != null) {
    out.push(forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
  }
  validateTrafficPolicies(spec, out);
  return out;
}

/** ValidateServiceUpdate's checks before ValidateService: what may not change once set. */
function validateServiceUpdate(spec: Obj, oldSpec: Obj, out: Cause[]): void {
  const ext = spec.type === 'ExternalName' || oldSpec.type === 'ExternalName';
  const ips: string[] = spec.clusterIPs ?? [];
  const oldIPs: string[] = oldSpec.clusterIPs ?? [];
  if (!ext && !(isHeadless(spec) && isHeadless(oldSpec))) {
    if (ips.length === oldIPs.length) {
      oldIPs.forEach((ip, i) => {
        if (ip !== ips[i]) out.push(invalid(`spec.clusterIPs[${i}]`, goStrings(ips), 'may not change once set'));
      });
    } else if (oldIPs.length > ips.length) {
      if (!ips.length) out.push(invalid('spec.clusterIPs[0]', goStrings(ips), 'primary clusterIP can not be unset'));
      else if (ips[0] !== oldIPs[0]) out.push(invalid('spec.clusterIPs[0]', goStrings(ips), 'may not change once set'));
    } else if (oldIPs.length && ips[0] !== oldIPs[0]) {
      out.push(invalid('spec.clusterIPs[0]', goStrings(ips), 'may not change once set'));
    }
  }
  if (oldSpec.type === 'LoadBalancer' && spec.type === 'LoadBalancer' && (oldSpec.loadBalancerClass ?? null) !== (spec.loadBalancerClass ?? null)) {
    out.push(invalid('spec.loadBalancerClass', spec.loadBalancerClass ?? null, 'may not change once set'));
  }
  if (needsHealthCheck(oldSpec) && needsHealthCheck(spec) && (spec.healthCheckNodePort ?? 0) !== (oldSpec.healthCheckNodePort ?? 0)) {
    out.push(forbidden('spec.healthCheckNodePort', 'field is immutable'));
  }
}

/** ValidateEndpoints (core/v1), for Endpoints a user writes for a selector-less Service. */
export function validateEndpoints(obj: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  (Array.isArray(obj.subsets) ? obj.subsets : []).forEach((ss: Obj, i: number) => {
    const f = `subsets[${i}]`;
    if (!ss || typeof ss !== 'object') return;
    const addrs = [...(ss.addresses ?? []).map((a: Obj, j: number) => [a, `${f}.addresses[${j}]`]), ...(ss.notReadyAddresses ?? []).map((a: Obj, j: number) => [a, `${f}.notReadyAddresses[${j}]`])];
    if (!addrs.length) out.push(required(f, 'must specify `addresses` or `notReadyAddresses`'));
    for (const [a, p] of addrs as [Obj, string][]) {
      if (!isValidIP(a?.ip)) out.push(invalid(`${p}.ip`, a?.ip ?? '', IP_MSG));
      else for (const m of nonSpecialIPErrors(a.ip)) out.push(invalid(`${p}.ip`, a.ip, m));
      if (a?.hostname) for (const m of labelErrors(a.hostname)) out.push(invalid(`${p}.hostname`, a.hostname, m));
    }
    (ss.ports ?? []).forEach((p: Obj, j: number) => {
      const pf = `${f}.ports[${j}]`;
      if ((ss.ports ?? []).length > 1 && !p?.name) out.push(required(`${pf}.name`));
      else if (p?.name) for (const m of labelErrors(p.name)) out.push(invalid(`${pf}.name`, p.name, m));
      if (!validPort(p?.port)) out.push(invalid(`${pf}.port`, p?.port ?? 0, PORT_RANGE));
      if (!p?.protocol) out.push(required(`${pf}.protocol`));
      else if (!PROTOCOLS.includes(p.protocol)) out.push(unsupported(`${pf}.protocol`, p.protocol, PROTOCOLS));
    });
  });
  return out;
}

/** ValidateEndpointSlice (discovery/v1). */
export function validateEndpointSlice(obj: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  if (!obj.addressType) out.push(required('addressType'));
  else if (!ADDRESS_TYPES.includes(obj.addressType)) out.push(unsupported('addressType', obj.addressType, ADDRESS_TYPES));
  (Array.isArray(obj.endpoints) ? obj.endpoints : []).forEach((ep: Obj, i: number) => {
    const f = `endpoints[${i}].addresses`;
    const addrs: string[] = Array.isArray(ep?.addresses) ? ep.addresses : [];
    if (!addrs.length || addrs.length > 100) out.push(invalid(f, addrs.length, 'must contain at least 1 and no more than 100 addresses'));
    addrs.forEach((a, j) => {
      if (obj.addressType === 'IPv4' && (parseV4(a) === false)) out.push(invalid(`${f}[${j}]`, a, 'must be a valid IPv4 address'));
    });
    if (ep?.nodeName) for (const m of subdomainErrors(ep.nodeName)) out.push(invalid(`endpoints[${i}].nodeName`, ep.nodeName, m));
  });
  const names = new Set<string>();
  (Array.isArray(obj.ports) ? obj.ports : []).forEach((p: Obj, i: number) => {
    const f = `ports[${i}]`;
    const name = p?.name ?? '';
    if (name) for (const m of labelErrors(name)) out.push(invalid(`${f}.name`, name, m));
    if (names.has(name)) out.push(duplicate(`${f}.name`, name));
    names.add(name);
    if (p?.protocol && !PROTOCOLS.includes(p.protocol)) out.push(unsupported(`${f}.protocol`, p.protocol, PROTOCOLS));
    if (p?.port != null && (!Number.isInteger(p.port) || p.port < 0 || p.port > 65535)) out.push(invalid(`${f}.port`, p.port, 'must be between 0 and 65535, inclusive'));
  });
  return out;
}

function parseV4(a: string): boolean {
  return isValidIP(a) && !looksIPv6(a);
}
