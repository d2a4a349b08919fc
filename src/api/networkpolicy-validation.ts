// networking.k8s.io/v1 NetworkPolicy: the apiserver's defaults (policyTypes, port protocol)
// and the validation kubectl users meet most (selectors, ports, ipBlock CIDRs and excepts).
import { invalid, required, unsupported, validateLabels, validateMeta, isValidCIDR, CIDR_MSG, portNameErrors, type Cause } from './field-errors.js';
import { parseCidr } from '../dataplane/wire/ipv4.js';

type Obj = Record<string, any>;

export function applyNetworkPolicyDefaults(obj: Obj): void {
  const spec = (obj.spec ??= {});
  spec.podSelector ??= {};
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
    // Ingress always; Egress iff the policy has an egress section (API default).
    spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  for (const dir of ['ingress', 'egress'] as const) {
    for (const rule of spec[dir] ?? []) for (const p of rule?.ports ?? []) if (p && typeof p === 'object') p.protocol ??= 'TCP';
  }
}

const OPS = ['DoesNotExist', 'Exists', 'In', 'NotIn'];

function validateSelector(sel: unknown, f: string, out: Cause[]): void {
  if (sel === undefined || sel === null) return;
  const s = sel as Obj;
  validateLabels(s.matchLabels, `${f}.matchLabels`, out);
  (s.matchExpressions ?? []).forEach((e: Obj, i: number) => {
    const ef = `${f}.matchExpressions[${i}]`;
    if (!OPS.includes(e?.operator)) out.push(unsupported(`${ef}.operator`, e?.operator ?? '', OPS));
    else if ((e.operator === 'In' || e.operator === 'NotIn') && !(e.values ?? []).length) {
      out.push(required(`${ef}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && (e.values ?? []).length) {
      out.push(invalid(`${ef}.values`, e.values, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    }
  });
}

function validatePeers(peers: unknown, f: string, out: Cause[]): void {
  if (!Array.isArray(peers)) return;
  peers.forEach((p: Obj, i: number) => {
    const pf = `${f}[${i}]`;
    const n = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => p?.[k] !== undefined).length;
    if (n === 0) out.push(required(pf, 'must specify a peer'));
    if (p?.ipBlock !== undefined && n > 1) out.push(invalid(pf, '', 'may not specify more than 1 peer type when ipBlock is set'));
    validateSelector(p?.podSelector, `${pf}.podSelector`, out);
    validateSelector(p?.namespaceSelector, `${pf}.namespaceSelector`, out);
    if (p?.ipBlock !== undefined) {
      const b = p.ipBlock;
      if (!b.cidr) out.push(required(`${pf}.ipBlock.cidr`));
      else if (!isValidCIDR(b.cidr)) out.push(invalid(`${pf}.ipBlock.cidr`, b.cidr, CIDR_MSG));
      else {
        const c = parseCidr(b.cidr);
        (b.except ?? []).forEach((x: string, j: number) => {
          const xf = `${pf}.ipBlock.except[${j}]`;
          if (!isValidCIDR(x)) return out.push(invalid(xf, x, CIDR_MSG)) as unknown as void;
          const e = parseCidr(x);
          if (e.prefixLen <= c.prefixLen || (e.base & c.mask) !== c.base) out.push(invalid(xf, x, 'must be a strict subset of `cidr`'));
        });
      }
    }
  });
}

function validatePorts(ports: unknown, f: string, out: Cause[]): void {
  if (!Array.isArray(ports)) return;
  ports.forEach((p: Obj, i: number) => {
    const pf = `${f}[${i}]`;
    if (p?.protocol !== undefined && !['SCTP', 'TCP', 'UDP'].includes(p.protocol)) out.push(unsupported(`${pf}.protocol`, p.protocol, ['SCTP', 'TCP', 'UDP']));
    if (p?.port === undefined) {
      if (p?.endPort !== undefined) out.push(required(`${pf}.port`, 'must be specified when endPort is specified'));
      return;
    }
    if (typeof p.port === 'number') {
      if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) out.push(invalid(`${pf}.port`, p.port, 'must be between 1 and 65535, inclusive'));
      if (p.endPort !== undefined) {
        if (p.endPort < 1 || p.endPort > 65535) out.push(invalid(`${pf}.endPort`, p.endPort, 'must be between 1 and 65535, inclusive'));
        else if (p.endPort < p.port) out.push(invalid(`${pf}.endPort`, p.endPort, 'must be greater than or equal to `port`'));
      }
    } else {
      for (const m of portNameErrors(String(p.port))) out.push(invalid(`${pf}.port`, p.port, m));
      if (p.endPort !== undefined) out.push(invalid(`${pf}.endPort`, p.endPort, 'may not be specified when `port` is non-numeric'));
    }
  });
}

export function validateNetworkPolicy(obj: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  const spec = obj.spec ?? {};
  validateSelector(spec.podSelector, 'spec.podSelector', out);
  (spec.ingress ?? []).forEach((r: Obj, i: number) => {
    validatePorts(r?.ports, `spec.ingress[${i}].ports`, out);
    validatePeers(r?.from, `spec.ingress[${i}].from`, out);
  });
  (spec.egress ?? []).forEach((r: Obj, i: number) => {
    validatePorts(r?.ports, `spec.egress[${i}].ports`, out);
    validatePeers(r?.to, `spec.egress[${i}].to`, out);
  });
  const types = ['Egress', 'Ingress'];
  (spec.policyTypes ?? []).forEach((t: string, i: number) => {
    if (!types.includes(t)) out.push(unsupported(`spec.policyTypes[${i}]`, t, types));
  });
  return out;
}
