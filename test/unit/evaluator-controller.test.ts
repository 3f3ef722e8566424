// The evaluator over the real policy controller: peers the controller resolves (namespaces Self and
// sameLabels, ClusterGroups, Groups, childGroups, serviceReference), named ports that differ per destination
// pod, and answers that follow label and object changes.
import assert from 'node:assert/strict';
import type { ContainerPort, Protocol } from '../../firmware/core/api/types';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import { evaluate } from '../../firmware/core/evaluate/evaluator';

const ANTREA = 'crd.antrea.io/v1beta1';

function cluster(namespaceLabels: Record<string, Record<string, string>> = {}): PolicyController {
  const controller = new PolicyController();
  for (const ns of ['x', 'y', 'z']) {
    controller.applyNamespace({
      name: ns,
      labels: { 'kubernetes.io/metadata.name': ns, ns, ...(namespaceLabels[ns] ?? {}) },
    });
  }
  let host = 10;
  for (const ns of ['x', 'y', 'z']) {
    for (const pod of ['a', 'b', 'c']) {
      // "http" is 80 everywhere except on pods b, where it is 8080.
      const ports: ContainerPort[] = [
        { name: 'http', containerPort: pod === 'b' ? 8080 : 80, protocol: 'TCP' },
      ];
      controller.applyPod({
        namespace: ns,
        name: pod,
        labels: { pod, app: pod },
        ip: `10.20.0.${host++}`,
        nodeName: 'node-1',
        containerPorts: ports,
      });
    }
  }
  return controller;
}

const verdict = (c: PolicyController, from: string, to: string, protocol: Protocol = 'TCP', port = 80) =>
  evaluate(c, { pod: from }, { pod: to }, protocol, port).verdict;

function acnp(name: string, spec: Record<string, unknown>) {
  return { apiVersion: ANTREA, kind: 'ClusterNetworkPolicy', metadata: { name }, spec };
}

describe('evaluate with the policy controller: peers', () => {
  it('resolves namespaces: {match: Self} per applied-to namespace', () => {
    const c = cluster();
    c.applyObject(
      acnp('allow-self-ns', {
        priority: 1,
        tier: 'platform',
        appliedTo: [{ namespaceSelector: {} }],
        ingress: [
          { action: 'Allow', from: [{ namespaces: { match: 'Self' } }], name: 'self' },
          { action: 'Drop' },
        ],
      }),
    );
    const inside = evaluate(c, { pod: 'y/a' }, { pod: 'y/b' }, 'TCP', 80);
    assert.equal(inside.verdict, 'Allow');
    assert.equal(inside.ingress.rule?.ruleName, 'self');
    assert.equal(inside.ingress.rule?.tier, 'platform');
    const across = evaluate(c, { pod: 'x/a' }, { pod: 'y/b' }, 'TCP', 80);
    assert.equal(across.verdict, 'Drop');
    assert.equal(across.ingress.rule?.ruleIndex, 1);
    assert.equal(across.ingress.rule?.policy.type, 'AntreaClusterNetworkPolicy');
  });

  it('resolves namespaces: {sameLabels} by label values, and only for namespaces having the labels', () => {
    const c = cluster({ x: { org: 'sales' }, y: { org: 'sales' }, z: {} });
    c.applyObject(
      acnp('isolate-orgs', {
        priority: 1,
        tier: 'securityops',
        appliedTo: [{ namespaceSelector: {} }],
        ingress: [{ action: 'Allow', from: [{ namespaces: { sameLabels: ['org'] } }] }, { action: 'Drop' }],
      }),
    );
    assert.equal(verdict(c, 'x/a', 'y/a'), 'Allow');
    assert.equal(verdict(c, 'y/c', 'x/b'), 'Allow');
    assert.equal(verdict(c, 'z/a', 'x/a'), 'Drop');
    // z has no org label: it gets no sameLabels rule, only the Drop rule.
    assert.equal(verdict(c, 'z/a', 'z/b'), 'Drop');
    c.applyNamespace({ name: 'z', labels: { 'kubernetes.io/metadata.name': 'z', ns: 'z', org: 'sales' } });
    assert.equal(verdict(c, 'z/a', 'x/a'), 'Allow');
    assert.equal(verdict(c, 'z/a', 'z/b'), 'Allow');
  });

  it('resolves ClusterGroups with selectors, ipBlocks and childGroups', () => {
    const c = cluster();
    c.applyObject({
      apiVersion: ANTREA,
      kind: 'ClusterGroup',
      metadata: { name: 'y-b' },
      spec: { namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } },
    });
    c.applyObject({
      apiVersion: ANTREA,
      kind: 'ClusterGroup',
      metadata: { name: 'z-c-ip' },
      spec: { ipBlocks: [{ cidr: '10.20.0.18/32' }] },
    });
    c.applyObject({
      apiVersion: ANTREA,
      kind: 'ClusterGroup',
      metadata: { name: 'parent' },
      spec: { childGroups: ['y-b', 'z-c-ip'] },
    });
    c.applyObject(
      acnp('drop-from-parent', {
        priority: 1,
        appliedTo: [
          { podSelector: { matchLabels: { pod: 'a' } }, namespaceSelector: { matchLabels: { ns: 'x' } } },
        ],
        ingress: [{ action: 'Drop', from: [{ group: 'parent' }] }],
      }),
    );
    assert.equal(verdict(c, 'y/b', 'x/a'), 'Drop');
    assert.equal(verdict(c, 'z/c', 'x/a'), 'Drop'); // 10.20.0.18
    assert.equal(verdict(c, 'z/b', 'x/a'), 'Allow');
    assert.equal(evaluate(c, { ip: '10.20.0.18' }, { pod: 'x/a' }, 'TCP', 80).verdict, 'Drop');
    assert.equal(evaluate(c, { ip: '192.0.2.1' }, { pod: 'x/a' }, 'TCP', 80).verdict, 'Allow');
  });

  it('resolves a namespaced Group (and its podSelector stays in its namespace)', () => {
    const c = cluster();
    c.applyObject({
      apiVersion: ANTREA,
      kind: 'Group',
      metadata: { name: 'pods-c', namespace: 'x' },
      spec: { podSelector: { matchLabels: { pod: 'c' } } },
    });
    c.applyObject({
      apiVersion: ANTREA,
      kind: 'NetworkPolicy',
      metadata: { name: 'drop-c', namespace: 'x' },
      spec: {
        priority: 1,
        appliedTo: [{ podSelector: {} }],
        ingress: [{ action: 'Reject', from: [{ group: 'pods-c' }] }],
      },
    });
    const result = evaluate(c, { pod: 'x/c' }, { pod: 'x/a' }, 'TCP', 80);
    assert.equal(result.verdict, 'Reject');
    assert.equal(result.ingress.rule?.policy.type, 'AntreaNetworkPolicy');
    assert.equal(result.ingress.rule?.policy.namespace, 'x');
    assert.equal(verdict(c, 'y/c', 'x/a'), 'Allow');
    assert.equal(verdict(c, 'x/c', 'y/a'), 'Allow');
  });

  it('follows a serviceReference to the Service selector, and its changes', () => {
    const c = cluster();
    const svc = (app: string) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'y' },
      spec: { selector: { app }, ports: [{ port: 80 }] },
    });
    c.applyObject(svc('a'));
    c.applyObject({
      apiVersion: ANTREA,
      kind: 'ClusterGroup',
      metadata: { name: 'web-backends' },
      spec: { serviceReference: { name: 'web', namespace: 'y' } },
    });
    c.applyObject(
      acnp('protect-web', {
        priority: 1,
        appliedTo: [{ group: 'web-backends' }],
        ingress: [{ action: 'Drop', from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
      }),
    );
    assert.equal(verdict(c, 'z/a', 'y/a'), 'Drop');
    assert.equal(verdict(c, 'z/a', 'y/b'), 'Allow');
    assert.equal(verdict(c, 'z/a', 'x/a'), 'Allow'); // the Service selects in its own namespace only
    c.applyObject(svc('b'));
    assert.equal(verdict(c, 'z/a', 'y/a'), 'Allow');
    assert.equal(verdict(c, 'z/a', 'y/b'), 'Drop');
  });
});

