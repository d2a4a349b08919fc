// Readiness probes the way the kubelet runs them (pkg/kubelet/prober): httpGet and tcpSocket
// from the NODE's network namespace to the pod IP (so the traffic crosses kemu's data plane and
// shows in captures, as a kubelet's does), exec inside the pod's namespaces. A container is
// ready after successThreshold consecutive successes and unready after failureThreshold
// consecutive failures; it starts unready, nothing runs before initialDelaySeconds, and a
// restarted container starts over.
import { execFile } from 'node:child_process';

type Obj = Record<string, any>;

/** The kubelet's probe User-Agent ("kube-probe/<major>.<minor>"), as kemu reports v1.31. */
export const PROBE_USER_AGENT = 'kube-probe/1.31';

export interface ProbeTiming {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** The probe fields with the apiserver's defaults (for probes stored before defaulting). */
export function probeTiming(p: Obj): ProbeTiming {
  return {
    initialDelaySeconds: p.initialDelaySeconds || 0,
    periodSeconds: p.periodSeconds || 10,
    timeoutSeconds: p.timeoutSeconds || 1,
    successThreshold: p.successThreshold || 1,
    failureThreshold: p.failureThreshold || 3,
  };
}

/** resolveContainerPort: a number, a containerPort name of this container, or a number in a string. */
export function resolveProbePort(port: unknown, container: Obj): number | undefined {
  let n: number | undefined;
  if (typeof port === 'number') n = port;
  else if (typeof port === 'string') {
    n = (container.ports ?? []).find((p: Obj) => p.name === port)?.containerPort;
    if (n === undefined && /^\d+$/.test(port)) n = Number(port);
  }
  return n !== undefined && n > 0 && n < 65536 ? n : undefined;
}

export interface ProbeContext {
  podIP: string;
  /** The node's network namespace, where httpGet and tcpSocket probes come from. */
  nodeNetns: string;
  /** The pod's network namespace and UTS file, where exec probes run. */
  podNetns: string;
  utsFile: string;
  /** The container's environment (exec probes see it). */
  env: Record<string, string>;
}

export interface ProbeCommand {
  argv: string[];
  env?: Record<string, string>;
  /** How the command's outcome reads: exit status alone, or curl's printed HTTP status. */
  check: 'exit' | 'http';
}

/**
 * The command that runs one probe, or an error message when the probe cannot run (no
 * supported handler, a named port the container does not have).
 */
export function probeCommand(probe: Obj, container: Obj, ctx: ProbeContext): ProbeCommand | string {
  const t = probeTiming(probe);
  const inNode = ['ip', 'netns', 'exec', ctx.nodeNetns];
  if (probe.exec) {
    const cmd: string[] = probe.exec.command ?? [];
    if (!cmd.length) return 'exec probe without a command';
    return { argv: ['nsenter', `--uts=${ctx.utsFile}`, '--', 'ip', 'netns', 'exec', ctx.podNetns, ...cmd], env: ctx.env, check: 'exit' };
  }
  if (probe.httpGet) {
    const h = probe.httpGet;
    const port = resolveProbePort(h.port, container);
    if (port === undefined) return `httpGet probe port ${JSON.stringify(h.port)} is not a port of container "${container.name}"`;
    const scheme = String(h.scheme || 'HTTP').toLowerCase();
    const host = h.host || ctx.podIP;
    let path = String(h.path || '/');
    if (!path.startsWith('/')) path = `/${path}`;
    const headers = new Map<string, string>([
      ['user-agent', `User-Agent: ${PROBE_USER_AGENT}`],
      ['accept', 'Accept: */*'],
    ]);
    for (const x of h.httpHeaders ?? []) headers.set(String(x.name).toLowerCase(), `${x.name}: ${x.value ?? ''}`);
    const argv = [...inNode, 'curl', '-s', '-k', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(t.timeoutSeconds)];
    for (const v of headers.values()) argv.push('-H', v);
    argv.push(`${scheme}://${host}:${port}${path}`);
    return { argv, check: 'http' };
  }
  if (probe.tcpSocket) {
    const port = resolveProbePort(probe.tcpSocket.port, container);
    if (port === undefined) return `tcpSocket probe port ${JSON.stringify(probe.tcpSocket.port)} is not a port of container "${container.name}"`;
    return { argv: [...inNode, 'nc', '-z', '-w', String(t.timeoutSeconds), probe.tcpSocket.host || ctx.podIP, String(port)], check: 'exit' };
  }
  return 'no supported probe handler (kemu runs exec, httpGet and tcpSocket probes)';
}

/** Did a probe command succeed? HTTP probes pass on 200-399, as the kubelet's do. */
export function probeSucceeded(cmd: ProbeCommand, exitCode: number, stdout: string): boolean {
  if (exitCode !== 0) return false;
  if (cmd.check === 'exit') return true;
  const code = Number(stdout.trim());
  return code >= 200 && code < 400;
}

/** The kubelet worker's bookkeeping: consecutive results against the thresholds. */
export class ProbeState {
  private last: boolean | undefined;
  private run = 0;
  /** Readiness starts as Failure. */
  ready = false;

