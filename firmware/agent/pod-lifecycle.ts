// CNI ADD/DEL/CHECK for pods on this node: IPAM, the veth into the pod's namespace, the OVS port with the
// pod's identity in external_ids, and the pod's flows. A failed ADD undoes what it did, so a retry by the
// runtime starts clean; DEL is idempotent.
import type { CniRequest, CniResult } from '../cni/cni-types';
import { CniError, CniErrorCode } from '../cni/cni-types';
import type { ContainerPort, Protocol } from '../core/api/types';
import { portNameProblems } from '../core/api/validation';
import { IpamError } from '../core/ipam/ip-allocator';
import { formatCidr, formatIpv4, gatewayIpOf, type Ipv4Cidr } from '../core/ipam/ipv4';
import type { Logger } from '../core/logger';
import { podFlows, type NodeNetwork } from '../core/pipeline/pipeline-flows';
import type { PodRecord } from '../store/pod-repository';
import type { FlowReconciler } from './flow-reconciler';

export interface PodPortInfo {
  name: string;
  portUuid: string;
  ofport: number;
  externalIds: Record<string, string>;
  mac?: string;
}

/** What the lifecycle needs from the OVS bridge. */
export interface PodPorts {
  ensurePort(name: string, opts: { externalIds?: Record<string, string> }): Promise<PodPortInfo>;
  deletePort(name: string): Promise<boolean>;
  listPorts(): Promise<PodPortInfo[]>;
}

/** What the lifecycle needs from the Linux plumbing. */
export interface PodPlumbing {
  attach(req: {
    netns: string;
    ifName: string;
    hostIfName: string;
    ipCidr: string;
    gatewayIp: string;
    mtu: number;
    mac?: string;
  }): Promise<{ hostIfName: string; containerMac: string }>;
  detach(req: { hostIfName: string }): Promise<void>;
  inspect(req: { netns: string; ifName: string }): Promise<{
    exists: boolean;
    mac?: string;
    ipCidrs: string[];
    mtu?: number;
    defaultGateway?: string;
  }>;
}

export interface PodStore {
  list(): PodRecord[];
  byContainerId(containerId: string): PodRecord | undefined;
  byName(namespace: string, name: string): PodRecord | undefined;
  insert(pod: PodRecord): void;
  delete(containerId: string): boolean;
}

export interface IpStore {
  allocate(subnet: Ipv4Cidr, containerId: string, ifName: string, requested?: string): string;
  release(containerId: string, ifName: string): number;
}

export interface PodEvents {
  podAdded?(pod: PodRecord): void;
  podRemoved?(pod: PodRecord): void;
}

export interface PodLifecycleOptions {
  podSubnet: Ipv4Cidr;
  mtu: number;
  node: () => NodeNetwork;
  hostInterfaceName: (namespace: string, name: string, containerId: string) => string;
  ports: PodPorts;
  plumbing: PodPlumbing;
  pods: PodStore;
  ips: IpStore;
  flows: FlowReconciler;
  logger: Logger;
  events?: PodEvents;
}

export function podOwner(pod: { namespace: string; name: string }): string {
  return `pod:${pod.namespace}/${pod.name}`;
}

export class PodLifecycle {
  /** ofport of each attached pod, by container id; rebuilt from OVSDB at start. */
  private readonly ofports = new Map<string, number>();

  constructor(private readonly options: PodLifecycleOptions) {}