describe('evaluate with the policy controller: ports and changes', () => {
  it('resolves a named port against each destination pod', () => {
    const c = cluster();
    c.applyObject({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'http-only', namespace: 'x' },
      spec: { podSelector: {}, ingress: [{ ports: [{ port: 'http' }] }] },
    });
    assert.equal(verdict(c, 'y/a', 'x/a', 'TCP', 80), 'Allow');
    assert.equal(verdict(c, 'y/a', 'x/b', 'TCP', 80), 'Drop');
    assert.equal(verdict(c, 'y/a', 'x/b', 'TCP', 8080), 'Allow');
    assert.equal(verdict(c, 'y/a', 'x/c', 'TCP', 8080), 'Drop');
  });

  it('matches ipBlock with except after the controller normalised host bits', () => {
    const c = cluster();
    c.applyObject({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'egress-block', namespace: 'x' },
      spec: {
        podSelector: { matchLabels: { pod: 'a' } },
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.20.0.77/24', except: ['10.20.0.13/32'] } }] }],
      },
    });
    assert.equal(verdict(c, 'x/a', 'y/b'), 'Allow'); // 10.20.0.14
    assert.equal(verdict(c, 'x/a', 'y/a'), 'Drop'); // 10.20.0.13, excepted
    assert.equal(evaluate(c, { pod: 'x/a' }, { ip: '10.20.1.1' }, 'UDP', 53).verdict, 'Drop');
  });

  it('follows pod relabels and policy deletion', () => {
    const c = cluster();
    c.applyObject({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'db', namespace: 'x' },
      spec: {
        podSelector: { matchLabels: { role: 'db' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'web' } } }] }],
      },
    });
    assert.equal(verdict(c, 'x/b', 'x/a'), 'Allow');
    c.applyPod({ ...(c.pods().get('x/a') ?? assert.fail('x/a')), labels: { pod: 'a', role: 'db' } });
    const isolated = evaluate(c, { pod: 'x/b' }, { pod: 'x/a' }, 'TCP', 80);
    assert.equal(isolated.verdict, 'Drop');
    assert.equal(isolated.ingress.rule?.action, 'DefaultDeny');
    c.applyPod({ ...(c.pods().get('x/b') ?? assert.fail('x/b')), labels: { pod: 'b', role: 'web' } });
    assert.equal(verdict(c, 'x/b', 'x/a'), 'Allow');
    assert.equal(verdict(c, 'x/c', 'x/a'), 'Drop');
    c.removeObject('K8sNetworkPolicy/x/db');
    assert.equal(verdict(c, 'x/c', 'x/a'), 'Allow');
  });
});
