// Answers antctl's questions from the agent's state, the store, the policy service and OVS. Policy service
// failures become ApiErrors here, in one place (toApiError).
import { ApiError } from '../core/antctl/api-error';
import type {
  AgentApi,
  AddressGroupView,
  AgentInfoView,
  AppliedToGroupView,
  ApplyResultView,
  ControllerConditionView,
  ControllerInfoView,
  DeleteResultView,
  GroupFilter,
  NamespaceLabelsView,
  NetworkPolicyEvaluationQuery,
  NetworkPolicyEvaluationView,
  NetworkPolicyFilter,
  NetworkPolicyRealization,
  NetworkPolicyStatsFilter,
  NetworkPolicyStatsView,
  NetworkPolicyView,
  PolicyRef,
  RuleStatsView,
  PodLabelsView,
  OvsFlowFilter,
  PodInterfaceFilter,
  PodInterfaceView,
  LogLevelView,
  SupportBundleCommands,
  SupportBundleRequest,
  SupportBundleView,
  TraceflowRequest,
  TraceflowResult,
} from '../core/antctl/views';
import { firmwareRefs, kubernetesTime } from '../core/antctl/views';
import { TraceflowError } from '../core/traceflow/types';
import type { LogLevel } from '../core/logger';
import type { FirmwareConfig } from '../core/config';
import type { InternalNetworkPolicy } from '../core/controller/internal-types';
import { CookieCategory, cookieScope, makeCookie, parseDumpFlowsLine } from '../core/pipeline/flow';
import {
  allConjunctionIds,
  compareFlowsInTableOrder,
  flowRealizes,
  networkPolicyStats,
  parseCountedFlow,
  policyConjunctionIds,
  ruleCounts,
  type CountedFlow,
  type GroupMemberRef,
} from '../core/stats/policy-stats';
import { PIPELINE_TABLES, resolveTable, tableById } from '../core/pipeline/tables';
import type { InstalledFlow } from '../ovs/flow-writer';
import { unixctlCall, vswitchdControlSocket } from '../ovs/unixctl';
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
  /**
   * The enforcer's conjunction ids by rule flow key (PolicyEnforcer.conjunctionIds): which flows and counters
   * belong to which rule. Absent when this agent does not enforce: stats and `ovsflows --networkpolicy` answer 503.
   */
  policyFlows?: { conjunctionIds(): ReadonlyMap<string, number> };
  /** Brings flow counters up to date before they are read (OVS credits them lazily); best effort. */
  flowCounters?: { settle(): Promise<void> };
  /** Milliseconds since the epoch; the stats' "created at" is derived from flow ages. */
  now?: () => number;
  /** The firmware's run-time log level; absent: `log-level` answers 503. */
  logLevel?: { readonly current: LogLevel; set(level: LogLevel): LogLevel };
  /** Makes support bundles; absent: `supportbundle` answers 503. */
  supportBundle?: SupportBundleCommands;
  /** Runs traces (firmware/agent/traceflow.ts); absent: `traceflow` answers 503. */
  traceflow?: { trace(request: TraceflowRequest): Promise<TraceflowResult> };
}

const FULL_COOKIE_MASK = 0xff000000ffffffffn;

/** Antrea's AntreaControllerInfoResourceName. */
const CONTROLLER_INFO_NAME = 'antrea-controller';

export class AgentQueryService implements AgentApi {
  constructor(private readonly deps: AgentQueryDeps) {}

  async traceflow(request: TraceflowRequest): Promise<TraceflowResult> {
    const { traceflow } = this.deps;
    if (traceflow === undefined) throw new ApiError('Unavailable', 'this agent does not run Traceflow');
    try {
      return await traceflow.trace(request);
    } catch (error) {
      if (!(error instanceof TraceflowError)) throw error;
      const code =
        error.code === 'TRACEFLOW_INVALID'
          ? 'BadRequest'
          : error.code === 'TRACEFLOW_NOT_FOUND'
            ? 'NotFound'
            : 'Unavailable';
      throw new ApiError(code, error.message);
    }
  }

  logLevel(): Promise<LogLevelView> {
    const { logLevel } = this.deps;
    if (!logLevel)
      return Promise.reject(new ApiError('Unavailable', 'this agent cannot change its log level'));
    return Promise.resolve({ level: logLevel.current });
  }

  setLogLevel(level: LogLevel): Promise<LogLevelView> {
    const { logLevel } = this.deps;
    if (!logLevel)
      return Promise.reject(new ApiError('Unavailable', 'this agent cannot change its log level'));
    const previous = logLevel.set(level);
    return Promise.resolve({ level: logLevel.current, previous });
  }

