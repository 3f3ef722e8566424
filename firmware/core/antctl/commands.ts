// The antctl command table (data), its argument parser, help renderer and command runner. The serial
// console shares all of it; only transports differ (CLI: local API socket, console: in-process queries).
import { parseManifests, withDefaultNamespace, type ManifestError } from '../api/manifests';
import { formatFieldError } from '../api/validation';
import { isNamespacedKind, type ObjectKind } from '../api/object-key';
import type { Protocol } from '../api/types';
import type { DirectionResult } from '../evaluate/evaluator';
import {
  formatOutput,
  isOutputKind,
  OUTPUT_KINDS,
  summarizeList,
  type OutputKind,
  type TableData,
} from '../output/format';
import { antreaAgentInfo, describeAgentInfo } from './agentinfo';
import { ApiError } from './api-error';
import type {
  AddressGroupView,
  AgentInfoView,
  AgentQueries,
  AppliedToGroupView,
  ApplyResultView,
  ControllerInfoView,
  ControllerQueries,
  NetworkPolicyEvaluationView,
  NetworkPolicyStatsView,
  NetworkPolicyTypeFilter,
  NetworkPolicyView,
  PodInterfaceView,
  PolicyCommands,
  PolicyQueries,
  PolicyStatsQueries,
  LogLevelCommands,
  LogLevelView,
  SupportBundleCommands,
  TraceflowQueries,
} from './views';
import { normalizeTraceRequest, TraceflowError, type TraceflowRequest } from '../traceflow/types';
import { traceflowText } from '../traceflow/render';
import { LOG_LEVELS, NETWORK_POLICY_TYPE_FILTERS, parseLogLevel, parseNetworkPolicyType } from './views';
import type { LogLevel } from '../logger';

export const PROGRAM_NAME = 'antctl';
export const DEFAULT_SOCKET_PATH = '/var/run/antrea-edge/antctl.sock';
export const SOCKET_ENV_VAR = 'ANTREA_EDGE_ANTCTL_SOCKET';

export interface FlagSpec {
  /** Long name, used as `--name`. */
  readonly name: string;
  /** One letter, used as `-x`. */
  readonly shorthand?: string;
  /** Type shown in help (`string`); absent for switches such as `--help`. */
  readonly valueType?: 'string';
  readonly usage: string;
  readonly defaultValue?: string;
}

export interface ArgSpec {
  readonly name: string;
  readonly usage: string;
  /** Required arguments come first; an optional one is shown as `[NAME]`. */
  readonly required?: boolean;
}

export interface CommandExample {
  readonly description: string;
  readonly command: string;
}

export type CommandId =
  | 'get podinterface'
  | 'get ovsflows'
  | 'get agentinfo'
  | 'get controllerinfo'
  | 'describe agentinfo'
  | 'get networkpolicy'
  | 'get networkpolicystats'
  | 'get addressgroup'
  | 'get appliedtogroup'
  | 'query networkpolicyevaluation'
  | 'apply'
  | 'delete'
  | 'log-level'
  | 'supportbundle'
  | 'traceflow'
  | 'version';

export interface CommandSpec {
  readonly id: CommandId;
  /** The group word in front of the command, if any (`get`). */
  readonly group?: string;
  readonly use: string;
  readonly aliases: readonly string[];
  readonly short: string;
  readonly long: string;
  /** Positional arguments, required ones first. */
  readonly args?: readonly ArgSpec[];
  readonly flags: readonly FlagSpec[];
  readonly examples: readonly CommandExample[];
}

export interface CommandGroupSpec {
  readonly use: string;
  readonly short: string;
  readonly long: string;
}

export interface CommandTable {
  readonly program: string;
  readonly short: string;
  readonly long: string;
  readonly groups: readonly CommandGroupSpec[];
  readonly commands: readonly CommandSpec[];
  /** Accepted at every level, before or after the command words. */
  readonly globalFlags: readonly FlagSpec[];
}

const HELP_FLAG: FlagSpec = { name: 'help', shorthand: 'h', usage: 'help for this command' };

/**
 * The KIND words of `delete`. `networkpolicy` is the Kubernetes kind (networking.k8s.io), as in kubectl; Antrea's
 * namespaced NetworkPolicy is `anp` (Antrea's short names `annp`/`anp`) or `networkpolicy.crd.antrea.io`.
 */
export const RESOURCE_KINDS: readonly { kind: ObjectKind; resource: string; words: readonly string[] }[] = [
  {
    kind: 'K8sNetworkPolicy',
    resource: 'networkpolicy.networking.k8s.io',
    words: ['networkpolicy', 'networkpolicies', 'netpol', 'networkpolicy.networking.k8s.io'],
  },
  {
    kind: 'AntreaNetworkPolicy',
    resource: 'networkpolicy.crd.antrea.io',
    words: ['anp', 'annp', 'antreanetworkpolicy', 'antreanetworkpolicies', 'networkpolicy.crd.antrea.io'],
  },
  {
    kind: 'ClusterNetworkPolicy',
    resource: 'clusternetworkpolicy.crd.antrea.io',
    words: [
      'clusternetworkpolicy',
      'clusternetworkpolicies',
      'acnp',
      'cnp',
      'clusternetworkpolicy.crd.antrea.io',
    ],
  },
  { kind: 'Tier', resource: 'tier.crd.antrea.io', words: ['tier', 'tiers', 'tr', 'tier.crd.antrea.io'] },
  {
    kind: 'ClusterGroup',
    resource: 'clustergroup.crd.antrea.io',
    words: ['clustergroup', 'clustergroups', 'cg', 'clustergroup.crd.antrea.io'],
  },
  {
    kind: 'Group',
    resource: 'group.crd.antrea.io',
    words: ['group', 'groups', 'grp', 'group.crd.antrea.io'],
  },
  { kind: 'Service', resource: 'service', words: ['service', 'services', 'svc'] },
];

/** kubectl's name for a kind in `apply`/`delete` output, e.g. `networkpolicy.networking.k8s.io`. */
export function resourceName(kind: ObjectKind): string {
  return RESOURCE_KINDS.find((entry) => entry.kind === kind)?.resource ?? kind.toLowerCase();
}

const POLICY_TYPE_FILTERS = NETWORK_POLICY_TYPE_FILTERS;
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

function outputFlag(defaultValue: OutputKind): FlagSpec {
  return {
    name: 'output',
    shorthand: 'o',
    valueType: 'string',
    usage: `output format: ${OUTPUT_KINDS.join('|')}`,
    defaultValue,
  };
}

