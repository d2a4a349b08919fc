// The apiserver's allocators for Service ClusterIPs and NodePorts (pkg/registry/core/service/
// ipallocator, portallocator, allocator/bitmap.go): a range of offsets whose lower "static"
// band is kept for explicit requests, while automatic picks are random, upper band first
// (KEP-3070 for IPs, KEP-3668 for NodePorts). Errors carry the apiserver's wording.
import { parseIPv4 } from './field-errors.js';

export class AllocationError extends Error {}

/** Offsets [0, size); `lowerBand` of them at the bottom are used last by allocateNext. */
export class BandedRange {
  private readonly used = new Set<number>();

  constructor(
    readonly size: number,
    readonly lowerBand: number,
    private readonly rand: () => number = Math.random,
  ) {}

  has(off: number): boolean {
    return this.used.has(off);
  }

  /** Claims a specific offset; false when taken. */
  claim(off: number): boolean {
    if (this.used.has(off)) return false;
    this.used.add(off);
    return true;
  }

  release(off: number): void {
    this.used.delete(off);
  }

  get inUse(): number {
    return this.used.size;
  }

  /** randomScanStrategyWithOffset: a random start in the upper band, scan; then the lower band. */
  next(): number | undefined {
    if (this.used.size >= this.size) return undefined;
    const bands: [number, number][] = [
      [this.lowerBand, this.size - this.lowerBand],
      [0, this.lowerBand],
    ];
    for (const [from, len] of bands) {
      if (len <= 0) continue;
      const start = Math.floor(this.rand() * len);
      for (let i = 0; i < len; i++) {
        const off = from + ((start + i) % len);
        if (!this.used.has(off)) {
          this.used.add(off);
          return off;
        }
      }
    }
    return undefined;
  }

  /** Lowest free offset (pools that hand out addresses in order, like MetalLB's). */
  first(): number | undefined {
    for (let off = 0; off < this.size; off++) {
      if (!this.used.has(off)) {
        this.used.add(off);
        return off;
      }
    }
    return undefined;
  }
}

