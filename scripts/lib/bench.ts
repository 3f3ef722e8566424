// Benchmarks. Each prints one JSON document comparing our path with a raw baseline measured in the same run.
//   cni: CNI ADD latency over N pods (the real plugin executable → agent → veth, OVS port, flows) next to the
//        raw steps a minimal CNI would run (ip link add, move into the netns, ovs-vsctl add-port, one add-flow).
//   controller: the policy controller at Antrea's controller perf-test shapes (bench-controller.ts), compared
//        with the time and memory Antrea measured for the same shapes.
//   enforcement: bulk rule realization vs raw bundles, policy-update latency on real traffic, verdict violations
//        during rapid updates, iperf3 throughput vs a NORMAL bridge (bench-enforcement.ts).
//   cluster: cluster mode on several nodes: API change → enforced on a remote node (p50/p99), firmware RSS per
//        node with Node-RED (bench-cluster.ts).
import { execFile, execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { benchCluster } from './bench-cluster';
import { benchController } from './bench-controller';
import { benchEnforcement } from './bench-enforcement';
import { DevNode, deleteNetns } from './dev-node';
import { SimPods } from './sim-pods';

const execFileAsync = promisify(execFile);

interface Stats {
  n: number;
  p50: number;
  p95: number;
  mean: number;
  min: number;
  max: number;
}

function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((x, y) => x - y);
  const pick = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const round = (v: number): number => Math.round(v * 100) / 100;
  return {
    n: sorted.length,
    p50: round(pick(0.5)),
    p95: round(pick(0.95)),
    mean: round(sorted.reduce((s, v) => s + v, 0) / sorted.length),
    min: round(sorted[0] ?? NaN),
    max: round(sorted[sorted.length - 1] ?? NaN),
  };
}

function progress(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function benchCni(count: number): Promise<void> {
  const id = crypto.randomBytes(3).toString('hex');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-'));
  const node = new DevNode({
    home,
    nodeNs: `aeb-node-${id}`,
    compiled: true,
    podCidr: '10.10.0.0/22',
    logLevel: 'warn',
  });
  progress(`starting OVS and the firmware (state in ${home})`);
  await node.start();
  const pods = new SimPods({
    stateDir: path.join(home, 'sim'),
    cniSocket: node.cniSocket,
    pluginCommand: node.cniPluginCommand(),
    netnsPrefix: `aeb${id}`,
  });
  const env = node.ovs.env();
  const netnsExec = (argv: string[]): Promise<unknown> =>
    execFileAsync('ip', ['netns', 'exec', node.nodeNs, ...argv], { env });
  const cniSamples: number[] = [];
  const rawSamples: number[] = [];
  try {
    // Warm-up (first exec of each binary, page cache).
    await pods.add({ namespace: 'bench', name: 'warmup' });
    await pods.del('bench/warmup');
    for (let i = 0; i < count; i++) {
      // Interleave our path and the raw path so that machine noise hits both alike.
      const name = `pod-${i}`;
      const netnsName = pods.netnsNameFor('bench', name);
      deleteNetns(netnsName);
      execFileSync('ip', ['netns', 'add', netnsName]);
      const containerId = crypto.randomBytes(32).toString('hex');
      const t0 = process.hrtime.bigint();
      await pods.invoke('ADD', containerId, `/var/run/netns/${netnsName}`, { namespace: 'bench', name }, {});
      cniSamples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await pods.invoke('DEL', containerId, `/var/run/netns/${netnsName}`, { namespace: 'bench', name }, {});
      deleteNetns(netnsName);

      const rawNs = `aeb${id}-raw-${i}`;
      execFileSync('ip', ['netns', 'add', rawNs]);
      const host = `rawb${i}`;
      const t1 = process.hrtime.bigint();
      await netnsExec(['ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', `rawc${i}`]);
      await netnsExec(['ip', 'link', 'set', `rawc${i}`, 'netns', rawNs]);
      await execFileAsync('ovs-vsctl', [`--db=unix:${node.ovs.dbSocket}`, 'add-port', 'br-int', host], {
        env,
      });
      await execFileAsync(
        'ovs-ofctl',
        ['-O', 'OpenFlow13', 'add-flow', 'br-int', `table=0,priority=180,in_port=${host},actions=drop`],
        { env },
      );
      rawSamples.push(Number(process.hrtime.bigint() - t1) / 1e6);
      await execFileAsync(
        'ovs-ofctl',
        ['-O', 'OpenFlow13', 'del-flows', 'br-int', `table=0,in_port=${host}`],
        { env },
      );
      await execFileAsync('ovs-vsctl', [`--db=unix:${node.ovs.dbSocket}`, 'del-port', 'br-int', host], {
        env,
      });
      await netnsExec(['ip', 'link', 'del', host]).catch(() => undefined);
      deleteNetns(rawNs);
      if ((i + 1) % 10 === 0) progress(`${i + 1}/${count} pods`);
    }
  } finally {
    await node.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
  const cni = stats(cniSamples);
  const raw = stats(rawSamples);
  const ratio = Math.round((cni.p50 / raw.p50) * 100) / 100;
  const report = {
    benchmark: 'cni-add-latency-ms',
    pods: count,
    cni,
    rawBaseline: {
      steps: ['ip link add veth', 'ip link set netns', 'ovs-vsctl add-port', 'ovs-ofctl add-flow'],
      ...raw,
    },
    p50Ratio: ratio,
    goal: 'p50 <= 2x raw',
    meetsGoal: ratio <= 2,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

const USAGE =
  'scripts/bench cni [--pods N] | scripts/bench controller [--scale a,b] | ' +
  'scripts/bench enforcement [--pods 100] [--rules 10000] [--updates 100] [--only bulk|latency|violations|throughput] | ' +
  'scripts/bench cluster [--nodes 3] [--pods 100] [--policies 100] [--updates 50]';

async function main(): Promise<void> {
  const [what, ...args] = process.argv.slice(2);
  const countFlag = args.indexOf('--pods');
  const count = countFlag >= 0 ? Number(args[countFlag + 1]) : 50;
  if (what === 'cni') await benchCni(count);
  else if (what === 'controller') benchController(args, progress);
  else if (what === 'enforcement') await benchEnforcement(args, progress);
  else if (what === 'cluster') await benchCluster(args, progress);
  else {
    process.stderr.write(`usage: ${USAGE}\n`);
    process.exitCode = 2;
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
