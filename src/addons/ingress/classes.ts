// Which Ingresses this controller serves, as ingress-nginx decides: an Ingress whose
// spec.ingressClassName names an IngressClass with our spec.controller (or our class name when
// that IngressClass is missing), one whose legacy `kubernetes.io/ingress.class` annotation is our
// class name, and a class-less Ingress when one of our IngressClasses is the cluster default.
// Everything else belongs to another controller and is ignored: no routes, no status.
import type { KObject } from '../../store/store.js';

export const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
export const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';

export interface ClassIdentity {
  /** spec.controller of our IngressClasses, e.g. k8s.io/ingress-nginx. */
  controller: string;
  /** Our class name (--ingress-class), e.g. nginx. */
  className: string;
}

export function classOf(ing: KObject): string | undefined {
  return ing.spec?.ingressClassName ?? ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION] ?? undefined;
}

export function ownedBy(id: ClassIdentity, ingressClasses: Iterable<KObject>): (ing: KObject) => boolean {
  const ours = new Set<string>();
  const others = new Set<string>();
  let weAreDefault = false;
  for (const c of ingressClasses) {
    if (c.spec?.controller === id.controller) {
      ours.add(c.metadata.name);
      if (c.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true') weAreDefault = true;
    } else others.add(c.metadata.name);
  }
  return (ing) => {
    const named = ing.spec?.ingressClassName as string | undefined;
    if (named !== undefined) return ours.has(named) || (named === id.className && !others.has(named));
    const legacy = ing.metadata.annotations?.[LEGACY_CLASS_ANNOTATION];
    if (legacy !== undefined) return legacy === id.className;
    return weAreDefault;
  };
}
