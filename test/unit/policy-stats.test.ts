// core/stats: which flows and counters belong to which rule of which policy, from the real flow computation
// (PolicyController → compilePolicyFlows → merged flows) and dump-flows lines made from those flows.
import assert from 'node:assert/strict';
import type { PodInfo } from '../../firmware/core/api/types';
import type { ControllerSnapshot } from '../../firmware/core/controller/internal-types';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import { CookieCategory, formatCookie, makeCookie, type Flow } from '../../firmware/core/pipeline/flow';
import {
  compilePolicyFlows,
  createPolicyFlowState,
  mergeRuleFlows,
} from '../../firmware/core/pipeline/policy-flows';
import {
  actionFlowConjId,
  allConjunctionIds,
  compareFlowsInTableOrder,
  flowRealizes,
  networkPolicyStats,
  parseCountedFlow,
  policyConjunctionIds,
  ruleCounts,
  type CountedFlow,
  type PolicyConjunctionIds,
} from '../../firmware/core/stats/policy-stats';
import { clusterPolicy, k8sPolicy, policyFor } from './controller-helpers';

const NODE = 'node-1';
const PODS: PodInfo[] = [
  {
    namespace: 'web',
    name: 'w1',
    labels: { app: 'web' },
    ip: '10.30.0.11',
    nodeName: NODE,
    containerPorts: [],
  },
  {
    namespace: 'web',
    name: 'w2',
    labels: { app: 'web' },
    ip: '10.30.0.12',
    nodeName: NODE,
    containerPorts: [],
  },
  {
    namespace: 'web',
    name: 'client',
    labels: { app: 'client' },
    ip: '10.30.0.13',
    nodeName: NODE,
    containerPorts: [],
  },
  {
    namespace: 'db',
    name: 'd1',
    labels: { app: 'db' },
    ip: '10.30.0.21',
    nodeName: NODE,
    containerPorts: [],
  },
];
const LOCAL = new Map(PODS.map((p, i) => [`${p.namespace}/${p.name}`, { ofport: 5 + i, ip: p.ip }]));

const ACNP = clusterPolicy('guard-web', {
  priority: 5,
  appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
  ingress: [
    {
      name: 'drop-db',
      action: 'Drop',
      from: [{ podSelector: { matchLabels: { app: 'db' } } }],
      ports: [{ protocol: 'TCP', port: 80 }],
    },
    {
      name: 'allow-client',
      action: 'Allow',
      from: [{ podSelector: { matchLabels: { app: 'client' } } }],
      ports: [{ protocol: 'TCP', port: 80 }],
    },
  ],
});
// Two Kubernetes policies on the same pods: their applied-to clause flows are shared (one flow, two conjunctions).
const K8S_A = k8sPolicy('web', 'allow-client', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }] }],
});
const K8S_B = k8sPolicy('web', 'allow-db', {
  podSelector: { matchLabels: { app: 'web' } },
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'db' } } }] }],
});

interface Node {
  snapshot: ControllerSnapshot;
  conjIds: Map<string, number>;
  flows: Flow[];
}

function computeNode(objects: readonly Record<string, unknown>[]): Node {
  const controller = new PolicyController();
  controller.applyNamespace({ name: 'web', labels: { 'kubernetes.io/metadata.name': 'web' } });
  controller.applyNamespace({ name: 'db', labels: { 'kubernetes.io/metadata.name': 'db', team: 'db' } });
  for (const pod of PODS) controller.applyPod(pod);
  for (const object of objects) controller.applyObject(object);
  const state = createPolicyFlowState();
  const snapshot = controller.snapshot();
  const flows = mergeRuleFlows(compilePolicyFlows(snapshot, { name: NODE, pods: LOCAL }, state).flows);
  const conjIds = new Map<string, number>();
  for (const key of state.conjIds.keys()) conjIds.set(key, state.conjIds.idOf(key) ?? -1);
  return { snapshot, conjIds, flows };
}

