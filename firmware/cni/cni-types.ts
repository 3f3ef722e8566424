// Types of the CNI 1.0.0 protocol (containernetworking/cni SPEC.md) as the plugin, the CNI server and the agent's
// handler exchange them, plus the line protocol between the plugin executable and the agent's unix socket.
// Pure: the plugin executable imports this, so it must stay free of I/O and heavy imports.

/** The spec version this plugin speaks natively; results are converted down for older configs. */
export const CURRENT_CNI_VERSION = '1.0.0';

/** Versions a network configuration may declare. 0.3.0 introduced the result shape we can convert to. */
export const SUPPORTED_CNI_VERSIONS: readonly string[] = ['0.3.0', '0.3.1', '0.4.0', '1.0.0'];

/** Where the agent listens unless the network config's `cniSocket` (or the test override) says otherwise. */
export const DEFAULT_CNI_SOCKET_PATH = '/var/run/antrea-edge/cni.sock';

/** Environment variable that overrides the socket path (tests, development). */
export const CNI_SOCKET_ENV = 'ANTREA_EDGE_CNI_SOCKET';

/** Environment variable that overrides the plugin's deadline for the agent's answer, in milliseconds. */
export const CNI_TIMEOUT_ENV = 'ANTREA_EDGE_CNI_TIMEOUT_MS';

/**
 * Two minutes: an ADD queued behind a slow DEL of the same container, plus OVS work, must still fit, while a
 * wedged agent must not hold the runtime's sandbox creation forever.
 */
export const DEFAULT_CNI_TIMEOUT_MS = 120_000;

/** Upper bound for the network config on stdin; both plugin executables enforce it (code 5). */
export const MAX_CNI_CONFIG_BYTES = 1024 * 1024;

/**
 * Upper bound for one request line on the socket. JSON escaping can grow the config sixfold ("\u0001") and the
 * kernel allows up to 128 KiB per environment string, so the largest legitimate request stays below this.
 */
export const MAX_CNI_WIRE_REQUEST_BYTES = 16 * 1024 * 1024;

/** Upper bound for the agent's reply as the plugin executables read it; a result is a few hundred bytes. */
export const MAX_CNI_WIRE_REPLY_BYTES = 1024 * 1024;

/** Largest accepted ANTREA_EDGE_CNI_TIMEOUT_MS: nine digits, so that every plugin can hold it in a C int. */
export const MAX_CNI_TIMEOUT_MS = 999_999_999;

export type CniCommand = 'ADD' | 'DEL' | 'CHECK';

/**
 * The plugin configuration object the runtime writes on stdin (spec section 3, "execution configuration").
 * Unknown keys (ipam, dns, runtimeConfig, args, ...) are kept and forwarded to the agent unchanged.
 */
export interface NetConf {
  cniVersion: string;
  name: string;
  type: string;
  /** antrea-edge: unix socket of the agent's CNI server. */
  cniSocket?: string;
  /** antrea-edge: MTU for the pod's interface; the agent's default applies when absent. */
  mtu?: number;
  /** Result of the previous plugin / of the ADD (CHECK, DEL); always normalised to the 1.0.0 shape. */
  prevResult?: CniResult;
  [key: string]: unknown;
}

export interface CniInterface {
  name: string;
  /** "if applicable" in the spec: a host-side interface may be reported without one. */
  mac?: string;
  /** The CNI_NETNS path for interfaces inside the container; absent for host interfaces. */
  sandbox?: string;
}

export interface CniIpConfig {
  /** CIDR notation with the host address, e.g. "10.10.0.5/24". */
  address: string;
  gateway?: string;
  /** Index into `interfaces`. */
  interface?: number;
}

export interface CniRoute {
  dst: string;
  gw?: string;
}

export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** Success result of ADD (spec section 5), 1.0.0 shape. `cniVersion` is rewritten to the request's on output. */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** What the agent's handler receives for one plugin invocation. */
export interface CniRequest {
  command: CniCommand;
  containerId: string;
  /** CNI_NETNS; the empty string when a DEL came without one (the spec allows that). */
  netns: string;
  ifName: string;
  /** CNI_ARGS split into pairs, e.g. K8S_POD_NAMESPACE, K8S_POD_NAME, IP. */
  args: Record<string, string>;
  /** CNI_PATH as given (colon separated); empty when absent. */
  path: string;
  config: NetConf;
}

/** The error object a plugin prints on stdout (spec section 5, "Error"). */
export interface CniErrorBody {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** The VERSION command's answer. */
export interface CniVersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

/** Error codes: 0-99 are the spec's well-known codes, 100+ are ours. */
export const CniErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** The agent's socket accepted nothing useful: permission denied, no answer in time, broken reply. */
  AgentUnreachable: 100,
  IpUnavailable: 101,
  /** veth / address / route plumbing in the pod's network namespace failed. */
  InterfaceSetupFailed: 102,
  /** OVS port or flow programming failed. */
  OvsFailure: 103,
  /** Same as libcni's ErrInternal: an unexpected failure; `msg` carries its message. */
  Internal: 999,
} as const;

export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
  }
}

// Line protocol between a plugin executable (the C shim or plugin.ts) and the CNI server, one exchange per
// connection. The plugins only forward: all of the spec's logic runs in the agent (cni-spec.ts).
//
//   request: {"raw":{"env":{"CNI_COMMAND":"ADD",...},"stdin":"<network config>"}} "\n"
//   reply:   {"exitCode":N} "\n" <exactly the bytes the plugin prints on stdout>, then the server closes.

/** The environment variables a plugin forwards; absent ones are left out of the request. */
export const CNI_ENV_NAMES = [
  'CNI_COMMAND',
  'CNI_CONTAINERID',
  'CNI_NETNS',
  'CNI_IFNAME',
  'CNI_ARGS',
  'CNI_PATH',
] as const;

export type CniEnvName = (typeof CNI_ENV_NAMES)[number];

/** One plugin invocation as the runtime made it: its CNI_* environment and its stdin, unvalidated. */
export interface RawCniInvocation {
  env: Partial<Record<CniEnvName, string>>;
  stdin: string;
}

export interface CniWireRequest {
  raw: RawCniInvocation;
}

/** What the plugin executable does with the answer: print `stdout` as is and exit with `exitCode`. */
export interface CniPluginOutput {
  exitCode: number;
  stdout: string;
}
