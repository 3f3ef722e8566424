// Peer nodes without OVS: option parsing, checks and diffs (pure), and NodeRoutes driving the real
// FlowReconciler over a fake flow writer (one bundle per change, only the changed flows) and a fake route table.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  buildConfig,
  ConfigError,
  OPTION_HELP,
  parseOptions,
  validateBoardProfile,
} from '../../firmware/core/config';
import { silentLogger } from '../../firmware/core/logger';
import {
  checkPeers,
  diffPeers,
  formatPeerNodeOption,
  parsePeerNodeOption,
  peerGatewayIp,
  nodeRoutesFlows,
  peerNodeFlows,
  tunnelGatewayReplyFlows,
  PeerNodeError,
  peersFromNodes,
  type PeerNode,
} from '../../firmware/core/pipeline/node-route-flows';
import { CookieCategory, cookieCategory, formatFlow, type Flow } from '../../firmware/core/pipeline/flow';
import { remoteNodeCookie, type NodeNetwork } from '../../firmware/core/pipeline/pipeline-flows';
import type { FlowPlan } from '../../firmware/core/plan/flow-plan';
import { FlowReconciler, type FlowApplier } from '../../firmware/agent/flow-reconciler';
import {
  NODE_ROUTES_FLOW_OWNER,
  NodeRoutes,
  NodeRoutesError,
  routeTo,
  type HostRoute,
  type HostRouteTable,
} from '../../firmware/agent/node-routes';
import type { InstalledFlow } from '../../firmware/ovs/flow-writer';

const node: NodeNetwork = {
  gatewayOfport: 2,
  gatewayMac: '0a:5e:00:00:00:01',
  gatewayIp: '10.77.1.1',
  podCidr: '10.77.1.0/24',
  tunnelOfport: 1,
};
const self = { name: 'n1', podCidr: '10.77.1.0/24', gatewayName: 'antrea-gw0' };
const n2: PeerNode = { name: 'n2', podCidr: '10.77.2.0/24', nodeIp: '192.168.77.12' };
const n3: PeerNode = { name: 'n3', podCidr: '10.77.3.0/24', nodeIp: '192.168.77.13' };

describe('peer node options', () => {
  it('parses NAME=PODCIDR@NODEIP, clearing host bits, and formats it back', () => {
    const peer = parsePeerNodeOption('edge-2=10.77.2.9/24@192.168.77.12');
    assert.deepEqual(peer, { name: 'edge-2', podCidr: '10.77.2.0/24', nodeIp: '192.168.77.12' });
    assert.equal(formatPeerNodeOption(peer), 'edge-2=10.77.2.0/24@192.168.77.12');
    assert.equal(peerGatewayIp(peer), '10.77.2.1');
  });

  it('rejects malformed values with a typed error', () => {
    for (const bad of [
      'n2',
      'n2=10.77.2.0/24',
      '=10.77.2.0/24@1.2.3.4',
      'n2=10.77.2.0@1.2.3.4',
      'n2=10.77.2.0/24@1.2.3',
      'n2=10.77.2.0/31@1.2.3.4',
    ]) {
      assert.throws(
        () => parsePeerNodeOption(bad),
        (e: unknown) => e instanceof PeerNodeError && e.code === 'InvalidPeerNode',
        bad,
      );
    }
  });

  it('--peer-node is repeatable and comma-separable, documented, and bad values are config errors', () => {
    const sim = validateBoardProfile(
      JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../board/sim/profile.json'), 'utf8')),
      'sim',
    );
    const options = parseOptions([
      '--peer-node',
      'n2=10.77.2.0/24@192.168.77.12',
      '--peer-node=n3=10.77.3.0/24@192.168.77.13,n4=10.77.4.0/24@192.168.77.14',
    ]);
    assert.ok(options instanceof Map);
    const config = buildConfig(options, sim, 'h');
    assert.deepEqual(
      config.peerNodes.map((p) => p.name),
      ['n2', 'n3', 'n4'],
    );
    assert.deepEqual(buildConfig(new Map(), sim, 'h').peerNodes, []);
    assert.match(OPTION_HELP, /--peer-node NAME=PODCIDR@NODEIP/);
    assert.throws(
      () => buildConfig(parseOptions(['--peer-node', 'n2@x']) as Map<string, string>, sim, 'h'),
      ConfigError,
    );
  });
});

