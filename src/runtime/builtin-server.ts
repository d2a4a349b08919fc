import fs from 'node:fs';
// kemu's built-in container server: what runs inside a pod's network namespace when a
// container has no `command` (e.g. `image: nginx` in a guide). Executable module:
//   node dist/src/runtime/builtin-server.js
// configured by KEMU_PORTS / KEMU_POD_* (contract in builtin-server-core.ts). Per TCP port one
// net.Server sniffs each connection's first bytes: an HTTP request line goes to a shared
// http.Server (agnhost-netexec-like endpoints), anything else is echoed. Per UDP port one
// socket echoes datagrams (`hostname` gets the pod name). SIGTERM/SIGINT exit 0.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import {
  type BuiltinConfig,
  type PortSpec,
  PortSpecError,
  SCTP_UNSUPPORTED,
  formatAccessLog,
  formatPortSpec,
  loadConfig,
  routeRequest,
  sniffProtocol,
  udpReply,
} from './builtin-server-core.js';

/** How long a connection may sit on a partial method (e.g. "GE") before we settle on echo. */
const SNIFF_TIMEOUT_MS = 1000;

const tcpServers: net.Server[] = [];
const udpSockets: dgram.Socket[] = [];
const sockets = new Set<net.Socket>();
let shuttingDown = false;

function shutdown(code: number): void {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const s of tcpServers) s.close();
  for (const u of udpSockets) {
    try {
      u.close();
    } catch {
      // already closed
    }
  }
  for (const s of sockets) s.destroy();
  process.exit(code);
}

function bindFailure(p: PortSpec, err: NodeJS.ErrnoException): never {
  const why =
    err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
  process.stderr.write(`kemu-builtin: cannot listen on ${formatPortSpec(p)}: ${why}${err.code ? ` (${err.code})` : ''}\n`);
  process.exit(1);
}

function makeHttpServer(config: BuiltinConfig): http.Server {
  const server = http.createServer((req, res) => {
    const plan = routeRequest(
      {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        remoteAddress: req.socket.remoteAddress,
        remotePort: req.socket.remotePort,
      },
      config.identity,
    );
    const isHead = req.method === 'HEAD';
    const remoteAddress = req.socket.remoteAddress;
    res.on('finish', () => {
      process.stdout.write(
        formatAccessLog({
          remoteAddress,
          time: new Date(),
          method: req.method ?? '-',
          url: req.url ?? '-',
          httpVersion: req.httpVersion,
          status: plan.status,
          bytes: isHead ? 0 : plan.body.length,
          referer: req.headers.referer,
          userAgent: req.headers['user-agent'],
        }) + '\n',
      );
      if (plan.exitCode !== undefined) {
        const code = plan.exitCode;
        process.stdout.write(`exit requested by ${remoteAddress ?? 'unknown'}: code ${code}\n`);
        setImmediate(() => shutdown(code));
      }
    });
    res.writeHead(plan.status, plan.headers);
    res.end(isHead ? undefined : plan.body);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end('HTTP/1.1 400 Bad Request\r\nServer: kemu-builtin\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return server;
}

function startEcho(socket: net.Socket, initial: Buffer): void {
  if (initial.length > 0) socket.write(initial);
  // pipe() handles back-pressure and ends our side once the client half-closes.
  socket.pipe(socket);
}

function onTcpConnection(socket: net.Socket, httpServer: http.Server): void {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
  let buf: Buffer = Buffer.alloc(0);
  let timer: NodeJS.Timeout | undefined;

  const settle = (mode: 'http' | 'raw'): void => {
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    if (timer) clearTimeout(timer);
    if (mode === 'http') {
      // Give the sniffed bytes back to the stream and let the HTTP server take the socket over.
      socket.pause();
      socket.unshift(buf);
      httpServer.emit('connection', socket);
      socket.resume();
    } else {
      startEcho(socket, buf);
    }
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const verdict = sniffProtocol(buf);
    if (verdict !== 'undecided') settle(verdict);
    else timer ??= setTimeout(() => settle('raw'), SNIFF_TIMEOUT_MS);
  };
  const onEnd = (): void => {
    // Client half-closed before we could tell: echo what we have, then close.
    socket.removeListener('data', onData);
    if (timer) clearTimeout(timer);
    socket.end(buf);
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
}

function listenTcp(p: PortSpec, httpServer: http.Server): Promise<void> {
  return new Promise((resolve) => {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => onTcpConnection(socket, httpServer));
    server.once('error', (err) => bindFailure(p, err));
    // No host: Node binds :: (dual stack) and falls back to 0.0.0.0 where IPv6 is unavailable.
    server.listen({ port: p.port, ipv6Only: false }, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => process.stderr.write(`kemu-builtin: ${formatPortSpec(p)}: ${err.message}\n`));
      tcpServers.push(server);
      resolve();
    });
  });
}

function bindUdp(p: PortSpec, type: 'udp6' | 'udp4'): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(type === 'udp6' ? { type, ipv6Only: false } : { type });
    sock.once('error', (err) => {
      try {
        sock.close();
      } catch {
        // never bound
      }
      reject(err);
    });
    sock.bind(p.port, () => {
      sock.removeAllListeners('error');
      resolve(sock);
    });
  });
}

async function listenUdp(p: PortSpec, podName: string): Promise<void> {
  let sock: dgram.Socket;
  try {
    sock = await bindUdp(p, 'udp6');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL' && code !== 'EPROTONOSUPPORT') {
      bindFailure(p, err as NodeJS.ErrnoException);
    }
    try {
      sock = await bindUdp(p, 'udp4');
    } catch (err4) {
      bindFailure(p, err4 as NodeJS.ErrnoException);
    }
  }
  sock.on('error', (err) => process.stderr.write(`kemu-builtin: ${formatPortSpec(p)}: ${err.message}\n`));
  sock.on('message', (msg, rinfo) => {
    sock.send(udpReply(msg, podName), rinfo.port, rinfo.address);
  });
  udpSockets.push(sock);
}

async function main(): Promise<void> {
  let config: BuiltinConfig;
  try {
    config = loadConfig(process.env, os.hostname());
  } catch (err) {
    if (err instanceof PortSpecError) {
      process.stderr.write(`kemu-builtin: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  for (const w of config.warnings) process.stderr.write(`kemu-builtin: ${w}\n`);

  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  // Keeps the process alive like a pause container when there is nothing to listen on.
  setInterval(() => {}, 1 << 30);

  const { identity } = config;
  process.stdout.write(
    `kemu built-in server for pod ${identity.namespace}/${identity.podName} (container ${identity.containerName}, image ${identity.image})\n`,
  );
  const httpServer = makeHttpServer(config);
  let listening = 0;
  for (const p of config.ports) {
    if (p.protocol === 'SCTP') {
      process.stderr.write(`kemu-builtin: ${formatPortSpec(p)}: ${SCTP_UNSUPPORTED}; skipping\n`);
      continue;
    }
    if (p.protocol === 'TCP') await listenTcp(p, httpServer);
    else await listenUdp(p, identity.podName);
    listening++;
    process.stdout.write(`listening on ${formatPortSpec(p)}\n`);
  }
  if (listening === 0) process.stdout.write('no ports to listen on; idling until SIGTERM\n');
  signalReady();
}

/** Tell the kubelet (on the fd it names in KEMU_READY_FD) that every port is bound. */
function signalReady(): void {
  const fd = Number(process.env.KEMU_READY_FD);
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    fs.writeSync(fd, 'ready\n');
    fs.closeSync(fd);
  } catch {
    // Not started by kemu's kubelet (or it went away): nothing to tell.
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`kemu-builtin: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
