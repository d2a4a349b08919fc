// What every benchmark section shares: where things are, running a command with a bound, and
// the shape of one measurement.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const KEMU = path.join(ROOT, 'bin', 'kemu');
export const BLAST = path.join(ROOT, 'build', 'Release', 'udpblast');

/** One measurement, before the ratio is computed. */
export interface BenchResult {
  name: string;
  unit: string;
  kemu: number;
  /** The comparison value: the kernel doing the same job, unless `baseline` names another. */
  kernel: number | null;
  better: 'higher' | 'lower';
  target?: string;
  /** What `kernel` holds when it is not the kernel path (e.g. kemu with 10 Services). */
  baseline?: string;
}

/** Runs a command to completion within `timeoutMs`; rejects with its stderr on failure. */
export function sh(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(String(stdout));
    });
  });
}

/** `kemu CMD --name CLUSTER ARGS…` */
export function kemuOf(cluster: string): (args: string[], timeoutMs?: number) => Promise<string> {
  return (args, timeoutMs = 300_000) => sh(KEMU, [args[0]!, '--name', cluster, ...args.slice(1)], timeoutMs);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
