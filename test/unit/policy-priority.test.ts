// Tables for tiers and OpenFlow priorities for Antrea-native rules: evaluation order, stability under edits,
// minimal and reported moves when a gap is full.
import assert from 'node:assert/strict';
import {
  BASELINE_PRIORITIES,
  PolicyPriorities,
  PriorityError,
  TIER_TABLE_PRIORITIES,
  TablePriorityAssigner,
  compareRulePriorityKeys,
  defaultHeuristic,
  isBaselineTier,
  tierTable,
  type PriorityEntry,
  type RulePriorityKey,
} from '../../firmware/core/pipeline/policy-priority';
import { Tables } from '../../firmware/core/pipeline/tables';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function key(policyPriority: number, ruleIndex: number, policy = 'p', tierPriority = 250): RulePriorityKey {
  return { tierPriority, policyPriority, ruleIndex, policyOrder: policy, position: ruleIndex };
}

function policyRules(
  name: string,
  policyPriority: number,
  rules: number,
  tierPriority = 250,
): PriorityEntry[] {
  return Array.from({ length: rules }, (_, i) => ({
    id: `${name}/${i}`,
    key: key(policyPriority, i, name, tierPriority),
  }));
}

/** Evaluation order ⇔ strictly decreasing priorities, all inside the range. */
function assertOrdered(assigner: TablePriorityAssigner): void {
  const entries = assigner.entries();
  for (let i = 1; i < entries.length; i++) {
    const a = entries[i - 1] as (typeof entries)[number];
    const b = entries[i] as (typeof entries)[number];
    assert.ok(compareRulePriorityKeys(a.key, b.key) <= 0, 'entries are in evaluation order');
    assert.ok(a.priority > b.priority, `${a.id} (${a.priority}) is above ${b.id} (${b.priority})`);
  }
  for (const e of entries) assert.ok(e.priority >= assigner.bottom && e.priority <= assigner.top);
}

function priorities(assigner: TablePriorityAssigner): Map<string, number> {
  return new Map(assigner.entries().map((e) => [e.id, e.priority]));
}

describe('policy priorities: tier tables', () => {
  it('each static tier owns a table; baseline goes to the default-rule tables', () => {
    assert.equal(tierTable(50, 'Out'), Tables.CNPEmergencyEgressRule);
    assert.equal(tierTable(100, 'In'), Tables.CNPSecurityOpsIngressRule);
    assert.equal(tierTable(150, 'Out'), Tables.CNPNetworkOpsEgressRule);
    assert.equal(tierTable(200, 'In'), Tables.CNPPlatformIngressRule);
    assert.equal(tierTable(250, 'Out'), Tables.CNPApplicationEgressRule);
    assert.equal(tierTable(253, 'Out'), Tables.EgressDefaultRule);
    assert.equal(tierTable(253, 'In', 'baseline'), Tables.IngressDefaultRule);
    assert.ok(isBaselineTier(undefined, 'baseline'));
    assert.ok(!isBaselineTier(250, 'application'));
  });

  it('custom tiers share the table of the static tier right before them in evaluation order', () => {
    assert.equal(tierTable(10, 'In'), Tables.CNPEmergencyIngressRule, 'before emergency');
    assert.equal(tierTable(75, 'In'), Tables.CNPEmergencyIngressRule);
    assert.equal(tierTable(120, 'Out'), Tables.CNPSecurityOpsEgressRule);
    assert.equal(tierTable(199, 'Out'), Tables.CNPNetworkOpsEgressRule);
    assert.equal(tierTable(249, 'In'), Tables.CNPPlatformIngressRule);
    assert.equal(tierTable(255, 'In'), Tables.CNPApplicationIngressRule);
  });

  it('within a shared table a custom tier is ordered after the static tier, whatever its policy priorities', () => {
    const p = new PolicyPriorities();
    p.register([
      { id: 'custom-120/0', table: Tables.CNPSecurityOpsIngressRule, key: key(1, 0, 'c', 120) },
      { id: 'securityops/0', table: Tables.CNPSecurityOpsIngressRule, key: key(9000, 0, 's', 100) },
    ]);
    const custom = p.placementOf('custom-120/0');
    const secops = p.placementOf('securityops/0');
    assert.ok(custom && secops && secops.priority > custom.priority);
  });

  it('ranges stay below the established fast path (64990) and baseline below the isolation drops (200)', () => {
    assert.ok(TIER_TABLE_PRIORITIES.top < 64990);
    assert.ok(BASELINE_PRIORITIES.top < 200 && BASELINE_PRIORITIES.bottom > 0);
  });
});

