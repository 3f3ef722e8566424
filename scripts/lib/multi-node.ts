// Several simulated appliances on this machine, joined by a Geneve underlay: each node is a network namespace
// with its own OVS (userspace datapath) and firmware; a Linux bridge in a private namespace is the switch
// between them. OVS's userspace tunnels only send through an OVS bridge, so each node's uplink veth sits in a
// NORMAL bridge `br-phy` of its own OVS and the node IP lives on br-phy's internal port (measured: with the IP
// on a plain veth, `ofproto/trace` ends in "native tunnel routing failed"). The uplink must not answer ARP
// itself (arp_ignore=1), or peers may learn its MAC instead of br-phy's.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatPeerNodeOption, type PeerNode } from '../../firmware/core/pipeline/node-route-flows';
import { DevNode, deleteNetns, ensureNetns } from './dev-node';
import { SimPods } from './sim-pods';

/** The OVS bridge holding the node's uplink; its internal port carries the node IP. */
export const UNDERLAY_BRIDGE = 'br-phy';
/** The node's end of its underlay veth (inside the node namespace, so the name never collides). */
export const UPLINK_NAME = 'eth-ul';
const SWITCH_NAME = 'ul0';

export interface MultiNodeClusterOptions {
  /** State directory: one sub-directory per node. */
  home: string;
  /** Prefix of every namespace name (unique per cluster, e.g. `aemn-1a2b3c`); at most 20 characters. */
  prefix: string;
  nodes: number;
  /** `192.168.77.` gives node i the address 192.168.77.1i (i from 1). */
  underlayPrefix?: string;
  /** `10.77.` gives node i the Pod subnet 10.77.i.0/24. */
  podCidrPrefix?: string;
  /** Node name of node i: `<nodeNamePrefix><i>`. */
  nodeNamePrefix?: string;
  logLevel?: string;
  /** More firmware flags for every node. */
  extraArgs?: readonly string[];
}

export interface ClusterNode {
  /** 1-based. */
  index: number;
  name: string;
  nodeIp: string;
  podCidr: string;
  gatewayIp: string;
  dev: DevNode;
  pods: SimPods;
  home: string;
  /** This node as other nodes' `--peer-node` sees it. */
  peer: PeerNode;
}

export class MultiNodeCluster {
  readonly nodes: ClusterNode[] = [];
  readonly underlayNs: string;

  constructor(private readonly options: MultiNodeClusterOptions) {
    this.underlayNs = `${options.prefix}-ul`;
  }

  node(index: number): ClusterNode {
    const found = this.nodes[index - 1];
    if (found === undefined) throw new Error(`no node ${index} (the cluster has ${this.nodes.length})`);
    return found;
  }

  /** Underlay, every node's OVS and br-phy, then every firmware with all other nodes as peers. */
  async start(): Promise<void> {
    const { options } = this;
    if (options.nodes < 1 || options.nodes > 9) throw new Error('1 to 9 nodes');
    fs.mkdirSync(options.home, { recursive: true });
    ensureNetns(this.underlayNs);
    ipIn(this.underlayNs, ['link', 'add', SWITCH_NAME, 'type', 'bridge']);
    ipIn(this.underlayNs, ['link', 'set', SWITCH_NAME, 'up']);
    for (let i = 1; i <= options.nodes; i++) this.nodes.push(this.describeNode(i));
    for (const node of this.nodes) await this.startNodeUnderlay(node);
    for (const node of this.nodes) await node.dev.startFirmware({ extraArgs: this.firmwareArgs(node) });
  }

  /** Firmware flags of `node` with these peers (default: every other node). */
  firmwareArgs(node: ClusterNode, peers: readonly ClusterNode[] = this.nodes): string[] {
    return [
      ...peers.filter((p) => p !== node).flatMap((p) => ['--peer-node', formatPeerNodeOption(p.peer)]),
      ...(this.options.extraArgs ?? []),
    ];
  }

