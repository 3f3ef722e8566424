// One rule → conjunctive flows: shapes per action and table, conjunction arity, flow counts that add up instead
// of multiplying, named-port grouping, and merging of clause flows shared between rules.
import assert from 'node:assert/strict';
import type {
  AddressGroup,
  AppliedToGroup,
  GroupMemberPod,
  InternalNetworkPolicy,
  InternalRule,
} from '../../firmware/core/controller/internal-types';
import {
  ControllerPurpose,
  controllerUserdataText,
  decodeControllerUserdata,
  meteredControllerActions,
  packetInMeter,
} from '../../firmware/core/pipeline/controller-userdata';
import { CookieCategory, makeCookie, type Flow } from '../../firmware/core/pipeline/flow';
import {
  MAX_CONJUNCTIONS_PER_FLOW,
  mergeRuleFlows,
  splitActions,
} from '../../firmware/core/pipeline/policy-flows';
import {
  REJECT_USERDATA_PURPOSE,
  RuleFlowError,
  conjunctionFlows,
  parseRejectUserdata,
  rejectUserdata,
  resolveServices,
  ruleFlows,
  type ConjunctionSpec,
  type RuleGroups,
} from '../../firmware/core/pipeline/rule-flows';
import { Tables } from '../../firmware/core/pipeline/tables';

const text = (flows: readonly Flow[]): string[] =>
  flows.map((f) => `table=${f.table},priority=${f.priority},${f.match} actions=${f.actions}`);

const baseSpec: ConjunctionSpec = {
  conjId: 7,
  direction: 'In',
  action: 'Allow',
  table: Tables.IngressRule,
  priority: 200,
  peers: ['10.10.0.5', '10.20.0.0/16'],
  appliedTo: [
    { ofport: 3, ip: '10.10.0.11' },
    { ofport: 4, ip: '10.10.0.12' },
  ],
  services: [{ protocol: 'TCP', port: 80 }],
};

function member(ns: string, name: string, ip: string, ports: GroupMemberPod['ports'] = []): GroupMemberPod {
  return { namespace: ns, name, ip, nodeName: 'n1', ports };
}

