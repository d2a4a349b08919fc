// Removes everything a cluster owns on this machine: processes inside its namespaces, the
// namespaces themselves, per-namespace /etc files, UTS files and the run dir. Used by
// `kemu down`, by a daemon before it starts (to clear what a crash left) and by tests.
// Needs no state: every name derives from the cluster name (see ClusterPaths).
import fs from 'node:fs';
import path from 'node:path';
import { ClusterPaths, NETNS_DIR } from '../config.js';
import { native } from '../native/index.js';

export interface CleanupReport {
  namespaces: string[];
  killed: number[];
}

function inode(p: string): number | undefined {
  try {
    return fs.statSync(p).ino;
  } catch {
    return undefined;
  }
}

/** PIDs whose network or UTS namespace is one of the given namespace inodes. */
export function pidsInNamespaces(netInodes: Set<number>, utsInodes: Set<number>): number[] {
  const out: number[] = [];
  if (netInodes.size === 0 && utsInodes.size === 0) return out;
  for (const ent of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    const pid = Number(ent);
    if (pid === process.pid) continue;
    const n = inode(`/proc/${ent}/ns/net`);
    const u = inode(`/proc/${ent}/ns/uts`);
    if ((n !== undefined && netInodes.has(n)) || (u !== undefined && utsInodes.has(u))) out.push(pid);
  }
  return out;
}

export function clusterNamespaces(paths: ClusterPaths): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(NETNS_DIR);
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(paths.netnsPrefix)).sort();
}

function utsFiles(paths: ClusterPaths): string[] {
  try {
    return fs.readdirSync(paths.utsDir).map((f) => path.join(paths.utsDir, f));
  } catch {
    return [];
  }
}

/** Kill the given processes (already identified as ours) and wait briefly for them to go. */
export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 2000;
  for (const pid of pids) {
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      // Zombies of our own children still answer kill(0); give the reaper a moment.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      const st = (() => {
        try {
          return fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        } catch {
          return '';
        }
      })();
      if (!st || / Z /.test(st)) break;
    }
  }
}

export function cleanupCluster(paths: ClusterPaths): CleanupReport {
  const nsNames = clusterNamespaces(paths);
  const uts = utsFiles(paths);
  const netInodes = new Set<number>();
  const utsInodes = new Set<number>();
  for (const n of nsNames) {
    const ino = inode(path.join(NETNS_DIR, n));
    if (ino !== undefined) netInodes.add(ino);
  }
  for (const f of uts) {
    const ino = inode(f);
    if (ino !== undefined) utsInodes.add(ino);
  }
  // Inodes of a plain (unmounted) file could collide with nothing relevant: nsfs inodes are
  // distinct from regular files' only by device, so compare devices too.
  const nsfsDev = inode('/proc/self/ns/net') !== undefined ? fs.statSync('/proc/self/ns/net').dev : -1;
  for (const n of nsNames) {
    const st = fs.statSync(path.join(NETNS_DIR, n), { throwIfNoEntry: false });
    if (st && st.dev !== nsfsDev) netInodes.delete(st.ino);
  }
  for (const f of uts) {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    if (st && st.dev !== nsfsDev) utsInodes.delete(st.ino);
  }
  const pids = pidsInNamespaces(netInodes, utsInodes);
  killAll(pids);
  const addon = native();
  for (const n of nsNames) {
    addon.destroyNamespace(path.join(NETNS_DIR, n));
    fs.rmSync(paths.etcDir(n), { recursive: true, force: true });
  }
  for (const f of uts) addon.destroyNamespace(f);
  // /etc/netns dirs whose namespace was already gone.
  try {
    for (const d of fs.readdirSync('/etc/netns')) {
      if (d.startsWith(paths.netnsPrefix)) fs.rmSync(path.join('/etc/netns', d), { recursive: true, force: true });
    }
  } catch {
    /* no /etc/netns */
  }
  fs.rmSync(paths.runDir, { recursive: true, force: true });
  return { namespaces: nsNames, killed: pids };
}
