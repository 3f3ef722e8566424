import assert from 'node:assert/strict';
import { PolicyValidationError } from '../../firmware/core/api/validation';
import { ControllerError, PolicyController } from '../../firmware/core/controller/policy-controller';
import {
  addressGroup,
  antreaPolicy,
  appliedToGroup,
  appliedToMembers,
  changedNames,
  clusterGroup,
  clusterPolicy,
  group,
  isEmpty,
  k8sPolicy,
  match,
  memberNames,
  namespace,
  plainSnapshot,
  pod,
  policyFor,
  rulePeerMembers,
  service,
  tier,
} from './controller-helpers';

/** Two namespaces (prod, dev) with a web and a db pod each, on two nodes. */
function world(): PolicyController {
  const controller = new PolicyController();
  controller.applyNamespace(namespace('prod', { env: 'prod' }));
  controller.applyNamespace(namespace('dev', { env: 'dev' }));
  controller.applyPod(pod('prod', 'web', { app: 'web' }, { node: 'node-1', ip: '10.0.1.1' }));
  controller.applyPod(pod('prod', 'db', { app: 'db' }, { node: 'node-2', ip: '10.0.1.2' }));
  controller.applyPod(pod('dev', 'web', { app: 'web' }, { node: 'node-1', ip: '10.0.2.1' }));
  controller.applyPod(pod('dev', 'db', { app: 'db' }, { node: 'node-2', ip: '10.0.2.2' }));
  return controller;
}

