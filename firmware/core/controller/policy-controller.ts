// The policy controller: keeps pods, namespaces and policy objects, and maintains Antrea's controlplane view of
// them (internal NetworkPolicies, AddressGroups, AppliedToGroups, each with its span) incrementally. Every input
// change returns a ControllerChanges holding only the objects whose content changed, so the agent's rule cache
// can apply it as is; replaying all changes in order reproduces `snapshot()`.
//
// How the work stays proportional to the change:
// - membership lives in MembershipIndex (one SelectorItem per distinct selector, shared by all groups using it);
// - groups are shared by name (name = UUID of the normalised selector, or the ClusterGroup/Group key) and
//   reference-counted by the policies that use them;
// - spans are counters: an AppliedToGroup counts its members per node; an AddressGroup counts, per node, the
//   AppliedToGroups of the policies that reference it (its span is the union of those policies' spans);
// - policies are recompiled only when something they read changed (their tier's priority, the namespaces of
//   per-namespace rules, the ClusterGroups those rules were expanded over);
// - publishing compares with what was published last and emits only differences.
import type { Logger } from '../logger';
import { silentLogger } from '../logger';
import { matchesSelector } from '../api/labels';
import { objectKey as objectKeyOf, parseObjectKey } from '../api/object-key';
import type {
  ClusterGroup,
  Group,
  GroupSpec,
  IPBlock,
  NamespaceInfo,
  PodInfo,
  PolicyObject,
  Service,
} from '../api/types';
import { STATIC_TIERS } from '../api/types';
import {
  describeObject,
  PolicyValidationError,
  validateObject,
  type ValidationContext,
} from '../api/validation';
import { normalizeCidr } from './cidr';
import {
  compilePolicy,
  GroupNamer,
  sourceGroupKey,
  type CompilablePolicy,
  type CompileContext,
  type CompiledPolicy,
  type GroupRef,
  type SourceGroupKind,
  type SourceSelectors,
} from './compile';
import type {
  AddressGroup,
  AppliedToGroup,
  ControllerChanges,
  ControllerSnapshot,
  InternalNetworkPolicy,
  GroupMemberPod,
  IPBlockRef,
} from './internal-types';
import {
  makeSelector,
  MemberSource,
  MembershipIndex,
  sameLabels,
  selectorKey,
  groupSelectorOf,
  type MemberConsumer,
  type NormalizedSelector,
  type PodEntry,
  type SelectorItem,
} from './membership';

export type ControllerErrorCode = 'TierInUse';

/** A request the controller refuses (the state is unchanged). Invalid objects raise PolicyValidationError. */
export class ControllerError extends Error {
  constructor(
    readonly code: ControllerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControllerError';
  }
}

export interface PolicyControllerOptions {
  logger?: Logger;
}

const EMPTY: readonly string[] = Object.freeze([]);

function arraysEqual<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => deepEqual(item, b[index]));
  }
  if (Array.isArray(b)) return false;
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const keys = Object.keys(aRecord).filter((key) => aRecord[key] !== undefined);
  if (keys.length !== Object.keys(bRecord).filter((key) => bRecord[key] !== undefined).length) return false;
  return keys.every((key) => deepEqual(aRecord[key], bRecord[key]));
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return compareText(a.name, b.name);
}

function policySortKey(policy: InternalNetworkPolicy): string {
  return `${policy.namespace ?? ''}\u0000${policy.name}\u0000${policy.uid}`;
}

function ipBlocksOf(spec: GroupSpec): IPBlock[] {
  if (spec.ipBlocks && spec.ipBlocks.length > 0) return spec.ipBlocks;
  return spec.ipBlock ? [spec.ipBlock] : [];
}

interface PolicyRecord {
  readonly key: string;
  /** What recompile triggers need; the group references live on as the group records below. */
  readonly compiled: Omit<CompiledPolicy, 'appliedToGroups' | 'addressGroups' | 'policy'>;
  /** The internal policy with its latest span (the published object once flushed). */
  current: InternalNetworkPolicy;
  readonly appliedToGroups: AppliedToGroupRecord[];
  readonly addressGroups: AddressGroupRecord[];
  alive: boolean;
}

type MarkDirty = (record: AppliedToGroupRecord | AddressGroupRecord) => void;

/** The pods of a ClusterGroup/Group: the union of the selectors it (and its childGroups) stand for. */
class SourceGroupRecord extends MemberSource implements MemberConsumer {
  private readonly counts = new Map<string, number>();
  readonly items = new Map<string, SelectorItem>();
  ipBlocks: IPBlockRef[] = [];
  users = 0;
  private lastUpdate: GroupMemberPod | undefined;

