// `scripts/bench cluster`: cluster mode on several nodes (a ClusterTestbed: one FakeApiServer, N nodes with their
// own OVS and firmware, Geneve between them), two measurements:
//   latency  an API change → enforced on a REMOTE node, seen by a real probe: a client pod on node 1 probes a
//            server pod on node N over TCP; (a) creating an ACNP that drops the client at the server's ingress,
//            (b) relabelling the client so that an existing ACNP drops it. p50/p99 of each.
//   rss      VmRSS of every node's firmware process (Node-RED on, as the firmware's default) with `--pods` pods
//            and `--policies` policies spread over the nodes; goal < 150 MB per node.
// Everything it makes is named `aecc…` and removed at the end, also on SIGINT.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NetworkPolicyView } from '../../firmware/core/antctl/views';
import { distribution, Teardown, type Distribution } from './bench-enforcement';
import {
  NetnsProgram,
  Prober,
  isFlip,
  isText,
  writeProgs,
  type FlipEvent,
  type ProbeOutcome,
} from './bench-enforcement/probe';
import { ClusterTestbed, type TestbedPod } from './cluster-testbed';

export interface ClusterBenchOptions {
  nodes: number;
  /** Pods in all (the client and the server included), round-robin over the nodes. */
  pods: number;
  /** Background policies, each applied to one filler pod (so spread over the nodes). */
  policies: number;
  /** Flips measured per kind of change. */
  updates: number;
  /** Run dist/ (scripts/bench builds it) instead of the TypeScript sources. */
  compiled?: boolean;
  progress?: (message: string) => void;
  teardown?: Teardown;
}

export class ClusterBenchError extends Error {
  override readonly name = 'ClusterBenchError';
  constructor(
    readonly code: 'BAD_ARGS' | 'NO_FLIP' | 'NOT_REALIZED',
    message: string,
  ) {
    super(message);
  }
}

export interface FlipLatency extends Distribution {
  /** From the API write to the end of the last probe that still connected: enforcement came after it. */
  lowerBound: Distribution;
  /** Probe outcomes other than connected/timeout seen while flipping, with the update index. */
  unexpectedOutcomes: { update: number; outcome: ProbeOutcome }[];
  method: string;
}

export interface NodeRss {
  node: string;
  pid: number;
  /** VmRSS of the firmware process (Node-RED runs inside it). */
  vmRssMb: number;
  /** VmHWM: the peak RSS so far. */
  vmHwmMb: number;
  /** Its descendant processes' VmRSS (none expected). */
  descendantsRssMb: number;
  pods: number;
  ok: boolean;
}

export interface ClusterBenchReport {
  benchmark: 'cluster';
  config: {
    nodes: number;
    pods: number;
    policies: number;
    updates: number;
    compiled: boolean;
    nodeRed: true;
  };
  machine: { cpus: number; node: string; loadAverage1m: number[] };
  placement: { client: string; server: string; enforcingNode: string; probingNode: string };
  latency: { policyCreate: FlipLatency; podLabelChange: FlipLatency; clock: string };
  rss: { perNode: NodeRss[]; goal: string; ok: boolean; method: string };
}

const NAMESPACE = 'bench';
const LATENCY_PORT = 8080;
const PROBE_INTERVAL_MS = 2.5;
/** A dropped SYN is never answered: a probe gives up after this. */
const DROP_TIMEOUT_MS = 300;
const FLIP_TIMEOUT_MS = 30_000;
const REALIZE_TIMEOUT_MS = 180_000;
const RSS_GOAL_MB = 150;
const DROP_LABEL = 'bench.antrea-edge.io/drop';

export function parseClusterBenchArgs(args: readonly string[]): ClusterBenchOptions {
  const options: ClusterBenchOptions = { nodes: 3, pods: 100, policies: 100, updates: 50 };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i];
    const n = Number(args[i + 1]);
    if (!Number.isInteger(n) || n < 0)
      throw new ClusterBenchError('BAD_ARGS', `${String(flag)} needs a count`);
    i++;
    if (flag === '--nodes') options.nodes = n;
    else if (flag === '--pods') options.pods = n;
    else if (flag === '--policies') options.policies = n;
    else if (flag === '--updates') options.updates = n;
    else throw new ClusterBenchError('BAD_ARGS', `unknown argument ${String(flag)}`);
  }
  if (options.nodes < 2 || options.nodes > 9)
    throw new ClusterBenchError('BAD_ARGS', '--nodes must be 2 to 9');
  if (options.pods < 2) throw new ClusterBenchError('BAD_ARGS', '--pods must be at least 2');
  if (options.updates < 1) throw new ClusterBenchError('BAD_ARGS', '--updates must be at least 1');
  return options;
}

