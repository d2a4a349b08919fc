// /version, aggregated and legacy discovery, the openapi v3 stub and Tables, over HTTP with the
// Accept headers kubectl 1.32 sends.
import test from 'ava';
import { startApi } from '../helpers/api.js';

const AGG_ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

async function get(port: number, path: string, accept = 'application/json, */*') {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { accept } });
  return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
}

function portOf(api: Awaited<ReturnType<typeof startApi>>): number {
  return (api.api.server.address() as { port: number }).port;
}

test('/version says 1.32 so the kubectl dispatcher runs its built-in 1.32', async (t) => {
  const a = await startApi();
  try {
    const v = await get(portOf(a), '/version?timeout=5s');
    t.is(v.body.major, '1');
    t.is(v.body.minor, '32');
    t.regex(v.body.gitVersion, /^v1\.32\.\d+/);
  } finally {
    await a.close();
  }
});

test('aggregated discovery only for a v2 Accept, with the exact content type; legacy otherwise', async (t) => {
  const a = await startApi();
  const port = portOf(a);
  try {
    const apis = await get(port, '/apis?timeout=32s', AGG_ACCEPT);
    t.is(apis.type, 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    t.is(apis.body.kind, 'APIGroupDiscoveryList');
    const apps = apis.body.items.find((i: any) => i.metadata.name === 'apps');
    const deploy = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
    t.deepEqual(deploy.responseKind, { group: 'apps', version: 'v1', kind: 'Deployment' });
    t.deepEqual(deploy.shortNames, ['deploy']);
    t.deepEqual(deploy.categories, ['all']);
    t.true(deploy.subresources.some((s: any) => s.subresource === 'scale' && s.responseKind.kind === 'Scale'));
    const net = apis.body.items.find((i: any) => i.metadata.name === 'networking.k8s.io').versions[0].resources.map((r: any) => r.resource).sort();
    t.deepEqual(net, ['ingressclasses', 'ingresses', 'networkpolicies']);
    const core = await get(port, '/api', AGG_ACCEPT);
    t.is(core.body.items[0].metadata.name, '');
    const coreRes = core.body.items[0].versions[0].resources;
    for (const r of ['pods', 'services', 'endpoints', 'namespaces', 'secrets', 'configmaps', 'events']) t.truthy(coreRes.find((x: any) => x.resource === r), r);
    t.is(coreRes.find((x: any) => x.resource === 'namespaces').scope, 'Cluster');
    // kubectl 1.29 asks for v2beta1 only: it gets the legacy form.
    const old = await get(port, '/apis', 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json');
    t.is(old.type, 'application/json');
    t.is(old.body.kind, 'APIGroupList');
    const legacy = await get(port, '/apis/apps/v1');
    t.is(legacy.body.kind, 'APIResourceList');
    t.truthy(legacy.body.resources.find((r: any) => r.name === 'deployments/scale' && r.group === 'autoscaling' && r.kind === 'Scale'));
    t.is((await get(port, '/api')).body.kind, 'APIVersions');
  } finally {
    await a.close();
  }
});

test('the openapi v3 stub lists every served group version with a patch operation per kind', async (t) => {
  const a = await startApi();
  const port = portOf(a);
  try {
    const root = await get(port, '/openapi/v3');
    t.deepEqual(Object.keys(root.body.paths).sort(), ['api/v1', 'apis/apps/v1', 'apis/discovery.k8s.io/v1', 'apis/networking.k8s.io/v1']);
    const url = root.body.paths['apis/networking.k8s.io/v1'].serverRelativeURL;
    const doc = await get(port, url);
    const op = doc.body.paths['/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}'].patch;
    t.deepEqual(op['x-kubernetes-group-version-kind'], { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' });
    t.true(op.parameters.some((p: any) => p.name === 'fieldValidation'));
    t.truthy(doc.body.paths['/apis/networking.k8s.io/v1/ingressclasses/{name}']);
    t.is((await get(port, '/openapi/v2')).status, 404);
  } finally {
    await a.close();
  }
});

test('Tables: the apiserver columns, priority 1 for -o wide, row objects with metadata, list resourceVersion', async (t) => {
  const a = await startApi();
  const port = portOf(a);
  try {
    const c = await a.createService({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', labels: { tier: 'x' } }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
    t.is(c.code, 201);
    const tab = await get(port, '/api/v1/namespaces/default/services?limit=500', TABLE_ACCEPT);
    t.is(tab.body.kind, 'Table');
    t.truthy(tab.body.metadata.resourceVersion);
    t.deepEqual(
      tab.body.columnDefinitions.map((c: any) => [c.name, c.priority]),
      [['Name', 0], ['Type', 0], ['Cluster-IP', 0], ['External-IP', 0], ['Port(s)', 0], ['Age', 0], ['Selector', 1]],
    );
    const row = tab.body.rows[0];
    t.deepEqual(row.cells.slice(0, 5), ['web', 'ClusterIP', c.body.spec.clusterIP, '<none>', '80/TCP']);
    t.is(row.cells[6], 'app=web');
    t.is(row.object.kind, 'PartialObjectMetadata');
    t.deepEqual(row.object.metadata.labels, { tier: 'x' });
    t.is(row.object.metadata.namespace, 'default');
    const one = await get(port, '/api/v1/namespaces/default/services/web', TABLE_ACCEPT);
    t.is(one.body.rows.length, 1);
    const plain = await get(port, '/api/v1/namespaces/default/services/web');
    t.is(plain.body.kind, 'Service');
  } finally {
    await a.close();
  }
});

test('a watch with resourceVersion=0 starts with a synthetic ADDED, one-row Tables, and stays open', async (t) => {
  const a = await startApi();
  const port = portOf(a);
  try {
    await a.createService({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } });
    const ctl = new AbortController();
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/namespaces/default/services?fieldSelector=metadata.name%3Dweb&resourceVersion=0&watch=true`, {
      headers: { accept: TABLE_ACCEPT },
      signal: ctl.signal,
    });
    const reader = r.body!.getReader();
    let buf = '';
    const next = async () => {
      while (!buf.includes('\n')) buf += new TextDecoder().decode((await reader.read()).value);
      const i = buf.indexOf('\n');
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      return JSON.parse(line);
    };
    const first = await next();
    t.is(first.type, 'ADDED');
    t.is(first.object.kind, 'Table');
    t.is(first.object.rows.length, 1);
    t.is(first.object.rows[0].cells[0], 'web');
    t.true(first.object.columnDefinitions.length > 0);
    await new Promise((res) => setTimeout(res, 300));
    await a.req('PATCH', '/api/v1/namespaces/default/services/web', { metadata: { labels: { x: 'y' } } });
    const second = await next();
    t.is(second.type, 'MODIFIED');
    t.deepEqual(second.object.columnDefinitions, []);
    t.deepEqual(second.object.rows[0].object.metadata.labels, { x: 'y' });
    ctl.abort();
  } finally {
    await a.close();
  }
});
