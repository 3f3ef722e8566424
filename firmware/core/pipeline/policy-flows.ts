// Every policy flow of this node, from the controller's snapshot: where each rule goes (table, priority), its
// conjunction ids, its flows, and the drops for pods that Kubernetes NetworkPolicies isolate.
//
// Layout (egress tables / ingress tables), in evaluation order:
//   45–49 / 85–89  Antrea-native tiers (policy-priority.ts maps tiers to tables and assigns priorities);
//                  Allow → l3Forwarding 70 / ConntrackCommit 105, Drop → drop, Reject → controller,
//                  Pass → the Kubernetes table 50 / 90;
//   50 / 90        Kubernetes NetworkPolicy rules, all at K8S_RULE_PRIORITY (they only allow, so their order
//                  does not matter): Allow → 70 / 105;
//   60 / 100       drops for pods isolated in that direction at ISOLATION_DROP_PRIORITY (egress: `nw_src` of the
//                  pod, ingress: `reg1` = its port), and below them the baseline tier's rules, which therefore
//                  only see pods that no Kubernetes policy isolates;
//   otherwise the table-miss flows continue to 70 / 105: allowed.
// Established connections skip all of it (pipeline-flows' ct_state=-new+est fast paths), so a new policy never
// breaks a connection that is already up.
//
// Rule keys are stable ids: policy uid, direction, rule index and a digest of the rule's content, so the same
// rule keeps its key (and its conjunction ids and priority) across recomputations and membership changes, and an
// edited rule becomes a new key. Isolation drops are keyed `isolation/<In|Out>/<namespace>/<pod>`.
//
// Applying: clause flows of different rules can share a match (same table, priority and match, e.g. the same
// peer address in two Kubernetes rules); OpenFlow holds ONE flow per match, carrying all their `conjunction()`
// actions. Install `mergeRuleFlows(flows)` as one set (e.g. FlowWriter.apply(planFlows(merged, installed)) over
// the whole Policy cookie category, one bundle); syncing one rule's cookie scope alone would delete or overwrite
// a shared flow another rule still needs. One flow holds at most ~4000 conjunctions (64 KiB OpenFlow message):
// more Kubernetes rules than that on one pod (they share its applied-to flow) make mergeRuleFlows throw. Each flow's cookie is Policy/<conjunction id> (a shared flow takes the lowest
// id), so a rule's packet counts are read from its `conj_id=<id>` action flow by cookie.
import type {
  AddressGroup,
  AppliedToGroup,
  ControllerSnapshot,
  InternalNetworkPolicy,
  InternalRule,
  PolicySourceRef,
  RuleDirection,
} from '../controller/internal-types';
import type { RuleAction } from '../api/types';
import { CookieCategory, flow, flowKey, formatFlow, makeCookie, type Flow } from './flow';
import { TARGET_OFPORT_REG } from './pipeline-flows';
import {
  ISOLATION_DROP_PRIORITY,
  K8S_RULE_PRIORITY,
  PolicyPriorities,
  isBaselineTier,
  tierTable,
  type RulePlacementRequest,
  type RulePriorityKey,
  type TablePriorityMove,
} from './policy-priority';
import { ConjunctionIdAllocator } from './conjunction-ids';
import {
  RuleFlowError,
  addAuditPacketIn,
  localMembers,
  ruleAppliedToGroups,
  ruleFlows,
  type LocalMember,
  type LocalPodPorts,
  type PacketInOptions,
  type RuleConjunction,
} from './rule-flows';
import { Tables } from './tables';

export interface PolicyFlowState {
  conjIds: ConjunctionIdAllocator;
  priorities: PolicyPriorities;
  /**
   * Each rule's last computed conjunctions with what they were computed from. A change touches few rules, and
   * recomputing every rule's flows at every change costs ~10 µs per flow (22k flows: ~300 ms); a rule whose
   * inputs are the same objects as last time gets its previous flows back (the same objects, whose keys the
   * merger and planner already know).
   */
  ruleCache?: Map<string, CachedRuleFlows>;
  /** Where Reject flows send packets (the agent's controller connection id, the packet-in meter). */
  packetIn?: PacketInOptions;
}

