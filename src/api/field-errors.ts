// field.Error as k8s.io/apimachinery builds and prints it, and the name/label/IP rules of
// k8s.io/apimachinery/pkg/util/validation with their exact messages. Shared by every kind's
// validation so a kemu error reads like the one a real cluster would give.

export type Obj = Record<string, any>;

export type CauseType = 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden';

export interface Cause {
  field: string;
  type: CauseType;
  /** The offending value, where the message shows it. */
  value?: unknown;
  detail: string;
  /** As field.Error.Error() prints it. */
  message: string;
}

/**
 * A value that Go prints with %#v in a way JSON cannot reproduce (`[]string{"10.96.0.5"}`,
 * `core.ServicePort{...}`): field.Error falls back to %#v for anything but scalars.
 */
export class GoValue {
  constructor(readonly repr: string) {}
}

/** `[]string{"a", "b"}` as %#v prints a []string. */
export function goStrings(list: readonly string[] | undefined): GoValue {
  return new GoValue(list ? `[]string{${list.map((s) => JSON.stringify(s)).join(', ')}}` : '[]string(nil)');
}

function fmtValue(v: unknown): string {
  if (v instanceof GoValue) return v.repr;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return 'null';
  return JSON.stringify(v);
}

export function cause(field: string, type: CauseType, detail: string, value?: unknown, supported?: string[]): Cause {
  let body: string;
  switch (type) {
    case 'FieldValueRequired':
      body = `Required value${detail ? `: ${detail}` : ''}`;
      break;
    case 'FieldValueInvalid':
      body = `Invalid value: ${fmtValue(value)}${detail ? `: ${detail}` : ''}`;
      break;
    case 'FieldValueNotSupported':
      body = `Unsupported value: ${fmtValue(value)}: supported values: ${(supported ?? []).map((s) => `"${s}"`).join(', ')}`;
      detail = `supported values: ${(supported ?? []).map((s) => `"${s}"`).join(', ')}`;
      break;
    case 'FieldValueDuplicate':
      body = `Duplicate value: ${fmtValue(value)}`;
      break;
    case 'FieldValueForbidden':
      body = `Forbidden${detail ? `: ${detail}` : ''}`;
      break;
  }
  return { field, type, value, detail, message: `${field}: ${body}` };
}

export const required = (f: string, detail = ''): Cause => cause(f, 'FieldValueRequired', detail);
export const invalid = (f: string, v: unknown, detail: string): Cause => cause(f, 'FieldValueInvalid', detail, v);
export const unsupported = (f: string, v: unknown, supported: string[]): Cause => cause(f, 'FieldValueNotSupported', '', v, supported);
export const duplicate = (f: string, v: unknown): Cause => cause(f, 'FieldValueDuplicate', '', v);
export const forbidden = (f: string, detail: string): Cause => cause(f, 'FieldValueForbidden', detail);

// ---------------------------------------------------------------------------------------------
// Name rules (k8s.io/apimachinery/pkg/util/validation)

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[-a-z0-9]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const QUALIFIED_NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

export function labelErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(v)) {
    out.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
  }
  return out;
}

/** IsDNS1035Label: Service names (they become DNS labels and env var prefixes). */
export function dns1035Errors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(v)) {
    out.push(
      `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    );
  }
  return out;
}

export function subdomainErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) out.push(SUBDOMAIN_MSG);
  return out;
}

/** IsValidPortName. */
export function portNameErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 15) out.push('must be no more than 15 characters');
  if (!IANA_SVC_NAME.test(v)) out.push(`must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)`);
  if (!/[a-z]/.test(v)) out.push('must contain at least one letter (a-z)');
  if (v.includes('--')) out.push('must not contain consecutive hyphens');
  if (v.startsWith('-') || v.endsWith('-')) out.push('must not begin or end with a hyphen');
  return out;
}

/** IsQualifiedName: label keys, appProtocol, loadBalancerClass. */
export function qualifiedNameErrors(v: string): string[] {
  const out: string[] = [];
  const parts = v.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (!prefix) out.push('prefix part must be non-empty');
    else for (const m of subdomainErrors(prefix)) out.push(`prefix part ${m}`);
  } else {
    return [`a qualified name ${QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (!name) out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME.test(name)) out.push(`name part ${QUALIFIED_NAME_MSG}`);
  return out;
}

