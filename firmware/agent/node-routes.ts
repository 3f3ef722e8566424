// Routes to the other nodes' Pods (Antrea v0.9 encap mode): for every peer node, the flows that send its Pod
// subnet into the Geneve tunnel with tun_dst = its node IP and answer ARP for its gateway, and the host route
// `<podCidr> via <peer gateway> dev antrea-gw0 onlink` so the node itself reaches remote Pods the same way.
// Peers come from `--peer-node` (standalone) or the Node watch (cluster mode) through setPeers(); every call
// changes only what differs, in one flow bundle. With at least one peer, tunnelled replies to connections
// that came through the gateway (kube-proxy's Services) are sent back to it. Full resyncs (start-up,
// ovs-vswitchd restart) go through the agent's ResyncHook, so peer flows are desired before the first diff and
// routes come back with the gateway tap.
import type { Logger } from '../core/logger';
import {
  checkPeers,
  diffPeers,
  isEmptyPeerDiff,
  peerGatewayIp,
  nodeRoutesFlows,
  type PeerDiff,
  type PeerNode,
  type RejectedPeer,
} from '../core/pipeline/node-route-flows';
import type { Flow } from '../core/pipeline/flow';
import type { NodeNetwork } from '../core/pipeline/pipeline-flows';
import { isEmptyPlan, type FlowPlan } from '../core/plan/flow-plan';
import type { ResyncHook, ResyncReason } from './agent';

/** The FlowReconciler owner of every peer's flows: one owner, so one setPeers() is one bundle. */
export const NODE_ROUTES_FLOW_OWNER = 'nodes';

/** A route through the gateway to a peer's Pod subnet. */
export interface HostRoute {
  dst: string;
  via: string;
  dev: string;
}

/** The node's routing table, as far as routes through the gateway go. */
export interface HostRouteTable {
  /** Routes on `dev` that have a gateway (`via`); connected routes are not listed. */
  list(dev: string): Promise<HostRoute[]>;
  /** Adds or replaces the route to `dst` (onlink: the peer gateway is not on any local subnet). */
  replace(route: HostRoute): Promise<void>;
  /** Removes the route; a route already gone is not an error. */
  remove(route: HostRoute): Promise<void>;
}

/**
 * Makes the underlay resolve a peer's node IP before Pod traffic needs it: OVS's userspace tunnels drop the
 * first packet to an unresolved underlay neighbour while they ARP (measured). Best effort.
 */
export interface UnderlayNeighbours {
  resolve(nodeIp: string): Promise<void>;
}

/** The part of the FlowReconciler this needs. */
export interface NodeFlowSink {
  setOwnerFlows(owner: string, flows: Flow[]): Promise<FlowPlan>;
  stage(owner: string, flows: Flow[]): void;
}

export interface NodeRoutesDeps {
  /** This node: its own name is skipped in peer lists, its subnet may not overlap a peer's. */
  self: { name: string; podCidr: string; gatewayName: string };
  /** The node's network facts; valid once the agent has set up the bridge (before its first resync). */
  node: () => NodeNetwork;
  flows: NodeFlowSink;
  routes: HostRouteTable;
  underlay?: UnderlayNeighbours;
  logger: Logger;
  /** Peers known before start (`--peer-node`). */
  initialPeers?: readonly PeerNode[];
}

export interface NodeRoutesUpdate {
  diff: PeerDiff;
  /** The flow changes sent (one bundle); empty when the peers did not change. */
  plan: FlowPlan;
  rejected: RejectedPeer[];
  /** Routes that could not be changed; their flows are in place and the next setPeers() retries them. */
  routeErrors: { dst: string; error: string }[];
}

export class NodeRoutesError extends Error {
  readonly code = 'NodeRoutesFailed';
}

const EMPTY_PLAN: FlowPlan = { add: [], modify: [], delete: [] };