/** CLI entry: runs, prints the JSON report on stdout, cleans up (also on SIGINT, then exits 130). */
export async function benchCluster(
  args: readonly string[],
  progress: (message: string) => void,
): Promise<void> {
  const options = parseClusterBenchArgs(args);
  const teardown = new Teardown();
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    progress('interrupted: cleaning up');
    void teardown.run(progress).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    const report = await runClusterBench({ ...options, compiled: true, progress, teardown });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } catch (error) {
    if (interrupted) await new Promise<never>(() => undefined);
    throw error;
  } finally {
    if (!interrupted) {
      await teardown.run(progress);
      process.off('SIGINT', onSigint);
    }
  }
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number): number => Math.round(value * 100) / 100;

export async function runClusterBench(options: ClusterBenchOptions): Promise<ClusterBenchReport> {
  const progress = options.progress ?? (() => undefined);
  const ownTeardown = options.teardown === undefined;
  const teardown = options.teardown ?? new Teardown();
  const loadAverage1m = [round(os.loadavg()[0] ?? NaN)];
  const testbed = new ClusterTestbed({
    nodes: options.nodes,
    tag: 'bc',
    nodeRed: true,
    logLevel: 'warn',
    progress,
    ...(options.compiled ? { compiled: true } : {}),
  });
  teardown.add('cluster', () => testbed.stop());
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'aecc-bench-'));
  teardown.add('scratch dir', () => fs.rmSync(scratch, { recursive: true, force: true }));
  const progs = writeProgs(scratch);
  try {
    await testbed.start();
    const { client, server, all } = await addPods(testbed, options, progress);
    const serverProgram = new NetnsProgram(server.netnsName, [
      process.execPath,
      progs.server,
      String(LATENCY_PORT),
    ]);
    teardown.add('latency server', () => serverProgram.kill());
    serverProgram.start();
    await serverProgram.waitFor(isText('ready'), 10_000);

    progress(`applying ${options.policies} background policies`);
    testbed.apply(backgroundPolicies(options.policies, all.length - 2));
    // Selects nobody until the client gets the label: the label-change flips need it in place beforehand.
    testbed.apply([dropPolicy('bench-label-drop', { [DROP_LABEL]: 'yes' })]);
    await waitRealizedEverywhere(testbed, options.policies + 1);

    const prober = new Prober(client.netnsName, progs.prober, [
      {
        id: 'lat',
        ip: server.ip,
        port: LATENCY_PORT,
        timeoutMs: DROP_TIMEOUT_MS,
        minIntervalMs: PROBE_INTERVAL_MS,
      },
    ]);
    teardown.add('prober', () => prober.program.kill());
    await prober.start();
    await prober.program.waitFor(
      (l): l is FlipEvent => isFlip(l) && l.outcome === 'connected',
      FLIP_TIMEOUT_MS,
    );

    progress(`latency: ${options.updates} policy creations flipping ${client.ref} -> ${server.ref}`);
    const policyCreate = await measureFlips(prober, options.updates, progress, 'policy create', {
      change: () => testbed.apply([dropPolicy('bench-create-drop', { app: client.name })]),
      revert: () => testbed.remove(dropPolicy('bench-create-drop', {})),
    });
    progress(`latency: ${options.updates} client relabels flipping ${client.ref} -> ${server.ref}`);
    const labels = { app: client.name, role: 'client' };
    const podLabelChange = await measureFlips(prober, options.updates, progress, 'pod label change', {
      change: () => testbed.setPodLabels(client.ref, { ...labels, [DROP_LABEL]: 'yes' }),
      revert: () => testbed.setPodLabels(client.ref, labels),
    });
    await prober.stop();

    const perNode = testbed.nodes.map((node): NodeRss => {
      const pid = testbed.firmwarePid(node.index);
      const status = procStatus(pid);
      const vmRssMb = round(status.VmRSS / 1024);
      return {
        node: node.name,
        pid,
        vmRssMb,
        vmHwmMb: round(status.VmHWM / 1024),
        descendantsRssMb: round(
          descendants(pid).reduce((sum, child) => sum + procStatus(child).VmRSS, 0) / 1024,
        ),
        pods: all.filter((pod) => pod.node === node).length,
        ok: vmRssMb < RSS_GOAL_MB,
      };
    });
    loadAverage1m.push(round(os.loadavg()[0] ?? NaN));
    return {
      benchmark: 'cluster',
      config: {
        nodes: options.nodes,
        pods: options.pods,
        policies: options.policies,
        updates: options.updates,
        compiled: options.compiled === true,
        nodeRed: true,
      },
      machine: { cpus: os.cpus().length, node: process.version, loadAverage1m },
      placement: {
        client: `${client.ref} on ${client.node.name} (${client.ip})`,
        server: `${server.ref} on ${server.node.name} (${server.ip})`,
        enforcingNode: server.node.name,
        probingNode: client.node.name,
      },
      latency: {
        policyCreate: {
          ...policyCreate,
          method: LATENCY_METHOD('an ACNP dropping the client at the server is created'),
        },
        podLabelChange: {
          ...podLabelChange,
          method: LATENCY_METHOD(
            `the client's Pod gets the label an existing dropping ACNP selects (${DROP_LABEL}=yes)`,
          ),
        },
        clock: 'CLOCK_MONOTONIC (process.hrtime) in both the bench and the prober process',
      },
      rss: {
        perNode,
        goal: `VmRSS < ${RSS_GOAL_MB} MB per node with Node-RED enabled`,
        ok: perNode.every((node) => node.ok),
        method:
          `/proc/<pid>/status VmRSS of each node's firmware process (Node-RED runs in it, enabled), read after ` +
          `${options.pods} pods, ${options.policies} background policies and all latency updates, with every ` +
          'policy realized on every node; descendants are summed separately',
      },
    };
  } finally {
    if (ownTeardown) await teardown.run(progress);
  }
}

