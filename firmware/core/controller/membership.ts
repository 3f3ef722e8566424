// Group membership: which pods each normalised selector selects, kept up to date as pods and namespaces change.
// A selector is computed once however many groups and policies use it (an AddressGroup and an AppliedToGroup
// with the same selector share one SelectorItem). Pod changes consult only the items that could match: items are
// bucketed by namespace and indexed by one label of their pod selector, so a pod update costs O(labels + matching
// items), not O(items). Namespace label changes touch only items with a namespace selector whose verdict flipped.
import { canonicalSelector, compileSelector, type LabelMatcher, type Labels } from '../api/labels';
import type { LabelSelector, NamespaceInfo, PodInfo } from '../api/types';
import type { GroupMemberPod, GroupSelector, NamedPort } from './internal-types';

/**
 * A selector as Antrea's GroupSelector has it: `namespace` limits the pod selector to one namespace and is
 * ignored when `namespaceSelector` is set; an absent pod selector means all pods of the selected namespaces; with
 * neither `namespace` nor `namespaceSelector` the pod selector applies cluster-wide; with nothing at all the
 * selector selects no pod.
 */
export interface NormalizedSelector {
  namespace?: string;
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
}

export function makeSelector(
  namespace: string | undefined,
  podSelector: LabelSelector | undefined,
  namespaceSelector: LabelSelector | undefined,
): NormalizedSelector {
  const selector: NormalizedSelector = {};
  if (namespaceSelector !== undefined) selector.namespaceSelector = namespaceSelector;
  else if (namespace) selector.namespace = namespace;
  if (podSelector !== undefined) selector.podSelector = podSelector;
  return selector;
}

/** Antrea's normalized name ("namespace=x And podSelector=app=web"): equal selectors give equal text. */
export function selectorKey(selector: NormalizedSelector): string {
  const parts: string[] = [];
  if (selector.namespaceSelector !== undefined) {
    parts.push(`namespaceSelector=${canonicalSelector(selector.namespaceSelector)}`);
  } else if (selector.namespace) {
    parts.push(`namespace=${selector.namespace}`);
  }
  if (selector.podSelector !== undefined)
    parts.push(`podSelector=${canonicalSelector(selector.podSelector)}`);
  return parts.sort().join(' And ');
}

export function groupSelectorOf(selector: NormalizedSelector): GroupSelector {
  const result: GroupSelector = {};
  if (selector.namespaceSelector !== undefined) {
    result.namespaceSelector = canonicalSelector(selector.namespaceSelector);
  } else if (selector.namespace) {
    result.namespace = selector.namespace;
  }
  if (selector.podSelector !== undefined) result.podSelector = canonicalSelector(selector.podSelector);
  return result;
}

/** One pod as the membership index tracks it. `member` is replaced (never mutated) when the pod's facts change. */
export interface PodEntry {
  readonly key: string;
  /** namespace NUL name: plain string order equals (namespace, name) order. */
  readonly sortKey: string;
  pod: PodInfo;
  member: GroupMemberPod;
  items: Set<SelectorItem>;
}

export function podKeyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function memberOf(pod: PodInfo): GroupMemberPod {
  const ports: NamedPort[] = [];
  for (const port of pod.containerPorts) {
    if (port.name)
      ports.push({ name: port.name, port: port.containerPort, protocol: port.protocol ?? 'TCP' });
  }
  return { namespace: pod.namespace, name: pod.name, ip: pod.ip, nodeName: pod.nodeName, ports };
}

function sameMember(a: GroupMemberPod, b: GroupMemberPod): boolean {
  if (a.ip !== b.ip || a.nodeName !== b.nodeName || a.ports.length !== b.ports.length) return false;
  return a.ports.every((port, index) => {
    const other = b.ports[index];
    return (
      other !== undefined &&
      other.name === port.name &&
      other.port === port.port &&
      other.protocol === port.protocol
    );
  });
}

export function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && a[key] === b[key]);
}

/**
 * Receives membership changes of a MemberSource. `previous` is the member object as this consumer last saw it
 * (entry.member may already hold the new one), so that consumers can undo what they counted.
 */
export interface MemberConsumer {
  memberAdded(entry: PodEntry): void;
  memberRemoved(entry: PodEntry, previous: GroupMemberPod): void;
  /** The pod stays a member but its IP, node or named ports changed. */
  memberUpdated(entry: PodEntry, previous: GroupMemberPod): void;
}

