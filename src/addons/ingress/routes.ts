// The routing core: the Ingresses this controller owns compiled into one immutable table, and
// a pure lookup (Host header + path -> backend). Hosts are evaluated before paths, as an nginx
// server block is chosen before its locations: an exact host, else a `*.foo.com` wildcard for
// exactly one extra label, else the rules without a host. Inside the chosen host the longest
// path wins (paths.ts). A request no path takes goes to the default backend (the host's own
// Ingress's spec.defaultBackend, else that of the oldest Ingress without rules), else 404.
import type { KObject } from '../../store/store.js';
import { comparePaths, matchPath, pathMatcher, type PathMatcher } from './paths.js';

export const ANN = {
  rewriteTarget: 'nginx.ingress.kubernetes.io/rewrite-target',
  useRegex: 'nginx.ingress.kubernetes.io/use-regex',
  sslRedirect: 'nginx.ingress.kubernetes.io/ssl-redirect',
} as const;

export interface BackendTarget {
  namespace: string;
  service: string;
  port: { number?: number; name?: string };
  /** "ns/service:port", the key of the endpoint set and of its round-robin position. */
  key: string;
}

export interface Route {
  matcher: PathMatcher;
  target: BackendTarget;
  /** "ns/name" of the Ingress that contributed the path. */
  ingress: string;
  rewriteTarget?: string;
  /** HTTP gets a 308 to https (ingress-nginx's ssl-redirect, on for hosts in the Ingress's tls). */
  sslRedirect: boolean;
}

export interface HostRoutes {
  routes: Route[];
  defaultBackend?: BackendTarget;
}

export interface RouteTable {
  exact: Map<string, HostRoutes>;
  /** `*.foo.com` keyed by `foo.com`. */
  wildcard: Map<string, HostRoutes>;
  catchAll?: HostRoutes;
  defaultBackend?: BackendTarget;
  /** Every backend referenced, by key. */
  targets: Map<string, BackendTarget>;
}

export type Decision =
  | { kind: 'backend'; target: BackendTarget; route?: Route }
  | { kind: 'not-found' };

export function emptyTable(): RouteTable {
  return { exact: new Map(), wildcard: new Map(), targets: new Map() };
}

/** Oldest first, then by namespace/name: ingress-nginx lets the oldest Ingress win a conflict. */
export function byAge(a: KObject, b: KObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function target(table: RouteTable, namespace: string, b: any): BackendTarget | undefined {
  const s = b?.service;
  if (!s?.name) return undefined; // `resource` backends need a CRD-aware controller; ingress-nginx ignores them too
  const port = s.port?.number ? { number: Number(s.port.number) } : { name: String(s.port?.name ?? '') };
  const key = `${namespace}/${s.name}:${port.number ?? port.name}`;
  let t = table.targets.get(key);
  if (!t) {
    t = { namespace, service: s.name, port, key };
    table.targets.set(key, t);
  }
  return t;
}

/** Lowercased host without port or trailing dot: `App.Example.com:8443` -> `app.example.com`. */
export function normalizeHost(h: string | undefined): string {
  if (!h) return '';
  let s = h.trim().toLowerCase();
  if (s.startsWith('[')) s = s.slice(0, s.indexOf(']') + 1);
  else {
    const c = s.lastIndexOf(':');
    if (c >= 0) s = s.slice(0, c);
  }
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

/** Compile owned Ingresses (any order) into a table. */
export function compileRoutes(ingresses: Iterable<KObject>): RouteTable {
  const table = emptyTable();
  const hostRoutes = (host: string): HostRoutes => {
    if (!host) return (table.catchAll ??= { routes: [] });
    const [map, key] = host.startsWith('*.') ? [table.wildcard, host.slice(2)] : [table.exact, host];
    let hr = map.get(key);
    if (!hr) map.set(key, (hr = { routes: [] }));
    return hr;
  };
  for (const ing of [...ingresses].sort(byAge)) {
    const ns = ing.metadata.namespace ?? 'default';
    const ann = ing.metadata.annotations ?? {};
    const rewriteTarget: string | undefined = ann[ANN.rewriteTarget] || undefined;
    const regexAllowed = ann[ANN.useRegex] === 'true' || rewriteTarget !== undefined;
    const redirect = ann[ANN.sslRedirect] !== 'false';
    const tlsHosts = new Set<string>();
    for (const t of ing.spec?.tls ?? []) for (const h of t?.hosts ?? []) tlsHosts.add(String(h).toLowerCase());
    const def = target(table, ns, ing.spec?.defaultBackend);
    // Only an Ingress without rules becomes the catch-all (ingress-nginx's default server); with
    // rules, its defaultBackend serves the paths of its own hosts that nothing else takes.
    if (def && !table.defaultBackend && !(ing.spec?.rules ?? []).length) table.defaultBackend = def;
    for (const rule of ing.spec?.rules ?? []) {
      const host = String(rule?.host ?? '').toLowerCase();
      const hr = hostRoutes(host);
      if (def && !hr.defaultBackend) hr.defaultBackend = def;
      for (const p of rule?.http?.paths ?? []) {
        const t = target(table, ns, p?.backend);
        if (!t) continue;
        hr.routes.push({
          matcher: pathMatcher(String(p.path ?? '/'), String(p.pathType ?? 'ImplementationSpecific'), regexAllowed),
          target: t,
          ingress: `${ns}/${ing.metadata.name}`,
          rewriteTarget,
          sslRedirect: redirect && host !== '' && tlsHosts.has(host),
        });
      }
    }
  }
  // Stable: among equal paths the oldest Ingress stays first.
  const sortHost = (hr: HostRoutes) => hr.routes.sort((a, b) => comparePaths(a.matcher, b.matcher));
  for (const hr of table.exact.values()) sortHost(hr);
  for (const hr of table.wildcard.values()) sortHost(hr);
  if (table.catchAll) sortHost(table.catchAll);
  return table;
}

/** The host entry a request lands on, if any. */
export function hostEntry(table: RouteTable, host: string): HostRoutes | undefined {
  const exact = table.exact.get(host);
  if (exact) return exact;
  const dot = host.indexOf('.');
  if (dot > 0) {
    const w = table.wildcard.get(host.slice(dot + 1));
    if (w) return w;
  }
  return table.catchAll;
}

/** Route one request: `host` as sent (port allowed), `path` without the query string. */
export function route(table: RouteTable, host: string | undefined, path: string): Decision {
  const hr = hostEntry(table, normalizeHost(host));
  if (hr) {
    for (const r of hr.routes) if (matchPath(r.matcher, path)) return { kind: 'backend', target: r.target, route: r };
    if (hr.defaultBackend) return { kind: 'backend', target: hr.defaultBackend };
  }
  if (table.defaultBackend) return { kind: 'backend', target: table.defaultBackend };
  return { kind: 'not-found' };
}
