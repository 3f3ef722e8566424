// NodeRoutes' incremental path against a real ovs-vswitchd and a real routing table: peers joining, leaving and
// moving through setPeers() (what the Node watch drives in cluster mode), one bundle per change, checked with
// `ovs-ofctl dump-flows` and `ip route`. The OVS and the gateway device live in a network namespace of their own.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { silentLogger } from '../../firmware/core/logger';
import type { PeerNode } from '../../firmware/core/pipeline/node-route-flows';
import { remoteNodeCookie, type NodeNetwork } from '../../firmware/core/pipeline/pipeline-flows';
import { FlowReconciler } from '../../firmware/agent/flow-reconciler';
import { NodeRoutes } from '../../firmware/agent/node-routes';
import { IpRouteTable } from '../../firmware/agent/node-routes-host';
import { FlowWriter } from '../../firmware/ovs/flow-writer';
import { OvsProcesses } from '../../firmware/ovs/ovs-processes';
import { deleteNetns, ensureNetns } from '../../scripts/lib/dev-node';
import { must } from '../support/run';

const NODE_COOKIES = 'cookie=0x0500000000000000/0xff00000000000000';
const BRIDGE = 'aemn-br';
const GATEWAY = 'antrea-gw0';

const n2: PeerNode = { name: 'n2', podCidr: '10.77.2.0/24', nodeIp: '192.168.77.12' };
const n3: PeerNode = { name: 'n3', podCidr: '10.77.3.0/24', nodeIp: '192.168.77.13' };
const n4: PeerNode = { name: 'n4', podCidr: '10.77.4.0/24', nodeIp: '192.168.77.14' };

