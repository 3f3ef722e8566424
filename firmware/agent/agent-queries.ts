// Answers antctl's questions from the agent's state, the store, the policy service and OVS. Policy service
// failures become ApiErrors here, in one place (toApiError).
import { ApiError } from '../core/antctl/api-error';
import type {
  AddressGroupView,
  AgentCommands,
  AgentInfoView,
  AgentQueries,
  AppliedToGroupView,
  ApplyResultView,
  DeleteResultView,
  GroupFilter,
  NamespaceLabelsView,
  NetworkPolicyEvaluationQuery,
  NetworkPolicyEvaluationView,
  NetworkPolicyFilter,
  NetworkPolicyRealization,
  NetworkPolicyView,
  PodLabelsView,
  OvsFlowFilter,
  PodInterfaceFilter,
  PodInterfaceView,
  PolicyCommands,
  PolicyQueries,
} from '../core/antctl/views';
import type { FirmwareConfig } from '../core/config';
import { CookieCategory, makeCookie } from '../core/pipeline/flow';
import { PIPELINE_TABLES, resolveTable, tableById } from '../core/pipeline/tables';
import type { InstalledFlow } from '../ovs/flow-writer';
import type { PodRecord } from '../store/pod-repository';
import type { Agent } from './agent';
import type { PodLifecycle, PodPortInfo } from './pod-lifecycle';
import { PolicyServiceError, type PolicyService } from './policy-service';

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
  policies: Pick<
    PolicyService,
    | 'apply'
    | 'delete'
    | 'podUpdated'
    | 'namespaceLabels'
    | 'setNamespaceLabels'
    | 'networkPolicies'
    | 'addressGroups'
    | 'appliedToGroups'
    | 'evaluate'
    | 'counts'
  >;
  bridge: { listPorts(): Promise<PodPortInfo[]>; getOvsVersion(): Promise<string> };
  flowWriter: FlowDumper;
  /** Realization of each policy by uid (the enforcer); absent when this agent does not enforce. */
  realization?: { status(uid: string): NetworkPolicyRealization | undefined };
  /** The agent's OpenFlow connection, for agentinfo's OpenflowConnectionUp. */
  openflow?: { readonly isConnected: boolean };
}

const FULL_COOKIE_MASK = 0xff000000ffffffffn;

export class AgentQueryService implements AgentQueries, AgentCommands, PolicyQueries, PolicyCommands {
  constructor(private readonly deps: AgentQueryDeps) {}

  /** Standalone mode: the store is the source of truth for pod labels; the policy controller follows it. */
  setPodLabels(namespace: string, name: string, labels: Record<string, string>): Promise<PodLabelsView> {
    if (!this.deps.pods.setLabels(namespace, name, labels)) {
      return Promise.reject(new ApiError('NotFound', `pod ${namespace}/${name} not found`));
    }
    const record = this.deps.pods.byName(namespace, name);
    if (record) this.deps.policies.podUpdated(record);
    return Promise.resolve({ namespace, name, labels });
  }

  namespaceLabels(name: string): Promise<NamespaceLabelsView> {
    return policyCall(() => this.deps.policies.namespaceLabels(name));
  }

  setNamespaceLabels(name: string, labels: Record<string, string>): Promise<NamespaceLabelsView> {
    return policyCall(() => this.deps.policies.setNamespaceLabels(name, labels));
  }

  applyObjects(objects: unknown[]): Promise<ApplyResultView[]> {
    return policyCall(() => this.deps.policies.apply(objects));
  }

  deleteObject(key: string): Promise<DeleteResultView> {
    return policyCall(() => this.deps.policies.delete(key));
  }

  networkPolicies(filter: NetworkPolicyFilter): Promise<NetworkPolicyView[]> {
    return policyCall(() =>
      this.deps.policies.networkPolicies(filter).map((policy): NetworkPolicyView => {
        const realization = this.deps.realization?.status(policy.uid);
        return realization === undefined ? policy : { ...policy, realization };
      }),
    );
  }

  addressGroups(filter: GroupFilter): Promise<AddressGroupView[]> {
    return policyCall(() => this.deps.policies.addressGroups(filter.name));
  }

  appliedToGroups(filter: GroupFilter): Promise<AppliedToGroupView[]> {
    return policyCall(() => this.deps.policies.appliedToGroups(filter.name));
  }

  networkPolicyEvaluation(query: NetworkPolicyEvaluationQuery): Promise<NetworkPolicyEvaluationView> {
    return policyCall(() => this.deps.policies.evaluate(query));
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
    const policyCounts = await policyCall(() => this.deps.policies.counts());
    return {
      podName: `antrea-agent-${this.deps.config.nodeName}`,
      nodeName: this.deps.config.nodeName,
      status: status === 'Healthy' ? 'Healthy' : 'Unhealthy',
      nodeSubnets: [this.deps.config.podCidr],
      ...policyCounts,
      localPods: this.deps.pods.list().length,
      ovsVersion: await this.deps.bridge.getOvsVersion().catch(() => 'unknown'),
      bridgeName: this.deps.config.bridgeName,
      flowsPerTable,
      ...(this.deps.openflow ? { openflowConnectionUp: this.deps.openflow.isConnected } : {}),
    };
  }
}

function policyCall<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(toApiError(error));
  }
}

/** The one translation of policy service failures to the local API's vocabulary. */
export function toApiError(error: unknown): Error {
  if (!(error instanceof PolicyServiceError)) {
    return error instanceof Error ? error : new Error(String(error));
  }
  switch (error.code) {
    case 'NotFound':
      return new ApiError('NotFound', error.message);
    case 'Conflict':
      return new ApiError('Conflict', error.message);
    case 'InvalidRequest':
      return new ApiError('BadRequest', error.message);
    case 'NotStarted':
      return new ApiError('Unavailable', error.message);
    case 'ApplyRejected':
      return new ApiError('BadRequest', error.message, {
        objectCount: error.objectCount,
        invalidObjects: error.failures.map((failure) => ({ ...failure, errors: [...failure.errors] })),
      });
  }
}