/** Fresh state; keep it for the node's lifetime so ids and priorities stay stable across recomputations. */
export function createPolicyFlowState(options: { packetIn?: PacketInOptions } = {}): PolicyFlowState {
  const state: PolicyFlowState = {
    conjIds: new ConjunctionIdAllocator(),
    priorities: new PolicyPriorities(),
    ruleCache: new Map(),
  };
  if (options.packetIn) state.packetIn = options.packetIn;
  return state;
}

export interface PolicyNode {
  /** This node's name. Informational: which pods are local is decided by `pods`, not by span or nodeName. */
  name: string;
  /** Local pods with their bridge port, by "namespace/name". */
  pods: LocalPodPorts;
}

/** Where one rule went, for antctl, logs and tests. */
export interface RuleFlowInfo {
  ruleKey: string;
  policy: InternalNetworkPolicy['sourceRef'];
  direction: RuleDirection;
  ruleIndex: number;
  ruleName: string;
  action: RuleAction;
  /** The packets this rule decides are copied to the agent's audit log. */
  enableLogging: boolean;
  table: number;
  priority: number;
  conjunctions: RuleConjunction[];
}

export interface PolicyFlowsResult {
  /** Flows by rule key (rules with no flows on this node are absent). */
  flows: Map<string, Flow[]>;
  rules: Map<string, RuleFlowInfo>;
  /** Already placed rules whose priority changed (their flows in `flows` carry the new one). */
  moved: TablePriorityMove[];
  /** Conjunction ids freed by this computation (their rules are gone from this node). */
  releasedConjIds: number[];
}

const K8S = 'K8sNetworkPolicy';

/** Every policy flow of this node by rule key. See `compilePolicyFlows` for the details it also reports. */
export function policyFlows(
  snapshot: ControllerSnapshot,
  node: PolicyNode,
  state: PolicyFlowState,
): Map<string, Flow[]> {
  return compilePolicyFlows(snapshot, node, state).flows;
}

