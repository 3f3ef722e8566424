// Real traffic between a test node's simulated pods: busybox wget and a one-shot TCP connect, each run inside
// the client pod's network namespace.
import * as fs from 'node:fs';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import type { SimPod } from '../../scripts/lib/sim-pods';
import { run, type TestNode } from './sim-cluster';

type PodsOf = Pick<TestNode, 'pods'>;

/** The pod `namespace/name` of the node; throws when there is none. */
export function findPod(t: PodsOf, ref: string): SimPod {
  const found = t.pods.get(ref);
  if (!found) throw new Error(`no pod ${ref}`);
  return found;
}

/** busybox wget (2 s) from one pod to another's HTTP server: true when the page came back. */
export async function wget(t: PodsOf, from: string, to: string): Promise<boolean> {
  const result = await run('ip', [
    'netns',
    'exec',
    findPod(t, from).netnsName,
    // Debian's busybox 1.35 wget segfaults with -T (measured): coreutils timeout bounds it instead.
    'timeout',
    '2',
    'busybox',
    'wget',
    '-q',
    '-O',
    '-',
    `http://${findPod(t, to).ip}/`,
  ]);
  return result.code === 0;
}

/** Connects once (from a fixed source port when given); prints connected | refused | timeout | <error code>. */
const CONNECT_JS = `
const net = require('node:net');
const [host, port, timeoutMs, localPort] = process.argv.slice(2);
const options = { host, port: Number(port) };
if (localPort !== undefined) options.localPort = Number(localPort);
const socket = net.connect(options);
const done = (what) => { process.stdout.write(what); socket.destroy(); process.exit(0); };
socket.setTimeout(Number(timeoutMs), () => done('timeout'));
socket.on('connect', () => done('connected'));
socket.on('error', (e) => done(e.code === 'ECONNREFUSED' ? 'refused' : String(e.code)));
`;

export interface ConnectOptions {
  /** How long the connect may take before it counts as 'timeout'; 2000 unless told. */
  timeoutMs?: number;
  /** The client's source port. */
  localPort?: number;
}

/** One TCP connect from pod `from` to pod `to`: 'connected', 'refused', 'timeout' or the socket error code. */
export async function connectProbe(
  t: PodsOf & Pick<TestNode, 'home'>,
  from: string,
  to: string,
  port: number,
  options: ConnectOptions = {},
): Promise<string> {
  const script = path.join(t.home, 'connect.js');
  if (!fs.existsSync(script)) fs.writeFileSync(script, CONNECT_JS);
  const result = await run('ip', [
    'netns',
    'exec',
    findPod(t, from).netnsName,
    process.execPath,
    script,
    findPod(t, to).ip,
    String(port),
    String(options.timeoutMs ?? 2000),
    ...(options.localPort === undefined ? [] : [String(options.localPort)]),
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout;
}
