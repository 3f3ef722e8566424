// OpenFlow 1.3 FLOW_MODs and ONF bundle messages, encoded straight from a Flow's text (the text
// `ovs-ofctl -O OpenFlow13 dump-flows` prints), so that the agent can program flows over its own connection
// instead of starting ovs-ofctl for every change.
//
// The bytes are the ones `ovs-ofctl -O OpenFlow13 --bundle add-flows` sends for the same text (checked byte for
// byte against ovs-ofctl in test/integration/openflow-flow-writer.test.ts), because OVS prints a flow back the
// way it came in: `load:` must arrive as NXAST_REG_LOAD (OpenFlow 1.0–1.4 only; a full-width OFPAT_SET_FIELD
// would come back as `set_field:`), and that is why this is OpenFlow 1.3 and not the 1.5 of the packet-in
// channel. Layouts: OpenFlow 1.3.5 §7.3.4.1 (ofp_flow_mod), §7.2.3 (OXM), §7.2.4 (instructions); OVS
// include/openflow/nicira-ext.h and lib/ofp-actions.c (NXAST_* actions), lib/nx-match.c (the order ovs-ofctl
// puts match fields in), include/openvswitch/ofp-msgs.h and lib/ofp-bundle.c (ONFT_BUNDLE_CONTROL 2300,
// ONFT_BUNDLE_ADD_MESSAGE 2301: an experimenter message with the ofp14_bundle_ctrl_msg body).
//
// Only the match fields and actions the agent's flows use are supported; anything else is reported as an
// unsupported token so that the caller can hand the flow to ovs-ofctl instead.
//
// Speed: a policy change can be 35k flows. Action lists repeat (every clause flow of a conjunction has the same
// one), so each distinct action text is turned into instruction bytes once (bounded cache); matches are mostly
// distinct, so they are scanned and written in place; a whole bundle goes into one growing buffer.
import type { Flow } from '../pipeline/flow';
import { ByteWriter } from './byte-io';
import { NX_VENDOR_ID, OFP_HEADER_LENGTH, OFP_MAX_MESSAGE_LENGTH, OfpPort, OfpType } from './constants';

// Copies of imported constants used per flow: reading them through the module object costs measurably at 35k
// flows when modules are loaded as ES modules (tsx), where imports are getters.
const OFPT_EXPERIMENTER = OfpType.Experimenter;
const OFPT_FLOW_MOD = OfpType.FlowMod;
const OFPP_ANY = OfpPort.Any;
const MAX_MESSAGE_LENGTH = OFP_MAX_MESSAGE_LENGTH;

export const OFP_VERSION_1_3 = 0x04;
export const ONF_EXPERIMENTER_ID = 0x4f4e4600;
export const OnfType = { BundleControl: 2300, BundleAddMessage: 2301 } as const;

/** ofp14_bundle_ctrl_msg `type`. */
export const BundleControlType = {
  OpenRequest: 0,
  OpenReply: 1,
  CloseRequest: 2,
  CloseReply: 3,
  CommitRequest: 4,
  CommitReply: 5,
  DiscardRequest: 6,
  DiscardReply: 7,
} as const;

/** OFPBF_*: what ovs-ofctl --bundle asks for. Every add message must carry the open request's flags. */
export const BundleFlags = { Atomic: 1, Ordered: 2 } as const;
export const ATOMIC_ORDERED = BundleFlags.Atomic | BundleFlags.Ordered;

/** Header + experimenter id + exp_type + bundle_id, type, flags. */
export const BUNDLE_CONTROL_LENGTH = 24;
/** What a bundle add message adds around the flow mod it carries. */
export const BUNDLE_ADD_OVERHEAD = 24;
export const FLOW_MOD_HEADER_LENGTH = 48;

const OFPFC_ADD = 0;
const OFPFC_DELETE_STRICT = 4;
const OFPMT_OXM = 1;
const OFPIT_GOTO_TABLE = 1;
const OFPIT_APPLY_ACTIONS = 4;
const OFPIT_METER = 6;
const OFPAT_OUTPUT = 0;
const OFPAT_DEC_NW_TTL = 24;
const OFPAT_SET_FIELD = 25;
const OFPAT_EXPERIMENTER = 0xffff;
const NXAST_REG_MOVE = 6;
const NXAST_REG_LOAD = 7;
const NXAST_RESUBMIT_TABLE = 14;
const NXAST_OUTPUT_REG = 15;
const NXAST_CONTROLLER = 20;
const NXAST_CONJUNCTION = 34;
const NXAST_CONTROLLER2 = 37;
const NXAC2PT = { MaxLen: 0, ControllerId: 1, Reason: 2, Userdata: 3, Pause: 4 } as const;
/** OFPR_* as `controller(reason=...)` names them. */
const PACKET_IN_REASONS: Readonly<Record<string, number>> = {
  no_match: 0,
  action: 1,
  invalid_ttl: 2,
  action_set: 3,
  group: 4,
  packet_out: 5,
};
const OFPR_ACTION = 1;

/** ONF1.3 experimenter error codes of bundles (OVS ofp-errors.h): 2300 + the OpenFlow 1.4 OFPBFC code. */
const ONF_BUNDLE_ERRORS = [
  'UNKNOWN',
  'EPERM',
  'BAD_ID',
  'BUNDLE_EXIST',
  'BUNDLE_CLOSED',
  'OUT_OF_BUNDLES',
  'BAD_TYPE',
  'BAD_FLAGS',
  'MSG_BAD_LEN',
  'MSG_BAD_XID',
  'MSG_UNSUP',
  'MSG_CONFLICT',
  'MSG_TOO_MANY',
  'MSG_FAILED',
  'TIMEOUT',
  'BUNDLE_IN_PROGRESS',
];

/** `OFPBFC_MSG_FAILED` for ONF experimenter error 2313; undefined for codes that are not bundle errors. */
export function onfBundleErrorName(code: number): string | undefined {
  const name = ONF_BUNDLE_ERRORS[code - OnfType.BundleControl];
  return name === undefined ? undefined : `OFPBFC_${name}`;
}

export type FlowModCommand = 'add' | 'delete_strict';

export interface FlowMod {
  command: FlowModCommand;
  flow: Flow;
}

/** Why a flow cannot be encoded here: the token (match field or action) this encoder does not know. */
export interface UnsupportedToken {
  ok: false;
  /** `match` or `actions`. */
  part: 'match' | 'actions';
  token: string;
  reason: string;
}

export type EncodableCheck = { ok: true } | UnsupportedToken;

// ---------------------------------------------------------------------------------------------------------
// OXM / NXM headers: class (16 bits), field (7 bits), has-mask (1 bit), length (8 bits).