export function compilePolicyFlows(
  snapshot: ControllerSnapshot,
  node: PolicyNode,
  state: PolicyFlowState,
): PolicyFlowsResult {
  // Order keys are built once per policy, not once per comparison.
  const orders = new Map<InternalNetworkPolicy, string>();
  for (const policy of snapshot.networkPolicies.values()) orders.set(policy, policyOrder(policy));
  const orderOf = (policy: InternalNetworkPolicy): string => orders.get(policy) ?? policyOrder(policy);
  const policies = [...orders.keys()].sort((a, b) => compareText(orderOf(a), orderOf(b)));

  // Pass 1: the rules that apply to a local pod, with their keys and placements.
  interface Pending {
    policy: InternalNetworkPolicy;
    rule: InternalRule;
    ruleKey: string;
    table: number;
    /** The rule's applied-to pods on this node. */
    local: LocalMember[];
    /** Antrea-native rules get their priority from the assigner. */
    request?: RulePlacementRequest;
  }
  const pending: Pending[] = [];
  const usedKeys = new Set<string>();
  for (const policy of policies) {
    const k8s = policy.sourceRef.type === K8S;
    policy.rules.forEach((rule, position) => {
      const local = localMembers(ruleAppliedToGroups(policy, rule), snapshot.appliedToGroups, node.pods);
      if (local.length === 0) return;
      if (!k8s && rule.action === 'Pass' && isBaselineTier(policy.tierPriority, policy.tierName)) {
        // Validation rejects Pass in the baseline tier; the evaluator ignores such a rule, and so do we.
        return;
      }
      let ruleKey = ruleKeyOf(policy, rule);
      for (let n = 2; usedKeys.has(ruleKey); n++) ruleKey = `${ruleKeyOf(policy, rule)}#${n}`;
      usedKeys.add(ruleKey);
      if (k8s) {
        const table = rule.direction === 'Out' ? Tables.EgressRule : Tables.IngressRule;
        pending.push({ policy, rule, ruleKey, table, local });
        return;
      }
      const tierPriority = policy.tierPriority ?? 250;
      const table = tierTable(tierPriority, rule.direction, policy.tierName);
      const key: RulePriorityKey = {
        tierPriority,
        policyPriority: policy.priority ?? 0,
        ruleIndex: rule.priority,
        policyOrder: orderOf(policy),
        position,
      };
      pending.push({ policy, rule, ruleKey, table, local, request: { id: ruleKey, table, key } });
    });
  }

  const requests = pending.flatMap((p) => (p.request ? [p.request] : []));
  const { moved } = state.priorities.sync(requests);

  // Pass 2: flows.
  const ruleOptions = state.packetIn ? { packetIn: state.packetIn } : {};
  const optionsText = JSON.stringify(ruleOptions);
  const flows = new Map<string, Flow[]>();
  const rules = new Map<string, RuleFlowInfo>();
  const usedConjKeys = new Set<string>();
  const cachedKeys = new Set<string>();
  for (const p of pending) {
    const priority = p.request ? state.priorities.placementOf(p.ruleKey)?.priority : K8S_RULE_PRIORITY;
    if (priority === undefined) throw new Error(`rule ${p.ruleKey} was not placed`);
    const inputs = ruleInputs(p.policy, p.rule, snapshot, p.local, p.table, priority, optionsText);
    let conjunctions = reuseRuleFlows(state, p.ruleKey, inputs, usedConjKeys);
    if (conjunctions === undefined) {
      conjunctions = ruleFlows(
        p.policy,
        p.rule,
        snapshot,
        node.pods,
        { table: p.table, priority },
        (subKey) => {
          const conjKey = `${p.ruleKey}|${subKey}`;
          usedConjKeys.add(conjKey);
          return state.conjIds.allocate(conjKey);
        },
        ruleOptions,
      );
    }
    state.ruleCache?.set(p.ruleKey, { inputs, conjunctions });
    cachedKeys.add(p.ruleKey);
    rules.set(p.ruleKey, {
      ruleKey: p.ruleKey,
      policy: p.policy.sourceRef,
      direction: p.rule.direction,
      ruleIndex: p.rule.priority,
      ruleName: p.rule.name,
      action: p.rule.action,
      enableLogging: p.rule.enableLogging && p.policy.sourceRef.type !== K8S,
      table: p.table,
      priority,
      conjunctions,
    });
    const ruleFlowList = conjunctions.flatMap((c) => c.flows);
    if (ruleFlowList.length > 0) flows.set(p.ruleKey, ruleFlowList);
  }

  for (const [key, isolation] of isolationFlows(snapshot, policies, node, state, usedConjKeys)) {
    flows.set(key, isolation);
  }

  if (state.ruleCache) {
    for (const key of state.ruleCache.keys()) if (!cachedKeys.has(key)) state.ruleCache.delete(key);
  }

  const releasedConjIds: number[] = [];
  for (const key of state.conjIds.keys()) {
    if (usedConjKeys.has(key)) continue;
    const id = state.conjIds.release(key);
    if (id !== undefined) releasedConjIds.push(id);
  }
  return { flows, rules, moved, releasedConjIds: releasedConjIds.sort((a, b) => a - b) };
}

/** What one rule's flows were computed from; flows are reused while every part is the same. */
export interface CachedRuleFlows {
  inputs: RuleInputs;
  conjunctions: RuleConjunction[];
}

interface RuleInputs {
  /**
   * The controller publishes a new group object whenever a group's members change and keeps the object
   * otherwise, so identity says "unchanged" (members carry their IPs and named ports).
   */
  groups: readonly (AppliedToGroup | AddressGroup | undefined)[];
  /** Applied-to pods on this node with their ports and addresses. */
  local: string;
  table: number;
  priority: number;
  options: string;
}

