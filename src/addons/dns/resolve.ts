// The resolver core: (cluster view, question) -> answer, exactly as CoreDNS's kubernetes plugin
// configured by kubeadm answers (`kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure;
// fallthrough in-addr.arpa ip6.arpa; ttl 30 }`). Follows plugin/kubernetes/handler.go,
// kubernetes.go (Services, Records, findServices, findPods), reverse.go, ns.go and
// plugin/backend_lookup.go (A, AAAA, SRV, PTR, CNAME, TXT, NS, SOA, BackendError).
// Pure: no I/O. Names that need the outside world come back as `forward` or `chase`.
import net from 'node:net';
import type { Answer } from 'dns-packet';
import { addressFromReverse, fqdn, labelsBelow, NameError, parseRequest, type Request } from './names.js';
import type { ClusterView, Service } from './view.js';

/** Owner name placeholder for "the question's name as the client wrote it" (CoreDNS state.QName()). */
export const QNAME = '@';

export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';

export interface Resolution {
  rcode: Rcode;
  answer: Answer[];
  authority: Answer[];
  additional: Answer[];
  /** Authoritative (aa). False for forwarded answers. */
  aa: boolean;
  /** Not in a cluster zone: the server forwards it upstream. */
  forward?: boolean;
  /** A reverse-zone miss: forwarded upstream when there is one (fallthrough), else this answer. */
  fallthrough?: boolean;
  /** An ExternalName pointing outside the cluster: append the upstream's answer for target/type. */
  chase?: { target: string; type: string };
}

export interface ResolveOptions {
  /** Record TTL (kubeadm: 30; plugin default 5). */
  ttl: number;
  /** `pods insecure` (default) or `disabled`. */
  pods: 'insecure' | 'disabled';
  /** The resolver's own pod IPs: the apex NS is the Service whose endpoints they are (ns.go). */
  selfIPs: string[];
}

export const DEFAULT_OPTIONS: ResolveOptions = { ttl: 30, pods: 'insecure', selfIPs: [] };

/** One backend item (CoreDNS msg.Service): an address or a name (ExternalName), a port, a domain. */
interface Item {
  host: string;
  port: number;
  /** The record's domain: the SRV target and NS name. */
  domain: string;
}

const DNS_SCHEMA_VERSION = '1.1.0';
const REVERSE_ZONES = ['in-addr.arpa.', 'ip6.arpa.'];

class Ctx {
  chase: { target: string; type: string } | undefined;
  constructor(
    readonly view: ClusterView,
    readonly o: ResolveOptions,
    readonly zone: string,
  ) {}
}

/** The zone a name falls in (longest match), or undefined. */
export function zoneOf(view: ClusterView, name: string): string | undefined {
  const cz = `${view.zone}.`;
  if (labelsBelow(name, cz)) return cz;
  for (const z of REVERSE_ZONES) if (labelsBelow(name, z)) return z;
  return undefined;
}

/**
 * Answer one question. `name` is lower case with a trailing dot; `type` a dns-packet type name
 * ('A', 'SRV', 'UNKNOWN_65280'…).
 */
