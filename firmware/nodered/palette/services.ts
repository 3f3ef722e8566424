// What the "antrea edge" Node-RED nodes may ask of the firmware. The nodes are thin: every rule about policies,
// pods and traces lives behind this interface (built by createPaletteServices from the agent's objects, or faked
// in the nodes' tests). The host passes an implementation to Node-RED as `settings.antreaEdge`; nodes read
// `RED.settings.antreaEdge`.
import type {
  ApplyResultView,
  DeleteResultView,
  NetworkPolicyEvaluationQuery,
  NetworkPolicyEvaluationView,
  NetworkPolicyTypeFilter,
  PodLabelsView,
  RuleStatsView,
  TraceflowRequest,
  TraceflowResult,
} from '../../core/antctl/views';
import type { ObjectKind } from '../../core/api/object-key';
import type { LabelSelector } from '../../core/api/types';

export type PaletteErrorCode =
  /** The input is wrong; `fieldErrors` says where. */
  | 'Invalid'
  | 'NotFound'
  /** E.g. deleting a Tier that policies use. */
  | 'Conflict'
  /** The agent cannot answer now (not started, feature absent, socket down). */
  | 'Unavailable'
  | 'Internal';

/** One problem with a field of the input, e.g. path `spec.ingress[0].ports[0].port` of object 0. */
export interface PaletteFieldError {
  /** 0-based position of the object in an apply; absent for single-object inputs. */
  index?: number;
  /** "ClusterNetworkPolicy allow-nginx" or "K8sNetworkPolicy default/web": which object, for people. */
  object?: string;
  /** JSON field path inside the object (or the input), "" for the object itself. */
  path: string;
  reason: string;
  value?: unknown;
}

/** The one error type the nodes see: a Catch node gets `code`, `message` and every field error. */
export class PaletteError extends Error {
  override readonly name = 'PaletteError';

  constructor(
    readonly code: PaletteErrorCode,
    message: string,
    readonly fieldErrors: readonly PaletteFieldError[] = [],
  ) {
    super(message);
  }
}

/** A policy as the nodes name it: kind of the source object, its name and (namespaced kinds) its namespace. */
export interface PalettePolicyRef {
  kind: PolicyKind;
  name: string;
  namespace?: string;
}

export type PolicyKind = 'ClusterNetworkPolicy' | 'AntreaNetworkPolicy' | 'K8sNetworkPolicy';

export const POLICY_KINDS: readonly PolicyKind[] = [
  'ClusterNetworkPolicy',
  'AntreaNetworkPolicy',
  'K8sNetworkPolicy',
];

/** antctl's `--type` for each policy kind. */
export const POLICY_TYPE_BY_KIND: Readonly<Record<PolicyKind, NetworkPolicyTypeFilter>> = {
  ClusterNetworkPolicy: 'ACNP',
  AntreaNetworkPolicy: 'ANNP',
  K8sNetworkPolicy: 'K8sNP',
};

/** Any object the firmware stores, for `deletePolicy` (policies, and also Tiers and groups). */
export interface PaletteObjectRef {
  kind: ObjectKind;
  name: string;
  namespace?: string;
}

export type RealizationState =
  /** The policy's latest change is in this node's OVS. */
  | 'Realized'
  /** Accepted, its flows are not in OVS yet. */
  | 'Pending'
  /** No such policy (deleted, or never applied). */
  | 'NotFound';

export interface PolicyRealizationView {
  state: RealizationState;
  /** The control plane policy's uid, when it exists. */
  uid?: string;
  generation?: number;
  realizedGeneration?: number;
}

export interface PodQuery {
  namespace?: string;
  /** A label selector: kubectl's text (`app=web,tier in (a,b),!legacy`) or a metav1.LabelSelector object. */
  selector?: string | LabelSelector;
  /** Only the pod of this name. */
  name?: string;
}

export interface PalettePodView {
  namespace: string;
  name: string;
  ip: string;
  labels: Record<string, string>;
}

/** The disposition an audit log entry records (Antrea's np.log). */
export type AuditDisposition = 'Allow' | 'Drop' | 'Reject' | 'Pass';

export interface AuditEventEntry {
  /** RFC 3339 time of the first packet of the entry. */
  time: string;
  policy: string;
  ruleName?: string;
  direction: 'Ingress' | 'Egress';
  disposition: AuditDisposition;
  srcIp: string;
  srcPort?: number;
  dstIp: string;
  dstPort?: number;
  protocol: string;
  /** The local pod the rule applies to, "namespace/name". */
  appliedTo?: string;
  /** Packets merged into this entry (Antrea's dedup within one second). */
  count: number;
}

export type PaletteEvent =
  | {
      type: 'PolicyRealized';
      policy: PalettePolicyRef;
      uid: string;
      generation: number;
    }
  | {
      type: 'PolicyFailed';
      /** Absent when the failure is not about one policy (e.g. a multi-object apply). */
      policy?: PalettePolicyRef;
      reason: string;
      fieldErrors: PaletteFieldError[];
    }
  | { type: 'AuditLog'; entry: AuditEventEntry }
  | { type: 'PodAdded'; pod: PalettePodView }
  | { type: 'PodRemoved'; pod: PalettePodView };

export type PaletteEventType = PaletteEvent['type'];

export const PALETTE_EVENT_TYPES: readonly PaletteEventType[] = [
  'PolicyRealized',
  'PolicyFailed',
  'AuditLog',
  'PodAdded',
  'PodRemoved',
];

/**
 * Everything the palette's nodes do. Every method rejects with PaletteError only (anything else is a bug).
 */
export interface PaletteServices {
  /**
   * Validates and applies objects (K8s NetworkPolicy, Antrea kinds) all or nothing. Invalid input rejects with
   * PaletteError Invalid listing every field error of every object.
   */
  apply(objects: unknown[]): Promise<ApplyResultView[]>;
  deletePolicy(ref: PaletteObjectRef): Promise<DeleteResultView>;
  listPods(query: PodQuery): Promise<PalettePodView[]>;
  /** Replaces the pod's labels (standalone mode: the store is the source of truth). */
  labelPod(namespace: string, name: string, labels: Record<string, string>): Promise<PodLabelsView>;
  /** "Would source reach destination on protocol/port?" with the deciding rule of each direction. */
  whatIf(query: NetworkPolicyEvaluationQuery): Promise<NetworkPolicyEvaluationView>;
  /** Per-rule hit counts from this node's OVS flow statistics. */
  ruleStats(policy: PalettePolicyRef): Promise<RuleStatsView[]>;
  realization(policy: PalettePolicyRef): Promise<PolicyRealizationView>;
  traceflow(request: TraceflowRequest): Promise<TraceflowResult>;
  /** Policy realized/failed, audit log entries and pod add/remove, as they happen. Returns the unsubscribe. */
  subscribe(listener: (event: PaletteEvent) => void): () => void;
}

/** How a policy is named in messages: "ClusterNetworkPolicy allow-nginx", "K8sNetworkPolicy default/web". */
export function describePolicyRef(ref: { kind: string; name: string; namespace?: string }): string {
  return `${ref.kind} ${ref.namespace === undefined ? '' : `${ref.namespace}/`}${ref.name}`;
}
