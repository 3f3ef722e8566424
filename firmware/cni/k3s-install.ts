#!/usr/bin/env node
// Installs the antrea-edge CNI plugin on a k3s node: the network configuration list (10-antrea-edge.conflist) in
// the directory k3s's containerd reads, and the plugin executable in its CNI bin directory.
//
// Which directories: k3s only configures containerd's CNI directories while it runs flannel
// (<data-dir>/agent/etc/cni/net.d and the directory holding its host-local plugin). Started with
// --flannel-backend=none, as a custom CNI needs, it writes no [cni] section and containerd falls back to its
// defaults, /etc/cni/net.d and /opt/cni/bin (k3s-io/k3s pkg/agent/config and templates; its docs show Calico's
// and Canal's conflists in /etc/cni/net.d). So the directories are read from the containerd config k3s
// generated, and containerd's defaults apply when it names none; --conf-dir/--bin-dir override both.
//
// Files are written atomically (temporary file, fsync, rename), so containerd never reads half a conflist and a
// running plugin executable is never rewritten in place; unchanged files are left alone, so running it again
// is harmless.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseNetConf } from './cni-spec';
import { CURRENT_CNI_VERSION, DEFAULT_CNI_SOCKET_PATH, type NetConf } from './cni-types';

export const K3S_DEFAULT_DATA_DIR = '/var/lib/rancher/k3s';
/** containerd's CRI defaults, used when its config sets no CNI directories. */
export const CONTAINERD_DEFAULT_CNI_CONF_DIR = '/etc/cni/net.d';
export const CONTAINERD_DEFAULT_CNI_BIN_DIR = '/opt/cni/bin';
/** containerd uses the first configuration in lexical order: "10-" comes before k3s's own "10-flannel". */
export const CONFLIST_FILE = '10-antrea-edge.conflist';
/** The plugin `type`, hence the executable's name in the bin directory. */
export const PLUGIN_TYPE = 'antrea-edge-cni';
/** Antrea's network name (its conflist is "antrea" too). */
export const NETWORK_NAME = 'antrea';

export class K3sInstallError extends Error {
  override readonly name = 'K3sInstallError';

  constructor(
    readonly code: 'InvalidArgument' | 'PluginNotFound' | 'InvalidConflist' | 'IoFailure',
    message: string,
  ) {
    super(message);
  }
}

export interface CniDirs {
  confDir: string;
  binDir: string;
  /** Where they came from, for the user. */
  origin: string;
}

/**
 * The CNI directories in a containerd config (config.toml, v2 or v3 layout): `conf_dir`, and `bin_dir` or the
 * first of `bin_dirs`, from the section whose name ends in `.cni`. Only what is set is returned.
 */
export function cniDirsFromContainerdConfig(text: string): { confDir?: string; binDir?: string } {
  const found: { confDir?: string; binDir?: string } = {};
  let inCniSection = false;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\s+#.*$/, '').trim();
    if (line.startsWith('[')) {
      inCniSection = /\.cni\]$/.test(line) && !line.startsWith('[[');
      continue;
    }
    if (!inCniSection) continue;
    const match = /^([A-Za-z_]+)\s*=\s*(.+)$/.exec(line);
    if (!match) continue;
    const [, key, value = ''] = match;
    const strings = [...value.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2] ?? '');
    if (key === 'conf_dir' && strings[0]) found.confDir = strings[0];
    if ((key === 'bin_dir' || key === 'bin_dirs') && strings[0]) found.binDir = strings[0];
  }
  return found;
}

/** The containerd config k3s generates on every start. */
export function k3sContainerdConfigPath(k3sDataDir: string): string {
  return path.join(k3sDataDir, 'agent', 'etc', 'containerd', 'config.toml');
}

export function resolveCniDirs(options: {
  k3sDataDir: string;
  confDir?: string;
  binDir?: string;
  readFile?: (file: string) => string | undefined;
}): CniDirs {
  const readFile = options.readFile ?? readIfExists;
  const configPath = k3sContainerdConfigPath(options.k3sDataDir);
  const text = readFile(configPath);
  const configured = text === undefined ? {} : cniDirsFromContainerdConfig(text);
  const origin =
    text === undefined
      ? `containerd defaults (${configPath} does not exist yet: k3s writes it when it starts)`
      : configured.confDir !== undefined || configured.binDir !== undefined
        ? `the CNI section of ${configPath}`
        : `containerd defaults (${configPath} sets no CNI directories: k3s runs with --flannel-backend=none)`;
  const overridden = [options.confDir, options.binDir].filter((dir) => dir !== undefined).length;
  return {
    confDir: options.confDir ?? configured.confDir ?? CONTAINERD_DEFAULT_CNI_CONF_DIR,
    binDir: options.binDir ?? configured.binDir ?? CONTAINERD_DEFAULT_CNI_BIN_DIR,
    origin:
      overridden === 2 ? 'the command line' : overridden === 1 ? `the command line and ${origin}` : origin,
  };
}

