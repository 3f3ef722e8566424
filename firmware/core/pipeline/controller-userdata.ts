// What a flow tells the agent when it sends a packet to the controller, and how packet-ins are rate-limited.
//
// Userdata layout (5 bytes, carried by `controller(userdata=..)` and returned in NXT_PACKET_IN2):
//   byte 0     bits 0-6 purpose: 1 = Reject (answer with a TCP RST / ICMP unreachable), 2 = audit log only,
//              3 = Traceflow (a traced packet reached an observation point; bytes 1-4 then hold the deciding
//              rule's conjunction id, 0 where no rule decides, e.g. at Output);
//              bit 7 (0x80) = also write an audit log entry (a Reject rule with enableLogging: `81.…`). A Reject
//              rule already sends its packets to the agent, so logging it needs no second packet-in, only
//              this bit; the Reject responder ignores it and the audit logger reads it.
//   bytes 1-4  the rule's conjunction id, big-endian (the id in the rule's cookie and conj_id)
// The flow's table and cookie also arrive with every packet-in, but the userdata is self-describing, so a
// packet-in can be handled without looking up the flow that sent it.
//
// Packet-ins are metered: `meter:N` must be the first action of the flow (OVS 3.1 userspace datapath), and the
// meter drops what exceeds its rate before the packet reaches the controller action.

export const ControllerPurpose = { Reject: 1, AuditLog: 2, Traceflow: 3 } as const;
export type ControllerPurpose = (typeof ControllerPurpose)[keyof typeof ControllerPurpose];

export const CONTROLLER_USERDATA_LENGTH = 5;

/** Bit 7 of byte 0: the packet-in is also an audit log entry. */
export const CONTROLLER_LOG_FLAG = 0x80;

export interface ControllerUserdata {
  purpose: ControllerPurpose;
  /** Unsigned 32-bit conjunction id of the rule. */
  ruleId: number;
  /** Also audit-log the packet (set only on Reject: AuditLog packet-ins are always logged). */
  log?: boolean;
}

/** True when the packet-in must become an audit log entry: purpose AuditLog, or any purpose with the log bit. */
export function isAuditLogged(userdata: ControllerUserdata): boolean {
  return userdata.purpose === ControllerPurpose.AuditLog || userdata.log === true;
}

export type ControllerUserdataErrorCode = 'USERDATA_INVALID' | 'USERDATA_UNKNOWN_PURPOSE';

