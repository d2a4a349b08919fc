// core/v1 Secret, ConfigMap and Event: the apiserver's defaults (Secret type, stringData folded
// into base64 data) and the validation users meet (config keys, immutable data, event scope).
import { type Cause, forbidden, invalid, required, validateMeta } from './field-errors.js';

type Obj = Record<string, any>;

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
const MAX_DATA = 1 << 20;

export function applySecretDefaults(obj: Obj): void {
  obj.type ??= 'Opaque';
  // The apiserver folds write-only stringData into data (base64) and never stores it.
  if (obj.stringData && typeof obj.stringData === 'object') {
    obj.data = { ...(obj.data ?? {}) };
    for (const [k, v] of Object.entries(obj.stringData as Obj)) obj.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    delete obj.stringData;
  }
}

function validateKeys(data: unknown, f: string, out: Cause[]): number {
  let size = 0;
  if (!data || typeof data !== 'object') return 0;
  for (const [k, v] of Object.entries(data as Obj)) {
    if (k.length > 253) out.push(invalid(f, k, 'must be no more than 253 characters'));
    if (!CONFIG_KEY.test(k)) out.push(invalid(f, k, CONFIG_KEY_MSG));
    size += typeof v === 'string' ? v.length : 0;
  }
  return size;
}

function validateImmutable(obj: Obj, old: Obj | undefined, fields: string[], out: Cause[]): void {
  if (!old || old.immutable !== true) return;
  for (const f of fields) {
    if (JSON.stringify(obj[f] ?? {}) !== JSON.stringify(old[f] ?? {})) out.push(forbidden(f, 'field is immutable when `immutable` is set'));
  }
  if (obj.immutable !== true) out.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
}

export function validateSecret(obj: Obj, old?: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  let size = validateKeys(obj.data, 'data', out);
  for (const [k, v] of Object.entries((obj.data ?? {}) as Obj)) {
    // data is []byte in Go: a value that is not base64 fails decoding before validation.
    if (typeof v === 'string' && !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) out.push(invalid(`data[${k}]`, '<secret contents redacted>', 'illegal base64 data'));
  }
  size = Math.floor((size * 3) / 4);
  if (size > MAX_DATA) out.push(forbidden('data', `Too long: may not be more than ${MAX_DATA} bytes`));
  if (old && old.type !== undefined && obj.type !== old.type) out.push(invalid('type', obj.type, 'field is immutable'));
  if (obj.type === 'kubernetes.io/tls') {
    for (const k of ['tls.crt', 'tls.key']) if (!(obj.data ?? {})[k]) out.push(required(`data[${k}]`));
  }
  validateImmutable(obj, old, ['data'], out);
  return out;
}

export function validateConfigMap(obj: Obj, old?: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  const size = validateKeys(obj.data, 'data', out) + validateKeys(obj.binaryData, 'binaryData', out);
  for (const k of Object.keys(obj.data ?? {})) {
    if (obj.binaryData && k in obj.binaryData) out.push(invalid('data', k, 'duplicate of key present in binaryData'));
  }
  if (size > MAX_DATA) out.push(forbidden('', `Too long: may not be more than ${MAX_DATA} bytes`));
  validateImmutable(obj, old, ['data', 'binaryData'], out);
  return out;
}

export function applyEventDefaults(obj: Obj): void {
  obj.involvedObject ??= {};
  if (obj.involvedObject.namespace === undefined && obj.metadata?.namespace) obj.involvedObject.namespace = obj.metadata.namespace;
  obj.type ??= 'Normal';
  obj.count ??= 1;
  obj.source ??= {};
  obj.reportingComponent ??= '';
  obj.reportingInstance ??= '';
}

export function validateEvent(obj: Obj): Cause[] {
  const out: Cause[] = [];
  validateMeta(obj.metadata, 'subdomain', true, out);
  const io = obj.involvedObject ?? {};
  if (io.namespace && obj.metadata?.namespace && io.namespace !== obj.metadata.namespace) {
    out.push(invalid('involvedObject.namespace', io.namespace, 'does not match event.namespace'));
  }
  if (obj.type !== undefined && !['Normal', 'Warning'].includes(obj.type)) {
    out.push(invalid('type', obj.type, 'has invalid value: must be "Normal" or "Warning"'));
  }
  return out;
}
