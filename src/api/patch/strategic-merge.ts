// Strategic merge patch (application/strategic-merge-patch+json), the patch kubectl's
// client-side apply, `patch`, `set image` and `rollout restart` send. Applied as
// k8s.io/apimachinery/pkg/util/strategicpatch does for the directives kubectl emits:
//   - null deletes a map key; nested maps merge;
//   - lists with a merge key merge element-wise; {"$patch":"delete", <key>: v} removes one;
//   - "$setElementOrder/<field>" gives the final order of a merged list;
//   - "$patch": "replace" on a map or in a list replaces it whole; "$patch": "delete" on a map
//     removes it;
//   - "$retainKeys" keeps only the listed keys of a map (deployment strategy, volumes);
//   - "$deleteFromPrimitiveList/<field>" removes values from a primitive set (finalizers);
//   - primitive lists marked merge (finalizers) are unions; all other lists are replaced.
// No library does this in JavaScript (the reference implementation is Go and schema-driven),
// so this is a careful port of the parts kubectl uses, driven by merge-keys.ts.
import { badRequest } from '../../store/errors.js';
import { listStrategy, type ListStrategy } from './merge-keys.js';

type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const SET_ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';

function sameKey(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** A copy of a patch fragment with every directive removed (what a new element becomes). */
export function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((e) => !(isObj(e) && e.$patch !== undefined && Object.keys(e).length === 1)).map(stripDirectives);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    if (x === null) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

/** Applies a strategic merge patch to an object of `kind`; neither argument is modified. */
export function strategicMerge(kind: string, original: unknown, patch: unknown): unknown {
  if (!isObj(patch)) throw badRequest('the strategic merge patch must be a JSON object');
  return mergeMap(isObj(original) ? original : {}, patch, kind, []);
}

function mergeMap(original: Obj, patch: Obj, kind: string, path: string[]): Obj | undefined {
  const directive = patch.$patch;
  if (directive === 'replace') return stripDirectives(patch) as Obj;
  if (directive === 'delete') return undefined;
  if (directive !== undefined && directive !== 'merge') throw badRequest(`Unknown patch type: ${String(directive)}`);
  const out: Obj = structuredClone(original);
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$patch' || key === '$retainKeys' || key.startsWith(SET_ORDER)) continue;
    if (key.startsWith(DELETE_PRIMITIVE)) {
      const field = key.slice(DELETE_PRIMITIVE.length);
      if (!Array.isArray(value)) throw badRequest(`${key}: must be a list`);
      const cur = out[field];
      if (Array.isArray(cur)) out[field] = cur.filter((x) => !value.some((d) => sameKey(d, x)));
      continue;
    }
    if (key.startsWith('$')) throw badRequest(`unknown directive ${key}`);
    if (value === null) {
      delete out[key];
      continue;
    }
    const childPath = [...path, key];
    if (isObj(value)) {
      const merged = mergeMap(isObj(out[key]) ? (out[key] as Obj) : {}, value, kind, childPath);
      if (merged === undefined) delete out[key];
      else out[key] = merged;
    } else if (Array.isArray(value)) {
      out[key] = mergeList(out[key], value, kind, childPath, patch[SET_ORDER + key]);
    } else out[key] = value;
  }
  // Orders for lists the patch did not otherwise touch.
  for (const [key, order] of Object.entries(patch)) {
    if (!key.startsWith(SET_ORDER)) continue;
    const field = key.slice(SET_ORDER.length);
    if (field in patch) continue;
    const cur = out[field];
    const strat = listStrategy(kind, [...path, field]);
    if (Array.isArray(cur) && Array.isArray(order) && strat) out[field] = applyOrder(cur, order, strat);
  }
  const retain = patch.$retainKeys;
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw badRequest('$retainKeys: must be a list');
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function mergeList(original: unknown, patch: unknown[], kind: string, path: string[], order: unknown): unknown[] {
  const strat = listStrategy(kind, path);
  if (!strat) return stripDirectives(patch) as unknown[];
  const cur = Array.isArray(original) ? structuredClone(original) : [];
  if (patch.some((e) => isObj(e) && e.$patch === 'replace')) {
    return stripDirectives(patch.filter((e) => !(isObj(e) && e.$patch === 'replace'))) as unknown[];
  }
  let out: unknown[];
  if (strat.primitiveMerge) {
    out = [...cur];
    for (const v of patch) if (!out.some((x) => sameKey(x, v))) out.push(v);
  } else {
    const key = strat.mergeKey!;
    out = cur;
    for (const e of patch) {
      if (!isObj(e)) throw badRequest(`${path.join('.')}: elements must be objects with the merge key "${key}"`);
      if (!(key in e)) throw badRequest(`map: ${JSON.stringify(e)} does not contain declared merge key: ${key}`);
      const i = out.findIndex((x) => isObj(x) && sameKey(x[key], e[key]));
      if (e.$patch === 'delete') {
        if (i >= 0) out = out.filter((x) => !(isObj(x) && sameKey(x[key], e[key])));
        continue;
      }
      if (i >= 0) {
        const merged = mergeMap(out[i] as Obj, e, kind, path);
        if (merged === undefined) out.splice(i, 1);
        else out[i] = merged;
      } else out.push(stripDirectives(e));
    }
  }
  return Array.isArray(order) ? applyOrder(out, order, strat) : out;
}

/** $setElementOrder: listed elements first in that order, the others after in their order. */
function applyOrder(list: unknown[], order: unknown[], strat: ListStrategy): unknown[] {
  const idOf = (x: unknown) => (strat.primitiveMerge ? x : isObj(x) ? x[strat.mergeKey!] : undefined);
  const wanted = order.map((o) => (strat.primitiveMerge ? o : isObj(o) ? o[strat.mergeKey!] : undefined));
  const ranked: unknown[] = [];
  const rest: unknown[] = [];
  const pos = (x: unknown) => wanted.findIndex((w) => sameKey(w, idOf(x)));
  for (const x of list) (pos(x) >= 0 ? ranked : rest).push(x);
  ranked.sort((a, b) => pos(a) - pos(b));
  return [...ranked, ...rest];
}
