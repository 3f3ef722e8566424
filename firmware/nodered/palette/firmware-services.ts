// PaletteServices over what the agent answers (AgentApi: the in-process AgentQueryService, or LocalApiClient over
// the antctl socket) plus the firmware's event sources. Failures of every kind become PaletteError here, in one
// place (toPaletteError), so the nodes translate exactly one error type to a status and a Catch message.
import { ApiError } from '../../core/antctl/api-error';
import type {
  AgentApi,
  ApplyResultView,
  DeleteResultView,
  NetworkPolicyEvaluationQuery,
  NetworkPolicyEvaluationView,
  PodLabelsView,
  PolicyRef,
  RuleStatsView,
  TraceflowRequest,
  TraceflowResult,
} from '../../core/antctl/views';
import type { AuditEntry } from '../../core/audit/audit-entry';
import { compileSelector } from '../../core/api/labels';
import { isNamespacedKind, OBJECT_KINDS } from '../../core/api/object-key';
import type { LabelSelector, Protocol } from '../../core/api/types';
import type { PolicySourceType } from '../../core/controller/internal-types';
import type { Logger } from '../../core/logger';
import { parseSelectorText, SelectorTextError } from './selector-text';
import {
  describePolicyRef,
  PaletteError,
  POLICY_TYPE_BY_KIND,
  type AuditEventEntry,
  type PaletteEvent,
  type PaletteFieldError,
  type PaletteObjectRef,
  type PalettePodView,
  type PalettePolicyRef,
  type PaletteServices,
  type PodQuery,
  type PolicyKind,
  type PolicyRealizationView,
} from './services';

/** What the services ask of the agent; both AgentQueryService and LocalApiClient provide it. */
export type PaletteAgentApi = Pick<
  AgentApi,
  | 'applyObjects'
  | 'deleteObject'
  | 'networkPolicies'
  | 'networkPolicyEvaluation'
  | 'ruleStats'
  | 'setPodLabels'
  | 'traceflow'
  | 'podInterfaces'
>;

export interface PodEventSource {
  /** Returns the unsubscribe function. */
  subscribe(listener: (change: 'added' | 'removed', pod: PalettePodView) => void): () => void;
}

export interface PaletteServiceDeps {
  api: PaletteAgentApi;
  /** Pods with their labels (PodRepository). Absent: `listPods` answers without labels and rejects selectors. */
  pods?: { list(): readonly PalettePodView[] };
  /** PolicyEnforcer.onRealized: when policy flows reach OVS. Absent: no PolicyRealized events. */
  realizations?: { onRealized(listener: () => void): () => void };
  /** AuditLogger.onEntry. Absent: no AuditLog events. */
  audit?: { onEntry(listener: (entry: AuditEntry) => void): () => void };
  /** Pod add/remove (a PodEventHub the pod lifecycle reports to). Absent: no pod events. */
  podEvents?: PodEventSource;
  logger: Logger;
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export function createPaletteServices(deps: PaletteServiceDeps): PaletteServices {
  return new FirmwarePaletteServices(deps);
}

class FirmwarePaletteServices implements PaletteServices {
  private readonly listeners = new Set<(event: PaletteEvent) => void>();
  private readonly sourceUnsubscribers: (() => void)[] = [];
  /** Per policy uid, the realized generation last reported, so that each realization is reported once. */
  private readonly reportedGenerations = new Map<string, number>();
  private realizationCheck: Promise<void> | undefined;
  private realizationCheckAgain = false;
  private readonly logger: Logger;

  constructor(private readonly deps: PaletteServiceDeps) {
    this.logger = deps.logger.child({ component: 'nodered-palette' });
  }

