// A recording stand-in for the native addon (no TUN, no root): the router's packet path runs
// over it with real bytes, and every write is kept for the test to judge.
import type { NativeAddon } from '../../src/native/index.js';

interface Written {
  fd: number;
  bytes: Buffer;
}

export class FakeAddon {
  written: Written[] = [];
  poller: { arena: Buffer; offs: Int32Array; lens: Int32Array; slotBytes: number; onBatch: (id: number, n: number) => void } | undefined;
  TunPoller: NativeAddon['TunPoller'];
  constructor() {
    const self = this;
    this.TunPoller = class {
      constructor(arena: Buffer, offs: Int32Array, lens: Int32Array, slotBytes: number, _max: number, onBatch: (id: number, n: number) => void) {
        self.poller = { arena, offs, lens, slotBytes, onBatch };
      }
      add(): void {}
      remove(): void {}
      close(): void {}
    } as unknown as NativeAddon['TunPoller'];
  }
  writeBatch(fds: Int32Array, arena: Buffer, offs: Int32Array, lens: Int32Array, count: number): number {
    for (let i = 0; i < count; i++) if (fds[i]! >= 0) this.written.push({ fd: fds[i]!, bytes: Buffer.from(arena.subarray(offs[i]!, offs[i]! + lens[i]!)) });
    return 0;
  }
  writePacket(fd: number, buf: Buffer, off: number, len: number): number {
    this.written.push({ fd, bytes: Buffer.from(buf.subarray(off, off + len)) });
    return len;
  }
  copy(dst: Buffer, dstOff: number, src: Buffer, srcOff: number, len: number): void {
    src.copy(dst, dstOff, srcOff, srcOff + len);
  }
  /** Deliver packets as if read from the TUN of `slot` (each prefixed with an empty vnet header). */
  deliver(slot: number, packets: Buffer[]): void {
    const p = this.poller!;
    packets.forEach((pkt, i) => {
      const off = i * p.slotBytes;
      p.arena.fill(0, off, off + 10);
      pkt.copy(p.arena, off + 10);
      p.offs[i] = off;
      p.lens[i] = pkt.length + 10;
    });
    p.onBatch(slot, packets.length);
  }
}

