// Per-rule traffic counts of network policies, read from the counters of the policy flows that OVS holds, and the
// selection of the flows that realize one policy (`antctl get ovsflows --networkpolicy`).
//
// Every policy flow's cookie is Policy/<conjunction id>, and a rule's decision is its `conj_id=<id>` action flow
// (policy-flows.ts). What that flow counts follows from the pipeline: established connections take the
// `ct_state=-new+est` fast path past every rule table, so only packets of connections that are not yet
// established reach a rule. An Allow (or Pass) rule's action flow therefore counts the packets it let open a
// connection: one SYN per TCP connection (plus retransmitted SYNs), the packets of a UDP flow sent before its
// first reply. Those are its SESSIONS; its PACKETS and BYTES are the same packets, not the traffic of the whole
// connection. A Drop or Reject rule's action flow counts every packet it dropped, each counted as a session (as
// Antrea's agent counts denied traffic). Pods isolated by Kubernetes NetworkPolicies are dropped by per-pod
// isolation flows that no rule owns: they are listed with the policy's flows but are not in its rule counts.
import type { RuleAction } from '../api/types';
import type { InternalNetworkPolicy, PolicySourceType, RuleDirection } from '../controller/internal-types';
import {
  CookieCategory,
  cookieCategory,
  cookieObjectId,
  parseDumpFlowsLine,
  type InstalledFlow,
} from '../pipeline/flow';
import { ruleKeyOf } from '../pipeline/policy-flows';

/** A rule of a policy with the conjunction ids its flows on this node carry (none: no flows here). */
export interface RuleConjunctionIds {
  /** The rule's name, or `ingress-<index>` / `egress-<index>` when it has none. */
  ruleName: string;
  direction: RuleDirection;
  /** Index of the rule within its direction in the source policy. */
  ruleIndex: number;
  action: RuleAction;
  conjIds: number[];
}

export interface PolicyConjunctionIds {
  rules: RuleConjunctionIds[];
  /** Ids of the isolation drops of local pods this (Kubernetes) policy isolates; shared with other policies. */
  isolationIds: number[];
}

/** A pod as a member of an applied-to group. */
export interface GroupMemberRef {
  namespace: string;
  name: string;
}

/**
 * The conjunction ids of a policy's rules on this node, from the enforcer's ids by key (`<ruleKey>|<subKey>` and
 * `isolation/<In|Out>/<namespace>/<pod>`, policy-flows.ts). A rule's key is recomputed with `ruleKeyOf`; identical
 * rules of one policy get `#2`, `#3`… in rule order, as compilePolicyFlows numbers them.
 */
export function policyConjunctionIds(
  policy: InternalNetworkPolicy,
  conjIds: ReadonlyMap<string, number>,
  members: (appliedToGroup: string) => readonly GroupMemberRef[],
): PolicyConjunctionIds {
  const idsByRuleKey = new Map<string, number[]>();
  for (const [key, id] of conjIds) {
    const separator = key.lastIndexOf('|');
    if (separator < 0) continue;
    const ruleKey = key.slice(0, separator);
    const ids = idsByRuleKey.get(ruleKey);
    if (ids) ids.push(id);
    else idsByRuleKey.set(ruleKey, [id]);
  }
  const seen = new Map<string, number>();
  const rules = policy.rules.map((rule): RuleConjunctionIds => {
    const base = ruleKeyOf(policy, rule);
    const occurrence = (seen.get(base) ?? 0) + 1;
    seen.set(base, occurrence);
    const ruleKey = occurrence === 1 ? base : `${base}#${occurrence}`;
    return {
      ruleName: rule.name !== '' ? rule.name : defaultRuleName(rule.direction, rule.priority),
      direction: rule.direction,
      ruleIndex: rule.priority,
      action: rule.action,
      conjIds: [...(idsByRuleKey.get(ruleKey) ?? [])].sort((a, b) => a - b),
    };
  });

  const isolationIds: number[] = [];
  if (policy.sourceRef.type === 'K8sNetworkPolicy') {
    const pods = new Set<string>();
    for (const group of policy.appliedToGroups) {
      for (const member of members(group)) pods.add(`${member.namespace}/${member.name}`);
    }
    for (const type of policy.policyTypes) {
      const direction = type === 'Ingress' ? 'In' : 'Out';
      for (const pod of pods) {
        const id = conjIds.get(`isolation/${direction}/${pod}`);
        if (id !== undefined) isolationIds.push(id);
      }
    }
  }
  return { rules, isolationIds: isolationIds.sort((a, b) => a - b) };
}

