// `antctl supportbundle`: one tar.gz with what a maintainer needs to debug an appliance remotely: the firmware
// log (its last MiBs), np.log, the OVS flows and database, policies and groups as antctl prints them, agent and
// controller info, the store's schema version, the board profile, the configuration and system facts (uname,
// memory, disk, addresses and routes of the namespace the firmware runs in). Nothing from the store's tables is
// copied (users' password hashes and salts stay out), and every text file passes redaction.ts: known secret
// values are replaced, secret-named fields leave log lines. A part that cannot be collected is listed in
// errors.txt; the bundle still has the rest.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type {
  AgentInfoView,
  ControllerInfoView,
  NetworkPolicyStatsView,
  NetworkPolicyView,
  SupportBundleRequest,
  SupportBundleView,
} from '../core/antctl/views';
import { ApiError } from '../core/antctl/api-error';
import type { Logger } from '../core/logger';
import { formatOutput } from '../core/output/format';
import { redactKnownSecrets, redactLog } from './redaction';
import { tarArchive, type TarEntry } from './tar-archive';

/** The parts of the agent's query service a bundle reads (the same answers antctl prints). */
export interface SupportBundleQueries {
  agentInfo(): Promise<AgentInfoView>;
  controllerInfo(): Promise<ControllerInfoView>;
  networkPolicies(filter: Record<string, never>): Promise<NetworkPolicyView[]>;
  addressGroups(filter: Record<string, never>): Promise<unknown[]>;
  appliedToGroups(filter: Record<string, never>): Promise<unknown[]>;
  networkPolicyStats(filter: Record<string, never>): Promise<NetworkPolicyStatsView[]>;
}

export interface CommandResult {
  stdout: string;
}

/** Runs a program (no shell); rejects when it fails or times out. */
export type CommandRunner = (
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
) => Promise<CommandResult>;

export interface SupportBundleOptions {
  nodeName: string;
  version: string;
  /** Where bundles go when the request names no directory. */
  defaultDir: string;
  queries: SupportBundleQueries;
  /** The firmware's own log: its newest `maxBytes` (see firmwareLogSource). */
  firmwareLog(maxBytes: number): string;
  /** np.log, the audit log. */
  npLogFile: string;
  bridgeName: string;
  ovsdbSocket: string;
  /** Environment for the OVS tools (OVS_RUNDIR). */
  ovsEnv: NodeJS.ProcessEnv;
  storeSchemaVersion(): number;
  boardProfile: unknown;
  /** The configuration the firmware runs with (nothing secret in it). */
  config: unknown;
  /** Values that must never leave the appliance: the users table's password hashes and salts. */
  secrets(): string[];
  /** The /metrics text, when the metrics registry runs. */
  metrics?(): Promise<string>;
  logger: Logger;
  /** Default: execFile. */
  run?: CommandRunner;
  /** Default: Date. */
  now?: () => Date;
  /** How much of the firmware log and np.log; default 8 MiB each. */
  maxLogBytes?: number;
  /** Per external command; default 30 s. */
  commandTimeoutMs?: number;
}

export const DEFAULT_MAX_LOG_BYTES = 8 * 1024 * 1024;

/** What a bundle holds, in archive order, relative to its top directory. */
export const SUPPORT_BUNDLE_FILES = [
  'logs/antrea-edge.log',
  'logs/np.log',
  'ovs/dump-flows.txt',
  'ovs/ovsdb-dump.txt',
  'agent/agentinfo.yaml',
  'agent/controllerinfo.yaml',
  'policies/networkpolicies.yaml',
  'policies/addressgroups.yaml',
  'policies/appliedtogroups.yaml',
  'policies/networkpolicystats.yaml',
  'store/schema-version.txt',
  'board/profile.json',
  'config/firmware-config.yaml',
  'system/uname.txt',
  'system/memory.txt',
  'system/disk.txt',
  'system/ip-addr.txt',
  'system/ip-route.txt',
  'system/process.txt',
  'metrics/metrics.txt',
] as const;

export type SupportBundleFile = (typeof SUPPORT_BUNDLE_FILES)[number];

/** Listed only when some part failed. */
export const ERRORS_FILE = 'errors.txt';

interface Part {
  file: SupportBundleFile;
  what: string;
  /** Log files get line-wise redaction on top of the known-secret replacement. */
  log?: boolean;
  collect(): Promise<string>;
}

export class SupportBundle {
  private running: Promise<unknown> | undefined;