const LATENCY_METHOD = (what: string): string =>
  `${what} in the API server (one write); the sample is the time from just before the write to the start of the ` +
  `client's first TCP probe that got no answer (the server's node drops the SYN), probes every ` +
  `${PROBE_INTERVAL_MS} ms from a pod on node 1 to a pod on the last node across the Geneve tunnel (so only the ` +
  `server's node, never the probing one, enforces ingress); lowerBound is the end of the last probe that still ` +
  `connected. The change is reverted and the pair seen connected again before the next sample (not measured).`;

async function addPods(
  testbed: ClusterTestbed,
  options: ClusterBenchOptions,
  progress: (message: string) => void,
): Promise<{ client: TestbedPod; server: TestbedPod; all: TestbedPod[] }> {
  testbed.setNamespaceLabels(NAMESPACE, {});
  progress(`creating ${options.pods} pods round-robin on ${options.nodes} nodes`);
  const last = options.nodes;
  const client = await testbed.addPod(1, {
    namespace: NAMESPACE,
    name: 'client',
    labels: { app: 'client', role: 'client' },
  });
  const server = await testbed.addPod(last, {
    namespace: NAMESPACE,
    name: 'server',
    labels: { app: 'server', role: 'server' },
  });
  const all = [client, server];
  for (let i = 0; i < options.pods - 2; i++) {
    const node = ((i + 1) % options.nodes) + 1;
    all.push(
      await testbed.addPod(node, {
        namespace: NAMESPACE,
        name: `filler-${i}`,
        labels: { app: `filler-${i}`, role: 'filler' },
        ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
      }),
    );
    if ((i + 3) % 25 === 0) progress(`${i + 3}/${options.pods} pods`);
  }
  return { client, server, all };
}

