// The Ingress routing core against real manifests: the documented pathType table row by row,
// host rules (exact, one-label wildcard, no host), precedence, default backends, 404, classes.
import test from 'ava';
import YAML from 'yaml';
import { compileRoutes, normalizeHost, route, type Decision } from '../../src/addons/ingress/routes.js';
import { ownedBy } from '../../src/addons/ingress/classes.js';
import type { KObject } from '../../src/store/store.js';
import { PATH_TABLE, rowHost, rowManifest } from '../helpers/ingress-table.js';

const parse = (y: string): KObject[] => YAML.parseAllDocuments(y).map((d) => d.toJSON() as KObject).filter(Boolean);
const svcOf = (d: Decision) => (d.kind === 'backend' ? d.target.service : 404);

PATH_TABLE.forEach((row, i) => {
  const want = row.match === null ? 404 : row.match === 'default' ? 'svc-default' : `svc-${row.match}`;
  test(`pathType table row ${i + 1}: ${row.kind} ${row.paths.map((p) => `${p.path} (${p.pathType})`).join(', ')} <- ${row.request} => ${want}`, (t) => {
    const table = compileRoutes(parse(rowManifest(row, i)));
    t.is(svcOf(route(table, rowHost(i), row.request)), want);
  });
});

const SEED = `# The guide's path-based Ingress, verbatim.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: my-ingress
spec:
  rules:
  - host: app.example.com
    http:
      paths:
      - path: /api
        pathType: Prefix
        backend:
          service:
            name: api-service
            port:
              number: 80
      - path: /
        pathType: Prefix
        backend:
          service:
            name: frontend-service
            port:
              number: 80
`;

test("the guide's app.example.com: /api/... to api-service, the rest to frontend-service, YAML order irrelevant", (t) => {
  const table = compileRoutes(parse(SEED));
  for (const [path, svc] of [['/api', 'api-service'], ['/api/users/7', 'api-service'], ['/api/', 'api-service'], ['/', 'frontend-service'], ['/apis', 'frontend-service'], ['/index.html', 'frontend-service']]) {
    t.is(svcOf(route(table, 'app.example.com', path!)), svc, path);
  }
  t.is(svcOf(route(table, 'APP.example.com:80', '/api/x')), 'api-service', 'Host compared without port, case-insensitively');
  t.is(svcOf(route(table, 'other.example.com', '/api')), 404, 'unknown host, no default backend: 404');
  t.is(svcOf(route(table, undefined, '/')), 404);
});

const HOSTS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: host-rules, namespace: conformance}
spec:
  rules:
  - host: "*.foo.com"
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: wildcard-foo-com, port: {number: 8080}}}}]}
  - host: foo.bar.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: foo-bar-com, port: {name: http}}}}]}
`;

test('host rules (ICC host_rules.feature): exact host, a wildcard for exactly one label', (t) => {
  const table = compileRoutes(parse(HOSTS));
  t.is(svcOf(route(table, 'foo.bar.com', '/')), 'foo-bar-com');
  t.is(svcOf(route(table, 'subdomain.bar.com', '/')), 404);
  t.is(svcOf(route(table, 'bar.foo.com', '/')), 'wildcard-foo-com');
  t.is(svcOf(route(table, 'baz.bar.foo.com', '/')), 404, 'more than one label');
  t.is(svcOf(route(table, 'foo.com', '/')), 404, 'no label');
  const d = route(table, 'foo.bar.com', '/');
  t.deepEqual(d.kind === 'backend' && d.target, { namespace: 'conformance', service: 'foo-bar-com', port: { name: 'http' }, key: 'conformance/foo-bar-com:http' });
});

test('hosts before paths: an exact host does not fall through to host-less rules; unknown hosts do', (t) => {
  const table = compileRoutes(
    parse(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: a}
spec:
  rules:
  - host: a.test
    http: {paths: [{path: /only, pathType: Exact, backend: {service: {name: a, port: {number: 80}}}}]}
  - http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: any, port: {number: 80}}}}]}
`),
  );
  t.is(svcOf(route(table, 'a.test', '/only')), 'a');
  t.is(svcOf(route(table, 'a.test', '/other')), 404);
  t.is(svcOf(route(table, 'b.test', '/other')), 'any', 'a rule without host matches every other host');
});

