// One container = one process tree started inside the pod's namespaces, supervised like the
// kubelet does: logs per container and restart, restartPolicy with CrashLoopBackOff backoff.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { imageEntrypoint } from './images.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BUILTIN_SERVER = path.join(here, 'builtin-server.js');

export interface ContainerLaunch {
  name: string;
  image: string;
  /** argv to run; undefined means "kemu's built-in server" (image default entrypoint). */
  argv: string[] | undefined;
  env: Record<string, string>;
  workingDir?: string;
  /** `80/TCP,53/UDP` for the built-in server. */
  ports: string;
}

export interface SandboxRef {
  netns: string;
  utsFile: string;
}

export type ContainerPhase = 'waiting' | 'running' | 'terminated';

export interface ContainerStatus {
  name: string;
  image: string;
  phase: ContainerPhase;
  reason?: string;
  message?: string;
  exitCode?: number;
  signal?: string;
  startedAt?: string;
  finishedAt?: string;
  restartCount: number;
  ready: boolean;
  started: boolean;
  pid?: number;
  last?: { exitCode: number; reason: string; startedAt?: string; finishedAt: string; signal?: string };
}

const BACKOFF_START_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
const BACKOFF_RESET_MS = 600_000;

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class Container {
  readonly status: ContainerStatus;
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private stopping = false;
  private startedAtMs = 0;

  constructor(
    private readonly spec: ContainerLaunch,
    private readonly sandbox: SandboxRef,
    private readonly logDir: string,
    private readonly restartPolicy: 'Always' | 'OnFailure' | 'Never',
    private readonly onChange: () => void,
  ) {
    this.status = { name: spec.name, image: spec.image, phase: 'waiting', reason: 'ContainerCreating', restartCount: 0, ready: false, started: false };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  logFile(restart = this.status.restartCount): string {
    return path.join(this.logDir, this.spec.name, `${restart}.log`);
  }

  start(): void {
    if (this.stopping) return;
    const dir = path.join(this.logDir, this.spec.name);
    fs.mkdirSync(dir, { recursive: true });
    const logFd = fs.openSync(this.logFile(), 'a');
    const argv = this.spec.argv ?? imageEntrypoint(this.spec.image);
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      ...this.spec.env,
    };
    if (!this.spec.argv) env.KEMU_PORTS = this.spec.ports;
    if (this.spec.workingDir && !fs.existsSync(this.spec.workingDir)) {
      fs.closeSync(logFd);
      this.fail('CreateContainerError', `failed to start container "${this.spec.name}": workingDir "${this.spec.workingDir}" does not exist on this machine`);
      return;
    }
    let child: ChildProcess;
    try {
      // nsenter joins the pod's UTS namespace, then `ip netns exec` joins its network namespace
      // in a fresh mount namespace with /etc/netns/NAME/* over /etc. Both exec, so the pid we
      // hold is the container's own process; detached makes it a process-group leader so a
      // stop reaches its children too.
      child = spawn('nsenter', [`--uts=${this.sandbox.utsFile}`, '--', 'ip', 'netns', 'exec', this.sandbox.netns, ...argv], {
        cwd: this.spec.workingDir || '/',
        env,
        detached: true,
        stdio: ['ignore', logFd, logFd, ...(this.spec.argv ? [] : ['pipe' as const])],
      });
    } catch (err) {
      fs.closeSync(logFd);
      this.fail('StartError', (err as Error).message);
      return;
    }
    fs.closeSync(logFd);
    this.child = child;
    this.startedAtMs = Date.now();
    this.status.phase = 'running';
    this.status.reason = undefined;
    this.status.message = undefined;
    this.status.exitCode = undefined;
    this.status.startedAt = now();
    this.status.started = true;
    this.status.pid = child.pid;
    // The built-in server says "ready" on fd 3 once it listens; other containers are ready when running.
    if (this.spec.argv) {
      this.status.ready = true;
    } else {
      this.status.ready = false;
      const ctl = child.stdio[3] as NodeJS.ReadableStream | undefined;
      ctl?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready') && this.child === child) {
          this.status.ready = true;
          this.onChange();
        }
      });
      ctl?.on('error', () => {});
    }
    child.on('error', (err) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.fail('StartError', `failed to start container "${this.spec.name}": ${err.message}`);
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    this.onChange();
  }

  private fail(reason: string, message: string): void {
    this.status.phase = 'waiting';
    this.status.reason = reason;
    this.status.message = message;
    this.status.ready = false;
    this.onChange();
    this.scheduleRestart(128);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    const exitCode = code ?? 128 + (signal ? signalNumber(signal) : 0);
    const finishedAt = now();
    const reason = exitCode === 0 ? 'Completed' : 'Error';
    this.status.phase = 'terminated';
    this.status.exitCode = exitCode;
    this.status.signal = signal ?? undefined;
    this.status.reason = reason;
    this.status.finishedAt = finishedAt;
    this.status.ready = false;
    this.status.pid = undefined;
    this.status.last = { exitCode, reason, startedAt: this.status.startedAt, finishedAt, signal: signal ?? undefined };
    this.onChange();
    if (!this.stopping) this.scheduleRestart(exitCode);
  }

  private scheduleRestart(exitCode: number): void {
    if (this.stopping) return;
    const p = this.restartPolicy;
    if (p === 'Never' || (p === 'OnFailure' && exitCode === 0)) return;
    if (Date.now() - this.startedAtMs > BACKOFF_RESET_MS) this.backoffMs = 0;
    const delay = this.backoffMs;
    this.backoffMs = this.backoffMs === 0 ? BACKOFF_START_MS : Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    if (delay > 0) {
      this.status.phase = 'waiting';
      this.status.reason = 'CrashLoopBackOff';
      this.status.message = `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.spec.name}`;
      this.onChange();
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.status.restartCount++;
      this.start();
    }, delay);
    this.restartTimer.unref();
  }

  /** SIGTERM the process group, SIGKILL after the grace period. Resolves when it is gone. */
  stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const pid = child.pid!;
      const killGroup = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-pid, sig);
        } catch {
          try {
            child.kill(sig);
          } catch {
            /* gone */
          }
        }
      };
      const timer = setTimeout(() => killGroup('SIGKILL'), Math.max(0, graceSeconds) * 1000);
      child.once('exit', () => {
        clearTimeout(timer);
        // Leftovers of the group (e.g. a backgrounded child) go too.
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* none */
        }
        resolve();
      });
      killGroup(graceSeconds > 0 ? 'SIGTERM' : 'SIGKILL');
    });
  }
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return table[sig] ?? 0;
}

/** Kubernetes $(VAR) expansion for env values, command and args; $$ escapes. */
export function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && name in vars ? vars[name]! : m;
  });
}