export interface ConflistOptions {
  /** The agent's CNI socket; the plugin's default when omitted. */
  socketPath?: string;
  /** Pod interface MTU; the agent's default when omitted. */
  mtu?: number;
}

/**
 * The network configuration list: CNI 1.0.0, one plugin, ours. Checked with the plugin's own parser (for what the
 * runtime hands the plugin: the entry plus the list's cniVersion and name), so a list it would refuse is never
 * installed.
 */
export function buildConflist(options: ConflistOptions = {}): string {
  const plugin: Record<string, unknown> = {
    type: PLUGIN_TYPE,
    cniSocket: options.socketPath ?? DEFAULT_CNI_SOCKET_PATH,
  };
  if (options.mtu !== undefined) plugin.mtu = options.mtu;
  const conflist = { cniVersion: CURRENT_CNI_VERSION, name: NETWORK_NAME, plugins: [plugin] };
  for (const config of pluginConfigs(conflist)) {
    try {
      parseNetConf(JSON.stringify(config), 'ADD');
    } catch (error) {
      const details = (error as { details?: string }).details;
      throw new K3sInstallError(
        'InvalidConflist',
        `the plugin would refuse this configuration: ${(error as Error).message}${details ? ` (${details})` : ''}`,
      );
    }
  }
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

/** What libcni passes each plugin of a list on stdin (the entry plus cniVersion and name; no prevResult here). */
export function pluginConfigs(conflist: unknown): NetConf[] {
  const list = conflist as { cniVersion?: unknown; name?: unknown; plugins?: unknown };
  if (!Array.isArray(list.plugins)) return [];
  return list.plugins.map(
    (entry) => ({ ...(entry as object), cniVersion: list.cniVersion, name: list.name }) as NetConf,
  );
}

export interface K3sCniInstallOptions extends ConflistOptions {
  confDir: string;
  binDir: string;
  /** The plugin to install: an executable (the C shim) is copied; a .js file gets a launcher running node on it. */
  pluginSource: string;
  /** The node binary a .js plugin's launcher runs. */
  nodePath?: string;
}

export interface FileOutcome {
  path: string;
  changed: boolean;
}

export interface K3sCniInstallResult {
  conflist: FileOutcome;
  plugin: FileOutcome;
  warnings: string[];
}

/** Writes the conflist and the plugin; idempotent. */
export function installK3sCni(options: K3sCniInstallOptions): K3sCniInstallResult {
  const conflistText = buildConflist(options);
  const pluginBytes = pluginContent(options.pluginSource, options.nodePath ?? process.execPath);
  const conflistPath = path.join(options.confDir, CONFLIST_FILE);
  const pluginPath = path.join(options.binDir, PLUGIN_TYPE);
  ioStep(`create ${options.confDir}`, () => fs.mkdirSync(options.confDir, { recursive: true, mode: 0o755 }));
  ioStep(`create ${options.binDir}`, () => fs.mkdirSync(options.binDir, { recursive: true, mode: 0o755 }));
  const plugin = { path: pluginPath, changed: writeFileAtomic(pluginPath, pluginBytes, 0o755) };
  // The plugin first: a conflist naming a plugin that is not there yet would fail pods in between.
  const conflist = {
    path: conflistPath,
    changed: writeFileAtomic(conflistPath, Buffer.from(conflistText), 0o644),
  };
  return { conflist, plugin, warnings: installWarnings(options.confDir, options.binDir) };
}

/** Removes what installK3sCni wrote (a conflist that is not ours is left alone); idempotent. */
export function uninstallK3sCni(options: { confDir: string; binDir: string }): FileOutcome[] {
  const conflistPath = path.join(options.confDir, CONFLIST_FILE);
  const pluginPath = path.join(options.binDir, PLUGIN_TYPE);
  const outcomes: FileOutcome[] = [];
  const text = readIfExists(conflistPath);
  let ours = false;
  try {
    ours = text !== undefined && pluginConfigs(JSON.parse(text)).some((p) => p.type === PLUGIN_TYPE);
  } catch {
    ours = false;
  }
  if (text !== undefined && !ours) {
    throw new K3sInstallError('InvalidArgument', `${conflistPath} is not antrea-edge's; not removing it`);
  }
  // The conflist first, so that no configuration names a plugin that is gone.
  for (const file of [conflistPath, pluginPath]) {
    const existed = fs.existsSync(file);
    if (existed) ioStep(`remove ${file}`, () => fs.unlinkSync(file));
    outcomes.push({ path: file, changed: existed });
  }
  return outcomes;
}

/** What would stop pods from starting even with our files in place. */
function installWarnings(confDir: string, binDir: string): string[] {
  const warnings: string[] = [];
  const earlier = ioStep(`read ${confDir}`, () => fs.readdirSync(confDir))
    .filter((name) => /\.(conflist|conf|json)$/.test(name) && name < CONFLIST_FILE)
    .sort();
  if (earlier.length > 0) {
    warnings.push(
      `${confDir} has ${earlier.join(', ')}, which containerd reads before ${CONFLIST_FILE}: remove ${
        earlier.length === 1 ? 'it' : 'them'
      } or antrea-edge will not be the pod network`,
    );
  }
  // containerd sets up every pod's loopback interface with the "loopback" plugin from its CNI bin directory.
  if (!fs.existsSync(path.join(binDir, 'loopback'))) {
    warnings.push(
      `${binDir} has no "loopback" plugin, which containerd runs for every pod: install containernetworking-plugins ` +
        `(Debian: apt-get install -y containernetworking-plugins && ln -s /usr/lib/cni/loopback ${binDir}/)`,
    );
  }
  return warnings;
}

function pluginContent(source: string, nodePath: string): Buffer {
  if (!fs.existsSync(source)) {
    throw new K3sInstallError('PluginNotFound', `no CNI plugin at ${source} (build it with: npm run build)`);
  }
  if (source.endsWith('.js')) {
    // The TypeScript fallback needs its sibling modules: run it where it is, through a launcher.
    return Buffer.from(`#!/bin/sh\nexec ${shellQuote(nodePath)} ${shellQuote(path.resolve(source))} "$@"\n`);
  }
  return ioStep(`read ${source}`, () => fs.readFileSync(source));
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Replaces `file` with `content` unless it already holds exactly that with that mode; true when it wrote. */
export function writeFileAtomic(file: string, content: Buffer, mode: number): boolean {
  const existing = readBytesIfExists(file);
  if (existing !== undefined && existing.equals(content) && (fs.statSync(file).mode & 0o7777) === mode) {
    return false;
  }
  const temporary = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  ioStep(`write ${file}`, () => {
    try {
      const fd = fs.openSync(temporary, 'wx', mode);
      try {
        fs.writeFileSync(fd, content);
        fs.fchmodSync(fd, mode);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temporary, file);
    } catch (error) {
      fs.rmSync(temporary, { force: true });
      throw error;
    }
    // The rename is durable once the directory is.
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  });
  return true;
}

function ioStep<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (error instanceof K3sInstallError) throw error;
    throw new K3sInstallError('IoFailure', `cannot ${what}: ${(error as Error).message}`);
  }
}

