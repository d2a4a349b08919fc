// kemu up / kemu down.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClusterPaths, loadClusterConfig, validateClusterName } from '../config.js';
import { isOurDaemon, processAlive, readPidFile } from '../daemon/pidfile.js';
import { cleanupCluster } from '../runtime/cleanup.js';
import { Client, ClientError } from './client.js';
import { applyPaths } from './cmd-apply.js';
import { podStatusText } from './printers.js';
import { credentialFiles, kubeconfigPath } from '../daemon/kubeconfig.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.join(here, 'main.js');

export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`invalid duration "${s}" (examples: 90s, 5m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

async function alive(client: Client): Promise<boolean> {
  try {
    await client.get('/version');
    return true;
  } catch {
    return false;
  }
}

export async function cmdUp(name: string, o: { config?: string; filename: string[]; wait?: boolean; timeout: string }): Promise<number> {
  validateClusterName(name);
  if (o.config) loadClusterConfig(name, o.config); // fail fast on a bad config, before forking
  const timeoutMs = parseDuration(o.timeout);
  const client = new Client(name);
  const paths = new ClusterPaths(name);
  if (await alive(client)) {
    console.error(`cluster "${name}" is already running`);
  } else {
    const pid = readPidFile(paths.pidFile);
    if (pid && processAlive(pid) && isOurDaemon(pid, name)) {
      throw new Error(`cluster "${name}" has a daemon (pid ${pid}) that does not answer; run "kemu down --name ${name}" first`);
    }
    fs.mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    const logFd = fs.openSync(paths.daemonLog, 'a');
    const args = [MAIN, 'daemon', '--name', name, ...(o.config ? ['--config', path.resolve(o.config)] : [])];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    let exited: number | null = null;
    child.on('exit', (c) => (exited = c ?? 1));
    child.unref();
    process.stderr.write(`Creating cluster "${name}" ...\n`);
    const deadline = Date.now() + 60_000;
    while (!(await alive(client))) {
      if (exited !== null || Date.now() > deadline) {
        const log = fs.existsSync(paths.daemonLog) ? fs.readFileSync(paths.daemonLog, 'utf8').split('\n').slice(-15).join('\n') : '';
        if (exited === null) child.kill('SIGKILL');
        throw new Error(`the daemon for cluster "${name}" did not start${exited !== null ? ` (exit code ${exited})` : ''}; last lines of ${paths.daemonLog}:\n${log}`);
      }
      await sleep(50);
    }
    const st = await client.get('/kemu/v1/status');
    for (const n of st.nodes) process.stderr.write(` ✓ node ${n.name} ${n.ip} (pods ${n.podCIDR})\n`);
    process.stderr.write(` ✓ external client ${st.external.ip} (kemu exec --external -- CMD)\n`);
    process.stderr.write(` ✓ kubeconfig ${kubeconfigPath(paths)} (KUBECONFIG=$(kemu kubeconfig --name ${name}) kubectl get pods -A)\n`);
  }
  let code = 0;
  if (o.filename.length) code = await applyPaths(client, o.filename, undefined);
  if (o.wait) {
    const ok = await waitReady(client, timeoutMs);
    if (!ok) code = 1;
  }
  return code;
}

/** Wait until every pod is Ready and every workload has its replicas, printing progress. */
export async function waitReady(client: Client, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const tty = process.stderr.isTTY;
  let lastLine = '';
  for (;;) {
    const pods = (await client.get('/api/v1/pods')).items as any[];
    const deps = (await client.get('/apis/apps/v1/deployments')).items as any[];
    const stss = (await client.get('/apis/apps/v1/statefulsets')).items as any[];
    const live = pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded');
    const ready = live.filter((p) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True'));
    const wanting = [
      ...deps.filter((d) => (d.status?.readyReplicas ?? 0) < (d.spec?.replicas ?? 1)).map((d) => `deployment/${d.metadata.name}`),
      ...stss.filter((s) => (s.status?.readyReplicas ?? 0) < (s.spec?.replicas ?? 1)).map((s) => `statefulset/${s.metadata.name}`),
    ];
    const notReady = live.filter((p) => !ready.includes(p));
    const done = notReady.length === 0 && wanting.length === 0;
    const detail = notReady
      .slice(0, 3)
      .map((p) => `${p.metadata.namespace}/${p.metadata.name} ${podStatusText(p)}`)
      .join(', ');
    const line = `Waiting for pods: ${ready.length}/${live.length} ready${detail ? ` (${detail}${notReady.length > 3 ? ', …' : ''})` : ''}`;
    if (line !== lastLine) {
      if (tty) process.stderr.write(`\r\x1b[K${line}`);
      else process.stderr.write(line + '\n');
      lastLine = line;
    }
    if (done) {
      if (tty) process.stderr.write('\n');
      process.stderr.write(` ✓ all ${live.length} pods ready\n`);
      return true;
    }
    const failed = notReady.find((p) => p.status?.phase === 'Failed' || /Error|BackOff/.test(podStatusText(p)));
    if (Date.now() > deadline) {
      if (tty) process.stderr.write('\n');
      process.stderr.write(`error: timed out waiting for pods to be Ready${failed ? `; ${failed.metadata.namespace}/${failed.metadata.name} is ${podStatusText(failed)}` : ''}\n`);
      return false;
    }
    await sleep(200);
  }
}

export async function cmdDown(name: string): Promise<number> {
  validateClusterName(name);
  const client = new Client(name);
  const paths = new ClusterPaths(name);
  process.stderr.write(`Deleting cluster "${name}" ...\n`);
  const pid = readPidFile(paths.pidFile);
  if (pid && processAlive(pid) && isOurDaemon(pid, name)) {
    try {
      await client.request('POST', '/kemu/v1/shutdown');
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
    }
    const deadline = Date.now() + 45_000;
    while (processAlive(pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(pid)) {
      process.stderr.write(`daemon ${pid} did not stop in time; killing it\n`);
      process.kill(pid, 'SIGKILL');
      while (processAlive(pid)) await sleep(20);
    }
  }
  const r = cleanupCluster(paths);
  if (r.namespaces.length || r.killed.length) {
    process.stderr.write(`Removed ${r.namespaces.length} leftover namespaces and ${r.killed.length} processes\n`);
  }
  // The cluster's objects, credentials, logs and flow log go with it (a restart keeps them;
  // down does not): nothing of a deleted cluster stays on disk.
  for (const f of [path.join(paths.stateDir, 'store'), ...credentialFiles(paths)]) fs.rmSync(f, { recursive: true, force: true });
  fs.rmSync(paths.stateDir, { recursive: true, force: true });
  process.stderr.write(`Deleted cluster "${name}"\n`);
  return 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** kemu kubeconfig: the path of the cluster's kubeconfig (written by the daemon at start). */
export async function cmdKubeconfig(name: string): Promise<number> {
  validateClusterName(name);
  const file = kubeconfigPath(new ClusterPaths(name));
  if (!fs.existsSync(file)) throw new Error(`cluster "${name}" has no kubeconfig (${file}); start it with: kemu up --name ${name}`);
  console.log(file);
  return 0;
}
