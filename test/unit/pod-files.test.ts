import test from 'ava';
import { hostsFile, resolvConf } from '../../src/runtime/pod-files.js';

const dns = { clusterDNS: '10.96.0.10', clusterDomain: 'cluster.local', nodeResolvConf: 'nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n' };
const pod = (spec: any, ns = 'prod') => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0', namespace: ns }, spec });

test('ClusterFirst: kube-dns, the three search domains (then the node\'s) and ndots:5', (t) => {
  t.is(resolvConf(pod({}), dns), 'search prod.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n');
});

test('Default uses the node resolv.conf; hostNetwork with ClusterFirst falls back to Default', (t) => {
  const expected = 'search corp.example\nnameserver 192.0.2.53\noptions edns0\n';
  t.is(resolvConf(pod({ dnsPolicy: 'Default' }), dns), expected);
  t.is(resolvConf(pod({ hostNetwork: true }), dns), expected);
  t.is(resolvConf(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), dns).split('\n')[1], 'nameserver 10.96.0.10');
});

test('None with dnsConfig, and dnsConfig merged into ClusterFirst (options override by name)', (t) => {
  t.is(
    resolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.2.3.4'], searches: ['a.example'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }), dns),
    'search a.example\nnameserver 1.2.3.4\noptions ndots:2 edns0\n',
  );
  t.is(
    resolvConf(pod({ dnsConfig: { searches: ['x.example'], options: [{ name: 'ndots', value: '1' }] } }), dns),
    'search prod.svc.cluster.local svc.cluster.local cluster.local corp.example x.example\nnameserver 10.96.0.10\noptions ndots:1\n',
  );
});

test('/etc/hosts in the kubelet format, with subdomain FQDN and hostAliases', (t) => {
  const h = hostsFile(pod({ hostname: 'web-0', subdomain: 'nginx', hostAliases: [{ ip: '127.0.0.1', hostnames: ['foo.local', 'bar.local'] }] }), '10.244.1.5', 'cluster.local');
  t.is(
    h,
    '# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n10.244.1.5\tweb-0.nginx.prod.svc.cluster.local\tweb-0\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n',
  );
  t.true(hostsFile(pod({}), '10.244.1.6', 'cluster.local').endsWith('10.244.1.6\tweb-0\n'));
});

test('ClusterFirst appends the node search domains (trailing dot trimmed, duplicates dropped)', (t) => {
  const host = { ...dns, nodeResolvConf: 'nameserver 192.0.2.53\nsearch corp.example. cluster.local\n' };
  t.is(resolvConf(pod({}), host), 'search prod.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.96.0.10\noptions ndots:5\n');
});

test('dnsConfig merge: nameservers deduplicated and capped at 3; search list cut to 32 domains and 2048 characters', (t) => {
  const many = Array.from({ length: 40 }, (_, i) => `d${i}.example`);
  const r = resolvConf(pod({ dnsConfig: { nameservers: ['10.96.0.10', '1.1.1.1', '8.8.8.8', '9.9.9.9'], searches: many } }), dns);
  t.is(r.split('\n').filter((l) => l.startsWith('nameserver')).join(','), 'nameserver 10.96.0.10,nameserver 1.1.1.1,nameserver 8.8.8.8');
  t.is(r.split('\n')[0]!.split(' ').length - 1, 32);
  const long = Array.from({ length: 20 }, (_, i) => `${'x'.repeat(150)}${i}.example`);
  const line = resolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'], searches: long } }), dns).split('\n')[0]!;
  t.true(line.length - 'search '.length <= 2048);
  t.is(line.split(' ').length - 1, 12);
});

test('e2e: a search path with an underscore and a single dot are kept as written', (t) => {
  const r = resolvConf(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.1.1.1'], searches: ['_foo.example', '.'] } }), dns);
  t.is(r, 'search _foo.example .\nnameserver 1.1.1.1\n');
});