  /**
   * Rebuilds in-memory state after a restart: stored pods are matched with their OVS ports, their flows
   * staged (the reconciler's resync installs only what is missing). Returns the number of pods restored.
   */
  async restore(): Promise<{ restored: number; stalePorts: string[]; lostPods: string[] }> {
    const { pods, ports, flows, logger } = this.options;
    const byName = new Map((await ports.listPorts()).map((p) => [p.name, p]));
    const lostPods: string[] = [];
    for (const pod of pods.list()) {
      const port = byName.get(pod.hostIfName);
      byName.delete(pod.hostIfName);
      if (!port || port.ofport <= 0) {
        lostPods.push(`${pod.namespace}/${pod.name}`);
        logger.warn('stored pod has no OVS port; it keeps its address until CNI DEL', {
          pod: `${pod.namespace}/${pod.name}`,
          containerId: pod.containerId,
        });
        continue;
      }
      this.ofports.set(pod.containerId, port.ofport);
      flows.stage(
        podOwner(pod),
        podFlows(this.options.node(), { ofport: port.ofport, ip: pod.ip, mac: pod.mac }),
      );
    }
    // Ports that claim to be containers but have no pod record are left from an ADD that crashed half-way.
    const stalePorts = [...byName.values()]
      .filter((p) => p.externalIds['antrea-type'] === 'container')
      .map((p) => p.name);
    for (const name of stalePorts) {
      await ports.deletePort(name);
      await this.options.plumbing.detach({ hostIfName: name }).catch(() => undefined);
      logger.warn('removed OVS port without a pod record', { port: name });
    }
    return { restored: this.ofports.size, stalePorts, lostPods };
  }

  /** Re-stages every pod's flows, e.g. after the node network (gateway MAC) changed. */
  restagePodFlows(): void {
    for (const pod of this.options.pods.list()) {
      const ofport = this.ofports.get(pod.containerId);
      if (ofport === undefined) continue;
      this.options.flows.stage(
        podOwner(pod),
        podFlows(this.options.node(), { ofport, ip: pod.ip, mac: pod.mac }),
      );
    }
  }

  ofportOf(containerId: string): number | undefined {
    return this.ofports.get(containerId);
  }

  async add(req: CniRequest): Promise<CniResult> {
    const { namespace, name } = podIdentity(req);
    const containerPorts = parseContainerPorts(req.args['K8S_POD_PORTS']);
    const { pods, logger } = this.options;
    const log = logger.child({ pod: `${namespace}/${name}`, containerId: req.containerId });

    const existing = pods.byContainerId(req.containerId);
    if (existing) {
      if (existing.ifName !== req.ifName || existing.namespace !== namespace || existing.name !== name) {
        throw new CniError(
          CniErrorCode.InvalidNetworkConfig,
          `container ${req.containerId} is already attached as ${existing.namespace}/${existing.name} (${existing.ifName})`,
        );
      }
      // A repeated ADD (the runtime retried after a timeout): answer with the existing attachment.
      log.info('ADD for an attached container: returning its existing result');
      return this.resultFor(existing, req);
    }
    const sameName = pods.byName(namespace, name);
    if (sameName) {
      // The pod's sandbox was recreated without a DEL for the old one (e.g. after a node reboot).
      log.warn('pod re-added with a new sandbox: releasing the old one', {
        oldContainerId: sameName.containerId,
      });
      await this.teardown(sameName);
    }

    const undo: (() => Promise<unknown>)[] = [];
    // Per-step durations in the log line: CNI ADD latency is what pod start-up waits on.
    const timings: Record<string, number> = {};
    let stepStart = Date.now();
    const step = (name: string): void => {
      const now = Date.now();
      timings[`${name}Ms`] = now - stepStart;
      stepStart = now;
    };
    try {
      let ip: string;
      try {
        ip = this.options.ips.allocate(this.options.podSubnet, req.containerId, req.ifName, req.args['IP']);
      } catch (err) {
        if (err instanceof IpamError) throw new CniError(CniErrorCode.IpUnavailable, err.message);
        throw err;
      }
      undo.push(() => Promise.resolve(this.options.ips.release(req.containerId, req.ifName)));
      step('ipam');

      const hostIfName = this.options.hostInterfaceName(namespace, name, req.containerId);
      const node = this.options.node();
      const attached = await this.options.plumbing.attach({
        netns: req.netns,
        ifName: req.ifName,
        hostIfName,
        ipCidr: `${ip}/${this.options.podSubnet.prefix}`,
        gatewayIp: node.gatewayIp,
        mtu: this.options.mtu,
      });
      undo.push(() => this.options.plumbing.detach({ hostIfName }));
      step('veth');

      const port = await this.options.ports.ensurePort(hostIfName, {
        externalIds: {
          'antrea-type': 'container',
          'container-id': req.containerId,
          'pod-namespace': namespace,
          'pod-name': name,
          ip,
          'attached-mac': attached.containerMac,
        },
      });
      undo.push(() => this.options.ports.deletePort(hostIfName));
      step('ovsPort');

      const record: PodRecord = {
        containerId: req.containerId,
        namespace,
        name,
        ifName: req.ifName,
        netns: req.netns,
        hostIfName,
        ip,
        mac: attached.containerMac,
        labels: parseLabels(req.args['K8S_POD_LABELS']),
        containerPorts,
        createdAt: new Date().toISOString(),
      };
      await this.options.flows.setOwnerFlows(
        podOwner(record),
        podFlows(node, { ofport: port.ofport, ip, mac: attached.containerMac }),
      );
      undo.push(() => this.options.flows.removeOwner(podOwner(record)));
      step('flows');
      pods.insert(record);
      step('store');
      this.ofports.set(req.containerId, port.ofport);
      log.info('pod attached', {
        ip,
        mac: attached.containerMac,
        port: hostIfName,
        ofport: port.ofport,
        ...timings,
      });
      this.options.events?.podAdded?.(record);
      return this.buildResult(record, req, port.mac);
    } catch (err) {
      for (const step of undo.reverse()) {
        await step().catch((undoErr: unknown) => log.warn('undo step failed', { error: undoErr }));
      }
      log.warn('CNI ADD failed', { error: err });
      if (err instanceof CniError) throw err;
      throw new CniError(
        CniErrorCode.Internal,
        `failed to attach pod ${namespace}/${name}: ${errorMessage(err)}`,
      );
    }
  }

