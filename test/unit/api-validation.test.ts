/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- these tests build, edit and inspect manifests as free-form JSON */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseManifests, withDefaultNamespace } from '../../firmware/core/api/manifests';
import { ObjectKeyError, objectKey, parseObjectKey } from '../../firmware/core/api/object-key';
import type { PolicyObject } from '../../firmware/core/api/types';
import type { FieldError, ValidationContext } from '../../firmware/core/api/validation';
import {
  NOT_SUPPORTED,
  PolicyValidationError,
  contextFromObjects,
  isStrictSubnet,
  parseCidr,
  portNameProblems,
  qualifiedNameProblems,
  validateObject,
  validateOrThrow,
} from '../../firmware/core/api/validation';

type Json = Record<string, any>;

/** Every tier and group exists unless a test says otherwise. */
const everythingExists: ValidationContext = {
  tierExists: () => true,
  clusterGroupExists: () => true,
  groupExists: () => true,
};
const nothingExists: ValidationContext = {
  tierExists: () => false,
  clusterGroupExists: () => false,
  groupExists: () => false,
};

function errorsOf(obj: unknown, ctx: ValidationContext = everythingExists): FieldError[] {
  const result = validateObject(obj, ctx);
  return result.ok ? [] : result.errors;
}

/** Asserts that validation reports (at least) an error at exactly `path` whose reason matches `reason`. */
function expectError(obj: unknown, path: string, reason: RegExp, ctx?: ValidationContext): FieldError[] {
  const errors = errorsOf(obj, ctx);
  const match = errors.find((error) => error.path === path && reason.test(error.reason));
  assert.ok(match, `expected an error at ${path} matching ${String(reason)}; got ${JSON.stringify(errors)}`);
  return errors;
}

function expectValid(obj: unknown, ctx: ValidationContext = everythingExists): Json {
  const result = validateObject(obj, ctx);
  assert.ok(result.ok, `expected valid, got ${JSON.stringify(result.ok ? [] : result.errors)}`);
  return result.object;
}

/** A copy of `base` changed by `edit`. */
function edited(base: Json, edit: (copy: Json) => void): Json {
  const copy = structuredClone(base);
  edit(copy);
  return copy;
}

const k8sPolicy: Json = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'web', namespace: 'prod' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 80 }] }],
    egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }],
  },
};

const acnp: Json = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'acnp' },
  spec: {
    priority: 5,
    appliedTo: [{ podSelector: { matchLabels: { app: 'db' } } }],
    ingress: [{ action: 'Allow', from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 5432 }] }],
    egress: [{ action: 'Drop', to: [{ ipBlock: { cidr: '192.168.0.0/16' } }] }],
  },
};

const annp: Json = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'NetworkPolicy',
  metadata: { name: 'annp', namespace: 'prod' },
  spec: {
    priority: 3,
    tier: 'securityops',
    appliedTo: [{ podSelector: {} }],
    ingress: [{ action: 'Drop', from: [{ podSelector: { matchLabels: { role: 'x' } } }] }],
  },
};

const tier: Json = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'Tier',
  metadata: { name: 'mytier' },
  spec: { priority: 10, description: 'mine' },
};

const clusterGroup: Json = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'ClusterGroup',
  metadata: { name: 'cg' },
  spec: { podSelector: { matchLabels: { role: 'db' } } },
};

const group: Json = {
  apiVersion: 'crd.antrea.io/v1beta1',
  kind: 'Group',
  metadata: { name: 'g', namespace: 'prod' },
  spec: { ipBlocks: [{ cidr: '10.1.0.0/16' }] },
};

const service: Json = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'prod' },
  spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
};

describe('validateObject: valid objects', () => {
  for (const [name, obj] of Object.entries({ k8sPolicy, acnp, annp, tier, clusterGroup, group, service })) {
    it(`accepts the base ${name} and returns it defaulted`, () => {
      const before = structuredClone(obj);
      const object = expectValid(obj);
      assert.deepEqual(obj, before, 'input was modified');
      assert.notEqual(object, obj);
    });
  }

  it('returns the defaulted object', () => {
    const object = expectValid(acnp);
    assert.equal(object.spec.tier, 'application');
    assert.equal(object.spec.ingress[0].enableLogging, false);
    assert.match(object.spec.ingress[0].name, /^ingress-allow-[0-9a-f]{7}$/);
    assert.deepEqual(expectValid(k8sPolicy).spec.policyTypes, ['Ingress', 'Egress']);
  });

  it('accepts all legacy apiVersions for the kinds they served', () => {
    expectValid(edited(acnp, (p) => (p.apiVersion = 'security.antrea.io/v1alpha1')));
    expectValid(edited(acnp, (p) => (p.apiVersion = 'crd.antrea.io/v1alpha1')));
    expectValid(edited(clusterGroup, (g) => (g.apiVersion = 'core.antrea.io/v1alpha2')));
    expectValid(edited(group, (g) => (g.apiVersion = 'crd.antrea.io/v1alpha3')));
  });

  it('accepts host bits in CIDRs, IPv6 blocks and except ranges strictly inside', () => {
    expectValid(
      edited(k8sPolicy, (p) => {
        p.spec.egress[0].to = [
          { ipBlock: { cidr: '10.1.2.3/8', except: ['10.1.0.0/16', '10.2.3.4/32'] } },
          { ipBlock: { cidr: 'fd00::1/64', except: ['fd00::/96', 'fd00:0:0:0:1::/80'] } },
          { ipBlock: { cidr: '::ffff:10.0.0.0/104' } },
        ];
      }),
    );
  });

  it('accepts priorities at the ends of the range, floats included', () => {
    for (const priority of [1, 1.5, 9999.99, 10000]) {
      expectValid(edited(acnp, (p) => (p.spec.priority = priority)));
    }
  });

  it('accepts named ports and port ranges', () => {
    expectValid(
      edited(k8sPolicy, (p) => {
        p.spec.ingress[0].ports = [
          { port: 'http' },
          { port: 'web-8080' },
          { protocol: 'UDP', port: 1000, endPort: 1000 },
          { protocol: 'SCTP', port: 1, endPort: 65535 },
          { protocol: 'TCP' },
        ];
      }),
    );
    expectValid(
      edited(acnp, (p) => (p.spec.ingress[0].ports = [{ port: 80, sourcePort: 1000, sourceEndPort: 2000 }])),
    );
  });

  it('accepts every selector operator used correctly', () => {
    expectValid(
      edited(k8sPolicy, (p) => {
        p.spec.podSelector = {
          matchLabels: { 'app.kubernetes.io/name': 'web', empty: '' },
          matchExpressions: [
            { key: 'tier', operator: 'In', values: ['a', 'b'] },
            { key: 'tier', operator: 'NotIn', values: ['c'] },
            { key: 'example.com/x', operator: 'Exists' },
            { key: 'legacy', operator: 'DoesNotExist', values: [] },
          ],
        };
      }),
    );
  });

  it('treats null fields as absent, as Go decoding does', () => {
    const object = expectValid(
      edited(k8sPolicy, (p) => ((p.spec.egress = null), (p.spec.policyTypes = null))),
    );
    assert.deepEqual(object.spec.policyTypes, ['Ingress']);
    assert.equal('egress' in object.spec, false);
  });

  it('ignores and drops a namespace on a cluster-scoped object, as the API server does', () => {
    const object = expectValid(edited(acnp, (p) => (p.metadata.namespace = 'whatever')));
    assert.equal(object.metadata.namespace, undefined);
  });

  it('accepts the static tiers by their legacy CamelCase names and custom tiers that exist', () => {
    expectValid(
      edited(acnp, (p) => (p.spec.tier = 'SecurityOps')),
      nothingExists,
    );
    expectValid(
      edited(acnp, (p) => (p.spec.tier = 'emergency')),
      nothingExists,
    );
    expectValid(
      edited(acnp, (p) => (p.spec.tier = 'mytier')),
      { ...nothingExists, tierExists: (n) => n === 'mytier' },
    );
  });

  it('accepts Pass outside the baseline tier and Namespaces by Self or sameLabels', () => {
    expectValid(
      edited(acnp, (p) => {
        p.spec.ingress = [
          { action: 'Pass', from: [{ namespaces: { match: 'Self' } }] },
          { action: 'Reject', from: [{ namespaces: { sameLabels: ['org', 'example.com/env'] } }] },
          {
            action: 'Allow',
            from: [{ namespaces: { match: 'Self' }, podSelector: { matchLabels: { a: 'b' } } }],
          },
        ];
      }),
    );
  });

  it('accepts appliedTo in every rule instead of the spec', () => {
    expectValid(
      edited(acnp, (p) => {
        delete p.spec.appliedTo;
        p.spec.ingress[0].appliedTo = [{ namespaceSelector: {} }];
        p.spec.egress[0].appliedTo = [{ group: 'cg' }];
      }),
    );
  });

  it('accepts a static tier re-declared with its own priority, and a Tier re-applied unchanged', () => {
    expectValid(edited(tier, (t) => ((t.metadata.name = 'application'), (t.spec.priority = 250))));
    const ctx = contextFromObjects([tier]);
    expectValid(tier, ctx);
  });

  it('accepts a pod+namespace selector group, an empty group and a one-level childGroups', () => {
    expectValid(edited(clusterGroup, (g) => (g.spec.namespaceSelector = { matchLabels: { env: 'prod' } })));
    expectValid(edited(clusterGroup, (g) => delete g.spec));
    const ctx = contextFromObjects([clusterGroup]);
    expectValid(
      edited(clusterGroup, (g) => ((g.metadata.name = 'parent'), (g.spec = { childGroups: ['cg'] }))),
      ctx,
    );
  });

  it('does not trip over names that are Object.prototype members', () => {
    expectValid(edited(acnp, (p) => (p.metadata.name = 'constructor')));
    expectError(
      edited(acnp, (p) => (p.spec.tier = 'constructor')),
      'spec.tier',
      /does not exist/,
      nothingExists,
    );
    expectError(
      edited(acnp, (p) => (p.apiVersion = 'constructor')),
      'apiVersion',
      /unsupported apiVersion/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.toString = 1)),
      'spec.toString',
      /unknown field/,
    );
    expectValid(edited(tier, (t) => (t.metadata.name = 'constructor')));
  });
});

