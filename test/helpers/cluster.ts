// Integration-test harness: a real cluster (daemon, namespaces, TUNs, processes) under a
// unique name, driven through the real `kemu` CLI, always torn down and checked for leaks.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..', '..');
export const KEMU = path.join(ROOT, 'bin', 'kemu');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20, env: { ...process.env, ...(opts.env ?? {}) } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin?.end();
  });
}

let seq = 0;
export function uniqueName(tag: string): string {
  return `t${tag}${process.pid % 10000}${seq++}`.slice(0, 20);
}

export class TestCluster {
  constructor(readonly name: string) {}

  kemu(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
    return run(KEMU, [...args.slice(0, 1), '--name', this.name, ...args.slice(1)], opts);
  }

  /** kemu exec with the --name placed before the pod (exec passes options after the pod through). */
  exec(pod: string, cmd: string[], opts: { input?: string; timeoutMs?: number; namespace?: string } = {}): Promise<Run> {
    const ns = opts.namespace ? ['-n', opts.namespace] : [];
    return run(KEMU, ['exec', '--name', this.name, ...ns, pod, '--', ...cmd], opts);
  }

  async up(files: string[], config?: string): Promise<Run> {
    const args = ['up', ...(config ? ['--config', config] : []), ...files.flatMap((f) => ['-f', f]), '--wait', '--timeout', '90s'];
    return this.kemu(args, { timeoutMs: 120_000 });
  }

  async down(): Promise<Run> {
    return this.kemu(['down'], { timeoutMs: 60_000 });
  }

  async json(args: string[]): Promise<any> {
    const r = await this.kemu([...args, '-o', 'json']);
    if (r.code !== 0) throw new Error(`kemu ${args.join(' ')} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  async pods(ns = 'default'): Promise<any[]> {
    return (await this.json(['get', 'pods', '-n', ns])).items;
  }

  async pod(name: string, ns = 'default'): Promise<any> {
    return this.json(['get', 'pods', name, '-n', ns]);
  }

  /** Poll until fn returns a truthy value or the timeout passes. */
  async until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await fn();
        if (v) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  netnsList(): string[] {
    return ours(this.name);
  }
}

/** Network namespaces of cluster `name` present right now. */
export function ours(name: string): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`kemu_${name}_`));
}

/** Processes living in any network namespace of cluster `name`. */
export function processesIn(name: string): number[] {
  const inodes = new Set<number>();
  for (const n of ours(name)) {
    try {
      inodes.add(fs.statSync(`/run/netns/${n}`).ino);
    } catch {
      /* gone */
    }
  }
  const pids: number[] = [];
  if (!inodes.size) return pids;
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (inodes.has(fs.statSync(`/proc/${p}/ns/net`).ino)) pids.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return pids;
}

export function daemonPid(name: string): number | undefined {
  try {
    return Number(fs.readFileSync(`/run/kemu/${name}/daemon.pid`, 'utf8'));
  } catch {
    return undefined;
  }
}

export { spawn };
