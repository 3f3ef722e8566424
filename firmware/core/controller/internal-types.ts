// The controller's output: Antrea's controlplane objects (internal NetworkPolicy, AddressGroup,
// AppliedToGroup). Policies reference groups by name; groups are shared between policies whose selectors are
// equal. `span` lists the nodes that need an object (a node needs a policy when one of its pods is in an
// applied-to group; it needs a group when it needs a policy that references it).
import type { Protocol, RuleAction } from '../api/types';

export interface NamedPort {
  name: string;
  port: number;
  protocol: Protocol;
}

/** A pod as a group member. `ports` are its named container ports (for named-port resolution). */
export interface GroupMemberPod {
  namespace: string;
  name: string;
  ip: string;
  nodeName: string;
  ports: NamedPort[];
}

export interface IPBlockRef {
  /** Normalised CIDR (host bits cleared). */
  cidr: string;
  except: string[];
}

/** A selector as the controller normalised it; the group's identity is derived from it. */
export interface GroupSelector {
  /** Namespace the pod selector is limited to; absent = all namespaces (cluster-scoped selectors). */
  namespace?: string;
  /** Canonical text of the pod selector; absent = all pods (of the selected namespaces). */
  podSelector?: string;
  /** Canonical text of the namespace selector; absent = only `namespace` (or all when that is absent too). */
  namespaceSelector?: string;
}

export interface AddressGroup {
  /** Stable name derived from the selector (or from the ClusterGroup/Group it stands for). */
  name: string;
  selector?: GroupSelector;
  /** Set when the group stands for a ClusterGroup/Group (e.g. "cg:web" or "g:ns/web"). */
  sourceGroup?: string;
  members: GroupMemberPod[];
  /** ipBlocks of a ClusterGroup/Group (pod-selector groups have none). */
  ipBlocks: IPBlockRef[];
  span: string[];
}

export interface AppliedToGroup {
  name: string;
  selector?: GroupSelector;
  sourceGroup?: string;
  members: GroupMemberPod[];
  span: string[];
}

export interface InternalPeer {
  addressGroups: string[];
  ipBlocks: IPBlockRef[];
}

/** A port or port range; `port` may be a named port resolved per destination pod. */
export interface InternalService {
  protocol: Protocol;
  port?: number | string;
  endPort?: number;
  srcPort?: number;
  srcEndPort?: number;
}

export type RuleDirection = 'In' | 'Out';

export interface InternalRule {
  direction: RuleDirection;
  /** Peers: for 'In' the sources, for 'Out' the destinations. Empty peer (no groups, no blocks) = any. */
  peer: InternalPeer;
  /** Empty = all ports and protocols. */
  services: InternalService[];
  /** K8s NetworkPolicy rules are Allow. */
  action: RuleAction;
  /** Index of the rule within its direction in the source policy (evaluation order). */
  priority: number;
  name: string;
  enableLogging: boolean;
  /** Per-rule appliedTo (Antrea) overrides the policy's appliedToGroups. */
  appliedToGroups: string[];
}

export type PolicySourceType = 'K8sNetworkPolicy' | 'AntreaClusterNetworkPolicy' | 'AntreaNetworkPolicy';

export interface PolicySourceRef {
  type: PolicySourceType;
  namespace?: string;
  name: string;
  uid: string;
}

export interface InternalNetworkPolicy {
  /** Unique and stable: derived from the source kind, namespace and name (or the uid when present). */
  uid: string;
  name: string;
  namespace?: string;
  sourceRef: PolicySourceRef;
  rules: InternalRule[];
  appliedToGroups: string[];
  /** Antrea-native only: the policy's priority (float) and its tier's priority. */
  priority?: number;
  tierPriority?: number;
  tierName?: string;
  /** K8s policies: which directions isolate the selected pods (policyTypes after defaulting). */
  policyTypes: ('Ingress' | 'Egress')[];
  span: string[];
}

export interface ObjectChanges<T> {
  upserted: T[];
  deleted: string[];
}

/** What one input change did; the agent's rule cache consumes this. */
export interface ControllerChanges {
  networkPolicies: ObjectChanges<InternalNetworkPolicy>;
  addressGroups: ObjectChanges<AddressGroup>;
  appliedToGroups: ObjectChanges<AppliedToGroup>;
}

/** A read-only view of everything computed (what the evaluator and antctl need). */
export interface ControllerSnapshot {
  networkPolicies: ReadonlyMap<string, InternalNetworkPolicy>;
  addressGroups: ReadonlyMap<string, AddressGroup>;
  appliedToGroups: ReadonlyMap<string, AppliedToGroup>;
}
