// The CNI spec's rules as pure functions: environment and CNI_ARGS parsing, network config validation, version
// negotiation, result / error shaping per requested version, and the socket line protocol's decoding.
// The plugin executable and the CNI server share these; no I/O here so that unit tests need no process.
import {
  CNI_SOCKET_ENV,
  CNI_TIMEOUT_ENV,
  CURRENT_CNI_VERSION,
  CniError,
  CniErrorCode,
  DEFAULT_CNI_SOCKET_PATH,
  DEFAULT_CNI_TIMEOUT_MS,
  SUPPORTED_CNI_VERSIONS,
  type CniCommand,
  type CniDns,
  type CniErrorBody,
  type CniInterface,
  type CniIpConfig,
  type CniRequest,
  type CniResult,
  type CniRoute,
  type CniVersionResult,
  type CniWireReply,
  type NetConf,
} from './cni-types';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The environment half of an invocation, validated for its command. */
export type PluginInvocation =
  | { command: 'VERSION' }
  | {
      command: CniCommand;
      containerId: string;
      netns: string;
      ifName: string;
      args: Record<string, string>;
      path: string;
    };

const REQUIRED_ENV: Record<CniCommand, readonly string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  // The spec lets DEL run after the namespace is gone, so CNI_NETNS is optional there.
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
};

const CONTAINER_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const NETWORK_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/** IFNAMSIZ is 16 including the terminating NUL. */
export const MAX_INTERFACE_NAME_LENGTH = 15;

function isCommand(value: string): value is CniCommand {
  return value === 'ADD' || value === 'DEL' || value === 'CHECK';
}

/** Reads and validates CNI_* variables. Throws CniError code 4 naming the offending variables. */
export function parseEnvironment(env: Environment): PluginInvocation {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') {
    throw new CniError(CniErrorCode.InvalidEnvironment, 'required env variables [CNI_COMMAND] missing');
  }
  if (command === 'VERSION') return { command };
  if (!isCommand(command)) {
    throw new CniError(
      CniErrorCode.InvalidEnvironment,
      `unknown CNI_COMMAND: ${command}`,
      'CNI_COMMAND must be ADD, DEL, CHECK or VERSION',
    );
  }
  const missing = REQUIRED_ENV[command].filter((name) => (env[name] ?? '') === '');
  if (missing.length > 0) {
    throw new CniError(
      CniErrorCode.InvalidEnvironment,
      `required env variables [${missing.join(',')}] missing`,
      `CNI_COMMAND=${command} needs ${REQUIRED_ENV[command].join(', ')}`,
    );
  }
  const containerId = env.CNI_CONTAINERID ?? '';
  const ifName = env.CNI_IFNAME ?? '';
  const netns = env.CNI_NETNS ?? '';
  validateContainerId(containerId);
  validateInterfaceName(ifName, 'CNI_IFNAME');
  if (netns !== '' && !netns.startsWith('/')) {
    throw new CniError(
      CniErrorCode.InvalidEnvironment,
      `invalid CNI_NETNS "${netns}": must be an absolute path to a network namespace`,
    );
  }
  return {
    command,
    containerId,
    netns,
    ifName,
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: env.CNI_PATH ?? '',
  };
}

export function validateContainerId(containerId: string): void {
  if (!CONTAINER_ID_PATTERN.test(containerId)) {
    throw new CniError(
      CniErrorCode.InvalidEnvironment,
      `invalid characters in CNI_CONTAINERID "${containerId}"`,
      'a container ID starts with a letter or digit, followed by letters, digits, "_", "." or "-"',
    );
  }
}

/** The kernel's rules for a network device name (dev_valid_name), reported against `variable`. */
export function validateInterfaceName(name: string, variable: string): void {
  let problem: string | undefined;
  if (name === '') problem = 'is empty';
  else if (name.length > MAX_INTERFACE_NAME_LENGTH) {
    problem = `is longer than ${MAX_INTERFACE_NAME_LENGTH} characters`;
  } else if (name === '.' || name === '..') problem = 'may not be "." or ".."';
  else if (/[/:\s]/.test(name)) problem = 'may not contain "/", ":" or whitespace';
  if (problem !== undefined) {
    throw new CniError(CniErrorCode.InvalidEnvironment, `invalid ${variable} "${name}": ${problem}`);
  }
}

