// Three nodes on one machine: each a network namespace with its own OVS (userspace datapath) and firmware,
// joined by a Geneve underlay (a Linux bridge between the nodes' br-phy uplinks). Pods on different nodes talk
// over real TCP and UDP through the tunnel; a node that leaves loses its flows, routes and traffic; it rejoins.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from '../support/run';
import { startMultiNode, type ClusterNode, type MultiNode } from '../support/multi-node';
import type { SimPod } from '../../scripts/lib/sim-pods';

const HTTP_PORT = 80;
const UDP_PORT = 5353;
/** Flows of the Node cookie category (0x05): peer nodes' ARP answers and subnets. */
/** Generous for traffic that must pass (a loaded 2-core machine; a lost SYN is resent after 1 s and 3 s). */
const PASS_MS = 5000;
/** Traffic that must not pass: any answer within this time would be one. */
const FAIL_MS = 1000;
const NODE_COOKIES = 'cookie=0x0500000000000000/0xff00000000000000';

/** How OVS 3.1 prints `set_field:<nodeIp>->tun_dst` under OpenFlow 1.3. */
function tunDst(nodeIp: string): string {
  const hex = nodeIp
    .split('.')
    .reduce((value, octet) => value * 256 + Number(octet), 0)
    .toString(16);
  return `load:0x${hex}->NXM_NX_TUN_IPV4_DST[]`;
}