  constructor(private readonly options: SupportBundleOptions) {}

  /**
   * Collects and writes one bundle; one at a time (a second request while one runs is Conflict). `progress` gets
   * one line per part. Rejects with ApiError BadRequest for a relative or unwritable directory.
   */
  async collect(request: SupportBundleRequest, progress: (line: string) => void): Promise<SupportBundleView> {
    if (this.running !== undefined) {
      throw new ApiError(
        'Conflict',
        'a support bundle is being collected already; try again when it is done',
      );
    }
    const dir = request.dir ?? this.options.defaultDir;
    if (!path.isAbsolute(dir)) {
      throw new ApiError('BadRequest', `--dir must be an absolute path on the appliance, got "${dir}"`);
    }
    const work = this.write(dir, progress);
    this.running = work;
    try {
      return await work;
    } finally {
      this.running = undefined;
    }
  }

  private async write(dir: string, progress: (line: string) => void): Promise<SupportBundleView> {
    const now = (this.options.now ?? (() => new Date()))();
    const base = `antrea-edge-supportbundle_${safeName(this.options.nodeName)}_${compactTime(now)}`;
    try {
      await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new ApiError('BadRequest', `cannot create ${dir}: ${(error as Error).message}`);
    }
    const secrets = this.options.secrets();
    const entries: TarEntry[] = [{ path: `${base}/`, mtime: now }];
    const files: string[] = [];
    const failures: string[] = [];
    for (const part of this.parts()) {
      progress(`collecting ${part.what}`);
      let text: string;
      try {
        text = await part.collect();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        failures.push(`${part.file}: ${part.what}: ${oneLine(reason)}`);
        progress(`  failed: ${oneLine(reason)}`);
        continue;
      }
      const redacted = redactKnownSecrets(part.log === true ? redactLog(text) : text, secrets);
      entries.push({ path: `${base}/${part.file}`, data: redacted, mode: 0o600, mtime: now });
      files.push(part.file);
    }
    if (failures.length > 0) {
      entries.push({
        path: `${base}/${ERRORS_FILE}`,
        data: redactKnownSecrets(`${failures.join('\n')}\n`, secrets),
        mode: 0o600,
        mtime: now,
      });
      files.push(ERRORS_FILE);
    }
    progress('writing the archive');
    const gz = zlib.gzipSync(tarArchive(entries));
    const file = path.join(dir, `${base}.tar.gz`);
    const tmp = `${file}.partial`;
    try {
      await fs.promises.writeFile(tmp, gz, { mode: 0o600 });
      await fs.promises.rename(tmp, file);
    } catch (error) {
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      throw new ApiError('BadRequest', `cannot write ${file}: ${(error as Error).message}`);
    }
    this.options.logger.info('support bundle written', { file, bytes: gz.length, failures: failures.length });
    return { path: file, bytes: gz.length, files, failures };
  }