  /** Restarts node's firmware (SIGTERM, as a service restart) knowing only `peers` (a node left or joined). */
  async restartFirmware(node: ClusterNode, peers: readonly ClusterNode[]): Promise<void> {
    await node.dev.killFirmware('SIGTERM');
    await node.dev.startFirmware({ extraArgs: this.firmwareArgs(node, peers) });
  }

  /** Everything this cluster made, best effort, in reverse: pods, firmware and OVS, namespaces. */
  async stop(): Promise<void> {
    for (const node of [...this.nodes].reverse()) {
      await node.pods.clear().catch(() => undefined);
      await node.dev.stop().catch(() => undefined);
      deleteNetns(node.dev.nodeNs);
    }
    deleteNetns(this.underlayNs);
  }

  private describeNode(index: number): ClusterNode {
    const { options } = this;
    const home = path.join(options.home, `node${index}`);
    const name = `${options.nodeNamePrefix ?? 'node'}${index}`;
    const nodeIp = `${options.underlayPrefix ?? '192.168.77.'}${10 + index}`;
    const subnet = `${options.podCidrPrefix ?? '10.77.'}${index}`;
    const podCidr = `${subnet}.0/24`;
    const dev = new DevNode({
      home,
      nodeNs: `${options.prefix}-n${index}`,
      nodeName: name,
      podCidr,
      logLevel: options.logLevel ?? 'debug',
    });
    const pods = new SimPods({
      stateDir: path.join(home, 'sim'),
      cniSocket: dev.cniSocket,
      pluginCommand: dev.cniPluginCommand(),
      netnsPrefix: `${options.prefix}p${index}`,
    });
    return {
      index,
      name,
      nodeIp,
      podCidr,
      gatewayIp: `${subnet}.1`,
      dev,
      pods,
      home,
      peer: { name, podCidr, nodeIp },
    };
  }

  private async startNodeUnderlay(node: ClusterNode): Promise<void> {
    const ns = node.dev.nodeNs;
    fs.mkdirSync(node.home, { recursive: true });
    ensureNetns(ns);
    const switchPort = `n${node.index}`;
    ipIn(this.underlayNs, [
      'link',
      'add',
      switchPort,
      'type',
      'veth',
      'peer',
      'name',
      UPLINK_NAME,
      'netns',
      ns,
    ]);
    ipIn(this.underlayNs, ['link', 'set', switchPort, 'master', SWITCH_NAME, 'up']);
    ipIn(ns, ['link', 'set', UPLINK_NAME, 'up']);
    const ovs = node.dev.ovs;
    await ovs.start();
    await ovs.vsctl([
      'add-br',
      UNDERLAY_BRIDGE,
      '--',
      'set',
      'bridge',
      UNDERLAY_BRIDGE,
      'datapath_type=netdev',
      '--',
      'add-port',
      UNDERLAY_BRIDGE,
      UPLINK_NAME,
    ]);
    // add-br and add-port exit 0 even when the datapath refused them (PLATFORM.md): check their ports.
    for (const [port, wanted] of [
      [UNDERLAY_BRIDGE, /^65534$/],
      [UPLINK_NAME, /^[1-9]\d*$/],
    ] as const) {
      const ofport = (await ovs.vsctl(['get', 'Interface', port, 'ofport'])).trim();
      if (!wanted.test(ofport)) {
        const error = await ovs.vsctl(['get', 'Interface', port, 'error']);
        throw new Error(`node ${node.name}: ${port} not set up (ofport ${ofport}): ${error.trim()}`);
      }
    }
    // The kernel still sees the uplink OVS reads from, and by default answers ARP for br-phy's address on it
    // too, with the uplink's MAC: peers that learn that MAC send tunnel packets OVS never pops (measured: one of
    // three nodes unreachable from another). Only br-phy may answer.
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv4.conf.${UPLINK_NAME}.arp_ignore=1`]);
    ipIn(ns, ['addr', 'add', `${node.nodeIp}/24`, 'dev', UNDERLAY_BRIDGE]);
    ipIn(ns, ['link', 'set', UNDERLAY_BRIDGE, 'up']);
  }
}

function ipIn(netns: string, args: string[]): void {
  execFileSync('ip', ['-n', netns, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}
