// Audit logging flows: the exact dump-flows text of every logged action (Allow/Pass unmetered with the normal
// continuation, Drop metered without output, Reject with the log bit), userdata with the log bit, K8s rules never
// logged, default drops logged only when configured, and conjunction id → rule lookups for packet-ins.
import assert from 'node:assert/strict';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import {
  CONTROLLER_LOG_FLAG,
  ControllerPurpose,
  controllerUserdataText,
  decodeControllerUserdata,
  encodeControllerUserdata,
  isAuditLogged,
} from '../../firmware/core/pipeline/controller-userdata';
import type { Flow } from '../../firmware/core/pipeline/flow';
import {
  compilePolicyFlows,
  createPolicyFlowState,
  describeConjunction,
  mergeRuleFlows,
} from '../../firmware/core/pipeline/policy-flows';
import {
  AUDIT_PACKET_IN_MAX_LENGTH,
  auditUserdata,
  conjunctionActionFlow,
  parseRejectUserdata,
  rejectUserdata,
  type PacketInOptions,
} from '../../firmware/core/pipeline/rule-flows';
import { Tables } from '../../firmware/core/pipeline/tables';

const PACKET_IN: PacketInOptions = { controllerId: 0xae01, meterId: 256 };

const action = (f: Flow): string => f.actions;

describe('audit logging: userdata', () => {
  it('the log bit rides on Reject userdata and decodes back; userdata without it decodes as before', () => {
    const logged = encodeControllerUserdata({ purpose: ControllerPurpose.Reject, ruleId: 7, log: true });
    assert.equal(logged[0], ControllerPurpose.Reject | CONTROLLER_LOG_FLAG);
    const decoded = decodeControllerUserdata(logged);
    assert.deepEqual(decoded.ok && decoded.userdata, {
      purpose: ControllerPurpose.Reject,
      ruleId: 7,
      log: true,
    });
    const plain = decodeControllerUserdata(Uint8Array.of(1, 0, 0, 0, 7));
    assert.deepEqual(plain.ok && plain.userdata, { purpose: ControllerPurpose.Reject, ruleId: 7 });
    assert.equal(rejectUserdata(7, { log: true }), '81.00.00.00.07');
    assert.equal(parseRejectUserdata([0x81, 0, 0, 0, 7]), 7, 'still a Reject for the responder');
    assert.equal(auditUserdata(0x01020304), '02.01.02.03.04');
    assert.equal(
      auditUserdata(9),
      controllerUserdataText({ purpose: ControllerPurpose.AuditLog, ruleId: 9 }),
    );
  });

  it('isAuditLogged: AuditLog always, Reject only with the bit', () => {
    assert.equal(isAuditLogged({ purpose: ControllerPurpose.AuditLog, ruleId: 1 }), true);
    assert.equal(isAuditLogged({ purpose: ControllerPurpose.Reject, ruleId: 1 }), false);
    assert.equal(isAuditLogged({ purpose: ControllerPurpose.Reject, ruleId: 1, log: true }), true);
    const unknown = decodeControllerUserdata(Uint8Array.of(0x83, 0, 0, 0, 1));
    assert.equal(unknown.ok, false, 'an unknown purpose stays unknown with the bit set');
  });
});

