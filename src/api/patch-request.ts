// PATCH as the apiserver dispatches it on the body's media type: strategic merge (kubectl's
// apply, patch, set image), JSON merge (label, annotate, scale), JSON patch, and server-side
// apply (which also creates). Returns the object to admit; the caller validates and stores.
import { ApiError, badRequest, notFound } from '../store/errors.js';
import type { KObject } from '../store/store.js';
import { serverSideApply } from './patch/apply.js';
import { jsonPatch, mergePatch } from './patch/json-patch.js';
import { isObj, strategicMerge } from './patch/strategic-merge.js';
import type { ResourceInfo } from './resources.js';

export const PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
];

export interface Patched {
  object: KObject;
  /** Server-side apply of an object that did not exist. */
  created: boolean;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Applies a patch of media type `type` to `cur` (undefined when the object does not exist). */
export function applyPatch(info: ResourceInfo, type: string, cur: KObject | undefined, body: unknown, manager: string | null, name: string): Patched {
  switch (type) {
    case 'application/apply-patch+yaml': {
      if (!manager) throw badRequest('PATCH /apply requires fieldManager to be set');
      if (!isObj(body)) throw badRequest('the apply configuration must be an object');
      if (body.apiVersion !== info.groupVersion || body.kind !== info.kind) {
        throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${info.groupVersion}) or kind ${String(body.kind)} is not ${info.kind}`);
      }
      const merged = serverSideApply(info.kind, cur, body, manager, now()) as KObject;
      return { object: merged, created: !cur };
    }
    case 'application/strategic-merge-patch+json':
      if (!cur) throw notFound(info.group, info.resource, name);
      return { object: strategicMerge(info.kind, cur, body) as KObject, created: false };
    // Plain application/json is taken as a merge patch (kemu's own clients and tests
    // sent it before the other types existed; the apiserver would answer 415).
    case 'application/json':
    case 'application/merge-patch+json':
      if (!cur) throw notFound(info.group, info.resource, name);
      if (!isObj(body)) throw badRequest('a merge patch must be a JSON object');
      return { object: mergePatch(cur, body) as KObject, created: false };
    case 'application/json-patch+json':
      if (!cur) throw notFound(info.group, info.resource, name);
      return { object: jsonPatch(cur, body) as KObject, created: false };
    default:
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(', ')}`);
  }
}
