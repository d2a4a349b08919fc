// `kemu explain` end to end through the real API server (in process, on a unix socket under a
// temporary KEMU_RUN_DIR): the CLI lists the objects over HTTP and explains locally.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiServer } from '../../src/api/server.js';
import { groupOfResource, resourceByPath } from '../../src/api/schema.js';
import { Client, ClientError } from '../../src/cli/client.js';
import { cmdExplain, fetchExplainInput } from '../../src/cli/cmd-explain.js';
import { Store } from '../../src/store/store.js';
import { docs, namespace, pod } from '../helpers/policy-world.js';

const CLUSTER = 'policy-cli-test';
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kemu-run-'));
process.env.KEMU_RUN_DIR = runDir;
fs.mkdirSync(path.join(runDir, CLUSTER));

const store = new Store(groupOfResource);
const api = new ApiServer(store);
const POLICY = docs(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: production}
spec: {podSelector: {}, policyTypes: [Ingress]}
`)[0]!;
const policyKindServed = resourceByPath('networking.k8s.io', 'v1', 'networkpolicies') !== undefined;

test.before(async () => {
  for (const ns of ['default', 'production']) store.create('namespaces', namespace(ns) as any);
  store.create('pods', pod('production', 'backend-7d9f', { app: 'backend' }, '10.244.1.5', 'kemu-worker', [{ containerPort: 8080 }]) as any);
  store.create('pods', pod('default', 'frontend-5c4b', { app: 'frontend' }, '10.244.0.7', 'kemu-control-plane') as any);
  store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'kemu-worker' }, status: { addresses: [{ type: 'InternalIP', address: '172.18.0.3' }] } } as any);
  if (policyKindServed) store.create('networkpolicies', POLICY as any);
  await new Promise<void>((r) => api.server.listen(path.join(runDir, CLUSTER, 'api.sock'), r));
});

test.after.always(async () => {
  api.services.detach();
  api.server.closeAllConnections();
  await new Promise<void>((r) => api.server.close(() => r()));
  fs.rmSync(runDir, { recursive: true, force: true });
});

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    const code = await fn();
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

test.serial('the CLI fetches pods, namespaces, nodes and policies over the API and explains', async (t) => {
  const { input, warnings } = await fetchExplainInput(new Client(CLUSTER));
  t.deepEqual(
    input.pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(),
    ['default/frontend-5c4b', 'production/backend-7d9f'],
  );
  t.deepEqual(input.nodes, [{ name: 'kemu-worker', ip: (172 << 24) | (18 << 16) | 3 }]);
  const r = await capture(() => cmdExplain(CLUSTER, { from: 'default/frontend-5c4b', to: 'production/backend-7d9f', port: '8080', namespace: [] }));
  t.is(r.code, 0);
  if (policyKindServed) {
    t.deepEqual(warnings, []);
    t.true(r.out.includes('NetworkPolicy production/default-deny-ingress selects production/backend-7d9f, but no ingress rule allows default/frontend-5c4b'), r.out);
  } else {
    // the daemon does not serve the kind yet: 404 "could not find the requested resource"
    t.deepEqual(warnings, ['this cluster does not serve networking.k8s.io/v1 NetworkPolicy; explaining with no policies']);
    t.true(r.err.includes('Warning: this cluster does not serve'));
    t.true(r.out.startsWith('default/frontend-5c4b (10.244.0.7) -> production/backend-7d9f (10.244.1.5) TCP/8080: ALLOWED'), r.out);
  }
});

test.serial('matrix and JSON output', async (t) => {
  const r = await capture(() => cmdExplain(CLUSTER, { matrix: true, namespace: ['default', 'production'] }));
  t.is(r.out.split('\n')[0], '8080/TCP (rows: from, columns: to; . allowed, X denied):');
  t.is(r.out.split('\n')[1], '-\tdefault/frontend-5c4b\tproduction/backend-7d9f');
  t.is(r.out.split('\n')[2], `default/frontend-5c4b\t.\t${policyKindServed ? 'X' : '.'}`);
  const j = await capture(() => cmdExplain(CLUSTER, { from: 'default/frontend-5c4b', to: 'production/backend-7d9f', port: '8080/tcp', namespace: [], output: 'json' }));
  const parsed = JSON.parse(j.out);
  t.is(parsed.allowed, !policyKindServed);
  t.deepEqual(parsed.targets, [{ destination: 'production/backend-7d9f', ip: '10.244.1.5', port: 8080, allowed: !policyKindServed }]);
});

test('only an unknown-resource 404 means "no policies"; other errors surface', async (t) => {
  const failing = {
    get: async (p: string) => {
      if (p.includes('networkpolicies')) throw new ClientError(404, 'NotFound', 'networkpolicies.networking.k8s.io "x" not found');
      return { items: [] };
    },
  } as unknown as Client;
  await t.throwsAsync(() => fetchExplainInput(failing), { message: /not found/ });
  const forbidden = { get: async () => Promise.reject(new ClientError(403, 'Forbidden', 'no')) } as unknown as Client;
  await t.throwsAsync(() => fetchExplainInput(forbidden), { message: 'no' });
});

test('bad arguments are reported before contacting the daemon', async (t) => {
  await t.throwsAsync(() => cmdExplain('no-such-cluster', { from: 'a/b', namespace: [] }), { message: /want --from NS\/POD/ });
  await t.throwsAsync(() => cmdExplain('no-such-cluster', { matrix: true, from: 'a/b', namespace: [] }), { message: /--matrix takes -n/ });
});