  constructor(
    readonly key: string,
    readonly kind: SourceGroupKind,
    readonly namespace: string | undefined,
    readonly groupName: string,
  ) {
    super();
  }

  memberAdded(entry: PodEntry): void {
    const count = this.counts.get(entry.key) ?? 0;
    this.counts.set(entry.key, count + 1);
    if (count === 0) this.addMember(entry);
  }

  memberRemoved(entry: PodEntry, previous: GroupMemberPod): void {
    const count = this.counts.get(entry.key) ?? 0;
    if (count > 1) {
      this.counts.set(entry.key, count - 1);
      return;
    }
    this.counts.delete(entry.key);
    this.removeMember(entry, previous);
  }

  memberUpdated(entry: PodEntry, previous: GroupMemberPod): void {
    // A pod in several of this group's selectors reports one change once per selector; pass it on once.
    if (this.lastUpdate === entry.member) return;
    this.lastUpdate = entry.member;
    this.updateMember(entry, previous);
  }
}

class AppliedToGroupRecord implements MemberConsumer {
  alive = true;
  source: MemberSource | undefined;
  readonly nodeCounts = new Map<string, number>();
  nodesChanged = false;
  /** Last propagated span (sorted); AddressGroups and policies were told about exactly this one. */
  span: readonly string[] = EMPTY;
  readonly policies = new Set<PolicyRecord>();
  /** AddressGroups whose span counts this group (created on first use: many groups are never peers' spans). */
  addressGroups: Set<AddressGroupRecord> | undefined;

  constructor(
    readonly ref: GroupRef,
    private readonly markDirty: MarkDirty,
  ) {}

  private countNode(node: string, delta: number): void {
    if (node === '') return;
    const count = (this.nodeCounts.get(node) ?? 0) + delta;
    if (count > 0) {
      this.nodeCounts.set(node, count);
      if (count === 1 && delta > 0) this.nodesChanged = true;
    } else {
      this.nodeCounts.delete(node);
      this.nodesChanged = true;
    }
  }

  memberAdded(entry: PodEntry): void {
    this.countNode(entry.member.nodeName, 1);
    this.markDirty(this);
  }

  memberRemoved(_entry: PodEntry, previous: GroupMemberPod): void {
    this.countNode(previous.nodeName, -1);
    this.markDirty(this);
  }

  memberUpdated(entry: PodEntry, previous: GroupMemberPod): void {
    if (previous.nodeName !== entry.member.nodeName) {
      this.countNode(previous.nodeName, -1);
      this.countNode(entry.member.nodeName, 1);
    }
    this.markDirty(this);
  }
}

class AddressGroupRecord implements MemberConsumer {
  alive = true;
  source: MemberSource | undefined;
  sourceRecord: SourceGroupRecord | undefined;
  readonly policies = new Set<PolicyRecord>();
  /** AppliedToGroup → how many (policy) references make it count towards this group's span. */
  readonly appliedToGroupCounts = new Map<AppliedToGroupRecord, number>();
  /** Node → how many counted AppliedToGroups span it. */
  readonly nodeCounts = new Map<string, number>();
  spanChanged = true;
  span: readonly string[] = EMPTY;

  constructor(
    readonly ref: GroupRef,
    private readonly markDirty: MarkDirty,
  ) {}

  memberAdded(): void {
    this.markDirty(this);
  }

  memberRemoved(): void {
    this.markDirty(this);
  }

  memberUpdated(): void {
    this.markDirty(this);
  }
}

function emptyChanges(): ControllerChanges {
  return {
    networkPolicies: { upserted: [], deleted: [] },
    addressGroups: { upserted: [], deleted: [] },
    appliedToGroups: { upserted: [], deleted: [] },
  };
}

function isPolicyKind(object: PolicyObject): object is CompilablePolicy {
  return object.kind === 'NetworkPolicy' || object.kind === 'ClusterNetworkPolicy';
}

export class PolicyController {
  private readonly logger: Logger;
  private readonly membership = new MembershipIndex();
  private readonly objectStore = new Map<string, PolicyObject>();
  private readonly namer = new GroupNamer();
  private readonly customTiers = new Map<string, number>();

  private readonly policyRecords = new Map<string, PolicyRecord>();
  private readonly policyByUid = new Map<string, PolicyRecord>();
  private readonly appliedToGroupRecords = new Map<string, AppliedToGroupRecord>();
  private readonly addressGroupRecords = new Map<string, AddressGroupRecord>();
  private readonly sourceRecords = new Map<string, SourceGroupRecord>();

