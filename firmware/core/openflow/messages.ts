// Encoder and decoder for the OpenFlow 1.5 messages of the packet-in/packet-out channel, as plain data.
// Both directions exist for every message so that tests (and a fake switch) can round-trip them.
//
// Layouts: OpenFlow 1.5.1 §7 for the standard messages; OVS nicira-ext.h for NXT_* (an OFPT_EXPERIMENTER
// message with vendor 0x00002320 and a 32-bit subtype) and lib/ofp-packet.c for NXT_PACKET_IN2's properties:
// each is type (16 bits), length (16 bits, header included, padding excluded), payload, zero padding to 8
// bytes; 64-bit values (the cookie) sit after 4 bytes of padding so that they are 8-byte aligned.
//
// decodeMessage never throws: a malformed message comes back as an OpenFlowCodecError value.
import { ByteReader, ByteWriter, copyBytes } from './byte-io';
import {
  NX_VENDOR_ID,
  NxPacketIn2Prop,
  NxtSubtype,
  OFP_HEADER_LENGTH,
  OFP_MAX_MESSAGE_LENGTH,
  OFP_NO_BUFFER,
  OFP_VERSION_1_5,
  OFPHET_VERSIONBITMAP,
  OFPMT_OXM,
  OfpActionType,
  OfpPort,
  OfpType,
} from './constants';
import { OFPET_EXPERIMENTER, OpenFlowCodecError } from './errors';
import { decodeOxmFields, encodeOxmFields, inPortField, type OxmField } from './oxm';

/** A 64-bit cookie of all ones: what OVS means by "no cookie" (it then omits the property). */
export const NO_COOKIE = 0xffff_ffff_ffff_ffffn;

export type OutputAction = { type: 'output'; port: number; maxLength: number };
/** An action this codec does not interpret, kept byte for byte (body = everything after type and length). */
export type UnknownAction = { type: 'unknown'; actionType: number; body: Uint8Array };
export type Action = OutputAction | UnknownAction;

export interface HelloMessage {
  type: 'hello';
  xid: number;
  /** The header's version: the highest version the sender supports. */
  version: number;
  /** Versions from the version-bitmap element; empty when the sender sent none. */
  versions: number[];
}

export interface ErrorMessage {
  type: 'error';
  xid: number;
  /** The header's version (errors may come in the peer's version during the handshake). */
  version: number;
  errorType: number;
  errorCode: number;
  /** Only for errorType 0xffff (OFPET_EXPERIMENTER). */
  experimenter?: number;
  /** Usually the start of the request that failed. */
  data: Uint8Array;
}

export interface EchoMessage {
  type: 'echo-request' | 'echo-reply';
  xid: number;
  data: Uint8Array;
}

export interface BodylessMessage {
  type: 'features-request' | 'get-config-request' | 'barrier-request' | 'barrier-reply';
  xid: number;
}

export interface FeaturesReplyMessage {
  type: 'features-reply';
  xid: number;
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  auxiliaryId: number;
  capabilities: number;
}

export interface SwitchConfigMessage {
  type: 'set-config' | 'get-config-reply';
  xid: number;
  flags: number;
  /** Bytes of a table-miss packet sent to the controller; 0xffff = whole packet, unbuffered. */
  missSendLength: number;
}

export interface SetPacketInFormatMessage {
  type: 'nx-set-packet-in-format';
  xid: number;
  format: number;
}

export interface SetControllerIdMessage {
  type: 'nx-set-controller-id';
  xid: number;
  controllerId: number;
}

/** What both packet-in formats carry. */
export interface PacketInFields {
  xid: number;
  /** The frame as sent (may be shorter than fullLength when truncated by max_len). */
  packet: Uint8Array;
  fullLength: number;
  bufferId: number;
  /** The table holding the flow that sent the packet. */
  tableId: number;
  /** That flow's cookie; NO_COOKIE when absent. */
  cookie: bigint;
  reason: number;
  /** Metadata OXM fields: in_port, registers (as packet registers), tunnel and conntrack fields. */
  metadata: OxmField[];
}

export interface PacketIn2Message extends PacketInFields {
  type: 'nx-packet-in2';
  /** `controller(userdata=...)` bytes. */
  userdata?: Uint8Array;
  /** Raw NXPINT_CONTINUATION (only with `controller(pause)`), to be sent back in NXT_RESUME. */
  continuation?: Uint8Array;
}

