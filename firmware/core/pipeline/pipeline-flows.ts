// The flows of Antrea v0.9's pipeline (encap mode, IPv4, kube-proxy for Services, Antrea-native policy tables
// enabled) for this node, its local Pods and its peer Nodes. Policy rule flows live elsewhere; here are only the
// policy tables' defaults and their fast paths for established connections.
import {
  CookieCategory,
  flow,
  formatLoad,
  makeCookie,
  macToBigInt,
  parseIpv4,
  parseIpv4Cidr,
  type Flow,
} from './flow';
import { CNP_EGRESS_TABLES, CNP_INGRESS_TABLES, PIPELINE_TABLES, Tables, nextTable } from './tables';

export interface NodeNetwork {
  gatewayOfport: number;
  gatewayMac: string;
  gatewayIp: string;
  podCidr: string;
  tunnelOfport: number;
  serviceCidr?: string;
}

export interface LocalPodPort {
  ofport: number;
  ip: string;
  mac: string;
}

export interface RemoteNode {
  podCidr: string;
  nodeIp: string;
  gatewayIp: string;
}

// Registers and marks, as in Antrea v0.9.
/** reg0 carries the traffic source in [0..15] and single-bit marks above it. */
export const MARKS_REG = 0;
export const TRAFFIC_SOURCE_RANGE = [0, 15] as const;
export const TrafficSource = { Tunnel: 0, Gateway: 1, LocalPod: 2 } as const;
/** reg0[16]: L2Forwarding (or DNAT / l3Forwarding) resolved the output port into reg1. */
export const PORT_FOUND_BIT = 16;
/** reg0[19]: the packet came through a tunnel and its MACs must be rewritten before local delivery. */
export const MAC_REWRITE_BIT = 19;
/** reg1 holds the output port. Ingress rules match it to identify the destination Pod. */
export const TARGET_OFPORT_REG = 1;
/** reg5 / reg6 receive the conjunction id of the egress / ingress rule that allowed a packet (Traceflow). */
export const EGRESS_RULE_REG = 5;
export const INGRESS_RULE_REG = 6;

export const CT_ZONE = 65520;
/** ct_mark of connections that entered through the gateway, so their replies go back through it. */
export const GATEWAY_CT_MARK = 0x20;
/** Destination MAC of all tunnelled traffic and the MAC the ARP responder answers with for peer gateways. */
export const GLOBAL_VIRTUAL_MAC = 'aa:bb:cc:dd:ee:ff';

export const Priority = {
  /** Fast paths and gateway exceptions that must win over rules. */
  High: 210,
  Normal: 200,
  Low: 190,
  Miss: 0,
  /** Established-connection fast path in the CNP tier tables, above every CNP rule priority. */
  TopCnp: 64990,
} as const;

const ARP_REQUEST = 1;
const ARP_REPLY = 2;

/** Node-level flows: every table's default, conntrack, output, and this node's gateway and tunnel port. */
export function pipelineFlows(node: NodeNetwork): Flow[] {
  // Not used by encap-mode flows, but a node without a valid Pod subnet is misconfigured: fail here, early.
  parseIpv4Cidr(node.podCidr);
  return [...tableDefaultFlows(), ...conntrackAndOutputFlows(), ...gatewayFlows(node), ...tunnelFlows(node)];
}

function tableDefaultFlows(): Flow[] {
  const cookie = makeCookie(CookieCategory.Pipeline);
  const defaults = PIPELINE_TABLES.map((t) => {
    const b = flow(t).priority(Priority.Miss).cookie(cookie);
    return t.missAction === 'next' && t.next !== undefined ? b.gotoTable(t.next).done() : b.drop().done();
  });
  // Everything that is ARP and not answered by the responder is switched like a learning bridge would.
  const arpNormal = flow(Tables.ARPResponder)
    .priority(Priority.Low)
    .cookie(cookie)
    .matchProtocol('arp')
    .normal()
    .done();
  return [...defaults, arpNormal];
}

