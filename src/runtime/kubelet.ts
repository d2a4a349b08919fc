// The kubelet of every emulated node at once: for each scheduled pod it builds the sandbox,
// attaches eth0 to the data plane, runs the containers and reports status; for each pod being
// deleted it stops the containers within the grace period, tears the sandbox down and
// finalizes the deletion.
import fs from 'node:fs';
import path from 'node:path';
import type { ClusterConfig, ClusterPaths } from '../config.js';
import type { DataPlane } from '../dataplane/router.js';
import type { KObject, Store, WatchEvent } from '../store/store.js';
import { Container, expandVars, type ContainerLaunch } from './containers.js';
import { intToIpString, ipStringToInt } from './ipam.js';
import type { NodeRuntime } from './nodes.js';
import { hostsFile, podHostname, resolvConf } from './pod-files.js';
import { ReadinessProber } from './probes.js';
import { createSandbox, destroySandbox, type Sandbox } from './sandbox.js';
import { serviceEnv } from './service-env.js';

interface PodWorker {
  key: string;
  uid: string;
  node: string;
  ip?: number;
  sandbox?: Sandbox;
  hostNetwork: boolean;
  slot?: number;
  containers: Container[];
  /** Per container (same index): its launch spec and, if it has a readinessProbe kemu runs, the prober. */
  launches: ContainerLaunch[];
  probers: (ReadinessProber | undefined)[];
  netns?: string;
  utsFile?: string;
  terminating: boolean;
  statusTimer?: NodeJS.Immediate;
  startTime: string;
  error?: { reason: string; message: string };
}