export interface PacketInMessage extends PacketInFields {
  type: 'packet-in';
}

export interface PacketOutMessage {
  type: 'packet-out';
  xid: number;
  bufferId: number;
  /** Must contain OXM_OF_IN_PORT (OVS rejects a PACKET_OUT without it). */
  match: OxmField[];
  actions: Action[];
  packet: Uint8Array;
}

/** A message this codec does not interpret (e.g. PORT_STATUS), with its body after the (NX) header. */
export interface UnknownMessage {
  type: 'unknown';
  xid: number;
  version: number;
  ofpType: number;
  /** Set for OFPT_EXPERIMENTER messages. */
  experimenter?: number;
  experimenterType?: number;
  body: Uint8Array;
}

export type OpenFlowMessage =
  | HelloMessage
  | ErrorMessage
  | EchoMessage
  | BodylessMessage
  | FeaturesReplyMessage
  | SwitchConfigMessage
  | SetPacketInFormatMessage
  | SetControllerIdMessage
  | PacketIn2Message
  | PacketInMessage
  | PacketOutMessage
  | UnknownMessage;

export type DecodeResult = { ok: true; message: OpenFlowMessage } | { ok: false; error: OpenFlowCodecError };

export interface MessageHeader {
  version: number;
  type: number;
  length: number;
  xid: number;
}

