// Linux plumbing of a pod's network: a veth pair whose container end is created directly inside the pod's
// network namespace, addressed and routed there, with transmit checksum offload off (the userspace datapath
// does not fill in checksums; see PLATFORM.md). ADD is on the hot path, so attach() runs two processes:
//   1. ip link add <host> mtu M up type veth peer name <ifName> mtu M address MAC netns <path>
//      (iproute2 accepts a namespace path here; creating the peer in place is ~3x faster than moving it)
//   2. nsenter --net=<path> sh -c 'ip -batch - && ethtool -K <ifName> tx off'   (lo up, ifName up, IP, route)
// Everything failing after step 1 removes the pair again, so a failed ADD leaves nothing behind.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Logger } from '../core/logger';

export interface AttachRequest {
  /** Path of the pod's network namespace (CNI_NETNS), e.g. /var/run/netns/cni-1234. */
  netns: string;
  /** Interface name inside the pod (CNI_IFNAME), usually eth0. */
  ifName: string;
  /** Host end of the veth pair; see hostInterfaceName(). */
  hostIfName: string;
  /** The pod's address with prefix length, e.g. "10.10.0.5/24". */
  ipCidr: string;
  gatewayIp: string;
  mtu: number;
  /** Container-side MAC; a random locally administered unicast one when absent. */
  mac?: string;
}

export interface AttachResult {
  hostIfName: string;
  containerMac: string;
}

export interface InspectResult {
  exists: boolean;
  mac?: string;
  /** Global-scope addresses with prefix length (link-local IPv6 addresses are left out). */
  ipCidrs: string[];
  mtu?: number;
  defaultGateway?: string;
}

export type PodNetworkErrorCode =
  | 'POD_NETWORK_INVALID_ARGUMENT'
  | 'POD_NETWORK_NETNS_NOT_FOUND'
  | 'POD_NETWORK_INTERFACE_EXISTS'
  | 'POD_NETWORK_COMMAND_FAILED';

export class PodNetworkError extends Error {
  override readonly name = 'PodNetworkError';
  constructor(
    readonly code: PodNetworkErrorCode,
    message: string,
    /** The failing command line, when a command failed. */
    readonly command?: string,
    /** That command's stderr, trimmed. */
    readonly stderr?: string,
  ) {
    super(message);
  }
}

export interface PodNetworkOptions {
  logger: Logger;
  /** Kill a plumbing command that takes longer than this. Default 30 s. */
  commandTimeoutMs?: number;
}

const HOST_NAME_PREFIX_LENGTH = 8;
const HOST_NAME_HASH_LENGTH = 6;
const MAX_IFNAME_LENGTH = 15;
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Host-side veth name: the pod name's first 8 characters, "-", and 6 hex digits of sha1("ns/name/containerId"),
 * so that names are stable for one sandbox and a re-created pod of the same name gets a different one.
 */
export function hostInterfaceName(podNamespace: string, podName: string, containerId: string): string {
  const hash = createHash('sha1').update(`${podNamespace}/${podName}/${containerId}`).digest('hex');
  // Characters the kernel refuses in device names cannot occur in Kubernetes pod names, but standalone mode
  // accepts names from other sources.
  const prefix = podName.slice(0, HOST_NAME_PREFIX_LENGTH).replace(/[/:\s]/g, '_');
  return `${prefix}-${hash.slice(0, HOST_NAME_HASH_LENGTH)}`;
}