  supportBundle(request: SupportBundleRequest, progress: (line: string) => void): Promise<SupportBundleView> {
    const { supportBundle } = this.deps;
    if (!supportBundle) {
      return Promise.reject(new ApiError('Unavailable', 'this agent cannot make support bundles'));
    }
    return supportBundle.supportBundle(request, progress);
  }

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
    if (filter.networkPolicy !== undefined && filter.pod !== undefined) {
      throw new ApiError('BadRequest', 'give either a Pod or a NetworkPolicy, not both');
    }
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
    if (filter.networkPolicy !== undefined) {
      const ref: PolicyRef = { name: filter.networkPolicy };
      if (filter.namespace !== undefined) ref.namespace = filter.namespace;
      if (filter.type !== undefined) ref.type = filter.type;
      return this.policyFlowLines(ref, table);
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

  /**
   * Every flow realizing the policy on this node (its rules' action and clause flows, shared clause flows, and for
   * Kubernetes policies the isolation drops of its local pods) as dump-flows prints them, in table order.
   */
  private async policyFlowLines(ref: PolicyRef, table: number | undefined): Promise<string[]> {
    const conjIds = this.conjunctionIds();
    const policy = await this.resolvePolicy(ref);
    const ids = allConjunctionIds(policyConjunctionIds(policy, conjIds, await this.groupMembers(policy)));
    if (ids.size === 0) {
      throw new ApiError(
        'NotFound',
        `${describePolicy(policy)} has no flows on this node: it applies to no Pod of node ${this.deps.config.nodeName}`,
      );
    }
    const lines = await this.deps.flowWriter.dumpFlowsText({
      ...cookieScope(CookieCategory.Policy),
      table,
      names: false,
    });
    const flows = lines.flatMap((text) => {
      const parsed = parseDumpFlowsLine(text);
      return parsed && flowRealizes(parsed, ids) ? [{ ...parsed, text }] : [];
    });
    if (flows.length === 0 && table === undefined) {
      throw new ApiError(
        'NotFound',
        `${describePolicy(policy)} has no flows installed on this node yet; is it realized? (antctl get networkpolicy)`,
      );
    }
    return flows.sort(compareFlowsInTableOrder).map((f) => f.text);
  }

  async networkPolicyStats(filter: NetworkPolicyStatsFilter): Promise<NetworkPolicyStatsView[]> {
    const conjIds = this.conjunctionIds();
    const policies = await policyCall(() => this.deps.policies.networkPolicies(filter));
    const flows = await this.countedPolicyFlows();
    const now = this.now();
    const views: NetworkPolicyStatsView[] = [];
    for (const policy of policies) {
      const ids = policyConjunctionIds(policy, conjIds, await this.groupMembers(policy));
      views.push(networkPolicyStats(policy, ruleCounts(ids, flows, now)));
    }
    return views;
  }

  /** One policy's rules with their counts on this node; see core/stats/policy-stats.ts for what is counted. */
  async ruleStats(ref: PolicyRef): Promise<RuleStatsView[]> {
    const conjIds = this.conjunctionIds();
    const policy = await this.resolvePolicy(ref);
    const ids = policyConjunctionIds(policy, conjIds, await this.groupMembers(policy));
    return ruleCounts(ids, await this.countedPolicyFlows(), this.now());
  }

  private conjunctionIds(): ReadonlyMap<string, number> {
    if (!this.deps.policyFlows) {
      throw new ApiError(
        'Unavailable',
        'this agent does not enforce network policies: it has no policy flows',
      );
    }
    return this.deps.policyFlows.conjunctionIds();
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  private async countedPolicyFlows(): Promise<CountedFlow[]> {
    // Stale counters are still counters: a failed refresh only makes them lag by up to a revalidation round.
    await this.deps.flowCounters?.settle().catch(() => undefined);
    const lines = await this.deps.flowWriter.dumpFlowsText({
      ...cookieScope(CookieCategory.Policy),
      names: false,
    });
    return lines.flatMap((line) => parseCountedFlow(line) ?? []);
  }

  /**
   * The one policy `ref` names. Without a namespace only cluster-scoped policies (or a control plane uid) match,
   * as in Antrea; a name that several kinds share in a Namespace needs `type`.
   */
  private async resolvePolicy(ref: PolicyRef): Promise<InternalNetworkPolicy> {
    const filter: NetworkPolicyFilter = { name: ref.name };
    if (ref.namespace !== undefined) filter.namespace = ref.namespace;
    if (ref.type !== undefined) filter.type = ref.type;
    const named = await policyCall(() => this.deps.policies.networkPolicies(filter));
    const matching =
      ref.namespace === undefined
        ? named.filter((policy) => policy.uid === ref.name || policy.sourceRef.namespace === undefined)
        : named;
    const [policy, ...others] = matching;
    if (policy === undefined) {
      const namespaces = [...new Set(named.map((p) => p.sourceRef.namespace ?? ''))].sort().join(', ');
      throw new ApiError(
        'NotFound',
        `no cluster-scoped networkpolicy "${ref.name}"; policies of that name exist in namespace(s) ${namespaces}: pass -n NAMESPACE`,
      );
    }
    if (others.length > 0) {
      const kinds = matching.map((p) => describePolicy(p)).join(', ');
      throw new ApiError('BadRequest', `"${ref.name}" names several policies (${kinds}): pass --type`);
    }
    return policy;
  }

  /** Members of a Kubernetes policy's applied-to groups (their isolation drops are its flows too). */
  private async groupMembers(
    policy: InternalNetworkPolicy,
  ): Promise<(group: string) => readonly GroupMemberRef[]> {
    if (policy.sourceRef.type !== 'K8sNetworkPolicy') return () => [];
    const groups = await this.appliedToGroups({});
    const byName = new Map(groups.map((group) => [group.name, group.members]));
    return (name) => byName.get(name) ?? [];
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
    // Antrea's test for OVSDBConnectionUp: the OVS version could be read.
    const ovs = await this.deps.bridge.getOvsVersion().then(
      (version) => ({ version, up: true }),
      () => ({ version: 'unknown', up: false }),
    );
    return {
      podName: firmwarePodName(this.deps.config),
      nodeName: this.deps.config.nodeName,
      status: status === 'Healthy' ? 'Healthy' : 'Unhealthy',
      nodeSubnets: [this.deps.config.podCidr],
      ...policyCounts,
      localPods: this.deps.pods.list().length,
      ovsVersion: ovs.version,
      bridgeName: this.deps.config.bridgeName,
      flowsPerTable,
      ...(this.deps.openflow ? { openflowConnectionUp: this.deps.openflow.isConnected } : {}),
      ovsdbConnectionUp: ovs.up,
      version: this.deps.version,
      // Antrea's agent refreshes its heartbeat every minute; every answer here is fresh.
      heartbeatTime: kubernetesTime(this.now()),
    };
  }

  /**
   * The policy controller as Antrea's AntreaControllerInfo describes it. It runs in this process (standalone
   * mode), so its Pod and Node are the agent's. Healthy means it is serving: the policy service is started.
   * Antrea's controller refreshes its heartbeat every minute; here every answer is fresh, so the heartbeat is
   * the time of the answer.
   */
  controllerInfo(): Promise<ControllerInfoView> {
    return policyCall(() => this.currentControllerInfo());
  }

  private currentControllerInfo(): ControllerInfoView {
    const { config } = this.deps;
    let counts: ReturnType<AgentQueryDeps['policies']['counts']> | undefined;
    let condition: ControllerConditionView;
    const lastHeartbeatTime = kubernetesTime(this.now());
    try {
      counts = this.deps.policies.counts();
      condition = { type: 'ControllerHealthy', status: 'True', lastHeartbeatTime };
    } catch (error) {
      if (!(error instanceof PolicyServiceError && error.code === 'NotStarted')) throw error;
      condition = {
        type: 'ControllerHealthy',
        status: 'False',
        lastHeartbeatTime,
        reason: 'NotStarted',
        message: error.message,
      };
    }
    return {
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'AntreaControllerInfo',
      metadata: { name: CONTROLLER_INFO_NAME },
      version: this.deps.version,
      ...firmwareRefs(firmwarePodName(config), config.nodeName),
      // The controller's totals (PolicyService.counts is its whole snapshot), as Antrea's controller counts its
      // stores; zero counts are printed, where Antrea's omitempty would drop them, so scripts can rely on them.
      ...(counts === undefined
        ? {}
        : {
            networkPolicyControllerInfo: {
              networkPolicyNum: counts.networkPolicies,
              addressGroupNum: counts.addressGroups,
              appliedToGroupNum: counts.appliedToGroups,
            },
          }),
      // Its only client is this process's agent, whose enforcer follows its change stream; no other agent
      // connects (in cluster mode every node computes its own policies). No enforcer, no connected agent.
      connectedAgentNum: this.deps.realization === undefined ? 0 : 1,
      controllerConditions: [condition],
    };
  }
}

/** The firmware's identity as a Pod, as agentinfo and controllerinfo report it (one process runs both). */
function firmwarePodName(config: Pick<FirmwareConfig, 'nodeName'>): string {
  return `antrea-agent-${config.nodeName}`;
}

/** `K8sNetworkPolicy default/web`, `AntreaClusterNetworkPolicy deny-all`: how errors name a policy. */
function describePolicy(policy: Pick<InternalNetworkPolicy, 'sourceRef'>): string {
  const ref = policy.sourceRef;
  return `${ref.type} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name}`;
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

/**
 * `ovs-appctl revalidator/wait` on the running ovs-vswitchd: OVS credits flow counters lazily (revalidator rounds
 * of up to ~500 ms), so counts read right after traffic would lag without it. The control socket is
 * `<rundir>/ovs-vswitchd.ctl` when ovs-vswitchd was started with `--unixctl` (dev nodes), otherwise Debian's
 * `<rundir>/ovs-vswitchd.<pid>.ctl`; ovs-appctl needs its absolute path.
 */
export class RevalidatorWait {
  constructor(private readonly options: { ovsRunDir: string; env: NodeJS.ProcessEnv; timeoutMs?: number }) {}

  /**
   * Resolves once ovs-vswitchd's revalidators finished a round started after this call: datapath flows cached from
   * the flow tables before (megaflows) then agree with the tables. Over the control socket, no ovs-appctl process.
   */
  async settle(): Promise<void> {
    const target = await vswitchdControlSocket(this.options.ovsRunDir);
    await unixctlCall(target, 'revalidator/wait', [], this.options.timeoutMs ?? 5_000);
  }
}