  async del(req: CniRequest): Promise<void> {
    const record = this.options.pods.byContainerId(req.containerId);
    if (!record) {
      // Idempotent: also clean an allocation left by a crash between IPAM and the pod row.
      this.options.ips.release(req.containerId, req.ifName);
      return;
    }
    await this.teardown(record);
  }

  async check(req: CniRequest): Promise<void> {
    const record = this.options.pods.byContainerId(req.containerId);
    if (!record)
      throw new CniError(CniErrorCode.UnknownContainer, `container ${req.containerId} is not attached`);
    const ports = await this.options.ports.listPorts();
    const port = ports.find((p) => p.name === record.hostIfName);
    if (!port || port.ofport <= 0) {
      throw new CniError(CniErrorCode.Internal, `OVS port ${record.hostIfName} of the pod is missing`);
    }
    const seen = await this.options.plumbing.inspect({ netns: req.netns, ifName: req.ifName });
    const want = `${record.ip}/${this.options.podSubnet.prefix}`;
    if (!seen.exists)
      throw new CniError(CniErrorCode.Internal, `interface ${req.ifName} is missing in ${req.netns}`);
    if (!seen.ipCidrs.includes(want)) {
      throw new CniError(
        CniErrorCode.Internal,
        `interface ${req.ifName} lacks ${want} (has ${seen.ipCidrs.join(', ') || 'none'})`,
      );
    }
    if (seen.mac !== undefined && seen.mac !== record.mac) {
      throw new CniError(
        CniErrorCode.Internal,
        `interface ${req.ifName} has MAC ${seen.mac}, expected ${record.mac}`,
      );
    }
    if (seen.defaultGateway !== this.options.node().gatewayIp) {
      throw new CniError(
        CniErrorCode.Internal,
        `default route of ${req.ifName} is not via ${this.options.node().gatewayIp}`,
      );
    }
  }

