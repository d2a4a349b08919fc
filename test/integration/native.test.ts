// The native addon end to end: two real sandboxes (netns + utsns + TUN with offload) joined by a
// tiny forwarder built from TunPoller + writeBatch, judged with ping, ip, nsenter and a bounded
// TCP transfer. All traffic stays inside the namespaces created here; everything is torn down
// and checked for leaks, also when a test fails.
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native, type SandboxSpec, type TunPoller } from '../../src/native/index.js';

const addon = native();
const PID = process.pid;
const NETNS_DIR = '/run/netns';
const PREFIX = `kemu_nativetest_${PID}`;
const RUN_DIR = `/run/kemu-nativetest-${PID}`;
const UTS_DIR = path.join(RUN_DIR, 'uts');
const TRANSFER_BYTES = 50 << 20;
const PORT = 5201;

function ip(s: string): number {
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Asynchronous on purpose: the forwarder runs on this event loop, so a spawnSync would stall it.
function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

async function ourNetns(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(PREFIX))
    .sort();
}

interface Box {
  name: string;
  spec: SandboxSpec;
  fd: number;
  vnetHdr: boolean;
  offloadFlags: number;
  /** Set once closeFd ran: closing the number again could hit an unrelated, reused fd. */
  closed?: boolean;
}

function spec(suffix: string, address: string, gateway: string, over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    netnsPath: path.join(NETNS_DIR, `${PREFIX}_${suffix}`),
    utsPath: path.join(UTS_DIR, `${PREFIX}_${suffix}`),
    hostname: `kemu-nt-${suffix}`,
    ifname: 'eth0',
    address: ip(address),
    prefixLen: 24,
    gateway: ip(gateway),
    mtu: 1500,
    offload: true,
    ...over,
  };
}

const boxes: Box[] = [];
let poller: TunPoller | undefined;
const threadNetns = fs.readlinkSync('/proc/thread-self/ns/net');
const hostName = os.hostname();

// The forwarder: whatever one TUN emits goes to the other one, vnet header and all.
const SLOT_BYTES = 65536 + 16;
const MAX_BATCH = 64;
const arena = Buffer.allocUnsafeSlow(SLOT_BYTES * MAX_BATCH);
const offs = new Int32Array(MAX_BATCH);
const lens = new Int32Array(MAX_BATCH);
const outFds = new Int32Array(MAX_BATCH);
const peerFd = new Int32Array(2).fill(-1);
const fwd = { batches: 0, packets: 0, bytes: 0, maxLen: 0, maxBatch: 0, writeFailures: 0 };

function onBatch(id: number, count: number): void {
  const out = peerFd[id];
  for (let i = 0; i < count; i++) {
    outFds[i] = out;
    const len = lens[i];
    fwd.bytes += len;
    if (len > fwd.maxLen) fwd.maxLen = len;
  }
  fwd.batches++;
  fwd.packets += count;
  if (count > fwd.maxBatch) fwd.maxBatch = count;
  fwd.writeFailures += addon.writeBatch(outFds, arena, offs, lens, count);
}

function cleanup(): void {
  poller?.close();
  poller = undefined;
  for (const b of boxes.splice(0)) if (!b.closed) addon.closeFd(b.fd);
  for (const suffix of ['a', 'b', 'bad', 'gw']) {
    const s = spec(suffix, '0.0.0.0', '0.0.0.0');
    addon.destroyNamespace(s.netnsPath);
    addon.destroyNamespace(s.utsPath);
  }
  fs.rmSync(RUN_DIR, { recursive: true, force: true });
}

test.before(() => {
  addon.prepareNamespaceDir(NETNS_DIR);
  fs.mkdirSync(UTS_DIR, { recursive: true });
  const specs = [spec('a', '10.250.1.2', '10.250.1.1'), spec('b', '10.250.2.2', '10.250.2.1')];
  for (const s of specs) {
    const r = addon.createSandbox(s);
    boxes.push({ name: path.basename(s.netnsPath), spec: s, ...r });
  }
  poller = new addon.TunPoller(arena, offs, lens, SLOT_BYTES, MAX_BATCH, onBatch);
  peerFd[0] = boxes[1].fd;
  peerFd[1] = boxes[0].fd;
  poller.add(0, boxes[0].fd);
  poller.add(1, boxes[1].fd);
});

test.after.always(cleanup);