/** IsValidLabelValue. */
export function labelValueErrors(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(v)) {
    out.push(
      `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
    );
  }
  return out;
}

/** ValidateLabels: keys as qualified names, values as label values, all reported at `field`. */
export function validateLabels(labels: unknown, field: string, out: Cause[]): void {
  if (!labels || typeof labels !== 'object') return;
  for (const [k, v] of Object.entries(labels as Obj)) {
    for (const m of qualifiedNameErrors(k)) out.push(invalid(field, k, m));
    if (typeof v === 'string') for (const m of labelValueErrors(v)) out.push(invalid(field, v, m));
  }
}

/** ObjectMeta: name per the kind's rule, namespace, labels. */
export function validateMeta(meta: Obj | undefined, rule: 'label' | 'subdomain' | 'dns1035', namespaced: boolean, out: Cause[]): void {
  if (!meta || typeof meta !== 'object') {
    out.push(required('metadata.name', 'name or generateName is required'));
    return;
  }
  const name = meta.name;
  if (!name) out.push(required('metadata.name', 'name or generateName is required'));
  else {
    const errs = rule === 'label' ? labelErrors(name) : rule === 'dns1035' ? dns1035Errors(name) : subdomainErrors(name);
    for (const msg of errs) out.push(invalid('metadata.name', name, msg));
  }
  if (namespaced && meta.namespace !== undefined) for (const msg of labelErrors(meta.namespace)) out.push(invalid('metadata.namespace', meta.namespace, msg));
  validateLabels(meta.labels, 'metadata.labels', out);
}

export const PORT_RANGE = 'must be between 1 and 65535, inclusive';

export function validPort(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

// ---------------------------------------------------------------------------------------------
// IP rules (IPv4 only: kemu's clusters are single-stack IPv4)

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** netutils.ParseIPSloppy for IPv4 (leading zeros tolerated), as uint32, or undefined. */
export function parseIPv4(s: unknown): number | undefined {
  if (typeof s !== 'string') return undefined;
  const m = IPV4.exec(s);
  if (!m) return undefined;
  const p = m.slice(1).map(Number);
  if (p.some((x) => x > 255)) return undefined;
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** Anything with a ':' is taken as IPv6 (kemu does not serve it, but must word errors right). */
export function looksIPv6(s: string): boolean {
  return s.includes(':');
}

export const IP_MSG = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';
export const CIDR_MSG = 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)';

export function isValidIP(s: unknown): boolean {
  return parseIPv4(s) !== undefined || (typeof s === 'string' && /^[0-9a-fA-F:.]+$/.test(s) && s.includes(':'));
}

export function isValidCIDR(s: unknown): boolean {
  if (typeof s !== 'string') return false;
  const i = s.indexOf('/');
  if (i < 0) return false;
  const len = Number(s.slice(i + 1));
  const ip = s.slice(0, i);
  if (!/^\d+$/.test(s.slice(i + 1))) return false;
  if (parseIPv4(ip) !== undefined) return len >= 0 && len <= 32;
  return isValidIP(ip) && len >= 0 && len <= 128;
}

/** ValidateNonSpecialIP (externalIPs). */
export function nonSpecialIPErrors(s: string): string[] {
  const ip = parseIPv4(s);
  if (ip === undefined) return looksIPv6(s) ? [] : ['must be a valid IP address'];
  const out: string[] = [];
  if (ip === 0) out.push(`may not be unspecified (${s})`);
  if (ip >>> 24 === 127) out.push('may not be in the loopback range (127.0.0.0/8, ::1/128)');
  if (ip >>> 16 === 0xa9fe) out.push('may not be in the link-local range (169.254.0.0/16, fe80::/10)');
  if (ip >>> 8 === 0xe00000) out.push('may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)');
  return out;
}
