// Pure parts of kemu's built-in container server (see builtin-server.ts for the process that
// wires them to sockets). Nothing in this module opens a socket, reads process.env or touches
// the clock on import, so it can be unit-tested in-process.
//
// Environment contract (set by kemu when a container has no `command`):
//   KEMU_PORTS           comma list of `[name:]port[/PROTO]`, PROTO one of TCP (default), UDP,
//                        SCTP (case-insensitive). Empty or unset: listen on nothing, idle.
//   KEMU_POD_NAME        pod name (answer of /hostname and UDP `hostname`); falls back to the
//                        UTS hostname, which kemu sets to the pod name anyway.
//   KEMU_POD_NAMESPACE, KEMU_POD_IP, KEMU_NODE_NAME, KEMU_CONTAINER_NAME, KEMU_IMAGE
//                        shown on the default page.
import { METHODS } from 'node:http';

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface PortSpec {
  /** Optional port name (`http` in `http:80/TCP`). */
  name?: string;
  port: number;
  protocol: PortProtocol;
}

export interface PodIdentity {
  podName: string;
  namespace: string;
  podIP: string;
  nodeName: string;
  containerName: string;
  image: string;
}

export interface BuiltinConfig {
  ports: PortSpec[];
  /** Non-fatal remarks about KEMU_PORTS (duplicates dropped), meant for stderr. */
  warnings: string[];
  identity: PodIdentity;
}

/** A KEMU_PORTS entry that cannot be understood. The message names the entry. */
export class PortSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PortSpecError';
  }
}

export const SERVER_HEADER = 'kemu-builtin';
export const SCTP_UNSUPPORTED = "SCTP not supported by kemu's built-in server";

// IANA_SVC_NAME-ish, leniently case-insensitive: letters, digits and inner dashes.
const PORT_NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

export function formatPortSpec(p: PortSpec): string {
  return `${p.port}/${p.protocol}`;
}

/** Parses one `[name:]port[/PROTO]` entry. Throws PortSpecError naming the entry. */
export function parsePortSpec(entry: string): PortSpec {
  const raw = entry.trim();
  const fail = (why: string): never => {
    throw new PortSpecError(`invalid KEMU_PORTS entry "${raw}": ${why} (expected [name:]port[/TCP|UDP|SCTP], e.g. http:80/TCP)`);
  };
  let rest = raw;
  let name: string | undefined;
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    name = rest.slice(0, colon).trim();
    rest = rest.slice(colon + 1).trim();
    if (!PORT_NAME_RE.test(name)) fail(`bad port name "${name}"`);
  }
  let protocol: PortProtocol = 'TCP';
  const slash = rest.indexOf('/');
  if (slash !== -1) {
    const proto = rest.slice(slash + 1).trim().toUpperCase();
    rest = rest.slice(0, slash).trim();
    if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP') fail(`unknown protocol "${proto}"`);
    protocol = proto as PortProtocol;
  }
  if (!/^\d+$/.test(rest)) fail(`port "${rest}" is not a number`);
  const port = Number(rest);
  if (port < 1 || port > 65535) fail(`port ${port} out of range 1-65535`);
  return name === undefined ? { port, protocol } : { name, port, protocol };
}