test('defaultBackend: an Ingress without rules takes everything; a host without a matching path uses its Ingress default', (t) => {
  const docs = parse(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: default-backend, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  defaultBackend: {service: {name: echo-service, port: {number: 80}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: later-default, creationTimestamp: "2026-01-02T00:00:00Z"}
spec:
  defaultBackend: {service: {name: later, port: {number: 80}}}
  rules:
  - host: h.test
    http: {paths: [{path: /x, pathType: Prefix, backend: {service: {name: x, port: {number: 80}}}}]}
`);
  const table = compileRoutes(docs);
  for (const host of [undefined, 'anything.test', '10.0.0.1']) t.is(svcOf(route(table, host, '/some/sub/path')), 'echo-service', String(host));
  t.is(svcOf(route(table, 'h.test', '/x/y')), 'x');
  t.is(svcOf(route(table, 'h.test', '/y')), 'later', "the host's own Ingress default backend");
  t.is(svcOf(route(compileRoutes(docs.slice(1)), 'other.test', '/')), 404, 'an Ingress with rules does not catch other hosts');
});

test('conflicting paths: the oldest Ingress wins, whatever the list order', (t) => {
  const mk = (name: string, ts: string, svc: string) => `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ${name}, creationTimestamp: "${ts}"}
spec:
  rules: [{host: c.test, http: {paths: [{path: /p, pathType: Prefix, backend: {service: {name: ${svc}, port: {number: 80}}}}]}}]
`;
  const table = compileRoutes(parse([mk('new', '2026-02-01T00:00:00Z', 'newer'), mk('old', '2026-01-01T00:00:00Z', 'older')].join('---\n')));
  t.is(svcOf(route(table, 'c.test', '/p')), 'older');
});

test('ImplementationSpecific is Prefix; a regex only with use-regex/rewrite-target', (t) => {
  const table = compileRoutes(
    parse(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: is}
spec:
  rules:
  - host: is.test
    http: {paths: [{path: /app, pathType: ImplementationSpecific, backend: {service: {name: app, port: {number: 80}}}},
                   {path: "/v[0-9]+", pathType: ImplementationSpecific, backend: {service: {name: literal, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: rx, annotations: {nginx.ingress.kubernetes.io/use-regex: "true"}}
spec:
  rules:
  - host: rx.test
    http: {paths: [{path: "/v[0-9]+/", pathType: ImplementationSpecific, backend: {service: {name: versioned, port: {number: 80}}}}]}
`),
  );
  t.is(svcOf(route(table, 'is.test', '/app/x')), 'app');
  t.is(svcOf(route(table, 'is.test', '/application')), 404);
  t.is(svcOf(route(table, 'is.test', '/v1')), 404, 'without use-regex the path is literal');
  t.is(svcOf(route(table, 'rx.test', '/V2/items')), 'versioned', 'regex locations are case-insensitive, as ingress-nginx renders ~*');
});

test('ssl-redirect: on for hosts in the Ingress tls section unless the annotation says false', (t) => {
  const table = compileRoutes(
    parse(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: tls}
spec:
  tls: [{hosts: [s.test], secretName: s}]
  rules:
  - host: s.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}
  - host: plain.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: p, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: off, annotations: {nginx.ingress.kubernetes.io/ssl-redirect: "false"}}
spec:
  tls: [{hosts: [o.test], secretName: o}]
  rules:
  - host: o.test
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: o, port: {number: 80}}}}]}
`),
  );
  const redirect = (h: string) => {
    const d = route(table, h, '/');
    return d.kind === 'backend' && d.route?.sslRedirect;
  };
  t.true(redirect('s.test'));
  t.false(redirect('plain.test'));
  t.false(redirect('o.test'));
});

test('normalizeHost strips the port, a trailing dot, and lowercases', (t) => {
  t.is(normalizeHost('App.Example.COM:8443'), 'app.example.com');
  t.is(normalizeHost('app.example.com.'), 'app.example.com');
  t.is(normalizeHost('[::1]:80'), '[::1]');
  t.is(normalizeHost(undefined), '');
});

test('classes: ours by IngressClass controller, legacy annotation, or default class for class-less Ingresses', (t) => {
  const id = { controller: 'k8s.io/ingress-nginx', className: 'nginx' };
  const classes = parse(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx, annotations: {ingressclass.kubernetes.io/is-default-class: "true"}}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: traefik}
spec: {controller: traefik.io/ingress-controller}
`);
  const ing = (spec: string, ann = '') => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', annotations: ann ? { 'kubernetes.io/ingress.class': ann } : undefined }, spec: spec ? { ingressClassName: spec } : {} }) as KObject;
  const owned = ownedBy(id, classes);
  t.true(owned(ing('nginx')));
  t.false(owned(ing('traefik')));
  t.false(owned(ing('does-not-exist')));
  t.true(owned(ing('', 'nginx')));
  t.false(owned(ing('', 'traefik')));
  t.true(owned(ing('')), 'class-less + our class is the default');
  const notDefault = ownedBy(id, classes.map((c) => ({ ...c, metadata: { ...c.metadata, annotations: {} } })));
  t.false(notDefault(ing('')), 'class-less without a default class: ignored');
});
