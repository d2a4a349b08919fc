// Query names as CoreDNS's kubernetes plugin reads them (plugin/kubernetes/parse.go):
//   _port._proto.service.namespace.svc.zone | endpoint.service.namespace.svc.zone |
//   service.namespace.svc.zone | a-b-c-d.namespace.pod.zone
// and reverse names (in-addr.arpa / ip6.arpa) back to addresses. Names here are lower case
// with a trailing dot.
import net from 'node:net';

export interface Request {
  /** '' for the zone apex, `svc.<zone>` and `pod.<zone>` (NODATA names). */
  podOrSvc: '' | 'svc' | 'pod';
  namespace: string;
  service: string;
  endpoint: string;
  /** '' matches any port / protocol. */
  port: string;
  protocol: string;
}

/** Thrown for names that cannot exist (CoreDNS errInvalidRequest: NXDOMAIN). */
export class NameError extends Error {}

const EMPTY: Request = { podOrSvc: '', namespace: '', service: '', endpoint: '', port: '', protocol: '' };

/** Labels of `name` below `zone` (both lower case, trailing dot), or undefined if not inside it. */
export function labelsBelow(name: string, zone: string): string[] | undefined {
  if (name === zone) return [];
  if (zone === '.') return name.slice(0, -1).split('.');
  if (!name.endsWith('.' + zone)) return undefined;
  return name.slice(0, name.length - zone.length - 1).split('.');
}

export function parseRequest(name: string, zone: string): Request {
  const segs = labelsBelow(name, zone);
  if (!segs || segs.length === 0) return EMPTY;
  if (segs.length === 1 && (segs[0] === 'svc' || segs[0] === 'pod')) return EMPTY;
  let last = segs.length - 1;
  const podOrSvc = segs[last]!;
  if (podOrSvc !== 'svc' && podOrSvc !== 'pod') throw new NameError(`not svc or pod: ${podOrSvc}`);
  const r: Request = { ...EMPTY, podOrSvc };
  if (--last < 0) return r;
  r.namespace = segs[last]!;
  if (--last < 0) return r;
  r.service = segs[last]!;
  if (--last < 0) return r;
  if (last === 0) r.endpoint = segs[0]!;
  else if (last === 1) {
    r.protocol = stripUnderscore(segs[1]!);
    r.port = stripUnderscore(segs[0]!);
  } else throw new NameError('too many labels');
  return r;
}

function stripUnderscore(s: string): string {
  return s.startsWith('_') ? s.slice(1) : s;
}

/** The address a full reverse name stands for, or '' (CoreDNS dnsutil.ExtractAddressFromReverse). */
export function addressFromReverse(name: string): string {
  if (name.endsWith('.in-addr.arpa.')) {
    const l = name.slice(0, -'.in-addr.arpa.'.length).split('.');
    if (l.length !== 4) return '';
    const ip = l.reverse().join('.');
    return net.isIPv4(ip) && !l.some((x) => x.length > 1 && x.startsWith('0')) ? ip : '';
  }
  if (name.endsWith('.ip6.arpa.')) {
    const l = name.slice(0, -'.ip6.arpa.'.length).split('.');
    if (l.length !== 32 || l.some((x) => !/^[0-9a-f]$/.test(x))) return '';
    const hex = l.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(hex.slice(i, i + 4));
    return canonicalIPv6(groups.join(':'));
  }
  return '';
}

/** RFC 5952 text form, as Go's net.IP.String() prints it (so it matches EndpointSlice addresses). */
export function canonicalIPv6(ip: string): string {
  const full = expandIPv6(ip);
  if (!full) return ip;
  const g = full.map((x) => x.replace(/^0+(?=.)/, ''));
  // Longest run of 2+ zero groups becomes '::'.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return g.join(':');
  return `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
}

function expandIPv6(ip: string): string[] | undefined {
  if (!net.isIPv6(ip)) return undefined;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  const all = [...h, ...fill, ...t];
  return all.length === 8 ? all.map((x) => x.toLowerCase()) : undefined;
}

/** `10.96.0.10` -> `10.0.96.10.in-addr.arpa.` (for docs and tests). */
export function reverseName(ip: string): string {
  if (net.isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa.`;
  const full = expandIPv6(ip);
  if (!full) throw new Error(`not an IP address: ${ip}`);
  return `${full.map((x) => x.padStart(4, '0')).join('').split('').reverse().join('.')}.ip6.arpa.`;
}

/** Lower-case, trailing-dot form of a domain name. */
export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}
