// OXM TLVs (OpenFlow 1.5.1 §7.2.3): the match of a PACKET_OUT and the metadata of a packet-in. Each TLV is a
// 32-bit header (class 16 bits, field 7 bits, has-mask 1 bit, payload length 8 bits) and the value, followed by
// a mask of the same size when has-mask is set. Experimenter TLVs (class 0xffff) put a 32-bit experimenter id
// first in the payload.
//
// OVS puts only the metadata that is not zero into a packet-in: registers that are all zero are absent, and a
// packet register (xreg, two 32-bit registers) of which one half is zero comes with a mask covering the other
// half. readPacketMetadata applies the masks, so a register that is absent or masked out reads as 0.
import { ByteReader, copyBytes, type ByteWriter } from './byte-io';
import { Nxm1Field, OxmBasicField, OxmClass } from './constants';
import { OpenFlowCodecError } from './errors';

export interface OxmField {
  readonly oxmClass: number;
  readonly field: number;
  /** Only for class 0xffff. */
  readonly experimenter?: number;
  readonly value: Uint8Array;
  readonly mask?: Uint8Array;
}

export const NUMBER_OF_REGISTERS = 16;

/** Decodes a sequence of OXM TLVs that fills `bytes` exactly (no padding). Throws OpenFlowCodecError. */
export function decodeOxmFields(bytes: Uint8Array, what: string): OxmField[] {
  const reader = new ByteReader(bytes, what);
  const fields: OxmField[] = [];
  while (reader.remaining > 0) {
    const oxmClass = reader.u16();
    const fieldAndMask = reader.u8();
    let length = reader.u8();
    const field = fieldAndMask >> 1;
    const hasMask = (fieldAndMask & 1) === 1;
    let experimenter: number | undefined;
    if (oxmClass === OxmClass.Experimenter) {
      if (length < 4) {
        throw new OpenFlowCodecError('OPENFLOW_BAD_LENGTH', `${what}: experimenter OXM of length ${length}`);
      }
      experimenter = reader.u32();
      length -= 4;
    }
    if (hasMask && length % 2 !== 0) {
      throw new OpenFlowCodecError('OPENFLOW_BAD_LENGTH', `${what}: masked OXM with odd length ${length}`);
    }
    const valueLength = hasMask ? length / 2 : length;
    const value = copyBytes(reader.bytesView(valueLength));
    const mask = hasMask ? copyBytes(reader.bytesView(valueLength)) : undefined;
    fields.push({
      oxmClass,
      field,
      value,
      ...(experimenter !== undefined ? { experimenter } : {}),
      ...(mask ? { mask } : {}),
    });
  }
  return fields;
}

export function encodeOxmFields(writer: ByteWriter, fields: readonly OxmField[]): void {
  for (const f of fields) {
    if (f.mask && f.mask.length !== f.value.length) {
      throw new OpenFlowCodecError('OPENFLOW_BAD_VALUE', 'OXM mask and value differ in length');
    }
    const experimenterBytes = f.oxmClass === OxmClass.Experimenter ? 4 : 0;
    const length = experimenterBytes + f.value.length * (f.mask ? 2 : 1);
    if (length > 0xff || f.field > 0x7f) {
      throw new OpenFlowCodecError(
        'OPENFLOW_BAD_VALUE',
        `OXM field ${f.field} of length ${length} does not fit`,
      );
    }
    writer.u16(f.oxmClass);
    writer.u8((f.field << 1) | (f.mask ? 1 : 0));
    writer.u8(length);
    if (experimenterBytes) writer.u32(f.experimenter ?? 0);
    writer.bytes(f.value);
    if (f.mask) writer.bytes(f.mask);
  }
}

/** The OXM_OF_IN_PORT field a PACKET_OUT's match must carry. */
export function inPortField(port: number): OxmField {
  const value = new Uint8Array(4);
  new DataView(value.buffer).setUint32(0, port >>> 0);
  return { oxmClass: OxmClass.OpenflowBasic, field: OxmBasicField.InPort, value };
}

/**
 * `reg<N>=value` as a PACKET_OUT match field (NXM_NX_REG<N>, class 0x0001): OpenFlow 1.5 packet-outs may set
 * pipeline fields, so the packet enters the tables with the register already loaded (Traceflow's mark).
 */