function intToIp(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface ParsedCidr {
  network: number;
  prefixLen: number;
  text: string;
}

export function parseCidr(s: string): ParsedCidr {
  const [ip, len] = s.split('/');
  const prefixLen = Number(len);
  const n = parseIPv4(ip);
  if (n === undefined || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new Error(`invalid CIDR "${s}"`);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  const network = (n & mask) >>> 0;
  return { network, prefixLen, text: `${intToIp(network)}/${prefixLen}` };
}

/** The Service IP range: every address but the network and broadcast ones; the first is `kubernetes`'s. */
export class ClusterIPRange {
  readonly cidr: ParsedCidr;
  private readonly bits: BandedRange;
  private readonly base: number;

  constructor(cidr: string, rand?: () => number) {
    this.cidr = parseCidr(cidr);
    const total = 2 ** (32 - this.cidr.prefixLen);
    const size = Math.max(0, total - 2);
    this.base = (this.cidr.network + 1) >>> 0;
    // calculateRangeOffset: min(max(16, cidrSize/16), 256), none for ranges of 16 or fewer.
    const offset = total <= 16 ? 0 : Math.min(Math.max(16, Math.floor(total / 16)), 256);
    this.bits = new BandedRange(size, offset, rand);
  }

  /** The n-th usable address (0 → the `kubernetes` Service's, 9 → kube-dns's). */
  nth(n: number): string {
    return intToIp((this.base + n) >>> 0);
  }

  contains(ip: string): boolean {
    return this.offsetOf(ip) !== undefined;
  }

  private offsetOf(ip: string): number | undefined {
    const n = parseIPv4(ip);
    if (n === undefined) return undefined;
    const off = n - this.base;
    return off >= 0 && off < this.bits.size ? off : undefined;
  }

  isAllocated(ip: string): boolean {
    const off = this.offsetOf(ip);
    return off !== undefined && this.bits.has(off);
  }

  allocate(ip: string): void {
    const off = this.offsetOf(ip);
    if (off === undefined) {
      throw new AllocationError(`the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.cidr.text}`);
    }
    if (!this.bits.claim(off)) throw new AllocationError('provided IP is already allocated');
  }

  allocateNext(): string {
    const off = this.bits.next();
    if (off === undefined) throw new AllocationError('range is full');
    return intToIp((this.base + off) >>> 0);
  }

  release(ip: string): void {
    const off = this.offsetOf(ip);
    if (off !== undefined) this.bits.release(off);
  }

  get inUse(): number {
    return this.bits.inUse;
  }
}

/** The NodePort range ("30000-32767"). */
export class PortRange {
  readonly first: number;
  readonly last: number;
  private readonly bits: BandedRange;

  constructor(spec: string, rand?: () => number) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
    if (!m) throw new Error(`invalid port range "${spec}"`);
    this.first = Number(m[1]);
    this.last = m[2] === undefined ? this.first : Number(m[2]);
    if (this.first < 1 || this.last > 65535 || this.last < this.first) throw new Error(`invalid port range "${spec}"`);
    const size = this.last - this.first + 1;
    // calculateRangeOffset for ports: min(max(16, size/32), 128), none for 16 ports or fewer.
    const offset = size <= 16 ? 0 : Math.min(Math.max(16, Math.floor(size / 32)), 128);
    this.bits = new BandedRange(size, offset, rand);
  }

  get text(): string {
    return `${this.first}-${this.last}`;
  }

  contains(port: number): boolean {
    return Number.isInteger(port) && port >= this.first && port <= this.last;
  }

  isAllocated(port: number): boolean {
    return this.contains(port) && this.bits.has(port - this.first);
  }

  allocate(port: number): void {
    if (!this.contains(port)) {
      throw new AllocationError(`provided port is not in the valid range. The range of valid ports is ${this.text}`);
    }
    if (!this.bits.claim(port - this.first)) throw new AllocationError('provided port is already allocated');
  }

  allocateNext(): number {
    const off = this.bits.next();
    if (off === undefined) throw new AllocationError('range is full');
    return this.first + off;
  }

  release(port: number): void {
    if (this.contains(port)) this.bits.release(port - this.first);
  }

  get inUse(): number {
    return this.bits.inUse;
  }
}

/**
 * A LoadBalancer address pool ("172.18.255.0/24" or "172.18.255.200-172.18.255.250"), handed
 * out lowest first like MetalLB's. For a CIDR the network and broadcast addresses are skipped
 * (MetalLB's avoidBuggyIPs), since some clients refuse to talk to them.
 */
export class AddressPool {
  private readonly start: number;
  private readonly bits: BandedRange;
  readonly text: string;

  constructor(spec: string) {
    this.text = spec;
    const range = /^([\d.]+)\s*-\s*([\d.]+)$/.exec(spec.trim());
    if (range) {
      const a = parseIPv4(range[1]);
      const b = parseIPv4(range[2]);
      if (a === undefined || b === undefined || b < a) throw new Error(`invalid address pool "${spec}"`);
      this.start = a;
      this.bits = new BandedRange(b - a + 1, 0);
    } else {
      const c = parseCidr(spec);
      const total = 2 ** (32 - c.prefixLen);
      const skip = total > 2 ? 1 : 0;
      this.start = (c.network + skip) >>> 0;
      this.bits = new BandedRange(total - 2 * skip, 0);
    }
  }

  private offsetOf(ip: string): number | undefined {
    const n = parseIPv4(ip);
    if (n === undefined) return undefined;
    const off = n - this.start;
    return off >= 0 && off < this.bits.size ? off : undefined;
  }

  contains(ip: string): boolean {
    return this.offsetOf(ip) !== undefined;
  }

  /** Claims a specific address; false when outside the pool or taken. */
  claim(ip: string): boolean {
    const off = this.offsetOf(ip);
    return off !== undefined && this.bits.claim(off);
  }

  next(): string | undefined {
    const off = this.bits.first();
    return off === undefined ? undefined : intToIp((this.start + off) >>> 0);
  }

  release(ip: string): void {
    const off = this.offsetOf(ip);
    if (off !== undefined) this.bits.release(off);
  }

  get inUse(): number {
    return this.bits.inUse;
  }
}
