// ClusterIP and NodePort allocation at Service create/update time, synchronously, as the
// apiserver's Service registry does it (pkg/registry/core/service/storage/alloc.go): a request
// that cannot be honoured is refused with a 422 naming the field, and nothing is kept.
//
// The store is the truth: which Service holds which IP or port is re-derived from every stored
// Service (at start-up and on each write or delete), so allocations survive a restart, follow
// deletions wherever they come from (kubectl, namespace deletion, GC), and are released only
// once an update that drops them is stored. Admission only adds claims, undone on failure.
import { ApiError } from '../store/errors.js';
import type { KObject, Store } from '../store/store.js';
import { AllocationError, ClusterIPRange, PortRange } from './allocators.js';
import { type Cause, type Obj, goStrings, invalid } from './field-errors.js';
import { dropTypeDependentFields, initIPFamilyFields, needsNodePort, normalizeClusterIPs, patchAllocatedValues, shouldAllocateNodePorts } from './service-strategy.js';
import { needsHealthCheck } from './service-validation.js';
import { statusInvalid } from './validation.js';

/** What admission claimed; revert() gives it back when the write does not happen. */
export interface Allocation {
  revert(): void;
}

export interface ServiceNetConfig {
  serviceSubnet: string;
  nodePortRange: string;
}

type Token = string; // "ip:10.96.0.1" | "port:30080"

function svcKey(o: KObject | Obj): string {
  return `${o.metadata?.namespace}/${o.metadata?.name}`;
}

/** The IPs and ports a stored Service holds. */
function tokensOf(spec: Obj | undefined): Token[] {
  if (!spec) return [];
  const out: Token[] = [];
  if (spec.type !== 'ExternalName') for (const ip of spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])) if (ip && ip !== 'None') out.push(`ip:${ip}`);
  for (const p of spec.ports ?? []) if (p?.nodePort) out.push(`port:${p.nodePort}`);
  if (spec.healthCheckNodePort) out.push(`port:${spec.healthCheckNodePort}`);
  return [...new Set(out)];
}

function invalidService(name: string, causes: Cause[]): ApiError {
  const st = statusInvalid('Service', name, '', causes);
  return new ApiError(422, 'Invalid', st.message, st.details);
}

export class ServiceAllocator {
  readonly ips: ClusterIPRange;
  readonly nodePorts: PortRange;
  private readonly held = new Map<string, Set<Token>>();
  private readonly holder = new Map<Token, string>();
  private unsubscribe: (() => void) | undefined;

  constructor(cfg: ServiceNetConfig, rand?: () => number) {
    this.ips = new ClusterIPRange(cfg.serviceSubnet, rand);
    this.nodePorts = new PortRange(cfg.nodePortRange, rand);
  }

  /** Rebuilds the allocations from the stored Services and follows the store from then on. */
  attach(store: Store): void {
    for (const s of store.list('services')) this.sync(svcKey(s), s);
    this.unsubscribe = store.subscribe((ev) => {
      if (ev.resource !== 'services') return;
      this.sync(svcKey(ev.object), ev.type === 'DELETED' ? undefined : ev.object);
    });
  }

  detach(): void {
    this.unsubscribe?.();
  }

  /** Who holds an IP ("10.96.0.1") or port (30080), for tests and diagnostics. */
  holderOf(what: string | number): string | undefined {
    return this.holder.get(typeof what === 'number' ? `port:${what}` : `ip:${what}`);
  }

  private take(key: string, t: Token): void {
    this.holder.set(t, key);
    let s = this.held.get(key);
    if (!s) this.held.set(key, (s = new Set()));
    s.add(t);
  }

  private give(key: string, t: Token): void {
    if (this.holder.get(t) !== key) return;
    this.holder.delete(t);
    this.held.get(key)?.delete(t);
    if (t.startsWith('ip:')) this.ips.release(t.slice(3));
    else this.nodePorts.release(Number(t.slice(5)));
  }

  /** Level-triggered: make the key hold exactly what its stored object uses. */
  private sync(key: string, obj: KObject | undefined): void {
    const want = new Set(tokensOf(obj?.spec));
    for (const t of [...(this.held.get(key) ?? [])]) if (!want.has(t)) this.give(key, t);
    for (const t of want) {
      const h = this.holder.get(t);
      if (h === key) continue;
      if (h !== undefined) {
        console.error(`service allocator: ${key} uses ${t.replace(':', ' ')}, already held by ${h}`);
        continue;
      }
      try {
        if (t.startsWith('ip:')) this.ips.allocate(t.slice(3));
        else this.nodePorts.allocate(Number(t.slice(5)));
      } catch {
        // Outside the configured ranges (the config changed): remember it anyway so it is
        // never handed out twice while the Service exists.
      }
      this.take(key, t);
    }
    if (!this.held.get(key)?.size) this.held.delete(key);
  }

