// Pod IP allocation per node range, like the host-local IPAM plugin: .1 is the gateway, and
// allocation continues after the last address handed out so a freed IP is not reused at once.
export class RangeAllocator {
  private readonly used = new Set<number>();
  private last: number;

  /** base: network address (uint32); size: number of addresses in the range. */
  constructor(
    readonly base: number,
    readonly size: number,
    private readonly firstOffset = 2,
  ) {
    this.last = firstOffset - 1;
  }

  get gateway(): number {
    return (this.base + 1) >>> 0;
  }

  /** Returns an address (uint32) or throws when the range is exhausted. */
  allocate(): number {
    const span = this.size - this.firstOffset - 1; // minus broadcast
    for (let i = 1; i <= span; i++) {
      const off = this.firstOffset + ((this.last - this.firstOffset + i) % span);
      const ip = (this.base + off) >>> 0;
      if (!this.used.has(ip)) {
        this.used.add(ip);
        this.last = off;
        return ip;
      }
    }
    throw new Error(`no free pod IPs left in ${intToIpString(this.base)}/${32 - Math.log2(this.size)}`);
  }

  /** Mark an address as used (e.g. restored from the store); false if taken or outside. */
  claim(ip: number): boolean {
    const off = ip - this.base;
    if (off < this.firstOffset || off >= this.size - 1 || this.used.has(ip)) return false;
    this.used.add(ip);
    return true;
  }

  release(ip: number): void {
    this.used.delete(ip);
  }

  get inUse(): number {
    return this.used.size;
  }
}

export function intToIpString(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function ipStringToInt(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) throw new Error(`invalid IPv4 address "${s}"`);
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) throw new Error(`invalid IPv4 address "${s}"`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export interface Cidr {
  base: number;
  prefixLen: number;
  size: number;
}

export function parseCidrString(s: string): Cidr {
  const [ip, len] = s.split('/');
  const prefixLen = Number(len);
  if (!ip || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) throw new Error(`invalid CIDR "${s}"`);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  const base = (ipStringToInt(ip) & mask) >>> 0;
  return { base, prefixLen, size: 2 ** (32 - prefixLen) };
}

/** The i-th /24 (or /nodePrefix) of a pod subnet, as kube-controller-manager's range allocator hands them out. */
export function nodeSubnet(pod: Cidr, index: number, nodePrefix = 24): Cidr {
  if (nodePrefix < pod.prefixLen) throw new Error(`pod subnet /${pod.prefixLen} is smaller than a node's /${nodePrefix}`);
  const count = 2 ** (nodePrefix - pod.prefixLen);
  if (index >= count) throw new Error(`pod subnet has room for ${count} nodes`);
  const size = 2 ** (32 - nodePrefix);
  return { base: (pod.base + index * size) >>> 0, prefixLen: nodePrefix, size };
}