describe('rule flows: one conjunction', () => {
  it('an ingress Allow: peers by nw_src, pods by reg1, ports, and the conj_id action into ConntrackCommit', () => {
    assert.deepEqual(text(conjunctionFlows(baseSpec)), [
      'table=90,priority=200,conj_id=7,ip actions=load:0x7->NXM_NX_REG6[],goto_table:105',
      'table=90,priority=200,ip,nw_src=10.10.0.5 actions=conjunction(7,1/3)',
      'table=90,priority=200,ip,nw_src=10.20.0.0/16 actions=conjunction(7,1/3)',
      'table=90,priority=200,ip,reg1=0x3 actions=conjunction(7,2/3)',
      'table=90,priority=200,ip,reg1=0x4 actions=conjunction(7,2/3)',
      'table=90,priority=200,tcp,tp_dst=80 actions=conjunction(7,3/3)',
    ]);
    for (const f of conjunctionFlows(baseSpec)) assert.equal(f.cookie, makeCookie(CookieCategory.Policy, 7));
  });

  it('an egress Allow: pods by nw_src, peers by nw_dst, and the action into l3Forwarding with reg5', () => {
    const flows = conjunctionFlows({ ...baseSpec, direction: 'Out', table: Tables.EgressRule });
    assert.deepEqual(text(flows), [
      'table=50,priority=200,conj_id=7,ip actions=load:0x7->NXM_NX_REG5[],goto_table:70',
      'table=50,priority=200,ip,nw_src=10.10.0.11 actions=conjunction(7,1/3)',
      'table=50,priority=200,ip,nw_src=10.10.0.12 actions=conjunction(7,1/3)',
      'table=50,priority=200,ip,nw_dst=10.10.0.5 actions=conjunction(7,2/3)',
      'table=50,priority=200,ip,nw_dst=10.20.0.0/16 actions=conjunction(7,2/3)',
      'table=50,priority=200,tcp,tp_dst=80 actions=conjunction(7,3/3)',
    ]);
  });

  it('Drop, Reject and Pass in a tier table', () => {
    const tier = { ...baseSpec, table: Tables.CNPSecurityOpsIngressRule, priority: 64000 };
    const action = (spec: ConjunctionSpec): string => (conjunctionFlows(spec)[0] as Flow).actions;
    assert.equal(action({ ...tier, action: 'Drop' }), 'drop');
    assert.equal(action({ ...tier, action: 'Pass' }), 'goto_table:90');
    assert.equal(action({ ...tier, action: 'Pass', direction: 'Out', table: 46 }), 'goto_table:50');
    assert.equal(action({ ...tier, action: 'Reject' }), 'controller(userdata=01.00.00.00.07)');
    assert.equal(
      action({ ...tier, action: 'Reject', conjId: 0x01020304, packetIn: { controllerId: 3, meterId: 256 } }),
      'meter:256,controller(reason=no_match,id=3,userdata=01.01.02.03.04)',
    );
    assert.equal(
      action({ ...tier, action: 'Reject', conjId: 0x01020304, packetIn: { controllerId: 3, meterId: 256 } }),
      meteredControllerActions(packetInMeter(), {
        controllerId: 3,
        userdata: { purpose: ControllerPurpose.Reject, ruleId: 0x01020304 },
      }),
      'the same action text the packet-in side builds',
    );
    assert.throws(
      () => conjunctionFlows({ ...tier, table: Tables.IngressDefaultRule, action: 'Pass' }),
      (e: unknown) => e instanceof RuleFlowError && e.code === 'UNSUPPORTED_TABLE',
    );
  });

  it('Reject userdata round-trips, names the conjunction id, and is what the packet-in handler decodes', () => {
    assert.equal(rejectUserdata(0xdeadbeef), '01.de.ad.be.ef');
    assert.equal(
      rejectUserdata(0xdeadbeef),
      controllerUserdataText({ purpose: ControllerPurpose.Reject, ruleId: 0xdeadbeef }),
    );
    const decoded = decodeControllerUserdata(Uint8Array.from([1, 0, 0, 1, 2]));
    assert.deepEqual(decoded.ok && decoded.userdata, { purpose: ControllerPurpose.Reject, ruleId: 258 });
    assert.equal(parseRejectUserdata([REJECT_USERDATA_PURPOSE, 0xde, 0xad, 0xbe, 0xef]), 0xdeadbeef);
    assert.equal(parseRejectUserdata([2, 0, 0, 0, 1]), undefined);
    assert.equal(parseRejectUserdata([1, 0, 0]), undefined);
  });

  it('costs 1 + |peers| + |applied-to| + |ports| flows, never their product', () => {
    const peers = Array.from({ length: 30 }, (_, i) => `10.30.0.${i + 1}`);
    const appliedTo = Array.from({ length: 20 }, (_, i) => ({ ofport: 10 + i, ip: `10.10.1.${i + 1}` }));
    const services = [80, 443, 8080, 53].map((port) => ({ protocol: 'TCP' as const, port }));
    const flows = conjunctionFlows({ ...baseSpec, peers, appliedTo, services });
    assert.equal(flows.length, 1 + 30 + 20 + 4);
    assert.equal(flows.filter((f) => f.actions.endsWith('/3)')).length, 54, 'three-clause conjunction');
    // Ranges cost their masks.
    const range = conjunctionFlows({
      ...baseSpec,
      services: [{ protocol: 'UDP', port: 9000, endPort: 9100 }],
    });
    assert.equal(range.length, 1 + 2 + 2 + 6);
    assert.ok(range.some((f) => f.match === 'udp,tp_dst=0x2328/0xfff8'));
  });

  it('any peer is the clause flow `ip`; any port drops the service clause (two clauses)', () => {
    const flows = conjunctionFlows({ ...baseSpec, peers: 'any', services: 'any' });
    assert.deepEqual(text(flows).slice(1), [
      'table=90,priority=200,ip actions=conjunction(7,1/2)',
      'table=90,priority=200,ip,reg1=0x3 actions=conjunction(7,2/2)',
      'table=90,priority=200,ip,reg1=0x4 actions=conjunction(7,2/2)',
    ]);
  });

  it('source ports become tp_src, protocol-only services match the protocol', () => {
    const flows = conjunctionFlows({
      ...baseSpec,
      services: [{ protocol: 'TCP', port: 80, srcPort: 1000, srcEndPort: 1001 }, { protocol: 'SCTP' }],
    });
    assert.deepEqual(
      flows.filter((f) => f.actions.endsWith('3/3)')).map((f) => f.match),
      ['sctp', 'tcp,tp_src=0x3e8/0xfffe,tp_dst=80'],
    );
  });

  it('matches nothing when a clause is empty, and repeats no match', () => {
    assert.deepEqual(conjunctionFlows({ ...baseSpec, peers: [] }), []);
    assert.deepEqual(conjunctionFlows({ ...baseSpec, appliedTo: [] }), []);
    assert.deepEqual(conjunctionFlows({ ...baseSpec, services: [] }), []);
    const dup = conjunctionFlows({ ...baseSpec, peers: ['10.10.0.5', '10.10.0.5/32'] });
    assert.equal(dup.filter((f) => f.actions === 'conjunction(7,1/3)').length, 1);
  });
});

