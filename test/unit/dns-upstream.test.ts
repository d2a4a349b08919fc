// Forwarding through a real UDP upstream on loopback: pass-through, cache (case echo, aged
// TTLs, cap 30 s), SERVFAIL at once when the upstream port is closed (ICMP on a connected socket).
import test from 'ava';
import dgram from 'node:dgram';
import dnsPacketTyped from 'dns-packet';
import { Forwarder, parseServer, resolvConfServers } from '../../src/addons/dns/upstream.js';
import { handler, query } from './dns-fixture.js';

const dnsPacket = dnsPacketTyped as unknown as { decode(b: Buffer): any; encode: typeof dnsPacketTyped.encode };

async function upstream(ttl: number): Promise<{ port: number; count: () => number; close: () => void }> {
  const s = dgram.createSocket('udp4');
  let n = 0;
  s.on('message', (m, r) => {
    n++;
    const q = dnsPacket.decode(m);
    const res = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacketTyped.RECURSION_DESIRED | dnsPacketTyped.RECURSION_AVAILABLE,
      questions: q.questions,
      answers: [{ name: q.questions[0].name, type: 'A', ttl, data: '192.0.2.7' }],
    });
    s.send(res, r.port, r.address);
  });
  await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
  return { port: s.address().port, count: () => n, close: () => s.close() };
}

test('parse upstream specs and resolv.conf', (t) => {
  t.deepEqual(parseServer('10.0.0.2'), { host: '10.0.0.2', port: 53 });
  t.deepEqual(parseServer('10.0.0.2:5353'), { host: '10.0.0.2', port: 5353 });
  t.deepEqual(parseServer('[fd00::1]:53'), { host: 'fd00::1', port: 53 });
  t.throws(() => parseServer('dns.google'));
  t.deepEqual(resolvConfServers('search x\nnameserver 10.0.0.2\n# nameserver 1.1.1.1\nnameserver 192.0.2.1\n'), [
    { host: '10.0.0.2', port: 53 },
    { host: '192.0.2.1', port: 53 },
  ]);
});

test('forwarded names: upstream answer passed through; then served from the cache in the asker\'s case', async (t) => {
  const up = await upstream(300);
  const fwd = new Forwarder([{ host: '127.0.0.1', port: up.port }]);
  const h = handler({}, fwd);
  const a = dnsPacket.decode((await h.handle(query('www.example.com', 'A', { id: 11 }), false)).bytes!);
  t.is(a.id, 11);
  t.is(a.answers[0].data, '192.0.2.7');
  t.is(a.answers[0].ttl, 300);
  const out = await h.handle(query('WWW.Example.COM', 'A', { id: 12 }), false);
  const b = dnsPacket.decode(out.bytes!);
  t.is(b.id, 12);
  t.is(b.questions[0].name, 'WWW.Example.COM');
  t.true(b.answers[0].ttl <= 300);
  t.is(up.count(), 1, 'the second answer came from the cache');
  t.is(fwd.hits, 1);
  t.is(out.info!.source, 'cache');
  fwd.close();
  up.close();
});

test('ExternalName to an outside name: CNAME then the upstream\'s records', async (t) => {
  const up = await upstream(60);
  const fwd = new Forwarder([{ host: '127.0.0.1', port: up.port }]);
  const r = dnsPacket.decode((await handler({}, fwd).handle(query('ext.testns.svc.cluster.local', 'A'), false)).bytes!);
  t.deepEqual(
    r.answers.map((x: any) => `${x.name} ${x.type} ${x.data}`),
    ['ext.testns.svc.cluster.local CNAME ext.interwebs.test', 'ext.interwebs.test A 192.0.2.7'],
  );
  t.true(r.flag_aa);
  fwd.close();
  up.close();
});

test('PTR misses in in-addr.arpa fall through to the upstream (kubeadm `fallthrough in-addr.arpa ip6.arpa`)', async (t) => {
  const up = await upstream(60);
  const fwd = new Forwarder([{ host: '127.0.0.1', port: up.port }]);
  await handler({}, fwd).handle(query('1.2.0.192.in-addr.arpa', 'PTR'), false);
  t.is(up.count(), 1);
  fwd.close();
  up.close();
});

test('upstream port closed: SERVFAIL at once (ICMP port unreachable), a log line, the server keeps answering', async (t) => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((res) => probe.bind(0, '127.0.0.1', () => res()));
  const port = probe.address().port;
  probe.close();
  const fwd = new Forwarder([{ host: '127.0.0.1', port }]);
  const h = handler({}, fwd);
  const lines: string[] = [];
  h.onError = (l) => lines.push(l);
  const t0 = Date.now();
  const r = dnsPacket.decode((await h.handle(query('gone.example.com', 'A'), false)).bytes!);
  t.is(r.rcode, 'SERVFAIL');
  t.true(Date.now() - t0 < 500);
  t.regex(lines[0]!, /^\[ERROR\] plugin\/errors: 2 gone\.example\.com\. A: forward to 127\.0\.0\.1:\d+ failed: 127\.0\.0\.1:\d+: ECONNREFUSED$/);
  t.is(dnsPacket.decode((await h.handle(query('svc1.testns.svc.cluster.local', 'A'), false)).bytes!).rcode, 'NOERROR');
  fwd.close();
});