export function resolve(view: ClusterView, name: string, type: string, o: ResolveOptions = DEFAULT_OPTIONS): Resolution {
  const zone = zoneOf(view, name);
  if (!zone) return { rcode: 'NOERROR', answer: [], authority: [], additional: [], aa: false, forward: true };
  const ctx = new Ctx(view, o, zone);
  let records: Answer[] = [];
  let extra: Answer[] = [];
  try {
    switch (type) {
      case 'A':
      case 'AAAA':
        records = address(ctx, name, QNAME, type, []);
        break;
      case 'TXT':
        records = txt(ctx, name);
        break;
      case 'CNAME':
        records = cname(ctx, name);
        break;
      case 'PTR':
        records = ptr(ctx, name);
        break;
      case 'MX':
        // Kubernetes names never carry mail: only whether the name exists matters.
        services(ctx, name, type);
        break;
      case 'SRV':
        [records, extra] = srv(ctx, name);
        break;
      case 'AXFR':
      case 'IXFR':
        // No `transfer` plugin in kubeadm's Corefile.
        return { rcode: 'REFUSED', answer: [], authority: [], additional: [], aa: false };
      case 'SOA':
        if (name === zone) {
          records = [soa(ctx)];
          break;
        }
        address(ctx, name, QNAME, 'A', []);
        break;
      case 'NS':
        if (name === zone) {
          [records, extra] = ns(ctx);
          break;
        }
        address(ctx, name, QNAME, 'A', []);
        break;
      default:
        // CoreDNS's "fake A lookup": only to choose between NODATA and NXDOMAIN.
        address(ctx, name, QNAME, 'A', []);
    }
  } catch (err) {
    if (!(err instanceof NameError)) throw err;
    const r = negative(ctx, view.synced ? 'NXDOMAIN' : 'SERVFAIL');
    if (REVERSE_ZONES.includes(zone)) r.fallthrough = true;
    return r;
  }
  if (records.length === 0 && !ctx.chase) return negative(ctx, 'NOERROR');
  return { rcode: 'NOERROR', answer: records, authority: [], additional: dedup(extra), aa: true, chase: ctx.chase };
}

/** NXDOMAIN or NODATA: aa set and the zone's SOA in the authority section (BackendError). */
function negative(ctx: Ctx, rcode: Rcode): Resolution {
  if (rcode === 'SERVFAIL') return { rcode, answer: [], authority: [], additional: [], aa: false };
  return { rcode, answer: [], authority: [soa(ctx)], additional: [], aa: true };
}

function soa(ctx: Ctx): Answer {
  const t = ctx.o.ttl;
  const z = ctx.zone;
  return {
    name: z,
    type: 'SOA',
    ttl: Math.min(t, 300),
    data: { mname: `ns.dns.${z}`, rname: `hostmaster.${z}`, serial: ctx.view.serial >>> 0, refresh: 7200, retry: 1800, expire: 86400, minimum: t },
  };
}

// ---- backend (Kubernetes.Services / Records) ------------------------------------------------

function services(ctx: Ctx, name: string, type: string): Item[] {
  const labels = labelsBelow(name, ctx.zone)!;
  if (labels.length === 2 && labels[0] === 'ns' && labels[1] === 'dns') {
    // ns.dns.<zone>: the addresses the apex NS points at.
    const want = type === 'AAAA' ? 6 : 4;
    return nsAddrs(ctx).filter((a) => net.isIP(a.host) === want || (type !== 'A' && type !== 'AAAA'));
  }
  const items = records(ctx, name);
  // SRV for ExternalName services is not implemented in CoreDNS: those items are dropped.
  return type === 'SRV' ? items.filter((i) => net.isIP(i.host) !== 0) : items;
}

function records(ctx: Ctx, name: string): Item[] {
  const r = parseRequest(name, ctx.zone);
  if (r.podOrSvc === '') return [];
  if (REVERSE_ZONES.includes(ctx.zone)) throw new NameError('reverse zone');
  if (!ctx.view.namespaces.has(r.namespace)) throw new NameError(`namespace ${r.namespace} not found`);
  return r.podOrSvc === 'pod' ? findPods(ctx, r) : findServices(ctx, r);
}

function findPods(ctx: Ctx, r: Request): Item[] {
  if (ctx.o.pods === 'disabled') throw new NameError('pods disabled');
  const podname = r.service;
  if (podname === '') return [];
  // Too many labels for a pod name (x.a-b-c-d.ns.pod.zone) cannot be a pod.
  if (r.endpoint || r.port) throw new NameError('not a pod name');
  const dashes = podname.split('-').length - 1;
  const ip = dashes === 3 && !podname.includes('--') ? podname.replace(/-/g, '.') : podname.replace(/-/g, ':');
  // `pods insecure`: any well-formed address is answered, without looking for the pod.
  if (net.isIP(ip) === 0) throw new NameError('not an IP');
  return [{ host: ip, port: 0, domain: `${podname}.${r.namespace}.pod.${ctx.zone}` }];
}