describe('multi-node: pods on three nodes through Geneve tunnels', function () {
  this.timeout(300_000);
  let mn: MultiNode;
  const pods = new Map<number, SimPod>();

  const pod = (index: number): SimPod => {
    const found = pods.get(index);
    if (found === undefined) throw new Error(`no pod on node ${index}`);
    return found;
  };

  /** Node `index`'s peer flows, one line per flow without counters. */
  const peerFlows = async (index: number): Promise<string[]> =>
    (await mn.dumpFlows(index, NODE_COOKIES)).map((line) =>
      line.replace(/ duration=[^,]+,| n_packets=\d+,| n_bytes=\d+,| idle_age=\d+,/g, '').trim(),
    );

  const routesOf = async (node: ClusterNode): Promise<string> =>
    (await run('ip', ['-n', node.dev.nodeNs, 'route', 'show', 'dev', 'antrea-gw0'])).stdout;

  const brPhyMac = async (node: ClusterNode): Promise<string> => {
    const links = JSON.parse(
      (await run('ip', ['-n', node.dev.nodeNs, '-j', 'link', 'show', 'br-phy'])).stdout,
    ) as { address: string }[];
    return links[0]?.address ?? 'none';
  };

  before(async () => {
    // Three embedded Node-RED editors would only compete with the data plane for the machine's two cores.
    mn = await startMultiNode(3, 'mn', { extraArgs: ['--node-red', 'false'] });
    for (const node of mn.nodes) {
      const p = await mn.addPod(node.index, {
        namespace: 'default',
        name: `p${node.index}`,
        labels: { app: `p${node.index}` },
        httpPort: HTTP_PORT,
      });
      pods.set(node.index, p);
      await mn.startUdpEcho(p, UDP_PORT);
    }
  });

  after(async () => {
    await mn?.stop();
  });

  it('gives each node its own Pod subnet and, per peer, an ARP answer, a tunnel flow with tun_dst and a host route', async () => {
    for (const node of mn.nodes) {
      assert.ok(pod(node.index).ip.startsWith(node.podCidr.replace('0/24', '')), pod(node.index).ip);
      const flows = await peerFlows(node.index);
      const peers = mn.nodes.filter((p) => p !== node);
      assert.equal(flows.length, 2 * peers.length, flows.join('\n'));
      for (const peer of peers) {
        assert.ok(
          flows.some((f) => f.includes(`nw_dst=${peer.podCidr}`) && f.includes(tunDst(peer.nodeIp))),
          `node ${node.index} has no tunnel flow to ${peer.name}:\n${flows.join('\n')}`,
        );
        assert.ok(
          flows.some((f) => f.includes(`arp_tpa=${peer.gatewayIp}`)),
          `node ${node.index} does not answer ARP for ${peer.gatewayIp}`,
        );
        assert.match(await routesOf(node), new RegExp(`${peer.podCidr} via ${peer.gatewayIp} onlink`));
      }
      // The firmware's warm-up made OVS learn every peer's underlay MAC (its br-phy's) before any Pod sent a
      // packet.
      const neighbours = await node.dev.ovs.appctl(['tnl/neigh/show']);
      for (const peer of peers) {
        const mac = await brPhyMac(peer);
        assert.match(
          neighbours,
          new RegExp(`${peer.nodeIp.replace(/\./g, '\\.')}\\s+${mac}\\s+br-phy`),
          `node ${node.index} has not learned ${peer.nodeIp} at ${mac}:\n${neighbours}`,
        );
      }
    }
  });

  it('carries TCP (HTTP) and UDP between pods of every pair of nodes, both ways', async () => {
    for (const a of mn.nodes) {
      for (const b of mn.nodes) {
        if (a === b) continue;
        const from = pod(a.index);
        const to = pod(b.index);
        assert.equal(
          await mn.tcpConnect(from, to.ip, HTTP_PORT, PASS_MS),
          'connected',
          `TCP ${a.name} -> ${b.name}`,
        );
        const page = await run('ip', [
          'netns',
          'exec',
          from.netnsName,
          'timeout',
          '5',
          'busybox',
          'wget',
          '-q',
          '-O',
          '-',
          `http://${to.ip}/`,
        ]);
        assert.equal(page.code, 0, page.stderr);
        assert.match(page.stdout, new RegExp(`Served by default/p${b.index} \\(${to.ip}\\)`));
        assert.equal(
          await mn.udpEcho(from, to.ip, UDP_PORT, PASS_MS),
          `echo:from ${from.ip}`,
          `UDP ${a.name} -> ${b.name}`,
        );
      }
    }
  });

  it('moves 2 MB over TCP across the tunnel intact (MTU 1450 inside Geneve)', async () => {
    const www = path.join(mn.node(2).home, 'sim', 'www', 'default_p2');
    const blob = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 13 + (i >> 9)) & 0xff;
    fs.writeFileSync(path.join(www, 'blob.bin'), blob);
    const got = await run('ip', [
      'netns',
      'exec',
      pod(1).netnsName,
      'sh',
      '-c',
      `timeout 20 busybox wget -q -O - http://${pod(2).ip}/blob.bin | md5sum`,
    ]);
    assert.equal(got.code, 0, got.stderr);
    const want = await run('md5sum', [path.join(www, 'blob.bin')]);
    assert.equal(got.stdout.split(' ')[0], want.stdout.split(' ')[0]);
  });

  it('lets a node reach remote pods itself through the host route and the peer-gateway ARP answer', async () => {
    const page = await run('ip', [
      'netns',
      'exec',
      mn.node(1).dev.nodeNs,
      'timeout',
      '5',
      'busybox',
      'wget',
      '-q',
      '-O',
      '-',
      `http://${pod(3).ip}/`,
    ]);
    assert.equal(page.code, 0, page.stderr);
    assert.match(page.stdout, /Served by default\/p3/);
  });

  it('a node that leaves loses its flows, routes and traffic on the others; the rest keep talking', async () => {
    const [n1, n2, n3] = [mn.node(1), mn.node(2), mn.node(3)];
    await mn.cluster.restartFirmware(n1, [n1, n2]);
    await mn.cluster.restartFirmware(n2, [n1, n2]);
    for (const node of [n1, n2]) {
      const flows = await peerFlows(node.index);
      assert.equal(flows.length, 2, flows.join('\n'));
      assert.ok(!flows.some((f) => f.includes(n3.nodeIp) || f.includes(n3.podCidr)), flows.join('\n'));
      const all = await mn.dumpFlows(node.index);
      assert.ok(!all.some((f) => f.includes(tunDst(n3.nodeIp)) || f.includes(`arp_tpa=${n3.gatewayIp}`)));
      assert.doesNotMatch(await routesOf(node), new RegExp(n3.podCidr.replace(/\./g, '\\.')));
    }
    assert.notEqual(await mn.tcpConnect(pod(1), pod(3).ip, HTTP_PORT, FAIL_MS), 'connected');
    assert.notEqual(await mn.tcpConnect(pod(2), pod(3).ip, HTTP_PORT, FAIL_MS), 'connected');
    assert.notEqual(await mn.udpEcho(pod(1), pod(3).ip, UDP_PORT, FAIL_MS), `echo:from ${pod(1).ip}`);
    assert.equal(await mn.tcpConnect(pod(1), pod(2).ip, HTTP_PORT, PASS_MS), 'connected');
    assert.equal(await mn.udpEcho(pod(2), pod(1).ip, UDP_PORT, PASS_MS), `echo:from ${pod(2).ip}`);
  });

  it('a node that rejoins gets its flows and routes back, and traffic to it works again', async () => {
    const [n1, n2, n3] = [mn.node(1), mn.node(2), mn.node(3)];
    await mn.cluster.restartFirmware(n1, mn.nodes);
    await mn.cluster.restartFirmware(n2, mn.nodes);
    for (const node of [n1, n2]) {
      const flows = await peerFlows(node.index);
      assert.equal(flows.length, 4, flows.join('\n'));
      assert.ok(
        flows.some((f) => f.includes(tunDst(n3.nodeIp))),
        flows.join('\n'),
      );
      assert.match(await routesOf(node), new RegExp(`${n3.podCidr} via ${n3.gatewayIp} onlink`));
    }
    for (const from of [1, 2]) {
      assert.equal(await mn.tcpConnect(pod(from), pod(3).ip, HTTP_PORT, PASS_MS), 'connected');
      assert.equal(await mn.udpEcho(pod(3), pod(from).ip, UDP_PORT, PASS_MS), `echo:from ${pod(3).ip}`);
    }
  });
});
