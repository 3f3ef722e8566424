// The CNI spec's rules as pure functions: environment and CNI_ARGS parsing, network config validation, version
// negotiation, result / error shaping per requested version, and the socket line protocol. The agent's CNI server
// runs them for every invocation the plugin executables forward (executeInvocation); the plugins themselves only
// use the few helpers they need before the agent is reached. No I/O here, so unit tests need no process.
import {
  CNI_SOCKET_ENV,
  CNI_TIMEOUT_ENV,
  CNI_ENV_NAMES,
  CURRENT_CNI_VERSION,
  CniError,
  CniErrorCode,
  DEFAULT_CNI_SOCKET_PATH,
  DEFAULT_CNI_TIMEOUT_MS,
  MAX_CNI_TIMEOUT_MS,
  SUPPORTED_CNI_VERSIONS,
  type CniCommand,
  type CniDns,
  type CniErrorBody,
  type CniInterface,
  type CniIpConfig,
  type CniPluginOutput,
  type CniRequest,
  type CniResult,
  type CniRoute,
  type CniVersionResult,
  type NetConf,
  type RawCniInvocation,
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

/** The two settings a plugin executable needs from stdin before the agent has validated anything. */
export interface NetConfPeek {
  /** The config's cniVersion for errors the plugin reports itself; ours when it declares none. */
  cniVersion: string;
  cniSocket?: string;
}

/**
 * Top-level non-empty "cniVersion" and "cniSocket" strings of `stdin` if it is a JSON object, without validating
 * anything else. The C shim implements exactly this rule (peek_config), so both plugins reach the same socket.
 */
export function peekNetConf(stdin: string): NetConfPeek {
  const peek: NetConfPeek = { cniVersion: CURRENT_CNI_VERSION };
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch {
    return peek;
  }
  if (!isRecord(parsed)) return peek;
  if (typeof parsed.cniVersion === 'string' && parsed.cniVersion !== '') peek.cniVersion = parsed.cniVersion;
  if (typeof parsed.cniSocket === 'string' && parsed.cniSocket !== '') peek.cniSocket = parsed.cniSocket;
  return peek;
}

/** The version to stamp on an error: the config's if it declared one, else ours. */
export function declaredCniVersion(stdin: string): string {
  return peekNetConf(stdin).cniVersion;
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

/** Socket path: the test/dev override, then the network config's cniSocket, then the default. */
export function resolveSocketPath(peek: Pick<NetConfPeek, 'cniSocket'>, env: Environment): string {
  const override = env[CNI_SOCKET_ENV];
  if (override !== undefined && override !== '') return override;
  return peek.cniSocket ?? DEFAULT_CNI_SOCKET_PATH;
}

/** Digits only (no sign, exponent, blanks or leading zero) so that the C shim's parser agrees exactly. */
const TIMEOUT_PATTERN = /^[1-9][0-9]{0,8}$/;

/** The plugin's deadline for the agent's answer. Throws code 4 for anything but 1..MAX_CNI_TIMEOUT_MS. */
export function resolveTimeoutMs(env: Environment): number {
  const raw = env[CNI_TIMEOUT_ENV];
  if (raw === undefined || raw === '') return DEFAULT_CNI_TIMEOUT_MS;
  if (!TIMEOUT_PATTERN.test(raw)) {
    throw new CniError(
      CniErrorCode.InvalidEnvironment,
      `invalid ${CNI_TIMEOUT_ENV} "${raw}"`,
      `a whole number of milliseconds from 1 to ${MAX_CNI_TIMEOUT_MS}`,
    );
  }
  return Number(raw);
}

/** What the CNI server's handler runs for a validated request: a result for ADD, nothing for DEL and CHECK. */
export type CniDispatch = (request: CniRequest) => Promise<CniResult | undefined>;

export interface CniInvocationOutcome {
  output: CniPluginOutput;
  /** The request handed to `dispatch`; absent when the environment or the config were rejected first. */
  request?: CniRequest;
  /** Why the invocation failed; its formatted body is `output.stdout`. */
  error?: CniError;
  /** What was thrown, for the log: the handler's own Error (with its stack) when it was not a CniError. */
  thrown?: unknown;
}

/**
 * Runs one forwarded plugin invocation as the CNI spec wants it: environment, then config, then the handler, and
 * returns exactly what the plugin must print and its exit status. Never throws.
 */
export async function executeInvocation(
  raw: RawCniInvocation,
  dispatch: CniDispatch,
): Promise<CniInvocationOutcome> {
  let cniVersion = CURRENT_CNI_VERSION;
  let request: CniRequest | undefined;
  try {
    const invocation = parseEnvironment(raw.env);
    if (invocation.command === 'VERSION') {
      return { output: { exitCode: 0, stdout: `${JSON.stringify(versionResult())}\n` } };
    }
    cniVersion = declaredCniVersion(raw.stdin);
    request = buildRequest(invocation, raw.stdin);
    const result = await dispatch(request);
    if (request.command !== 'ADD') return { output: { exitCode: 0, stdout: '' }, request };
    if (result === undefined) {
      throw new CniError(CniErrorCode.Internal, 'the antrea-edge agent answered ADD without a result');
    }
    const formatted = formatResult(checkedHandlerResult(result), cniVersion);
    return { output: { exitCode: 0, stdout: `${JSON.stringify(formatted)}\n` }, request };
  } catch (e) {
    const error = toCniError(e);
    return { output: errorOutput(error, cniVersion), request, error, thrown: e };
  }
}

/** A handler's result passes through the same decoder as a prevResult, so nothing malformed is printed. */
function checkedHandlerResult(result: CniResult): CniResult {
  try {
    return normalizeResult(result, CURRENT_CNI_VERSION, 'ADD result');
  } catch (e) {
    const error = toCniError(e);
    throw new CniError(
      CniErrorCode.Internal,
      'the antrea-edge agent produced an invalid ADD result',
      `${error.message}: ${error.details ?? ''}`,
    );
  }
}

/** What a plugin prints for an error: the spec's error object on one line, exit status 1. */
export function errorOutput(error: CniError, cniVersion: string): CniPluginOutput {
  return { exitCode: 1, stdout: `${JSON.stringify(formatError(error, cniVersion))}\n` };
}

/** The request line a plugin sends for its environment and stdin (CNI_* variables only). */
export function encodeWireRequest(env: Environment, stdin: string): string {
  const forwarded: RawCniInvocation['env'] = {};
  for (const name of CNI_ENV_NAMES) {
    const value = env[name];
    if (value !== undefined) forwarded[name] = value;
  }
  return `${JSON.stringify({ raw: { env: forwarded, stdin } })}\n`;
}

/** Validates a request line received by the CNI server. Throws code 6. */
export function parseWireRequest(line: string): RawCniInvocation {
  const fail = (why: string): never => {
    throw new CniError(CniErrorCode.DecodingFailure, 'malformed CNI request', why);
  };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    return fail(errorMessage(e));
  }
  if (!isRecord(value) || !isRecord(value.raw)) return fail('not a {"raw":{...}} object');
  const { env, stdin } = value.raw;
  if (!isRecord(env)) return fail('raw.env must be an object');
  if (typeof stdin !== 'string') return fail('raw.stdin must be a string');
  const raw: RawCniInvocation = { env: {}, stdin };
  for (const name of CNI_ENV_NAMES) {
    const v = env[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') return fail(`raw.env.${name} must be a string`);
    raw.env[name] = v;
  }
  return raw;
}

/** The reply the CNI server sends: a header line the C shim can check with a few byte compares, then stdout. */
export function encodeWireReply(output: CniPluginOutput): string {
  return `{"exitCode":${output.exitCode}}\n${output.stdout}`;
}

const REPLY_HEADER_PATTERN = /^\{"exitCode":(0|[1-9][0-9]{0,2})\}$/;

/** The exit status in a reply's first line (without its newline), or undefined unless it is exactly 0..255. */
export function parseWireReplyHeader(header: string): number | undefined {
  const m = REPLY_HEADER_PATTERN.exec(header);
  if (!m) return undefined;
  const status = Number(m[1]);
  return status <= 255 ? status : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