/** Antrea's names for unnamed rules are generated; ours are the direction and index, stable and readable. */
export function defaultRuleName(direction: RuleDirection, ruleIndex: number): string {
  return `${direction === 'In' ? 'ingress' : 'egress'}-${ruleIndex}`;
}

/** Every id a policy's flows can carry: its rules' conjunction ids and its isolation drops' ids. */
export function allConjunctionIds(ids: PolicyConjunctionIds): Set<number> {
  return new Set([...ids.rules.flatMap((rule) => rule.conjIds), ...ids.isolationIds]);
}

const CONJ_ID_MATCH = /(?:^|,)conj_id=(\d+)(?:,|$)/;
const CONJUNCTION_ACTION = /conjunction\((\d+),/g;

/**
 * Whether a flow realizes one of `ids`: a policy flow whose cookie names one of them (action flows, clause flows,
 * isolation drops), or a clause flow shared with another rule that carries a `conjunction(<id>,…)` of one of them
 * (its cookie names the lowest id of all rules sharing it).
 */
export function flowRealizes(
  flow: Pick<InstalledFlow, 'cookie' | 'actions'>,
  ids: ReadonlySet<number>,
): boolean {
  if (cookieCategory(flow.cookie) !== CookieCategory.Policy) return false;
  if (ids.has(cookieObjectId(flow.cookie))) return true;
  for (const match of flow.actions.matchAll(CONJUNCTION_ACTION)) {
    if (ids.has(Number(match[1]))) return true;
  }
  return false;
}

/** The id of a `conj_id=<id>` action flow; undefined for any other flow. */
export function actionFlowConjId(flow: Pick<InstalledFlow, 'match'>): number | undefined {
  const match = CONJ_ID_MATCH.exec(flow.match);
  return match ? Number(match[1]) : undefined;
}

/** A dumped flow with its counters and age (seconds since it was added; counters start then). */
export type CountedFlow = InstalledFlow & { durationSeconds: number };

/** One `ovs-ofctl dump-flows` line with its counters and `duration=`; undefined for lines that are no flow. */
export function parseCountedFlow(line: string): CountedFlow | undefined {
  const parsed = parseDumpFlowsLine(line);
  if (!parsed) return undefined;
  const duration = /(?:^|[\s,])duration=([\d.]+)s/.exec(line);
  return { ...parsed, durationSeconds: duration ? Number(duration[1]) : 0 };
}

/** The counts of one rule; `since` is when its oldest action flow was added (ISO time), absent without flows. */
export interface RuleCounts {
  ruleName: string;
  direction: RuleDirection;
  ruleIndex: number;
  action: RuleAction;
  packets: number;
  bytes: number;
  sessions: number;
  since?: string;
}

/**
 * Each rule's counts from its action flows (one per conjunction: a rule whose named ports resolve differently
 * per pod has several). Every packet an action flow counts is a session, see the top of this file.
 */
export function ruleCounts(
  ids: PolicyConjunctionIds,
  flows: Iterable<CountedFlow>,
  nowMs: number,
): RuleCounts[] {
  const actionFlows = new Map<number, CountedFlow>();
  for (const flow of flows) {
    if (cookieCategory(flow.cookie) !== CookieCategory.Policy) continue;
    const conjId = actionFlowConjId(flow);
    if (conjId !== undefined) actionFlows.set(conjId, flow);
  }
  return ids.rules.map((rule): RuleCounts => {
    let packets = 0;
    let bytes = 0;
    let oldest: number | undefined;
    for (const conjId of rule.conjIds) {
      const flow = actionFlows.get(conjId);
      if (!flow) continue;
      packets += flow.packets;
      bytes += flow.bytes;
      oldest = Math.max(oldest ?? 0, flow.durationSeconds);
    }
    const counts: RuleCounts = {
      ruleName: rule.ruleName,
      direction: rule.direction,
      ruleIndex: rule.ruleIndex,
      action: rule.action,
      packets,
      bytes,
      sessions: packets,
    };
    if (oldest !== undefined) counts.since = isoSeconds(nowMs - oldest * 1000);
    return counts;
  });
}

export const STATS_API_VERSION = 'stats.antrea.io/v1alpha1';

export type NetworkPolicyStatsKind =
  'NetworkPolicyStats' | 'AntreaClusterNetworkPolicyStats' | 'AntreaNetworkPolicyStats';

const STATS_KIND_BY_SOURCE: Record<PolicySourceType, NetworkPolicyStatsKind> = {
  K8sNetworkPolicy: 'NetworkPolicyStats',
  AntreaClusterNetworkPolicy: 'AntreaClusterNetworkPolicyStats',
  AntreaNetworkPolicy: 'AntreaNetworkPolicyStats',
};

export interface TrafficStats {
  packets: number;
  bytes: number;
  sessions: number;
}

export interface RuleTrafficStats {
  name: string;
  trafficStats: TrafficStats;
}

/**
 * Antrea's stats objects (stats.antrea.io/v1alpha1), for this node. As in Antrea, `creationTimestamp` is when the
 * counting started (here: when the policy's oldest action flow on this node was added), not when the policy was;
 * absent when the policy has no flows on this node.
 */
export interface NetworkPolicyStats {
  apiVersion: typeof STATS_API_VERSION;
  kind: NetworkPolicyStatsKind;
  metadata: { name: string; namespace?: string; uid: string; creationTimestamp?: string };
  sourceRef: InternalNetworkPolicy['sourceRef'];
  trafficStats: TrafficStats;
  ruleTrafficStats: RuleTrafficStats[];
}

export function networkPolicyStats(
  policy: Pick<InternalNetworkPolicy, 'sourceRef'>,
  rules: readonly RuleCounts[],
): NetworkPolicyStats {
  const ref = policy.sourceRef;
  const metadata: NetworkPolicyStats['metadata'] = { name: ref.name, uid: ref.uid };
  if (ref.namespace !== undefined) metadata.namespace = ref.namespace;
  const since = rules.flatMap((rule) => (rule.since === undefined ? [] : [rule.since])).sort()[0];
  if (since !== undefined) metadata.creationTimestamp = since;
  const total: TrafficStats = { packets: 0, bytes: 0, sessions: 0 };
  for (const rule of rules) {
    total.packets += rule.packets;
    total.bytes += rule.bytes;
    total.sessions += rule.sessions;
  }
  return {
    apiVersion: STATS_API_VERSION,
    kind: STATS_KIND_BY_SOURCE[ref.type],
    metadata,
    sourceRef: ref,
    trafficStats: total,
    ruleTrafficStats: rules.map((rule) => ({
      name: rule.ruleName,
      trafficStats: { packets: rule.packets, bytes: rule.bytes, sessions: rule.sessions },
    })),
  };
}

/**
 * Pipeline order: table, then higher priority first, then by match, which puts a rule's `conj_id` action flow
 * before its clause flows (as Antrea lists them) and keeps the order independent of the counters.
 */
export function compareFlowsInTableOrder(
  a: Pick<InstalledFlow, 'table' | 'priority' | 'match'>,
  b: Pick<InstalledFlow, 'table' | 'priority' | 'match'>,
): number {
  return a.table - b.table || b.priority - a.priority || (a.match < b.match ? -1 : a.match > b.match ? 1 : 0);
}

/** `2020-09-07T13:19:38Z`: Kubernetes timestamps have whole seconds. */
function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
