// What-if evaluation: "would A reach B on PROTOCOL/PORT?", answered from the controller's compiled rules the
// way Antrea's data path enforces them, with the rule that decided each direction.
//
// Order of enforcement, per direction (egress for the source pod, ingress for the destination pod):
//   1. Antrea-native rules of every tier except baseline: tier priority, then policy priority, then rule
//      order. The first rule that matches decides; `Pass` skips the remaining rules of these tiers.
//   2. Kubernetes NetworkPolicy: a pod selected by a K8s policy whose policyTypes include the direction is
//      isolated in that direction; it is allowed only if a rule of one of those policies matches, and dropped
//      otherwise. The isolation drop comes before the baseline tier, so baseline rules cannot change it
//      (Antrea installs the isolation drops above the baseline flows in the default-rule tables).
//   3. Baseline tier rules (only reached for pods that K8s policies do not isolate in that direction).
//   4. Nothing matched: allowed.
import type { PodInfo, Protocol, RuleAction } from '../api/types';
import { BASELINE_TIER, DEFAULT_TIER, STATIC_TIERS } from '../api/types';
import type {
  ControllerSnapshot,
  InternalNetworkPolicy,
  InternalPeer,
  InternalRule,
  InternalService,
  IPBlockRef,
  PolicySourceRef,
  RuleDirection,
} from '../controller/internal-types';
import type { PolicyController } from '../controller/policy-controller';
import { cidrContains, parseCidr, parseIpv4, isIpv4 } from '../ipam/ipv4';

export type Verdict = 'Allow' | 'Drop' | 'Reject';

/** A pod ("ns/name") or a bare IPv4 address. A bare address that belongs to a known pod is that pod. */
export interface EvaluationEndpoint {
  pod?: string;
  ip?: string;
}

export interface DecidingRule {
  policy: PolicySourceRef;
  tier?: string;
  direction: 'In' | 'Out';
  /** Index of the rule within its direction in the source policy; -1 for K8s isolation. */
  ruleIndex: number;
  ruleName: string;
  action: RuleAction | 'DefaultDeny';
}

export interface DirectionResult {
  verdict: Verdict;
  /** Absent when no policy applies to this direction. */
  rule?: DecidingRule;
  /** The Antrea `Pass` rule that handed this direction down to the K8s NetworkPolicy layer, if any. */
  passedBy?: DecidingRule;
}

export interface EvaluationResult {
  verdict: Verdict;
  egress: DirectionResult;
  ingress: DirectionResult;
}

/** What the evaluator reads from the controller. */
export type EvaluationSource = Pick<PolicyController, 'snapshot' | 'pods' | 'namespaces'>;

export type EvaluationErrorCode = 'UnknownPod' | 'InvalidEndpoint';

export class EvaluationError extends Error {
  constructor(
    readonly code: EvaluationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EvaluationError';
  }
}

interface Endpoint {
  /** Set when the endpoint is a known pod. */
  pod?: PodInfo;
  /** Numeric IPv4 address, when known. */
  ip?: number;
}

interface PodEndpoint extends Endpoint {
  pod: PodInfo;
}

interface RuleRef {
  policy: InternalNetworkPolicy;
  rule: InternalRule;
  /** Position in policy.rules, to keep the controller's order among rules of equal priority. */
  position: number;
}

const K8S_TYPE = 'K8sNetworkPolicy';
const DEFAULT_TIER_PRIORITY = STATIC_TIERS[DEFAULT_TIER] ?? 250;

export function evaluate(
  controller: EvaluationSource,
  from: EvaluationEndpoint,
  to: EvaluationEndpoint,
  protocol: Protocol,
  port: number,
): EvaluationResult {
  const pods = controller.pods();
  const snapshot = controller.snapshot();
  const src = resolveEndpoint(from, pods, 'source');
  const dst = resolveEndpoint(to, pods, 'destination');
  const probe: Probe = { protocol, port };
  const egress: DirectionResult = src.pod
    ? evaluateDirection(snapshot, 'Out', { ...src, pod: src.pod }, dst, probe)
    : { verdict: 'Allow' };
  const ingress: DirectionResult = dst.pod
    ? evaluateDirection(snapshot, 'In', { ...dst, pod: dst.pod }, src, probe)
    : { verdict: 'Allow' };
  // Egress is enforced on the way out, so a packet it stops never meets the destination's rules.
  const verdict = egress.verdict !== 'Allow' ? egress.verdict : ingress.verdict;
  return { verdict, egress, ingress };
}

interface Probe {
  protocol: Protocol;
  port: number;
}

