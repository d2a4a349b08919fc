// What the apiserver does to an object between decoding and storage: strict field checks,
// defaults, validation (422 with field paths), namespace existence, and immutability rules.
import { ApiError, badRequest } from '../store/errors.js';
import type { KObject, Store } from '../store/store.js';
import { admitDefaultIngressClass } from './default-ingress-class.js';
import { type ResourceInfo } from './resources.js';
import type { Allocation, ServiceAllocator } from './service-alloc.js';
import { orderFields } from './schema.js';
import { applyDefaults, ignoredFields, statusInvalid, strictDecode, typeError, validate } from './validation.js';

export interface Admitted {
  object: KObject;
  warnings: string[];
  /** What a Service write claimed (ClusterIP, NodePorts): revert() it if the write does not happen. */
  allocation?: Allocation;
}

export function admit(
  store: Store,
  info: ResourceInfo,
  obj: KObject,
  op: 'create' | 'update',
  fieldValidation: string | null,
  current?: KObject,
  services?: ServiceAllocator,
): Admitted {
  const warnings: string[] = [];
  const te = typeError(obj);
  if (te) throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${te.message}`);
  const unknown = strictDecode(obj);
  if (unknown.length) {
    const text = unknown.map((f) => `unknown field "${f}"`).join(', ');
    if (fieldValidation === 'Strict') {
      throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${text}`);
    }
    if (fieldValidation !== 'Ignore') warnings.push(...unknown.map((f) => `unknown field "${f}"`));
  }
  for (const f of ignoredFields(obj)) warnings.push(`${f}: accepted but ignored by kemu`);
  const object = applyDefaults(structuredClone(obj)) as KObject;
  if (op === 'create' && info.resource === 'ingresses') admitDefaultIngressClass(store, object);
  // The apiserver allocates before it validates (the registry's BeginCreate/BeginUpdate), so
  // an unavailable clusterIP or nodePort is the error reported; anything failing later undoes it.
  const allocation = services && info.resource === 'services' ? services.admit(object, op === 'update' ? current : undefined) : undefined;
  try {
    checkObject(store, info, object, op, current);
  } catch (err) {
    allocation?.revert();
    throw err;
  }
  // Services get fields at different steps on create and update; a canonical order keeps a
  // re-applied, unchanged Service from counting as modified.
  return { object: info.resource === 'services' ? orderFields(object) : object, warnings, allocation };
}

function checkObject(store: Store, info: ResourceInfo, object: KObject, op: 'create' | 'update', current: KObject | undefined): void {
  const causes = validate(object, op === 'update' ? current : undefined);
  if (causes.length) {
    const st = statusInvalid(info.kind, object.metadata?.name ?? '', info.group, causes);
    throw new ApiError(422, 'Invalid', st.message, st.details);
  }
  if (info.namespaced) {
    const ns = object.metadata.namespace!;
    const nsObj = store.get('namespaces', undefined, ns);
    if (!nsObj) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (op === 'create' && nsObj.metadata.deletionTimestamp) {
      throw new ApiError(403, 'Forbidden', `${info.resource} "${object.metadata.name}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
    }
  }
  if (op === 'update' && current && info.resource === 'pods') {
    // Pod specs are immutable except for a few fields; kemu keeps what the scheduler set.
    const a = structuredClone(current.spec);
    const b = structuredClone(object.spec);
    for (const s of [a, b]) {
      delete s.nodeName;
      for (const c of s.containers ?? []) delete c.image;
      delete s.activeDeadlineSeconds;
      delete s.tolerations;
      delete s.terminationGracePeriodSeconds;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      throw new ApiError(422, 'Invalid', `Pod "${object.metadata.name}" is invalid: spec: Forbidden: pod updates may not change fields other than \`spec.containers[*].image\`,\`spec.initContainers[*].image\`,\`spec.activeDeadlineSeconds\`,\`spec.tolerations\` (only additions to existing tolerations),\`spec.terminationGracePeriodSeconds\` (allow it to be set to 1 if it was previously negative)`, {
        name: object.metadata.name,
        kind: 'Pod',
        causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: pod updates may not change fields other than ...', field: 'spec' }],
      });
    }
    if (!object.spec.nodeName && current.spec.nodeName) object.spec.nodeName = current.spec.nodeName;
  }
  if (op === 'update' && current) {
    // Server-owned metadata survives a client's PUT.
    for (const k of ['ownerReferences', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'finalizers'] as const) {
      if (object.metadata[k] === undefined && current.metadata[k] !== undefined) (object.metadata as any)[k] = current.metadata[k];
    }
  }
}
