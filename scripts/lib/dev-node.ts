// One simulated appliance on this machine: a network namespace standing in for the node, a private OVS whose
// ovs-vswitchd runs in that namespace, and the firmware process started inside it. Used by scripts/start,
// scripts/stop, the integration tests and the benchmarks, so all of them exercise the same real set-up.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import { OvsProcesses, waitFor } from '../../firmware/ovs/ovs-processes';

export interface DevNodeOptions {
  /** State directory: ovs/, data/, run/, firmware.log. */
  home: string;
  /** Name of the node's network namespace. */
  nodeNs: string;
  nodeName?: string;
  podCidr?: string;
  /** Run the compiled firmware (dist/) instead of the TypeScript sources through tsx. */
  compiled?: boolean;
  /** Daemons outlive this process (scripts/start --detach). */
  detach?: boolean;
  logLevel?: string;
  /** Serial console device for the firmware (e.g. one end of a socat pty pair); absent: no console. */
  consoleDevice?: string;
  /** More firmware command-line flags, after the ones DevNode sets (e.g. `['--audit-default-drops', 'true']`). */
  extraArgs?: readonly string[];
}

export interface FirmwareStartOptions {
  /** Firmware flags for this start instead of DevNodeOptions.extraArgs (a restart with other options). */
  extraArgs?: readonly string[];
}

export const REPO_DIR = path.resolve(__dirname, '../..');

export class DevNode {
  readonly ovs: OvsProcesses;
  readonly runDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  private firmware: ChildProcess | undefined;

  constructor(private readonly options: DevNodeOptions) {
    this.ovs = new OvsProcesses({
      dir: path.join(options.home, 'ovs'),
      netns: options.nodeNs,
      detach: options.detach,
    });
    this.runDir = path.join(options.home, 'run');
    this.dataDir = path.join(options.home, 'data');
    this.logFile = path.join(options.home, 'firmware.log');
  }

  get cniSocket(): string {
    return path.join(this.runDir, 'cni.sock');
  }

  get antctlSocket(): string {
    return path.join(this.runDir, 'antctl.sock');
  }

  get nodeNs(): string {
    return this.options.nodeNs;
  }

  /**
   * The command (argv) that runs the CNI plugin the way a kubelet would exec it: the native shim that
   * scripts/lib/setup.sh builds (what the appliance installs), or the TypeScript fallback when it is not built.
   */
  cniPluginCommand(): string[] {
    const shim = path.join(REPO_DIR, 'dist/bin/antrea-edge-cni');
    if (fs.existsSync(shim)) return [shim];
    if (this.options.compiled)
      throw new Error(`${shim} is missing: run scripts/start or npm run build first`);
    return [process.execPath, '--import', 'tsx', path.join(REPO_DIR, 'firmware/cni/plugin.ts')];
  }

  antctlCommand(): string[] {
    return this.options.compiled
      ? [process.execPath, path.join(REPO_DIR, 'dist/firmware/cli/antctl.js')]
      : [process.execPath, '--import', 'tsx', path.join(REPO_DIR, 'firmware/cli/antctl.ts')];
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.options.home, { recursive: true });
    ensureNetns(this.options.nodeNs);
    await this.ovs.start();
    await this.startFirmware();
  }

  async startFirmware(start: FirmwareStartOptions = {}): Promise<void> {
    fs.mkdirSync(this.runDir, { recursive: true });
    const entry = this.options.compiled
      ? [path.join(REPO_DIR, 'dist/firmware/main.js')]
      : ['--import', 'tsx', path.join(REPO_DIR, 'firmware/main.ts')];
    const args = [
      'netns',
      'exec',
      this.options.nodeNs,
      process.execPath,
      ...entry,
      '--board',
      'sim',
      '--node-name',
      this.options.nodeName ?? 'antrea-edge-sim',
      '--pod-cidr',
      this.options.podCidr ?? '10.10.0.0/24',
      '--ovs-rundir',
      this.ovs.dir,
      '--data-dir',
      this.dataDir,
      '--run-dir',
      this.runDir,
      '--log-level',
      this.options.logLevel ?? 'info',
      ...(this.options.consoleDevice === undefined ? [] : ['--console-device', this.options.consoleDevice]),
      ...(start.extraArgs ?? this.options.extraArgs ?? []),
    ];
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn('ip', args, {
      cwd: REPO_DIR,
      env: { ...process.env, OVS_RUNDIR: this.ovs.dir },
      stdio: ['ignore', log, log],
      detached: this.options.detach === true,
    });
    fs.closeSync(log);
    fs.writeFileSync(path.join(this.options.home, 'firmware.pid'), String(child.pid));
    if (this.options.detach) child.unref();
    this.firmware = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(
          new Error(`firmware exited during start-up (code ${code}, signal ${signal}); see ${this.logFile}`),
        ),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([this.waitReady(60_000), exited]);
  }

  /** Waits until the firmware's local API answers /healthz. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.healthy()) return;
      if (Date.now() > deadline)
        throw new Error(`firmware not ready after ${timeoutMs} ms; see ${this.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  healthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = http.get({ socketPath: this.antctlSocket, path: '/healthz', timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
    });
  }

  /** Kills the firmware (SIGKILL by default, as a crash would) and waits for it to be gone. */
  async killFirmware(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.firmware;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // `ip netns exec` execs node in place, so the child's pid is the firmware itself.
    child.kill(signal);
    await gone;
    this.firmware = undefined;
  }

  async stop(): Promise<void> {
    await this.killFirmware('SIGTERM');
    await this.ovs.stop();
    deleteNetns(this.options.nodeNs);
  }
}

export function ensureNetns(name: string): void {
  const exists = fs.existsSync(`/var/run/netns/${name}`);
  if (!exists) execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

export function deleteNetns(name: string): void {
  if (fs.existsSync(`/var/run/netns/${name}`)) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

export { waitFor };

/**
 * A pseudo-terminal pair made by socat, standing in for a serial cable in development: the firmware opens one
 * end as its console device, a person (screen, socat) or a test the other. Both ends are symlinks to /dev/pts/N
 * that socat removes when it exits; a new pair with the same links is the cable plugged in again.
 */
export class PtyPair {
  private child: ChildProcess | undefined;

  constructor(
    readonly firmwareEnd: string,
    readonly userEnd: string,
    private readonly options: { detach?: boolean; pidFile?: string } = {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.firmwareEnd), { recursive: true });
    fs.mkdirSync(path.dirname(this.userEnd), { recursive: true });
    const child = spawn(
      'socat',
      [`pty,raw,echo=0,link=${this.firmwareEnd}`, `pty,raw,echo=0,link=${this.userEnd}`],
      { stdio: 'ignore', detached: this.options.detach === true },
    );
    this.child = child;
    if (this.options.detach) child.unref();
    if (this.options.pidFile !== undefined) fs.writeFileSync(this.options.pidFile, String(child.pid));
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`socat exited (code ${code}) before making the pty pair`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([
      waitFor(() => fs.existsSync(this.firmwareEnd) && fs.existsSync(this.userEnd), 10_000, 'socat pty pair'),
      exited,
    ]);
  }

  /** Ends the pair (the cable is unplugged): the firmware's end reports the device gone. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await gone;
  }
}