function resolveEndpoint(
  endpoint: EvaluationEndpoint,
  pods: ReadonlyMap<string, PodInfo>,
  role: string,
): Endpoint {
  if (endpoint.ip !== undefined && !isIpv4(endpoint.ip)) {
    throw new EvaluationError('InvalidEndpoint', `${role} IP "${endpoint.ip}" is not an IPv4 address`);
  }
  if (endpoint.pod !== undefined) {
    const pod = pods.get(endpoint.pod);
    if (pod === undefined) {
      throw new EvaluationError('UnknownPod', `${role} pod "${endpoint.pod}" is not known`);
    }
    // Pods here have IPv4 addresses; one without (not yet addressed) can still be matched by identity.
    const ipText = endpoint.ip ?? (isIpv4(pod.ip) ? pod.ip : undefined);
    return ipText === undefined ? { pod } : { pod, ip: parseIpv4(ipText) };
  }
  if (endpoint.ip === undefined) {
    throw new EvaluationError('InvalidEndpoint', `${role} needs a pod or an IP`);
  }
  const ip = parseIpv4(endpoint.ip);
  const owner = [...pods.keys()]
    .sort()
    .map((key) => pods.get(key))
    .find((pod) => pod !== undefined && pod.ip !== '' && isIpv4(pod.ip) && parseIpv4(pod.ip) === ip);
  return owner ? { pod: owner, ip } : { ip };
}

function evaluateDirection(
  snapshot: ControllerSnapshot,
  direction: RuleDirection,
  subject: PodEndpoint,
  peer: Endpoint,
  probe: Probe,
): DirectionResult {
  const destination = direction === 'In' ? subject.pod : peer.pod;
  const matches = (ref: RuleRef): boolean =>
    peerMatches(snapshot, ref.rule.peer, peer) && servicesMatch(ref.rule.services, probe, destination);

  const tiered: RuleRef[] = [];
  const baseline: RuleRef[] = [];
  const k8sPolicies: InternalNetworkPolicy[] = [];
  for (const policy of snapshot.networkPolicies.values()) {
    if (policy.sourceRef.type === K8S_TYPE) {
      k8sPolicies.push(policy);
      continue;
    }
    const target = isBaseline(policy) ? baseline : tiered;
    policy.rules.forEach((rule, position) => {
      if (rule.direction !== direction) return;
      const appliedTo = rule.appliedToGroups.length > 0 ? rule.appliedToGroups : policy.appliedToGroups;
      if (isAppliedTo(snapshot, appliedTo, subject.pod)) target.push({ policy, rule, position });
    });
  }

  let passedBy: DecidingRule | undefined;
  for (const ref of tiered.sort(compareAntreaRules)) {
    if (!matches(ref)) continue;
    if (ref.rule.action === 'Pass') {
      passedBy = decidingRule(ref, direction);
      break;
    }
    return withPass({ verdict: verdictOf(ref.rule.action), rule: decidingRule(ref, direction) }, passedBy);
  }

  const policyType = direction === 'In' ? 'Ingress' : 'Egress';
  const isolating = k8sPolicies
    .filter((policy) => policy.policyTypes.includes(policyType))
    .filter((policy) => isAppliedTo(snapshot, policy.appliedToGroups, subject.pod))
    .sort(comparePolicies);
  if (isolating.length > 0) {
    for (const policy of isolating) {
      const allowing = policy.rules
        .map((rule, position) => ({ policy, rule, position }))
        .filter((ref) => ref.rule.direction === direction)
        .sort(compareRuleOrder)
        .find(matches);
      if (allowing) {
        return withPass({ verdict: 'Allow', rule: decidingRule(allowing, direction) }, passedBy);
      }
    }
    const first = isolating[0] as InternalNetworkPolicy;
    return withPass(
      {
        verdict: 'Drop',
        rule: {
          policy: first.sourceRef,
          direction,
          ruleIndex: -1,
          ruleName: '',
          action: 'DefaultDeny',
        },
      },
      passedBy,
    );
  }

  for (const ref of baseline.sort(compareAntreaRules)) {
    // Pass is rejected in the baseline tier by validation; were one here, it would have nowhere to go.
    if (ref.rule.action === 'Pass' || !matches(ref)) continue;
    return withPass({ verdict: verdictOf(ref.rule.action), rule: decidingRule(ref, direction) }, passedBy);
  }
  return withPass({ verdict: 'Allow' }, passedBy);
}

function withPass(result: DirectionResult, passedBy: DecidingRule | undefined): DirectionResult {
  return passedBy ? { ...result, passedBy } : result;
}

function verdictOf(action: RuleAction): Verdict {
  if (action === 'Drop') return 'Drop';
  if (action === 'Reject') return 'Reject';
  return 'Allow';
}

function isBaseline(policy: InternalNetworkPolicy): boolean {
  return policy.tierName === BASELINE_TIER || policy.tierPriority === STATIC_TIERS[BASELINE_TIER];
}

