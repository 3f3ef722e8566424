// Firmware configuration: defaults, then the board profile, then command-line options. Pure parsing so that
// every bad option gets a clear message before anything starts.
import { parseCidr, formatCidr } from './ipam/ipv4';
import {
  hostnamePatternErrors,
  imageProfileErrors,
  type ImageSpec,
  type PartitionLayout,
} from './board-image';
import { parsePeerNodeOption, PeerNodeError, type PeerNode } from './pipeline/node-route-flows';

export type DatapathType = 'netdev' | 'system';

export interface BoardProfile {
  name: string;
  model: string;
  arch: string;
  datapathType: DatapathType;
  nics: { name: string; role: 'cluster' | 'management' | 'uplink' | 'spare'; description?: string }[];
  console: { device: string; baudRate: number; extra?: string[] };
  defaults: { podCidr: string; mtu: number; hostnamePattern: string };
  /** Cluster mode: the kubeconfig this board uses unless --kubeconfig says otherwise. */
  kubeconfig?: string;
  /** Partitions of the board's image (absent for boards without one, such as sim). */
  layout?: PartitionLayout;
  /** How scripts/build-image builds the board's image. */
  image?: ImageSpec;
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
  policy: PolicyConfig;
  console: ConsoleConfig;
  /** The management HTTP server (/metrics, /healthz, /readyz). */
  httpListen: HttpListen;
  /**
   * Cluster mode: the kubeconfig file given by --kubeconfig or the board profile; absent: the k3s kubeconfig
   * (/etc/rancher/k3s/k3s.yaml) when it exists, else the in-cluster service account (firmware/k8s/kubeconfig.ts).
   */
  kubeconfig?: string;
  /** Other nodes reached through the tunnel, without Kubernetes (`--peer-node`); in cluster mode the Node watch. */
  peerNodes: PeerNode[];
  /** The embedded Node-RED editor on the management server (`--node-red`). */
  nodeRed: { enabled: boolean };
}

/**
 * Where the management HTTP server listens: an address, or a NIC whose IPv4 address is only known on the running
 * system (the board profile's management NIC; resolved at start-up), or nowhere.
 */
export type HttpListen =
  | { kind: 'address'; host: string; port: number }
  | { kind: 'interface'; interface: string; port: number }
  | { kind: 'none' };

export const DEFAULT_HTTP_PORT = 8080;

export interface ConsoleConfig {
  /** The serial device the console shell runs on; undefined: no console (e.g. the sim board without a pty). */
  device?: string;
  /** 8N1 at this rate. */
  baudRate: number;
}

/** The sim board's console device: a pseudo-terminal whose path is only known at start (--console-device). */
export const PTY_CONSOLE_DEVICE = 'pty';

export interface PolicyConfig {
  /**
   * Audit-log the drops of pods that Kubernetes NetworkPolicies isolate (no rule allowed the packet), metered,
   * with the policy reference `K8sNetworkPolicy`. Off by default: such drops can be most of an appliance's
   * dropped traffic. Rules with enableLogging are logged either way.
   */
  auditDefaultDrops: boolean;
}

export class ConfigError extends Error {
  readonly code = 'InvalidConfig';
}

export const OPTION_HELP = `Usage: antrea-edge [options]

Runs the antrea-edge agent and policy controller.

Options:
  --board NAME             board profile from board/NAME/profile.json (default: sim)
  --mode standalone|cluster
                           standalone: SQLite is the source of truth; cluster: the Kubernetes API is, through
                           watches, with the last known objects kept in SQLite (default: standalone)
  --kubeconfig PATH        cluster mode: kubeconfig file (default: the board profile's, else
                           /etc/rancher/k3s/k3s.yaml when present, else the in-cluster service account)
  --node-name NAME         this node's name (default: the hostname)
  --pod-cidr CIDR          pod subnet of this node (default: from the board profile)
  --service-cidr CIDR      cluster service CIDR sent to the gateway (default: 10.96.0.0/12)
  --mtu N                  pod MTU (default: from the board profile)
  --datapath netdev|system OVS datapath type (default: from the board profile)
  --ovs-rundir DIR         OVS run directory holding db.sock and <bridge>.mgmt (default: /var/run/openvswitch)
  --data-dir DIR           where the SQLite store lives (default: /var/lib/antrea-edge)
  --run-dir DIR            where the CNI and antctl sockets live (default: /var/run/antrea-edge)
  --log-level LEVEL        debug|info|warn|error (default: info)
  --audit-default-drops true|false
                           audit-log drops of pods isolated by Kubernetes NetworkPolicies (default: false)
  --console-device PATH|none
                           serial console device (default: from the board profile; none: no console)
  --console-baud N         serial console baud rate (default: from the board profile)
  --peer-node NAME=PODCIDR@NODEIP
                           another node whose Pod subnet is reached through the Geneve tunnel to NODEIP (its
                           underlay address); repeatable, or comma-separated (default: none)
  --http-listen ADDR:PORT|:PORT|none
                           management HTTP server (/metrics, /healthz, /readyz); ADDR is IPv4 or [IPv6]
                           (default: the board's management NIC address, port 8080)
  --node-red true|false    embedded Node-RED: editor and admin API at /red/, flow endpoints at /api/ on the
                           management server; the admin password is the console's (default: true)
  -h, --help               show this help
`;

