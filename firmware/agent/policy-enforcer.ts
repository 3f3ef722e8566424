// Makes OVS enforce the controller's policies on this node. Every policy change and every local pod change
// recomputes this node's policy flows from the controller's snapshot (rules whose policy, groups, local pods and
// placement are unchanged get their cached flows back, so a change costs about the rules it touches plus a
// linear merge and diff over the installed flows), merges clause flows that rules share
// (policy-flows.ts: they must be installed together over the whole Policy cookie category) and hands them to
// the FlowReconciler as ONE owner, so each change is one diffed, atomic bundle and unchanged rules are left as
// they are. Bursts coalesce: a change that arrives while a reconcile runs causes exactly one more. Failures are
// retried with capped exponential backoff.
//
// Realization: every change gets a sequence number; a policy's `generation` is the number of the last change that
// touched it (the policy itself or a group it uses), and its `realizedGeneration` is the generation that is now
// in OVS. Callers wait for realizedGeneration >= generation.
//
// Start-up (fail closed): `stageForStartup()` computes and stages the flows before the agent's first resync, so
// a firmware restart finds them desired and leaves the installed ones untouched; `startupRealized()` then marks
// them realized and starts the live loop.
import type { ControllerChanges, ControllerSnapshot } from '../core/controller/internal-types';
import type { Logger } from '../core/logger';
import {
  compilePolicyFlows,
  createPolicyFlowState,
  describeConjunction,
  type ConjunctionRule,
  mergeRuleFlows,
  type PolicyFlowState,
} from '../core/pipeline/policy-flows';
import type { LocalPodPorts, PacketInOptions } from '../core/pipeline/rule-flows';
import type { Flow } from '../core/pipeline/flow';
import { isEmptyPlan, type FlowPlan } from '../core/plan/flow-plan';
import type { PacketInMeter } from '../core/pipeline/controller-userdata';
import type { ResyncHook, ResyncReason } from './agent';

/** The FlowReconciler owner that holds every policy flow of this node. */
export const POLICY_FLOW_OWNER = 'policy';

/** The part of the PolicyService the enforcer uses. */
export interface PolicySource {
  onChanges(listener: (changes: ControllerChanges) => void, options?: { replay?: boolean }): () => void;
  view(): { snapshot(): ControllerSnapshot };
}

/** The part of the FlowReconciler the enforcer uses. */
export interface PolicyFlowSink {
  setOwnerFlows(owner: string, flows: Flow[]): Promise<FlowPlan>;
  stage(owner: string, flows: Flow[]): void;
}

export interface PolicyEnforcerOptions {
  nodeName: string;
  policies: PolicySource;
  /** This node's pods that have a bridge port, by "namespace/name"; read at every recomputation. */
  localPods: () => LocalPodPorts;
  flows: PolicyFlowSink;
  logger: Logger;
  /** Where Reject flows send packets (the agent's controller connection id, the packet-in meter). */
  packetIn?: PacketInOptions;
  /**
   * Where the conjunction ids (rule key → id) survive a firmware restart: ids live in the installed flows'
   * cookies and conj_ids, so a restart that handed out other ids would rewrite every policy flow.
   */
  conjunctionIds?: ConjunctionIdStore;
  /**
   * Waits until the datapath's cached flows (ovs-vswitchd's megaflows) agree with the flow tables, e.g. a
   * revalidator round. A committed bundle changes the tables at once, but packets keep matching megaflows cached
   * from the old tables until a revalidator revisits them; a policy is reported realized only after that, so
   * "realized" means enforced on the next packet.
   */
  datapathSync?: () => Promise<void>;
  /** First retry delay after a failed reconcile; doubles per failure up to maxRetryDelayMs. Defaults 200 ms / 10 s. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
}

export interface PolicyRealization {
  /** Sequence number of the last change that touched the policy. */
  generation: number;
  /** The generation whose flows are in OVS (0: none yet). */
  realizedGeneration: number;
  realized: boolean;
}

export interface EnforcerStats {
  /** Reconciles that reached OVS (or found nothing to change). */
  realizations: number;
  failures: number;
  /** Policy flows currently desired (after merging). */
  flows: number;
  rules: number;
  /** Sequence number of the last change that is in OVS. */
  realizedSequence: number;
  sequence: number;
}

/** Changes that became realized together (one reconcile, or the start-up resync). */
export interface RealizationEvent {
  /** The sequence number now in OVS. */
  sequence: number;
  /** Per change realized now: seconds from the change (policy, group or local pod) to its flows being in OVS. */
  latenciesSeconds: number[];
}

