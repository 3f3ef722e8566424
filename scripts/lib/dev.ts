// Entry point behind scripts/start, scripts/stop and scripts/sim (the development simulator).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DevNode, PtyPair, REPO_DIR, deleteNetns } from './dev-node';
import { parseContainerPort, SimPods, splitRef } from './sim-pods';
import { SEED_PODS } from './seed';
import type { ContainerPort } from '../../firmware/core/api/types';
import { LocalApiClient } from '../../firmware/http/local-api';

const HOME = process.env['ANTREA_EDGE_HOME'] ?? path.join(REPO_DIR, '.run');
const NODE_NS = process.env['ANTREA_EDGE_NODE_NS'] ?? 'antrea-edge-node';
const POD_NETNS_PREFIX = 'ae';

/** The development serial console: the firmware opens one end of a socat pty pair, a person the other. */
const CONSOLE_FIRMWARE_END = path.join(HOME, 'console', 'firmware');
const CONSOLE_USER_END = path.join(HOME, 'console', 'tty');
const CONSOLE_PID_FILE = path.join(HOME, 'console', 'socat.pid');

function devNode(detach: boolean): DevNode {
  return new DevNode({
    home: HOME,
    nodeNs: NODE_NS,
    compiled: true,
    detach,
    consoleDevice: CONSOLE_FIRMWARE_END,
  });
}

function simPods(): SimPods {
  return new SimPods({
    stateDir: path.join(HOME, 'sim'),
    cniSocket: path.join(HOME, 'run', 'cni.sock'),
    pluginCommand: devNode(false).cniPluginCommand(),
    netnsPrefix: POD_NETNS_PREFIX,
  });
}

function say(msg: string): void {
  process.stderr.write(`==> ${msg}\n`);
}

async function start(args: string[]): Promise<void> {
  const detach = args.includes('--detach');
  const unknown = args.filter((a) => a !== '--detach');
  if (args.includes('--help') || args.includes('-h') || unknown.length > 0) {
    process.stdout.write(START_HELP);
    if (unknown.length > 0 && !args.includes('--help') && !args.includes('-h')) process.exitCode = 2;
    return;
  }
  const node = devNode(detach);
  if (await node.healthy()) {
    say(`antrea-edge is already running (state in ${HOME}); scripts/stop stops it`);
    printNext(node);
    return;
  }
  await stopAll(true);
  say(`starting a private Open vSwitch (userspace datapath) in network namespace ${NODE_NS}`);
  say('starting the firmware in standalone mode');
  const consolePty = new PtyPair(CONSOLE_FIRMWARE_END, CONSOLE_USER_END, {
    detach,
    pidFile: CONSOLE_PID_FILE,
  });
  await consolePty.start();
  const t0 = Date.now();
  await node.start();
  say(`firmware ready in ${Date.now() - t0} ms (log: ${node.logFile})`);
  const pods = simPods();
  for (const spec of SEED_PODS) {
    const pod = await pods.add(spec);
    say(
      `pod ${pod.namespace}/${pod.name} ${pod.ip}${spec.httpPort ? ` serving HTTP on :${spec.httpPort}` : ''}`,
    );
  }
  printNext(node);
  if (detach) return;
  say('running in the foreground: Ctrl-C stops everything (or use scripts/start --detach)');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await stopAll(false);
}

function printNext(node: DevNode): void {
  const nginx = simPods().get('default/nginx-deployment-cc7df4f8f-69cm2');
  process.stdout.write(`
antrea-edge is running (standalone mode, node namespace ${NODE_NS}).

Try:
  scripts/antctl get podinterface
  scripts/antctl get ovsflows -p ch-busybox -n default
  scripts/antctl get ovsflows -T SpoofGuard
  scripts/sim pod list
  scripts/sim exec default/ch-busybox -- wget -q -O - ${nginx?.ip ?? '<nginx IP>'}
  scripts/sim pod add default/my-pod --label app=demo --port http:8080/TCP
  scripts/antctl apply -f my-policy.yaml
  scripts/antctl get networkpolicy
  scripts/antctl query networkpolicyevaluation -S default/ch-busybox -D default/nginx-deployment-cc7df4f8f-69cm2 --port 80
  scripts/stop

Serial console (log in as admin; the first login sets the password):
  screen ${CONSOLE_USER_END} 115200
  socat -,raw,echo=0,escape=0x1d ${CONSOLE_USER_END},raw,echo=0     (Ctrl-] quits)

Firmware log: ${node.logFile}
`);
}