function ruleInputs(
  policy: InternalNetworkPolicy,
  rule: InternalRule,
  snapshot: ControllerSnapshot,
  local: readonly LocalMember[],
  table: number,
  priority: number,
  options: string,
): RuleInputs {
  return {
    groups: [
      ...ruleAppliedToGroups(policy, rule).map((name) => snapshot.appliedToGroups.get(name)),
      ...rule.peer.addressGroups.map((name) => snapshot.addressGroups.get(name)),
    ],
    local: local.map((m) => `${m.key}@${m.address.ofport}@${m.address.ip}`).join(' '),
    table,
    priority,
    options,
  };
}

/** The rule's previous conjunctions when nothing they depend on changed (their ids marked used again). */
function reuseRuleFlows(
  state: PolicyFlowState,
  ruleKey: string,
  inputs: RuleInputs,
  usedConjKeys: Set<string>,
): RuleConjunction[] | undefined {
  const cached = state.ruleCache?.get(ruleKey);
  if (!cached) return undefined;
  const before = cached.inputs;
  if (
    before.table !== inputs.table ||
    before.priority !== inputs.priority ||
    before.local !== inputs.local ||
    before.options !== inputs.options ||
    before.groups.length !== inputs.groups.length ||
    before.groups.some((g, i) => g !== inputs.groups[i])
  ) {
    return undefined;
  }
  for (const c of cached.conjunctions) {
    const conjKey = `${ruleKey}|${c.subKey}`;
    // The id lives in the flows: a rule whose id was handed to another key must be rebuilt.
    if (state.conjIds.idOf(conjKey) !== c.conjId) return undefined;
  }
  for (const c of cached.conjunctions) usedConjKeys.add(`${ruleKey}|${c.subKey}`);
  return cached.conjunctions;
}

