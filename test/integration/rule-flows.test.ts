// Policy rules compiled to conjunctive flows and proven with real packets: a private ovs-vswitchd (userspace
// datapath) in a network namespace of its own, the pipeline and pod flows, pods in namespaces with veths, and
// real TCP connections between them. Policies go through a real PolicyController; every verdict the data path
// gives is compared with what `evaluate()` says for the same pair and port. No agent is involved.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { objectKey } from '../../firmware/core/api/object-key';
import type { PodInfo, PolicyObject } from '../../firmware/core/api/types';
import { PolicyController } from '../../firmware/core/controller/policy-controller';
import { evaluate, type Verdict } from '../../firmware/core/evaluate/evaluator';
import { silentLogger } from '../../firmware/core/logger';
import { CookieCategory, cookieScope, formatFlowMod, makeCookie } from '../../firmware/core/pipeline/flow';
import {
  pipelineFlows,
  podFlows,
  type LocalPodPort,
  type NodeNetwork,
} from '../../firmware/core/pipeline/pipeline-flows';
import {
  compilePolicyFlows,
  createPolicyFlowState,
  mergeRuleFlows,
  type PolicyFlowState,
  type PolicyFlowsResult,
} from '../../firmware/core/pipeline/policy-flows';
import { Tables } from '../../firmware/core/pipeline/tables';
import { isEmptyPlan, planFlows } from '../../firmware/core/plan/flow-plan';
import { FlowWriter } from '../../firmware/ovs/flow-writer';
import { OvsProcesses } from '../../firmware/ovs/ovs-processes';
import { must as mustDefault, run as runDefault, type RunOptions, type RunResult } from '../support/run';

