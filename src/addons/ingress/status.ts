// status.loadBalancer of the Ingresses, as ingress-nginx's status sync with --publish-service
// writes it: every Ingress this controller owns gets the addresses of the controller's
// LoadBalancer Service; an Ingress it does not own (another class, or a class changed away)
// loses an address that is exactly ours. Pure: the shell PUTs what this returns.
import type { KObject } from '../../store/store.js';

export interface LbIngress {
  ip?: string;
  hostname?: string;
}

/** The publish Service's status.loadBalancer.ingress as Ingress status entries (no ports, no ipMode). */
export function publishedAddresses(svc: KObject | undefined): LbIngress[] {
  const out: LbIngress[] = [];
  for (const i of (svc?.status?.loadBalancer?.ingress ?? []) as any[]) {
    if (i.ip) out.push({ ip: i.ip });
    else if (i.hostname) out.push({ hostname: i.hostname });
  }
  return out;
}

const same = (a: LbIngress[], b: LbIngress[]) => JSON.stringify(a) === JSON.stringify(b);

export interface StatusChange {
  ingress: KObject;
  loadBalancer: { ingress?: LbIngress[] };
}

export function statusChanges(ingresses: Iterable<KObject>, owned: (i: KObject) => boolean, addresses: LbIngress[]): StatusChange[] {
  const out: StatusChange[] = [];
  if (addresses.length === 0) return out; // nothing to publish yet (LB pending): leave statuses alone
  for (const ing of ingresses) {
    const cur: LbIngress[] = (ing.status?.loadBalancer?.ingress ?? []).map((i: any) => (i.ip ? { ip: i.ip } : { hostname: i.hostname }));
    if (owned(ing)) {
      if (!same(cur, addresses)) out.push({ ingress: ing, loadBalancer: { ingress: addresses } });
    } else if (cur.length && same(cur, addresses)) out.push({ ingress: ing, loadBalancer: {} });
  }
  return out;
}