/** Drops for local pods that Kubernetes policies isolate, one per pod and direction. */
function isolationFlows(
  snapshot: ControllerSnapshot,
  policies: readonly InternalNetworkPolicy[],
  node: PolicyNode,
  state: PolicyFlowState,
  usedConjKeys: Set<string>,
): Map<string, Flow[]> {
  const isolated = { In: new Set<string>(), Out: new Set<string>() };
  for (const policy of policies) {
    if (policy.sourceRef.type !== K8S) continue;
    const pods = localMembers(policy.appliedToGroups, snapshot.appliedToGroups, node.pods);
    for (const type of policy.policyTypes) {
      for (const pod of pods) isolated[type === 'Ingress' ? 'In' : 'Out'].add(pod.key);
    }
  }
  const out = new Map<string, Flow[]>();
  for (const direction of ['Out', 'In'] as const) {
    for (const podKey of [...isolated[direction]].sort()) {
      const pod = node.pods.get(podKey);
      if (!pod) continue;
      const key = `isolation/${direction}/${podKey}`;
      usedConjKeys.add(key);
      const id = state.conjIds.allocate(key);
      const b = flow(direction === 'Out' ? Tables.EgressDefaultRule : Tables.IngressDefaultRule)
        .priority(ISOLATION_DROP_PRIORITY)
        .cookie(makeCookie(CookieCategory.Policy, id))
        .matchProtocol('ip');
      if (direction === 'Out') b.matchSrcIp(pod.ip);
      else b.matchReg(TARGET_OFPORT_REG, pod.ofport);
      // Logged default drops: a metered copy to the agent and no output (still a drop).
      const packetIn = state.packetIn;
      out.set(key, [
        (packetIn?.auditDefaultDrops === true ? addAuditPacketIn(b, id, packetIn, true) : b.drop()).done(),
      ]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Conjunction id → rule, for packet-ins (audit logging): read from the state that handed out the ids and the
// snapshot the flows were computed from, without recomputing anything. A packet-in can arrive just after its
// rule went away; then there is nothing to describe.

/** What a conjunction id of this node's policy flows stands for. */
export interface ConjunctionRule {
  conjId: number;
  /** 'rule': a policy rule's conjunction; 'isolation': the default drop of a pod a K8s policy isolates. */
  kind: 'rule' | 'isolation';
  /** The policy of a rule; absent for isolation drops (no single policy decides those). */
  policy?: PolicySourceRef;
  /** The rule's name; absent for isolation drops and unnamed (K8s) rules. */
  ruleName?: string;
  direction: RuleDirection;
  action: RuleAction;
  enableLogging: boolean;
  table: number;
  priority: number;
  /** Isolation drops: the isolated pod, "namespace/name". */
  pod?: string;
}

const ISOLATION_PREFIX = 'isolation/';

export function describeConjunction(
  snapshot: ControllerSnapshot,
  state: PolicyFlowState,
  conjId: number,
): ConjunctionRule | undefined {
  const key = state.conjIds.keyOf(conjId);
  if (key === undefined) return undefined;
  if (key.startsWith(ISOLATION_PREFIX)) {
    const rest = key.slice(ISOLATION_PREFIX.length);
    const slash = rest.indexOf('/');
    const direction = rest.slice(0, slash);
    if (slash < 0 || (direction !== 'In' && direction !== 'Out')) return undefined;
    return {
      conjId,
      kind: 'isolation',
      direction,
      action: 'Drop',
      enableLogging: state.packetIn?.auditDefaultDrops === true,
      table: direction === 'Out' ? Tables.EgressDefaultRule : Tables.IngressDefaultRule,
      priority: ISOLATION_DROP_PRIORITY,
      pod: rest.slice(slash + 1),
    };
  }
  // `<policy uid>/<In|Out>/<rule index>/<digest>[#n]|<subKey>`; the subKey never holds '|', the uid may hold '/'.
  const bar = key.lastIndexOf('|');
  if (bar < 0) return undefined;
  const ruleKey = key.slice(0, bar);
  const parts = ruleKey.replace(/#\d+$/, '').split('/');
  const digestText = parts.pop();
  const index = Number(parts.pop());
  const direction = parts.pop();
  const policy = snapshot.networkPolicies.get(parts.join('/'));
  if (!policy || digestText === undefined || (direction !== 'In' && direction !== 'Out')) return undefined;
  const rule = policy.rules.find(
    (r) =>
      r.direction === direction && r.priority === index && ruleKeyOf(policy, r).endsWith(`/${digestText}`),
  );
  if (!rule) return undefined;
  const k8s = policy.sourceRef.type === K8S;
  const placement = k8s
    ? { table: direction === 'Out' ? Tables.EgressRule : Tables.IngressRule, priority: K8S_RULE_PRIORITY }
    : state.priorities.placementOf(ruleKey);
  if (!placement) return undefined;
  return {
    conjId,
    kind: 'rule',
    policy: policy.sourceRef,
    ...(rule.name !== '' ? { ruleName: rule.name } : {}),
    direction,
    action: rule.action,
    enableLogging: rule.enableLogging && !k8s,
    table: placement.table,
    priority: placement.priority,
  };
}

/** The evaluator's tie-break between policies: namespace, name, type, uid. */
function policyOrder(policy: InternalNetworkPolicy): string {
  const ref = policy.sourceRef;
  return `${ref.namespace ?? ''}\u0000${ref.name}\u0000${ref.type}\u0000${policy.uid}`;
}

/** Stable id of a rule: policy uid, direction, index and a digest of what the rule says. */
export function ruleKeyOf(policy: InternalNetworkPolicy, rule: InternalRule): string {
  // The controller replaces a policy's objects when it changes, so a rule object of the same policy object has
  // the same key; remembered because every computation keys every rule.
  const known = ruleKeys.get(rule);
  if (known !== undefined && known.policy === policy) return known.key;
  const key = computeRuleKey(policy, rule);
  ruleKeys.set(rule, { policy, key });
  return key;
}

const ruleKeys = new WeakMap<InternalRule, { policy: InternalNetworkPolicy; key: string }>();

function computeRuleKey(policy: InternalNetworkPolicy, rule: InternalRule): string {
  const content = JSON.stringify([
    rule.action,
    rule.name,
    rule.enableLogging,
    rule.peer.addressGroups,
    rule.peer.ipBlocks.map((b) => [b.cidr, b.except]),
    rule.services.map((s) => [s.protocol, s.port, s.endPort, s.srcPort, s.srcEndPort]),
    ruleAppliedToGroups(policy, rule),
  ]);
  return `${policy.uid}/${rule.direction}/${rule.priority}/${digest(content)}`;
}

/** 64 bits of two FNV-1a variants as hex: short, stable and pure. */
function digest(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** OpenFlow 1.3 caps a message at 64 KiB; measured on OVS 3.1, a flow holds at most ~4080 conjunctions. */
export const MAX_CONJUNCTIONS_PER_FLOW = 4000;

const CONJUNCTION_ACTION = /^conjunction\((\d+),(\d+)\/(\d+)\)$/;

/**
 * The flows to install: every rule's flows, with clause flows that share table, priority and match merged into
 * one flow carrying all their conjunction actions (sorted by id), cookie of the lowest id. Throws RuleFlowError
 * when two flows share a match but cannot be merged (a bug), or when a merged flow would carry more
 * conjunctions than one OpenFlow message can hold.
 */
export function mergeRuleFlows(
  perRule: ReadonlyMap<string, readonly Flow[]> | Iterable<readonly Flow[]>,
): Flow[] {
  const lists =
    perRule instanceof Map
      ? [...(perRule as ReadonlyMap<string, readonly Flow[]>).values()]
      : [...(perRule as Iterable<readonly Flow[]>)];
  const byKey = new Map<string, Flow[]>();
  for (const list of lists) {
    for (const f of list) {
      const key = flowKey(f);
      const same = byKey.get(key);
      if (same) same.push(f);
      else byKey.set(key, [f]);
    }
  }
  const merged: Flow[] = [];
  for (const [key, same] of byKey) {
    if (same.length === 1) {
      merged.push(same[0] as Flow);
      continue;
    }
    const cookie = same.reduce((min, f) => (f.cookie < min ? f.cookie : min), (same[0] as Flow).cookie);
    const conjunctions = same.map((f) => splitActions(f.actions));
    if (!conjunctions.every((actions) => actions.every((a) => CONJUNCTION_ACTION.test(a)))) {
      if (same.every((f) => f.actions === (same[0] as Flow).actions)) {
        merged.push({ ...(same[0] as Flow), cookie });
        continue;
      }
      throw new RuleFlowError(
        'CONFLICTING_FLOWS',
        `flows share the match ${key} but not their actions: ${same.map(formatFlow).join(' / ')}`,
      );
    }
    const actions = [...new Set(conjunctions.flat())].sort(compareConjunctions);
    if (actions.length > MAX_CONJUNCTIONS_PER_FLOW) {
      throw new RuleFlowError(
        'TOO_MANY_CONJUNCTIONS',
        `${actions.length} rules share the clause flow ${key}; one flow holds at most ${MAX_CONJUNCTIONS_PER_FLOW}`,
      );
    }
    merged.push({ ...(same[0] as Flow), actions: actions.join(','), cookie });
  }
  return merged
    .map((f) => ({ f, key: flowKey(f) }))
    .sort((a, b) => a.f.table - b.f.table || b.f.priority - a.f.priority || compareText(a.key, b.key))
    .map(({ f }) => f);
}

/** Splits an action list at the commas that are not inside parentheses. */
export function splitActions(actions: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < actions.length; i++) {
    const c = actions[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(actions.slice(start, i));
      start = i + 1;
    }
  }
  out.push(actions.slice(start));
  return out.filter((a) => a.length > 0);
}

function compareConjunctions(a: string, b: string): number {
  const ma = CONJUNCTION_ACTION.exec(a);
  const mb = CONJUNCTION_ACTION.exec(b);
  return Number(ma?.[1]) - Number(mb?.[1]) || Number(ma?.[2]) - Number(mb?.[2]);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
