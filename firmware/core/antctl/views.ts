// What the agent answers to antctl (and the serial console): plain JSON-able views, no live objects.
// AgentQueries lives here rather than in the HTTP adapter so that the pure command runner can call it
// directly (console, in-process) or through the local API client (CLI) alike.
import type { TraceflowRequest, TraceflowResult } from '../traceflow/types';
import type { Protocol } from '../api/types';
import type { ObjectKind } from '../api/object-key';
import type { AddressGroup, AppliedToGroup, InternalNetworkPolicy } from '../controller/internal-types';
import type { EvaluationEndpoint, EvaluationResult } from '../evaluate/evaluator';
import type { NetworkPolicyStats, RuleCounts } from '../stats/policy-stats';
import type { LogLevel } from '../logger';

export interface PodInterfaceView {
  namespace: string;
  name: string;
  interfaceName: string;
  /** The pod's address(es); several are joined with ", " as antctl prints them. */
  ip: string;
  mac: string;
  portUuid: string;
  ofport: number;
  containerId: string;
}

export type AgentStatus = 'Healthy' | 'Unhealthy';

export interface AgentInfoView {
  podName: string;
  nodeName: string;
  status: AgentStatus;
  nodeSubnets: string[];
  networkPolicies: number;
  addressGroups: number;
  appliedToGroups: number;
  localPods: number;
  ovsVersion: string;
  bridgeName: string;
  /** Keyed by table name, e.g. `{ Classification: 3 }`. */
  flowsPerTable: Record<string, number>;
  /** AntreaAgentInfo's OpenflowConnectionUp: the agent's own OpenFlow connection (packet-ins) is up. */
  openflowConnectionUp?: boolean;
  /**
   * AntreaAgentInfo's OVSDBConnectionUp: OVSDB answered the OVS version query (Antrea's test too). This and the
   * fields below are always sent by the agent; optional so that answers of older firmware still parse.
   */
  ovsdbConnectionUp?: boolean;
  /** The firmware's version. */
  version?: string;
  /** When the agent answered, RFC 3339 in seconds: the heartbeat of AntreaAgentInfo's conditions. */
  heartbeatTime?: string;
}

export interface PodInterfaceFilter {
  name?: string;
  namespace?: string;
}

export interface OvsFlowFilter {
  pod?: string;
  namespace?: string;
  /** A pipeline table name (`IngressRule`) or number (`90`), as the user typed it. */
  table?: string;
  /**
   * The flows realizing this policy (its name or its control plane uid): without `namespace` a cluster-scoped
   * policy, with it a policy of that Namespace. Exclusive with `pod`.
   */
  networkPolicy?: string;
  /** Which kind of policy `networkPolicy` names, when a Namespace holds several of that name. */
  type?: NetworkPolicyTypeFilter;
}

/**
 * The agent-side questions antctl can ask. Implementations reject with `ApiError` (`NotFound`,
 * `BadRequest`, `Unavailable`); anything else is treated as an internal failure.
 */
export interface AgentQueries {
  podInterfaces(filter: PodInterfaceFilter): Promise<PodInterfaceView[]>;
  ovsFlows(filter: OvsFlowFilter): Promise<string[]>;
  agentInfo(): Promise<AgentInfoView>;
}

// ---- controller info (the policy controller runs in this process, standalone mode) ----