/** Random MAC with the locally-administered bit set and the multicast bit clear. */
export function generateMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export class PodNetwork {
  private readonly logger: Logger;

  constructor(private readonly options: PodNetworkOptions) {
    this.logger = options.logger.child({ component: 'pod-network' });
  }

  async attach(req: AttachRequest): Promise<AttachResult> {
    const mac = (req.mac ?? generateMac()).toLowerCase();
    const { prefixLength, family } = validateAttach(req, mac);
    await requireNetns(req.netns);
    const mtu = String(req.mtu);
    // prettier-ignore
    const createArgs = [
      'link', 'add', req.hostIfName, 'mtu', mtu, 'up',
      'type', 'veth', 'peer', 'name', req.ifName, 'mtu', mtu, 'address', mac, 'netns', req.netns,
    ];
    try {
      await this.run('ip', createArgs);
    } catch (e) {
      throw await this.explainCreateFailure(e, req);
    }
    const batch = [
      'link set lo up',
      `link set ${req.ifName} up`,
      `addr add ${req.ipCidr} dev ${req.ifName}`,
      `route add default via ${req.gatewayIp} dev ${req.ifName}`,
      '',
    ].join('\n');
    try {
      // ifName is passed as a positional parameter, never spliced into the script.
      await this.run(
        'nsenter',
        [
          `--net=${req.netns}`,
          'sh',
          '-c',
          'ip -batch - || exit 1; ethtool -K "$1" tx off >/dev/null',
          'attach',
          req.ifName,
        ],
        batch,
      );
    } catch (e) {
      await this.rollback(req.hostIfName);
      throw e;
    }
    this.logger.debug('pod interface attached', {
      netns: req.netns,
      hostIfName: req.hostIfName,
      ifName: req.ifName,
      ipCidr: req.ipCidr,
      family,
      prefixLength,
      mac,
    });
    return { hostIfName: req.hostIfName, containerMac: mac };
  }

  /** Deletes the host end, which removes the whole pair. Succeeds when it is already gone. */
  async detach(req: { hostIfName: string }): Promise<void> {
    validateIfName(req.hostIfName, 'hostIfName');
    try {
      await this.run('ip', ['link', 'del', 'dev', req.hostIfName]);
      this.logger.debug('pod interface detached', { hostIfName: req.hostIfName });
    } catch (e) {
      if (e instanceof PodNetworkError && isNoSuchDevice(e.stderr)) return;
      throw e;
    }
  }

  /** The interface's current state inside the pod, for CHECK. One process (two when the pod is IPv6-only). */
  async inspect(req: { netns: string; ifName: string }): Promise<InspectResult> {
    validateIfName(req.ifName, 'ifName');
    await requireNetns(req.netns);
    let stdout: string;
    let exists = true;
    try {
      ({ stdout } = await this.run(
        'nsenter',
        [`--net=${req.netns}`, 'ip', '-j', '-batch', '-'],
        `route show default\naddr show dev ${req.ifName}\n`,
      ));
    } catch (e) {
      if (!(e instanceof PodNetworkError && isNoSuchDevice(e.stderr))) throw e;
      exists = false;
      stdout = '';
    }
    if (!exists) return { exists: false, ipCidrs: [] };
    const [routes, links] = splitJsonValues(stdout);
    const link = asRecords(links)[0];
    if (!link) return { exists: false, ipCidrs: [] };
    const addrInfo = asRecords(link.addr_info);
    const ipCidrs = addrInfo
      .filter((a) => a.scope === 'global' && typeof a.local === 'string')
      .map((a) => `${String(a.local)}/${String(a.prefixlen)}`);
    let defaultGateway = defaultGatewayOf(asRecords(routes), req.ifName);
    if (defaultGateway === undefined && ipCidrs.length > 0 && ipCidrs.every((c) => c.includes(':'))) {
      const v6 = await this.run('nsenter', [
        `--net=${req.netns}`,
        'ip',
        '-6',
        '-j',
        'route',
        'show',
        'default',
      ]);
      defaultGateway = defaultGatewayOf(asRecords(splitJsonValues(v6.stdout)[0]), req.ifName);
    }
    const result: InspectResult = { exists: true, ipCidrs };
    if (typeof link.address === 'string') result.mac = link.address;
    if (typeof link.mtu === 'number') result.mtu = link.mtu;
    if (defaultGateway !== undefined) result.defaultGateway = defaultGateway;
    return result;
  }

  private async explainCreateFailure(e: unknown, req: AttachRequest): Promise<unknown> {
    if (!(e instanceof PodNetworkError) || !/File exists/.test(e.stderr ?? '')) return e;
    // Cold path: find out which end collided, so the error says what to clean up.
    const hostSide = await this.run('ip', ['link', 'show', 'dev', req.hostIfName]).then(
      () => true,
      () => false,
    );
    const where = hostSide
      ? `host interface ${req.hostIfName} already exists`
      : `interface ${req.ifName} already exists in ${req.netns}`;
    return new PodNetworkError('POD_NETWORK_INTERFACE_EXISTS', where, e.command, e.stderr);
  }

  private async rollback(hostIfName: string): Promise<void> {
    try {
      await this.detach({ hostIfName });
    } catch (e) {
      this.logger.warn('could not remove the veth pair of a failed attach', { hostIfName, err: e });
    }
  }

  private run(file: string, args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
    const timeoutMs = this.options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const commandLine = [file, ...args].join(' ');
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      // A command that exits before reading its input would otherwise surface as an unhandled EPIPE.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(
          new PodNetworkError('POD_NETWORK_COMMAND_FAILED', `cannot run ${file}: ${e.message}`, commandLine),
        );
      });
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        const stdout = Buffer.concat(out).toString('utf8');
        const stderr = Buffer.concat(err).toString('utf8').trim();
        if (status === 0) {
          resolve({ stdout, stderr });
          return;
        }
        const how = timedOut ? `timed out after ${timeoutMs} ms` : `exited with ${status ?? signal ?? '?'}`;
        const message = `${commandLine} ${how}${stderr ? `: ${stderr}` : ''}`;
        reject(new PodNetworkError('POD_NETWORK_COMMAND_FAILED', message, commandLine, stderr));
      });
    });
  }
}

