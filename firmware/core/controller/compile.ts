// Policy compiler: one defaulted policy object → Antrea's internal NetworkPolicy (rules referencing groups by
// name) plus the groups it needs. Pure and stateless; what it reads of the world (namespaces for per-namespace
// rules, ClusterGroup definitions, tier priorities) comes through CompileContext and is reported back as
// dependencies so the controller knows when to recompile. Group membership is not computed here.
//
// Semantics follow Antrea's controller (pkg/controller/networkpolicy: networkpolicy_controller.go,
// antreanetworkpolicy.go, antreaclusternetworkpolicy.go, crd_utils.go):
// - a podSelector alone selects in the policy's namespace (K8s NetworkPolicy, Antrea NetworkPolicy) or in all
//   namespaces (ClusterNetworkPolicy); a namespaceSelector selects all pods of the matching namespaces; both = AND;
// - an empty peer list matches everything; an egress rule with named ports and no peers also references the
//   all-pods group so that named ports can be resolved against destination pods;
// - `namespaces: {match: Self}` and `namespaces: {sameLabels: [...]}` peers split a ClusterNetworkPolicy rule
//   into one rule per applied-to namespace (Self) or per group of applied-to namespaces sharing the label values
//   (sameLabels), each with its own per-namespace AppliedToGroups;
// - `group` peers/appliedTo reference the group standing for the ClusterGroup/Group (named like Antrea's internal
//   group: "name" or "namespace/name"); its members and ipBlocks live in that group.
import { matchesSelector } from '../api/labels';
import type {
  AntreaAppliedTo,
  AntreaNetworkPolicy,
  AntreaNetworkPolicyPeer,
  AntreaNetworkPolicyPort,
  AntreaRule,
  ClusterNetworkPolicy,
  IPBlock,
  K8sNetworkPolicy,
  K8sNetworkPolicyPeer,
  K8sNetworkPolicyPort,
  LabelSelector,
  NamespaceInfo,
  PolicyType,
} from '../api/types';
import { DEFAULT_TIER, STATIC_TIERS } from '../api/types';
import { normalizeCidr } from './cidr';
import type {
  InternalNetworkPolicy,
  InternalPeer,
  InternalRule,
  InternalService,
  IPBlockRef,
  PolicySourceType,
  RuleDirection,
} from './internal-types';
import { makeSelector, selectorKey, type NormalizedSelector } from './membership';
import { GROUP_NAME_NAMESPACE, UuidV5 } from './uuid';

export type CompilablePolicy = K8sNetworkPolicy | AntreaNetworkPolicy | ClusterNetworkPolicy;
export type SourceGroupKind = 'ClusterGroup' | 'Group';

/** What a policy rule references: a selector-derived group, or the group standing for a ClusterGroup/Group. */
export type GroupRef =
  | { name: string; kind: 'selector'; selector: NormalizedSelector; key: string }
  | { name: string; kind: 'source'; source: SourceGroupKind; namespace?: string; groupName: string };

export interface CompiledPolicy {
  policy: Omit<InternalNetworkPolicy, 'span'>;
  appliedToGroups: GroupRef[];
  addressGroups: GroupRef[];
  /** Antrea-native policies: the (normalised) tier name. */
  tier?: string;
  /**
   * Per-namespace rules (Self / sameLabels) were expanded over these applied-to scopes: a namespace that one of
   * them matched before or matches now requires a recompile.
   */
  namespaceScopes: readonly NormalizedSelector[];
  /** ClusterGroups/Groups (internal keys) whose definitions the per-namespace expansion read. */
  consultedSourceGroups: readonly string[];
}

// Most policies have no per-namespace rules: share one empty list instead of allocating one per policy.
const NO_SCOPES: readonly NormalizedSelector[] = Object.freeze([]);
const NO_KEYS: readonly string[] = Object.freeze([]);

export interface CompileContext {
  namespaces(): Iterable<NamespaceInfo>;
  namespace(name: string): NamespaceInfo | undefined;
  tierPriority(name: string): number | undefined;
  /** Selectors a ClusterGroup/Group stands for (its own and its childGroups'); consulted keys included. */
  sourceGroupSelectors(kind: SourceGroupKind, namespace: string | undefined, name: string): SourceSelectors;
}

