// One-query-at-a-time DNS latency (the bench's own small load generator): sends `count`
// A queries for `name` to `server`:53, each after the previous answer, and prints the p50/p99
// round trip in microseconds as JSON. Bounded: a lost answer ends the run after 1 s.
// Usage (inside a namespace): node dist/bench/dns-latency.js SERVER NAME COUNT [PORT]
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';

const [server = '127.0.0.1', name = 'kubernetes.default.svc.cluster.local', countStr = '5000', portStr = '53'] = process.argv.slice(2);
const port = Number(portStr);
const count = Number(countStr);
const sock = dgram.createSocket('udp4');
const query = dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A' }] });
const rtts: number[] = [];
let t0 = 0n;
let timer: NodeJS.Timeout | undefined;

function finish(): void {
  if (timer) clearTimeout(timer);
  rtts.sort((a, b) => a - b);
  const at = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * p))] ?? NaN;
  console.log(JSON.stringify({ answered: rtts.length, p50: at(0.5), p99: at(0.99) }));
  sock.close();
}

function send(): void {
  if (timer) clearTimeout(timer);
  timer = setTimeout(finish, 1000);
  t0 = process.hrtime.bigint();
  sock.send(query, port, server);
}

sock.on('message', () => {
  rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  if (rtts.length >= count) finish();
  else send();
});
send();