function conntrackAndOutputFlows(): Flow[] {
  const cookie = makeCookie(CookieCategory.Pipeline);
  const commitTable = Tables.ConntrackCommit;
  const flows: Flow[] = [
    flow(Tables.ConntrackZone)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .ct({ table: Tables.ConntrackState, zone: CT_ZONE })
      .done(),
    // Replies of connections the gateway opened, arriving from the gateway itself, need no MAC rewrite.
    flow(Tables.ConntrackState)
      .priority(Priority.High)
      .cookie(cookie)
      .matchCtState({ new: false, trk: true })
      .matchCtMark(GATEWAY_CT_MARK)
      .matchProtocol('ip')
      .matchReg(MARKS_REG, TrafficSource.Gateway, TRAFFIC_SOURCE_RANGE)
      .gotoTable(nextTable(Tables.ConntrackState))
      .done(),
    flow(Tables.ConntrackState)
      .priority(Priority.Low)
      .cookie(cookie)
      .matchCtState({ inv: true, trk: true })
      .matchProtocol('ip')
      .drop()
      .done(),
    // Established connections skip the rule tables: egress to l3Forwarding, ingress to ConntrackCommit.
    establishedFastPath(Tables.EgressRule, Priority.High, nextTable(Tables.EgressDefaultRule), cookie),
    establishedFastPath(Tables.IngressRule, Priority.High, nextTable(Tables.IngressDefaultRule), cookie),
    ...CNP_EGRESS_TABLES.map((table) =>
      establishedFastPath(table, Priority.TopCnp, nextTable(Tables.EgressDefaultRule), cookie),
    ),
    ...CNP_INGRESS_TABLES.map((table) =>
      establishedFastPath(table, Priority.TopCnp, nextTable(Tables.IngressDefaultRule), cookie),
    ),
    // Connections that come in through the gateway are marked so replies can be steered back to it.
    flow(commitTable)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchCtState({ new: true, trk: true })
      .matchProtocol('ip')
      .matchReg(MARKS_REG, TrafficSource.Gateway, TRAFFIC_SOURCE_RANGE)
      .ct({
        commit: true,
        table: nextTable(commitTable),
        zone: CT_ZONE,
        exec: [formatLoad('NXM_NX_CT_MARK', GATEWAY_CT_MARK)],
      })
      .done(),
    flow(commitTable)
      .priority(Priority.Low)
      .cookie(cookie)
      .matchCtState({ new: true, trk: true })
      .matchProtocol('ip')
      .ct({ commit: true, table: nextTable(commitTable), zone: CT_ZONE })
      .done(),
    flow(Tables.Output)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchReg(MARKS_REG, 1, PORT_FOUND_BIT)
      .outputReg(TARGET_OFPORT_REG)
      .done(),
  ];
  return flows;
}

function gatewayFlows(node: NodeNetwork): Flow[] {
  const cookie = makeCookie(CookieCategory.Gateway);
  const gw = node.gatewayOfport;
  const flows: Flow[] = [
    flow(Tables.Classification)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchInPort(gw)
      .loadReg(MARKS_REG, TrafficSource.Gateway, TRAFFIC_SOURCE_RANGE)
      .gotoTable(nextTable(Tables.Classification))
      .done(),
    // Pod-to-Service traffic comes back from kube-proxy with a Pod's source IP, so IP from the gateway is not
    // spoof-checked; its ARP is.
    flow(Tables.SpoofGuard)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchInPort(gw)
      .gotoTable(nextTable(Tables.SpoofGuard))
      .done(),
    flow(Tables.SpoofGuard)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('arp')
      .matchInPort(gw)
      .matchArpSpa(node.gatewayIp)
      .matchArpSha(node.gatewayMac)
      .gotoTable(Tables.ARPResponder)
      .done(),
    // Replies of gateway-originated connections coming from a Pod go back to the gateway.
    flow(Tables.ConntrackState)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchCtState({ new: false, trk: true })
      .matchCtMark(GATEWAY_CT_MARK)
      .matchProtocol('ip')
      .load('NXM_OF_ETH_DST', macToBigInt(node.gatewayMac))
      .gotoTable(nextTable(Tables.ConntrackState))
      .done(),
    // Tunnelled traffic to the gateway's IP.
    flow(Tables.l3Forwarding)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchReg(MARKS_REG, 1, MAC_REWRITE_BIT)
      .matchDstIp(node.gatewayIp)
      .modDlDst(node.gatewayMac)
      .gotoTable(nextTable(Tables.l3Forwarding))
      .done(),
    l2ForwardingFlow(node.gatewayMac, gw, cookie),
    // The node's own probes (liveness/readiness) are never subject to ingress rules.
    flow(Tables.IngressRule)
      .priority(Priority.High)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchSrcIp(node.gatewayIp)
      .gotoTable(Tables.ConntrackCommit)
      .done(),
  ];
  if (node.serviceCidr !== undefined) {
    // Service traffic goes to kube-proxy through the gateway without egress rules; they apply once it comes
    // back DNATed to an endpoint.
    flows.push(
      flow(Tables.DNAT)
        .priority(Priority.Normal)
        .cookie(cookie)
        .matchProtocol('ip')
        .matchDstIp(node.serviceCidr)
        .modDlDst(node.gatewayMac)
        .loadReg(TARGET_OFPORT_REG, gw)
        .loadReg(MARKS_REG, 1, PORT_FOUND_BIT)
        .gotoTable(Tables.ConntrackCommit)
        .done(),
    );
  }
  return flows;
}

function tunnelFlows(node: NodeNetwork): Flow[] {
  const cookie = makeCookie(CookieCategory.Tunnel);
  return [
    flow(Tables.Classification)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchInPort(node.tunnelOfport)
      .loadReg(MARKS_REG, TrafficSource.Tunnel, TRAFFIC_SOURCE_RANGE)
      .loadReg(MARKS_REG, 1, MAC_REWRITE_BIT)
      .gotoTable(Tables.ConntrackZone)
      .done(),
  ];
}