describe('validateObject: object shape', () => {
  it('rejects what is not an object', () => {
    for (const value of [null, 'text', 42, []]) expectError(value, '', /must be an object/);
  });

  it('requires apiVersion and kind', () => {
    expectError(
      edited(acnp, (p) => delete p.apiVersion),
      'apiVersion',
      /Required value/,
    );
    expectError(
      edited(acnp, (p) => delete p.kind),
      'kind',
      /Required value/,
    );
    expectError(
      edited(acnp, (p) => (p.kind = 7)),
      'kind',
      /must be a string/,
    );
  });

  it('rejects kinds it does not handle', () => {
    const errors = expectError(
      edited(acnp, (p) => (p.kind = 'Deployment')),
      'kind',
      /unsupported kind/,
    );
    assert.equal(errors[0]?.value, 'Deployment');
  });

  it('rejects an apiVersion that never served the kind', () => {
    expectError(
      edited(group, (g) => (g.apiVersion = 'crd.antrea.io/v1alpha1')),
      'apiVersion',
      /crd\.antrea\.io\/v1beta1/,
    );
    expectError(
      edited(k8sPolicy, (p) => (p.apiVersion = 'extensions/v1beta1')),
      'apiVersion',
      /networking\.k8s\.io\/v1/,
    );
    expectError(
      edited(service, (s) => (s.apiVersion = 'apps/v1')),
      'apiVersion',
      /"v1"/,
    );
  });

  it('rejects unknown top-level fields (kubectl strict field validation) but ignores status', () => {
    expectError(
      edited(acnp, (p) => (p.sepc = {})),
      'sepc',
      /unknown field "sepc"/,
    );
    expectValid(edited(acnp, (p) => (p.status = { phase: 'Realized' })));
  });

  it('requires metadata and metadata.name', () => {
    expectError(
      edited(acnp, (p) => delete p.metadata),
      'metadata',
      /Required value/,
    );
    expectError(
      edited(acnp, (p) => (p.metadata = { generateName: 'x-' })),
      'metadata.name',
      /generateName is not supported/,
    );
    expectError(
      edited(acnp, (p) => (p.metadata.name = 5)),
      'metadata.name',
      /must be a string/,
    );
  });

  it('requires names to be DNS-1123 subdomains (Services: DNS-1035 labels)', () => {
    expectError(
      edited(k8sPolicy, (p) => (p.metadata.name = 'Web_Policy')),
      'metadata.name',
      /RFC 1123 subdomain/,
    );
    expectError(
      edited(acnp, (p) => (p.metadata.name = 'a'.repeat(254))),
      'metadata.name',
      /no more than 253/,
    );
    expectValid(edited(acnp, (p) => (p.metadata.name = 'a.b-c.d')));
    expectError(
      edited(service, (s) => (s.metadata.name = '1web')),
      'metadata.name',
      /DNS-1035/,
    );
  });

  it('requires a valid namespace for namespaced kinds', () => {
    for (const obj of [k8sPolicy, annp, group, service]) {
      expectError(
        edited(obj, (o) => delete o.metadata.namespace),
        'metadata.namespace',
        /Required value/,
      );
    }
    expectError(
      edited(annp, (p) => (p.metadata.namespace = 'Prod')),
      'metadata.namespace',
      /RFC 1123 label/,
    );
  });

  it('validates metadata labels and annotations', () => {
    const errors = expectError(
      edited(acnp, (p) => (p.metadata.labels = { 'bad key': 'v' })),
      'metadata.labels[bad key]',
      /name part/,
    );
    assert.equal(errors[0]?.value, 'bad key');
    expectError(
      edited(acnp, (p) => (p.metadata.labels = { ok: 'bad value!' })),
      'metadata.labels[ok]',
      /valid label/,
    );
    expectError(
      edited(acnp, (p) => (p.metadata.labels = { ok: 3 })),
      'metadata.labels[ok]',
      /must be a string/,
    );
    expectError(
      edited(acnp, (p) => (p.metadata.annotations = { a: 1 })),
      'metadata.annotations[a]',
      /must be a string/,
    );
  });

  it('reports a wrong type instead of crashing', () => {
    expectError(
      edited(k8sPolicy, (p) => (p.spec.ingress = {})),
      'spec.ingress',
      /must be an array/,
    );
    expectError(
      edited(k8sPolicy, (p) => (p.spec.ingress = ['x'])),
      'spec.ingress[0]',
      /must be an object/,
    );
    expectError(
      edited(k8sPolicy, (p) => (p.spec = 'x')),
      'spec',
      /must be an object/,
    );
    expectError(
      edited(k8sPolicy, (p) => (p.spec.ingress[0].from[0].podSelector = [])),
      'spec.ingress[0].from[0].podSelector',
      /must be an object/,
    );
  });
});

