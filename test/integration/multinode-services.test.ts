// ClusterIP Services the way k3s does them with kube-proxy, on two nodes: iptables DNAT in node 1's namespace
// stands in for kube-proxy. Pod → ClusterIP goes to the gateway (table 40), kube-proxy picks a backend on this
// node or across the tunnel, and the reply comes back through the gateway to be un-DNATed. Egress policy applies
// to the real backend, not to the ClusterIP.
import assert from 'node:assert/strict';
import { antctlRunner, applyYaml, waitRealized } from '../support/node-client';
import { must, run } from '../support/run';
import { startMultiNode, type MultiNode } from '../support/multi-node';
import type { SimPod } from '../../scripts/lib/sim-pods';

/** Inside the firmware's default --service-cidr 10.96.0.0/12. */
const LOCAL_SERVICE_IP = '10.96.0.10';
const REMOTE_SERVICE_IP = '10.96.0.11';
const PASS_MS = 5000;
const FAIL_MS = 1000;

describe('multi-node: ClusterIP Services through kube-proxy (iptables DNAT) and antrea-gw0', function () {
  this.timeout(240_000);
  let mn: MultiNode;
  let client: SimPod;
  let local: SimPod;
  let remote: SimPod;

  const wget = async (from: SimPod, ip: string): Promise<{ ok: boolean; page: string }> => {
    const result = await run('ip', [
      'netns',
      'exec',
      from.netnsName,
      'timeout',
      '5',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${ip}/`,
    ]);
    return { ok: result.code === 0, page: result.stdout };
  };

  before(async () => {
    mn = await startMultiNode(2, 'svc', { extraArgs: ['--node-red', 'false'] });
    client = await mn.addPod(1, { namespace: 'default', name: 'client', labels: { app: 'client' } });
    local = await mn.addPod(1, { namespace: 'default', name: 'local', labels: { app: 'web' }, httpPort: 80 });
    remote = await mn.addPod(2, {
      namespace: 'default',
      name: 'remote',
      labels: { app: 'web' },
      httpPort: 80,
    });
    const ns = mn.node(1).dev.nodeNs;
    // What kube-proxy (iptables mode) sets up on the node: forwarding and a DNAT per ClusterIP.
    await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    for (const [serviceIp, backend] of [
      [LOCAL_SERVICE_IP, local],
      [REMOTE_SERVICE_IP, remote],
    ] as const) {
      await must('ip', [
        'netns',
        'exec',
        ns,
        'iptables',
        '-t',
        'nat',
        '-A',
        'PREROUTING',
        '-d',
        `${serviceIp}/32`,
        '-p',
        'tcp',
        '--dport',
        '80',
        '-j',
        'DNAT',
        '--to-destination',
        `${backend.ip}:80`,
      ]);
    }
  });

  after(async () => {
    await mn?.stop();
  });

  it('reaches a ClusterIP whose backend is on the same node', async () => {
    const got = await wget(client, LOCAL_SERVICE_IP);
    assert.ok(got.ok, 'wget through the local service failed');
    assert.match(got.page, new RegExp(`Served by default/local \\(${local.ip}\\)`));
  });

  it('reaches a ClusterIP whose backend is on another node, replies coming back through the gateway', async () => {
    const got = await wget(client, REMOTE_SERVICE_IP);
    assert.ok(got.ok, 'wget through the remote service failed');
    assert.match(got.page, new RegExp(`Served by default/remote \\(${remote.ip}\\)`));
    assert.equal(await mn.tcpConnect(client, REMOTE_SERVICE_IP, 80, PASS_MS), 'connected');
  });

  it('applies egress policy to the real backend, not to the ClusterIP', async () => {
    const antctl = antctlRunner(mn.node(1).dev);
    await applyYaml(
      antctl,
      mn.home,
      'client-egress',
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: client-egress
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: client
  policyTypes: [Egress]
  egress:
    - to:
        - ipBlock:
            cidr: ${local.ip}/32
`,
    );
    await waitRealized(antctl, { exactly: ['client-egress'] });
    assert.equal(await mn.tcpConnect(client, LOCAL_SERVICE_IP, 80, PASS_MS), 'connected');
    assert.notEqual(await mn.tcpConnect(client, REMOTE_SERVICE_IP, 80, FAIL_MS), 'connected');
    assert.notEqual(await mn.tcpConnect(client, remote.ip, 80, FAIL_MS), 'connected');
    const removed = await antctl(['delete', 'networkpolicy', 'client-egress', '-n', 'default']);
    assert.equal(removed.code, 0, removed.stderr);
    await waitRealized(antctl, { count: 0 });
    assert.equal(await mn.tcpConnect(client, REMOTE_SERVICE_IP, 80, PASS_MS), 'connected');
  });
});