/**
 * CNI_ARGS: "K=V;K2=V2". Empty segments are ignored; a value may itself contain "=" (split at the first one)
 * because runtimes pass through user-provided values.
 */
export function parseCniArgs(raw: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of raw.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      throw new CniError(
        CniErrorCode.InvalidEnvironment,
        `invalid CNI_ARGS pair "${pair}"`,
        'CNI_ARGS must be KEY=VALUE pairs separated by ";"',
      );
    }
    args[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return args;
}

/** -1, 0, 1 like a comparator; undefined when either is not a "major.minor.patch" version. */
export function compareVersions(a: string, b: string): number | undefined {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (pa === undefined || pb === undefined) return undefined;
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

function parseVersion(version: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isSupportedVersion(version: string): boolean {
  return SUPPORTED_CNI_VERSIONS.includes(version);
}

/** The answer to CNI_COMMAND=VERSION; needs neither stdin nor the agent. */
export function versionResult(): CniVersionResult {
  return { cniVersion: CURRENT_CNI_VERSION, supportedVersions: [...SUPPORTED_CNI_VERSIONS] };
}

/** The version to stamp on an error: the config's if it declared one, else ours. */
export function declaredCniVersion(stdin: string): string {
  try {
    const parsed: unknown = JSON.parse(stdin);
    if (isRecord(parsed) && typeof parsed.cniVersion === 'string' && parsed.cniVersion !== '') {
      return parsed.cniVersion;
    }
  } catch {
    // Fall through: the caller reports the decoding error itself.
  }
  return CURRENT_CNI_VERSION;
}

/**
 * Decodes and validates the plugin configuration on stdin for `command`. Codes: 6 not JSON / not an object /
 * undecodable prevResult; 1 unsupported cniVersion (or CHECK before 0.4.0); 7 invalid fields.
 */
export function parseNetConf(stdin: string, command: CniCommand): NetConf {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CniErrorCode.DecodingFailure, 'failed to decode network config', errorMessage(e));
  }
  if (!isRecord(parsed)) {
    throw new CniError(CniErrorCode.DecodingFailure, 'failed to decode network config', 'not a JSON object');
  }
  const { cniVersion } = parsed;
  if (typeof cniVersion !== 'string' || !isSupportedVersion(cniVersion)) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      'incompatible CNI versions',
      typeof cniVersion === 'string' && cniVersion !== ''
        ? `config is "${cniVersion}", plugin supports ${SUPPORTED_CNI_VERSIONS.join(', ')}`
        : `config has no cniVersion (read as 0.1.0), plugin supports ${SUPPORTED_CNI_VERSIONS.join(', ')}`,
    );
  }
  if (command === 'CHECK' && (compareVersions(cniVersion, '0.4.0') ?? -1) < 0) {
    throw new CniError(
      CniErrorCode.IncompatibleVersion,
      'config version does not allow CHECK',
      `CHECK exists since CNI 0.4.0; config is "${cniVersion}"`,
    );
  }
  const { name, type, cniSocket, mtu } = parsed;
  if (typeof name !== 'string' || name === '') {
    throw new CniError(CniErrorCode.InvalidNetworkConfig, 'missing network name');
  }
  if (!NETWORK_NAME_PATTERN.test(name)) {
    throw new CniError(CniErrorCode.InvalidNetworkConfig, `invalid characters in network name "${name}"`);
  }
  if (typeof type !== 'string' || type === '' || /[/\\]/.test(type)) {
    throw new CniError(CniErrorCode.InvalidNetworkConfig, 'missing or invalid plugin type');
  }
  if (cniSocket !== undefined && (typeof cniSocket !== 'string' || !cniSocket.startsWith('/'))) {
    throw new CniError(
      CniErrorCode.InvalidNetworkConfig,
      `invalid cniSocket ${JSON.stringify(cniSocket)}`,
      'cniSocket must be an absolute path',
    );
  }
  if (mtu !== undefined && !(typeof mtu === 'number' && Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535)) {
    throw new CniError(
      CniErrorCode.InvalidNetworkConfig,
      `invalid mtu ${JSON.stringify(mtu)}`,
      'mtu must be an integer from 68 to 65535',
    );
  }
  const config = { ...parsed, cniVersion, name, type } as NetConf;
  if (parsed.prevResult !== undefined) {
    config.prevResult = normalizeResult(parsed.prevResult, cniVersion);
  }
  return config;
}