/** A dump-flows line of `flow` as OVS 3.1 prints it with -O OpenFlow13 --no-names. */
function dumpLine(flow: Flow, packets: number, bytes: number, durationSeconds: number): string {
  const priority = `priority=${flow.priority}${flow.match ? `,${flow.match}` : ''}`;
  return `cookie=${formatCookie(flow.cookie)}, duration=${durationSeconds.toFixed(3)}s, table=${flow.table}, n_packets=${packets}, n_bytes=${bytes}, ${priority} actions=${flow.actions}`;
}

function membersOf(snapshot: ControllerSnapshot) {
  return (group: string) => snapshot.appliedToGroups.get(group)?.members ?? [];
}

describe('policy stats: rules, flows and counters', () => {
  it('finds each rule’s conjunction ids from the enforcer’s keys, in rule order with names', () => {
    const node = computeNode([ACNP]);
    const policy = policyFor(node.snapshot, 'AntreaClusterNetworkPolicy', 'guard-web');
    const ids = policyConjunctionIds(policy, node.conjIds, membersOf(node.snapshot));
    assert.deepEqual(
      ids.rules.map((r) => [r.ruleName, r.direction, r.ruleIndex, r.action, r.conjIds.length]),
      [
        ['drop-db', 'In', 0, 'Drop', 1],
        ['allow-client', 'In', 1, 'Allow', 1],
      ],
    );
    assert.deepEqual(ids.isolationIds, []);
    // Each id names exactly one action flow, with that rule's verdict.
    for (const rule of ids.rules) {
      const actionFlows = node.flows.filter((f) => actionFlowConjId(f) === rule.conjIds[0]);
      assert.equal(actionFlows.length, 1);
      assert.equal(actionFlows[0]?.actions === 'drop', rule.action === 'Drop');
    }
  });

  it('a rule without local pods has no ids; a policy without flows here has none at all', () => {
    const node = computeNode([
      clusterPolicy('elsewhere', {
        priority: 9,
        appliedTo: [{ podSelector: { matchLabels: { app: 'nothing-here' } } }],
        ingress: [{ name: 'r', action: 'Drop', from: [{ podSelector: {} }] }],
      }),
    ]);
    const policy = policyFor(node.snapshot, 'AntreaClusterNetworkPolicy', 'elsewhere');
    const ids = policyConjunctionIds(policy, node.conjIds, membersOf(node.snapshot));
    assert.deepEqual(ids.rules[0]?.conjIds, []);
    assert.equal(allConjunctionIds(ids).size, 0);
  });

  it('selects a policy’s flows by cookie and by shared conjunction actions, never another policy’s own flows', () => {
    const node = computeNode([ACNP, K8S_A, K8S_B]);
    const idsOf = (type: 'K8sNetworkPolicy' | 'AntreaClusterNetworkPolicy', name: string, ns?: string) =>
      allConjunctionIds(
        policyConjunctionIds(
          policyFor(node.snapshot, type, name, ns),
          node.conjIds,
          membersOf(node.snapshot),
        ),
      );
    const acnp = idsOf('AntreaClusterNetworkPolicy', 'guard-web');
    const a = idsOf('K8sNetworkPolicy', 'allow-client', 'web');
    const b = idsOf('K8sNetworkPolicy', 'allow-db', 'web');

    const acnpFlows = node.flows.filter((f) => flowRealizes(f, acnp));
    const aFlows = node.flows.filter((f) => flowRealizes(f, a));
    const bFlows = node.flows.filter((f) => flowRealizes(f, b));
    // ACNP rules share nothing with the Kubernetes ones (other table and priority).
    assert.ok(acnpFlows.every((f) => !aFlows.includes(f) && !bFlows.includes(f)));
    assert.equal(acnpFlows.filter((f) => actionFlowConjId(f) !== undefined).length, 2);

    // The applied-to clause flows (reg1=<port of w1|w2>) carry both K8s rules' conjunctions under ONE cookie:
    // each policy lists them, although the cookie names only the lower id.
    const shared = node.flows.filter(
      (f) => f.actions.startsWith('conjunction(') && flowRealizes(f, a) && flowRealizes(f, b),
    );
    assert.ok(shared.length >= 2, `shared clause flows: ${shared.map((f) => f.match).join(' ; ')}`);
    assert.ok(
      shared.every((f) => /reg1=/.test(f.match) && (f.actions.match(/conjunction\(/g) ?? []).length === 2),
    );
    // Isolation drops of w1 and w2 (ingress) belong to both Kubernetes policies, not to the ACNP.
    const isolation = node.flows.filter((f) => f.table === 100 && f.actions === 'drop');
    assert.equal(isolation.length, 2);
    assert.ok(isolation.every((f) => flowRealizes(f, a) && flowRealizes(f, b) && !flowRealizes(f, acnp)));
    // A flow of B alone is not A's.
    const bOnly = bFlows.filter((f) => !flowRealizes(f, a));
    assert.ok(bOnly.length > 0);
    // Every policy flow belongs to at least one policy.
    assert.ok(node.flows.every((f) => flowRealizes(f, acnp) || flowRealizes(f, a) || flowRealizes(f, b)));
  });

  it('does not take flows of other cookie categories even when the id matches', () => {
    const ids = new Set([7]);
    assert.equal(flowRealizes({ cookie: makeCookie(CookieCategory.Policy, 7), actions: 'drop' }, ids), true);
    assert.equal(flowRealizes({ cookie: makeCookie(CookieCategory.Pod, 7), actions: 'drop' }, ids), false);
    assert.equal(
      flowRealizes(
        { cookie: makeCookie(CookieCategory.Policy, 3), actions: 'conjunction(3,1/2),conjunction(7,1/2)' },
        ids,
      ),
      true,
    );
    assert.equal(
      flowRealizes({ cookie: makeCookie(CookieCategory.Policy, 3), actions: 'conjunction(17,1/2)' }, ids),
      false,
    );
  });

  it('counts each rule from its action flow only; sessions are the packets it decided', () => {
    const node = computeNode([ACNP]);
    const policy = policyFor(node.snapshot, 'AntreaClusterNetworkPolicy', 'guard-web');
    const ids = policyConjunctionIds(policy, node.conjIds, membersOf(node.snapshot));
    const [dropId, allowId] = ids.rules.map((r) => r.conjIds[0]);
    const now = Date.parse('2025-03-01T12:00:10Z');
    const lines = node.flows.map((f) => {
      const id = actionFlowConjId(f);
      // Clause flows count too (every packet that matched a clause), but those are not decisions.
      if (id === undefined) return dumpLine(f, 1000, 64000, 99);
      return id === dropId ? dumpLine(f, 6, 444, 10.5) : dumpLine(f, 3, 222, 4.2);
    });
    const flows = lines.map((line) => parseCountedFlow(line) as CountedFlow);
    assert.ok(flows.every((f) => f !== undefined));
    const counts = ruleCounts(ids, flows, now);
    assert.deepEqual(counts, [
      {
        ruleName: 'drop-db',
        direction: 'In',
        ruleIndex: 0,
        action: 'Drop',
        packets: 6,
        bytes: 444,
        sessions: 6,
        since: '2025-03-01T11:59:59Z',
      },
      {
        ruleName: 'allow-client',
        direction: 'In',
        ruleIndex: 1,
        action: 'Allow',
        packets: 3,
        bytes: 222,
        sessions: 3,
        since: '2025-03-01T12:00:05Z',
      },
    ]);
    assert.notEqual(dropId, allowId);

    const stats = networkPolicyStats(policy, counts);
    assert.deepEqual(stats, {
      apiVersion: 'stats.antrea.io/v1alpha1',
      kind: 'AntreaClusterNetworkPolicyStats',
      metadata: { name: 'guard-web', uid: policy.sourceRef.uid, creationTimestamp: '2025-03-01T11:59:59Z' },
      sourceRef: policy.sourceRef,
      trafficStats: { packets: 9, bytes: 666, sessions: 9 },
      ruleTrafficStats: [
        { name: 'drop-db', trafficStats: { packets: 6, bytes: 444, sessions: 6 } },
        { name: 'allow-client', trafficStats: { packets: 3, bytes: 222, sessions: 3 } },
      ],
    });
  });

  it('rules without installed action flows count zero and have no start time', () => {
    const ids: PolicyConjunctionIds = {
      rules: [{ ruleName: 'r', direction: 'Out', ruleIndex: 0, action: 'Allow', conjIds: [42] }],
      isolationIds: [],
    };
    const counts = ruleCounts(ids, [], 0);
    assert.deepEqual(counts, [
      { ruleName: 'r', direction: 'Out', ruleIndex: 0, action: 'Allow', packets: 0, bytes: 0, sessions: 0 },
    ]);
    const stats = networkPolicyStats(
      { sourceRef: { type: 'K8sNetworkPolicy', namespace: 'ns', name: 'np', uid: 'u' } },
      counts,
    );
    assert.equal(stats.kind, 'NetworkPolicyStats');
    assert.deepEqual(stats.metadata, { name: 'np', namespace: 'ns', uid: 'u' });
  });

  it('names unnamed rules by direction and index, and numbers identical rules like the flow computation', () => {
    const node = computeNode([
      k8sPolicy('web', 'twice', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          { from: [{ podSelector: { matchLabels: { app: 'client' } } }] },
          { from: [{ podSelector: { matchLabels: { app: 'client' } } }] },
        ],
        egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }] }],
      }),
    ]);
    const policy = policyFor(node.snapshot, 'K8sNetworkPolicy', 'twice', 'web');
    const ids = policyConjunctionIds(policy, node.conjIds, membersOf(node.snapshot));
    assert.deepEqual(
      ids.rules.map((r) => r.ruleName),
      ['ingress-0', 'ingress-1', 'egress-0'],
    );
    const all = ids.rules.flatMap((r) => r.conjIds);
    assert.equal(all.length, 3);
    assert.equal(new Set(all).size, 3, 'identical rules are distinct conjunctions');
    // Both directions isolate w1 and w2: four isolation drops.
    assert.equal(ids.isolationIds.length, 4);
  });

  it('parses dump-flows lines with their duration and orders flows as the pipeline does', () => {
    const line =
      'cookie=0x600000000000002, duration=12.832s, table=89, n_packets=3, n_bytes=222, priority=64649,conj_id=2,ip actions=load:0x2->NXM_NX_REG6[],goto_table:105';
    const flow = parseCountedFlow(line);
    assert.deepEqual(flow, {
      table: 89,
      priority: 64649,
      match: 'conj_id=2,ip',
      actions: 'load:0x2->NXM_NX_REG6[],goto_table:105',
      cookie: 0x600000000000002n,
      packets: 3,
      bytes: 222,
      durationSeconds: 12.832,
    });
    assert.equal(actionFlowConjId({ match: 'conj_id=2,ip' }), 2);
    assert.equal(actionFlowConjId({ match: 'ip,nw_src=10.0.0.1' }), undefined);
    assert.equal(parseCountedFlow('NXST_FLOW reply (xid=0x4):'), undefined);

    const flows = [
      { table: 90, priority: 200, match: 'ip,reg1=0x5' },
      { table: 89, priority: 100, match: 'conj_id=3,ip' },
      { table: 89, priority: 200, match: 'tcp,tp_dst=80' },
      { table: 89, priority: 200, match: 'conj_id=1,ip' },
    ];
    assert.deepEqual(
      [...flows].sort(compareFlowsInTableOrder).map((f) => `${f.table}/${f.priority}/${f.match}`),
      ['89/200/conj_id=1,ip', '89/200/tcp,tp_dst=80', '89/100/conj_id=3,ip', '90/200/ip,reg1=0x5'],
    );
  });
});