export interface SourceSelectors {
  selectors: NormalizedSelector[];
  consulted: string[];
}

/** Internal key of a ClusterGroup ("name") or Group ("namespace/name"), as Antrea keys its internal groups. */
export function sourceGroupKey(kind: SourceGroupKind, namespace: string | undefined, name: string): string {
  return kind === 'Group' ? `${namespace ?? ''}/${name}` : name;
}

const POLICY_UID_NAMESPACE = '5d5c7a4e-3f0e-4b8f-9a36-0c7c2f0e6b1d';

/** Group names are UUIDs of the normalised selector; hashing is the costly part, so names are cached. */
export class GroupNamer {
  private readonly cache = new Map<string, string>();
  private readonly groupNames = new UuidV5(GROUP_NAME_NAMESPACE);
  private readonly policyUids = new UuidV5(POLICY_UID_NAMESPACE);

  nameFor(key: string): string {
    let name = this.cache.get(key);
    if (name === undefined) {
      if (this.cache.size > 500_000) this.cache.clear();
      name = this.groupNames.of(key);
      this.cache.set(key, name);
    }
    return name;
  }

  /** The internal policy's uid: the object's uid when it has one, else a name-based UUID of its object key. */
  policyUid(objectKey: string, uid: string | undefined): string {
    return uid !== undefined && uid !== '' ? uid : this.policyUids.of(objectKey);
  }
}

const MATCH_ALL_BLOCKS: readonly IPBlockRef[] = [
  { cidr: '0.0.0.0/0', except: [] },
  { cidr: '::/0', except: [] },
];

const ALL_PODS: NormalizedSelector = { namespaceSelector: {} };

class PolicyBuilder {
  readonly appliedToGroups = new Map<string, GroupRef>();
  readonly addressGroups = new Map<string, GroupRef>();
  readonly rules: InternalRule[] = [];
  readonly namespaceScopes: NormalizedSelector[] = [];
  readonly consulted = new Set<string>();

  constructor(
    readonly ctx: CompileContext,
    readonly namer: GroupNamer,
  ) {}

  selectorRef(selector: NormalizedSelector): GroupRef {
    const key = selectorKey(selector);
    return { name: this.namer.nameFor(key), kind: 'selector', selector, key };
  }

  sourceRef(source: SourceGroupKind, namespace: string | undefined, groupName: string): GroupRef {
    const ref: GroupRef = {
      name: sourceGroupKey(source, namespace, groupName),
      kind: 'source',
      source,
      groupName,
    };
    if (source === 'Group') ref.namespace = namespace ?? '';
    return ref;
  }

  addressGroup(ref: GroupRef): string {
    this.addressGroups.set(ref.name, ref);
    return ref.name;
  }

  appliedToGroup(ref: GroupRef): string {
    this.appliedToGroups.set(ref.name, ref);
    return ref.name;
  }
}

function ipBlockRef(block: IPBlock): IPBlockRef {
  return { cidr: normalizeCidr(block.cidr), except: (block.except ?? []).map(normalizeCidr) };
}

function services(ports: readonly (K8sNetworkPolicyPort | AntreaNetworkPolicyPort)[] | undefined): {
  services: InternalService[];
  namedPort: boolean;
} {
  const result: InternalService[] = [];
  let namedPort = false;
  for (const port of ports ?? []) {
    const service: InternalService = { protocol: port.protocol ?? 'TCP' };
    if (port.port !== undefined) service.port = port.port;
    if (typeof port.port === 'string') namedPort = true;
    if (port.endPort !== undefined) service.endPort = port.endPort;
    if ('sourcePort' in port && port.sourcePort !== undefined) service.srcPort = port.sourcePort;
    if ('sourceEndPort' in port && port.sourceEndPort !== undefined) service.srcEndPort = port.sourceEndPort;
    result.push(service);
  }
  return { services: result, namedPort };
}

function sortedUnique(names: Iterable<string>): string[] {
  return [...new Set(names)].sort();
}

