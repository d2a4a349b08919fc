// Server-side apply (application/apply-patch+yaml), simplified. Each field manager's last
// applied configuration is remembered as the set of fields it contained, in the apiserver's
// FieldsV1 form ("f:spec": {"f:ports": {"k:{\"port\":80}": {".": {}}}}), in a managedFields
// entry with operation Apply. A new apply is then a strategic merge of the new configuration
// plus deletions for every field the manager applied last time and no longer does: the 3-way
// merge kubectl's client-side apply performs, with the previous field set as "original".
// Simplifications (docs/kubectl.md): fields owned by several managers are not tracked, so
// there are no apply conflicts (force is accepted and ignored) and a field one manager drops
// is removed even if another also applied it; Update operations get no managedFields entry.
import { isObj, strategicMerge } from './strategic-merge.js';
import { listStrategy } from './merge-keys.js';

type Obj = Record<string, unknown>;
export type FieldSet = Obj;

/** The fields an applied configuration sets, as FieldsV1. apiVersion/kind are not fields. */
export function fieldSet(kind: string, config: Obj): FieldSet {
  const { apiVersion: _a, kind: _k, ...rest } = config;
  const meta = isObj(rest.metadata) ? { ...rest.metadata } : undefined;
  if (meta) {
    // Identity fields are not owned.
    for (const k of ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'generation', 'managedFields']) delete meta[k];
    if (Object.keys(meta).length) rest.metadata = meta;
    else delete rest.metadata;
  }
  return mapFields(kind, rest, []);
}

function mapFields(kind: string, m: Obj, path: string[]): FieldSet {
  const out: FieldSet = {};
  for (const [k, v] of Object.entries(m)) {
    if (v === undefined) continue;
    out[`f:${k}`] = valueFields(kind, v, [...path, k]);
  }
  return out;
}

function valueFields(kind: string, v: unknown, path: string[]): FieldSet {
  if (isObj(v)) return mapFields(kind, v, path);
  if (Array.isArray(v)) {
    const strat = listStrategy(kind, path);
    if (!strat) return {};
    const out: FieldSet = {};
    for (const e of v) {
      if (strat.primitiveMerge) out[`v:${JSON.stringify(e)}`] = {};
      else if (isObj(e) && strat.mergeKey! in e) {
        out[`k:${JSON.stringify({ [strat.mergeKey!]: e[strat.mergeKey!] })}`] = { '.': {}, ...mapFields(kind, e, path) };
      }
    }
    return out;
  }
  return {};
}

/**
 * The strategic merge patch that removes what `previous` owned and `next` no longer sets.
 * Merged into the new configuration, it makes the apply a 3-way merge.
 */
export function deletions(previous: FieldSet, next: FieldSet): Obj {
  const out: Obj = {};
  for (const [k, sub] of Object.entries(previous)) {
    if (!k.startsWith('f:')) continue;
    const field = k.slice(2);
    const s = sub as FieldSet;
    // A leaf the manager no longer applies is deleted; a map or list it no longer mentions
    // loses only what the manager owned in it (a label, not every label).
    if (next[k] === undefined && Object.keys(s).length === 0) {
      out[field] = null;
      continue;
    }
    const ns = (next[k] ?? {}) as FieldSet;
    const keyed = Object.keys(s).filter((x) => x.startsWith('k:'));
    const values = Object.keys(s).filter((x) => x.startsWith('v:'));
    if (keyed.length || values.length) {
      const list: Obj[] = [];
      for (const kk of keyed) {
        const id = JSON.parse(kk.slice(2)) as Obj;
        if (ns[kk] === undefined) list.push({ $patch: 'delete', ...id });
        else {
          const d = deletions(s[kk] as FieldSet, ns[kk] as FieldSet);
          if (Object.keys(d).length) list.push({ ...d, ...id });
        }
      }
      if (list.length) out[field] = list;
      const gone = values.filter((v) => ns[v] === undefined).map((v) => JSON.parse(v.slice(2)));
      if (gone.length) out[`$deleteFromPrimitiveList/${field}`] = gone;
      continue;
    }
    const d = deletions(s, ns);
    if (Object.keys(d).length) out[field] = d;
  }
  return out;
}

/** Deep-merges a deletions patch into a configuration (both strategic-merge fragments). */
function withDeletions(kind: string, config: Obj, dels: Obj, path: string[]): Obj {
  const out: Obj = { ...config };
  for (const [k, d] of Object.entries(dels)) {
    const c = out[k];
    if (d === null || k.startsWith('$')) {
      out[k] = d;
    } else if (Array.isArray(d)) {
      const strat = listStrategy(kind, [...path, k]);
      const key = strat?.mergeKey;
      const list = Array.isArray(c) ? [...(c as unknown[])] : [];
      for (const e of d as Obj[]) {
        const i = key ? list.findIndex((x) => isObj(x) && JSON.stringify(x[key]) === JSON.stringify(e[key])) : -1;
        if (i >= 0 && e.$patch === undefined) list[i] = withDeletions(kind, list[i] as Obj, e, [...path, k]);
        else list.push(e);
      }
      out[k] = list;
    } else if (isObj(d)) out[k] = withDeletions(kind, isObj(c) ? c : {}, d, [...path, k]);
  }
  return out;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldSet;
}

/**
 * The object after `manager` applies `config` to `live` (undefined when absent): the merged
 * object, with the manager's managedFields entry replaced.
 */
export function serverSideApply(kind: string, live: Obj | undefined, config: Obj, manager: string, now: string): Obj {
  const meta = (isObj(live?.metadata) ? live!.metadata : {}) as Obj;
  const managed = (Array.isArray(meta.managedFields) ? meta.managedFields : []) as ManagedFieldsEntry[];
  const mine = managed.find((m) => m.manager === manager && m.operation === 'Apply');
  const next = fieldSet(kind, config);
  const cfg = structuredClone(config);
  // Server-owned identity in the body is not part of the patch.
  if (isObj(cfg.metadata)) delete cfg.metadata.managedFields;
  const patch = mine ? withDeletions(kind, cfg, deletions(mine.fieldsV1, next), []) : cfg;
  const merged = strategicMerge(kind, live ?? {}, patch) as Obj;
  // An apply that changes nothing keeps its old timestamp, so it is a no-op write (no new resourceVersion).
  const same = mine && JSON.stringify(mine.fieldsV1) === JSON.stringify(next);
  const entry: ManagedFieldsEntry = { manager, operation: 'Apply', apiVersion: String(config.apiVersion ?? ''), time: same ? mine.time : now, fieldsType: 'FieldsV1', fieldsV1: next };
  const m = (merged.metadata ??= {}) as Obj;
  m.managedFields = [...managed.filter((x) => !(x.manager === manager && x.operation === 'Apply')), entry];
  return merged;
}
