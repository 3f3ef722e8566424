// Cluster mode's source of policy state: the Kubernetes API, watched, feeding the same PolicyService (and so the
// same controller and enforcer) as standalone mode. The last known objects are kept in SQLite and loaded before
// any watch runs, so a node whose API server is unreachable enforces its last policies (fail closed); each
// resource's complete list then replaces its stored copy, deletions included, in one transaction.
//
// Pods come from two places: the API (labels, node, address, container ports, for every pod of the cluster:
// address groups need remote pods too) and this node's CNI (the pods attached here, with the address IPAM gave
// them). They are joined by namespace/name: the CNI record gives the address, the API gives the labels.
import type * as k8s from '@kubernetes/client-node';
import { formatFieldError, type FieldError } from '../core/api/validation';
import type { ContainerPort, NamespaceInfo, PodInfo, Protocol } from '../core/api/types';
import type { Logger } from '../core/logger';
import type { PodRecord } from '../store/pod-repository';
import type { K8sObjectRepository } from '../store/k8s-object-repository';
import { NAMESPACE_NAME_LABEL } from '../store/policy-repository';
import type { PolicyService } from '../agent/policy-service';
import type { KubeRestClient } from './kube-rest';
import { ResourceWatch, type ResourceWatchStats, type WatchBackoff } from './resource-watch';
import {
  CLUSTER_RESOURCES,
  objectName,
  type KubeResource,
  type ProjectedObject,
  type ResourceName,
} from './resources';

export type PolicySink = Pick<
  PolicyService,
  | 'sourceNamespace'
  | 'sourceNamespaceRemoved'
  | 'sourcePod'
  | 'sourcePodRemoved'
  | 'sourceObject'
  | 'sourceObjectRemoved'
  | 'view'
>;

export interface ClusterPolicySourceDeps {
  /** This node: pods the CNI attached here run on it. */
  nodeName: string;
  policies: PolicySink;
  store: Pick<K8sObjectRepository, 'list' | 'upsert' | 'delete' | 'replace'>;
  /** The pods this node's CNI attached (the pod table). */
  localPods: { list(): PodRecord[] };
  kubeConfig: k8s.KubeConfig;
  rest: Pick<KubeRestClient, 'request'>;
  logger: Logger;
  backoff?: WatchBackoff;
  /** Which resources to watch; default all of CLUSTER_RESOURCES. */
  resources?: readonly KubeResource[];
}

type NodesListener = (nodes: readonly ProjectedObject[]) => void;

interface Waiter {
  resource: ResourceName;
  name: string;
  satisfied: (object: ProjectedObject | undefined) => boolean;
  resolve: (seen: boolean) => void;
  timer: NodeJS.Timeout;
}

export class ClusterPolicySource {
  /** The last known API objects by resource and "namespace/name": from the store, then from the watches. */
  private readonly known = new Map<ResourceName, Map<string, ProjectedObject>>();
  private readonly localPods = new Map<string, PodRecord>();
  /** Pods the controller holds, by "namespace/name". */
  private readonly fedPods = new Set<string>();
  /** Policy objects (controller keys) the controller holds. */
  private readonly appliedObjects = new Set<string>();
  /** Objects that do not validate (yet: a Tier or group they name may come later), with why. */
  private readonly pending = new Map<string, { body: ProjectedObject; reason: string }>();
  /** Tiers deleted from the API while policies still use them: removed once those policies are gone. */
  private readonly blockedRemovals = new Set<string>();
  private readonly watches: ResourceWatch[] = [];
  private readonly nodesListeners = new Set<NodesListener>();
  private readonly waiters = new Set<Waiter>();
  private readonly resources: readonly KubeResource[];
  private readonly logger: Logger;

  constructor(private readonly deps: ClusterPolicySourceDeps) {
    this.resources = deps.resources ?? CLUSTER_RESOURCES;
    this.logger = deps.logger;
  }

