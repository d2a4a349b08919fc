// kemu dns-log: the daemon's side names clients from the store, filters by client, keeps time
// order across DNS pods; the CLI prints one readable line per query.
import test from 'ava';
import { DnsLog, matcher } from '../../src/daemon/dns-log-route.js';
import { formatDnsLog } from '../../src/cli/cmd-dns-log.js';
import { Store } from '../../src/store/store.js';
import { groupOfResource } from '../../src/api/resources.js';

function store(): Store {
  const s = new Store(groupOfResource);
  s.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'prod' }, spec: {}, status: { podIP: '10.244.1.5' } });
  s.create('pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'other', namespace: 'default' }, spec: {}, status: { podIP: '10.244.2.7' } });
  s.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'w1' }, status: { addresses: [{ type: 'InternalIP', address: '172.18.0.3' }] } });
  return s;
}

const q = (time: string, client: string, name: string, server = 'kube-system/coredns-a') => ({ time, server, client, proto: 'udp', name, type: 'A', rcode: 'NXDOMAIN', answers: [], source: 'cluster', micros: 12 });

test('clients are named from the store (pod or node); entries from two DNS pods come back in time order', (t) => {
  const log = new DnsLog(store());
  log.add([q('2026-12-01T10:00:00.300Z', '10.244.1.5', 'c.'), q('2026-12-01T10:00:00.100Z', '10.244.1.5', 'a.')], 0);
  log.add([q('2026-12-01T10:00:00.200Z', '172.18.0.3', 'b.', 'kube-system/coredns-b'), q('2026-12-01T10:00:00.250Z', '10.9.9.9', 'x.')], 3);
  const all = log.entries(() => true);
  t.deepEqual(all.map((e) => e.name), ['a.', 'b.', 'x.', 'c.']);
  t.deepEqual(all.map((e) => e.clientPod), ['prod/client', 'node w1', '', 'prod/client']);
  t.is(log.dropped, 3);
  t.deepEqual(log.entries(matcher('prod', [])).map((e) => e.name), ['a.', 'c.']);
  t.deepEqual(log.entries(matcher(null, ['prod/client']), 1).map((e) => e.name), ['c.']);
  t.deepEqual(log.entries(matcher('default', [])), []);
});

test('one readable line per query', (t) => {
  const line = formatDnsLog({ ...q('2026-12-01T10:00:00.123Z', '10.244.1.5', 'nothing.prod.svc.cluster.local.'), clientPod: 'prod/client' });
  t.is(line, '10:00:00.123  prod/client                  udp  A     nothing.prod.svc.cluster.local.                  NXDOMAIN -');
  const ans = formatDnsLog({ ...q('2026-12-01T10:00:00.123Z', '10.244.1.5', 'www.example.test.'), clientPod: '', rcode: 'NOERROR', answers: ['192.0.2.10'], source: 'upstream' });
  t.regex(ans, /10\.244\.1\.5 .* NOERROR  192\.0\.2\.10 \[upstream\]$/);
});
