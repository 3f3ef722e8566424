// Traceflow on a real node (OVS + firmware in a netns, the seed's pods through the real CNI plugin): each trace's
// verdict is checked against real traffic between the same pods, policy flow counters must not move during
// injected traces, and no Traceflow flow may remain after a trace. Plus a live trace of a real connection.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { flowPackets, startTestNode, type TestNode } from '../support/sim-cluster';
import {
  antctlJson,
  antctlRunner,
  applyYaml,
  policyFlows,
  waitRealized,
  type Antctl,
} from '../support/node-client';
import { connectProbe, findPod } from '../support/pod-probes';
import { nginxWebAcnp } from '../support/policies';
import type { SimPod } from '../../scripts/lib/sim-pods';
import type { TraceflowResult } from '../../firmware/core/traceflow/types';
import { NGINX_ALLOW_EXAMPLE, SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';

const BUSYBOX = 'default/ch-busybox';
const CASSANDRA = 'cassandra/cassandra-1';
const nginx = (i: number): string => `default/${SEED_NGINX_PODS[i] ?? ''}`;

const DENY_CASSANDRA_YAML = nginxWebAcnp('deny-cassandra-web', 3, [
  { action: 'Drop', name: 'no-cassandra', from: { app: 'cassandra' }, anyNamespace: true },
]);

const REJECT_YAML = nginxWebAcnp('reject-busybox-web', 5, [
  { action: 'Reject', name: 'refuse-busybox', from: { run: 'ch-busybox' } },
]);

describe('traceflow on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;

  let antctl: Antctl;

  const traceflow = (args: string[]): Promise<TraceflowResult> =>
    antctlJson<TraceflowResult>(antctl, ['traceflow', ...args, '-o', 'json']);
  const apply = (name: string, yaml: string): Promise<void> => applyYaml(antctl, t.home, name, yaml);
  const realizedExactly = async (names: string[]): Promise<void> => {
    await waitRealized(antctl, { exactly: names });
  };
  const pod = (ref: string): SimPod => findPod(t, ref);
  const connect = (from: string, to: string, port: number): Promise<string> =>
    connectProbe(t, from, to, port);

  /** Policy flows with their packet counters, for "the trace did not count" checks. */
  const policyCounters = async (): Promise<Map<string, number>> =>
    new Map((await policyFlows(t.node)).map((flow) => [flow.text, flow.packets]));

  /** Flows a trace installs match the mark register or carry a Traceflow cookie (Pipeline, object 0x7f0000xx). */
  const traceflowFlowsLeft = async (): Promise<string[]> => {
    const dump = await t.node.ovs.ofctl(['dump-flows', 'br-int']);
    return dump.split('\n').filter((line) => /reg7=|cookie=0x10000007f0000/.test(line));
  };

  const observed = (result: TraceflowResult): string[] =>
    result.observations.map((o) => `${o.component}/${o.componentInfo}/${o.action}`);

  before(async () => {
    t = await startTestNode('tf');
    antctl = antctlRunner(t.node);
    for (const spec of SEED_PODS) await t.pods.add(spec);
  });

  after(async () => {
    await t?.stop();
  });

  it('without policies: Delivered to the destination Pod, as real traffic is, and no flow remains', async () => {
    const delivered = (): Promise<number> => flowPackets(t.node, 110, 'output:NXM_NX_REG1[]');
    const deliveredBefore = await delivered();
    const result = await traceflow(['-S', BUSYBOX, '-D', nginx(0), '--port', '80']);
    assert.equal(await delivered(), deliveredBefore, 'the injected packet was never output');
    const sourcePort = /:(\d+) > /.exec(result.packet)?.[1];
    const conntrack = await t.node.ovs.appctl(['dpctl/dump-conntrack']);
    assert.ok(
      sourcePort && !conntrack.includes(`sport=${sourcePort},dport=80`),
      'no conntrack entry committed',
    );
    assert.equal(result.phase, 'Succeeded', result.reason);
    assert.equal(result.verdict, 'Delivered');
    assert.deepEqual(observed(result), [
      'SpoofGuard/SpoofGuard/Forwarded',
      'Forwarding/L2Forwarding/Forwarded',
      'Output/Output/Delivered',
    ]);
    assert.equal(result.observations[2]?.pod, nginx(0));
    assert.match(result.packet, new RegExp(`^tcp ${pod(BUSYBOX).ip}:\\d+ > ${pod(nginx(0)).ip}:80 \\[S\\]`));
    assert.ok(result.tablePath && result.tablePath.some((s) => s.tableName === 'L2Forwarding'));
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'connected', 'real traffic agrees');
    assert.match(
      await t.node.ovs.appctl(['dpctl/dump-conntrack']),
      new RegExp(`src=${pod(BUSYBOX).ip},dst=${pod(nginx(0)).ip},sport=\\d+,dport=80`),
      'a real connection is committed (so the check above can fail)',
    );
    assert.deepEqual(await traceflowFlowsLeft(), []);

    const icmp = await traceflow(['-S', BUSYBOX, '--destination-ip', pod(CASSANDRA).ip]);
    assert.equal(icmp.verdict, 'Delivered');
    assert.match(icmp.packet, /^icmp .* type 8 code 0$/);
    assert.equal(icmp.observations.at(-1)?.pod, CASSANDRA);
  });

  it('K8s isolation: Dropped in IngressDefaultRule with the isolating policy; allowed peers Delivered with their rule', async () => {
    await apply('nginx-allow', fs.readFileSync(NGINX_ALLOW_EXAMPLE, 'utf8'));
    await realizedExactly(['nginx-allow']);
    // Real traffic first, so counters have something to keep.
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'timeout');
    assert.equal(await connect(nginx(1), nginx(0), 80), 'connected');
    const before = await policyCounters();
    assert.ok(
      [...before.values()].some((n) => n > 0),
      'real traffic counted',
    );

    const dropped = await traceflow(['-S', BUSYBOX, '-D', nginx(0), '--port', '80']);
    assert.equal(dropped.verdict, 'Dropped');
    const last = dropped.observations.at(-1);
    assert.equal(last?.component, 'NetworkPolicy');
    assert.equal(last?.componentInfo, 'IngressDefaultRule');
    assert.equal(last?.direction, 'Ingress');
    assert.deepEqual(last?.networkPolicy, {
      type: 'K8sNetworkPolicy',
      namespace: 'default',
      name: 'nginx-allow',
    });

    const allowed = await traceflow(['-S', nginx(1), '-D', nginx(0), '--port', '80']);
    assert.equal(allowed.verdict, 'Delivered');
    const ingress = allowed.observations.find((o) => o.component === 'NetworkPolicy');
    assert.equal(ingress?.action, 'Forwarded');
    assert.equal(ingress?.componentInfo, 'IngressRule');
    assert.equal(ingress?.networkPolicy?.name, 'nginx-allow');

    assert.deepEqual(await policyCounters(), before, 'injected packets are not counted by policy flows');
    assert.deepEqual(await traceflowFlowsLeft(), []);
  });

  it('an Antrea Drop rule: Dropped with the policy and rule name, as real traffic is', async () => {
    await apply('deny-cassandra', DENY_CASSANDRA_YAML);
    await realizedExactly(['nginx-allow', 'deny-cassandra-web']);
    const before = await policyCounters();
    const result = await traceflow(['-S', CASSANDRA, '-D', nginx(2), '--port', '80']);
    assert.equal(result.verdict, 'Dropped');
    const last = result.observations.at(-1);
    assert.equal(last?.componentInfo, 'IngressRule');
    assert.equal(last?.tableName, 'CNPApplicationIngressRule');
    assert.deepEqual(last?.networkPolicy, { type: 'AntreaClusterNetworkPolicy', name: 'deny-cassandra-web' });
    assert.equal(last?.ruleName, 'no-cassandra');
    assert.deepEqual(await policyCounters(), before);
    assert.equal(await connect(CASSANDRA, nginx(2), 80), 'timeout', 'real traffic agrees');
    assert.deepEqual(await traceflowFlowsLeft(), []);
  });

  it('an Antrea Reject rule: Rejected with the rule; the real client is refused', async () => {
    await apply('reject', REJECT_YAML);
    await realizedExactly(['nginx-allow', 'deny-cassandra-web', 'reject-busybox-web']);
    const before = await policyCounters();
    const table = await antctl(['traceflow', '-S', BUSYBOX, '-D', nginx(0), '--port', '80']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^verdict:\s+Rejected$/m);
    assert.match(
      table.stdout,
      /^NetworkPolicy\s+IngressRule\s+Rejected\s+CNPApplicationIngressRule\s+ACNP reject-busybox-web\s+refuse-busybox\s+Ingress$/m,
    );
    assert.deepEqual(await policyCounters(), before);
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'refused', 'real traffic agrees');
    assert.deepEqual(await traceflowFlowsLeft(), []);
  });

  it('live: traces the next real connection, which still gets through', async () => {
    const tracing = traceflow(['-S', nginx(1), '-D', nginx(0), '--port', '80', '--live', '--timeout', '15']);
    // The trace's flows go in before the agent waits; poll until they are there, then connect for real.
    const deadline = Date.now() + 10_000;
    while ((await traceflowFlowsLeft()).length === 0) {
      if (Date.now() > deadline) throw new Error('live trace flows never appeared');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await connect(nginx(1), nginx(0), 80), 'connected');
    const result = await tracing;
    assert.equal(result.live, true);
    assert.equal(result.phase, 'Succeeded', result.reason);
    assert.equal(result.verdict, 'Delivered');
    assert.match(result.packet, new RegExp(`^tcp ${pod(nginx(1)).ip}:\\d+ > ${pod(nginx(0)).ip}:80 \\[S\\]`));
    assert.equal(
      result.observations.find((o) => o.component === 'NetworkPolicy')?.networkPolicy?.name,
      'nginx-allow',
    );
    assert.deepEqual(await traceflowFlowsLeft(), []);
  });

  it('live without matching traffic fails after its timeout and cleans up', async () => {
    const result = await traceflow([
      '-S',
      BUSYBOX,
      '-D',
      nginx(2),
      '--port',
      '81',
      '--live',
      '--timeout',
      '1',
    ]);
    assert.equal(result.phase, 'Failed');
    assert.match(result.reason ?? '', /no matching packet within 1s/);
    assert.deepEqual(result.observations, []);
    assert.deepEqual(await traceflowFlowsLeft(), []);
  });

  it('rejects bad requests with the reason', async () => {
    const missing = await antctl(['traceflow', '-S', 'default/nope', '-D', nginx(0), '--port', '80']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /source Pod default\/nope is not attached on this node/);
    const noPort = await antctl(['traceflow', '-S', BUSYBOX, '-D', nginx(0), '--protocol', 'UDP']);
    assert.equal(noPort.code, 2);
    assert.match(noPort.stderr, /destination port is required/);
  });
});
