import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { policyFromForm, type PolicyForm } from '../../firmware/nodered/palette/policy-form';
import { parseSelectorText, SelectorTextError } from '../../firmware/nodered/palette/selector-text';
import { objectsFromPayload } from '../../firmware/nodered/palette/payload';
import { PaletteError } from '../../firmware/nodered/palette/services';
import { validateObject } from '../../firmware/core/api/validation';

const REPO = path.resolve(__dirname, '../..');

const noObjects = {
  tierExists: () => false,
  clusterGroupExists: (name: string) => name === 'maintenance-hosts',
  groupExists: () => false,
};

function seedNginxAllow(): unknown {
  const cases = JSON.parse(
    fs.readFileSync(path.join(REPO, 'test/fixtures/conformance/seed-cases.json'), 'utf8'),
  ) as { steps: { policies: unknown[] }[] }[];
  return cases[0]?.steps[1]?.policies[0];
}

describe('nodered palette: policy form → object', () => {
  it('the policy editor flow pre-fills exactly the seed walkthrough nginx-allow policy', () => {
    const flow = JSON.parse(fs.readFileSync(path.join(REPO, 'flows/policy-editor.json'), 'utf8')) as {
      type: string;
    }[];
    const node = flow.find((n) => n.type === 'antrea-policy');
    const result = policyFromForm(node);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.object, seedNginxAllow());
    assert.deepEqual(result.ref, { kind: 'K8sNetworkPolicy', name: 'nginx-allow', namespace: 'default' });
  });

  it('builds a ClusterNetworkPolicy with tier, priority, appliedTo, ordered rules, peers and ports that validates', () => {
    const form: PolicyForm = {
      kind: 'ClusterNetworkPolicy',
      name: 'web-guard',
      tier: 'securityops',
      priority: '5',
      appliedTo: [{ type: 'pods', value: 'app=web', namespaceSelector: 'env in (prod,staging)' }],
      rules: [
        {
          direction: 'Ingress',
          action: 'Allow',
          name: 'from-maint',
          peers: [
            { type: 'group', value: 'maintenance-hosts' },
            { type: 'cidr', value: '10.0.0.0/8', except: '10.1.0.0/16, 10.2.0.0/16' },
          ],
          ports: 'TCP/22, UDP/53-60, TCP/http, 443',
          enableLogging: true,
        },
        { direction: 'Egress', action: 'Drop', peers: [{ type: 'namespaces', value: '!trusted' }] },
        { direction: 'Ingress', action: 'Reject', peers: [] },
      ],
    };
    const result = policyFromForm(form);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.object, {
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'web-guard' },
      spec: {
        priority: 5,
        tier: 'securityops',
        appliedTo: [
          {
            podSelector: { matchLabels: { app: 'web' } },
            namespaceSelector: {
              matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }],
            },
          },
        ],
        ingress: [
          {
            action: 'Allow',
            name: 'from-maint',
            from: [
              { group: 'maintenance-hosts' },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.0.0/16'] } },
            ],
            ports: [
              { protocol: 'TCP', port: 22 },
              { protocol: 'UDP', port: 53, endPort: 60 },
              { protocol: 'TCP', port: 'http' },
              { protocol: 'TCP', port: 443 },
            ],
            enableLogging: true,
          },
          { action: 'Reject' },
        ],
        egress: [
          {
            action: 'Drop',
            to: [{ namespaceSelector: { matchExpressions: [{ key: 'trusted', operator: 'DoesNotExist' }] } }],
          },
        ],
      },
    });
    const validated = validateObject(result.object, noObjects);
    assert.ok(validated.ok, JSON.stringify(validated));
  });

  it('builds an Antrea NetworkPolicy in its namespace', () => {
    const result = policyFromForm({
      kind: 'AntreaNetworkPolicy',
      name: 'deny-db',
      namespace: 'shop',
      priority: 10,
      appliedTo: [{ type: 'pods', value: 'app=db' }],
      rules: [{ direction: 'Ingress', action: 'Drop', peers: [{ type: 'pods', value: '' }] }],
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.object.kind, 'NetworkPolicy');
    assert.equal(result.object.apiVersion, 'crd.antrea.io/v1beta1');
    assert.deepEqual(result.object.metadata, { name: 'deny-db', namespace: 'shop' });
    assert.deepEqual(result.ref, { kind: 'AntreaNetworkPolicy', name: 'deny-db', namespace: 'shop' });
    assert.ok(validateObject(result.object, noObjects).ok);
  });

  it('reports every problem of the form with its field path', () => {
    const result = policyFromForm({
      kind: 'ClusterNetworkPolicy',
      name: '',
      priority: 'high',
      appliedTo: [{ type: 'cidr', value: '10.0.0.0/8' }],
      rules: [
        {
          direction: 'Sideways',
          action: 'Allow',
          peers: [{ type: 'pods', value: 'app in (a' }],
          ports: 'TCP/80-',
        },
        { direction: 'Egress', action: 'Maybe', peers: [{ type: 'group', value: '' }, { type: 'planet' }] },
      ],
    });
    assert.equal(result.ok, false);
    const paths = result.ok ? [] : result.errors.map((error) => error.path);
    assert.deepEqual(paths, [
      'name',
      'priority',
      'appliedTo[0].type',
      'rules[0].direction',
      'rules[0].peers[0].value',
      'rules[0].ports[0]',
      'rules[1].action',
      'rules[1].peers[1].type',
      'rules[1].peers[0].value',
    ]);
  });

  it('keeps Kubernetes NetworkPolicies to what they can express', () => {
    const result = policyFromForm({
      kind: 'K8sNetworkPolicy',
      name: 'x',
      namespace: 'default',
      appliedTo: [{ type: 'namespaces', value: 'a=b' }],
      rules: [{ direction: 'Ingress', action: 'Drop', name: 'n', peers: [{ type: 'group', value: 'g' }] }],
    });
    assert.equal(result.ok, false);
    assert.deepEqual(result.ok ? [] : result.errors.map((error) => error.path), [
      'appliedTo[0].type',
      'rules[0].action',
      'rules[0].name',
      'rules[0].peers[0].type',
    ]);
  });

  it('needs a namespace for namespaced kinds and a known kind', () => {
    const missing = policyFromForm({
      kind: 'AntreaNetworkPolicy',
      name: 'a',
      priority: 1,
      appliedTo: [{ type: 'pods', value: '' }],
      rules: [{ direction: 'Ingress', action: 'Allow', peers: [] }],
    });
    assert.deepEqual(missing.ok ? [] : missing.errors.map((e) => e.path), ['namespace']);
    const unknown = policyFromForm({ kind: 'Firewall', name: 'a' });
    assert.deepEqual(unknown.ok ? [] : unknown.errors.map((e) => e.path), ['kind']);
  });

  it('adds Egress to policyTypes of a Kubernetes policy with egress rules', () => {
    const result = policyFromForm({
      kind: 'K8sNetworkPolicy',
      name: 'dns-only',
      namespace: 'default',
      appliedTo: [{ type: 'pods', value: '' }],
      rules: [
        {
          direction: 'Egress',
          action: 'Allow',
          peers: [{ type: 'cidr', value: '10.96.0.10/32' }],
          ports: 'UDP/53',
        },
      ],
    });
    assert.ok(result.ok);
    assert.deepEqual(result.object, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'dns-only', namespace: 'default' },
      spec: {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{ to: [{ ipBlock: { cidr: '10.96.0.10/32' } }], ports: [{ protocol: 'UDP', port: 53 }] }],
      },
    });
  });
});