export function registerField(reg: number, value: number): OxmField {
  if (!Number.isInteger(reg) || reg < 0 || reg >= NUMBER_OF_REGISTERS) {
    throw new OpenFlowCodecError('OPENFLOW_BAD_VALUE', `register ${reg} does not exist`);
  }
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new OpenFlowCodecError('OPENFLOW_BAD_VALUE', `register value ${value} is not 32-bit unsigned`);
  }
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return { oxmClass: OxmClass.Nxm1, field: reg, value: bytes };
}

/** `tun_dst` (NXM_NX_TUN_IPV4_DST) for a packet-out's pipeline fields: where a flow-based tunnel port sends it. */
export function tunnelIpv4DstField(address: string): OxmField {
  const parts = address.split('.');
  const octets = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : NaN));
  if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) {
    throw new OpenFlowCodecError(
      'OPENFLOW_BAD_VALUE',
      `tunnel destination ${address} is not an IPv4 address`,
    );
  }
  return { oxmClass: OxmClass.Nxm1, field: Nxm1Field.TunIpv4Dst, value: Uint8Array.from(octets) };
}

/** The packet-in metadata fields this codebase uses, with masks applied; absent registers are 0. */
export interface PacketMetadata {
  inPort: number | undefined;
  /** reg0..reg15 as unsigned 32-bit numbers. */
  registers: number[];
  metadata: bigint | undefined;
  tunnelId: bigint | undefined;
  tunnelIpv4Src: string | undefined;
  tunnelIpv4Dst: string | undefined;
  pktMark: number | undefined;
  ctState: number | undefined;
  ctZone: number | undefined;
  ctMark: number | undefined;
}

export function readPacketMetadata(fields: readonly OxmField[]): PacketMetadata {
  const out: PacketMetadata = {
    inPort: undefined,
    registers: new Array<number>(NUMBER_OF_REGISTERS).fill(0),
    metadata: undefined,
    tunnelId: undefined,
    tunnelIpv4Src: undefined,
    tunnelIpv4Dst: undefined,
    pktMark: undefined,
    ctState: undefined,
    ctZone: undefined,
    ctMark: undefined,
  };
  for (const f of fields) {
    const value = masked(f);
    if (f.oxmClass === OxmClass.OpenflowBasic) {
      if (f.field === OxmBasicField.InPort && value.length === 4) out.inPort = uint(value);
      else if (f.field === OxmBasicField.Metadata && value.length === 8) out.metadata = bigUint(value);
      else if (f.field === OxmBasicField.TunnelId && value.length === 8) out.tunnelId = bigUint(value);
    } else if (f.oxmClass === OxmClass.PacketRegs && value.length === 8) {
      const high = 2 * f.field;
      if (high < NUMBER_OF_REGISTERS) out.registers[high] = uint(value.subarray(0, 4));
      if (high + 1 < NUMBER_OF_REGISTERS) out.registers[high + 1] = uint(value.subarray(4, 8));
    } else if (f.oxmClass === OxmClass.Nxm1) {
      if (f.field < NUMBER_OF_REGISTERS && value.length === 4) out.registers[f.field] = uint(value);
      else if (f.field === Nxm1Field.TunIpv4Src && value.length === 4) out.tunnelIpv4Src = value.join('.');
      else if (f.field === Nxm1Field.TunIpv4Dst && value.length === 4) out.tunnelIpv4Dst = value.join('.');
      else if (f.field === Nxm1Field.PktMark && value.length === 4) out.pktMark = uint(value);
      else if (f.field === Nxm1Field.CtState && value.length === 4) out.ctState = uint(value);
      else if (f.field === Nxm1Field.CtZone && value.length === 2)
        out.ctZone = (value[0] as number) * 256 + (value[1] as number);
      else if (f.field === Nxm1Field.CtMark && value.length === 4) out.ctMark = uint(value);
    }
  }
  return out;
}

function masked(f: OxmField): Uint8Array {
  if (!f.mask) return f.value;
  const out = new Uint8Array(f.value.length);
  for (let i = 0; i < out.length; i++) out[i] = (f.value[i] as number) & (f.mask[i] as number);
  return out;
}

function uint(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

function bigUint(bytes: Uint8Array): bigint {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0);
}