/** Combines a validated environment with stdin into the request the agent receives. */
export function buildRequest(
  invocation: Exclude<PluginInvocation, { command: 'VERSION' }>,
  stdin: string,
): CniRequest {
  return {
    command: invocation.command,
    containerId: invocation.containerId,
    netns: invocation.netns,
    ifName: invocation.ifName,
    args: invocation.args,
    path: invocation.path,
    config: parseNetConf(stdin, invocation.command),
  };
}

/**
 * Converts a result of any supported version to the 1.0.0 shape (drops 0.3/0.4's `ips[].version`).
 * Throws code 6 when it is not a result.
 */
export function normalizeResult(value: unknown, cniVersion: string, label = 'prevResult'): CniResult {
  const fail = (why: string): never => {
    throw new CniError(CniErrorCode.DecodingFailure, `failed to decode ${label}`, why);
  };
  if (!isRecord(value)) return fail('not a JSON object');
  const result: CniResult = { cniVersion };
  if (value.interfaces !== undefined) {
    if (!Array.isArray(value.interfaces)) return fail('interfaces is not a list');
    result.interfaces = value.interfaces.map((raw: unknown, i): CniInterface => {
      if (!isRecord(raw) || typeof raw.name !== 'string') return fail(`interfaces[${i}] has no name`);
      const iface: CniInterface = { name: raw.name };
      if (typeof raw.mac === 'string') iface.mac = raw.mac;
      if (typeof raw.sandbox === 'string' && raw.sandbox !== '') iface.sandbox = raw.sandbox;
      return iface;
    });
  }
  if (value.ips !== undefined) {
    if (!Array.isArray(value.ips)) return fail('ips is not a list');
    result.ips = value.ips.map((raw: unknown, i): CniIpConfig => {
      if (!isRecord(raw) || typeof raw.address !== 'string') return fail(`ips[${i}] has no address`);
      const ip: CniIpConfig = { address: raw.address };
      if (typeof raw.gateway === 'string' && raw.gateway !== '') ip.gateway = raw.gateway;
      if (raw.interface !== undefined && raw.interface !== null) {
        if (typeof raw.interface !== 'number' || !Number.isInteger(raw.interface) || raw.interface < 0) {
          return fail(`ips[${i}].interface is not an index`);
        }
        ip.interface = raw.interface;
      }
      return ip;
    });
  }
  if (value.routes !== undefined) {
    if (!Array.isArray(value.routes)) return fail('routes is not a list');
    result.routes = value.routes.map((raw: unknown, i): CniRoute => {
      if (!isRecord(raw) || typeof raw.dst !== 'string') return fail(`routes[${i}] has no dst`);
      const route: CniRoute = { dst: raw.dst };
      if (typeof raw.gw === 'string' && raw.gw !== '') route.gw = raw.gw;
      return route;
    });
  }
  if (value.dns !== undefined) {
    if (!isRecord(value.dns)) return fail('dns is not an object');
    result.dns = normalizeDns(value.dns);
  }
  return result;
}

function normalizeDns(raw: Record<string, unknown>): CniDns {
  const dns: CniDns = {};
  const strings = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
  const nameservers = strings(raw.nameservers);
  const search = strings(raw.search);
  const options = strings(raw.options);
  if (nameservers) dns.nameservers = nameservers;
  if (typeof raw.domain === 'string') dns.domain = raw.domain;
  if (search) dns.search = search;
  if (options) dns.options = options;
  return dns;
}

/**
 * The result as printed for a config of `cniVersion`: 1.0.0 as is; 0.3.x/0.4.0 need `version` ("4"/"6") on
 * every IP. Empty lists are left out and `dns` is always present, as libcni prints them.
 */
