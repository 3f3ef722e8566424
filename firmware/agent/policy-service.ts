// Hosts the policy controller in the agent (standalone mode): SQLite is the source of truth for namespaces, pods
// and policy objects; the controller holds the compiled view. Applies are all or nothing across their objects:
// the controller takes them one by one (each validated against the state the earlier ones produced) and is put
// back in reverse order if any is rejected; only when all are accepted are they written, in one transaction.
// Subscribers (the rule cache that enforces policies) see the controller's change stream only for committed work,
// never the steps of an apply that was rolled back.
import {
  isNamespacedKind,
  objectKind,
  parseObjectKey,
  ObjectKeyError,
  type ObjectKind,
} from '../core/api/object-key';
import type { NamespaceInfo, PodInfo, PolicyObject, Protocol } from '../core/api/types';
import {
  describeObject,
  labelValueProblems,
  PolicyValidationError,
  qualifiedNameProblems,
  formatFieldError,
  type FieldError,
} from '../core/api/validation';
import type {
  ApplyOutcome,
  NetworkPolicyFilter,
  NetworkPolicyTypeFilter,
  NetworkPolicyEvaluationView,
} from '../core/antctl/views';
import type {
  AddressGroup,
  AppliedToGroup,
  ControllerChanges,
  InternalNetworkPolicy,
  PolicySourceType,
} from '../core/controller/internal-types';
import { ControllerError, PolicyController } from '../core/controller/policy-controller';
import { describeEvaluation } from '../core/evaluate/describe';
import { evaluate, EvaluationError, type EvaluationEndpoint } from '../core/evaluate/evaluator';
import { isIpv4 } from '../core/ipam/ipv4';
import type { Logger } from '../core/logger';
import type { PodRecord } from '../store/pod-repository';
import {
  NAMESPACE_NAME_LABEL,
  type NamespaceRecord,
  type PolicyObjectWrite,
  type StoredPolicyObject,
} from '../store/policy-repository';
import type { PodEvents } from './pod-lifecycle';

export type PolicyServiceErrorCode =
  'NotStarted' | 'ApplyRejected' | 'NotFound' | 'Conflict' | 'InvalidRequest';

/** One rejected object of an apply. */
export interface ApplyFailure {
  /** 0-based position in the applied list. */
  index: number;
  kind: string;
  name: string;
  namespace?: string;
  errors: FieldError[];
}

export class PolicyServiceError extends Error {
  override readonly name = 'PolicyServiceError';

  constructor(
    readonly code: PolicyServiceErrorCode,
    message: string,
    /** ApplyRejected: every rejected object with all its field errors. */
    readonly failures: readonly ApplyFailure[] = [],
    /** ApplyRejected: how many objects the apply carried. */
    readonly objectCount = 0,
  ) {
    super(message);
  }
}

export interface ApplyResult {
  index: number;
  key: string;
  kind: ObjectKind;
  apiVersion: string;
  namespace?: string;
  name: string;
  result: ApplyOutcome;
}

export interface DeleteResult {
  key: string;
  kind: ObjectKind;
  namespace?: string;
  name: string;
  result: 'deleted';
}

export interface NamespaceStore {
  list(): NamespaceRecord[];
  get(name: string): NamespaceRecord | undefined;
  ensure(name: string): { namespace: NamespaceRecord; created: boolean };
  setLabels(name: string, labels: Record<string, string>): boolean;
}

export interface PolicyObjectStore {
  list(): StoredPolicyObject[];
  get(key: string): StoredPolicyObject | undefined;
  commit(batch: { upserts: readonly PolicyObjectWrite[]; deletes: readonly string[] }): void;
  delete(key: string): boolean;
}

export interface PolicyServiceDeps {
  /** This node's name: standalone pods all run here, so it is every pod's nodeName (and every span). */
  nodeName: string;
  pods: { list(): PodRecord[] };
  namespaces: NamespaceStore;
  objects: PolicyObjectStore;
  logger: Logger;
}

export type ChangesListener = (changes: ControllerChanges) => void;

/** What readers (queries, the evaluator, tests) may see of the controller. */
export type PolicyStateView = Pick<
  PolicyController,
  'snapshot' | 'pods' | 'namespaces' | 'objects' | 'tierPriority'
