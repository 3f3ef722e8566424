// One policy rule as OpenFlow flows, with conjunctive match (as Antrea's agent installs them,
// pkg/agent/openflow/network_policy.go): a rule "from these sources, to these destinations, on these ports" costs
// one flow per source address, one per destination, one per port match and one `conj_id` action flow, never
// their product.
//
// Clauses, numbered like Antrea's (source = 1, destination = 2, service = 3):
//   ingress: 1 = peers `ip,nw_src=<ip|cidr>`, 2 = local applied-to pods `ip,reg1=<ofport>` (L2Forwarding
//            loaded the output port into reg1), 3 = `tcp,tp_dst=<port[/mask]>[,tp_src=…]`;
//   egress:  1 = local applied-to pods `ip,nw_src=<pod ip>`, 2 = peers `ip,nw_dst=<ip|cidr>`, 3 = services.
// Egress matches the pod by source address, not by in_port, as Antrea v0.9 did: Service traffic leaves through
// the gateway to kube-proxy and comes back DNATed from the gateway port with the pod's source address, and the
// pod's egress rules must still apply to it (SpoofGuard already guarantees a pod's port only sends its address).
// "Any peer" is the clause flow `ip` (Antrea's 0.0.0.0/0), so every rule has at least two clauses and no rule's
// flow is ever a plain (non-conjunctive) flow whose match another rule's clause flow could share.
//
// Clause flows with the same table, priority and match from different rules are one OpenFlow flow carrying
// all their `conjunction()` actions: `mergeRuleFlows` combines them (see policy-flows.ts).
import type { Protocol, RuleAction } from '../api/types';
import type {
  AddressGroup,
  AppliedToGroup,
  GroupMemberPod,
  InternalNetworkPolicy,
  InternalRule,
  InternalService,
  IPBlockRef,
  RuleDirection,
} from '../controller/internal-types';
import { isIpv4 } from '../ipam/ipv4';
import { ControllerPurpose, controllerUserdataText, decodeControllerUserdata } from './controller-userdata';
import {
  CookieCategory,
  flow,
  flowKey,
  flowLike,
  makeCookie,
  type Flow,
  type FlowBuilder,
  type Protocol as MatchProtocol,
} from './flow';
import { cidrTextsExcept, portRangeMasks, type PortMask } from './match-sets';
import { EGRESS_RULE_REG, INGRESS_RULE_REG, TARGET_OFPORT_REG } from './pipeline-flows';
import { Tables, nextTable } from './tables';

/** A local pod as the rule flows need it: its OpenFlow port and IPv4 address. */
export interface LocalPodAddress {
  ofport: number;
  ip: string;
}

/** The pods on this node that have a port on the bridge, by "namespace/name". */
export type LocalPodPorts = ReadonlyMap<string, LocalPodAddress>;

export interface RuleGroups {
  addressGroups: ReadonlyMap<string, AddressGroup>;
  appliedToGroups: ReadonlyMap<string, AppliedToGroup>;
}

export interface RulePlacement {
  table: number;
  priority: number;
}

/** A service after named-port resolution. No port = every port of the protocol. */
export interface ResolvedService {
  protocol: Protocol;
  port?: number;
  endPort?: number;
  srcPort?: number;
  srcEndPort?: number;
}

/** Everything one conjunction needs. `peers: 'any'` / `services: 'any'` leave that clause out. */
export interface ConjunctionSpec {
  conjId: number;
  direction: RuleDirection;
  action: RuleAction;
  table: number;
  priority: number;
  /** Peer addresses (IPs or CIDRs); an empty list matches nothing. */
  peers: readonly string[] | 'any';
  /** Local applied-to pods; an empty list matches nothing. */
  appliedTo: readonly LocalPodAddress[];
  /** An empty list matches nothing (e.g. only named ports that no pod resolves). */
  services: readonly ResolvedService[] | 'any';
  /** Where Reject and audit logging send packets. */
  packetIn?: PacketInOptions;
  /** The rule's enableLogging: the packets it decides also go to the agent's audit log. */
  log?: boolean;
}

/** One conjunction of a rule and its flows. A rule with named ports may need several (see `ruleFlows`). */
export interface RuleConjunction {
  /** '' for a rule without named ports; else the resolved services, e.g. "TCP/80,TCP/8080". */
  subKey: string;
  conjId: number;
  flows: Flow[];
  /** Clause flow counts (source, destination, service). */
  clauseFlows: [number, number, number];
}