function validateAttach(req: AttachRequest, mac: string): { prefixLength: number; family: 4 | 6 } {
  validateIfName(req.ifName, 'ifName');
  validateIfName(req.hostIfName, 'hostIfName');
  if (!req.netns.startsWith('/')) invalid(`netns "${req.netns}" is not an absolute path`);
  const slash = req.ipCidr.indexOf('/');
  const address = req.ipCidr.slice(0, slash);
  const prefixText = req.ipCidr.slice(slash + 1);
  const family = net.isIP(address);
  const maxPrefix = family === 6 ? 128 : 32;
  const prefixLength = Number(prefixText);
  if (slash < 0 || family === 0 || !/^\d{1,3}$/.test(prefixText) || prefixLength > maxPrefix) {
    invalid(`ipCidr "${req.ipCidr}" is not an address with a prefix length`);
  }
  if (net.isIP(req.gatewayIp) !== family)
    invalid(`gatewayIp "${req.gatewayIp}" is not an IPv${family} address`);
  const minMtu = family === 6 ? 1280 : 68;
  if (!Number.isInteger(req.mtu) || req.mtu < minMtu || req.mtu > 65535) {
    invalid(`mtu ${req.mtu} is outside ${minMtu}..65535`);
  }
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    invalid(`mac "${mac}" is not a unicast MAC address`);
  }
  return { prefixLength, family: family as 4 | 6 };
}

function validateIfName(name: string, what: string): void {
  if (
    name === '' ||
    name.length > MAX_IFNAME_LENGTH ||
    name === '.' ||
    name === '..' ||
    /[/:\s]/.test(name)
  ) {
    invalid(`${what} "${name}" is not a valid interface name`);
  }
}

function invalid(message: string): never {
  throw new PodNetworkError('POD_NETWORK_INVALID_ARGUMENT', message);
}

async function requireNetns(netns: string): Promise<void> {
  try {
    await fs.promises.access(netns);
  } catch {
    throw new PodNetworkError('POD_NETWORK_NETNS_NOT_FOUND', `network namespace ${netns} does not exist`);
  }
}

function isNoSuchDevice(stderr: string | undefined): boolean {
  return /Cannot find device|does not exist/.test(stderr ?? '');
}

function defaultGatewayOf(routes: Record<string, unknown>[], ifName: string): string | undefined {
  const viaIf = routes.find((r) => r.dev === ifName && typeof r.gateway === 'string');
  const any = routes.find((r) => typeof r.gateway === 'string');
  const gw = (viaIf ?? any)?.gateway;
  return typeof gw === 'string' ? gw : undefined;
}

function asRecords(value: unknown): Record<string, unknown>[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
}

/** `ip -j -batch` prints one JSON document per command, back to back. */
export function splitJsonValues(text: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === ']' || ch === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        values.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
      }
    }
  }
  return values;
}