export const ANTCTL_COMMANDS: CommandTable = {
  program: PROGRAM_NAME,
  short: `${PROGRAM_NAME} is the command line tool for antrea-edge`,
  long: `${PROGRAM_NAME} is the command line tool for antrea-edge that shows the status of the local agent and manages its network policies`,
  groups: [
    {
      use: 'get',
      short: 'Get the status or resource of a topic',
      long: 'Get the status or resource of a topic',
    },
    {
      use: 'query',
      short: 'Execute a user-provided query',
      long: 'Execute a user-provided query',
    },
    {
      use: 'describe',
      short: 'Show details of a resource',
      long: 'Show the details of a resource as a tree of fields, as kubectl describe prints them',
    },
  ],
  commands: [
    {
      id: 'get agentinfo',
      group: 'get',
      use: 'agentinfo',
      aliases: ['agentinfos', 'ai'],
      short: "Print agent's basic information",
      long: "Print agent's basic information including Node subnet, health, OVS version and NetworkPolicy counts.",
      flags: [outputFlag('table')],
      examples: [
        { description: "Print the agent's basic information", command: 'antctl get agentinfo' },
        {
          description:
            'Print it as an AntreaAgentInfo object, with the OVS version and flow counts per table',
          command: 'antctl get ai -o yaml',
        },
      ],
    },
    {
      id: 'describe agentinfo',
      group: 'describe',
      use: 'agentinfo',
      aliases: ['agentinfos', 'ai'],
      short: "Show the details of the agent's basic information",
      long: "Show the agent's basic information as kubectl describe antreaagentinfos prints it on an Antrea cluster: version, Node and Pod, Node subnets, the OVS version and bridge with the number of flows in every pipeline table (number and name, in pipeline order), NetworkPolicy counts, local Pods and the agent's conditions (AgentHealthy, OVSDBConnectionUp, OpenflowConnectionUp) with their heartbeat time.",
      flags: [],
      examples: [
        {
          description: "Show the details of the agent's basic information",
          command: 'antctl describe agentinfo',
        },
        { description: 'The same, with the short name', command: 'antctl describe ai' },
      ],
    },
    {
      id: 'get controllerinfo',
      group: 'get',
      use: 'controllerinfo',
      aliases: ['controllerinfos', 'ci'],
      short: "Print Antrea controller's basic information",
      long: "Print the basic information of the NetworkPolicy controller, which runs inside this firmware next to the agent (standalone mode): its health, how many NetworkPolicies, AddressGroups and AppliedToGroups it computed (all of them, not only those that span this node) and how many agents it serves (this node's).",
      flags: [outputFlag('table')],
      examples: [
        { description: "Print the controller's basic information", command: 'antctl get controllerinfo' },
        {
          description: 'Print it as an AntreaControllerInfo object, with its heartbeat time',
          command: 'antctl get ci -o yaml',
        },
      ],
    },
    {
      id: 'get ovsflows',
      group: 'get',
      use: 'ovsflows',
      aliases: ['of'],
      short: 'Dump OVS flows',
      long: "Dump all the OVS flows or the flows installed for the specified Pod, for the specified NetworkPolicy or in the specified table. The flows of a NetworkPolicy are every flow that realizes it on this node: each rule's conj_id action flow and its clause flows (also clause flows it shares with other rules), and for a Kubernetes NetworkPolicy the isolation drops of the local Pods it selects, in table order with their n_packets and n_bytes. A policy that does not exist or has no flows on this node is an error.",
      flags: [
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Namespace of the Pod or of the NetworkPolicy',
        },
        {
          name: 'pod',
          shorthand: 'p',
          valueType: 'string',
          usage: 'Name of a local Pod. If present, Namespace must be provided.',
        },
        {
          name: 'networkpolicy',
          shorthand: 'N',
          valueType: 'string',
          usage:
            'NetworkPolicy name (or control plane uid). Without -n a cluster-scoped policy (ACNP); with -n a policy of that Namespace (K8sNP, ANNP).',
        },
        {
          name: 'type',
          valueType: 'string',
          usage: `NetworkPolicy type, when a Namespace has several policies of that name: ${POLICY_TYPE_FILTERS.join(', ')} (ANP = ANNP)`,
        },
        {
          name: 'table',
          shorthand: 'T',
          valueType: 'string',
          usage: 'Name or number of a pipeline table, e.g. Classification or 0',
        },
        outputFlag('table'),
      ],
      examples: [
        { description: 'Dump all OVS flows', command: 'antctl get ovsflows' },
        { description: 'Dump OVS flows of a local Pod', command: 'antctl get ovsflows -p pod1 -n ns1' },
        {
          description: 'Dump OVS flows of a Kubernetes NetworkPolicy',
          command: 'antctl get ovsflows -N np1 -n ns1 --type K8sNP',
        },
        {
          description: 'Dump OVS flows of an Antrea ClusterNetworkPolicy',
          command: 'antctl get ovsflows --networkpolicy acnp1',
        },
        { description: 'Dump OVS flows of a flow table', command: 'antctl get ovsflows -T IngressRule' },
        { description: 'Dump OVS flows of a flow table by number', command: 'antctl get of -T 90' },
      ],
    },
    {
      id: 'get podinterface',
      group: 'get',
      use: 'podinterface',
      aliases: ['podinterfaces', 'pi'],
      short: "Print Pod's network interface information",
      long: 'Print information about the network interface(s) created by the antrea-edge agent for local Pods.',
      args: [{ name: 'NAME', usage: 'Name of the Pod; without -n, Pods of that name in all Namespaces' }],
      flags: [
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Get Pod interfaces from specific Namespace',
        },
        outputFlag('table'),
      ],
      examples: [
        { description: 'Get a pod-interface', command: 'antctl get podinterface pod1 -n ns1' },
        {
          description: 'Get the list of podinterfaces in a Namespace',
          command: 'antctl get podinterface -n ns1',
        },
        {
          description: 'Get the list of podinterfaces whose names match in all Namespaces',
          command: 'antctl get podinterface pod1',
        },
        {
          description: 'Get the list of podinterfaces in all Namespaces',
          command: 'antctl get podinterface',
        },
      ],
    },
    {
      id: 'get networkpolicy',
      group: 'get',
      use: 'networkpolicy',
      aliases: ['networkpolicies', 'netpol'],
      short: 'Print control plane NetworkPolicies',
      long: 'Print control plane NetworkPolicies: the policies the controller computed from Kubernetes NetworkPolicies and Antrea-native policies, with their AppliedToGroups, rule counts, source and priorities.',
      args: [
        {
          name: 'NAME',
          usage: 'Name of the control plane NetworkPolicy (its UID) or of the policy it was computed from',
        },
      ],
      flags: [
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Get NetworkPolicies whose source policy is in this Namespace',
        },
        {
          name: 'type',
          shorthand: 'T',
          valueType: 'string',
          usage: `Get NetworkPolicies with specific type. Type refers to the type of its source NetworkPolicy: ${POLICY_TYPE_FILTERS.join(', ')}`,
        },
        outputFlag('table'),
      ],
      examples: [
        {
          description: 'Get the list of all control plane NetworkPolicies',
          command: 'antctl get networkpolicy',
        },
        {
          description: 'Get the control plane NetworkPolicy computed from a policy',
          command: 'antctl get networkpolicy nginx-allow -n default',
        },
        {
          description: 'Get the list of control plane NetworkPolicies with a specific source type',
          command: 'antctl get netpol -T acnp -o yaml',
        },
      ],
    },
    {
      id: 'get networkpolicystats',
      group: 'get',
      use: 'networkpolicystats',
      aliases: ['networkpolicystat', 'netpolstats', 'nps'],
      short: 'Print traffic statistics of NetworkPolicies on this node',
      long: [
        "Print the traffic statistics of NetworkPolicies on this node, with a breakdown per rule in -o json|yaml (ruleTrafficStats), as in Antrea's stats API (stats.antrea.io).",
        '',
        'What is counted: established connections take the conntrack fast path past every rule table, so a rule counts the packets it DECIDED, read from its conj_id action flow. For Allow (and Pass) rules these are the packets of connections that are not yet established: one SYN per TCP connection (plus retransmitted SYNs), the packets of a UDP flow sent before its first reply. SESSIONS is that number (about one per new connection); PACKETS and BYTES are the same packets, not the whole traffic of the allowed connections. For Drop and Reject rules every dropped packet is counted, and each counts as a session (as in Antrea). Drops of Pods isolated by Kubernetes NetworkPolicies (no rule allows) belong to no rule and are not counted.',
        '',
        "Counters start when a rule's flows are installed: editing a rule gives it new flows, and flows do not survive an ovs-vswitchd restart. CREATED AT is when counting started, as in Antrea (the oldest action flow of the policy on this node); <NONE> when the policy has no flows on this node.",
      ].join('\n'),
      args: [{ name: 'NAME', usage: 'Name of the NetworkPolicy (or control plane uid)' }],
      flags: [
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Get statistics of NetworkPolicies in this Namespace',
        },
        {
          name: 'type',
          shorthand: 'T',
          valueType: 'string',
          usage: `Get statistics of NetworkPolicies of one type: ${POLICY_TYPE_FILTERS.join(', ')} (ANP = ANNP)`,
        },
        outputFlag('table'),
      ],
      examples: [
        {
          description: 'Get the statistics of all NetworkPolicies',
          command: 'antctl get networkpolicystats',
        },
        {
          description: 'Get the statistics of Kubernetes NetworkPolicies in a Namespace',
          command: 'antctl get networkpolicystats -n default -T K8sNP',
        },
        {
          description: 'Get the per-rule statistics of an Antrea ClusterNetworkPolicy',
          command: 'antctl get nps cluster-access-dns -T ACNP -o json',
        },
      ],
    },
    {
      id: 'get appliedtogroup',
      group: 'get',
      use: 'appliedtogroup',
      aliases: ['appliedtogroups', 'atg'],
      short: 'Print appliedto groups',
      long: 'Print appliedto groups: the Pods each control plane NetworkPolicy (or rule) applies to.',
      args: [{ name: 'NAME', usage: 'Retrieve resource by name' }],
      flags: [outputFlag('table')],
      examples: [
        { description: 'Get the list of all AppliedToGroups', command: 'antctl get appliedtogroup' },
        { description: 'Get the members of all AppliedToGroups', command: 'antctl get atg -o yaml' },
      ],
    },
    {
      id: 'get addressgroup',
      group: 'get',
      use: 'addressgroup',
      aliases: ['addressgroups', 'ag'],
      short: 'Print address groups',
      long: 'Print address groups: the Pod addresses the peers of NetworkPolicy rules stand for.',
      args: [{ name: 'NAME', usage: 'Retrieve resource by name' }],
      flags: [outputFlag('table')],
      examples: [
        { description: 'Get the list of all AddressGroups', command: 'antctl get addressgroup' },
        { description: 'Get the members of all AddressGroups', command: 'antctl get ag -o json' },
      ],
    },
    {
      id: 'query networkpolicyevaluation',
      group: 'query',
      use: 'networkpolicyevaluation',
      aliases: ['networkpoliciesevaluation', 'networkpolicyeval', 'networkpolicieseval', 'netpoleval'],
      short: 'Analyze effective NetworkPolicy rules.',
      long: 'Analyze network policies and return, for the source (egress) and the destination (ingress), the rule expected to be effective on a connection and its verdict, or "no policy" when none applies. Endpoints are NAMESPACE/POD, POD (in Namespace default) or an IPv4 address. The verdict depends on the destination port, so --port is required.',
      flags: [
        {
          name: 'source',
          shorthand: 'S',
          valueType: 'string',
          usage: 'Source endpoint, specified by <Namespace>/<name> or an IP address.',
        },
        {
          name: 'destination',
          shorthand: 'D',
          valueType: 'string',
          usage: 'Destination endpoint, specified by <Namespace>/<name> or an IP address.',
        },
        { name: 'port', valueType: 'string', usage: 'Destination port of the connection (required)' },
        {
          name: 'protocol',
          valueType: 'string',
          usage: `Protocol of the connection: ${PROTOCOLS.join(', ')}`,
          defaultValue: 'TCP',
        },
        outputFlag('table'),
      ],
      examples: [
        {
          description: 'Query effective NetworkPolicy rule between two Pods',
          command: 'antctl query networkpolicyevaluation -S ns1/pod1 -D ns2/pod2 --port 80',
        },
        {
          description: 'Query the rule for UDP from a Pod to an address',
          command: 'antctl query netpoleval -S default/client -D 10.10.0.9 --port 53 --protocol UDP',
        },
      ],
    },
    {
      id: 'apply',
      use: 'apply',
      aliases: [],
      short: 'Apply network policies from a file or standard input',
      long: 'Apply Kubernetes NetworkPolicies and Antrea ClusterNetworkPolicies, NetworkPolicies, Tiers, ClusterGroups, Groups and Services from a manifest: multi-document YAML or JSON, as kubectl apply reads it. All or nothing: if any object is invalid, nothing is applied and every field error is printed with the document it is in.',
      flags: [
        {
          name: 'filename',
          shorthand: 'f',
          valueType: 'string',
          usage: 'File that contains the objects to apply; - reads standard input',
        },
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Namespace of namespaced objects that do not name one (default "default")',
        },
        outputFlag('table'),
      ],
      examples: [
        { description: 'Apply the policies in a file', command: 'antctl apply -f nginx-allow.yaml' },
        {
          description: 'Apply a manifest from standard input',
          command: 'cat policies.yaml | antctl apply -f -',
        },
      ],
    },
    {
      id: 'delete',
      use: 'delete',
      aliases: [],
      short: 'Delete a network policy object',
      long: `Delete a network policy object by kind and name. KIND is one of: networkpolicy (netpol; the Kubernetes networking.k8s.io NetworkPolicy), anp (annp, networkpolicy.crd.antrea.io; the Antrea-native NetworkPolicy), clusternetworkpolicy (acnp, cnp), tier (tr), clustergroup (cg), group (grp), service (svc).`,
      args: [
        {
          name: 'KIND',
          usage: 'Kind of the object, e.g. networkpolicy, anp, acnp, tier, cg, group',
          required: true,
        },
        { name: 'NAME', usage: 'Name of the object', required: true },
      ],
      flags: [
        {
          name: 'namespace',
          shorthand: 'n',
          valueType: 'string',
          usage: 'Namespace of a namespaced object (default "default"); ignored for cluster-scoped kinds',
        },
        outputFlag('table'),
      ],
      examples: [
        {
          description: 'Delete a Kubernetes NetworkPolicy',
          command: 'antctl delete networkpolicy nginx-allow -n default',
        },
        {
          description: 'Delete an Antrea ClusterNetworkPolicy',
          command: 'antctl delete acnp strict-ns-isolation',
        },
      ],
    },
    {
      id: 'log-level',
      use: 'log-level',
      aliases: ['loglevel'],
      short: 'Show or set the log level of the firmware',
      long: `Show the log level of the antrea-edge firmware (agent and controller), or set it at run time without a restart. LEVEL is one of ${LOG_LEVELS.join(', ')}; the change lasts until the firmware restarts (its --log-level applies then).`,
      args: [{ name: 'LEVEL', usage: `New level: ${LOG_LEVELS.join(', ')}` }],
      flags: [outputFlag('table')],
      examples: [
        { description: 'Show the current log level', command: 'antctl log-level' },
        { description: 'Log debug lines from now on', command: 'antctl log-level debug' },
      ],
    },
    {
      id: 'supportbundle',
      use: 'supportbundle',
      aliases: [],
      short: 'Generate a support bundle',
      long: 'Collect the firmware log, np.log, the OVS flows and database, policies and groups, agent and controller info, the store schema version, the board profile and system facts into one tar.gz on the appliance, with secrets redacted. Prints progress while it collects, then the path of the bundle.',
      flags: [
        {
          name: 'dir',
          shorthand: 'd',
          valueType: 'string',
          usage:
            "Directory to write the bundle to (antctl: the current directory by default; the console: the firmware's data directory)",
        },
        outputFlag('table'),
      ],
      examples: [
        { description: 'Write a support bundle to the current directory', command: 'antctl supportbundle' },
        { description: 'Write it to /tmp', command: 'antctl supportbundle --dir /tmp' },
      ],
    },
    {
      id: 'traceflow',
      use: 'traceflow',
      aliases: ['tf'],
      short: 'Start a Traceflow',
      long: "Trace a packet from a local Pod through this node's OpenFlow pipeline and report, as Antrea's Traceflow does, what each component did with it (SpoofGuard, NetworkPolicy with the deciding policy and rule, Forwarding, Output) and the final result: Delivered, Dropped, Rejected, Forwarded (tunnel) or ForwardedOutOfOverlay (gateway). The injected packet (TCP SYN, UDP or ICMP echo) carries a mark real traffic cannot carry and never reaches the destination. With --live, the next new connection from the source that matches the filter is traced instead, and its packets continue as usual.",
      flags: [
        {
          name: 'source',
          shorthand: 'S',
          valueType: 'string',
          usage: 'Source Pod: <Namespace>/<name> (on this node)',
        },
        {
          name: 'destination',
          shorthand: 'D',
          valueType: 'string',
          usage: 'Destination Pod <Namespace>/<name> on this node, or an IPv4 address',
        },
        { name: 'destination-ip', valueType: 'string', usage: 'Destination IPv4 address' },
        {
          name: 'protocol',
          valueType: 'string',
          usage: 'TCP, UDP or ICMP (default: TCP with --port, else ICMP)',
        },
        { name: 'port', valueType: 'string', usage: 'Destination port (TCP/UDP; required unless --live)' },
        {
          name: 'flow',
          shorthand: 'f',
          valueType: 'string',
          usage:
            'The packet in Antrea\'s filter syntax instead of --protocol/--port/--source-port: "tcp,tcp_dst=80", "udp,udp_dst=53,udp_src=5353" or "icmp"',
        },
        { name: 'source-port', valueType: 'string', usage: 'Source port (TCP/UDP; random when absent)' },
        { name: 'live', usage: 'Trace the next real packet of a new connection from the source instead' },
        { name: 'timeout', valueType: 'string', usage: 'Seconds to wait for the packet', defaultValue: '20' },
        outputFlag('table'),
      ],
      examples: [
        {
          description: 'Trace a TCP SYN from one Pod to port 80 of another',
          command: 'antctl traceflow -S default/client -D default/web --port 80',
        },
        {
          description: "The same with Antrea's flow filter syntax",
          command: 'antctl traceflow -S default/client -D default/web -f tcp,tcp_dst=80',
        },
        {
          description: 'Trace an ICMP echo to an address, as YAML',
          command: 'antctl traceflow -S default/client --destination-ip 10.10.0.9 -o yaml',
        },
        {
          description: 'Trace the next new connection from a Pod to port 53 over UDP within a minute',
          command: 'antctl traceflow -S default/client --protocol UDP --port 53 --live --timeout 60',
        },
      ],
    },
    {
      id: 'version',
      use: 'version',
      aliases: [],
      short: 'Print version information',
      long: 'Print version information of antctl',
      flags: [outputFlag('yaml')],
      examples: [{ description: 'Print the antctl version', command: 'antctl version' }],
    },
  ],
  globalFlags: [
    {
      name: 'socket',
      valueType: 'string',
      usage: `path of the agent's local API socket (env ${SOCKET_ENV_VAR})`,
      defaultValue: DEFAULT_SOCKET_PATH,
    },
  ],
};

