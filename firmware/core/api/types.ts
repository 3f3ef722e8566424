// The API objects we accept, as users write them (YAML/JSON manifests): Kubernetes NetworkPolicy, Service,
// Pod/Namespace facts, and Antrea's crd.antrea.io policy kinds. Field names follow the upstream schemas exactly
// so that real manifests are accepted unchanged. Everything is optional where the API server would default it;
// `defaults.ts` fills the defaults and `validation.ts` checks the rest.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
}

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}

/** metav1.LabelSelector. `{}` selects everything; an absent selector selects nothing (context decides). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface IPBlock {
  cidr: string;
  except?: string[];
}

// ---- networking.k8s.io/v1 NetworkPolicy ----

export interface K8sNetworkPolicyPort {
  protocol?: Protocol;
  /** Number or IANA_SVC_NAME (a named container port). */
  port?: number | string;
  endPort?: number;
}

export interface K8sNetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface K8sNetworkPolicyIngressRule {
  from?: K8sNetworkPolicyPeer[];
  ports?: K8sNetworkPolicyPort[];
}

export interface K8sNetworkPolicyEgressRule {
  to?: K8sNetworkPolicyPeer[];
  ports?: K8sNetworkPolicyPort[];
}

export type PolicyType = 'Ingress' | 'Egress';

export interface K8sNetworkPolicy {
  apiVersion: 'networking.k8s.io/v1';
  kind: 'NetworkPolicy';
  metadata: ObjectMeta;
  spec: {
    podSelector: LabelSelector;
    policyTypes?: PolicyType[];
    ingress?: K8sNetworkPolicyIngressRule[];
    egress?: K8sNetworkPolicyEgressRule[];
  };
}

// ---- crd.antrea.io (v1beta1; v1alpha1 names accepted too) ----

export const ANTREA_API_VERSIONS = ['crd.antrea.io/v1beta1', 'crd.antrea.io/v1alpha1'] as const;
/** v1alpha1 also had the policy kinds under security.antrea.io and the groups under core.antrea.io. */
export const ANTREA_LEGACY_API_VERSIONS = [
  'security.antrea.io/v1alpha1',
  'core.antrea.io/v1alpha2',
  'crd.antrea.io/v1alpha2',
  'crd.antrea.io/v1alpha3',
] as const;
export type AntreaApiVersion =
  (typeof ANTREA_API_VERSIONS)[number] | (typeof ANTREA_LEGACY_API_VERSIONS)[number];

export type RuleAction = 'Allow' | 'Drop' | 'Reject' | 'Pass';

export interface AntreaNetworkPolicyPort {
  protocol?: Protocol;
  port?: number | string;
  endPort?: number;
  sourcePort?: number;
  sourceEndPort?: number;
}

export interface PeerNamespaces {
  match?: 'Self';
  sameLabels?: string[];
}

export interface NamespacedName {
  name: string;
  namespace?: string;
}

export interface AntreaNetworkPolicyPeer {
  ipBlock?: IPBlock;
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  namespaces?: PeerNamespaces;
  /** A ClusterGroup (in a ClusterNetworkPolicy) or a Group of the policy's namespace (in a NetworkPolicy). */
  group?: string;
  // Accepted by Antrea but not supported on this appliance: validation rejects them with a clear reason.
  externalEntitySelector?: LabelSelector;
  fqdn?: string;
  serviceAccount?: NamespacedName;
  nodeSelector?: LabelSelector;
  scope?: string;
}

export interface AntreaAppliedTo {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  group?: string;
  // Not supported here (validation rejects them).
  externalEntitySelector?: LabelSelector;
  serviceAccount?: NamespacedName;
  service?: NamespacedName;
  nodeSelector?: LabelSelector;
}

export interface AntreaRule {
  action: RuleAction;
  ports?: AntreaNetworkPolicyPort[];
  from?: AntreaNetworkPolicyPeer[];
  to?: AntreaNetworkPolicyPeer[];
  name?: string;
  enableLogging?: boolean;
  logLabel?: string;
  appliedTo?: AntreaAppliedTo[];
  // Not supported here (validation rejects them).
  protocols?: unknown[];
  l7Protocols?: unknown[];
  toServices?: unknown[];
}

export interface AntreaPolicySpec {
  tier?: string;
  priority: number;
  appliedTo?: AntreaAppliedTo[];
  ingress?: AntreaRule[];
  egress?: AntreaRule[];
}

export interface ClusterNetworkPolicy {
  apiVersion: AntreaApiVersion;
  kind: 'ClusterNetworkPolicy';
  metadata: ObjectMeta;
  spec: AntreaPolicySpec;
}

/** Antrea-native namespaced NetworkPolicy (kind NetworkPolicy under crd.antrea.io). */
export interface AntreaNetworkPolicy {
  apiVersion: AntreaApiVersion;
  kind: 'NetworkPolicy';
  metadata: ObjectMeta;
  spec: AntreaPolicySpec;
}

export interface Tier {
  apiVersion: AntreaApiVersion;
  kind: 'Tier';
  metadata: ObjectMeta;
  spec: { priority: number; description?: string };
}

export interface GroupSpec {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlocks?: IPBlock[];
  /** v1alpha2/v1alpha3 singular form. */
  ipBlock?: IPBlock;
  serviceReference?: NamespacedName;
  childGroups?: string[];
  // Not supported here.
  externalEntitySelector?: LabelSelector;
  nodeSelector?: LabelSelector;
}

export interface ClusterGroup {
  apiVersion: AntreaApiVersion;
  kind: 'ClusterGroup';
  metadata: ObjectMeta;
  spec: GroupSpec;
}

export interface Group {
  apiVersion: AntreaApiVersion;
  kind: 'Group';
  metadata: ObjectMeta;
  spec: GroupSpec;
}

// ---- core/v1 facts the controller needs ----

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  port: number;
  targetPort?: number | string;
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: { selector?: Record<string, string>; ports?: ServicePort[]; clusterIP?: string };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
}

/** What the controller knows of a pod (from the Kubernetes API or the standalone store). */
export interface PodInfo {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** Empty until the pod has an address. */
  ip: string;
  nodeName: string;
  containerPorts: ContainerPort[];
}

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

/** Every policy-related object kind the controller accepts. */
export type PolicyObject =
  K8sNetworkPolicy | ClusterNetworkPolicy | AntreaNetworkPolicy | Tier | ClusterGroup | Group | Service;

/** Static Antrea tiers: name → priority (lower is evaluated first). */
export const STATIC_TIERS: Readonly<Record<string, number>> = {
  emergency: 50,
  securityops: 100,
  networkops: 150,
  platform: 200,
  application: 250,
  baseline: 253,
};
export const DEFAULT_TIER = 'application';
export const BASELINE_TIER = 'baseline';
