// Peer Nodes as plain data: what the Node watch (cluster mode) or `--peer-node` (standalone) says about every
// other node, checked so that one bad peer never breaks the others, diffed so a join or leave touches only its
// own flows and route, and turned into the flows of Antrea v0.9's encap mode (remoteNodeFlows).
import {
  cidrContains,
  formatCidr,
  formatIpv4,
  gatewayIpOf,
  isIpv4,
  parseCidr,
  parseIpv4,
  type Ipv4Cidr,
} from '../ipam/ipv4';
import { CookieCategory, flow, makeCookie, type Flow } from './flow';
import {
  GATEWAY_CT_MARK,
  MAC_REWRITE_BIT,
  MARKS_REG,
  Priority,
  remoteNodeFlows,
  type NodeNetwork,
  type RemoteNode,
} from './pipeline-flows';
import { Tables, nextTable } from './tables';

/** Another node of the cluster, as its Node object says (spec.podCIDR, the InternalIP of status.addresses). */
export interface PeerNode {
  name: string;
  /** Normalised (host bits cleared) by `checkPeers`. */
  podCidr: string;
  /** The underlay address the tunnel sends to (tun_dst). */
  nodeIp: string;
}

export type PeerNodeErrorCode = 'InvalidPeerNode';

export class PeerNodeError extends Error {
  readonly code: PeerNodeErrorCode = 'InvalidPeerNode';
}

/** `NAME=PODCIDR@NODEIP`, e.g. `edge-2=10.77.2.0/24@192.168.77.12` (the `--peer-node` option). */
export function parsePeerNodeOption(text: string): PeerNode {
  const match = /^([^=@\s]+)=([^=@\s]+)@([^=@\s]+)$/.exec(text);
  if (match === null) {
    throw new PeerNodeError(
      `peer node "${text}" must be NAME=PODCIDR@NODEIP, e.g. edge-2=10.77.2.0/24@192.168.77.12`,
    );
  }
  const [, name = '', podCidr = '', nodeIp = ''] = match;
  return normalisePeer({ name, podCidr, nodeIp });
}

/** The fields of a Kubernetes Node that routing needs, as the API serves them. */
export interface NodeObject {
  metadata?: { name?: string };
  spec?: unknown;
  status?: unknown;
}

export interface SkippedNode {
  name: string;
  reason: string;
}

/**
 * Peers from the API's Nodes (cluster mode): the IPv4 `spec.podCIDR` (or the first IPv4 entry of `podCIDRs`)
 * and the first IPv4 `InternalIP` of `status.addresses`, as Antrea v0.9 used. Nodes without either (not yet
 * given a subnet by the controller manager, or not yet reporting addresses) are skipped, with why.
 */
export function peersFromNodes(nodes: readonly NodeObject[]): { peers: PeerNode[]; skipped: SkippedNode[] } {
  const peers: PeerNode[] = [];
  const skipped: SkippedNode[] = [];
  for (const node of nodes) {
    const name = node.metadata?.name ?? '';
    const podCidr = nodePodCidr(node);
    const status = (node.status ?? {}) as { addresses?: unknown };
    const addresses = Array.isArray(status.addresses)
      ? (status.addresses as { type?: unknown; address?: unknown }[])
      : [];
    const nodeIp = addresses.find(
      (a): a is { type: string; address: string } =>
        a.type === 'InternalIP' && typeof a.address === 'string' && isIpv4(a.address),
    )?.address;
    if (name === '') skipped.push({ name, reason: 'no metadata.name' });
    else if (podCidr === undefined) skipped.push({ name, reason: 'no IPv4 spec.podCIDR' });
    else if (nodeIp === undefined) skipped.push({ name, reason: 'no IPv4 InternalIP in status.addresses' });
    else peers.push({ name, podCidr, nodeIp });
  }
  return { peers, skipped };
}

export function formatPeerNodeOption(peer: PeerNode): string {
  return `${peer.name}=${peer.podCidr}@${peer.nodeIp}`;
}

/** The peer's gateway: the first address of its Pod subnet (Antrea's convention, as for this node). */
export function peerGatewayIp(peer: Pick<PeerNode, 'podCidr'>): string {
  return formatIpv4(gatewayIpOf(parseCidr(peer.podCidr)));
}

export function toRemoteNode(peer: PeerNode): RemoteNode {
  return { podCidr: peer.podCidr, nodeIp: peer.nodeIp, gatewayIp: peerGatewayIp(peer) };
}

export interface RejectedPeer {
  peer: PeerNode;
  reason: string;
}

export interface CheckedPeers {
  /** Sorted by name. */
  accepted: PeerNode[];
  rejected: RejectedPeer[];
}

/**
 * Keeps the peers that can be routed: a valid subnet and IPv4 node address, a subnet that overlaps neither this
 * node's nor an earlier accepted peer's, a node address no other peer uses (it is the flows' cookie id), and
 * not this node itself (the Node watch lists it too). Peers are taken in name order, so which of two
 * conflicting peers wins does not depend on the order they were listed in.
 */
