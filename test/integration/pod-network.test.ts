// PodNetwork against real network namespaces, veth pairs, iproute2 and ethtool. Every namespace and link made
// here carries the "cnit" prefix and this process's pid, and is removed in after().
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silentLogger } from '../../firmware/core/logger';
import {
  PodNetwork,
  PodNetworkError,
  generateMac,
  hostInterfaceName,
  splitJsonValues,
  type AttachRequest,
} from '../../firmware/cni/pod-network';

const execFileAsync = promisify(execFile);
const TAG = `cnit${process.pid % 100000}`;

async function sh(file: string, args: string[]): Promise<string> {
  return (await execFileAsync(file, args)).stdout;
}

async function inNs(ns: string, args: string[]): Promise<string> {
  return sh('ip', ['netns', 'exec', ns, ...args]);
}

interface IpLink {
  ifindex: number;
  ifname: string;
  link_index?: number;
  flags: string[];
  mtu: number;
  address: string;
  operstate: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

async function linkIn(ns: string | undefined, name: string): Promise<IpLink | undefined> {
  const args = ['-j', 'addr', 'show', 'dev', name];
  try {
    const out = ns === undefined ? await sh('ip', args) : await sh('ip', ['-n', ns, ...args]);
    return (JSON.parse(out) as IpLink[])[0];
  } catch {
    return undefined;
  }
}

function hasFlag(err: unknown, code: string): boolean {
  return err instanceof PodNetworkError && err.code === code;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

describe('PodNetwork with real network namespaces', function () {
  this.timeout(120_000);
  const podNetwork = new PodNetwork({ logger: silentLogger });
  const namespaces: string[] = [];
  const hostLinks: string[] = [];

  async function newNamespace(suffix: string): Promise<{ name: string; path: string }> {
    const name = `${TAG}-${suffix}`;
    await sh('ip', ['netns', 'add', name]);
    namespaces.push(name);
    return { name, path: `/run/netns/${name}` };
  }

  function hostName(pod: string): string {
    const name = hostInterfaceName('cnit-test', `${TAG}${pod}`, `container-${process.pid}-${pod}`);
    hostLinks.push(name);
    return name;
  }

  after(async () => {
    for (const link of hostLinks) await sh('ip', ['link', 'del', 'dev', link]).catch(() => undefined);
    for (const ns of namespaces) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  });

  describe('names and MACs', () => {
    it('hostInterfaceName: 8 characters of the pod name, "-", 6 hex digits; stable; at most 15 characters', () => {
      const a = hostInterfaceName('default', 'nginx-deployment-6b474476c4-x2x9q', 'c0ffee');
      assert.match(a, /^nginx-de-[0-9a-f]{6}$/);
      assert.equal(a.length, 15);
      assert.equal(hostInterfaceName('default', 'nginx-deployment-6b474476c4-x2x9q', 'c0ffee'), a);
      assert.notEqual(hostInterfaceName('default', 'nginx-deployment-6b474476c4-x2x9q', 'beef'), a);
      assert.notEqual(hostInterfaceName('prod', 'nginx-deployment-6b474476c4-x2x9q', 'c0ffee'), a);
      assert.match(hostInterfaceName('default', 'db', 'c0ffee'), /^db-[0-9a-f]{6}$/);
    });

    it('generateMac: locally administered unicast', () => {
      for (let i = 0; i < 50; i++) {
        const mac = generateMac();
        assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        const first = parseInt(mac.slice(0, 2), 16);
        assert.equal(first & 0x01, 0, 'multicast bit must be clear');
        assert.equal(first & 0x02, 2, 'locally administered bit must be set');
      }
    });

    it('splitJsonValues splits back-to-back JSON documents, brackets inside strings included', () => {
      assert.deepEqual(splitJsonValues('[{"a":"]["}]\n[]\n[{"b":1}]'), [[{ a: '][' }], [], [{ b: 1 }]]);
    });
  });

  describe('attach / inspect / detach', () => {
    let ns: { name: string; path: string };
    let request: AttachRequest;

    before(async () => {
      ns = await newNamespace('pod1');
      request = {
        netns: ns.path,
        ifName: 'eth0',
        hostIfName: hostName('pod1'),
        ipCidr: '10.77.0.5/24',
        gatewayIp: '10.77.0.1',
        mtu: 1450,
        mac: '0A:58:0A:4D:00:05',
      };
    });

    it('creates eth0 in the namespace with IP, MAC, MTU, default route, tx checksum offload off and lo up', async () => {
      const attached = await podNetwork.attach(request);
      assert.deepEqual(attached, { hostIfName: request.hostIfName, containerMac: '0a:58:0a:4d:00:05' });

      const eth0 = await linkIn(ns.name, 'eth0');
      assert.ok(eth0, 'eth0 exists in the pod namespace');
      assert.equal(eth0.address, '0a:58:0a:4d:00:05');
      assert.equal(eth0.mtu, 1450);
      assert.ok(eth0.flags.includes('UP'));
      const v4 = (eth0.addr_info ?? []).filter((a) => a.family === 'inet');
      assert.deepEqual(
        v4.map((a) => `${a.local}/${a.prefixlen}`),
        ['10.77.0.5/24'],
      );
      const routes = JSON.parse(await sh('ip', ['-n', ns.name, '-j', 'route', 'show', 'default'])) as {
        gateway: string;
        dev: string;
      }[];
      assert.deepEqual(
        routes.map((r) => [r.gateway, r.dev]),
        [['10.77.0.1', 'eth0']],
      );
      const features = await inNs(ns.name, ['ethtool', '-k', 'eth0']);
      assert.match(features, /^tx-checksumming: off$/m);
      const lo = await linkIn(ns.name, 'lo');
      assert.ok(lo?.flags.includes('UP'), 'loopback is up');

      const host = await linkIn(undefined, request.hostIfName);
      assert.ok(host, 'host end exists in the host namespace');
      assert.equal(host.mtu, 1450);
      assert.ok(host.flags.includes('UP'));
      assert.equal(host.operstate, 'UP', 'both ends up: the pair has carrier');
      assert.equal(eth0.link_index, host.ifindex, 'eth0 is the peer of the host end');
    });

    it('inspect reports the interface as attach configured it', async () => {
      assert.deepEqual(await podNetwork.inspect({ netns: ns.path, ifName: 'eth0' }), {
        exists: true,
        mac: '0a:58:0a:4d:00:05',
        ipCidrs: ['10.77.0.5/24'],
        mtu: 1450,
        defaultGateway: '10.77.0.1',
      });
    });

    it('refuses a second interface of the same name in the namespace and leaves nothing behind', async () => {
      const otherHost = hostName('pod1-dup');
      await assert.rejects(
        podNetwork.attach({ ...request, hostIfName: otherHost, mac: undefined }),
        (e: unknown) =>
          hasFlag(e, 'POD_NETWORK_INTERFACE_EXISTS') && /eth0 already exists/.test((e as Error).message),
      );
      assert.equal(await linkIn(undefined, otherHost), undefined);
      assert.equal((await podNetwork.inspect({ netns: ns.path, ifName: 'eth0' })).mac, '0a:58:0a:4d:00:05');
    });

    it('refuses a host interface name already in use', async () => {
      const ns2 = await newNamespace('pod1-b');
      await assert.rejects(
        podNetwork.attach({ ...request, netns: ns2.path }),
        (e: unknown) =>
          hasFlag(e, 'POD_NETWORK_INTERFACE_EXISTS') && /host interface/.test((e as Error).message),
      );
      assert.equal(await linkIn(ns2.name, 'eth0'), undefined);
    });

    it('detach removes the pair; a second detach is fine; inspect then reports it missing', async () => {
      await podNetwork.detach({ hostIfName: request.hostIfName });
      assert.equal(await linkIn(undefined, request.hostIfName), undefined);
      assert.equal(await linkIn(ns.name, 'eth0'), undefined);
      await podNetwork.detach({ hostIfName: request.hostIfName });
      assert.deepEqual(await podNetwork.inspect({ netns: ns.path, ifName: 'eth0' }), {
        exists: false,
        ipCidrs: [],
      });
    });
  });

  describe('failures', () => {
    it('rolls back the veth pair when configuring the namespace fails, with the command stderr', async () => {
      const ns = await newNamespace('rollback');
      const hostIfName = hostName('rollback');
      let caught: unknown;
      try {
        // A gateway outside the pod subnet: the route cannot be added after the veth already exists.
        await podNetwork.attach({
          netns: ns.path,
          ifName: 'eth0',
          hostIfName,
          ipCidr: '10.77.1.5/24',
          gatewayIp: '192.0.2.1',
          mtu: 1450,
        });
      } catch (e) {
        caught = e;
      }
      assert.ok(hasFlag(caught, 'POD_NETWORK_COMMAND_FAILED'), String(caught));
      assert.match((caught as PodNetworkError).stderr ?? '', /gateway|Nexthop|unreachable/i);
      assert.equal(await linkIn(undefined, hostIfName), undefined, 'host end removed');
      assert.equal(await linkIn(ns.name, 'eth0'), undefined, 'pod end removed');
    });

    it('reports a missing namespace as POD_NETWORK_NETNS_NOT_FOUND for attach and inspect', async () => {
      const missing = `/run/netns/${TAG}-does-not-exist`;
      await assert.rejects(
        podNetwork.attach({
          netns: missing,
          ifName: 'eth0',
          hostIfName: hostName('missing'),
          ipCidr: '10.77.0.9/24',
          gatewayIp: '10.77.0.1',
          mtu: 1450,
        }),
        (e: unknown) => hasFlag(e, 'POD_NETWORK_NETNS_NOT_FOUND'),
      );
      await assert.rejects(podNetwork.inspect({ netns: missing, ifName: 'eth0' }), (e: unknown) =>
        hasFlag(e, 'POD_NETWORK_NETNS_NOT_FOUND'),
      );
    });

    it('validates arguments before running anything', async () => {
      const base: AttachRequest = {
        netns: '/run/netns/whatever',
        ifName: 'eth0',
        hostIfName: `${TAG}x`,
        ipCidr: '10.77.0.9/24',
        gatewayIp: '10.77.0.1',
        mtu: 1450,
      };
      const invalid = (e: unknown): boolean => hasFlag(e, 'POD_NETWORK_INVALID_ARGUMENT');
      await assert.rejects(podNetwork.attach({ ...base, ifName: 'this-name-is-too-long' }), invalid);
      await assert.rejects(podNetwork.attach({ ...base, ipCidr: '10.77.0.9' }), invalid);
      await assert.rejects(podNetwork.attach({ ...base, ipCidr: '10.77.0.9/33' }), invalid);
      await assert.rejects(podNetwork.attach({ ...base, gatewayIp: 'fd00::1' }), invalid);
      await assert.rejects(podNetwork.attach({ ...base, mtu: 10 }), invalid);
      await assert.rejects(podNetwork.attach({ ...base, mac: '01:00:5e:00:00:01' }), invalid);
      await assert.rejects(podNetwork.attach({ ...base, netns: 'relative' }), invalid);
      await assert.rejects(podNetwork.detach({ hostIfName: 'bad name' }), invalid);
    });
  });

  describe('IPv6', () => {
    it('attaches and inspects an IPv6-only pod (default route read with ip -6)', async () => {
      const ns = await newNamespace('v6');
      const hostIfName = hostName('v6');
      const attached = await podNetwork.attach({
        netns: ns.path,
        ifName: 'eth0',
        hostIfName,
        ipCidr: 'fd00:77::5/64',
        gatewayIp: 'fd00:77::1',
        mtu: 1450,
      });
      const seen = await podNetwork.inspect({ netns: ns.path, ifName: 'eth0' });
      assert.deepEqual(seen, {
        exists: true,
        mac: attached.containerMac,
        ipCidrs: ['fd00:77::5/64'],
        mtu: 1450,
        defaultGateway: 'fd00:77::1',
      });
      await podNetwork.detach({ hostIfName });
    });
  });

  describe('latency', () => {
    it('attach p50/p95 over 20 pods next to a raw "ip link add; ip link set netns" baseline', async () => {
      const pods = 20;
      const nss: { name: string; path: string }[] = [];
      for (let i = 0; i < pods; i++) nss.push(await newNamespace(`lat${i}`));

      const baseline: number[] = [];
      for (let i = 0; i < pods; i++) {
        const host = `${TAG}b${i}`;
        const peer = `${TAG}c${i}`;
        hostLinks.push(host);
        const started = process.hrtime.bigint();
        await sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
        await sh('ip', ['link', 'set', peer, 'netns', nss[i]?.path ?? '']);
        baseline.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      for (let i = 0; i < pods; i++) await sh('ip', ['link', 'del', `${TAG}b${i}`]);

      const attach: number[] = [];
      const detach: number[] = [];
      const hosts: string[] = [];
      for (let i = 0; i < pods; i++) {
        const hostIfName = hostName(`lat${i}`);
        hosts.push(hostIfName);
        const started = process.hrtime.bigint();
        await podNetwork.attach({
          netns: nss[i]?.path ?? '',
          ifName: 'eth0',
          hostIfName,
          ipCidr: `10.78.0.${i + 10}/24`,
          gatewayIp: '10.78.0.1',
          mtu: 1450,
        });
        attach.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      for (const [i, hostIfName] of hosts.entries()) {
        const seen = await podNetwork.inspect({ netns: nss[i]?.path ?? '', ifName: 'eth0' });
        assert.deepEqual(seen.ipCidrs, [`10.78.0.${i + 10}/24`]);
        const started = process.hrtime.bigint();
        await podNetwork.detach({ hostIfName });
        detach.push(Number(process.hrtime.bigint() - started) / 1e6);
      }
      const fmt = (xs: number[]): string =>
        `p50 ${percentile(xs, 0.5).toFixed(1)} ms, p95 ${percentile(xs, 0.95).toFixed(1)} ms`;
      console.log(`      baseline ip link add + ip link set netns (2 processes): ${fmt(baseline)}`);
      console.log(`      PodNetwork.attach (full pod config, 2 spawns):         ${fmt(attach)}`);
      console.log(`      PodNetwork.detach:                                      ${fmt(detach)}`);
      assert.equal(attach.length, pods);
    });
  });
});
