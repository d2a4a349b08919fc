// The apiserver's DefaultIngressClass admission plugin: an Ingress created without
// spec.ingressClassName (and without the legacy kubernetes.io/ingress.class annotation) gets
// the IngressClass annotated ingressclass.kubernetes.io/is-default-class: "true"; with more
// than one such class, class-less Ingresses are refused.
import { ApiError } from '../store/errors.js';
import type { KObject, Store } from '../store/store.js';

export function admitDefaultIngressClass(store: Store, ing: KObject): void {
  if (ing.spec?.ingressClassName !== undefined || ing.metadata.annotations?.['kubernetes.io/ingress.class'] !== undefined) return;
  const defaults = [...store.peek('ingressclasses')].filter((c) => c.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true');
  if (defaults.length > 1) {
    throw new ApiError(403, 'Forbidden', `ingresses.networking.k8s.io "${ing.metadata.name}" is forbidden: ${defaults.length} default IngressClasses were found, only 1 allowed`, {
      name: ing.metadata.name,
      group: 'networking.k8s.io',
      kind: 'ingresses',
    });
  }
  if (defaults.length === 1) {
    ing.spec ??= {};
    ing.spec.ingressClassName = defaults[0]!.metadata.name;
  }
}
