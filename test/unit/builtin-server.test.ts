import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  PortSpecError,
  escapeHtml,
  formatAccessLog,
  formatClientAddress,
  formatLogTime,
  loadConfig,
  normalizeAddress,
  parsePortSpec,
  parsePorts,
  renderDefaultPage,
  routeRequest,
  sniffProtocol,
  udpReply,
  type PodIdentity,
} from '../../src/runtime/builtin-server-core.js';

const SERVER = fileURLToPath(new URL('../../src/runtime/builtin-server.js', import.meta.url));

const ID: PodIdentity = {
  podName: 'web-0',
  namespace: 'shop',
  podIP: '10.244.1.7',
  nodeName: 'node-a',
  containerName: 'nginx',
  image: 'nginx:1.27',
};

// ---------------------------------------------------------------------------------------------
// Core (pure) functions

test('parsePortSpec: name, default protocol, case and whitespace', (t) => {
  t.deepEqual(parsePortSpec('80/TCP'), { port: 80, protocol: 'TCP' });
  t.deepEqual(parsePortSpec(' http:8080/tcp '), { name: 'http', port: 8080, protocol: 'TCP' });
  t.deepEqual(parsePortSpec('53/udp'), { port: 53, protocol: 'UDP' });
  t.deepEqual(parsePortSpec('9000/SCTP'), { port: 9000, protocol: 'SCTP' });
  t.deepEqual(parsePortSpec('443'), { port: 443, protocol: 'TCP' });
  t.deepEqual(parsePortSpec('dns-tcp:65535/TCP'), { name: 'dns-tcp', port: 65535, protocol: 'TCP' });
});

test('parsePortSpec: bad entries throw PortSpecError naming the entry', (t) => {
  for (const bad of ['abc', '0/TCP', '65536/TCP', '80/FOO', '-1', '80/', ':80/TCP', 'bad_name:80/TCP', '8o/TCP', '1.5/UDP']) {
    const err = t.throws(() => parsePortSpec(bad), { instanceOf: PortSpecError }, bad);
    t.true(err!.message.includes(`"${bad}"`), err!.message);
  }
});

test('parsePorts: list, empty, duplicates', (t) => {
  const { ports, warnings } = parsePorts('80/TCP,8080/TCP,53/UDP,9000/SCTP');
  t.deepEqual(ports.map((p) => `${p.port}/${p.protocol}`), ['80/TCP', '8080/TCP', '53/UDP', '9000/SCTP']);
  t.deepEqual(warnings, []);
  t.deepEqual(parsePorts('').ports, []);
  t.deepEqual(parsePorts(undefined).ports, []);
  t.deepEqual(parsePorts(' , ').ports, []);
  const dup = parsePorts('80/TCP,web:80/TCP,80/UDP');
  t.deepEqual(dup.ports.map((p) => `${p.port}/${p.protocol}`), ['80/TCP', '80/UDP']);
  t.is(dup.warnings.length, 1);
  t.regex(dup.warnings[0]!, /80\/TCP/);
  t.throws(() => parsePorts('80/TCP,nope'), { instanceOf: PortSpecError, message: /"nope"/ });
});

test('loadConfig reads identity with fallbacks', (t) => {
  const c = loadConfig(
    {
      KEMU_PORTS: 'http:80/TCP',
      KEMU_POD_NAME: 'web-0',
      KEMU_POD_NAMESPACE: 'shop',
      KEMU_POD_IP: '10.244.1.7',
      KEMU_NODE_NAME: 'node-a',
      KEMU_CONTAINER_NAME: 'nginx',
      KEMU_IMAGE: 'nginx:1.27',
    },
    'host-x',
  );
  t.deepEqual(c.identity, ID);
  t.deepEqual(c.ports, [{ name: 'http', port: 80, protocol: 'TCP' }]);
  const d = loadConfig({}, 'host-x');
  t.is(d.identity.podName, 'host-x');
  t.is(d.identity.namespace, 'default');
  t.deepEqual(d.ports, []);
});

test('sniffProtocol', (t) => {
  const s = (x: string): string => sniffProtocol(Buffer.from(x, 'latin1'));
  t.is(s(''), 'undecided');
  t.is(s('G'), 'undecided');
  t.is(s('GET'), 'undecided');
  t.is(s('GET /'), 'http');
  t.is(s('GET / HTTP/1.1\r\n'), 'http');
  t.is(s('HEAD /x HTTP/1.0\r\n'), 'http');
  t.is(s('POST '), 'http');
  t.is(s('OPTIONS * HTTP/1.1'), 'http');
  t.is(s('hello\n'), 'raw');
  t.is(s('GET\n'), 'raw');
  t.is(s('GETX / HTTP/1.1'), 'raw');
  t.is(s('get / HTTP/1.1'), 'raw');
  t.is(s('\x16\x03\x01\x02\x00'), 'raw'); // TLS ClientHello
  t.is(s('PRI * HTTP/2.0\r\n'), 'raw');
});