function matchPP(r: Request, name: string, protocol: string): boolean {
  return (r.port === '' || r.port === name.toLowerCase()) && (r.protocol === '' || r.protocol === protocol.toLowerCase());
}

function findServices(ctx: Ctx, r: Request): Item[] {
  if (r.service === '') return [];
  const svc = ctx.view.services.get(`${r.namespace}/${r.service}`);
  if (!svc) throw new NameError('service not found');
  const base = `${svc.name}.${svc.namespace}.svc.${ctx.zone}`;
  const out: Item[] = [];
  let found = false;
  if (svc.type === 'ExternalName') {
    // ExternalName services have no endpoints; an IP-valued externalName gives nothing.
    if (r.endpoint === '' && svc.externalName && net.isIP(svc.externalName) === 0) {
      out.push({ host: svc.externalName, port: 0, domain: base });
      found = true;
    }
  } else if (svc.headless || r.endpoint !== '') {
    for (const ep of svc.endpoints) {
      if (r.endpoint !== '' && r.endpoint !== ep.host) continue;
      for (const p of ep.ports) {
        if (!matchPP(r, p.name, p.protocol)) continue;
        out.push({ host: ep.ip, port: p.port, domain: `${ep.host}.${base}` });
        found = true;
      }
    }
  } else {
    for (const p of svc.ports) {
      if (!matchPP(r, p.name, p.protocol)) continue;
      found = true;
      for (const ip of svc.clusterIPs) out.push({ host: ip, port: p.port, domain: base });
    }
  }
  if (!found) throw new NameError('no matching records');
  return out;
}

/** ns.go nsAddrs: the Services whose ready endpoints are this server's own IPs. */
function nsAddrs(ctx: Ctx): Item[] {
  const out: Item[] = [];
  const self = new Set(ctx.o.selfIPs);
  for (const svc of ctx.view.services.values()) {
    if (svc.type === 'ExternalName') continue;
    const mine = svc.endpoints.filter((e) => self.has(e.ip));
    if (!mine.length) continue;
    const base = `${svc.name}.${svc.namespace}.svc.${ctx.zone}`;
    if (svc.headless) {
      for (const e of svc.endpoints) out.push({ host: e.ip, port: 0, domain: `${e.host}.${base}` });
    } else {
      for (const ip of svc.clusterIPs) out.push({ host: ip, port: 0, domain: base });
    }
  }
  if (out.length === 0) for (const ip of ctx.o.selfIPs) out.push({ host: ip, port: 0, domain: `ns.dns.${ctx.zone}` });
  return out;
}

// ---- record builders (plugin/backend_lookup.go) ---------------------------------------------

function inZone(zone: string, name: string): boolean {
  return labelsBelow(name, zone) !== undefined;
}

/** A / AAAA, following in-zone CNAMEs (ExternalName -> Service) up to 8 deep. */
function address(ctx: Ctx, name: string, owner: string, type: 'A' | 'AAAA', previous: Answer[]): Answer[] {
  const items = services(ctx, name, type);
  const out: Answer[] = [];
  const dup = new Set<string>();
  const family = type === 'A' ? 4 : 6;
  for (const it of items) {
    const fam = net.isIP(it.host);
    if (fam === 0) {
      const target = fqdn(it.host);
      if (target === name) continue; // x CNAME x
      if (previous.length > 7) continue;
      const rec: Answer = { name: owner, type: 'CNAME', ttl: ctx.o.ttl, data: target };
      if (previous.some((p) => p.type === 'CNAME' && p.data === target)) continue;
      if (inZone(ctx.zone, target)) {
        let next: Answer[] = [];
        try {
          next = address(ctx, target, target, type, [...previous, rec]);
        } catch (err) {
          if (!(err instanceof NameError)) throw err;
        }
        if (next.length > 0) out.push(rec, ...next);
        continue;
      }
      // Outside the cluster: the server asks upstream and appends what it says.
      out.push(rec);
      ctx.chase = { target, type };
      continue;
    }
    if (fam === family && !dup.has(it.host)) {
      dup.add(it.host);
      out.push({ name: owner, type, ttl: ctx.o.ttl, data: it.host } as Answer);
    }
  }
  return out;
}