export type RuleFlowErrorCode = 'UNSUPPORTED_TABLE' | 'CONFLICTING_FLOWS' | 'TOO_MANY_CONJUNCTIONS';

export class RuleFlowError extends Error {
  override readonly name = 'RuleFlowError';
  constructor(
    readonly code: RuleFlowErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reject: the packet goes to the agent, whose packet-in handler answers the source with a TCP RST or an ICMP
// unreachable. The userdata names the rule; its layout is the one of controller-userdata.ts
// (ControllerPurpose.Reject): byte 0 = 1 (Reject; 0x81 when the rule is also audit-logged), bytes 1-4 = the
// conjunction id, big-endian. The direction is the packet-in's table (egress or ingress table).
//
// Audit logging (enableLogging): the packet the rule decides is also copied to the agent, userdata purpose 2
// (AuditLog) with the conjunction id, truncated to AUDIT_PACKET_IN_MAX_LENGTH bytes (headers are all the log
// needs):
//   Drop          `meter:256,controller(reason=no_match,max_len=128,id=N,userdata=02.<id>)`: no output, so the
//                 packet is still dropped; the meter bounds packet-ins from a flood.
//   Reject        unchanged flow shape, userdata `81.<id>`: the packet already goes to the agent.
//   Allow / Pass  `controller(reason=no_match,max_len=128,id=N,userdata=02.<id>),<normal continuation>`, with NO
//                 meter: in OpenFlow 1.3 a meter is an instruction of the whole flow, so a rate-exceeded band
//                 would drop the allowed packet itself (and OVS 3.1's controller action has no meter_id option,
//                 ovs-actions(7)). What bounds these packet-ins instead: only the first packet of a connection
//                 reaches the policy tables (established traffic takes the ct_state=-new+est fast path in
//                 ConntrackState), and the agent's audit logger deduplicates what does arrive.

export const REJECT_USERDATA_PURPOSE = ControllerPurpose.Reject;

/** Bytes of a logged packet sent to the agent: Ethernet, a full-size IPv4 header and the L4 ports fit. */
export const AUDIT_PACKET_IN_MAX_LENGTH = 128;

/** How Reject and logging flows reach the agent. Without it they send to controller id 0, unmetered. */
export interface PacketInOptions {
  /** The agent's OpenFlow connection id (NXT_SET_CONTROLLER_ID); only that connection gets the packet-in. */
  controllerId?: number;
  /** A meter limiting packet-ins (`meter:N` must come first). */
  meterId?: number;
  /**
   * Also log the drops of pods that Kubernetes NetworkPolicies isolate (tables 60/100), metered. Off by default:
   * on a busy appliance default drops are the bulk of dropped traffic.
   */
  auditDefaultDrops?: boolean;
}

/** `01.<conj id as 4 bytes>` (`81.…` when also logged), as `controller(userdata=…)` takes it and dump-flows prints it. */
export function rejectUserdata(conjId: number, options: { log?: boolean } = {}): string {
  return controllerUserdataText({
    purpose: ControllerPurpose.Reject,
    ruleId: conjId,
    ...(options.log === true ? { log: true } : {}),
  });
}

/** The conjunction id of Reject userdata (with or without the log bit); undefined for other userdata. */
export function parseRejectUserdata(bytes: ArrayLike<number>): number | undefined {
  const decoded = decodeControllerUserdata(Uint8Array.from(bytes));
  return decoded.ok && decoded.userdata.purpose === ControllerPurpose.Reject
    ? decoded.userdata.ruleId
    : undefined;
}

/** `02.<conj id as 4 bytes>`: the userdata of an audit-log-only packet-in. */
export function auditUserdata(conjId: number): string {
  return controllerUserdataText({ purpose: ControllerPurpose.AuditLog, ruleId: conjId });
}

/**
 * Appends the audit copy to a flow being built: `controller(reason=no_match,max_len=128[,id=N],userdata=02.<id>)`,
 * behind `meter:N` when `metered` (only for flows that drop the packet anyway; see above).
 */
export function addAuditPacketIn(
  b: FlowBuilder,
  conjId: number,
  packetIn: PacketInOptions,
  metered: boolean,
): FlowBuilder {
  if (metered && packetIn.meterId !== undefined) b.meter(packetIn.meterId);
  return b.controller({
    reason: 'no_match',
    maxLen: AUDIT_PACKET_IN_MAX_LENGTH,
    ...(packetIn.controllerId === undefined ? {} : { id: packetIn.controllerId }),
    userdata: auditUserdata(conjId),
  });
}

// ---------------------------------------------------------------------------------------------------------
// Flows of one conjunction.

/** Where an allowed packet continues: egress to l3Forwarding, ingress to ConntrackCommit. */
function allowTarget(direction: RuleDirection): number {
  return direction === 'Out' ? nextTable(Tables.EgressDefaultRule) : nextTable(Tables.IngressDefaultRule);
}

/** Where `Pass` continues: the Kubernetes NetworkPolicy table of the direction. */
function passTarget(direction: RuleDirection): number {
  return direction === 'Out' ? Tables.EgressRule : Tables.IngressRule;
}

/** The `conj_id=<id>` flow that acts once every clause matched. */
export function conjunctionActionFlow(spec: Omit<ConjunctionSpec, 'peers' | 'appliedTo' | 'services'>): Flow {
  const b = flow(spec.table)
    .priority(spec.priority)
    .cookie(makeCookie(CookieCategory.Policy, spec.conjId))
    .matchConjId(spec.conjId)
    .matchProtocol('ip');
  const packetIn = spec.packetIn ?? {};
  const log = spec.log === true;
  switch (spec.action) {
    case 'Allow':
      if (log) addAuditPacketIn(b, spec.conjId, packetIn, false);
      return b
        .loadReg(spec.direction === 'Out' ? EGRESS_RULE_REG : INGRESS_RULE_REG, spec.conjId)
        .gotoTable(allowTarget(spec.direction))
        .done();
    case 'Drop':
      return (log ? addAuditPacketIn(b, spec.conjId, packetIn, true) : b.drop()).done();
    case 'Reject': {
      // The packet goes to the controller only (no further table): the packet-in handler sends the RST or
      // ICMP unreachable back to the source (it needs the whole frame: no max_len).
      if (packetIn.meterId !== undefined) b.meter(packetIn.meterId);
      const userdata = rejectUserdata(spec.conjId, { log });
      return (
        packetIn.controllerId === undefined
          ? b.controller({ userdata })
          : b.controller({ reason: 'no_match', id: packetIn.controllerId, userdata })
      ).done();
    }
    case 'Pass':
      if (passTarget(spec.direction) <= spec.table) {
        throw new RuleFlowError(
          'UNSUPPORTED_TABLE',
          `Pass in table ${spec.table} cannot continue in the Kubernetes NetworkPolicy table`,
        );
      }
      if (log) addAuditPacketIn(b, spec.conjId, packetIn, false);
      return b.gotoTable(passTarget(spec.direction)).done();
  }
}

/** The flows of one conjunction: the action flow and its clause flows; none when a clause matches nothing. */
export function conjunctionFlows(spec: ConjunctionSpec): Flow[] {
  return buildConjunction(spec).flows;
}

function buildConjunction(spec: ConjunctionSpec): { flows: Flow[]; counts: [number, number, number] } {
  const none = { flows: [], counts: [0, 0, 0] as [number, number, number] };
  if (spec.appliedTo.length === 0) return none;
  if (spec.peers !== 'any' && spec.peers.length === 0) return none;
  if (spec.services !== 'any' && spec.services.length === 0) return none;
  const nClauses = spec.services === 'any' ? 2 : 3;
  const cookie = makeCookie(CookieCategory.Policy, spec.conjId);

  const podTemplates = spec.appliedTo.map((pod) =>
    spec.direction === 'In'
      ? clauseTemplate(`reg|${pod.ofport}`, (b) => b.matchReg(TARGET_OFPORT_REG, pod.ofport))
      : clauseTemplate(`src|${pod.ip}`, (b) => b.matchSrcIp(pod.ip)),
  );
  const peerTemplates =
    spec.peers === 'any'
      ? [clauseTemplate('any', (b) => b)]
      : spec.peers.map((address) =>
          spec.direction === 'In'
            ? clauseTemplate(`src|${address}`, (b) => b.matchSrcIp(address))
            : clauseTemplate(`dst|${address}`, (b) => b.matchDstIp(address)),
        );
  const serviceTemplates = spec.services === 'any' ? [] : spec.services.flatMap(serviceTemplatesOf);

  const [sources, destinations] =
    spec.direction === 'In' ? [peerTemplates, podTemplates] : [podTemplates, peerTemplates];
  const finish = (templates: Flow[], clauseId: number): Flow[] =>
    uniqueFlows(
      templates.map((t) =>
        flowLike(t, spec.table, spec.priority, `conjunction(${spec.conjId},${clauseId}/${nClauses})`, cookie),
      ),
    );
  const clauses = [finish(sources, 1), finish(destinations, 2), finish(serviceTemplates, 3)];
  return {
    flows: [conjunctionActionFlow(spec), ...clauses.flat()],
    counts: [clauses[0]?.length ?? 0, clauses[1]?.length ?? 0, clauses[2]?.length ?? 0],
  };
}

// Clause flows come in few shapes (a pod's port or address, a peer address, a service) repeated across thousands of
// rules. Each shape's match is built and checked once by the FlowBuilder; rules copy it (flowLike) with their own
// table, priority, cookie and conjunction action. A bounded memo of a pure function: cleared when it gets large.
const clauseTemplates = new Map<string, Flow>();
const MAX_CLAUSE_TEMPLATES = 100_000;

function clauseTemplate(id: string, match: (b: FlowBuilder) => FlowBuilder): Flow {
  const known = clauseTemplates.get(id);
  if (known !== undefined) return known;
  const made = match(
    flow(0)
      .priority(0)
      .matchProtocol(id.startsWith('svc|') ? serviceProtocolOf(id) : 'ip'),
  ).done();
  if (clauseTemplates.size >= MAX_CLAUSE_TEMPLATES) clauseTemplates.clear();
  clauseTemplates.set(id, made);
  return made;
}

function serviceProtocolOf(id: string): MatchProtocol {
  return id.split('|')[1] as MatchProtocol;
}

function serviceTemplatesOf(service: ResolvedService): Flow[] {
  const protocol = service.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp';
  const dst: (PortMask | undefined)[] =
    service.port === undefined ? [undefined] : portRangeMasks(service.port, service.endPort ?? service.port);
  const src: (PortMask | undefined)[] =
    service.srcPort === undefined
      ? [undefined]
      : portRangeMasks(service.srcPort, service.srcEndPort ?? service.srcPort);
  const out: Flow[] = [];
  for (const d of dst) {
    for (const s of src) {
      const id = `svc|${protocol}|${d ? `${d.value}/${d.mask}` : ''}|${s ? `${s.value}/${s.mask}` : ''}`;
      out.push(
        clauseTemplate(id, (b) => {
          // A mask of 0 is the whole port space: no port match at all.
          if (d && d.mask !== 0) b.matchTpDst(d.value, d.mask);
          if (s && s.mask !== 0) b.matchTpSrc(s.value, s.mask);
          return b;
        }),
      );
    }
  }
  return out;
}

/** Drops clause flows that repeat a match (a pod in two groups, an ipBlock equal to a pod's address). */
function uniqueFlows(flows: Flow[]): Flow[] {
  if (flows.length === 1) return flows;
  const seen = new Map<string, Flow>();
  for (const f of flows) {
    const key = flowKey(f);
    if (!seen.has(key)) seen.set(key, f);
  }
  return [...seen.entries()].sort(([a], [b]) => compareText(a, b)).map(([, f]) => f);
}

// ---------------------------------------------------------------------------------------------------------
// A rule of an internal NetworkPolicy → its conjunctions.

export interface LocalMember {
  key: string;
  address: LocalPodAddress;
  member: GroupMemberPod;
}

/** The rule's effective applied-to groups: its own (Antrea per-rule appliedTo) or the policy's. */
export function ruleAppliedToGroups(policy: InternalNetworkPolicy, rule: InternalRule): string[] {
  return rule.appliedToGroups.length > 0 ? rule.appliedToGroups : policy.appliedToGroups;
}

/** Local pods of the groups, once each, sorted by "namespace/name". */
export function localMembers(
  groupNames: readonly string[],
  appliedToGroups: ReadonlyMap<string, AppliedToGroup>,
  localPods: LocalPodPorts,
): LocalMember[] {
  const found = new Map<string, LocalMember>();
  for (const name of groupNames) {
    for (const member of appliedToGroups.get(name)?.members ?? []) {
      const key = `${member.namespace}/${member.name}`;
      const address = localPods.get(key);
      if (address && !found.has(key) && isIpv4(address.ip)) found.set(key, { key, address, member });
    }
  }
  return [...found.values()].sort((a, b) => compareText(a.key, b.key));
}

/**
 * The conjunctions of one rule on this node. Without named ports that is one conjunction (`subKey` ''). A named
 * port means a number per destination pod (ingress: the applied-to pods; egress: the peer pods), so those pods
 * are grouped by what their services resolve to and each group gets its own conjunction; a pod lacking the name
 * matches none of that rule's named ports, and ipBlock peers match only the numbered ports (as in Antrea's agent;
 * evaluate() also resolves a named port for an ipBlock address that happens to be a known pod, so for egress rules
 * with named ports and ipBlock peers covering pods the two differ). Empty when the rule
 * applies to no local pod; a rule without named ports whose peers are empty for now returns its conjunction
 * with no flows (so it keeps its id). `conjIdFor(subKey)` supplies the conjunction ids.
 */
export function ruleFlows(
  policy: InternalNetworkPolicy,
  rule: InternalRule,
  groups: RuleGroups,
  localPods: LocalPodPorts,
  placement: RulePlacement,
  conjIdFor: (subKey: string) => number,
  options: { packetIn?: PacketInOptions } = {},
): RuleConjunction[] {
  const appliedTo = localMembers(ruleAppliedToGroups(policy, rule), groups.appliedToGroups, localPods);
  if (appliedTo.length === 0) return [];
  const peer = collectPeers(rule, groups.addressGroups);
  const named = rule.services.some((s) => typeof s.port === 'string');
  const base = { direction: rule.direction, action: rule.action, ...placement };
  const packetIn = options.packetIn;
  // Kubernetes NetworkPolicy rules are never logged (only their default drops are, see policy-flows.ts).
  const log = rule.enableLogging && policy.sourceRef.type !== 'K8sNetworkPolicy';

  const build = (
    subKey: string,
    peers: readonly string[] | 'any',
    pods: readonly LocalMember[],
    services: readonly ResolvedService[] | 'any',
    keepEmpty = false,
  ): RuleConjunction | undefined => {
    const empty =
      pods.length === 0 ||
      (peers !== 'any' && peers.length === 0) ||
      (services !== 'any' && services.length === 0);
    if (empty && !keepEmpty) return undefined;
    const conjId = conjIdFor(subKey);
    const { flows, counts } = buildConjunction({
      ...base,
      conjId,
      peers,
      appliedTo: pods.map((p) => p.address),
      services,
      ...(packetIn ? { packetIn } : {}),
      ...(log ? { log } : {}),
    });
    return { subKey, conjId, flows, clauseFlows: counts };
  };

  if (!named) {
    const services = rule.services.length === 0 ? 'any' : rule.services.map(numericService);
    const one = build(
      '',
      peer === 'any' ? 'any' : [...peer.pods.map((p) => p.ip), ...peer.cidrs],
      appliedTo,
      services,
      // The rule keeps its id while its peers are empty (a group with no pods yet): flows come back with it.
      true,
    );
    return one ? [one] : [];
  }

  const numbered = rule.services.filter((s) => typeof s.port !== 'string').map(numericService);
  const conjunctions: RuleConjunction[] = [];
  if (rule.direction === 'In') {
    // Named ports are the applied-to (destination) pods' own: group them by what the services resolve to.
    const byServices = groupBy(appliedTo, (pod) => resolveServices(rule.services, pod.member));
    for (const [subKey, entry] of byServices) {
      const peers = peer === 'any' ? 'any' : [...peer.pods.map((p) => p.ip), ...peer.cidrs];
      const c = build(subKey, peers, entry.items, entry.services);
      if (c) conjunctions.push(c);
    }
  } else {
    // Named ports are the peer (destination) pods': group the peers; addresses that are not pods (ipBlocks)
    // have no named ports and join the group of the numbered ports.
    const peerPods = peer === 'any' ? [] : peer.pods;
    const byServices = groupBy(peerPods, (p) => resolveServices(rule.services, p));
    const cidrs = peer === 'any' ? undefined : peer.cidrs;
    const numberedKey = serviceKey(numbered);
    if (peer === 'any' || (cidrs !== undefined && cidrs.length > 0)) {
      const entry = byServices.get(numberedKey) ?? { items: [], services: numbered };
      byServices.set(numberedKey, entry);
    }
    for (const [subKey, entry] of [...byServices].sort(([a], [b]) => compareText(a, b))) {
      let peers: readonly string[] | 'any' = entry.items.map((p) => p.ip);
      if (subKey === numberedKey) peers = peer === 'any' ? 'any' : [...peers, ...(cidrs ?? [])];
      const c = build(subKey, peers, appliedTo, entry.services);
      if (c) conjunctions.push(c);
    }
  }
  return conjunctions.sort((a, b) => compareText(a.subKey, b.subKey));
}

interface Peers {
  /** Pods of the address groups (addresses unique). */
  pods: GroupMemberPod[];
  /** ipBlocks of the rule and of its groups, excepts subtracted; IPv4 only (pods here are IPv4). */
  cidrs: string[];
}

function collectPeers(rule: InternalRule, addressGroups: ReadonlyMap<string, AddressGroup>): Peers | 'any' {
  const { peer } = rule;
  if (peer.addressGroups.length === 0 && peer.ipBlocks.length === 0) return 'any';
  const pods = new Map<string, GroupMemberPod>();
  const blocks: IPBlockRef[] = [...peer.ipBlocks];
  for (const name of peer.addressGroups) {
    const group = addressGroups.get(name);
    if (!group) continue;
    for (const member of group.members) {
      if (isIpv4(member.ip) && !pods.has(member.ip)) pods.set(member.ip, member);
    }
    blocks.push(...group.ipBlocks);
  }
  const cidrs = new Set<string>();
  for (const block of blocks) {
    if (!isIpv4Cidr(block.cidr)) continue;
    const excepts = block.except.filter(isIpv4Cidr);
    for (const cidr of cidrTextsExcept(block.cidr, excepts)) cidrs.add(cidr);
  }
  return {
    pods: [...pods.values()].sort((a, b) =>
      compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`),
    ),
    cidrs: [...cidrs].sort(),
  };
}

function isIpv4Cidr(text: string): boolean {
  const [address, prefix, extra] = text.split('/');
  return (
    address !== undefined &&
    prefix !== undefined &&
    extra === undefined &&
    isIpv4(address) &&
    /^\d{1,2}$/.test(prefix) &&
    Number(prefix) <= 32
  );
}

function numericService(service: InternalService): ResolvedService {
  const out: ResolvedService = { protocol: service.protocol };
  if (typeof service.port === 'number') out.port = service.port;
  if (service.endPort !== undefined && typeof service.port === 'number') out.endPort = service.endPort;
  if (service.srcPort !== undefined) out.srcPort = service.srcPort;
  if (service.srcEndPort !== undefined) out.srcEndPort = service.srcEndPort;
  return out;
}

/** The services as they apply to one destination pod: named ports it lacks are left out. */
export function resolveServices(
  services: readonly InternalService[],
  destination: Pick<GroupMemberPod, 'ports'>,
): ResolvedService[] {
  const out: ResolvedService[] = [];
  for (const service of services) {
    if (typeof service.port !== 'string') {
      out.push(numericService(service));
      continue;
    }
    const named = destination.ports.find((p) => p.name === service.port && p.protocol === service.protocol);
    if (!named) continue;
    const resolved = numericService({ ...service, port: named.port, endPort: undefined });
    out.push(resolved);
  }
  return normalizeServices(out);
}

function normalizeServices(services: ResolvedService[]): ResolvedService[] {
  const unique = new Map<string, ResolvedService>();
  for (const s of services) unique.set(serviceText(s), s);
  return [...unique.entries()].sort(([a], [b]) => compareText(a, b)).map(([, s]) => s);
}

function serviceText(s: ResolvedService): string {
  const dst = s.port === undefined ? '*' : s.endPort !== undefined ? `${s.port}-${s.endPort}` : `${s.port}`;
  const src =
    s.srcPort === undefined
      ? ''
      : `<${s.srcEndPort !== undefined ? `${s.srcPort}-${s.srcEndPort}` : s.srcPort}`;
  return `${s.protocol}/${dst}${src}`;
}

/** Canonical text of a service list: the subKey of the conjunction it belongs to. */
export function serviceKey(services: readonly ResolvedService[]): string {
  return normalizeServices([...services])
    .map(serviceText)
    .join(',');
}

function groupBy<T>(
  items: readonly T[],
  resolve: (item: T) => ResolvedService[],
): Map<string, { items: T[]; services: ResolvedService[] }> {
  const out = new Map<string, { items: T[]; services: ResolvedService[] }>();
  for (const item of items) {
    const services = resolve(item);
    const key = serviceKey(services);
    let entry = out.get(key);
    if (!entry) out.set(key, (entry = { items: [], services }));
    entry.items.push(item);
  }
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
