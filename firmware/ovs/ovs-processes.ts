// Starts and stops a private Open vSwitch (ovsdb-server + ovs-vswitchd) in its own run directory.
// Used by scripts/start in development, by the integration tests, and on boards without an init system.
// Daemons run as child processes (not --detach) unless `detach` is set, because a detached daemon that is
// killed lingers as a zombie until PID 1 reaps it (see PLATFORM.md), which confuses restarts in tests.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';

const execFileAsync = promisify(execFile);

export const OVS_SCHEMA_PATH = '/usr/share/openvswitch/vswitch.ovsschema';

export interface OvsProcessesOptions {
  /** Directory that holds conf.db, sockets, pid and log files. Created when missing. */
  dir: string;
  /** Run ovs-vswitchd inside this network namespace (a second "node"). */
  netns?: string;
  /** Start with --detach so the daemons outlive this process (scripts/start --detach). */
  detach?: boolean;
}

export class OvsProcesses {
  readonly dir: string;
  readonly dbSocket: string;
  readonly vswitchdCtl: string;
  readonly ovsdbCtl: string;
  private ovsdb: ChildProcess | undefined;
  private vswitchd: ChildProcess | undefined;

  constructor(private readonly options: OvsProcessesOptions) {
    this.dir = path.resolve(options.dir);
    this.dbSocket = path.join(this.dir, 'db.sock');
    this.vswitchdCtl = path.join(this.dir, 'ovs-vswitchd.ctl');
    this.ovsdbCtl = path.join(this.dir, 'ovsdb-server.ctl');
  }

  /** Environment every OVS tool needs to find this instance. */
  env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      OVS_RUNDIR: this.dir,
      OVS_DBDIR: this.dir,
      OVS_LOGDIR: this.dir,
      OVS_SYSCONFDIR: this.dir,
    };
  }

  bridgeMgmtSocket(bridge: string): string {
    return path.join(this.dir, `${bridge}.mgmt`);
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const db = path.join(this.dir, 'conf.db');
    if (!fs.existsSync(db)) {
      await execFileAsync('ovsdb-tool', ['create', db, OVS_SCHEMA_PATH], { env: this.env() });
    }
    await this.startOvsdb();
    // ovs-ctl records the version at start; ovs-vswitchd itself does not.
    const version =
      /\(Open vSwitch\) (\S+)/.exec(await this.run('ovs-vswitchd', ['--version']))?.[1] ?? 'unknown';
    await this.run('ovs-vsctl', [
      `--db=unix:${this.dbSocket}`,
      '--no-wait',
      'init',
      '--',
      'set',
      'Open_vSwitch',
      '.',
      `ovs_version=${version}`,
    ]);
    await this.startVswitchd();
  }

  async startOvsdb(): Promise<void> {
    const db = path.join(this.dir, 'conf.db');
    const args = [
      db,
      `--remote=punix:${this.dbSocket}`,
      `--pidfile=${path.join(this.dir, 'ovsdb-server.pid')}`,
      `--unixctl=${this.ovsdbCtl}`,
      `--log-file=${path.join(this.dir, 'ovsdb-server.log')}`,
    ];
    this.ovsdb = this.launch('ovsdb-server', args, false);
    await waitFor(() => fs.existsSync(this.dbSocket), 10_000, 'ovsdb-server socket');
  }

  async startVswitchd(): Promise<void> {
    const args = [
      `unix:${this.dbSocket}`,
      `--pidfile=${path.join(this.dir, 'ovs-vswitchd.pid')}`,
      `--unixctl=${this.vswitchdCtl}`,
      `--log-file=${path.join(this.dir, 'ovs-vswitchd.log')}`,
    ];
    this.vswitchd = this.launch('ovs-vswitchd', args, true);
    await waitFor(() => fs.existsSync(this.vswitchdCtl), 10_000, 'ovs-vswitchd control socket');
    // ovs-vsctl without --no-wait returns only once ovs-vswitchd has applied the change (cur_cfg).
    await this.vsctl(['set', 'Open_vSwitch', '.', `external_ids:ovs-vswitchd-started=${Date.now()}`]);
  }

  async stopVswitchd(): Promise<void> {
    await this.stopDaemon('ovs-vswitchd', this.vswitchd);
    this.vswitchd = undefined;
  }

  async stopOvsdb(): Promise<void> {
    await this.stopDaemon('ovsdb-server', this.ovsdb);
    this.ovsdb = undefined;
  }

  async restartVswitchd(): Promise<void> {
    await this.stopVswitchd();
    await this.startVswitchd();
  }

  async stop(): Promise<void> {
    await this.stopVswitchd();
    await this.stopOvsdb();
  }

  /** Runs an OVS tool against this instance and returns stdout. */
  async run(tool: string, args: string[], timeoutMs = 30_000): Promise<string> {
    const { stdout } = await execFileAsync(tool, args, {
      env: this.env(),
      timeout: timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
    });
    return stdout;
  }

  vsctl(args: string[]): Promise<string> {
    return this.run('ovs-vsctl', [`--db=unix:${this.dbSocket}`, '--timeout=10', ...args]);
  }

  ofctl(args: string[]): Promise<string> {
    return this.run('ovs-ofctl', ['-O', 'OpenFlow13', ...args]);
  }

  appctl(args: string[]): Promise<string> {
    return this.run('ovs-appctl', ['-t', this.vswitchdCtl, ...args]);
  }

  private launch(binary: string, args: string[], inNetns: boolean): ChildProcess | undefined {
    const netns = inNetns ? this.options.netns : undefined;
    const command = netns ? 'ip' : binary;
    const full = netns ? ['netns', 'exec', netns, binary, ...args] : args;
    if (this.options.detach) {
      const child = spawn(command, [...full, '--detach'], { env: this.env(), stdio: 'ignore' });
      child.unref();
      return undefined;
    }
    const child = spawn(command, full, { env: this.env(), stdio: 'ignore' });
    child.on('error', () => undefined);
    return child;
  }

  private async stopDaemon(name: string, child: ChildProcess | undefined): Promise<void> {
    const pidFile = path.join(this.dir, `${name}.pid`);
    const pid = child?.pid ?? readPid(pidFile);
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // The pidfile disappears when the daemon has really exited (kill -0 lies for zombies).
    await waitFor(() => !fs.existsSync(pidFile), 10_000, `${name} to exit`).catch(() => {
      fs.rmSync(pidFile, { force: true });
    });
    if (name === 'ovsdb-server') fs.rmSync(this.dbSocket, { force: true });
    if (name === 'ovs-vswitchd') fs.rmSync(this.vswitchdCtl, { force: true });
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