export class ControllerUserdataError extends Error {
  override readonly name = 'ControllerUserdataError';
  constructor(
    readonly code: ControllerUserdataErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type UserdataDecodeResult =
  { ok: true; userdata: ControllerUserdata } | { ok: false; error: ControllerUserdataError };

export function encodeControllerUserdata(userdata: ControllerUserdata): Uint8Array {
  checkUserdata(userdata);
  const out = new Uint8Array(CONTROLLER_USERDATA_LENGTH);
  out[0] = userdata.purpose | (userdata.log === true ? CONTROLLER_LOG_FLAG : 0);
  new DataView(out.buffer).setUint32(1, userdata.ruleId);
  return out;
}

function checkUserdata(userdata: ControllerUserdata): void {
  if (!isKnownPurpose(userdata.purpose)) {
    throw new ControllerUserdataError(
      'USERDATA_UNKNOWN_PURPOSE',
      `unknown controller purpose ${String(userdata.purpose)}`,
    );
  }
  if (userdata.purpose === ControllerPurpose.Traceflow && userdata.log === true) {
    throw new ControllerUserdataError('USERDATA_INVALID', 'traced packets are never audit-logged');
  }
  if (!Number.isInteger(userdata.ruleId) || userdata.ruleId < 0 || userdata.ruleId > 0xffff_ffff) {
    throw new ControllerUserdataError(
      'USERDATA_INVALID',
      `rule id ${userdata.ruleId} is not a 32-bit unsigned integer`,
    );
  }
}

function isKnownPurpose(purpose: number): purpose is ControllerPurpose {
  return (
    purpose === ControllerPurpose.Reject ||
    purpose === ControllerPurpose.AuditLog ||
    purpose === ControllerPurpose.Traceflow
  );
}

/** Decodes userdata from a packet-in. Never throws: packet-ins from other flows must not break the handler. */
export function decodeControllerUserdata(bytes: Uint8Array | undefined): UserdataDecodeResult {
  if (!bytes || bytes.length !== CONTROLLER_USERDATA_LENGTH) {
    return {
      ok: false,
      error: new ControllerUserdataError(
        'USERDATA_INVALID',
        `controller userdata must be ${CONTROLLER_USERDATA_LENGTH} bytes, got ${bytes ? bytes.length : 'none'}`,
      ),
    };
  }
  const first = bytes[0] as number;
  const purpose = first & ~CONTROLLER_LOG_FLAG;
  if (!isKnownPurpose(purpose)) {
    return {
      ok: false,
      error: new ControllerUserdataError('USERDATA_UNKNOWN_PURPOSE', `unknown controller purpose ${first}`),
    };
  }
  if (purpose === ControllerPurpose.Traceflow && (first & CONTROLLER_LOG_FLAG) !== 0) {
    // Traced packets are never audit-logged; a set bit means this is not userdata of ours.
    return {
      ok: false,
      error: new ControllerUserdataError(
        'USERDATA_INVALID',
        `traceflow userdata with the log bit (${first})`,
      ),
    };
  }
  const ruleId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
  // `log` appears only when set, so userdata without the bit decodes exactly as before the bit existed.
  const userdata: ControllerUserdata =
    (first & CONTROLLER_LOG_FLAG) !== 0 ? { purpose, ruleId, log: true } : { purpose, ruleId };
  return { ok: true, userdata };
}

/** The `userdata=` value as ovs-ofctl takes and dump-flows prints it: hex bytes joined by dots. */
export function controllerUserdataText(userdata: ControllerUserdata): string {
  return Array.from(encodeControllerUserdata(userdata), (b) => b.toString(16).padStart(2, '0')).join('.');
}

export interface ControllerActionOptions {
  /** The agent's OpenFlow connection id (NXT_SET_CONTROLLER_ID); only that connection gets the packet-in. */
  controllerId: number;
  userdata: ControllerUserdata;
  /** Packet-in reason OVS reports; default 'no_match' (what Antrea's reject and logging flows use). */
  reason?: 'no_match' | 'action';
  /** Bytes of the packet to send; default all (OVS then omits max_len from dump-flows). */
  maxLength?: number;
}

/**
 * The `controller(...)` action exactly as `dump-flows` prints it (OVS format_CONTROLLER: reason, max_len, id,
 * userdata, in that order; defaults omitted), so a planned flow compares equal to the installed one.
 */
export function controllerAction(options: ControllerActionOptions): string {
  const { controllerId, maxLength } = options;
  const reason = options.reason ?? 'no_match';
  if (!Number.isInteger(controllerId) || controllerId < 1 || controllerId > 0xffff) {
    // Id 0 is every connection's default: a packet-in for id 0 would reach ovs-ofctl monitors too.
    throw new ControllerUserdataError('USERDATA_INVALID', `controller id ${controllerId} is not in 1..65535`);
  }
  const parts: string[] = [];
  if (reason !== 'action') parts.push(`reason=${reason}`);
  if (maxLength !== undefined && maxLength !== 0xffff) {
    if (!Number.isInteger(maxLength) || maxLength < 0 || maxLength > 0xffff) {
      throw new ControllerUserdataError('USERDATA_INVALID', `max_len ${maxLength} is not a 16-bit value`);
    }
    parts.push(`max_len=${maxLength}`);
  }
  parts.push(`id=${controllerId}`);
  parts.push(`userdata=${controllerUserdataText(options.userdata)}`);
  return `controller(${parts.join(',')})`;
}

// ---------------------------------------------------------------------------------------------------------
// Packet-in meter

/**
 * The meter for NetworkPolicy packet-ins (Reject and audit logging). Antrea's numbers: meter 256 (1–255 are
 * kept for Egress QoS), 500 packets/s, burst twice the rate.
 */
export const NETWORK_POLICY_PACKET_IN_METER_ID = 256;
export const DEFAULT_PACKET_IN_RATE = 500;

export interface PacketInMeter {
  meterId: number;
  /** Packets per second passed to the controller. */
  rate: number;
  /** Packets allowed above the rate in a burst. */
  burst: number;
}

export function packetInMeter(overrides: Partial<PacketInMeter> = {}): PacketInMeter {
  const rate = overrides.rate ?? DEFAULT_PACKET_IN_RATE;
  const meter: PacketInMeter = {
    meterId: overrides.meterId ?? NETWORK_POLICY_PACKET_IN_METER_ID,
    rate,
    burst: overrides.burst ?? 2 * rate,
  };
  for (const [name, value, min] of [
    ['meterId', meter.meterId, 1],
    ['rate', meter.rate, 1],
    ['burst', meter.burst, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min || value > 0xffff_ffff) {
      throw new ControllerUserdataError('USERDATA_INVALID', `meter ${name} ${value} is out of range`);
    }
  }
  return meter;
}

/**
 * The `add-meter`/`mod-meter` argument, in the form `dump-meters` reads back: a packets-per-second meter with
 * one drop band.
 */
export function packetInMeterDefinition(meter: PacketInMeter): string {
  return `meter=${meter.meterId},pktps,burst,band=type=drop,rate=${meter.rate},burst_size=${meter.burst}`;
}

/** The action that must come first in a flow whose packet-ins `meter` limits. */
export function meterAction(meterId: number): string {
  return `meter:${meterId}`;
}

/** `meter:N,controller(...)`: the whole action list of a Reject (or logging) flow that sends to the agent. */
export function meteredControllerActions(meter: PacketInMeter, options: ControllerActionOptions): string {
  return `${meterAction(meter.meterId)},${controllerAction(options)}`;
}