describe('validateObject: label selectors', () => {
  const withSelector = (selector: unknown): Json =>
    edited(k8sPolicy, (p) => (p.spec.ingress[0].from[0].podSelector = selector));
  const at = 'spec.ingress[0].from[0].podSelector';

  it('checks matchLabels keys and values', () => {
    expectError(
      withSelector({ matchLabels: { '-app': 'x' } }),
      `${at}.matchLabels[-app]`,
      /start and end with an alphanumeric/,
    );
    expectError(
      withSelector({ matchLabels: { 'Example.com/app': 'x' } }),
      `${at}.matchLabels[Example.com/app]`,
      /prefix part/,
    );
    expectError(
      withSelector({ matchLabels: { 'a/b/c': 'x' } }),
      `${at}.matchLabels[a/b/c]`,
      /qualified name/,
    );
    expectError(
      withSelector({ matchLabels: { ['k'.repeat(64)]: 'x' } }),
      `${at}.matchLabels[${'k'.repeat(64)}]`,
      /no more than 63/,
    );
    expectError(withSelector({ matchLabels: { app: 'has space' } }), `${at}.matchLabels[app]`, /valid label/);
    expectError(
      withSelector({ matchLabels: { app: 'v'.repeat(64) } }),
      `${at}.matchLabels[app]`,
      /no more than 63/,
    );
    expectError(withSelector({ matchLabels: { app: 1 } }), `${at}.matchLabels[app]`, /must be a string/);
  });

  it('requires values for In and NotIn', () => {
    expectError(
      withSelector({ matchExpressions: [{ key: 'a', operator: 'In' }] }),
      `${at}.matchExpressions[0].values`,
      /must be specified when `operator` is 'In' or 'NotIn'/,
    );
    expectError(
      withSelector({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] }),
      `${at}.matchExpressions[0].values`,
      /Required value/,
    );
  });

  it('forbids values for Exists and DoesNotExist', () => {
    expectError(
      withSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }),
      `${at}.matchExpressions[0].values`,
      /Forbidden: may not be specified/,
    );
    expectError(
      withSelector({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] }),
      `${at}.matchExpressions[0].values`,
      /Forbidden/,
    );
  });

  it('rejects unknown operators, missing keys and bad values', () => {
    const errors = expectError(
      withSelector({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] }),
      `${at}.matchExpressions[0].operator`,
      /Unsupported value.*"In", "NotIn", "Exists", "DoesNotExist"/,
    );
    assert.equal(errors[0]?.value, 'Equals');
    expectError(
      withSelector({ matchExpressions: [{ key: 'a' }] }),
      `${at}.matchExpressions[0].operator`,
      /Required value/,
    );
    expectError(
      withSelector({ matchExpressions: [{ operator: 'Exists' }] }),
      `${at}.matchExpressions[0].key`,
      /Required value/,
    );
    expectError(
      withSelector({ matchExpressions: [{ key: 'a b', operator: 'Exists' }] }),
      `${at}.matchExpressions[0].key`,
      /name part/,
    );
    expectError(
      withSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: ['ok', 'not ok'] }] }),
      `${at}.matchExpressions[0].values[1]`,
      /valid label/,
    );
  });

  it('rejects misspelt selector fields', () => {
    expectError(withSelector({ matchLabel: { a: 'b' } }), `${at}.matchLabel`, /unknown field "matchLabel"/);
  });
});

describe('validateObject: ports', () => {
  const k8sPorts = (ports: unknown): Json => edited(k8sPolicy, (p) => (p.spec.ingress[0].ports = ports));
  const antreaPorts = (ports: unknown): Json => edited(acnp, (p) => (p.spec.ingress[0].ports = ports));
  const at = 'spec.ingress[0].ports[0]';

  it('requires port numbers 1-65535', () => {
    expectError(k8sPorts([{ port: 0 }]), `${at}.port`, /between 1 and 65535/);
    expectError(k8sPorts([{ port: 65536 }]), `${at}.port`, /between 1 and 65535/);
    expectError(k8sPorts([{ port: 80.5 }]), `${at}.port`, /must be an integer/);
    expectError(antreaPorts([{ port: -1 }]), `${at}.port`, /between 1 and 65535/);
    expectError(k8sPorts([{ port: true }]), `${at}.port`, /integer or a port name/);
  });

  it('requires named ports to be IANA service names', () => {
    expectError(k8sPorts([{ port: 'web_http' }]), `${at}.port`, /alpha-numeric characters/);
    expectError(k8sPorts([{ port: 'abcdefghijklmnop' }]), `${at}.port`, /no more than 15/);
    expectError(k8sPorts([{ port: '8080' }]), `${at}.port`, /at least one letter/);
    expectError(k8sPorts([{ port: 'HTTP' }]), `${at}.port`, /alpha-numeric/);
    expectError(k8sPorts([{ port: '-http' }]), `${at}.port`, /begin or end with a hyphen/);
    expectError(k8sPorts([{ port: 'we--b' }]), `${at}.port`, /consecutive hyphens/);
    expectError(antreaPorts([{ port: 'http-' }]), `${at}.port`, /begin or end with a hyphen/);
  });

  it('requires a numeric port for endPort, no lower than it', () => {
    expectError(
      k8sPorts([{ endPort: 90 }]),
      `${at}.endPort`,
      /may not be specified when `port` is not specified/,
    );
    expectError(k8sPorts([{ port: 'http', endPort: 90 }]), `${at}.endPort`, /non-numeric/);
    const errors = expectError(
      k8sPorts([{ port: 100, endPort: 90 }]),
      `${at}.endPort`,
      /greater than or equal to `port`/,
    );
    assert.equal(errors[0]?.value, 90);
    expectError(k8sPorts([{ port: 100, endPort: 70000 }]), `${at}.endPort`, /between 1 and 65535/);
    expectError(antreaPorts([{ endPort: 90 }]), `${at}.endPort`, /`port` is not specified/);
    expectError(antreaPorts([{ port: 100, endPort: 99 }]), `${at}.endPort`, /greater than or equal/);
  });

  it('accepts only TCP, UDP and SCTP', () => {
    const errors = expectError(
      k8sPorts([{ protocol: 'ICMP' }]),
      `${at}.protocol`,
      /Unsupported value.*"TCP", "UDP", "SCTP"/,
    );
    assert.equal(errors[0]?.value, 'ICMP');
    expectError(antreaPorts([{ protocol: 'tcp', port: 1 }]), `${at}.protocol`, /Unsupported value/);
  });

  it('checks Antrea source port ranges', () => {
    expectError(antreaPorts([{ sourcePort: 0 }]), `${at}.sourcePort`, /between 1 and 65535/);
    expectError(
      antreaPorts([{ sourceEndPort: 100 }]),
      `${at}.sourceEndPort`,
      /`sourcePort` is not specified/,
    );
    expectError(
      antreaPorts([{ sourcePort: 200, sourceEndPort: 100 }]),
      `${at}.sourceEndPort`,
      /greater than or equal to `sourcePort`/,
    );
    expectError(
      antreaPorts([{ sourcePort: 200, sourceEndPort: 65536 }]),
      `${at}.sourceEndPort`,
      /between 1 and 65535/,
    );
  });

  it('rejects source ports in a Kubernetes NetworkPolicy and unknown port fields', () => {
    expectError(k8sPorts([{ port: 80, sourcePort: 1 }]), `${at}.sourcePort`, /unknown field/);
    expectError(antreaPorts([{ port: 80, portRange: 1 }]), `${at}.portRange`, /unknown field/);
  });
});

