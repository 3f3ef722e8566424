// Where Antrea-native policy rules go in the pipeline: which table (by tier) and which OpenFlow priority (by
// tier priority, policy priority and rule index), keeping priorities stable while policies come and go.
//
// Tables. Each static tier owns a table (emergency 45/85, securityops 46/86, networkops 47/87, platform 48/88,
// application 49/89). A custom Tier shares the table of the closest static tier at or above it in evaluation
// order, i.e. the static tier with the greatest priority not above its own (a Tier with priority 120 goes
// into the securityops table, after every securityops rule; one below 50 into the emergency table, before every
// emergency rule). Within a table rules are ordered by tier priority first, so evaluation order across tiers is
// exactly "tier priority, then policy priority, then rule index" however custom tiers are spread. The baseline
// tier lives in the default-rule tables 60/100 below the Kubernetes isolation drops (as in Antrea 1.x), so it
// only sees pods that no Kubernetes policy isolates in that direction.
//
// Priorities. Like Antrea's priority assigner (pkg/agent/controller/networkpolicy/priority.go), a rule's first
// guess is computed from its tier, policy priority and rule index, leaving gaps between policies; rules are
// inserted into the gap between their already placed neighbours, and existing rules move only when that gap is
// full, by as few as possible, and the moves are reported so their flows can be rewritten in the same bundle.
// Unlike Antrea, rules of different policies that tie on (tier, policy priority, rule index) do not share a
// priority: they are ordered by policy namespace/name, exactly as the evaluator breaks that tie, so overlapping
// rules of tied policies give the same verdict in OVS as in `evaluate()`.
import { BASELINE_TIER, STATIC_TIERS } from '../api/types';
import type { RuleDirection } from '../controller/internal-types';
import { Tables } from './tables';

/** Kubernetes NetworkPolicy rules: Allow-only, so one priority in EgressRule/IngressRule serves them all. */
export const K8S_RULE_PRIORITY = 200;
/** Drops for pods isolated by Kubernetes policies, in EgressDefaultRule/IngressDefaultRule, above baseline. */
export const ISOLATION_DROP_PRIORITY = 200;

export interface PriorityRange {
  /** Lowest OpenFlow priority a rule may get. */
  bottom: number;
  /** Highest OpenFlow priority a rule may get. */
  top: number;
}

/** Tier tables: above the table-miss flow, below the established-connection fast path (64990). */
export const TIER_TABLE_PRIORITIES: PriorityRange = { bottom: 100, top: 64900 };
/** Baseline rules: below the isolation drops in the default-rule tables. */
export const BASELINE_PRIORITIES: PriorityRange = { bottom: 10, top: 180 };

const BASELINE_TIER_PRIORITY = STATIC_TIERS[BASELINE_TIER] ?? 253;

/** Static tiers that own a table, in evaluation order, with their egress and ingress tables. */
const TIER_TABLES: readonly { tierPriority: number; egress: number; ingress: number }[] = [
  {
    tierPriority: STATIC_TIERS.emergency ?? 50,
    egress: Tables.CNPEmergencyEgressRule,
    ingress: Tables.CNPEmergencyIngressRule,
  },
  {
    tierPriority: STATIC_TIERS.securityops ?? 100,
    egress: Tables.CNPSecurityOpsEgressRule,
    ingress: Tables.CNPSecurityOpsIngressRule,
  },
  {
    tierPriority: STATIC_TIERS.networkops ?? 150,
    egress: Tables.CNPNetworkOpsEgressRule,
    ingress: Tables.CNPNetworkOpsIngressRule,
  },
  {
    tierPriority: STATIC_TIERS.platform ?? 200,
    egress: Tables.CNPPlatformEgressRule,
    ingress: Tables.CNPPlatformIngressRule,
  },
  {
    tierPriority: STATIC_TIERS.application ?? 250,
    egress: Tables.CNPApplicationEgressRule,
    ingress: Tables.CNPApplicationIngressRule,
  },
];

/** Whether a policy of this tier is a baseline policy (evaluated after Kubernetes NetworkPolicy). */
export function isBaselineTier(tierPriority: number | undefined, tierName?: string): boolean {
  return tierName === BASELINE_TIER || tierPriority === BASELINE_TIER_PRIORITY;
}

/** The table holding rules of a tier in a direction (see the header for the custom-tier mapping). */
export function tierTable(tierPriority: number, direction: RuleDirection, tierName?: string): number {
  if (isBaselineTier(tierPriority, tierName)) {
    return direction === 'Out' ? Tables.EgressDefaultRule : Tables.IngressDefaultRule;
  }
  let owner = TIER_TABLES[0] as (typeof TIER_TABLES)[number];
  for (const t of TIER_TABLES) if (t.tierPriority <= tierPriority) owner = t;
  return direction === 'Out' ? owner.egress : owner.ingress;
}