async function stopAll(quiet: boolean): Promise<void> {
  const node = devNode(true);
  if (await node.healthy()) {
    await simPods()
      .clear()
      .catch(() => undefined);
  } else {
    for (const pod of simPods().list()) deleteNetns(pod.netnsName);
  }
  const pidFile = path.join(HOME, 'firmware.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    try {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // not running
    }
  }
  await node.ovs.stop();
  stopConsolePty();
  for (const ns of listNetns()) {
    if (ns === NODE_NS || ns.startsWith(`${POD_NETNS_PREFIX}-`)) deleteNetns(ns);
  }
  fs.rmSync(HOME, { recursive: true, force: true });
  if (!quiet) say('stopped: daemons, namespaces and veths removed');
}

function stopConsolePty(): void {
  if (!fs.existsSync(CONSOLE_PID_FILE)) return;
  const pid = Number(fs.readFileSync(CONSOLE_PID_FILE, 'utf8'));
  // Only the socat we started: its command line names our console link.
  const cmdline = fs.existsSync(`/proc/${pid}/cmdline`)
    ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    : '';
  if (Number.isInteger(pid) && pid > 0 && cmdline.includes(CONSOLE_FIRMWARE_END)) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.existsSync(`/proc/${pid}/status`)
      ? false
      : !/State:\s+Z/.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function listNetns(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter(Boolean);
  } catch {
    return [];
  }
}