  /**
   * Feeds the controller the stored objects and this node's attached pods. Synchronous, and called before the
   * agent starts enforcing, so the first flows already carry the last known policies.
   */
  loadFromStore(): { objects: number; skipped: number; localPods: number } {
    for (const pod of this.deps.localPods.list()) this.localPods.set(`${pod.namespace}/${pod.name}`, pod);
    let objects = 0;
    let unreadable = 0;
    const stored = this.deps.store.list();
    for (const resource of this.resources) {
      const state = this.state(resource.name);
      for (const row of stored.filter((candidate) => candidate.resource === resource.name)) {
        const body = resource.project(row.body);
        if (body === undefined) {
          unreadable++;
          this.logger.error('stored Kubernetes object is unreadable; skipped', {
            resource: resource.name,
            name: row.name,
          });
          continue;
        }
        state.set(row.name, body);
        objects++;
      }
    }
    // Dependency order (namespaces, pods, then Tiers before policies...) is CLUSTER_RESOURCES' order.
    for (const resource of this.resources) {
      for (const object of this.state(resource.name).values()) this.upserted(resource, object, false);
    }
    for (const key of this.localPods.keys()) this.feedPod(key);
    const loaded = { objects, skipped: unreadable + this.pending.size, localPods: this.localPods.size };
    this.logger.info('cluster state loaded from the store', loaded);
    return loaded;
  }

  /** Starts every watch; returns at once (the API server may be unreachable for a long time). */
  start(): void {
    for (const resource of this.resources) {
      const watch: ResourceWatch = new ResourceWatch({
        kubeConfig: this.deps.kubeConfig,
        rest: this.deps.rest,
        resource,
        logger: this.logger,
        ...(this.deps.backoff ? { backoff: this.deps.backoff } : {}),
        handler: {
          upserted: (object) => this.upserted(resource, object, watch.isSynced),
          deleted: (object) => this.deleted(resource, objectName(object.metadata), watch.isSynced),
          listed: (objects) => this.listed(resource, watch, objects),
        },
      });
      this.watches.push(watch);
      watch.start();
    }
  }

  async stop(): Promise<void> {
    for (const waiter of [...this.waiters]) this.settle(waiter, false);
    await Promise.all(this.watches.map((watch) => watch.stop()));
  }

  /** Resolves once every watch has listed its resource at least once. */
  async synced(): Promise<void> {
    await Promise.all(this.watches.map((watch) => watch.synced));
  }

  /** Resources not listed yet (for readiness). */
  unsyncedResources(): string[] {
    return this.watches.filter((watch) => !watch.isSynced).map((watch) => watch.resource.name);
  }

  stats(): ResourceWatchStats[] {
    return this.watches.map((watch) => watch.stats());
  }

  /** The last known object, e.g. for its resourceVersion before a replace. */
  object(resource: ResourceName, name: string): ProjectedObject | undefined {
    return this.known.get(resource)?.get(name);
  }

  /** The API's Nodes as last known (for node routes); listeners hear every change. */
  nodes(): ProjectedObject[] {
    return [...this.state('nodes').values()];
  }

  onNodesChanged(listener: NodesListener): () => void {
    this.nodesListeners.add(listener);
    return () => {
      this.nodesListeners.delete(listener);
    };
  }