const OXM_BASIC = 0x8000;
const NXM0 = 0x0000;
const NXM1 = 0x0001;

function oxmHeader(oxmClass: number, field: number, length: number): number {
  return ((oxmClass << 16) | (field << 9) | length) >>> 0;
}

function regHeader(reg: number): number {
  return oxmHeader(NXM1, reg, 4);
}

/** OpenFlow-basic fields (OXM_OF_*). */
const Oxm = {
  InPort: 0,
  EthDst: 3,
  EthSrc: 4,
  EthType: 5,
  IpProto: 10,
  Ipv4Src: 11,
  Ipv4Dst: 12,
  TcpSrc: 13,
  TcpDst: 14,
  UdpSrc: 15,
  UdpDst: 16,
  SctpSrc: 17,
  SctpDst: 18,
  IcmpType: 19,
  IcmpCode: 20,
  ArpOp: 21,
  ArpSpa: 22,
  ArpTpa: 23,
  ArpSha: 24,
  ArpTha: 25,
} as const;

/** NXM_NX_* fields of class 0x0001 that have no OpenFlow-basic header in 1.3. */
const Nxm1 = { TunIpv4Dst: 32, ConjId: 37, CtState: 105, CtZone: 106, CtMark: 107 } as const;

/** Subfields `load:`, `move:` and `output:` name, with their NXM header (what NXAST_* actions carry). */
const NXM_FIELDS: ReadonlyMap<string, { header: number; bits: number }> = new Map([
  ['NXM_OF_ETH_DST', { header: oxmHeader(NXM0, 1, 6), bits: 48 }],
  ['NXM_OF_ETH_SRC', { header: oxmHeader(NXM0, 2, 6), bits: 48 }],
  ['NXM_OF_ETH_TYPE', { header: oxmHeader(NXM0, 3, 2), bits: 16 }],
  ['NXM_OF_IP_PROTO', { header: oxmHeader(NXM0, 6, 1), bits: 8 }],
  ['NXM_OF_IP_SRC', { header: oxmHeader(NXM0, 7, 4), bits: 32 }],
  ['NXM_OF_IP_DST', { header: oxmHeader(NXM0, 8, 4), bits: 32 }],
  ['NXM_OF_TCP_SRC', { header: oxmHeader(NXM0, 9, 2), bits: 16 }],
  ['NXM_OF_TCP_DST', { header: oxmHeader(NXM0, 10, 2), bits: 16 }],
  ['NXM_OF_UDP_SRC', { header: oxmHeader(NXM0, 11, 2), bits: 16 }],
  ['NXM_OF_UDP_DST', { header: oxmHeader(NXM0, 12, 2), bits: 16 }],
  ['NXM_OF_ARP_OP', { header: oxmHeader(NXM0, 15, 2), bits: 16 }],
  ['NXM_OF_ARP_SPA', { header: oxmHeader(NXM0, 16, 4), bits: 32 }],
  ['NXM_OF_ARP_TPA', { header: oxmHeader(NXM0, 17, 4), bits: 32 }],
  ['NXM_NX_ARP_SHA', { header: oxmHeader(NXM1, 17, 6), bits: 48 }],
  ['NXM_NX_ARP_THA', { header: oxmHeader(NXM1, 18, 6), bits: 48 }],
  ['NXM_NX_TUN_ID', { header: oxmHeader(NXM1, 16, 8), bits: 64 }],
  ['NXM_NX_TUN_IPV4_SRC', { header: oxmHeader(NXM1, 31, 4), bits: 32 }],
  ['NXM_NX_TUN_IPV4_DST', { header: oxmHeader(NXM1, 32, 4), bits: 32 }],
  ['NXM_NX_PKT_MARK', { header: oxmHeader(NXM1, 33, 4), bits: 32 }],
  ...Array.from({ length: 16 }, (_, i) => [`NXM_NX_REG${i}`, { header: regHeader(i), bits: 32 }] as const),
]);

/** `set_field:` destinations as OVS prints them, with the OXM header OpenFlow 1.3 uses for them. */
const SET_FIELDS: ReadonlyMap<string, { header: number; bytes: number }> = new Map([
  ['eth_src', { header: oxmHeader(OXM_BASIC, Oxm.EthSrc, 6), bytes: 6 }],
  ['eth_dst', { header: oxmHeader(OXM_BASIC, Oxm.EthDst, 6), bytes: 6 }],
  ...Array.from({ length: 16 }, (_, i) => [`reg${i}`, { header: regHeader(i), bytes: 4 }] as const),
]);

/** Named ports `output:` and bare port actions print. */
const NAMED_OUTPUT_PORTS: Readonly<Record<string, number>> = {
  IN_PORT: OfpPort.InPort,
  NORMAL: OfpPort.Normal,
  FLOOD: OfpPort.Flood,
  ALL: OfpPort.All,
  LOCAL: OfpPort.Local,
};

const CT_STATE_BITS: Readonly<Record<string, number>> = {
  new: 0x01,
  est: 0x02,
  rel: 0x04,
  rpl: 0x08,
  inv: 0x10,
  trk: 0x20,
  snat: 0x40,
  dnat: 0x80,
};

// ---------------------------------------------------------------------------------------------------------
// Small parsers. They return undefined for anything they do not recognise.

const UINT_TEXT = /^(?:0x[0-9a-fA-F]+|\d+)$/;

function parseUint(text: string, max: number): number | undefined {
  if (!UINT_TEXT.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value <= max ? value : undefined;
}

function parseBigUint(text: string, bits: number): bigint | undefined {
  if (!UINT_TEXT.test(text)) return undefined;
  const value = BigInt(text);
  return value < 1n << BigInt(bits) ? value : undefined;
}

/** `v` or `v/m` (either may be hex); mask defaults to all ones. */
function parseMasked(text: string, max: number): [number, number] | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) {
    const value = parseUint(text, max);
    return value === undefined ? undefined : [value, max];
  }
  const value = parseUint(text.slice(0, slash), max);
  const mask = parseUint(text.slice(slash + 1), max);
  return value === undefined || mask === undefined ? undefined : [value, mask];
}

function parseIpv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 0x2e && digits > 0 && dots < 3) {
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + octet;
}

/** `a.b.c.d`, `a.b.c.d/n` or `a.b.c.d/m.m.m.m` → [value & mask, mask]. */
function parseIpv4Masked(text: string): [number, number] | undefined {
  const slash = text.indexOf('/');
  const address = parseIpv4(slash < 0 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  let mask = 0xffff_ffff;
  if (slash >= 0) {
    const maskText = text.slice(slash + 1);
    if (/^\d{1,2}$/.test(maskText)) {
      const prefix = Number(maskText);
      if (prefix > 32) return undefined;
      mask = prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
    } else {
      const dotted = parseIpv4(maskText);
      if (dotted === undefined) return undefined;
      mask = dotted;
    }
  }
  return [(address & mask) >>> 0, mask];
}

function parseMac(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/.test(text)) return undefined;
  return Uint8Array.from(text.split(':').map((h) => Number.parseInt(h, 16)));
}

