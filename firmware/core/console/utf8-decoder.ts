// Incremental UTF-8 decoding of a serial byte stream. A baud-rate mismatch turns text into random bytes: every
// invalid or overlong sequence is dropped and decoding resynchronises on the next byte that can start a character.

export class Utf8Decoder {
  private codePoint = 0;
  private remaining = 0;
  private minimum = 0;
  private dropped = 0;

  /** Bytes discarded as invalid so far (for a log line; never an error). */
  get droppedBytes(): number {
    return this.dropped;
  }

  /** Feeds one byte; returns the code point it completes, if any. */
  push(byte: number): number | undefined {
    if (this.remaining > 0) {
      if ((byte & 0xc0) === 0x80) {
        this.codePoint = (this.codePoint << 6) | (byte & 0x3f);
        this.remaining--;
        if (this.remaining > 0) return undefined;
        const codePoint = this.codePoint;
        const valid =
          codePoint >= this.minimum && codePoint <= 0x10ffff && !(codePoint >= 0xd800 && codePoint <= 0xdfff);
        if (valid) return codePoint;
        this.dropped++;
        return undefined;
      }
      // A sequence cut short: drop what it had and let this byte start afresh.
      this.dropped++;
      this.remaining = 0;
    }
    if (byte < 0x80) return byte;
    if (byte >= 0xc2 && byte <= 0xdf) return this.begin(byte & 0x1f, 1, 0x80);
    if (byte >= 0xe0 && byte <= 0xef) return this.begin(byte & 0x0f, 2, 0x800);
    if (byte >= 0xf0 && byte <= 0xf4) return this.begin(byte & 0x07, 3, 0x10000);
    this.dropped++;
    return undefined;
  }

  /** Forgets a half-received character (e.g. when the device reopens). */
  reset(): void {
    this.remaining = 0;
  }

  private begin(bits: number, remaining: number, minimum: number): undefined {
    this.codePoint = bits;
    this.remaining = remaining;
    this.minimum = minimum;
    return undefined;
  }
}

/** UTF-8 bytes of a string (the pure core has no Buffer or TextEncoder). */
export function encodeUtf8(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const char of text) {
    const codePoint = char.codePointAt(0) ?? 0xfffd;
    if (codePoint < 0x80) bytes.push(codePoint);
    else if (codePoint < 0x800) bytes.push(0xc0 | (codePoint >> 6), 0x80 | (codePoint & 0x3f));
    else if (codePoint < 0x10000) {
      // Lone surrogates cannot be encoded: send U+FFFD instead.
      const safe = codePoint >= 0xd800 && codePoint <= 0xdfff ? 0xfffd : codePoint;
      bytes.push(0xe0 | (safe >> 12), 0x80 | ((safe >> 6) & 0x3f), 0x80 | (safe & 0x3f));
    } else {
      bytes.push(
        0xf0 | (codePoint >> 18),
        0x80 | ((codePoint >> 12) & 0x3f),
        0x80 | ((codePoint >> 6) & 0x3f),
        0x80 | (codePoint & 0x3f),
      );
    }
  }
  return Uint8Array.from(bytes);
}