/** Changes remembered for realization latency while OVS is unreachable; later ones are not measured. */
const MAX_PENDING_CHANGE_TIMES = 10_000;

export class PolicyEnforcerError extends Error {
  override readonly name = 'PolicyEnforcerError';
  constructor(
    readonly code: 'NOT_STAGED' | 'STOPPED',
    message: string,
  ) {
    super(message);
  }
}

export class PolicyEnforcer {
  private readonly logger: Logger;
  private readonly state: PolicyFlowState;
  private unsubscribe: (() => void) | undefined;
  private sequence = 0;
  private realizedSequence = 0;
  private stagedSequence: number | undefined;
  private readonly generations = new Map<string, number>();
  /**
   * Groups changed since the policies using them were last given a generation, with the change's sequence.
   * Resolved lazily (one pass over the policies per batch, see resolveGroupChanges): one API apply of thousands
   * of objects is thousands of notifications, and a pass over every policy per notification was quadratic.
   */
  private readonly changedGroups = new Map<string, number>();
  private readonly realized = new Map<string, number>();
  private live = false;
  private dirty = false;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private savedConjunctionIds: ReadonlyMap<string, number> | undefined;
  private readonly counters = { realizations: 0, failures: 0, flows: 0, rules: 0 };
  private readonly idleWaiters: (() => void)[] = [];
  private readonly pendingChangeTimes: { sequence: number; atMs: number }[] = [];
  private readonly realizationListeners = new Set<(event: RealizationEvent) => void>();

  constructor(private readonly options: PolicyEnforcerOptions) {
    this.logger = options.logger;
    this.state = createPolicyFlowState(options.packetIn ? { packetIn: options.packetIn } : {});
  }

  /**
   * Subscribes to policy changes (with replay), computes this node's policy flows and stages them without
   * touching OVS: the agent's resync installs them. Call after local pods are restored, before the first resync.
   */
  stageForStartup(): void {
    if (!this.unsubscribe) {
      this.restoreConjunctionIds();
      this.unsubscribe = this.options.policies.onChanges((changes) => this.onPolicyChanges(changes), {
        replay: true,
      });
    }
    const started = Date.now();
    const sequence = this.sequence;
    const flows = this.compute();
    this.options.flows.stage(POLICY_FLOW_OWNER, flows);
    this.saveConjunctionIds();
    this.stagedSequence = sequence;
    this.dirty = false;
    this.logger.info('policy flows staged', {
      sequence,
      flows: flows.length,
      rules: this.counters.rules,
      durationMs: Date.now() - started,
    });
  }

  /** The agent's resync has installed the staged flows: marks them realized and starts following changes. */
  startupRealized(): void {
    if (this.stagedSequence === undefined) {
      throw new PolicyEnforcerError('NOT_STAGED', 'startupRealized() before stageForStartup()');
    }
    this.markRealized(this.stagedSequence);
    this.counters.realizations++;
    this.live = true;
    if (this.sequence > this.stagedSequence) this.schedule();
  }

  /** Shorthand for tests and callers without an agent resync: stage, then reconcile through the reconciler. */
  async start(): Promise<void> {
    this.stageForStartup();
    this.live = true;
    this.dirty = true;
    this.schedule();
    await this.idle();
  }

  async stop(): Promise<void> {
    this.live = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.running;
    this.releaseIdleWaiters();
  }

  /** Local pods were added or removed (their ports feed the flows even when no group changed). */
  podsChanged(): void {
    this.sequence++;
    this.rememberChangeTime(this.sequence);
    this.schedule();
  }

  /** Realization of one policy by uid; undefined for a policy the enforcer has not seen. */
  status(uid: string): PolicyRealization | undefined {
    this.resolveGroupChanges();
    const generation = this.generations.get(uid);
    if (generation === undefined) return undefined;
    const realizedGeneration = this.realized.get(uid) ?? 0;
    return { generation, realizedGeneration, realized: realizedGeneration >= generation };
  }

  get stats(): EnforcerStats {
    return { ...this.counters, realizedSequence: this.realizedSequence, sequence: this.sequence };
  }