function parseMacMasked(text: string): [Uint8Array, Uint8Array | undefined] | undefined {
  const slash = text.indexOf('/');
  const value = parseMac(slash < 0 ? text : text.slice(0, slash));
  if (!value) return undefined;
  if (slash < 0) return [value, undefined];
  const mask = parseMac(text.slice(slash + 1));
  if (!mask) return undefined;
  if (mask.every((b) => b === 0xff)) return [value, undefined];
  return [value.map((b, i) => b & (mask[i] as number)), mask];
}

/** `FIELD[]`, `FIELD[n]`, `FIELD[a..b]` → header, offset, bit count. */
function parseSubfield(text: string): { header: number; ofs: number; nBits: number } | undefined {
  const open = text.indexOf('[');
  if (open < 0 || !text.endsWith(']')) return undefined;
  const field = NXM_FIELDS.get(text.slice(0, open));
  if (!field) return undefined;
  const range = text.slice(open + 1, -1);
  if (range === '') return { header: field.header, ofs: 0, nBits: field.bits };
  const dots = range.indexOf('..');
  const start = parseUint(dots < 0 ? range : range.slice(0, dots), field.bits - 1);
  const end = dots < 0 ? start : parseUint(range.slice(dots + 2), field.bits - 1);
  if (start === undefined || end === undefined || end < start) return undefined;
  return { header: field.header, ofs: start, nBits: end - start + 1 };
}

/** Splits at the commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x28) depth++;
    else if (c === 0x29) depth--;
    else if (c === 0x2c && depth === 0) {
      if (i > start) out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (text.length > start) out.push(text.slice(start));
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Match → OXM TLVs (without the ofp_match header), in the order OVS's nx_put_raw() writes them.

interface Masked32 {
  value: number;
  mask: number;
}

/** Every field initialised, so that all parsed matches share one object shape (V8 keeps the code monomorphic). */
class ParsedMatch {
  ethType: number | undefined = undefined;
  ipProto: number | undefined = undefined;
  conjId: number | undefined = undefined;
  inPort: number | undefined = undefined;
  ethSrc: [Uint8Array, Uint8Array | undefined] | undefined = undefined;
  ethDst: [Uint8Array, Uint8Array | undefined] | undefined = undefined;
  nwSrc: Masked32 | undefined = undefined;
  nwDst: Masked32 | undefined = undefined;
  tpSrc: Masked32 | undefined = undefined;
  tpDst: Masked32 | undefined = undefined;
  icmpType: number | undefined = undefined;
  icmpCode: number | undefined = undefined;
  arpOp: number | undefined = undefined;
  arpSpa: Masked32 | undefined = undefined;
  arpTpa: Masked32 | undefined = undefined;
  arpSha: Uint8Array | undefined = undefined;
  arpTha: Uint8Array | undefined = undefined;
  tunDst: Masked32 | undefined = undefined;
  regs: (Masked32 | undefined)[] | undefined = undefined;
  ctState: Masked32 | undefined = undefined;
  ctZone: number | undefined = undefined;
  ctMark: Masked32 | undefined = undefined;
}

const PROTOCOLS: Readonly<Record<string, { ethType: number; ipProto?: number }>> = {
  ip: { ethType: 0x0800 },
  icmp: { ethType: 0x0800, ipProto: 1 },
  tcp: { ethType: 0x0800, ipProto: 6 },
  udp: { ethType: 0x0800, ipProto: 17 },
  sctp: { ethType: 0x0800, ipProto: 132 },
  arp: { ethType: 0x0806 },
};

type MatchResult = { ok: true; oxm: Uint8Array } | UnsupportedToken;

function unsupported(part: 'match' | 'actions', token: string, reason: string): UnsupportedToken {
  return { ok: false, part, token, reason };
}

