// The agent enforces policies on real traffic: a real node (OVS + firmware in a netns) with the seed's pods
// attached through the real CNI plugin, policies applied with antctl, probes with busybox wget and TCP connects
// from inside the pods. Covers realization status, Reject through the agent's OpenFlow connection, a firmware
// SIGKILL (fail closed, flows untouched), an ovs-vswitchd restart (meter replayed before the flows), editing
// one policy (only its flows change) and deleting policies (traffic flows again).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { run, startTestNode, type TestNode } from '../support/sim-cluster';
import type { AgentInfoView, NetworkPolicyView } from '../../firmware/core/antctl/views';
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

interface DumpedFlow {
  /** table, priority, match and actions: what identifies the flow and what it does. */
  text: string;
  packets: number;
  durationSeconds: number;
}

describe('policy enforcement on a real node', function () {
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

  const apply = async (name: string, yaml: string): Promise<void> => {
    const file = path.join(t.home, `${name}.yaml`);
    fs.writeFileSync(file, yaml);
    const applied = await antctl(['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.stderr);
  };

  const policies = async (): Promise<NetworkPolicyView[]> => {
    const listed = await antctl(['get', 'networkpolicy', '-o', 'json']);
    assert.equal(listed.code, 0, listed.stderr);
    return JSON.parse(listed.stdout) as NetworkPolicyView[];
  };

  /** Waits until exactly these source policies exist and every one is realized in OVS. */
  const waitRealized = async (names: string[]): Promise<NetworkPolicyView[]> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const listed = await policies();
      const listedNames = listed.map((p) => p.sourceRef.name).sort();
      if (
        JSON.stringify(listedNames) === JSON.stringify([...names].sort()) &&
        listed.every((p) => p.realization?.realized === true)
      ) {
        return listed;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `policies not realized: ${JSON.stringify(listed.map((p) => [p.uid, p.realization]))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const pod = (ref: string): { netnsName: string; ip: string } => {
    const found = t.pods.get(ref);
    if (!found) throw new Error(`no pod ${ref}`);
    return found;
  };

  /** busybox wget (2 s) from one pod to another's HTTP server: true when the page came back. */
  const wget = async (from: string, to: string): Promise<boolean> => {
    const result = await run('ip', [
      'netns',
      'exec',
      pod(from).netnsName,
      // Debian's busybox 1.35 wget segfaults with -T (measured): coreutils timeout bounds it instead.
      'timeout',
      '2',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${pod(to).ip}/`,
    ]);
    return result.code === 0;
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

  const policyFlows = async (): Promise<DumpedFlow[]> => {
    await t.node.ovs.appctl(['revalidator/wait']);
    const dump = await t.node.ovs.ofctl(['dump-flows', 'br-int', POLICY_COOKIES]);
    return dump
      .split('\n')
      .filter((line) => line.includes('actions='))
      .map((line) => ({
        text: line
          .trim()
          .split(/,\s*|\s+/)
          .filter((part) => !/^(duration|n_packets|n_bytes|idle_age|hard_age|idle_time)=/.test(part))
          .join(','),
        packets: Number(/n_packets=(\d+)/.exec(line)?.[1] ?? -1),
        durationSeconds: Number(/duration=([\d.]+)s/.exec(line)?.[1] ?? -1),
      }))
      .sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  };

  const logRecords = (msg: string): Record<string, unknown>[] =>
    fs
      .readFileSync(t.node.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record['msg'] === msg);

  const agentInfo = async (): Promise<AgentInfoView> => {
    const info = await antctl(['get', 'agentinfo', '-o', 'json']);
    assert.equal(info.code, 0, info.stderr);
    return JSON.parse(info.stdout) as AgentInfoView;
  };

  before(async () => {
    t = await startTestNode('enf');
    connectScript = path.join(t.home, 'connect.js');
    fs.writeFileSync(connectScript, CONNECT_JS);
    for (const spec of SEED_PODS) await t.pods.add(spec);
  });

  after(async () => {
    await t?.stop();
  });

  it('without policies busybox reaches nginx, and no policy flow is installed', async () => {
    assert.equal(await wget(BUSYBOX, nginx(0)), true);
    assert.equal(await wget(CASSANDRA, nginx(1)), true);
    assert.deepEqual(await policyFlows(), []);
    assert.equal((await agentInfo()).openflowConnectionUp, true);
  });

  it('the seed nginx-allow, once realized, drops busybox and cassandra and lets nginx in', async () => {
    const seedCases = JSON.parse(
      fs.readFileSync(path.join(__dirname, '../fixtures/conformance/seed-cases.json'), 'utf8'),
    ) as { steps: { policies: unknown[] }[] }[];
    assert.deepEqual(parseYaml(NGINX_ALLOW_YAML), seedCases[0]?.steps[1]?.policies[0], 'the seed policy');
    await apply('nginx-allow', NGINX_ALLOW_YAML);
    const [realized] = await waitRealized(['nginx-allow']);
    assert.ok(realized?.realization && realized.realization.realizedGeneration > 0);
    const table = await antctl(['get', 'networkpolicy']);
    assert.match(
      table.stdout.split('\n')[0] ?? '',
      /^NAME\s+APPLIED-TO\s+RULES\s+SOURCE\s+.*PRIORITY\s+REALIZED$/,
    );
    assert.match(table.stdout.split('\n')[1] ?? '', /\strue$/);

    assert.equal(await wget(BUSYBOX, nginx(0)), false, 'busybox -> nginx must time out');
    assert.equal(await wget(CASSANDRA, nginx(2)), false, 'cassandra -> nginx must time out');
    assert.equal(await wget(nginx(1), nginx(0)), true, 'nginx -> nginx is allowed');
    assert.equal(await wget(nginx(0), nginx(2)), true, 'nginx -> nginx is allowed');
    assert.ok((await policyFlows()).length > 0);
  });

  it('editing one policy changes only its own flows: the others keep their counters and age', async () => {
    await apply('cassandra-allow', cassandraAllow(9042));
    await waitRealized(['nginx-allow', 'cassandra-allow']);
    assert.equal(await wget(nginx(1), nginx(0)), true, 'traffic through nginx-allow counts packets');
    const before = await policyFlows();
    const realizationsBefore = logRecords('policy flows realized').length;
    await new Promise((r) => setTimeout(r, 1100)); // flows that stay untouched get older

    await apply('cassandra-allow', cassandraAllow(9043));
    await waitRealized(['nginx-allow', 'cassandra-allow']);
    const after = await policyFlows();
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
    const realizations = logRecords('policy flows realized').slice(realizationsBefore);
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
    await waitRealized(['nginx-allow', 'cassandra-allow', 'reject-busybox-web']);
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'refused');
    assert.equal(await connect(BUSYBOX, nginx(2), 80), 'refused');
    assert.equal(await wget(nginx(1), nginx(0)), true, 'nginx -> nginx is still allowed');
    const meters = await t.node.ovs.ofctl(['dump-meters', 'br-int']);
    assert.match(meters, /meter=256 pktps/);
  });

  it('SIGKILL and restart of the firmware: traffic stays blocked throughout, policy flows untouched', async () => {
    const before = await policyFlows();
    assert.ok(before.length > 0);
    await t.node.killFirmware('SIGKILL');
    assert.equal(await wget(CASSANDRA, nginx(0)), false, 'blocked while the firmware is down');
    assert.equal(await wget(BUSYBOX, nginx(0)), false, 'blocked while the firmware is down');
    let restarting = true;
    const probes: boolean[] = [];
    const probing = (async () => {
      while (restarting) probes.push(await wget(CASSANDRA, nginx(1)));
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
    await waitRealized(['nginx-allow', 'cassandra-allow', 'reject-busybox-web']);
    const after = await policyFlows();
    assert.deepEqual(
      after.map((f) => f.text),
      before.map((f) => f.text),
    );
    for (const flow of after) {
      const old = before.find((f) => f.text === flow.text);
      assert.ok(old && flow.durationSeconds >= old.durationSeconds, `not re-added: ${flow.text}`);
    }
    const resyncs = logRecords('flows resynchronised');
    const last = resyncs[resyncs.length - 1];
    assert.deepEqual([last?.['added'], last?.['modified'], last?.['deleted']], [0, 0, 0]);
    assert.equal(await wget(BUSYBOX, nginx(0)), false);
    assert.equal(await connect(BUSYBOX, nginx(0), 80), 'refused', 'Reject answered by the new process');
    assert.equal(await wget(nginx(1), nginx(0)), true);
  });

  it('ovs-vswitchd restart: the meter is replayed before the flows and Reject still works', async () => {
    const before = await policyFlows();
    const resyncsBefore = logRecords('flows resynchronised').length;
    await t.node.ovs.restartVswitchd();
    const deadline = Date.now() + 60_000;
    while (logRecords('flows resynchronised').length <= resyncsBefore) {
      if (Date.now() > deadline) throw new Error('no resync after the ovs-vswitchd restart');
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await agentInfo()).status, 'Healthy');
    assert.deepEqual(
      (await policyFlows()).map((f) => f.text),
      before.map((f) => f.text),
    );
    assert.match(await t.node.ovs.ofctl(['dump-meters', 'br-int']), /meter=256 pktps/);
    // The first packets after a restart may be lost while the gateway and ARP settle; Reject must answer.
    let outcome = '';
    for (let i = 0; i < 10 && outcome !== 'refused'; i++) outcome = await connect(BUSYBOX, nginx(0), 80);
    assert.equal(outcome, 'refused');
    assert.equal(await wget(CASSANDRA, nginx(0)), false);
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
    while ((await policyFlows()).length > 0) {
      if (Date.now() > deadline) throw new Error('policy flows were not removed');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await policies(), []);
    assert.equal(await wget(BUSYBOX, nginx(0)), true);
    assert.equal(await wget(CASSANDRA, nginx(1)), true);
    assert.equal(await connect(BUSYBOX, nginx(2), 80), 'connected');
  });
});
