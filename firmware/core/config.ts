// Firmware configuration: defaults, then the board profile, then command-line options. Pure parsing so that
// every bad option gets a clear message before anything starts.
import { parseCidr, formatCidr } from './ipam/ipv4';

export type DatapathType = 'netdev' | 'system';

export interface BoardProfile {
  name: string;
  model: string;
  arch: string;
  datapathType: DatapathType;
  nics: { name: string; role: 'cluster' | 'management' | 'uplink' | 'spare'; description?: string }[];
  console: { device: string; baudRate: number; extra?: string[] };
  defaults: { podCidr: string; mtu: number; hostnamePattern: string };
}

export interface FirmwareConfig {
  mode: 'standalone' | 'cluster';
  nodeName: string;
  board: BoardProfile;
  podCidr: string;
  serviceCidr: string;
  mtu: number;
  bridgeName: string;
  gatewayName: string;
  tunnelName: string;
  datapathType: DatapathType;
  ovsRunDir: string;
  ovsdbSocket: string;
  dataDir: string;
  runDir: string;
  cniSocket: string;
  antctlSocket: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export class ConfigError extends Error {
  readonly code = 'InvalidConfig';
}

export const OPTION_HELP = `Usage: antrea-edge [options]

Runs the antrea-edge agent and policy controller.

Options:
  --board NAME             board profile from board/NAME/profile.json (default: sim)
  --node-name NAME         this node's name (default: the hostname)
  --pod-cidr CIDR          pod subnet of this node (default: from the board profile)
  --service-cidr CIDR      cluster service CIDR sent to the gateway (default: 10.96.0.0/12)
  --mtu N                  pod MTU (default: from the board profile)
  --datapath netdev|system OVS datapath type (default: from the board profile)
  --ovs-rundir DIR         OVS run directory holding db.sock and <bridge>.mgmt (default: /var/run/openvswitch)
  --data-dir DIR           where the SQLite store lives (default: /var/lib/antrea-edge)
  --run-dir DIR            where the CNI and antctl sockets live (default: /var/run/antrea-edge)
  --log-level LEVEL        debug|info|warn|error (default: info)
  -h, --help               show this help
`;

const VALUE_OPTIONS = new Set([
  '--board',
  '--node-name',
  '--pod-cidr',
  '--service-cidr',
  '--mtu',
  '--datapath',
  '--ovs-rundir',
  '--data-dir',
  '--run-dir',
  '--log-level',
]);

export function parseOptions(argv: string[]): Map<string, string> | 'help' {
  const options = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUE_OPTIONS.has(name)) throw new ConfigError(`unknown option "${arg}" (see --help)`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new ConfigError(`option ${name} needs a value`);
    options.set(name, value);
  }
  return options;
}

export function buildConfig(
  options: Map<string, string>,
  board: BoardProfile,
  hostname: string,
): FirmwareConfig {
  const podCidr = options.get('--pod-cidr') ?? board.defaults.podCidr;
  const serviceCidr = options.get('--service-cidr') ?? '10.96.0.0/12';
  let normalisedPodCidr: string;
  try {
    normalisedPodCidr = formatCidr(parseCidr(podCidr));
    parseCidr(serviceCidr);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (parseCidr(podCidr).prefix > 29) throw new ConfigError(`--pod-cidr ${podCidr} is too small for pods`);
  const mtuText = options.get('--mtu');
  const mtu = mtuText === undefined ? board.defaults.mtu : Number(mtuText);
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000)
    throw new ConfigError(`--mtu must be 576..9000, got ${mtuText}`);
  const datapath = options.get('--datapath') ?? board.datapathType;
  if (datapath !== 'netdev' && datapath !== 'system')
    throw new ConfigError(`--datapath must be netdev or system`);
  const logLevel = options.get('--log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError('--log-level must be debug, info, warn or error');
  }
  const ovsRunDir = options.get('--ovs-rundir') ?? '/var/run/openvswitch';
  const runDir = options.get('--run-dir') ?? '/var/run/antrea-edge';
  return {
    mode: 'standalone',
    nodeName: options.get('--node-name') ?? hostname,
    board,
    podCidr: normalisedPodCidr,
    serviceCidr,
    mtu,
    bridgeName: 'br-int',
    gatewayName: 'antrea-gw0',
    tunnelName: 'antrea-tun0',
    datapathType: datapath,
    ovsRunDir,
    ovsdbSocket: `${ovsRunDir}/db.sock`,
    dataDir: options.get('--data-dir') ?? '/var/lib/antrea-edge',
    runDir,
    cniSocket: `${runDir}/cni.sock`,
    antctlSocket: `${runDir}/antctl.sock`,
    logLevel: logLevel as FirmwareConfig['logLevel'],
  };
}

/** Validates a board profile read from JSON, listing every problem. */
export function validateBoardProfile(value: unknown, source: string): BoardProfile {
  const errors: string[] = [];
  const p = value as Partial<BoardProfile> | null;
  if (typeof p !== 'object' || p === null) throw new ConfigError(`${source}: not a JSON object`);
  for (const field of ['name', 'model', 'arch'] as const) {
    if (typeof p[field] !== 'string' || p[field] === '') errors.push(`${field}: required string`);
  }
  if (p.datapathType !== 'netdev' && p.datapathType !== 'system')
    errors.push('datapathType: must be netdev or system');
  if (!Array.isArray(p.nics) || p.nics.length === 0) errors.push('nics: at least one NIC required');
  else
    p.nics.forEach((nic, i) => {
      if (typeof nic?.name !== 'string') errors.push(`nics[${i}].name: required string`);
      if (!['cluster', 'management', 'uplink', 'spare'].includes(nic?.role)) {
        errors.push(`nics[${i}].role: must be cluster, management, uplink or spare`);
      }
    });
  if (typeof p.console?.device !== 'string') errors.push('console.device: required string');
  if (!Number.isInteger(p.console?.baudRate)) errors.push('console.baudRate: required integer');
  try {
    parseCidr(p.defaults?.podCidr ?? '');
  } catch {
    errors.push('defaults.podCidr: must be a CIDR');
  }
  if (!Number.isInteger(p.defaults?.mtu)) errors.push('defaults.mtu: required integer');
  if (typeof p.defaults?.hostnamePattern !== 'string')
    errors.push('defaults.hostnamePattern: required string');
  if (errors.length > 0) throw new ConfigError(`${source}: invalid board profile:\n  ${errors.join('\n  ')}`);
  return p as BoardProfile;
}
