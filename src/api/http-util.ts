// Small HTTP helpers shared by the API server and the daemon's extra routes.
import type http from 'node:http';
import YAML from 'yaml';
import { ApiError, badRequest } from '../store/errors.js';

export function json(res: http.ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}

export function text(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** `Warning: 299 - "text"` headers; kubectl prints each as `Warning: text` on stderr. */
export function warn(res: http.ServerResponse, warnings: string[]): void {
  if (!warnings.length || res.headersSent) return;
  const prev = res.getHeader('Warning');
  const old = Array.isArray(prev) ? prev : prev ? [String(prev)] : [];
  res.setHeader('Warning', [...old, ...warnings.map((w) => `299 - "${w.replace(/"/g, "'")}"`)]);
}

/** The media type of a request body, without parameters ("application/merge-patch+json"). */
export function mediaType(req: http.IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 8 << 20) throw new ApiError(413, 'RequestEntityTooLarge', 'the request body is larger than 8 MiB');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function protobufRefused(): ApiError {
  // kubectl's imperative generators (`kubectl create namespace|configmap|secret …`) send
  // protobuf and have no JSON fallback; kemu speaks JSON only.
  return new ApiError(
    415,
    'UnsupportedMediaType',
    'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (kemu does not decode protobuf: use `kubectl apply -f` or `kubectl create -f`)',
  );
}

/** A JSON body (YAML too for application/apply-patch+yaml and application/yaml). */
export async function readJson(req: http.IncomingMessage, optional = false): Promise<unknown> {
  const mt = mediaType(req);
  if (mt.includes('protobuf')) throw protobufRefused();
  const s = await readBody(req);
  if (!s.trim()) {
    if (optional) return undefined;
    throw badRequest('the request body is empty');
  }
  if (mt === 'application/apply-patch+yaml' || mt === 'application/yaml') {
    try {
      return YAML.parse(s, { version: '1.2' });
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(s);
  } catch (err) {
    throw badRequest(`the request body is not valid JSON: ${(err as Error).message}`);
  }
}

export function isTrue(v: string | null): boolean {
  return v === 'true' || v === '1';
}

export function isDryRun(url: URL): boolean {
  const all = url.searchParams.getAll('dryRun');
  for (const v of all) if (v !== 'All') throw badRequest(`Invalid dry run value: ${v}`);
  return all.includes('All');
}
