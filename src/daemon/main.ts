// The daemon of one emulated cluster: store + API + controllers + kubelet + data plane in one
// process. Started by `kemu up` (detached), stopped by `kemu down` or a signal.
import { reapPending } from '../runtime/sandbox.js';
import fs from 'node:fs';
import path from 'node:path';
import { ClusterPaths, loadClusterConfig, type ClusterConfig } from '../config.js';
import { ApiServer } from '../api/server.js';
import { groupOfResource } from '../api/resources.js';
import { DeploymentController } from '../controllers/deployment.js';
import { EndpointsController } from '../controllers/endpoints.js';
import { EndpointSliceController } from '../controllers/endpointslice.js';
import { EndpointSliceMirroringController } from '../controllers/endpointslice-mirroring.js';
import { KubernetesServiceController } from '../controllers/kubernetes-service.js';
import type { Reconciler } from '../controllers/reconciler.js';
import { LoadBalancerController } from '../controllers/loadbalancer.js';
import { GarbageCollector } from '../controllers/garbage.js';
import { ReplicaSetController } from '../controllers/replicaset.js';
import { Scheduler } from '../controllers/scheduler.js';
import { StatefulSetController } from '../controllers/statefulset.js';
import { DataPlane } from '../dataplane/router.js';
import { cleanupCluster } from '../runtime/cleanup.js';
import { Kubelet } from '../runtime/kubelet.js';
import { NodeRuntime } from '../runtime/nodes.js';
import { Store } from '../store/store.js';
import { captureRoute } from './capture-route.js';
import { conntrackRoute } from './conntrack-route.js';
import { ProxySync } from '../dataplane/proxy/sync.js';
import { PolicySync } from '../dataplane/policy/sync.js';
import { flowsRoute } from './flows-route.js';
import { policyDropEvents } from './policy-events.js';
import { FlowLog } from '../dataplane/policy/flow-log.js';
import { logStreamer } from './logs.js';
import { json } from '../api/server.js';
import { processAlive } from './pidfile.js';
import { DnsLog } from './dns-log-route.js';
import { installClusterDns } from '../addons/dns/bootstrap.js';
import { FileBackend } from '../store/file-backend.js';
import { EventRecorder } from '../controllers/event-recorder.js';
import { EventSources } from '../controllers/event-sources.js';
import { ensureCredentials, previousPort, writeKubeconfig } from './kubeconfig.js';
import { createHttpsListener, listenLoopback } from './https-listener.js';
import { installIngressController } from '../addons/ingress/bootstrap.js';

