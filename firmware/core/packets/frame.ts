// Parses an untagged Ethernet frame with IPv4 and TCP/UDP/ICMP headers, as OVS hands it to a controller in a
// packet-in. Every length is checked against the bytes actually present before it is used, and a bad frame
// comes back as a PacketError value: parseFrame never throws, so one malformed packet-in cannot break the
// stream of packet-ins it arrived on.
//
// Header objects hold offsets into `bytes` rather than copies, so the reply builders can copy the original IP
// header and payload bytes verbatim.
import { ipv4TransportChecksum, internetChecksum } from './checksum';
import { PacketError } from './packet-error';

export const EtherType = { IPv4: 0x0800, ARP: 0x0806, VLAN: 0x8100, IPv6: 0x86dd } as const;
export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17 } as const;
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

export const ETHERNET_HEADER_LENGTH = 14;
export const IPV4_MIN_HEADER_LENGTH = 20;
export const TCP_MIN_HEADER_LENGTH = 20;
export const UDP_HEADER_LENGTH = 8;
export const ICMP_HEADER_LENGTH = 8;

export interface EthernetHeader {
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly etherType: number;
}

export interface Ipv4Header {
  /** Offset of the IPv4 header in the frame. */
  readonly offset: number;
  /** IHL × 4, including options. */
  readonly headerLength: number;
  readonly tos: number;
  readonly totalLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** In bytes (the header field × 8). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

export interface TcpHeader {
  readonly kind: 'tcp';
  readonly offset: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** Unsigned 32-bit. */
  readonly seq: number;
  /** Unsigned 32-bit. */
  readonly ack: number;
  /** Data offset × 4, including options. */
  readonly headerLength: number;
  /** The 8 flag bits (TcpFlag). */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgentPointer: number;
  readonly payloadLength: number;
}

export interface UdpHeader {
  readonly kind: 'udp';
  readonly offset: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The UDP length field: header plus payload. */
  readonly length: number;
  readonly checksum: number;
}

export interface IcmpHeader {
  readonly kind: 'icmp';
  readonly offset: number;
  readonly type: number;
  readonly code: number;
  readonly checksum: number;
  /** Bytes of the ICMP message (header and data). */
  readonly length: number;
}

/** A fragment other than the first: it carries no transport header. */
export interface FragmentPayload {
  readonly kind: 'fragment';
  readonly offset: number;
}

/** A protocol this module does not parse (the IP payload is left as is). */
export interface OtherPayload {
  readonly kind: 'other';
  readonly offset: number;
}

export type Ipv4Payload = TcpHeader | UdpHeader | IcmpHeader | FragmentPayload | OtherPayload;

export interface Ipv4Frame {
  readonly kind: 'ipv4';
  readonly bytes: Uint8Array;
  readonly ethernet: EthernetHeader;
  readonly ipv4: Ipv4Header;
  readonly payload: Ipv4Payload;
}

export interface NonIpv4Frame {
  readonly kind: 'non-ipv4';
  readonly bytes: Uint8Array;
  readonly ethernet: EthernetHeader;
}

export type Frame = Ipv4Frame | NonIpv4Frame;
export type TcpFrame = Ipv4Frame & { readonly payload: TcpHeader };
export type UdpFrame = Ipv4Frame & { readonly payload: UdpHeader };
export type IcmpFrame = Ipv4Frame & { readonly payload: IcmpHeader };

export type ParseResult = { ok: true; frame: Frame } | { ok: false; error: PacketError };

export function isTcpFrame(frame: Frame): frame is TcpFrame {
  return frame.kind === 'ipv4' && frame.payload.kind === 'tcp';
}

export function parseFrame(bytes: Uint8Array): ParseResult {
  if (bytes.length < ETHERNET_HEADER_LENGTH) {
    return fail('PACKET_TRUNCATED', `frame of ${bytes.length} bytes is shorter than an Ethernet header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ethernet: EthernetHeader = {
    dst: bytes.subarray(0, 6),
    src: bytes.subarray(6, 12),
    etherType: view.getUint16(12),
  };
  if (ethernet.etherType !== EtherType.IPv4) {
    return { ok: true, frame: { kind: 'non-ipv4', bytes, ethernet } };
  }

  const ipOffset = ETHERNET_HEADER_LENGTH;
  const available = bytes.length - ipOffset;
  if (available < IPV4_MIN_HEADER_LENGTH) {
    return fail('PACKET_TRUNCATED', `IPv4 header needs 20 bytes, ${available} present`);
  }
  const versionIhl = view.getUint8(ipOffset);
  if (versionIhl >> 4 !== 4) {
    return fail('PACKET_MALFORMED', `EtherType IPv4 but IP version ${versionIhl >> 4}`);
  }
  const headerLength = (versionIhl & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) {
    return fail('PACKET_MALFORMED', `IPv4 header length ${headerLength} is below 20`);
  }
  const totalLength = view.getUint16(ipOffset + 2);
  if (totalLength < headerLength) {
    return fail(
      'PACKET_MALFORMED',
      `IPv4 total length ${totalLength} is below its header length ${headerLength}`,
    );
  }
  // Bytes past totalLength are Ethernet padding (frames shorter than 60 bytes are padded) and are ignored.
  if (totalLength > available) {
    return fail(
      'PACKET_TRUNCATED',
      `IPv4 total length ${totalLength} exceeds the ${available} bytes present`,
    );
  }
  const flagsFragment = view.getUint16(ipOffset + 6);
  const ipv4: Ipv4Header = {
    offset: ipOffset,
    headerLength,
    tos: view.getUint8(ipOffset + 1),
    totalLength,
    identification: view.getUint16(ipOffset + 4),
    dontFragment: (flagsFragment & 0x4000) !== 0,
    moreFragments: (flagsFragment & 0x2000) !== 0,
    fragmentOffset: (flagsFragment & 0x1fff) * 8,
    ttl: view.getUint8(ipOffset + 8),
    protocol: view.getUint8(ipOffset + 9),
    checksum: view.getUint16(ipOffset + 10),
    src: bytes.subarray(ipOffset + 12, ipOffset + 16),
    dst: bytes.subarray(ipOffset + 16, ipOffset + 20),
  };

  const l4 = ipOffset + headerLength;
  const l4End = ipOffset + totalLength;
  const l4Length = l4End - l4;
  if (ipv4.fragmentOffset > 0) {
    return {
      ok: true,
      frame: { kind: 'ipv4', bytes, ethernet, ipv4, payload: { kind: 'fragment', offset: l4 } },
    };
  }
  let payload: Ipv4Payload;
  switch (ipv4.protocol) {
    case IpProtocol.TCP: {
      if (l4Length < TCP_MIN_HEADER_LENGTH) {
        return fail('PACKET_TRUNCATED', `TCP header needs 20 bytes, ${l4Length} present`);
      }
      const tcpHeaderLength = (view.getUint8(l4 + 12) >> 4) * 4;
      if (tcpHeaderLength < TCP_MIN_HEADER_LENGTH) {
        return fail('PACKET_MALFORMED', `TCP data offset ${tcpHeaderLength} is below 20`);
      }
      if (tcpHeaderLength > l4Length) {
        return fail(
          'PACKET_TRUNCATED',
          `TCP header length ${tcpHeaderLength} exceeds the ${l4Length}-byte segment`,
        );
      }
      payload = {
        kind: 'tcp',
        offset: l4,
        srcPort: view.getUint16(l4),
        dstPort: view.getUint16(l4 + 2),
        seq: view.getUint32(l4 + 4),
        ack: view.getUint32(l4 + 8),
        headerLength: tcpHeaderLength,
        flags: view.getUint8(l4 + 13),
        window: view.getUint16(l4 + 14),
        checksum: view.getUint16(l4 + 16),
        urgentPointer: view.getUint16(l4 + 18),
        payloadLength: l4Length - tcpHeaderLength,
      };
      break;
    }
    case IpProtocol.UDP: {
      if (l4Length < UDP_HEADER_LENGTH) {
        return fail('PACKET_TRUNCATED', `UDP header needs 8 bytes, ${l4Length} present`);
      }
      const udpLength = view.getUint16(l4 + 4);
      if (udpLength < UDP_HEADER_LENGTH) {
        return fail('PACKET_MALFORMED', `UDP length ${udpLength} is below 8`);
      }
      if (udpLength > l4Length) {
        return fail('PACKET_TRUNCATED', `UDP length ${udpLength} exceeds the ${l4Length}-byte IP payload`);
      }
      payload = {
        kind: 'udp',
        offset: l4,
        srcPort: view.getUint16(l4),
        dstPort: view.getUint16(l4 + 2),
        length: udpLength,
        checksum: view.getUint16(l4 + 6),
      };
      break;
    }
    case IpProtocol.ICMP: {
      if (l4Length < ICMP_HEADER_LENGTH) {
        return fail('PACKET_TRUNCATED', `ICMP header needs 8 bytes, ${l4Length} present`);
      }
      payload = {
        kind: 'icmp',
        offset: l4,
        type: view.getUint8(l4),
        code: view.getUint8(l4 + 1),
        checksum: view.getUint16(l4 + 2),
        length: l4Length,
      };
      break;
    }
    default:
      payload = { kind: 'other', offset: l4 };
  }
  return { ok: true, frame: { kind: 'ipv4', bytes, ethernet, ipv4, payload } };
}

/** True when the IPv4 header checksum is right. */
export function ipv4ChecksumValid(frame: Ipv4Frame): boolean {
  const { offset, headerLength } = frame.ipv4;
  return internetChecksum(frame.bytes, offset, offset + headerLength) === 0;
}

/**
 * True when the TCP, UDP or ICMP checksum is right (a UDP checksum of 0 means "none" and counts as right);
 * undefined for payloads without a checksum this module knows, and for first fragments (the checksum covers
 * data in later fragments).
 */
export function transportChecksumValid(frame: Ipv4Frame): boolean | undefined {
  const { ipv4, payload, bytes } = frame;
  if (ipv4.moreFragments) return undefined;
  const end = ipv4.offset + ipv4.totalLength;
  switch (payload.kind) {
    case 'tcp':
      return ipv4TransportChecksum(ipv4.src, ipv4.dst, IpProtocol.TCP, bytes, payload.offset, end) === 0;
    case 'udp':
      if (payload.checksum === 0) return true;
      return (
        ipv4TransportChecksum(
          ipv4.src,
          ipv4.dst,
          IpProtocol.UDP,
          bytes,
          payload.offset,
          payload.offset + payload.length,
        ) === 0
      );
    case 'icmp':
      return internetChecksum(bytes, payload.offset, end) === 0;
    default:
      return undefined;
  }
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function formatIpv4(address: Uint8Array): string {
  return Array.from(address).join('.');
}

/** Broadcast or multicast destination MAC (the group bit of the first octet). */
export function isGroupMac(mac: Uint8Array): boolean {
  return ((mac[0] ?? 0) & 0x01) !== 0;
}

/** 224.0.0.0/4 multicast, 255.255.255.255 limited broadcast, or 0.0.0.0/8 "this network". */
export function isNonUnicastIpv4(address: Uint8Array): boolean {
  const first = address[0] ?? 0;
  if (first >= 224 && first <= 239) return true;
  if (first === 0) return true;
  return address.every((b) => b === 255);
}

/** One line for logs, e.g. `tcp 10.0.0.2:40000 > 10.0.0.3:8080 [S]`. */
export function describeFrame(frame: Frame): string {
  if (frame.kind === 'non-ipv4') {
    return `ethertype 0x${frame.ethernet.etherType.toString(16).padStart(4, '0')} ${formatMac(frame.ethernet.src)} > ${formatMac(frame.ethernet.dst)}`;
  }
  const src = formatIpv4(frame.ipv4.src);
  const dst = formatIpv4(frame.ipv4.dst);
  const p = frame.payload;
  switch (p.kind) {
    case 'tcp':
      return `tcp ${src}:${p.srcPort} > ${dst}:${p.dstPort} [${tcpFlagLetters(p.flags)}] seq ${p.seq} ack ${p.ack} len ${p.payloadLength}`;
    case 'udp':
      return `udp ${src}:${p.srcPort} > ${dst}:${p.dstPort} len ${p.length - UDP_HEADER_LENGTH}`;
    case 'icmp':
      return `icmp ${src} > ${dst} type ${p.type} code ${p.code}`;
    case 'fragment':
      return `ip proto ${frame.ipv4.protocol} ${src} > ${dst} fragment at ${frame.ipv4.fragmentOffset}`;
    case 'other':
      return `ip proto ${frame.ipv4.protocol} ${src} > ${dst}`;
  }
}

/** tcpdump's letters: S F R P U E W and `.` for ACK. */
export function tcpFlagLetters(flags: number): string {
  let out = '';
  if (flags & TcpFlag.SYN) out += 'S';
  if (flags & TcpFlag.FIN) out += 'F';
  if (flags & TcpFlag.RST) out += 'R';
  if (flags & TcpFlag.PSH) out += 'P';
  if (flags & TcpFlag.URG) out += 'U';
  if (flags & TcpFlag.ECE) out += 'E';
  if (flags & TcpFlag.CWR) out += 'W';
  if (flags & TcpFlag.ACK) out += '.';
  return out || 'none';
}

function fail(code: PacketError['code'], message: string): ParseResult {
  return { ok: false, error: new PacketError(code, message) };
}