>;

/** Dependencies first, so that validation finds what an object refers to (tiers, groups, services). */
const LOAD_ORDER: readonly ObjectKind[] = [
  'Tier',
  'Service',
  'ClusterGroup',
  'Group',
  'K8sNetworkPolicy',
  'AntreaNetworkPolicy',
  'ClusterNetworkPolicy',
];

const SOURCE_TYPE_BY_FILTER: Record<NetworkPolicyTypeFilter, PolicySourceType> = {
  K8sNP: 'K8sNetworkPolicy',
  ACNP: 'AntreaClusterNetworkPolicy',
  ANNP: 'AntreaNetworkPolicy',
};

interface UndoStep {
  key: string;
  previous: PolicyObject | undefined;
}

export class PolicyService implements PodEvents {
  private controller: PolicyController | undefined;
  private readonly listeners = new Set<ChangesListener>();
  private readonly logger: Logger;

  constructor(private readonly deps: PolicyServiceDeps) {
    this.logger = deps.logger;
  }

  /** Loads namespaces, pods and stored objects into a new controller; an object that no longer validates is skipped. */
  start(): void {
    const controller = new PolicyController({ logger: this.logger });
    const loaded = this.load(controller, (changes) => this.emit(changes));
    this.controller = controller;
    this.logger.info('policy state loaded', loaded);
  }

  stop(): void {
    this.controller = undefined;
  }

  /**
   * Every ControllerChanges of committed work, in order; replaying them reproduces the controller's snapshot.
   * With `replay`, the listener first receives the current state as one change set (everything upserted).
   * Returns the unsubscribe function.
   */
  onChanges(listener: ChangesListener, options: { replay?: boolean } = {}): () => void {
    this.listeners.add(listener);
    if (options.replay && this.controller) listener(currentStateAsChanges(this.controller));
    return () => {
      this.listeners.delete(listener);
    };
  }

  view(): PolicyStateView {
    return this.started();
  }

  // ---- policy objects ----

  /**
   * Applies all objects or none. Each is validated against the state the earlier ones produced (a Tier may come
   * before the policies that use it). Throws PolicyServiceError ApplyRejected naming every rejected object with
   * all its field errors; the controller and the store are then exactly as before.
   */
  apply(objects: readonly unknown[], options: { dryRun?: boolean } = {}): ApplyResult[] {
    const controller = this.started();
    if (objects.length === 0) throw new PolicyServiceError('InvalidRequest', 'no objects passed to apply');
    const undo: UndoStep[] = [];
    const steps: ControllerChanges[] = [];
    const results: ApplyResult[] = [];
    const failures: ApplyFailure[] = [];
    const changedCount = new Map<string, number>();
    try {
      objects.forEach((object, index) => {
        const described = describeObject(object);
        const key = `${described.kind}/${described.namespace ?? ''}/${described.name}`;
        const previous = controller.objects().get(key);
        let changes: ControllerChanges;
        try {
          changes = controller.applyObject(object);
        } catch (error) {
          if (!(error instanceof PolicyValidationError)) throw error;
          failures.push({ index, ...described, errors: error.errors });
          return;
        }
        const applied = controller.objects().get(key);
        if (applied === undefined) throw new Error(`applied object ${key} is not in the controller`);
        const result: ApplyOutcome =
          previous === undefined ? 'created' : sameJson(previous, applied) ? 'unchanged' : 'configured';
        if (result !== 'unchanged') {
          undo.push({ key, previous });
          changedCount.set(key, (changedCount.get(key) ?? 0) + 1);
        }
        steps.push(changes);
        results.push(applyResult(index, key, applied, result));
      });
      if (failures.length > 0) {
        throw new PolicyServiceError(
          'ApplyRejected',
          rejectionMessage(failures, objects.length),
          failures,
          objects.length,
        );
      }
      // A dry run (cluster mode validates before writing to the API server) answers as an apply would, and leaves
      // the controller and the store untouched.
      if (options.dryRun) {
        this.rollBack(controller, undo);
        return results;
      }
      this.deps.objects.commit({ upserts: this.writesFor(controller, changedCount), deletes: [] });
    } catch (error) {
      this.rollBack(controller, undo);
      throw error;
    }
    for (const changes of steps) this.emit(changes);
    for (const result of results) {
      if (result.result !== 'unchanged')
        this.logger.info(`policy object ${result.result}`, { key: result.key });
    }
    return results;
  }

