// Keeps the bridge's flows equal to the agent's desired flows. Desired flows are grouped by owner (the
// pipeline, one pod, one remote node) so that a pod ADD/DEL touches only that pod's flows. Every change is a
// single atomic bundle; a full resync (start-up, ovs-vswitchd restart) diffs against `dump-flows` so nothing
// is flushed that did not need to change.
import type { Flow } from '../core/pipeline/flow';
import { cookieCategory, CookieCategory, flowKey } from '../core/pipeline/flow';
import { planFlows, isEmptyPlan, type FlowPlan } from '../core/plan/flow-plan';
import type { Logger } from '../core/logger';
import type { InstalledFlow } from '../ovs/flow-writer';

/** The part of the flow writer this reconciler needs. */
export interface FlowApplier {
  dumpFlows(filter?: { cookie?: bigint; cookieMask?: bigint; table?: number }): Promise<InstalledFlow[]>;
  apply(plan: FlowPlan): Promise<void>;
}

/** Cookie categories this agent owns; flows of other categories are left alone. */
const OWNED_CATEGORIES = new Set<number>([
  CookieCategory.Pipeline,
  CookieCategory.Gateway,
  CookieCategory.Tunnel,
  CookieCategory.Pod,
  CookieCategory.Node,
  CookieCategory.Policy,
]);

export class FlowReconciler {
  private readonly desired = new Map<string, Flow[]>();
  private queue: Promise<unknown> = Promise.resolve();
  private lastResyncPlan: FlowPlan | undefined;

  constructor(
    private readonly writer: FlowApplier,
    private readonly logger: Logger,
  ) {}

  /** Replaces one owner's flows; resolves once OVS has them. */
  setOwnerFlows(owner: string, flows: Flow[]): Promise<FlowPlan> {
    return this.serialise(async () => {
      const previous = this.desired.get(owner) ?? [];
      const plan = planFlows(flows, previous);
      if (!isEmptyPlan(plan)) await this.writer.apply(plan);
      if (flows.length === 0) this.desired.delete(owner);
      else this.desired.set(owner, flows);
      this.logger.debug('flows updated', { owner, ...planCounts(plan) });
      return plan;
    });
  }

  removeOwner(owner: string): Promise<FlowPlan> {
    return this.setOwnerFlows(owner, []);
  }

  /** Sets desired flows without touching OVS; `resync()` installs them. Used while rebuilding state. */
  stage(owner: string, flows: Flow[]): void {
    this.desired.set(owner, flows);
  }

  /** Full diff against what OVS really has (start-up, after an ovs-vswitchd restart). */
  resync(): Promise<FlowPlan> {
    return this.serialise(async () => {
      const installed = (await this.writer.dumpFlows()).filter((f) =>
        OWNED_CATEGORIES.has(cookieCategory(f.cookie)),
      );
      const plan = planFlows(this.allDesired(), installed);
      if (!isEmptyPlan(plan)) await this.writer.apply(plan);
      this.lastResyncPlan = plan;
      this.logger.info('flows resynchronised', { ...planCounts(plan), desired: this.flowCount() });
      return plan;
    });
  }

  lastResync(): FlowPlan | undefined {
    return this.lastResyncPlan;
  }

  /** Desired flows by table id (what OVS holds after the last successful change): cheap, no dump. */
  desiredFlowsPerTable(): Map<number, number> {
    const perTable = new Map<number, number>();
    for (const flow of this.allDesired()) perTable.set(flow.table, (perTable.get(flow.table) ?? 0) + 1);
    return perTable;
  }

  flowCount(): number {
    let n = 0;
    for (const flows of this.desired.values()) n += flows.length;
    return n;
  }

  /** Waits for queued work (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue.then(
      () => undefined,
      () => undefined,
    );
  }

  private allDesired(): Flow[] {
    const byKey = new Map<string, Flow>();
    for (const flows of this.desired.values()) for (const f of flows) byKey.set(flowKey(f), f);
    return [...byKey.values()];
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function planCounts(plan: FlowPlan): { added: number; modified: number; deleted: number } {
  return { added: plan.add.length, modified: plan.modify.length, deleted: plan.delete.length };
}