function decidingRule(ref: RuleRef, direction: RuleDirection): DecidingRule {
  const action: RuleAction = ref.policy.sourceRef.type === K8S_TYPE ? 'Allow' : ref.rule.action;
  const rule: DecidingRule = {
    policy: ref.policy.sourceRef,
    direction,
    ruleIndex: ref.rule.priority,
    ruleName: ref.rule.name,
    action,
  };
  if (ref.policy.tierName !== undefined) rule.tier = ref.policy.tierName;
  return rule;
}

function isAppliedTo(snapshot: ControllerSnapshot, groupNames: readonly string[], pod: PodInfo): boolean {
  return groupNames.some((name) =>
    snapshot.appliedToGroups
      .get(name)
      ?.members.some((member) => member.namespace === pod.namespace && member.name === pod.name),
  );
}

/** An empty peer (no groups, no blocks) matches every address, as an absent `from`/`to` does. */
function peerMatches(snapshot: ControllerSnapshot, peer: InternalPeer, endpoint: Endpoint): boolean {
  if (peer.addressGroups.length === 0 && peer.ipBlocks.length === 0) return true;
  for (const name of peer.addressGroups) {
    const group = snapshot.addressGroups.get(name);
    if (group === undefined) continue;
    if (group.members.some((member) => memberIs(member, endpoint))) return true;
    if (
      endpoint.ip !== undefined &&
      group.ipBlocks.some((block) => blockContains(block, endpoint.ip as number))
    ) {
      return true;
    }
  }
  const ip = endpoint.ip;
  return ip !== undefined && peer.ipBlocks.some((block) => blockContains(block, ip));
}

function memberIs(member: { namespace: string; name: string; ip: string }, endpoint: Endpoint): boolean {
  if (endpoint.pod) return member.namespace === endpoint.pod.namespace && member.name === endpoint.pod.name;
  return endpoint.ip !== undefined && isIpv4(member.ip) && parseIpv4(member.ip) === endpoint.ip;
}

/** IPv6 blocks (e.g. "::/0" next to "0.0.0.0/0") cannot contain the IPv4 addresses pods have here. */
function blockContains(block: IPBlockRef, ip: number): boolean {
  if (!ipv4CidrContains(block.cidr, ip)) return false;
  return !block.except.some((except) => ipv4CidrContains(except, ip));
}

function ipv4CidrContains(cidr: string, ip: number): boolean {
  try {
    return cidrContains(parseCidr(cidr), ip);
  } catch {
    return false;
  }
}

/** No services means every protocol and port. */
function servicesMatch(
  services: readonly InternalService[],
  probe: Probe,
  destination: PodInfo | undefined,
): boolean {
  return services.length === 0 || services.some((service) => serviceMatches(service, probe, destination));
}

function serviceMatches(service: InternalService, probe: Probe, destination: PodInfo | undefined): boolean {
  if (service.protocol !== probe.protocol) return false;
  // A probe's source port is whatever ephemeral port the client's kernel picks, so nobody can say in advance
  // whether a rule constrained by source ports would match it: such rules are treated as not matching.
  if (service.srcPort !== undefined || service.srcEndPort !== undefined) return false;
  if (service.port === undefined) return true;
  if (typeof service.port === 'number') {
    return probe.port >= service.port && probe.port <= (service.endPort ?? service.port);
  }
  // Named ports mean the destination pod's container port of that name and protocol; an address that is
  // not a known pod has no named ports, so the rule cannot match it.
  return (
    destination?.containerPorts.some(
      (cp) =>
        cp.name === service.port &&
        (cp.protocol ?? 'TCP') === service.protocol &&
        cp.containerPort === probe.port,
    ) ?? false
  );
}

function comparePolicies(a: InternalNetworkPolicy, b: InternalNetworkPolicy): number {
  return (
    compareText(a.sourceRef.namespace ?? '', b.sourceRef.namespace ?? '') ||
    compareText(a.sourceRef.name, b.sourceRef.name) ||
    compareText(a.sourceRef.type, b.sourceRef.type) ||
    compareText(a.uid, b.uid)
  );
}

function compareRuleOrder(a: RuleRef, b: RuleRef): number {
  return a.rule.priority - b.rule.priority || a.position - b.position;
}

/**
 * Tier priority, then policy priority, then rule index: rules of policies with equal priorities interleave by
 * index, as Antrea assigns OpenFlow priorities (e2e "ACNP Rule Priority"). Equal on all three, Antrea's order
 * is undefined; the policy name makes ours stable.
 */
function compareAntreaRules(a: RuleRef, b: RuleRef): number {
  return (
    (a.policy.tierPriority ?? DEFAULT_TIER_PRIORITY) - (b.policy.tierPriority ?? DEFAULT_TIER_PRIORITY) ||
    (a.policy.priority ?? 0) - (b.policy.priority ?? 0) ||
    a.rule.priority - b.rule.priority ||
    comparePolicies(a.policy, b.policy) ||
    a.position - b.position
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
