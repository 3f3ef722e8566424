// The frames a Reject rule answers with, built from the rejected frame: a TCP RST|ACK for TCP and an ICMP
// destination-unreachable for everything else (Antrea's choice: type 3 code 10 "host administratively
// prohibited" for UDP, ICMP and SCTP). Addresses, MACs and ports are the rejected frame's, swapped, so the
// reply goes straight back to the client as if the server (or a router in front of it) had sent it.
import { internetChecksum, ipv4TransportChecksum } from './checksum';
import {
  ETHERNET_HEADER_LENGTH,
  EtherType,
  ICMP_HEADER_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  IpProtocol,
  TCP_MIN_HEADER_LENGTH,
  TcpFlag,
  isGroupMac,
  isNonUnicastIpv4,
  isTcpFrame,
  type Frame,
  type Ipv4Frame,
  type TcpFrame,
} from './frame';
import { PacketError } from './packet-error';

export const ICMP_TYPE_DEST_UNREACHABLE = 3;

/** Codes of ICMP type 3 (RFC 792, RFC 1812 §5.2.7.1). */
export const IcmpUnreachableCode = {
  Network: 0,
  Host: 1,
  Protocol: 2,
  Port: 3,
  NetworkAdminProhibited: 9,
  HostAdminProhibited: 10,
  CommunicationAdminProhibited: 13,
} as const;

/** What Antrea answers a rejected non-TCP packet with. Linux reports it to the client as EHOSTUNREACH. */
export const DEFAULT_REJECT_ICMP_CODE = IcmpUnreachableCode.HostAdminProhibited;

/** ICMP types that report an error; RFC 1122 §3.2.2 forbids answering them with another error. */
const ICMP_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);

const REPLY_TTL = 64;

/** How many bytes of the rejected datagram's payload an ICMP error quotes after its IP header (RFC 792). */
const ICMP_QUOTED_PAYLOAD_BYTES = 8;

export type RejectReply =
  | { kind: 'tcp-reset'; frame: Uint8Array }
  | { kind: 'icmp-unreachable'; frame: Uint8Array }
  /** Nothing may be sent back (RFC 793 / RFC 1122 rules); `reason` is for the log. */
  | { kind: 'none'; reason: string };

export interface RejectReplyOptions {
  /** ICMP type 3 code for non-TCP packets; default DEFAULT_REJECT_ICMP_CODE. */
  icmpCode?: number;
}

/**
 * Chooses and builds the reply to a rejected frame, or says why there must be none. Throws (PacketError) only
 * for an `icmpCode` that is not a byte, never because of the frame.
 */
export function rejectReplyFor(frame: Frame, options: RejectReplyOptions = {}): RejectReply {
  if (frame.kind !== 'ipv4') return { kind: 'none', reason: 'not an IPv4 frame' };
  const { ethernet, ipv4, payload } = frame;
  if (isGroupMac(ethernet.dst) || isNonUnicastIpv4(ipv4.dst)) {
    return { kind: 'none', reason: 'sent to a broadcast or multicast address' };
  }
  if (isGroupMac(ethernet.src) || isNonUnicastIpv4(ipv4.src)) {
    return { kind: 'none', reason: 'sent from a non-unicast address' };
  }
  if (payload.kind === 'fragment') return { kind: 'none', reason: 'a non-initial IP fragment' };
  if (isTcpFrame(frame)) {
    if (frame.payload.flags & TcpFlag.RST) return { kind: 'none', reason: 'a TCP reset is never answered' };
    return { kind: 'tcp-reset', frame: tcpResetFor(frame) };
  }
  if (payload.kind === 'icmp' && ICMP_ERROR_TYPES.has(payload.type)) {
    return { kind: 'none', reason: 'an ICMP error is never answered with another' };
  }
  return { kind: 'icmp-unreachable', frame: icmpUnreachableFor(frame, options.icmpCode) };
}

/**
 * RST|ACK for a TCP segment (RFC 793 "Reset Generation", with ACK always set so that a client in SYN-SENT
 * accepts it): sequence number = the segment's ACK (0 when it has none), acknowledgment = its sequence number
 * plus what it occupies (payload, SYN, FIN).
 */