  async apply(objects: unknown[]): Promise<ApplyResultView[]> {
    if (!Array.isArray(objects) || objects.length === 0) {
      throw new PaletteError('Invalid', 'nothing to apply: give one or more policy objects', [
        { path: '', reason: 'must be a non-empty list of objects' },
      ]);
    }
    try {
      return await this.deps.api.applyObjects(objects);
    } catch (error) {
      const failure = toPaletteError(error);
      this.emit({
        type: 'PolicyFailed',
        ...(objects.length === 1 ? policyRefOfObject(objects[0]) : {}),
        reason: failure.message,
        fieldErrors: [...failure.fieldErrors],
      });
      throw failure;
    }
  }

  async deletePolicy(ref: PaletteObjectRef): Promise<DeleteResultView> {
    const errors: PaletteFieldError[] = [];
    if (!OBJECT_KINDS.includes(ref.kind)) {
      errors.push({ path: 'kind', reason: `must be one of ${OBJECT_KINDS.join(', ')}`, value: ref.kind });
    }
    if (typeof ref.name !== 'string' || ref.name === '') errors.push({ path: 'name', reason: 'is required' });
    const namespaced = OBJECT_KINDS.includes(ref.kind) && isNamespacedKind(ref.kind);
    if (namespaced && !ref.namespace) {
      errors.push({ path: 'namespace', reason: `is required for a ${ref.kind}` });
    }
    if (errors.length > 0) throw invalid('cannot delete', errors);
    const key = `${ref.kind}/${namespaced ? (ref.namespace ?? '') : ''}/${ref.name}`;
    return this.call(() => this.deps.api.deleteObject(key));
  }

  async listPods(query: PodQuery): Promise<PalettePodView[]> {
    const selector = selectorOf(query.selector);
    const { pods } = this.deps;
    if (pods === undefined) {
      if (selector !== undefined) {
        throw new PaletteError('Unavailable', 'pod labels are not available here: cannot select by label');
      }
      const filter: { namespace?: string; name?: string } = {};
      if (query.namespace) filter.namespace = query.namespace;
      if (query.name) filter.name = query.name;
      const views = await this.call(() => this.deps.api.podInterfaces(filter));
      return views.map((view) => ({ namespace: view.namespace, name: view.name, ip: view.ip, labels: {} }));
    }
    const matches = selector === undefined ? () => true : compileSelector(selector);
    return pods
      .list()
      .filter((pod) => !query.namespace || pod.namespace === query.namespace)
      .filter((pod) => !query.name || pod.name === query.name)
      .filter((pod) => matches(pod.labels))
      .map((pod) => ({ namespace: pod.namespace, name: pod.name, ip: pod.ip, labels: { ...pod.labels } }))
      .sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  }

  async labelPod(namespace: string, name: string, labels: Record<string, string>): Promise<PodLabelsView> {
    const errors: PaletteFieldError[] = [];
    if (typeof namespace !== 'string' || namespace === '')
      errors.push({ path: 'namespace', reason: 'is required' });
    if (typeof name !== 'string' || name === '') errors.push({ path: 'name', reason: 'is required' });
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
      errors.push({ path: 'labels', reason: 'must be an object of label keys to values' });
    } else {
      for (const [key, value] of Object.entries(labels)) {
        if (typeof value !== 'string') {
          errors.push({ path: `labels[${key}]`, reason: 'must be a string', value });
        }
      }
    }
    if (errors.length > 0) throw invalid('cannot label the pod', errors);
    return this.call(() => this.deps.api.setPodLabels(namespace, name, labels));
  }

  async whatIf(query: NetworkPolicyEvaluationQuery): Promise<NetworkPolicyEvaluationView> {
    const errors: PaletteFieldError[] = [];
    for (const field of ['source', 'destination'] as const) {
      if (typeof query[field] !== 'string' || query[field] === '') {
        errors.push({ path: field, reason: 'is required: NAMESPACE/POD, POD or an IPv4 address' });
      }
    }
    if (!PROTOCOLS.includes(query.protocol)) {
      errors.push({
        path: 'protocol',
        reason: `must be one of ${PROTOCOLS.join(', ')}`,
        value: query.protocol,
      });
    }
    if (!Number.isInteger(query.port) || query.port < 1 || query.port > 65535) {
      errors.push({ path: 'port', reason: 'must be a port number from 1 to 65535', value: query.port });
    }
    if (errors.length > 0) throw invalid('cannot evaluate', errors);
    return this.call(() => this.deps.api.networkPolicyEvaluation(query));
  }