function l2ForwardingFlow(mac: string, ofport: number, cookie: bigint): Flow {
  return flow(Tables.L2Forwarding)
    .priority(Priority.Normal)
    .cookie(cookie)
    .matchDstMac(mac)
    .loadReg(TARGET_OFPORT_REG, ofport)
    .loadReg(MARKS_REG, 1, PORT_FOUND_BIT)
    .gotoTable(nextTable(Tables.L2Forwarding))
    .done();
}

/** Flows of one local Pod; their cookie is Pod category with the Pod's ofport as object id. */
export function podFlows(node: NodeNetwork, pod: LocalPodPort): Flow[] {
  const cookie = podCookie(pod.ofport);
  return [
    flow(Tables.Classification)
      .priority(Priority.Low)
      .cookie(cookie)
      .matchInPort(pod.ofport)
      .loadReg(MARKS_REG, TrafficSource.LocalPod, TRAFFIC_SOURCE_RANGE)
      .gotoTable(nextTable(Tables.Classification))
      .done(),
    flow(Tables.SpoofGuard)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchInPort(pod.ofport)
      .matchSrcMac(pod.mac)
      .matchSrcIp(pod.ip)
      .gotoTable(nextTable(Tables.SpoofGuard))
      .done(),
    flow(Tables.SpoofGuard)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('arp')
      .matchInPort(pod.ofport)
      .matchArpSpa(pod.ip)
      .matchArpSha(pod.mac)
      .gotoTable(Tables.ARPResponder)
      .done(),
    // Tunnelled traffic for this Pod arrives addressed to the global virtual MAC: route it here.
    flow(Tables.l3Forwarding)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchReg(MARKS_REG, 1, MAC_REWRITE_BIT)
      .matchDstIp(pod.ip)
      .modDlSrc(node.gatewayMac)
      .modDlDst(pod.mac)
      .decTtl()
      .gotoTable(nextTable(Tables.l3Forwarding))
      .done(),
    l2ForwardingFlow(pod.mac, pod.ofport, cookie),
  ];
}

export function podCookie(ofport: number): bigint {
  return makeCookie(CookieCategory.Pod, ofport);
}

/** Flows for one peer Node: its Pod subnet through the tunnel, and ARP answers for its gateway. */
export function remoteNodeFlows(node: NodeNetwork, remote: RemoteNode): Flow[] {
  const cookie = remoteNodeCookie(remote);
  const peerGatewayIp = parseIpv4(remote.gatewayIp);
  const virtualMac = macToBigInt(GLOBAL_VIRTUAL_MAC);
  return [
    // The gateway routes the peer subnet "onlink" via the peer's gateway IP; answer its ARP with the virtual
    // MAC so the packet reaches l3Forwarding, which sends it into the tunnel.
    flow(Tables.ARPResponder)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('arp')
      .matchArpTpa(remote.gatewayIp)
      .matchArpOp(ARP_REQUEST)
      .move('NXM_OF_ETH_SRC', 'NXM_OF_ETH_DST')
      .modDlSrc(GLOBAL_VIRTUAL_MAC)
      .load('NXM_OF_ARP_OP', ARP_REPLY)
      .move('NXM_NX_ARP_SHA', 'NXM_NX_ARP_THA')
      .load('NXM_NX_ARP_SHA', virtualMac)
      .move('NXM_OF_ARP_SPA', 'NXM_OF_ARP_TPA')
      .load('NXM_OF_ARP_SPA', peerGatewayIp)
      .outputInPort()
      .done(),
    // Ingress rules are enforced on the peer, so this skips L2Forwarding and the ingress tables.
    flow(Tables.l3Forwarding)
      .priority(Priority.Normal)
      .cookie(cookie)
      .matchProtocol('ip')
      .matchDstIp(remote.podCidr)
      .decTtl()
      .modDlSrc(node.gatewayMac)
      .modDlDst(GLOBAL_VIRTUAL_MAC)
      .loadReg(TARGET_OFPORT_REG, node.tunnelOfport)
      .loadReg(MARKS_REG, 1, PORT_FOUND_BIT)
      .setTunnelDst(remote.nodeIp)
      .gotoTable(Tables.ConntrackCommit)
      .done(),
  ];
}

/** Node category with the peer's (unique, 32-bit) IPv4 address as object id. */
export function remoteNodeCookie(remote: Pick<RemoteNode, 'nodeIp'>): bigint {
  return makeCookie(CookieCategory.Node, parseIpv4(remote.nodeIp));
}

/** `ct_state=-new+est` traffic of an already allowed connection goes straight past the rule tables. */
function establishedFastPath(table: number, priority: number, next: number, cookie: bigint): Flow {
  return flow(table)
    .priority(priority)
    .cookie(cookie)
    .matchCtState({ new: false, est: true })
    .matchProtocol('ip')
    .gotoTable(next)
    .done();
}