/** Parses KEMU_PORTS. Empty entries are ignored; repeated port/protocol pairs are dropped with a warning. */
export function parsePorts(value: string | undefined): { ports: PortSpec[]; warnings: string[] } {
  const ports: PortSpec[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const entry of (value ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const spec = parsePortSpec(entry);
    const key = formatPortSpec(spec);
    if (seen.has(key)) {
      warnings.push(`duplicate port ${key} in KEMU_PORTS ignored`);
      continue;
    }
    seen.add(key);
    ports.push(spec);
  }
  return { ports, warnings };
}

/** Reads the whole configuration from an environment. Throws PortSpecError on a bad KEMU_PORTS. */
export function loadConfig(env: Record<string, string | undefined>, fallbackHostname = 'localhost'): BuiltinConfig {
  const { ports, warnings } = parsePorts(env.KEMU_PORTS);
  const val = (k: string, dflt: string): string => {
    const v = env[k]?.trim();
    return v ? v : dflt;
  };
  return {
    ports,
    warnings,
    identity: {
      podName: val('KEMU_POD_NAME', fallbackHostname),
      namespace: val('KEMU_POD_NAMESPACE', 'default'),
      podIP: val('KEMU_POD_IP', 'unknown'),
      nodeName: val('KEMU_NODE_NAME', 'unknown'),
      containerName: val('KEMU_CONTAINER_NAME', 'unknown'),
      image: val('KEMU_IMAGE', 'unknown'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Protocol sniffing

const METHOD_PREFIXES = METHODS.map((m) => `${m} `);
const LONGEST_PREFIX = Math.max(...METHOD_PREFIXES.map((m) => m.length));

export type SniffResult = 'http' | 'raw' | 'undecided';

/**
 * Classifies the first bytes of a TCP connection: 'http' once they start with `METHOD SP`
 * (a method Node's HTTP parser knows), 'raw' as soon as they cannot, 'undecided' while they are
 * still a proper prefix of some `METHOD SP` (e.g. "GE"), including when nothing arrived yet.
 */
export function sniffProtocol(first: Uint8Array): SniffResult {
  const head = Buffer.from(first.buffer, first.byteOffset, Math.min(first.length, LONGEST_PREFIX)).toString('latin1');
  if (head.length === 0) return 'undecided';
  let prefixOfSome = false;
  for (const m of METHOD_PREFIXES) {
    if (head.startsWith(m)) return 'http';
    if (m.startsWith(head)) prefixOfSome = true;
  }
  return prefixOfSome ? 'undecided' : 'raw';
}

// ---------------------------------------------------------------------------------------------
// Addresses

/** Strips the IPv4-mapped prefix: `::ffff:10.0.0.5` -> `10.0.0.5`. */
export function normalizeAddress(addr: string | undefined): string {
  if (!addr) return 'unknown';
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1]! : addr;
}

/** `IP:port` as Go's RemoteAddr prints it (agnhost /clientip): IPv6 goes in brackets. */
export function formatClientAddress(addr: string | undefined, port: number | undefined): string {
  const ip = normalizeAddress(addr);
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port === undefined ? host : `${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface HttpRequestInfo {
  method: string;
  /** Request target as sent (`/echo?msg=x`, or absolute-form). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress?: string;
  remotePort?: number;
}

export interface HttpResponsePlan {
  status: number;
  /** Complete header set to send, Content-Length included (also for HEAD). */
  headers: Record<string, string>;
  /** Body for GET; the transport must not send it for HEAD. */
  body: Buffer;
  /** When set, the process must exit with this code once the response went out. */
  exitCode?: number;
}

function plan(status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): HttpResponsePlan {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return {
    status,
    headers: {
      Server: SERVER_HEADER,
      'Content-Type': contentType,
      'Content-Length': String(buf.length),
      ...extra,
    },
    body: buf,
  };
}

const TEXT = 'text/plain; charset=utf-8';

function parseTarget(url: string): URL | undefined {
  try {
    // Origin-form targets are appended verbatim so that `//x` stays a path, not a host.
    return url.startsWith('/') ? new URL(`http://builtin${url}`) : new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * Routes one request in the manner of agnhost netexec. Everything not listed below, `/`
 * included, gets the default page.
 *   /hostname      pod name, no trailing newline
 *   /clientip      peer `IP:port` as seen by the server
 *   /echo?msg=X    X
 *   /healthz       ok
 *   /headers       request headers as JSON
 *   /shell         501 (deliberately not implemented)
 *   /exit?code=N   responds, then the process exits with N (0-255, default 0)
 */
export function routeRequest(req: HttpRequestInfo, id: PodIdentity): HttpResponsePlan {
  const target = parseTarget(req.url);
  if (!target) return plan(400, TEXT, `bad request target: ${req.url}\n`);
  const client = formatClientAddress(req.remoteAddress, req.remotePort);
  switch (target.pathname) {
    case '/hostname':
      return plan(200, TEXT, id.podName);
    case '/clientip':
      return plan(200, TEXT, client);
    case '/echo':
      return plan(200, TEXT, target.searchParams.get('msg') ?? '');
    case '/healthz':
      return plan(200, TEXT, 'ok');
    case '/headers':
      return plan(200, 'application/json', JSON.stringify(req.headers));
    case '/shell':
      return plan(501, TEXT, "/shell is not implemented by kemu's built-in server (it does not run commands); give the container a command/image that does\n");
    case '/exit': {
      const raw = target.searchParams.get('code') ?? '0';
      if (!/^\d{1,3}$/.test(raw) || Number(raw) > 255) {
        return plan(400, TEXT, `invalid exit code "${raw}": want an integer 0-255\n`);
      }
      const code = Number(raw);
      return { ...plan(200, TEXT, `exiting with code ${code}\n`, { Connection: 'close' }), exitCode: code };
    }
    default:
      return plan(200, 'text/html; charset=utf-8', renderDefaultPage(id, client));
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page served for `/` and unknown paths: nginx's welcome page, saying who answered. */
export function renderDefaultPage(id: PodIdentity, client: string): string {
  const e = escapeHtml;
  const row = (k: string, v: string): string => `<tr><th>${k}</th><td>${e(v)}</td></tr>`;
  return `<!DOCTYPE html>
<html>
<head>
<title>Welcome to ${e(id.podName)}!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
th { text-align: left; padding-right: 1em; }
</style>
</head>
<body>
<h1>Welcome to ${e(id.podName)}!</h1>
<p>If you see this page, your request reached pod ${e(id.namespace)}/${e(id.podName)}.
This is kemu's built-in server, standing in for image ${e(id.image)}.</p>
<table>
${row('pod', id.podName)}
${row('namespace', id.namespace)}
${row('pod IP', id.podIP)}
${row('node', id.nodeName)}
${row('container', id.containerName)}
${row('image', id.image)}
${row('client', client)}
</table>
<p><em>Served by ${SERVER_HEADER}.</em></p>
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------
// Access log

export interface AccessLogEntry {
  remoteAddress?: string;
  time: Date;
  method: string;
  url: string;
  httpVersion: string;
  status: number;
  bytes: number;
  referer?: string;
  userAgent?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** nginx's $time_local: `10/Oct/2000:13:55:36 -0700`, in the process's local zone. */
export function formatLogTime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${sign}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`;
}

/** Escapes like nginx does in logs: `"`, `\` and control characters become \xHH. */
function logField(s: string): string {
  return s.replace(/["\\\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** One line in nginx "combined" format (no trailing newline). */
export function formatAccessLog(e: AccessLogEntry): string {
  const dash = (s: string | undefined): string => (s ? logField(s) : '-');
  return `${normalizeAddress(e.remoteAddress)} - - [${formatLogTime(e.time)}] "${logField(`${e.method} ${e.url} HTTP/${e.httpVersion}`)}" ${e.status} ${e.bytes} "${dash(e.referer)}" "${dash(e.userAgent)}"`;
}

// ---------------------------------------------------------------------------------------------
// UDP

/** Reply to one datagram: the pod name for `hostname` (optionally newline-terminated), else the datagram itself. */
export function udpReply(msg: Buffer, podName: string): Buffer {
  if (/^hostname\r?\n?$/.test(msg.toString('latin1'))) return Buffer.from(podName, 'utf8');
  return msg;
}
