// The resolver core against CoreDNS's kubernetes plugin as kubeadm configures it (reference §1):
// real query bytes in, real answer bytes out (decoded with dns-packet). "compat" marks CoreDNS
// behaviour beyond the DNS spec.
import test from 'ava';
import { reverseName } from '../../src/addons/dns/names.js';
import { ask, handler, rr } from './dns-fixture.js';

const SOA = 'cluster.local 30 SOA ns.dns.cluster.local hostmaster.cluster.local 1700000000 7200 1800 86400 30';

test('A of a ClusterIP Service: aa, ttl 30, the question echoed in its own case', async (t) => {
  const h = handler();
  const r = await ask(h, 'SvC1.TestNS.svc.Cluster.Local', 'A');
  t.is(r.rcode, 'NOERROR');
  t.true(r.flag_aa);
  t.true(r.flag_ra);
  t.true(r.flag_rd);
  t.is(r.questions[0]!.name, 'SvC1.TestNS.svc.Cluster.Local');
  t.deepEqual(rr(r.answers), ['SvC1.TestNS.svc.Cluster.Local 30 A 10.96.0.100']);
  t.deepEqual(rr(r.authorities), []);
});

test('AAAA of an IPv4 Service is NODATA (NOERROR, no answer, SOA in authority), not NXDOMAIN', async (t) => {
  const r = await ask(handler(), 'svc1.testns.svc.cluster.local', 'AAAA');
  t.is(r.rcode, 'NOERROR');
  t.true(r.flag_aa);
  t.is(r.answers.length, 0);
  t.deepEqual(rr(r.authorities), [SOA]);
});

test('dual-stack Service: A and AAAA each give their family; bare SRV weight 50 with both addresses (compat)', async (t) => {
  const h = handler();
  t.deepEqual(rr((await ask(h, 'dual.testns.svc.cluster.local', 'A')).answers), ['dual.testns.svc.cluster.local 30 A 10.96.0.101']);
  t.deepEqual(rr((await ask(h, 'dual.testns.svc.cluster.local', 'AAAA')).answers), ['dual.testns.svc.cluster.local 30 AAAA fd00:10:96::101']);
  const srv = await ask(h, 'dual.testns.svc.cluster.local', 'SRV');
  t.deepEqual(rr(srv.answers), ['dual.testns.svc.cluster.local 30 SRV 0 50 80 dual.testns.svc.cluster.local']);
  t.deepEqual(rr(srv.additionals), ['dual.testns.svc.cluster.local 30 A 10.96.0.101', 'dual.testns.svc.cluster.local 30 AAAA fd00:10:96::101']);
});

test('NXDOMAIN with SOA for a missing Service, a missing namespace, a non-svc/pod label, a too-long name', async (t) => {
  const h = handler();
  for (const name of ['nope.testns.svc.cluster.local', 'svc1.nsnoexist.svc.cluster.local', 'foo.cluster.local', 'a.b.c.svc1.testns.svc.cluster.local', 'x.db-0.hdls1.testns.svc.cluster.local']) {
    const r = await ask(h, name, 'A');
    t.is(r.rcode, 'NXDOMAIN', name);
    t.true(r.flag_aa, name);
    t.deepEqual(rr(r.authorities), [SOA], name);
  }
});

