/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment -- these tests build, edit and inspect manifests as free-form JSON */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { applyDefaults, cloneWithoutNulls, generatedRuleName } from '../../firmware/core/api/defaults';
import { sha1Hex } from '../../firmware/core/hash/sha1';
import type { PolicyObject } from '../../firmware/core/api/types';

type Json = Record<string, any>;

function defaulted(obj: Json): Json {
  return applyDefaults(obj as unknown as PolicyObject);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const k8s = (spec: Json | undefined): Json => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'p', namespace: 'ns' },
  ...(spec === undefined ? {} : { spec }),
});

const acnp = (spec: Json): Json => ({
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'p' },
  spec,
});

describe('applyDefaults: Kubernetes NetworkPolicy', () => {
  it('policyTypes defaults to Ingress when there are no egress rules', () => {
    assert.deepEqual(defaulted(k8s({ podSelector: {} })).spec.policyTypes, ['Ingress']);
    assert.deepEqual(defaulted(k8s({ podSelector: {}, egress: [] })).spec.policyTypes, ['Ingress']);
    assert.deepEqual(defaulted(k8s({ podSelector: {}, policyTypes: [] })).spec.policyTypes, ['Ingress']);
  });

  it('policyTypes defaults to Ingress and Egress when there are egress rules', () => {
    assert.deepEqual(defaulted(k8s({ podSelector: {}, egress: [{}] })).spec.policyTypes, [
      'Ingress',
      'Egress',
    ]);
  });

  it('keeps explicit policyTypes', () => {
    const spec = { podSelector: {}, egress: [{}], policyTypes: ['Egress'] };
    assert.deepEqual(defaulted(k8s(spec)).spec.policyTypes, ['Egress']);
  });

  it('port protocol defaults to TCP in both directions, explicit protocols stay', () => {
    const spec = defaulted(
      k8s({
        podSelector: {},
        ingress: [{ ports: [{ port: 80 }, { protocol: 'UDP', port: 53 }] }],
        egress: [{ ports: [{ port: 'dns' }] }],
      }),
    ).spec;
    assert.deepEqual(spec.ingress[0].ports, [
      { port: 80, protocol: 'TCP' },
      { protocol: 'UDP', port: 53 },
    ]);
    assert.deepEqual(spec.egress[0].ports, [{ port: 'dns', protocol: 'TCP' }]);
  });

  it('a missing podSelector is {} (all pods of the namespace) and a missing spec is the zero spec', () => {
    assert.deepEqual(defaulted(k8s({ ingress: [] })).spec.podSelector, {});
    assert.deepEqual(defaulted(k8s(undefined)).spec, { podSelector: {}, policyTypes: ['Ingress'] });
  });
});