  /** Deletes one object by key; NotFound when it does not exist, Conflict for a Tier that policies use. */
  delete(key: string): DeleteResult {
    const controller = this.started();
    let parsed;
    try {
      parsed = parseObjectKey(key);
    } catch (error) {
      if (error instanceof ObjectKeyError) throw new PolicyServiceError('InvalidRequest', error.message);
      throw error;
    }
    const result: DeleteResult = { key, kind: parsed.kind, name: parsed.name, result: 'deleted' };
    if (parsed.namespace !== undefined) result.namespace = parsed.namespace;
    const previous = controller.objects().get(key);
    if (previous === undefined) {
      // Stored but skipped at start-up (it no longer validates): deleting it is how a user gets rid of it.
      if (this.deps.objects.delete(key)) return result;
      throw new PolicyServiceError('NotFound', `${describeKey(parsed)} not found`);
    }
    let changes: ControllerChanges;
    try {
      changes = controller.removeObject(key);
    } catch (error) {
      if (error instanceof ControllerError && error.code === 'TierInUse') {
        throw new PolicyServiceError('Conflict', `cannot delete ${describeKey(parsed)}: ${error.message}`);
      }
      throw error;
    }
    try {
      this.deps.objects.delete(key);
    } catch (error) {
      this.rollBack(controller, [{ key, previous }]);
      throw error;
    }
    this.emit(changes);
    this.logger.info('policy object deleted', { key });
    return result;
  }

  // ---- pods and namespaces (PodLifecycle events, label endpoints) ----

  podAdded(pod: PodRecord): void {
    this.podUpdated(pod);
  }

  /** A pod's labels, address or ports changed (or it was added). */
  podUpdated(pod: PodRecord): void {
    const controller = this.controller;
    if (!controller) return; // start() reads every pod from the store
    this.guard('pod update', () => {
      this.ensureNamespace(controller, pod.namespace, (changes) => this.emit(changes));
      this.emit(controller.applyPod(this.podInfo(pod)));
    });
  }

  podRemoved(pod: PodRecord): void {
    const controller = this.controller;
    if (!controller) return;
    this.guard('pod removal', () => this.emit(controller.removePod(pod.namespace, pod.name)));
  }

  namespaceLabels(name: string): NamespaceInfo {
    const namespace = this.started().namespaces().get(name);
    if (!namespace) throw namespaceNotFound(name);
    return { name: namespace.name, labels: { ...namespace.labels } };
  }

  /**
   * Replaces a namespace's labels. `kubernetes.io/metadata.name` always equals the name, as the API server keeps
   * it; removing or changing it is ignored.
   */
  setNamespaceLabels(name: string, labels: Record<string, string>): NamespaceInfo {
    const controller = this.started();
    const problems: string[] = [];
    for (const [key, value] of Object.entries(labels)) {
      for (const problem of qualifiedNameProblems(key)) problems.push(`label key "${key}": ${problem}`);
      for (const problem of labelValueProblems(value))
        problems.push(`label "${key}" value "${value}": ${problem}`);
    }
    if (problems.length > 0) throw new PolicyServiceError('InvalidRequest', problems.join('; '));
    const namespace: NamespaceInfo = { name, labels: { ...labels, [NAMESPACE_NAME_LABEL]: name } };
    if (!this.deps.namespaces.setLabels(name, namespace.labels)) throw namespaceNotFound(name);
    this.emit(controller.applyNamespace(namespace));
    return namespace;
  }

  // ---- cluster mode: facts from the Kubernetes API source, which keeps its own copy (nothing is stored here) ----

  sourceNamespace(namespace: NamespaceInfo): void {
    this.emit(this.started().applyNamespace(namespace));
  }

  sourceNamespaceRemoved(name: string): void {
    this.emit(this.started().removeNamespace(name));
  }

  sourcePod(pod: PodInfo): void {
    this.emit(this.started().applyPod(pod));
  }