function lowerBound(sorted: readonly PodEntry[], sortKey: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as PodEntry).sortKey < sortKey) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * A set of pods with consumers. It also keeps its members sorted, with a parallel array of member objects, both
 * maintained incrementally: publishing a 10k-member group after one pod change costs a binary search, a splice and
 * one array copy, not a map and a sort.
 */
export abstract class MemberSource {
  readonly members = new Map<string, PodEntry>();
  readonly consumers = new Set<MemberConsumer>();
  /** Bumped on every membership or member change; lets publishers skip unchanged sources. */
  version = 0;
  /** Members without an IP (an AddressGroup leaves them out). */
  private unaddressed: Set<string> | undefined;
  private sorted: PodEntry[] | undefined;
  private sortedMemberObjects: GroupMemberPod[] = [];
  private pending: { op: 'add' | 'remove' | 'update'; entry: PodEntry }[] | undefined;
  private allMembers: { version: number; members: GroupMemberPod[] } | undefined;
  private addressableMembers: { version: number; members: GroupMemberPod[] } | undefined;

  subscribe(consumer: MemberConsumer): void {
    this.consumers.add(consumer);
    for (const entry of this.members.values()) consumer.memberAdded(entry);
  }

  unsubscribe(consumer: MemberConsumer, replayRemovals: boolean): void {
    this.consumers.delete(consumer);
    if (replayRemovals)
      for (const entry of this.members.values()) consumer.memberRemoved(entry, entry.member);
  }

  protected addMember(entry: PodEntry): void {
    if (this.members.has(entry.key)) return;
    this.version++;
    this.members.set(entry.key, entry);
    if (entry.member.ip === '') (this.unaddressed ??= new Set()).add(entry.key);
    this.track('add', entry);
    for (const consumer of this.consumers) consumer.memberAdded(entry);
  }

  protected removeMember(entry: PodEntry, previous: GroupMemberPod): void {
    if (!this.members.delete(entry.key)) return;
    this.version++;
    this.unaddressed?.delete(entry.key);
    this.track('remove', entry);
    for (const consumer of this.consumers) consumer.memberRemoved(entry, previous);
  }

  protected updateMember(entry: PodEntry, previous: GroupMemberPod): void {
    this.version++;
    if (entry.member.ip === '') (this.unaddressed ??= new Set()).add(entry.key);
    else this.unaddressed?.delete(entry.key);
    this.track('update', entry);
    for (const consumer of this.consumers) consumer.memberUpdated(entry, previous);
  }

  private track(op: 'add' | 'remove' | 'update', entry: PodEntry): void {
    if (this.sorted === undefined) return;
    const pending = (this.pending ??= []);
    pending.push({ op, entry });
    // Beyond this many changes one sort is cheaper than many splices.
    if (pending.length > 64 && pending.length * 4 > this.members.size) {
      this.sorted = undefined;
      this.pending = undefined;
    }
  }

  /** Published member list (all members, sorted), shared by every group of this source until the next change. */
  memberList(): GroupMemberPod[] {
    if (this.allMembers?.version !== this.version) {
      this.applyPending();
      this.allMembers = { version: this.version, members: this.sortedMemberObjects.slice() };
    }
    return this.allMembers.members;
  }

  /** Members that have an IP (what an AddressGroup can match); the same array as memberList() when all do. */
  addressableMemberList(): GroupMemberPod[] {
    if (this.addressableMembers?.version !== this.version) {
      const all = this.memberList();
      const members = !this.unaddressed?.size ? all : all.filter((member) => member.ip !== '');
      this.addressableMembers = { version: this.version, members };
    }
    return this.addressableMembers.members;
  }

  private applyPending(): void {
    if (this.sorted === undefined) {
      this.sorted = [...this.members.values()].sort((a, b) =>
        a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0,
      );
      this.sortedMemberObjects = this.sorted.map((entry) => entry.member);
      this.pending = undefined;
      return;
    }
    for (const { op, entry } of this.pending ?? []) {
      const index = lowerBound(this.sorted, entry.sortKey);
      const present = this.sorted[index] === entry;
      if (op === 'add' && !present) {
        this.sorted.splice(index, 0, entry);
        this.sortedMemberObjects.splice(index, 0, entry.member);
      } else if (op === 'remove' && present) {
        this.sorted.splice(index, 1);
        this.sortedMemberObjects.splice(index, 1);
      } else if (present) {
        this.sortedMemberObjects[index] = entry.member;
      }
    }
    this.pending = undefined;
  }
}