  // Why a policy must be recompiled: its tier, namespaces (per-namespace rules), ClusterGroups it expanded.
  private readonly policiesByTier = new Map<string, Set<string>>();
  private readonly perNamespacePolicies = new Set<string>();
  private readonly policiesBySourceGroup = new Map<string, Set<string>>();
  // ClusterGroup/Group relations: child key → parent keys; Service object key → groups referencing it.
  private readonly parentsOf = new Map<string, Set<string>>();
  private readonly groupsByService = new Map<string, Set<string>>();

  private readonly publishedPolicies = new Map<string, InternalNetworkPolicy>();
  private readonly publishedAddressGroups = new Map<string, AddressGroup>();
  private readonly publishedAppliedToGroups = new Map<string, AppliedToGroup>();

  private readonly dirtyAppliedToGroups = new Set<AppliedToGroupRecord>();
  private readonly dirtyAddressGroups = new Set<AddressGroupRecord>();
  private readonly dirtyPolicies = new Set<PolicyRecord>();
  private readonly droppedPolicyUids = new Set<string>();
  private readonly droppedAppliedToGroups = new Set<string>();
  private readonly droppedAddressGroups = new Set<string>();

  private readonly markDirty: MarkDirty;
  private readonly compileContext: CompileContext;
  private readonly validationContext: ValidationContext;

  constructor(options: PolicyControllerOptions = {}) {
    this.logger = (options.logger ?? silentLogger).child({ component: 'policy-controller' });
    this.markDirty = (record) => {
      if (record instanceof AppliedToGroupRecord) this.dirtyAppliedToGroups.add(record);
      else this.dirtyAddressGroups.add(record);
    };
    this.compileContext = {
      namespaces: () => this.membership.namespaces.values(),
      namespace: (name) => this.membership.namespaces.get(name),
      tierPriority: (name) => this.tierPriority(name),
      sourceGroupSelectors: (kind, namespace, name) => this.resolveSourceGroup(kind, namespace, name),
    };
    this.validationContext = {
      tierExists: (name) => this.tierPriority(name) !== undefined,
      clusterGroupExists: (name) => this.objectStore.has(`ClusterGroup//${name}`),
      groupExists: (namespace, name) => this.objectStore.has(`Group/${namespace}/${name}`),
      tierPriorityTaken: (priority, exceptName) => this.tierPriorityTaken(priority, exceptName),
      clusterGroupHasChildren: (name) => this.groupHasChildren(`ClusterGroup//${name}`),
      groupHasChildren: (namespace, name) => this.groupHasChildren(`Group/${namespace}/${name}`),
      clusterGroupHasParents: (name) => (this.parentsOf.get(name)?.size ?? 0) > 0,
      groupHasParents: (namespace, name) => (this.parentsOf.get(`${namespace}/${name}`)?.size ?? 0) > 0,
      // Deliberately no `tierPriority`: Antrea forbids changing a Tier's priority; here it is allowed and the
      // policies of that tier are updated.
    };
  }

  // ---- inputs ----

  applyNamespace(namespace: NamespaceInfo): ControllerChanges {
    const previous = this.membership.upsertNamespace(namespace);
    const current = this.membership.namespaces.get(namespace.name);
    if (!previous || !current || !sameLabels(previous.labels, current.labels)) {
      this.recompileForNamespace(previous, current);
    }
    return this.flush();
  }

  removeNamespace(name: string): ControllerChanges {
    const previous = this.membership.removeNamespace(name);
    if (previous) this.recompileForNamespace(previous, undefined);
    return this.flush();
  }

  applyPod(pod: PodInfo): ControllerChanges {
    this.membership.upsertPod(pod);
    return this.flush();
  }

  removePod(namespace: string, name: string): ControllerChanges {
    this.membership.removePod(namespace, name);
    return this.flush();
  }

  /** Validates (validateObject) then applies; throws PolicyValidationError and changes NOTHING if invalid. */
  applyObject(obj: unknown): ControllerChanges {
    const result = validateObject(obj, this.validationContext);
    if (!result.ok) throw new PolicyValidationError(result.errors, describeObject(obj));
    const object = result.object;
    const key = objectKeyOf(object);
    const previous = this.objectStore.get(key);
    this.objectStore.set(key, object);
    this.logger.debug('object applied', { key, update: previous !== undefined });
    switch (object.kind) {
      case 'Tier':
        this.customTiers.set(object.metadata.name, object.spec.priority);
        this.recompilePolicies(this.policiesByTier.get(object.metadata.name));
        break;
      case 'ClusterGroup':
      case 'Group':
        this.indexSourceGroup(previous as ClusterGroup | Group | undefined, object);
        this.sourceGroupChanged(this.sourceKeyOfObject(object));
        break;
      case 'Service':
        this.servicesChanged(key);
        break;
      default:
        if (isPolicyKind(object)) this.applyPolicy(key, object);
    }
    return this.flush();
  }

