// What the agent answers to antctl (and the serial console): plain JSON-able views, no live objects.
// AgentQueries lives here rather than in the HTTP adapter so that the pure command runner can call it
// directly (console, in-process) or through the local API client (CLI) alike.

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