test('addresses: ::ffff: stripped, IPv6 bracketed like Go RemoteAddr', (t) => {
  t.is(normalizeAddress('::ffff:10.0.0.5'), '10.0.0.5');
  t.is(normalizeAddress('::FFFF:127.0.0.1'), '127.0.0.1');
  t.is(normalizeAddress('fd00::5'), 'fd00::5');
  t.is(formatClientAddress('::ffff:127.0.0.1', 4242), '127.0.0.1:4242');
  t.is(formatClientAddress('10.0.0.5', 1), '10.0.0.5:1');
  t.is(formatClientAddress('::1', 5555), '[::1]:5555');
});

const req = (url: string, method = 'GET') => ({
  method,
  url,
  headers: { host: 'x', 'user-agent': 'ava' },
  remoteAddress: '::ffff:10.0.0.9',
  remotePort: 31337,
});

test('routeRequest: agnhost-like endpoints', (t) => {
  const body = (url: string): string => routeRequest(req(url), ID).body.toString();
  t.is(body('/hostname'), 'web-0');
  t.is(body('/clientip'), '10.0.0.9:31337');
  t.is(body('/echo?msg=hello%20world'), 'hello world');
  t.is(body('/echo'), '');
  t.is(body('/healthz'), 'ok');
  t.deepEqual(JSON.parse(body('/headers')), { host: 'x', 'user-agent': 'ava' });
  t.is(body('http://example/hostname'), 'web-0', 'absolute-form target');

  const r = routeRequest(req('/hostname'), ID);
  t.is(r.status, 200);
  t.is(r.headers.Server, 'kemu-builtin');
  t.is(r.headers['Content-Length'], '5');
  t.regex(r.headers['Content-Type']!, /^text\/plain/);
  t.is(r.exitCode, undefined);

  const sh = routeRequest(req('/shell?cmd=ls'), ID);
  t.is(sh.status, 501);
  t.regex(sh.body.toString(), /not implemented/);
});

test('routeRequest: /exit', (t) => {
  const ok = routeRequest(req('/exit?code=3'), ID);
  t.is(ok.status, 200);
  t.is(ok.exitCode, 3);
  t.is(ok.headers.Connection, 'close');
  t.is(routeRequest(req('/exit'), ID).exitCode, 0);
  for (const bad of ['256', '-1', 'x', '1e2']) {
    const r = routeRequest(req(`/exit?code=${bad}`), ID);
    t.is(r.status, 400, bad);
    t.is(r.exitCode, undefined, bad);
  }
});

test('routeRequest: / and unknown paths give the default page', (t) => {
  for (const url of ['/', '/index.html', '/nope?x=1', '//hostname']) {
    const r = routeRequest(req(url), ID);
    t.is(r.status, 200, url);
    t.regex(r.headers['Content-Type']!, /^text\/html/);
    const page = r.body.toString();
    for (const want of ['web-0', 'shop', '10.244.1.7', 'node-a', 'nginx:1.27', '10.0.0.9:31337']) {
      t.true(page.includes(want), `${url}: page lacks ${want}`);
    }
    t.is(r.headers['Content-Length'], String(r.body.length));
  }
});

test('renderDefaultPage escapes HTML', (t) => {
  const page = renderDefaultPage({ ...ID, image: 'evil<script>"' }, '1.2.3.4:5');
  t.false(page.includes('<script>'));
  t.true(page.includes(escapeHtml('evil<script>"')));
  t.true(page.includes('Welcome to web-0!'));
});

test('formatAccessLog: nginx combined format', (t) => {
  const line = formatAccessLog({
    remoteAddress: '::ffff:10.0.0.9',
    time: new Date(2024, 9, 10, 13, 55, 36),
    method: 'GET',
    url: '/a"b',
    httpVersion: '1.1',
    status: 200,
    bytes: 612,
    userAgent: 'curl/8.0',
  });
  t.is(line, `10.0.0.9 - - [10/Oct/2024:13:55:36 ${formatLogTime(new Date(2024, 9, 10, 13, 55, 36)).slice(-5)}] "GET /a\\x22b HTTP/1.1" 200 612 "-" "curl/8.0"`);
  t.regex(formatLogTime(new Date()), /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$/);
});