const VALUE_OPTIONS = new Set([
  '--board',
  '--mode',
  '--kubeconfig',
  '--node-name',
  '--pod-cidr',
  '--service-cidr',
  '--mtu',
  '--datapath',
  '--ovs-rundir',
  '--data-dir',
  '--run-dir',
  '--log-level',
  '--audit-default-drops',
  '--console-device',
  '--console-baud',
  '--http-listen',
  '--peer-node',
  '--node-red',
]);

/** Options that may be given more than once; their values are kept, joined by commas. */
const REPEATABLE_OPTIONS = new Set(['--peer-node']);

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
    const earlier = REPEATABLE_OPTIONS.has(name) ? options.get(name) : undefined;
    options.set(name, earlier === undefined ? value : `${earlier},${value}`);
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
  const auditDefaultDrops = options.get('--audit-default-drops') ?? 'false';
  if (auditDefaultDrops !== 'true' && auditDefaultDrops !== 'false') {
    throw new ConfigError(`--audit-default-drops must be true or false, got ${auditDefaultDrops}`);
  }
  const mode = options.get('--mode') ?? 'standalone';
  if (mode !== 'standalone' && mode !== 'cluster') {
    throw new ConfigError(`--mode must be standalone or cluster, got ${mode}`);
  }
  const kubeconfig = options.get('--kubeconfig') ?? board.kubeconfig;
  const nodeRed = options.get('--node-red') ?? 'true';
  if (nodeRed !== 'true' && nodeRed !== 'false') {
    throw new ConfigError(`--node-red must be true or false, got ${nodeRed}`);
  }
  const consoleConfig = buildConsoleConfig(options, board);
  const ovsRunDir = options.get('--ovs-rundir') ?? '/var/run/openvswitch';
  const runDir = options.get('--run-dir') ?? '/var/run/antrea-edge';
  return {
    mode,
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
    policy: { auditDefaultDrops: auditDefaultDrops === 'true' },
    console: consoleConfig,
    httpListen: parseHttpListen(options.get('--http-listen'), board),
    ...(kubeconfig === undefined ? {} : { kubeconfig }),
    peerNodes: parsePeerNodes(options.get('--peer-node')),
    nodeRed: { enabled: nodeRed === 'true' },
  };
}

/** `--peer-node` values; whether peers clash with each other or this node is checked where they are used. */
function parsePeerNodes(text: string | undefined): PeerNode[] {
  if (text === undefined) return [];
  try {
    return text.split(',').map(parsePeerNodeOption);
  } catch (err) {
    if (err instanceof PeerNodeError) throw new ConfigError(`--peer-node: ${err.message}`);
    throw err;
  }
}

/** `--http-listen`: `ADDR:PORT` (IPv4 or `[IPv6]`), `:PORT` (the management NIC) or `none`. */
export function parseHttpListen(text: string | undefined, board: Pick<BoardProfile, 'nics'>): HttpListen {
  if (text === 'none') return { kind: 'none' };
  const managementNic = board.nics.find((nic) => nic.role === 'management')?.name;
  const onManagementNic = (port: number): HttpListen =>
    managementNic === undefined
      ? { kind: 'address', host: '127.0.0.1', port }
      : { kind: 'interface', interface: managementNic, port };
  if (text === undefined) return onManagementNic(DEFAULT_HTTP_PORT);
  const match = /^(?:(\d{1,3}(?:\.\d{1,3}){3})|\[([0-9A-Fa-f:.]+)\])?:(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(
      `--http-listen must be ADDR:PORT (e.g. 127.0.0.1:8080 or [::1]:8080), :PORT or none, got ${text}`,
    );
  }
  const ipv4 = match[1];
  if (ipv4 !== undefined) {
    if (ipv4.split('.').some((octet) => Number(octet) > 255)) {
      throw new ConfigError(`--http-listen: ${ipv4} is not an IPv4 address`);
    }
    return { kind: 'address', host: ipv4, port };
  }
  const ipv6 = match[2];
  if (ipv6 !== undefined) return { kind: 'address', host: ipv6, port };
  return onManagementNic(port);
}

const BAUD_RATES = [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1500000];

function buildConsoleConfig(options: Map<string, string>, board: BoardProfile): ConsoleConfig {
  const baudText = options.get('--console-baud');
  const baudRate = baudText === undefined ? board.console.baudRate : Number(baudText);
  if (!BAUD_RATES.includes(baudRate)) {
    throw new ConfigError(`--console-baud must be one of ${BAUD_RATES.join(', ')}, got ${baudText}`);
  }
  const device = options.get('--console-device') ?? board.console.device;
  if (device === 'none' || device === PTY_CONSOLE_DEVICE) return { baudRate };
  if (!device.startsWith('/')) {
    throw new ConfigError(`--console-device must be an absolute path or none, got ${device}`);
  }
  return { device, baudRate };
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
  else errors.push(...hostnamePatternErrors(p.defaults.hostnamePattern));
  errors.push(...imageProfileErrors(p));
  if (errors.length > 0) throw new ConfigError(`${source}: invalid board profile:\n  ${errors.join('\n  ')}`);
  return p as BoardProfile;
}