describe('validateObject: Kubernetes NetworkPolicy peers and policyTypes', () => {
  const withPeer = (peer: unknown): Json => edited(k8sPolicy, (p) => (p.spec.ingress[0].from = [peer]));
  const at = 'spec.ingress[0].from[0]';

  it('requires a peer to select something', () => {
    expectError(withPeer({}), at, /must specify a peer/);
  });

  it('forbids ipBlock together with a selector', () => {
    expectError(
      withPeer({ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }),
      at,
      /both ipBlock and another peer/,
    );
  });

  it('requires a parseable cidr', () => {
    for (const cidr of [
      '10.0.0.0/33',
      '10.0.0/8',
      '10.0.0.256/8',
      'abc',
      '10.0.0.1',
      '010.0.0.0/8',
      'fd00::/129',
      'fd00:::1/64',
      '1:2:3:4:5:6:7:8:9/64',
    ]) {
      expectError(withPeer({ ipBlock: { cidr } }), `${at}.ipBlock.cidr`, /valid CIDR/);
    }
    expectError(withPeer({ ipBlock: {} }), `${at}.ipBlock.cidr`, /Required value/);
    expectError(withPeer({ ipBlock: { cidr: '' } }), `${at}.ipBlock.cidr`, /Required value/);
  });

  it('requires each except to be a CIDR strictly inside cidr', () => {
    const block = (except: string[]): Json => withPeer({ ipBlock: { cidr: '172.17.0.0/16', except } });
    const errors = expectError(
      block(['172.18.0.0/24']),
      `${at}.ipBlock.except[0]`,
      /strict subset of `cidr`/,
    );
    assert.equal(errors[0]?.value, '172.18.0.0/24');
    expectError(block(['172.17.1.0/24', '172.17.0.0/16']), `${at}.ipBlock.except[1]`, /strict subset/);
    expectError(block(['172.17.0.0/8']), `${at}.ipBlock.except[0]`, /strict subset/);
    expectError(block(['fd00::/64']), `${at}.ipBlock.except[0]`, /strict subset/);
    expectError(block(['nonsense']), `${at}.ipBlock.except[0]`, /valid CIDR/);
  });

  it('checks policyTypes values, duplicates and count', () => {
    const errors = expectError(
      edited(k8sPolicy, (p) => (p.spec.policyTypes = ['Ingress', 'Both'])),
      'spec.policyTypes[1]',
      /Unsupported value.*"Ingress", "Egress"/,
    );
    assert.equal(errors.length, 1);
    expectError(
      edited(k8sPolicy, (p) => (p.spec.policyTypes = ['Egress', 'Egress'])),
      'spec.policyTypes[1]',
      /Duplicate value/,
    );
    expectError(
      edited(k8sPolicy, (p) => (p.spec.policyTypes = ['Ingress', 'Egress', 'Ingress'])),
      'spec.policyTypes',
      /more than two/,
    );
  });

  it('points out `to` in an ingress rule and `from` in an egress rule', () => {
    expectError(
      edited(k8sPolicy, (p) => (p.spec.ingress[0].to = [])),
      'spec.ingress[0].to',
      /ingress rules select their sources with `from`/,
    );
    expectError(
      edited(k8sPolicy, (p) => (p.spec.egress[0].from = [])),
      'spec.egress[0].from',
      /egress rules select their destinations with `to`/,
    );
  });

  it('rejects unknown spec fields and peer fields', () => {
    expectError(
      edited(k8sPolicy, (p) => (p.spec.podselector = {})),
      'spec.podselector',
      /unknown field/,
    );
    expectError(withPeer({ group: 'x' }), `${at}.group`, /unknown field/);
  });
});