  removeObject(key: string): ControllerChanges {
    const parsed = parseObjectKey(key);
    const object = this.objectStore.get(key);
    if (!object) return emptyChanges();
    if (parsed.kind === 'Tier') {
      const users = this.policiesByTier.get(parsed.name)?.size ?? 0;
      const isStatic = Object.prototype.hasOwnProperty.call(STATIC_TIERS, parsed.name);
      if (users > 0 && !isStatic) {
        throw new ControllerError(
          'TierInUse',
          `tier ${parsed.name} is referenced by ${users} Antrea policies`,
        );
      }
    }
    this.objectStore.delete(key);
    this.logger.debug('object removed', { key });
    switch (object.kind) {
      case 'Tier':
        this.customTiers.delete(object.metadata.name);
        this.recompilePolicies(this.policiesByTier.get(object.metadata.name));
        break;
      case 'ClusterGroup':
      case 'Group':
        this.indexSourceGroup(object, undefined);
        this.sourceGroupChanged(this.sourceKeyOfObject(object));
        break;
      case 'Service':
        this.servicesChanged(key);
        break;
      default: {
        const record = this.policyRecords.get(key);
        if (record) {
          this.uninstall(record);
          this.policyRecords.delete(key);
        }
      }
    }
    return this.flush();
  }

  // ---- views ----

  /** A live read-only view: published objects are never mutated, only replaced. */
  snapshot(): ControllerSnapshot {
    return {
      networkPolicies: this.publishedPolicies,
      addressGroups: this.publishedAddressGroups,
      appliedToGroups: this.publishedAppliedToGroups,
    };
  }

  pods(): ReadonlyMap<string, PodInfo> {
    return this.membership.podInfos;
  }

  namespaces(): ReadonlyMap<string, NamespaceInfo> {
    return this.membership.namespaces;
  }

  objects(): ReadonlyMap<string, PolicyObject> {
    return this.objectStore;
  }

  tierPriority(name: string): number | undefined {
    const custom = this.customTiers.get(name);
    if (custom !== undefined) return custom;
    return Object.prototype.hasOwnProperty.call(STATIC_TIERS, name) ? STATIC_TIERS[name] : undefined;
  }

  // ---- tiers and ClusterGroups ----

  private tierPriorityTaken(priority: number, exceptName: string): boolean {
    const priorities = new Map<string, number>(Object.entries(STATIC_TIERS));
    for (const [name, customPriority] of this.customTiers) priorities.set(name, customPriority);
    for (const [name, taken] of priorities) if (name !== exceptName && taken === priority) return true;
    return false;
  }

  private groupHasChildren(key: string): boolean {
    const object = this.objectStore.get(key) as ClusterGroup | Group | undefined;
    return (object?.spec.childGroups ?? []).length > 0;
  }

  private sourceKeyOfObject(object: ClusterGroup | Group): string {
    return object.kind === 'Group'
      ? sourceGroupKey('Group', object.metadata.namespace, object.metadata.name)
      : sourceGroupKey('ClusterGroup', undefined, object.metadata.name);
  }

  private serviceKeyOf(object: ClusterGroup | Group): string | undefined {
    const reference = object.spec.serviceReference;
    if (!reference) return undefined;
    const namespace =
      reference.namespace ?? (object.kind === 'Group' ? object.metadata.namespace : undefined);
    return `Service/${namespace ?? ''}/${reference.name}`;
  }

  /** Maintains parentsOf and groupsByService for one ClusterGroup/Group change. */
  private indexSourceGroup(
    before: ClusterGroup | Group | undefined,
    after: ClusterGroup | Group | undefined,
  ): void {
    const object = after ?? before;
    if (!object) return;
    const sourceKey = this.sourceKeyOfObject(object);
    const kind: SourceGroupKind = object.kind;
    const namespace = object.kind === 'Group' ? object.metadata.namespace : undefined;
    const childKey = (child: string): string => sourceGroupKey(kind, namespace, child);
    for (const child of before?.spec.childGroups ?? [])
      removeFrom(this.parentsOf, childKey(child), sourceKey);
    for (const child of after?.spec.childGroups ?? []) addTo(this.parentsOf, childKey(child), sourceKey);
    const serviceBefore = before ? this.serviceKeyOf(before) : undefined;
    const serviceAfter = after ? this.serviceKeyOf(after) : undefined;
    if (serviceBefore) removeFrom(this.groupsByService, serviceBefore, sourceKey);
    if (serviceAfter) addTo(this.groupsByService, serviceAfter, sourceKey);
  }

