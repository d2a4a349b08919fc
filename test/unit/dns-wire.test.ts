// The resolver's wire handling: malformed input, EDNS0, truncation, case echo, hand-made bytes.
import test from 'ava';
import dnsPacketTyped from 'dns-packet';

// Decoded packets carry rcode and flag fields the typings leave out.
const dnsPacket = dnsPacketTyped as unknown as { decode(b: Buffer): any; encode: typeof dnsPacketTyped.encode };
import { parseQuery } from '../../src/addons/dns/wire.js';
import { ask, handler, query } from './dns-fixture.js';

// A query for "Svc1.testns.svc.cluster.local" A, id 0xbeef, RD, as dig sends it (no EDNS).
const DIG_BYTES = Buffer.from(
  'beef01000001000000000000' + '0453766331' + '06746573746e73' + '03737663' + '07636c7573746572' + '056c6f63616c' + '00' + '00010001',
  'hex',
);

test('hand-made query bytes: parsed and answered; the answer owner is a pointer to the question', async (t) => {
  const q = parseQuery(DIG_BYTES)!;
  t.is(q.error, '');
  t.is(q.id, 0xbeef);
  t.is(q.name, 'svc1.testns.svc.cluster.local.');
  t.is(q.type, 1);
  const out = (await handler().handle(DIG_BYTES, false)).bytes!;
  // Header: id, QR|AA|RD|RA, 1 question, 1 answer, 0, 1 authority? no: 0.
  t.is(out.subarray(0, 12).toString('hex'), 'beef858000010001' + '00000000');
  t.deepEqual(out.subarray(12, DIG_BYTES.length), DIG_BYTES.subarray(12));
  t.is(out.subarray(DIG_BYTES.length).toString('hex'), 'c00c' + '0001' + '0001' + '0000001e' + '0004' + '0a600064');
});

test('FORMERR for garbage after a header, two questions, a name running past the end; no answer to < 12 bytes', async (t) => {
  const h = handler();
  const garbage = Buffer.concat([Buffer.from('1234010000010000', 'hex'), Buffer.from('00000000ff', 'hex'), Buffer.from([0xff, 0xff, 0xff])]);
  const r1 = (await h.handle(garbage, false)).bytes!;
  t.is(dnsPacket.decode(r1).rcode, 'FORMERR');
  t.is(r1.readUInt16BE(0), 0x1234);
  const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'a.b', type: 'A' }, { name: 'c.d', type: 'A' }] });
  t.is(dnsPacket.decode((await h.handle(two, false)).bytes!).rcode, 'FORMERR');
  const cut = DIG_BYTES.subarray(0, 20);
  t.is(dnsPacket.decode((await h.handle(cut, false)).bytes!).rcode, 'FORMERR');
  t.is((await h.handle(Buffer.from('abcd', 'hex'), false)).bytes, undefined);
  // A response sent to us is not a query.
  const resp = Buffer.from(DIG_BYTES);
  resp[2]! |= 0x80;
  t.is(dnsPacket.decode((await h.handle(resp, false)).bytes!).rcode, 'FORMERR');
});

test('fuzz: random bytes never throw and always get FORMERR or nothing', async (t) => {
  const h = handler();
  let answered = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(Array.from({ length: (Math.random() * 80) | 0 }, () => (Math.random() * 256) | 0));
    if (Math.random() < 0.5 && b.length > 12) DIG_BYTES.copy(b, 0, 0, 12);
    const out = await h.handle(b, false);
    if (out.bytes) answered++;
  }
  t.true(answered > 0);
});

test('NOTIMP for a non-QUERY opcode; BADVERS for EDNS version 1', async (t) => {
  const h = handler();
  const upd = Buffer.from(DIG_BYTES);
  upd[2] = (upd[2]! & 0x87) | (5 << 3);
  t.is(dnsPacket.decode((await h.handle(upd, false)).bytes!).rcode, 'NOTIMP');
  const v1 = query('svc1.testns.svc.cluster.local', 'A', { edns: 1232 });
  v1[v1.length - 5] = 1; // OPT: name, type, class, ext-rcode, version <- here, flags, rdlen
  const r = dnsPacket.decode((await h.handle(v1, false)).bytes!) as any;
  const opt = r.additionals.find((a: any) => a.type === 'OPT');
  t.is(opt.extendedRcode, 1); // BADVERS = 16 = ext 1, rcode 0
});

test('EDNS0: an OPT in the query gets an OPT (1232) back; none without', async (t) => {
  const h = handler();
  const r = (await ask(h, 'svc1.testns.svc.cluster.local', 'A', { edns: 4096 })) as any;
  const opt = r.additionals.find((a: any) => a.type === 'OPT');
  t.is(opt.udpPayloadSize, 1232);
  const n = (await ask(h, 'svc1.testns.svc.cluster.local', 'A')) as any;
  t.falsy(n.additionals.find((a: any) => a.type === 'OPT'));
});

test('TC: 40 A records do not fit 512 bytes over UDP; they do with EDNS 1232, and over TCP', async (t) => {
  const h = handler();
  const udp = await ask(h, 'big.testns.svc.cluster.local', 'A');
  t.true(udp.flag_tc);
  t.true(udp.raw.length <= 512);
  t.true(udp.answers.length < 40);
  const edns = await ask(h, 'big.testns.svc.cluster.local', 'A', { edns: 1232 });
  t.false(edns.flag_tc);
  t.is(edns.answers.length, 40);
  const tcp = await ask(h, 'big.testns.svc.cluster.local', 'A', { tcp: true });
  t.false(tcp.flag_tc);
  t.is(tcp.answers.length, 40);
  // SRV over 512: the additional section goes first, without TC, while the answers still fit.
  const srv = await ask(h, '_http._tcp.big.testns.svc.cluster.local', 'SRV');
  t.true(srv.raw.length <= 512);
});

test('the compiled table answers repeated questions from the same bytes (one entry per name and type)', async (t) => {
  const h = handler();
  for (let i = 0; i < 5; i++) await ask(h, 'SVC1.testns.svc.cluster.local', 'A');
  await ask(h, 'svc1.TESTNS.svc.cluster.local', 'A');
  await ask(h, 'svc1.testns.svc.cluster.local', 'AAAA');
  t.is(h.table.size, 2);
});