describe('audit logging: action flow shapes (as dump-flows -O OpenFlow13 prints them)', () => {
  const base = {
    conjId: 5,
    direction: 'In' as const,
    table: Tables.CNPApplicationIngressRule,
    priority: 1000,
    packetIn: PACKET_IN,
  };

  it('Allow: unmetered truncated copy to the agent, then the normal continuation', () => {
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Allow', log: true })),
      'controller(reason=no_match,max_len=128,id=44545,userdata=02.00.00.00.05),load:0x5->NXM_NX_REG6[],goto_table:105',
    );
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Allow', log: true, direction: 'Out', table: 49 })),
      'controller(reason=no_match,max_len=128,id=44545,userdata=02.00.00.00.05),load:0x5->NXM_NX_REG5[],goto_table:70',
    );
    assert.ok(!action(conjunctionActionFlow({ ...base, action: 'Allow', log: true })).includes('meter'));
    assert.equal(AUDIT_PACKET_IN_MAX_LENGTH, 128);
  });

  it('Drop: metered copy and no output (the packet is still dropped)', () => {
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Drop', log: true })),
      'meter:256,controller(reason=no_match,max_len=128,id=44545,userdata=02.00.00.00.05)',
    );
  });

  it('Reject: the same metered Reject packet-in (whole frame), userdata with the log bit', () => {
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Reject', log: true })),
      'meter:256,controller(reason=no_match,id=44545,userdata=81.00.00.00.05)',
    );
  });

  it('Pass: unmetered copy, then on to the Kubernetes table', () => {
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Pass', log: true })),
      'controller(reason=no_match,max_len=128,id=44545,userdata=02.00.00.00.05),goto_table:90',
    );
  });

  it('without logging the shapes are the old ones', () => {
    assert.equal(action(conjunctionActionFlow({ ...base, action: 'Drop' })), 'drop');
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Allow', log: false })),
      'load:0x5->NXM_NX_REG6[],goto_table:105',
    );
    assert.equal(
      action(conjunctionActionFlow({ ...base, action: 'Reject' })),
      'meter:256,controller(reason=no_match,id=44545,userdata=01.00.00.00.05)',
    );
  });

  it('without a controller id or meter, the copy goes to controller id 0, unmetered (like Reject)', () => {
    assert.equal(
      action(conjunctionActionFlow({ ...base, packetIn: {}, action: 'Drop', log: true })),
      'controller(reason=no_match,max_len=128,userdata=02.00.00.00.05)',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// Whole policies through the controller.

const LOCAL = new Map([
  ['default/web', { ofport: 3, ip: '10.10.0.3' }],
  ['default/client', { ofport: 4, ip: '10.10.0.4' }],
]);

function controller(): PolicyController {
  const c = new PolicyController();
  c.applyNamespace({ name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } });
  for (const [key, pod] of LOCAL) {
    const name = key.split('/')[1] as string;
    c.applyPod({
      namespace: 'default',
      name,
      labels: { app: name },
      ip: pod.ip,
      nodeName: 'n1',
      containerPorts: [],
    });
  }
  c.applyObject({
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'audit-acnp' },
    spec: {
      priority: 5,
      appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
      ingress: [
        {
          action: 'Allow',
          name: 'AllowClient80',
          enableLogging: true,
          from: [{ podSelector: { matchLabels: { app: 'client' } } }],
          ports: [{ protocol: 'TCP', port: 80 }],
        },
        {
          action: 'Drop',
          name: 'DropClient',
          enableLogging: true,
          from: [{ podSelector: { matchLabels: { app: 'client' } } }],
        },
        { action: 'Drop', name: 'DropQuiet', from: [{ ipBlock: { cidr: '192.0.2.0/24' } }] },
      ],
    },
  });
  c.applyObject({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'client-isolate', namespace: 'default' },
    spec: { podSelector: { matchLabels: { app: 'client' } }, policyTypes: ['Ingress'], ingress: [{}] },
  });
  return c;
}

