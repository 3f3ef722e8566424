// The crd.antrea.io CustomResourceDefinitions of manifests/, as data: scripts/gen-crds renders them to YAML.
// Each schema is written from the firmware's own model of the object (firmware/core/api/types.ts for the policy
// kinds, firmware/core/antctl/views.ts for the heartbeat's AntreaAgentInfo) and checks what
// firmware/core/api/validation.ts checks by type, enum and range. The property lists are typed against those
// interfaces, so adding a field to the model without describing it here does not compile.
//
// Unsupported Antrea features (fqdn, serviceAccount, nodeSelector, toServices, l7Protocols, ...) are in the schema
// on purpose: the API server must keep them so that objects written for Antrea apply unchanged; the firmware then
// refuses them with "not supported by antrea-edge" when it reads them.
import type {
  AgentConditionType,
  AntreaAgentInfoView,
  ConditionStatus,
  ConditionView,
  NetworkPolicyControllerInfoView,
  ObjectReferenceView,
  OvsInfoView,
} from '../../firmware/core/antctl/views';
import type {
  AntreaAppliedTo,
  AntreaNetworkPolicyPeer,
  AntreaNetworkPolicyPort,
  AntreaPolicySpec,
  AntreaRule,
  GroupSpec,
  IPBlock,
  LabelSelector,
  LabelSelectorRequirement,
  NamespacedName,
  PeerNamespaces,
  Protocol,
  RuleAction,
  SelectorOperator,
  Tier,
} from '../../firmware/core/api/types';

export const CRD_GROUP = 'crd.antrea.io';
export const CRD_VERSION = 'v1beta1';

/** The subset of OpenAPI v3 the CRDs use; test/unit/manifests-crds.test.ts enforces exactly these keywords. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: 'date-time';
  enum?: readonly string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  minItems?: number;
  required?: readonly string[];
  properties?: Readonly<Record<string, JsonSchema>>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  /** 1: shown by `kubectl get -o wide` only. */
  priority?: 1;
}

export interface CrdDefinition {
  kind: string;
  plural: string;
  shortNames: readonly string[];
  scope: 'Cluster' | 'Namespaced';
  /** Whether status is written through the /status subresource (and ignored on spec writes). */
  statusSubresource: boolean;
  printerColumns: readonly PrinterColumn[];
  schema: JsonSchema;
}

// ---- building blocks ----

/** Keys of T that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** One schema per field of T, no more, no fewer. */
type FieldSchemas<T> = { [K in keyof Required<T>]: JsonSchema };
/** Exactly the required fields of T. */
type RequiredFields<T> = { [K in RequiredKeys<T>]: true };

function objectOf<T>(
  description: string,
  properties: FieldSchemas<T>,
  required: RequiredFields<T>,
): JsonSchema {
  const requiredNames = Object.keys(required);
  return {
    type: 'object',
    description,
    ...(requiredNames.length > 0 ? { required: requiredNames } : {}),
    properties,
  };
}

/** Every member of a string union, checked complete by the compiler through the Record's keys. */
function members<T extends string>(all: Record<T, true>): readonly T[] {
  return Object.keys(all) as T[];
}

const text = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: 'string',
  description,
  ...extra,
});
const oneOfText = (description: string, values: readonly string[]): JsonSchema => ({
  type: 'string',
  description,
  enum: values,
});
const integer = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: 'integer',
  description,
  ...extra,
});
const count = (description: string): JsonSchema => integer(description, { minimum: 0 });
const flag = (description: string): JsonSchema => ({ type: 'boolean', description });
const listOf = (description: string, items: JsonSchema): JsonSchema => ({
  type: 'array',
  description,
  items,
});
const texts = (description: string, item: JsonSchema = { type: 'string' }): JsonSchema =>
  listOf(description, item);
const time = (description: string): JsonSchema => text(description, { format: 'date-time' });
/** Where the firmware's model itself is open (`unknown`): kept as written, never inspected by the server. */
const opaque = (description: string): JsonSchema => ({
  type: 'object',
  description,
  'x-kubernetes-preserve-unknown-fields': true,
});

// Same expressions as firmware/core/api/validation.ts (RE2-compatible, which the API server requires).
const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const LOG_LABEL_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';