describe('validateObject: Antrea policies', () => {
  it('requires spec and priority between 1.0 and 10000.0', () => {
    expectError(
      edited(acnp, (p) => delete p.spec),
      'spec',
      /Required value/,
    );
    expectError(
      edited(acnp, (p) => delete p.spec.priority),
      'spec.priority',
      /Required value/,
    );
    for (const priority of [0, 0.5, 10000.1, -3]) {
      const errors = expectError(
        edited(acnp, (p) => (p.spec.priority = priority)),
        'spec.priority',
        /between 1\.0 and 10000\.0/,
      );
      assert.equal(errors[0]?.value, priority);
    }
    expectError(
      edited(acnp, (p) => (p.spec.priority = '5')),
      'spec.priority',
      /must be a number/,
    );
  });

  it('requires the tier to exist', () => {
    const errors = expectError(
      edited(acnp, (p) => (p.spec.tier = 'nosuchtier')),
      'spec.tier',
      /tier "nosuchtier" does not exist/,
      nothingExists,
    );
    assert.equal(errors[0]?.value, 'nosuchtier');
  });

  it('rejects appliedTo in both spec and rules', () => {
    expectError(
      edited(acnp, (p) => (p.spec.ingress[0].appliedTo = [{ podSelector: {} }])),
      'spec.appliedTo',
      /should not be set in both spec and rules/,
    );
  });

  it('requires appliedTo in spec or in rules', () => {
    expectError(
      edited(acnp, (p) => delete p.spec.appliedTo),
      'spec.appliedTo',
      /needs to be set in either spec or rules/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.appliedTo = [])),
      'spec.appliedTo',
      /needs to be set/,
    );
  });

  it('requires appliedTo in every rule when it is not in spec', () => {
    const policy = edited(acnp, (p) => {
      delete p.spec.appliedTo;
      p.spec.ingress[0].appliedTo = [{ podSelector: {} }];
    });
    const errors = expectError(policy, 'spec.egress[0].appliedTo', /must be set in every rule/);
    assert.equal(errors.length, 1);
  });

  it('counts an empty string as unset, like Go', () => {
    expectValid(edited(acnp, (p) => (p.spec.appliedTo = [{ podSelector: {}, group: '' }])));
    expectValid(edited(acnp, (p) => (p.spec.ingress[0].from = [{ podSelector: {}, group: '' }])));
  });

  it('checks appliedTo entries', () => {
    expectError(
      edited(acnp, (p) => (p.spec.appliedTo = [{ group: 'cg', podSelector: {} }])),
      'spec.appliedTo[0].group',
      /group cannot be set with other peers in appliedTo/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.appliedTo = [{}])),
      'spec.appliedTo[0]',
      /must set podSelector, namespaceSelector or group/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.appliedTo = [{ ipBlock: { cidr: '10.0.0.0/8' } }])),
      'spec.appliedTo[0].ipBlock',
      /ipBlock cannot be set in appliedTo/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.appliedTo = [{ podSelector: { matchLabels: { 'x y': 'z' } } }])),
      'spec.appliedTo[0].podSelector.matchLabels[x y]',
      /name part/,
    );
  });

  it('forbids namespaceSelector in the appliedTo of a namespaced Antrea NetworkPolicy', () => {
    expectError(
      edited(annp, (p) => (p.spec.appliedTo = [{ namespaceSelector: {} }])),
      'spec.appliedTo[0].namespaceSelector',
      /Forbidden: namespaceSelector cannot be set in the appliedTo of a namespaced/,
    );
    expectValid(edited(acnp, (p) => (p.spec.appliedTo = [{ namespaceSelector: {} }])));
  });

  it('requires a known action and rejects Pass in the baseline tier', () => {
    const errors = expectError(
      edited(acnp, (p) => (p.spec.ingress[0].action = 'Deny')),
      'spec.ingress[0].action',
      /Unsupported value.*"Allow", "Drop", "Reject", "Pass"/,
    );
    assert.equal(errors[0]?.value, 'Deny');
    expectError(
      edited(acnp, (p) => delete p.spec.egress[0].action),
      'spec.egress[0].action',
      /Required value/,
    );
    for (const baseline of ['baseline', 'Baseline']) {
      expectError(
        edited(acnp, (p) => ((p.spec.tier = baseline), (p.spec.egress[0].action = 'Pass'))),
        'spec.egress[0].action',
        /`Pass` action should not be set for Baseline Tier/,
      );
    }
  });

  it('checks peers like Antrea: group alone, no ipBlock with selectors, not empty', () => {
    const withPeer = (peer: unknown): Json => edited(acnp, (p) => (p.spec.ingress[0].from = [peer]));
    expectError(
      withPeer({ group: 'cg', podSelector: {} }),
      'spec.ingress[0].from[0].group',
      /group cannot be set with other peers in rules/,
    );
    expectError(
      withPeer({ group: 'cg', scope: 'Cluster' }),
      'spec.ingress[0].from[0].group',
      /group cannot be set with other peers/,
    );
    expectError(
      withPeer({ ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} }),
      'spec.ingress[0].from[0]',
      /both ipBlock and another peer/,
    );
    expectError(withPeer({}), 'spec.ingress[0].from[0]', /must specify a peer/);
    expectError(
      withPeer({ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }),
      'spec.ingress[0].from[0].ipBlock.except[0]',
      /strict subset/,
    );
  });

  it('checks the namespaces peer', () => {
    const withPeer = (peer: unknown): Json => edited(acnp, (p) => (p.spec.ingress[0].from = [peer]));
    const at = 'spec.ingress[0].from[0].namespaces';
    expectError(
      withPeer({ namespaces: { match: 'Self' }, namespaceSelector: {} }),
      at,
      /namespaces and namespaceSelector cannot be set at the same time/,
    );
    const errors = expectError(
      withPeer({ namespaces: { match: 'Other' } }),
      `${at}.match`,
      /Unsupported value.*"Self"/,
    );
    assert.equal(errors[0]?.value, 'Other');
    expectError(
      withPeer({ namespaces: { match: 'Self', sameLabels: ['org'] } }),
      at,
      /exactly one of match or sameLabels/,
    );
    expectError(withPeer({ namespaces: {} }), at, /exactly one of match or sameLabels/);
    expectError(withPeer({ namespaces: { sameLabels: ['bad key'] } }), `${at}.sameLabels[0]`, /name part/);
    expectError(withPeer({ namespaces: { sameLabels: [] } }), `${at}.sameLabels`, /at least one label key/);
    expectError(
      edited(annp, (p) => (p.spec.ingress[0].from = [{ namespaces: { match: 'Self' } }])),
      at,
      /not supported in a namespaced Antrea NetworkPolicy/,
    );
  });

  it('requires referenced ClusterGroups and Groups to exist', () => {
    const cnp = edited(acnp, (p) => {
      p.spec.appliedTo = [{ group: 'apps' }];
      p.spec.egress[0].to = [{ group: 'external' }];
    });
    const errors = errorsOf(cnp, { ...nothingExists, clusterGroupExists: (name) => name === 'apps' });
    assert.deepEqual(errors, [
      {
        path: 'spec.egress[0].to[0].group',
        reason: 'ClusterGroup "external" does not exist',
        value: 'external',
      },
    ]);
    const np = edited(annp, (p) => {
      p.spec.appliedTo = [{ group: 'apps' }];
      p.spec.ingress[0].from = [{ group: 'clients' }];
    });
    const seen: string[] = [];
    const npErrors = errorsOf(np, {
      ...nothingExists,
      groupExists: (namespace, name) => (seen.push(`${namespace}/${name}`), name === 'clients'),
    });
    assert.deepEqual(
      npErrors.map((e) => [e.path, e.reason]),
      [['spec.appliedTo[0].group', 'Group "prod/apps" does not exist']],
    );
    assert.deepEqual(seen, ['prod/apps', 'prod/clients'], 'Groups are looked up in the policy namespace');
  });

  it('points out `to` in an ingress rule and `from` in an egress rule', () => {
    expectError(
      edited(acnp, (p) => (p.spec.ingress[0].to = [{ podSelector: {} }])),
      'spec.ingress[0].to',
      /not allowed in an ingress rule/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.egress[0].from = [{ podSelector: {} }])),
      'spec.egress[0].from',
      /not allowed in an egress rule/,
    );
  });

  it('rejects the Antrea features antrea-edge does not implement', () => {
    const cases: [(p: Json) => void, string][] = [
      [(p) => (p.spec.egress[0].to = [{ fqdn: '*.example.com' }]), 'spec.egress[0].to[0].fqdn'],
      [(p) => (p.spec.egress[0].to = [{ nodeSelector: {} }]), 'spec.egress[0].to[0].nodeSelector'],
      [
        (p) => (p.spec.ingress[0].from = [{ serviceAccount: { name: 'a', namespace: 'b' } }]),
        'spec.ingress[0].from[0].serviceAccount',
      ],
      [
        (p) => (p.spec.ingress[0].from = [{ externalEntitySelector: {} }]),
        'spec.ingress[0].from[0].externalEntitySelector',
      ],
      [
        (p) => (p.spec.ingress[0].from = [{ podSelector: {}, scope: 'ClusterSet' }]),
        'spec.ingress[0].from[0].scope',
      ],
      [(p) => (p.spec.egress[0].toServices = [{ name: 's', namespace: 'n' }]), 'spec.egress[0].toServices'],
      [(p) => (p.spec.ingress[0].l7Protocols = [{ http: {} }]), 'spec.ingress[0].l7Protocols'],
      [(p) => (p.spec.ingress[0].protocols = [{ icmp: {} }]), 'spec.ingress[0].protocols'],
      [(p) => (p.spec.appliedTo = [{ service: { name: 's', namespace: 'n' } }]), 'spec.appliedTo[0].service'],
      [
        (p) => (p.spec.appliedTo = [{ serviceAccount: { name: 's', namespace: 'n' } }]),
        'spec.appliedTo[0].serviceAccount',
      ],
      [(p) => (p.spec.appliedTo = [{ nodeSelector: {} }]), 'spec.appliedTo[0].nodeSelector'],
      [
        (p) => (p.spec.appliedTo = [{ externalEntitySelector: {} }]),
        'spec.appliedTo[0].externalEntitySelector',
      ],
    ];
    for (const [edit, path] of cases) {
      expectError(edited(acnp, edit), path, new RegExp(`^${NOT_SUPPORTED}$`));
    }
    expectError(
      edited(clusterGroup, (g) => (g.spec = { nodeSelector: {} })),
      'spec.nodeSelector',
      /not supported by antrea-edge/,
    );
    expectError(
      edited(group, (g) => (g.spec = { externalEntitySelector: {} })),
      'spec.externalEntitySelector',
      /not supported by antrea-edge/,
    );
  });

  it('rejects a scope that does not exist', () => {
    expectError(
      edited(acnp, (p) => (p.spec.ingress[0].from = [{ podSelector: {}, scope: 'Galaxy' }])),
      'spec.ingress[0].from[0].scope',
      /Unsupported value/,
    );
  });

  it('requires rule names to be unique, generated names included', () => {
    const named = edited(acnp, (p) => ((p.spec.ingress[0].name = 'same'), (p.spec.egress[0].name = 'same')));
    expectError(
      named,
      'spec.egress[0].name',
      /unique within the policy: "same" is also the name of spec\.ingress\[0\]/,
    );
    const twins = edited(acnp, (p) => p.spec.ingress.push(structuredClone(p.spec.ingress[0])));
    expectError(twins, 'spec.ingress[1].name', /generated from the rule: the two rules are identical/);
    // The same rule in both directions gets different generated names ("ingress-" vs "egress-").
    const names = expectValid(
      edited(
        acnp,
        (p) => ((p.spec.ingress = [{ action: 'Allow' }]), (p.spec.egress = [{ action: 'Allow' }])),
      ),
    );
    assert.equal(
      names.spec.ingress[0].name.slice('ingress-'.length),
      names.spec.egress[0].name.slice('egress-'.length),
    );
  });

  it('checks logLabel and enableLogging', () => {
    expectError(
      edited(acnp, (p) => (p.spec.ingress[0].logLabel = 'has space')),
      'spec.ingress[0].logLabel',
      /at most 63 alphanumeric/,
    );
    expectError(
      edited(acnp, (p) => (p.spec.ingress[0].logLabel = 'x'.repeat(64))),
      'spec.ingress[0].logLabel',
      /at most 63/,
    );
    expectValid(
      edited(
        acnp,
        (p) => ((p.spec.ingress[0].logLabel = 'frontend-allowed'), (p.spec.ingress[0].enableLogging = true)),
      ),
    );
    expectError(
      edited(acnp, (p) => (p.spec.ingress[0].enableLogging = 'yes')),
      'spec.ingress[0].enableLogging',
      /must be a boolean/,
    );
  });

  it('returns every error of an object at once', () => {
    const policy = edited(acnp, (p) => {
      p.metadata.name = 'Bad_Name';
      p.spec.priority = 0;
      p.spec.tier = 'nope';
      p.spec.ingress[0].action = 'Permit';
      p.spec.ingress[0].ports = [{ port: 70000 }];
      p.spec.egress[0].to = [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }];
    });
    const paths = errorsOf(policy, nothingExists).map((error) => error.path);
    assert.deepEqual(paths, [
      'metadata.name',
      'spec.priority',
      'spec.tier',
      'spec.ingress[0].action',
      'spec.ingress[0].ports[0].port',
      'spec.egress[0].to[0].ipBlock.except[0]',
    ]);
  });
});