describe('audit logging: policy flows', () => {
  it('logged rules carry the copy, unlogged and K8s rules do not; RuleFlowInfo says which', () => {
    const c = controller();
    const state = createPolicyFlowState({ packetIn: PACKET_IN });
    const result = compilePolicyFlows(c.snapshot(), { name: 'n1', pods: LOCAL }, state);
    const infos = [...result.rules.values()];
    const byName = (name: string) => infos.find((r) => r.ruleName === name);
    const allow = byName('AllowClient80');
    const drop = byName('DropClient');
    const quiet = byName('DropQuiet');
    assert.ok(allow && drop && quiet);
    assert.deepEqual(
      [allow.action, allow.enableLogging, drop.action, drop.enableLogging, quiet.enableLogging],
      ['Allow', true, 'Drop', true, false],
    );
    const actionFlow = (info: typeof allow): Flow => {
      const id = info.conjunctions[0]?.conjId;
      const f = [...result.flows.values()].flat().find((x) => x.match.includes(`conj_id=${id},`));
      assert.ok(f, `action flow of ${info.ruleName}`);
      return f;
    };
    assert.match(
      actionFlow(allow).actions,
      /^controller\(reason=no_match,max_len=128,id=44545,userdata=02\./,
    );
    assert.match(actionFlow(drop).actions, /^meter:256,controller\(reason=no_match,max_len=128,id=44545,/);
    assert.equal(actionFlow(quiet).actions, 'drop');
    const k8s = infos.find((r) => r.policy.type === 'K8sNetworkPolicy');
    assert.ok(k8s);
    assert.equal(k8s.enableLogging, false);
    assert.ok(!actionFlow(k8s).actions.includes('controller'), 'K8s rules are never logged');
    // The isolation drop is a plain drop by default.
    const isolation = mergeRuleFlows(result.flows).filter((f) => f.table === Tables.IngressDefaultRule);
    assert.deepEqual(
      isolation.map((f) => `${f.match} ${f.actions}`),
      ['ip,reg1=0x4 drop'],
    );
  });

  it('default drops are logged, metered, only when auditDefaultDrops is set', () => {
    const c = controller();
    const state = createPolicyFlowState({ packetIn: { ...PACKET_IN, auditDefaultDrops: true } });
    const result = compilePolicyFlows(c.snapshot(), { name: 'n1', pods: LOCAL }, state);
    const isolation = result.flows.get('isolation/In/default/client');
    assert.ok(isolation);
    const id = state.conjIds.idOf('isolation/In/default/client') ?? -1;
    assert.deepEqual(
      isolation.map((f) => `table=${f.table},priority=${f.priority},${f.match} actions=${f.actions}`),
      [
        `table=100,priority=200,ip,reg1=0x4 actions=meter:256,controller(reason=no_match,max_len=128,id=44545,userdata=${auditUserdata(id)})`,
      ],
    );
  });

  it('describeConjunction maps a packet-in conjunction id back to policy, rule, action, table and priority', () => {
    const c = controller();
    const state = createPolicyFlowState({ packetIn: { ...PACKET_IN, auditDefaultDrops: true } });
    const result = compilePolicyFlows(c.snapshot(), { name: 'n1', pods: LOCAL }, state);
    for (const info of result.rules.values()) {
      for (const conj of info.conjunctions) {
        const described = describeConjunction(c.snapshot(), state, conj.conjId);
        assert.deepEqual(described, {
          conjId: conj.conjId,
          kind: 'rule',
          policy: info.policy,
          ...(info.ruleName !== '' ? { ruleName: info.ruleName } : {}),
          direction: info.direction,
          action: info.action,
          enableLogging: info.enableLogging,
          table: info.table,
          priority: info.priority,
        });
      }
    }
    const drop = [...result.rules.values()].find((r) => r.ruleName === 'DropClient');
    const dropId = drop?.conjunctions[0]?.conjId ?? -1;
    assert.deepEqual(
      [describeConjunction(c.snapshot(), state, dropId)?.table, drop?.table],
      [Tables.CNPApplicationIngressRule, Tables.CNPApplicationIngressRule],
    );
    const isolationId = state.conjIds.idOf('isolation/In/default/client') ?? -1;
    assert.deepEqual(describeConjunction(c.snapshot(), state, isolationId), {
      conjId: isolationId,
      kind: 'isolation',
      direction: 'In',
      action: 'Drop',
      enableLogging: true,
      table: Tables.IngressDefaultRule,
      priority: 200,
      pod: 'default/client',
    });
    assert.equal(describeConjunction(c.snapshot(), state, 99_999), undefined, 'unknown id');
    // A rule that went away (its id not yet reused) describes as nothing, not as another rule.
    c.removeObject('ClusterNetworkPolicy//audit-acnp');
    assert.equal(describeConjunction(c.snapshot(), state, dropId), undefined);
  });
});