  /** Selectors and ipBlocks a ClusterGroup/Group stands for; childGroups nest one level (as in Antrea). */
  private resolveSourceGroup(
    kind: SourceGroupKind,
    namespace: string | undefined,
    name: string,
    depth = 1,
  ): SourceSelectors & { ipBlocks: IPBlockRef[] } {
    const result: SourceSelectors & { ipBlocks: IPBlockRef[] } = {
      selectors: [],
      consulted: [],
      ipBlocks: [],
    };
    result.consulted.push(sourceGroupKey(kind, namespace, name));
    const object = this.objectStore.get(
      kind === 'ClusterGroup' ? `ClusterGroup//${name}` : `Group/${namespace ?? ''}/${name}`,
    ) as ClusterGroup | Group | undefined;
    if (!object) return result;
    const spec = object.spec;
    if (spec.podSelector !== undefined || spec.namespaceSelector !== undefined) {
      result.selectors.push(
        makeSelector(kind === 'Group' ? namespace : undefined, spec.podSelector, spec.namespaceSelector),
      );
    }
    const serviceKey = this.serviceKeyOf(object);
    if (serviceKey) {
      const service = this.objectStore.get(serviceKey) as Service | undefined;
      const selector = service?.spec.selector;
      // A Service without a selector selects no pods (its endpoints are managed by hand).
      if (service && selector && Object.keys(selector).length > 0) {
        result.selectors.push(
          makeSelector(service.metadata.namespace, { matchLabels: { ...selector } }, undefined),
        );
      }
    }
    for (const block of ipBlocksOf(spec)) {
      result.ipBlocks.push({
        cidr: normalizeCidr(block.cidr),
        except: (block.except ?? []).map(normalizeCidr),
      });
    }
    if (depth === 1) {
      for (const child of spec.childGroups ?? []) {
        const resolved = this.resolveSourceGroup(kind, namespace, child, 2);
        result.selectors.push(...resolved.selectors);
        result.ipBlocks.push(...resolved.ipBlocks);
        result.consulted.push(...resolved.consulted);
      }
    }
    return result;
  }

  private sourceGroupChanged(sourceKey: string): void {
    const affected = new Set<string>([sourceKey, ...(this.parentsOf.get(sourceKey) ?? [])]);
    this.refreshSourceGroups(affected);
  }

  private servicesChanged(serviceKey: string): void {
    const affected = new Set<string>();
    for (const sourceKey of this.groupsByService.get(serviceKey) ?? []) {
      affected.add(sourceKey);
      for (const parent of this.parentsOf.get(sourceKey) ?? []) affected.add(parent);
    }
    this.refreshSourceGroups(affected);
  }

  private refreshSourceGroups(keys: Iterable<string>): void {
    const policies = new Set<string>();
    for (const key of keys) {
      const record = this.sourceRecords.get(key);
      if (record) this.refreshSourceRecord(record);
      for (const policy of this.policiesBySourceGroup.get(key) ?? []) policies.add(policy);
    }
    this.recompilePolicies(policies);
  }

  private refreshSourceRecord(record: SourceGroupRecord): void {
    const resolved = this.resolveSourceGroup(record.kind, record.namespace, record.groupName);
    const wanted = new Map<string, NormalizedSelector>();
    for (const selector of resolved.selectors) wanted.set(selectorKey(selector), selector);
    for (const [key, selector] of wanted) {
      if (!record.items.has(key)) record.items.set(key, this.membership.acquire(selector, record));
    }
    for (const [key, item] of [...record.items]) {
      if (wanted.has(key)) continue;
      record.items.delete(key);
      this.membership.release(item, record, true);
    }
    if (!deepEqual(record.ipBlocks, resolved.ipBlocks)) {
      record.ipBlocks = resolved.ipBlocks;
      for (const consumer of record.consumers) {
        if (consumer instanceof AddressGroupRecord) this.markDirty(consumer);
      }
    }
  }