function readIfExists(file: string): string | undefined {
  return readBytesIfExists(file)?.toString('utf8');
}

function readBytesIfExists(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new K3sInstallError('IoFailure', `cannot read ${file}: ${(error as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// command line

export const K3S_INSTALL_HELP = `Usage: k3s-install-cni [options]

Installs the antrea-edge CNI plugin on this k3s node: ${CONFLIST_FILE} (CNI ${CURRENT_CNI_VERSION}) in the
directory k3s's containerd reads network configurations from, and the ${PLUGIN_TYPE} executable in its CNI
plugin directory. Run it as root on every node, servers included, after starting k3s with
--flannel-backend=none --disable-network-policy. Running it again only rewrites what changed.

Directories: read from the containerd config k3s generates (<k3s-data-dir>/agent/etc/containerd/config.toml);
when it names none (k3s without flannel), containerd's defaults ${CONTAINERD_DEFAULT_CNI_CONF_DIR} and
${CONTAINERD_DEFAULT_CNI_BIN_DIR}.

Options:
  --k3s-data-dir DIR  k3s's --data-dir (default: ${K3S_DEFAULT_DATA_DIR})
  --conf-dir DIR      where to write ${CONFLIST_FILE} (default: see above)
  --bin-dir DIR       where to install ${PLUGIN_TYPE} (default: see above)
  --plugin PATH       the plugin to install (default: the built C shim dist/bin/${PLUGIN_TYPE}, else the
                      Node.js plugin dist/firmware/cni/plugin.js behind a small launcher)
  --cni-socket PATH   the agent's CNI socket, written into the conflist (default: ${DEFAULT_CNI_SOCKET_PATH},
                      the firmware's --run-dir default; use <run-dir>/cni.sock if you change --run-dir)
  --mtu N             pod interface MTU (default: the agent's --mtu)
  --dry-run           print the directories and the conflist; write nothing
  --uninstall         remove ${CONFLIST_FILE} and the plugin
  -h, --help          show this help
`;

export interface K3sInstallArgs {
  k3sDataDir: string;
  confDir?: string;
  binDir?: string;
  plugin?: string;
  socketPath?: string;
  mtu?: number;
  dryRun: boolean;
  uninstall: boolean;
}

const VALUE_OPTIONS = new Set([
  '--k3s-data-dir',
  '--conf-dir',
  '--bin-dir',
  '--plugin',
  '--cni-socket',
  '--mtu',
]);

export function parseK3sInstallArgs(argv: readonly string[]): K3sInstallArgs | 'help' {
  const args: K3sInstallArgs = { k3sDataDir: K3S_DEFAULT_DATA_DIR, dryRun: false, uninstall: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') return 'help';
    if (arg === '--dry-run') {
      args.dryRun = true;
      continue;
    }
    if (arg === '--uninstall') {
      args.uninstall = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUE_OPTIONS.has(name))
      throw new K3sInstallError('InvalidArgument', `unknown option "${arg}" (see --help)`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '')
      throw new K3sInstallError('InvalidArgument', `option ${name} needs a value`);
    switch (name) {
      case '--k3s-data-dir':
        args.k3sDataDir = absolute(name, value);
        break;
      case '--conf-dir':
        args.confDir = absolute(name, value);
        break;
      case '--bin-dir':
        args.binDir = absolute(name, value);
        break;
      case '--plugin':
        args.plugin = path.resolve(value);
        break;
      case '--cni-socket':
        args.socketPath = absolute(name, value);
        break;
      case '--mtu': {
        const mtu = Number(value);
        if (!/^\d+$/.test(value) || mtu < 68 || mtu > 65535) {
          throw new K3sInstallError(
            'InvalidArgument',
            `--mtu must be an integer from 68 to 65535, got ${value}`,
          );
        }
        args.mtu = mtu;
        break;
      }
    }
  }
  return args;
}

function absolute(option: string, value: string): string {
  if (!path.isAbsolute(value))
    throw new K3sInstallError('InvalidArgument', `${option} must be an absolute path`);
  return path.normalize(value);
}

/** The plugin next to this module: the C shim built by scripts/lib/setup.sh, else the Node.js plugin. */
export function defaultPluginSource(moduleDir: string = __dirname): string | undefined {
  const candidates = [
    // dist/firmware/cni → dist/bin (the compiled layout), firmware/cni → dist/bin (run from source with tsx).
    path.resolve(moduleDir, '../../bin', PLUGIN_TYPE),
    path.resolve(moduleDir, '../../dist/bin', PLUGIN_TYPE),
    path.resolve(moduleDir, 'plugin.js'),
    path.resolve(moduleDir, '../../dist/firmware/cni/plugin.js'),
  ];
  return candidates.find((candidate) => fs.existsSync(candidate));
}

export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

/** The command: exit status 0 done, 1 failed, 2 bad usage. */
export function runK3sInstall(argv: readonly string[], output: CommandOutput): number {
  let args: K3sInstallArgs | 'help';
  try {
    args = parseK3sInstallArgs(argv);
  } catch (error) {
    output.err(`k3s-install-cni: ${(error as Error).message}`);
    return 2;
  }
  if (args === 'help') {
    output.out(K3S_INSTALL_HELP.trimEnd());
    return 0;
  }
  try {
    const dirs = resolveCniDirs(args);
    output.out(`CNI directories from ${dirs.origin}:`);
    output.out(`  network configurations: ${dirs.confDir}`);
    output.out(`  plugins:                ${dirs.binDir}`);
    if (args.uninstall) {
      if (args.dryRun) return 0;
      for (const outcome of uninstallK3sCni(dirs)) {
        output.out(`${outcome.changed ? 'removed  ' : 'absent   '} ${outcome.path}`);
      }
      return 0;
    }
    const conflistOptions = {
      ...(args.socketPath === undefined ? {} : { socketPath: args.socketPath }),
      ...(args.mtu === undefined ? {} : { mtu: args.mtu }),
    };
    if (args.dryRun) {
      output.out(`${path.join(dirs.confDir, CONFLIST_FILE)}:`);
      output.out(buildConflist(conflistOptions).trimEnd());
      return 0;
    }
    const pluginSource = args.plugin ?? defaultPluginSource();
    if (pluginSource === undefined) {
      throw new K3sInstallError(
        'PluginNotFound',
        'no built CNI plugin found next to this program; build the firmware first or pass --plugin',
      );
    }
    const result = installK3sCni({ ...dirs, ...conflistOptions, pluginSource });
    output.out(
      `${result.plugin.changed ? 'installed' : 'unchanged'} ${result.plugin.path} (from ${pluginSource})`,
    );
    output.out(`${result.conflist.changed ? 'installed' : 'unchanged'} ${result.conflist.path}`);
    for (const warning of result.warnings) output.err(`warning: ${warning}`);
    return 0;
  } catch (error) {
    output.err(`k3s-install-cni: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = runK3sInstall(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