// ---------------------------------------------------------------------------------------------------
// Parsing

export interface GlobalOptions {
  /** `--socket`, when given; the CLI falls back to the environment, then DEFAULT_SOCKET_PATH. */
  socket?: string;
}

export type RunnableCommand =
  | { kind: 'get podinterface'; name?: string; namespace?: string; output: OutputKind }
  | {
      kind: 'get ovsflows';
      pod?: string;
      namespace?: string;
      table?: string;
      networkPolicy?: string;
      type?: NetworkPolicyTypeFilter;
      output: OutputKind;
    }
  | { kind: 'get agentinfo'; output: OutputKind }
  | { kind: 'get controllerinfo'; output: OutputKind }
  /** Text only, as kubectl describe (`get agentinfo -o yaml` is the object): it has no `output`. */
  | { kind: 'describe agentinfo'; output?: never }
  | {
      kind: 'get networkpolicy';
      name?: string;
      namespace?: string;
      type?: NetworkPolicyTypeFilter;
      output: OutputKind;
    }
  | {
      kind: 'get networkpolicystats';
      name?: string;
      namespace?: string;
      type?: NetworkPolicyTypeFilter;
      output: OutputKind;
    }
  | { kind: 'get addressgroup'; name?: string; output: OutputKind }
  | { kind: 'get appliedtogroup'; name?: string; output: OutputKind }
  | {
      kind: 'query networkpolicyevaluation';
      source: string;
      destination: string;
      port: number;
      protocol: Protocol;
      output: OutputKind;
    }
  /** `file` is a path or `-` (standard input); the caller's RunContext reads it. */
  | { kind: 'apply'; file: string; namespace?: string; output: OutputKind }
  /** `namespace` is set (default "default") for namespaced kinds only. */
  | { kind: 'delete'; resource: ObjectKind; name: string; namespace?: string; output: OutputKind }
  /** Without `level`: show the current level. */
  | { kind: 'log-level'; level?: LogLevel; output: OutputKind }
  /** `dir` as typed; the CLI makes it absolute against its working directory. */
  | { kind: 'supportbundle'; dir?: string; output: OutputKind }
  | { kind: 'traceflow'; request: TraceflowRequest; output: OutputKind }
  | { kind: 'version'; output: OutputKind };

/** `path` names the help topic with canonical words: [], ['get'], ['get', 'podinterface'], ['help']. */
export type HelpRequest = { kind: 'help'; path: string[] };

export type ParsedCommand = (RunnableCommand | HelpRequest) & { globals: GlobalOptions };

export type ParseErrorCode =
  | 'UnknownCommand'
  | 'UnknownFlag'
  | 'MissingFlagValue'
  | 'BadOutputFormat'
  | 'UnexpectedArgument'
  | 'MissingArgument'
  | 'BadArgument'
  | 'BadFlagValue'
  | 'MissingRequiredFlag';

export interface ParseError {
  kind: 'error';
  code: ParseErrorCode;
  /** One line, without the `Error: ` prefix. */
  message: string;
  /** The closest known command or flag, when one is close enough. */
  suggestion?: string;
}

export function isParseError(result: ParsedCommand | ParseError): result is ParseError {
  return result.kind === 'error';
}

interface FlagOccurrence {
  /** As typed, e.g. `-n` or `--namespace`, for messages. */
  typed: string;
  spec: FlagSpec;
  /**
   * Every flag the token can mean: commands may give one shorthand different meanings (`-T` is --table for
   * ovsflows, --type for networkpolicy, as in Antrea); the command decides once it is known.
   */
  candidates: readonly FlagSpec[];
  value?: string;
}

type Target =
  { kind: 'root' } | { kind: 'group'; group: CommandGroupSpec } | { kind: 'command'; command: CommandSpec };

const HELP_COMMAND_WORD = 'help';