export function tcpResetFor(frame: TcpFrame): Uint8Array {
  const tcp = frame.payload;
  const seq = tcp.flags & TcpFlag.ACK ? tcp.ack : 0;
  const occupied = tcp.payloadLength + (tcp.flags & TcpFlag.SYN ? 1 : 0) + (tcp.flags & TcpFlag.FIN ? 1 : 0);
  const ack = (tcp.seq + occupied) >>> 0;

  const ipLength = IPV4_MIN_HEADER_LENGTH + TCP_MIN_HEADER_LENGTH;
  const out = new Uint8Array(ETHERNET_HEADER_LENGTH + ipLength);
  const view = new DataView(out.buffer);
  writeEthernetReply(out, frame);
  writeIpv4Header(out, view, frame, IpProtocol.TCP, ipLength, true);

  const t = ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH;
  view.setUint16(t, tcp.dstPort);
  view.setUint16(t + 2, tcp.srcPort);
  view.setUint32(t + 4, seq);
  view.setUint32(t + 8, ack);
  view.setUint8(t + 12, (TCP_MIN_HEADER_LENGTH / 4) << 4);
  view.setUint8(t + 13, TcpFlag.RST | TcpFlag.ACK);
  // Window, checksum and urgent pointer start as zero.
  const ip = ETHERNET_HEADER_LENGTH;
  const checksum = ipv4TransportChecksum(
    out.subarray(ip + 12, ip + 16),
    out.subarray(ip + 16, ip + 20),
    IpProtocol.TCP,
    out,
    t,
    out.length,
  );
  view.setUint16(t + 16, checksum);
  return out;
}

/**
 * ICMP destination unreachable (type 3, `code`) quoting the rejected datagram's IP header (with options) and
 * the first 8 bytes of its payload, which is what a client's stack needs to find the socket (RFC 792).
 */
export function icmpUnreachableFor(frame: Ipv4Frame, code: number = DEFAULT_REJECT_ICMP_CODE): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new PacketError('PACKET_MALFORMED', `ICMP code ${code} is not a byte`);
  }
  const { ipv4 } = frame;
  const quotedPayload = Math.min(ICMP_QUOTED_PAYLOAD_BYTES, ipv4.totalLength - ipv4.headerLength);
  const quoted = frame.bytes.subarray(ipv4.offset, ipv4.offset + ipv4.headerLength + quotedPayload);
  const icmpLength = ICMP_HEADER_LENGTH + quoted.length;
  const ipLength = IPV4_MIN_HEADER_LENGTH + icmpLength;
  const out = new Uint8Array(ETHERNET_HEADER_LENGTH + ipLength);
  const view = new DataView(out.buffer);
  writeEthernetReply(out, frame);
  writeIpv4Header(out, view, frame, IpProtocol.ICMP, ipLength, false);

  const icmp = ETHERNET_HEADER_LENGTH + IPV4_MIN_HEADER_LENGTH;
  view.setUint8(icmp, ICMP_TYPE_DEST_UNREACHABLE);
  view.setUint8(icmp + 1, code);
  // Bytes 4..7 ("unused", or the next-hop MTU for code 4) stay zero.
  out.set(quoted, icmp + ICMP_HEADER_LENGTH);
  view.setUint16(icmp + 2, internetChecksum(out, icmp, out.length));
  return out;
}

function writeEthernetReply(out: Uint8Array, frame: Ipv4Frame): void {
  out.set(frame.ethernet.src, 0);
  out.set(frame.ethernet.dst, 6);
  out[12] = EtherType.IPv4 >> 8;
  out[13] = EtherType.IPv4 & 0xff;
}

function writeIpv4Header(
  out: Uint8Array,
  view: DataView,
  frame: Ipv4Frame,
  protocol: number,
  totalLength: number,
  dontFragment: boolean,
): void {
  const ip = ETHERNET_HEADER_LENGTH;
  view.setUint8(ip, 0x45);
  view.setUint16(ip + 2, totalLength);
  view.setUint16(ip + 6, dontFragment ? 0x4000 : 0);
  view.setUint8(ip + 8, REPLY_TTL);
  view.setUint8(ip + 9, protocol);
  out.set(frame.ipv4.dst, ip + 12);
  out.set(frame.ipv4.src, ip + 16);
  view.setUint16(ip + 10, internetChecksum(out, ip, ip + IPV4_MIN_HEADER_LENGTH));
}