const PROTOCOLS = members<Protocol>({ TCP: true, UDP: true, SCTP: true });
const ACTIONS = members<RuleAction>({ Allow: true, Drop: true, Reject: true, Pass: true });
const OPERATORS = members<SelectorOperator>({ In: true, NotIn: true, Exists: true, DoesNotExist: true });
const CONDITION_STATUSES = members<ConditionStatus>({ True: true, False: true, Unknown: true });
const AGENT_CONDITION_TYPES = members<AgentConditionType>({
  AgentHealthy: true,
  OVSDBConnectionUp: true,
  OpenflowConnectionUp: true,
});
const REFERENCE_KINDS = members<ObjectReferenceView['kind']>({ Pod: true, Node: true, Service: true });

const labelValue: JsonSchema = text('A label value.', { maxLength: 63, pattern: LABEL_VALUE_PATTERN });
const portNumber = (description: string): JsonSchema => integer(description, { minimum: 1, maximum: 65535 });

// ---- shared parts of the policy kinds ----

const labelSelector = (description: string): JsonSchema =>
  objectOf<LabelSelector>(
    `${description} An empty selector ({}) selects everything; the requirements of a selector are ANDed.`,
    {
      matchLabels: {
        type: 'object',
        description: 'Labels that must all be present with exactly these values.',
        additionalProperties: labelValue,
      },
      matchExpressions: listOf(
        'Set-based requirements on labels.',
        objectOf<LabelSelectorRequirement>(
          'A requirement on one label key.',
          {
            key: text('The label key.'),
            operator: oneOfText(
              'In and NotIn need values; Exists and DoesNotExist must have none.',
              OPERATORS,
            ),
            values: texts('The values In or NotIn compare with.', labelValue),
          },
          { key: true, operator: true },
        ),
      ),
    },
    {},
  );

const ipBlock = objectOf<IPBlock>(
  'An IPv4 or IPv6 range.',
  {
    cidr: text('The range, e.g. 10.0.10.0/24.'),
    except: texts('Ranges inside cidr to leave out.'),
  },
  { cidr: true },
);

const namespacedName = (description: string): JsonSchema =>
  objectOf<NamespacedName>(
    description,
    { name: text('Name.'), namespace: text('Namespace.') },
    { name: true },
  );

const NOT_SUPPORTED = 'Part of the Antrea API; antrea-edge refuses policies that use it.';

const appliedTo = (where: string): JsonSchema =>
  listOf(
    `The Pods ${where} applies to; the entries are ORed.`,
    objectOf<AntreaAppliedTo>(
      'Pods by selector (podSelector with or without namespaceSelector), or a group by name.',
      {
        podSelector: labelSelector('Pods by label.'),
        namespaceSelector: labelSelector(
          'Namespaces by label (ClusterNetworkPolicy only); with podSelector, those Pods in them.',
        ),
        group: text(
          'A ClusterGroup (in a ClusterNetworkPolicy) or a Group of the same Namespace (in a NetworkPolicy).',
        ),
        externalEntitySelector: labelSelector(`ExternalEntities by label. ${NOT_SUPPORTED}`),
        serviceAccount: namespacedName(`Pods running as this ServiceAccount. ${NOT_SUPPORTED}`),
        service: namespacedName(`A NodePort Service. ${NOT_SUPPORTED}`),
        nodeSelector: labelSelector(`Nodes by label. ${NOT_SUPPORTED}`),
      },
      {},
    ),
  );

const peer = objectOf<AntreaNetworkPolicyPeer>(
  'One peer of a rule: an ipBlock, selectors, namespaces, or a group.',
  {
    ipBlock: ipBlock,
    podSelector: labelSelector('Pods by label.'),
    namespaceSelector: labelSelector('Namespaces by label; with podSelector, those Pods in them.'),
    namespaces: objectOf<PeerNamespaces>(
      'Namespaces relative to the applied-to Pod (ClusterNetworkPolicy only); exactly one of match and sameLabels.',
      {
        match: oneOfText("Self: the applied-to Pod's own Namespace.", ['Self']),
        sameLabels: texts(
          'Label keys: Namespaces whose values for all these keys equal those of the applied-to Pod’s Namespace.',
        ),
      },
      {},
    ),
    group: text(
      'A ClusterGroup (in a ClusterNetworkPolicy) or a Group of the same Namespace (in a NetworkPolicy).',
    ),
    externalEntitySelector: labelSelector(`ExternalEntities by label. ${NOT_SUPPORTED}`),
    fqdn: text(`A domain name, possibly with wildcards. ${NOT_SUPPORTED}`),
    serviceAccount: namespacedName(`Pods running as this ServiceAccount. ${NOT_SUPPORTED}`),
    nodeSelector: labelSelector(`Nodes by label. ${NOT_SUPPORTED}`),
    scope: oneOfText('Cluster (the default) or ClusterSet (multi-cluster, not supported by antrea-edge).', [
      'Cluster',
      'ClusterSet',
    ]),
  },
  {},
);

