// Simulated pods: a network namespace per pod, attached through the real CNI plugin exactly as a kubelet
// would (CNI_COMMAND=ADD, the pod's netns path, K8S_POD_NAMESPACE/K8S_POD_NAME in CNI_ARGS).
import { execFile, execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerPort } from '../../firmware/core/api/types';
import { deleteNetns } from './dev-node';

export interface SimPodSpec {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  /** Container ports (named ports in policies resolve against them), sent as CNI_ARGS K8S_POD_PORTS. */
  ports?: ContainerPort[];
  ip?: string;
  /** Serve HTTP on this port with busybox httpd (the seed's nginx pods). */
  httpPort?: number;
  httpTitle?: string;
}

export interface SimPod {
  namespace: string;
  name: string;
  netnsName: string;
  netnsPath: string;
  containerId: string;
  labels: Record<string, string>;
  /** Absent in state files written before container ports existed. */
  ports?: ContainerPort[];
  ip: string;
  mac: string;
  servers: number[];
}

export interface CniResultJson {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
}

export class CniInvocationError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
  ) {
    super(message);
  }
}

export interface SimPodsOptions {
  stateDir: string;
  cniSocket: string;
  pluginCommand: string[];
  /** Prefix of the pods' network namespace names, so several simulators never collide. */
  netnsPrefix?: string;
}

export class SimPods {
  private readonly stateFile: string;

  constructor(private readonly options: SimPodsOptions) {
    this.stateFile = path.join(options.stateDir, 'pods.json');
  }

  list(): SimPod[] {
    try {
      return JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as SimPod[];
    } catch {
      return [];
    }
  }

  get(ref: string): SimPod | undefined {
    const [namespace, name] = splitRef(ref);
    return this.list().find((p) => p.namespace === namespace && p.name === name);
  }

  netnsNameFor(namespace: string, name: string): string {
    const prefix = this.options.netnsPrefix ?? 'ae';
    const hash = crypto.createHash('sha1').update(`${namespace}/${name}`).digest('hex').slice(0, 6);
    return `${prefix}-${namespace}-${name}`.slice(0, 40) + `-${hash}`;
  }

  async add(spec: SimPodSpec): Promise<SimPod> {
    if (this.get(`${spec.namespace}/${spec.name}`))
      throw new Error(`pod ${spec.namespace}/${spec.name} already exists`);
    const netnsName = this.netnsNameFor(spec.namespace, spec.name);
    deleteNetns(netnsName);
    execFileSync('ip', ['netns', 'add', netnsName]);
    const netnsPath = `/var/run/netns/${netnsName}`;
    const containerId = crypto.randomBytes(32).toString('hex');
    const labels = spec.labels ?? {};
    let result: CniResultJson;
    try {
      result = await this.invoke('ADD', containerId, netnsPath, spec, labels);
    } catch (err) {
      deleteNetns(netnsName);
      throw err;
    }
    const ip = (result.ips?.[0]?.address ?? '').split('/')[0] ?? '';
    const mac = result.interfaces?.find((i) => i.sandbox)?.mac ?? '';
    const pod: SimPod = {
      namespace: spec.namespace,
      name: spec.name,
      netnsName,
      netnsPath,
      containerId,
      labels,
      ports: spec.ports ?? [],
      ip,
      mac,
      servers: [],
    };
    if (spec.httpPort !== undefined) pod.servers.push(this.startHttp(pod, spec.httpPort, spec.httpTitle));
    this.save([...this.list(), pod]);
    return pod;
  }

  async del(ref: string): Promise<void> {
    const pod = this.get(ref);
    if (!pod) throw new Error(`pod ${ref} not found`);
    for (const pid of pod.servers) killQuietly(pid);
    await this.invoke('DEL', pod.containerId, pod.netnsPath, pod, pod.labels);
    deleteNetns(pod.netnsName);
    this.save(
      this.list().filter((p) => p !== pod && !(p.namespace === pod.namespace && p.name === pod.name)),
    );
  }

  async check(ref: string): Promise<void> {
    const pod = this.get(ref);
    if (!pod) throw new Error(`pod ${ref} not found`);
    await this.invoke('CHECK', pod.containerId, pod.netnsPath, pod, pod.labels);
  }

  setLabels(ref: string, labels: Record<string, string>): SimPod {
    const pods = this.list();
    const pod = pods.find((p) => `${p.namespace}/${p.name}` === ref);
    if (!pod) throw new Error(`pod ${ref} not found`);
    pod.labels = labels;
    this.save(pods);
    return pod;
  }