describe('multi-node: NodeRoutes against a real OVS and routing table', function () {
  this.timeout(60_000);
  const netns = `aemn-nr${crypto.randomBytes(3).toString('hex')}`;
  let dir: string;
  let ovs: OvsProcesses;
  let flows: FlowReconciler;
  let nodeRoutes: NodeRoutes;
  const node: NodeNetwork = {
    gatewayOfport: 2,
    gatewayMac: '0a:5e:00:00:00:01',
    gatewayIp: '10.77.1.1',
    podCidr: '10.77.1.0/24',
    tunnelOfport: 1,
  };

  /** The peer flows as OVS has them, each as `cookie table match`, sorted. */
  const installed = async (): Promise<string[]> =>
    (await ovs.ofctl(['dump-flows', BRIDGE, NODE_COOKIES]))
      .split('\n')
      .filter((line) => line.includes('actions='))
      .map((line) => {
        const cookie = /cookie=(0x[0-9a-f]+)/.exec(line)?.[1];
        const table = /table=(\d+)/.exec(line)?.[1];
        const match = /priority=\d+,(\S+) actions/.exec(line)?.[1];
        const tunDst = /load:(0x[0-9a-f]+)->NXM_NX_TUN_IPV4_DST/.exec(line)?.[1];
        return `${cookie} ${table} ${match}${tunDst === undefined ? '' : ` tun_dst=${tunDst}`}`;
      })
      .sort();

  const routes = async (): Promise<string> => must('ip', ['-n', netns, 'route', 'show', 'dev', GATEWAY]);

  const cookieText = (peer: PeerNode): string => `0x${remoteNodeCookie(peer).toString(16)}`;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aemn-nr-'));
    ensureNetns(netns);
    // No dummy driver in this kernel: a veth pair stands in for the gateway device.
    await must('ip', ['-n', netns, 'link', 'add', GATEWAY, 'type', 'veth', 'peer', 'name', 'gw-peer']);
    await must('ip', ['-n', netns, 'link', 'set', 'gw-peer', 'up']);
    await must('ip', ['-n', netns, 'link', 'set', GATEWAY, 'up']);
    await must('ip', ['-n', netns, 'addr', 'add', '10.77.1.1/24', 'dev', GATEWAY]);
    ovs = new OvsProcesses({ dir, netns });
    await ovs.start();
    await ovs.vsctl([
      'add-br',
      BRIDGE,
      '--',
      'set',
      'Bridge',
      BRIDGE,
      'datapath_type=netdev',
      'fail_mode=secure',
    ]);
    assert.equal((await ovs.vsctl(['get', 'Interface', BRIDGE, 'ofport'])).trim(), '65534', 'bridge came up');
    flows = new FlowReconciler(
      new FlowWriter({ bridge: BRIDGE, env: ovs.env(), logger: silentLogger }),
      silentLogger,
    );
    nodeRoutes = new NodeRoutes({
      self: { name: 'n1', podCidr: node.podCidr, gatewayName: GATEWAY },
      node: () => node,
      flows,
      routes: new IpRouteTable({ netns }),
      logger: silentLogger,
      initialPeers: [n2],
    });
    nodeRoutes.start();
    // A route left behind by a peer that went away while the agent was down.
    await must('ip', [
      '-n',
      netns,
      'route',
      'add',
      '10.77.9.0/24',
      'via',
      '10.77.9.1',
      'dev',
      GATEWAY,
      'onlink',
    ]);
  });

  after(async () => {
    await nodeRoutes?.stop();
    await ovs?.stop();
    deleteNetns(netns);
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('installs the initial peer at the first resync and removes stale gateway routes', async () => {
    await nodeRoutes.beforeResync('start');
    await flows.resync();
    assert.deepEqual(await installed(), [
      `${cookieText(n2)} 20 arp,arp_tpa=10.77.2.1,arp_op=1`,
      `${cookieText(n2)} 70 ip,nw_dst=10.77.2.0/24 tun_dst=0xc0a84d0c`,
    ]);
    const table = await routes();
    assert.match(table, /10\.77\.2\.0\/24 via 10\.77\.2\.1 onlink/);
    assert.doesNotMatch(table, /10\.77\.9\.0/);
    assert.match(table, /10\.77\.1\.0\/24 proto kernel/, 'the connected route is not ours to remove');
    const l3 = await ovs.ofctl(['dump-flows', BRIDGE, 'table=70']);
    assert.match(
      l3,
      /priority=210,ct_state=-new\+rpl\+trk,ct_mark=0x20,ip,reg0=0x80000\/0x80000 actions=goto_table:80/,
    );
  });

  it("joins add only the new peers' flows and routes, in one bundle", async () => {
    const update = await nodeRoutes.setPeers([n2, n3, n4]);
    assert.equal(update.plan.add.length, 4);
    assert.equal(update.plan.delete.length + update.plan.modify.length, 0);
    const flowsNow = await installed();
    assert.equal(flowsNow.length, 6);
    assert.ok(flowsNow.includes(`${cookieText(n4)} 70 ip,nw_dst=10.77.4.0/24 tun_dst=0xc0a84d0e`));
    const table = await routes();
    for (const peer of [n2, n3, n4]) assert.match(table, new RegExp(`${peer.podCidr} via `));
  });

  it("a leave removes exactly that peer's flows and route", async () => {
    const update = await nodeRoutes.setPeers([n3, n4]);
    assert.deepEqual(
      update.plan.delete.map((f) => f.cookie),
      [remoteNodeCookie(n2), remoteNodeCookie(n2)],
    );
    const flowsNow = await installed();
    assert.equal(flowsNow.length, 4);
    assert.ok(!flowsNow.some((f) => f.startsWith(cookieText(n2))), flowsNow.join('\n'));
    assert.doesNotMatch(await routes(), /10\.77\.2\.0/);
  });

  it("a node that moves to another IP keeps its flows' keys, with the new cookie and tun_dst", async () => {
    const moved = { ...n3, nodeIp: '192.168.77.33' };
    const update = await nodeRoutes.setPeers([moved, n4]);
    assert.equal(update.plan.modify.length, 2);
    assert.equal(update.plan.add.length + update.plan.delete.length, 0);
    const flowsNow = await installed();
    assert.ok(
      flowsNow.includes(`${cookieText(moved)} 70 ip,nw_dst=10.77.3.0/24 tun_dst=0xc0a84d21`),
      flowsNow.join('\n'),
    );
    assert.ok(!flowsNow.some((f) => f.startsWith(cookieText(n3))));
    assert.match(await routes(), /10\.77\.3\.0\/24 via 10\.77\.3\.1 onlink/);
  });

  it('after ovs-vswitchd restarts, a resync puts every peer flow back', async () => {
    await ovs.restartVswitchd();
    assert.deepEqual(await installed(), [], 'flows do not survive ovs-vswitchd');
    await nodeRoutes.beforeResync('vswitchd-restart');
    const plan = await flows.resync();
    assert.equal(plan.add.length, 5, 'four peer flows and the tunnel gateway-reply flow');
    assert.equal((await installed()).length, 4);
  });
});