const port = objectOf<AntreaNetworkPolicyPort>(
  'A destination port or range, and optionally a source port range.',
  {
    protocol: oneOfText('Transport protocol; TCP when unset.', PROTOCOLS),
    port: {
      'x-kubernetes-int-or-string': true,
      description: 'A port number, or the name of a container port. Unset: every port.',
      minimum: 1,
      maximum: 65535,
    },
    endPort: portNumber('Last port of the range that starts at port (a number).'),
    sourcePort: portNumber('First source port.'),
    sourceEndPort: portNumber('Last source port of the range that starts at sourcePort.'),
  },
  {},
);

const rule = objectOf<AntreaRule>(
  'A rule; the first rule that matches a connection decides, in the order written.',
  {
    action: oneOfText(
      'Allow, Drop, Reject (drop and answer with a TCP RST or an ICMP unreachable), or Pass (skip to the Kubernetes NetworkPolicies and the baseline tier).',
      ACTIONS,
    ),
    ports: listOf('Ports the rule matches; unset: every port and protocol.', port),
    from: listOf('Sources of an ingress rule; unset: any source.', peer),
    to: listOf('Destinations of an egress rule; unset: any destination.', peer),
    name: text('Unique within the policy; generated from the rule when unset.'),
    enableLogging: flag('Log the connections this rule decides.'),
    logLabel: text('A tag written with each log entry of this rule.', { pattern: LOG_LABEL_PATTERN }),
    appliedTo: appliedTo('this rule'),
    protocols: listOf(
      `Protocols other than ports (ICMP, IGMP). ${NOT_SUPPORTED}`,
      opaque('A protocol match.'),
    ),
    l7Protocols: listOf(`Layer 7 matches (HTTP, TLS). ${NOT_SUPPORTED}`, opaque('A layer 7 match.')),
    toServices: listOf(`Services as destinations. ${NOT_SUPPORTED}`, opaque('A Service reference.')),
  },
  { action: true },
);

const policySpec = (kind: string): JsonSchema =>
  objectOf<AntreaPolicySpec>(
    `What the ${kind} selects and its ordered rules.`,
    {
      tier: text(
        'The tier the policy belongs to: a static tier (emergency, securityops, networkops, platform, application, baseline) or a Tier object; application when unset.',
      ),
      priority: {
        type: 'number',
        description: 'Order within the tier: lower first; ties are broken by name.',
        minimum: 1,
        maximum: 10000,
      },
      appliedTo: appliedTo('the policy'),
      ingress: listOf('Rules for traffic to the applied-to Pods, in order.', rule),
      egress: listOf('Rules for traffic from the applied-to Pods, in order.', rule),
    },
    { priority: true },
  );

/** What Antrea's controller reports on a policy (docs/antrea-network-policy.md, "Realization status"). */
interface PolicyStatus {
  phase?: string;
  observedGeneration?: number;
  currentNodesRealized?: number;
  desiredNodesRealized?: number;
  conditions?: PolicyCondition[];
}