describe('applyDefaults: Antrea policies', () => {
  const rule = { action: 'Allow', from: [{ podSelector: { matchLabels: { foo1: 'bar1' } } }] };

  it('tier defaults to application', () => {
    assert.equal(defaulted(acnp({ priority: 1 })).spec.tier, 'application');
    assert.equal(defaulted(acnp({ priority: 1, tier: '' })).spec.tier, 'application');
  });

  it('legacy CamelCase static tier names become the static tiers', () => {
    assert.equal(defaulted(acnp({ priority: 1, tier: 'SecurityOps' })).spec.tier, 'securityops');
    assert.equal(defaulted(acnp({ priority: 1, tier: 'Baseline' })).spec.tier, 'baseline');
    assert.equal(defaulted(acnp({ priority: 1, tier: 'mytier' })).spec.tier, 'mytier');
    assert.equal(defaulted(acnp({ priority: 1, tier: 'constructor' })).spec.tier, 'constructor');
  });

  it('enableLogging defaults to false and keeps true', () => {
    const spec = defaulted(acnp({ priority: 1, ingress: [rule, { ...rule, enableLogging: true }] })).spec;
    assert.equal(spec.ingress[0].enableLogging, false);
    assert.equal(spec.ingress[1].enableLogging, true);
  });

  it('port protocol defaults to TCP', () => {
    const spec = defaulted(acnp({ priority: 1, egress: [{ action: 'Drop', ports: [{ port: 22 }] }] })).spec;
    assert.deepEqual(spec.egress[0].ports, [{ port: 22, protocol: 'TCP' }]);
  });

  it('unnamed rules get the names Antrea generates (vectors from Antrea mutate_test.go)', () => {
    const spec = defaulted(
      acnp({
        priority: 1,
        ingress: [rule, { action: 'Allow', from: [{ podSelector: { matchLabels: { foo2: 'bar2' } } }] }],
        egress: [{ action: 'Allow', to: [{ podSelector: { matchLabels: { foo2: 'bar2' } } }] }],
      }),
    ).spec;
    assert.equal(spec.ingress[0].name, 'ingress-allow-c4f16d3');
    assert.equal(spec.ingress[1].name, 'ingress-allow-be87b58');
    assert.equal(spec.egress[0].name, 'egress-allow-44b2575');
  });

  it('names are hashed from the rule as written, before protocol defaulting', () => {
    const withoutProtocol = defaulted(
      acnp({ priority: 1, ingress: [{ action: 'Drop', ports: [{ port: 80 }] }] }),
    );
    const withProtocol = defaulted(
      acnp({ priority: 1, ingress: [{ action: 'Drop', ports: [{ port: 80, protocol: 'TCP' }] }] }),
    );
    assert.notEqual(withoutProtocol.spec.ingress[0].name, withProtocol.spec.ingress[0].name);
    assert.equal(
      withoutProtocol.spec.ingress[0].name,
      generatedRuleName('ingress', { action: 'Drop', ports: [{ port: 80 }] }),
    );
  });

  it('keeps explicit rule names', () => {
    const spec = defaulted(acnp({ priority: 1, ingress: [{ ...rule, name: 'AllowFromFrontend' }] })).spec;
    assert.equal(spec.ingress[0].name, 'AllowFromFrontend');
  });

  it('generated names hash the Go encoding of the Rule struct (field order, omitempty, sorted maps)', () => {
    const written = {
      name: '',
      appliedTo: [{ group: 'g', podSelector: { matchLabels: {} } }],
      to: [
        {
          scope: 'Cluster',
          namespaces: { match: 'Self' },
          podSelector: { matchExpressions: [{ values: ['b', 'a'], operator: 'In', key: 'k' }] },
        },
        { ipBlock: { except: [], cidr: '10.0.0.0/8' } },
      ],
      ports: [{ sourcePort: 5, endPort: 90, port: 80, protocol: 'UDP' }, { port: 'http' }],
      logLabel: 'a<b',
      action: 'Reject',
      enableLogging: true,
    };
    const goJson =
      '{"action":"Reject","ports":[{"protocol":"UDP","port":80,"endPort":90,"sourcePort":5},{"port":"http"}],' +
      '"to":[{"podSelector":{"matchExpressions":[{"key":"k","operator":"In","values":["b","a"]}]},' +
      '"namespaces":{"match":"Self"},"scope":"Cluster"},{"ipBlock":{"cidr":"10.0.0.0/8"}}],' +
      '"enableLogging":true,"logLabel":"a\\u003cb","appliedTo":[{"podSelector":{},"group":"g"}]}';
    const expected = createHash('sha1').update(goJson).digest('hex').slice(0, 7);
    assert.equal(generatedRuleName('egress', written), `egress-reject-${expected}`);
    const mapOrder = { action: 'Allow', from: [{ podSelector: { matchLabels: { b: '2', a: '1' } } }] };
    const sorted =
      '{"action":"Allow","from":[{"podSelector":{"matchLabels":{"a":"1","b":"2"}}}],"enableLogging":false}';
    assert.equal(
      generatedRuleName('ingress', mapOrder).slice(-7),
      createHash('sha1').update(sorted).digest('hex').slice(0, 7),
    );
  });
});