/** Reads the 8-byte header; undefined when fewer than 8 bytes are given. */
export function readHeader(bytes: Uint8Array): MessageHeader | undefined {
  if (bytes.length < OFP_HEADER_LENGTH) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, OFP_HEADER_LENGTH);
  return {
    version: view.getUint8(0),
    type: view.getUint8(1),
    length: view.getUint16(2),
    xid: view.getUint32(4),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

export function encodeMessage(message: OpenFlowMessage): Uint8Array {
  const w = new ByteWriter();
  switch (message.type) {
    case 'hello': {
      header(w, OfpType.Hello, message.xid, message.version);
      if (message.versions.length > 0) {
        const words = new Array<number>(Math.floor(Math.max(...message.versions) / 32) + 1).fill(0);
        for (const v of message.versions) {
          const index = Math.floor(v / 32);
          words[index] = ((words[index] ?? 0) | (1 << (v % 32))) >>> 0;
        }
        w.u16(OFPHET_VERSIONBITMAP).u16(4 + 4 * words.length);
        for (const word of words) w.u32(word);
        w.padTo(8);
      }
      break;
    }
    case 'error':
      header(w, OfpType.Error, message.xid, message.version);
      w.u16(message.errorType).u16(message.errorCode);
      if (message.errorType === OFPET_EXPERIMENTER) w.u32(message.experimenter ?? 0);
      w.bytes(message.data);
      break;
    case 'echo-request':
    case 'echo-reply':
      header(w, message.type === 'echo-request' ? OfpType.EchoRequest : OfpType.EchoReply, message.xid);
      w.bytes(message.data);
      break;
    case 'features-request':
      header(w, OfpType.FeaturesRequest, message.xid);
      break;
    case 'get-config-request':
      header(w, OfpType.GetConfigRequest, message.xid);
      break;
    case 'barrier-request':
      header(w, OfpType.BarrierRequest, message.xid);
      break;
    case 'barrier-reply':
      header(w, OfpType.BarrierReply, message.xid);
      break;
    case 'features-reply':
      header(w, OfpType.FeaturesReply, message.xid);
      w.u64(message.datapathId).u32(message.nBuffers).u8(message.nTables).u8(message.auxiliaryId).zeros(2);
      w.u32(message.capabilities).u32(0);
      break;
    case 'set-config':
    case 'get-config-reply':
      header(w, message.type === 'set-config' ? OfpType.SetConfig : OfpType.GetConfigReply, message.xid);
      w.u16(message.flags).u16(message.missSendLength);
      break;
    case 'nx-set-packet-in-format':
      nxHeader(w, NxtSubtype.SetPacketInFormat, message.xid);
      w.u32(message.format);
      break;
    case 'nx-set-controller-id':
      nxHeader(w, NxtSubtype.SetControllerId, message.xid);
      w.zeros(6).u16(message.controllerId);
      break;
    case 'nx-packet-in2':
      nxHeader(w, NxtSubtype.PacketIn2, message.xid);
      encodePacketIn2Properties(w, message);
      break;
    case 'packet-in':
      header(w, OfpType.PacketIn, message.xid);
      w.u32(message.bufferId)
        .u16(message.fullLength)
        .u8(message.reason)
        .u8(message.tableId)
        .u64(message.cookie);
      encodeMatch(w, message.metadata);
      w.zeros(2).bytes(message.packet);
      break;
    case 'packet-out': {
      header(w, OfpType.PacketOut, message.xid);
      w.u32(message.bufferId);
      const actionsLengthAt = w.size;
      w.u16(0).zeros(2);
      encodeMatch(w, message.match);
      const actionsStart = w.size;
      encodeActions(w, message.actions);
      w.patchU16(actionsLengthAt, w.size - actionsStart);
      w.bytes(message.packet);
      break;
    }
    case 'unknown':
      header(w, message.ofpType, message.xid, message.version);
      if (message.experimenter !== undefined) w.u32(message.experimenter).u32(message.experimenterType ?? 0);
      w.bytes(message.body);
      break;
  }
  if (w.size > OFP_MAX_MESSAGE_LENGTH) {
    throw new OpenFlowCodecError(
      'OPENFLOW_BAD_LENGTH',
      `${message.type} message of ${w.size} bytes exceeds 65535`,
    );
  }
  w.patchU16(2, w.size);
  return w.finish();
}

function header(w: ByteWriter, type: number, xid: number, version = OFP_VERSION_1_5): void {
  w.u8(version).u8(type).u16(0).u32(xid);
}

function nxHeader(w: ByteWriter, subtype: number, xid: number): void {
  header(w, OfpType.Experimenter, xid);
  w.u32(NX_VENDOR_ID).u32(subtype);
}

/** ofp_match: type OXM, length (header + fields, without padding), fields, zero padding to 8 bytes. */
function encodeMatch(w: ByteWriter, fields: readonly OxmField[]): void {
  const start = w.size;
  w.u16(OFPMT_OXM).u16(0);
  encodeOxmFields(w, fields);
  w.patchU16(start + 2, w.size - start);
  w.padTo(8);
}

function encodeActions(w: ByteWriter, actions: readonly Action[]): void {
  for (const action of actions) {
    if (action.type === 'output') {
      w.u16(OfpActionType.Output).u16(16).u32(action.port).u16(action.maxLength).zeros(6);
    } else {
      const length = 4 + action.body.length;
      if (length % 8 !== 0) {
        throw new OpenFlowCodecError(
          'OPENFLOW_BAD_LENGTH',
          `action of type ${action.actionType} has length ${length}`,
        );
      }
      w.u16(action.actionType).u16(length).bytes(action.body);
    }
  }
}

function encodePacketIn2Properties(w: ByteWriter, m: PacketIn2Message): void {
  property(w, NxPacketIn2Prop.Packet, (p) => p.bytes(m.packet));
  if (m.fullLength !== m.packet.length) property(w, NxPacketIn2Prop.FullLength, (p) => p.u32(m.fullLength));
  if (m.bufferId !== OFP_NO_BUFFER) property(w, NxPacketIn2Prop.BufferId, (p) => p.u32(m.bufferId));
  property(w, NxPacketIn2Prop.TableId, (p) => p.u8(m.tableId));
  if (m.cookie !== NO_COOKIE) property(w, NxPacketIn2Prop.Cookie, (p) => p.zeros(4).u64(m.cookie));
  property(w, NxPacketIn2Prop.Reason, (p) => p.u8(m.reason));
  property(w, NxPacketIn2Prop.Metadata, (p) => encodeOxmFields(p, m.metadata));
  if (m.userdata) {
    const userdata = m.userdata;
    property(w, NxPacketIn2Prop.Userdata, (p) => p.bytes(userdata));
  }
  if (m.continuation) {
    const continuation = m.continuation;
    property(w, NxPacketIn2Prop.Continuation, (p) => p.bytes(continuation));
  }
}

function property(w: ByteWriter, type: number, body: (w: ByteWriter) => void): void {
  const start = w.size;
  w.u16(type).u16(0);
  body(w);
  w.patchU16(start + 2, w.size - start);
  w.padTo(8);
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/** Decodes exactly one message (`bytes` as the framer delivers it). Never throws. */
export function decodeMessage(bytes: Uint8Array): DecodeResult {
  try {
    return { ok: true, message: decodeOrThrow(bytes) };
  } catch (err) {
    if (err instanceof OpenFlowCodecError) return { ok: false, error: err };
    return {
      ok: false,
      error: new OpenFlowCodecError('OPENFLOW_BAD_VALUE', `undecodable message: ${String(err)}`, 0, {
        cause: err,
      }),
    };
  }
}

function decodeOrThrow(bytes: Uint8Array): OpenFlowMessage {
  const h = readHeader(bytes);
  if (!h)
    throw new OpenFlowCodecError('OPENFLOW_TRUNCATED', `message of ${bytes.length} bytes has no full header`);
  if (h.length !== bytes.length) {
    throw new OpenFlowCodecError(
      'OPENFLOW_BAD_LENGTH',
      `header says ${h.length} bytes, ${bytes.length} given (type ${h.type})`,
    );
  }
  const body = new ByteReader(bytes.subarray(OFP_HEADER_LENGTH), `OpenFlow type ${h.type}`);
  // HELLO and ERROR keep their layout in every version; the rest is decoded as OpenFlow 1.5 only.
  if (h.type === OfpType.Hello) return decodeHello(h, body);
  if (h.type === OfpType.Error) return decodeError(h, body);
  if (h.version !== OFP_VERSION_1_5) {
    throw new OpenFlowCodecError('OPENFLOW_BAD_VERSION', `message type ${h.type} in version ${h.version}`);
  }
  const xid = h.xid;
  switch (h.type) {
    case OfpType.EchoRequest:
      return { type: 'echo-request', xid, data: copyBytes(body.rest()) };
    case OfpType.EchoReply:
      return { type: 'echo-reply', xid, data: copyBytes(body.rest()) };
    case OfpType.FeaturesRequest:
      return { type: 'features-request', xid };
    case OfpType.GetConfigRequest:
      return { type: 'get-config-request', xid };
    case OfpType.BarrierRequest:
      return { type: 'barrier-request', xid };
    case OfpType.BarrierReply:
      return { type: 'barrier-reply', xid };
    case OfpType.FeaturesReply: {
      const datapathId = body.u64();
      const nBuffers = body.u32();
      const nTables = body.u8();
      const auxiliaryId = body.u8();
      body.skip(2);
      const capabilities = body.u32();
      body.skip(4);
      return { type: 'features-reply', xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
    }
    case OfpType.SetConfig:
    case OfpType.GetConfigReply: {
      const flags = body.u16();
      const missSendLength = body.u16();
      return {
        type: h.type === OfpType.SetConfig ? 'set-config' : 'get-config-reply',
        xid,
        flags,
        missSendLength,
      };
    }
    case OfpType.PacketIn:
      return decodeStandardPacketIn(xid, body);
    case OfpType.PacketOut:
      return decodePacketOut(xid, body);
    case OfpType.Experimenter:
      return decodeExperimenter(h, body);
    default:
      return { type: 'unknown', xid, version: h.version, ofpType: h.type, body: copyBytes(body.rest()) };
  }
}

function decodeHello(h: MessageHeader, body: ByteReader): HelloMessage {
  const versions: number[] = [];
  // Elements: type, length (header included), payload, padding to 8. Unknown element types are skipped.
  while (body.remaining >= 4) {
    const type = body.u16();
    const length = body.u16();
    if (length < 4) throw new OpenFlowCodecError('OPENFLOW_BAD_LENGTH', `HELLO element of length ${length}`);
    const payload = new ByteReader(body.bytesView(length - 4), 'HELLO element');
    body.skip(Math.min(body.remaining, (8 - (length % 8)) % 8));
    if (type !== OFPHET_VERSIONBITMAP) continue;
    for (let word = 0; payload.remaining >= 4; word++) {
      const bits = payload.u32();
      for (let bit = 0; bit < 32; bit++) if (bits & (1 << bit)) versions.push(word * 32 + bit);
    }
  }
  return { type: 'hello', xid: h.xid, version: h.version, versions };
}

function decodeError(h: MessageHeader, body: ByteReader): ErrorMessage {
  const errorType = body.u16();
  const errorCode = body.u16();
  if (errorType === OFPET_EXPERIMENTER) {
    const experimenter = body.u32();
    return {
      type: 'error',
      xid: h.xid,
      version: h.version,
      errorType,
      errorCode,
      experimenter,
      data: copyBytes(body.rest()),
    };
  }
  return {
    type: 'error',
    xid: h.xid,
    version: h.version,
    errorType,
    errorCode,
    data: copyBytes(body.rest()),
  };
}

function decodeExperimenter(h: MessageHeader, body: ByteReader): OpenFlowMessage {
  const experimenter = body.u32();
  const subtype = body.u32();
  const xid = h.xid;
  if (experimenter === NX_VENDOR_ID) {
    switch (subtype) {
      case NxtSubtype.SetPacketInFormat:
        return { type: 'nx-set-packet-in-format', xid, format: body.u32() };
      case NxtSubtype.SetControllerId:
        body.skip(6);
        return { type: 'nx-set-controller-id', xid, controllerId: body.u16() };
      case NxtSubtype.PacketIn2:
        return decodePacketIn2(xid, body);
    }
  }
  return {
    type: 'unknown',
    xid,
    version: h.version,
    ofpType: h.type,
    experimenter,
    experimenterType: subtype,
    body: copyBytes(body.rest()),
  };
}

function decodePacketIn2(xid: number, body: ByteReader): PacketIn2Message {
  let packet: Uint8Array | undefined;
  let fullLength: number | undefined;
  const message: PacketIn2Message = {
    type: 'nx-packet-in2',
    xid,
    packet: new Uint8Array(0),
    fullLength: 0,
    bufferId: OFP_NO_BUFFER,
    tableId: 0,
    cookie: NO_COOKIE,
    reason: 0,
    metadata: [],
  };
  while (body.remaining > 0) {
    const type = body.u16();
    const length = body.u16();
    if (length < 4)
      throw new OpenFlowCodecError('OPENFLOW_BAD_LENGTH', `NXT_PACKET_IN2 property of length ${length}`);
    const payload = body.bytesView(length - 4);
    // The last property's padding must be there too: OVS always pads the message to 8 bytes.
    body.skip((8 - (length % 8)) % 8);
    const p = new ByteReader(payload, `NXT_PACKET_IN2 property ${type}`);
    switch (type) {
      case NxPacketIn2Prop.Packet:
        packet = copyBytes(payload);
        break;
      case NxPacketIn2Prop.FullLength:
        fullLength = p.u32();
        break;
      case NxPacketIn2Prop.BufferId:
        message.bufferId = p.u32();
        break;
      case NxPacketIn2Prop.TableId:
        message.tableId = p.u8();
        break;
      case NxPacketIn2Prop.Cookie:
        if (payload.length === 12) p.skip(4);
        message.cookie = p.u64();
        break;
      case NxPacketIn2Prop.Reason:
        message.reason = p.u8();
        break;
      case NxPacketIn2Prop.Metadata:
        message.metadata = decodeOxmFields(payload, 'NXT_PACKET_IN2 metadata');
        break;
      case NxPacketIn2Prop.Userdata:
        message.userdata = copyBytes(payload);
        break;
      case NxPacketIn2Prop.Continuation:
        message.continuation = copyBytes(payload);
        break;
      default:
        // Properties added by later OVS versions are skipped, as OVS itself does with loose decoding.
        break;
    }
  }
  if (!packet) throw new OpenFlowCodecError('OPENFLOW_BAD_VALUE', 'NXT_PACKET_IN2 without a packet property');
  message.packet = packet;
  message.fullLength = fullLength ?? packet.length;
  if (message.fullLength < packet.length) {
    throw new OpenFlowCodecError(
      'OPENFLOW_BAD_VALUE',
      `NXT_PACKET_IN2 full_len ${message.fullLength} < ${packet.length}`,
    );
  }
  return message;
}

function decodeMatch(body: ByteReader, what: string): OxmField[] {
  const type = body.u16();
  const length = body.u16();
  if (type !== OFPMT_OXM)
    throw new OpenFlowCodecError('OPENFLOW_BAD_VALUE', `${what}: match type ${type} is not OXM`);
  if (length < 4) throw new OpenFlowCodecError('OPENFLOW_BAD_LENGTH', `${what}: match length ${length}`);
  const fields = decodeOxmFields(body.bytesView(length - 4), `${what} match`);
  body.skip((8 - (length % 8)) % 8);
  return fields;
}

function decodeStandardPacketIn(xid: number, body: ByteReader): PacketInMessage {
  const bufferId = body.u32();
  const fullLength = body.u16();
  const reason = body.u8();
  const tableId = body.u8();
  const cookie = body.u64();
  const metadata = decodeMatch(body, 'OFPT_PACKET_IN');
  body.skip(2);
  const packet = copyBytes(body.rest());
  return { type: 'packet-in', xid, bufferId, fullLength, reason, tableId, cookie, metadata, packet };
}

function decodePacketOut(xid: number, body: ByteReader): PacketOutMessage {
  const bufferId = body.u32();
  const actionsLength = body.u16();
  body.skip(2);
  const match = decodeMatch(body, 'OFPT_PACKET_OUT');
  const actions = decodeActions(body.bytesView(actionsLength));
  return { type: 'packet-out', xid, bufferId, match, actions, packet: copyBytes(body.rest()) };
}

function decodeActions(bytes: Uint8Array): Action[] {
  const reader = new ByteReader(bytes, 'action list');
  const actions: Action[] = [];
  while (reader.remaining > 0) {
    const actionType = reader.u16();
    const length = reader.u16();
    if (length < 8 || length % 8 !== 0) {
      throw new OpenFlowCodecError(
        'OPENFLOW_BAD_LENGTH',
        `action of type ${actionType} has length ${length}`,
      );
    }
    const a = new ByteReader(reader.bytesView(length - 4), `action ${actionType}`);
    if (actionType === OfpActionType.Output && length === 16) {
      const port = a.u32();
      const maxLength = a.u16();
      actions.push({ type: 'output', port, maxLength });
    } else {
      actions.push({ type: 'unknown', actionType, body: copyBytes(a.rest()) });
    }
  }
  return actions;
}

/**
 * Where a PACKET_OUT goes. OVS silently drops `in_port=N` with `output:N`, so sending a packet back out the
 * port it came from is either in_port CONTROLLER (the default) with output N, or in_port N with output IN_PORT.
 */
export type PacketOutTarget = { outPort: number; inPort?: number } | { outPort: 'IN_PORT'; inPort: number };

/**
 * An unbuffered PACKET_OUT that emits `packet` on one port, unchanged. `pipelineFields` (e.g. registerField)
 * are set before the packet's first table when the output port is TABLE.
 */
export function packetOutMessage(
  xid: number,
  packet: Uint8Array,
  target: PacketOutTarget,
  pipelineFields: readonly OxmField[] = [],
  /** Actions before the output, e.g. setFieldAction(tunnelIpv4DstField(...)) for a flow-based tunnel port. */
  actionsBeforeOutput: readonly Action[] = [],
): PacketOutMessage {
  const port = target.outPort === 'IN_PORT' ? OfpPort.InPort : target.outPort;
  return {
    type: 'packet-out',
    xid,
    bufferId: OFP_NO_BUFFER,
    match: [inPortField(target.inPort ?? OfpPort.Controller), ...pipelineFields],
    actions: [...actionsBeforeOutput, { type: 'output', port, maxLength: 0 }],
    packet,
  };
}

/** OFPAT_SET_FIELD of OpenFlow 1.3+: the field's OXM TLV, padded to 8 bytes. */
export const OFPAT_SET_FIELD = 25;

/**
 * A set_field action. Tunnel metadata must be SET by an action: in a packet-out's match it is the packet's
 * incoming tunnel, and OVS refuses to tunnel a packet back to the address it "came from" ("Not tunneling to our
 * own address").
 */
export function setFieldAction(field: OxmField): Action {
  const w = new ByteWriter();
  encodeOxmFields(w, [field]);
  const padding = (8 - ((4 + w.size) % 8)) % 8;
  w.zeros(padding);
  return { type: 'unknown', actionType: OFPAT_SET_FIELD, body: w.finish() };
}
