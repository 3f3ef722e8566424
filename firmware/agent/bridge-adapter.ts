// Adapts the OVSDB bridge operations to the narrow interfaces the agent and pod lifecycle use.
import type { OvsdbClient } from '../ovs/ovsdb/ovsdb-client';
import type { OvsBridge, PortInfo } from '../ovs/ovs-bridge';
import type { AgentBridge } from './agent';
import type { PodPortInfo, PodPorts } from './pod-lifecycle';

export class BridgeAdapter implements AgentBridge, PodPorts {
  constructor(
    private readonly ovsdb: OvsdbClient,
    private readonly bridge: OvsBridge,
  ) {}

  ensureBridge(opts: { datapathType: 'netdev' | 'system'; failMode: 'secure' }): Promise<void> {
    return this.bridge.ensureBridge(opts);
  }

  async ensurePort(
    name: string,
    opts: {
      type?: 'internal' | 'geneve' | 'vxlan' | '';
      options?: Record<string, string>;
      ofportRequest?: number;
      externalIds?: Record<string, string>;
    },
  ): Promise<PodPortInfo> {
    return toPodPort(await this.bridge.ensurePort(name, opts));
  }

  deletePort(name: string): Promise<boolean> {
    return this.bridge.deletePort(name);
  }

  async listPorts(): Promise<PodPortInfo[]> {
    return (await this.bridge.listPorts()).map(toPodPort);
  }

  async listPortInfo(): Promise<PortInfo[]> {
    return this.bridge.listPorts();
  }

  /** Internal ports take the MAC in Interface.mac, also when ovs-vswitchd recreates their tap device. */
  async setInterfaceMac(name: string, mac: string): Promise<void> {
    await this.ovsdb.transact('Open_vSwitch', [
      { op: 'update', table: 'Interface', where: [['name', '==', name]], row: { mac } },
    ]);
  }

  onVswitchdRestart(cb: () => void): void {
    this.bridge.onVswitchdRestart(cb);
  }

  getOvsVersion(): Promise<string> {
    return this.bridge.getOvsVersion();
  }
}

function toPodPort(p: PortInfo): PodPortInfo {
  return { name: p.name, portUuid: p.portUuid, ofport: p.ofport, externalIds: p.externalIds, mac: p.mac };
}
