// Splits an OpenFlow byte stream into messages. Every message starts with an 8-byte header whose length field
// covers the whole message, and a socket read may end anywhere, so bytes are held until a message is complete.
//
// A binary stream has no sync marker, so resynchronisation after garbage is a plausibility test: a header
// starts a message only if its version is one we accept (after the first message other than HELLO: that
// message's version, since a connection never changes version), its type is one OpenFlow defines and its
// length fits the type (at least a header; exact for fixed-size messages). Otherwise the framer drops one byte
// and tries the next position, and reports the dropped run once, when a plausible header is found again (or
// at the end of the pushed chunk). A garbage run can still contain a plausible header by chance; the bytes it
// swallows then fail to decode and the stream resynchronises after them. push() never throws: bad input costs
// the bytes it occupies, and a throwing callback costs only its own message.
import { NX_HEADER_LENGTH, OFP_HEADER_LENGTH, OFP_MAX_TYPE, OFP_VERSION_1_5, OfpType } from './constants';
import { copyBytes } from './byte-io';
import { OpenFlowCodecError } from './errors';

export interface OpenFlowFramerOptions {
  /** Receives one complete message (a copy: it may be kept). */
  onMessage(message: Uint8Array): void;
  onError(error: OpenFlowCodecError): void;
  /** Header versions that can start a message. Default 0x01–0x06: a peer's HELLO may be in any version. */
  versions?: readonly number[];
}

const ALL_VERSIONS = [0x01, 0x02, 0x03, 0x04, 0x05, OFP_VERSION_1_5];

/** Message lengths of types whose size is fixed (the same in OpenFlow 1.3–1.5). */
const FIXED_LENGTH = new Map<number, number>([
  [OfpType.FeaturesRequest, 8],
  [OfpType.FeaturesReply, 32],
  [OfpType.GetConfigRequest, 8],
  [OfpType.GetConfigReply, 12],
  [OfpType.SetConfig, 12],
  [OfpType.BarrierRequest, 8],
  [OfpType.BarrierReply, 8],
]);

const MIN_LENGTH = new Map<number, number>([
  [OfpType.Error, 12],
  [OfpType.Experimenter, NX_HEADER_LENGTH],
  [OfpType.PacketIn, 32],
  [OfpType.PacketOut, 24],
]);

export class OpenFlowFramer {
  private readonly versions: ReadonlySet<number>;
  /** Bytes of an incomplete message from earlier chunks (always starts at a plausible header). */
  private pending: Uint8Array = new Uint8Array(0);
  private garbageBytes = 0;
  /** The connection's version, once a message other than HELLO has shown it. */
  private lockedVersion: number | undefined;

  constructor(private readonly options: OpenFlowFramerOptions) {
    this.versions = new Set(options.versions ?? ALL_VERSIONS);
  }

  /** Bytes held for a message that has not completed yet. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** Forgets a partial message (after a reconnect the new stream starts fresh). */
  reset(): void {
    this.pending = new Uint8Array(0);
    this.garbageBytes = 0;
    this.lockedVersion = undefined;
  }

  push(chunk: Uint8Array): void {
    const data = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
    let at = 0;
    while (data.length - at >= OFP_HEADER_LENGTH) {
      const length = ((data[at + 2] as number) << 8) | (data[at + 3] as number);
      if (!this.plausible(data[at] as number, data[at + 1] as number, length)) {
        this.garbageBytes++;
        at++;
        continue;
      }
      this.reportGarbage();
      if (data.length - at < length) break;
      if (data[at + 1] !== OfpType.Hello) this.lockedVersion = data[at];
      this.emit(copyBytes(data.subarray(at, at + length)));
      at += length;
    }
    // Fewer than 8 bytes left cannot be judged yet: keep them with any incomplete message.
    this.pending = copyBytes(data.subarray(at));
    if (this.garbageBytes > 0 && this.pending.length === 0) this.reportGarbage();
  }

  private plausible(version: number, type: number, length: number): boolean {
    if (this.lockedVersion !== undefined ? version !== this.lockedVersion : !this.versions.has(version))
      return false;
    if (type > OFP_MAX_TYPE) return false;
    const fixed = FIXED_LENGTH.get(type);
    if (fixed !== undefined) return length === fixed;
    return length >= (MIN_LENGTH.get(type) ?? OFP_HEADER_LENGTH);
  }

  private emit(message: Uint8Array): void {
    try {
      this.options.onMessage(message);
    } catch (err) {
      this.report(
        new OpenFlowCodecError('OPENFLOW_HANDLER', `message handler failed: ${(err as Error).message}`, 0, {
          cause: err,
        }),
      );
    }
  }

  private reportGarbage(): void {
    if (this.garbageBytes === 0) return;
    const dropped = this.garbageBytes;
    this.garbageBytes = 0;
    this.report(
      new OpenFlowCodecError(
        'OPENFLOW_GARBAGE',
        `dropped ${dropped} bytes that start no OpenFlow message`,
        dropped,
      ),
    );
  }

  private report(error: OpenFlowCodecError): void {
    try {
      this.options.onError(error);
    } catch {
      // An error reporter that throws must not break the stream either.
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