function ts(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export class Kubelet {
  private readonly workers = new Map<string, PodWorker>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly dp: DataPlane,
    private readonly paths: ClusterPaths,
    private readonly cfg: ClusterConfig,
    private readonly nodes: NodeRuntime,
  ) {}

  /** Pod IPs recorded in the store before a daemon restart, claimed for their pods (by uid). */
  private readonly recordedIPs = new Map<string, number>();
  private stopping = false;

  start(): void {
    this.unsubscribe = this.store.subscribe((ev) => this.onEvent(ev));
    const pods = this.store.list('pods');
    // After a daemon restart the pods come back with the IPs they had (status.podIP, as a
    // CNI's IPAM keeps its leases): every recorded IP is claimed before any pod starts, so a
    // new pod cannot take one that an old pod is about to get back.
    for (const p of pods) this.claimRecordedIP(p);
    for (const p of pods) this.sync(p);
  }

  private claimRecordedIP(pod: KObject): void {
    const ip: unknown = pod.status?.podIP;
    const node = this.nodes.get(pod.spec?.nodeName ?? '');
    if (typeof ip !== 'string' || !node || pod.spec?.hostNetwork || pod.metadata.deletionTimestamp) return;
    let n: number;
    try {
      n = ipStringToInt(ip);
    } catch {
      return;
    }
    if (node.ipam.claim(n)) this.recordedIPs.set(pod.metadata.uid!, n);
  }

  private releaseRecordedIP(pod: KObject): void {
    const ip = this.recordedIPs.get(pod.metadata.uid!);
    if (ip === undefined) return;
    this.recordedIPs.delete(pod.metadata.uid!);
    this.nodes.get(pod.spec?.nodeName ?? '')?.ipam.release(ip);
  }

  get podCount(): number {
    return this.workers.size;
  }

  private onEvent(ev: WatchEvent): void {
    if (ev.resource !== 'pods') return;
    if (ev.type === 'DELETED') {
      this.releaseRecordedIP(ev.object);
      const w = this.workers.get(key(ev.object));
      if (w && w.uid === ev.object.metadata.uid) void this.teardown(w, 0);
      return;
    }
    this.sync(ev.object);
  }

  private sync(pod: KObject): void {
    const k = key(pod);
    const w = this.workers.get(k);
    if (pod.metadata.deletionTimestamp) {
      this.releaseRecordedIP(pod);
      if (w && !w.terminating) {
        void this.teardown(w, pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30).then(() => this.finalize(pod));
      } else if (!w) {
        this.finalize(pod);
      }
      return;
    }
    if (w) return;
    const node: string | undefined = pod.spec?.nodeName;
    if (!node || !this.nodes.has(node)) return;
    const worker: PodWorker = {
      key: k,
      uid: pod.metadata.uid!,
      node,
      hostNetwork: Boolean(pod.spec?.hostNetwork),
      containers: [],
      launches: [],
      probers: [],
      terminating: false,
      startTime: ts(),
    };
    this.workers.set(k, worker);
    try {
      this.startPod(worker, pod);
    } catch (err) {
      worker.error = { reason: 'FailedCreatePodSandBox', message: (err as Error).message };
      console.error(`kubelet: pod ${k}: ${(err as Error).message}`);
      this.releaseNetwork(worker);
    }
    this.scheduleStatus(worker);
  }

  private startPod(w: PodWorker, pod: KObject): void {
    const node = this.nodes.get(w.node)!;
    let netns: string;
    let utsFile: string;
    if (w.hostNetwork) {
      netns = node.netns;
      utsFile = node.utsFile;
      w.ip = node.ip;
    } else {
      const ns = pod.metadata.namespace!;
      const name = pod.metadata.name;
      const recorded = this.recordedIPs.get(w.uid);
      this.recordedIPs.delete(w.uid);
      w.ip = recorded ?? node.ipam.allocate();
      const ipStr = intToIpString(w.ip);
      netns = this.paths.podNetns(ns, name);
      w.sandbox = createSandbox(this.paths, {
        netns,
        hostname: podHostname(pod),
        ip: w.ip,
        prefixLen: node.podCidr.prefixLen,
        gateway: node.ipam.gateway,
        mtu: this.cfg.mtu,
        offload: this.cfg.offload,
        files: {
          resolvConf: resolvConf(pod, this.dnsSettings()),
          hosts: hostsFile(pod, ipStr, this.cfg.clusterDomain),
        },
      });
      utsFile = w.sandbox.utsFile;
      w.slot = this.dp.attach(
        { zone: 'pod', namespace: ns, name, node: w.node, ip: w.ip | 0, gateway: node.ipam.gateway | 0 },
        w.sandbox.fd,
        w.sandbox.vnetHdr,
      );
    }
    w.netns = netns;
    w.utsFile = utsFile;
    const logDir = path.join(this.paths.logsDir, `${pod.metadata.namespace}_${pod.metadata.name}_${w.uid}`);
    const policy = pod.spec?.restartPolicy ?? 'Always';
    // The Services that exist now, as the kubelet sees them when it starts the pod.
    const svcEnv = serviceEnv(this.store.peek('services'), pod.metadata.namespace!, pod.spec?.enableServiceLinks !== false);
    for (const c of pod.spec?.containers ?? []) {
      const launch = this.launchSpec(pod, c, w, svcEnv);
      const container = new Container(launch, { netns, utsFile }, logDir, policy, () => this.containerChanged(w));
      w.containers.push(container);
      w.launches.push(launch);
      const probe = c.readinessProbe;
      // gRPC probes are accepted but not run (a warning says so): such containers count as
      // ready when running, as if they had no probe.
      const runnable = probe && (probe.exec || probe.httpGet || probe.tcpSocket);
      w.probers.push(runnable ? new ReadinessProber(probe, c, () => this.scheduleStatus(w)) : undefined);
    }
    for (const c of w.containers) c.start();
  }

  private containerChanged(w: PodWorker): void {
    this.syncProbes(w);
    this.scheduleStatus(w);
  }

  /** Probers follow their containers: restarted with each container start, stopped when it stops. */
  private syncProbes(w: PodWorker): void {
    w.containers.forEach((c, i) => {
      const prober = w.probers[i];
      if (!prober) return;
      const pid = c.status.phase === 'running' ? c.status.pid : undefined;
      if (pid === undefined) {
        if (prober.startedFor !== undefined) prober.stop();
        return;
      }
      if (prober.startedFor === pid) return;
      const node = this.nodes.get(w.node);
      if (!node || w.ip === undefined) return;
      prober.containerStarted(pid, {
        podIP: intToIpString(w.ip),
        nodeNetns: node.netns,
        podNetns: w.netns!,
        utsFile: w.utsFile!,
        env: w.launches[i]!.env,
      });
    });
  }

  /** A container with a readiness probe is ready when running and its probe says so. */
  private containerReady(w: PodWorker, i: number): boolean {
    const c = w.containers[i]!;
    const prober = w.probers[i];
    return prober ? c.status.phase === 'running' && prober.ready : c.status.ready;
  }

  private dnsSettings() {
    let nodeResolv = '';
    try {
      nodeResolv = fs.readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* none */
    }
    return { clusterDNS: this.nodes.clusterDNS, clusterDomain: this.cfg.clusterDomain, nodeResolvConf: nodeResolv };
  }

  private launchSpec(pod: KObject, c: any, w: PodWorker, svcEnv: Record<string, string>): ContainerLaunch {
    const env: Record<string, string> = {
      HOSTNAME: podHostname(pod),
      KEMU_CLUSTER: this.cfg.name,
      KEMU_POD_NAME: pod.metadata.name,
      KEMU_POD_NAMESPACE: pod.metadata.namespace!,
      KEMU_POD_IP: w.ip !== undefined ? intToIpString(w.ip) : '',
      KEMU_NODE_NAME: w.node,
      KEMU_CONTAINER_NAME: c.name,
      KEMU_IMAGE: c.image ?? '',
      KEMU_READY_FD: '3',
      // Declared env below overrides these and may refer to them with $(VAR), as in the kubelet.
      ...svcEnv,
    };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = expandVars(String(e.value), env);
      else if (e.valueFrom?.fieldRef) env[e.name] = this.fieldRef(pod, e.valueFrom.fieldRef.fieldPath, w);
      else if (e.valueFrom) throw new Error(`container "${c.name}": env ${e.name}: only value and valueFrom.fieldRef are supported by kemu so far`);
      else env[e.name] = '';
    }
    const cmd: string[] | undefined = c.command;
    const args: string[] | undefined = c.args;
    let argv: string[] | undefined;
    if (cmd && cmd.length) argv = [...cmd, ...(args ?? [])].map((s) => expandVars(String(s), env));
    else if (args && args.length) argv = args.map((s) => expandVars(String(s), env));
    const ports = (c.ports ?? [])
      .map((p: any) => `${p.name ? p.name + ':' : ''}${p.containerPort}/${p.protocol ?? 'TCP'}`)
      .join(',');
    return { name: c.name, image: c.image ?? '', argv, env, workingDir: c.workingDir, ports };
  }

  private fieldRef(pod: KObject, fieldPath: string, w: PodWorker): string {
    const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
    if (m) return (pod.metadata as any)[m[1]!]?.[m[2]!] ?? '';
    switch (fieldPath) {
      case 'metadata.name':
        return pod.metadata.name;
      case 'metadata.namespace':
        return pod.metadata.namespace ?? '';
      case 'metadata.uid':
        return pod.metadata.uid ?? '';
      case 'spec.nodeName':
        return w.node;
      case 'spec.serviceAccountName':
        return pod.spec?.serviceAccountName ?? 'default';
      case 'status.hostIP':
      case 'status.hostIPs':
        return intToIpString(this.nodes.get(w.node)!.ip);
      case 'status.podIP':
      case 'status.podIPs':
        return w.ip !== undefined ? intToIpString(w.ip) : '';
      default:
        throw new Error(`unsupported fieldRef fieldPath "${fieldPath}"`);
    }
  }

  private scheduleStatus(w: PodWorker): void {
    if (w.statusTimer) return;
    w.statusTimer = setImmediate(() => {
      w.statusTimer = undefined;
      this.writeStatus(w);
    });
  }

  private writeStatus(w: PodWorker): void {
    // A daemon that is shutting down keeps the last status it wrote (with the pod's IP), so a
    // restarted daemon gives each pod its IP back.
    if (this.stopping) return;
    const [ns, name] = w.key.split('/') as [string, string];
    this.store.mutate('pods', ns, name, (pod) => {
      if (pod.metadata.uid !== w.uid) return false;
      pod.status = this.buildStatus(w, pod);
      return true;
    });
  }

  private buildStatus(w: PodWorker, pod: KObject): any {
    const node = this.nodes.get(w.node)!;
    const t = ts();
    const prev = pod.status ?? {};
    const prevCond = new Map<string, any>((prev.conditions ?? []).map((c: any) => [c.type, c]));
    const cond = (type: string, ok: boolean, reason?: string) => {
      const status = ok ? 'True' : 'False';
      const old = prevCond.get(type);
      const c: any = { type, status, lastProbeTime: null, lastTransitionTime: old && old.status === status ? old.lastTransitionTime : t };
      if (!ok && reason) c.reason = reason;
      return c;
    };
    const statuses = w.containers.map((c, i) => toContainerStatus(c.status, this.containerReady(w, i)));
    const allReady = w.containers.length > 0 && w.containers.every((_, i) => this.containerReady(w, i));
    const allDone = w.containers.length > 0 && w.containers.every((c) => c.status.phase === 'terminated');
    const policy = pod.spec?.restartPolicy ?? 'Always';
    let phase = 'Pending';
    if (w.error) phase = 'Pending';
    else if (allDone && policy !== 'Always') {
      const failed = w.containers.some((c) => (c.status.exitCode ?? 0) !== 0);
      phase = failed && policy === 'Never' ? 'Failed' : failed ? 'Running' : 'Succeeded';
    } else if (w.containers.some((c) => c.status.started)) phase = 'Running';
    const status: any = {
      phase,
      conditions: [
        cond('PodReadyToStartContainers', Boolean(w.sandbox || w.hostNetwork)),
        cond('Initialized', true),
        cond('Ready', allReady, 'ContainersNotReady'),
        cond('ContainersReady', allReady, 'ContainersNotReady'),
        cond('PodScheduled', true),
      ],
      hostIP: intToIpString(node.ip),
      hostIPs: [{ ip: intToIpString(node.ip) }],
      startTime: w.startTime,
      containerStatuses: statuses,
      qosClass: 'BestEffort',
    };
    if (w.ip !== undefined && !w.error) {
      status.podIP = intToIpString(w.ip);
      status.podIPs = [{ ip: status.podIP }];
    }
    if (w.error) {
      status.message = w.error.message;
      status.reason = w.error.reason;
    }
    return status;
  }

  private releaseNetwork(w: PodWorker): void {
    if (w.slot !== undefined) {
      this.dp.detach(w.slot);
      w.slot = undefined;
    }
    if (w.sandbox) {
      try {
        destroySandbox(this.paths, w.sandbox);
      } catch (err) {
        console.error(`kubelet: pod ${w.key}: sandbox teardown: ${(err as Error).message}`);
      }
      w.sandbox = undefined;
    }
    if (w.ip !== undefined && !w.hostNetwork) this.nodes.get(w.node)?.ipam.release(w.ip);
    w.ip = undefined;
  }

  private async teardown(w: PodWorker, graceSeconds: number): Promise<void> {
    if (w.terminating) return;
    w.terminating = true;
    // Probes go on while the containers shut down (a terminating pod may still serve).
    await Promise.all(w.containers.map((c) => c.stop(graceSeconds)));
    for (const p of w.probers) p?.stop();
    this.releaseNetwork(w);
    if (this.workers.get(w.key) === w) this.workers.delete(w.key);
  }

  private finalize(pod: KObject): void {
    try {
      const cur = this.store.get('pods', pod.metadata.namespace, pod.metadata.name);
      if (cur && cur.metadata.uid === pod.metadata.uid) this.store.delete('pods', pod.metadata.namespace, pod.metadata.name);
    } catch {
      /* already gone */
    }
  }

  /** Stop every pod now (daemon shutdown). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    await Promise.all([...this.workers.values()].map((w) => this.teardown(w, 2)));
  }

  logPath(ns: string, name: string, uid: string, container: string, previous: boolean): string | undefined {
    const w = this.workers.get(`${ns}/${name}`);
    const dir = path.join(this.paths.logsDir, `${ns}_${name}_${uid}`, container);
    let restart = 0;
    if (w) {
      const c = w.containers.find((x) => x.status.name === container);
      if (c) restart = c.status.restartCount - (previous ? 1 : 0);
    } else {
      try {
        const files = fs.readdirSync(dir).map((f) => parseInt(f, 10)).filter((n) => !Number.isNaN(n));
        restart = Math.max(...files) - (previous ? 1 : 0);
      } catch {
        return undefined;
      }
    }
    if (restart < 0) return undefined;
    const p = path.join(dir, `${restart}.log`);
    return fs.existsSync(p) ? p : undefined;
  }
}

function toContainerStatus(s: import('./containers.js').ContainerStatus, ready: boolean): any {
  const state: any = {};
  if (s.phase === 'running') state.running = { startedAt: s.startedAt };
  else if (s.phase === 'terminated') {
    state.terminated = { exitCode: s.exitCode, reason: s.reason, startedAt: s.startedAt, finishedAt: s.finishedAt };
    if (s.signal) state.terminated.signal = s.signal;
  } else state.waiting = { reason: s.reason ?? 'ContainerCreating', ...(s.message ? { message: s.message } : {}) };
  const out: any = {
    name: s.name,
    image: s.image,
    imageID: '',
    containerID: s.pid ? `kemu://${s.pid}` : undefined,
    ready,
    started: s.phase === 'running',
    restartCount: s.restartCount,
    state,
    lastState: {},
  };
  if (s.last && s.restartCount > 0) {
    out.lastState = { terminated: { exitCode: s.last.exitCode, reason: s.last.reason, startedAt: s.last.startedAt, finishedAt: s.last.finishedAt } };
  }
  if (!out.containerID) delete out.containerID;
  return out;
}

function key(o: KObject): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}
