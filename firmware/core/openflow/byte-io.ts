// Big-endian reading and writing for the codec. The reader checks every access against its window and throws
// OpenFlowCodecError('OPENFLOW_TRUNCATED'); decodeMessage turns that into a result value at its boundary.
import { OpenFlowCodecError } from './errors';

/**
 * A copy in a plain Uint8Array. (`slice()` is not enough: on a Node Buffer, which is what sockets deliver,
 * Buffer#slice returns a view that keeps the whole socket chunk alive and changes with it.)
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

export class ByteReader {
  private readonly view: DataView;
  private position = 0;

  constructor(
    private readonly bytes: Uint8Array,
    /** What is being read, for error messages ("NXT_PACKET_IN2 property", ...). */
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.position;
  }

  get remaining(): number {
    return this.bytes.length - this.position;
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.position++);
  }

  u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.position);
    this.position += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.position);
    this.position += 4;
    return value;
  }

  u64(): bigint {
    this.need(8);
    const value = this.view.getBigUint64(this.position);
    this.position += 8;
    return value;
  }

  /** A view (not a copy) of the next `length` bytes. */
  bytesView(length: number): Uint8Array {
    this.need(length);
    const out = this.bytes.subarray(this.position, this.position + length);
    this.position += length;
    return out;
  }

  rest(): Uint8Array {
    return this.bytesView(this.remaining);
  }

  skip(length: number): void {
    this.need(length);
    this.position += length;
  }

  private need(length: number): void {
    if (length < 0 || this.position + length > this.bytes.length) {
      throw new OpenFlowCodecError(
        'OPENFLOW_TRUNCATED',
        `${this.what}: needs ${length} bytes at offset ${this.position}, ${this.bytes.length - this.position} left`,
      );
    }
  }
}

export class ByteWriter {
  private buffer = new Uint8Array(64);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  get size(): number {
    return this.length;
  }

  u8(value: number): this {
    this.ensure(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
    return this;
  }

  u16(value: number): this {
    this.ensure(2);
    this.view.setUint16(this.length, value);
    this.length += 2;
    return this;
  }

  u32(value: number): this {
    this.ensure(4);
    this.view.setUint32(this.length, value >>> 0);
    this.length += 4;
    return this;
  }

  u64(value: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt.asUintN(64, value));
    this.length += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.ensure(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  zeros(count: number): this {
    this.ensure(count);
    this.buffer.fill(0, this.length, this.length + count);
    this.length += count;
    return this;
  }

  /** Zero bytes up to the next multiple of `alignment`. */
  padTo(alignment: number): this {
    return this.zeros((alignment - (this.length % alignment)) % alignment);
  }

  /** Overwrites a 16-bit value already written (lengths known only at the end). */
  patchU16(offset: number, value: number): void {
    this.view.setUint16(offset, value);
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
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
