// Answers packets that hit an Antrea-native Reject rule. The rule's flow sends the packet to this agent with
// `controller(id=<ours>,userdata=<purpose Reject, rule id>)` behind a meter; this responder builds the refusal
// (TCP RST|ACK, or ICMP host-administratively-prohibited for everything else) and emits it on the port the
// packet came in on, with in_port=CONTROLLER (OVS drops a packet-out whose output port is its in_port).
//
// Sending straight back out the ingress port is right when the client is behind that port: a local pod, or the
// gateway for traffic from the host. A client on another node is behind the tunnel port, which is flow-based
// (remote_ip=flow): the reply goes back out of it with tun_dst = the node the packet came from (the packet-in's
// tun_src). Its MACs are the request's swapped, so the client's node sees a tunnelled packet like any other (its
// tunnel classifier marks it and L3Forwarding rewrites the MACs for the local pod), and its conntrack, which
// committed the client's request on the way out, takes the refusal as the reply of that connection.
import type { Logger } from '../core/logger';
import { OfpPort } from '../core/openflow/constants';
import { describeFrame, parseFrame } from '../core/packets/frame';
import { rejectReplyFor, type RejectReply } from '../core/packets/reject-replies';
import { ControllerPurpose, decodeControllerUserdata } from '../core/pipeline/controller-userdata';
import type { PacketIn, PacketOutTarget } from '../ovs/openflow-channel';

/** The part of OpenFlowChannel this responder uses. */
export interface PacketInChannel {
  on(event: 'packetIn', listener: (packetIn: PacketIn) => void): unknown;
  off(event: 'packetIn', listener: (packetIn: PacketIn) => void): unknown;
  packetOut(packet: Uint8Array, target: PacketOutTarget, options?: { tunnelDst?: string }): Promise<void>;
}

export interface RejectResponderOptions {
  channel: PacketInChannel;
  logger: Logger;
  /** ICMP type 3 code for non-TCP refusals; default 10 (host administratively prohibited), as Antrea. */
  icmpCode?: number;
  /** OpenFlow ports whose clients cannot be answered by emitting on the ingress port. */
  unroutablePorts?: readonly number[];
  /** The flow-based tunnel port: answers to it carry tun_dst = the packet-in's tun_src. */
  tunnelPort?: number;
  /** Called after each refusal was handed to the switch (audit logging, metrics). */
  onRejected?: (event: RejectEvent) => void;
}

export interface RejectEvent {
  ruleId: number;
  reply: 'tcp-reset' | 'icmp-unreachable';
  inPort: number;
  /** The rejected packet, e.g. `tcp 10.0.0.2:40000 > 10.0.0.3:8080 [S] ...`. */
  packet: string;
}

export interface RejectResponderStats {
  /** Packet-ins whose userdata marked them as rejected. */
  rejectPacketIns: number;
  tcpResets: number;
  icmpUnreachables: number;
  /** Rejected packets that must not be answered (a RST, an ICMP error, broadcast, a fragment, not IPv4). */
  unanswerable: number;
  /** Packets that did not parse. */
  malformed: number;
  /** Packet-ins without in_port, from an unroutable port, or from the tunnel without a tunnel source. */
  unroutable: number;
  /** Refusals sent back through the tunnel to a client on another node. */
  tunnelled: number;
  /** Packet-outs the channel refused (not connected, connection lost). */
  sendFailures: number;
}

export class RejectResponder {
  private readonly logger: Logger;
  private readonly unroutablePorts: ReadonlySet<number>;
  private readonly listener = (packetIn: PacketIn): void => {
    void this.handle(packetIn);
  };
  private started = false;
  private readonly counters: RejectResponderStats = {
    rejectPacketIns: 0,
    tcpResets: 0,
    icmpUnreachables: 0,
    unanswerable: 0,
    malformed: 0,
    unroutable: 0,
    tunnelled: 0,
    sendFailures: 0,
  };

  constructor(private readonly options: RejectResponderOptions) {
    this.logger = options.logger.child({ component: 'reject-responder' });
    this.unroutablePorts = new Set(options.unroutablePorts ?? []);
  }

  get stats(): Readonly<RejectResponderStats> {
    return { ...this.counters };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.channel.on('packetIn', this.listener);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.options.channel.off('packetIn', this.listener);
  }

  /** Handles one packet-in; packet-ins for other purposes are ignored. Never rejects. */
  async handle(packetIn: PacketIn): Promise<void> {
    const userdata = decodeControllerUserdata(packetIn.userdata);
    if (!userdata.ok || userdata.userdata.purpose !== ControllerPurpose.Reject) return;
    const { ruleId } = userdata.userdata;
    this.counters.rejectPacketIns++;

    const parsed = parseFrame(packetIn.packet);
    if (!parsed.ok) {
      this.counters.malformed++;
      this.logger.debug('rejected packet does not parse; not answered', {
        ruleId,
        error: parsed.error.message,
      });
      return;
    }
    const inPort = packetIn.metadata.inPort;
    const fromTunnel = inPort !== undefined && inPort === this.options.tunnelPort;
    const tunnelSource = fromTunnel ? packetIn.metadata.tunnelIpv4Src : undefined;
    if (
      inPort === undefined ||
      inPort >= OfpPort.Max ||
      this.unroutablePorts.has(inPort) ||
      (fromTunnel && tunnelSource === undefined)
    ) {
      this.counters.unroutable++;
      this.logger.debug('cannot answer a rejected packet from this port', {
        ruleId,
        inPort,
        packet: describeFrame(parsed.frame),
      });
      return;
    }
    let reply: RejectReply;
    try {
      reply = rejectReplyFor(parsed.frame, { icmpCode: this.options.icmpCode });
    } catch (err) {
      // Only a bad icmpCode option can get here; it must not become an unhandled rejection per packet.
      this.counters.malformed++;
      this.logger.warn('could not build a reject reply', { ruleId, error: (err as Error).message });
      return;
    }
    if (reply.kind === 'none') {
      this.counters.unanswerable++;
      this.logger.debug('rejected packet not answered', { ruleId, reason: reply.reason });
      return;
    }
    const target: PacketOutTarget = { inPort: OfpPort.Controller, outPort: inPort };
    try {
      await this.options.channel.packetOut(
        reply.frame,
        target,
        tunnelSource === undefined ? {} : { tunnelDst: tunnelSource },
      );
    } catch (err) {
      this.counters.sendFailures++;
      // One line per order of magnitude: a storm while disconnected must not flood the log.
      if (isPowerOfTen(this.counters.sendFailures)) {
        this.logger.warn('could not send a reject reply', {
          error: (err as Error).message,
          failuresSoFar: this.counters.sendFailures,
        });
      }
      return;
    }
    if (reply.kind === 'tcp-reset') this.counters.tcpResets++;
    else this.counters.icmpUnreachables++;
    if (tunnelSource !== undefined) this.counters.tunnelled++;
    const event: RejectEvent = { ruleId, reply: reply.kind, inPort, packet: describeFrame(parsed.frame) };
    this.logger.debug('rejected', { ...event });
    try {
      this.options.onRejected?.(event);
    } catch (err) {
      this.logger.warn('onRejected callback failed', { error: (err as Error).message });
    }
  }
}

function isPowerOfTen(n: number): boolean {
  let v = n;
  while (v >= 10 && v % 10 === 0) v /= 10;
  return v === 1;
}