describe('applyDefaults: groups, Services, scope', () => {
  it('turns the legacy singular ipBlock into ipBlocks', () => {
    const group = defaulted({
      apiVersion: 'crd.antrea.io/v1alpha3',
      kind: 'ClusterGroup',
      metadata: { name: 'g' },
      spec: { ipBlock: { cidr: '10.0.0.0/8' } },
    });
    assert.deepEqual(group.spec, { ipBlocks: [{ cidr: '10.0.0.0/8' }] });
  });

  it("a Group's serviceReference without a namespace refers to the Group's namespace", () => {
    const group = defaulted({
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'Group',
      metadata: { name: 'g', namespace: 'prod' },
      spec: { serviceReference: { name: 'web' } },
    });
    assert.deepEqual(group.spec.serviceReference, { name: 'web', namespace: 'prod' });
  });

  it('a group without spec gets an empty one', () => {
    const group = defaulted({
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'ClusterGroup',
      metadata: { name: 'g' },
    });
    assert.deepEqual(group.spec, {});
  });

  it('Service ports default to TCP and targetPort = port', () => {
    const svc = defaulted({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'n' },
      spec: { ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns' }] },
    });
    assert.deepEqual(svc.spec.ports, [
      { port: 80, protocol: 'TCP', targetPort: 80 },
      { port: 53, protocol: 'UDP', targetPort: 'dns' },
    ]);
  });

  it('cluster-scoped kinds lose metadata.namespace, namespaced kinds keep it', () => {
    const cnp = defaulted({ ...acnp({ priority: 1 }), metadata: { name: 'p', namespace: 'x' } });
    assert.deepEqual(cnp.metadata, { name: 'p' });
    const tier = defaulted({
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'Tier',
      metadata: { name: 't', namespace: 'x' },
      spec: { priority: 5 },
    });
    assert.equal(tier.metadata.namespace, undefined);
    assert.equal(defaulted(k8s({})).metadata.namespace, 'ns');
  });
});

describe('applyDefaults: never mutates', () => {
  const inputs: Json[] = [
    k8s({ podSelector: {}, ingress: [{ ports: [{ port: 80 }] }], egress: [{}] }),
    k8s(undefined),
    acnp({ priority: 1, ingress: [{ action: 'Allow', ports: [{ port: 1 }] }] }),
    {
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'Group',
      metadata: { name: 'g', namespace: 'n' },
      spec: { ipBlock: { cidr: '1.0.0.0/8' }, serviceReference: { name: 'x' } },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 's', namespace: 'n' },
      spec: { ports: [{ port: 80 }] },
    },
  ];

  it('works on deeply frozen input and leaves it equal to before', () => {
    for (const input of inputs) {
      const before = structuredClone(input);
      const frozen = deepFreeze(structuredClone(input));
      const output = defaulted(frozen);
      assert.notDeepEqual(output, before, 'something was defaulted');
      assert.deepEqual(frozen, before);
    }
  });

  it('returns an object that shares nothing with the input', () => {
    const input = acnp({ priority: 1, appliedTo: [{ podSelector: { matchLabels: { a: 'b' } } }] });
    const output = defaulted(input);
    output.spec.appliedTo[0].podSelector.matchLabels.a = 'changed';
    output.metadata.name = 'changed';
    assert.equal(input.spec.appliedTo[0].podSelector.matchLabels.a, 'b');
    assert.equal(input.metadata.name, 'p');
  });

  it('drops null fields, as decoding into Go structs does', () => {
    assert.deepEqual(cloneWithoutNulls({ a: null, b: { c: null, d: 1 }, e: [1, { f: null }] }), {
      b: { d: 1 },
      e: [1, {}],
    });
    const spec = defaulted(k8s({ podSelector: null, policyTypes: null, egress: null })).spec;
    assert.deepEqual(spec, { podSelector: {}, policyTypes: ['Ingress'] });
  });
});

describe('sha1Hex', () => {
  it('matches node:crypto across block boundaries', () => {
    for (const length of [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000]) {
      const data = Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
      assert.equal(sha1Hex(data), createHash('sha1').update(data).digest('hex'), `length ${length}`);
    }
  });

  it('hashes non-ASCII rule content as UTF-8, like Go', () => {
    const rule = { action: 'Allow', logLabel: 'ü€😀' };
    const goJson = '{"action":"Allow","enableLogging":false,"logLabel":"ü€😀"}';
    const expected = createHash('sha1').update(goJson, 'utf8').digest('hex').slice(0, 7);
    assert.equal(generatedRuleName('ingress', rule), `ingress-allow-${expected}`);
  });
});
