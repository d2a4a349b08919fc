// nginx.ingress.kubernetes.io/rewrite-target as ingress-nginx renders it:
//   location ~* "^<path>" { rewrite "(?i)<path>" <target> break; }
// nginx's `rewrite` replaces the WHOLE URI with the target when the regex matches, with $1…$9
// from the regex's groups, and appends the original query string. So the guides'
// `rewrite-target: /` sends /api/users to the backend as `/` (the well-known surprise), while
// `path: /api(/|$)(.*)` with `rewrite-target: /$2` strips the prefix.
import type { Route } from './routes.js';

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const cache = new WeakMap<Route, RegExp | null>();

function regexOf(r: Route): RegExp | null {
  let re = cache.get(r);
  if (re !== undefined) return re;
  const m = r.matcher;
  try {
    re = m.kind === 'Regex' ? new RegExp(`^${m.path}`, 'i') : new RegExp(`^${escapeRegex(m.path)}`, 'i');
  } catch {
    re = null;
  }
  cache.set(r, re);
  return re;
}

/** The upstream request target for `pathname` + `search` ("?a=b" or ""); unchanged without the annotation. */
export function rewriteUrl(r: Route | undefined, pathname: string, search: string): string {
  if (!r?.rewriteTarget) return pathname + search;
  const re = regexOf(r);
  const m = re?.exec(pathname);
  if (!m) return pathname + search;
  let out = r.rewriteTarget.replace(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? '');
  if (!out.startsWith('/')) out = `/${out}`;
  if (!search) return out;
  return out.includes('?') ? `${out}&${search.slice(1)}` : out + search;
}
