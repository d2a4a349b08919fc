// The documented pathType example table (kubernetes.io "Ingress" > Examples; the reference's
// §4), row by row: each row becomes one real Ingress manifest whose paths send to backends
// svc-0, svc-1, … in the order listed, on a host of its own. Shared by the unit test of the
// routing core and the integration test against a live controller.

export interface TableRow {
  kind: string;
  paths: Array<{ path: string; pathType: 'Exact' | 'Prefix' }>;
  request: string;
  /** Index into `paths` of the path that must answer; 'default' = the default backend; null = no match (404). */
  match: number | 'default' | null;
}

const P = (path: string) => ({ path, pathType: 'Prefix' as const });
const E = (path: string) => ({ path, pathType: 'Exact' as const });

export const PATH_TABLE: TableRow[] = [
  { kind: 'Prefix', paths: [P('/')], request: '/anything/at/all', match: 0 },
  { kind: 'Exact', paths: [E('/foo')], request: '/foo', match: 0 },
  { kind: 'Exact', paths: [E('/foo')], request: '/bar', match: null },
  { kind: 'Exact', paths: [E('/foo')], request: '/foo/', match: null },
  { kind: 'Exact', paths: [E('/foo/')], request: '/foo', match: null },
  { kind: 'Prefix', paths: [P('/foo')], request: '/foo', match: 0 },
  { kind: 'Prefix', paths: [P('/foo')], request: '/foo/', match: 0 },
  { kind: 'Prefix', paths: [P('/foo/')], request: '/foo', match: 0 },
  { kind: 'Prefix', paths: [P('/foo/')], request: '/foo/', match: 0 },
  { kind: 'Prefix', paths: [P('/aaa/bb')], request: '/aaa/bbb', match: null },
  { kind: 'Prefix', paths: [P('/aaa/bbb')], request: '/aaa/bbb', match: 0 },
  { kind: 'Prefix', paths: [P('/aaa/bbb/')], request: '/aaa/bbb', match: 0 },
  { kind: 'Prefix', paths: [P('/aaa/bbb')], request: '/aaa/bbb/', match: 0 },
  { kind: 'Prefix', paths: [P('/aaa/bbb')], request: '/aaa/bbb/ccc', match: 0 },
  { kind: 'Prefix', paths: [P('/aaa/bbb')], request: '/aaa/bbbxyz', match: null },
  { kind: 'Prefix', paths: [P('/'), P('/aaa')], request: '/aaa/ccc', match: 1 },
  { kind: 'Prefix', paths: [P('/'), P('/aaa'), P('/aaa/bbb')], request: '/aaa/bbb', match: 2 },
  { kind: 'Prefix', paths: [P('/'), P('/aaa'), P('/aaa/bbb')], request: '/ccc', match: 0 },
  { kind: 'Prefix', paths: [P('/aaa')], request: '/ccc', match: 'default' },
  { kind: 'Mixed', paths: [P('/foo'), E('/foo')], request: '/foo', match: 1 },
];

export const rowHost = (i: number) => `row${i}.paths.test`;

/** The row's Ingress; the default-backend row gets spec.defaultBackend -> svc-default. */
export function rowManifest(row: TableRow, i: number, namespace = 'default'): string {
  const paths = row.paths
    .map((p, j) => `      - path: ${p.path}\n        pathType: ${p.pathType}\n        backend:\n          service:\n            name: svc-${j}\n            port:\n              number: 80\n`)
    .join('');
  const def = row.match === 'default' ? '  defaultBackend:\n    service:\n      name: svc-default\n      port:\n        number: 80\n' : '';
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: row-${i}
  namespace: ${namespace}
spec:
  ingressClassName: nginx
${def}  rules:
  - host: ${rowHost(i)}
    http:
      paths:
${paths}`;
}
