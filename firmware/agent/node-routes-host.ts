// The Linux side of peer node routes: `ip route` on the gateway device (as the gateway link code does), and a
// warm-up that puts a peer's underlay MAC into OVS's tunnel neighbour cache (`ovs-appctl tnl/neigh/show`), so
// the first tunnelled Pod packet is not dropped while OVS ARPs (the userspace datapath does that).
import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostRoute, HostRouteTable, UnderlayNeighbours } from './node-routes';

export class HostRouteError extends Error {
  readonly code = 'HostRouteFailed';
}

export class IpRouteTable implements HostRouteTable {
  /** `netns`: change another network namespace's table (tests); absent: this process's. */
  constructor(private readonly options: { netns?: string } = {}) {}

  async list(dev: string): Promise<HostRoute[]> {
    const stdout = await ip(this.args(['-j', 'route', 'show', 'dev', dev]));
    const routes = JSON.parse(stdout || '[]') as { dst?: string; gateway?: string }[];
    return routes.flatMap((r) =>
      r.dst === undefined || r.gateway === undefined
        ? []
        : [{ dst: normaliseDst(r.dst), via: r.gateway, dev }],
    );
  }

  async replace(route: HostRoute): Promise<void> {
    await ip(this.args(['route', 'replace', route.dst, 'via', route.via, 'dev', route.dev, 'onlink']));
  }

  async remove(route: HostRoute): Promise<void> {
    try {
      await ip(this.args(['route', 'del', route.dst, 'via', route.via, 'dev', route.dev]));
    } catch (error) {
      // Already gone (or the device with it): what we wanted.
      if (/No such process|Cannot find device/.test((error as Error).message)) return;
      throw error;
    }
  }

  private args(args: string[]): string[] {
    return this.options.netns === undefined ? args : ['-n', this.options.netns, ...args];
  }
}

/** `ip -j route` prints a /32 without its prefix. */
function normaliseDst(dst: string): string {
  return dst.includes('/') ? dst : `${dst}/32`;
}

function ip(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new HostRouteError(`ip ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** The discard port: the peer answers with ICMP port unreachable at most, which is just as good. */
const DISCARD_PORT = 9;

export interface OvsUnderlayWarmUpOptions {
  /** OVS run directory: where ovs-vswitchd's control socket is. */
  ovsRunDir: string;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the kernel to resolve the next hop; 2 s unless told. */
  resolveTimeoutMs?: number;
}

/**
 * Teaches OVS's tunnel neighbour cache the peer's next hop: one datagram makes the kernel resolve it, then the
 * kernel's answer goes to `ovs-appctl tnl/neigh/set`. OVS only learns neighbours from ARP replies it sees
 * itself, and the kernel sends no request when it already learned the peer from the peer's own request
 * (measured: the second node to start never had the first in `tnl/neigh/show`).
 */
export class OvsUnderlayWarmUp implements UnderlayNeighbours {
  constructor(private readonly options: OvsUnderlayWarmUpOptions) {}

  async resolve(nodeIp: string): Promise<void> {
    const routes = JSON.parse(await ip(['-j', 'route', 'get', nodeIp])) as {
      dev?: string;
      gateway?: string;
    }[];
    const dev = routes[0]?.dev;
    if (dev === undefined) throw new HostRouteError(`no route to node IP ${nodeIp}`);
    const nextHop = routes[0]?.gateway ?? nodeIp;
    await sendDatagram(nodeIp);
    const mac = await this.kernelNeighbour(nextHop, dev);
    await appctl(this.options, ['tnl/neigh/set', dev, nextHop, mac]);
  }

  private async kernelNeighbour(address: string, dev: string): Promise<string> {
    const deadline = Date.now() + (this.options.resolveTimeoutMs ?? 2_000);
    for (;;) {
      const entries = JSON.parse(await ip(['-j', 'neigh', 'show', 'to', address, 'dev', dev])) as {
        lladdr?: string;
        state?: string[];
      }[];
      const entry = entries.find(
        (e) => e.lladdr !== undefined && !(e.state ?? []).some((s) => s === 'FAILED' || s === 'INCOMPLETE'),
      );
      if (entry?.lladdr !== undefined) return entry.lladdr;
      if (Date.now() > deadline) throw new HostRouteError(`${address} on ${dev} did not resolve`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

function sendDatagram(address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.send(new Uint8Array([0]), DISCARD_PORT, address, (error) => {
      socket.close();
      if (error) reject(error);
      else resolve();
    });
  });
}

function appctl(options: OvsUnderlayWarmUpOptions, args: string[]): Promise<string> {
  const runDir = path.resolve(options.ovsRunDir);
  // scripts and tests name the socket; a packaged ovs-vswitchd names it after its pid.
  let target = path.join(runDir, 'ovs-vswitchd.ctl');
  if (!fs.existsSync(target)) {
    const pid = fs.readFileSync(path.join(runDir, 'ovs-vswitchd.pid'), 'utf8').trim();
    target = path.join(runDir, `ovs-vswitchd.${pid}.ctl`);
  }
  return new Promise((resolve, reject) => {
    execFile(
      'ovs-appctl',
      ['-t', target, ...args],
      { env: options.env, timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error)
          reject(
            new HostRouteError(`ovs-appctl ${args.join(' ')} failed: ${stderr.trim() || error.message}`),
          );
        else resolve(stdout);
      },
    );
  });
}