/** The lowest tier priority mapped into a tier table (the first guess of priorities counts from it). */
function tableTierBase(table: number): number {
  const index = TIER_TABLES.findIndex((t) => t.egress === table || t.ingress === table);
  return index <= 0 ? 0 : (TIER_TABLES[index]?.tierPriority ?? 0);
}

export function isTierTable(table: number): boolean {
  return TIER_TABLES.some((t) => t.egress === table || t.ingress === table);
}

export function isBaselineTable(table: number): boolean {
  return table === Tables.EgressDefaultRule || table === Tables.IngressDefaultRule;
}

/** What orders Antrea-native rules: evaluation order is ascending in all fields. */
export interface RulePriorityKey {
  tierPriority: number;
  policyPriority: number;
  /** The rule's index within its direction in the source policy. */
  ruleIndex: number;
  /** Breaks ties between policies equal in the fields above (namespace, name, type, uid). */
  policyOrder: string;
  /** Position of the rule in the internal policy (orders rules a policy expanded per namespace). */
  position: number;
}

export function compareRulePriorityKeys(a: RulePriorityKey, b: RulePriorityKey): number {
  return (
    a.tierPriority - b.tierPriority ||
    a.policyPriority - b.policyPriority ||
    a.ruleIndex - b.ruleIndex ||
    compareText(a.policyOrder, b.policyOrder) ||
    a.position - b.position
  );
}

export type PriorityErrorCode = 'PRIORITY_SPACE_EXHAUSTED' | 'UNKNOWN_TABLE';

