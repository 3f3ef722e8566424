// The packet a Traceflow injects: an Ethernet/IPv4 frame with a TCP SYN, a UDP datagram or an ICMP echo request,
// addressed exactly as the source Pod would send it (its MAC and IP; the destination Pod's MAC when it is on this
// node, else the gateway's, which is what the Pod's ARP for its default route resolves to), with correct checksums.
import { ipv4TransportChecksum, internetChecksum } from '../packets/checksum';
import { EtherType, IpProtocol, TcpFlag } from '../packets/frame';
import { parseIpv4 } from '../ipam/ipv4';
import { macToBigInt } from '../pipeline/flow';
import type { TraceProtocol } from './types';
import { TraceflowError } from './types';

export interface TracePacketSpec {
  protocol: TraceProtocol;
  srcMac: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  /** TCP/UDP. */
  srcPort?: number;
  dstPort?: number;
  /** ICMP echo identifier and sequence; also the TCP sequence number's source. Default 0. */
  identifier?: number;
  /** Default 64, as Linux sends. */
  ttl?: number;
}

const TCP_HEADER = 20;
const UDP_HEADER = 8;
const ICMP_ECHO_HEADER = 8;
const IPV4_HEADER = 20;
const ETHERNET_HEADER = 14;
const ICMP_ECHO_REQUEST = 8;
/** Linux's default SYN window. */
const TCP_WINDOW = 64240;

export function buildTracePacket(spec: TracePacketSpec): Uint8Array {
  const l4Length =
    spec.protocol === 'TCP' ? TCP_HEADER : spec.protocol === 'UDP' ? UDP_HEADER : ICMP_ECHO_HEADER;
  const frame = new Uint8Array(ETHERNET_HEADER + IPV4_HEADER + l4Length);
  const view = new DataView(frame.buffer);
  writeMac(frame, 0, spec.dstMac);
  writeMac(frame, 6, spec.srcMac);
  view.setUint16(12, EtherType.IPv4);

  const ip = ETHERNET_HEADER;
  const src = addressBytes(spec.srcIp);
  const dst = addressBytes(spec.dstIp);
  const protocol =
    spec.protocol === 'TCP' ? IpProtocol.TCP : spec.protocol === 'UDP' ? IpProtocol.UDP : IpProtocol.ICMP;
  const identifier = checked('identifier', spec.identifier ?? 0, 0xffff);
  frame[ip] = 0x45;
  view.setUint16(ip + 2, IPV4_HEADER + l4Length);
  view.setUint16(ip + 4, identifier);
  view.setUint16(ip + 6, 0x4000); // don't fragment, as Linux sets on TCP/UDP/ICMP it originates
  frame[ip + 8] = checked('ttl', spec.ttl ?? 64, 255);
  frame[ip + 9] = protocol;
  frame.set(src, ip + 12);
  frame.set(dst, ip + 16);
  view.setUint16(ip + 10, internetChecksum(frame, ip, ip + IPV4_HEADER));

  const l4 = ip + IPV4_HEADER;
  const end = l4 + l4Length;
  switch (spec.protocol) {
    case 'TCP':
      view.setUint16(l4, port('source port', spec.srcPort));
      view.setUint16(l4 + 2, port('destination port', spec.dstPort));
      view.setUint32(l4 + 4, (identifier * 0x10001) >>> 0);
      frame[l4 + 12] = (TCP_HEADER / 4) << 4;
      frame[l4 + 13] = TcpFlag.SYN;
      view.setUint16(l4 + 14, TCP_WINDOW);
      view.setUint16(l4 + 16, ipv4TransportChecksum(src, dst, protocol, frame, l4, end));
      break;
    case 'UDP': {
      view.setUint16(l4, port('source port', spec.srcPort));
      view.setUint16(l4 + 2, port('destination port', spec.dstPort));
      view.setUint16(l4 + 4, UDP_HEADER);
      const sum = ipv4TransportChecksum(src, dst, protocol, frame, l4, end);
      // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
      view.setUint16(l4 + 6, sum === 0 ? 0xffff : sum);
      break;
    }
    case 'ICMP':
      frame[l4] = ICMP_ECHO_REQUEST;
      view.setUint16(l4 + 4, identifier);
      view.setUint16(l4 + 6, 1);
      view.setUint16(l4 + 2, internetChecksum(frame, l4, end));
      break;
  }
  return frame;
}

function writeMac(frame: Uint8Array, offset: number, mac: string): void {
  let value: bigint;
  try {
    value = macToBigInt(mac);
  } catch {
    throw new TraceflowError('TRACEFLOW_INVALID', `"${mac}" is not a MAC address`);
  }
  for (let i = 5; i >= 0; i--) {
    frame[offset + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

function addressBytes(ip: string): Uint8Array {
  let value: number;
  try {
    value = parseIpv4(ip);
  } catch {
    throw new TraceflowError('TRACEFLOW_INVALID', `"${ip}" is not an IPv4 address`);
  }
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

function port(what: string, value: number | undefined): number {
  if (value === undefined) throw new TraceflowError('TRACEFLOW_INVALID', `the ${what} is required`);
  return checked(what, value, 0xffff, 1);
}

function checked(what: string, value: number, max: number, min = 0): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TraceflowError('TRACEFLOW_INVALID', `${what} ${value} is not in ${min}..${max}`);
  }
  return value;
}