  /**
   * Resolves true once the object's known state satisfies `satisfied` (undefined: absent), false after
   * `timeoutMs`: how a write waits for its own change to come back through the watch.
   */
  waitFor(
    resource: ResourceName,
    name: string,
    satisfied: (object: ProjectedObject | undefined) => boolean,
    timeoutMs: number,
  ): Promise<boolean> {
    if (satisfied(this.object(resource, name))) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resource,
        name,
        satisfied,
        resolve,
        timer: setTimeout(() => this.settle(waiter, false), timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  // ---- CNI events of this node ----

  localPodAdded(pod: PodRecord): void {
    const key = `${pod.namespace}/${pod.name}`;
    this.localPods.set(key, pod);
    this.guard('local pod added', () => this.feedPod(key));
  }

  localPodRemoved(pod: PodRecord): void {
    const key = `${pod.namespace}/${pod.name}`;
    this.localPods.delete(key);
    this.guard('local pod removed', () => this.feedPod(key));
  }

  // ---- watch events ----

  private upserted(resource: KubeResource, object: ProjectedObject, persist: boolean): void {
    const name = objectName(object.metadata);
    this.state(resource.name).set(name, object);
    if (persist) this.deps.store.upsert(resource.name, writeOf(name, object));
    this.guard(`${resource.name} upsert`, () => {
      switch (resource.name) {
        case 'nodes':
          this.nodesChanged();
          break;
        case 'namespaces':
          this.deps.policies.sourceNamespace(namespaceInfo(object));
          break;
        case 'pods':
          this.feedPod(name);
          break;
        default:
          this.applyObject(controllerKey(resource, object.metadata), object);
      }
    });
    this.wake(resource.name, name);
  }

  private deleted(resource: KubeResource, name: string, persist: boolean): void {
    const previous = this.state(resource.name).get(name);
    this.state(resource.name).delete(name);
    if (persist) this.deps.store.delete(resource.name, name);
    this.guard(`${resource.name} delete`, () => {
      switch (resource.name) {
        case 'nodes':
          this.nodesChanged();
          break;
        case 'namespaces':
          this.namespaceGone(name);
          break;
        case 'pods':
          this.feedPod(name);
          break;
        default:
          if (previous) this.removeObject(controllerKey(resource, previous.metadata));
      }
    });
    this.wake(resource.name, name);
  }

  /** A complete list: what we knew but the API no longer has is deleted; the stored copy is replaced. */
  private listed(resource: KubeResource, watch: ResourceWatch, objects: readonly ProjectedObject[]): void {
    const listedNames = new Set(objects.map((object) => objectName(object.metadata)));
    for (const name of [...this.state(resource.name).keys()]) {
      if (!listedNames.has(name)) this.deleted(resource, name, false);
    }
    for (const object of objects) {
      const name = objectName(object.metadata);
      if (this.state(resource.name).get(name) !== object) this.upserted(resource, object, false);
    }
    this.deps.store.replace(
      new Map([
        [
          resource.name,
          {
            resourceVersion: watch.stats().resourceVersion,
            objects: objects.map((object) => writeOf(objectName(object.metadata), object)),
          },
        ],
      ]),
    );
  }

  private feedPod(key: string): void {
    const api = this.state('pods').get(key);
    const local = this.localPods.get(key);
    const info = podInfo(api, local, this.deps.nodeName);
    if (info === undefined) {
      if (this.fedPods.delete(key)) {
        const [namespace = '', name = ''] = splitKey(key);
        this.deps.policies.sourcePodRemoved(namespace, name);
      }
      return;
    }
    if (!this.deps.policies.view().namespaces().has(info.namespace)) {
      // Watches are independent: a pod may come before its namespace, which then brings the real labels.
      this.deps.policies.sourceNamespace({
        name: info.namespace,
        labels: { [NAMESPACE_NAME_LABEL]: info.namespace },
      });
    }
    this.deps.policies.sourcePod(info);
    this.fedPods.add(key);
  }

  private namespaceGone(name: string): void {
    const stillUsed = [...this.fedPods].some((key) => key.startsWith(`${name}/`));
    // Pods outlive their namespace only briefly (the API deletes them next); they keep a name-only namespace.
    if (stillUsed) this.deps.policies.sourceNamespace({ name, labels: { [NAMESPACE_NAME_LABEL]: name } });
    else this.deps.policies.sourceNamespaceRemoved(name);
  }

  private applyObject(key: string, body: ProjectedObject): void {
    const errors = this.deps.policies.sourceObject(body);
    if (errors.length > 0) {
      this.reject(key, body, errors);
      return;
    }
    if (this.pending.delete(key)) this.logger.info('API object now validates; applied', { key });
    this.appliedObjects.add(key);
    this.retryPending();
  }

  private reject(key: string, body: ProjectedObject, errors: readonly FieldError[]): void {
    const reason = errors.map(formatFieldError).join('; ');
    const previous = this.pending.get(key);
    this.pending.set(key, { body, reason });
    if (previous?.reason === reason) return;
    const kept = this.appliedObjects.has(key);
    this.logger.warn(
      kept
        ? 'API object fails validation; its previous version stays enforced'
        : 'API object fails validation; skipped',
      { key, resourceVersion: body.metadata.resourceVersion, reason },
    );
  }

  /** Objects may name others (a policy its Tier, a ClusterGroup its children) that arrived after them. */
  private retryPending(): void {
    for (let progress = true; progress && this.pending.size > 0;) {
      progress = false;
      for (const [key, { body }] of [...this.pending]) {
        if (this.deps.policies.sourceObject(body).length === 0) {
          this.pending.delete(key);
          this.appliedObjects.add(key);
          this.logger.info('API object now validates; applied', { key });
          progress = true;
        }
      }
    }
  }

  private removeObject(key: string): void {
    this.pending.delete(key);
    if (!this.appliedObjects.has(key)) return;
    if (!this.deps.policies.sourceObjectRemoved(key)) {
      this.blockedRemovals.add(key);
      this.logger.warn('deleted Tier is still used by policies; kept until they are gone', { key });
      return;
    }
    this.appliedObjects.delete(key);
    for (const blocked of [...this.blockedRemovals]) {
      if (this.deps.policies.sourceObjectRemoved(blocked)) {
        this.blockedRemovals.delete(blocked);
        this.appliedObjects.delete(blocked);
      }
    }
  }

  private nodesChanged(): void {
    const nodes = this.nodes();
    for (const listener of this.nodesListeners) listener(nodes);
  }

  private wake(resource: ResourceName, name: string): void {
    for (const waiter of [...this.waiters]) {
      if (
        waiter.resource === resource &&
        waiter.name === name &&
        waiter.satisfied(this.object(resource, name))
      )
        this.settle(waiter, true);
    }
  }

  private settle(waiter: Waiter, seen: boolean): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    waiter.resolve(seen);
  }

  private state(resource: ResourceName): Map<string, ProjectedObject> {
    let state = this.known.get(resource);
    if (!state) {
      state = new Map();
      this.known.set(resource, state);
    }
    return state;
  }

  /** Watch events must never stop the watch: a failure is logged with what caused it. */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.logger.error(`cluster state update failed (${what})`, { error });
    }
  }
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return slash < 0 ? ['', key] : [key.slice(0, slash), key.slice(slash + 1)];
}