test.serial('createSandbox configures the namespaces and restores the caller', async (t) => {
  const [a, b] = boxes;
  for (const box of boxes) {
    t.true(box.fd >= 0);
    t.true(box.vnetHdr, 'kernel should accept IFF_VNET_HDR');
    t.not(box.offloadFlags, 0, 'kernel should accept TUNSETOFFLOAD');
  }
  t.log(`offloadFlags accepted: 0x${a.offloadFlags.toString(16)}`);

  // The calling thread is back in its own namespaces.
  t.is(fs.readlinkSync('/proc/thread-self/ns/net'), threadNetns);
  t.is(os.hostname(), hostName);
  t.deepEqual(await ourNetns(), [a.name, b.name]);

  for (const box of boxes) {
    const h = await run('nsenter', [`--uts=${box.spec.utsPath}`, 'hostname']);
    t.is(h.code, 0, h.stderr);
    t.is(h.stdout.trim(), box.spec.hostname);
  }

  const addr = await run('ip', ['netns', 'exec', a.name, 'ip', '-4', 'addr', 'show', 'eth0']);
  t.is(addr.code, 0, addr.stderr);
  t.regex(addr.stdout, /inet 10\.250\.1\.2\/24 /);
  t.regex(addr.stdout, /<[^>]*\bUP\b[^>]*> mtu 1500 /);
  const link = await run('ip', ['netns', 'exec', a.name, 'ip', '-d', 'link', 'show', 'eth0']);
  t.regex(link.stdout, /qlen 1000/);
  t.regex(link.stdout, /tun type tun pi off vnet_hdr on/);
  const lo = await run('ip', ['netns', 'exec', a.name, 'ip', 'link', 'show', 'lo']);
  t.regex(lo.stdout, /<LOOPBACK,UP/);
  const route = await run('ip', ['netns', 'exec', a.name, 'ip', 'route']);
  t.regex(route.stdout, /^default via 10\.250\.1\.1 dev eth0/m);
  const routeB = await run('ip', ['netns', 'exec', b.name, 'ip', 'route']);
  t.regex(routeB.stdout, /^default via 10\.250\.2\.1 dev eth0/m);

  // Nothing leaked into the root namespace.
  const rootAddrs = await run('ip', ['-4', '-o', 'addr', 'show']);
  t.notRegex(rootAddrs.stdout, /10\.250\.[12]\.2\//);
});

test.serial('ping crosses the TunPoller/writeBatch forwarder', async (t) => {
  const r = await run('ip', ['netns', 'exec', boxes[0].name, 'ping', '-c', '3', '-W', '1', '10.250.2.2'], 15_000);
  t.log(r.stdout.trim().split('\n').slice(-2).join(' | '));
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /3 received/);
  t.true(fwd.packets >= 6);
});

