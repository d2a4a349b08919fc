// Ingress path matching as networking.k8s.io/v1 defines it (types.go `PathType`): Exact is a
// case-sensitive full match; Prefix matches element-wise on `/`, ignoring a trailing `/` in the
// rule and in the request, so `/foo/bar` matches `/foo/bar/baz` but not `/foo/barbaz`.
// ImplementationSpecific is the controller's to define; kemu treats it as Prefix (the
// reference's recommendation), except that with ingress-nginx's `use-regex` or `rewrite-target`
// annotations a path containing regex characters is a case-insensitive regex anchored at the
// start, as ingress-nginx >= 1.8 allows only for ImplementationSpecific paths.

export type MatchKind = 'Exact' | 'Prefix' | 'Regex';

export interface PathMatcher {
  kind: MatchKind;
  /** The rule's path as written. */
  path: string;
  /** Prefix: the path without its trailing slash ('' for `/`). */
  prefix: string;
  regex?: RegExp;
  /** Sort key: longer first. A regex sorts by its source length, as ingress-nginx orders locations. */
  length: number;
}

const REGEX_CHARS = /[\^$*+?()[\]{}|\\]/;

export function pathMatcher(path: string, pathType: string, regexAllowed: boolean): PathMatcher {
  const p = path || '/';
  if (pathType === 'ImplementationSpecific' && regexAllowed && REGEX_CHARS.test(p)) {
    let regex: RegExp | undefined;
    try {
      regex = new RegExp(`^${p}`, 'i');
    } catch {
      regex = undefined; // an invalid regex matches nothing, as nginx would refuse the location
    }
    return { kind: 'Regex', path: p, prefix: p, regex, length: p.length };
  }
  if (pathType === 'Exact') return { kind: 'Exact', path: p, prefix: p, length: p.length };
  const prefix = p.replace(/\/+$/, '');
  return { kind: 'Prefix', path: p, prefix, length: prefix.length };
}

/** Does the request path (no query string) match? */
export function matchPath(m: PathMatcher, reqPath: string): boolean {
  switch (m.kind) {
    case 'Exact':
      return reqPath === m.path;
    case 'Prefix':
      // `/` (prefix '') matches everything; otherwise whole elements only.
      if (m.prefix === '') return true;
      if (!reqPath.startsWith(m.prefix)) return false;
      return reqPath.length === m.prefix.length || reqPath.charCodeAt(m.prefix.length) === 47; /* '/' */
    case 'Regex':
      return m.regex !== undefined && m.regex.test(reqPath);
  }
}

/**
 * Precedence among the paths of one host: the longest path first; on equal length Exact before
 * Prefix (the spec), regexes after plain paths of the same length; then the order given
 * (oldest Ingress first, as ingress-nginx resolves duplicate paths).
 */
export function comparePaths(a: PathMatcher, b: PathMatcher): number {
  if (a.length !== b.length) return b.length - a.length;
  const rank = (k: MatchKind) => (k === 'Exact' ? 0 : k === 'Prefix' ? 1 : 2);
  return rank(a.kind) - rank(b.kind);
}