test('udpReply', (t) => {
  t.is(udpReply(Buffer.from('hostname'), 'web-0').toString(), 'web-0');
  t.is(udpReply(Buffer.from('hostname\n'), 'web-0').toString(), 'web-0');
  t.is(udpReply(Buffer.from('hostname\r\n'), 'web-0').toString(), 'web-0');
  t.is(udpReply(Buffer.from('hostnamex'), 'web-0').toString(), 'hostnamex');
  t.is(udpReply(Buffer.from('ping'), 'web-0').toString(), 'ping');
});

test('importing the core starts no servers', async (t) => {
  // In a fresh process: importing must leave no listening handles, so node exits on its own.
  const core = new URL('../../src/runtime/builtin-server-core.js', import.meta.url).href;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', `const m = await import(${JSON.stringify(core)}); console.log(JSON.stringify({ exports: Object.keys(m).length, res: process.getActiveResourcesInfo() }));`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await Promise.race([
    new Promise<number | null>((r) => child.on('exit', (c) => r(c))),
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000)),
  ]);
  t.is(code, 0, 'process exited by itself');
  const info = JSON.parse(out) as { exports: number; res: string[] };
  t.true(info.exports > 5);
  t.false(info.res.some((r) => /TCPServer|UDP|Timeout/.test(r)), info.res.join(','));
});

// ---------------------------------------------------------------------------------------------
// The real server, as a child process

interface Running {
  child: ChildProcess;
  tcp: number;
  tcp2: number;
  udp: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const IDENTITY_ENV = {
  KEMU_POD_NAME: ID.podName,
  KEMU_POD_NAMESPACE: ID.namespace,
  KEMU_POD_IP: ID.podIP,
  KEMU_NODE_NAME: ID.nodeName,
  KEMU_CONTAINER_NAME: ID.containerName,
  KEMU_IMAGE: ID.image,
};

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

// Backstop for teardowns that never run (worker crash or timeout): kill our children by PID.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function spawnServer(t: ExecutionContext, ports: string) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...IDENTITY_ENV, KEMU_PORTS: ports },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  // 'close', not 'exit': it fires only once stdout/stderr are drained, so the output is complete.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits until stdout has `listening on X` for every wanted port, or the process exits. */
async function waitListening(s: ReturnType<typeof spawnServer>, want: string[]): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  let gone = false;
  void s.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (want.every((w) => s.stdout().includes(`listening on ${w}\n`))) return true;
    if (gone) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`server did not come up; stdout=${s.stdout()} stderr=${s.stderr()}`);
}

/** Starts the server on two random TCP ports and one UDP port, retrying on EADDRINUSE. */
async function startServer(t: ExecutionContext, extra = ''): Promise<Running> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const tcp = randomPort();
    const tcp2 = randomPort();
    const udp = randomPort();
    if (tcp === tcp2) continue;
    const s = spawnServer(t, `http:${tcp}/TCP,${tcp2}/tcp,${udp}/UDP${extra}`);
    if (await waitListening(s, [`${tcp}/TCP`, `${tcp2}/TCP`, `${udp}/UDP`])) return { ...s, tcp, tcp2, udp };
    if (!/EADDRINUSE/.test(s.stderr())) throw new Error(`server failed: ${s.stderr()}`);
  }
  throw new Error('no free ports after 8 attempts');
}

interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  localPort: number;
}

function get(port: number, path: string, opts: { method?: string; agent?: http.Agent; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: opts.agent ?? false, headers: opts.headers },
      (res) => {
        const localPort = res.socket.localPort!;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, localPort }));
      },
    );
    r.on('error', reject);
    r.setTimeout(5000, () => r.destroy(new Error(`timeout on ${path}`)));
    r.end();
  });
}

