// Emulated nodes and the external client. Each node is a namespace that plays the node's host
// network (hostNetwork pods run there) with the node IP on a TUN eth0; the external client is
// a machine on the nodes' network outside the cluster. All of them reach each other only
// through the data plane.
import os from 'node:os';
import type { ClusterConfig, ClusterPaths } from '../config.js';
import type { DataPlane } from '../dataplane/router.js';
import type { KObject, Store } from '../store/store.js';
import { intToIpString, ipStringToInt, nodeSubnet, parseCidrString, RangeAllocator, type Cidr } from './ipam.js';
import { createSandbox, destroySandbox, type Sandbox } from './sandbox.js';

export interface EmulatedNode {
  name: string;
  role: 'control-plane' | 'worker';
  ip: number;
  podCidr: Cidr;
  ipam: RangeAllocator;
  netns: string;
  utsFile: string;
  sandbox: Sandbox;
  slot: number;
  labels: Record<string, string>;
}

export function nodeNames(cfg: ClusterConfig): string[] {
  let w = 0;
  return cfg.nodes.map((n) => (n.role === 'control-plane' ? `${cfg.name}-control-plane` : `${cfg.name}-worker${++w === 1 ? '' : w}`));
}

const ETC_HOSTS_NODE = (name: string, ip: string) =>
  `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${name}\n`;

export class NodeRuntime {
  private readonly nodes = new Map<string, EmulatedNode>();
  external: { ip: number; sandbox: Sandbox; slot: number } | undefined;
  readonly clusterDNS: string;

  constructor(
    private readonly cfg: ClusterConfig,
    private readonly paths: ClusterPaths,
    private readonly dp: DataPlane,
  ) {
    const svc = parseCidrString(cfg.serviceSubnet);
    this.clusterDNS = intToIpString(svc.base + 10);
  }

  has(name: string): boolean {
    return this.nodes.has(name);
  }

  get(name: string): EmulatedNode | undefined {
    return this.nodes.get(name);
  }

  list(): EmulatedNode[] {
    return [...this.nodes.values()];
  }

  /** Build every node and the external client; registers Node objects in the store. */
  start(store: Store): void {
    const pod = parseCidrString(this.cfg.podSubnet);
    const nodeNet = parseCidrString(this.cfg.nodeSubnet);
    const extIp = ipStringToInt(this.cfg.externalClientIP);
    const names = nodeNames(this.cfg);
    const resolv = 'nameserver 127.0.0.11\noptions ndots:0\n';
    names.forEach((name, i) => {
      const ip = (nodeNet.base + 2 + i) >>> 0;
      const podCidr = nodeSubnet(pod, i);
      const netns = this.paths.nodeNetns(name);
      const sandbox = createSandbox(this.paths, {
        netns,
        hostname: name,
        ip,
        prefixLen: nodeNet.prefixLen,
        gateway: extIp,
        mtu: this.cfg.mtu,
        offload: this.cfg.offload,
        files: { resolvConf: resolv, hosts: ETC_HOSTS_NODE(name, intToIpString(ip)) },
      });
      const role = this.cfg.nodes[i]!.role;
      const slot = this.dp.attach({ zone: 'node', name, node: name, ip: ip | 0, gateway: extIp | 0 }, sandbox.fd, sandbox.vnetHdr);
      const labels: Record<string, string> = {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        ...(role === 'control-plane' ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
        ...(this.cfg.nodes[i]!.labels ?? {}),
      };
      const ipam = new RangeAllocator(podCidr.base, podCidr.size);
      this.nodes.set(name, { name, role, ip, podCidr, ipam, netns, utsFile: sandbox.utsFile, sandbox, slot, labels });
      const obj = this.nodeObject(name, role, ip, podCidr, labels);
      const existing = store.get('nodes', undefined, name);
      if (existing) {
        existing.status = obj.status;
        store.update('nodes', existing);
      } else store.create('nodes', obj);
    });
    const extSandbox = createSandbox(this.paths, {
      netns: this.paths.externalNetns,
      hostname: 'external',
      ip: extIp,
      prefixLen: nodeNet.prefixLen,
      gateway: 0,
      mtu: this.cfg.mtu,
      offload: this.cfg.offload,
      files: { resolvConf: resolv, hosts: ETC_HOSTS_NODE('external', this.cfg.externalClientIP) },
    });
    // The external client's own router: answers its pings and sources its ICMP errors (the
    // kernel drops ICMP that claims to come from one of its own addresses).
    const router = (nodeNet.base + 254) >>> 0;
    const extSlot = this.dp.attach({ zone: 'external', name: 'external', node: '', ip: extIp | 0, gateway: router | 0 }, extSandbox.fd, extSandbox.vnetHdr);
    this.external = { ip: extIp, sandbox: extSandbox, slot: extSlot };
  }

  private nodeObject(name: string, role: string, ip: number, podCidr: Cidr, labels: Record<string, string>): KObject {
    const cidr = `${intToIpString(podCidr.base)}/${podCidr.prefixLen}`;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const hasWorkers = this.cfg.nodes.some((n) => n.role === 'worker');
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels, annotations: { 'kemu.dev/netns': this.paths.nodeNetns(name) } },
      spec: {
        podCIDR: cidr,
        podCIDRs: [cidr],
        providerID: `kemu://${this.cfg.name}/${name}`,
        ...(role === 'control-plane' && hasWorkers
          ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }
          : {}),
      },
      status: {
        addresses: [
          { type: 'InternalIP', address: intToIpString(ip) },
          { type: 'Hostname', address: name },
        ],
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now },
        ],
        nodeInfo: {
          architecture: 'amd64',
          operatingSystem: 'linux',
          kernelVersion: os.release(),
          osImage: 'kemu emulated node',
          containerRuntimeVersion: 'kemu://0.1.0',
          kubeletVersion: 'v1.31.0-kemu',
          kubeProxyVersion: 'v1.31.0-kemu',
        },
        capacity: { cpu: String(os.cpus().length), memory: `${Math.round(os.totalmem() / 1024)}Ki`, pods: '250' },
        allocatable: { cpu: String(os.cpus().length), memory: `${Math.round(os.totalmem() / 1024)}Ki`, pods: '250' },
      },
    };
  }

  shutdown(): void {
    for (const n of this.nodes.values()) {
      this.dp.detach(n.slot);
      destroySandbox(this.paths, n.sandbox);
    }
    this.nodes.clear();
    if (this.external) {
      this.dp.detach(this.external.slot);
      destroySandbox(this.paths, this.external.sandbox);
      this.external = undefined;
    }
  }
}
