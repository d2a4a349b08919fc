// RFC 6902 JSON patch (application/json-patch+json: `kubectl patch --type json`) and RFC 7386
// JSON merge patch (application/merge-patch+json: `kubectl label`, `annotate`, `scale`).
import { ApiError, badRequest } from '../../store/errors.js';
import { isObj } from './strategic-merge.js';

/** RFC 7386 JSON merge patch: null deletes, objects merge, everything else (lists too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return patch;
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(p: unknown): string[] {
  if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) throw badRequest(`invalid JSON pointer: ${JSON.stringify(p)}`);
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, parts: string[], op: string): [unknown, string] {
  let cur = doc;
  for (const k of parts.slice(0, -1)) {
    const next = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[k] : undefined;
    if (next === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${op} operation does not apply: doc is missing path: /${parts.join('/')}`);
    cur = next;
  }
  return [cur, parts[parts.length - 1]!];
}

function getAt(doc: unknown, parts: string[]): unknown {
  let cur = doc;
  for (const k of parts) cur = Array.isArray(cur) ? cur[Number(k)] : isObj(cur) ? cur[k] : undefined;
  return cur;
}

function missing(op: string, path: string): ApiError {
  return new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${op} operation does not apply: doc is missing path: ${path}`);
}

function remove(doc: unknown, parts: string[], path: string): unknown {
  const [parent, last] = parentOf(doc, parts, 'remove');
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw missing('remove', path);
    return parent.splice(i, 1)[0];
  }
  if (!isObj(parent) || !(last in parent)) throw missing('remove', path);
  const v = parent[last];
  delete parent[last];
  return v;
}

function add(doc: unknown, parts: string[], value: unknown, op: string, path: string): unknown {
  if (!parts.length) return value;
  const [parent, last] = parentOf(doc, parts, op);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw missing(op, path);
    if (op === 'replace') parent[i] = value;
    else parent.splice(i, 0, value);
  } else if (isObj(parent)) {
    if (op === 'replace' && !(last in parent)) throw missing(op, path);
    parent[last] = value;
  } else throw missing(op, path);
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('a JSON patch must be a list of operations');
  let doc = structuredClone(target);
  for (const o of ops) {
    if (!isObj(o)) throw badRequest('a JSON patch operation must be an object');
    const path = String(o.path ?? '');
    const parts = pointer(o.path);
    switch (o.op) {
      case 'add':
      case 'replace':
        doc = add(doc, parts, structuredClone(o.value), o.op, path);
        break;
      case 'remove':
        remove(doc, parts, path);
        break;
      case 'move':
      case 'copy': {
        const from = pointer(o.from);
        const v = o.op === 'move' ? remove(doc, from, String(o.from)) : structuredClone(getAt(doc, from));
        if (v === undefined) throw missing(o.op, String(o.from));
        doc = add(doc, parts, v, 'add', path);
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(doc, parts)) !== JSON.stringify(o.value)) {
          throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${path} failed`);
        }
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(o.op)}`);
    }
  }
  return doc;
}