export function formatResult(result: CniResult, cniVersion: string): Record<string, unknown> {
  const legacy = (compareVersions(cniVersion, '1.0.0') ?? 0) < 0;
  const out: Record<string, unknown> = { cniVersion };
  if (result.interfaces && result.interfaces.length > 0) {
    out.interfaces = result.interfaces.map((i) => ({ ...i }));
  }
  if (result.ips && result.ips.length > 0) {
    out.ips = result.ips.map((ip) =>
      legacy ? { version: ip.address.includes(':') ? '6' : '4', ...ip } : { ...ip },
    );
  }
  if (result.routes && result.routes.length > 0) out.routes = result.routes.map((r) => ({ ...r }));
  out.dns = { ...(result.dns ?? {}) };
  return out;
}

export function formatError(error: CniError, cniVersion: string): CniErrorBody {
  const body: CniErrorBody = { cniVersion, code: error.code, msg: error.message };
  if (error.details !== undefined && error.details !== '') body.details = error.details;
  return body;
}

/** Anything thrown becomes a CniError; unknown failures are code 999 with their message. */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  return new CniError(CniErrorCode.Internal, errorMessage(e));
}

/** Socket path: the test/dev override, then the network config, then the default. */
export function resolveSocketPath(config: Pick<NetConf, 'cniSocket'>, env: Environment): string {
  const override = env[CNI_SOCKET_ENV];
  if (override !== undefined && override !== '') return override;
  return config.cniSocket ?? DEFAULT_CNI_SOCKET_PATH;
}

export function resolveTimeoutMs(env: Environment): number {
  const raw = env[CNI_TIMEOUT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_CNI_TIMEOUT_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) {
    throw new CniError(CniErrorCode.InvalidEnvironment, `invalid ${CNI_TIMEOUT_ENV} "${raw}"`);
  }
  return ms;
}

/** Validates a request line received by the CNI server. Throws code 6. */
export function parseWireRequest(line: string): CniRequest {
  const fail = (why: string): never => {
    throw new CniError(CniErrorCode.DecodingFailure, 'malformed CNI request', why);
  };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return fail(errorMessage(e));
  }
  if (!isRecord(value)) return fail('not a JSON object');
  const { command, containerId, netns, ifName, args, path, config } = value;
  if (typeof command !== 'string' || !isCommand(command)) return fail('command must be ADD, DEL or CHECK');
  if (typeof containerId !== 'string' || containerId === '') return fail('containerId missing');
  if (typeof netns !== 'string') return fail('netns missing');
  if (typeof ifName !== 'string' || ifName === '') return fail('ifName missing');
  if (typeof path !== 'string') return fail('path missing');
  if (!isRecord(args) || !Object.values(args).every((v) => typeof v === 'string')) {
    return fail('args must map strings to strings');
  }
  if (
    !isRecord(config) ||
    typeof config.cniVersion !== 'string' ||
    typeof config.name !== 'string' ||
    typeof config.type !== 'string'
  ) {
    return fail('config must have cniVersion, name and type');
  }
  return {
    command,
    containerId,
    netns,
    ifName,
    args: args as Record<string, string>,
    path,
    config: config as NetConf,
  };
}

/** Validates the agent's reply line as the plugin receives it. Throws code 100. */
export function parseWireReply(line: string): CniWireReply {
  const fail = (why: string): never => {
    throw new CniError(CniErrorCode.AgentUnreachable, 'malformed reply from the antrea-edge agent', why);
  };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return fail(errorMessage(e));
  }
  if (!isRecord(value) || typeof value.ok !== 'boolean') return fail('not a reply object');
  if (value.ok) {
    if (value.result === undefined) return { ok: true };
    try {
      return { ok: true, result: normalizeResult(value.result, CURRENT_CNI_VERSION, 'result') };
    } catch (e) {
      return fail(e instanceof CniError ? `${e.message}: ${e.details ?? ''}` : errorMessage(e));
    }
  }
  const error = value.error;
  if (!isRecord(error) || typeof error.code !== 'number' || typeof error.msg !== 'string') {
    return fail('error reply without code and msg');
  }
  const reply: CniWireReply = { ok: false, error: { code: error.code, msg: error.msg } };
  if (typeof error.details === 'string') reply.error.details = error.details;
  return reply;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
