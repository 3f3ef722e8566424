// Typed errors of the packet parser and builders. Parsing never throws (it returns these); builders throw them
// only when called with a frame they cannot answer, which the caller rules out with `rejectReplyFor`.

export type PacketErrorCode =
  /** The frame ends before a header (or the length a header announces) is complete. */
  | 'PACKET_TRUNCATED'
  /** A header field holds a value no valid packet has (IPv4 IHL < 5, TCP data offset < 5, ...). */
  | 'PACKET_MALFORMED'
  /** A well-formed frame of a kind this module does not answer (not IPv4, a fragment, ...). */
  | 'PACKET_UNSUPPORTED';

export class PacketError extends Error {
  override readonly name = 'PacketError';

  constructor(
    readonly code: PacketErrorCode,
    message: string,
  ) {
    super(message);
  }
}