async function sim(args: string[]): Promise<void> {
  const [group, verb, ...rest] = args;
  const pods = simPods();
  if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(SIM_HELP);
    return;
  }
  if (group === 'exec') {
    const ref = verb;
    const dash = rest.indexOf('--');
    const argv = dash >= 0 ? rest.slice(dash + 1) : rest;
    if (!ref || argv.length === 0) throw new UsageError('usage: scripts/sim exec NS/NAME -- CMD [ARGS...]');
    const pod = pods.get(ref);
    if (!pod) throw new UsageError(`pod ${ref} not found (scripts/sim pod list)`);
    try {
      execFileSync('ip', ['netns', 'exec', pod.netnsName, ...argv], { stdio: 'inherit' });
    } catch (err) {
      process.exitCode = (err as { status?: number }).status ?? 1;
    }
    return;
  }
  if (group === 'ns') {
    await namespaceCommand(verb, rest);
    return;
  }
  if (group !== 'pod') throw new UsageError(`unknown command "${group}" (see scripts/sim --help)`);
  switch (verb) {
    case 'add': {
      const { ref, labels, ports, ip, http } = parsePodFlags(rest);
      const [namespace, name] = splitRef(ref);
      const pod = await pods.add({ namespace, name, labels, ports, ip, httpPort: http });
      process.stdout.write(`pod ${namespace}/${name} added: ip ${pod.ip} mac ${pod.mac}\n`);
      return;
    }
    case 'del': {
      const ref = rest[0];
      if (!ref) throw new UsageError('usage: scripts/sim pod del NS/NAME');
      await pods.del(ref);
      process.stdout.write(`pod ${ref} deleted\n`);
      return;
    }
    case 'label': {
      const [ref, ...pairs] = rest;
      if (!ref || pairs.length === 0)
        throw new UsageError('usage: scripts/sim pod label NS/NAME key=value|key- ...');
      const pod = pods.get(ref);
      if (!pod) throw new UsageError(`pod ${ref} not found`);
      const labels = applyLabelEdits(pod.labels, pairs);
      // The agent's store is the source of truth in standalone mode; the simulator keeps a copy for `pod list`.
      await new LocalApiClient({ socketPath: path.join(HOME, 'run', 'antctl.sock') }).setPodLabels(
        pod.namespace,
        pod.name,
        labels,
      );
      pods.setLabels(ref, labels);
      process.stdout.write(`pod ${ref} labeled\n`);
      return;
    }
    case 'list': {
      const list = pods.list();
      if (rest.includes('-o') && rest[rest.indexOf('-o') + 1] === 'json') {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const rows = list.map((p) => [
        p.namespace,
        p.name,
        p.ip,
        Object.entries(p.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '<none>',
      ]);
      const header = ['NAMESPACE', 'NAME', 'IP', 'LABELS'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
      for (const row of [header, ...rows]) {
        process.stdout.write(
          `${row
            .map((c, i) => c.padEnd(widths[i] ?? 0))
            .join('   ')
            .trimEnd()}\n`,
        );
      }
      return;
    }
    default:
      throw new UsageError(`unknown pod command "${verb ?? ''}" (add, del, label, list)`);
  }
}

/** `key=value` sets, `key-` removes, as kubectl label does. */
function applyLabelEdits(current: Record<string, string>, edits: string[]): Record<string, string> {
  const labels = { ...current };
  for (const pair of edits) {
    if (pair.endsWith('-')) delete labels[pair.slice(0, -1)];
    else {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`label "${pair}" must be key=value or key-`);
      labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return labels;
}

/** Namespaces exist once a pod is in them; their labels live in the agent's store (namespaceSelector). */
async function namespaceCommand(verb: string | undefined, args: string[]): Promise<void> {
  const client = new LocalApiClient({ socketPath: path.join(HOME, 'run', 'antctl.sock') });
  switch (verb) {
    case 'label': {
      const [name, ...pairs] = args;
      if (!name || pairs.length === 0)
        throw new UsageError('usage: scripts/sim ns label NS key=value|key- ...');
      const current = await client.namespaceLabels(name);
      const updated = await client.setNamespaceLabels(name, applyLabelEdits(current.labels, pairs));
      process.stdout.write(`namespace ${name} labeled: ${formatLabels(updated.labels)}\n`);
      return;
    }
    case 'show': {
      const [name] = args;
      if (!name || args.length > 1) throw new UsageError('usage: scripts/sim ns show NS');
      const current = await client.namespaceLabels(name);
      process.stdout.write(`${current.name}   ${formatLabels(current.labels)}\n`);
      return;
    }
    default:
      throw new UsageError(`unknown ns command "${verb ?? ''}" (label, show)`);
  }
}

function formatLabels(labels: Record<string, string>): string {
  return (
    Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',') || '<none>'
  );
}

function parsePodFlags(args: string[]): {
  ref: string;
  labels: Record<string, string>;
  ports: ContainerPort[];
  ip?: string;
  http?: number;
} {
  let ref: string | undefined;
  const labels: Record<string, string> = {};
  const ports: ContainerPort[] = [];
  let ip: string | undefined;
  let http: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--label' || a === '-l') {
      const pair = value();
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new UsageError(`--label "${pair}" must be key=value`);
      labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    } else if (a === '--port' || a === '-p') {
      try {
        ports.push(parseContainerPort(value()));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else if (a === '--ip') ip = value();
    else if (a === '--http') http = Number(value());
    else if (a.startsWith('-')) throw new UsageError(`unknown flag ${a}`);
    else if (ref === undefined) ref = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!ref) {
    throw new UsageError(
      'usage: scripts/sim pod add NS/NAME [--label k=v]... [--port NAME:PORT[/PROTO]]... [--ip A.B.C.D] [--http PORT]',
    );
  }
  return { ref, labels, ports, ip, http };
}

class UsageError extends Error {}

const START_HELP = `Usage: scripts/start [--detach]

Sets up what is missing (Debian packages when root, npm ci, build), starts a private Open vSwitch with the
userspace datapath, the antrea-edge firmware in standalone mode and the seed's demo pods.

  --detach   return once everything is ready (scripts/stop tears it down)
`;

const SIM_HELP = `Usage: scripts/sim COMMAND

Simulated pods (network namespaces) attached through the real CNI plugin, the way a kubelet would.

Commands:
  pod add NS/NAME [--label k=v]... [--port NAME:PORT[/PROTO]]... [--ip A.B.C.D] [--http PORT]
                                          create a pod (CNI ADD); --port declares a container port that
                                          named ports in policies resolve to; --http serves a page on PORT
  pod del NS/NAME                         delete a pod (CNI DEL)
  pod label NS/NAME key=value|key- ...    change a pod's labels
  pod list [-o json]                      list pods
  ns label NS key=value|key- ...          change a namespace's labels (namespaces exist once a pod is in
                                          them, labelled kubernetes.io/metadata.name=NS)
  ns show NS                              print a namespace's labels
  exec NS/NAME -- CMD [ARGS...]           run a command in the pod's namespace
`;

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  try {
    if (command === 'start') await start(args);
    else if (command === 'stop') await stopAll(false);
    else if (command === 'sim') await sim(args);
    else throw new UsageError(`unknown command ${command ?? ''}`);
  } catch (err) {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) void main();
