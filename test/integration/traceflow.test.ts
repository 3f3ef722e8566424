// Traceflow on a real node (OVS + firmware in a netns, the seed's pods through the real CNI plugin): each trace's
// verdict is checked against real traffic between the same pods, policy flow counters must not move during
// injected traces, and no Traceflow flow may remain after a trace. Plus a live trace of a real connection.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flowPackets, run, startTestNode, type TestNode } from '../support/sim-cluster';
import type { TraceflowResult } from '../../firmware/core/traceflow/types';
import type { NetworkPolicyView } from '../../firmware/core/antctl/views';
import { NGINX_ALLOW_EXAMPLE, SEED_NGINX_PODS, SEED_PODS } from '../../scripts/lib/seed';

const BUSYBOX = 'default/ch-busybox';
const CASSANDRA = 'cassandra/cassandra-1';
const nginx = (i: number): string => `default/${SEED_NGINX_PODS[i] ?? ''}`;

const DENY_CASSANDRA_YAML = `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: deny-cassandra-web
spec:
  priority: 3
  appliedTo:
  - podSelector:
      matchLabels:
        app: nginx
  ingress:
  - action: Drop
    name: no-cassandra
    from:
    - namespaceSelector: {}
      podSelector:
        matchLabels:
          app: cassandra
    ports:
    - protocol: TCP
      port: 80
`;

const REJECT_YAML = `apiVersion: crd.antrea.io/v1beta1
kind: ClusterNetworkPolicy
metadata:
  name: reject-busybox-web
spec:
  priority: 5
  appliedTo:
  - podSelector:
      matchLabels:
        app: nginx
  ingress:
  - action: Reject
    name: refuse-busybox
    from:
    - podSelector:
        matchLabels:
          run: ch-busybox
    ports:
    - protocol: TCP
      port: 80
`;

/** Connects once; prints connected | refused | timeout | <error code>. */
const CONNECT_JS = `
const net = require('node:net');
const [host, port, timeoutMs] = process.argv.slice(2);
const socket = net.connect({ host, port: Number(port) });
const done = (what) => { process.stdout.write(what); socket.destroy(); process.exit(0); };
socket.setTimeout(Number(timeoutMs), () => done('timeout'));
socket.on('connect', () => done('connected'));
socket.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code)));
`;

const POLICY_COOKIES = 'cookie=0x0600000000000000/0xff00000000000000';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('traceflow on a real node', function () {
  this.timeout(240_000);
  let t: TestNode;
  let connectScript: string;

  const antctl = (args: string[]): Promise<Run> => {
    const [cmd, ...prefix] = t.node.antctlCommand();
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? 'node', [...prefix, '--socket', t.node.antctlSocket, ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end();
    });
  };

  const traceflow = async (args: string[]): Promise<TraceflowResult> => {
    const result = await antctl(['traceflow', ...args, '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as TraceflowResult;
  };

  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = path.join(t.home, `${name}.yaml`);
    fs.writeFileSync(file, yaml);
    const applied = await antctl(['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
  };

  const waitRealized = async (names: string[]): Promise<void> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listed = await antctl(['get', 'networkpolicy', '-o', 'json']);
      assert.equal(listed.code, 0, listed.stderr);
      const views = JSON.parse(listed.stdout) as NetworkPolicyView[];
      const listedNames = views.map((p) => p.sourceRef.name).sort();
      if (
        JSON.stringify(listedNames) === JSON.stringify([...names].sort()) &&
        views.every((p) => p.realization?.realized === true)
      ) {
        return;
      }
      if (Date.now() > deadline) throw new Error(`policies not realized: ${listedNames.join(',')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const pod = (ref: string): { netnsName: string; ip: string } => {
    const found = t.pods.get(ref);
    if (!found) throw new Error(`no pod ${ref}`);
    return found;
  };

  const connect = async (from: string, to: string, port: number): Promise<string> => {
    const result = await run('ip', [
      'netns',
      'exec',
      pod(from).netnsName,
      process.execPath,
      connectScript,
      pod(to).ip,
      String(port),
      '2000',
    ]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };

  /** Policy flows with their packet counters, for "the trace did not count" checks. */
  const policyCounters = async (): Promise<Map<string, number>> => {
    await t.node.ovs.appctl(['revalidator/wait']);
    const dump = await t.node.ovs.ofctl(['dump-flows', 'br-int', POLICY_COOKIES]);
    const counters = new Map<string, number>();
    for (const line of dump.split('\n')) {
      if (!line.includes('actions=')) continue;
      const key = line
        .trim()
        .split(/,\s*|\s+/)
        .filter((part) => !/^(duration|n_packets|n_bytes|idle_age|hard_age|idle_time)=/.test(part))
        .join(',');
      counters.set(key, Number(/n_packets=(\d+)/.exec(line)?.[1] ?? -1));
    }
    return counters;
  };

  /** Flows a trace installs match the mark register or carry a Traceflow cookie (Pipeline, object 0x7f0000xx). */
  const traceflowFlowsLeft = async (): Promise<string[]> => {
    const dump = await t.node.ovs.ofctl(['dump-flows', 'br-int']);
    return dump.split('\n').filter((line) => /reg7=|cookie=0x10000007f0000/.test(line));
  };

  const observed = (result: TraceflowResult): string[] =>
    result.observations.map((o) => `${o.component}/${o.componentInfo}/${o.action}`);

  before(async () => {
    t = await startTestNode('tf');
    connectScript = path.join(t.home, 'connect.js');
    fs.writeFileSync(connectScript, CONNECT_JS);
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
    await waitRealized(['nginx-allow']);
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
    await waitRealized(['nginx-allow', 'deny-cassandra-web']);
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
    await waitRealized(['nginx-allow', 'deny-cassandra-web', 'reject-busybox-web']);
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