  sourcePodRemoved(namespace: string, name: string): void {
    this.emit(this.started().removePod(namespace, name));
  }

  /** Validates and applies one API object; when invalid, changes nothing and returns every field error. */
  sourceObject(object: unknown): FieldError[] {
    let changes: ControllerChanges;
    try {
      changes = this.started().applyObject(object);
    } catch (error) {
      if (error instanceof PolicyValidationError) return error.errors;
      throw error;
    }
    this.emit(changes);
    return [];
  }

  /** False when the controller keeps the object: a Tier that policies still use. */
  sourceObjectRemoved(key: string): boolean {
    let changes: ControllerChanges;
    try {
      changes = this.started().removeObject(key);
    } catch (error) {
      if (error instanceof ControllerError && error.code === 'TierInUse') return false;
      throw error;
    }
    this.emit(changes);
    return true;
  }

  // ---- queries ----

  networkPolicies(filter: NetworkPolicyFilter): InternalNetworkPolicy[] {
    const type = filter.type === undefined ? undefined : SOURCE_TYPE_BY_FILTER[filter.type];
    const policies = [...this.started().snapshot().networkPolicies.values()]
      .filter((policy) => filter.namespace === undefined || policy.sourceRef.namespace === filter.namespace)
      .filter((policy) => type === undefined || policy.sourceRef.type === type)
      .filter(
        (policy) => filter.name === undefined || policy.uid === filter.name || policy.name === filter.name,
      )
      .sort(
        (a, b) =>
          compareText(a.sourceRef.name, b.sourceRef.name) ||
          compareText(a.sourceRef.namespace ?? '', b.sourceRef.namespace ?? '') ||
          compareText(a.sourceRef.type, b.sourceRef.type) ||
          compareText(a.uid, b.uid),
      );
    if (filter.name !== undefined && policies.length === 0) {
      const where = filter.namespace === undefined ? '' : ` in namespace ${filter.namespace}`;
      throw new PolicyServiceError('NotFound', `networkpolicy "${filter.name}"${where} not found`);
    }
    return policies;
  }

  addressGroups(name?: string): AddressGroup[] {
    return this.groups(this.started().snapshot().addressGroups, 'addressgroup', name);
  }

  appliedToGroups(name?: string): AppliedToGroup[] {
    return this.groups(this.started().snapshot().appliedToGroups, 'appliedtogroup', name);
  }

  /** Counts for `get agentinfo`. */
  counts(): { networkPolicies: number; addressGroups: number; appliedToGroups: number } {
    const snapshot = this.started().snapshot();
    return {
      networkPolicies: snapshot.networkPolicies.size,
      addressGroups: snapshot.addressGroups.size,
      appliedToGroups: snapshot.appliedToGroups.size,
    };
  }

  /** "Would SOURCE reach DESTINATION on PROTOCOL/PORT?" with the rule that decided each direction. */
  evaluate(query: {
    source: string;
    destination: string;
    protocol: Protocol;
    port: number;
  }): NetworkPolicyEvaluationView {
    const controller = this.started();
    if (!Number.isInteger(query.port) || query.port < 1 || query.port > 65535) {
      throw new PolicyServiceError('InvalidRequest', `port ${query.port} is not between 1 and 65535`);
    }
    const source = parseEndpoint(query.source, 'source');
    const destination = parseEndpoint(query.destination, 'destination');
    let result;
    try {
      result = evaluate(controller, source, destination, query.protocol, query.port);
    } catch (error) {
      if (error instanceof EvaluationError) {
        throw new PolicyServiceError(
          error.code === 'UnknownPod' ? 'NotFound' : 'InvalidRequest',
          error.message,
        );
      }
      throw error;
    }
    return {
      source: withPodIp(controller, source),
      destination: withPodIp(controller, destination),
      protocol: query.protocol,
      port: query.port,
      ...result,
      summary: describeEvaluation(result),
    };
  }

  // ---- internals ----

  private started(): PolicyController {
    if (!this.controller) throw new PolicyServiceError('NotStarted', 'the policy service is not started');
    return this.controller;
  }