function parseMatch(text: string): ParsedMatch | UnsupportedToken {
  const m = new ParsedMatch();
  for (const token of text.split(',')) {
    if (token.length === 0) continue;
    const eq = token.indexOf('=');
    if (eq < 0) {
      const protocol = PROTOCOLS[token];
      if (!protocol) return unsupported('match', token, 'unknown protocol');
      if (m.ethType !== undefined) return unsupported('match', token, 'second protocol');
      m.ethType = protocol.ethType;
      if (protocol.ipProto !== undefined) m.ipProto = protocol.ipProto;
      continue;
    }
    const field = token.slice(0, eq);
    const value = token.slice(eq + 1);
    let ok = true;
    if (field === 'conj_id') {
      const id = parseUint(value, 0xffff_ffff);
      ok = id !== undefined;
      if (id !== undefined) m.conjId = id;
    } else if (field === 'nw_src' || field === 'nw_dst' || field === 'arp_spa' || field === 'arp_tpa') {
      const ip = parseIpv4Masked(value);
      ok = ip !== undefined;
      if (ip) {
        const masked = { value: ip[0], mask: ip[1] };
        if (field === 'nw_src') m.nwSrc = masked;
        else if (field === 'nw_dst') m.nwDst = masked;
        else if (field === 'arp_spa') m.arpSpa = masked;
        else m.arpTpa = masked;
      }
    } else if (field === 'tp_src' || field === 'tp_dst') {
      const port = parseMasked(value, 0xffff);
      ok = port !== undefined;
      if (port) m[field === 'tp_src' ? 'tpSrc' : 'tpDst'] = { value: port[0] & port[1], mask: port[1] };
    } else if (field.startsWith('reg') && /^reg(?:\d|1[0-5])$/.test(field)) {
      const reg = parseMasked(value, 0xffff_ffff);
      ok = reg !== undefined;
      if (reg) {
        m.regs ??= [];
        m.regs[Number(field.slice(3))] = { value: (reg[0] & reg[1]) >>> 0, mask: reg[1] };
      }
    } else if (field === 'in_port') {
      const port = value === 'LOCAL' ? 0xfffe : parseUint(value, 0xfeff);
      ok = port !== undefined;
      if (port !== undefined) m.inPort = port;
    } else if (field === 'dl_src' || field === 'dl_dst') {
      const mac = parseMacMasked(value);
      ok = mac !== undefined;
      if (mac) m[field === 'dl_src' ? 'ethSrc' : 'ethDst'] = mac;
    } else if (field === 'arp_sha' || field === 'arp_tha') {
      const mac = parseMac(value);
      ok = mac !== undefined;
      if (mac) m[field === 'arp_sha' ? 'arpSha' : 'arpTha'] = mac;
    } else if (field === 'arp_op' || field === 'icmp_type' || field === 'icmp_code') {
      const n = parseUint(value, field === 'arp_op' ? 0xffff : 0xff);
      ok = n !== undefined;
      if (n !== undefined)
        m[field === 'arp_op' ? 'arpOp' : field === 'icmp_type' ? 'icmpType' : 'icmpCode'] = n;
    } else if (field === 'tun_dst') {
      const ip = parseIpv4Masked(value);
      ok = ip !== undefined;
      if (ip) m.tunDst = { value: ip[0], mask: ip[1] };
    } else if (field === 'ct_state') {
      const state = parseCtStateBits(value);
      ok = state !== undefined;
      if (state) m.ctState = state;
    } else if (field === 'ct_zone') {
      const zone = parseUint(value, 0xffff);
      ok = zone !== undefined;
      if (zone !== undefined) m.ctZone = zone;
    } else if (field === 'ct_mark') {
      const mark = parseMasked(value, 0xffff_ffff);
      ok = mark !== undefined;
      if (mark) m.ctMark = { value: (mark[0] & mark[1]) >>> 0, mask: mark[1] };
    } else {
      return unsupported('match', token, `match field ${field} is not supported`);
    }
    if (!ok) return unsupported('match', token, `cannot parse the value of ${field}`);
  }
  // ovs-ofctl drops a field whose prerequisite is missing (and only warns); the switch would reject it. Either
  // way the flow is not what the text says: leave such flows to ovs-ofctl, which behaves as it always did.
  const ip = m.ethType === 0x0800;
  const l4 = m.ipProto === 6 || m.ipProto === 17 || m.ipProto === 132;
  if ((m.nwSrc || m.nwDst) && !ip) return unsupported('match', 'nw_src/nw_dst', 'needs an IP protocol');
  if ((m.tpSrc || m.tpDst) && !l4) return unsupported('match', 'tp_src/tp_dst', 'needs tcp, udp or sctp');
  if ((m.icmpType !== undefined || m.icmpCode !== undefined) && m.ipProto !== 1)
    return unsupported('match', 'icmp_type/icmp_code', 'needs icmp');
  if ((m.arpOp !== undefined || m.arpSpa || m.arpTpa || m.arpSha || m.arpTha) && m.ethType !== 0x0806)
    return unsupported('match', 'arp_*', 'needs arp');
  return m;
}

