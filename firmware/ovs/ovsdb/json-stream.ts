// Splits a byte stream into top-level JSON values. ovsdb-server writes JSON-RPC messages back to back with
// no delimiter, and a socket read may end anywhere: inside a string, between the bytes of one UTF-8
// character, or in the middle of the next message. The framer only tracks nesting and string state byte by
// byte (every structural character is ASCII, and UTF-8 continuation bytes are >= 0x80, so split characters
// cannot confuse it); it decodes and parses a value once its closing bracket arrives.
//
// Bad input never throws out of push(): it is dropped up to the next '{' or '[' and reported through
// onError, so one corrupt message costs that message and not the connection.

export type JsonStreamErrorCode =
  /** Bytes outside any value that are neither whitespace nor the start of an object or array. */
  | 'JSON_STREAM_GARBAGE'
  /** A value whose brackets matched but that JSON.parse rejected, or whose brackets did not match. */
  | 'JSON_STREAM_SYNTAX'
  /** A value that is not valid UTF-8. */
  | 'JSON_STREAM_ENCODING'
  /** A value longer than maxMessageBytes. */
  | 'JSON_STREAM_OVERSIZE'
  /** The onValue callback threw; the framer carries on with the next value. */
  | 'JSON_STREAM_HANDLER';

export class JsonStreamError extends Error {
  override readonly name = 'JsonStreamError';

