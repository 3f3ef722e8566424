// A multi-node cluster for one test file (names unique to it, all prefixed `aemn`) and real-traffic probes
// between pods of different nodes: TCP connect, HTTP over TCP, UDP echo.
import { spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MultiNodeCluster, type ClusterNode } from '../../scripts/lib/multi-node';
import type { SimPod, SimPodSpec } from '../../scripts/lib/sim-pods';
import { run } from './run';

export type { ClusterNode };

export interface MultiNode {
  cluster: MultiNodeCluster;
  nodes: ClusterNode[];
  home: string;
  node(index: number): ClusterNode;
  /** Adds a pod on node `index` through the CNI plugin, as a kubelet would. */
  addPod(index: number, spec: SimPodSpec): Promise<SimPod>;
  /** Starts a UDP echo server in the pod (stopped by stop()). */
  startUdpEcho(pod: SimPod, port: number): Promise<void>;
  /** One TCP connect: 'connected', 'refused', 'timeout' or the socket error code. */
  tcpConnect(from: SimPod, toIp: string, port: number, timeoutMs?: number): Promise<string>;
  /** One UDP datagram to an echo server: the echoed text, or 'timeout' / an error code. */
  udpEcho(from: SimPod, toIp: string, port: number, timeoutMs?: number): Promise<string>;
  /** `ovs-ofctl dump-flows br-int ARGS` on node `index` (e.g. a table or cookie selector): the flow lines. */
  dumpFlows(index: number, ...args: string[]): Promise<string[]>;
  stop(): Promise<void>;
}

export interface MultiNodeOptions {
  extraArgs?: readonly string[];
}

const CONNECT_JS = `
const net = require('node:net');
const [host, port, timeoutMs] = process.argv.slice(2);
const socket = net.connect({ host, port: Number(port) });
const done = (what) => { process.stdout.write(what); socket.destroy(); process.exit(0); };
socket.setTimeout(Number(timeoutMs), () => done('timeout'));
socket.on('connect', () => done('connected'));
socket.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code)));
`;

const UDP_SEND_JS = `
const dgram = require('node:dgram');
const [host, port, timeoutMs, text] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
const done = (what) => { process.stdout.write(what); socket.close(); process.exit(0); };
setTimeout(() => done('timeout'), Number(timeoutMs));
socket.on('message', (msg) => done(msg.toString()));
socket.on('error', (e) => done(String(e.code)));
socket.send(Buffer.from(text), Number(port), host);
`;

const UDP_ECHO_JS = `
const dgram = require('node:dgram');
const socket = dgram.createSocket('udp4');
socket.on('message', (msg, from) => socket.send(Buffer.concat([Buffer.from('echo:'), msg]), from.port, from.address));
socket.bind(Number(process.argv[2]), () => process.stdout.write('ready\\n'));
`;

export async function startMultiNode(
  n: number,
  tag: string,
  options: MultiNodeOptions = {},
): Promise<MultiNode> {
  const id = crypto.randomBytes(3).toString('hex');
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `aemn-${tag}-`));
  const cluster = new MultiNodeCluster({
    home,
    prefix: `aemn-${tag.slice(0, 6)}${id}`,
    nodes: n,
    nodeNamePrefix: `aemn-${tag.slice(0, 6)}-node`,
    extraArgs: options.extraArgs,
  });
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  const scripts = { connect: 'connect.js', udpSend: 'udp-send.js', udpEcho: 'udp-echo.js' };
  fs.writeFileSync(path.join(home, scripts.connect), CONNECT_JS);
  fs.writeFileSync(path.join(home, scripts.udpSend), UDP_SEND_JS);
  fs.writeFileSync(path.join(home, scripts.udpEcho), UDP_ECHO_JS);
  const servers: ChildProcess[] = [];

  const inPod = async (pod: SimPod, script: string, args: string[]): Promise<string> => {
    const result = await run('ip', [
      'netns',
      'exec',
      pod.netnsName,
      process.execPath,
      path.join(home, script),
      ...args,
    ]);
    if (result.code !== 0) throw new Error(`${script} in ${pod.netnsName} failed: ${result.stderr}`);
    return result.stdout;
  };

  return {
    cluster,
    nodes: cluster.nodes,
    home,
    node: (index) => cluster.node(index),
    addPod: (index, spec) => cluster.node(index).pods.add(spec),
    async startUdpEcho(pod, port) {
      const child = spawn(
        'ip',
        ['netns', 'exec', pod.netnsName, process.execPath, path.join(home, scripts.udpEcho), String(port)],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
      servers.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.once('data', () => resolve());
        child.once('exit', (code) =>
          reject(new Error(`UDP echo server in ${pod.netnsName} exited (${code})`)),
        );
      });
    },
    tcpConnect: (from, toIp, port, timeoutMs = 2000) =>
      inPod(from, scripts.connect, [toIp, String(port), String(timeoutMs)]),
    udpEcho: (from, toIp, port, timeoutMs = 2000) =>
      inPod(from, scripts.udpSend, [toIp, String(port), String(timeoutMs), `from ${from.ip}`]),
    async dumpFlows(index, ...args) {
      const dump = await cluster.node(index).dev.ovs.ofctl(['dump-flows', 'br-int', ...args]);
      return dump.split('\n').filter((line) => line.includes('actions='));
    },
    async stop() {
      for (const server of servers) server.kill();
      await cluster.stop();
      if (!process.env['KEEP_TEST_STATE']) fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
