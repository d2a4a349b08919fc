import test from 'ava';
import { humanAge, podStatusText, table } from '../../src/cli/printers.js';

const now = Date.parse('2026-11-22T12:00:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString();

test('ages render as kubectl renders them', (t) => {
  t.is(humanAge(ago(5), now), '5s');
  t.is(humanAge(ago(119), now), '119s');
  t.is(humanAge(ago(150), now), '2m30s');
  t.is(humanAge(ago(600), now), '10m');
  t.is(humanAge(ago(3 * 3600 + 60 * 5), now), '3h5m');
  t.is(humanAge(ago(30 * 3600), now), '30h');
  t.is(humanAge(ago(3 * 86400), now), '3d');
});

test('pod status text follows container states and deletion', (t) => {
  const base = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: 'n' } };
  t.is(podStatusText({ ...base, status: { phase: 'Running', containerStatuses: [{ state: { running: {} } }] } }), 'Running');
  t.is(podStatusText({ ...base, status: { phase: 'Running', containerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }] } }), 'CrashLoopBackOff');
  t.is(podStatusText({ ...base, status: { phase: 'Succeeded', containerStatuses: [{ state: { terminated: { reason: 'Completed', exitCode: 0 } } }] } }), 'Completed');
  t.is(podStatusText({ ...base, metadata: { name: 'p', deletionTimestamp: 'x' }, status: { phase: 'Running' } }), 'Terminating');
});

test('pods table with -o wide and -A', (t) => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'prod', creationTimestamp: ago(42) },
    spec: { nodeName: 'kemu-worker', containers: [{ name: 'a' }, { name: 'b' }] },
    status: { phase: 'Running', podIP: '10.244.1.2', containerStatuses: [{ ready: true, restartCount: 0, state: { running: {} } }, { ready: false, restartCount: 0, state: { running: {} } }] },
  };
  t.is(
    table('pods', [pod], { wide: true, allNamespaces: true }, now),
    'NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE   IP           NODE          NOMINATED NODE   READINESS GATES\n' +
      'prod        web-0   1/2     Running   0          42s   10.244.1.2   kemu-worker   <none>           <none>',
  );
});