function parseCtStateBits(text: string): Masked32 | undefined {
  let value = 0;
  let mask = 0;
  const re = /([+-])([a-z]+)/gy;
  let consumed = 0;
  for (let match = re.exec(text); match; match = re.exec(text)) {
    const bit = CT_STATE_BITS[match[2] as string];
    if (bit === undefined) return undefined;
    mask |= bit;
    if (match[1] === '+') value |= bit;
    consumed = re.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? { value, mask } : undefined;
}

/** Upper bound of the OXM bytes writeMatchFields produces (every supported field, masked). */
const MAX_MATCH_BYTES = 512;

function putHeader32(v: DataView, at: number, header: number, value: number): number {
  v.setUint32(at, header);
  v.setUint32(at + 4, value);
  return at + 8;
}

/** A 16- or 32-bit field, masked unless the mask is all ones; nothing when the mask is 0. */
function putMasked(v: DataView, at: number, header: number, f: Masked32 | undefined, bytes: 2 | 4): number {
  if (!f || f.mask === 0) return at;
  const masked = f.mask !== (bytes === 4 ? 0xffff_ffff : 0xffff);
  v.setUint32(at, masked ? (header | 0x100) + bytes : header);
  at += 4;
  if (bytes === 4) {
    v.setUint32(at, f.value);
    if (masked) v.setUint32(at + 4, f.mask);
  } else {
    v.setUint16(at, f.value);
    if (masked) v.setUint16(at + 2, f.mask);
  }
  return at + (masked ? 2 * bytes : bytes);
}

function putMac(
  out: Uint8Array,
  v: DataView,
  at: number,
  header: number,
  mac: [Uint8Array, Uint8Array | undefined] | undefined,
): number {
  if (!mac) return at;
  const [value, mask] = mac;
  v.setUint32(at, mask ? (header | 0x100) + 6 : header);
  out.set(value, at + 4);
  if (mask) out.set(mask, at + 10);
  return at + (mask ? 16 : 10);
}

function putU8(v: DataView, at: number, header: number, value: number): number {
  v.setUint32(at, header);
  v.setUint8(at + 4, value);
  return at + 5;
}

function putU16(v: DataView, at: number, header: number, value: number): number {
  v.setUint32(at, header);
  v.setUint16(at + 4, value);
  return at + 6;
}

/**
 * Writes the OXM TLVs of `m` at `at` (room for MAX_MATCH_BYTES assumed), in nx_put_raw()'s order; returns the
 * end. Written in place: a policy bundle has tens of thousands of distinct matches, and intermediate arrays
 * would cost more than the parsing.
 */
function writeMatchFields(out: Uint8Array, v: DataView, at: number, m: ParsedMatch): number {
  if (m.conjId !== undefined) at = putHeader32(v, at, CONJ_ID_HEADER, m.conjId);
  if (m.inPort !== undefined) at = putHeader32(v, at, IN_PORT_HEADER, toOfp11Port(m.inPort));
  at = putMac(out, v, at, ETH_SRC_HEADER, m.ethSrc);
  at = putMac(out, v, at, ETH_DST_HEADER, m.ethDst);
  if (m.ethType !== undefined) at = putU16(v, at, ETH_TYPE_HEADER, m.ethType);
  if (m.ethType === 0x0800) {
    at = putMasked(v, at, IPV4_SRC_HEADER, m.nwSrc, 4);
    at = putMasked(v, at, IPV4_DST_HEADER, m.nwDst, 4);
    if (m.ipProto !== undefined) {
      at = putU8(v, at, IP_PROTO_HEADER, m.ipProto);
      const ports = L4_PORT_HEADERS[m.ipProto];
      if (ports) {
        at = putMasked(v, at, ports[0], m.tpSrc, 2);
        at = putMasked(v, at, ports[1], m.tpDst, 2);
      } else if (m.ipProto === 1) {
        if (m.icmpType !== undefined) at = putU8(v, at, oxmHeader(OXM_BASIC, Oxm.IcmpType, 1), m.icmpType);
        if (m.icmpCode !== undefined) at = putU8(v, at, oxmHeader(OXM_BASIC, Oxm.IcmpCode, 1), m.icmpCode);
      }
    }
  } else if (m.ethType === 0x0806) {
    if (m.arpOp !== undefined) at = putU16(v, at, oxmHeader(OXM_BASIC, Oxm.ArpOp, 2), m.arpOp);
    at = putMasked(v, at, oxmHeader(OXM_BASIC, Oxm.ArpSpa, 4), m.arpSpa, 4);
    at = putMasked(v, at, oxmHeader(OXM_BASIC, Oxm.ArpTpa, 4), m.arpTpa, 4);
    if (m.arpSha) at = putMac(out, v, at, oxmHeader(OXM_BASIC, Oxm.ArpSha, 6), [m.arpSha, undefined]);
    if (m.arpTha) at = putMac(out, v, at, oxmHeader(OXM_BASIC, Oxm.ArpTha, 6), [m.arpTha, undefined]);
  }
  at = putMasked(v, at, oxmHeader(NXM1, Nxm1.TunIpv4Dst, 4), m.tunDst, 4);
  if (m.regs) for (let i = 0; i < m.regs.length; i++) at = putMasked(v, at, regHeader(i), m.regs[i], 4);
  at = putMasked(v, at, oxmHeader(NXM1, Nxm1.CtState, 4), m.ctState, 4);
  if (m.ctZone !== undefined) at = putU16(v, at, oxmHeader(NXM1, Nxm1.CtZone, 2), m.ctZone);
  at = putMasked(v, at, oxmHeader(NXM1, Nxm1.CtMark, 4), m.ctMark, 4);
  return at;
}

const CONJ_ID_HEADER = oxmHeader(NXM1, Nxm1.ConjId, 4);
const IN_PORT_HEADER = oxmHeader(OXM_BASIC, Oxm.InPort, 4);
const ETH_SRC_HEADER = oxmHeader(OXM_BASIC, Oxm.EthSrc, 6);
const ETH_DST_HEADER = oxmHeader(OXM_BASIC, Oxm.EthDst, 6);
const ETH_TYPE_HEADER = oxmHeader(OXM_BASIC, Oxm.EthType, 2);
const IPV4_SRC_HEADER = oxmHeader(OXM_BASIC, Oxm.Ipv4Src, 4);
const IPV4_DST_HEADER = oxmHeader(OXM_BASIC, Oxm.Ipv4Dst, 4);
const IP_PROTO_HEADER = oxmHeader(OXM_BASIC, Oxm.IpProto, 1);
const L4_PORT_HEADERS: Readonly<Record<number, readonly [number, number]>> = {
  6: [oxmHeader(OXM_BASIC, Oxm.TcpSrc, 2), oxmHeader(OXM_BASIC, Oxm.TcpDst, 2)],
  17: [oxmHeader(OXM_BASIC, Oxm.UdpSrc, 2), oxmHeader(OXM_BASIC, Oxm.UdpDst, 2)],
  132: [oxmHeader(OXM_BASIC, Oxm.SctpSrc, 2), oxmHeader(OXM_BASIC, Oxm.SctpDst, 2)],
};

/** OpenFlow 1.0 port numbers (what flows print) as OpenFlow 1.1+ 32-bit ones: reserved ports move up. */
function toOfp11Port(port: number): number {
  return port >= 0xff00 ? (port + 0xffff_0000) >>> 0 : port;
}

/** The OXM TLVs of a match text (without the ofp_match header and padding). */
export function encodeMatch(text: string): MatchResult {
  const parsed = parseMatch(text);
  if ('ok' in parsed) return parsed;
  const out = new Uint8Array(MAX_MATCH_BYTES);
  const end = writeMatchFields(out, new DataView(out.buffer), 0, parsed);
  return { ok: true, oxm: out.slice(0, end) };
}

// ---------------------------------------------------------------------------------------------------------
// Actions → instructions (meter, apply-actions, goto-table), as ofpacts_put_openflow_instructions() orders them.

type InstructionsResult = { ok: true; instructions: Uint8Array } | UnsupportedToken;

function nxActionHeader(w: ByteWriter, length: number, subtype: number): void {
  w.u16(OFPAT_EXPERIMENTER).u16(length).u32(NX_VENDOR_ID).u16(subtype);
}

/** One action of an apply-actions list into `w`; false when the action is not supported. */
function encodeAction(w: ByteWriter, action: string): boolean {
  if (action.startsWith('conjunction(')) {
    const m = /^conjunction\((\d+),(\d+)\/(\d+)\)$/.exec(action);
    if (!m) return false;
    const id = parseUint(m[1] as string, 0xffff_ffff);
    const clause = Number(m[2]);
    const nClauses = Number(m[3]);
    if (id === undefined || nClauses < 2 || nClauses > 64 || clause < 1 || clause > nClauses) return false;
    nxActionHeader(w, 16, NXAST_CONJUNCTION);
    w.u8(clause - 1)
      .u8(nClauses)
      .u32(id);
    return true;
  }
  if (action.startsWith('load:')) {
    const arrow = action.indexOf('->');
    if (arrow < 0) return false;
    const dst = parseSubfield(action.slice(arrow + 2));
    const value = dst && parseBigUint(action.slice(5, arrow), dst.nBits);
    if (!dst || value === undefined) return false;
    nxActionHeader(w, 24, NXAST_REG_LOAD);
    w.u16((dst.ofs << 6) | (dst.nBits - 1))
      .u32(dst.header)
      .u64(value);
    return true;
  }
  if (action.startsWith('set_field:')) {
    const arrow = action.indexOf('->');
    if (arrow < 0) return false;
    const field = SET_FIELDS.get(action.slice(arrow + 2));
    const valueText = action.slice(10, arrow);
    if (!field) return false;
    let value: Uint8Array | undefined;
    if (field.bytes === 6) value = parseMac(valueText);
    else {
      const n = parseUint(valueText, 0xffff_ffff);
      if (n !== undefined) value = Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    }
    if (!value) return false;
    // ofp12_action_set_field: type, length, one OXM TLV, zero padding to 8 bytes.
    const length = Math.ceil((4 + 4 + field.bytes) / 8) * 8;
    w.u16(OFPAT_SET_FIELD)
      .u16(length)
      .u32(field.header)
      .bytes(value)
      .zeros(length - 8 - field.bytes);
    return true;
  }
  if (action.startsWith('move:')) {
    const arrow = action.indexOf('->');
    if (arrow < 0) return false;
    const src = parseSubfield(action.slice(5, arrow));
    const dst = parseSubfield(action.slice(arrow + 2));
    if (!src || !dst || src.nBits !== dst.nBits) return false;
    nxActionHeader(w, 24, NXAST_REG_MOVE);
    w.u16(src.nBits).u16(src.ofs).u16(dst.ofs).u32(src.header).u32(dst.header);
    return true;
  }
  if (action.startsWith('output:')) {
    const target = action.slice(7);
    if (target.startsWith('NXM_')) {
      const src = parseSubfield(target);
      if (!src) return false;
      nxActionHeader(w, 24, NXAST_OUTPUT_REG);
      // max_len: the whole packet, should the register hold CONTROLLER.
      w.u16((src.ofs << 6) | (src.nBits - 1))
        .u32(src.header)
        .u16(0xffff)
        .zeros(6);
      return true;
    }
    const port = NAMED_OUTPUT_PORTS[target] ?? parseUint(target, 0xfeff);
    if (port === undefined) return false;
    w.u16(OFPAT_OUTPUT).u16(16).u32(toOfp11Port(port)).u16(0).zeros(6);
    return true;
  }
  const named = NAMED_OUTPUT_PORTS[action];
  if (named !== undefined) {
    w.u16(OFPAT_OUTPUT).u16(16).u32(named).u16(0).zeros(6);
    return true;
  }
  if (action.startsWith('CONTROLLER:')) {
    const maxLen = parseUint(action.slice(11), 0xffff);
    if (maxLen === undefined) return false;
    w.u16(OFPAT_OUTPUT).u16(16).u32(OfpPort.Controller).u16(maxLen).zeros(6);
    return true;
  }
  if (action.startsWith('controller(') && action.endsWith(')')) {
    return encodeController(w, action.slice(11, -1));
  }
  if (action.startsWith('resubmit(,') && action.endsWith(')')) {
    const table = parseUint(action.slice(10, -1), 254);
    if (table === undefined) return false;
    nxActionHeader(w, 16, NXAST_RESUBMIT_TABLE);
    w.u16(OfpPort.InPort & 0xffff)
      .u8(table)
      .zeros(3);
    return true;
  }
  if (action === 'dec_ttl') {
    w.u16(OFPAT_DEC_NW_TTL).u16(8).zeros(4);
    return true;
  }
  return false;
}

/**
 * `controller(key=value,...)` (the part inside the parentheses): NXAST_CONTROLLER2 with properties when it
 * carries userdata or pause, otherwise NXAST_CONTROLLER, or a plain output to CONTROLLER when nothing differs
 * from the defaults (what OVS's parse_CONTROLLER and encode_CONTROLLER do).
 */
function encodeController(w: ByteWriter, args: string): boolean {
  let reason = OFPR_ACTION;
  let maxLen = 0xffff;
  let controllerId = 0;
  let userdata: Uint8Array | undefined;
  let pause = false;
  if (args !== '') {
    for (const pair of args.split(',')) {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      if (key === 'reason') {
        const r = PACKET_IN_REASONS[value];
        if (r === undefined) return false;
        reason = r;
      } else if (key === 'max_len') {
        const n = parseUint(value, 0xffff);
        if (n === undefined) return false;
        maxLen = n;
      } else if (key === 'id') {
        const n = parseUint(value, 0xffff);
        if (n === undefined) return false;
        controllerId = n;
      } else if (key === 'userdata') {
        const hex = value.replace(/\./g, '');
        if (!/^(?:[0-9a-fA-F]{2})+$/.test(hex)) return false;
        userdata = Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
      } else if (key === 'pause' && eq < 0) {
        pause = true;
      } else {
        return false;
      }
    }
  }
  if (!userdata && !pause) {
    if (reason === OFPR_ACTION && controllerId === 0) {
      w.u16(OFPAT_OUTPUT).u16(16).u32(OfpPort.Controller).u16(maxLen).zeros(6);
    } else {
      nxActionHeader(w, 16, NXAST_CONTROLLER);
      w.u16(maxLen).u16(controllerId).u8(reason).u8(0);
    }
    return true;
  }
  const start = w.size;
  nxActionHeader(w, 0, NXAST_CONTROLLER2);
  w.zeros(6);
  // Properties: type, length (without padding), value, zero padding to 8. 16-bit values take 4 bytes, as
  // OVS's ofpprop_put_be16 writes them.
  if (maxLen !== 0xffff) w.u16(NXAC2PT.MaxLen).u16(8).u16(maxLen).u16(0);
  if (controllerId !== 0) w.u16(NXAC2PT.ControllerId).u16(8).u16(controllerId).u16(0);
  if (reason !== OFPR_ACTION) w.u16(NXAC2PT.Reason).u16(5).u8(reason).zeros(3);
  if (userdata) {
    w.u16(NXAC2PT.Userdata)
      .u16(4 + userdata.length)
      .bytes(userdata)
      .padTo(8);
  }
  if (pause) w.u16(NXAC2PT.Pause).u16(4).zeros(4);
  w.patchU16(start + 2, w.size - start);
  return true;
}

export function encodeInstructions(actions: string): InstructionsResult {
  const tokens = splitTopLevel(actions);
  if (tokens.length === 1 && tokens[0] === 'drop') return { ok: true, instructions: new Uint8Array(0) };
  const w = new ByteWriter();
  let applyStart = -1;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    if (token.startsWith('meter:')) {
      const id = parseUint(token.slice(6), 0xffff_0000);
      if (id === undefined || id === 0) return unsupported('actions', token, 'invalid meter id');
      if (i !== 0) return unsupported('actions', token, 'meter must be the first action');
      w.u16(OFPIT_METER).u16(8).u32(id);
      continue;
    }
    if (token.startsWith('goto_table:')) {
      const table = parseUint(token.slice(11), 254);
      if (table === undefined) return unsupported('actions', token, 'invalid table');
      if (i !== tokens.length - 1) return unsupported('actions', token, 'goto_table must be the last action');
      if (applyStart >= 0) w.patchU16(applyStart + 2, w.size - applyStart);
      applyStart = -1;
      w.u16(OFPIT_GOTO_TABLE).u16(8).u8(table).zeros(3);
      continue;
    }
    if (applyStart < 0) {
      applyStart = w.size;
      w.u16(OFPIT_APPLY_ACTIONS).u16(0).zeros(4);
    }
    if (token === 'drop') return unsupported('actions', token, 'drop must be the only action');
    if (!encodeAction(w, token)) return unsupported('actions', token, 'action is not supported');
  }
  if (applyStart >= 0) w.patchU16(applyStart + 2, w.size - applyStart);
  return { ok: true, instructions: w.finish() };
}