describe('peersFromNodes', () => {
  it('takes the IPv4 podCIDR and InternalIP of each Node and says why it skips the others', () => {
    const { peers, skipped } = peersFromNodes([
      {
        metadata: { name: 'n2' },
        spec: { podCIDR: '10.77.2.0/24', podCIDRs: ['10.77.2.0/24', 'fd00:2::/64'] },
        status: {
          addresses: [
            { type: 'Hostname', address: 'n2' },
            { type: 'InternalIP', address: 'fd00::12' },
            { type: 'InternalIP', address: '192.168.77.12' },
          ],
        },
      },
      {
        metadata: { name: 'v6first' },
        spec: { podCIDRs: ['fd00:3::/64', '10.77.3.0/24'] },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.77.13' }] },
      },
      {
        metadata: { name: 'new' },
        spec: {},
        status: { addresses: [{ type: 'InternalIP', address: '192.168.77.14' }] },
      },
      { metadata: { name: 'quiet' }, spec: { podCIDR: '10.77.5.0/24' } },
      { spec: { podCIDR: '10.77.6.0/24' } },
    ]);
    assert.deepEqual(peers, [n2, { name: 'v6first', podCidr: '10.77.3.0/24', nodeIp: '192.168.77.13' }]);
    assert.deepEqual(skipped, [
      { name: 'new', reason: 'no IPv4 spec.podCIDR' },
      { name: 'quiet', reason: 'no IPv4 InternalIP in status.addresses' },
      { name: '', reason: 'no metadata.name' },
    ]);
  });
});

describe('checkPeers / diffPeers', () => {
  it('skips this node and rejects clashing subnets and node IPs, whatever the order', () => {
    const clashSubnet: PeerNode = { name: 'p-clash', podCidr: '10.77.2.128/25', nodeIp: '192.168.77.20' };
    const clashSelf: PeerNode = { name: 'b-self', podCidr: '10.77.0.0/16', nodeIp: '192.168.77.21' };
    const clashIp: PeerNode = { name: 'z-ip', podCidr: '10.77.9.0/24', nodeIp: '192.168.77.12' };
    const me: PeerNode = { name: 'n1', podCidr: '10.77.1.0/24', nodeIp: '192.168.77.11' };
    const forward = checkPeers(self, [me, n2, clashSubnet, clashSelf, clashIp, n3]);
    const backward = checkPeers(self, [n3, clashIp, clashSelf, clashSubnet, n2, me]);
    assert.deepEqual(forward, backward);
    assert.deepEqual(forward.accepted, [n2, n3]);
    assert.deepEqual(
      forward.rejected.map((r) => r.peer.name),
      ['b-self', 'p-clash', 'z-ip'],
    );
    assert.match(forward.rejected.find((r) => r.peer.name === 'p-clash')?.reason ?? '', /overlaps node n2/);
    assert.match(forward.rejected.find((r) => r.peer.name === 'b-self')?.reason ?? '', /overlaps node n1/);
    assert.match(forward.rejected.find((r) => r.peer.name === 'z-ip')?.reason ?? '', /192\.168\.77\.12/);
  });

  it('rejects a name listed twice and keeps the first', () => {
    const again: PeerNode = { ...n2, podCidr: '10.77.8.0/24', nodeIp: '192.168.77.99' };
    const checked = checkPeers(self, [n2, again]);
    assert.deepEqual(checked.accepted, [n2]);
    assert.match(checked.rejected[0]?.reason ?? '', /listed twice/);
  });

  it('finds joins, leaves and changes by name', () => {
    const moved: PeerNode = { ...n3, nodeIp: '192.168.77.33' };
    const n4: PeerNode = { name: 'n4', podCidr: '10.77.4.0/24', nodeIp: '192.168.77.14' };
    const diff = diffPeers([n2, n3], [n4, moved]);
    assert.deepEqual(diff.added, [n4]);
    assert.deepEqual(diff.removed, [n2]);
    assert.deepEqual(diff.changed, [{ before: n3, after: moved }]);
    assert.deepEqual(diffPeers([n2, n3], [n3, n2]), { added: [], removed: [], changed: [] });
  });

  it("builds each peer's flows in the Node cookie category with the peer IP as object id", () => {
    const flows = peerNodeFlows(node, [n2, n3]);
    assert.equal(flows.length, 4);
    for (const f of flows) assert.equal(cookieCategory(f.cookie), CookieCategory.Node);
    assert.equal(flows.filter((f) => f.cookie === remoteNodeCookie(n2)).length, 2);
    const l3 = flows.find((f) => f.match.includes('nw_dst=10.77.3.0/24'));
    assert.match(l3?.actions ?? '', /load:0xc0a84d0d->NXM_NX_TUN_IPV4_DST\[\]/);
  });
});