describe('policy priorities: assignment', () => {
  it('orders by tier, policy priority, rule index, then policy name (rules of tied policies interleave)', () => {
    const a = new TablePriorityAssigner(TIER_TABLE_PRIORITIES);
    a.register([...policyRules('b', 5, 3), ...policyRules('a', 5, 3), ...policyRules('c', 1, 2)]);
    assertOrdered(a);
    assert.deepEqual(
      a.entries().map((e) => e.id),
      ['c/0', 'c/1', 'a/0', 'b/0', 'a/1', 'b/1', 'a/2', 'b/2'],
    );
  });

  it('leaves gaps between policies and moves nobody when a policy is added or edited', () => {
    const a = new TablePriorityAssigner({
      ...TIER_TABLE_PRIORITIES,
      heuristic: defaultHeuristic(TIER_TABLE_PRIORITIES, 250),
    });
    for (const [name, prio] of [
      ['p10', 10],
      ['p20', 20],
      ['p30', 30],
    ] as const) {
      assert.deepEqual(a.register(policyRules(name, prio, 5)), []);
    }
    const before = priorities(a);
    // A new policy between two others.
    assert.deepEqual(a.register(policyRules('p15', 15, 5)), []);
    // An edit: p20 gets a rule more and a new priority (its rules are re-registered).
    for (let i = 0; i < 5; i++) a.release(`p20/${i}`);
    assert.deepEqual(a.register(policyRules('p20', 25, 6)), []);
    assertOrdered(a);
    for (const id of ['p10/0', 'p10/4', 'p30/0', 'p30/4']) assert.equal(a.priorityOf(id), before.get(id));
    // Re-registering what is placed is a no-op.
    const now = priorities(a);
    assert.deepEqual(a.register(policyRules('p15', 15, 5)), []);
    assert.deepEqual(priorities(a), now);
  });

  it('when a gap is full, moves the fewest neighbours and reports each move once', () => {
    const a = new TablePriorityAssigner({ bottom: 1, top: 10, heuristic: () => 10 });
    a.register(policyRules('x', 1, 4));
    a.register(policyRules('z', 3, 4));
    assertOrdered(a);
    const before = priorities(a);
    const moves = a.register(policyRules('y', 2, 2));
    assertOrdered(a);
    assert.equal(a.size, 10);
    const after = priorities(a);
    // Every reported move is real, and every previously placed rule that changed is reported.
    const changed = [...before].filter(([id, p]) => after.get(id) !== p).map(([id]) => id);
    assert.deepEqual(moves.map((m) => m.id).sort(), changed.sort());
    for (const m of moves) {
      assert.equal(m.from, before.get(m.id));
      assert.equal(m.to, after.get(m.id));
    }
    assert.ok(moves.length > 0 && moves.length <= 4, `moved ${moves.length}`);
  });

  it('refuses what does not fit and changes nothing', () => {
    const a = new TablePriorityAssigner({ bottom: 1, top: 5 });
    a.register(policyRules('x', 1, 4));
    const before = priorities(a);
    assert.throws(
      () => a.register(policyRules('y', 2, 2)),
      (e: unknown) => e instanceof PriorityError && e.code === 'PRIORITY_SPACE_EXHAUSTED',
    );
    assert.deepEqual(priorities(a), before);
    a.register(policyRules('y', 2, 1));
    assert.equal(a.size, 5);
    assertOrdered(a);
  });

  it('keeps order and reports exactly the moved rules under random churn in a tight range', () => {
    const random = prng(3);
    const a = new TablePriorityAssigner({ bottom: 100, top: 400 });
    const live = new Map<string, RulePriorityKey>();
    let next = 0;
    for (let step = 0; step < 400; step++) {
      const before = priorities(a);
      if (random() < 0.35 && live.size > 0) {
        const ids = [...live.keys()];
        const victim = ids[Math.floor(random() * ids.length)] as string;
        const policy = victim.split('/')[0] as string;
        for (const id of ids.filter((i) => i.startsWith(`${policy}/`))) {
          a.release(id);
          live.delete(id);
        }
        assert.deepEqual(
          priorities(a),
          new Map([...before].filter(([id]) => live.has(id))),
          'release moves nobody',
        );
        continue;
      }
      const rules = policyRules(`q${next++}`, Math.floor(random() * 40) / 4, 1 + Math.floor(random() * 6));
      if (live.size + rules.length > 301) continue;
      const moves = a.register(rules);
      for (const r of rules) live.set(r.id, r.key);
      assertOrdered(a);
      const after = priorities(a);
      const changed = [...before]
        .filter(([id, p]) => after.get(id) !== p)
        .map(([id]) => id)
        .sort();
      assert.deepEqual(moves.map((m) => m.id).sort(), changed);
    }
    assert.ok(a.size > 50);
  });
});

describe('policy priorities: per-table registry', () => {
  it('sync places the wanted rules, releases the others and follows a rule that changes table', () => {
    const p = new PolicyPriorities();
    const app = Tables.CNPApplicationIngressRule;
    p.sync([
      { id: 'r1', table: app, key: key(1, 0, 'a') },
      { id: 'r2', table: app, key: key(2, 0, 'b') },
      { id: 'b1', table: Tables.IngressDefaultRule, key: key(1, 0, 'base', 253) },
    ]);
    const r2 = p.placementOf('r2');
    const b1 = p.placementOf('b1');
    assert.ok(r2 && b1);
    assert.ok(b1.priority >= BASELINE_PRIORITIES.bottom && b1.priority <= BASELINE_PRIORITIES.top);
    const { released } = p.sync([
      { id: 'r2', table: app, key: key(2, 0, 'b') },
      { id: 'r3', table: Tables.CNPEmergencyIngressRule, key: key(1, 0, 'c', 50) },
      { id: 'b1', table: Tables.IngressDefaultRule, key: key(1, 0, 'base', 253) },
    ]);
    assert.deepEqual(released, ['r1']);
    assert.deepEqual(p.placementOf('r2'), r2, 'untouched rules keep their priority');
    assert.equal(p.placementOf('r1'), undefined);
    p.register([{ id: 'r2', table: Tables.CNPPlatformIngressRule, key: key(2, 0, 'b', 200) }]);
    assert.equal(p.placementOf('r2')?.table, Tables.CNPPlatformIngressRule);
    assert.equal(p.assigner(app).size, 0);
    assert.deepEqual(p.ids(), ['b1', 'r2', 'r3']);
    assert.throws(() => p.assigner(Tables.IngressRule), PriorityError);
  });
});