// ---------------------------------------------------------------------------------------------------------
// Messages.

/** Thrown by the encoding functions for a flow they cannot encode (callers check first, or catch it). */
export class FlowModEncodeError extends Error {
  override readonly name = 'FlowModEncodeError';
  constructor(
    readonly code: 'UNSUPPORTED_TOKEN' | 'MESSAGE_TOO_LONG',
    message: string,
    readonly token?: string,
  ) {
    super(message);
  }
}

/** Whether a flow can be encoded by this module, with the unsupported token when not (no caching). */
export function checkFlowEncodable(flow: Flow): EncodableCheck {
  return new FlowModEncoder().check(flow);
}

export function canEncode(flow: Flow): boolean {
  return checkFlowEncodable(flow).ok;
}

export interface BundleEncoding {
  /** OPEN request, one ADD message per flow mod (in `mods` order), and a BARRIER request, back to back. */
  bytes: Uint8Array;
  openXid: number;
  /** The add message of mods[i] has xid firstAddXid + i (the flow mod inside carries the same xid). */
  firstAddXid: number;
  barrierXid: number;
}

export type BundleEncodeResult =
  | ({ ok: true } & BundleEncoding)
  | (UnsupportedToken & { /** The mod that cannot be encoded. */ index: number });

export interface BundleOptions {
  bundleId: number;
  /** open = firstXid, adds = firstXid + 1 …, barrier = firstXid + mods.length + 1. */
  firstXid: number;
  flags?: number;
}

