// Label and field selectors in the apiserver's string syntax:
//   labels: "app=web,tier!=db,env in (prod,staging),!legacy,release"
//   fields: "metadata.name=web-0,spec.nodeName!=n1"
import { badRequest } from '../store/errors.js';
import type { KObject } from '../store/store.js';

type Req =
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | '!exists'; key: string };

export type Matcher = (o: KObject) => boolean;

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

export function parseLabelSelector(s: string): Req[] {
  const reqs: Req[] = [];
  for (const part of splitTopLevel(s)) {
    let m: RegExpExecArray | null;
    if ((m = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part))) {
      reqs.push({ op: m[2] as 'in' | 'notin', key: m[1]!, values: m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '' || true) });
    } else if ((m = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(part))) {
      reqs.push({ op: m[2] === '!=' ? '!=' : '=', key: m[1]!, value: m[3]! });
    } else if ((m = /^!\s*([^\s!=(),]+)$/.exec(part))) {
      reqs.push({ op: '!exists', key: m[1]! });
    } else if ((m = /^([^\s!=(),]+)$/.exec(part))) {
      reqs.push({ op: 'exists', key: m[1]! });
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: key, '!key', 'key=value', 'key!=value', 'key in (…)' or 'key notin (…)'`);
    }
  }
  return reqs;
}

function test(reqs: Req[], get: (k: string) => string | undefined): boolean {
  for (const r of reqs) {
    const v = get(r.key);
    switch (r.op) {
      case '=':
        if (v !== r.value) return false;
        break;
      case '!=':
        if (v === r.value) return false;
        break;
      case 'in':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'notin':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'exists':
        if (v === undefined) return false;
        break;
      case '!exists':
        if (v !== undefined) return false;
        break;
    }
  }
  return true;
}

export function labelMatcher(s: string | null | undefined): Matcher | undefined {
  if (!s) return undefined;
  const reqs = parseLabelSelector(s);
  return (o) => test(reqs, (k) => o.metadata.labels?.[k]);
}

const FIELDS: Record<string, (o: KObject) => string | undefined> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace,
  'spec.nodeName': (o) => o.spec?.nodeName ?? '',
  'status.phase': (o) => o.status?.phase ?? '',
  'status.podIP': (o) => o.status?.podIP ?? '',
  'spec.restartPolicy': (o) => o.spec?.restartPolicy,
  'spec.schedulerName': (o) => o.spec?.schedulerName,
  'spec.serviceAccountName': (o) => o.spec?.serviceAccountName,
  'involvedObject.name': (o) => (o as any).involvedObject?.name,
  'involvedObject.kind': (o) => (o as any).involvedObject?.kind,
  'involvedObject.namespace': (o) => (o as any).involvedObject?.namespace,
  'involvedObject.uid': (o) => (o as any).involvedObject?.uid,
  'involvedObject.apiVersion': (o) => (o as any).involvedObject?.apiVersion,
  'involvedObject.resourceVersion': (o) => (o as any).involvedObject?.resourceVersion,
  'involvedObject.fieldPath': (o) => (o as any).involvedObject?.fieldPath ?? '',
  reason: (o) => (o as any).reason,
  'source': (o) => (o as any).source?.component,
  type: (o) => (o as any).type,
};

export function fieldMatcher(s: string | null | undefined): Matcher | undefined {
  if (!s) return undefined;
  const reqs = parseLabelSelector(s);
  for (const r of reqs) {
    if (r.op !== '=' && r.op !== '!=') throw badRequest(`invalid field selector "${s}": only = and != are supported`);
    if (!FIELDS[r.key]) throw badRequest(`field label not supported: ${r.key}`);
  }
  return (o) => test(reqs, (k) => FIELDS[k]!(o));
}

/** A LabelSelector object as the string form ("app=web,tier in (a,b)"), as Scale.status.selector carries it. */
export function selectorString(sel: any): string {
  if (!sel || typeof sel !== 'object') return '';
  const parts = Object.entries((sel.matchLabels ?? {}) as Record<string, string>)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${String(e.operator).toLowerCase()} (${[...(e.values ?? [])].sort().join(',')})`);
  }
  return parts.join(',');
}
