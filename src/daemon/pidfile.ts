// Helpers to find and verify a cluster's daemon process from its pid file.
import fs from 'node:fs';

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie is as good as gone.
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** True when pid is a kemu daemon for this cluster (so we never signal a recycled pid). */
export function isOurDaemon(pid: number, cluster: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('--name');
    return argv.includes('daemon') && i >= 0 && argv[i + 1] === cluster;
  } catch {
    return false;
  }
}

export function readPidFile(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