  private acquireSourceRecord(ref: Extract<GroupRef, { kind: 'source' }>): SourceGroupRecord {
    let record = this.sourceRecords.get(ref.name);
    if (!record) {
      record = new SourceGroupRecord(ref.name, ref.source, ref.namespace, ref.groupName);
      this.sourceRecords.set(ref.name, record);
      this.refreshSourceRecord(record);
    }
    record.users++;
    return record;
  }

  private releaseSourceRecord(record: SourceGroupRecord): void {
    record.users--;
    if (record.users > 0) return;
    this.sourceRecords.delete(record.key);
    for (const item of record.items.values()) this.membership.release(item, record, false);
    record.items.clear();
  }

  // ---- policies ----

  private recompileForNamespace(before: NamespaceInfo | undefined, after: NamespaceInfo | undefined): void {
    if (this.perNamespacePolicies.size === 0) return;
    const inScope = (scope: NormalizedSelector, namespace: NamespaceInfo | undefined): boolean => {
      if (!namespace) return false;
      if (scope.namespaceSelector === undefined) {
        return scope.namespace === undefined || scope.namespace === namespace.name;
      }
      return matchesSelector(scope.namespaceSelector, namespace.labels);
    };
    const affected: string[] = [];
    for (const key of this.perNamespacePolicies) {
      const record = this.policyRecords.get(key);
      if (!record) continue;
      if (record.compiled.namespaceScopes.some((scope) => inScope(scope, before) || inScope(scope, after))) {
        affected.push(key);
      }
    }
    this.recompilePolicies(affected);
  }

  private recompilePolicies(keys: Iterable<string> | undefined): void {
    if (!keys) return;
    for (const key of [...keys].sort()) {
      const object = this.objectStore.get(key);
      if (object && isPolicyKind(object)) this.applyPolicy(key, object);
    }
  }

  private applyPolicy(key: string, object: CompilablePolicy): void {
    const compiled = compilePolicy(object, key, this.compileContext, this.namer);
    const previous = this.policyRecords.get(key);
    // Install before uninstalling so that groups shared by both versions are kept, not deleted and recreated.
    const record = this.install(key, compiled);
    if (previous) this.uninstall(previous);
    this.policyRecords.set(key, record);
    if (compiled.tier !== undefined) addTo(this.policiesByTier, compiled.tier, key);
    if (compiled.namespaceScopes.length > 0) this.perNamespacePolicies.add(key);
    for (const sourceKey of compiled.consultedSourceGroups) addTo(this.policiesBySourceGroup, sourceKey, key);
  }

  private install(key: string, compiled: CompiledPolicy): PolicyRecord {
    const { appliedToGroups, addressGroups, policy, ...kept } = compiled;
    const record: PolicyRecord = {
      key,
      compiled: kept,
      current: { ...policy, span: EMPTY as string[] },
      appliedToGroups: [],
      addressGroups: [],
      alive: true,
    };
    for (const ref of appliedToGroups) {
      const group = this.acquireAppliedToGroup(ref);
      group.policies.add(record);
      record.appliedToGroups.push(group);
    }
    for (const ref of addressGroups) {
      const group = this.acquireAddressGroup(ref);
      group.policies.add(record);
      record.addressGroups.push(group);
      for (const appliedToGroup of record.appliedToGroups) this.linkSpan(group, appliedToGroup);
    }
    this.policyByUid.set(policy.uid, record);
    this.dirtyPolicies.add(record);
    return record;
  }

  private uninstall(record: PolicyRecord): void {
    record.alive = false;
    const { compiled, key } = record;
    const uid = record.current.uid;
    for (const group of record.addressGroups) {
      for (const appliedToGroup of record.appliedToGroups) this.unlinkSpan(group, appliedToGroup);
      group.policies.delete(record);
      if (group.policies.size === 0) this.destroyAddressGroup(group);
    }
    for (const group of record.appliedToGroups) {
      group.policies.delete(record);
      if (group.policies.size === 0) this.destroyAppliedToGroup(group);
    }
    if (this.policyByUid.get(uid) === record) this.policyByUid.delete(uid);
    this.droppedPolicyUids.add(uid);
    if (compiled.tier !== undefined) removeFrom(this.policiesByTier, compiled.tier, key);
    this.perNamespacePolicies.delete(key);
    for (const sourceKey of compiled.consultedSourceGroups)
      removeFrom(this.policiesBySourceGroup, sourceKey, key);
  }

  // ---- groups ----