export class NodeRoutes implements ResyncHook {
  /** What OVS and the routing table have (after the first resync); what setPeers() diffs against. */
  private installed: PeerNode[] = [];
  /** What was asked for last, already checked. */
  private wanted: PeerNode[] = [];
  private rejectedPeers: RejectedPeer[] = [];
  private resynced = false;
  private peersGiven = false;
  /** False after a route change failed: the next change makes all routes right, not just the changed peers'. */
  private routesInSync = true;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NodeRoutesDeps) {}

  /** Takes the initial peers (unless setPeers() came first); flows and routes follow at the first resync. */
  start(): void {
    if (!this.peersGiven && this.deps.initialPeers !== undefined) {
      this.wanted = this.check(this.deps.initialPeers).accepted;
    }
  }

  /** The peers whose flows and routes are installed (or will be at the first resync), sorted by name. */
  peers(): PeerNode[] {
    return [...this.wanted];
  }

  /** Peers of the last setPeers() that were left out, with why. */
  rejected(): RejectedPeer[] {
    return [...this.rejectedPeers];
  }

  /**
   * Makes the peers exactly `nodes` (this node may be among them: it is skipped). Before the agent's first
   * resync this only records them; after, it changes the flows of joined, left and changed peers in one
   * bundle and their routes. Resolves once OVS has the flows.
   */
  setPeers(nodes: readonly PeerNode[]): Promise<NodeRoutesUpdate> {
    return this.serialise(async () => {
      const checked = this.check(nodes);
      this.peersGiven = true;
      this.wanted = checked.accepted;
      if (!this.resynced) {
        return {
          diff: diffPeers([], checked.accepted),
          plan: EMPTY_PLAN,
          rejected: checked.rejected,
          routeErrors: [],
        };
      }
      return { ...(await this.applyIncrementally(checked.accepted)), rejected: checked.rejected };
    });
  }

  /** Stages the peers' flows for the agent's full diff and puts their routes (back) in place. */
  beforeResync(reason: ResyncReason): Promise<void> {
    return this.serialise(async () => {
      const peers = this.wanted;
      this.deps.flows.stage(NODE_ROUTES_FLOW_OWNER, nodeRoutesFlows(this.deps.node(), peers));
      // A restarted ovs-vswitchd recreated the gateway tap without routes; at start-up, routes of peers that left
      // while the firmware was down are still there.
      const routeErrors = await this.syncRoutes(peers);
      this.routesInSync = routeErrors.length === 0;
      this.installed = peers;
      this.resynced = true;
      this.deps.logger.info('peer node routes resynchronised', {
        reason,
        peers: peers.map((p) => p.name),
        routeErrors,
      });
      this.warmUp(peers);
    });
  }

  /** Waits for queued changes (shutdown, tests). Installed flows and routes stay: pods keep working. */
  async stop(): Promise<void> {
    await this.queue.then(
      () => undefined,
      () => undefined,
    );
  }

  private check(nodes: readonly PeerNode[]): { accepted: PeerNode[]; rejected: RejectedPeer[] } {
    const { self, logger } = this.deps;
    const checked = checkPeers(self, nodes);
    for (const r of checked.rejected)
      logger.warn('peer node ignored', { node: r.peer.name, reason: r.reason });
    this.rejectedPeers = checked.rejected;
    return checked;
  }

  private async applyIncrementally(peers: PeerNode[]): Promise<Omit<NodeRoutesUpdate, 'rejected'>> {
    const { logger, flows, self } = this.deps;
    const diff = diffPeers(this.installed, peers);
    const retryRoutes = !this.routesInSync;
    if (isEmptyPeerDiff(diff) && !retryRoutes) return { diff, plan: EMPTY_PLAN, routeErrors: [] };
    const routeErrors: NodeRoutesUpdate['routeErrors'] = [];
    // Routes first on the way out, flows first on the way in: the kernel never routes to a peer gateway that
    // nobody answers ARP for.
    const gone = [
      ...diff.removed,
      ...diff.changed.filter((c) => c.before.podCidr !== c.after.podCidr).map((c) => c.before),
    ];
    if (!retryRoutes) {
      for (const peer of gone) await this.changeRoute('remove', routeTo(peer, self.gatewayName), routeErrors);
    }
    let plan: FlowPlan;
    try {
      plan = await flows.setOwnerFlows(NODE_ROUTES_FLOW_OWNER, nodeRoutesFlows(this.deps.node(), peers));
    } catch (error) {
      // The reconciler keeps its previous desired flows when a bundle fails: `installed` stays as it is, so the
      // next setPeers() or resync diffs against the truth.
      throw new NodeRoutesError(`peer node flows not changed: ${(error as Error).message}`, { cause: error });
    }
    this.installed = peers;
    const arrived = [...diff.added, ...diff.changed.map((c) => c.after)];
    if (retryRoutes) routeErrors.push(...(await this.syncRoutes(peers)));
    else
      for (const peer of arrived)
        await this.changeRoute('replace', routeTo(peer, self.gatewayName), routeErrors);
    this.routesInSync = routeErrors.length === 0;
    logger.info('peer nodes changed', {
      added: diff.added.map((p) => p.name),
      removed: diff.removed.map((p) => p.name),
      changed: diff.changed.map((c) => c.after.name),
      flowsAdded: plan.add.length,
      flowsModified: plan.modify.length,
      flowsDeleted: plan.delete.length,
      bundle: !isEmptyPlan(plan),
      routeErrors,
    });
    this.warmUp(arrived);
    return { diff, plan, routeErrors };
  }

  /** Makes the gateway's routes with a `via` exactly those of `peers`. */
  private async syncRoutes(peers: readonly PeerNode[]): Promise<NodeRoutesUpdate['routeErrors']> {
    const { routes, self } = this.deps;
    const errors: NodeRoutesUpdate['routeErrors'] = [];
    const wanted = peers.map((p) => routeTo(p, self.gatewayName));
    let present: HostRoute[] = [];
    try {
      present = await routes.list(self.gatewayName);
    } catch (error) {
      errors.push({ dst: '*', error: (error as Error).message });
    }
    for (const route of present) {
      if (!wanted.some((w) => w.dst === route.dst && w.via === route.via)) {
        await this.changeRoute('remove', route, errors);
      }
    }
    for (const route of wanted) await this.changeRoute('replace', route, errors);
    return errors;
  }

  private async changeRoute(
    how: 'replace' | 'remove',
    route: HostRoute,
    errors: NodeRoutesUpdate['routeErrors'],
  ): Promise<void> {
    try {
      await (how === 'replace' ? this.deps.routes.replace(route) : this.deps.routes.remove(route));
    } catch (error) {
      this.deps.logger.error(`peer node route ${how} failed`, { route, error });
      errors.push({ dst: route.dst, error: (error as Error).message });
    }
  }

  private warmUp(peers: readonly PeerNode[]): void {
    const underlay = this.deps.underlay;
    if (underlay === undefined) return;
    for (const peer of peers) {
      underlay.resolve(peer.nodeIp).catch((error: unknown) => {
        this.deps.logger.debug('underlay warm-up failed', { nodeIp: peer.nodeIp, error });
      });
    }
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export function routeTo(peer: PeerNode, gatewayName: string): HostRoute {
  return { dst: peer.podCidr, via: peerGatewayIp(peer), dev: gatewayName };
}