export function parseArgs(argv: string[]): ParsedCommand | ParseError {
  const table = ANTCTL_COMMANDS;
  const knownFlags = allFlags(table);
  const positionals: string[] = [];
  const flags: FlagOccurrence[] = [];

  for (let index = 0; index < argv.length; index++) {
    const token = argv[index] ?? '';
    if (token === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (!token.startsWith('-') || token === '-') {
      positionals.push(token);
      continue;
    }
    const split = splitFlagToken(token);
    const candidates = knownFlags.filter((flag) =>
      split.long ? flag.name === split.name : flag.shorthand !== undefined && flag.shorthand === split.name,
    );
    // Flags sharing a shorthand all take a value or all do not (a unit test checks the table), so how the
    // next token is consumed does not depend on which one is meant.
    const spec = candidates[0];
    if (spec === undefined) {
      // Whether an unknown flag takes a value is unknowable, so stop here; name the command if the
      // words so far identify one, so that the suggestion only offers that command's flags.
      const resolved = resolveTarget(table, positionals);
      if ('code' in resolved) return unknownFlagError(split.typed, knownFlags, undefined);
      const allowed = [...targetFlags(resolved.target), ...table.globalFlags, HELP_FLAG];
      return unknownFlagError(split.typed, allowed, resolved.target);
    }
    if (spec.valueType === undefined) {
      flags.push({ typed: split.typed, spec, candidates });
      continue;
    }
    let value = split.attachedValue;
    if (value === undefined) {
      const next = argv[index + 1];
      // A following flag is never taken as a value: `-n -o json` is a forgotten namespace, not "-o".
      if (next !== undefined && !(next.startsWith('-') && next !== '-')) {
        value = next;
        index++;
      }
    }
    if (value === undefined || value === '') {
      const which = candidates.length > 1 ? split.typed : describeFlag(spec);
      return parseError('MissingFlagValue', `flag ${which} needs a value`);
    }
    flags.push({ typed: split.typed, spec, candidates, value });
  }

  const globals: GlobalOptions = {};
  const socket = lastValue(flags, 'socket');
  if (socket !== undefined) globals.socket = socket;
  const wantsHelp = flags.some((flag) => flag.spec.name === HELP_FLAG.name);

  if (positionals[0] === HELP_COMMAND_WORD) {
    const topic = positionals.slice(1);
    if (topic.length === 0) return { kind: 'help', path: [], globals };
    if (topic.length === 1 && topic[0] === HELP_COMMAND_WORD)
      return { kind: 'help', path: [HELP_COMMAND_WORD], globals };
    const resolved = resolveTarget(table, topic);
    if ('code' in resolved) return resolved;
    if (resolved.rest.length > 0) return extraArgumentsError(resolved.target, resolved.rest);
    return { kind: 'help', path: targetPath(resolved.target), globals };
  }

  const resolved = resolveTarget(table, positionals);
  if ('code' in resolved) return resolved;
  const { target, rest } = resolved;

  const allowed = [...targetFlags(target), ...table.globalFlags, HELP_FLAG];
  for (const flag of flags) {
    // By name: commands declare their own specs for shared names such as --namespace. A shorthand must be the
    // command's own: ovsflows' `-T` is --table even though its --type is `-T` elsewhere.
    const spec = allowed.find((candidate) =>
      flag.candidates.some(
        (known) =>
          known.name === candidate.name &&
          (flag.typed.startsWith('--') || known.shorthand === candidate.shorthand),
      ),
    );
    if (spec === undefined) return unknownFlagError(flag.typed, allowed, target);
    flag.spec = spec;
  }
  if (wantsHelp || target.kind !== 'command') {
    return { kind: 'help', path: targetPath(target), globals };
  }

  const { command } = target;
  const argSpecs = command.args ?? [];
  if (rest.length > argSpecs.length) return extraArgumentsError(target, rest);
  const missing = argSpecs.slice(rest.length).filter((arg) => arg.required);
  if (missing.length > 0) {
    const names = argSpecs.filter((arg) => arg.required).map((arg) => arg.name);
    return parseError(
      'MissingArgument',
      `"${targetTitle(target)}" needs ${names.join(' and ')}; missing ${missing.map((arg) => arg.name).join(' and ')}`,
    );
  }

  const outputText =
    lastValue(flags, 'output') ?? command.flags.find((flag) => flag.name === 'output')?.defaultValue;
  const output = outputText ?? 'table';
  if (!isOutputKind(output)) {
    return parseError(
      'BadOutputFormat',
      `invalid output format "${output}": valid formats are ${OUTPUT_KINDS.join(', ')}`,
    );
  }
  const namespace = lastValue(flags, 'namespace');

  switch (command.id) {
    case 'get podinterface':
      return { kind: command.id, output, globals, ...defined({ name: rest[0], namespace }) };
    case 'get ovsflows': {
      const pod = lastValue(flags, 'pod');
      const tableName = lastValue(flags, 'table');
      const networkPolicy = lastValue(flags, 'networkpolicy');
      const type = policyTypeFlag(flags, '--type');
      if (type !== undefined && typeof type !== 'string') return type;
      if (pod !== undefined && networkPolicy !== undefined) {
        return parseError('BadFlagValue', 'flags -p/--pod and -N/--networkpolicy cannot be used together');
      }
      if (pod !== undefined && namespace === undefined) {
        return parseError(
          'MissingRequiredFlag',
          'flag -p/--pod needs -n/--namespace: Pod names are unique only within a Namespace',
        );
      }
      if (namespace !== undefined && pod === undefined && networkPolicy === undefined) {
        return parseError(
          'MissingRequiredFlag',
          'flag -n/--namespace is only used together with -p/--pod or -N/--networkpolicy',
        );
      }
      if (type !== undefined && networkPolicy === undefined) {
        return parseError('MissingRequiredFlag', 'flag --type is only used together with -N/--networkpolicy');
      }
      if (type === 'ACNP' && namespace !== undefined) {
        return parseError(
          'BadFlagValue',
          'an Antrea ClusterNetworkPolicy (ACNP) is cluster-scoped: drop -n/--namespace',
        );
      }
      return {
        kind: command.id,
        output,
        globals,
        ...defined({ pod, namespace, table: tableName, networkPolicy }),
        ...(type === undefined ? {} : { type }),
      };
    }
    case 'get networkpolicy':
    case 'get networkpolicystats': {
      const type = policyTypeFlag(flags, '-T/--type');
      if (type !== undefined && typeof type !== 'string') return type;
      return {
        kind: command.id,
        output,
        globals,
        ...defined({ name: rest[0], namespace }),
        ...(type === undefined ? {} : { type }),
      };
    }
    case 'get addressgroup':
    case 'get appliedtogroup':
      return { kind: command.id, output, globals, ...defined({ name: rest[0] }) };
    case 'query networkpolicyevaluation':
      return parseEvaluation(flags, output, globals);
    case 'apply': {
      const file = lastValue(flags, 'filename');
      if (file === undefined) {
        return parseError(
          'MissingRequiredFlag',
          'flag -f/--filename is required: the file with the objects to apply, or - for standard input',
        );
      }
      return { kind: command.id, file, output, globals, ...defined({ namespace }) };
    }
    case 'delete': {
      const [kindWord = '', name = ''] = rest;
      const entry = RESOURCE_KINDS.find((candidate) => candidate.words.includes(kindWord.toLowerCase()));
      if (entry === undefined) {
        const suggestion = closestWord(
          kindWord,
          RESOURCE_KINDS.flatMap((candidate) => candidate.words.map((word) => ({ word, suggestion: word }))),
        );
        const valid = RESOURCE_KINDS.map((candidate) => candidate.words[0]).join(', ');
        const advice = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
        return parseError(
          'BadArgument',
          `unknown kind "${kindWord}"; valid kinds are ${valid}${advice}`,
          suggestion,
        );
      }
      const result: RunnableCommand & { globals: GlobalOptions } = {
        kind: command.id,
        resource: entry.kind,
        name,
        output,
        globals,
      };
      if (isNamespacedKind(entry.kind)) result.namespace = namespace ?? 'default';
      return result;
    }
    case 'log-level': {
      const text = rest[0];
      if (text === undefined) return { kind: command.id, output, globals };
      const level = parseLogLevel(text);
      if (level === undefined) {
        return parseError(
          'BadArgument',
          `invalid log level "${text}": valid levels are ${LOG_LEVELS.join(', ')}`,
        );
      }
      return { kind: command.id, level, output, globals };
    }
    case 'supportbundle':
      return { kind: command.id, output, globals, ...defined({ dir: lastValue(flags, 'dir') }) };
    case 'traceflow':
      return parseTraceflow(flags, output, globals);
    case 'get agentinfo':
    case 'get controllerinfo':
    case 'version':
      return { kind: command.id, output, globals };
    case 'describe agentinfo':
      return { kind: command.id, globals };
  }
}

function parseTraceflow(
  flags: readonly FlagOccurrence[],
  output: OutputKind,
  globals: GlobalOptions,
): ParsedCommand | ParseError {
  const source = lastValue(flags, 'source');
  if (source === undefined) {
    return parseError('MissingRequiredFlag', 'flag -S/--source is required: the source Pod as NAMESPACE/POD');
  }
  const request: TraceflowRequest = { source };
  const destination = lastValue(flags, 'destination');
  const destinationIp = lastValue(flags, 'destination-ip');
  if (destination !== undefined && destinationIp !== undefined) {
    return parseError('BadFlagValue', 'flags -D/--destination and --destination-ip cannot be used together');
  }
  if (destination !== undefined && /^\d+\.\d+\.\d+\.\d+$/.test(destination))
    request.destinationIp = destination;
  else if (destination !== undefined) request.destination = destination;
  if (destinationIp !== undefined) request.destinationIp = destinationIp;
  const protocol = lastValue(flags, 'protocol');
  if (protocol !== undefined) request.protocol = protocol.toUpperCase() as TraceflowRequest['protocol'];
  for (const [flag, key] of [
    ['port', 'port'],
    ['source-port', 'sourcePort'],
    ['timeout', 'timeoutSeconds'],
  ] as const) {
    const text = lastValue(flags, flag);
    if (text === undefined) continue;
    if (!/^\d+$/.test(text))
      return parseError('BadFlagValue', `invalid --${flag} "${text}": must be a number`);
    request[key] = Number(text);
  }
  if (flags.some((flag) => flag.spec.name === 'live')) request.live = true;
  const flowText = lastValue(flags, 'flow');
  if (flowText !== undefined) {
    const problem = applyTraceflowFilter(flowText, request);
    if (problem !== undefined)
      return parseError('BadFlagValue', `invalid -f/--flow "${flowText}": ${problem}`);
  }
  try {
    normalizeTraceRequest(request);
  } catch (error) {
    if (error instanceof TraceflowError) return parseError('BadFlagValue', error.message);
    throw error;
  }
  return { kind: 'traceflow', request, output, globals };
}

/**
 * Antrea's `-f` filter (`tcp,tcp_dst=80`, `udp,udp_src=5353,udp_dst=53`, `icmp`) into the request; a field the
 * request already has from another flag must agree with it. Returns the problem, if any.
 */
function applyTraceflowFilter(text: string, request: TraceflowRequest): string | undefined {
  const tokens = text
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  const protocolToken = tokens[0]?.toLowerCase();
  if (protocolToken !== 'tcp' && protocolToken !== 'udp' && protocolToken !== 'icmp') {
    return 'must start with the protocol: tcp, udp or icmp';
  }
  const protocol = protocolToken.toUpperCase() as 'TCP' | 'UDP' | 'ICMP';
  if (request.protocol !== undefined && request.protocol !== protocol) {
    return `protocol ${protocol} disagrees with --protocol ${request.protocol}`;
  }
  request.protocol = protocol;
  for (const token of tokens.slice(1)) {
    const [field, value, extra] = token.split('=');
    const key =
      field === `${protocolToken}_dst` ? 'port' : field === `${protocolToken}_src` ? 'sourcePort' : undefined;
    if (key === undefined || protocol === 'ICMP') {
      return `unsupported field "${field ?? token}" (supported: ${protocolToken === 'icmp' ? 'none for icmp' : `${protocolToken}_dst, ${protocolToken}_src`})`;
    }
    if (value === undefined || extra !== undefined || !/^\d+$/.test(value)) {
      return `${field} needs a port number, e.g. ${field}=80`;
    }
    const port = Number(value);
    if (request[key] !== undefined && request[key] !== port) {
      return `${field}=${port} disagrees with --${key === 'port' ? 'port' : 'source-port'} ${request[key]}`;
    }
    request[key] = port;
  }
  return undefined;
}

function parseEvaluation(
  flags: readonly FlagOccurrence[],
  output: OutputKind,
  globals: GlobalOptions,
): ParsedCommand | ParseError {
  const source = lastValue(flags, 'source');
  const destination = lastValue(flags, 'destination');
  if (source === undefined || destination === undefined) {
    return parseError(
      'MissingRequiredFlag',
      'flags -S/--source and -D/--destination are required: NAMESPACE/POD, POD or an IP address each',
    );
  }
  const portText = lastValue(flags, 'port');
  if (portText === undefined) {
    return parseError(
      'MissingRequiredFlag',
      'flag --port is required: the verdict depends on the destination port (e.g. --port 80)',
    );
  }
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    return parseError('BadFlagValue', `invalid port "${portText}": must be a number between 1 and 65535`);
  }
  const protocolText = lastValue(flags, 'protocol') ?? 'TCP';
  const protocol = PROTOCOLS.find((candidate) => candidate === protocolText.toUpperCase());
  if (protocol === undefined) {
    return parseError(
      'BadFlagValue',
      `invalid protocol "${protocolText}": valid protocols are ${PROTOCOLS.join(', ')}`,
    );
  }
  return { kind: 'query networkpolicyevaluation', source, destination, port, protocol, output, globals };
}