  private async teardown(record: PodRecord): Promise<void> {
    const log = this.options.logger.child({
      pod: `${record.namespace}/${record.name}`,
      containerId: record.containerId,
    });
    await this.options.flows.removeOwner(podOwner(record));
    await this.options.ports.deletePort(record.hostIfName);
    await this.options.plumbing.detach({ hostIfName: record.hostIfName });
    this.options.ips.release(record.containerId, record.ifName);
    this.options.pods.delete(record.containerId);
    this.ofports.delete(record.containerId);
    log.info('pod detached');
    this.options.events?.podRemoved?.(record);
  }

  private async resultFor(record: PodRecord, req: CniRequest): Promise<CniResult> {
    const port = (await this.options.ports.listPorts()).find((p) => p.name === record.hostIfName);
    return this.buildResult(record, req, port?.mac);
  }

  private buildResult(record: PodRecord, req: CniRequest, hostMac: string | undefined): CniResult {
    const gateway = formatIpv4(gatewayIpOf(this.options.podSubnet));
    return {
      cniVersion: req.config.cniVersion,
      interfaces: [
        { name: record.hostIfName, ...(hostMac ? { mac: hostMac } : {}) },
        { name: record.ifName, mac: record.mac, sandbox: record.netns },
      ],
      ips: [{ address: `${record.ip}/${this.options.podSubnet.prefix}`, gateway, interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: gateway }],
      dns: {},
    };
  }

  describeSubnet(): string {
    return formatCidr(this.options.podSubnet);
  }
}

function podIdentity(req: CniRequest): { namespace: string; name: string } {
  const namespace = req.args['K8S_POD_NAMESPACE'];
  const name = req.args['K8S_POD_NAME'];
  if (!namespace || !name) {
    throw new CniError(
      CniErrorCode.InvalidNetworkConfig,
      'CNI_ARGS must carry K8S_POD_NAMESPACE and K8S_POD_NAME (the kubelet and scripts/sim set them)',
    );
  }
  return { namespace, name };
}

/** Standalone pods may carry labels as `K8S_POD_LABELS=k=v,k2=v2` (our simulator's extension). */
function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

const PORT_PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/**
 * Standalone pods may declare container ports as `K8S_POD_PORTS=http:80/TCP,dns:53/UDP,9090` (our simulator's
 * extension; `[NAME:]PORT[/PROTOCOL]`, protocol TCP by default). Named ports in policies resolve against them,
 * so a malformed entry fails the ADD instead of silently leaving a policy without its port.
 */
export function parseContainerPorts(text: string | undefined): ContainerPort[] {
  const ports: ContainerPort[] = [];
  if (!text) return ports;
  for (const entry of text.split(',')) {
    if (entry === '') continue;
    const match = /^(?:([^:/]+):)?(\d+)(?:\/([A-Za-z]+))?$/.exec(entry);
    const problem = (reason: string): CniError =>
      new CniError(
        CniErrorCode.InvalidEnvironment,
        `invalid K8S_POD_PORTS entry "${entry}": ${reason}`,
        'K8S_POD_PORTS must be [NAME:]PORT[/TCP|UDP|SCTP] entries separated by ","',
      );
    if (!match) throw problem('not [NAME:]PORT[/PROTOCOL]');
    const [, name, portText, protocolText] = match;
    const containerPort = Number(portText);
    if (!Number.isInteger(containerPort) || containerPort < 1 || containerPort > 65535) {
      throw problem('port must be between 1 and 65535');
    }
    const protocol = (protocolText ?? 'TCP').toUpperCase() as Protocol;
    if (!PORT_PROTOCOLS.includes(protocol)) throw problem('protocol must be TCP, UDP or SCTP');
    if (name !== undefined) {
      const problems = portNameProblems(name);
      if (problems.length > 0) throw problem(`port name ${problems.join('; ')}`);
    }
    ports.push(name === undefined ? { containerPort, protocol } : { name, containerPort, protocol });
  }
  return ports;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