/** Connects, optionally waits, writes, and collects what comes back until `until` matches (or times out). */
function tcpExchange(
  port: number,
  steps: Array<{ delay?: number; send: string | Buffer }>,
  until: (got: Buffer) => boolean,
  timeoutMs = 4000,
): Promise<{ got: Buffer; beforeFirstSend: number }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    let sent = false;
    let beforeFirstSend = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp exchange timed out; got ${JSON.stringify(got.toString('latin1'))}`));
    }, timeoutMs);
    sock.on('data', (d) => {
      if (!sent) beforeFirstSend += d.length;
      got = Buffer.concat([got, d]);
      if (until(got)) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ got, beforeFirstSend });
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', async () => {
      for (const step of steps) {
        if (step.delay) await new Promise((r) => setTimeout(r, step.delay));
        sent = true;
        sock.write(step.send);
      }
    });
  });
}

function udpExchange(port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('udp timeout'));
    }, 3000);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m.toString());
    });
    sock.send(msg, port, '127.0.0.1');
  });
}

test('server: HTTP endpoints, default page, HEAD, keep-alive, access log', async (t) => {
  const s = await startServer(t);

  const host = await get(s.tcp, '/hostname');
  t.is(host.status, 200);
  t.is(host.body, 'web-0');
  t.is(host.headers.server, 'kemu-builtin');

  const ip = await get(s.tcp, '/clientip');
  t.is(ip.body, `127.0.0.1:${ip.localPort}`);

  t.is((await get(s.tcp2, '/echo?msg=hello')).body, 'hello');
  t.is((await get(s.tcp, '/healthz')).body, 'ok');
  const hdrs = JSON.parse((await get(s.tcp, '/headers', { headers: { 'X-Probe': 'p1' } })).body);
  t.is(hdrs['x-probe'], 'p1');
  const sh = await get(s.tcp, '/shell?cmd=id');
  t.is(sh.status, 501);

  const page = await get(s.tcp, '/');
  t.is(page.status, 200);
  t.regex(String(page.headers['content-type']), /text\/html/);
  for (const want of ['web-0', 'shop', '10.244.1.7', 'node-a', 'nginx', 'nginx:1.27', `127.0.0.1:${page.localPort}`]) {
    t.true(page.body.includes(want), `default page lacks ${want}`);
  }

  const head = await get(s.tcp, '/', { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.body, '');
  t.is(head.headers['content-length'], String(Buffer.byteLength(page.body)));
  t.is(head.headers.server, 'kemu-builtin');

  // Keep-alive: several requests over one connection, sniffing happens once.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const a = await get(s.tcp, '/clientip', { agent });
  const b = await get(s.tcp, '/clientip', { agent });
  const c = await get(s.tcp, '/hostname', { agent });
  t.is(a.body, b.body, 'second request reused the connection');
  t.is(a.localPort, c.localPort);
  t.is(c.body, 'web-0');

  t.regex(s.stdout(), /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/hostname HTTP\/1\.1" 200 5 "-" "-"$/m);
  t.regex(s.stdout(), /"HEAD \/ HTTP\/1\.1" 200 0 /);
  t.regex(s.stdout(), /"GET \/shell\?cmd=id HTTP\/1\.1" 501 \d+ /);
});

test('server: HTTP request arriving in fragments and pipelined requests', async (t) => {
  const s = await startServer(t);
  const reqLine = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  // "GE" alone is ambiguous; the rest arrives later and must still be parsed as HTTP.
  const full = reqLine('/hostname');
  const r1 = await tcpExchange(
    s.tcp,
    [{ send: full.slice(0, 2) }, { delay: 150, send: full.slice(2, 9) }, { delay: 150, send: full.slice(9) }],
    (g) => g.toString().endsWith('web-0'),
  );
  t.regex(r1.got.toString(), /^HTTP\/1\.1 200 OK\r\n/);
  t.regex(r1.got.toString(), /\r\nServer: kemu-builtin\r\n/i);

  // Two pipelined requests in the same first segment.
  const r2 = await tcpExchange(s.tcp, [{ send: reqLine('/echo?msg=one') + reqLine('/echo?msg=two') }], (g) =>
    g.toString().endsWith('two'),
  );
  const text = r2.got.toString();
  t.is(text.match(/HTTP\/1\.1 200 OK/g)?.length, 2);
  t.true(text.indexOf('\r\n\r\none') < text.indexOf('\r\n\r\ntwo'));
});

test('server: TCP echo of non-HTTP bytes, server never talks first', async (t) => {
  const s = await startServer(t);
  const r = await tcpExchange(s.tcp, [{ send: 'hello kemu\n' }], (g) => g.toString() === 'hello kemu\n');
  t.is(r.got.toString(), 'hello kemu\n');

  // A client that connects and waits silently (like `nc host port`) then types.
  const late = await tcpExchange(
    s.tcp2,
    [{ delay: 700, send: 'typed later\n' }, { delay: 100, send: 'and more\n' }],
    (g) => g.toString() === 'typed later\nand more\n',
  );
  t.is(late.beforeFirstSend, 0, 'server sent nothing before the client spoke');
  t.is(late.got.toString(), 'typed later\nand more\n');

  // Binary, and a word that merely starts like a method.
  const bin = Buffer.from([0, 1, 2, 0xff, 0x16, 0x03]);
  t.deepEqual((await tcpExchange(s.tcp, [{ send: bin }], (g) => g.length >= bin.length)).got, bin);
  t.is((await tcpExchange(s.tcp, [{ send: 'GETTING\n' }], (g) => g.length >= 8)).got.toString(), 'GETTING\n');
  // Ambiguous prefix with nothing after it falls back to echo after the sniff timeout.
  t.is((await tcpExchange(s.tcp, [{ send: 'GE' }], (g) => g.length >= 2)).got.toString(), 'GE');
});

test('server: TCP echo with client half-close', async (t) => {
  const s = await startServer(t);
  const got = await new Promise<string>((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: s.tcp, allowHalfOpen: true });
    let acc = '';
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (acc += d));
    sock.on('end', () => resolve(acc));
    sock.on('error', reject);
    sock.on('connect', () => sock.end('bye\n'));
    setTimeout(() => reject(new Error(`half-close timeout, got ${acc}`)), 4000).unref();
  });
  t.is(got, 'bye\n');
});

test('server: UDP echo and hostname; SCTP skipped with a message', async (t) => {
  const s = await startServer(t, `,${randomPort()}/SCTP`);
  t.is(await udpExchange(s.udp, 'ping 123'), 'ping 123');
  t.is(await udpExchange(s.udp, 'hostname'), 'web-0');
  t.is(await udpExchange(s.udp, 'hostname\n'), 'web-0');
  t.regex(s.stderr(), /SCTP not supported by kemu's built-in server/);
});

test('server: bad KEMU_PORTS entry gives a clear error and exit 1', async (t) => {
  const s = spawnServer(t, '80/TCP,eighty/TCP');
  const { code } = await s.exited;
  t.is(code, 1);
  t.regex(s.stderr(), /invalid KEMU_PORTS entry "eighty\/TCP"/);
  const s2 = spawnServer(t, '8080/QUIC');
  t.is((await s2.exited).code, 1);
  t.regex(s2.stderr(), /unknown protocol "QUIC"/);
});

test('server: port already in use gives a clear error and exit 1', async (t) => {
  const blocker = net.createServer();
  const port = await new Promise<number>((resolve, reject) => {
    blocker.once('error', reject);
    blocker.listen({ port: 0 }, () => resolve((blocker.address() as net.AddressInfo).port));
  });
  t.teardown(() => blocker.close());
  const s = spawnServer(t, `${port}/TCP`);
  const { code } = await s.exited;
  t.is(code, 1);
  t.regex(s.stderr(), new RegExp(`cannot listen on ${port}/TCP: address already in use \\(EADDRINUSE\\)`));
});

test('server: SIGTERM exits 0 within 2s, also with open connections', async (t) => {
  const s = await startServer(t);
  // An idle echo connection and an idle keep-alive HTTP connection must not hold up exit.
  const idle = net.connect({ host: '127.0.0.1', port: s.tcp });
  idle.on('error', () => {});
  t.teardown(() => idle.destroy());
  await new Promise((r) => idle.once('connect', r));
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  t.is((await get(s.tcp2, '/hostname', { agent })).body, 'web-0');
  const t0 = Date.now();
  t.true(s.child.kill('SIGTERM'));
  const res = await Promise.race([s.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 2000))]);
  t.not(res, 'late', 'exited within 2 s');
  t.deepEqual(res, { code: 0, signal: null });
  t.true(Date.now() - t0 < 2000);
});

test('server: empty KEMU_PORTS idles until SIGTERM', async (t) => {
  const s = spawnServer(t, '');
  const deadline = Date.now() + 10_000;
  while (!s.stdout().includes('idling') && s.child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  t.regex(s.stdout(), /no ports to listen on; idling until SIGTERM/);
  // Nothing to listen on must not mean "exit": it keeps running like a pause container.
  await new Promise((r) => setTimeout(r, 500));
  t.is(s.child.exitCode, null, `still running; stderr=${s.stderr()}`);
  s.child.kill('SIGTERM');
  t.deepEqual(await s.exited, { code: 0, signal: null });
});

test('server: /exit?code=3 answers, then exits with 3', async (t) => {
  const s = await startServer(t);
  const r = await get(s.tcp, '/exit?code=3');
  t.is(r.status, 200);
  t.regex(r.body, /exiting with code 3/);
  const res = await Promise.race([s.exited, new Promise<'late'>((rr) => setTimeout(() => rr('late'), 2000))]);
  t.deepEqual(res, { code: 3, signal: null });
  t.regex(s.stdout(), /"GET \/exit\?code=3 HTTP\/1\.1" 200 /);
});