  /** Resolves when no reconcile is running or pending (a pending retry counts as pending). */
  idle(): Promise<void> {
    if (!this.busy()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private busy(): boolean {
    return this.live && (this.running !== undefined || this.retryTimer !== undefined || this.dirty);
  }

  private onPolicyChanges(changes: ControllerChanges): void {
    const sequence = ++this.sequence;
    this.rememberChangeTime(sequence);
    for (const policy of changes.networkPolicies.upserted) this.generations.set(policy.uid, sequence);
    for (const uid of changes.networkPolicies.deleted) {
      this.generations.delete(uid);
      this.realized.delete(uid);
    }
    for (const group of changes.addressGroups.upserted) this.changedGroups.set(group.name, sequence);
    for (const name of changes.addressGroups.deleted) this.changedGroups.set(name, sequence);
    for (const group of changes.appliedToGroups.upserted) this.changedGroups.set(group.name, sequence);
    for (const name of changes.appliedToGroups.deleted) this.changedGroups.set(name, sequence);
    this.schedule();
  }

  private schedule(): void {
    this.dirty = true;
    if (!this.live || this.running || this.retryTimer) return;
    // The computation starts on a later turn of the event loop: the change that scheduled it (an API request
    // applying many objects, each one a notification) finishes and answers first, and all of its notifications
    // are realized by one computation instead of one plus a second pass for the rest.
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.loop())
      .finally(() => {
        this.running = undefined;
        if (!this.busy()) this.releaseIdleWaiters();
      });
  }

  private async loop(): Promise<void> {
    while (this.dirty && this.live) {
      this.dirty = false;
      const sequence = this.sequence;
      const started = Date.now();
      try {
        const flows = this.compute();
        const plan = await this.options.flows.setOwnerFlows(POLICY_FLOW_OWNER, flows);
        if (this.options.datapathSync && !isEmptyPlan(plan)) {
          await this.options.datapathSync().catch((error: unknown) => {
            this.logger.warn('datapath not confirmed in sync with the policy flows', { sequence, error });
          });
        }
        this.markRealized(sequence);
        this.saveConjunctionIds();
        this.counters.realizations++;
        this.consecutiveFailures = 0;
        this.logger.info('policy flows realized', {
          sequence,
          policies: this.generations.size,
          rules: this.counters.rules,
          flows: flows.length,
          added: plan.add.length,
          modified: plan.modify.length,
          deleted: plan.delete.length,
          durationMs: Date.now() - started,
        });
      } catch (error) {
        this.counters.failures++;
        this.consecutiveFailures++;
        const min = this.options.minRetryDelayMs ?? 200;
        const max = this.options.maxRetryDelayMs ?? 10_000;
        const delayMs = Math.min(max, min * 2 ** Math.min(this.consecutiveFailures - 1, 30));
        this.logger.warn('policy flows not realized; retrying', {
          sequence,
          attempt: this.consecutiveFailures,
          retryInMs: delayMs,
          error,
        });
        this.dirty = true;
        if (this.live) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.schedule();
          }, delayMs);
        }
        return;
      }
    }
  }

  private compute(): Flow[] {
    const result = compilePolicyFlows(
      this.options.policies.view().snapshot(),
      { name: this.options.nodeName, pods: this.options.localPods() },
      this.state,
    );
    const merged = mergeRuleFlows(result.flows);
    this.counters.rules = result.rules.size;
    this.counters.flows = merged.length;
    return merged;
  }

  /**
   * Hands every stored key its old id again. The allocator gives out fresh ids in ascending order, so the ids
   * in the gaps go to placeholder keys that are released afterwards (released ids are reused only when fresh
   * ones run out).
   */
  private restoreConjunctionIds(): void {
    const store = this.options.conjunctionIds;
    if (!store) return;
    let stored: ReadonlyMap<string, number>;
    try {
      stored = store.load();
    } catch (error) {
      this.logger.warn('conjunction ids not restored; policy flows will be rewritten', { error });
      return;
    }
    const placeholders: string[] = [];
    let restored = 0;
    let next = 1;
    for (const [key, id] of [...stored].sort((a, b) => a[1] - b[1])) {
      if (id < next || id - next > MAX_RESTORE_GAP) break;
      while (next < id) {
        const placeholder = `\u0000restore/${next}`;
        placeholders.push(placeholder);
        next = this.state.conjIds.allocate(placeholder) + 1;
      }
      const got = this.state.conjIds.allocate(key);
      next = got + 1;
      if (got !== id) break;
      restored++;
    }
    for (const placeholder of placeholders) this.state.conjIds.release(placeholder);
    this.logger.info('conjunction ids restored', { restored, stored: stored.size });
  }

  private saveConjunctionIds(): void {
    const store = this.options.conjunctionIds;
    if (!store) return;
    const ids = new Map<string, number>();
    for (const key of this.state.conjIds.keys()) {
      const id = this.state.conjIds.idOf(key);
      if (id !== undefined) ids.set(key, id);
    }
    // Most changes (labels, peers) keep every id: skip rewriting a file of thousands of keys then.
    const saved = this.savedConjunctionIds;
    if (saved && saved.size === ids.size && [...ids].every(([key, id]) => saved.get(key) === id)) return;
    try {
      store.save(ids);
      this.savedConjunctionIds = ids;
    } catch (error) {
      this.logger.warn('conjunction ids not saved', { error });
    }
  }

  /** Gives every policy that uses a changed group the sequence of that group's latest change as generation. */
  private resolveGroupChanges(): void {
    if (this.changedGroups.size === 0) return;
    const changed = this.changedGroups;
    if (this.unsubscribe !== undefined) {
      for (const policy of this.options.policies.view().snapshot().networkPolicies.values()) {
        let latest = -1;
        const consider = (name: string): void => {
          const sequence = changed.get(name);
          if (sequence !== undefined && sequence > latest) latest = sequence;
        };
        policy.appliedToGroups.forEach(consider);
        for (const rule of policy.rules) {
          rule.appliedToGroups.forEach(consider);
          rule.peer.addressGroups.forEach(consider);
        }
        if (latest >= 0 && latest > (this.generations.get(policy.uid) ?? -1)) {
          this.generations.set(policy.uid, latest);
        }
      }
    }
    changed.clear();
  }

  private markRealized(sequence: number): void {
    this.resolveGroupChanges();
    this.realizedSequence = Math.max(this.realizedSequence, sequence);
    for (const [uid, generation] of this.generations) {
      if (generation <= sequence) this.realized.set(uid, generation);
    }
    const nowMs = Date.now();
    const latenciesSeconds: number[] = [];
    while ((this.pendingChangeTimes[0]?.sequence ?? Infinity) <= sequence) {
      const change = this.pendingChangeTimes.shift();
      if (change) latenciesSeconds.push((nowMs - change.atMs) / 1000);
    }
    for (const listener of this.realizationListeners) {
      try {
        listener({ sequence, latenciesSeconds });
      } catch (error) {
        this.logger.warn('realization listener failed', { error });
      }
    }
  }

  private rememberChangeTime(sequence: number): void {
    if (this.pendingChangeTimes.length < MAX_PENDING_CHANGE_TIMES) {
      this.pendingChangeTimes.push({ sequence, atMs: Date.now() });
    }
  }

  /** Calls `listener` whenever changes become realized (metrics: change→realized latency). Returns unsubscribe. */
  onRealized(listener: (event: RealizationEvent) => void): () => void {
    this.realizationListeners.add(listener);
    return () => this.realizationListeners.delete(listener);
  }

  private releaseIdleWaiters(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /**
   * The conjunction id of every key of the latest computation: rule flow keys (`<ruleKey>|<subKey>`) and isolation
   * drops (`isolation/<In|Out>/<namespace>/<pod>`). antctl finds a rule's flows and counters by these ids.
   */
  conjunctionIds(): ReadonlyMap<string, number> {
    const ids = new Map<string, number>();
    for (const key of this.state.conjIds.keys()) {
      const id = this.state.conjIds.idOf(key);
      if (id !== undefined) ids.set(key, id);
    }
    return ids;
  }

  /**
   * The rule (or isolation default drop) a conjunction id of this node's policy flows stands for, from the
   * current state without recomputing: the audit logger names the rule of a packet-in with it.
   */
  conjunctionRule(conjId: number): ConjunctionRule | undefined {
    return describeConjunction(this.options.policies.view().snapshot(), this.state, conjId);
  }
}

export interface ConjunctionIdStore {
  load(): ReadonlyMap<string, number>;
  save(ids: ReadonlyMap<string, number>): void;
}

/** Gaps wider than this between restored ids are not refilled (ids are dense in practice). */
const MAX_RESTORE_GAP = 100_000;

/** The part of OvsMeters the hook uses. */
export interface MeterWriter {
  ensure(meter: PacketInMeter): Promise<unknown>;
}

/**
 * The agent's resync hook for enforcement: the packet-in meter first (Reject flows use it; a bundle with a flow
 * using a missing meter fails whole, and meters are lost with ovs-vswitchd), then, at start-up, the staged
 * policy flows.
 */
export function enforcementResyncHook(deps: {
  enforcer: PolicyEnforcer;
  meters?: MeterWriter;
  meter?: PacketInMeter;
}): ResyncHook {
  return {
    async beforeResync(reason: ResyncReason): Promise<void> {
      if (deps.meters && deps.meter) await deps.meters.ensure(deps.meter);
      if (reason === 'start') deps.enforcer.stageForStartup();
    },
    afterResync(reason: ResyncReason): void {
      if (reason === 'start') deps.enforcer.startupRealized();
    },
  };
}
