// Typed face of the N-API addon (native/kemu.cc). Everything that must be fast (TUN I/O)
// or is impossible from JS (unshare/setns on the calling thread, bind-mounting namespaces)
// lives there; this file only loads it and states the contract.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface SandboxSpec {
  /** File the new network namespace is bind-mounted on, e.g. /run/netns/kemu_c_default_web-0. */
  netnsPath: string;
  /** File the new UTS namespace is bind-mounted on. */
  utsPath: string;
  /** hostname set inside the new UTS namespace. */
  hostname: string;
  /** Name of the TUN created inside the namespace (normally "eth0"). */
  ifname: string;
  /** IPv4 address as an unsigned 32-bit integer (host order: 10.0.0.1 = 0x0a000001). */
  address: number;
  prefixLen: number;
  /** Default gateway (uint32); 0 means "default dev ifname" without a gateway. */
  gateway: number;
  mtu: number;
  /** Try IFF_VNET_HDR + TUNSETOFFLOAD; falls back cleanly when the kernel refuses. */
  offload: boolean;
}

export interface SandboxResult {
  /** Non-blocking TUN fd, owned by the caller. Closing it deletes the device. */
  fd: number;
  /** True when every packet carries a 10-byte virtio_net_hdr in front. */
  vnetHdr: boolean;
  /** The TUN_F_* mask the kernel accepted (0 when offload is off). */
  offloadFlags: number;
}

export interface TunPoller {
  /** Start polling fd; packets are reported under id. */
  add(id: number, fd: number): void;
  /** Stop polling (does not close the fd). */
  remove(id: number): void;
  /** Stop everything; the poller cannot be used afterwards. */
  close(): void;
}

export interface NativeAddon {
  /** Like `ip netns` does once: make dir a shared mount point so namespace mounts propagate. */
  prepareNamespaceDir(dir: string): void;
  /** Create netns+utsns, bind-mount them, create and configure the TUN, restore the caller's namespaces. */
  createSandbox(spec: SandboxSpec): SandboxResult;
  /** umount2(MNT_DETACH) + unlink; missing files are not an error. */
  destroyNamespace(path: string): void;
  closeFd(fd: number): void;
  /**
   * A uv_poll-driven reader. On readiness of a polled fd it reads until EAGAIN or maxBatch
   * packets, packet i at arena[i*slotBytes], fills offs[i]/lens[i], then calls onBatch(id, n)
   * once. The callback must finish with the arena before returning.
   */
  TunPoller: new (
    arena: Buffer,
    offs: Int32Array,
    lens: Int32Array,
    slotBytes: number,
    maxBatch: number,
    onBatch: (id: number, count: number) => void,
  ) => TunPoller;
  /** write(fds[i], arena+offs[i], lens[i]) for i < count, skipping fds[i] < 0. Returns failures. */
  writeBatch(fds: Int32Array, arena: Buffer, offs: Int32Array, lens: Int32Array, count: number): number;
  /** One write; returns bytes written or -errno. */
  writePacket(fd: number, buf: Buffer, off: number, len: number): number;
  /** memcpy without allocating a view (Buffer#copy with offsets allocates). */
  copy(dst: Buffer, dstOff: number, src: Buffer, srcOff: number, len: number): void;
}

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/src/native -> repo root
const root = path.resolve(here, '..', '..', '..');

let cached: NativeAddon | undefined;
export function native(): NativeAddon {
  if (!cached) {
    const require = createRequire(import.meta.url);
    try {
      cached = require(path.join(root, 'build', 'Release', 'kemu.node')) as NativeAddon;
    } catch (err) {
      throw new Error(
        `kemu native addon not built (${(err as Error).message}); run "npm install" or "npx node-gyp rebuild --nodedir=/usr"`,
      );
    }
  }
  return cached;
}
