// Pure diff of desired flows against installed ones, keyed the way OpenFlow identifies a flow (table, priority,
// match). The writer turns the plan into one atomic bundle.
import { flowKey, formatFlow, type Flow } from '../pipeline/flow';

export interface FlowPlan {
  add: Flow[];
  /** Desired flows whose installed twin (same key) has other actions or another cookie. */
  modify: Flow[];
  /** Installed flows no desired flow has the key of. */
  delete: Flow[];
}

export class FlowPlanError extends Error {
  override readonly name = 'FlowPlanError';
  constructor(
    readonly code: 'DUPLICATE_FLOW_KEY',
    message: string,
    readonly key: string,
  ) {
    super(message);
  }
}

/**
 * Plans the changes that turn `installed` into `desired`. Each list is sorted by table, then priority
 * (highest first), then match, so the same inputs always give the same plan. Two desired flows with one key
 * but different actions or cookies are a programming bug and throw FlowPlanError; exact duplicates collapse.
 */
export function planFlows(desired: Iterable<Flow>, installed: Iterable<Flow>): FlowPlan {
  const wanted = new Map<string, Flow>();
  for (const f of desired) {
    const key = flowKey(f);
    const previous = wanted.get(key);
    if (previous === undefined) {
      wanted.set(key, f);
    } else if (previous.actions !== f.actions || previous.cookie !== f.cookie) {
      throw new FlowPlanError(
        'DUPLICATE_FLOW_KEY',
        `two desired flows share the key ${key}: ${formatFlow(previous)} / ${formatFlow(f)}`,
        key,
      );
    }
  }
  const present = new Map<string, Flow>();
  for (const f of installed) {
    const key = flowKey(f);
    if (!present.has(key)) present.set(key, f);
  }

  const add: KeyedFlow[] = [];
  const modify: KeyedFlow[] = [];
  const remove: KeyedFlow[] = [];
  for (const [key, f] of wanted) {
    const current = present.get(key);
    if (current === undefined) add.push({ key, flow: f });
    else if (current.actions !== f.actions || current.cookie !== f.cookie) modify.push({ key, flow: f });
  }
  for (const [key, f] of present) {
    if (!wanted.has(key)) remove.push({ key, flow: f });
  }
  return { add: sorted(add), modify: sorted(modify), delete: sorted(remove) };
}

export function isEmptyPlan(p: FlowPlan): boolean {
  return p.add.length === 0 && p.modify.length === 0 && p.delete.length === 0;
}

export function planSize(p: FlowPlan): number {
  return p.add.length + p.modify.length + p.delete.length;
}

interface KeyedFlow {
  key: string;
  flow: Flow;
}

function sorted(flows: KeyedFlow[]): Flow[] {
  return flows
    .sort((a, b) => {
      if (a.flow.table !== b.flow.table) return a.flow.table - b.flow.table;
      if (a.flow.priority !== b.flow.priority) return b.flow.priority - a.flow.priority;
      return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
    })
    .map((k) => k.flow);
}