interface PolicyCondition {
  type: string;
  status: ConditionStatus;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

const policyStatus = objectOf<PolicyStatus>(
  'Realization of the policy on the Nodes, written by the controller.',
  {
    phase: text('Pending, Realizing, Realized or Failed.'),
    observedGeneration: count('The metadata.generation this status describes.'),
    currentNodesRealized: count('Nodes that have enforced the policy.'),
    desiredNodesRealized: count('Nodes that have to enforce it.'),
    conditions: listOf('Observations of the policy.', condition('A condition of the policy.')),
  },
  {},
);

interface GroupStatus {
  conditions?: PolicyCondition[];
}

const groupStatus = objectOf<GroupStatus>(
  'Written by the controller.',
  {
    conditions: listOf(
      'Observations of the group, e.g. GroupMembersComputed.',
      condition('A condition of the group.'),
    ),
  },
  {},
);

function condition(description: string): JsonSchema {
  return objectOf<PolicyCondition>(
    description,
    {
      type: text('What is observed.'),
      status: oneOfText('True, False or Unknown.', CONDITION_STATUSES),
      lastTransitionTime: time('When status last changed.'),
      reason: text('Why, in CamelCase.'),
      message: text('Why, for people.'),
    },
    { type: true, status: true },
  );
}

const groupSpec = (kind: string): JsonSchema =>
  objectOf<GroupSpec>(
    `Members of the ${kind}: at most one of podSelector (optionally with namespaceSelector), ipBlocks, serviceReference or childGroups.`,
    {
      podSelector: labelSelector('Pods by label.'),
      namespaceSelector: labelSelector('Namespaces by label; with podSelector, those Pods in them.'),
      ipBlocks: listOf('Address ranges.', ipBlock),
      ipBlock: { ...ipBlock, description: 'One address range (the v1alpha2 form; prefer ipBlocks).' },
      serviceReference: namespacedName(
        'The endpoints of a Service (the namespace is required in a ClusterGroup).',
      ),
      childGroups: texts(`Names of other ${kind}s whose members this one includes (one level only).`),
      externalEntitySelector: labelSelector(`ExternalEntities by label. ${NOT_SUPPORTED}`),
      nodeSelector: labelSelector(`Nodes by label. ${NOT_SUPPORTED}`),
    },
    {},
  );

// ---- the objects ----

/** The fields the API server handles itself; listed so that kubectl explain describes them. */
const TYPE_META: Readonly<Record<'apiVersion' | 'kind' | 'metadata', JsonSchema>> = {
  apiVersion: text('crd.antrea.io/v1beta1.'),
  kind: text('The kind of the object.'),
  metadata: { type: 'object', description: 'Name, labels and the rest of the standard object metadata.' },
};

function resource(
  description: string,
  properties: Readonly<Record<string, JsonSchema>>,
  required: readonly string[],
): JsonSchema {
  return { type: 'object', description, required, properties: { ...TYPE_META, ...properties } };
}

const AGE: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

const policyColumns: readonly PrinterColumn[] = [
  { name: 'Tier', type: 'string', jsonPath: '.spec.tier', description: 'The tier of the policy.' },
  { name: 'Priority', type: 'number', jsonPath: '.spec.priority', description: 'Order within the tier.' },
  {
    name: 'Desired Nodes',
    type: 'integer',
    jsonPath: '.status.desiredNodesRealized',
    description: 'Nodes that have to enforce the policy.',
  },
  {
    name: 'Current Nodes',
    type: 'integer',
    jsonPath: '.status.currentNodesRealized',
    description: 'Nodes that enforce it.',
  },
  AGE,
];

type AgentInfoFields = Omit<AntreaAgentInfoView, 'apiVersion' | 'kind' | 'metadata'>;

const reference = (description: string): JsonSchema =>
  objectOf<ObjectReferenceView>(
    description,
    {
      kind: oneOfText('Kind of the object.', REFERENCE_KINDS),
      namespace: text('Namespace, for a Pod.'),
      name: text('Name.'),
    },
    { kind: true, name: true },
  );

const agentInfoFields = objectOf<AgentInfoFields>(
  '',
  {
    version: text('Firmware version.'),
    podRef: reference('The Pod the agent runs as.'),
    nodeRef: reference('The Node the agent runs on.'),
    nodeSubnets: texts('Pod address ranges of the Node.'),
    ovsInfo: objectOf<OvsInfoView>(
      'The Open vSwitch bridge the agent programs.',
      {
        version: text('Open vSwitch version; absent while OVSDB does not answer.'),
        bridgeName: text('Bridge name, e.g. br-int.'),
        flowTable: {
          type: 'object',
          description: 'Flow count per OpenFlow table, by table number; every pipeline table is listed.',
          additionalProperties: count('Flows in the table.'),
        },
      },
      { bridgeName: true, flowTable: true },
    ),
    networkPolicyControllerInfo: objectOf<NetworkPolicyControllerInfoView>(
      'Totals of the policy controller (it runs in the agent’s process).',
      {
        networkPolicyNum: count('Policies computed.'),
        addressGroupNum: count('Address groups computed.'),
        appliedToGroupNum: count('Applied-to groups computed.'),
      },
      { networkPolicyNum: true, addressGroupNum: true, appliedToGroupNum: true },
    ),
    localPodNum: count('Pods on this Node.'),
    agentConditions: listOf(
      'Health of the agent and its connections, renewed at every heartbeat.',
      objectOf<ConditionView<AgentConditionType>>(
        'One condition.',
        {
          type: oneOfText('What is observed.', AGENT_CONDITION_TYPES),
          status: oneOfText('True, False or Unknown.', CONDITION_STATUSES),
          lastHeartbeatTime: time('The heartbeat that reported it.'),
          reason: text('Why, in CamelCase.'),
          message: text('Why, for people.'),
        },
        { type: true, status: true, lastHeartbeatTime: true },
      ),
    ),
  },
  {
    podRef: true,
    nodeRef: true,
    nodeSubnets: true,
    ovsInfo: true,
    networkPolicyControllerInfo: true,
    localPodNum: true,
  },
);

const agentHealthy = '.agentConditions[?(@.type=="AgentHealthy")]';

export const CRD_DEFINITIONS: readonly CrdDefinition[] = [
  {
    kind: 'ClusterNetworkPolicy',
    plural: 'clusternetworkpolicies',
    shortNames: ['acnp'],
    scope: 'Cluster',
    statusSubresource: true,
    printerColumns: policyColumns,
    schema: resource(
      'An Antrea ClusterNetworkPolicy: ordered Allow/Drop/Reject/Pass rules for Pods of any Namespace, evaluated by tier and priority before Kubernetes NetworkPolicies.',
      { spec: policySpec('ClusterNetworkPolicy'), status: policyStatus },
      ['spec'],
    ),
  },
  {
    kind: 'NetworkPolicy',
    plural: 'networkpolicies',
    shortNames: ['annp', 'anp'],
    scope: 'Namespaced',
    statusSubresource: true,
    printerColumns: policyColumns,
    schema: resource(
      'An Antrea NetworkPolicy: ordered Allow/Drop/Reject/Pass rules for Pods of its Namespace, evaluated by tier and priority before Kubernetes NetworkPolicies.',
      { spec: policySpec('NetworkPolicy'), status: policyStatus },
      ['spec'],
    ),
  },
  {
    kind: 'Tier',
    plural: 'tiers',
    shortNames: ['tr'],
    scope: 'Cluster',
    statusSubresource: false,
    printerColumns: [
      {
        name: 'Priority',
        type: 'integer',
        jsonPath: '.spec.priority',
        description: 'Lower is evaluated first.',
      },
      {
        name: 'Description',
        type: 'string',
        jsonPath: '.spec.description',
        description: 'What the tier is for.',
        priority: 1,
      },
      AGE,
    ],
    schema: resource(
      'A tier of Antrea policies: tiers are evaluated in priority order, the policies of a tier before those of the next.',
      {
        spec: objectOf<Tier['spec']>(
          'The place of the tier.',
          {
            priority: integer(
              'Lower is evaluated first; unique among tiers and fixed once created. The static tiers hold 50, 100, 150, 200, 250 and 253.',
              { minimum: 0, maximum: 255 },
            ),
            description: text('What the tier is for.'),
          },
          { priority: true },
        ),
      },
      ['spec'],
    ),
  },
  {
    kind: 'ClusterGroup',
    plural: 'clustergroups',
    shortNames: ['cg'],
    scope: 'Cluster',
    statusSubresource: true,
    printerColumns: [],
    schema: resource(
      'A named set of Pods, address ranges or Service endpoints from any Namespace, for ClusterNetworkPolicies to refer to.',
      { spec: groupSpec('ClusterGroup'), status: groupStatus },
      [],
    ),
  },
  {
    kind: 'Group',
    plural: 'groups',
    shortNames: ['grp'],
    scope: 'Namespaced',
    statusSubresource: true,
    printerColumns: [],
    schema: resource(
      'A named set of Pods, address ranges or Service endpoints, for the Antrea NetworkPolicies of its Namespace to refer to.',
      { spec: groupSpec('Group'), status: groupStatus },
      [],
    ),
  },
  {
    kind: 'AntreaAgentInfo',
    plural: 'antreaagentinfos',
    shortNames: ['aai'],
    scope: 'Cluster',
    statusSubresource: false,
    printerColumns: [
      {
        name: 'Healthy',
        type: 'string',
        jsonPath: `${agentHealthy}.status`,
        description: 'Whether the agent reports itself healthy.',
      },
      {
        name: 'Last Heartbeat',
        type: 'date',
        jsonPath: `${agentHealthy}.lastHeartbeatTime`,
        description: 'Time since the last heartbeat.',
      },
      { name: 'Version', type: 'string', jsonPath: '.version', description: 'Firmware version.' },
      { name: 'Node', type: 'string', jsonPath: '.nodeRef.name', description: 'The Node.' },
      { name: 'Pods', type: 'integer', jsonPath: '.localPodNum', description: 'Pods on the Node.' },
      { name: 'Subnets', type: 'string', jsonPath: '.nodeSubnets', description: 'Pod address ranges.' },
      {
        name: 'OVS',
        type: 'string',
        jsonPath: '.ovsInfo.version',
        description: 'Open vSwitch version.',
        priority: 1,
      },
    ],
    schema: resource(
      'The heartbeat of the antrea-edge agent of one Node (the object is named after the Node), as antctl get agentinfo shows it.',
      agentInfoFields.properties ?? {},
      agentInfoFields.required ?? [],
    ),
  },
];
