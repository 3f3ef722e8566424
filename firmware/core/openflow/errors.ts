// Typed errors of the OpenFlow codec, and the names of the error types and codes a switch reports in an
// OFPT_ERROR message (OpenFlow 1.5.1 §7.5.4), so that a log line says OFPBAC_BAD_OUT_PORT and not (2,4).

export type OpenFlowCodecErrorCode =
  /** A message, property, OXM field or action ends before its announced length. */
  | 'OPENFLOW_TRUNCATED'
  /** A length field is impossible (smaller than its header, not a multiple of 8 where that is required). */
  | 'OPENFLOW_BAD_LENGTH'
  /** A message of another OpenFlow version than the one being decoded. */
  | 'OPENFLOW_BAD_VERSION'
  /** A field holds a value the message cannot have (e.g. a match type other than OXM). */
  | 'OPENFLOW_BAD_VALUE'
  /** Bytes in the stream that cannot start an OpenFlow message; the framer skipped them. */
  | 'OPENFLOW_GARBAGE'
  /** The message callback threw; the framer carried on with the next message. */
  | 'OPENFLOW_HANDLER';

export class OpenFlowCodecError extends Error {
  override readonly name = 'OpenFlowCodecError';

  constructor(
    readonly code: OpenFlowCodecErrorCode,
    message: string,
    /** Input bytes thrown away because of this error (framer errors only). */
    readonly droppedBytes = 0,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const OFPET_EXPERIMENTER = 0xffff;

const ERROR_TYPES: readonly { name: string; prefix: string; codes: readonly string[] }[] = [
  { name: 'OFPET_HELLO_FAILED', prefix: 'OFPHFC', codes: ['INCOMPATIBLE', 'EPERM'] },
  {
    name: 'OFPET_BAD_REQUEST',
    prefix: 'OFPBRC',
    codes: [
      'BAD_VERSION',
      'BAD_TYPE',
      'BAD_MULTIPART',
      'BAD_EXPERIMENTER',
      'BAD_EXP_TYPE',
      'EPERM',
      'BAD_LEN',
      'BUFFER_EMPTY',
      'BUFFER_UNKNOWN',
      'BAD_TABLE_ID',
      'IS_SLAVE',
      'BAD_PORT',
      'BAD_PACKET',
      'MULTIPART_BUFFER_OVERFLOW',
      'MULTIPART_REQUEST_TIMEOUT',
      'MULTIPART_REPLY_TIMEOUT',
      'MULTIPART_BAD_SCHED',
      'PIPELINE_FIELDS_ONLY',
      'UNKNOWN',
    ],
  },
  {
    name: 'OFPET_BAD_ACTION',
    prefix: 'OFPBAC',
    codes: [
      'BAD_TYPE',
      'BAD_LEN',
      'BAD_EXPERIMENTER',
      'BAD_EXP_TYPE',
      'BAD_OUT_PORT',
      'BAD_ARGUMENT',
      'EPERM',
      'TOO_MANY',
      'BAD_QUEUE',
      'BAD_OUT_GROUP',
      'MATCH_INCONSISTENT',
      'UNSUPPORTED_ORDER',
      'BAD_TAG',
      'BAD_SET_TYPE',
      'BAD_SET_LEN',
      'BAD_SET_ARGUMENT',
      'BAD_SET_MASK',
      'BAD_METER',
    ],
  },
  {
    name: 'OFPET_BAD_INSTRUCTION',
    prefix: 'OFPBIC',
    codes: [
      'UNKNOWN_INST',
      'UNSUP_INST',
      'BAD_TABLE_ID',
      'UNSUP_METADATA',
      'UNSUP_METADATA_MASK',
      'BAD_EXPERIMENTER',
      'BAD_EXP_TYPE',
      'BAD_LEN',
      'EPERM',
      'DUP_INST',
    ],
  },
  {
    name: 'OFPET_BAD_MATCH',
    prefix: 'OFPBMC',
    codes: [
      'BAD_TYPE',
      'BAD_LEN',
      'BAD_TAG',
      'BAD_DL_ADDR_MASK',
      'BAD_NW_ADDR_MASK',
      'BAD_WILDCARDS',
      'BAD_FIELD',
      'BAD_VALUE',
      'BAD_MASK',
      'BAD_PREREQ',
      'DUP_FIELD',
      'EPERM',
    ],
  },
  {
    name: 'OFPET_FLOW_MOD_FAILED',
    prefix: 'OFPFMFC',
    codes: [
      'UNKNOWN',
      'TABLE_FULL',
      'BAD_TABLE_ID',
      'OVERLAP',
      'EPERM',
      'BAD_TIMEOUT',
      'BAD_COMMAND',
      'BAD_FLAGS',
      'CANT_SYNC',
      'BAD_PRIORITY',
      'IS_SYNC',
    ],
  },
  {
    name: 'OFPET_GROUP_MOD_FAILED',
    prefix: 'OFPGMFC',
    codes: [
      'GROUP_EXISTS',
      'INVALID_GROUP',
      'WEIGHT_UNSUPPORTED',
      'OUT_OF_GROUPS',
      'OUT_OF_BUCKETS',
      'CHAINING_UNSUPPORTED',
      'WATCH_UNSUPPORTED',
      'LOOP',
      'UNKNOWN_GROUP',
      'CHAINED_GROUP',
      'BAD_TYPE',
      'BAD_COMMAND',
      'BAD_BUCKET',
      'BAD_WATCH',
      'EPERM',
    ],
  },
  {
    name: 'OFPET_PORT_MOD_FAILED',
    prefix: 'OFPPMFC',
    codes: ['BAD_PORT', 'BAD_HW_ADDR', 'BAD_CONFIG', 'BAD_ADVERTISE', 'EPERM'],
  },
  { name: 'OFPET_TABLE_MOD_FAILED', prefix: 'OFPTMFC', codes: ['BAD_TABLE', 'BAD_CONFIG', 'EPERM'] },
  { name: 'OFPET_QUEUE_OP_FAILED', prefix: 'OFPQOFC', codes: ['BAD_PORT', 'BAD_QUEUE', 'EPERM'] },
  { name: 'OFPET_SWITCH_CONFIG_FAILED', prefix: 'OFPSCFC', codes: ['BAD_FLAGS', 'BAD_LEN', 'EPERM'] },
  {
    name: 'OFPET_ROLE_REQUEST_FAILED',
    prefix: 'OFPRRFC',
    codes: ['STALE', 'UNSUP', 'BAD_ROLE', 'ID_UNSUP', 'ID_IN_USE'],
  },
  {
    name: 'OFPET_METER_MOD_FAILED',
    prefix: 'OFPMMFC',
    codes: [
      'UNKNOWN',
      'METER_EXISTS',
      'INVALID_METER',
      'UNKNOWN_METER',
      'BAD_COMMAND',
      'BAD_FLAGS',
      'BAD_RATE',
      'BAD_BURST',
      'BAD_BAND',
      'BAD_BAND_VALUE',
      'OUT_OF_METERS',
      'OUT_OF_BANDS',
    ],
  },
  { name: 'OFPET_TABLE_FEATURES_FAILED', prefix: 'OFPTFFC', codes: [] },
  {
    name: 'OFPET_BAD_PROPERTY',
    prefix: 'OFPBPC',
    codes: [
      'BAD_TYPE',
      'BAD_LEN',
      'BAD_VALUE',
      'TOO_MANY',
      'DUP_TYPE',
      'BAD_EXPERIMENTER',
      'BAD_EXP_TYPE',
      'BAD_EXP_VALUE',
      'EPERM',
    ],
  },
  { name: 'OFPET_ASYNC_CONFIG_FAILED', prefix: 'OFPACFC', codes: ['INVALID', 'UNSUPPORTED', 'EPERM'] },
  { name: 'OFPET_FLOW_MONITOR_FAILED', prefix: 'OFPMOFC', codes: [] },
  { name: 'OFPET_BUNDLE_FAILED', prefix: 'OFPBFC', codes: [] },
];

export function errorTypeName(type: number): string {
  if (type === OFPET_EXPERIMENTER) return 'OFPET_EXPERIMENTER';
  return ERROR_TYPES[type]?.name ?? `OFPET_${type}`;
}

/** E.g. `OFPBAC_BAD_OUT_PORT`; `OFPBAC_23` for a code without a name here. */
export function errorCodeName(type: number, code: number): string {
  if (type === OFPET_EXPERIMENTER) return `EXPERIMENTER_${code}`;
  const entry = ERROR_TYPES[type];
  if (!entry) return `OFPET_${type}_${code}`;
  const name = entry.codes[code];
  return name ? `${entry.prefix}_${name}` : `${entry.prefix}_${code}`;
}
