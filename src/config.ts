// Cluster configuration (a kind-style file) and the names/paths derived from a cluster name.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export interface NodeConfig {
  role: 'control-plane' | 'worker';
  labels?: Record<string, string>;
}

export interface ClusterConfig {
  name: string;
  nodes: NodeConfig[];
  podSubnet: string;
  serviceSubnet: string;
  nodeSubnet: string;
  externalClientIP: string;
  loadBalancerPool: string;
  nodePortRange: string;
  clusterDomain: string;
  /** Per-pod MTU of eth0. */
  mtu: number;
  /** Open TUNs with IFF_VNET_HDR + TSO/USO offload (GSO super-packets through the data plane). */
  offload: boolean;
}

export const DEFAULTS: Omit<ClusterConfig, 'name'> = {
  nodes: [{ role: 'control-plane' }],
  podSubnet: '10.244.0.0/16',
  serviceSubnet: '10.96.0.0/12',
  nodeSubnet: '172.18.0.0/16',
  // kind's host sits at the docker network's gateway; our external client plays that part.
  externalClientIP: '172.18.0.1',
  loadBalancerPool: '172.18.255.0/24',
  nodePortRange: '30000-32767',
  clusterDomain: 'cluster.local',
  mtu: 1500,
  offload: true,
};

const NAME_RE = /^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/;

export function validateClusterName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new Error(
      `invalid cluster name "${name}": use 1-20 lowercase letters, digits or '-', starting and ending with a letter or digit`,
    );
  }
}

/**
 * Reads a kind-style config:
 *   kind: Cluster
 *   apiVersion: kemu.dev/v1alpha1   (kind.x-k8s.io/v1alpha4 is accepted too)
 *   nodes: [{role: control-plane}, {role: worker}]
 *   networking: {podSubnet, serviceSubnet}
 */
export function loadClusterConfig(name: string, file?: string): ClusterConfig {
  validateClusterName(name);
  const cfg: ClusterConfig = { name, ...structuredClone(DEFAULTS) };
  if (!file) return cfg;
  let doc: any;
  try {
    doc = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cluster config ${file}: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object') throw new Error(`cluster config ${file}: not a mapping`);
  if (doc.kind !== undefined && doc.kind !== 'Cluster') {
    throw new Error(`cluster config ${file}: kind: expected "Cluster", got "${doc.kind}"`);
  }
  const known = new Set(['kind', 'apiVersion', 'name', 'nodes', 'networking', 'mtu', 'offload']);
  for (const k of Object.keys(doc)) {
    if (!known.has(k)) throw new Error(`cluster config ${file}: unknown field "${k}"`);
  }
  if (doc.nodes !== undefined) {
    if (!Array.isArray(doc.nodes) || doc.nodes.length === 0) {
      throw new Error(`cluster config ${file}: nodes: must be a non-empty list`);
    }
    cfg.nodes = doc.nodes.map((n: any, i: number) => {
      const role = n?.role ?? 'worker';
      if (role !== 'control-plane' && role !== 'worker') {
        throw new Error(`cluster config ${file}: nodes[${i}].role: Unsupported value: "${role}": supported values: "control-plane", "worker"`);
      }
      return { role, labels: n?.labels };
    });
    if (cfg.nodes.filter((n) => n.role === 'control-plane').length !== 1) {
      throw new Error(`cluster config ${file}: nodes: exactly one control-plane node is required`);
    }
    if (cfg.nodes.length > 200) throw new Error(`cluster config ${file}: nodes: at most 200 nodes`);
  }
  const net = doc.networking ?? {};
  const netKeys: Record<string, keyof ClusterConfig> = {
    podSubnet: 'podSubnet',
    serviceSubnet: 'serviceSubnet',
    nodeSubnet: 'nodeSubnet',
    externalClientIP: 'externalClientIP',
    loadBalancerPool: 'loadBalancerPool',
    nodePortRange: 'nodePortRange',
    clusterDomain: 'clusterDomain',
  };
  for (const [k, v] of Object.entries(net)) {
    const key = netKeys[k];
    if (!key) throw new Error(`cluster config ${file}: unknown field "networking.${k}"`);
    if (typeof v !== 'string') throw new Error(`cluster config ${file}: networking.${k}: must be a string`);
    (cfg as any)[key] = v;
  }
  if (doc.mtu !== undefined) {
    if (!Number.isInteger(doc.mtu) || doc.mtu < 576 || doc.mtu > 65535) {
      throw new Error(`cluster config ${file}: mtu: Invalid value: ${doc.mtu}: must be between 576 and 65535`);
    }
    cfg.mtu = doc.mtu;
  }
  if (doc.offload !== undefined) cfg.offload = Boolean(doc.offload);
  return cfg;
}

/** Every path and name a cluster owns, derived from its name alone (so cleanup needs no state). */
export class ClusterPaths {
  readonly stateDir: string;
  readonly runDir: string;
  constructor(readonly cluster: string) {
    const base = process.env.KEMU_STATE_DIR ?? '/var/lib/kemu';
    const run = process.env.KEMU_RUN_DIR ?? '/run/kemu';
    this.stateDir = path.join(base, cluster);
    this.runDir = path.join(run, cluster);
  }
  get socket(): string {
    return path.join(this.runDir, 'api.sock');
  }
  get pidFile(): string {
    return path.join(this.runDir, 'daemon.pid');
  }
  get daemonLog(): string {
    return path.join(this.stateDir, 'daemon.log');
  }
  get logsDir(): string {
    return path.join(this.stateDir, 'logs');
  }
  get utsDir(): string {
    return path.join(this.runDir, 'uts');
  }
  /** Prefix of every netns of this cluster; '_' never appears in Kubernetes names, so prefixes never overlap. */
  get netnsPrefix(): string {
    return `kemu_${this.cluster}_`;
  }
  podNetns(ns: string, pod: string): string {
    return `${this.netnsPrefix}${ns}_${pod}`;
  }
  nodeNetns(node: string): string {
    return `${this.netnsPrefix}${node}`;
  }
  get externalNetns(): string {
    return `${this.netnsPrefix}external`;
  }
  utsFile(netns: string): string {
    return path.join(this.utsDir, netns);
  }
  /** `ip netns exec` bind-mounts these over /etc: resolv.conf, hosts, hostname. */
  etcDir(netns: string): string {
    return path.join('/etc/netns', netns);
  }
}

export const NETNS_DIR = '/run/netns';
