import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadManifests, parseManifestText } from '../../src/api/manifests.js';
import { applyDefaults, ignoredFields, statusInvalid, strictDecode, typeError, validate } from '../../src/api/validation.js';

const pod = (spec: object, name = 'p'): any => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec });

test('a port out of range is reported with the apiserver wording and path', (t) => {
  const o = applyDefaults(pod({ containers: [{ name: 'c', image: 'nginx', ports: [{ containerPort: 70000 }] }] }));
  const causes = validate(o);
  t.is(causes.length, 1);
  t.is(causes[0]!.message, 'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive');
  const st = statusInvalid('Pod', 'p', '', causes);
  t.is(st.message, 'Pod "p" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive');
  t.deepEqual(st.details.causes[0], { reason: 'FieldValueInvalid', field: 'spec.containers[0].ports[0].containerPort', message: 'Invalid value: 70000: must be between 1 and 65535, inclusive' });
});

test('several errors are listed in brackets; names, restartPolicy and duplicates are checked', (t) => {
  const o = applyDefaults(pod({ restartPolicy: 'Sometimes', containers: [{ name: 'c', image: 'x' }, { name: 'c' }] }, 'Bad_Name'));
  const msgs = validate(o).map((c) => c.message);
  t.true(msgs.some((m) => m.startsWith('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')));
  t.true(msgs.includes('spec.containers[1].name: Duplicate value: "c"'));
  t.true(msgs.includes('spec.containers[1].image: Required value'));
  t.true(msgs.includes('spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"'));
  t.regex(statusInvalid('Pod', 'Bad_Name', '', validate(o)).message, /^Pod "Bad_Name" is invalid: \[metadata\.name: .*, spec\..*\]$/);
});

test('defaults match the apiserver', (t) => {
  const o = applyDefaults(pod({ containers: [{ name: 'c', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }] }));
  t.is(o.spec.restartPolicy, 'Always');
  t.is(o.spec.dnsPolicy, 'ClusterFirst');
  t.is(o.spec.terminationGracePeriodSeconds, 30);
  t.is(o.spec.containers[0].ports[0].protocol, 'TCP');
  t.is(o.spec.containers[0].imagePullPolicy, 'IfNotPresent');
  const d = applyDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } });
  t.is(d.spec.replicas, 1);
  t.deepEqual(d.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  t.is(d.spec.template.spec.containers[0].imagePullPolicy, 'Always');
  t.deepEqual(validate(d), []);
});

test('a Deployment whose selector does not match its template is refused', (t) => {
  const d = applyDefaults({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'c' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } } } });
  t.deepEqual(validate(d).map((c) => c.message), ['spec.template.metadata.labels: Invalid value: {"a":"c"}: `selector` does not match template `labels`']);
});

test('strict decoding names unknown fields; type errors read like Go; ignored fields are listed', (t) => {
  const o = pod({ contaners: [], containers: [{ name: 'c', image: 'x', imagee: 'y', resources: { limits: { cpu: '1' } } }] });
  t.deepEqual(strictDecode(o), ['spec.contaners', 'spec.containers[0].imagee']);
  t.deepEqual(ignoredFields(o), ['spec.containers[0].resources']);
  const te = typeError(pod({ containers: [{ name: 'c', image: 'x', ports: [{ containerPort: '80' }] }] }));
  t.is(te?.message, 'json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32');
});

test('manifests: multi-document files, Lists, directories, stdin; errors name the file and line', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-manifests-'));
  fs.writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n');
  fs.writeFileSync(path.join(dir, 'b.yml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a manifest');
  const r = loadManifests([dir, '-'], '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"c"}}');
  t.deepEqual(r.objects.map((o) => (o.object.metadata as any).name), ['a', 'b', 'c']);
  t.is(r.objects[2]!.source, 'STDIN');
  t.is(r.errors.length, 1);
  t.regex(r.errors[0]!.message, /b\.yml: yaml: line \d+/);
  t.regex(parseManifestText('kind: Pod\n', 'x.yaml').errors[0]!.message, /x\.yaml.*apiVersion not set/);
  t.regex(loadManifests([path.join(dir, 'missing.yaml')]).errors[0]!.message, /does not exist/);
  fs.rmSync(dir, { recursive: true });
});