/** The pods one normalised selector selects. */
export class SelectorItem extends MemberSource {
  readonly podMatcher: LabelMatcher | undefined;
  readonly namespaceMatcher: LabelMatcher | undefined;
  /** `namespaceSelector: {}` selects pods even of namespaces the controller has not seen (as Antrea does). */
  readonly namespaceSelectorEmpty: boolean;
  /** Label pair ("key\0value") or key this item is indexed under; undefined: scanned for every pod of its scope. */
  readonly indexPair: string | undefined;
  readonly indexKey: string | undefined;

  constructor(
    readonly key: string,
    readonly selector: NormalizedSelector,
  ) {
    super();
    this.podMatcher = selector.podSelector === undefined ? undefined : compileSelector(selector.podSelector);
    this.namespaceMatcher =
      selector.namespaceSelector === undefined ? undefined : compileSelector(selector.namespaceSelector);
    this.namespaceSelectorEmpty =
      selector.namespaceSelector !== undefined &&
      Object.keys(selector.namespaceSelector.matchLabels ?? {}).length === 0 &&
      (selector.namespaceSelector.matchExpressions ?? []).length === 0;
    const hint = indexHint(selector.podSelector);
    this.indexPair = hint.pair;
    this.indexKey = hint.key;
  }

  /** Whether the selector can select anything at all (Antrea: no selector → no members). */
  get selectsSomething(): boolean {
    return (
      this.selector.namespace !== undefined ||
      this.selector.namespaceSelector !== undefined ||
      this.selector.podSelector !== undefined
    );
  }

  matchesNamespace(namespace: NamespaceInfo | undefined): boolean {
    if (this.namespaceMatcher === undefined || this.namespaceSelectorEmpty) return true;
    return namespace !== undefined && this.namespaceMatcher(namespace.labels);
  }

  matches(entry: PodEntry, namespaces: ReadonlyMap<string, NamespaceInfo>): boolean {
    const { namespace, namespaceSelector } = this.selector;
    if (namespace !== undefined && namespaceSelector === undefined) {
      if (entry.pod.namespace !== namespace) return false;
    } else if (namespaceSelector !== undefined) {
      if (!this.matchesNamespace(namespaces.get(entry.pod.namespace))) return false;
    } else if (this.podMatcher === undefined) {
      return false;
    }
    return this.podMatcher === undefined || this.podMatcher(entry.pod.labels);
  }

  /** For MembershipIndex only. */
  add(entry: PodEntry): void {
    this.addMember(entry);
  }

  remove(entry: PodEntry, previous: GroupMemberPod): void {
    this.removeMember(entry, previous);
  }

  update(entry: PodEntry, previous: GroupMemberPod): void {
    this.updateMember(entry, previous);
  }
}

