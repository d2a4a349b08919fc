// kemu exec: enter a pod's (or node's, or the external client's) namespaces and run a command
// with stdin, stdout, stderr and the exit code passed through. The CLI enters the namespaces
// itself (it runs as root on the same machine), so there is no stream proxy in between.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Client } from './client.js';

/** A process's environment from /proc (the container's, for exec), without kemu's control fd. */
function processEnv(pid: number): Record<string, string> | undefined {
  try {
    const env: Record<string, string> = {};
    for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    delete env.KEMU_READY_FD;
    return env;
  } catch {
    return undefined;
  }
}

export async function cmdExec(
  cluster: string,
  pod: string | undefined,
  command: string[],
  o: { namespace?: string; container?: string; external?: boolean; node?: string },
): Promise<number> {
  const client = new Client(cluster);
  const paths = client.paths;
  let netns: string;
  let env: Record<string, string> = {};
  let cwd = '/';
  // With passThroughOptions commander keeps the "--" that separates kemu's options from the
  // command (kubectl's form: kemu exec POD -- CMD); it is ours, not the command's.
  let argv = command[0] === '--' ? command.slice(1) : command;
  if (o.external || o.node) {
    // No pod argument: everything positional is the command.
    argv = pod === '--' ? argv : pod !== undefined ? [pod, ...argv] : argv;
    if (o.external) netns = paths.externalNetns;
    else {
      await client.get(`/api/v1/nodes/${encodeURIComponent(o.node!)}`);
      netns = paths.nodeNetns(o.node!);
    }
  } else {
    if (!pod) throw new Error('expected: kemu exec [-n NS] POD [-c CONTAINER] -- COMMAND [args...]');
    const ns = o.namespace ?? 'default';
    const p = await client.get(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(pod.replace(/^pods?\//, ''))}`);
    const phase = p.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') throw new Error(`cannot exec into a container in a completed pod; current phase is ${phase}`);
    if (!p.status?.podIP) throw new Error(`pod ${ns}/${p.metadata.name} is not running yet (${phase ?? 'Pending'})`);
    const containers: any[] = p.spec?.containers ?? [];
    const c = o.container ? containers.find((x) => x.name === o.container) : containers[0];
    if (!c) throw new Error(`container ${o.container} not found in pod ${p.metadata.name}`);
    // kubectl exec runs with the container's environment (declared env, Service variables
    // from the pod's start): read it from the container's process when it is running.
    const pid = /^kemu:\/\/(\d+)$/.exec((p.status?.containerStatuses ?? []).find((s: any) => s.name === c.name)?.containerID ?? '')?.[1];
    const live = pid ? processEnv(Number(pid)) : undefined;
    if (live) env = live;
    else for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = String(e.value);
    env.HOSTNAME = p.spec?.hostname ?? p.metadata.name;
    if (c.workingDir) cwd = c.workingDir;
    netns = p.spec?.hostNetwork ? paths.nodeNetns(p.spec.nodeName) : paths.podNetns(ns, p.metadata.name);
  }
  if (!argv.length) throw new Error('you must specify at least one command for the container');
  const child = spawn('nsenter', [`--uts=${paths.utsFile(netns)}`, '--', 'ip', 'netns', 'exec', netns, ...argv], {
    stdio: 'inherit',
    cwd,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TERM: process.env.TERM ?? 'xterm', ...env },
  });
  // Ctrl-C reaches the child through the terminal; we only report how it ended.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  return await new Promise<number>((resolve) => {
    child.on('error', (err) => {
      console.error(`error: ${err.message}`);
      resolve(126);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : 128 + 9)));
  });
}