/** Cached wire bytes of one distinct action text, or why it cannot be encoded. */
type CacheEntry = Uint8Array | UnsupportedToken;

const MAX_CACHE_ENTRIES = 50_000;

/**
 * Encodes flows. Action lists repeat (every clause flow of a conjunction has the same one), so their instruction
 * bytes are cached per distinct text (bounded: cleared past 50k entries). Matches are mostly distinct (an
 * address per clause flow), so they are parsed and written in place every time. One encoder per writer.
 */
export class FlowModEncoder {
  private readonly instructions = new Map<string, CacheEntry>();
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  private length = 0;
  private lastCookie = -1n;
  private lastCookieHigh = 0;
  private lastCookieLow = 0;

  /** ok, or the first token of the flow this encoder cannot write. */
  check(flow: Flow): EncodableCheck {
    this.length = 0;
    const failed = this.writeFlowMod({ command: 'add', flow }, 0);
    if (failed) return failed;
    if (this.length + BUNDLE_ADD_OVERHEAD > MAX_MESSAGE_LENGTH) {
      return unsupported(
        'actions',
        flow.actions.slice(0, 40),
        `flow mod of ${this.length} bytes does not fit a bundle`,
      );
    }
    return { ok: true };
  }

  /** A standalone OFPT_FLOW_MOD (OpenFlow 1.3). Throws FlowModEncodeError. */
  encodeFlowMod(mod: FlowMod, xid: number): Uint8Array {
    this.length = 0;
    const failed = this.writeFlowMod(mod, xid);
    if (failed)
      throw new FlowModEncodeError('UNSUPPORTED_TOKEN', `${failed.token}: ${failed.reason}`, failed.token);
    return this.buffer.slice(0, this.length);
  }

  /** OPEN, an ADD message per mod and a BARRIER, into one buffer; or the first mod that cannot be encoded. */
  encodeBundle(mods: readonly FlowMod[], options: BundleOptions): BundleEncodeResult {
    const flags = options.flags ?? ATOMIC_ORDERED;
    const openXid = options.firstXid >>> 0;
    this.length = 0;
    this.writeBundleControl(openXid, options.bundleId, BundleControlType.OpenRequest, flags);
    for (let i = 0; i < mods.length; i++) {
      const xid = (openXid + 1 + i) >>> 0;
      const start = this.length;
      this.ensure(BUNDLE_ADD_OVERHEAD);
      const v = this.view;
      v.setUint8(start, OFP_VERSION_1_3);
      v.setUint8(start + 1, OFPT_EXPERIMENTER);
      v.setUint32(start + 4, xid);
      v.setUint32(start + 8, ONF_EXPERIMENTER_ID);
      v.setUint32(start + 12, OnfType.BundleAddMessage);
      v.setUint32(start + 16, options.bundleId);
      v.setUint16(start + 20, 0);
      v.setUint16(start + 22, flags);
      this.length = start + BUNDLE_ADD_OVERHEAD;
      const mod = mods[i] as FlowMod;
      const failed = this.writeFlowMod(mod, xid);
      if (failed) return { ...failed, index: i };
      const total = this.length - start;
      if (total > MAX_MESSAGE_LENGTH) {
        return {
          ...unsupported('actions', mod.flow.actions.slice(0, 40), `message of ${total} bytes exceeds 65535`),
          index: i,
        };
      }
      this.view.setUint16(start + 2, total);
    }
    const barrierXid = (openXid + mods.length + 1) >>> 0;
    this.ensure(OFP_HEADER_LENGTH);
    this.header(OfpType.BarrierRequest, barrierXid);
    this.view.setUint16(this.length + 2, OFP_HEADER_LENGTH);
    this.length += OFP_HEADER_LENGTH;
    return {
      ok: true,
      // A copy: the socket keeps writing it while the next bundle is encoded into this buffer.
      bytes: this.buffer.slice(0, this.length),
      openXid,
      firstAddXid: (openXid + 1) >>> 0,
      barrierXid,
    };
  }

  /** Number of cached action texts (for tests and metrics). */
  get cacheSize(): number {
    return this.instructions.size;
  }

  private instructionBytes(text: string): CacheEntry {
    let entry = this.instructions.get(text);
    if (entry === undefined) {
      const result = encodeInstructions(text);
      entry = result.ok ? result.instructions : result;
      if (this.instructions.size >= MAX_CACHE_ENTRIES) this.instructions.clear();
      this.instructions.set(text, entry);
    }
    return entry;
  }