  private acquireAppliedToGroup(ref: GroupRef): AppliedToGroupRecord {
    const existing = this.appliedToGroupRecords.get(ref.name);
    if (existing) return existing;
    const group = new AppliedToGroupRecord(ref, this.markDirty);
    this.appliedToGroupRecords.set(ref.name, group);
    this.attachSource(group, ref);
    this.dirtyAppliedToGroups.add(group);
    return group;
  }

  private destroyAppliedToGroup(group: AppliedToGroupRecord): void {
    group.alive = false;
    this.appliedToGroupRecords.delete(group.ref.name);
    this.droppedAppliedToGroups.add(group.ref.name);
    this.detachSource(group);
  }

  private acquireAddressGroup(ref: GroupRef): AddressGroupRecord {
    const existing = this.addressGroupRecords.get(ref.name);
    if (existing) return existing;
    const group = new AddressGroupRecord(ref, this.markDirty);
    this.addressGroupRecords.set(ref.name, group);
    group.sourceRecord = this.attachSource(group, ref);
    this.dirtyAddressGroups.add(group);
    return group;
  }

  private destroyAddressGroup(group: AddressGroupRecord): void {
    group.alive = false;
    this.addressGroupRecords.delete(group.ref.name);
    this.droppedAddressGroups.add(group.ref.name);
    this.detachSource(group);
  }

  /** Connects a new group to what feeds its members: a shared selector, or a ClusterGroup/Group record. */
  private attachSource(
    group: AppliedToGroupRecord | AddressGroupRecord,
    ref: GroupRef,
  ): SourceGroupRecord | undefined {
    if (ref.kind === 'selector') {
      group.source = this.membership.acquire(ref.selector, group);
      return undefined;
    }
    const source = this.acquireSourceRecord(ref);
    group.source = source;
    source.subscribe(group);
    return source;
  }

  private detachSource(group: AppliedToGroupRecord | AddressGroupRecord): void {
    const source = group.source;
    if (source instanceof SourceGroupRecord) {
      source.unsubscribe(group, false);
      this.releaseSourceRecord(source);
    } else if (source) {
      this.membership.release(source as SelectorItem, group, false);
    }
  }

  private linkSpan(group: AddressGroupRecord, appliedToGroup: AppliedToGroupRecord): void {
    const count = group.appliedToGroupCounts.get(appliedToGroup) ?? 0;
    group.appliedToGroupCounts.set(appliedToGroup, count + 1);
    if (count > 0) return;
    (appliedToGroup.addressGroups ??= new Set()).add(group);
    for (const node of appliedToGroup.span) this.countSpanNode(group, node, 1);
  }

  private unlinkSpan(group: AddressGroupRecord, appliedToGroup: AppliedToGroupRecord): void {
    const count = group.appliedToGroupCounts.get(appliedToGroup) ?? 0;
    if (count > 1) {
      group.appliedToGroupCounts.set(appliedToGroup, count - 1);
      return;
    }
    group.appliedToGroupCounts.delete(appliedToGroup);
    appliedToGroup.addressGroups?.delete(group);
    for (const node of appliedToGroup.span) this.countSpanNode(group, node, -1);
  }

  private countSpanNode(group: AddressGroupRecord, node: string, delta: number): void {
    const count = (group.nodeCounts.get(node) ?? 0) + delta;
    if (count > 0) group.nodeCounts.set(node, count);
    else group.nodeCounts.delete(node);
    if ((delta > 0 && count === 1) || count <= 0) {
      group.spanChanged = true;
      this.dirtyAddressGroups.add(group);
    }
  }

  // ---- publishing ----

  private policySpan(record: PolicyRecord): readonly string[] {
    const groups = record.appliedToGroups;
    if (groups.length === 0) return EMPTY;
    // One AppliedToGroup (the common case): share its span array instead of copying it into every policy.
    if (groups.length === 1) return (groups[0] as AppliedToGroupRecord).span;
    const nodes = new Set<string>();
    for (const group of groups) for (const node of group.span) nodes.add(node);
    return [...nodes].sort();
  }