export function checkPeers(
  self: { name: string; podCidr: string },
  peers: readonly PeerNode[],
): CheckedPeers {
  const accepted: PeerNode[] = [];
  const rejected: RejectedPeer[] = [];
  const taken: { name: string; cidr: Ipv4Cidr }[] = [{ name: self.name, cidr: parseCidr(self.podCidr) }];
  const names = new Set<string>();
  const nodeIps = new Map<string, string>();
  const sorted = [...peers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const raw of sorted) {
    if (raw.name === self.name) continue;
    let peer: PeerNode;
    try {
      peer = normalisePeer(raw);
    } catch (error) {
      rejected.push({ peer: raw, reason: (error as Error).message });
      continue;
    }
    const cidr = parseCidr(peer.podCidr);
    const reason = names.has(peer.name)
      ? `node ${peer.name} is listed twice`
      : nodeIps.has(peer.nodeIp)
        ? `node IP ${peer.nodeIp} is also node ${nodeIps.get(peer.nodeIp)}'s`
        : overlapReason(cidr, taken);
    if (reason !== undefined) {
      rejected.push({ peer, reason });
      continue;
    }
    names.add(peer.name);
    nodeIps.set(peer.nodeIp, peer.name);
    taken.push({ name: peer.name, cidr });
    accepted.push(peer);
  }
  return { accepted, rejected };
}

function overlapReason(
  cidr: Ipv4Cidr,
  taken: readonly { name: string; cidr: Ipv4Cidr }[],
): string | undefined {
  const clash = taken.find((t) => cidrContains(t.cidr, cidr.network) || cidrContains(cidr, t.cidr.network));
  return clash === undefined
    ? undefined
    : `Pod subnet ${formatCidr(cidr)} overlaps node ${clash.name}'s ${formatCidr(clash.cidr)}`;
}

function normalisePeer(peer: PeerNode): PeerNode {
  if (peer.name === '') throw new PeerNodeError('peer node name is empty');
  let podCidr: string;
  try {
    podCidr = formatCidr(parseCidr(peer.podCidr));
    parseIpv4(peer.nodeIp);
  } catch (error) {
    throw new PeerNodeError(`peer node ${peer.name}: ${(error as Error).message}`);
  }
  if (parseCidr(podCidr).prefix > 30) {
    throw new PeerNodeError(
      `peer node ${peer.name}: Pod subnet ${podCidr} has no room for a gateway and Pods`,
    );
  }
  return { name: peer.name, podCidr, nodeIp: peer.nodeIp };
}

export interface PeerChange {
  before: PeerNode;
  after: PeerNode;
}

export interface PeerDiff {
  added: PeerNode[];
  removed: PeerNode[];
  /** Same name, another subnet or node address. */
  changed: PeerChange[];
}

/** What turns the peers `before` into `after`, by node name; each list sorted by name. */
export function diffPeers(before: readonly PeerNode[], after: readonly PeerNode[]): PeerDiff {
  const previous = new Map(before.map((p) => [p.name, p]));
  const next = new Map(after.map((p) => [p.name, p]));
  const byName = (a: PeerNode, b: PeerNode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const added = after.filter((p) => !previous.has(p.name)).sort(byName);
  const removed = before.filter((p) => !next.has(p.name)).sort(byName);
  const changed: PeerChange[] = [];
  for (const peer of [...after].sort(byName)) {
    const old = previous.get(peer.name);
    if (old !== undefined && (old.podCidr !== peer.podCidr || old.nodeIp !== peer.nodeIp)) {
      changed.push({ before: old, after: peer });
    }
  }
  return { added, removed, changed };
}

export function isEmptyPeerDiff(diff: PeerDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/** The flows of every peer: ARP answers for its gateway and its subnet through the tunnel. */
export function peerNodeFlows(node: NodeNetwork, peers: readonly PeerNode[]): Flow[] {
  return peers.flatMap((peer) => remoteNodeFlows(node, toRemoteNode(peer)));
}

/**
 * Replies from the tunnel to connections that came in through the gateway go back to the gateway, not straight
 * to the Pod: kube-proxy DNATed them (a Pod → ClusterIP whose backend is on another node) and must undo it, or
 * the Pod gets an answer from the backend's IP. ConntrackState already set the gateway MAC; this keeps the
 * local Pod's tunnel flow in l3Forwarding from rewriting it. (Antrea v0.9 got the same effect by matching the
 * global virtual MAC in that flow; here it matches the MAC-rewrite mark instead.) Measured: without it, wget
 * through such a ClusterIP fails; with it, the page comes back.
 */
export function tunnelGatewayReplyFlows(): Flow[] {
  return [
    flow(Tables.l3Forwarding)
      .priority(Priority.High)
      .cookie(makeCookie(CookieCategory.Tunnel))
      .matchProtocol('ip')
      .matchCtState({ new: false, rpl: true, trk: true })
      .matchCtMark(GATEWAY_CT_MARK)
      .matchReg(MARKS_REG, 1, MAC_REWRITE_BIT)
      .gotoTable(nextTable(Tables.l3Forwarding))
      .done(),
  ];
}

/** Everything NodeRoutes installs: per peer, and once there is a peer, the tunnel's gateway-reply flow. */
export function nodeRoutesFlows(node: NodeNetwork, peers: readonly PeerNode[]): Flow[] {
  return peers.length === 0 ? [] : [...tunnelGatewayReplyFlows(), ...peerNodeFlows(node, peers)];
}

/** A Node's IPv4 Pod subnet: `spec.podCIDR`, or the first IPv4 entry of `spec.podCIDRs`; undefined when none. */
export function nodePodCidr(node: NodeObject): string | undefined {
  const spec = (node.spec ?? {}) as { podCIDR?: unknown; podCIDRs?: unknown };
  const cidrs = [spec.podCIDR, ...(Array.isArray(spec.podCIDRs) ? (spec.podCIDRs as unknown[]) : [])];
  return cidrs.find(
    (c): c is string => typeof c === 'string' && isIpv4(c.split('/')[0] ?? '') && c.includes('/'),
  );
}