export class PriorityError extends Error {
  override readonly name = 'PriorityError';
  constructor(
    readonly code: PriorityErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** An already placed rule that had to move to make room. */
export interface PriorityMove {
  id: string;
  from: number;
  to: number;
}

export interface PriorityEntry {
  id: string;
  key: RulePriorityKey;
}

export interface TablePriorityAssignerOptions extends PriorityRange {
  /** First guess of a key's priority; clamped into the range. Default: see `defaultHeuristic`. */
  heuristic?: (key: RulePriorityKey) => number;
}

/** Gap left above a run of new rules when there is room, so later insertions there need no move. */
const ZONE = 5;

/**
 * First guess, after Antrea's: counting down from the top, 600 per tier priority above the table's base tier,
 * 50 per unit of policy priority, 1 per rule index. Rules of one policy then land on consecutive priorities with
 * room between policies; ties and collisions are resolved by the neighbours actually placed.
 */
export function defaultHeuristic(
  range: PriorityRange,
  tierBase = 0,
  strides = { tier: 600, policy: 50 },
): (key: RulePriorityKey) => number {
  return (key) =>
    range.top -
    Math.max(0, key.tierPriority - tierBase) * strides.tier -
    Math.floor(key.policyPriority * strides.policy) -
    key.ruleIndex;
}

interface Placed {
  id: string;
  key: RulePriorityKey;
  priority: number;
}

/** Priorities of the rules of one table. Higher priority = evaluated first = smaller key. */
export class TablePriorityAssigner {
  readonly bottom: number;
  readonly top: number;
  private readonly heuristic: (key: RulePriorityKey) => number;
  /** Placed rules in evaluation order (priorities strictly decreasing). */
  private placed: Placed[] = [];
  private readonly byId = new Map<string, Placed>();
  private readonly byPriority = new Map<number, Placed>();

  constructor(options: TablePriorityAssignerOptions) {
    this.bottom = options.bottom;
    this.top = options.top;
    this.heuristic = options.heuristic ?? defaultHeuristic(options);
  }

  get size(): number {
    return this.placed.length;
  }

  priorityOf(id: string): number | undefined {
    return this.byId.get(id)?.priority;
  }

  keyOf(id: string): RulePriorityKey | undefined {
    return this.byId.get(id)?.key;
  }

  /** Placed rules in evaluation order. */
  entries(): { id: string; key: RulePriorityKey; priority: number }[] {
    return this.placed.map((p) => ({ id: p.id, key: p.key, priority: p.priority }));
  }

  release(id: string): boolean {
    const entry = this.byId.get(id);
    if (!entry) return false;
    this.byId.delete(id);
    this.byPriority.delete(entry.priority);
    const index = this.indexOf(entry);
    this.placed.splice(index, 1);
    return true;
  }

  /**
   * Places the entries not placed yet (an id already placed with an equal key keeps its priority; with a
   * different key it is re-placed). Returns the rules that had to move, each once with its original priority.
   * Throws PriorityError and changes nothing when the table cannot hold them all.
   */
  register(entries: Iterable<PriorityEntry>): PriorityMove[] {
    const fresh = new Map<string, PriorityEntry>();
    for (const e of entries) {
      const current = this.byId.get(e.id);
      if (current && compareRulePriorityKeys(current.key, e.key) === 0) continue;
      fresh.set(e.id, e);
    }
    if (fresh.size === 0) return [];
    const replaced = [...fresh.keys()].filter((id) => this.byId.has(id)).length;
    const capacity = this.top - this.bottom + 1;
    if (this.placed.length - replaced + fresh.size > capacity) {
      throw new PriorityError(
        'PRIORITY_SPACE_EXHAUSTED',
        `${this.placed.length - replaced + fresh.size} rules do not fit in priorities ${this.bottom}..${this.top}`,
      );
    }
    for (const id of fresh.keys()) this.release(id);

    const sorted = [...fresh.values()].sort((a, b) => this.compare(a, b));
    // Group the new entries into runs that fall into the same gap between placed rules; fill the gaps from the
    // last one up so that the insertion indexes computed here stay valid.
    const runs: { index: number; entries: PriorityEntry[] }[] = [];
    for (const e of sorted) {
      const index = this.insertionIndex(e);
      const last = runs[runs.length - 1];
      if (last && last.index === index) last.entries.push(e);
      else runs.push({ index, entries: [e] });
    }
    const moves = new Map<string, PriorityMove>();
    for (let r = runs.length - 1; r >= 0; r--) {
      const run = runs[r] as (typeof runs)[number];
      this.placeRun(run.index, run.entries, moves);
    }
    // Rules placed by this call may have shifted too while later gaps were widened: they are not moves.
    return [...moves.values()]
      .filter((m) => m.from !== m.to && !fresh.has(m.id))
      .sort((a, b) => compareText(a.id, b.id));
  }

  private compare(a: { id: string; key: RulePriorityKey }, b: { id: string; key: RulePriorityKey }): number {
    return compareRulePriorityKeys(a.key, b.key) || compareText(a.id, b.id);
  }

  /** Index of the first placed rule evaluated after `e`. */
  private insertionIndex(e: { id: string; key: RulePriorityKey }): number {
    let lo = 0;
    let hi = this.placed.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.compare(this.placed[mid] as Placed, e) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private indexOf(entry: Placed): number {
    const index = this.insertionIndex(entry);
    if (this.placed[index] !== entry) throw new Error(`priority index out of sync for ${entry.id}`);
    return index;
  }

  /** Exclusive bounds of the gap before placed index `index`: new priorities p satisfy lower < p < upper. */
  private bounds(index: number): { upper: number; lower: number } {
    const above = this.placed[index - 1];
    const below = this.placed[index];
    return { upper: above ? above.priority : this.top + 1, lower: below ? below.priority : this.bottom - 1 };
  }

  private placeRun(index: number, run: readonly PriorityEntry[], moves: Map<string, PriorityMove>): void {
    const m = run.length;
    let { upper, lower } = this.bounds(index);
    while (upper - lower - 1 < m) {
      if (!this.widen(index, moves)) {
        // Unreachable: capacity was checked before anything changed.
        throw new PriorityError('PRIORITY_SPACE_EXHAUSTED', `no room for ${m} more rules`);
      }
      ({ upper, lower } = this.bounds(index));
    }
    const priorities = this.choose(run, upper, lower);
    const placed: Placed[] = run.map((e, i) => ({ id: e.id, key: e.key, priority: priorities[i] as number }));
    this.placed.splice(index, 0, ...placed);
    for (const p of placed) {
      this.byId.set(p.id, p);
      this.byPriority.set(p.priority, p);
    }
  }

  /**
   * Priorities for a run that fits in (lower, upper): each rule at its first guess when that is below the
   * previous rule (and, with room to spare, a few slots below the rule above), else right below the previous
   * rule, but never so low that the rest of the run (and the same spare slots) would not fit above `lower`.
   */
  private choose(run: readonly PriorityEntry[], upper: number, lower: number): number[] {
    const m = run.length;
    const zone = Math.min(ZONE, Math.floor((upper - lower - 1 - m) / 2));
    const chosen: number[] = [];
    let previous = upper - zone;
    run.forEach((e, j) => {
      const guess = this.heuristic(e.key);
      let p = Number.isFinite(guess) ? Math.min(Math.floor(guess), previous - 1) : previous - 1;
      p = Math.max(p, lower + zone + (m - j));
      chosen.push(p);
      previous = p;
    });
    return chosen;
  }

  /** Frees one slot around the gap at `index` by shifting the cheaper side of neighbours by one. */
  private widen(index: number, moves: Map<string, PriorityMove>): boolean {
    const { upper, lower } = this.bounds(index);
    let freeAbove: number | undefined;
    for (let p = upper; p <= this.top; p++) {
      if (!this.byPriority.has(p)) {
        freeAbove = p;
        break;
      }
    }
    let freeBelow: number | undefined;
    for (let p = lower; p >= this.bottom; p--) {
      if (!this.byPriority.has(p)) {
        freeBelow = p;
        break;
      }
    }
    const costUp = freeAbove === undefined ? Infinity : freeAbove - upper;
    const costDown = freeBelow === undefined ? Infinity : lower - freeBelow;
    if (costUp === Infinity && costDown === Infinity) return false;
    if (costUp <= costDown) {
      // placed[index-1] sits at `upper`; it and the rules above it up to the free slot move up by one.
      for (let i = index - costUp; i < index; i++) this.shift(this.placed[i] as Placed, +1, moves);
    } else {
      for (let i = index + costDown - 1; i >= index; i--) this.shift(this.placed[i] as Placed, -1, moves);
    }
    return true;
  }

  private shift(entry: Placed, by: number, moves: Map<string, PriorityMove>): void {
    const move = moves.get(entry.id) ?? { id: entry.id, from: entry.priority, to: entry.priority };
    this.byPriority.delete(entry.priority);
    entry.priority += by;
    this.byPriority.set(entry.priority, entry);
    move.to = entry.priority;
    moves.set(entry.id, move);
  }
}

/** A rule to place: its id (stable rule key), table and ordering key. */
export interface RulePlacementRequest {
  id: string;
  table: number;
  key: RulePriorityKey;
}

export interface TablePriorityMove extends PriorityMove {
  table: number;
}

/** The priority assigners of every table that holds Antrea-native rules. */
export class PolicyPriorities {
  private readonly assigners = new Map<number, TablePriorityAssigner>();
  private readonly tableOfId = new Map<string, number>();

  constructor(options: { tierRange?: PriorityRange; baselineRange?: PriorityRange } = {}) {
    const tierRange = options.tierRange ?? TIER_TABLE_PRIORITIES;
    const baselineRange = options.baselineRange ?? BASELINE_PRIORITIES;
    for (const t of TIER_TABLES) {
      for (const table of [t.egress, t.ingress]) {
        this.assigners.set(
          table,
          new TablePriorityAssigner({
            ...tierRange,
            heuristic: defaultHeuristic(tierRange, tableTierBase(table)),
          }),
        );
      }
    }
    for (const table of [Tables.EgressDefaultRule, Tables.IngressDefaultRule]) {
      this.assigners.set(
        table,
        new TablePriorityAssigner({
          ...baselineRange,
          heuristic: defaultHeuristic(baselineRange, BASELINE_TIER_PRIORITY, { tier: 0, policy: 10 }),
        }),
      );
    }
  }

  assigner(table: number): TablePriorityAssigner {
    const a = this.assigners.get(table);
    if (!a) throw new PriorityError('UNKNOWN_TABLE', `table ${table} holds no Antrea-native rules`);
    return a;
  }

  /** Table and priority of a placed rule. */
  placementOf(id: string): { table: number; priority: number } | undefined {
    const table = this.tableOfId.get(id);
    if (table === undefined) return undefined;
    const priority = this.assigner(table).priorityOf(id);
    return priority === undefined ? undefined : { table, priority };
  }

  /** Places rules (incrementally); returns the already placed rules that moved. */
  register(requests: Iterable<RulePlacementRequest>): TablePriorityMove[] {
    const byTable = new Map<number, PriorityEntry[]>();
    for (const r of requests) {
      const previous = this.tableOfId.get(r.id);
      if (previous !== undefined && previous !== r.table) this.release(r.id);
      let list = byTable.get(r.table);
      if (!list) byTable.set(r.table, (list = []));
      list.push({ id: r.id, key: r.key });
    }
    const moves: TablePriorityMove[] = [];
    for (const table of [...byTable.keys()].sort((a, b) => a - b)) {
      const assigner = this.assigner(table);
      const list = byTable.get(table) ?? [];
      for (const move of assigner.register(list)) moves.push({ ...move, table });
      for (const e of list) this.tableOfId.set(e.id, table);
    }
    return moves;
  }

  release(id: string): boolean {
    const table = this.tableOfId.get(id);
    if (table === undefined) return false;
    this.tableOfId.delete(id);
    return this.assigner(table).release(id);
  }

  /**
   * Makes the placed rules exactly `requests`: releases the others first (their slots become free for the new
   * ones), then places the new ones. Returns the moves and the released ids.
   */
  sync(requests: Iterable<RulePlacementRequest>): { moved: TablePriorityMove[]; released: string[] } {
    const wanted = [...requests];
    const wantedIds = new Set(wanted.map((r) => r.id));
    const released = [...this.tableOfId.keys()].filter((id) => !wantedIds.has(id)).sort();
    for (const id of released) this.release(id);
    return { moved: this.register(wanted), released };
  }

  ids(): string[] {
    return [...this.tableOfId.keys()].sort();
  }
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