describe('validateObject: Tier', () => {
  it('requires a priority 0-255 that is not reserved', () => {
    expectError(
      edited(tier, (t) => delete t.spec),
      'spec',
      /Required value/,
    );
    expectError(
      edited(tier, (t) => delete t.spec.priority),
      'spec.priority',
      /Required value/,
    );
    expectError(
      edited(tier, (t) => (t.spec.priority = 256)),
      'spec.priority',
      /between 0 and 255/,
    );
    expectError(
      edited(tier, (t) => (t.spec.priority = 2.5)),
      'spec.priority',
      /must be an integer/,
    );
    for (const reserved of [251, 252, 254, 255]) {
      expectError(
        edited(tier, (t) => (t.spec.priority = reserved)),
        'spec.priority',
        new RegExp(`priority ${reserved} is reserved`),
      );
    }
  });

  it('rejects a priority that a static or an existing Tier has', () => {
    expectError(
      edited(tier, (t) => (t.spec.priority = 100)),
      'spec.priority',
      /overlaps with the static tier "securityops"/,
    );
    expectError(
      edited(tier, (t) => (t.spec.priority = 250)),
      'spec.priority',
      /overlaps with the static tier "application"/,
    );
    const other = edited(tier, (t) => (t.metadata.name = 'other'));
    expectError(tier, 'spec.priority', /overlaps with an existing Tier/, contextFromObjects([other]));
  });

  it('does not allow a Tier priority to change', () => {
    const ctx = contextFromObjects([tier]);
    expectError(
      edited(tier, (t) => (t.spec.priority = 11)),
      'spec.priority',
      /update to Tier priority is not allowed \(it is 10\)/,
      ctx,
    );
  });

  it('reserves the static tier names', () => {
    expectError(
      edited(tier, (t) => (t.metadata.name = 'baseline')),
      'metadata.name',
      /reserved for the static tier with priority 253/,
    );
  });

  it('checks the description type and unknown fields', () => {
    expectError(
      edited(tier, (t) => (t.spec.description = 5)),
      'spec.description',
      /must be a string/,
    );
    expectError(
      edited(tier, (t) => (t.spec.order = 5)),
      'spec.order',
      /unknown field/,
    );
  });
});

