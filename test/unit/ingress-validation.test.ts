// What the apiserver refuses in an Ingress (issue 6 "Objects") and how it stores a TLS Secret.
import test from 'ava';
import { applyDefaults, validate } from '../../src/api/validation.js';

const ing = (rules: any[], extra: any = {}): any => ({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'i', namespace: 'default' }, spec: { rules, ...extra } });
const rule = (host: string | undefined, path: any): any => ({ ...(host !== undefined ? { host } : {}), http: { paths: [{ backend: { service: { name: 's', port: { number: 80 } } }, ...path }] } });
const msgs = (o: any) => validate(applyDefaults(o)).map((c) => c.message);

test('a valid Ingress passes; pathType is required; Exact/Prefix paths must start with /', (t) => {
  t.deepEqual(msgs(ing([rule('app.example.com', { path: '/api', pathType: 'Prefix' }), rule('*.foo.com', { path: '/', pathType: 'Exact' })])), []);
  t.deepEqual(msgs(ing([rule('a.test', { path: '/api' })])), ['spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified']);
  t.deepEqual(msgs(ing([rule('a.test', { path: 'api', pathType: 'Prefix' })])), ['spec.rules[0].http.paths[0].path: Invalid value: "api": must be an absolute path']);
  t.deepEqual(msgs(ing([rule('a.test', { path: '/', pathType: 'Regex' })])), ['spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"']);
});

test('host: no IP, no port, a wildcard only as the whole first label, a bare * refused', (t) => {
  t.deepEqual(msgs(ing([rule('172.18.255.1', { path: '/', pathType: 'Prefix' })])), ['spec.rules[0].host: Invalid value: "172.18.255.1": must be a DNS name, not an IP address']);
  t.regex(msgs(ing([rule('app.example.com:8080', { path: '/', pathType: 'Prefix' })]))[0]!, /^spec\.rules\[0\]\.host: Invalid value: "app\.example\.com:8080": a lowercase RFC 1123 subdomain/);
  for (const h of ['*', 'foo.*.com', '*foo.com', '*.*.foo.com']) {
    t.regex(msgs(ing([rule(h, { path: '/', pathType: 'Prefix' })]))[0]!, /a wildcard DNS-1123 subdomain must start with '\*\.'/, h);
  }
});

test('an Ingress needs rules or a defaultBackend', (t) => {
  const m = msgs(ing([]));
  t.is(m.length, 1);
  t.regex(m[0]!, /^spec: Invalid value: .*either `defaultBackend` or `rules` must be specified$/);
  t.deepEqual(msgs({ ...ing([]), spec: { defaultBackend: { service: { name: 'echo', port: { number: 80 } } } } }), []);
});

test('Secret: stringData folded into base64 data; kubernetes.io/tls needs tls.crt and tls.key', (t) => {
  const s = applyDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls-secret', namespace: 'default' }, type: 'kubernetes.io/tls', stringData: { 'tls.crt': 'CERT', 'tls.key': 'KEY' } });
  t.deepEqual(s.data, { 'tls.crt': Buffer.from('CERT').toString('base64'), 'tls.key': Buffer.from('KEY').toString('base64') });
  t.is(s.stringData, undefined);
  t.deepEqual(validate(s), []);
  const bad = applyDefaults({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Q0VSVA==' } });
  t.deepEqual(validate(bad).map((c) => c.message), ['data[tls.key]: Required value']);
});

test('DefaultIngressClass admission: a class-less Ingress gets the default class; two defaults refuse it', async (t) => {
  const { admit } = await import('../../src/api/admission.js');
  const { groupOfResource, resourceInfo } = await import('../../src/api/resources.js');
  const { Store } = await import('../../src/store/store.js');
  const store = new Store(groupOfResource);
  store.create('namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const cls = (name: string, def: boolean): any => ({ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name, annotations: def ? { 'ingressclass.kubernetes.io/is-default-class': 'true' } : {} }, spec: { controller: `example.com/${name}` } });
  const info = resourceInfo('ingresses')!;
  const classless = ing([rule('a.test', { path: '/', pathType: 'Prefix' })]);
  t.is(admit(store, info, structuredClone(classless), 'create', null).object.spec.ingressClassName, undefined, 'no default class: left alone');
  store.create('ingressclasses', cls('nginx', true));
  store.create('ingressclasses', cls('other', false));
  t.is(admit(store, info, structuredClone(classless), 'create', null).object.spec.ingressClassName, 'nginx');
  t.is(admit(store, info, ing([rule('a.test', { path: '/', pathType: 'Prefix' })], { ingressClassName: 'other' }), 'create', null).object.spec.ingressClassName, 'other');
  const legacy = { ...structuredClone(classless), metadata: { name: 'i', namespace: 'default', annotations: { 'kubernetes.io/ingress.class': 'other' } } };
  t.is(admit(store, info, legacy, 'create', null).object.spec.ingressClassName, undefined, 'the legacy annotation counts as a class');
  store.create('ingressclasses', cls('second', true));
  const err = t.throws(() => admit(store, info, structuredClone(classless), 'create', null));
  t.is(err?.message, 'ingresses.networking.k8s.io "i" is forbidden: 2 default IngressClasses were found, only 1 allowed');
});
