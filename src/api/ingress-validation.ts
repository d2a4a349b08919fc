// networking.k8s.io/v1 Ingress and IngressClass: defaults and the validation of the apiserver
// (hosts, paths and pathTypes, service backends, controller names), with its field paths.
import { isIP } from 'node:net';
import { type Cause, dns1035Errors, invalid, PORT_RANGE, portNameErrors, required, subdomainErrors, unsupported, validateMeta, forbidden } from './field-errors.js';

type Obj = Record<string, any>;

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];

export function applyIngressDefaults(obj: Obj): void {
  obj.spec ??= {};
  obj.status ??= { loadBalancer: {} };
}

function validateBackend(b: Obj | undefined, f: string, out: Cause[]): void {
  if (!b || typeof b !== 'object') {
    out.push(required(f));
    return;
  }
  if (b.service && b.resource) {
    out.push(invalid(f, '', 'cannot set both service and resource backends'));
    return;
  }
  if (!b.service && !b.resource) {
    out.push(invalid(f, '', 'resource or service backend is required'));
    return;
  }
  if (b.service) {
    const s = b.service;
    if (!s.name) out.push(required(`${f}.service.name`));
    else for (const m of dns1035Errors(s.name)) out.push(invalid(`${f}.service.name`, s.name, m));
    const port = s.port ?? {};
    const hasName = port.name !== undefined && port.name !== '';
    const hasNumber = port.number !== undefined && port.number !== 0;
    if (hasName && hasNumber) out.push(invalid(`${f}.service.port`, port, 'cannot set both port name & port number'));
    else if (hasName) for (const m of portNameErrors(port.name)) out.push(invalid(`${f}.service.port.name`, port.name, m));
    else if (hasNumber) {
      if (!(Number.isInteger(port.number) && port.number >= 1 && port.number <= 65535)) out.push(invalid(`${f}.service.port.number`, port.number, PORT_RANGE));
    } else out.push(required(`${f}.service.port`, 'port name or number is required'));
  } else if (!b.resource.kind) out.push(required(`${f}.resource.kind`));
  else if (!b.resource.name) out.push(required(`${f}.resource.name`));
}

const WILDCARD_MSG =
  "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

function hostErrors(host: string, rejectIP = false): string[] {
  // Rule hosts are names: the apiserver refuses an IP (a port fails the subdomain check).
  if (rejectIP && isIP(host)) return ['must be a DNS name, not an IP address'];
  // A "*" only as a whole leading label ("*.foo.com"); a bare "*" is refused.
  if (host.includes('*')) return host.startsWith('*.') && subdomainErrors(host.slice(2)).length === 0 && !host.slice(2).includes('*') ? [] : [WILDCARD_MSG];
  return subdomainErrors(host);
}

export function validateIngress(obj: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  const spec = obj.spec ?? {};
  const rules: Obj[] = Array.isArray(spec.rules) ? spec.rules : [];
  if (!spec.defaultBackend && rules.length === 0) out.push(invalid('spec', spec, 'either `defaultBackend` or `rules` must be specified'));
  if (spec.defaultBackend) validateBackend(spec.defaultBackend, 'spec.defaultBackend', out);
  if (spec.ingressClassName !== undefined) for (const m of subdomainErrors(spec.ingressClassName)) out.push(invalid('spec.ingressClassName', spec.ingressClassName, m));
  rules.forEach((r, i) => {
    const rf = `spec.rules[${i}]`;
    if (r?.host) for (const m of hostErrors(r.host, true)) out.push(invalid(`${rf}.host`, r.host, m));
    const paths: Obj[] = r?.http?.paths ?? [];
    if (r?.http && paths.length === 0) out.push(required(`${rf}.http.paths`));
    paths.forEach((p, j) => {
      const pf = `${rf}.http.paths[${j}]`;
      if (!p.pathType) out.push(required(`${pf}.pathType`, 'pathType must be specified'));
      else if (!PATH_TYPES.includes(p.pathType)) out.push(unsupported(`${pf}.pathType`, p.pathType, PATH_TYPES));
      if ((p.pathType === 'Exact' || p.pathType === 'Prefix') && !String(p.path ?? '').startsWith('/')) {
        out.push(invalid(`${pf}.path`, p.path ?? '', 'must be an absolute path'));
      }
      validateBackend(p.backend, `${pf}.backend`, out);
    });
  });
  (Array.isArray(spec.tls) ? spec.tls : []).forEach((t: Obj, i: number) => {
    (t?.hosts ?? []).forEach((h: string, j: number) => {
      for (const m of hostErrors(String(h))) out.push(invalid(`spec.tls[${i}].hosts[${j}]`, h, m));
    });
  });
  return out;
}

const CONTROLLER = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[\S]+$/;

export function validateIngressClass(obj: Obj, old?: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', false, out);
  const c = obj.spec?.controller;
  if (!c) out.push(required('spec.controller'));
  else {
    if (c.length > 250) out.push(invalid('spec.controller', c, 'must be no more than 250 characters'));
    if (!CONTROLLER.test(c)) out.push(invalid('spec.controller', c, 'must be a domain-prefixed path (such as "acme.io/foo")'));
  }
  if (old && old.spec?.controller !== undefined && old.spec.controller !== c) out.push(forbidden('spec.controller', 'field is immutable'));
  const p = obj.spec?.parameters;
  if (p) {
    if (!p.kind) out.push(required('spec.parameters.kind'));
    if (!p.name) out.push(required('spec.parameters.name'));
    if (p.scope !== undefined && !['Cluster', 'Namespace'].includes(p.scope)) out.push(unsupported('spec.parameters.scope', p.scope, ['Cluster', 'Namespace']));
  }
  return out;
}