describe('validateObject: ClusterGroup and Group', () => {
  it('allows only podSelector with namespaceSelector as a combination', () => {
    const errors = expectError(
      edited(clusterGroup, (g) => (g.spec.ipBlocks = [{ cidr: '10.0.0.0/8' }])),
      'spec',
      /at most one of podSelector.*found podSelector, ipBlocks/,
    );
    assert.equal(errors.length, 1);
    expectError(
      edited(group, (g) => (g.spec.ipBlock = { cidr: '10.0.0.0/8' })),
      'spec',
      /at most one/,
    );
    expectError(
      edited(group, (g) => (g.spec = { childGroups: ['a'], serviceReference: { name: 's' } })),
      'spec',
      /at most one/,
    );
    expectError(
      edited(clusterGroup, (g) => (g.spec = { namespaceSelector: {}, ipBlocks: [] })),
      'spec',
      /at most one/,
    );
  });

  it('validates ipBlocks and the legacy ipBlock', () => {
    expectError(
      edited(group, (g) => (g.spec.ipBlocks = [{ cidr: '10.0.0.0/8' }, { cidr: '10.0.0.0/40' }])),
      'spec.ipBlocks[1].cidr',
      /valid CIDR/,
    );
    expectError(
      edited(group, (g) => (g.spec = { ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.0/8'] } })),
      'spec.ipBlock.except[0]',
      /strict subset/,
    );
  });

  it('requires serviceReference name, and namespace for a ClusterGroup', () => {
    expectError(
      edited(clusterGroup, (g) => (g.spec = { serviceReference: { namespace: 'default' } })),
      'spec.serviceReference.name',
      /Required value/,
    );
    expectError(
      edited(clusterGroup, (g) => (g.spec = { serviceReference: { name: 'svc' } })),
      'spec.serviceReference.namespace',
      /Required value/,
    );
    expectValid(edited(group, (g) => (g.spec = { serviceReference: { name: 'svc' } })));
    expectError(
      edited(group, (g) => (g.spec = { serviceReference: { name: 'Svc_1' } })),
      'spec.serviceReference.name',
      /DNS-1035/,
    );
  });

  it('checks childGroups: not itself, existing, one level of nesting', () => {
    const parent = edited(
      clusterGroup,
      (g) => (
        (g.metadata.name = 'parent'),
        (g.spec = { childGroups: ['parent', 'missing', 'nested', 'leaf'] })
      ),
    );
    const leaf = edited(clusterGroup, (g) => (g.metadata.name = 'leaf'));
    const nested = edited(
      clusterGroup,
      (g) => ((g.metadata.name = 'nested'), (g.spec = { childGroups: ['leaf'] })),
    );
    const errors = errorsOf(parent, contextFromObjects([leaf, nested]));
    assert.deepEqual(
      errors.map((e) => [e.path, e.reason]),
      [
        ['spec.childGroups[0]', 'cannot set ClusterGroup "parent" as its own childGroup'],
        ['spec.childGroups[1]', 'ClusterGroup "missing" does not exist'],
        [
          'spec.childGroups[2]',
          'cannot set ClusterGroup "nested" as childGroup: it has childGroups itself (one level of nesting only)',
        ],
      ],
    );
    // A group that is somebody's child cannot get children itself.
    expectError(
      edited(leaf, (g) => (g.spec = { childGroups: ['other'] })),
      'spec.childGroups',
      /it is a childGroup of another ClusterGroup/,
      contextFromObjects([nested, edited(leaf, (g) => (g.metadata.name = 'other'))]),
    );
  });

  it('looks child Groups up in the Group namespace', () => {
    const parent = edited(group, (g) => (g.spec = { childGroups: ['a', 'b'] }));
    const a = edited(group, (g) => (g.metadata.name = 'a'));
    const b = edited(group, (g) => ((g.metadata.name = 'b'), (g.metadata.namespace = 'other')));
    const errors = errorsOf(parent, contextFromObjects([a, b]));
    assert.deepEqual(
      errors.map((e) => [e.path, e.reason]),
      [['spec.childGroups[1]', 'Group "prod/b" does not exist']],
    );
  });
});

describe('validateObject: Service', () => {
  it('checks ports, target ports and names', () => {
    expectError(
      edited(service, (s) => (s.spec.ports[0].port = 0)),
      'spec.ports[0].port',
      /between 1 and 65535/,
    );
    expectError(
      edited(service, (s) => (s.spec.ports[0].protocol = 'ICMP')),
      'spec.ports[0].protocol',
      /Unsupported value/,
    );
    expectError(
      edited(service, (s) => (s.spec.ports[0].targetPort = 'Bad_Name')),
      'spec.ports[0].targetPort',
      /alpha-numeric/,
    );
    expectError(
      edited(service, (s) => s.spec.ports.push({ port: 81 })),
      'spec.ports[1].name',
      /multi-port Service need names/,
    );
    expectError(
      edited(service, (s) => s.spec.ports.push({ name: 'http', port: 81 })),
      'spec.ports[1].name',
      /Duplicate value/,
    );
    expectError(
      edited(service, (s) => (s.spec.selector = { app: 'a b' })),
      'spec.selector[app]',
      /valid label/,
    );
  });
});

describe('PolicyValidationError and validateOrThrow', () => {
  it('throws an error with code, every field error and the object identity', () => {
    const bad = edited(annp, (p) => ((p.spec.priority = 0), (p.spec.ingress[0].action = 'Nope')));
    assert.throws(
      () => validateOrThrow(bad, everythingExists),
      (error: unknown) => {
        assert.ok(error instanceof PolicyValidationError);
        assert.equal(error.code, 'PolicyInvalid');
        assert.equal(error.kind, 'AntreaNetworkPolicy');
        assert.equal(error.name, 'annp');
        assert.equal(error.namespace, 'prod');
        assert.equal(error.errors.length, 2);
        assert.match(
          error.message,
          /^AntreaNetworkPolicy "prod\/annp" is invalid: spec\.priority: must be between 1\.0 and 10000\.0, inclusive \(got 0\); spec\.ingress\[0\]\.action: Unsupported value/,
        );
        return true;
      },
    );
  });

  it('returns the defaulted object when valid', () => {
    const object = validateOrThrow(k8sPolicy, everythingExists) as unknown as Json;
    assert.equal(object.spec.ingress[0].ports[0].protocol, 'TCP');
  });

  it('names a K8s NetworkPolicy and a shapeless object sensibly', () => {
    const k8s = new PolicyValidationError([{ path: 'spec', reason: 'x' }], {
      kind: 'K8sNetworkPolicy',
      name: 'n',
      namespace: 'ns',
    });
    assert.equal(k8s.message, 'K8sNetworkPolicy "ns/n" is invalid: spec: x');
    assert.throws(
      () => validateOrThrow(42, everythingExists),
      /Object "" is invalid: <object>: must be an object/,
    );
  });
});

describe('syntax helpers', () => {
  it('qualified names and port names', () => {
    assert.deepEqual(qualifiedNameProblems('app.kubernetes.io/name'), []);
    assert.deepEqual(qualifiedNameProblems('a'), []);
    assert.equal(qualifiedNameProblems('/a').length, 1);
    assert.deepEqual(portNameProblems('http'), []);
    assert.deepEqual(portNameProblems('a-1'), []);
    assert.ok(portNameProblems('').length > 0);
  });

  it('CIDR parsing and containment', () => {
    assert.deepEqual(parseCidr('10.1.2.3/8'), { family: 4, network: 10n << 24n, prefixLength: 8 });
    assert.deepEqual(parseCidr('::/0'), { family: 6, network: 0n, prefixLength: 0 });
    assert.deepEqual(parseCidr('fd00::1/128')?.network, (0xfd00n << 112n) | 1n);
    assert.deepEqual(parseCidr('::ffff:1.2.3.4/128')?.network, (0xffffn << 32n) | 0x01020304n);
    assert.deepEqual(
      parseCidr('1:2:3:4:5:6:1.2.3.4/128')?.network,
      parseCidr('1:2:3:4:5:6:102:304/128')?.network,
    );
    assert.equal(parseCidr('1::2::3/64'), undefined);
    const outer = parseCidr('10.0.0.0/8')!;
    assert.equal(isStrictSubnet(parseCidr('10.255.0.0/16')!, outer), true);
    assert.equal(isStrictSubnet(parseCidr('10.0.0.0/8')!, outer), false);
    assert.equal(isStrictSubnet(parseCidr('11.0.0.0/16')!, outer), false);
  });
});

describe('contextFromObjects', () => {
  it('answers from the objects given', () => {
    const ctx = contextFromObjects([
      tier,
      clusterGroup,
      group,
      edited(clusterGroup, (g) => ((g.metadata.name = 'p'), (g.spec = { childGroups: ['cg'] }))),
    ]);
    assert.equal(ctx.tierExists('mytier'), true);
    assert.equal(ctx.tierExists('other'), false);
    assert.equal(ctx.tierPriorityTaken?.(10, 'x'), true);
    assert.equal(ctx.tierPriorityTaken?.(10, 'mytier'), false);
    assert.equal(ctx.clusterGroupExists('cg'), true);
    assert.equal(ctx.groupExists('prod', 'g'), true);
    assert.equal(ctx.groupExists('other', 'g'), false);
    assert.equal(ctx.clusterGroupHasChildren?.('p'), true);
    assert.equal(ctx.clusterGroupHasParents?.('cg'), true);
    assert.equal(ctx.clusterGroupHasParents?.('p'), false);
  });
});

describe('real manifests from the Kubernetes and Antrea documentation', () => {
  const dir = path.resolve(__dirname, '../fixtures/manifests');
  const load = (file: string): unknown[] => {
    const parsed = parseManifests(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(parsed.errors, [], `${file} parses`);
    assert.ok(parsed.objects.length > 0, `${file} has objects`);
    // Several Kubernetes examples leave the namespace to `kubectl apply -n`.
    return withDefaultNamespace(parsed.objects, 'default');
  };
  const accepted = fs.readdirSync(dir).filter((file) => file.endsWith('.yaml'));

  it('has a dozen or more of them', () => {
    assert.ok(accepted.length >= 12, `${accepted.length} fixtures`);
  });

  for (const file of accepted) {
    it(`accepts ${file} unchanged`, () => {
      // The docs define the referenced groups "separately": assume they exist.
      for (const obj of load(path.join(dir, file))) expectValid(obj, everythingExists);
    });
  }

  it('applies the ClusterGroup examples in order, each seeing the ones before it', () => {
    const objects = load(path.join(dir, 'antrea-clustergroups.yaml'));
    const results = objects.map((obj, index) =>
      validateObject(obj, contextFromObjects(objects.slice(0, index))),
    );
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true, true, false],
    );
    // The doc's nested group lists "test-cg-ip-blocks" but defines "test-cg-ip-block"; Antrea's webhook would let
    // the missing child through, we report it (see validation.ts).
    const last = results[3]!;
    assert.ok(!last.ok);
    assert.deepEqual(last.errors, [
      {
        path: 'spec.childGroups[1]',
        reason: 'ClusterGroup "test-cg-ip-blocks" does not exist',
        value: 'test-cg-ip-blocks',
      },
    ]);
  });

  const rejected: Record<string, [string, RegExp][]> = {
    'antrea-acnp-allow-self-ns-deny-action.yaml': [
      ['spec.ingress[1].action', /Unsupported value/],
      ['spec.egress[1].action', /Unsupported value/],
    ],
    'antrea-acnp-isolation-based-on-org-deny-action.yaml': [
      ['spec.ingress[1].action', /Unsupported value/],
      ['spec.egress[1].action', /Unsupported value/],
    ],
    'antrea-acnp-drop-to-services.yaml': [['spec.egress[0].toServices', /not supported by antrea-edge/]],
    'antrea-acnp-fqdn.yaml': [['spec.egress[0].to[0].fqdn', /not supported by antrea-edge/]],
    'antrea-acnp-l7-http-host.yaml': [['spec.egress[1].l7Protocols', /not supported by antrea-edge/]],
    'antrea-acnp-node-egress-drop.yaml': [['spec.appliedTo[0].nodeSelector', /not supported by antrea-edge/]],
    'antrea-acnp-reject-ping-request.yaml': [['spec.egress[0].protocols', /not supported by antrea-edge/]],
    'antrea-acnp-service-account.yaml': [
      ['spec.appliedTo[0].serviceAccount', /not supported/],
      ['spec.egress[0].to[0].serviceAccount', /not supported/],
    ],
    'antrea-annp-l7-http.yaml': [['spec.ingress[0].l7Protocols', /not supported by antrea-edge/]],
  };

  it('covers every file in rejected/', () => {
    assert.deepEqual(fs.readdirSync(path.join(dir, 'rejected')).sort(), Object.keys(rejected).sort());
  });

  for (const [file, expected] of Object.entries(rejected)) {
    it(`rejects rejected/${file} with the field that is at fault`, () => {
      const [obj] = load(path.join(dir, 'rejected', file));
      const errors = errorsOf(obj);
      assert.deepEqual(
        errors.map((e) => e.path),
        expected.map(([p]) => p),
      );
      expected.forEach(([, reason], index) => assert.match(errors[index]?.reason ?? '', reason));
    });
  }
});

describe('objectKey and parseObjectKey', () => {
  const key = (obj: Json): string => objectKey(obj as unknown as PolicyObject);

  it('spells out the API family of NetworkPolicy and leaves cluster-scoped namespaces empty', () => {
    assert.equal(key(k8sPolicy), 'K8sNetworkPolicy/prod/web');
    assert.equal(key(annp), 'AntreaNetworkPolicy/prod/annp');
    assert.equal(key(acnp), 'ClusterNetworkPolicy//acnp');
    assert.equal(key(edited(acnp, (p) => (p.metadata.namespace = 'ignored'))), 'ClusterNetworkPolicy//acnp');
    assert.equal(key(tier), 'Tier//mytier');
    assert.equal(key(clusterGroup), 'ClusterGroup//cg');
    assert.equal(key(group), 'Group/prod/g');
    assert.equal(key(service), 'Service/prod/web');
    assert.equal(
      key(edited(annp, (p) => (p.apiVersion = 'security.antrea.io/v1alpha1'))),
      'AntreaNetworkPolicy/prod/annp',
    );
  });

  it('parses keys back', () => {
    for (const obj of [k8sPolicy, annp, acnp, tier, clusterGroup, group, service]) {
      const parsed = parseObjectKey(key(obj));
      assert.equal(parsed.name, obj.metadata.name);
      assert.equal(
        parsed.namespace,
        ['ClusterNetworkPolicy', 'Tier', 'ClusterGroup'].includes(obj.kind)
          ? undefined
          : obj.metadata.namespace,
      );
    }
    assert.deepEqual(parseObjectKey('Tier//t'), { kind: 'Tier', name: 't' });
  });

  it('rejects malformed keys with a typed error', () => {
    for (const bad of [
      '',
      'Tier/t',
      'NetworkPolicy/ns/n',
      'Tier/ns/t',
      'Group//g',
      'Group/ns/',
      'Group/ns/g/x',
      'toString//x',
    ]) {
      assert.throws(
        () => parseObjectKey(bad),
        (error: unknown) => error instanceof ObjectKeyError && error.code === 'ObjectKeyInvalid',
        bad,
      );
    }
  });
});