describe('tunnelGatewayReplyFlows / nodeRoutesFlows', () => {
  it("sends tunnelled replies of gateway connections on to L2Forwarding, past the local Pods' MAC rewrite", () => {
    assert.deepEqual(tunnelGatewayReplyFlows().map(formatFlow), [
      'cookie=0x300000000000000, table=70, priority=210,ct_state=-new+rpl+trk,ct_mark=0x20,ip,reg0=0x80000/0x80000 actions=goto_table:80',
    ]);
    assert.equal(cookieCategory(tunnelGatewayReplyFlows()[0]?.cookie ?? 0n), CookieCategory.Tunnel);
  });

  it('has the reply flow once with any peers and nothing without peers', () => {
    assert.deepEqual(nodeRoutesFlows(node, []), []);
    const flows = nodeRoutesFlows(node, [n2, n3]);
    assert.equal(flows.length, 5);
    assert.equal(flows.filter((f) => cookieCategory(f.cookie) === CookieCategory.Tunnel).length, 1);
  });

  it('the last peer leaving takes the reply flow with it', async () => {
    const writer = new FakeFlowWriter();
    const flows = new FlowReconciler(writer, silentLogger);
    const nodeRoutes = new NodeRoutes({
      self,
      node: () => node,
      flows,
      routes: new FakeRouteTable(),
      logger: silentLogger,
      initialPeers: [n2],
    });
    nodeRoutes.start();
    await nodeRoutes.beforeResync('start');
    await flows.resync();
    assert.equal(writer.installed.size, 3);
    const update = await nodeRoutes.setPeers([]);
    assert.equal(update.plan.delete.length, 3);
    assert.equal(writer.installed.size, 0);
  });
});

/** Records every bundle the reconciler sends and what would be installed. */
class FakeFlowWriter implements FlowApplier {
  readonly bundles: FlowPlan[] = [];
  readonly installed = new Map<string, Flow>();
  failNext = false;

  dumpFlows(): Promise<InstalledFlow[]> {
    return Promise.resolve([...this.installed.values()].map((f) => ({ ...f, packets: 0, bytes: 0 })));
  }

  apply(plan: FlowPlan): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('bundle rejected'));
    }
    this.bundles.push(plan);
    for (const f of plan.delete) this.installed.delete(`${f.table}/${f.priority}/${f.match}`);
    for (const f of [...plan.add, ...plan.modify])
      this.installed.set(`${f.table}/${f.priority}/${f.match}`, f);
    return Promise.resolve();
  }

  texts(): string[] {
    return [...this.installed.values()].map(formatFlow).sort();
  }
}

class FakeRouteTable implements HostRouteTable {
  readonly routes = new Map<string, HostRoute>();
  readonly calls: string[] = [];
  failReplace = 0;

  list(dev: string): Promise<HostRoute[]> {
    return Promise.resolve([...this.routes.values()].filter((r) => r.dev === dev));
  }

  replace(route: HostRoute): Promise<void> {
    if (this.failReplace > 0) {
      this.failReplace--;
      return Promise.reject(new Error('RTNETLINK answers: Network is down'));
    }
    this.calls.push(`replace ${route.dst} via ${route.via}`);
    this.routes.set(route.dst, route);
    return Promise.resolve();
  }

  remove(route: HostRoute): Promise<void> {
    this.calls.push(`del ${route.dst}`);
    this.routes.delete(route.dst);
    return Promise.resolve();
  }

  dsts(): string[] {
    return [...this.routes.keys()].sort();
  }
}

