// The node agent: sets up the bridge, gateway and tunnel, restores pods after a restart, installs the
// pipeline, and keeps flows right when ovs-vswitchd restarts. Constructed in main.ts; start()/stop() do work.
import type { FirmwareConfig } from '../core/config';
import { formatIpv4, gatewayIpOf, parseCidr } from '../core/ipam/ipv4';
import type { Logger } from '../core/logger';
import { pipelineFlows, type NodeNetwork } from '../core/pipeline/pipeline-flows';
import type { FlowPlan } from '../core/plan/flow-plan';
import type { FlowReconciler } from './flow-reconciler';
import type { PodLifecycle, PodPortInfo } from './pod-lifecycle';

/** Port numbers the seed uses; requested so flows read the same on every node. */
export const TUNNEL_OFPORT = 1;
export const GATEWAY_OFPORT = 2;

export interface AgentBridge {
  ensureBridge(opts: { datapathType: 'netdev' | 'system'; failMode: 'secure' }): Promise<void>;
  ensurePort(
    name: string,
    opts: {
      type?: 'internal' | 'geneve' | 'vxlan' | '';
      options?: Record<string, string>;
      ofportRequest?: number;
      externalIds?: Record<string, string>;
    },
  ): Promise<PodPortInfo>;
  setInterfaceMac(name: string, mac: string): Promise<void>;
  onVswitchdRestart(cb: () => void): void;
  getOvsVersion(): Promise<string>;
}

export interface AgentGateway {
  configure(): Promise<void>;
}

/**
 * Work around every full resync (start-up and the replay after an ovs-vswitchd restart), so both take the same
 * path: `beforeResync` writes what the flows depend on (the packet-in meter: a bundle with a flow using a missing
 * meter fails whole) and stages flows that must be desired before the first diff (policy flows: a restart must
 * not delete and re-add them); `afterResync` learns that they are in OVS.
 */
export interface ResyncHook {
  beforeResync(reason: ResyncReason): Promise<void>;
  afterResync?(reason: ResyncReason): void;
}

export type ResyncReason = 'start' | 'vswitchd-restart';

export interface AgentDeps {
  config: FirmwareConfig;
  logger: Logger;
  bridge: AgentBridge;
  gateway: AgentGateway;
  flows: FlowReconciler;
  pods: PodLifecycle;
  /** Run in order around every full resync. */
  resyncHooks?: readonly ResyncHook[];
}

export type AgentStatus = 'Starting' | 'Healthy' | 'Unhealthy';

export class Agent {
  private network: NodeNetwork | undefined;
  private status: AgentStatus = 'Starting';
  private restarts = 0;
  private replaying: Promise<void> = Promise.resolve();

  constructor(private readonly deps: AgentDeps) {}

  /** The node's network facts; valid after start(). */
  node(): NodeNetwork {
    if (!this.network) throw new Error('agent not started');
    return this.network;
  }

  health(): AgentStatus {
    return this.status;
  }

  vswitchdRestarts(): number {
    return this.restarts;
  }

  async start(): Promise<void> {
    const { config, bridge, gateway, flows, pods, logger } = this.deps;
    await bridge.ensureBridge({ datapathType: config.datapathType, failMode: 'secure' });
    const subnet = parseCidr(config.podCidr);
    const gatewayIp = formatIpv4(gatewayIpOf(subnet));
    const gatewayMac = gatewayMacFor(config.nodeName);
    const gw = await bridge.ensurePort(config.gatewayName, {
      type: 'internal',
      ofportRequest: GATEWAY_OFPORT,
    });
    // A fixed MAC: the userspace datapath recreates the gateway tap on every ovs-vswitchd restart, and pods
    // keep the gateway's MAC in their ARP cache.
    await bridge.setInterfaceMac(config.gatewayName, gatewayMac);
    const tun = await bridge.ensurePort(config.tunnelName, {
      type: 'geneve',
      options: { key: 'flow', remote_ip: 'flow' },
      ofportRequest: TUNNEL_OFPORT,
    });
    await gateway.configure();
    this.network = {
      gatewayOfport: gw.ofport,
      gatewayMac,
      gatewayIp,
      podCidr: config.podCidr,
      tunnelOfport: tun.ofport,
      serviceCidr: config.serviceCidr,
    };
    flows.stage('pipeline', pipelineFlows(this.network));
    const restored = await pods.restore();
    const plan = await this.resync('start');
    logger.info('agent started', {
      node: config.nodeName,
      podCidr: config.podCidr,
      gatewayIp,
      gatewayOfport: gw.ofport,
      tunnelOfport: tun.ofport,
      restoredPods: restored.restored,
      flowsAdded: plan.add.length,
      flowsModified: plan.modify.length,
      flowsDeleted: plan.delete.length,
    });
    bridge.onVswitchdRestart(() => {
      this.replaying = this.replaying.then(() => this.replayAfterVswitchdRestart());
    });
    this.status = 'Healthy';
  }

  async stop(): Promise<void> {
    await this.replaying;
    await this.deps.flows.idle();
  }

  /** Resolves when a replay triggered by an ovs-vswitchd restart has finished. */
  replayDone(): Promise<void> {
    return this.replaying;
  }

  private async resync(reason: ResyncReason): Promise<FlowPlan> {
    const hooks = this.deps.resyncHooks ?? [];
    for (const hook of hooks) await hook.beforeResync(reason);
    const plan = await this.deps.flows.resync();
    for (const hook of hooks) hook.afterResync?.(reason);
    return plan;
  }

  private async replayAfterVswitchdRestart(): Promise<void> {
    const { gateway, logger } = this.deps;
    this.restarts++;
    logger.warn('ovs-vswitchd restarted: replaying flows and gateway address');
    try {
      await this.deps.bridge.setInterfaceMac(this.deps.config.gatewayName, this.node().gatewayMac);
      await gateway.configure();
      await this.resync('vswitchd-restart');
      this.status = 'Healthy';
    } catch (err) {
      this.status = 'Unhealthy';
      logger.error('replay after ovs-vswitchd restart failed', { error: err });
    }
  }
}

/** A locally administered unicast MAC derived from the node name (stable across restarts and reflashes). */
export function gatewayMacFor(nodeName: string): string {
  let h = 2166136261;
  for (let i = 0; i < nodeName.length; i++) {
    h ^= nodeName.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  const bytes = [0x0a, 0x5e, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