  /**
   * Prepares and allocates for a create (old undefined) or update of a defaulted Service, in
   * place. Throws the apiserver's 422 (or 500, for a health-check port) when a request cannot
   * be honoured; on success the caller must revert() if the object is not stored after all.
   */
  admit(obj: KObject, oldObj?: KObject): Allocation {
    const spec: Obj = obj.spec;
    const old: Obj | undefined = oldObj?.spec;
    const name = obj.metadata.name;
    const key = svcKey(obj);
    if (old) {
      patchAllocatedValues(spec, old);
      dropTypeDependentFields(obj, oldObj!);
    }
    normalizeClusterIPs(spec, old);
    const famErrs = initIPFamilyFields(spec, old);
    if (famErrs.length) throw invalidService(name, famErrs);
    const fresh: Token[] = [];
    const claim = (t: Token) => {
      this.take(key, t);
      fresh.push(t);
    };
    const mine = (t: Token) => this.holder.get(t) === key;
    const revert = () => {
      for (const t of fresh) this.give(key, t);
    };
    try {
      this.allocClusterIPs(spec, name, mine, claim);
      // On create a port claimed for an earlier port number is a collision (initNodePorts).
      const ownedBefore = (t: Token) => mine(t) && (old !== undefined || !fresh.includes(t));
      this.allocNodePorts(spec, old, name, ownedBefore, claim);
      this.allocHealthCheckPort(spec, mine, claim);
    } catch (err) {
      revert();
      throw err;
    }
    return { revert };
  }

  private allocClusterIPs(spec: Obj, name: string, mine: (t: Token) => boolean, claim: (t: Token) => void): void {
    if (spec.type === 'ExternalName') return;
    const ips: string[] = spec.clusterIPs ?? [];
    if (ips[0] === 'None') return;
    if (!ips.length || !ips[0]) {
      const ip = this.allocNextIP();
      claim(`ip:${ip}`);
      spec.clusterIP = ip;
      spec.clusterIPs = [ip];
      return;
    }
    const ip = ips[0];
    if (mine(`ip:${ip}`)) return;
    try {
      this.ips.allocate(ip);
    } catch (err) {
      if (!(err instanceof AllocationError)) throw err;
      throw invalidService(name, [invalid('spec.clusterIPs', goStrings(ips), `failed to allocate IP ${ip}: ${err.message}`)]);
    }
    claim(`ip:${ip}`);
  }

  private allocNextIP(): string {
    try {
      return this.ips.allocateNext();
    } catch (err) {
      throw new ApiError(500, 'InternalError', `Internal error occurred: failed to allocate a serviceIP: ${(err as Error).message}`);
    }
  }

  private allocNextPort(what: string): number {
    try {
      return this.nodePorts.allocateNext();
    } catch (err) {
      throw new ApiError(500, 'InternalError', `Internal error occurred: failed to allocate a ${what}: ${(err as Error).message}`);
    }
  }

  /** initNodePorts/updateNodePorts: ports sharing a port number (TCP and UDP 53) share a nodePort. */
  private allocNodePorts(spec: Obj, old: Obj | undefined, name: string, mine: (t: Token) => boolean, claim: (t: Token) => void): void {
    if (!needsNodePort(spec)) return;
    const list: Obj[] = (spec.ports ?? []).filter((p: unknown) => p && typeof p === 'object');
    const byPort = new Map<number, number>();
    const oldPorts = new Set<number>(needsNodePort(old ?? {}) ? (old!.ports ?? []).map((p: Obj) => p.nodePort).filter(Boolean) : []);
    list.forEach((p, i) => {
      if (!p.nodePort && !shouldAllocateNodePorts(spec)) return;
      const shared = byPort.get(p.port);
      if (p.nodePort) {
        if (p.nodePort === shared || mine(`port:${p.nodePort}`) || oldPorts.has(p.nodePort)) {
          if (shared === undefined) byPort.set(p.port, p.nodePort);
          return;
        }
        try {
          this.nodePorts.allocate(p.nodePort);
        } catch (err) {
          if (!(err instanceof AllocationError)) throw err;
          throw invalidService(name, [invalid(`spec.ports[${i}].nodePort`, p.nodePort, err.message)]);
        }
        claim(`port:${p.nodePort}`);
        if (shared === undefined) byPort.set(p.port, p.nodePort);
        return;
      }
      // A later port of the same number may have asked for a specific one (findRequestedNodePort).
      const requested = shared ?? list.find((q) => q.port === p.port && q.nodePort)?.nodePort;
      if (requested) {
        p.nodePort = requested;
        if (requested !== shared && !mine(`port:${requested}`)) {
          try {
            this.nodePorts.allocate(requested);
          } catch (err) {
            if (!(err instanceof AllocationError)) throw err;
            throw invalidService(name, [invalid(`spec.ports[${i}].nodePort`, requested, err.message)]);
          }
          claim(`port:${requested}`);
        }
      } else {
        p.nodePort = this.allocNextPort('nodePort');
        claim(`port:${p.nodePort}`);
      }
      byPort.set(p.port, p.nodePort);
    });
  }

  private allocHealthCheckPort(spec: Obj, mine: (t: Token) => boolean, claim: (t: Token) => void): void {
    if (!needsHealthCheck(spec)) return;
    const want: number | undefined = spec.healthCheckNodePort || undefined;
    if (want === undefined) {
      spec.healthCheckNodePort = this.allocNextPort('HealthCheck NodePort');
      claim(`port:${spec.healthCheckNodePort}`);
      return;
    }
    if (mine(`port:${want}`)) return;
    try {
      this.nodePorts.allocate(want);
    } catch (err) {
      // The apiserver reports this one as an internal error, not a field error.
      throw new ApiError(500, 'InternalError', `Internal error occurred: failed to allocate requested HealthCheck NodePort ${want}: ${(err as Error).message}`);
    }
    claim(`port:${want}`);
  }
}