  private load(
    controller: PolicyController,
    emit: (changes: ControllerChanges) => void,
  ): { namespaces: number; pods: number; objects: number; skipped: number } {
    const namespaces = this.deps.namespaces.list();
    for (const namespace of namespaces) emit(controller.applyNamespace(namespace));
    const pods = this.deps.pods.list();
    for (const pod of pods) {
      this.ensureNamespace(controller, pod.namespace, emit);
      emit(controller.applyPod(this.podInfo(pod)));
    }
    const stored = this.deps.objects
      .list()
      .filter((object) => {
        if (object.body !== undefined) return true;
        this.logger.error('stored policy object is not valid JSON; skipped', { key: object.key });
        return false;
      })
      .sort((a, b) => loadRank(a.kind) - loadRank(b.kind) || compareText(a.key, b.key));
    // Passes until nothing more applies: objects may refer to others of the same kind (childGroups).
    let pending = stored;
    let rejected: { object: StoredPolicyObject; error: unknown }[] = [];
    for (;;) {
      rejected = [];
      for (const object of pending) {
        try {
          emit(controller.applyObject(object.body));
        } catch (error) {
          rejected.push({ object, error });
        }
      }
      if (rejected.length === 0 || rejected.length === pending.length) break;
      pending = rejected.map((entry) => entry.object);
    }
    for (const { object, error } of rejected) {
      const reason =
        error instanceof PolicyValidationError
          ? error.errors.map(formatFieldError).join('; ')
          : error instanceof Error
            ? error.message
            : String(error);
      this.logger.error('stored policy object no longer validates; skipped (delete or re-apply it)', {
        key: object.key,
        reason,
      });
    }
    return {
      namespaces: controller.namespaces().size,
      pods: pods.length,
      objects: stored.length - rejected.length,
      skipped: rejected.length,
    };
  }

  private ensureNamespace(
    controller: PolicyController,
    name: string,
    emit: (changes: ControllerChanges) => void,
  ): void {
    if (controller.namespaces().has(name)) return;
    const { namespace } = this.deps.namespaces.ensure(name);
    emit(controller.applyNamespace(namespace));
  }

  private podInfo(pod: PodRecord): PodInfo {
    return {
      namespace: pod.namespace,
      name: pod.name,
      labels: pod.labels,
      ip: pod.ip,
      nodeName: this.deps.nodeName,
      containerPorts: pod.containerPorts,
    };
  }

  private writesFor(
    controller: PolicyController,
    changedCount: ReadonlyMap<string, number>,
  ): PolicyObjectWrite[] {
    return [...changedCount].map(([key, count]) => {
      const object = controller.objects().get(key);
      if (object === undefined) throw new Error(`applied object ${key} is not in the controller`);
      const parsed = parseObjectKey(key);
      const write: PolicyObjectWrite = {
        key,
        kind: parsed.kind,
        name: parsed.name,
        body: object,
        generation: (this.deps.objects.get(key)?.generation ?? 0) + count,
      };
      if (parsed.namespace !== undefined) write.namespace = parsed.namespace;
      return write;
    });
  }

  /**
   * Undoes applied steps in reverse. Should that fail (it cannot while the controller accepts what it accepted
   * before), the controller is rebuilt from the store, which still holds the state before the apply.
   */
  private rollBack(controller: PolicyController, undo: readonly UndoStep[]): void {
    try {
      for (const step of [...undo].reverse()) {
        if (step.previous === undefined) controller.removeObject(step.key);
        else controller.applyObject(step.previous);
      }
    } catch (error) {
      this.logger.error('rolling back an apply failed; rebuilding the policy state from the store', {
        error,
      });
      const rebuilt = new PolicyController({ logger: this.logger });
      this.load(rebuilt, () => undefined);
      this.controller = rebuilt;
    }
  }

  private groups<T extends { name: string }>(
    groups: ReadonlyMap<string, T>,
    what: string,
    name: string | undefined,
  ): T[] {
    if (name !== undefined) {
      const group = groups.get(name);
      if (group === undefined) throw new PolicyServiceError('NotFound', `${what} "${name}" not found`);
      return [group];
    }
    return [...groups.values()].sort((a, b) => compareText(a.name, b.name));
  }