/** An empty peer list: everything; for egress with named ports also the all-pods group (to resolve them). */
function matchAllPeer(builder: PolicyBuilder, direction: RuleDirection, namedPort: boolean): InternalPeer {
  if (direction === 'In' || !namedPort) return { addressGroups: [], ipBlocks: [] };
  return {
    addressGroups: [builder.addressGroup(builder.selectorRef(ALL_PODS))],
    ipBlocks: MATCH_ALL_BLOCKS.map((block) => ({ ...block, except: [] })),
  };
}

/** A peer that must match nothing (an empty peer would mean "any"): a group that selects no pod. */
function matchNothingPeer(builder: PolicyBuilder): InternalPeer {
  return { addressGroups: [builder.addressGroup(builder.selectorRef({}))], ipBlocks: [] };
}

function finishPeer(builder: PolicyBuilder, groups: string[], ipBlocks: IPBlockRef[]): InternalPeer {
  if (groups.length === 0 && ipBlocks.length === 0) return matchNothingPeer(builder);
  return { addressGroups: sortedUnique(groups), ipBlocks };
}

// ---- Kubernetes NetworkPolicy ----

function k8sPeer(
  builder: PolicyBuilder,
  peers: readonly K8sNetworkPolicyPeer[] | undefined,
  namespace: string,
  direction: RuleDirection,
  namedPort: boolean,
): InternalPeer {
  if (!peers || peers.length === 0) return matchAllPeer(builder, direction, namedPort);
  const groups: string[] = [];
  const ipBlocks: IPBlockRef[] = [];
  for (const peer of peers) {
    if (peer.ipBlock) ipBlocks.push(ipBlockRef(peer.ipBlock));
    else if (peer.podSelector !== undefined || peer.namespaceSelector !== undefined) {
      groups.push(
        builder.addressGroup(
          builder.selectorRef(makeSelector(namespace, peer.podSelector, peer.namespaceSelector)),
        ),
      );
    }
  }
  return finishPeer(builder, groups, ipBlocks);
}

function policyTypesOf(policy: K8sNetworkPolicy): PolicyType[] {
  const declared = policy.spec.policyTypes;
  const types = new Set<PolicyType>(
    declared && declared.length > 0
      ? declared
      : ['Ingress', ...((policy.spec.egress ?? []).length > 0 ? (['Egress'] as const) : [])],
  );
  return (['Ingress', 'Egress'] as const).filter((type) => types.has(type));
}

function compileK8s(policy: K8sNetworkPolicy, objectKey: string, builder: PolicyBuilder): CompiledPolicy {
  const namespace = policy.metadata.namespace ?? 'default';
  const podSelector: LabelSelector = policy.spec.podSelector ?? {};
  const appliedTo = builder.appliedToGroup(
    builder.selectorRef(makeSelector(namespace, podSelector, undefined)),
  );
  const policyTypes = policyTypesOf(policy);
  // Kubernetes ignores the rules of a direction the policy does not declare in policyTypes.
  if (policyTypes.includes('Ingress')) {
    (policy.spec.ingress ?? []).forEach((rule, index) => {
      const { services: ruleServices, namedPort } = services(rule.ports);
      builder.rules.push({
        direction: 'In',
        peer: k8sPeer(builder, rule.from, namespace, 'In', namedPort),
        services: ruleServices,
        action: 'Allow',
        priority: index,
        name: '',
        enableLogging: false,
        appliedToGroups: [],
      });
    });
  }
  if (policyTypes.includes('Egress')) {
    (policy.spec.egress ?? []).forEach((rule, index) => {
      const { services: ruleServices, namedPort } = services(rule.ports);
      builder.rules.push({
        direction: 'Out',
        peer: k8sPeer(builder, rule.to, namespace, 'Out', namedPort),
        services: ruleServices,
        action: 'Allow',
        priority: index,
        name: '',
        enableLogging: false,
        appliedToGroups: [],
      });
    });
  }
  const uid = builder.namer.policyUid(objectKey, policy.metadata.uid);
  return {
    policy: {
      uid,
      name: policy.metadata.name,
      namespace,
      sourceRef: { type: 'K8sNetworkPolicy', namespace, name: policy.metadata.name, uid },
      rules: builder.rules,
      appliedToGroups: [appliedTo],
      policyTypes,
    },
    appliedToGroups: [...builder.appliedToGroups.values()],
    addressGroups: [...builder.addressGroups.values()],
    namespaceScopes: NO_SCOPES,
    consultedSourceGroups: NO_KEYS,
  };
}