  async ruleStats(policy: PalettePolicyRef): Promise<RuleStatsView[]> {
    const ref = policyRef(policy);
    return this.call(() => this.deps.api.ruleStats(ref));
  }

  async realization(policy: PalettePolicyRef): Promise<PolicyRealizationView> {
    const ref = policyRef(policy);
    const filter = { name: ref.name, ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }) };
    let views;
    try {
      views = await this.deps.api.networkPolicies({ ...filter, ...(ref.type ? { type: ref.type } : {}) });
    } catch (error) {
      const failure = toPaletteError(error);
      if (failure.code === 'NotFound') return { state: 'NotFound' };
      throw failure;
    }
    const view = views.find((candidate) => (candidate.sourceRef.namespace ?? undefined) === ref.namespace);
    if (view === undefined) return { state: 'NotFound' };
    const realization = view.realization;
    if (realization === undefined) return { state: 'Pending', uid: view.uid };
    return {
      state: realization.realized ? 'Realized' : 'Pending',
      uid: view.uid,
      generation: realization.generation,
      realizedGeneration: realization.realizedGeneration,
    };
  }

  async traceflow(request: TraceflowRequest): Promise<TraceflowResult> {
    if (
      typeof request !== 'object' ||
      request === null ||
      typeof request.source !== 'string' ||
      request.source === ''
    ) {
      throw invalid('cannot trace', [
        { path: 'source', reason: 'is required: the source pod, NAMESPACE/POD' },
      ]);
    }
    if (!request.destination && !request.destinationIp) {
      throw invalid('cannot trace', [
        { path: 'destination', reason: 'give a destination pod (NAMESPACE/POD) or destinationIp' },
      ]);
    }
    return this.call(() => this.deps.api.traceflow(request));
  }

  subscribe(listener: (event: PaletteEvent) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.startSources();
    return () => {
      if (!this.listeners.delete(listener)) return;
      if (this.listeners.size === 0) this.stopSources();
    };
  }

  // ---- events ----

  private startSources(): void {
    const { realizations, audit, podEvents } = this.deps;
    if (realizations) {
      // What is realized already is not news: remember it first, report only later realizations.
      this.scheduleRealizationCheck(false);
      this.sourceUnsubscribers.push(realizations.onRealized(() => this.scheduleRealizationCheck(true)));
    }
    if (audit) {
      this.sourceUnsubscribers.push(
        audit.onEntry((entry) => this.emit({ type: 'AuditLog', entry: auditEvent(entry) })),
      );
    }
    if (podEvents) {
      this.sourceUnsubscribers.push(
        podEvents.subscribe((change, pod) =>
          this.emit({
            type: change === 'added' ? 'PodAdded' : 'PodRemoved',
            pod: { ...pod, labels: { ...pod.labels } },
          }),
        ),
      );
    }
  }

  private stopSources(): void {
    for (const unsubscribe of this.sourceUnsubscribers.splice(0)) unsubscribe();
    this.reportedGenerations.clear();
  }

  /** One check at a time; realizations during a check are covered by one more check after it. */
  private scheduleRealizationCheck(report: boolean): void {
    if (this.realizationCheck) {
      this.realizationCheckAgain = true;
      return;
    }
    this.realizationCheck = this.checkRealizations(report)
      .catch((error: unknown) => this.logger.warn('realization check failed', { error }))
      .finally(() => {
        this.realizationCheck = undefined;
        if (this.realizationCheckAgain && this.listeners.size > 0) {
          this.realizationCheckAgain = false;
          this.scheduleRealizationCheck(true);
        }
      });
  }

  private async checkRealizations(report: boolean): Promise<void> {
    const policies = await this.deps.api.networkPolicies({});
    const present = new Set<string>();
    for (const policy of policies) {
      present.add(policy.uid);
      const realization = policy.realization;
      if (!realization?.realized) continue;
      const reported = this.reportedGenerations.get(policy.uid);
      if (reported !== undefined && reported >= realization.realizedGeneration) continue;
      this.reportedGenerations.set(policy.uid, realization.realizedGeneration);
      if (!report) continue;
      const kind = POLICY_KIND_BY_SOURCE_TYPE[policy.sourceRef.type];
      const ref: PalettePolicyRef =
        policy.sourceRef.namespace === undefined
          ? { kind, name: policy.sourceRef.name }
          : { kind, name: policy.sourceRef.name, namespace: policy.sourceRef.namespace };
      this.emit({
        type: 'PolicyRealized',
        policy: ref,
        uid: policy.uid,
        generation: realization.realizedGeneration,
      });
    }
    for (const uid of this.reportedGenerations.keys())
      if (!present.has(uid)) this.reportedGenerations.delete(uid);
  }

  private emit(event: PaletteEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger.warn('palette event listener failed', { error });
      }
    }
  }

  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toPaletteError(error);
    }
  }
}