/** A Kubernetes ObjectReference as AntreaControllerInfo carries it; only the fields that are true here. */
export interface ObjectReferenceView {
  kind: 'Pod' | 'Node' | 'Service';
  /** Absent in standalone mode: there is no Kubernetes Namespace the firmware runs in. */
  namespace?: string;
  name: string;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A condition of AntreaControllerInfo or AntreaAgentInfo; both have this shape. */
export interface ConditionView<Type extends string> {
  type: Type;
  status: ConditionStatus;
  /** RFC 3339, seconds precision (metav1.Time). */
  lastHeartbeatTime: string;
  reason?: string;
  message?: string;
}

export type ControllerConditionView = ConditionView<'ControllerHealthy'>;

/**
 * Antrea's agent condition types, but ControllerConnectionUp: the controller runs in the agent's process
 * (standalone mode), there is no connection to report.
 */
export type AgentConditionType = 'AgentHealthy' | 'OVSDBConnectionUp' | 'OpenflowConnectionUp';

export type AgentConditionView = ConditionView<AgentConditionType>;

/** metav1.Time's text: RFC 3339 in UTC, whole seconds. */
export function kubernetesTime(milliseconds: number): string {
  return new Date(milliseconds).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The Pod and Node the agent and the controller run in: both run in the firmware's one process, so they are the
 * same for AntreaAgentInfo and AntreaControllerInfo.
 */
export function firmwareRefs(
  podName: string,
  nodeName: string,
): { podRef: ObjectReferenceView; nodeRef: ObjectReferenceView } {
  return { podRef: { kind: 'Pod', name: podName }, nodeRef: { kind: 'Node', name: nodeName } };
}

/** Antrea's NetworkPolicyControllerInfo: the controller's totals, every policy and group it computed. */
export interface NetworkPolicyControllerInfoView {
  networkPolicyNum: number;
  addressGroupNum: number;
  appliedToGroupNum: number;
}

/**
 * Shaped as Antrea's AntreaControllerInfo (crd.antrea.io/v1beta1), so scripts written for Antrea read it. Fields
 * that would not be true here are absent: `serviceRef` (no antrea Service fronts the controller) and `apiPort`
 * (the controller has no API server of its own; antctl talks to the agent's local socket).
 */
export interface ControllerInfoView {
  apiVersion: 'crd.antrea.io/v1beta1';
  kind: 'AntreaControllerInfo';
  metadata: { name: string };
  version: string;
  podRef: ObjectReferenceView;
  nodeRef: ObjectReferenceView;
  /** Absent while the controller is not serving: its counts are unknown then, not zero. */
  networkPolicyControllerInfo?: NetworkPolicyControllerInfoView;
  connectedAgentNum: number;
  controllerConditions: ControllerConditionView[];
}

/** Antrea's OVSInfo. */
export interface OvsInfoView {
  /** Absent when OVSDB did not answer, as in Antrea. */
  version?: string;
  bridgeName: string;
  /**
   * Flow count by table number ("0", "10", ...), as Antrea v0.9's agent keys it (later Antrea versions key by
   * name); every pipeline table is listed, also those without flows, as Antrea lists every table of its bridge.
   */
  flowTable: Record<string, number>;
}

/**
 * Shaped as Antrea's AntreaAgentInfo (crd.antrea.io/v1beta1): `antctl get agentinfo -o json|yaml` prints it, as
 * `kubectl get antreaagentinfo -o yaml` would on an Antrea cluster. Fields that would not be true here are absent
 * (apiPort, apiCABundle: antctl talks to a local socket; nodePortLocalPortRange, networkInfo).
 */
export interface AntreaAgentInfoView {
  apiVersion: 'crd.antrea.io/v1beta1';
  kind: 'AntreaAgentInfo';
  /** The Node's name, as Antrea names the object. */
  metadata: { name: string };
  version?: string;
  podRef: ObjectReferenceView;
  nodeRef: ObjectReferenceView;
  nodeSubnets: string[];
  ovsInfo: OvsInfoView;
  networkPolicyControllerInfo: NetworkPolicyControllerInfoView;
  localPodNum: number;
  /** Absent when the agent sent no heartbeat time (older firmware). */
  agentConditions?: AgentConditionView[];
}

/** Where the policy controller runs (standalone mode). Rejects with `ApiError` like AgentQueries. */
export interface ControllerQueries {
  controllerInfo(): Promise<ControllerInfoView>;
}

export interface PodLabelsView {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

/**
 * Changes the agent accepts over its local API (standalone mode, where the store is the source of truth).
 * Implementations reject with `ApiError` like AgentQueries.
 */
export interface AgentCommands {
  setPodLabels(namespace: string, name: string, labels: Record<string, string>): Promise<PodLabelsView>;
}

// ---- network policy (the controller's view, standalone mode) ----

/** Whether a policy's latest change is enforced by this node's OVS (its flows are installed). */
export interface NetworkPolicyRealization {
  /** Sequence number of the last change that touched the policy (the policy or a group it uses). */
  generation: number;
  /** The generation whose flows are in OVS; 0 before the first. */
  realizedGeneration: number;
  realized: boolean;
}

/**
 * Control plane NetworkPolicies are shown as the controller computed them (Antrea's controlplane shape), plus
 * `realization` when the agent enforces policies.
 */
export type NetworkPolicyView = InternalNetworkPolicy & { realization?: NetworkPolicyRealization };
export type AddressGroupView = AddressGroup;
export type AppliedToGroupView = AppliedToGroup;

/** Antrea's `-T` values: the type of the source policy. */
export type NetworkPolicyTypeFilter = 'K8sNP' | 'ACNP' | 'ANNP';

export const NETWORK_POLICY_TYPE_FILTERS: readonly NetworkPolicyTypeFilter[] = ['K8sNP', 'ACNP', 'ANNP'];

/**
 * A `--type` value as users type it, any case; `ANP` is what Antrea called ANNP before v1.13 (ANP is now the
 * Kubernetes AdminNetworkPolicy, which antrea-edge does not implement).
 */
export function parseNetworkPolicyType(text: string): NetworkPolicyTypeFilter | undefined {
  const lower = text.toLowerCase();
  if (lower === 'anp') return 'ANNP';
  return NETWORK_POLICY_TYPE_FILTERS.find((candidate) => candidate.toLowerCase() === lower);
}

export interface NetworkPolicyFilter {
  /** The control plane policy's name (its uid) or the name of its source policy. */
  name?: string;
  /** Namespace of the source policy (cluster-scoped policies have none and never match). */
  namespace?: string;
  type?: NetworkPolicyTypeFilter;
}

export interface GroupFilter {
  name?: string;
}

export interface NetworkPolicyEvaluationQuery {
  /** "NS/POD", "POD" (namespace default, as in Antrea) or an IPv4 address. */
  source: string;
  destination: string;
  protocol: Protocol;
  port: number;
}

export interface NetworkPolicyEvaluationView extends EvaluationResult {
  source: EvaluationEndpoint;
  destination: EvaluationEndpoint;
  protocol: Protocol;
  port: number;
  /** One line for humans, e.g. "Drop by K8sNetworkPolicy default/web ingress isolation (no rule allows)". */
  summary: string;
}

export interface NamespaceLabelsView {
  name: string;
  labels: Record<string, string>;
}

/** What `apply` did with one object, in kubectl's words. */
export type ApplyOutcome = 'created' | 'configured' | 'unchanged';

export interface ApplyResultView {
  /** 0-based position of the object in the request. */
  index: number;
  key: string;
  kind: ObjectKind;
  apiVersion: string;
  namespace?: string;
  name: string;
  result: ApplyOutcome;
}

export interface DeleteResultView {
  key: string;
  kind: ObjectKind;
  namespace?: string;
  name: string;
  result: 'deleted';
}

/**
 * Questions about network policy state. Implementations reject with `ApiError` like AgentQueries
 * (`NotFound` for a named object that does not exist, `BadRequest` for a bad endpoint).
 */
export interface PolicyQueries {
  networkPolicies(filter: NetworkPolicyFilter): Promise<NetworkPolicyView[]>;
  addressGroups(filter: GroupFilter): Promise<AddressGroupView[]>;
  appliedToGroups(filter: GroupFilter): Promise<AppliedToGroupView[]>;
  networkPolicyEvaluation(query: NetworkPolicyEvaluationQuery): Promise<NetworkPolicyEvaluationView>;
  namespaceLabels(name: string): Promise<NamespaceLabelsView>;
}

/**
 * Policy changes (standalone mode). `applyObjects` is all or nothing: when any object is invalid it rejects with
 * `ApiError` BadRequest whose `details.invalidObjects` lists every problem, and nothing is applied.
 */
export interface PolicyCommands {
  applyObjects(objects: unknown[]): Promise<ApplyResultView[]>;
  /** `key` is an object key, "<Kind>/<namespace>/<name>". Rejects with NotFound, or Conflict (a Tier in use). */
  deleteObject(key: string): Promise<DeleteResultView>;
  setNamespaceLabels(name: string, labels: Record<string, string>): Promise<NamespaceLabelsView>;
}

// ---- network policy statistics (this node's flow counters) ----

/** Antrea's stats object of one policy on this node, with the per-rule breakdown (see core/stats). */
export type NetworkPolicyStatsView = NetworkPolicyStats;

/** One rule's counts, for the Node-RED palette and scripts (see core/stats for what is counted). */
export type RuleStatsView = RuleCounts;

export interface NetworkPolicyStatsFilter {
  /** The source policy's name or the control plane policy's uid. */
  name?: string;
  /** Namespace of the source policy (cluster-scoped policies have none and never match). */
  namespace?: string;
  type?: NetworkPolicyTypeFilter;
}

/** One policy: its name (or control plane uid); without namespace a cluster-scoped policy. */
export interface PolicyRef {
  name: string;
  namespace?: string;
  type?: NetworkPolicyTypeFilter;
}

/** Traffic counts of policies, from this node's flows. Rejects with `ApiError` like AgentQueries. */
export interface PolicyStatsQueries {
  networkPolicyStats(filter: NetworkPolicyStatsFilter): Promise<NetworkPolicyStatsView[]>;
  ruleStats(policy: PolicyRef): Promise<RuleStatsView[]>;
}

// ---- run-time log level (`antctl log-level`) ----

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A level as users type it, any case; `warning` is accepted for `warn`. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const lower = text.trim().toLowerCase();
  if (lower === 'warning') return 'warn';
  return LOG_LEVELS.find((level) => level === lower);
}

export interface LogLevelView {
  level: LogLevel;
  /** Set only in the answer to a change: the level before it. */
  previous?: LogLevel;
}

/** The firmware's log level, shown and changed at run time. Rejects with `ApiError` like AgentQueries. */
export interface LogLevelCommands {
  logLevel(): Promise<LogLevelView>;
  setLogLevel(level: LogLevel): Promise<LogLevelView>;
}

// ---- support bundle (`antctl supportbundle`) ----

export interface SupportBundleRequest {
  /** Absolute directory on the appliance to write the bundle to; absent: the firmware's default. */
  dir?: string;
}

export interface SupportBundleView {
  /** The tar.gz written. */
  path: string;
  bytes: number;
  /** Paths inside the archive. */
  files: string[];
  /** Parts that could not be collected, with why; the bundle has everything else. */
  failures: string[];
}

/** Collects a support bundle on the appliance, reporting progress lines as it goes. */
export interface SupportBundleCommands {
  supportBundle(request: SupportBundleRequest, progress: (line: string) => void): Promise<SupportBundleView>;
}

// ---- traceflow (core/traceflow) ----

export type { TraceflowObservation, TraceflowRequest, TraceflowResult } from '../traceflow/types';

/** Traces a packet through this node's pipeline (Antrea's Traceflow). Rejects with ApiError. */
export interface TraceflowQueries {
  traceflow(request: TraceflowRequest): Promise<TraceflowResult>;
}

/** Everything the agent answers: served in process (console) and over the local API socket (antctl). */
export interface AgentApi
  extends
    AgentQueries,
    AgentCommands,
    PolicyQueries,
    PolicyCommands,
    PolicyStatsQueries,
    ControllerQueries,
    LogLevelCommands,
    SupportBundleCommands,
    TraceflowQueries {}