const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function runDaemon(name: string, configFile: string | undefined): Promise<void> {
  const cfg: ClusterConfig = loadClusterConfig(name, configFile);
  const paths = new ClusterPaths(name);
  const old = readPid(paths.pidFile);
  if (old && old !== process.pid && processAlive(old)) {
    throw new Error(`cluster "${name}" is already running (daemon pid ${old})`);
  }
  // Whatever a crashed predecessor left behind goes first.
  const leftover = cleanupCluster(paths);
  if (leftover.namespaces.length || leftover.killed.length) {
    console.log(`cleaned up after a previous run: ${leftover.namespaces.length} namespaces, ${leftover.killed.length} processes`);
  }
  fs.mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(paths.runDir, 0o700);
  fs.mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(paths.pidFile, String(process.pid));
  fs.writeFileSync(`${paths.runDir}/config.json`, JSON.stringify(cfg, null, 2));

  // Objects persist across daemon restarts (a crash, kill -9, SIGTERM); `kemu down` deletes them.
  const store = new Store(groupOfResource, new FileBackend(path.join(paths.stateDir, 'store')));
  if (store.restored) console.log(`restored ${store.snapshot().objects.length} objects (resourceVersion ${store.resourceVersion})`);
  for (const ns of SYSTEM_NAMESPACES) {
    if (store.get('namespaces', undefined, ns)) continue;
    store.create('namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    });
  }
  const dp = new DataPlane();
  const nodes = new NodeRuntime(cfg, paths, dp);
  let shuttingDown = false;
  const kubelet = new Kubelet(store, dp, paths, cfg, nodes);
  const controllers: Reconciler[] = [new Scheduler(store), new ReplicaSetController(store), new DeploymentController(store), new StatefulSetController(store)];
  controllers.push(new KubernetesServiceController(store, cfg.serviceSubnet), new EndpointsController(store), new EndpointSliceController(store), new EndpointSliceMirroringController(store), new LoadBalancerController(store, cfg.loadBalancerPool));
  const gc = new GarbageCollector(store);
  const api = new ApiServer(store, cfg);
  const recorder = new EventRecorder(store);
  const eventSources = new EventSources(store, recorder);
  let https: ReturnType<typeof createHttpsListener> | undefined;

  const shutdown = async (why: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    console.log(`shutting down: ${why}`);
    for (const c of controllers) c.stop();
    proxySync.stop();
    policySync.stop();
    dp.flows.close();
    gc.stop();
    eventSources.stop();
    recorder.stop();
    api.server.close();
    https?.close();
    https?.closeAllConnections();
    await kubelet.shutdown();
    reapPending();
    store.close();
    nodes.shutdown();
    dp.stop();
    cleanupCluster(paths);
    console.log('stopped');
    process.exit(0);
  };

  try {
    nodes.start(store);
  } catch (err) {
    cleanupCluster(paths);
    throw err;
  }
  eventSources.start();
  dp.onPolicyDrop = policyDropEvents(store, recorder);
  recorder.start();
  for (const c of controllers) c.start();
  gc.start();
  kubelet.start();
  const proxySync = new ProxySync(store, dp, () => nodes.list().map((n) => ({ name: n.name, ip: n.ip })), cfg.serviceSubnet);
  proxySync.start();
  dp.flows = new FlowLog(16384, `${paths.stateDir}/flows.jsonl`);
  const policySync = new PolicySync(store, dp, () => nodes.list().map((n) => ({ name: n.name, ip: n.ip })));
  policySync.start();

  api.logs = logStreamer(store, kubelet);
  api.route(captureRoute(dp));
  api.route(conntrackRoute(dp));
  api.route(flowsRoute(dp));
  api.route(new DnsLog(store).route());
  api.route((req, res, url) => {
    if (url.pathname === '/kemu/v1/status' && req.method === 'GET') {
      json(res, 200, {
        name: cfg.name,
        pid: process.pid,
        nodes: nodes.list().map((n) => ({ name: n.name, ip: ipStr(n.ip), podCIDR: `${ipStr(n.podCidr.base)}/${n.podCidr.prefixLen}`, netns: n.netns, pods: n.ipam.inUse })),
        external: nodes.external ? { ip: ipStr(nodes.external.ip), netns: paths.externalNetns } : undefined,
        pods: kubelet.podCount,
        dataplane: { ...dp.stats, captureSessions: dp.capture.sessionCount },
        proxy: { ...dp.proxy.stats, conntrackEntries: dp.proxy.ct.count, conntrackMax: dp.proxy.ct.capacity, conntrackFull: dp.proxy.ct.full, services: dp.proxy.table.services, servicePorts: dp.proxy.table.ports.length, syncs: proxySync.syncs, lastSyncMs: Math.round(proxySync.lastSyncMs * 10) / 10 },
        policy: { ...dp.policyStats, policies: dp.policyTable.policies.length, isolatedPods: dp.policyTable.isolatedPods, syncs: policySync.syncs, lastSyncMs: Math.round(policySync.lastSyncMs * 10) / 10, suppressedDropRecords: dp.flows.suppressedDrops },
        memory: process.memoryUsage(),
        config: cfg,
      });
      return true;
    }
    if (url.pathname === '/kemu/v1/shutdown' && req.method === 'POST') {
      json(res, 202, { kind: 'Status', apiVersion: 'v1', status: 'Success', message: 'shutting down' });
      setImmediate(() => void shutdown('requested by kemu down'));
      return true;
    }
    return false;
  });

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('uncaughtException', (err) => {
    // A bug in one handler must not take every pod down; log loudly and keep serving.
    console.error(`uncaught exception: ${err.stack ?? err}`);
  });

  // kubectl's door: HTTPS on loopback, bearer token required, the same handler as the socket.
  // Up before the socket, so the kubeconfig exists once `kemu up` sees the daemon answer.
  const creds = ensureCredentials(paths);
  https = createHttpsListener(creds, api.handler);
  const port = await listenLoopback(https, previousPort(paths));
  const kubeconfig = writeKubeconfig(paths, port, creds);
  fs.rmSync(paths.socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    api.server.once('error', reject);
    // Only root may talk to the daemon: it starts processes on request.
    const oldMask = process.umask(0o177);
    api.server.listen(paths.socket, () => {
      process.umask(oldMask);
      fs.chmodSync(paths.socket, 0o600);
      resolve();
    });
  });
  console.log(`kemu daemon for cluster "${name}" serving on ${paths.socket} and https://127.0.0.1:${port} (kubeconfig ${kubeconfig}, pid ${process.pid})`);
  void installClusterDns(cfg, paths.socket, name);
  void installIngressController(paths.socket, name);
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function ipStr(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