  private emit(changes: ControllerChanges): void {
    if (isEmpty(changes)) return;
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (error) {
        this.logger.error('policy change listener failed', { error });
      }
    }
  }

  /** Pod events come from a CNI ADD/DEL that already succeeded: a failure here is logged, never thrown back. */
  private guard(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.logger.error(`policy state update failed (${what})`, { error });
    }
  }
}

function loadRank(kind: string): number {
  const rank = LOAD_ORDER.indexOf(kind as ObjectKind);
  return rank < 0 ? LOAD_ORDER.length : rank;
}

function applyResult(index: number, key: string, object: PolicyObject, result: ApplyOutcome): ApplyResult {
  const kind = objectKind(object);
  const view: ApplyResult = {
    index,
    key,
    kind,
    apiVersion: object.apiVersion,
    name: object.metadata.name,
    result,
  };
  if (isNamespacedKind(kind) && object.metadata.namespace !== undefined)
    view.namespace = object.metadata.namespace;
  return view;
}

function rejectionMessage(failures: readonly ApplyFailure[], total: number): string {
  const invalid = failures.length === 1 ? '1 object is invalid' : `${failures.length} objects are invalid`;
  const parts = failures.map((failure) => {
    const id = failure.namespace ? `${failure.namespace}/${failure.name}` : failure.name;
    return `document ${failure.index + 1} (${failure.kind} ${id}): ${failure.errors.map(formatFieldError).join('; ')}`;
  });
  return `nothing was applied: ${invalid} (of ${total}): ${parts.join(' | ')}`;
}

function describeKey(parsed: { kind: ObjectKind; namespace?: string; name: string }): string {
  return parsed.namespace === undefined
    ? `${parsed.kind} "${parsed.name}"`
    : `${parsed.kind} "${parsed.name}" in namespace ${parsed.namespace}`;
}

function namespaceNotFound(name: string): PolicyServiceError {
  return new PolicyServiceError(
    'NotFound',
    `namespace ${name} not found (a namespace exists once a pod has been added to it)`,
  );
}

/** "NS/POD", "POD" (namespace default, as Antrea's antctl reads it) or an IPv4 address. */
function parseEndpoint(text: string, role: string): EvaluationEndpoint {
  if (isIpv4(text)) return { ip: text };
  const parts = text.split('/');
  if (parts.length === 1 && text !== '') return { pod: `default/${text}` };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { pod: text };
  throw new PolicyServiceError(
    'InvalidRequest',
    `${role} "${text}" must be NAMESPACE/POD, POD or an IPv4 address`,
  );
}

function withPodIp(controller: PolicyController, endpoint: EvaluationEndpoint): EvaluationEndpoint {
  if (endpoint.pod === undefined || endpoint.ip !== undefined) return endpoint;
  const ip = controller.pods().get(endpoint.pod)?.ip;
  return ip ? { pod: endpoint.pod, ip } : endpoint;
}

function currentStateAsChanges(controller: PolicyController): ControllerChanges {
  const snapshot = controller.snapshot();
  const byName = <T extends { name: string }>(a: T, b: T): number => compareText(a.name, b.name);
  return {
    networkPolicies: {
      upserted: [...snapshot.networkPolicies.values()].sort((a, b) => compareText(a.uid, b.uid)),
      deleted: [],
    },
    addressGroups: { upserted: [...snapshot.addressGroups.values()].sort(byName), deleted: [] },
    appliedToGroups: { upserted: [...snapshot.appliedToGroups.values()].sort(byName), deleted: [] },
  };
}

function isEmpty(changes: ControllerChanges): boolean {
  return (
    changes.networkPolicies.upserted.length === 0 &&
    changes.networkPolicies.deleted.length === 0 &&
    changes.addressGroups.upserted.length === 0 &&
    changes.addressGroups.deleted.length === 0 &&
    changes.appliedToGroups.upserted.length === 0 &&
    changes.appliedToGroups.deleted.length === 0
  );
}

/** Structural equality of JSON values, key order ignored (an unchanged re-apply may order keys differently). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  }
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const aKeys = Object.keys(aRecord).filter((key) => aRecord[key] !== undefined);
  const bKeys = Object.keys(bRecord).filter((key) => bRecord[key] !== undefined);
  return aKeys.length === bKeys.length && aKeys.every((key) => sameJson(aRecord[key], bRecord[key]));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
