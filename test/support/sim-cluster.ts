// A dev node + simulated pods with names unique to one test file, so test files never collide.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DevNode } from '../../scripts/lib/dev-node';
import { SimPods } from '../../scripts/lib/sim-pods';
import { run as runCommand, type RunResult } from './run';

export interface TestNode {
  node: DevNode;
  pods: SimPods;
  home: string;
  stop(): Promise<void>;
}

export interface TestNodeOptions {
  podCidr?: string;
  /** More firmware flags (DevNodeOptions.extraArgs). */
  extraArgs?: readonly string[];
  /** Serial console device for the firmware, e.g. the firmware end of a PtyPair. */
  consoleDevice?: string;
  /**
   * Start the embedded Node-RED (the firmware's default). Off unless asked for: its start-up costs ~3 s of CPU and
   * ~45 MB per node, and on this shared 2-core machine that delays the first packets of tests that never use it.
   */
  nodeRed?: boolean;
}

export async function startTestNode(tag: string, options: TestNodeOptions = {}): Promise<TestNode> {
  const id = crypto.randomBytes(3).toString('hex');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `ae-${tag}-`));
  const node = new DevNode({
    home,
    nodeNs: `aet-${tag}-${id}`,
    podCidr: options.podCidr,
    logLevel: 'debug',
    extraArgs: [...(options.nodeRed === true ? [] : ['--node-red', 'false']), ...(options.extraArgs ?? [])],
    consoleDevice: options.consoleDevice,
  });
  try {
    await node.start();
  } catch (error) {
    // A half-started node (netns, OVS) must not outlive the failed test file.
    await node.stop().catch(() => undefined);
    throw error;
  }
  const pods = new SimPods({
    stateDir: path.join(home, 'sim'),
    cniSocket: node.cniSocket,
    pluginCommand: node.cniPluginCommand(),
    netnsPrefix: `aet${id}`,
  });
  return {
    node,
    pods,
    home,
    async stop() {
      await pods.clear().catch(() => undefined);
      await node.stop();
      if (!process.env['KEEP_TEST_STATE']) fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Runs a command (30 s default timeout) and returns its exit code and output; never throws. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return runCommand(cmd, args, { timeoutMs });
}

/** Sum of n_packets of the flows in `table` whose text contains every fragment. */
export async function flowPackets(node: DevNode, table: number, ...fragments: string[]): Promise<number> {
  await node.ovs.appctl(['revalidator/wait']);
  const dump = await node.ovs.ofctl(['dump-flows', 'br-int', `table=${table}`]);
  let total = 0;
  for (const line of dump.split('\n')) {
    if (!line.includes('n_packets=')) continue;
    if (!fragments.every((f) => line.includes(f))) continue;
    total += Number(/n_packets=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return total;
}