describe('NodeRoutes', () => {
  function setUp(initialPeers?: PeerNode[]): {
    writer: FakeFlowWriter;
    flows: FlowReconciler;
    routes: FakeRouteTable;
    warmed: string[];
    nodeRoutes: NodeRoutes;
  } {
    const writer = new FakeFlowWriter();
    const flows = new FlowReconciler(writer, silentLogger);
    const routes = new FakeRouteTable();
    const warmed: string[] = [];
    const nodeRoutes = new NodeRoutes({
      self,
      node: () => node,
      flows,
      routes,
      underlay: {
        resolve: (ip) => {
          warmed.push(ip);
          return Promise.resolve();
        },
      },
      logger: silentLogger,
      initialPeers,
    });
    nodeRoutes.start();
    return { writer, flows, routes, warmed, nodeRoutes };
  }

  async function resync(
    t: ReturnType<typeof setUp>,
    reason: 'start' | 'vswitchd-restart' = 'start',
  ): Promise<void> {
    await t.nodeRoutes.beforeResync(reason);
    await t.flows.resync();
  }

  it('installs the initial peers at the first resync, with routes and a warm-up per peer', async () => {
    const t = setUp([n2, n3]);
    assert.equal(t.writer.bundles.length, 0, 'nothing is written before the agent resyncs');
    await resync(t);
    assert.equal(t.writer.bundles.length, 1);
    assert.deepEqual(t.writer.texts(), nodeRoutesFlows(node, [n2, n3]).map(formatFlow).sort());
    assert.deepEqual(t.routes.dsts(), ['10.77.2.0/24', '10.77.3.0/24']);
    assert.deepEqual(t.routes.routes.get('10.77.2.0/24'), {
      dst: '10.77.2.0/24',
      via: '10.77.2.1',
      dev: 'antrea-gw0',
    });
    assert.deepEqual(t.warmed.sort(), ['192.168.77.12', '192.168.77.13']);
  });

  it("a join adds only the new peer's flows and route, in one bundle", async () => {
    const t = setUp([n2]);
    await resync(t);
    const update = await t.nodeRoutes.setPeers([n2, n3]);
    assert.equal(t.writer.bundles.length, 2);
    assert.deepEqual(update.diff.added, [n3]);
    assert.deepEqual(
      update.plan.add.map(formatFlow).sort(),
      peerNodeFlows(node, [n3]).map(formatFlow).sort(),
    );
    assert.equal(update.plan.delete.length + update.plan.modify.length, 0);
    assert.deepEqual(t.routes.calls.slice(-1), ['replace 10.77.3.0/24 via 10.77.3.1']);
  });

  it("a leave removes only that peer's flows and route; the same set again sends no bundle", async () => {
    const t = setUp([n2, n3]);
    await resync(t);
    const update = await t.nodeRoutes.setPeers([n3]);
    assert.deepEqual(update.diff.removed, [n2]);
    assert.deepEqual(
      update.plan.delete.map((f) => f.cookie),
      [remoteNodeCookie(n2), remoteNodeCookie(n2)],
    );
    assert.equal(update.plan.add.length, 0);
    assert.deepEqual(t.routes.dsts(), ['10.77.3.0/24']);
    assert.deepEqual(t.writer.texts(), nodeRoutesFlows(node, [n3]).map(formatFlow).sort());
    const bundles = t.writer.bundles.length;
    const again = await t.nodeRoutes.setPeers([n3, { ...self, nodeIp: '192.168.77.11' }]);
    assert.equal(t.writer.bundles.length, bundles);
    assert.equal(again.plan.add.length + again.plan.delete.length + again.plan.modify.length, 0);
  });

  it("a changed node IP modifies the peer's flows in place; a changed subnet moves its route", async () => {
    const t = setUp([n2]);
    await resync(t);
    const moved = await t.nodeRoutes.setPeers([{ ...n2, nodeIp: '192.168.77.22' }]);
    assert.equal(moved.plan.modify.length, 2, 'same keys: modified, not deleted and added');
    assert.ok(moved.plan.modify.every((f) => f.cookie === remoteNodeCookie({ nodeIp: '192.168.77.22' })));
    assert.match(t.writer.texts().join('\n'), /0xc0a84d16->NXM_NX_TUN_IPV4_DST/);
    const resized = await t.nodeRoutes.setPeers([
      { ...n2, nodeIp: '192.168.77.22', podCidr: '10.77.20.0/24' },
    ]);
    assert.deepEqual(resized.diff.changed.length, 1);
    assert.deepEqual(t.routes.dsts(), ['10.77.20.0/24']);
    assert.deepEqual(t.routes.calls.slice(-2), ['del 10.77.2.0/24', 'replace 10.77.20.0/24 via 10.77.20.1']);
    assert.doesNotMatch(t.writer.texts().join('\n'), /10\.77\.2\.0\/24/);
  });

  it('setPeers before the first resync only records; the resync installs them', async () => {
    const t = setUp([n2]);
    const early = await t.nodeRoutes.setPeers([n3]);
    assert.equal(t.writer.bundles.length, 0);
    assert.deepEqual(early.diff.added, [n3]);
    await resync(t);
    assert.deepEqual(t.writer.texts(), nodeRoutesFlows(node, [n3]).map(formatFlow).sort());
    assert.deepEqual(t.nodeRoutes.peers(), [n3]);
  });

  it('a resync removes stale gateway routes, puts lost ones back, and keeps peer flows desired', async () => {
    const t = setUp([n2]);
    t.routes.routes.set('10.77.9.0/24', { dst: '10.77.9.0/24', via: '10.77.9.1', dev: 'antrea-gw0' });
    await resync(t);
    assert.deepEqual(t.routes.dsts(), ['10.77.2.0/24']);
    t.routes.routes.clear(); // ovs-vswitchd recreated the gateway tap
    await resync(t, 'vswitchd-restart');
    assert.deepEqual(t.routes.dsts(), ['10.77.2.0/24']);
    assert.equal(t.writer.bundles.length, 1, 'the restart resync finds the flows in place');
    assert.deepEqual(t.writer.texts(), nodeRoutesFlows(node, [n2]).map(formatFlow).sort());
  });

  it('a failed bundle leaves peers as they were, so the next call retries the same change', async () => {
    const t = setUp([n2]);
    await resync(t);
    t.writer.failNext = true;
    await assert.rejects(
      t.nodeRoutes.setPeers([n2, n3]),
      (e: unknown) => e instanceof NodeRoutesError && e.code === 'NodeRoutesFailed',
    );
    const retry = await t.nodeRoutes.setPeers([n2, n3]);
    assert.deepEqual(retry.diff.added, [n3]);
    assert.equal(retry.plan.add.length, 2);
    assert.deepEqual(t.routes.dsts(), ['10.77.2.0/24', '10.77.3.0/24']);
  });

  it('a route that failed is retried by the next setPeers(), even when the peers did not change', async () => {
    const t = setUp([n2]);
    await resync(t);
    t.routes.failReplace = 1;
    const failed = await t.nodeRoutes.setPeers([n2, n3]);
    assert.deepEqual(
      failed.routeErrors.map((e) => e.dst),
      ['10.77.3.0/24'],
    );
    assert.equal(failed.plan.add.length, 2, 'the flows went in regardless');
    assert.deepEqual(t.routes.dsts(), ['10.77.2.0/24']);
    const bundles = t.writer.bundles.length;
    const retried = await t.nodeRoutes.setPeers([n2, n3]);
    assert.deepEqual(retried.routeErrors, []);
    assert.deepEqual(t.routes.dsts(), ['10.77.2.0/24', '10.77.3.0/24']);
    assert.equal(t.writer.bundles.length, bundles, 'no flow changed, so no bundle');
    const calls = t.routes.calls.length;
    await t.nodeRoutes.setPeers([n2, n3]);
    assert.equal(t.routes.calls.length, calls, 'routes in sync again: nothing to do');
  });

  it('reports rejected peers and leaves them out', async () => {
    const t = setUp([]);
    await resync(t);
    const update = await t.nodeRoutes.setPeers([
      n2,
      { name: 'bad', podCidr: '10.77.1.0/25', nodeIp: '192.168.77.50' },
    ]);
    assert.deepEqual(
      update.rejected.map((r) => r.peer.name),
      ['bad'],
    );
    assert.deepEqual(
      t.nodeRoutes.rejected().map((r) => r.peer.name),
      ['bad'],
    );
    assert.deepEqual(t.nodeRoutes.peers(), [n2]);
    assert.equal(NODE_ROUTES_FLOW_OWNER, 'nodes');
    assert.deepEqual(routeTo(n2, 'gw'), { dst: '10.77.2.0/24', via: '10.77.2.1', dev: 'gw' });
  });
});