  constructor(private readonly timing: Pick<ProbeTiming, 'successThreshold' | 'failureThreshold'>) {}

  /** Records one result; true when `ready` changed. */
  record(ok: boolean): boolean {
    if (this.last === ok) this.run++;
    else {
      this.last = ok;
      this.run = 1;
    }
    const threshold = ok ? this.timing.successThreshold : this.timing.failureThreshold;
    if (this.run < threshold || this.ready === ok) return false;
    this.ready = ok;
    return true;
  }

  reset(): void {
    this.last = undefined;
    this.run = 0;
    this.ready = false;
  }
}

export type Runner = (cmd: ProbeCommand, timeoutMs: number) => Promise<{ code: number; stdout: string }>;

/** Runs a probe command, killing it when the probe's timeout (plus a little grace) passes. */
export const runProbeCommand: Runner = (cmd, timeoutMs) =>
  new Promise((resolve) => {
    const [file, ...args] = cmd.argv;
    execFile(
      file!,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...(cmd.env ?? {}) }, maxBuffer: 1 << 20 },
      (err, stdout) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
        resolve({ code, stdout: String(stdout) });
      },
    );
  });

/**
 * One container's readiness prober: started on each container start (with that start's
 * context), stopped when the container stops or the pod goes.
 */
export class ReadinessProber {
  readonly timing: ProbeTiming;
  private readonly state: ProbeState;
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;
  /** The container start (its pid) this prober is running for. */
  startedFor: number | undefined;
  /** Why the probe cannot run at all, if so (reported once). */
  private broken: string | undefined;

  constructor(
    private readonly probe: Obj,
    private readonly container: Obj,
    private readonly onChange: () => void,
    private readonly run: Runner = runProbeCommand,
  ) {
    this.timing = probeTiming(probe);
    this.state = new ProbeState(this.timing);
  }

  get ready(): boolean {
    return this.state.ready;
  }

  containerStarted(pid: number, ctx: ProbeContext): void {
    this.stop();
    this.startedFor = pid;
    const gen = ++this.generation;
    const cmd = probeCommand(this.probe, this.container, ctx);
    if (typeof cmd === 'string') {
      if (this.broken !== cmd) console.error(`kubelet: readiness probe of container "${this.container.name}": ${cmd}`);
      this.broken = cmd;
      return;
    }
    const tick = async () => {
      if (gen !== this.generation) return;
      const r = await this.run(cmd, this.timing.timeoutSeconds * 1000 + 500);
      if (gen !== this.generation) return;
      if (this.state.record(probeSucceeded(cmd, r.code, r.stdout))) this.onChange();
      this.timer = setTimeout(() => void tick(), this.timing.periodSeconds * 1000);
      this.timer.unref();
    };
    this.timer = setTimeout(() => void tick(), this.timing.initialDelaySeconds * 1000);
    this.timer.unref();
  }

  /** The container is not running: unready until it starts again. */
  stop(): void {
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.startedFor = undefined;
    const was = this.state.ready;
    this.state.reset();
    if (was) this.onChange();
  }
}
