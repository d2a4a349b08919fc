// A sandbox is what `ip netns exec NAME` and `nsenter --uts=FILE` enter: a named network
// namespace whose eth0 is a TUN the daemon holds, a UTS namespace with the pod's hostname,
// and /etc/netns/NAME/{resolv.conf,hosts,hostname}, which `ip netns exec` bind-mounts over /etc.
import { pidsInNamespaces } from './cleanup.js';
import fs from 'node:fs';
import path from 'node:path';
import { ClusterPaths, NETNS_DIR } from '../config.js';
import { native } from '../native/index.js';

export interface SandboxRequest {
  netns: string;
  hostname: string;
  ip: number;
  prefixLen: number;
  gateway: number;
  mtu: number;
  offload: boolean;
  files: { resolvConf: string; hosts: string };
}

export interface Sandbox {
  netns: string;
  utsFile: string;
  fd: number;
  vnetHdr: boolean;
  offloadFlags: number;
}

let prepared = false;

export function createSandbox(paths: ClusterPaths, req: SandboxRequest): Sandbox {
  const addon = native();
  if (!prepared) {
    addon.prepareNamespaceDir(NETNS_DIR);
    prepared = true;
  }
  fs.mkdirSync(paths.utsDir, { recursive: true });
  const etc = paths.etcDir(req.netns);
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(path.join(etc, 'resolv.conf'), req.files.resolvConf);
  fs.writeFileSync(path.join(etc, 'hosts'), req.files.hosts);
  fs.writeFileSync(path.join(etc, 'hostname'), req.hostname + '\n');
  const utsFile = paths.utsFile(req.netns);
  try {
    const r = addon.createSandbox({
      netnsPath: path.join(NETNS_DIR, req.netns),
      utsPath: utsFile,
      hostname: req.hostname,
      ifname: 'eth0',
      address: req.ip >>> 0,
      prefixLen: req.prefixLen,
      gateway: req.gateway >>> 0,
      mtu: req.mtu,
      offload: req.offload,
    });
    return { netns: req.netns, utsFile, fd: r.fd, vnetHdr: r.vnetHdr, offloadFlags: r.offloadFlags };
  } catch (err) {
    fs.rmSync(etc, { recursive: true, force: true });
    throw err;
  }
}

/** Update the /etc files of a running sandbox (e.g. hosts after an IP is known). */
export function writeSandboxFile(paths: ClusterPaths, netns: string, name: 'resolv.conf' | 'hosts', text: string): void {
  fs.writeFileSync(path.join(paths.etcDir(netns), name), text);
}

// Processes the kubelet did not start (`kemu exec` sessions, their children) would keep a
// deleted pod's namespaces alive after the mounts go; they are killed too, like the
// processes of a container's cgroup. One /proc scan per event-loop turn covers every sandbox
// destroyed in that turn (a scale-down of hundreds of pods costs one scan, not hundreds).
const reapNet = new Set<number>();
const reapUts = new Set<number>();
let reapScheduled = false;

function reapLater(netIno: number | undefined, utsIno: number | undefined): void {
  if (netIno !== undefined) reapNet.add(netIno);
  if (utsIno !== undefined) reapUts.add(utsIno);
  if (reapScheduled) return;
  reapScheduled = true;
  setImmediate(reapPending);
}

/** Kills what destroyed sandboxes left behind now (the daemon calls it before it exits). */
export function reapPending(): void {
  reapScheduled = false;
  if (reapNet.size === 0 && reapUts.size === 0) return;
  const pids = pidsInNamespaces(new Set(reapNet), new Set(reapUts));
  reapNet.clear();
  reapUts.clear();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function inodeOf(p: string): number | undefined {
  try {
    return fs.statSync(p).ino;
  } catch {
    return undefined;
  }
}

export function destroySandbox(paths: ClusterPaths, sb: { netns: string; utsFile: string; fd: number }): void {
  const addon = native();
  reapLater(inodeOf(path.join(NETNS_DIR, sb.netns)), inodeOf(sb.utsFile));
  // Closing a TUN makes the kernel unregister the device, ~28 ms under RTNL: do it on the
  // threadpool so tearing down many pods does not stall the data plane. The caller has
  // already detached the fd from the poller.
  if (sb.fd >= 0) fs.close(sb.fd, (err) => err && console.error(`close TUN fd ${sb.fd}: ${err.message}`));
  addon.destroyNamespace(path.join(NETNS_DIR, sb.netns));
  addon.destroyNamespace(sb.utsFile);
  fs.rmSync(paths.etcDir(sb.netns), { recursive: true, force: true });
}