/** A `--type` value, or the error for a value that is no policy type. */
function policyTypeFlag(
  flags: readonly FlagOccurrence[],
  typed: string,
): NetworkPolicyTypeFilter | ParseError | undefined {
  const text = lastValue(flags, 'type');
  if (text === undefined) return undefined;
  const type = parseNetworkPolicyType(text);
  if (type !== undefined) return type;
  return parseError(
    'BadFlagValue',
    `invalid type "${text}" for ${typed}: valid types are ${POLICY_TYPE_FILTERS.join(', ')}`,
  );
}

/**
 * One spec per name and shorthand: commands may declare a name with different shorthands (`--type` is `-T` for
 * networkpolicy, long-only for ovsflows, whose `-T` is --table, as in Antrea).
 */
function allFlags(table: CommandTable): FlagSpec[] {
  const result: FlagSpec[] = [HELP_FLAG, ...table.globalFlags];
  for (const command of table.commands) {
    for (const flag of command.flags) {
      if (!result.some((known) => known.name === flag.name && known.shorthand === flag.shorthand)) {
        result.push(flag);
      }
    }
  }
  return result;
}

function targetFlags(target: Target): readonly FlagSpec[] {
  return target.kind === 'command' ? target.command.flags : [];
}

/** Like pflag, a repeated flag keeps its last value. */
function lastValue(flags: readonly FlagOccurrence[], name: string): string | undefined {
  let value: string | undefined;
  for (const flag of flags) if (flag.spec.name === name) value = flag.value;
  return value;
}

function splitFlagToken(token: string): {
  typed: string;
  long: boolean;
  name: string;
  attachedValue?: string;
} {
  if (token.startsWith('--')) {
    const equals = token.indexOf('=');
    if (equals < 0) return { typed: token, long: true, name: token.slice(2) };
    return {
      typed: token.slice(0, equals),
      long: true,
      name: token.slice(2, equals),
      attachedValue: token.slice(equals + 1),
    };
  }
  const name = token.slice(1, 2);
  const remainder = token.slice(2);
  const typed = `-${name}`;
  if (remainder === '') return { typed, long: false, name };
  // Like pflag: `-n=ns` and `-nns` both carry the value.
  return {
    typed,
    long: false,
    name,
    attachedValue: remainder.startsWith('=') ? remainder.slice(1) : remainder,
  };
}

function resolveTarget(
  table: CommandTable,
  words: readonly string[],
): { target: Target; rest: string[] } | ParseError {
  const [first, second, ...others] = words;
  if (first === undefined) return { target: { kind: 'root' }, rest: [] };
  const group = table.groups.find((candidate) => candidate.use === first);
  if (group !== undefined) {
    if (second === undefined) return { target: { kind: 'group', group }, rest: [] };
    const members = table.commands.filter((command) => command.group === group.use);
    const command = members.find(
      (candidate) => candidate.use === second || candidate.aliases.includes(second),
    );
    if (command !== undefined) return { target: { kind: 'command', command }, rest: others };
    const suggestion = closestWord(
      second,
      members.flatMap((member) =>
        [member.use, ...member.aliases].map((word) => ({ word, suggestion: member.use })),
      ),
    );
    return unknownCommandError(second, `${table.program} ${group.use}`, suggestion);
  }
  const topLevel = table.commands.filter((command) => command.group === undefined);
  const command = topLevel.find((candidate) => candidate.use === first || candidate.aliases.includes(first));
  if (command !== undefined) return { target: { kind: 'command', command }, rest: words.slice(1) };

  // `antctl podinterface` is a common slip for `antctl get podinterface`: offer the full path.
  const candidates = [
    ...table.groups.map((candidate) => ({ word: candidate.use, suggestion: candidate.use })),
    { word: HELP_COMMAND_WORD, suggestion: HELP_COMMAND_WORD },
    ...table.commands.flatMap((candidate) =>
      [candidate.use, ...candidate.aliases].map((word) => ({ word, suggestion: commandPath(candidate) })),
    ),
  ];
  return unknownCommandError(first, table.program, closestWord(first, candidates));
}

function commandPath(command: CommandSpec): string {
  return command.group === undefined ? command.use : `${command.group} ${command.use}`;
}

function targetPath(target: Target): string[] {
  switch (target.kind) {
    case 'root':
      return [];
    case 'group':
      return [target.group.use];
    case 'command':
      return commandPath(target.command).split(' ');
  }
}

function targetTitle(target: Target): string {
  return [PROGRAM_NAME, ...targetPath(target)].join(' ');
}

function parseError(code: ParseErrorCode, message: string, suggestion?: string): ParseError {
  return suggestion === undefined
    ? { kind: 'error', code, message }
    : { kind: 'error', code, message, suggestion };
}

function unknownCommandError(word: string, parent: string, suggestion: string | undefined): ParseError {
  const advice =
    suggestion === undefined
      ? `run '${parent} --help' for the list of commands`
      : `did you mean "${suggestion}"?`;
  return parseError('UnknownCommand', `unknown command "${word}" for "${parent}"; ${advice}`, suggestion);
}

function unknownFlagError(
  typed: string,
  allowed: readonly FlagSpec[],
  target: Target | undefined,
): ParseError {
  const isLong = typed.startsWith('--');
  const candidates = allowed.flatMap((flag) =>
    isLong
      ? [{ word: flag.name, suggestion: `--${flag.name}` }]
      : flag.shorthand === undefined
        ? []
        : [{ word: flag.shorthand, suggestion: `-${flag.shorthand}` }],
  );
  const typedName = typed.replace(/^-+/, '');
  // Single letters are all within distance 1 of each other: only suggest for long names.
  const suggestion = isLong ? closestWord(typedName, candidates) : undefined;
  const where = target === undefined ? '' : ` for "${targetTitle(target)}"`;
  const advice = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
  return parseError('UnknownFlag', `unknown flag "${typed}"${where}${advice}`, suggestion);
}