// ---- Antrea-native policies ----

function normalizedTier(tier: string | undefined): string {
  if (tier === undefined || tier === '') return DEFAULT_TIER;
  const lower = tier.toLowerCase();
  return Object.prototype.hasOwnProperty.call(STATIC_TIERS, lower) ? lower : tier;
}

function hasPeerFields(peer: AntreaNetworkPolicyPeer): boolean {
  return (
    peer.ipBlock !== undefined ||
    peer.group !== undefined ||
    peer.podSelector !== undefined ||
    peer.namespaceSelector !== undefined ||
    peer.namespaces !== undefined
  );
}

/** Peers that need no per-namespace expansion. `namespace` is the policy's ('' for a ClusterNetworkPolicy). */
function antreaPeer(
  builder: PolicyBuilder,
  peers: readonly AntreaNetworkPolicyPeer[],
  namespace: string,
  direction: RuleDirection,
  namedPort: boolean,
): InternalPeer {
  if (peers.length === 0) return matchAllPeer(builder, direction, namedPort);
  const groups: string[] = [];
  const ipBlocks: IPBlockRef[] = [];
  const groupKind: SourceGroupKind = namespace === '' ? 'ClusterGroup' : 'Group';
  for (const peer of peers) {
    if (!hasPeerFields(peer)) continue;
    if (peer.ipBlock) ipBlocks.push(ipBlockRef(peer.ipBlock));
    else if (peer.group !== undefined) {
      groups.push(builder.addressGroup(builder.sourceRef(groupKind, namespace || undefined, peer.group)));
    } else if (peer.namespaces !== undefined) {
      // Only reachable for a namespaced policy, whose own namespace is the only "same" namespace there is.
      groups.push(
        builder.addressGroup(builder.selectorRef(makeSelector(namespace, peer.podSelector, undefined))),
      );
    } else {
      groups.push(
        builder.addressGroup(
          builder.selectorRef(makeSelector(namespace, peer.podSelector, peer.namespaceSelector)),
        ),
      );
    }
  }
  return finishPeer(builder, groups, ipBlocks);
}

function appliedToRefs(
  builder: PolicyBuilder,
  appliedTo: readonly AntreaAppliedTo[],
  namespace: string,
): string[] {
  const names: string[] = [];
  for (const entry of appliedTo) {
    if (entry.group !== undefined) {
      const kind: SourceGroupKind = namespace === '' ? 'ClusterGroup' : 'Group';
      names.push(builder.appliedToGroup(builder.sourceRef(kind, namespace || undefined, entry.group)));
    } else {
      names.push(
        builder.appliedToGroup(
          builder.selectorRef(makeSelector(namespace, entry.podSelector, entry.namespaceSelector)),
        ),
      );
    }
  }
  return sortedUnique(names);
}

interface NamespaceTargets {
  /** Applied-to namespace → names of its per-namespace AppliedToGroups. */
  groups: Map<string, Set<string>>;
  labels: Map<string, Readonly<Record<string, string>>>;
}

function namespacesOfScope(ctx: CompileContext, scope: NormalizedSelector): NamespaceInfo[] {
  if (scope.namespaceSelector === undefined && scope.namespace !== undefined) {
    const namespace = ctx.namespace(scope.namespace);
    return namespace ? [namespace] : [];
  }
  const result: NamespaceInfo[] = [];
  for (const namespace of ctx.namespaces()) {
    if (scope.namespaceSelector === undefined || matchesSelector(scope.namespaceSelector, namespace.labels)) {
      result.push(namespace);
    }
  }
  return result;
}