describe('PolicyController: Kubernetes NetworkPolicy', () => {
  it('scopes a podSelector to the policy namespace, as applied-to and as peer', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'db-from-web', {
        podSelector: match({ app: 'db' }),
        ingress: [{ from: [{ podSelector: match({ app: 'web' }) }] }],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'K8sNetworkPolicy', 'db-from-web', 'prod');
    assert.deepEqual(appliedToMembers(snapshot, policy.appliedToGroups), ['prod/db']);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 0), ['prod/web']);
    assert.deepEqual(addressGroup(snapshot, policy.rules[0]?.peer.addressGroups[0]).selector, {
      namespace: 'prod',
      podSelector: 'app=web',
    });
    assert.equal(policy.rules[0]?.action, 'Allow');
    assert.equal(policy.rules[0]?.direction, 'In');
    assert.deepEqual(policy.policyTypes, ['Ingress']);
  });

  it('selects all pods of matching namespaces with a namespaceSelector alone, and ANDs it with a podSelector', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'from-dev', {
        podSelector: {},
        ingress: [
          { from: [{ namespaceSelector: match({ env: 'dev' }) }] },
          { from: [{ namespaceSelector: match({ env: 'dev' }), podSelector: match({ app: 'web' }) }] },
        ],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'K8sNetworkPolicy', 'from-dev', 'prod');
    assert.deepEqual(rulePeerMembers(snapshot, policy, 0), ['dev/db', 'dev/web']);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 1), ['dev/web']);
    assert.deepEqual(appliedToMembers(snapshot, policy.appliedToGroups), ['prod/db', 'prod/web']);
    assert.deepEqual(
      policy.rules.map((rule) => rule.priority),
      [0, 1],
    );
  });

  it('keeps ipBlocks with except, clearing host bits as Kubernetes accepts them', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'blocks', {
        podSelector: {},
        egress: [{ to: [{ ipBlock: { cidr: '192.168.7.9/16', except: ['192.168.1.1/24'] } }] }],
      }),
    );
    const policy = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'blocks', 'prod');
    assert.deepEqual(policy.rules[0]?.peer, {
      addressGroups: [],
      ipBlocks: [{ cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] }],
    });
    assert.deepEqual(policy.policyTypes, ['Ingress', 'Egress']);
    assert.equal(policy.rules[0]?.direction, 'Out');
  });

  it('treats an empty peer list as "any", and keeps ports with default TCP, endPort and named ports', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'ports', {
        podSelector: match({ app: 'db' }),
        ingress: [
          {
            ports: [{ port: 5432 }, { protocol: 'UDP', port: 1000, endPort: 2000 }, { port: 'metrics' }],
          },
        ],
      }),
    );
    const policy = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'ports', 'prod');
    assert.deepEqual(policy.rules[0]?.peer, { addressGroups: [], ipBlocks: [] });
    assert.deepEqual(policy.rules[0]?.services, [
      { protocol: 'TCP', port: 5432 },
      { protocol: 'UDP', port: 1000, endPort: 2000 },
      { protocol: 'TCP', port: 'metrics' },
    ]);
  });

  it('adds the all-pods group to an egress rule with named ports and no peers, so names can be resolved', () => {
    const controller = world();
    controller.applyPod(
      pod('dev', 'api', { app: 'api' }, { ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }),
    );
    controller.applyObject(
      k8sPolicy('prod', 'egress-named', { podSelector: {}, egress: [{ ports: [{ port: 'http' }] }] }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'K8sNetworkPolicy', 'egress-named', 'prod');
    const peer = policy.rules[0]?.peer;
    assert.deepEqual(peer?.ipBlocks, [
      { cidr: '0.0.0.0/0', except: [] },
      { cidr: '::/0', except: [] },
    ]);
    const allPods = addressGroup(snapshot, peer?.addressGroups[0]);
    assert.deepEqual(allPods.selector, { namespaceSelector: '' });
    assert.deepEqual(memberNames(allPods), ['dev/api', 'dev/db', 'dev/web', 'prod/db', 'prod/web']);
    assert.deepEqual(allPods.members.find((member) => member.name === 'api')?.ports, [
      { name: 'http', port: 8080, protocol: 'TCP' },
    ]);
  });

  it('ignores the rules of a direction that policyTypes does not declare (Kubernetes semantics)', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'egress-only', {
        podSelector: {},
        policyTypes: ['Egress'],
        ingress: [{ from: [{ podSelector: {} }] }],
      }),
    );
    const policy = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'egress-only', 'prod');
    assert.deepEqual(policy.policyTypes, ['Egress']);
    assert.deepEqual(policy.rules, []);
  });

  it('computes spans: policy = nodes of applied-to pods; address group = union of its policies; applied-to = its pods', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'db-from-web', {
        podSelector: match({ app: 'db' }),
        ingress: [{ from: [{ podSelector: match({ app: 'web' }) }] }],
      }),
    );
    controller.applyObject(
      k8sPolicy('prod', 'web-from-web', {
        podSelector: match({ app: 'web' }),
        ingress: [{ from: [{ podSelector: match({ app: 'web' }) }] }],
      }),
    );
    const snapshot = controller.snapshot();
    const dbPolicy = policyFor(snapshot, 'K8sNetworkPolicy', 'db-from-web', 'prod');
    const webPolicy = policyFor(snapshot, 'K8sNetworkPolicy', 'web-from-web', 'prod');
    assert.deepEqual(dbPolicy.span, ['node-2']);
    assert.deepEqual(webPolicy.span, ['node-1']);
    assert.deepEqual(appliedToGroup(snapshot, dbPolicy.appliedToGroups[0]).span, ['node-2']);
    // The web address group (shared by both policies) is needed wherever either policy is.
    assert.equal(dbPolicy.rules[0]?.peer.addressGroups[0], webPolicy.rules[0]?.peer.addressGroups[0]);
    assert.deepEqual(addressGroup(snapshot, dbPolicy.rules[0]?.peer.addressGroups[0]).span, [
      'node-1',
      'node-2',
    ]);
  });
});