  constructor(
    readonly code: JsonStreamErrorCode,
    message: string,
    /** How many input bytes were thrown away because of this error. */
    readonly droppedBytes: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface JsonStreamOptions {
  onValue(value: unknown): void;
  onError(error: JsonStreamError): void;
  /** Longest value kept in memory; longer ones are skipped and reported. Default 64 MiB. */
  maxMessageBytes?: number;
}

export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

const enum Mode {
  /** Outside any value: whitespace is skipped, '{' or '[' starts a value. */
  Between,
  /** Skipping bad bytes until the next '{' or '['. */
  Garbage,
  /** Inside a value that is being kept. */
  Value,
  /**
   * Inside a value that was too long: nothing is kept, but its structure is still followed so that the
   * next value starts at the right byte. (Resynchronising at the next '{' instead would emit the oversized
   * message's nested objects as if they were messages, e.g. a stray {"id": 5, ...} as the reply to
   * request 5.)
   */
  Discard,
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

function isValueStart(byte: number): boolean {
  return byte === OPEN_BRACE || byte === OPEN_BRACKET;
}

export class JsonStreamFramer {
  private readonly maxMessageBytes: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private mode = Mode.Between;
  /** Closing bytes expected for the currently open brackets, innermost last. */
  private closers: number[] = [];
  private inString = false;
  private escaped = false;
  /** Bytes of the current value that arrived in earlier chunks. */
  private parts: Uint8Array[] = [];
  private valueBytes = 0;
  private garbageBytes = 0;

  constructor(private readonly options: JsonStreamOptions) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Bytes held for a value that has not completed yet. */
  get bufferedBytes(): number {
    return this.mode === Mode.Value ? this.valueBytes : 0;
  }

  /** Forgets any partial value (e.g. after a reconnect: the new stream starts fresh). */
  reset(): void {
    this.mode = Mode.Between;
    this.clearValue();
    this.garbageBytes = 0;
  }

  push(chunk: Uint8Array): void {
    // Start of the current value inside this chunk, when the value is being kept.
    let segmentStart = this.mode === Mode.Value ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      switch (this.mode) {
        case Mode.Between:
          if (isWhitespace(byte)) continue;
          if (isValueStart(byte)) {
            this.openValue(byte);
            segmentStart = i;
          } else {
            this.mode = Mode.Garbage;
            this.garbageBytes = 1;
          }
          continue;
        case Mode.Garbage:
          if (isValueStart(byte)) {
            this.reportGarbage();
            this.openValue(byte);
            segmentStart = i;
          } else {
            this.garbageBytes++;
          }
          continue;
        case Mode.Value:
        case Mode.Discard: {
          this.valueBytes++;
          const outcome = this.step(byte);
          if (outcome === 'mismatch') {
            this.dropValue('JSON_STREAM_SYNTAX', 'mismatched bracket in JSON value');
            this.mode = Mode.Garbage;
            segmentStart = -1;
            continue;
          }
          if (outcome === 'control') {
            // Raw control characters never occur inside a valid JSON string: the string state is wrong,
            // so resynchronise instead of waiting for a quote that may never come.
            this.dropValue('JSON_STREAM_SYNTAX', 'control character inside a JSON string');
            this.mode = Mode.Garbage;
            segmentStart = -1;
            continue;
          }
          if (outcome === 'complete') {
            if (this.mode === Mode.Value) {
              this.emit(chunk.subarray(segmentStart, i + 1));
            } else {
              this.clearValue();
            }
            this.mode = Mode.Between;
            segmentStart = -1;
            continue;
          }
          if (this.mode === Mode.Value && this.valueBytes > this.maxMessageBytes) {
            this.report(
              new JsonStreamError(
                'JSON_STREAM_OVERSIZE',
                `JSON value exceeds ${this.maxMessageBytes} bytes; skipping it`,
                this.valueBytes,
              ),
            );
            this.parts = [];
            this.mode = Mode.Discard;
            segmentStart = -1;
          }
          continue;
        }
      }
    }
    if (this.mode === Mode.Value && segmentStart >= 0 && segmentStart < chunk.length) {
      // Copy: the caller may reuse its buffer for the next read.
      this.parts.push(chunk.slice(segmentStart));
    }
    if (this.mode === Mode.Garbage && this.garbageBytes > 0) this.reportGarbage();
  }

  private openValue(byte: number): void {
    this.mode = Mode.Value;
    this.closers = [byte === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET];
    this.inString = false;
    this.escaped = false;
    this.parts = [];
    this.valueBytes = 1;
  }

  /** Advances the string/nesting state by one byte of a value. */
  private step(byte: number): 'continue' | 'complete' | 'mismatch' | 'control' {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (byte === BACKSLASH) this.escaped = true;
      else if (byte === QUOTE) this.inString = false;
      else if (byte < 0x20) return 'control';
      return 'continue';
    }
    if (byte === QUOTE) {
      this.inString = true;
    } else if (byte === OPEN_BRACE) {
      this.closers.push(CLOSE_BRACE);
    } else if (byte === OPEN_BRACKET) {
      this.closers.push(CLOSE_BRACKET);
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      if (this.closers.pop() !== byte) return 'mismatch';
      if (this.closers.length === 0) return 'complete';
    }
    return 'continue';
  }

  private emit(lastSegment: Uint8Array): void {
    const bytes =
      this.parts.length === 0 ? lastSegment : concat([...this.parts, lastSegment], this.valueBytes);
    const length = this.valueBytes;
    this.clearValue();
    let text: string;
    try {
      text = this.decoder.decode(bytes);
    } catch (err) {
      this.report(
        new JsonStreamError('JSON_STREAM_ENCODING', 'JSON value is not valid UTF-8', length, { cause: err }),
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      this.report(
        new JsonStreamError('JSON_STREAM_SYNTAX', `invalid JSON value: ${(err as Error).message}`, length, {
          cause: err,
        }),
      );
      return;
    }
    try {
      this.options.onValue(value);
    } catch (err) {
      this.report(
        new JsonStreamError('JSON_STREAM_HANDLER', `value handler failed: ${(err as Error).message}`, 0, {
          cause: err,
        }),
      );
    }
  }

  private dropValue(code: JsonStreamErrorCode, message: string): void {
    const dropped = this.valueBytes;
    this.clearValue();
    this.report(new JsonStreamError(code, message, dropped));
  }

  private clearValue(): void {
    this.parts = [];
    this.valueBytes = 0;
    this.closers = [];
    this.inString = false;
    this.escaped = false;
  }

  private reportGarbage(): void {
    const dropped = this.garbageBytes;
    this.garbageBytes = 0;
    if (dropped > 0) {
      this.report(
        new JsonStreamError('JSON_STREAM_GARBAGE', `dropped ${dropped} bytes of non-JSON input`, dropped),
      );
    }
  }

  private report(error: JsonStreamError): void {
    try {
      this.options.onError(error);
    } catch {
      // An error reporter that throws must not break the stream either.
    }
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