function txt(ctx: Ctx, name: string): Answer[] {
  const labels = labelsBelow(name, ctx.zone)!;
  if (labels.length === 1 && labels[0] === 'dns-version' && ctx.zone === `${ctx.view.zone}.`) {
    return [{ name: QNAME, type: 'TXT', ttl: 28800, data: DNS_SCHEMA_VERSION }];
  }
  // An existing name without TXT is NODATA; records() throws for a missing one.
  records(ctx, name);
  return [];
}

function cname(ctx: Ctx, name: string): Answer[] {
  const items = services(ctx, name, 'CNAME');
  const first = items[0];
  if (first && net.isIP(first.host) === 0) return [{ name: QNAME, type: 'CNAME', ttl: ctx.o.ttl, data: fqdn(first.host) }];
  return [];
}

function ptr(ctx: Ctx, name: string): Answer[] {
  const ip = addressFromReverse(name);
  if (ip === '') {
    // Not a full reverse name: the name still has to exist (NODATA) or not (NXDOMAIN).
    if (REVERSE_ZONES.includes(ctx.zone)) throw new NameError('partial reverse name');
    records(ctx, name);
    return [];
  }
  const targets = ptrTargets(ctx, ip);
  if (!targets.length) throw new NameError('no service or endpoint with this IP');
  return [...new Set(targets)].map((t) => ({ name: QNAME, type: 'PTR', ttl: ctx.o.ttl, data: t }) as Answer);
}

function ptrTargets(ctx: Ctx, ip: string): string[] {
  const svc: Service | undefined = ctx.view.byClusterIP.get(ip);
  if (svc) return [`${svc.name}.${svc.namespace}.svc.${ctx.view.zone}.`];
  return ctx.view.byEndpointIP.get(ip) ?? [];
}

function srv(ctx: Ctx, name: string): [Answer[], Answer[]] {
  const items = services(ctx, name, 'SRV');
  // Weight: 100 split over every item, counted before duplicates are dropped (CoreDNS quirk).
  const weight = items.length ? Math.max(1, Math.floor((100 / (100 * items.length)) * 100)) : 0;
  const records: Answer[] = [];
  const extra: Answer[] = [];
  const dup = new Set<string>();
  for (const it of items) {
    if (it.port === -1) continue;
    const fam = net.isIP(it.host);
    if (fam === 0) continue;
    const k = `${it.domain} ${it.port}`;
    if (!dup.has(k)) {
      dup.add(k);
      records.push({ name: QNAME, type: 'SRV', ttl: ctx.o.ttl, data: { priority: 0, weight, port: it.port, target: it.domain } });
    }
    const ka = `${it.domain} @${it.host}`;
    if (!dup.has(ka)) {
      dup.add(ka);
      extra.push({ name: it.domain, type: fam === 4 ? 'A' : 'AAAA', ttl: ctx.o.ttl, data: it.host } as Answer);
    }
  }
  return [records, extra];
}

function ns(ctx: Ctx): [Answer[], Answer[]] {
  const records: Answer[] = [];
  const extra: Answer[] = [];
  const seen = new Set<string>();
  const cz = `${ctx.view.zone}.`;
  // The NS names live in the cluster zone, also for the reverse zones' apex.
  for (const it of nsAddrs(new Ctx(ctx.view, ctx.o, cz))) {
    const fam = net.isIP(it.host);
    extra.push({ name: it.domain, type: fam === 6 ? 'AAAA' : 'A', ttl: ctx.o.ttl, data: it.host } as Answer);
    if (seen.has(it.domain)) continue;
    seen.add(it.domain);
    records.push({ name: QNAME, type: 'NS', ttl: ctx.o.ttl, data: it.domain });
  }
  return [records, extra];
}

function dedup(rrs: Answer[]): Answer[] {
  const seen = new Set<string>();
  return rrs.filter((r) => {
    const k = `${r.name} ${r.type} ${JSON.stringify((r as any).data)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
