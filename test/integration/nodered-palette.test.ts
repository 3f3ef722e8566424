// The palette over a real firmware: its services built from the agent's local API (LocalApiClient, the AgentApi the
// firmware serves), a flow of apply-policy → what-if and a policy node in Node-RED (node-red-node-test-helper),
// the seed's pods behind the real CNI plugin; checks the policy's flows in OVS and that the what-if answer changes.
import assert from 'node:assert/strict';
import { helper } from '../support/nodered-palette-helper';
import applyPolicyNode from '../../firmware/nodered/palette/apply-policy';
import policyNode from '../../firmware/nodered/palette/policy';
import whatIfNode from '../../firmware/nodered/palette/what-if';
import { silentLogger } from '../../firmware/core/logger';
import { LocalApiClient } from '../../firmware/http/local-api';
import { createPaletteServices } from '../../firmware/nodered/palette/firmware-services';
import type { PaletteServices } from '../../firmware/nodered/palette/services';
import { SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';
import { antctlRunner, type Antctl } from '../support/node-client';
import { startTestNode, type TestNode } from '../support/sim-cluster';

type Msg = Record<string, unknown> & { payload?: unknown; error?: { code?: string } };

const BUSYBOX = 'default/ch-busybox';
const NGINX = `default/${SEED_NGINX_PODS[0] ?? ''}`;
const NGINX_ALLOW = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'nginx-allow', namespace: 'default' },
  spec: {
    podSelector: { matchLabels: { app: 'nginx' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'nginx' } } }] }],
  },
};

describe('nodered palette on a real firmware', function () {
  this.timeout(240_000);
  let t: TestNode;
  let antctl: Antctl;
  let services: PaletteServices;

  const next = (id: string): Promise<Msg> =>
    new Promise((resolve) =>
      (helper.getNode(id) as { on(e: 'input', l: (m: Msg) => void): void }).on('input', resolve),
    );
  const send = (id: string, msg: Msg): void => (helper.getNode(id) as { receive(m: Msg): void }).receive(msg);

  before(async () => {
    t = await startTestNode('npal');
    antctl = antctlRunner(t.node);
    for (const spec of SEED_PODS) await t.pods.add(spec);
    services = createPaletteServices({
      api: new LocalApiClient({ socketPath: t.node.antctlSocket }),
      logger: silentLogger,
    });
  });

  afterEach(async () => {
    await helper.unload();
  });

  after(async () => {
    await t?.stop();
  });

  it('applies nginx-allow from a flow: realized in OVS, and what-if busybox → nginx turns from Allow to Drop', async () => {
    helper.settings({ antreaEdge: services });
    await helper.load(
      [applyPolicyNode, whatIfNode],
      [
        {
          id: 'before',
          type: 'antrea-what-if',
          source: BUSYBOX,
          destination: NGINX,
          protocol: 'TCP',
          port: '80',
          wires: [['beforeOut']],
        },
        { id: 'beforeOut', type: 'helper' },
        { id: 'apply', type: 'antrea-apply-policy', namespace: '', wires: [['after', 'applied']] },
        { id: 'applied', type: 'helper' },
        {
          id: 'after',
          type: 'antrea-what-if',
          source: BUSYBOX,
          destination: NGINX,
          protocol: 'TCP',
          port: '80',
          wires: [['afterOut']],
        },
        { id: 'afterOut', type: 'helper' },
        { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ],
    );

    const before = next('beforeOut');
    send('before', { payload: 'check' });
    assert.equal(((await before).payload as { verdict: string }).verdict, 'Allow');

    const applied = next('applied');
    const after = next('afterOut');
    send('apply', { payload: JSON.stringify(NGINX_ALLOW) });
    assert.deepEqual(
      ((await applied).payload as { key: string; result: string }[]).map((r) => [r.key, r.result]),
      [['K8sNetworkPolicy/default/nginx-allow', 'created']],
    );
    const verdict = (await after).payload as {
      verdict: string;
      ingress: { rule?: { policy: { name: string } } };
    };
    assert.equal(verdict.verdict, 'Drop');
    assert.equal(verdict.ingress.rule?.policy.name, 'nginx-allow');

    const ref = { kind: 'K8sNetworkPolicy' as const, name: 'nginx-allow', namespace: 'default' };
    await until(async () => (await services.realization(ref)).state === 'Realized');
    const flows = await antctl(['get', 'ovsflows', '-N', 'nginx-allow', '-n', 'default']);
    assert.equal(flows.code, 0, flows.stderr);
    const lines = flows.stdout.split('\n').filter((line) => line.includes('actions='));
    assert.ok(lines.length > 0, `nginx-allow has flows in OVS:\n${flows.stdout}`);
    assert.ok(
      lines.some((line) => line.includes('conj')),
      `nginx-allow's rule flows:\n${flows.stdout}`,
    );
  });

  it('sends the real validation errors of a bad policy to Catch with their field paths, applying nothing', async () => {
    helper.settings({ antreaEdge: services });
    await helper.load(
      [applyPolicyNode],
      [
        { id: 'apply', type: 'antrea-apply-policy', namespace: '', wires: [[]] },
        { id: 'c1', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
      ],
    );
    const caught = next('caught');
    const bad = {
      ...NGINX_ALLOW,
      metadata: { name: 'bad-port', namespace: 'default' },
      spec: { ...NGINX_ALLOW.spec, ingress: [{ ports: [{ protocol: 'TCP', port: 70000 }] }] },
    };
    send('apply', { payload: bad });
    const msg = await caught;
    assert.equal(msg.error?.code, 'Invalid');
    const fieldErrors = msg.fieldErrors as { path: string; index?: number }[];
    assert.deepEqual(
      fieldErrors.map((e) => [e.index, e.path]),
      [[0, 'spec.ingress[0].ports[0].port']],
    );
    assert.equal(
      (await services.realization({ kind: 'K8sNetworkPolicy', name: 'bad-port', namespace: 'default' }))
        .state,
      'NotFound',
    );
  });

  it('a policy node applies its form on deploy and shows Realized with rule hit counts', async () => {
    helper.settings({ antreaEdge: services });
    await helper.load(
      [policyNode],
      [
        {
          id: 'p1',
          type: 'antrea-policy',
          name: 'palette-drop-busybox',
          kind: 'ClusterNetworkPolicy',
          priority: '5',
          appliedTo: [{ type: 'pods', value: 'app=nginx' }],
          rules: [
            {
              direction: 'Ingress',
              action: 'Drop',
              name: 'drop-busybox',
              peers: [{ type: 'pods', value: 'run=ch-busybox' }],
              ports: 'TCP/80',
            },
          ],
          statusIntervalMs: 200,
          wires: [[]],
        },
      ],
    );
    const texts: string[] = [];
    const target = helper.getNode('p1') as { status: (s: { text?: string }) => void };
    const original = target.status.bind(target);
    target.status = (status) => {
      original(status);
      texts.push(status.text ?? '');
    };
    await until(() => Promise.resolve(texts.some((text) => text.startsWith('Realized · hits drop-busybox'))));
    const flows = await antctl(['get', 'ovsflows', '-N', 'palette-drop-busybox']);
    assert.equal(flows.code, 0, flows.stderr);
    assert.ok(flows.stdout.includes('actions='), flows.stdout);
    const verdict = await services.whatIf({ source: BUSYBOX, destination: NGINX, protocol: 'TCP', port: 80 });
    assert.equal(verdict.ingress.rule?.ruleName, 'drop-busybox');
  });
});

async function until(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