describe('PolicyController: Antrea-native policies', () => {
  it('selects in all namespaces with a ClusterNetworkPolicy podSelector alone', () => {
    const controller = world();
    controller.applyObject(
      clusterPolicy('web-isolation', {
        priority: 5,
        tier: 'securityops',
        appliedTo: [{ podSelector: match({ app: 'web' }) }],
        ingress: [{ action: 'Drop', from: [{ podSelector: match({ app: 'db' }) }] }],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'web-isolation');
    assert.deepEqual(appliedToMembers(snapshot, policy.appliedToGroups), ['dev/web', 'prod/web']);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 0), ['dev/db', 'prod/db']);
    assert.equal(policy.priority, 5);
    assert.equal(policy.tierPriority, 100);
    assert.equal(policy.tierName, 'securityops');
    assert.equal(policy.rules[0]?.action, 'Drop');
    assert.deepEqual(policy.rules[0]?.appliedToGroups, []);
    assert.equal(policy.namespace, undefined);
  });

  it('scopes a namespaced Antrea NetworkPolicy podSelector to its namespace and resolves its Groups there', () => {
    const controller = world();
    controller.applyObject(group('dev', 'webs', { podSelector: match({ app: 'web' }) }));
    controller.applyObject(
      antreaPolicy('dev', 'db-guard', {
        priority: 10,
        appliedTo: [{ podSelector: match({ app: 'db' }) }],
        ingress: [
          { action: 'Allow', from: [{ group: 'webs' }] },
          { action: 'Reject', from: [{ podSelector: {} }] },
        ],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaNetworkPolicy', 'db-guard', 'dev');
    assert.deepEqual(appliedToMembers(snapshot, policy.appliedToGroups), ['dev/db']);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 0), ['dev/web']);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 1), ['dev/db', 'dev/web']);
    const webs = addressGroup(snapshot, policy.rules[0]?.peer.addressGroups[0]);
    assert.equal(webs.name, 'dev/webs');
    assert.equal(webs.sourceGroup, 'g:dev/webs');
    assert.equal(policy.tierName, 'application');
    assert.equal(policy.tierPriority, 250);
    assert.deepEqual(
      policy.rules.map((rule) => [rule.action, rule.priority]),
      [
        ['Allow', 0],
        ['Reject', 1],
      ],
    );
  });

  it('uses per-rule appliedTo when the spec has none', () => {
    const controller = world();
    controller.applyObject(
      clusterPolicy('per-rule', {
        priority: 1,
        ingress: [
          { action: 'Drop', appliedTo: [{ podSelector: match({ app: 'db' }) }], from: [{ podSelector: {} }] },
        ],
        egress: [{ action: 'Drop', appliedTo: [{ podSelector: match({ app: 'web' }) }], to: [] }],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'per-rule');
    assert.deepEqual(appliedToMembers(snapshot, policy.rules[0]?.appliedToGroups ?? []), [
      'dev/db',
      'prod/db',
    ]);
    assert.deepEqual(appliedToMembers(snapshot, policy.rules[1]?.appliedToGroups ?? []), [
      'dev/web',
      'prod/web',
    ]);
    assert.deepEqual(appliedToMembers(snapshot, policy.appliedToGroups), [
      'dev/db',
      'dev/web',
      'prod/db',
      'prod/web',
    ]);
    assert.deepEqual(policy.span, ['node-1', 'node-2']);
  });

  it('resolves ClusterGroups: selectors, ipBlocks (in the address group), serviceReference and childGroups', () => {
    const controller = world();
    controller.applyObject(service('prod', 'db-svc', { app: 'db' }));
    controller.applyObject(clusterGroup('dev-ns', { namespaceSelector: match({ env: 'dev' }) }));
    controller.applyObject(clusterGroup('external', { ipBlocks: [{ cidr: '203.0.113.7/24' }] }));
    controller.applyObject(
      clusterGroup('db-service', { serviceReference: { name: 'db-svc', namespace: 'prod' } }),
    );
    controller.applyObject(clusterGroup('union', { childGroups: ['db-service', 'external'] }));
    controller.applyObject(
      clusterPolicy('groups', {
        priority: 1,
        appliedTo: [{ podSelector: match({ app: 'web' }) }],
        egress: [
          { action: 'Allow', to: [{ group: 'dev-ns' }] },
          { action: 'Allow', to: [{ group: 'external' }] },
          { action: 'Allow', to: [{ group: 'db-service' }] },
          { action: 'Drop', to: [{ group: 'union' }] },
        ],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'groups');
    assert.deepEqual(rulePeerMembers(snapshot, policy, 0), ['dev/db', 'dev/web']);
    const external = addressGroup(snapshot, policy.rules[1]?.peer.addressGroups[0]);
    assert.equal(external.name, 'external');
    assert.equal(external.sourceGroup, 'cg:external');
    assert.deepEqual(external.members, []);
    assert.deepEqual(external.ipBlocks, [{ cidr: '203.0.113.0/24', except: [] }]);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 2), ['prod/db']);
    const union = addressGroup(snapshot, policy.rules[3]?.peer.addressGroups[0]);
    assert.deepEqual(memberNames(union), ['prod/db']);
    assert.deepEqual(union.ipBlocks, [{ cidr: '203.0.113.0/24', except: [] }]);
  });

  it('uses a ClusterGroup as appliedTo', () => {
    const controller = world();
    controller.applyObject(clusterGroup('dbs', { podSelector: match({ app: 'db' }) }));
    controller.applyObject(
      clusterPolicy('cg-applied', {
        priority: 1,
        appliedTo: [{ group: 'dbs' }],
        ingress: [{ action: 'Drop', from: [{ namespaceSelector: {} }] }],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'cg-applied');
    assert.deepEqual(policy.appliedToGroups, ['dbs']);
    assert.deepEqual(appliedToMembers(snapshot, policy.appliedToGroups), ['dev/db', 'prod/db']);
    assert.deepEqual(policy.span, ['node-2']);
  });

  it('splits a rule with a namespaces: Self peer into one rule per applied-to namespace', () => {
    const controller = world();
    controller.applyObject(
      clusterPolicy('self', {
        priority: 1,
        appliedTo: [{ namespaceSelector: {} }],
        ingress: [{ action: 'Allow', from: [{ namespaces: { match: 'Self' } }] }, { action: 'Drop' }],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'self');
    const selfRules = policy.rules.filter((rule) => rule.priority === 0);
    assert.equal(selfRules.length, 2);
    assert.deepEqual(
      selfRules.map((rule) => appliedToMembers(snapshot, rule.appliedToGroups)),
      [
        ['dev/db', 'dev/web'],
        ['prod/db', 'prod/web'],
      ],
    );
    assert.deepEqual(rulePeerMembers(snapshot, policy, 0), ['dev/db', 'dev/web']);
    assert.deepEqual(rulePeerMembers(snapshot, policy, 1), ['prod/db', 'prod/web']);
    // The cluster-level Drop rule applies to the spec appliedTo (all pods).
    const drop = policy.rules.find((rule) => rule.action === 'Drop');
    assert.deepEqual(drop?.peer, { addressGroups: [], ipBlocks: [] });
    assert.deepEqual(appliedToMembers(snapshot, drop?.appliedToGroups ?? []), [
      'dev/db',
      'dev/web',
      'prod/db',
      'prod/web',
    ]);
  });

  it('groups applied-to namespaces by their sameLabels values', () => {
    const controller = new PolicyController();
    controller.applyNamespace(namespace('acc1', { org: 'accounting' }));
    controller.applyNamespace(namespace('acc2', { org: 'accounting' }));
    controller.applyNamespace(namespace('sales', { org: 'sales' }));
    controller.applyNamespace(namespace('system'));
    for (const ns of ['acc1', 'acc2', 'sales', 'system']) controller.applyPod(pod(ns, 'p', { app: 'x' }));
    controller.applyObject(
      clusterPolicy('org-isolation', {
        priority: 1,
        appliedTo: [{ namespaceSelector: {} }],
        ingress: [{ action: 'Allow', from: [{ namespaces: { sameLabels: ['org'] } }] }],
      }),
    );
    const snapshot = controller.snapshot();
    const policy = policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'org-isolation');
    assert.equal(policy.rules.length, 2, 'one rule per org value; "system" lacks the label and gets none');
    const byPeer = policy.rules.map((rule, index) => ({
      appliedTo: appliedToMembers(snapshot, rule.appliedToGroups),
      peers: rulePeerMembers(snapshot, policy, index),
    }));
    assert.deepEqual(byPeer, [
      { appliedTo: ['acc1/p', 'acc2/p'], peers: ['acc1/p', 'acc2/p'] },
      { appliedTo: ['sales/p'], peers: ['sales/p'] },
    ]);
  });

  it('gives custom tiers their priority and follows a tier priority change', () => {
    const controller = world();
    controller.applyObject(tier('mytier', 30));
    controller.applyObject(
      clusterPolicy('in-mytier', {
        priority: 2,
        tier: 'mytier',
        appliedTo: [{ podSelector: {} }],
        ingress: [{ action: 'Pass', from: [{ podSelector: {} }] }],
      }),
    );
    controller.applyObject(
      clusterPolicy('in-app', {
        priority: 2,
        appliedTo: [{ podSelector: {} }],
        ingress: [{ action: 'Drop' }],
      }),
    );
    assert.equal(controller.tierPriority('mytier'), 30);
    assert.equal(
      policyFor(controller.snapshot(), 'AntreaClusterNetworkPolicy', 'in-mytier').tierPriority,
      30,
    );
    const changes = controller.applyObject(tier('mytier', 40));
    assert.deepEqual(changedNames(changes).policies, ['in-mytier']);
    assert.equal(changes.networkPolicies.upserted[0]?.tierPriority, 40);
    assert.deepEqual(changes.addressGroups.upserted, []);
    assert.deepEqual(changes.appliedToGroups.upserted, []);
  });
});

describe('PolicyController: shared groups', () => {
  it('shares groups between policies with equal selectors and deletes them with their last user', () => {
    const controller = world();
    const first = controller.applyObject(
      k8sPolicy('prod', 'a', {
        podSelector: match({ app: 'db' }),
        ingress: [{ from: [{ podSelector: match({ app: 'web' }) }] }],
      }),
    );
    const second = controller.applyObject(
      k8sPolicy('prod', 'b', {
        podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] },
        ingress: [
          {
            from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } }],
          },
        ],
      }),
    );
    assert.equal(first.addressGroups.upserted.length, 1);
    assert.equal(first.appliedToGroups.upserted.length, 1);
    // Same selectors written differently: the second policy reuses both groups and emits only itself.
    assert.deepEqual(second.addressGroups.upserted, []);
    assert.deepEqual(second.appliedToGroups.upserted, []);
    assert.equal(second.networkPolicies.upserted.length, 1);
    const snapshot = controller.snapshot();
    const a = policyFor(snapshot, 'K8sNetworkPolicy', 'a', 'prod');
    const b = policyFor(snapshot, 'K8sNetworkPolicy', 'b', 'prod');
    assert.deepEqual(a.appliedToGroups, b.appliedToGroups);
    assert.deepEqual(a.rules[0]?.peer, b.rules[0]?.peer);

    const removeA = controller.removeObject('K8sNetworkPolicy/prod/a');
    assert.deepEqual(removeA.networkPolicies.deleted, [a.uid]);
    assert.deepEqual(removeA.addressGroups.deleted, []);
    assert.deepEqual(removeA.appliedToGroups.deleted, []);
    const removeB = controller.removeObject('K8sNetworkPolicy/prod/b');
    assert.deepEqual(removeB.addressGroups.deleted, a.rules[0]?.peer.addressGroups);
    assert.deepEqual(removeB.appliedToGroups.deleted, a.appliedToGroups);
    assert.equal(controller.snapshot().addressGroups.size, 0);
    assert.equal(controller.snapshot().appliedToGroups.size, 0);
    assert.equal(controller.snapshot().networkPolicies.size, 0);
  });

  it('names selector groups with Antrea-style UUIDs of the normalised selector', () => {
    const controller = world();
    controller.applyObject(
      k8sPolicy('default', 'p', {
        podSelector: {},
        ingress: [{ from: [{ podSelector: match({ app: 'web' }) }] }],
      }),
    );
    const policy = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'p', 'default');
    // uuid5(e4f24a48-ca1f-4d5b-819c-ea7632b22115, "namespace=default And podSelector=app=web")
    assert.deepEqual(policy.rules[0]?.peer.addressGroups, ['0f4789f6-6f28-5440-8ad4-46d8ac276643']);
  });
});