describe('rule flows: a rule of an internal policy', () => {
  const nginx = member('default', 'nginx', '10.10.0.11', [{ name: 'http', port: 80, protocol: 'TCP' }]);
  const nginx2 = member('default', 'nginx2', '10.10.0.12', [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  const plain = member('default', 'plain', '10.10.0.13');
  const remote = member('default', 'remote', '10.10.1.5', [{ name: 'http', port: 80, protocol: 'TCP' }]);
  const localPods = new Map([
    ['default/nginx', { ofport: 3, ip: '10.10.0.11' }],
    ['default/nginx2', { ofport: 4, ip: '10.10.0.12' }],
    ['default/plain', { ofport: 5, ip: '10.10.0.13' }],
  ]);
  const appliedTo: AppliedToGroup = {
    name: 'atg',
    members: [nginx, nginx2, plain, remote],
    span: ['n1', 'n2'],
  };
  const peers: AddressGroup = {
    name: 'ag',
    members: [nginx, nginx2, plain, remote],
    ipBlocks: [{ cidr: '192.168.0.0/24', except: ['192.168.0.128/25'] }],
    span: [],
  };
  const groups: RuleGroups = {
    appliedToGroups: new Map([['atg', appliedTo]]),
    addressGroups: new Map([['ag', peers]]),
  };
  const policy: InternalNetworkPolicy = {
    uid: 'u1',
    name: 'p',
    namespace: 'default',
    sourceRef: { type: 'K8sNetworkPolicy', namespace: 'default', name: 'p', uid: 'u1' },
    rules: [],
    appliedToGroups: ['atg'],
    policyTypes: ['Ingress'],
    span: [],
  };
  const rule = (over: Partial<InternalRule>): InternalRule => ({
    direction: 'In',
    peer: { addressGroups: ['ag'], ipBlocks: [] },
    services: [],
    action: 'Allow',
    priority: 0,
    name: '',
    enableLogging: false,
    appliedToGroups: [],
    ...over,
  });
  const ids = (): ((subKey: string) => number) => {
    const known = new Map<string, number>();
    return (subKey) => {
      if (!known.has(subKey)) known.set(subKey, known.size + 1);
      return known.get(subKey) as number;
    };
  };
  const placement = { table: Tables.IngressRule, priority: 200 };

  it('only local applied-to pods get flows; peers include remote pods and ipBlocks minus excepts', () => {
    const [c] = ruleFlows(policy, rule({}), groups, localPods, placement, ids());
    assert.ok(c);
    assert.equal(c.subKey, '');
    assert.deepEqual(c.clauseFlows, [4 + 1, 3, 0]);
    assert.equal(c.flows.length, 1 + 5 + 3);
    assert.ok(c.flows.some((f) => f.match === 'ip,nw_src=10.10.1.5'));
    assert.ok(c.flows.some((f) => f.match === 'ip,nw_src=192.168.0.0/25'));
    assert.ok(!c.flows.some((f) => f.match.includes('192.168.0.128')));
  });

  it('no local pod, no flows', () => {
    assert.deepEqual(ruleFlows(policy, rule({}), groups, new Map(), placement, ids()), []);
  });

  it('ingress named ports: one conjunction per resolved number over the applied-to pods', () => {
    const conjunctions = ruleFlows(
      policy,
      rule({ services: [{ protocol: 'TCP', port: 'http' }] }),
      groups,
      localPods,
      placement,
      ids(),
    );
    assert.deepEqual(
      conjunctions.map((c) => [c.subKey, c.clauseFlows]),
      [
        ['TCP/80', [5, 1, 1]],
        ['TCP/8080', [5, 1, 1]],
      ],
    );
    const [http80, http8080] = conjunctions;
    assert.ok(http80?.flows.some((f) => f.match === 'ip,reg1=0x3'));
    assert.ok(http8080?.flows.some((f) => f.match === 'ip,reg1=0x4'));
    assert.ok(http8080?.flows.some((f) => f.match === 'tcp,tp_dst=8080'));
    assert.notEqual(http80?.conjId, http8080?.conjId);
    // The pod without the name gets no flows at all.
    assert.ok(!conjunctions.some((c) => c.flows.some((f) => f.match === 'ip,reg1=0x5')));
  });

  it('egress named ports group the peer pods; ipBlocks keep only the numbered ports', () => {
    const conjunctions = ruleFlows(
      policy,
      rule({
        direction: 'Out',
        services: [
          { protocol: 'TCP', port: 'http' },
          { protocol: 'TCP', port: 9000 },
        ],
      }),
      groups,
      localPods,
      { table: Tables.EgressRule, priority: 200 },
      ids(),
    );
    const bySubKey = new Map(conjunctions.map((c) => [c.subKey, c]));
    assert.deepEqual([...bySubKey.keys()], ['TCP/80,TCP/9000', 'TCP/8080,TCP/9000', 'TCP/9000']);
    const peersOf = (subKey: string): string[] =>
      (bySubKey.get(subKey)?.flows ?? []).filter((f) => f.actions.endsWith(',2/3)')).map((f) => f.match);
    assert.deepEqual(peersOf('TCP/80,TCP/9000'), ['ip,nw_dst=10.10.0.11', 'ip,nw_dst=10.10.1.5']);
    assert.deepEqual(peersOf('TCP/8080,TCP/9000'), ['ip,nw_dst=10.10.0.12']);
    assert.deepEqual(peersOf('TCP/9000'), ['ip,nw_dst=10.10.0.13', 'ip,nw_dst=192.168.0.0/25']);
  });

  it('resolveServices drops names a pod lacks and keeps numbers', () => {
    assert.deepEqual(
      resolveServices(
        [
          { protocol: 'TCP', port: 'http' },
          { protocol: 'UDP', port: 'http' },
          { protocol: 'TCP', port: 53, endPort: 60 },
        ],
        nginx,
      ),
      [
        { protocol: 'TCP', port: 53, endPort: 60 },
        { protocol: 'TCP', port: 80 },
      ],
    );
  });
});

describe('rule flows: merging shared clause flows', () => {
  it('one flow per match, with every rule’s conjunction action sorted and the lowest id’s cookie', () => {
    const a = conjunctionFlows({ ...baseSpec, conjId: 9 });
    const b = conjunctionFlows({ ...baseSpec, conjId: 4, services: 'any' });
    const merged = mergeRuleFlows(
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    const shared = merged.find((f) => f.match === 'ip,reg1=0x3');
    assert.equal(shared?.actions, 'conjunction(4,2/2),conjunction(9,2/3)');
    assert.equal(shared?.cookie, makeCookie(CookieCategory.Policy, 4));
    assert.equal(merged.length, a.length + b.length - 4, 'two peers and two pods are shared');
    assert.deepEqual(splitActions('load:0x1->NXM_NX_REG6[],controller(id=3,userdata=01.02),goto_table:105'), [
      'load:0x1->NXM_NX_REG6[]',
      'controller(id=3,userdata=01.02)',
      'goto_table:105',
    ]);
  });

  it('refuses flows that share a match but not their actions, and flows too big for one message', () => {
    const drop: Flow = { table: 100, priority: 200, match: 'ip,reg1=0x3', actions: 'drop', cookie: 1n };
    const allow: Flow = { ...drop, actions: 'goto_table:105' };
    assert.throws(
      () => mergeRuleFlows([[drop], [allow]]),
      (e: unknown) => e instanceof RuleFlowError && e.code === 'CONFLICTING_FLOWS',
    );
    assert.equal(mergeRuleFlows([[drop], [{ ...drop, cookie: 0n }]]).length, 1, 'identical flows collapse');
    const many = Array.from({ length: MAX_CONJUNCTIONS_PER_FLOW + 1 }, (_, i) => [
      { ...drop, actions: `conjunction(${i + 1},1/2)` },
    ]);
    assert.throws(
      () => mergeRuleFlows(many),
      (e: unknown) => e instanceof RuleFlowError && e.code === 'TOO_MANY_CONJUNCTIONS',
    );
  });
});