/** K8s NetworkPolicies, each isolating one filler pod (round-robin, so every node has some) to traffic from the next. */
export function backgroundPolicies(count: number, fillers: number): object[] {
  return Array.from({ length: count }, (_, i) => {
    const target = fillers === 0 ? 'nobody' : `filler-${i % fillers}`;
    const peer = fillers === 0 ? 'nobody' : `filler-${(i + 1) % fillers}`;
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { namespace: NAMESPACE, name: `bench-bg-${i}` },
      spec: {
        podSelector: { matchLabels: { app: target } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [{ podSelector: { matchLabels: { app: peer } } }],
            ports: [{ protocol: 'TCP', port: 9000 + (i % 100) }],
          },
        ],
      },
    };
  });
}

/** An ACNP dropping TCP to the server from pods with these labels. */
function dropPolicy(name: string, from: Record<string, string>): object {
  return {
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'ClusterNetworkPolicy',
    metadata: { name },
    spec: {
      priority: 1,
      appliedTo: [{ podSelector: { matchLabels: { app: 'server' } } }],
      ingress: [
        {
          action: 'Drop',
          from: [{ namespaceSelector: {}, podSelector: { matchLabels: from } }],
          ports: [{ protocol: 'TCP', port: LATENCY_PORT }],
        },
      ],
    },
  };
}

async function measureFlips(
  prober: Prober,
  updates: number,
  progress: (message: string) => void,
  label: string,
  flip: { change: () => unknown; revert: () => unknown },
): Promise<Omit<FlipLatency, 'method'>> {
  const samples: number[] = [];
  const lower: number[] = [];
  const unexpectedOutcomes: { update: number; outcome: ProbeOutcome }[] = [];
  for (let i = 0; i < updates; i++) {
    const from = prober.program.all.length;
    const t0 = nowMs();
    flip.change();
    const dropped = await waitOutcome(prober, 'timeout', from, `${label} ${i}`);
    for (const line of prober.program.all.slice(from)) {
      if (isFlip(line) && line !== dropped && line.end <= dropped.end && line.outcome !== 'connected') {
        unexpectedOutcomes.push({ update: i, outcome: line.outcome });
      }
    }
    samples.push(dropped.start - t0);
    lower.push(Math.max(0, (dropped.prevEnd ?? dropped.start) - t0));
    const back = prober.program.all.length;
    flip.revert();
    await waitOutcome(prober, 'connected', back, `${label} ${i} revert`);
    // A few connected probes before the next change, so each sample starts from a settled state.
    await sleep(20);
    if ((i + 1) % 10 === 0) progress(`latency (${label}): ${i + 1}/${updates}`);
  }
  return { ...distribution(samples), lowerBound: distribution(lower), unexpectedOutcomes };
}

async function waitOutcome(
  prober: Prober,
  outcome: ProbeOutcome,
  from: number,
  what: string,
): Promise<FlipEvent> {
  try {
    const { line } = await prober.program.waitFor(
      (l): l is FlipEvent => isFlip(l) && l.outcome === outcome,
      FLIP_TIMEOUT_MS,
      from,
    );
    return line;
  } catch (error) {
    throw new ClusterBenchError(
      'NO_FLIP',
      `${what}: the probe never showed "${outcome}": ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Every node lists at least `count` policies and has realized all of them. */
async function waitRealizedEverywhere(testbed: ClusterTestbed, count: number): Promise<void> {
  try {
    await testbed.waitAllNodes(
      `${count} policies realized on every node`,
      REALIZE_TIMEOUT_MS,
      async (node) => {
        const listed: NetworkPolicyView[] = await testbed.api(node.index).networkPolicies({});
        if (listed.length < count) return `${listed.length}/${count} policies listed`;
        const pending = listed.filter((policy) => policy.realization?.realized !== true).length;
        return pending === 0 || `${pending} policies not realized`;
      },
    );
  } catch (error) {
    throw new ClusterBenchError('NOT_REALIZED', error instanceof Error ? error.message : String(error));
  }
}

function procStatus(pid: number): { VmRSS: number; VmHWM: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { VmRSS: kb('VmRSS'), VmHWM: kb('VmHWM') };
}

function descendants(pid: number): number[] {
  const children: number[] = [];
  for (const task of safeReaddir(`/proc/${pid}/task`)) {
    const text = safeRead(`/proc/${pid}/task/${task}/children`);
    for (const child of text.split(/\s+/).filter(Boolean).map(Number))
      children.push(child, ...descendants(child));
  }
  return children;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