  private flush(): ControllerChanges {
    const changes = emptyChanges();

    // 1. Propagate AppliedToGroup span changes to the AddressGroups counting them and to their policies.
    for (const group of this.dirtyAppliedToGroups) {
      if (!group.alive || !group.nodesChanged) continue;
      group.nodesChanged = false;
      const next = [...group.nodeCounts.keys()].sort();
      if (arraysEqual(next, group.span)) continue;
      const before = new Set(group.span);
      const after = new Set(next);
      for (const addressGroup of group.addressGroups ?? []) {
        for (const node of next) if (!before.has(node)) this.countSpanNode(addressGroup, node, 1);
        for (const node of group.span) if (!after.has(node)) this.countSpanNode(addressGroup, node, -1);
      }
      group.span = next;
      for (const policy of group.policies) this.dirtyPolicies.add(policy);
    }

    // 2. Policies. `current` is the record's object; a span change replaces it with a copy.
    for (const record of this.dirtyPolicies) {
      if (!record.alive) continue;
      const before = record.current;
      const span = this.policySpan(record);
      const current = arraysEqual(before.span, span) ? before : { ...before, span: span as string[] };
      record.current = current;
      const previous = this.publishedPolicies.get(current.uid);
      if (previous === current) continue;
      // A recompiled policy may come out identical to what was published: keep that object, emit nothing.
      if (previous !== undefined && previous !== before && deepEqual(previous, current)) {
        record.current = previous;
        continue;
      }
      this.publishedPolicies.set(current.uid, current);
      changes.networkPolicies.upserted.push(current);
    }
    for (const uid of this.droppedPolicyUids) {
      if (!this.policyByUid.has(uid) && this.publishedPolicies.delete(uid))
        changes.networkPolicies.deleted.push(uid);
    }

    // 3. AppliedToGroups.
    for (const group of this.dirtyAppliedToGroups) {
      if (!group.alive || !group.source) continue;
      const members = group.source.memberList();
      const previous = this.publishedAppliedToGroups.get(group.ref.name);
      if (previous && arraysEqual(previous.members, members) && arraysEqual(previous.span, group.span))
        continue;
      const published: AppliedToGroup = { name: group.ref.name, members, span: group.span as string[] };
      this.describeGroup(group.ref, published);
      this.publishedAppliedToGroups.set(published.name, published);
      changes.appliedToGroups.upserted.push(published);
    }
    for (const name of this.droppedAppliedToGroups) {
      if (!this.appliedToGroupRecords.has(name) && this.publishedAppliedToGroups.delete(name)) {
        changes.appliedToGroups.deleted.push(name);
      }
    }

    // 4. AddressGroups (pods without an IP cannot be addressed and are left out, as Antrea does).
    for (const group of this.dirtyAddressGroups) {
      if (!group.alive || !group.source) continue;
      if (group.spanChanged) {
        group.spanChanged = false;
        const next = [...group.nodeCounts.keys()].sort();
        if (!arraysEqual(next, group.span)) group.span = next;
      }
      const members = group.source.addressableMemberList();
      const ipBlocks = group.sourceRecord?.ipBlocks ?? [];
      const previous = this.publishedAddressGroups.get(group.ref.name);
      if (
        previous &&
        arraysEqual(previous.members, members) &&
        arraysEqual(previous.span, group.span) &&
        deepEqual(previous.ipBlocks, ipBlocks)
      ) {
        continue;
      }
      const published: AddressGroup = {
        name: group.ref.name,
        members,
        ipBlocks,
        span: group.span as string[],
      };
      this.describeGroup(group.ref, published);
      this.publishedAddressGroups.set(published.name, published);
      changes.addressGroups.upserted.push(published);
    }
    for (const name of this.droppedAddressGroups) {
      if (!this.addressGroupRecords.has(name) && this.publishedAddressGroups.delete(name)) {
        changes.addressGroups.deleted.push(name);
      }
    }

    this.dirtyAppliedToGroups.clear();
    this.dirtyAddressGroups.clear();
    this.dirtyPolicies.clear();
    this.droppedPolicyUids.clear();
    this.droppedAppliedToGroups.clear();
    this.droppedAddressGroups.clear();

    if (changes.networkPolicies.upserted.length > 1) {
      changes.networkPolicies.upserted = changes.networkPolicies.upserted
        .map((policy) => ({ policy, key: policySortKey(policy) }))
        .sort((a, b) => compareText(a.key, b.key))
        .map(({ policy }) => policy);
    }
    changes.networkPolicies.deleted.sort();
    changes.appliedToGroups.upserted.sort(byName);
    changes.appliedToGroups.deleted.sort();
    changes.addressGroups.upserted.sort(byName);
    changes.addressGroups.deleted.sort();
    return changes;
  }

  private describeGroup(ref: GroupRef, group: AddressGroup | AppliedToGroup): void {
    if (ref.kind === 'selector') group.selector = groupSelectorOf(ref.selector);
    else group.sourceGroup = ref.source === 'ClusterGroup' ? `cg:${ref.groupName}` : `g:${ref.name}`;
  }
}