describe('PolicyController: incremental updates', () => {
  function withPolicies(): PolicyController {
    const controller = world();
    controller.applyObject(
      k8sPolicy('prod', 'db-from-web', {
        podSelector: match({ app: 'db' }),
        ingress: [{ from: [{ podSelector: match({ app: 'web' }) }] }],
      }),
    );
    controller.applyObject(
      k8sPolicy('prod', 'from-dev', {
        podSelector: match({ app: 'web' }),
        ingress: [{ from: [{ namespaceSelector: match({ env: 'dev' }) }] }],
      }),
    );
    return controller;
  }

  it('moves a pod between groups on a label change and emits only the groups that changed', () => {
    const controller = withPolicies();
    const before = controller.snapshot();
    const dbPolicy = policyFor(before, 'K8sNetworkPolicy', 'db-from-web', 'prod');
    const webPeer = dbPolicy.rules[0]?.peer.addressGroups[0];
    const dbApplied = dbPolicy.appliedToGroups[0];
    const webApplied = policyFor(before, 'K8sNetworkPolicy', 'from-dev', 'prod').appliedToGroups[0];

    // prod/db becomes a web pod: it leaves db's applied-to group and joins the web peer and applied-to groups.
    const changes = controller.applyPod(
      pod('prod', 'db', { app: 'web' }, { node: 'node-2', ip: '10.0.1.2' }),
    );
    const after = controller.snapshot();
    assert.deepEqual(memberNames(addressGroup(after, webPeer)), ['prod/db', 'prod/web']);
    assert.deepEqual(memberNames(appliedToGroup(after, dbApplied)), []);
    assert.deepEqual(memberNames(appliedToGroup(after, webApplied)), ['prod/db', 'prod/web']);
    // The web peer group changed members; the dev peer group of from-dev changed span (that policy now also
    // runs on node-2); nothing else was emitted.
    const devPeer = policyFor(before, 'K8sNetworkPolicy', 'from-dev', 'prod').rules[0]?.peer.addressGroups[0];
    assert.deepEqual(changedNames(changes).addressGroups.sort(), [webPeer, devPeer].sort());
    assert.deepEqual(addressGroup(after, devPeer).span, ['node-1', 'node-2']);
    assert.deepEqual(changedNames(changes).appliedToGroups.sort(), [dbApplied, webApplied].sort());
    // Spans moved with it: db's policy now needs no node; the web policy also needs node-2.
    assert.deepEqual(policyFor(after, 'K8sNetworkPolicy', 'db-from-web', 'prod').span, []);
    assert.deepEqual(policyFor(after, 'K8sNetworkPolicy', 'from-dev', 'prod').span, ['node-1', 'node-2']);
    assert.deepEqual(changedNames(changes).policies.sort(), ['db-from-web', 'from-dev']);

    // A change that affects no group emits nothing.
    assert.ok(
      isEmpty(
        controller.applyPod(
          pod('dev', 'web', { app: 'web', extra: 'x' }, { node: 'node-1', ip: '10.0.2.1' }),
        ),
      ),
    );
  });

  it('updates members when a pod changes IP or node, and leaves IP-less pods out of address groups', () => {
    const controller = withPolicies();
    const webPeer = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'db-from-web', 'prod').rules[0]?.peer
      .addressGroups[0];
    controller.applyPod(pod('prod', 'web2', { app: 'web' }, { ip: '', node: 'node-3' }));
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), webPeer)), ['prod/web']);
    const changes = controller.applyPod(
      pod('prod', 'web2', { app: 'web' }, { ip: '10.0.1.9', node: 'node-3' }),
    );
    assert.deepEqual(changedNames(changes).addressGroups, [webPeer]);
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), webPeer)), ['prod/web', 'prod/web2']);
    assert.equal(addressGroup(controller.snapshot(), webPeer).members[1]?.ip, '10.0.1.9');
  });

  it('keeps a pod not yet on a node in applied-to groups but out of every span until it is scheduled', () => {
    const controller = withPolicies();
    const dbPolicy = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'db-from-web', 'prod');
    controller.applyPod(pod('prod', 'db2', { app: 'db' }, { ip: '', node: '' }));
    const atg = appliedToGroup(controller.snapshot(), dbPolicy.appliedToGroups[0]);
    assert.deepEqual(memberNames(atg), ['prod/db', 'prod/db2']);
    assert.deepEqual(atg.span, ['node-2']);
    const changes = controller.applyPod(
      pod('prod', 'db2', { app: 'db' }, { ip: '10.0.1.3', node: 'node-3' }),
    );
    assert.deepEqual(appliedToGroup(controller.snapshot(), dbPolicy.appliedToGroups[0]).span, [
      'node-2',
      'node-3',
    ]);
    assert.deepEqual(policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'db-from-web', 'prod').span, [
      'node-2',
      'node-3',
    ]);
    assert.deepEqual(changedNames(changes).policies, ['db-from-web']);
  });

  it('follows a namespace relabel', () => {
    const controller = withPolicies();
    const peer = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'from-dev', 'prod').rules[0]?.peer
      .addressGroups[0];
    const changes = controller.applyNamespace(namespace('prod', { env: 'dev' }));
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), peer)), [
      'dev/db',
      'dev/web',
      'prod/db',
      'prod/web',
    ]);
    assert.deepEqual(changedNames(changes).addressGroups, [peer]);
    assert.deepEqual(changes.appliedToGroups.upserted, []);
    controller.removeNamespace('dev');
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), peer)), ['prod/db', 'prod/web']);
  });

  it('removes a deleted pod from its groups and spans', () => {
    const controller = withPolicies();
    const dbPolicy = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'db-from-web', 'prod');
    const changes = controller.removePod('prod', 'db');
    assert.deepEqual(memberNames(appliedToGroup(controller.snapshot(), dbPolicy.appliedToGroups[0])), []);
    assert.deepEqual(policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'db-from-web', 'prod').span, []);
    assert.deepEqual(changedNames(changes).appliedToGroups, dbPolicy.appliedToGroups);
    assert.deepEqual(changedNames(changes).policies, ['db-from-web']);
    // The web address group's span followed: only from-dev (node-1) still references... nothing on node-2.
    assert.deepEqual(addressGroup(controller.snapshot(), dbPolicy.rules[0]?.peer.addressGroups[0]).span, []);
    assert.ok(isEmpty(controller.removePod('prod', 'db')), 'removing an unknown pod changes nothing');
  });

  it('recomputes an edited policy and deletes the groups it no longer uses', () => {
    const controller = withPolicies();
    const old = policyFor(controller.snapshot(), 'K8sNetworkPolicy', 'db-from-web', 'prod');
    const changes = controller.applyObject(
      k8sPolicy('prod', 'db-from-web', {
        podSelector: match({ app: 'db' }),
        ingress: [{ from: [{ podSelector: match({ app: 'api' }) }] }],
      }),
    );
    assert.deepEqual(changes.addressGroups.deleted, old.rules[0]?.peer.addressGroups);
    assert.equal(changes.addressGroups.upserted.length, 1);
    assert.deepEqual(changes.appliedToGroups.upserted, [], 'the applied-to group is unchanged');
    assert.deepEqual(changes.appliedToGroups.deleted, []);
    assert.deepEqual(changedNames(changes).policies, ['db-from-web']);
    assert.equal(changes.networkPolicies.upserted[0]?.uid, old.uid);
    // Re-applying the same object changes nothing.
    assert.ok(
      isEmpty(
        controller.applyObject(
          k8sPolicy('prod', 'db-from-web', {
            podSelector: match({ app: 'db' }),
            ingress: [{ from: [{ podSelector: match({ app: 'api' }) }] }],
          }),
        ),
      ),
    );
  });

  it('updates the groups of a ClusterGroup when it is edited, without re-emitting its policies', () => {
    const controller = world();
    controller.applyObject(clusterGroup('targets', { podSelector: match({ app: 'web' }) }));
    controller.applyObject(
      clusterPolicy('to-targets', {
        priority: 1,
        appliedTo: [{ group: 'targets' }],
        egress: [{ action: 'Drop', to: [{ group: 'targets' }] }],
      }),
    );
    const changes = controller.applyObject(clusterGroup('targets', { podSelector: match({ app: 'db' }) }));
    const snapshot = controller.snapshot();
    assert.deepEqual(memberNames(addressGroup(snapshot, 'targets')), ['dev/db', 'prod/db']);
    assert.deepEqual(memberNames(appliedToGroup(snapshot, 'targets')), ['dev/db', 'prod/db']);
    assert.deepEqual(changedNames(changes).addressGroups, ['targets']);
    assert.deepEqual(changedNames(changes).appliedToGroups, ['targets']);
    // Only the span changed (node-1 → node-2), which is why the policy is re-emitted.
    assert.deepEqual(policyFor(snapshot, 'AntreaClusterNetworkPolicy', 'to-targets').span, ['node-2']);
    controller.removeObject('ClusterGroup//targets');
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), 'targets')), []);
  });

  it('updates a serviceReference group when the Service selector changes', () => {
    const controller = world();
    controller.applyObject(service('prod', 'svc', { app: 'web' }));
    controller.applyObject(group('prod', 'by-svc', { serviceReference: { name: 'svc' } }));
    controller.applyObject(
      antreaPolicy('prod', 'p', {
        priority: 1,
        appliedTo: [{ podSelector: {} }],
        ingress: [{ action: 'Allow', from: [{ group: 'by-svc' }] }],
      }),
    );
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), 'prod/by-svc')), ['prod/web']);
    controller.applyObject(service('prod', 'svc', { app: 'db' }));
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), 'prod/by-svc')), ['prod/db']);
    controller.applyObject(service('prod', 'svc'));
    assert.deepEqual(memberNames(addressGroup(controller.snapshot(), 'prod/by-svc')), []);
  });

  it('recompiles per-namespace rules when namespaces come and go', () => {
    const controller = world();
    controller.applyObject(
      clusterPolicy('self', {
        priority: 1,
        appliedTo: [{ namespaceSelector: match({ env: 'prod' }) }],
        ingress: [{ action: 'Allow', from: [{ namespaces: { match: 'Self' } }] }],
      }),
    );
    assert.equal(policyFor(controller.snapshot(), 'AntreaClusterNetworkPolicy', 'self').rules.length, 1);
    const changes = controller.applyNamespace(namespace('dev', { env: 'prod' }));
    const policy = policyFor(controller.snapshot(), 'AntreaClusterNetworkPolicy', 'self');
    assert.equal(policy.rules.length, 2);
    assert.deepEqual(changedNames(changes).policies, ['self']);
    assert.deepEqual(rulePeerMembers(controller.snapshot(), policy, 0), ['dev/db', 'dev/web']);
    // A namespace outside the policy's scope does not touch it.
    assert.ok(isEmpty(controller.applyNamespace(namespace('other', { env: 'test' }))));
  });
});

