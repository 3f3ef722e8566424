// OpenFlow 1.5 and Nicira-extension numbers used by the packet-in/packet-out channel (OpenFlow 1.5.1 spec;
// OVS include/openflow/nicira-ext.h and lib/ofp-msgs.h for the NXT subtypes).

export const OFP_VERSION_1_5 = 0x06;
export const OFP_HEADER_LENGTH = 8;
/** The header's length field is 16 bits, so no message is longer. */
export const OFP_MAX_MESSAGE_LENGTH = 0xffff;

export const OfpType = {
  Hello: 0,
  Error: 1,
  EchoRequest: 2,
  EchoReply: 3,
  Experimenter: 4,
  FeaturesRequest: 5,
  FeaturesReply: 6,
  GetConfigRequest: 7,
  GetConfigReply: 8,
  SetConfig: 9,
  PacketIn: 10,
  FlowRemoved: 11,
  PortStatus: 12,
  PacketOut: 13,
  FlowMod: 14,
  GroupMod: 15,
  PortMod: 16,
  TableMod: 17,
  MultipartRequest: 18,
  MultipartReply: 19,
  BarrierRequest: 20,
  BarrierReply: 21,
  RoleRequest: 24,
  RoleReply: 25,
  GetAsyncRequest: 26,
  GetAsyncReply: 27,
  SetAsync: 28,
  MeterMod: 29,
  RoleStatus: 30,
  TableStatus: 31,
  RequestForward: 32,
  BundleControl: 33,
  BundleAddMessage: 34,
  ControllerStatus: 35,
} as const;

/** The highest message type OpenFlow 1.5 defines; the framer treats larger ones as garbage. */
export const OFP_MAX_TYPE = OfpType.ControllerStatus;

/** HELLO element carrying the bitmap of supported versions. */
export const OFPHET_VERSIONBITMAP = 1;

export const NX_VENDOR_ID = 0x00002320;
/** Nicira extension header: ofp_header, vendor (NX_VENDOR_ID), subtype. */
export const NX_HEADER_LENGTH = 16;

export const NxtSubtype = {
  SetPacketInFormat: 16,
  SetControllerId: 20,
  Resume: 28,
  PacketIn2: 30,
} as const;

/** Values of NXT_SET_PACKET_IN_FORMAT. Only Nxt2 carries `controller(userdata=...)`. */
export const PacketInFormat = { Standard: 0, Nxt: 1, Nxt2: 2 } as const;

/** NXT_PACKET_IN2 property types (nx_packet_in2_prop_type). */
export const NxPacketIn2Prop = {
  Packet: 0,
  FullLength: 1,
  BufferId: 2,
  TableId: 3,
  Cookie: 4,
  Reason: 5,
  Metadata: 6,
  Userdata: 7,
  Continuation: 8,
} as const;

/** Reserved port numbers (32-bit, OpenFlow 1.1+). */
export const OfpPort = {
  Max: 0xffffff00,
  InPort: 0xfffffff8,
  Table: 0xfffffff9,
  Normal: 0xfffffffa,
  Flood: 0xfffffffb,
  All: 0xfffffffc,
  Controller: 0xfffffffd,
  Local: 0xfffffffe,
  Any: 0xffffffff,
} as const;

export const OFP_NO_BUFFER = 0xffffffff;
/** miss_send_len / max_len value meaning "send the whole packet, do not buffer". */
export const OFPCML_NO_BUFFER = 0xffff;

export const PacketInReason = {
  NoMatch: 0,
  Action: 1,
  InvalidTtl: 2,
  ActionSet: 3,
  Group: 4,
  PacketOut: 5,
} as const;

export const OfpActionType = { Output: 0, Experimenter: 0xffff } as const;

export const OFPMT_OXM = 1;

/** OXM classes. */
export const OxmClass = {
  Nxm0: 0x0000,
  Nxm1: 0x0001,
  OpenflowBasic: 0x8000,
  PacketRegs: 0x8001,
  Experimenter: 0xffff,
} as const;

/** OpenFlow-basic OXM fields this codebase reads. */
export const OxmBasicField = { InPort: 0, Metadata: 2, TunnelId: 38 } as const;

/**
 * NXM_NX_* fields of class 0x0001 (OVS meta-flow.h). Registers are fields 0–15 (reg0..reg15); in OpenFlow 1.5
 * messages OVS sends them as packet registers instead (class 0x8001, xregN = reg(2N) << 32 | reg(2N+1)).
 */
export const Nxm1Field = {
  TunIpv4Src: 31,
  TunIpv4Dst: 32,
  PktMark: 33,
  CtState: 105,
  CtZone: 106,
  CtMark: 107,
} as const;

export function packetInReasonName(reason: number): string {
  const names = ['no_match', 'action', 'invalid_ttl', 'action_set', 'group', 'packet_out'];
  return names[reason] ?? `reason_${reason}`;
}

export function ofpTypeName(type: number): string {
  for (const [name, value] of Object.entries(OfpType)) {
    if (value === type) return name;
  }
  return `type_${type}`;
}