/** The applied-to namespaces of a per-namespace rule, each with the AppliedToGroups selecting in it. */
function namespaceTargets(builder: PolicyBuilder, appliedTo: readonly AntreaAppliedTo[]): NamespaceTargets {
  const targets: NamespaceTargets = { groups: new Map(), labels: new Map() };
  for (const entry of appliedTo) {
    let scopes: NormalizedSelector[];
    if (entry.group !== undefined) {
      const resolved = builder.ctx.sourceGroupSelectors('ClusterGroup', undefined, entry.group);
      for (const key of resolved.consulted) builder.consulted.add(key);
      scopes = resolved.selectors;
    } else {
      scopes = [makeSelector(undefined, entry.podSelector, entry.namespaceSelector)];
    }
    for (const scope of scopes) {
      builder.namespaceScopes.push(scope);
      for (const namespace of namespacesOfScope(builder.ctx, scope)) {
        const ref = builder.selectorRef(makeSelector(namespace.name, scope.podSelector, undefined));
        let names = targets.groups.get(namespace.name);
        if (!names) targets.groups.set(namespace.name, (names = new Set()));
        names.add(builder.appliedToGroup(ref));
        targets.labels.set(namespace.name, namespace.labels);
      }
    }
  }
  return targets;
}

function compileAntrea(
  policy: AntreaNetworkPolicy | ClusterNetworkPolicy,
  objectKey: string,
  builder: PolicyBuilder,
): CompiledPolicy {
  const cluster = policy.kind === 'ClusterNetworkPolicy';
  const namespace = cluster ? '' : (policy.metadata.namespace ?? 'default');
  const spec = policy.spec;
  const specAppliedTo = spec.appliedTo ?? [];
  const perNamespace =
    cluster &&
    [...(spec.ingress ?? []).map((rule) => rule.from), ...(spec.egress ?? []).map((rule) => rule.to)].some(
      (peers) => (peers ?? []).some((peer) => peer.namespaces !== undefined),
    );
  const appliedToPerRule = specAppliedTo.length === 0 || perNamespace;
  const policyAppliedTo = perNamespace ? [] : appliedToRefs(builder, specAppliedTo, namespace);
  let specTargets: NamespaceTargets | undefined;
  if (perNamespace && specAppliedTo.length > 0) specTargets = namespaceTargets(builder, specAppliedTo);
  let specClusterAppliedTo: string[] | undefined;

  const compileRules = (rules: readonly AntreaRule[] | undefined, direction: RuleDirection): void => {
    (rules ?? []).forEach((rule, index) => {
      const { services: ruleServices, namedPort } = services(rule.ports);
      const peers = (direction === 'In' ? rule.from : rule.to) ?? [];
      const addRule = (peer: InternalPeer, appliedToGroups: string[]): void => {
        builder.rules.push({
          direction,
          peer,
          services: ruleServices,
          action: rule.action,
          priority: index,
          name: rule.name ?? '',
          enableLogging: rule.enableLogging ?? false,
          appliedToGroups,
        });
      };
      const clusterPeers = peers.filter((peer) => !cluster || peer.namespaces === undefined);
      const selfPeers = cluster ? peers.filter((peer) => peer.namespaces?.match === 'Self') : [];
      const sameLabelPeers = cluster
        ? peers.filter(
            (peer) => peer.namespaces?.match !== 'Self' && (peer.namespaces?.sameLabels ?? []).length > 0,
          )
        : [];
      const ruleAppliedTo = rule.appliedTo ?? [];
      if (clusterPeers.length > 0 || selfPeers.length + sameLabelPeers.length === 0) {
        let appliedTo: string[] = [];
        if (appliedToPerRule) {
          if (specAppliedTo.length > 0) {
            specClusterAppliedTo ??= appliedToRefs(builder, specAppliedTo, namespace);
            appliedTo = specClusterAppliedTo;
          } else {
            appliedTo = appliedToRefs(builder, ruleAppliedTo, namespace);
          }
        }
        // Peers were given but none is usable here: the rule must match nothing rather than everything.
        const peer =
          peers.length > 0 && clusterPeers.length === 0
            ? matchNothingPeer(builder)
            : antreaPeer(builder, clusterPeers, namespace, direction, namedPort);
        addRule(peer, appliedTo);
      }
      if (selfPeers.length === 0 && sameLabelPeers.length === 0) return;
      const targets = specTargets ?? namespaceTargets(builder, ruleAppliedTo);
      if (selfPeers.length > 0) {
        for (const targetNamespace of [...targets.groups.keys()].sort()) {
          const groups = selfPeers.map((peer) =>
            builder.addressGroup(
              builder.selectorRef(makeSelector(targetNamespace, peer.podSelector, undefined)),
            ),
          );
          addRule(
            { addressGroups: sortedUnique(groups), ipBlocks: [] },
            sortedUnique(targets.groups.get(targetNamespace) ?? []),
          );
        }
      }
      for (const peer of sameLabelPeers) {
        const keys = peer.namespaces?.sameLabels ?? [];
        const byValues = new Map<string, { values: string[]; namespaces: string[] }>();
        for (const [targetNamespace, labels] of targets.labels) {
          const values: string[] = [];
          for (const key of keys) {
            const value = Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;
            if (value === undefined) break;
            values.push(value);
          }
          // A namespace lacking one of the keys gets no rule from this peer (Antrea documents it as a no-op).
          if (values.length !== keys.length) continue;
          const valuesKey = JSON.stringify(values);
          let group = byValues.get(valuesKey);
          if (!group) byValues.set(valuesKey, (group = { values, namespaces: [] }));
          group.namespaces.push(targetNamespace);
        }
        for (const valuesKey of [...byValues.keys()].sort()) {
          const group = byValues.get(valuesKey);
          if (!group) continue;
          const matchLabels: Record<string, string> = {};
          keys.forEach((key, position) => (matchLabels[key] = group.values[position] ?? ''));
          const addressGroup = builder.addressGroup(
            builder.selectorRef(makeSelector(undefined, peer.podSelector, { matchLabels })),
          );
          const appliedTo = group.namespaces.flatMap((name) => [...(targets.groups.get(name) ?? [])]);
          addRule({ addressGroups: [addressGroup], ipBlocks: [] }, sortedUnique(appliedTo));
        }
      }
    });
  };
  compileRules(spec.ingress, 'In');
  compileRules(spec.egress, 'Out');

  const tier = normalizedTier(spec.tier);
  const uid = builder.namer.policyUid(objectKey, policy.metadata.uid);
  const type: PolicySourceType = cluster ? 'AntreaClusterNetworkPolicy' : 'AntreaNetworkPolicy';
  const compiled: Omit<InternalNetworkPolicy, 'span'> = {
    uid,
    name: policy.metadata.name,
    sourceRef: cluster
      ? { type, name: policy.metadata.name, uid }
      : { type, namespace, name: policy.metadata.name, uid },
    rules: builder.rules,
    appliedToGroups: appliedToPerRule ? sortedUnique(builder.appliedToGroups.keys()) : policyAppliedTo,
    priority: spec.priority,
    tierPriority: builder.ctx.tierPriority(tier) ?? STATIC_TIERS[DEFAULT_TIER],
    tierName: tier,
    policyTypes: [],
  };
  if (!cluster) compiled.namespace = namespace;
  return {
    policy: compiled,
    appliedToGroups: [...builder.appliedToGroups.values()],
    addressGroups: [...builder.addressGroups.values()],
    tier,
    namespaceScopes: builder.namespaceScopes.length > 0 ? builder.namespaceScopes : NO_SCOPES,
    consultedSourceGroups: builder.consulted.size > 0 ? [...builder.consulted].sort() : NO_KEYS,
  };
}

/** Compiles a defaulted, validated policy object. */
export function compilePolicy(
  policy: CompilablePolicy,
  objectKey: string,
  ctx: CompileContext,
  namer: GroupNamer,
): CompiledPolicy {
  const builder = new PolicyBuilder(ctx, namer);
  if (policy.apiVersion === 'networking.k8s.io/v1') return compileK8s(policy, objectKey, builder);
  return compileAntrea(policy, objectKey, builder);
}