function extraArgumentsError(target: Target, rest: readonly string[]): ParseError {
  const quoted = rest.map((word) => `"${word}"`).join(', ');
  const args = target.kind === 'command' ? (target.command.args ?? []) : [];
  if (args.length > 0) {
    const count = args.length === 1 ? 'one argument' : `${args.length} arguments`;
    return parseError(
      'UnexpectedArgument',
      `"${targetTitle(target)}" takes at most ${count} (${args.map((arg) => arg.name).join(' ')}), got ${quoted}`,
    );
  }
  return parseError('UnexpectedArgument', `"${targetTitle(target)}" takes no arguments, got ${quoted}`);
}

function describeFlag(spec: FlagSpec): string {
  return spec.shorthand === undefined ? `--${spec.name}` : `-${spec.shorthand}/--${spec.name}`;
}

function defined<T extends Record<string, string | undefined>>(values: T): { [K in keyof T]?: string } {
  const result: { [K in keyof T]?: string } = {};
  for (const key of Object.keys(values) as (keyof T)[]) {
    const value = values[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------------
// Suggestions

/**
 * Three rows of the distance matrix, shared by every call: closestWord runs editDistance for each candidate of
 * each unknown word, and line noise on the serial console makes that thousands of calls a second. Calls are
 * synchronous, so sharing cannot interleave.
 */
let distanceRows = new Uint32Array(3 * 32);

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions (`gte` → `get` is 1). */
export function editDistance(a: string, b: string): number {
  // The distance is symmetric: rows span the shorter word, so the buffer stays small even for long noise.
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  const cols = short.length + 1;
  if (distanceRows.length < 3 * cols) distanceRows = new Uint32Array(3 * cols);
  const d = distanceRows;
  let twoBack = 0;
  let oneBack = cols;
  let current = 2 * cols;
  for (let j = 0; j < cols; j++) d[oneBack + j] = j;
  for (let i = 1; i <= long.length; i++) {
    d[current] = i;
    for (let j = 1; j < cols; j++) {
      const cost = long[i - 1] === short[j - 1] ? 0 : 1;
      let best = Math.min(
        (d[oneBack + j] ?? 0) + 1,
        (d[current + j - 1] ?? 0) + 1,
        (d[oneBack + j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && long[i - 1] === short[j - 2] && long[i - 2] === short[j - 1]) {
        best = Math.min(best, (d[twoBack + j - 2] ?? 0) + 1);
      }
      d[current + j] = best;
    }
    [twoBack, oneBack, current] = [oneBack, current, twoBack];
  }
  return d[oneBack + cols - 1] ?? 0;
}

/**
 * The candidate closest to `typed`, if it is plausibly a typo (within 2 edits, a quarter of the word for
 * long words) or an abbreviation (`podint`); ties go to the earlier candidate.
 */
export function closestWord(
  typed: string,
  candidates: readonly { word: string; suggestion: string }[],
): string | undefined {
  const lower = typed.toLowerCase();
  let best: { suggestion: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const isPrefix = lower.length >= 3 && candidate.word.startsWith(lower);
    const distance = isPrefix ? 0.5 : editDistance(lower, candidate.word);
    const limit = Math.max(2, Math.floor(candidate.word.length / 4));
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { suggestion: candidate.suggestion, distance };
    }
  }
  return best?.suggestion;
}

// ---------------------------------------------------------------------------------------------------
// Help

/** How help is rendered for a place other than the antctl CLI (the serial console). */
export interface HelpOptions {
  /**
   * The program name in usage lines, examples and hints (default antctl); '' where commands are typed without
   * one, as in the console's shell.
   */
  program?: string;
  /** Whether to list the global flags (--socket); default true. False where they mean nothing. */
  globalFlags?: boolean;
  /**
   * Adapts an example's command line (already with `program`), or drops the example (undefined), e.g. examples
   * that read a file where there are no files.
   */
  example?: (command: string) => string | undefined;
}

/** Help text for a topic as returned in `HelpRequest.path`; unknown paths render the root help. */
export function renderHelp(path: readonly string[], options: HelpOptions = {}): string {
  const table = ANTCTL_COMMANDS;
  const help: HelpContext = {
    table,
    program: options.program ?? table.program,
    globalFlags: options.globalFlags === false ? [] : table.globalFlags,
    example: options.example ?? ((command) => command),
  };
  if (path.length === 1 && path[0] === HELP_COMMAND_WORD) return renderHelpCommandHelp(help);
  const resolved = resolveTarget(table, path);
  const target: Target = 'code' in resolved ? { kind: 'root' } : resolved.target;
  switch (target.kind) {
    case 'root':
      return renderRootHelp(help);
    case 'group':
      return renderGroupHelp(help, target.group);
    case 'command':
      return renderCommandHelp(help, target.command);
  }
}

interface HelpContext {
  table: CommandTable;
  program: string;
  globalFlags: readonly FlagSpec[];
  example: (command: string) => string | undefined;
}

/** `words` as typed after the program name, e.g. `antctl get [command]`, or `get [command]` without one. */
function commandLine(help: HelpContext, words: string): string {
  return help.program === '' ? words : `${help.program} ${words}`;
}

function renderRootHelp(help: HelpContext): string {
  const { table } = help;
  const entries: [string, string][] = [
    ...table.groups.map((group): [string, string] => [group.use, group.short]),
    [HELP_COMMAND_WORD, 'Help about any command'] as [string, string],
    ...table.commands
      .filter((command) => command.group === undefined)
      .map((command): [string, string] => [command.use, command.short]),
  ].sort(([a], [b]) => a.localeCompare(b));
  return sections([
    table.long,
    `Usage:\n  ${commandLine(help, '[command]')}`,
    `Available Commands:\n${twoColumns(entries)}`,
    `Flags:\n${flagLines([{ ...HELP_FLAG, usage: `help for ${help.program || table.program}` }, ...help.globalFlags])}`,
    `Use "${commandLine(help, '[command] --help')}" for more information about a command.`,
  ]);
}

function renderGroupHelp(help: HelpContext, group: CommandGroupSpec): string {
  const entries = help.table.commands
    .filter((command) => command.group === group.use)
    .map((command): [string, string] => [command.use, command.short])
    .sort(([a], [b]) => a.localeCompare(b));
  return sections([
    group.long,
    `Usage:\n  ${commandLine(help, `${group.use} [command]`)}`,
    `Available Commands:\n${twoColumns(entries)}`,
    `Flags:\n${flagLines([{ ...HELP_FLAG, usage: `help for ${group.use}` }])}`,
    ...globalFlagsSection(help),
    `Use "${commandLine(help, `${group.use} [command] --help`)}" for more information about a command.`,
  ]);
}

function renderCommandHelp(help: HelpContext, command: CommandSpec): string {
  const args = command.args ?? [];
  const argUsage = args.map((arg) => (arg.required ? ` ${arg.name}` : ` [${arg.name}]`)).join('');
  const parts = [command.long, `Usage:\n  ${commandLine(help, commandPath(command))}${argUsage} [flags]`];
  if (args.length > 0) {
    parts.push(`Args:\n${twoColumns(args.map((arg): [string, string] => [arg.name, arg.usage]))}`);
  }
  if (command.aliases.length > 0) parts.push(`Aliases:\n  ${[command.use, ...command.aliases].join(', ')}`);
  const examples = command.examples.flatMap((example) => {
    const line = help.example(withProgram(help, example.command));
    return line === undefined ? [] : [`  ${example.description}\n  $ ${line}`];
  });
  if (examples.length > 0) parts.push(`Examples:\n${examples.join('\n')}`);
  parts.push(`Flags:\n${flagLines([...command.flags, { ...HELP_FLAG, usage: `help for ${command.use}` }])}`);
  parts.push(...globalFlagsSection(help));
  return sections(parts);
}

/** An example written for antctl (`antctl get …`, `cat f | antctl apply …`) with the program of this help. */
function withProgram(help: HelpContext, command: string): string {
  if (help.program === help.table.program) return command;
  return command.replace(
    new RegExp(`(^|\\| )${help.table.program} `, 'g'),
    (_, before: string) => `${before}${commandLine(help, '')}`,
  );
}

function globalFlagsSection(help: HelpContext): string[] {
  return help.globalFlags.length === 0 ? [] : [`Global Flags:\n${flagLines(help.globalFlags)}`];
}

function renderHelpCommandHelp(help: HelpContext): string {
  return sections([
    `Help provides help for any command in the application.\nSimply type ${commandLine(help, 'help [path to command]')} for full details.`,
    `Usage:\n  ${commandLine(help, 'help [command] [flags]')}`,
    `Flags:\n${flagLines([{ ...HELP_FLAG, usage: 'help for help' }])}`,
  ]);
}

function sections(parts: readonly string[]): string {
  return `${parts.join('\n\n')}\n`;
}

function twoColumns(entries: readonly [string, string][]): string {
  const width = Math.max(...entries.map(([left]) => left.length));
  return entries.map(([left, right]) => `  ${left.padEnd(width)}   ${right}`).join('\n');
}

function flagLines(flags: readonly FlagSpec[]): string {
  const sorted = [...flags].sort((a, b) => a.name.localeCompare(b.name));
  return twoColumns(
    sorted.map((flag): [string, string] => {
      const names =
        flag.shorthand === undefined ? `    --${flag.name}` : `-${flag.shorthand}, --${flag.name}`;
      const type = flag.valueType === undefined ? '' : ` ${flag.valueType}`;
      const defaultText = flag.defaultValue === undefined ? '' : ` (default "${flag.defaultValue}")`;
      return [`${names}${type}`, `${flag.usage}${defaultText}`];
    }),
  );
}

// ---------------------------------------------------------------------------------------------------
// Running

export interface CommandOutput {
  stdout: string;
  /** Notices for humans that must not pollute piped output, e.g. "No resources found.". */
  stderr: string;
}

export interface RunContext {
  antctlVersion: string;
  /** Reads a manifest for `apply`: a path, or `-` for standard input. Absent: `apply` is unavailable. */
  readManifest?(file: string): Promise<string>;
  /**
   * Progress lines of long commands (supportbundle) as they happen, e.g. to stderr. Absent: they are returned in
   * the output's stderr when the command is done.
   */
  progress?: (line: string) => void;
}

/**
 * What the runner talks to: every agent has AgentQueries; the policy parts only where policies are served, the
 * controller's info only where the controller runs.
 */
export type AntctlBackend = AgentQueries &
  Partial<PolicyQueries> &
  Partial<PolicyCommands> &
  Partial<PolicyStatsQueries> &
  Partial<ControllerQueries> &
  Partial<LogLevelCommands> &
  Partial<SupportBundleCommands> &
  Partial<TraceflowQueries>;

export const NO_RESOURCES_NOTICE = 'No resources found.\n';

/** A manifest `apply` could not read; every problem has its line and column. */
export class ManifestParseError extends Error {
  readonly code = 'ManifestInvalid';

  constructor(
    /** The file as the user named it (`<stdin>` for `-`). */
    readonly source: string,
    readonly errors: readonly ManifestError[],
  ) {
    super(
      `${source} is not a valid manifest: ${errors.map((e) => `${source}:${e.line}:${e.column}: ${e.message}`).join('; ')}`,
    );
    this.name = 'ManifestParseError';
  }
}

/** Runs a parsed command against the agent; query failures (ApiError) propagate to the caller's edge. */
export async function runCommand(
  command: RunnableCommand,
  queries: AntctlBackend,
  context: RunContext,
): Promise<CommandOutput> {
  switch (command.kind) {
    case 'get networkpolicy': {
      const filter = {
        ...defined({ name: command.name, namespace: command.namespace }),
        ...(command.type === undefined ? {} : { type: command.type }),
      };
      const views = await policyQueries(queries).networkPolicies(filter);
      return listOutput(command.output, views, () => networkPolicyTable(views));
    }
    case 'get networkpolicystats': {
      if (queries.networkPolicyStats === undefined) throw new ApiError('Unavailable', NO_POLICIES);
      const filter = {
        ...defined({ name: command.name, namespace: command.namespace }),
        ...(command.type === undefined ? {} : { type: command.type }),
      };
      const views = await queries.networkPolicyStats(filter);
      return listOutput(command.output, views, () =>
        networkPolicyStatsTable(views, {
          namespaceColumn: command.namespace === undefined && command.type !== 'ACNP',
          typeColumn: command.type === undefined,
        }),
      );
    }
    case 'get addressgroup': {
      const views = await policyQueries(queries).addressGroups(defined({ name: command.name }));
      return listOutput(command.output, views, () => addressGroupTable(views));
    }
    case 'get appliedtogroup': {
      const views = await policyQueries(queries).appliedToGroups(defined({ name: command.name }));
      return listOutput(command.output, views, () => appliedToGroupTable(views));
    }
    case 'query networkpolicyevaluation': {
      const view = await policyQueries(queries).networkPolicyEvaluation({
        source: command.source,
        destination: command.destination,
        port: command.port,
        protocol: command.protocol,
      });
      return { stdout: formatOutput(command.output, view, () => evaluationTable(view)), stderr: '' };
    }
    case 'apply': {
      const commands = policyCommands(queries);
      const objects = await readObjects(command, context);
      const results = await commands.applyObjects(objects);
      // table: kubectl's lines; json/yaml: the results as the agent sent them.
      const stdout =
        command.output === 'table' ? applyLines(results) : formatOutput(command.output, results, noTable);
      return { stdout, stderr: '' };
    }
    case 'delete': {
      const key = `${command.resource}/${command.namespace ?? ''}/${command.name}`;
      const result = await policyCommands(queries).deleteObject(key);
      const stdout =
        command.output === 'table'
          ? `${resourceName(result.kind)} "${result.name}" deleted\n`
          : formatOutput(command.output, result, noTable);
      return { stdout, stderr: '' };
    }
    case 'get podinterface': {
      const views = await queries.podInterfaces(
        defined({ name: command.name, namespace: command.namespace }),
      );
      return listOutput(command.output, views, () => podInterfaceTable(views));
    }
    case 'get ovsflows': {
      const flows = await queries.ovsFlows({
        ...defined({
          pod: command.pod,
          namespace: command.namespace,
          table: command.table,
          networkPolicy: command.networkPolicy,
        }),
        ...(command.type === undefined ? {} : { type: command.type }),
      });
      return listOutput(command.output, flows, () => ovsFlowsTable(flows));
    }
    case 'get agentinfo': {
      const info = await queries.agentInfo();
      // table: antctl's columns of the local API's view; json/yaml: the AntreaAgentInfo object.
      const stdout =
        command.output === 'table'
          ? formatOutput('table', info, () => agentInfoTable(info))
          : formatOutput(command.output, antreaAgentInfo(info), noTable);
      return { stdout, stderr: '' };
    }
    case 'describe agentinfo':
      return { stdout: describeAgentInfo(antreaAgentInfo(await queries.agentInfo())), stderr: '' };
    case 'get controllerinfo': {
      if (queries.controllerInfo === undefined) throw new ApiError('Unavailable', NO_CONTROLLER);
      const info = await queries.controllerInfo();
      return { stdout: formatOutput(command.output, info, () => controllerInfoTable(info)), stderr: '' };
    }
    case 'log-level': {
      if (queries.logLevel === undefined || queries.setLogLevel === undefined) {
        throw new ApiError('Unavailable', 'this agent cannot change its log level');
      }
      const view =
        command.level === undefined ? await queries.logLevel() : await queries.setLogLevel(command.level);
      return { stdout: formatOutput(command.output, view, () => logLevelTable(view)), stderr: '' };
    }
    case 'supportbundle': {
      if (queries.supportBundle === undefined) {
        throw new ApiError('Unavailable', 'this agent cannot make support bundles');
      }
      const collected: string[] = [];
      const progress = context.progress ?? ((line: string) => collected.push(line));
      const view = await queries.supportBundle(defined({ dir: command.dir }), progress);
      const notices = [...collected, ...view.failures.map((failure) => `not collected: ${failure}`)];
      const stderr = notices.map((line) => `${line}\n`).join('');
      // table: only the path on stdout, so `f=$(antctl supportbundle)` works; the rest is for humans.
      const stdout =
        command.output === 'table' ? `${view.path}\n` : formatOutput(command.output, view, noTable);
      return { stdout, stderr };
    }
    case 'traceflow': {
      if (queries.traceflow === undefined)
        throw new ApiError('Unavailable', 'this agent does not run Traceflow');
      const result = await queries.traceflow(command.request);
      const stdout =
        command.output === 'table' ? traceflowText(result) : formatOutput(command.output, result, noTable);
      return { stdout, stderr: '' };
    }
    case 'version': {
      const data = { antctlVersion: context.antctlVersion };
      return {
        stdout: formatOutput(command.output, data, () => ({
          columns: ['ANTCTL-VERSION'],
          rows: [[context.antctlVersion]],
        })),
        stderr: '',
      };
    }
  }
}

const NO_POLICIES = 'this agent does not serve network policies';

/** One column, LEVEL; a change shows the previous level too. */
export function logLevelTable(view: LogLevelView): TableData {
  return view.previous === undefined
    ? { columns: ['LEVEL'], rows: [[view.level]] }
    : { columns: ['LEVEL', 'PREVIOUS'], rows: [[view.level, view.previous]] };
}
const NO_CONTROLLER = 'no policy controller runs in this agent';

function noTable(): TableData {
  return { columns: [], rows: [] };
}

function policyQueries(backend: AntctlBackend): PolicyQueries {
  if (
    backend.networkPolicies === undefined ||
    backend.addressGroups === undefined ||
    backend.appliedToGroups === undefined ||
    backend.networkPolicyEvaluation === undefined ||
    backend.namespaceLabels === undefined
  ) {
    throw new ApiError('Unavailable', NO_POLICIES);
  }
  return backend as AntctlBackend & PolicyQueries;
}

function policyCommands(backend: AntctlBackend): PolicyCommands {
  if (
    backend.applyObjects === undefined ||
    backend.deleteObject === undefined ||
    backend.setNamespaceLabels === undefined
  ) {
    throw new ApiError('Unavailable', NO_POLICIES);
  }
  return backend as AntctlBackend & PolicyCommands;
}

const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set(['ClusterNetworkPolicy', 'Tier', 'ClusterGroup']);

/** The manifest's objects, namespaced ones given the command's namespace (or "default") when they name none. */
async function readObjects(
  command: Extract<RunnableCommand, { kind: 'apply' }>,
  context: RunContext,
): Promise<unknown[]> {
  if (context.readManifest === undefined) throw new ApiError('Unavailable', 'apply cannot read files here');
  const source = command.file === '-' ? '<stdin>' : command.file;
  const parsed = parseManifests(await context.readManifest(command.file));
  if (parsed.errors.length > 0) throw new ManifestParseError(source, parsed.errors);
  if (parsed.objects.length === 0)
    throw new ApiError('BadRequest', `no objects passed to apply: ${source} has none`);
  if (command.namespace !== undefined) {
    // kubectl's rule: -n never silently moves an object that names another namespace.
    for (const object of parsed.objects) {
      const { kind, metadata } = (object ?? {}) as { kind?: unknown; metadata?: { namespace?: unknown } };
      const namespace = metadata?.namespace;
      if (typeof kind === 'string' && CLUSTER_SCOPED_KINDS.has(kind)) continue;
      if (typeof namespace === 'string' && namespace !== '' && namespace !== command.namespace) {
        throw new ApiError(
          'BadRequest',
          `the namespace from the provided object "${namespace}" does not match the namespace "${command.namespace}": pass -n ${namespace} or remove -n`,
        );
      }
    }
  }
  return withDefaultNamespace(parsed.objects, command.namespace ?? 'default');
}

/** kubectl's lines: `networkpolicy.networking.k8s.io/nginx-allow created`. */
export function applyLines(results: readonly ApplyResultView[]): string {
  return results.map((result) => `${resourceName(result.kind)}/${result.name} ${result.result}\n`).join('');
}

/**
 * The text after "Error: " for a failed command: one line, except for a rejected apply or an unreadable
 * manifest, whose problems are listed one per line.
 */
export function describeCommandError(error: unknown): string {
  if (error instanceof ManifestParseError) {
    const lines = error.errors.map((e) => `  ${error.source}:${e.line}:${e.column}: ${oneLine(e.message)}`);
    return [`${error.source} is not a valid manifest; nothing was applied`, ...lines].join('\n');
  }
  const invalid = error instanceof ApiError ? error.details?.invalidObjects : undefined;
  if (invalid !== undefined && invalid.length > 0) {
    const total = error instanceof ApiError ? error.details?.objectCount : undefined;
    const count = invalid.length === 1 ? '1 object is' : `${invalid.length} objects are`;
    const lines = [`nothing was applied: ${count} invalid${total === undefined ? '' : ` (of ${total})`}`];
    for (const object of invalid) {
      const id = object.namespace ? `${object.namespace}/${object.name}` : object.name;
      lines.push(`  document ${object.index + 1}: ${object.kind} "${id}":`);
      for (const fieldError of object.errors) lines.push(`    ${formatFieldError(fieldError)}`);
    }
    return lines.join('\n');
  }
  return oneLine(error instanceof Error ? error.message : String(error));
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function listOutput(output: OutputKind, items: readonly unknown[], table: () => TableData): CommandOutput {
  // kubectl's convention: an empty table is a notice on stderr, while json/yaml still print `[]`.
  if (output === 'table' && items.length === 0) return { stdout: '', stderr: NO_RESOURCES_NOTICE };
  return { stdout: formatOutput(output, items, table), stderr: '' };
}

const CONTAINER_ID_TABLE_LENGTH = 12;

export function podInterfaceTable(views: readonly PodInterfaceView[]): TableData {
  const sorted = [...views].sort(
    (a, b) =>
      a.namespace.localeCompare(b.namespace) ||
      a.name.localeCompare(b.name) ||
      a.interfaceName.localeCompare(b.interfaceName),
  );
  return {
    columns: ['NAMESPACE', 'NAME', 'INTERFACE-NAME', 'IP', 'MAC', 'PORT-UUID', 'OF-PORT', 'CONTAINER-ID'],
    rows: sorted.map((view) => [
      view.namespace,
      view.name,
      view.interfaceName,
      view.ip,
      view.mac,
      view.portUuid,
      String(view.ofport),
      view.containerId.slice(0, CONTAINER_ID_TABLE_LENGTH),
    ]),
  };
}

export function ovsFlowsTable(flows: readonly string[]): TableData {
  return { columns: ['FLOW'], rows: flows.map((flow) => [flow]) };
}

export function agentInfoTable(info: AgentInfoView): TableData {
  return {
    columns: [
      'POD',
      'NODE',
      'STATUS',
      'NODE-SUBNET',
      'NETWORK-POLICIES',
      'ADDRESS-GROUPS',
      'APPLIED-TO-GROUPS',
      'LOCAL-PODS',
    ],
    rows: [
      [
        info.podName,
        info.nodeName,
        info.status,
        info.nodeSubnets.join(','),
        String(info.networkPolicies),
        String(info.addressGroups),
        String(info.appliedToGroups),
        String(info.localPods),
      ],
    ],
  };
}

/**
 * Antrea's columns. POD is `namespace/name` as Antrea prints it, or the name alone when the firmware runs in no
 * Namespace (standalone). A count the controller cannot give (it is not serving) prints as <NONE>.
 */
export function controllerInfoTable(info: ControllerInfoView): TableData {
  const counts = info.networkPolicyControllerInfo;
  const pod =
    info.podRef.namespace === undefined ? info.podRef.name : `${info.podRef.namespace}/${info.podRef.name}`;
  return {
    columns: [
      'POD',
      'NODE',
      'STATUS',
      'NETWORK-POLICIES',
      'ADDRESS-GROUPS',
      'APPLIED-TO-GROUPS',
      'CONNECTED-AGENTS',
    ],
    rows: [
      [
        pod,
        info.nodeRef.name,
        controllerStatus(info.controllerConditions),
        counts === undefined ? '' : String(counts.networkPolicyNum),
        counts === undefined ? '' : String(counts.addressGroupNum),
        counts === undefined ? '' : String(counts.appliedToGroupNum),
        String(info.connectedAgentNum),
      ],
    ],
  };
}

/** Antrea's GetControllerConditionStr: any False condition is Unhealthy, else any Unknown is Unknown. */
function controllerStatus(conditions: ControllerInfoView['controllerConditions']): string {
  if (conditions.length === 0) return '';
  if (conditions.some((condition) => condition.status === 'False')) return 'Unhealthy';
  if (conditions.some((condition) => condition.status === 'Unknown')) return 'Unknown';
  return 'Healthy';
}

/** Antrea's columns; NAME is the control plane policy's name, its UID. */
/** Antrea's columns first; REALIZED (ours) only when the agent reports realization. */
export function networkPolicyTable(views: readonly NetworkPolicyView[]): TableData {
  const withRealization = views.some((view) => view.realization !== undefined);
  return {
    columns: [
      'NAME',
      'APPLIED-TO',
      'RULES',
      'SOURCE',
      'TIER-PRIORITY',
      'PRIORITY',
      ...(withRealization ? ['REALIZED'] : []),
    ],
    rows: views.map((view) => {
      const appliedTo = new Set(view.appliedToGroups);
      for (const rule of view.rules) for (const group of rule.appliedToGroups) appliedTo.add(group);
      const row = [
        view.uid,
        summarizeList([...appliedTo]),
        String(view.rules.length),
        sourceText(view.sourceRef),
        view.tierPriority === undefined ? '' : String(view.tierPriority),
        view.priority === undefined ? '' : String(view.priority),
      ];
      if (withRealization) row.push(realizationText(view.realization));
      return row;
    }),
  };
}

/** The short names of `--type`, for the TYPE column. */
const TYPE_FILTER_BY_SOURCE: Record<NetworkPolicyView['sourceRef']['type'], NetworkPolicyTypeFilter> = {
  K8sNetworkPolicy: 'K8sNP',
  AntreaClusterNetworkPolicy: 'ACNP',
  AntreaNetworkPolicy: 'ANNP',
};

/**
 * Antrea's columns (NAME SESSIONS PACKETS BYTES CREATED AT). Like kubectl -A, NAMESPACE comes first unless the
 * command named one (or asked for cluster-scoped ACNPs only); TYPE follows NAME unless the command named a type,
 * since this one list holds every kind.
 */
export function networkPolicyStatsTable(
  views: readonly NetworkPolicyStatsView[],
  options: { namespaceColumn: boolean; typeColumn: boolean },
): TableData {
  return {
    columns: [
      ...(options.namespaceColumn ? ['NAMESPACE'] : []),
      'NAME',
      ...(options.typeColumn ? ['TYPE'] : []),
      'SESSIONS',
      'PACKETS',
      'BYTES',
      'CREATED AT',
    ],
    rows: views.map((view) => [
      ...(options.namespaceColumn ? [view.metadata.namespace ?? ''] : []),
      view.metadata.name,
      ...(options.typeColumn ? [TYPE_FILTER_BY_SOURCE[view.sourceRef.type]] : []),
      String(view.trafficStats.sessions),
      String(view.trafficStats.packets),
      String(view.trafficStats.bytes),
      view.metadata.creationTimestamp ?? '',
    ]),
  };
}

function realizationText(realization: NetworkPolicyView['realization']): string {
  if (realization === undefined) return '';
  return realization.realized
    ? 'true'
    : `false (${realization.realizedGeneration}/${realization.generation})`;
}

/** Antrea's NetworkPolicyReference.ToString: `Type:namespace/name`, or `Type:name` for cluster policies. */
function sourceText(ref: NetworkPolicyView['sourceRef']): string {
  return ref.namespace === undefined ? `${ref.type}:${ref.name}` : `${ref.type}:${ref.namespace}/${ref.name}`;
}

export function addressGroupTable(views: readonly AddressGroupView[]): TableData {
  const sorted = [...views].sort((a, b) => a.name.localeCompare(b.name));
  return {
    columns: ['NAME', 'POD-IPS', 'NODE-IPS'],
    // Standalone groups have no Node members: NODE-IPS stays empty, kept for Antrea's column layout.
    rows: sorted.map((view) => [view.name, summarizeList(view.members.map((member) => member.ip)), '']),
  };
}

export function appliedToGroupTable(views: readonly AppliedToGroupView[]): TableData {
  const sorted = [...views].sort((a, b) => a.name.localeCompare(b.name));
  return {
    columns: ['NAME', 'PODS'],
    rows: sorted.map((view) => [
      view.name,
      summarizeList(view.members.map((member) => `${member.namespace}/${member.name}`)),
    ]),
  };
}

/**
 * Antrea's columns for the rule that decided, one row per direction (Out: the source's egress, In: the
 * destination's ingress), plus the verdict. K8s isolation shows as ACTION Isolate without a rule index.
 */
export function evaluationTable(view: NetworkPolicyEvaluationView): TableData {
  return {
    columns: ['NAME', 'NAMESPACE', 'POLICY-TYPE', 'RULE-INDEX', 'DIRECTION', 'ACTION', 'VERDICT'],
    rows: [evaluationRow('Out', view.egress), evaluationRow('In', view.ingress)],
  };
}

function evaluationRow(direction: 'Out' | 'In', result: DirectionResult): string[] {
  const rule = result.rule ?? result.passedBy;
  if (rule === undefined) return ['', '', '', '', direction, '', `${result.verdict} (no policy)`];
  const isolation = rule.action === 'DefaultDeny';
  const verdict = result.rule === undefined ? `${result.verdict} (no policy after Pass)` : result.verdict;
  return [
    rule.policy.name,
    rule.policy.namespace ?? '',
    rule.policy.type,
    isolation ? '' : String(rule.ruleIndex),
    direction,
    isolation ? 'Isolate' : rule.action,
    verdict,
  ];
}