test('structural names are NODATA: the zone, svc., pod., an existing namespace', async (t) => {
  const h = handler();
  for (const name of ['cluster.local', 'svc.cluster.local', 'pod.cluster.local', 'testns.svc.cluster.local', 'testns.pod.cluster.local']) {
    const r = await ask(h, name, 'A');
    t.is(r.rcode, 'NOERROR', name);
    t.is(r.answers.length, 0, name);
    t.deepEqual(rr(r.authorities), [SOA], name);
  }
  t.is((await ask(h, 'nsnoexist.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
});

test('headless: one A per ready endpoint; NXDOMAIN when none is ready', async (t) => {
  const h = handler();
  const r = await ask(h, 'hdls1.testns.svc.cluster.local', 'A');
  t.deepEqual(rr(r.answers), ['hdls1.testns.svc.cluster.local 30 A 172.0.0.2', 'hdls1.testns.svc.cluster.local 30 A 172.0.0.3']);
  t.is((await ask(h, 'empty.testns.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
});

test('headless per-endpoint names: hostname, and the dashed IP for endpoints without one; not-ready ones absent', async (t) => {
  const h = handler();
  t.deepEqual(rr((await ask(h, 'db-0.hdls1.testns.svc.cluster.local', 'A')).answers), ['db-0.hdls1.testns.svc.cluster.local 30 A 172.0.0.3']);
  t.deepEqual(rr((await ask(h, '172-0-0-2.hdls1.testns.svc.cluster.local', 'A')).answers), ['172-0-0-2.hdls1.testns.svc.cluster.local 30 A 172.0.0.2']);
  t.is((await ask(h, '172-0-0-4.hdls1.testns.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
  // compat: endpoint names under a ClusterIP Service resolve to the endpoint.
  t.deepEqual(rr((await ask(h, '10-244-1-10.svc1.testns.svc.cluster.local', 'A')).answers), ['10-244-1-10.svc1.testns.svc.cluster.local 30 A 10.244.1.10']);
});

test('SRV for a named port: priority 0, weight 100, target the Service, address in additional', async (t) => {
  const r = await ask(handler(), '_http._tcp.svc1.testns.svc.cluster.local', 'SRV');
  t.deepEqual(rr(r.answers), ['_http._tcp.svc1.testns.svc.cluster.local 30 SRV 0 100 80 svc1.testns.svc.cluster.local']);
  t.deepEqual(rr(r.additionals), ['svc1.testns.svc.cluster.local 30 A 10.96.0.100']);
  t.is((await ask(handler(), '_nope._tcp.svc1.testns.svc.cluster.local', 'SRV')).rcode, 'NXDOMAIN');
  t.is((await ask(handler(), '_http._udp.svc1.testns.svc.cluster.local', 'SRV')).rcode, 'NXDOMAIN');
});

test('bare-name SRV lists every port (compat); headless SRV targets hostname or dashed IP', async (t) => {
  const h = handler();
  const bare = await ask(h, 'svc1.testns.svc.cluster.local', 'SRV');
  t.deepEqual(rr(bare.answers), ['svc1.testns.svc.cluster.local 30 SRV 0 50 443 svc1.testns.svc.cluster.local', 'svc1.testns.svc.cluster.local 30 SRV 0 50 80 svc1.testns.svc.cluster.local']);
  t.deepEqual(rr(bare.additionals), ['svc1.testns.svc.cluster.local 30 A 10.96.0.100']);
  const hs = await ask(h, '_http._tcp.hdls1.testns.svc.cluster.local', 'SRV');
  t.deepEqual(rr(hs.answers), [
    '_http._tcp.hdls1.testns.svc.cluster.local 30 SRV 0 50 80 172-0-0-2.hdls1.testns.svc.cluster.local',
    '_http._tcp.hdls1.testns.svc.cluster.local 30 SRV 0 50 80 db-0.hdls1.testns.svc.cluster.local',
  ]);
  t.deepEqual(rr(hs.additionals), ['172-0-0-2.hdls1.testns.svc.cluster.local 30 A 172.0.0.2', 'db-0.hdls1.testns.svc.cluster.local 30 A 172.0.0.3']);
});

test('PTR of a ClusterIP, of a headless endpoint (hostname and dashed), of a ClusterIP Service endpoint (compat)', async (t) => {
  const h = handler();
  const p = async (ip: string) => rr((await ask(h, reverseName(ip), 'PTR')).answers).map((l) => l.split(' ').slice(1).join(' '));
  t.deepEqual(await p('10.96.0.100'), ['30 PTR svc1.testns.svc.cluster.local']);
  t.deepEqual(await p('172.0.0.3'), ['30 PTR db-0.hdls1.testns.svc.cluster.local']);
  t.deepEqual(await p('172.0.0.2'), ['30 PTR 172-0-0-2.hdls1.testns.svc.cluster.local']);
  t.deepEqual(await p('10.244.1.10'), ['30 PTR 10-244-1-10.svc1.testns.svc.cluster.local']);
  t.is(reverseName('10.96.0.100'), '100.0.96.10.in-addr.arpa.');
});

test('PTR of an unknown IP: NXDOMAIN with the in-addr.arpa SOA when offline (kubeadm forwards it: fallthrough)', async (t) => {
  const r = await ask(handler(), reverseName('192.0.2.1'), 'PTR');
  t.is(r.rcode, 'NXDOMAIN');
  t.is(r.authorities[0]!.name, 'in-addr.arpa');
  t.is((await ask(handler(), reverseName('172.0.0.4'), 'PTR')).rcode, 'NXDOMAIN', 'not-ready endpoints have no PTR');
});

test('ExternalName: CNAME query gives exactly the CNAME; A of an in-cluster target follows it', async (t) => {
  const h = handler();
  t.deepEqual(rr((await ask(h, 'ext.testns.svc.cluster.local', 'CNAME')).answers), ['ext.testns.svc.cluster.local 30 CNAME ext.interwebs.test']);
  const a = await ask(h, 'ext-in.testns.svc.cluster.local', 'A');
  t.deepEqual(
    a.answers.map((x: any) => `${x.name} ${x.type} ${x.data}`),
    ['ext-in.testns.svc.cluster.local CNAME svc1.testns.svc.cluster.local', 'svc1.testns.svc.cluster.local A 10.96.0.100'],
  );
  // Offline, an outside target cannot be chased: the CNAME alone.
  t.deepEqual(rr((await ask(h, 'ext.testns.svc.cluster.local', 'A')).answers), ['ext.testns.svc.cluster.local 30 CNAME ext.interwebs.test']);
  // No SRV for ExternalName services (CoreDNS drops them): the name exists, so NODATA.
  const srv = await ask(h, 'ext.testns.svc.cluster.local', 'SRV');
  t.is(srv.rcode, 'NOERROR');
  t.is(srv.answers.length, 0);
});

test('pod records a-b-c-d.ns.pod.zone (pods insecure); NXDOMAIN for a missing namespace or a non-IP; disabled mode', async (t) => {
  const h = handler();
  t.deepEqual(rr((await ask(h, '10-244-1-5.testns.pod.cluster.local', 'A')).answers), ['10-244-1-5.testns.pod.cluster.local 30 A 10.244.1.5']);
  t.is((await ask(h, '10-244-1-5.testns.pod.cluster.local', 'AAAA')).rcode, 'NOERROR');
  t.is((await ask(h, '10-244-1-5.nsnoexist.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
  t.is((await ask(h, 'web-0.testns.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
  t.is((await ask(handler({ pods: 'disabled' }), '10-244-1-5.testns.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
});

test('dns-version TXT "1.1.0" with TTL 28800; TXT of a Service is NODATA', async (t) => {
  const h = handler();
  t.deepEqual(rr((await ask(h, 'dns-version.cluster.local', 'TXT')).answers), ['dns-version.cluster.local 28800 TXT 1.1.0']);
  const r = await ask(h, 'svc1.testns.svc.cluster.local', 'TXT');
  t.is(r.rcode, 'NOERROR');
  t.is(r.answers.length, 0);
  t.is((await ask(h, 'nope.testns.svc.cluster.local', 'TXT')).rcode, 'NXDOMAIN');
});

test('apex SOA; SOA below the apex is NODATA; apex NS is kube-dns with glue when we are its endpoint (compat)', async (t) => {
  const h = handler({ selfIPs: ['10.244.0.2'] });
  t.deepEqual(rr((await ask(h, 'cluster.local', 'SOA')).answers), [SOA]);
  const below = await ask(h, 'svc1.testns.svc.cluster.local', 'SOA');
  t.is(below.rcode, 'NOERROR');
  t.is(below.answers.length, 0);
  const ns = await ask(h, 'cluster.local', 'NS');
  t.deepEqual(rr(ns.answers), ['cluster.local 30 NS kube-dns.kube-system.svc.cluster.local']);
  t.deepEqual(rr(ns.additionals), ['kube-dns.kube-system.svc.cluster.local 30 A 10.96.0.10']);
  // Fallback when our IP is no Service's endpoint: ns.dns.<zone> with our own address.
  const fb = await ask(handler({ selfIPs: ['10.244.9.9'] }), 'cluster.local', 'NS');
  t.deepEqual(rr(fb.answers), ['cluster.local 30 NS ns.dns.cluster.local']);
  t.deepEqual(rr((await ask(handler({ selfIPs: ['10.244.9.9'] }), 'ns.dns.cluster.local', 'A')).answers), ['ns.dns.cluster.local 30 A 10.244.9.9']);
  // NS below the apex: NODATA if the name exists, NXDOMAIN if not.
  t.is((await ask(h, 'svc1.testns.svc.cluster.local', 'NS')).answers.length, 0);
  t.is((await ask(h, 'nope.testns.svc.cluster.local', 'NS')).rcode, 'NXDOMAIN');
});

test('other types: fake A lookup picks NODATA or NXDOMAIN; AXFR is REFUSED', async (t) => {
  const h = handler();
  const mx = await ask(h, 'svc1.testns.svc.cluster.local', 'MX');
  t.is(mx.rcode, 'NOERROR');
  t.is(mx.answers.length, 0);
  t.is((await ask(h, 'svc1.testns.svc.cluster.local', 'HINFO')).rcode, 'NOERROR');
  t.is((await ask(h, 'nope.testns.svc.cluster.local', 'HINFO')).rcode, 'NXDOMAIN');
  t.is((await ask(h, 'cluster.local', 'AXFR', { tcp: true })).rcode, 'REFUSED');
});

test('before the first sync, a would-be NXDOMAIN is SERVFAIL (CoreDNS startup)', async (t) => {
  const h = handler({}, undefined, false);
  t.is((await ask(h, 'nope.testns.svc.cluster.local', 'A')).rcode, 'SERVFAIL');
});

test('loadbalance: address records come back in shuffled order, always the same set', async (t) => {
  const h = handler();
  const orders = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const r = await ask(h, 'hdls1.testns.svc.cluster.local', 'A');
    orders.add(r.answers.map((a: any) => a.data).join(','));
    t.is(r.answers.length, 2);
  }
  t.is(orders.size, 2);
});

test('offline: names outside the cluster zones are REFUSED', async (t) => {
  const r = await ask(handler(), 'example.com', 'A');
  t.is(r.rcode, 'REFUSED');
});