/** Probes and bulk installs here can be slow on a loaded machine. */
const run = (cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> =>
  runDefault(cmd, args, { timeoutMs: 120_000, ...options });
const must = (cmd: string, args: string[], options: RunOptions = {}): Promise<string> =>
  mustDefault(cmd, args, { timeoutMs: 120_000, ...options });

/** Unique per test process; every netns, link and bridge name below starts with it. */
const TAG = `rf${process.pid % 100000}`;
const NODE = 'rf-node';
const POLICY_SCOPE = cookieScope(CookieCategory.Policy);
/** Every pod listens on all of these. */
const LISTEN_PORTS = [80, 5432, 8080, 8999, 9000, 9050, 9100, 9101];
const PROBE_TIMEOUT_MS = 2000;

function elapsedMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

// Small Node programs run inside the pods' namespaces.
const SERVER_JS = `
const net = require('node:net');
const ports = process.argv.slice(2).map(Number);
let ready = 0;
for (const port of ports) {
  const server = net.createServer((socket) => {
    socket.on('data', (data) => socket.write(data));
    socket.on('error', () => undefined);
  });
  server.listen(port, '0.0.0.0', () => { if (++ready === ports.length) console.log('ready'); });
}
`;
const PROBE_JS = `
const net = require('node:net');
const [targetsJson, timeoutText] = process.argv.slice(2);
const targets = JSON.parse(targetsJson);
const timeout = Number(timeoutText);
Promise.all(targets.map(([ip, port]) => new Promise((resolve) => {
  const socket = net.connect({ host: ip, port });
  const timer = setTimeout(() => { socket.destroy(); resolve('Timeout'); }, timeout);
  socket.on('connect', () => { clearTimeout(timer); socket.end(); resolve('Connected'); });
  socket.on('error', (err) => {
    clearTimeout(timer);
    resolve(err.code === 'ECONNREFUSED' ? 'Refused' : 'Error:' + err.code);
  });
}))).then((results) => console.log(JSON.stringify(results)));
`;
const SESSION_JS = `
const net = require('node:net');
const readline = require('node:readline');
const [ip, port] = process.argv.slice(2);
const socket = net.connect({ host: ip, port: Number(port) });
socket.on('connect', () => console.log('connected'));
socket.on('data', (data) => process.stdout.write('echo:' + data.toString()));
socket.on('error', (err) => console.log('error:' + err.code));
readline.createInterface({ input: process.stdin }).on('line', (line) => socket.write(line + '\\n'));
`;

interface TestPod {
  info: PodInfo;
  netns: string;
  port: LocalPodPort;
}

/** 'Connected', 'Timeout', 'Refused' or 'Error:<code>'. */
type ProbeOutcome = string;

interface Probe {
  from: string;
  to: string;
  port: number;
  /** What the scenario means to show; evaluate() must say the same, and the data path must agree. */
  expect: Verdict;
}

/** A line-oriented child process whose stdout lines can be awaited. */
class LineProcess {
  private readonly lines: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        this.lines.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf('\n');
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
  }

  async waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex(predicate);
      if (index >= 0) return this.lines.splice(index, 1)[0] as string;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching line within ${timeoutMs} ms (got ${JSON.stringify(this.lines)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  write(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

describe('policy rule flows enforce the evaluator’s verdicts on real traffic', function () {
  this.timeout(300_000);
  const nodeNs = `${TAG}n`;
  const bridge = `${TAG}br`;
  const gwName = `${TAG}gw`;
  let dir: string;
  let ovs: OvsProcesses;
  let writer: FlowWriter;
  let node: NodeNetwork;
  let controller: PolicyController;
  let state: PolicyFlowState;
  const pods = new Map<string, TestPod>();
  const servers: LineProcess[] = [];
  const localPods = new Map<string, { ofport: number; ip: string }>();
  const flowsPerRule: string[] = [];

  const podSpecs: { key: string; labels: Record<string, string>; ip: string; named?: number }[] = [
    { key: 'default/nginx', labels: { app: 'nginx' }, ip: '10.10.0.11', named: 80 },
    { key: 'default/nginx2', labels: { app: 'nginx' }, ip: '10.10.0.12', named: 8080 },
    { key: 'default/busybox', labels: { run: 'ch-busybox' }, ip: '10.10.0.13' },
    { key: 'cassandra/cassandra', labels: { app: 'cassandra' }, ip: '10.10.0.14' },
  ];

  const podIp = (key: string): string => {
    const pod = pods.get(key);
    if (!pod) throw new Error(`unknown pod ${key}`);
    return pod.info.ip;
  };

  async function realize(): Promise<PolicyFlowsResult> {
    const result = compilePolicyFlows(controller.snapshot(), { name: NODE, pods: localPods }, state);
    const merged = mergeRuleFlows(result.flows);
    await writer.apply(planFlows(merged, await writer.dumpFlows(POLICY_SCOPE)));
    // What OVS holds afterwards is exactly what was planned, as text: nothing to do on a second look.
    const installed = await writer.dumpFlows(POLICY_SCOPE);
    assert.ok(isEmptyPlan(planFlows(merged, installed)), 'installed policy flows equal the desired ones');
    for (const info of result.rules.values()) {
      for (const c of info.conjunctions) {
        if (c.flows.length === 0) continue;
        const [src, dst, svc] = c.clauseFlows;
        assert.equal(c.flows.length, 1 + src + dst + svc, 'a conjunction costs 1 + its clause flows');
        flowsPerRule.push(
          `${info.policy.name}/${info.direction}${info.ruleIndex}${c.subKey ? ` [${c.subKey}]` : ''}: ` +
            `table ${info.table} prio ${info.priority}, ${c.flows.length} flows = 1 + ${src} + ${dst} + ${svc}`,
        );
      }
    }
    return result;
  }

  async function probeAll(probes: readonly Probe[]): Promise<ProbeOutcome[]> {
    const bySource = new Map<string, number[]>();
    probes.forEach((p, i) => {
      const list = bySource.get(p.from) ?? [];
      list.push(i);
      bySource.set(p.from, list);
    });
    const outcomes: ProbeOutcome[] = new Array<ProbeOutcome>(probes.length).fill('');
    await Promise.all(
      [...bySource].map(async ([from, indexes]) => {
        const source = pods.get(from);
        if (!source) throw new Error(`unknown pod ${from}`);
        const targets = indexes.map((i) => {
          const p = probes[i] as Probe;
          return [podIp(p.to), p.port];
        });
        const out = await must('ip', [
          'netns',
          'exec',
          source.netns,
          process.execPath,
          path.join(dir, 'probe.js'),
          JSON.stringify(targets),
          String(PROBE_TIMEOUT_MS),
        ]);
        const results = JSON.parse(out.trim()) as ProbeOutcome[];
        indexes.forEach((probeIndex, j) => (outcomes[probeIndex] = results[j] ?? 'missing'));
      }),
    );
    return outcomes;
  }

  /** Asserts, per probe, evaluate() = the scenario's expectation and the data path = evaluate(). */
  async function checkVerdicts(probes: readonly Probe[]): Promise<void> {
    const outcomes = await probeAll(probes);
    const problems: string[] = [];
    probes.forEach((p, i) => {
      const evaluated = evaluate(controller, { pod: p.from }, { pod: p.to }, 'TCP', p.port).verdict;
      const outcome = outcomes[i] as ProbeOutcome;
      const what = `${p.from} -> ${p.to}:${p.port}`;
      if (evaluated !== p.expect)
        problems.push(`${what}: evaluate() says ${evaluated}, scenario expects ${p.expect}`);
      // Reject's packet-in handler (RST / ICMP) is the next task: until it runs, a rejected SYN goes unanswered.
      const agrees =
        evaluated === 'Allow'
          ? outcome === 'Connected'
          : evaluated === 'Drop'
            ? outcome === 'Timeout'
            : outcome === 'Timeout' || outcome === 'Refused';
      if (!agrees) problems.push(`${what}: data path ${outcome}, evaluate() ${evaluated}`);
    });
    assert.deepEqual(problems, []);
  }

  function apply(...objects: Record<string, unknown>[]): string[] {
    return objects.map((obj) => {
      controller.applyObject(obj);
      return objectKey(obj as unknown as PolicyObject);
    });
  }

  async function removeAll(keys: readonly string[]): Promise<void> {
    for (const key of keys) controller.removeObject(key);
    const result = await realize();
    assert.equal(result.flows.size, 0, 'no policy, no policy flows');
    assert.equal((await writer.dumpFlows(POLICY_SCOPE)).length, 0);
  }

  const k8s = (ns: string, name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace: ns, name },
    spec,
  });
  const acnp = (name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'ClusterNetworkPolicy',
    metadata: { name },
    spec,
  });
  const sel = (labels: Record<string, string>): Record<string, unknown> => ({ matchLabels: labels });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-flows-'));
    fs.writeFileSync(path.join(dir, 'server.js'), SERVER_JS);
    fs.writeFileSync(path.join(dir, 'probe.js'), PROBE_JS);
    fs.writeFileSync(path.join(dir, 'session.js'), SESSION_JS);
    const allNs = [nodeNs, ...podSpecs.map((_, i) => `${TAG}p${i}`)];
    for (const ns of allNs) await run('ip', ['netns', 'del', ns]);
    await must('ip', ['netns', 'add', nodeNs]);
    ovs = new OvsProcesses({ dir: path.join(dir, 'ovs'), netns: nodeNs });
    await ovs.start();
    await ovs.vsctl([
      'add-br',
      bridge,
      '--',
      'set',
      'Bridge',
      bridge,
      'datapath_type=netdev',
      'fail_mode=secure',
    ]);
    assert.equal((await ovs.vsctl(['get', 'Interface', bridge, 'ofport'])).trim(), '65534', 'bridge is up');
    const ofportOf = async (iface: string): Promise<number> => {
      const ofport = Number.parseInt((await ovs.vsctl(['get', 'Interface', iface, 'ofport'])).trim(), 10);
      assert.ok(ofport > 0, `${iface} got an ofport`);
      return ofport;
    };
    await ovs.vsctl(['add-port', bridge, gwName, '--', 'set', 'Interface', gwName, 'type=internal']);
    const tunName = `${TAG}tun`;
    await ovs.vsctl([
      'add-port',
      bridge,
      tunName,
      '--',
      'set',
      'Interface',
      tunName,
      'type=geneve',
      'options:remote_ip=flow',
      'options:key=flow',
    ]);
    await must('ip', ['-n', nodeNs, 'addr', 'add', '10.10.0.1/24', 'dev', gwName]);
    await must('ip', ['-n', nodeNs, 'link', 'set', gwName, 'up']);
    const readMac = async (ns: string, dev: string): Promise<string> =>
      (await must('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/address`])).trim();
    node = {
      gatewayOfport: await ofportOf(gwName),
      gatewayMac: await readMac(nodeNs, gwName),
      gatewayIp: '10.10.0.1',
      podCidr: '10.10.0.0/24',
      tunnelOfport: await ofportOf(tunName),
    };

    controller = new PolicyController();
    state = createPolicyFlowState();
    for (const ns of ['default', 'cassandra']) {
      controller.applyNamespace({ name: ns, labels: { 'kubernetes.io/metadata.name': ns } });
    }
    for (const [i, spec] of podSpecs.entries()) {
      const netns = `${TAG}p${i}`;
      const hostSide = `${TAG}v${i}`;
      await must('ip', ['netns', 'add', netns]);
      for (const ns of [netns]) {
        await must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
      }
      await must('ip', [
        '-n',
        nodeNs,
        'link',
        'add',
        hostSide,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        netns,
      ]);
      await must('ip', ['-n', netns, 'addr', 'add', `${spec.ip}/24`, 'dev', 'eth0']);
      await must('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      await must('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
      await must('ip', ['-n', netns, 'route', 'add', 'default', 'via', node.gatewayIp]);
      await must('ip', ['netns', 'exec', netns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
      await must('ip', ['-n', nodeNs, 'link', 'set', hostSide, 'up']);
      await ovs.vsctl(['add-port', bridge, hostSide]);
      const [namespace, name] = spec.key.split('/') as [string, string];
      const info: PodInfo = {
        namespace,
        name,
        labels: spec.labels,
        ip: spec.ip,
        nodeName: NODE,
        containerPorts:
          spec.named === undefined ? [] : [{ name: 'http', containerPort: spec.named, protocol: 'TCP' }],
      };
      const port: LocalPodPort = {
        ofport: await ofportOf(hostSide),
        ip: spec.ip,
        mac: await readMac(netns, 'eth0'),
      };
      pods.set(spec.key, { info, netns, port });
      localPods.set(spec.key, { ofport: port.ofport, ip: port.ip });
      controller.applyPod(info);
      const server = new LineProcess(
        spawn(
          'ip',
          [
            'netns',
            'exec',
            netns,
            process.execPath,
            path.join(dir, 'server.js'),
            ...LISTEN_PORTS.map(String),
          ],
          {
            stdio: ['ignore', 'pipe', 'ignore'],
          },
        ),
      );
      servers.push(server);
      await server.waitForLine((l) => l === 'ready', 10_000);
    }

    writer = new FlowWriter({ bridge, env: ovs.env(), logger: silentLogger });
    const desired = [...pipelineFlows(node), ...[...pods.values()].flatMap((p) => podFlows(node, p.port))];
    await writer.apply(planFlows(desired, []));
    assert.equal((await writer.dumpFlows()).length, desired.length);
  });

  after(async () => {
    for (const s of servers) s.kill();
    await ovs?.stop();
    for (const ns of [nodeNs, ...podSpecs.map((_, i) => `${TAG}p${i}`)])
      await run('ip', ['netns', 'del', ns]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    if (flowsPerRule.length > 0) {
      console.log(`      flows per rule (${flowsPerRule.length} conjunctions realized):`);
      for (const line of [...new Set(flowsPerRule)]) console.log(`        ${line}`);
    }
  });

  it('no policy: everything connects', async () => {
    const result = await realize();
    assert.equal(result.flows.size, 0);
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'cassandra/cassandra', to: 'default/nginx2', port: 8080, expect: 'Allow' },
      { from: 'default/nginx', to: 'cassandra/cassandra', port: 9101, expect: 'Allow' },
    ]);
  });

  it('seed nginx-allow: only app=nginx reaches nginx; a relabel moves busybox in and isolates it', async () => {
    const keys = apply(
      k8s('default', 'nginx-allow', {
        podSelector: sel({ app: 'nginx' }),
        ingress: [{ from: [{ podSelector: sel({ app: 'nginx' }) }] }],
      }),
    );
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Drop' },
      // The seed case says cassandra -> nginx is blocked too: the peer selects app=nginx in `default` only.
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'default/nginx2', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'default/nginx', to: 'default/busybox', port: 80, expect: 'Allow' },
      { from: 'default/nginx', to: 'cassandra/cassandra', port: 80, expect: 'Allow' },
      { from: 'cassandra/cassandra', to: 'default/busybox', port: 80, expect: 'Allow' },
    ]);

    const busybox = pods.get('default/busybox')?.info as PodInfo;
    controller.applyPod({ ...busybox, labels: { run: 'ch-busybox', app: 'nginx' } });
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'cassandra/cassandra', to: 'default/busybox', port: 80, expect: 'Drop' },
      { from: 'default/nginx2', to: 'default/busybox', port: 80, expect: 'Allow' },
    ]);
    controller.applyPod(busybox);
    await removeAll(keys);
  });

  it('a Kubernetes default-deny egress isolates every pod of its namespace', async () => {
    const keys = apply(k8s('cassandra', 'default-deny-egress', { podSelector: {}, policyTypes: ['Egress'] }));
    await realize();
    await checkVerdicts([
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'cassandra/cassandra', to: 'default/busybox', port: 5432, expect: 'Drop' },
      { from: 'default/busybox', to: 'cassandra/cassandra', port: 80, expect: 'Allow' },
      { from: 'default/nginx', to: 'default/busybox', port: 80, expect: 'Allow' },
    ]);
    await removeAll(keys);
  });

  it('an Antrea securityops Drop beats a Kubernetes allow', async () => {
    const keys = apply(
      k8s('default', 'allow-busybox', {
        podSelector: sel({ app: 'nginx' }),
        ingress: [{ from: [{ podSelector: sel({ run: 'ch-busybox' }) }], ports: [{ port: 80 }] }],
      }),
      acnp('deny-busybox', {
        tier: 'securityops',
        priority: 5,
        appliedTo: [{ podSelector: sel({ app: 'nginx' }) }],
        ingress: [{ action: 'Drop', from: [{ podSelector: sel({ run: 'ch-busybox' }) }] }],
      }),
    );
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'default/nginx', to: 'default/busybox', port: 80, expect: 'Allow' },
    ]);
    controller.removeObject(keys[1] as string);
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'default/busybox', to: 'default/nginx', port: 8080, expect: 'Drop' },
    ]);
    await removeAll([keys[0] as string]);
  });

  it('Pass skips the remaining Antrea tiers and hands over to Kubernetes NetworkPolicy', async () => {
    const keys = apply(
      acnp('pass-busybox', {
        tier: 'securityops',
        priority: 1,
        appliedTo: [{ podSelector: sel({ app: 'nginx' }) }],
        ingress: [{ action: 'Pass', from: [{ podSelector: sel({ run: 'ch-busybox' }) }] }],
      }),
      acnp('drop-to-nginx', {
        tier: 'application',
        priority: 1,
        appliedTo: [{ podSelector: sel({ app: 'nginx' }) }],
        ingress: [{ action: 'Drop', from: [{ namespaceSelector: {} }] }],
      }),
    );
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'default/nginx2', to: 'default/nginx', port: 80, expect: 'Drop' },
    ]);
    // Passed traffic meets the Kubernetes layer: isolation now drops it.
    keys.push(
      ...apply(
        k8s('default', 'only-cassandra', {
          podSelector: sel({ app: 'nginx' }),
          ingress: [{ from: [{ namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'cassandra' }) }] }],
        }),
      ),
    );
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' },
    ]);
    await removeAll(keys);
  });

  it('an Antrea Allow of higher priority wins over a Drop; editing the priority reverses it', async () => {
    const allow = (priority: number): Record<string, unknown> =>
      acnp('allow-cassandra', {
        priority,
        appliedTo: [{ podSelector: sel({ app: 'nginx' }) }],
        ingress: [
          {
            action: 'Allow',
            from: [{ namespaceSelector: sel({ 'kubernetes.io/metadata.name': 'cassandra' }) }],
            ports: [{ port: 80 }],
          },
        ],
      });
    const keys = apply(
      allow(1),
      acnp('drop-nginx-ingress', {
        priority: 10,
        appliedTo: [{ podSelector: sel({ app: 'nginx' }) }],
        ingress: [{ action: 'Drop', from: [{ namespaceSelector: {} }] }],
      }),
    );
    const before = await realize();
    await checkVerdicts([
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 8080, expect: 'Drop' },
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Drop' },
    ]);
    const dropRule = [...before.rules.values()].find((r) => r.policy.name === 'drop-nginx-ingress');
    apply(allow(20));
    const after = await realize();
    await checkVerdicts([{ from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' }]);
    const dropAfter = [...after.rules.values()].find((r) => r.policy.name === 'drop-nginx-ingress');
    assert.ok(dropRule && dropAfter);
    assert.equal(
      dropAfter.priority,
      dropRule.priority,
      'editing one policy left the other one’s priority alone',
    );
    assert.equal(
      dropAfter.conjunctions[0]?.conjId,
      dropRule.conjunctions[0]?.conjId,
      'and its conjunction id',
    );
    await removeAll(keys);
  });

  it('a baseline Drop applies only to pods no Kubernetes policy isolates', async () => {
    const keys = apply(
      k8s('default', 'nginx-from-busybox', {
        podSelector: sel({ app: 'nginx' }),
        ingress: [{ from: [{ podSelector: sel({ run: 'ch-busybox' }) }] }],
      }),
      acnp('baseline-drop-busybox', {
        tier: 'baseline',
        priority: 1,
        appliedTo: [{ podSelector: {} }],
        ingress: [{ action: 'Drop', from: [{ podSelector: sel({ run: 'ch-busybox' }) }] }],
      }),
    );
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'default/busybox', to: 'default/nginx2', port: 8080, expect: 'Allow' },
      { from: 'default/busybox', to: 'cassandra/cassandra', port: 80, expect: 'Drop' },
      { from: 'default/nginx', to: 'cassandra/cassandra', port: 80, expect: 'Allow' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Drop' },
    ]);
    await removeAll(keys);
  });

  it('ipBlock with except', async () => {
    const keys = apply(
      k8s('default', 'ipblock', {
        podSelector: sel({ app: 'nginx' }),
        ingress: [
          { from: [{ ipBlock: { cidr: '10.10.0.0/24', except: [`${podIp('default/busybox')}/32`] } }] },
        ],
      }),
    );
    const result = await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'default/nginx2', to: 'default/nginx', port: 9000, expect: 'Allow' },
    ]);
    // 10.10.0.0/24 minus one address is 8 prefixes.
    const rule = [...result.rules.values()].find((r) => r.policy.name === 'ipblock');
    assert.equal(rule?.conjunctions[0]?.clauseFlows[0], 8);
    await removeAll(keys);
  });

  it('named ports resolve per destination pod, for ingress and for egress', async () => {
    const keys = apply(
      k8s('default', 'named-ingress', {
        podSelector: sel({ app: 'nginx' }),
        ingress: [{ ports: [{ port: 'http' }] }],
      }),
    );
    const result = await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'default/busybox', to: 'default/nginx', port: 8080, expect: 'Drop' },
      { from: 'default/busybox', to: 'default/nginx2', port: 8080, expect: 'Allow' },
      { from: 'default/busybox', to: 'default/nginx2', port: 80, expect: 'Drop' },
    ]);
    const rule = [...result.rules.values()].find((r) => r.policy.name === 'named-ingress');
    assert.deepEqual(
      rule?.conjunctions.map((c) => c.subKey),
      ['TCP/80', 'TCP/8080'],
    );

    keys.push(
      ...apply(
        acnp('egress-named', {
          priority: 5,
          appliedTo: [{ podSelector: sel({ run: 'ch-busybox' }) }],
          egress: [
            { action: 'Drop', to: [{ podSelector: sel({ app: 'nginx' }) }], ports: [{ port: 'http' }] },
          ],
        }),
      ),
    );
    await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx', port: 80, expect: 'Drop' },
      { from: 'default/busybox', to: 'default/nginx2', port: 8080, expect: 'Drop' },
      { from: 'cassandra/cassandra', to: 'default/nginx', port: 80, expect: 'Allow' },
      { from: 'default/busybox', to: 'cassandra/cassandra', port: 80, expect: 'Allow' },
    ]);
    await removeAll(keys);
  });

  it('endPort ranges match exactly their ports', async () => {
    const keys = apply(
      k8s('cassandra', 'range', { podSelector: {}, ingress: [{ ports: [{ port: 9000, endPort: 9100 }] }] }),
    );
    await realize();
    const to = 'cassandra/cassandra';
    await checkVerdicts([
      { from: 'default/busybox', to, port: 8999, expect: 'Drop' },
      { from: 'default/busybox', to, port: 9000, expect: 'Allow' },
      { from: 'default/busybox', to, port: 9050, expect: 'Allow' },
      { from: 'default/busybox', to, port: 9100, expect: 'Allow' },
      { from: 'default/busybox', to, port: 9101, expect: 'Drop' },
      { from: 'default/busybox', to, port: 80, expect: 'Drop' },
    ]);
    await removeAll(keys);
  });

  it('an established connection survives a policy that refuses new ones', async () => {
    const session = new LineProcess(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          pods.get('default/busybox')?.netns as string,
          process.execPath,
          path.join(dir, 'session.js'),
          podIp('cassandra/cassandra'),
          '5432',
        ],
        { stdio: ['pipe', 'pipe', 'ignore'] },
      ),
    );
    let keys: string[] = [];
    try {
      await session.waitForLine((l) => l === 'connected', 5000);
      session.write('before');
      await session.waitForLine((l) => l === 'echo:before', 5000);

      keys = apply(
        acnp('cut-busybox', {
          tier: 'securityops',
          priority: 1,
          appliedTo: [{ podSelector: sel({ app: 'cassandra' }) }],
          ingress: [{ action: 'Drop', from: [{ podSelector: sel({ run: 'ch-busybox' }) }] }],
        }),
      );
      await realize();
      await checkVerdicts([
        { from: 'default/busybox', to: 'cassandra/cassandra', port: 5432, expect: 'Drop' },
      ]);
      session.write('after');
      assert.equal(
        await session.waitForLine((l) => l.startsWith('echo:after') || l.startsWith('error'), 5000),
        'echo:after',
      );
    } finally {
      session.kill();
    }
    await removeAll(keys);
  });

  it('Reject sends the packet to the controller with the rule in its userdata; counters are read by cookie', async () => {
    const keys = apply(
      acnp('reject-busybox', {
        tier: 'emergency',
        priority: 1,
        appliedTo: [{ podSelector: sel({ run: 'ch-busybox' }) }],
        egress: [{ action: 'Reject', to: [{ podSelector: sel({ app: 'nginx' }) }], ports: [{ port: 8080 }] }],
      }),
    );
    const result = await realize();
    await checkVerdicts([
      { from: 'default/busybox', to: 'default/nginx2', port: 8080, expect: 'Reject' },
      { from: 'default/busybox', to: 'default/nginx2', port: 80, expect: 'Allow' },
    ]);
    const conj = [...result.rules.values()][0]?.conjunctions[0];
    assert.ok(conj);
    await ovs.appctl(['revalidator/wait']);
    const byCookie = await writer.dumpFlows({ cookie: makeCookie(CookieCategory.Policy, conj.conjId) });
    const action = byCookie.find((f) => f.match.startsWith(`conj_id=${conj.conjId}`));
    assert.equal(action?.table, Tables.CNPEmergencyEgressRule);
    assert.match(action?.actions ?? '', /^controller\(userdata=01\.00\.00\.00\.[0-9a-f]{2}\)$/);
    assert.ok(
      (action?.packets ?? 0) >= 1,
      `the rule's action flow counted the rejected SYNs (${action?.packets})`,
    );

    // As the agent will configure it: to its own controller connection, through the packet-in meter. The
    // installed text must still equal the planned one (realize() checks), and the verdict stays.
    await ovs.ofctl(['add-meter', bridge, 'meter=256,pktps,band=type=drop,rate=100']);
    state.packetIn = { controllerId: 7, meterId: 256 };
    await realize();
    const metered = (await writer.dumpFlows({ cookie: makeCookie(CookieCategory.Policy, conj.conjId) })).find(
      (f) => f.match.startsWith(`conj_id=${conj.conjId}`),
    );
    assert.match(
      metered?.actions ?? '',
      /^meter:256,controller\(reason=no_match,id=7,userdata=01\.00\.00\.00\.[0-9a-f]{2}\)$/,
    );
    await checkVerdicts([{ from: 'default/busybox', to: 'default/nginx2', port: 8080, expect: 'Reject' }]);
    delete state.packetIn;
    await removeAll(keys);
  });

  it('measures flows per rule and installing 10k rules against raw ovs-ofctl --bundle add-flows', async () => {
    // 10k rules: 5k Kubernetes ingress rules (one per policy) and 5k Antrea-native rules (500 policies of 10),
    // each with its own peer address and port, applied to the 4 local pods in turn.
    const bulk = new PolicyController();
    for (const ns of ['default', 'cassandra']) bulk.applyNamespace({ name: ns, labels: {} });
    const podKeys = [...pods.keys()];
    podKeys.forEach((key, i) => {
      const info = pods.get(key)?.info as PodInfo;
      bulk.applyPod({ ...info, labels: { ...info.labels, bucket: String(i) } });
    });
    let t = process.hrtime.bigint();
    for (let i = 0; i < 5000; i++) {
      const podNamespace = (pods.get(podKeys[i % 4] as string) as TestPod).info.namespace;
      bulk.applyObject(
        k8s(podNamespace, `bulk-${i}`, {
          podSelector: sel({ bucket: String(i % 4) }),
          ingress: [
            {
              from: [{ ipBlock: { cidr: `172.16.${i >> 8}.${i & 0xff}/32` } }],
              ports: [{ port: 10000 + i }],
            },
          ],
        }),
      );
    }
    for (let p = 0; p < 500; p++) {
      bulk.applyObject(
        acnp(`bulk-acnp-${p}`, {
          priority: 1 + p / 10,
          appliedTo: [{ podSelector: sel({ bucket: String(p % 4) }) }],
          egress: Array.from({ length: 10 }, (_, r) => ({
            action: r % 2 === 0 ? 'Allow' : 'Drop',
            to: [{ ipBlock: { cidr: `172.17.${p >> 4}.${((p & 15) << 4) | r}/32` } }],
            ports: [{ port: 20000 + r }],
          })),
        }),
      );
    }
    const controllerMs = elapsedMs(t);
    const bulkState = createPolicyFlowState();
    t = process.hrtime.bigint();
    const result = compilePolicyFlows(bulk.snapshot(), { name: NODE, pods: localPods }, bulkState);
    const compileMs = elapsedMs(t);
    t = process.hrtime.bigint();
    const merged = mergeRuleFlows(result.flows);
    const mergeMs = elapsedMs(t);
    assert.equal(result.rules.size, 10_000);
    const perRule = [...result.rules.values()].flatMap((r) => r.conjunctions.map((c) => c.flows.length));
    assert.equal(perRule.length, 10_000);
    assert.ok(
      perRule.every((n) => n === 4),
      'each rule: 1 action + 1 peer + 1 applied-to + 1 port flow',
    );
    // Only the applied-to clause flow of each pod is shared, by the 1250 Kubernetes rules of that pod; the
    // Kubernetes policies also isolate the 4 pods (4 drops).
    assert.equal(merged.length, 5000 * 3 + 4 + 5000 * 4 + 4);

    // Alternate the two installs (twice each, from an empty Policy scope) and keep each one's best time: the
    // bridge is shared with nothing else, but the machine is.
    const file = path.join(dir, 'policy-10k.txt');
    fs.writeFileSync(file, `${merged.map(formatFlowMod).join('\n')}\n`);
    let planMs = Infinity;
    let applyMs = Infinity;
    let rawMs = Infinity;
    for (let round = 0; round < 2; round++) {
      t = process.hrtime.bigint();
      await must('ovs-ofctl', ['-O', 'OpenFlow13', '--bundle', 'add-flows', bridge, file], {
        env: ovs.env(),
      });
      rawMs = Math.min(rawMs, elapsedMs(t));
      const installed = await writer.dumpFlows(POLICY_SCOPE);
      assert.equal(installed.length, merged.length);
      assert.ok(isEmptyPlan(planFlows(merged, installed)), 'the raw file installs the same flows');
      await writer.sync([], POLICY_SCOPE);
      assert.equal((await writer.dumpFlows(POLICY_SCOPE)).length, 0);

      t = process.hrtime.bigint();
      const plan = planFlows(merged, await writer.dumpFlows(POLICY_SCOPE));
      planMs = Math.min(planMs, elapsedMs(t));
      t = process.hrtime.bigint();
      await writer.apply(plan);
      applyMs = Math.min(applyMs, elapsedMs(t));
      assert.ok(isEmptyPlan(planFlows(merged, await writer.dumpFlows(POLICY_SCOPE))));
      await writer.sync([], POLICY_SCOPE);
    }

    console.log(
      `      10k rules → ${merged.length} flows (4 per rule, shared applied-to flows merged): controller ` +
        `${controllerMs.toFixed(0)} ms, compilePolicyFlows ${compileMs.toFixed(0)} ms, merge ${mergeMs.toFixed(0)} ms, ` +
        `dump+plan ${planMs.toFixed(0)} ms, FlowWriter.apply ${applyMs.toFixed(0)} ms vs raw ovs-ofctl --bundle ` +
        `add-flows ${rawMs.toFixed(0)} ms (apply/raw ${(applyMs / rawMs).toFixed(2)}; compile+merge+plan+apply ` +
        `/raw ${((compileMs + mergeMs + planMs + applyMs) / rawMs).toFixed(2)})`,
    );
  });
});
