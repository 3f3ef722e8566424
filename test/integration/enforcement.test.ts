// The agent enforces policies on real traffic: a real node (OVS + firmware in a netns) with the seed's pods
// attached through the real CNI plugin, policies applied with antctl, probes with busybox wget and TCP connects
// from inside the pods. Covers realization status, Reject through the agent's OpenFlow connection, a firmware
// SIGKILL (fail closed, flows untouched), an ovs-vswitchd restart (meter replayed before the flows), editing
// one policy (only its flows change) and deleting policies (traffic flows again).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startTestNode, type TestNode } from '../support/sim-cluster';
import {
  antctlJson,
  antctlRunner,
  applyYaml,
  listPolicies,
  logRecords,
  policyFlows,
  waitRealized,
  type Antctl,
} from '../support/node-client';
import { connectProbe, wget } from '../support/pod-probes';
import { nginxWebAcnp } from '../support/policies';
import type { AntreaAgentInfoView, NetworkPolicyView } from '../../firmware/core/antctl/views';
import { NGINX_ALLOW_EXAMPLE, SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';

const NGINX = SEED_NGINX_PODS;
const BUSYBOX = 'default/ch-busybox';
const CASSANDRA = 'cassandra/cassandra-1';
const nginx = (i: number): string => `default/${NGINX[i] ?? ''}`;

// The seed's step 2 policy as shipped for users (asserted equal to shared/conformance/seed-cases.json below).
const NGINX_ALLOW_YAML = fs.readFileSync(NGINX_ALLOW_EXAMPLE, 'utf8');

const cassandraAllow = (port: number): string => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: cassandra-allow
  namespace: cassandra
spec:
  podSelector:
    matchLabels:
      app: cassandra
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          run: ch-busybox
    ports:
    - protocol: TCP
      port: ${port}
`;

// Busybox may not open nginx's port 80; everything else is left to the other policies.
const REJECT_YAML = nginxWebAcnp('reject-busybox-web', 5, [
  { action: 'Reject', from: { run: 'ch-busybox' } },
]);

describe('policy enforcement on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;
  let antctl: Antctl;

  const apply = (name: string, yaml: string): Promise<void> => applyYaml(antctl, t.home, name, yaml);
  const realizedExactly = (names: string[]): Promise<NetworkPolicyView[]> =>
    waitRealized(antctl, { exactly: names });
  const connect = (from: string, to: string, port: number): Promise<string> =>
    connectProbe(t, from, to, port);
  const agentInfo = (): Promise<AntreaAgentInfoView> =>
    antctlJson<AntreaAgentInfoView>(antctl, ['get', 'agentinfo', '-o', 'json']);
  const condition = (info: AntreaAgentInfoView, type: string): string | undefined =>
    info.agentConditions?.find((c) => c.type === type)?.status;

  before(async () => {
    t = await startTestNode('enf');
    antctl = antctlRunner(t.node);
    for (const spec of SEED_PODS) await t.pods.add(spec);
  });

  after(async () => {
    await t?.stop();
  });

  it('without policies busybox reaches nginx, and no policy flow is installed', async () => {
    assert.equal(await wget(t, BUSYBOX, nginx(0)), true);
    assert.equal(await wget(t, CASSANDRA, nginx(1)), true);
    assert.deepEqual(await policyFlows(t.node), []);
    assert.equal(condition(await agentInfo(), 'OpenflowConnectionUp'), 'True');
  });

  it('the seed nginx-allow, once realized, drops busybox and cassandra and lets nginx in', async () => {
    const seedCases = JSON.parse(
      fs.readFileSync(path.join(__dirname, '../fixtures/conformance/seed-cases.json'), 'utf8'),
    ) as { steps: { policies: unknown[] }[] }[];
    assert.deepEqual(parseYaml(NGINX_ALLOW_YAML), seedCases[0]?.steps[1]?.policies[0], 'the seed policy');
    await apply('nginx-allow', NGINX_ALLOW_YAML);
    const [realized] = await realizedExactly(['nginx-allow']);
    assert.ok(realized?.realization && realized.realization.realizedGeneration > 0);
    const table = await antctl(['get', 'networkpolicy']);
    assert.match(
      table.stdout.split('\n')[0] ?? '',
      /^NAME\s+APPLIED-TO\s+RULES\s+SOURCE\s+.*PRIORITY\s+REALIZED$/,
    );
    assert.match(table.stdout.split('\n')[1] ?? '', /\strue$/);

    assert.equal(await wget(t, BUSYBOX, nginx(0)), false, 'busybox -> nginx must time out');
    assert.equal(await wget(t, CASSANDRA, nginx(2)), false, 'cassandra -> nginx must time out');
    assert.equal(await wget(t, nginx(1), nginx(0)), true, 'nginx -> nginx is allowed');
    assert.equal(await wget(t, nginx(0), nginx(2)), true, 'nginx -> nginx is allowed');
    assert.ok((await policyFlows(t.node)).length > 0);
  });

  it('editing one policy changes only its own flows: the others keep their counters and age', async () => {
    await apply('cassandra-allow', cassandraAllow(9042));
    await realizedExactly(['nginx-allow', 'cassandra-allow']);
    assert.equal(await wget(t, nginx(1), nginx(0)), true, 'traffic through nginx-allow counts packets');
    const before = await policyFlows(t.node);
    const realizationsBefore = logRecords(t.node, 'policy flows realized').length;
    await new Promise((r) => setTimeout(r, 1100)); // flows that stay untouched get older

    await apply('cassandra-allow', cassandraAllow(9043));
    await realizedExactly(['nginx-allow', 'cassandra-allow']);
    const after = await policyFlows(t.node);
    const beforeTexts = new Set(before.map((f) => f.text));
    const afterTexts = new Set(after.map((f) => f.text));
    const added = after.filter((f) => !beforeTexts.has(f.text));
    const removed = before.filter((f) => !afterTexts.has(f.text));
    assert.ok(
      added.some((f) => f.text.includes('tp_dst=9043')),
      'the new port is enforced',
    );
    assert.ok(
      removed.some((f) => f.text.includes('tp_dst=9042')),
      'the old port is gone',
    );
    for (const flow of after.filter((f) => beforeTexts.has(f.text))) {
      const old = before.find((f) => f.text === flow.text);
      assert.ok(old && flow.packets >= old.packets, `counters kept: ${flow.text}`);
      assert.ok(old && flow.durationSeconds > old.durationSeconds, `not re-added: ${flow.text}`);
    }
    assert.ok(
      before.some((f) => f.packets > 0 && afterTexts.has(f.text)),
      'a flow that counted nginx traffic is still there',
    );
    // Its bundle carried exactly the difference: a flow whose match stayed but whose actions (conjunction id)
    // changed is one modify, i.e. one text removed and one added in the dump.
    const realizations = logRecords(t.node, 'policy flows realized').slice(realizationsBefore);
    const last = realizations[realizations.length - 1];
    assert.ok(last, 'a realization was logged');
    const [logAdded, logModified, logDeleted] = [last['added'], last['modified'], last['deleted']].map(
      Number,
    );
    assert.equal((logAdded ?? NaN) + (logModified ?? NaN), added.length);
    assert.equal((logDeleted ?? NaN) + (logModified ?? NaN), removed.length);
    assert.ok(added.length + removed.length < before.length, 'far fewer flows changed than exist');
    assert.equal(typeof last['durationMs'], 'number');
  });

  it('an Antrea ClusterNetworkPolicy Reject rule makes the client see "Connection refused"', async () => {
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'timeout', 'dropped by nginx-allow before');
    await apply('reject', REJECT_YAML);
    await realizedExactly(['nginx-allow', 'cassandra-allow', 'reject-busybox-web']);
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'refused');
    assert.equal(await connect(BUSYBOX, nginx(2), 80), 'refused');
    assert.equal(await wget(t, nginx(1), nginx(0)), true, 'nginx -> nginx is still allowed');
    const meters = await t.node.ovs.ofctl(['dump-meters', 'br-int']);
    assert.match(meters, /meter=256 pktps/);
  });

  it('SIGKILL and restart of the firmware: traffic stays blocked throughout, policy flows untouched', async () => {
    const before = await policyFlows(t.node);
    assert.ok(before.length > 0);
    await t.node.killFirmware('SIGKILL');
    assert.equal(await wget(t, CASSANDRA, nginx(0)), false, 'blocked while the firmware is down');
    assert.equal(await wget(t, BUSYBOX, nginx(0)), false, 'blocked while the firmware is down');
    let restarting = true;
    const probes: boolean[] = [];
    const probing = (async () => {
      while (restarting) probes.push(await wget(t, CASSANDRA, nginx(1)));
    })();
    try {
      await t.node.startFirmware();
    } finally {
      restarting = false;
      await probing;
    }
    assert.ok(probes.length > 0);
    assert.deepEqual(
      probes.filter((ok) => ok),
      [],
      'no probe got through during the restart',
    );
    await realizedExactly(['nginx-allow', 'cassandra-allow', 'reject-busybox-web']);
    const after = await policyFlows(t.node);
    assert.deepEqual(
      after.map((f) => f.text),
      before.map((f) => f.text),
    );
    for (const flow of after) {
      const old = before.find((f) => f.text === flow.text);
      assert.ok(old && flow.durationSeconds >= old.durationSeconds, `not re-added: ${flow.text}`);
    }
    const resyncs = logRecords(t.node, 'flows resynchronised');
    const last = resyncs[resyncs.length - 1];
    assert.deepEqual([last?.['added'], last?.['modified'], last?.['deleted']], [0, 0, 0]);
    assert.equal(await wget(t, BUSYBOX, nginx(0)), false);
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'refused', 'Reject answered by the new process');
    assert.equal(await wget(t, nginx(1), nginx(0)), true);
  });

  it('ovs-vswitchd restart: the meter is replayed before the flows and Reject still works', async () => {
    const before = await policyFlows(t.node);
    const resyncsBefore = logRecords(t.node, 'flows resynchronised').length;
    await t.node.ovs.restartVswitchd();
    const deadline = Date.now() + 60_000;
    while (logRecords(t.node, 'flows resynchronised').length <= resyncsBefore) {
      if (Date.now() > deadline) throw new Error('no resync after the ovs-vswitchd restart');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(condition(await agentInfo(), 'AgentHealthy'), 'True');
    assert.deepEqual(
      (await policyFlows(t.node)).map((f) => f.text),
      before.map((f) => f.text),
    );
    assert.match(await t.node.ovs.ofctl(['dump-meters', 'br-int']), /meter=256 pktps/);
    // The first packets after a restart may be lost while the gateway and ARP settle; Reject must answer.
    let outcome = '';
    for (let i = 0; i < 10 && outcome !== 'refused'; i++) outcome = await connect(BUSYBOX, nginx(0), 80);
    assert.equal(outcome, 'refused');
    assert.equal(await wget(t, CASSANDRA, nginx(0)), false);
  });

  it('deleting the policies removes their flows and traffic flows again', async () => {
    for (const args of [
      ['delete', 'netpol', 'nginx-allow', '-n', 'default'],
      ['delete', 'netpol', 'cassandra-allow', '-n', 'cassandra'],
      ['delete', 'acnp', 'reject-busybox-web'],
    ]) {
      const deleted = await antctl(args);
      assert.equal(deleted.code, 0, deleted.stderr);
    }
    const deadline = Date.now() + 30_000;
    while ((await policyFlows(t.node)).length > 0) {
      if (Date.now() > deadline) throw new Error('policy flows were not removed');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await listPolicies(antctl), []);
    assert.equal(await wget(t, BUSYBOX, nginx(0)), true);
    assert.equal(await wget(t, CASSANDRA, nginx(1)), true);
    assert.equal(await connect(BUSYBOX, nginx(2), 80), 'connected');
  });
});