  /** Runs a command in the pod's network namespace. */
  exec(
    ref: string,
    argv: string[],
    timeoutMs = 30_000,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const pod = this.get(ref);
    if (!pod) return Promise.reject(new Error(`pod ${ref} not found`));
    return new Promise((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', pod.netnsName, ...argv],
        { timeout: timeoutMs },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  /** Deletes every pod this simulator knows, best effort (scripts/stop). */
  async clear(): Promise<void> {
    for (const pod of this.list()) {
      for (const pid of pod.servers) killQuietly(pid);
      await this.invoke('DEL', pod.containerId, pod.netnsPath, pod, pod.labels).catch(() => undefined);
      deleteNetns(pod.netnsName);
    }
    this.save([]);
  }

  invoke(
    command: 'ADD' | 'DEL' | 'CHECK',
    containerId: string,
    netnsPath: string,
    pod: { namespace: string; name: string; ip?: string; ports?: ContainerPort[] },
    labels: Record<string, string>,
  ): Promise<CniResultJson> {
    const args = [`K8S_POD_NAMESPACE=${pod.namespace}`, `K8S_POD_NAME=${pod.name}`];
    if (command === 'ADD' && pod.ip) args.push(`IP=${pod.ip}`);
    const labelText = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (labelText) args.push(`K8S_POD_LABELS=${labelText}`);
    const portText = (pod.ports ?? []).map(formatContainerPort).join(',');
    if (command === 'ADD' && portText) args.push(`K8S_POD_PORTS=${portText}`);
    const env = {
      ...process.env,
      CNI_COMMAND: command,
      CNI_CONTAINERID: containerId,
      CNI_NETNS: netnsPath,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: args.join(';'),
      CNI_PATH: '/opt/cni/bin',
    };
    const config = JSON.stringify({
      cniVersion: '1.0.0',
      name: 'antrea',
      type: 'antrea-edge-cni',
      cniSocket: this.options.cniSocket,
    });
    const [cmd, ...cmdArgs] = this.options.pluginCommand;
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? 'false', cmdArgs, { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) {
          let msg = stdout.trim() || stderr.trim();
          try {
            const body = JSON.parse(stdout) as { msg?: string; details?: string };
            msg = [body.msg, body.details].filter(Boolean).join(': ');
          } catch {
            // not JSON
          }
          reject(new CniInvocationError(`CNI ${command} failed: ${msg}`, code, stdout));
          return;
        }
        if (command !== 'ADD') {
          resolve({ cniVersion: '1.0.0' });
          return;
        }
        try {
          resolve(JSON.parse(stdout) as CniResultJson);
        } catch {
          reject(new CniInvocationError(`CNI ADD printed no JSON: ${stdout}`, code, stdout));
        }
      });
      // A plugin that fails early may exit before reading its config: ignore EPIPE, its exit code tells.
      child.stdin.on('error', () => undefined);
      child.stdin.end(config);
    });
  }

  private startHttp(pod: SimPod, port: number, title = 'Welcome to nginx!'): number {
    const root = path.join(this.options.stateDir, 'www', `${pod.namespace}_${pod.name}`);
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(
      path.join(root, 'index.html'),
      `<!DOCTYPE html>\n<html>\n<head>\n<title>${title}</title>\n</head>\n<body>\n<h1>${title}</h1>\n` +
        `<p>Served by ${pod.namespace}/${pod.name} (${pod.ip}).</p>\n</body>\n</html>\n`,
    );
    const child = spawn(
      'ip',
      ['netns', 'exec', pod.netnsName, 'busybox', 'httpd', '-f', '-p', String(port), '-h', root],
      {
        stdio: 'ignore',
        detached: true,
      },
    );
    child.unref();
    return child.pid ?? 0;
  }

  private save(pods: SimPod[]): void {
    fs.mkdirSync(this.options.stateDir, { recursive: true });
    fs.writeFileSync(this.stateFile, JSON.stringify(pods, null, 2));
  }
}

/** `http:80/TCP` or `9090/UDP`: the K8S_POD_PORTS entry and `scripts/sim pod add --port` syntax. */
export function formatContainerPort(port: ContainerPort): string {
  const name = port.name === undefined ? '' : `${port.name}:`;
  return `${name}${port.containerPort}/${port.protocol ?? 'TCP'}`;
}

/** Parses `[NAME:]PORT[/PROTOCOL]` (protocol TCP by default); the agent validates names and ranges again. */
export function parseContainerPort(text: string): ContainerPort {
  const match = /^(?:([^:/]+):)?(\d+)(?:\/(TCP|UDP|SCTP))?$/i.exec(text);
  const port = Number(match?.[2]);
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new Error(`port "${text}" must be [NAME:]PORT[/TCP|UDP|SCTP] with PORT 1-65535, e.g. http:80/TCP`);
  }
  const protocol = (match[3] ?? 'TCP').toUpperCase() as ContainerPort['protocol'];
  return match[1] === undefined
    ? { containerPort: port, protocol }
    : { name: match[1], containerPort: port, protocol };
}

export function splitRef(ref: string): [string, string] {
  const slash = ref.indexOf('/');
  if (slash <= 0 || slash === ref.length - 1)
    throw new Error(`pod reference "${ref}" must be NAMESPACE/NAME`);
  return [ref.slice(0, slash), ref.slice(slash + 1)];
}

function killQuietly(pid: number): void {
  if (pid <= 0) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}
