// The files the kubelet writes for a pod: /etc/resolv.conf per dnsPolicy and /etc/hosts in
// the kubelet's own format (pkg/kubelet/kubelet_pods.go managedHostsFileContent).
import type { KObject } from '../store/store.js';

export interface DnsSettings {
  clusterDNS: string;
  clusterDomain: string;
  /** resolv.conf of the node (used by dnsPolicy Default). */
  nodeResolvConf: string;
}

interface ResolvParts {
  nameservers: string[];
  searches: string[];
  options: { name: string; value?: string }[];
}

function parseResolv(text: string): ResolvParts {
  const r: ResolvParts = { nameservers: [], searches: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const [k, ...rest] = line.split(/\s+/);
    if (k === 'nameserver' && rest[0]) r.nameservers.push(rest[0]);
    else if (k === 'search') r.searches = rest;
    else if (k === 'options') for (const o of rest) r.options.push(splitOpt(o));
  }
  return r;
}

function splitOpt(o: string): { name: string; value?: string } {
  const i = o.indexOf(':');
  return i < 0 ? { name: o } : { name: o.slice(0, i), value: o.slice(i + 1) };
}

function renderResolv(r: ResolvParts): string {
  const lines: string[] = [];
  if (r.searches.length) lines.push(`search ${r.searches.join(' ')}`);
  for (const n of r.nameservers) lines.push(`nameserver ${n}`);
  if (r.options.length) lines.push(`options ${r.options.map((o) => (o.value === undefined ? o.name : `${o.name}:${o.value}`)).join(' ')}`);
  return lines.join('\n') + '\n';
}

// The kubelet's limits (ExpandedDNSConfig, GA in 1.28): 3 nameservers, 32 search domains,
// 2048 characters of search line; a domain longer than 253 characters is dropped (glibc aborts).
const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;
const MAX_SEARCH_CHARS = 2048;

/** pkg/kubelet/network/dns formDNSSearchFitsLimits: drop from the end until the line fits. */
export function fitSearches(searches: string[]): string[] {
  let s = searches.slice(0, MAX_SEARCHES).filter((x) => x.length <= 253);
  let len = s.join(' ').length;
  while (len > MAX_SEARCH_CHARS && s.length) {
    len -= s[s.length - 1]!.length + 1;
    s = s.slice(0, -1);
  }
  return s;
}

/** resolv.conf for a pod, following the kubelet's dnsPolicy rules and dnsConfig merge. */
export function resolvConf(pod: KObject, dns: DnsSettings): string {
  const spec = pod.spec ?? {};
  const ns = pod.metadata.namespace ?? 'default';
  let policy: string = spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirst' && spec.hostNetwork) policy = 'Default';
  if (policy === 'ClusterFirstWithHostNet') policy = 'ClusterFirst';
  let r: ResolvParts;
  if (policy === 'None') {
    r = { nameservers: [], searches: [], options: [] };
  } else if (policy === 'Default') {
    r = parseResolv(dns.nodeResolvConf);
  } else {
    const d = dns.clusterDomain;
    // The node's own search domains follow the cluster ones (generateSearchesForDNSClusterFirst).
    const hostSearch = parseResolv(dns.nodeResolvConf).searches.map((x) => x.replace(/\.$/, ''));
    r = {
      nameservers: [dns.clusterDNS],
      searches: [`${ns}.svc.${d}`, `svc.${d}`, d, ...hostSearch],
      options: [{ name: 'ndots', value: '5' }],
    };
  }
  const cfg = spec.dnsConfig;
  if (cfg) {
    for (const n of cfg.nameservers ?? []) if (!r.nameservers.includes(n)) r.nameservers.push(n);
    for (const s of cfg.searches ?? []) if (!r.searches.includes(s)) r.searches.push(s);
    for (const o of cfg.options ?? []) {
      const existing = r.options.findIndex((x) => x.name === o.name);
      const opt = o.value === undefined ? { name: o.name } : { name: o.name, value: String(o.value) };
      if (existing >= 0) r.options[existing] = opt;
      else r.options.push(opt);
    }
  }
  r.nameservers = [...new Set(r.nameservers)].slice(0, MAX_NAMESERVERS);
  r.searches = fitSearches([...new Set(r.searches)]);
  return renderResolv(r);
}

/** /etc/hosts as the kubelet writes it for a pod that does not use the host network. */
export function hostsFile(pod: KObject, podIP: string, clusterDomain: string): string {
  const spec = pod.spec ?? {};
  const hostname: string = spec.hostname ?? pod.metadata.name;
  const lines = [
    '# Kubernetes-managed hosts file.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  if (spec.subdomain) {
    const fqdn = `${hostname}.${spec.subdomain}.${pod.metadata.namespace ?? 'default'}.svc.${clusterDomain}`;
    lines.push(`${podIP}\t${fqdn}\t${hostname}`);
  } else {
    lines.push(`${podIP}\t${hostname}`);
  }
  const aliases: { ip: string; hostnames?: string[] }[] = spec.hostAliases ?? [];
  if (aliases.length) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of aliases) lines.push(`${a.ip}\t${(a.hostnames ?? []).join('\t')}`);
  }
  return lines.join('\n') + '\n';
}

/** The pod's hostname as the kubelet computes it (spec.hostname, else the pod name, at most 63 chars). */
export function podHostname(pod: KObject): string {
  const h: string = pod.spec?.hostname ?? pod.metadata.name;
  return h.length > 63 ? h.slice(0, 63).replace(/[-.]+$/, '') : h;
}