  /** Appends an OFPT_FLOW_MOD at the current end; returns the reason when the flow cannot be encoded. */
  private writeFlowMod(mod: FlowMod, xid: number): UnsupportedToken | undefined {
    const { flow } = mod;
    const match = parseMatch(flow.match);
    if ('ok' in match) return match;
    const deleting = mod.command === 'delete_strict';
    let instructions: CacheEntry = EMPTY;
    if (!deleting) {
      instructions = this.instructionBytes(flow.actions);
      if (!(instructions instanceof Uint8Array)) return instructions;
    }
    if (!Number.isInteger(flow.table) || flow.table < 0 || flow.table > 254)
      return unsupported('match', `table=${flow.table}`, 'invalid table');
    if (!Number.isInteger(flow.priority) || flow.priority < 0 || flow.priority > 0xffff)
      return unsupported('match', `priority=${flow.priority}`, 'invalid priority');
    this.ensure(FLOW_MOD_HEADER_LENGTH + MAX_MATCH_BYTES + 8 + instructions.length);
    const at = this.length;
    const v = this.view;
    v.setUint8(at, OFP_VERSION_1_3);
    v.setUint8(at + 1, OFPT_FLOW_MOD);
    v.setUint32(at + 4, xid >>> 0);
    // delete_strict selects by table, priority and match only: cookie and cookie_mask 0, as ovs-ofctl sends.
    if (deleting) {
      v.setUint32(at + 8, 0);
      v.setUint32(at + 12, 0);
    } else {
      this.writeCookie(at + 8, flow.cookie);
    }
    v.setUint32(at + 16, 0); // cookie_mask
    v.setUint32(at + 20, 0);
    v.setUint8(at + 24, flow.table);
    v.setUint8(at + 25, deleting ? OFPFC_DELETE_STRICT : OFPFC_ADD);
    v.setUint32(at + 26, 0); // idle and hard timeout
    v.setUint16(at + 30, flow.priority);
    v.setUint32(at + 32, 0xffff_ffff); // buffer_id: none
    v.setUint32(at + 36, OFPP_ANY); // out_port
    v.setUint32(at + 40, 0xffff_ffff); // out_group: any
    v.setUint32(at + 44, 0); // flags, pad
    v.setUint16(at + 48, OFPMT_OXM);
    const matchEnd = writeMatchFields(this.buffer, v, at + 52, match);
    v.setUint16(at + 50, matchEnd - at - FLOW_MOD_HEADER_LENGTH);
    const paddedEnd = at + FLOW_MOD_HEADER_LENGTH + padded(matchEnd - at - FLOW_MOD_HEADER_LENGTH);
    this.buffer.fill(0, matchEnd, paddedEnd);
    this.buffer.set(instructions, paddedEnd);
    const length = paddedEnd + instructions.length - at;
    if (length > MAX_MESSAGE_LENGTH) {
      return unsupported('actions', flow.actions.slice(0, 40), `flow mod of ${length} bytes exceeds 65535`);
    }
    v.setUint16(at + 2, length);
    this.length = at + length;
    return undefined;
  }

  /** Cookies repeat from flow to flow (one per conjunction): their halves are computed once per run. */
  private writeCookie(at: number, cookie: bigint): void {
    if (cookie !== this.lastCookie) {
      const value = BigInt.asUintN(64, cookie);
      this.lastCookie = cookie;
      this.lastCookieHigh = Number(value >> 32n);
      this.lastCookieLow = Number(value & 0xffff_ffffn);
    }
    this.view.setUint32(at, this.lastCookieHigh);
    this.view.setUint32(at + 4, this.lastCookieLow);
  }

  private writeBundleControl(xid: number, bundleId: number, type: number, flags: number): void {
    this.ensure(BUNDLE_CONTROL_LENGTH);
    const at = this.length;
    this.header(OFPT_EXPERIMENTER, xid);
    this.view.setUint16(at + 2, BUNDLE_CONTROL_LENGTH);
    this.view.setUint32(at + 8, ONF_EXPERIMENTER_ID);
    this.view.setUint32(at + 12, OnfType.BundleControl);
    this.view.setUint32(at + 16, bundleId);
    this.view.setUint16(at + 20, type);
    this.view.setUint16(at + 22, flags);
    this.length = at + BUNDLE_CONTROL_LENGTH;
  }

  /** Version, type and xid at the current end (the length is the caller's). */
  private header(type: number, xid: number): void {
    const at = this.length;
    this.view.setUint8(at, OFP_VERSION_1_3);
    this.view.setUint8(at + 1, type);
    this.view.setUint16(at + 2, 0);
    this.view.setUint32(at + 4, xid >>> 0);
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }
}

const EMPTY = new Uint8Array(0);

function padded(length: number): number {
  return (length + 7) & ~7;
}

/** ONFT_BUNDLE_CONTROL request (open, commit, discard, ...). */
export function encodeBundleControl(
  xid: number,
  bundleId: number,
  type: number,
  flags = ATOMIC_ORDERED,
): Uint8Array {
  const out = new Uint8Array(BUNDLE_CONTROL_LENGTH);
  const v = new DataView(out.buffer);
  v.setUint8(0, OFP_VERSION_1_3);
  v.setUint8(1, OFPT_EXPERIMENTER);
  v.setUint16(2, BUNDLE_CONTROL_LENGTH);
  v.setUint32(4, xid >>> 0);
  v.setUint32(8, ONF_EXPERIMENTER_ID);
  v.setUint32(12, OnfType.BundleControl);
  v.setUint32(16, bundleId >>> 0);
  v.setUint16(20, type);
  v.setUint16(22, flags);
  return out;
}

/** ONFT_BUNDLE_ADD_MESSAGE carrying `inner` (whose xid must be `xid`, OVS checks). */
export function encodeBundleAdd(
  xid: number,
  bundleId: number,
  inner: Uint8Array,
  flags = ATOMIC_ORDERED,
): Uint8Array {
  const length = BUNDLE_ADD_OVERHEAD + inner.length;
  if (length > MAX_MESSAGE_LENGTH) {
    throw new FlowModEncodeError('MESSAGE_TOO_LONG', `bundle add message of ${length} bytes exceeds 65535`);
  }
  const out = new Uint8Array(length);
  const v = new DataView(out.buffer);
  v.setUint8(0, OFP_VERSION_1_3);
  v.setUint8(1, OFPT_EXPERIMENTER);
  v.setUint16(2, length);
  v.setUint32(4, xid >>> 0);
  v.setUint32(8, ONF_EXPERIMENTER_ID);
  v.setUint32(12, OnfType.BundleAddMessage);
  v.setUint32(16, bundleId >>> 0);
  v.setUint16(20, 0);
  v.setUint16(22, flags);
  out.set(inner, BUNDLE_ADD_OVERHEAD);
  return out;
}

export interface BundleControlMessage {
  xid: number;
  bundleId: number;
  type: number;
  flags: number;
}

/** Reads an ONFT_BUNDLE_CONTROL message (a reply from the switch); undefined for any other message. */
export function decodeBundleControl(bytes: Uint8Array): BundleControlMessage | undefined {
  if (bytes.length < BUNDLE_CONTROL_LENGTH) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint8(1) !== OFPT_EXPERIMENTER) return undefined;
  if (v.getUint32(8) !== ONF_EXPERIMENTER_ID || v.getUint32(12) !== OnfType.BundleControl) return undefined;
  return { xid: v.getUint32(4), bundleId: v.getUint32(16), type: v.getUint16(20), flags: v.getUint16(22) };
}