test.serial('bounded TCP transfer passes GSO super-packets', async (t) => {
  const [a, b] = boxes;
  const server = `
    const net = require('net');
    let n = 0;
    setTimeout(() => process.exit(3), 30000).unref();
    const s = net.createServer((c) => {
      c.on('data', (d) => { n += d.length; });
      c.on('end', () => { process.stdout.write('got ' + n + '\\n'); c.end(); s.close(); });
    });
    s.listen(${PORT}, '10.250.2.2', () => process.stdout.write('ready\\n'));`;
  const client = `
    const net = require('net');
    setTimeout(() => process.exit(3), 30000).unref();
    const chunk = Buffer.alloc(1 << 20, 7);
    let left = ${TRANSFER_BYTES >> 20};
    const c = net.connect(${PORT}, '10.250.2.2', function write() {
      while (left > 0) { left--; if (!c.write(chunk)) { c.once('drain', write); return; } }
      c.end();
    });
    c.on('error', (e) => { console.error(e.message); process.exit(2); });
    c.on('close', () => process.exit(0));`;

  const srv = spawn('ip', ['netns', 'exec', b.name, process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killTimer = setTimeout(() => srv.kill('SIGKILL'), 40_000);
  t.teardown(() => {
    clearTimeout(killTimer);
    if (srv.exitCode === null && srv.signalCode === null) srv.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  srv.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => srv.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    srv.stdout.on('data', (d) => {
      out += d;
      if (out.includes('ready')) resolve();
    });
    srv.on('exit', () => reject(new Error(`server exited early: ${err}`)));
  });

  const before = { ...fwd };
  const t0 = process.hrtime.bigint();
  const c = await run('ip', ['netns', 'exec', a.name, process.execPath, '-e', client], 40_000);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  t.is(c.code, 0, c.stderr);
  const code = await exited;
  t.is(code, 0, err);
  t.regex(out, new RegExp(`got ${TRANSFER_BYTES}\\b`));

  const packets = fwd.packets - before.packets;
  const batches = fwd.batches - before.batches;
  t.log(
    `${TRANSFER_BYTES >> 20} MiB in ${secs.toFixed(2)} s (${((TRANSFER_BYTES * 8) / secs / 1e9).toFixed(2)} Gbit/s), ` +
      `${packets} packets in ${batches} batches, largest packet ${fwd.maxLen} B, largest batch ${fwd.maxBatch}, ` +
      `write failures ${fwd.writeFailures}`,
  );
  if (a.offloadFlags !== 0) t.true(fwd.maxLen > 1600, `expected GSO super-packets, largest was ${fwd.maxLen}`);
});

test.serial('invalid specs throw naming the path and leave nothing behind', async (t) => {
  const bad = spec('bad', '10.250.3.2', '10.250.3.1', { prefixLen: 40 });
  const e1 = t.throws(() => addon.createSandbox(bad));
  t.true(e1!.message.includes(bad.netnsPath), e1!.message);
  t.regex(e1!.message, /prefixLen/);

  // Duplicate netnsPath: EEXIST, and the existing sandbox must be left untouched.
  const dup = spec('bad', '10.250.3.2', '10.250.3.1', { netnsPath: boxes[0].spec.netnsPath });
  const e2 = t.throws(() => addon.createSandbox(dup));
  t.true(e2!.message.includes(dup.netnsPath), e2!.message);
  t.regex(e2!.message, /File exists/);
  t.false(fs.existsSync(dup.utsPath));

  // A failure at the very last step (route) must roll back mounts, files and the TUN.
  const gw = spec('gw', '10.250.4.2', '192.168.77.1');
  const e3 = t.throws(() => addon.createSandbox(gw));
  t.true(e3!.message.includes(gw.netnsPath), e3!.message);
  t.regex(e3!.message, /SIOCADDRT.*: Network is unreachable/);
  t.log(e1!.message, '|', e2!.message, '|', e3!.message);

  for (const s of [bad, gw]) {
    t.false(fs.existsSync(s.netnsPath));
    t.false(fs.existsSync(s.utsPath));
  }
  t.deepEqual(await ourNetns(), boxes.map((b) => b.name).sort());
  t.is(fs.readlinkSync('/proc/thread-self/ns/net'), threadNetns);
  t.is(os.hostname(), hostName);
  // The first sandbox still works after the failed duplicate.
  const r = await run('ip', ['netns', 'exec', boxes[0].name, 'ping', '-c', '1', '-W', '1', '10.250.2.2'], 10_000);
  t.is(r.code, 0, r.stdout + r.stderr);
});

test.serial('copy and writePacket check their bounds', (t) => {
  const src = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const dst = Buffer.alloc(8);
  addon.copy(dst, 2, src, 4, 4);
  t.deepEqual([...dst], [0, 0, 5, 6, 7, 8, 0, 0]);
  t.throws(() => addon.copy(dst, 6, src, 0, 4), { instanceOf: RangeError });
  t.throws(() => addon.copy(dst, 0, src, 6, 4), { instanceOf: RangeError });
  t.throws(() => addon.writePacket(boxes[0].fd, src, 4, 8), { instanceOf: RangeError });
  t.is(addon.writePacket(-1, src, 0, 8), -9); // -EBADF
  t.throws(() => addon.writeBatch(Int32Array.of(boxes[0].fd), src, Int32Array.of(4), Int32Array.of(8), 1), {
    instanceOf: RangeError,
  });
});

test.serial('destroying the sandboxes removes namespaces and devices', async (t) => {
  poller!.close();
  poller = undefined;
  for (const b of boxes) {
    addon.closeFd(b.fd);
    b.closed = true;
    addon.destroyNamespace(b.spec.netnsPath);
    addon.destroyNamespace(b.spec.utsPath);
    addon.destroyNamespace(b.spec.netnsPath); // idempotent
  }
  for (const b of boxes) {
    t.false(fs.existsSync(b.spec.netnsPath));
    t.false(fs.existsSync(b.spec.utsPath));
  }
  t.deepEqual(await ourNetns(), []);
  const links = await run('ip', ['-o', 'link', 'show']);
  t.is(links.code, 0);
  t.notRegex(links.stdout, /kemu_nativetest/);
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  t.notRegex(mounts, new RegExp(PREFIX));
});