function controllerKey(resource: KubeResource, metadata: { name: string; namespace?: string }): string {
  const namespace = resource.namespaced ? (metadata.namespace ?? '') : '';
  return `${resource.objectKind ?? resource.kind}/${namespace}/${metadata.name}`;
}

function writeOf(
  name: string,
  object: ProjectedObject,
): { name: string; body: unknown; resourceVersion?: string } {
  const write: { name: string; body: unknown; resourceVersion?: string } = { name, body: object };
  if (object.metadata.resourceVersion !== undefined) write.resourceVersion = object.metadata.resourceVersion;
  return write;
}

function namespaceInfo(object: ProjectedObject): NamespaceInfo {
  const name = object.metadata.name;
  return { name, labels: { ...object.metadata.labels, [NAMESPACE_NAME_LABEL]: name } };
}

interface PodSpecProjection {
  nodeName?: string;
  hostNetwork?: boolean;
  containers?: { ports?: { name?: string; containerPort?: number; protocol?: string }[] }[];
}

/** The controller's view of a pod; undefined when it has none (gone, or host-network pods, which policies skip). */
export function podInfo(
  api: ProjectedObject | undefined,
  local: PodRecord | undefined,
  thisNode: string,
): PodInfo | undefined {
  const spec = (api?.spec ?? {}) as PodSpecProjection;
  if (api !== undefined && spec.hostNetwork === true) return undefined;
  if (api === undefined && local === undefined) return undefined;
  const namespace = api?.metadata.namespace ?? local?.namespace ?? '';
  const name = api?.metadata.name ?? local?.name ?? '';
  const status = (api?.status ?? {}) as { podIP?: string };
  const apiPorts: ContainerPort[] = (spec.containers ?? []).flatMap((container) =>
    (container.ports ?? []).flatMap((port) => {
      if (typeof port.containerPort !== 'number') return [];
      const entry: ContainerPort = { containerPort: port.containerPort };
      if (port.name !== undefined) entry.name = port.name;
      if (port.protocol !== undefined) entry.protocol = port.protocol as Protocol;
      return [entry];
    }),
  );
  return {
    namespace,
    name,
    labels: { ...(api ? (api.metadata.labels ?? {}) : (local?.labels ?? {})) },
    ip: local?.ip ?? status.podIP ?? '',
    nodeName: spec.nodeName ?? (local ? thisNode : ''),
    containerPorts: api && apiPorts.length > 0 ? apiPorts : (local?.containerPorts ?? apiPorts),
  };
}
