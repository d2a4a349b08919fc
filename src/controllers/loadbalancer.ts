// The LoadBalancer "cloud": gives each `type: LoadBalancer` Service an address from the cluster's
// pool (spec.loadBalancerIP honoured when free and in the pool), published in
// status.loadBalancer.ingress[0] with ipMode VIP, as MetalLB does on kind. A Service that asks
// for a loadBalancerClass belongs to some other implementation and is left pending; an address
// that cannot be had leaves the Service pending too (EXTERNAL-IP <pending>).
import type { Store, WatchEvent } from '../store/store.js';
import { AddressPool } from '../api/allocators.js';
import { Reconciler, splitKey } from './reconciler.js';

export class LoadBalancerController extends Reconciler {
  private readonly pool: AddressPool;
  /** Service key -> the address it holds. */
  private readonly held = new Map<string, string>();

  constructor(store: Store, poolSpec: string) {
    super(store);
    this.pool = new AddressPool(poolSpec);
  }

  /** Addresses already published in stored Services are theirs before anything new is handed out. */
  override start(): void {
    for (const s of this.store.peek('services')) {
      if (s.spec?.type !== 'LoadBalancer') continue;
      const ip: string | undefined = s.status?.loadBalancer?.ingress?.[0]?.ip;
      if (ip && this.pool.claim(ip)) this.held.set(`${s.metadata.namespace}/${s.metadata.name}`, ip);
    }
    super.start();
  }

  protected initialKeys(): string[] {
    return [...this.store.peek('services')].map((s) => `${s.metadata.namespace}/${s.metadata.name}`);
  }

  protected keysFor(ev: WatchEvent): string[] {
    return ev.resource === 'services' ? [`${ev.object.metadata.namespace}/${ev.object.metadata.name}`] : [];
  }

  private release(key: string): void {
    const ip = this.held.get(key);
    if (ip === undefined) return;
    this.pool.release(ip);
    this.held.delete(key);
    // Services left pending may fit now.
    for (const s of this.store.peek('services')) {
      const k = `${s.metadata.namespace}/${s.metadata.name}`;
      if (s.spec?.type === 'LoadBalancer' && !this.held.has(k) && k !== key) this.enqueue(k);
    }
  }

  protected reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const svc = this.store.get('services', ns, name);
    if (!svc || svc.spec?.type !== 'LoadBalancer' || svc.spec?.loadBalancerClass) {
      this.release(key);
      if (svc && svc.spec?.type !== 'LoadBalancer' && svc.status?.loadBalancer?.ingress?.length) this.publish(ns, name, undefined);
      return;
    }
    const wanted: string | undefined = svc.spec.loadBalancerIP || undefined;
    let ip = this.held.get(key);
    if (ip !== undefined && wanted !== undefined && ip !== wanted) {
      this.release(key);
      ip = undefined;
    }
    if (ip === undefined) {
      if (wanted !== undefined) ip = this.pool.claim(wanted) ? wanted : undefined;
      else ip = this.pool.next();
      if (ip === undefined) {
        console.error(`loadbalancer: ${key}: ${wanted ? `address ${wanted} is not free in pool ${this.pool.text}` : `pool ${this.pool.text} is exhausted`}; the Service stays pending`);
      } else this.held.set(key, ip);
    }
    this.publish(ns, name, ip);
  }

  private publish(ns: string, name: string, ip: string | undefined): void {
    const ingress = ip ? [{ ip, ipMode: 'VIP' }] : undefined;
    this.store.mutate('services', ns, name, (o) => {
      const cur = o.status?.loadBalancer?.ingress;
      if (JSON.stringify(cur ?? null) === JSON.stringify(ingress ?? null)) return false;
      o.status = { ...(o.status ?? {}), loadBalancer: ingress ? { ingress } : {} };
      return true;
    });
  }

  /** The address a Service holds (tests, diagnostics). */
  addressOf(ns: string, name: string): string | undefined {
    return this.held.get(`${ns}/${name}`);
  }
}