  private parts(): Part[] {
    const o = this.options;
    const maxLogBytes = o.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES;
    const run = (file: string, args: readonly string[]): Promise<string> =>
      (o.run ?? execFileRunner)(file, args, {
        env: o.ovsEnv,
        timeoutMs: o.commandTimeoutMs ?? 30_000,
      }).then((result) => result.stdout);
    const yaml = (data: unknown): string => formatOutput('yaml', data, () => ({ columns: [], rows: [] }));
    return [
      {
        file: 'logs/antrea-edge.log',
        what: 'the firmware log',
        log: true,
        collect: () => Promise.resolve(o.firmwareLog(maxLogBytes)),
      },
      {
        file: 'logs/np.log',
        what: 'the NetworkPolicy audit log (np.log)',
        log: true,
        collect: () => readTail(o.npLogFile, maxLogBytes, '(no audit log entries yet)\n'),
      },
      {
        file: 'ovs/dump-flows.txt',
        what: `OVS flows (ovs-ofctl dump-flows ${o.bridgeName})`,
        collect: () => run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', o.bridgeName]),
      },
      {
        file: 'ovs/ovsdb-dump.txt',
        what: 'the OVS database (ovsdb-client dump)',
        collect: () => run('ovsdb-client', ['dump', `unix:${o.ovsdbSocket}`, 'Open_vSwitch']),
      },
      {
        file: 'agent/agentinfo.yaml',
        what: 'agentinfo',
        collect: async () => yaml(await o.queries.agentInfo()),
      },
      {
        file: 'agent/controllerinfo.yaml',
        what: 'controllerinfo',
        collect: async () => yaml(await o.queries.controllerInfo()),
      },
      {
        file: 'policies/networkpolicies.yaml',
        what: 'network policies',
        collect: async () => yaml(await o.queries.networkPolicies({})),
      },
      {
        file: 'policies/addressgroups.yaml',
        what: 'address groups',
        collect: async () => yaml(await o.queries.addressGroups({})),
      },
      {
        file: 'policies/appliedtogroups.yaml',
        what: 'applied-to groups',
        collect: async () => yaml(await o.queries.appliedToGroups({})),
      },
      {
        file: 'policies/networkpolicystats.yaml',
        what: 'network policy statistics',
        collect: async () => yaml(await o.queries.networkPolicyStats({})),
      },
      {
        file: 'store/schema-version.txt',
        what: 'the store schema version',
        collect: () => Promise.resolve(`${o.storeSchemaVersion()}\n`),
      },
      {
        file: 'board/profile.json',
        what: 'the board profile',
        collect: () => Promise.resolve(`${JSON.stringify(o.boardProfile, null, 2)}\n`),
      },
      {
        file: 'config/firmware-config.yaml',
        what: 'the firmware configuration',
        collect: () => Promise.resolve(yaml(o.config)),
      },
      { file: 'system/uname.txt', what: 'uname', collect: () => run('uname', ['-a']) },
      {
        file: 'system/memory.txt',
        what: 'memory (/proc/meminfo)',
        collect: () => fs.promises.readFile('/proc/meminfo', 'utf8'),
      },
      { file: 'system/disk.txt', what: 'disk usage (df)', collect: () => run('df', ['-P', '-k']) },
      { file: 'system/ip-addr.txt', what: 'addresses (ip addr)', collect: () => run('ip', ['addr']) },
      { file: 'system/ip-route.txt', what: 'routes (ip route)', collect: () => run('ip', ['route']) },
      {
        file: 'system/process.txt',
        what: 'the firmware process',
        collect: () => Promise.resolve(processFacts(o.version)),
      },
      {
        file: 'metrics/metrics.txt',
        what: 'metrics',
        collect: () =>
          o.metrics === undefined ? Promise.reject(new Error('no metrics registry runs')) : o.metrics(),
      },
    ];
  }
}

function processFacts(version: string): string {
  const memory = process.memoryUsage();
  return formatOutput(
    'yaml',
    {
      firmwareVersion: version,
      node: process.version,
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
      hostname: os.hostname(),
      loadAverage: os.loadavg(),
      memoryBytes: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal },
      systemMemoryBytes: { total: os.totalmem(), free: os.freemem() },
    },
    () => ({ columns: [], rows: [] }),
  );
}

/** The newest `maxBytes` of a file, from a line start; `missing` when there is no file. */
export async function readTail(file: string, maxBytes: number, missing = ''): Promise<string> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return missing;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    if (length === size) return text;
    const firstNewline = text.indexOf('\n');
    return firstNewline < 0 ? text : text.slice(firstNewline + 1);
  } finally {
    await handle.close();
  }
}

/**
 * Where the firmware log is: when stdout is a regular file (dev nodes, `>> firmware.log`), its tail (earlier
 * runs included); otherwise the lines this process kept in memory (RecentLogSink).
 */
export function firmwareLogSource(recent: { text(): string } | undefined): (maxBytes: number) => string {
  return (maxBytes) => {
    try {
      const target = fs.readlinkSync('/proc/self/fd/1');
      if (fs.statSync(target).isFile()) {
        const size = fs.statSync(target).size;
        const length = Math.min(size, maxBytes);
        const fd = fs.openSync(target, 'r');
        try {
          const buffer = Buffer.alloc(length);
          fs.readSync(fd, buffer, 0, length, size - length);
          const text = buffer.toString('utf8');
          return length === size ? text : text.slice(text.indexOf('\n') + 1);
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch {
      // No /proc, or stdout is gone: the in-memory lines are all there is.
    }
    const text = recent?.text() ?? '';
    return text.length <= maxBytes ? text : text.slice(text.length - maxBytes);
  };
}

const execFileRunner: CommandRunner = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { env: options.env, timeout: options.timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim() === '' ? error.message : stderr.trim();
          reject(new Error(`${file} ${args.join(' ')}: ${detail}`));
        } else resolve({ stdout });
      },
    );
  });

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** 20240131T235959Z */
function compactTime(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