describe('PolicyController: rejected input', () => {
  it('throws PolicyValidationError and changes nothing for an invalid object', () => {
    const controller = world();
    controller.applyObject(k8sPolicy('prod', 'ok', { podSelector: {}, ingress: [{}] }));
    const before = plainSnapshot(controller.snapshot());
    const objectsBefore = [...controller.objects().keys()];
    assert.throws(
      () =>
        controller.applyObject(
          k8sPolicy('prod', 'ok', { podSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] }),
        ),
      (error: unknown) => error instanceof PolicyValidationError && error.code === 'PolicyInvalid',
    );
    assert.throws(() =>
      controller.applyObject(
        clusterPolicy('no-tier', { priority: 1, tier: 'missing', appliedTo: [{ podSelector: {} }] }),
      ),
    );
    assert.deepEqual(plainSnapshot(controller.snapshot()), before);
    assert.deepEqual([...controller.objects().keys()], objectsBefore);
  });

  it('refuses to delete a custom Tier that policies use', () => {
    const controller = world();
    controller.applyObject(tier('mine', 60));
    controller.applyObject(
      clusterPolicy('uses-mine', {
        priority: 1,
        tier: 'mine',
        appliedTo: [{ podSelector: {} }],
        ingress: [{ action: 'Drop' }],
      }),
    );
    assert.throws(
      () => controller.removeObject('Tier//mine'),
      (error: unknown) => error instanceof ControllerError && error.code === 'TierInUse',
    );
    assert.equal(controller.tierPriority('mine'), 60);
    controller.removeObject('ClusterNetworkPolicy//uses-mine');
    controller.removeObject('Tier//mine');
    assert.equal(controller.tierPriority('mine'), undefined);
  });
});

describe('PolicyController: views', () => {
  it('exposes pods, namespaces, defaulted objects and tier priorities', () => {
    const controller = world();
    controller.applyObject(k8sPolicy('prod', 'defaults', { podSelector: {}, egress: [{}] }));
    assert.equal(controller.pods().get('prod/web')?.ip, '10.0.1.1');
    assert.deepEqual(controller.namespaces().get('dev')?.labels, {
      'kubernetes.io/metadata.name': 'dev',
      env: 'dev',
    });
    const stored = controller.objects().get('K8sNetworkPolicy/prod/defaults');
    assert.equal(stored?.kind, 'NetworkPolicy');
    assert.deepEqual((stored as { spec: { policyTypes: string[] } }).spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(controller.tierPriority('baseline'), 253);
    assert.equal(controller.tierPriority('nope'), undefined);
  });
});
