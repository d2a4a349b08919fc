// metav1.LabelSelector matching (matchLabels + matchExpressions), as
// k8s.io/apimachinery/pkg/apis/meta/v1 LabelSelectorAsSelector evaluates it:
//   - {} (no requirements) selects everything;
//   - matchLabels and every matchExpressions entry are ANDed;
//   - In: the key exists and its value is listed; NotIn: the key is missing or its value is not
//     listed (a pod without the label matches NotIn); Exists / DoesNotExist: key presence.
// A selector the apiserver would refuse (unknown operator, In/NotIn without values) selects
// nothing here rather than everything, so a bad object can never widen a policy.
export type Labels = Readonly<Record<string, string>>;
export type LabelPredicate = (labels: Labels) => boolean;

type Obj = Record<string, any>;

const NOTHING: LabelPredicate = () => false;
const EVERYTHING: LabelPredicate = () => true;

/** Compile a LabelSelector object into a predicate (null/undefined = caller decides; here: everything). */
export function compileLabelSelector(sel: Obj | null | undefined): LabelPredicate {
  if (sel == null) return EVERYTHING;
  if (typeof sel !== 'object') return NOTHING;
  const eq: [string, string][] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) eq.push([k, String(v)]);
  type Expr = { key: string; op: string; values: string[] };
  const exprs: Expr[] = [];
  for (const e of sel.matchExpressions ?? []) {
    if (!e || typeof e.key !== 'string') return NOTHING;
    const values: string[] = Array.isArray(e.values) ? e.values.map(String) : [];
    switch (e.operator) {
      case 'In':
      case 'NotIn':
        if (!values.length) return NOTHING;
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length) return NOTHING;
        break;
      default:
        return NOTHING;
    }
    exprs.push({ key: e.key, op: e.operator, values });
  }
  if (!eq.length && !exprs.length) return EVERYTHING;
  return (labels) => {
    for (const [k, v] of eq) if (labels[k] !== v) return false;
    for (const e of exprs) {
      const has = Object.prototype.hasOwnProperty.call(labels, e.key);
      const v = has ? labels[e.key]! : undefined;
      switch (e.op) {
        case 'In':
          if (v === undefined || !e.values.includes(v)) return false;
          break;
        case 'NotIn':
          if (v !== undefined && e.values.includes(v)) return false;
          break;
        case 'Exists':
          if (!has) return false;
          break;
        case 'DoesNotExist':
          if (has) return false;
          break;
      }
    }
    return true;
  };
}

/** True if the selector is present and has no requirements (`{}`): it selects everything. */
export function isEmptySelector(sel: Obj | null | undefined): boolean {
  return sel != null && typeof sel === 'object' && !Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length;
}

/** kubectl-style text of a selector, for explanations: "app=web,tier in (a,b)" or "<all>". */
export function selectorText(sel: Obj | null | undefined): string {
  if (sel == null) return '<none>';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) parts.push(`${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const vals = (e.values ?? []).join(',');
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in (${vals})`);
        break;
      case 'NotIn':
        parts.push(`${e.key} notin (${vals})`);
        break;
      case 'Exists':
        parts.push(e.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
      default:
        parts.push(`${e.key} ${e.operator} (${vals})`);
    }
  }
  return parts.length ? parts.join(',') : '<all>';
}