/** Reports pod add/remove to the palette; give it to PodLifecycle's events next to the policy service. */
export class PodEventHub implements PodEventSource {
  private readonly listeners = new Set<(change: 'added' | 'removed', pod: PalettePodView) => void>();

  podAdded(pod: PalettePodView): void {
    this.emit('added', pod);
  }

  podRemoved(pod: PalettePodView): void {
    this.emit('removed', pod);
  }

  subscribe(listener: (change: 'added' | 'removed', pod: PalettePodView) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(change: 'added' | 'removed', pod: PalettePodView): void {
    const view: PalettePodView = {
      namespace: pod.namespace,
      name: pod.name,
      ip: pod.ip,
      labels: { ...pod.labels },
    };
    for (const listener of this.listeners) {
      try {
        listener(change, view);
      } catch {
        // A node's listener must never fail the CNI ADD/DEL that reported the pod.
      }
    }
  }
}

const POLICY_KIND_BY_SOURCE_TYPE: Readonly<Record<PolicySourceType, PolicyKind>> = {
  K8sNetworkPolicy: 'K8sNetworkPolicy',
  AntreaClusterNetworkPolicy: 'ClusterNetworkPolicy',
  AntreaNetworkPolicy: 'AntreaNetworkPolicy',
};

/** The one translation of the agent's failures to what the nodes see. */
export function toPaletteError(error: unknown): PaletteError {
  if (error instanceof PaletteError) return error;
  if (error instanceof ApiError) {
    const fieldErrors: PaletteFieldError[] = (error.details?.invalidObjects ?? []).flatMap((object) =>
      object.errors.map((fieldError) => {
        const out: PaletteFieldError = {
          index: object.index,
          object: describePolicyRef(
            object.namespace === undefined
              ? { kind: object.kind, name: object.name }
              : { kind: object.kind, name: object.name, namespace: object.namespace },
          ),
          path: fieldError.path,
          reason: fieldError.reason,
        };
        if (fieldError.value !== undefined) out.value = fieldError.value;
        return out;
      }),
    );
    const code =
      error.code === 'BadRequest'
        ? 'Invalid'
        : error.code === 'NotFound'
          ? 'NotFound'
          : error.code === 'Conflict'
            ? 'Conflict'
            : 'Unavailable';
    return new PaletteError(code, error.message, fieldErrors);
  }
  const message = error instanceof Error ? error.message : String(error);
  const systemCode = (error as { code?: unknown } | null)?.code;
  if (typeof systemCode === 'string' && /^E(CONNREFUSED|NOENT|CONNRESET|PIPE|TIMEDOUT)$/.test(systemCode)) {
    return new PaletteError('Unavailable', `the agent is not reachable: ${message}`);
  }
  return new PaletteError('Internal', message);
}

function invalid(what: string, errors: PaletteFieldError[]): PaletteError {
  return new PaletteError(
    'Invalid',
    `${what}: ${errors.map((error) => `${error.path}: ${error.reason}`).join('; ')}`,
    errors,
  );
}

function policyRef(policy: PalettePolicyRef): PolicyRef {
  const errors: PaletteFieldError[] = [];
  const type = typeof policy === 'object' && policy !== null ? POLICY_TYPE_BY_KIND[policy.kind] : undefined;
  if (type === undefined) {
    errors.push({
      path: 'kind',
      reason: `must be one of ${Object.keys(POLICY_TYPE_BY_KIND).join(', ')}`,
      value: (policy as { kind?: unknown } | null)?.kind,
    });
  }
  if (typeof policy?.name !== 'string' || policy.name === '')
    errors.push({ path: 'name', reason: 'is required' });
  const namespaced = policy?.kind !== 'ClusterNetworkPolicy';
  if (type !== undefined && namespaced && !policy.namespace) {
    errors.push({ path: 'namespace', reason: `is required for a ${policy.kind}` });
  }
  if (errors.length > 0 || type === undefined) throw invalid('bad policy reference', errors);
  return namespaced
    ? { name: policy.name, namespace: policy.namespace ?? '', type }
    : { name: policy.name, type };
}

function selectorOf(selector: PodQuery['selector']): LabelSelector | undefined {
  if (selector === undefined || selector === '') return undefined;
  if (typeof selector === 'string') {
    try {
      return parseSelectorText(selector);
    } catch (error) {
      if (error instanceof SelectorTextError) {
        throw invalid('bad selector', [{ path: 'selector', reason: error.message, value: selector }]);
      }
      throw error;
    }
  }
  if (typeof selector !== 'object' || selector === null || Array.isArray(selector)) {
    throw invalid('bad selector', [
      { path: 'selector', reason: 'must be selector text or a LabelSelector object' },
    ]);
  }
  return selector;
}

/** The policy an object names, when it is one (for PolicyFailed events). */
function policyRefOfObject(object: unknown): { policy?: PalettePolicyRef } {
  if (typeof object !== 'object' || object === null) return {};
  const { apiVersion, kind, metadata } = object as {
    apiVersion?: unknown;
    kind?: unknown;
    metadata?: unknown;
  };
  const name = (metadata as { name?: unknown } | undefined)?.name;
  const namespace = (metadata as { namespace?: unknown } | undefined)?.namespace;
  if (typeof name !== 'string') return {};
  let policyKind: PolicyKind | undefined;
  if (kind === 'ClusterNetworkPolicy') policyKind = 'ClusterNetworkPolicy';
  else if (kind === 'NetworkPolicy')
    policyKind = apiVersion === 'networking.k8s.io/v1' ? 'K8sNetworkPolicy' : 'AntreaNetworkPolicy';
  if (policyKind === undefined) return {};
  if (policyKind === 'ClusterNetworkPolicy') return { policy: { kind: policyKind, name } };
  return {
    policy: { kind: policyKind, name, namespace: typeof namespace === 'string' ? namespace : 'default' },
  };
}

function auditEvent(entry: AuditEntry): AuditEventEntry {
  const out: AuditEventEntry = {
    time: new Date(entry.timeMs).toISOString(),
    policy: entry.policyRef,
    direction: entry.direction,
    disposition: entry.disposition,
    srcIp: entry.srcIp,
    dstIp: entry.dstIp,
    protocol: entry.protocol,
    count: entry.count,
  };
  if (entry.ruleName !== undefined) out.ruleName = entry.ruleName;
  if (entry.srcPort !== undefined) out.srcPort = entry.srcPort;
  if (entry.dstPort !== undefined) out.dstPort = entry.dstPort;
  if (entry.appliedTo !== undefined) out.appliedTo = entry.appliedTo;
  return out;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