function indexHint(selector: LabelSelector | undefined): { pair?: string; key?: string } {
  if (selector === undefined) return {};
  const labels = Object.entries(selector.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const first = labels[0];
  if (first) return { pair: `${first[0]}\u0000${first[1]}` };
  for (const expression of selector.matchExpressions ?? []) {
    const values = expression.values ?? [];
    if (expression.operator === 'In' && values.length === 1)
      return { pair: `${expression.key}\u0000${values[0]}` };
  }
  for (const expression of selector.matchExpressions ?? []) {
    if (expression.operator === 'In' || expression.operator === 'Exists') return { key: expression.key };
  }
  return {};
}

/** Items of one scope (one namespace, or cluster-wide), indexed by a label their pod selector requires. */
class ItemBucket {
  // Created on first use: there is one bucket per namespace and most use only one or two of these.
  private byPair: Map<string, Set<SelectorItem>> | undefined;
  private byKey: Map<string, Set<SelectorItem>> | undefined;
  private scanned: Set<SelectorItem> | undefined;
  size = 0;

  add(item: SelectorItem): void {
    this.size++;
    if (item.indexPair !== undefined)
      addTo((this.byPair ??= new Map<string, Set<SelectorItem>>()), item.indexPair, item);
    else if (item.indexKey !== undefined)
      addTo((this.byKey ??= new Map<string, Set<SelectorItem>>()), item.indexKey, item);
    else (this.scanned ??= new Set()).add(item);
  }

  remove(item: SelectorItem): void {
    this.size--;
    if (item.indexPair !== undefined && this.byPair) removeFrom(this.byPair, item.indexPair, item);
    else if (item.indexKey !== undefined && this.byKey) removeFrom(this.byKey, item.indexKey, item);
    else this.scanned?.delete(item);
  }

  collect(labels: Labels, out: Set<SelectorItem>): void {
    if (this.scanned) for (const item of this.scanned) out.add(item);
    if (!this.byPair && !this.byKey) return;
    for (const [key, value] of Object.entries(labels)) {
      const byPair = this.byPair?.get(`${key}\u0000${value}`);
      if (byPair) for (const item of byPair) out.add(item);
      const byKey = this.byKey?.get(key);
      if (byKey) for (const item of byKey) out.add(item);
    }
  }
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

/** Pods, namespaces and the selector items computed over them. */
export class MembershipIndex {
  readonly pods = new Map<string, PodEntry>();
  readonly podInfos = new Map<string, PodInfo>();
  readonly namespaces = new Map<string, NamespaceInfo>();
  private readonly podsByNamespace = new Map<string, Map<string, PodEntry>>();
  private readonly items = new Map<string, SelectorItem>();
  private readonly namespacedBuckets = new Map<string, ItemBucket>();
  private readonly clusterBucket = new ItemBucket();
  /** Items whose verdict depends on namespace labels (a non-empty namespace selector). */
  private readonly namespaceLabelItems = new Set<SelectorItem>();

  /** The item for `selector`, created (and computed) on first use; pair with `release`. */
  acquire(selector: NormalizedSelector, consumer: MemberConsumer): SelectorItem {
    const key = selectorKey(selector);
    let item = this.items.get(key);
    if (!item) {
      item = new SelectorItem(key, selector);
      this.items.set(key, item);
      this.indexItem(item);
      for (const entry of this.scanScope(item)) {
        if (item.matches(entry, this.namespaces)) {
          item.add(entry);
          entry.items.add(item);
        }
      }
    }
    item.subscribe(consumer);
    return item;
  }

  release(item: SelectorItem, consumer: MemberConsumer, replayRemovals: boolean): void {
    item.unsubscribe(consumer, replayRemovals);
    if (item.consumers.size > 0 || this.items.get(item.key) !== item) return;
    this.items.delete(item.key);
    this.unindexItem(item);
    for (const entry of item.members.values()) entry.items.delete(item);
  }

  itemCount(): number {
    return this.items.size;
  }

  upsertPod(pod: PodInfo): void {
    const key = podKeyOf(pod.namespace, pod.name);
    // Copied so that a caller reusing its object cannot change what the groups were computed from; tolerant of
    // the optional-looking fields a JavaScript caller may leave out.
    const stored: PodInfo = {
      ...pod,
      labels: { ...(pod.labels ?? {}) },
      ip: pod.ip ?? '',
      nodeName: pod.nodeName ?? '',
      containerPorts: [...(pod.containerPorts ?? [])],
    };
    this.podInfos.set(key, stored);
    const existing = this.pods.get(key);
    const member = memberOf(stored);
    if (!existing) {
      const entry: PodEntry = {
        key,
        sortKey: `${pod.namespace}\u0000${pod.name}`,
        pod: stored,
        member,
        items: new Set(),
      };
      this.pods.set(key, entry);
      let inNamespace = this.podsByNamespace.get(pod.namespace);
      if (!inNamespace) this.podsByNamespace.set(pod.namespace, (inNamespace = new Map<string, PodEntry>()));
      inNamespace.set(key, entry);
      for (const item of this.candidates(entry)) {
        if (item.matches(entry, this.namespaces)) {
          entry.items.add(item);
          item.add(entry);
        }
      }
      return;
    }
    const previousMember = existing.member;
    const memberChanged = !sameMember(previousMember, member);
    const labelsChanged = !sameLabels(existing.pod.labels, stored.labels);
    existing.pod = stored;
    if (memberChanged) existing.member = member;
    if (labelsChanged) {
      const next = new Set<SelectorItem>();
      for (const item of this.candidates(existing)) {
        if (item.matches(existing, this.namespaces)) next.add(item);
      }
      const previous = existing.items;
      existing.items = next;
      for (const item of previous) if (!next.has(item)) item.remove(existing, previousMember);
      for (const item of next) {
        if (!previous.has(item)) item.add(existing);
        else if (memberChanged) item.update(existing, previousMember);
      }
    } else if (memberChanged) {
      for (const item of existing.items) item.update(existing, previousMember);
    }
  }

  removePod(namespace: string, name: string): boolean {
    const key = podKeyOf(namespace, name);
    const entry = this.pods.get(key);
    if (!entry) return false;
    this.pods.delete(key);
    this.podInfos.delete(key);
    const inNamespace = this.podsByNamespace.get(namespace);
    inNamespace?.delete(key);
    if (inNamespace?.size === 0) this.podsByNamespace.delete(namespace);
    const items = entry.items;
    entry.items = new Set();
    for (const item of items) item.remove(entry, entry.member);
    return true;
  }

  /** Returns the previous namespace (undefined when new). */
  upsertNamespace(namespace: NamespaceInfo): NamespaceInfo | undefined {
    const stored: NamespaceInfo = { name: namespace.name, labels: { ...namespace.labels } };
    const previous = this.namespaces.get(namespace.name);
    this.namespaces.set(namespace.name, stored);
    if (previous && sameLabels(previous.labels, stored.labels)) return previous;
    this.namespaceChanged(previous, stored);
    return previous;
  }

  removeNamespace(name: string): NamespaceInfo | undefined {
    const previous = this.namespaces.get(name);
    if (!previous) return undefined;
    this.namespaces.delete(name);
    this.namespaceChanged(previous, undefined);
    return previous;
  }

  private namespaceChanged(before: NamespaceInfo | undefined, after: NamespaceInfo | undefined): void {
    const name = (after ?? before)?.name ?? '';
    const pods = this.podsByNamespace.get(name);
    if (!pods) return;
    for (const item of this.namespaceLabelItems) {
      const matchedBefore = item.matchesNamespace(before);
      const matchesNow = item.matchesNamespace(after);
      if (matchedBefore === matchesNow) continue;
      for (const entry of pods.values()) {
        if (matchesNow) {
          if (
            !entry.items.has(item) &&
            (item.podMatcher === undefined || item.podMatcher(entry.pod.labels))
          ) {
            entry.items.add(item);
            item.add(entry);
          }
        } else if (entry.items.delete(item)) {
          item.remove(entry, entry.member);
        }
      }
    }
  }

  private candidates(entry: PodEntry): Set<SelectorItem> {
    const out = new Set<SelectorItem>();
    this.namespacedBuckets.get(entry.pod.namespace)?.collect(entry.pod.labels, out);
    this.clusterBucket.collect(entry.pod.labels, out);
    return out;
  }

  private scopeOf(item: SelectorItem): string | undefined {
    const { namespace, namespaceSelector } = item.selector;
    return namespaceSelector === undefined && namespace !== undefined ? namespace : undefined;
  }

  private indexItem(item: SelectorItem): void {
    const scope = this.scopeOf(item);
    if (scope !== undefined) {
      let bucket = this.namespacedBuckets.get(scope);
      if (!bucket) this.namespacedBuckets.set(scope, (bucket = new ItemBucket()));
      bucket.add(item);
    } else if (item.selectsSomething) {
      this.clusterBucket.add(item);
    }
    if (item.namespaceMatcher !== undefined && !item.namespaceSelectorEmpty)
      this.namespaceLabelItems.add(item);
  }

  private unindexItem(item: SelectorItem): void {
    const scope = this.scopeOf(item);
    if (scope !== undefined) {
      const bucket = this.namespacedBuckets.get(scope);
      bucket?.remove(item);
      if (bucket?.size === 0) this.namespacedBuckets.delete(scope);
    } else if (item.selectsSomething) {
      this.clusterBucket.remove(item);
    }
    this.namespaceLabelItems.delete(item);
  }

  private *scanScope(item: SelectorItem): Iterable<PodEntry> {
    if (!item.selectsSomething) return;
    const scope = this.scopeOf(item);
    if (scope !== undefined) {
      yield* this.podsByNamespace.get(scope)?.values() ?? [];
      return;
    }
    if (item.namespaceMatcher !== undefined && !item.namespaceSelectorEmpty) {
      for (const namespace of this.namespaces.values()) {
        if (item.matchesNamespace(namespace)) yield* this.podsByNamespace.get(namespace.name)?.values() ?? [];
      }
      return;
    }
    yield* this.pods.values();
  }
}
