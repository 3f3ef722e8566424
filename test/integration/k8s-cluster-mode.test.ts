// Cluster mode on a real node: the firmware (OVS + firmware in a netns) watches an in-process FakeApiServer through
// the real @kubernetes/client-node; pods are attached through the real CNI plugin (the simulator) and their Pod
// objects exist in the API, which alone gives their labels. Policies created in the API are enforced on real
// traffic, API label changes change enforcement, antctl apply/delete become API writes, and a node rebooted while
// the API server is down keeps enforcing its last policies, then catches up when the server returns.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeApiServer } from '../support/fake-apiserver';
import { NetnsApiBridge } from '../support/k8s-netns-bridge';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import { antctlRunner, applyYaml, firmwareLog, waitRealized, type Antctl } from '../support/node-client';
import { wget } from '../support/pod-probes';
import { LocalApiClient } from '../../firmware/http/local-api';

const NS = 'k8st';
const NODE_NAME = 'antrea-edge-sim'; // DevNode's default --node-name
const WEB = `${NS}/web`;
const CLIENT = `${NS}/client`;
const OTHER = `${NS}/other`;

function apiPod(name: string, labels: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: NS, name, labels },
    spec: { nodeName: NODE_NAME, containers: [{ name: 'c', image: 'busybox' }] },
  };
}

/** ACNP: web pods drop TCP 80 from pods labelled app=<from>. */
function dropToWeb(from: string): object {
  return {
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'k8s-drop-to-web' },
    spec: {
      priority: 5,
      appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
      ingress: [
        {
          action: 'Drop',
          from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: from } } }],
          ports: [{ protocol: 'TCP', port: 80 }],
        },
      ],
    },
  };
}

/** Polls a probe until it gives `expected` (probes take up to 2 s; 30 s at most), then asserts it. */
async function eventually(what: string, probe: () => Promise<boolean>, expected: boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = !expected;
  while (Date.now() < deadline) {
    last = await probe();
    if (last === expected) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.equal(last, expected, what);
}

describe('cluster mode on a real node (FakeApiServer, real client, real traffic)', function () {
  this.timeout(300_000);
  let server: FakeApiServer;
  let bridge: NetnsApiBridge | undefined;
  let t: TestNode | undefined;
  let antctl: Antctl;
  let dir: string;

  const reach = (from: string): Promise<boolean> => wget(node(), from, WEB);
  const node = (): TestNode => {
    if (!t) throw new Error('no test node');
    return t;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-k8s-api-'));
    server = new FakeApiServer();
    await server.start();
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { env: 'edge' } } });
    server.seed(apiPod('web', { app: 'web' }));
    server.seed(apiPod('client', { app: 'client' }));
    server.seed(apiPod('other', { app: 'other' }));
    const kubeconfig = path.join(dir, 'kubeconfig.yaml');
    fs.writeFileSync(kubeconfig, server.kubeconfig());
    t = await startTestNode('k8s', { extraArgs: ['--mode', 'cluster', '--kubeconfig', kubeconfig] });
    antctl = antctlRunner(t.node);
    bridge = new NetnsApiBridge({ netns: t.node.nodeNs, server, dir });
    await bridge.start();
    // No labels through the CNI: in cluster mode they come from the API alone.
    await t.pods.add({ namespace: NS, name: 'web', httpPort: 80 });
    await t.pods.add({ namespace: NS, name: 'client' });
    await t.pods.add({ namespace: NS, name: 'other' });
  });

  after(async () => {
    await t?.stop();
    await bridge?.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('enforces a policy created in the API on real traffic', async () => {
    await eventually('client reaches web before any policy', () => reach(CLIENT), true);
    server.seed(dropToWeb('client'));
    await waitRealized(antctl, { exactly: ['k8s-drop-to-web'] });
    assert.equal(await reach(CLIENT), false, 'client is dropped');
    assert.equal(await reach(OTHER), true, 'other is still allowed');
  });

  it('changes enforcement when a pod label changes in the API', async () => {
    server.seed(apiPod('client', { app: 'visitor' }));
    await eventually('relabelled client reaches web', () => reach(CLIENT), true);
    server.seed(apiPod('client', { app: 'client' }));
    await eventually('client dropped again', () => reach(CLIENT), false);
  });

  it('turns antctl apply and delete, and pod label changes, into API objects', async () => {
    await applyYaml(
      antctl,
      dir,
      'np',
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-only-other
  namespace: ${NS}
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: other
`,
    );
    const created = server.get('NetworkPolicy', NS, 'web-only-other', 'networking.k8s.io/v1');
    assert.ok(created, 'the NetworkPolicy exists in the API');
    assert.deepEqual((created.spec as { podSelector: unknown }).podSelector, { matchLabels: { app: 'web' } });
    await waitRealized(antctl, { exactly: ['k8s-drop-to-web', 'web-only-other'] });
    assert.equal(await reach(OTHER), true);

    // The local API's pod label endpoint (console, Node-RED) patches the Pod.
    const local = new LocalApiClient({ socketPath: node().node.antctlSocket });
    await local.setPodLabels(NS, 'other', { app: 'other', tier: 'front' });
    assert.deepEqual(server.get('Pod', NS, 'other')?.metadata?.labels, { app: 'other', tier: 'front' });

    const deleted = await antctl(['delete', 'networkpolicy', 'web-only-other', '-n', NS]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(server.get('NetworkPolicy', NS, 'web-only-other', 'networking.k8s.io/v1'), undefined);
    await waitRealized(antctl, { exactly: ['k8s-drop-to-web'] });
  });

  it('keeps enforcing after a reboot with the API server down, then catches up', async () => {
    const logOffset = fs.statSync(node().node.logFile).size;
    await server.stop();
    await node().node.killFirmware('SIGTERM');
    await node().node.startFirmware();
    // Loaded from SQLite, realized before any watch could sync.
    await waitRealized(antctl, { exactly: ['k8s-drop-to-web'] }, { tolerateErrors: true });
    assert.equal(await reach(CLIENT), false, 'blocked traffic stays blocked');
    assert.equal(await reach(OTHER), true, 'allowed traffic stays allowed');
    const loaded = firmwareLog(node().node, logOffset).find(
      (r) => r['msg'] === 'cluster state loaded from the store',
    );
    assert.ok(loaded, 'the firmware loaded its last known objects');
    assert.ok(Number(loaded['objects']) >= 5, JSON.stringify(loaded));
    assert.ok(
      firmwareLog(node().node, logOffset).some((r) => r['msg'] === 'watch stopped; restarting'),
      'the watches failed and are retrying',
    );

    // While the server was down the policy changed: now it is `other` that web drops.
    server.seed(dropToWeb('other'));
    await server.start();
    await eventually('other dropped after catching up', () => reach(OTHER), false);
    await eventually('client allowed after catching up', () => reach(CLIENT), true);
  });
});