describe('nodered palette: selector text', () => {
  it('parses kubectl selector syntax', () => {
    assert.deepEqual(parseSelectorText(''), {});
    assert.deepEqual(parseSelectorText('app=web, tier==front'), {
      matchLabels: { app: 'web', tier: 'front' },
    });
    assert.deepEqual(parseSelectorText('env!=prod,k in (a, b),j notin (c),x,!y'), {
      matchExpressions: [
        { key: 'env', operator: 'NotIn', values: ['prod'] },
        { key: 'k', operator: 'In', values: ['a', 'b'] },
        { key: 'j', operator: 'NotIn', values: ['c'] },
        { key: 'x', operator: 'Exists' },
        { key: 'y', operator: 'DoesNotExist' },
      ],
    });
  });

  it('rejects malformed selectors', () => {
    for (const bad of ['app in (a', 'a=b,,c=d', 'a b c', 'x in ()', 'a)']) {
      assert.throws(() => parseSelectorText(bad), SelectorTextError, bad);
    }
  });
});

describe('nodered palette: apply payload', () => {
  it('reads multi-document YAML, objects, arrays and Lists, giving namespaced objects the default namespace', () => {
    const yaml =
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: {}}\n---\napiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: b}\nspec: {priority: 1}\n';
    const objects = objectsFromPayload(yaml, 'shop') as { metadata: { namespace?: string } }[];
    assert.equal(objects.length, 2);
    assert.equal(objects[0]?.metadata.namespace, 'shop');
    assert.equal(objects[1]?.metadata.namespace, undefined);
    assert.equal(objectsFromPayload({ kind: 'List', items: [{}, {}] }).length, 2);
    assert.equal(objectsFromPayload([{}]).length, 1);
  });

  it('names the line and column of YAML syntax errors', () => {
    assert.throws(
      () => objectsFromPayload('kind: NetworkPolicy\nmetadata:\n  name: [a\n'),
      (error: unknown) =>
        error instanceof PaletteError &&
        error.code === 'Invalid' &&
        /^line \d+ column \d+$/.test(error.fieldErrors[0]?.path ?? ''),
    );
    assert.throws(() => objectsFromPayload(42), PaletteError);
    assert.throws(() => objectsFromPayload([]), PaletteError);
  });
});
