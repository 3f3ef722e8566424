// Answers antctl's questions from the agent's state, the store and OVS.
import { ApiError } from '../core/antctl/api-error';
import type {
  AgentCommands,
  AgentInfoView,
  AgentQueries,
  PodLabelsView,
  OvsFlowFilter,
  PodInterfaceFilter,
  PodInterfaceView,
} from '../core/antctl/views';
import type { FirmwareConfig } from '../core/config';
import { CookieCategory, makeCookie } from '../core/pipeline/flow';
import { PIPELINE_TABLES, resolveTable, tableById } from '../core/pipeline/tables';
import type { InstalledFlow } from '../ovs/flow-writer';
import type { PodRecord } from '../store/pod-repository';
import type { Agent } from './agent';
import type { PodLifecycle, PodPortInfo } from './pod-lifecycle';

export interface FlowDumper {
  dumpFlows(filter?: { cookie?: bigint; cookieMask?: bigint; table?: number }): Promise<InstalledFlow[]>;
  dumpFlowsText(filter?: {
    cookie?: bigint;
    cookieMask?: bigint;
    table?: number;
    names?: boolean;
  }): Promise<string[]>;
}

export interface AgentQueryDeps {
  config: FirmwareConfig;
  version: string;
  agent: Pick<Agent, 'health'>;
  pods: {
    list(): PodRecord[];
    byName(namespace: string, name: string): PodRecord | undefined;
    setLabels(namespace: string, name: string, labels: Record<string, string>): boolean;
  };
  lifecycle: Pick<PodLifecycle, 'ofportOf'>;
  bridge: { listPorts(): Promise<PodPortInfo[]>; getOvsVersion(): Promise<string> };
  flowWriter: FlowDumper;
}

const FULL_COOKIE_MASK = 0xff000000ffffffffn;

export class AgentQueryService implements AgentQueries, AgentCommands {
  constructor(private readonly deps: AgentQueryDeps) {}

  /** Standalone mode: the store is the source of truth for pod labels. */
  setPodLabels(namespace: string, name: string, labels: Record<string, string>): Promise<PodLabelsView> {
    if (!this.deps.pods.setLabels(namespace, name, labels)) {
      return Promise.reject(new ApiError('NotFound', `pod ${namespace}/${name} not found`));
    }
    return Promise.resolve({ namespace, name, labels });
  }

  async podInterfaces(filter: PodInterfaceFilter): Promise<PodInterfaceView[]> {
    const ports = new Map((await this.deps.bridge.listPorts()).map((p) => [p.name, p]));
    const pods = this.deps.pods
      .list()
      .filter((p) => filter.namespace === undefined || p.namespace === filter.namespace)
      .filter((p) => filter.name === undefined || p.name === filter.name);
    if (filter.name !== undefined && pods.length === 0) {
      throw new ApiError('NotFound', `pod ${filter.namespace ?? '<any namespace>'}/${filter.name} not found`);
    }
    return pods.map((p) => {
      const port = ports.get(p.hostIfName);
      return {
        namespace: p.namespace,
        name: p.name,
        interfaceName: p.hostIfName,
        ip: p.ip,
        mac: p.mac,
        portUuid: port?.portUuid ?? '',
        ofport: port?.ofport ?? -1,
        containerId: p.containerId,
      };
    });
  }

  async ovsFlows(filter: OvsFlowFilter): Promise<string[]> {
    let table: number | undefined;
    if (filter.table !== undefined) {
      const resolved = resolveTable(filter.table);
      if (!resolved) {
        throw ApiError.unknownTable(
          filter.table,
          PIPELINE_TABLES.map((t) => ({ name: t.name, number: t.id })),
        );
      }
      table = resolved.id;
    }
    if (filter.pod !== undefined) {
      const namespace = filter.namespace ?? 'default';
      const pod = this.deps.pods.byName(namespace, filter.pod);
      const ofport = pod && this.deps.lifecycle.ofportOf(pod.containerId);
      if (!pod || ofport === undefined)
        throw new ApiError('NotFound', `pod ${namespace}/${filter.pod} not found`);
      return this.deps.flowWriter.dumpFlowsText({
        cookie: makeCookie(CookieCategory.Pod, ofport),
        cookieMask: FULL_COOKIE_MASK,
        table,
        names: true,
      });
    }
    return this.deps.flowWriter.dumpFlowsText({ table, names: true });
  }

  async agentInfo(): Promise<AgentInfoView> {
    const flows = await this.deps.flowWriter.dumpFlows();
    const flowsPerTable: Record<string, number> = {};
    for (const f of flows) {
      const name = tableById(f.table)?.name ?? String(f.table);
      flowsPerTable[name] = (flowsPerTable[name] ?? 0) + 1;
    }
    const status = this.deps.agent.health();
    return {
      podName: `antrea-agent-${this.deps.config.nodeName}`,
      nodeName: this.deps.config.nodeName,
      status: status === 'Healthy' ? 'Healthy' : 'Unhealthy',
      nodeSubnets: [this.deps.config.podCidr],
      networkPolicies: 0,
      addressGroups: 0,
      appliedToGroups: 0,
      localPods: this.deps.pods.list().length,
      ovsVersion: await this.deps.bridge.getOvsVersion().catch(() => 'unknown'),
      bridgeName: this.deps.config.bridgeName,
      flowsPerTable,
    };
  }
}
