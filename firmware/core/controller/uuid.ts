// Name-based UUIDs (RFC 4122 version 5, SHA-1) so that a group's name follows from its selector alone: the same
// selector always yields the same name, in this process, after a restart, and on every node. Antrea names its
// groups the same way (uuid.NewV5 under a fixed namespace UUID), which keeps our names in its familiar format.

/** The namespace UUID Antrea uses for its AddressGroup/AppliedToGroup names. */
export const GROUP_NAME_NAMESPACE = 'e4f24a48-ca1f-4d5b-819c-ea7632b22115';

function appendUtf8(bytes: number[], text: string): void {
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x80) bytes.push(code);
    else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 0x3f));
    else if (code < 0x10000)
      bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f));
    else
      bytes.push(
        0xf0 | (code >> 18),
        0x80 | ((code >> 12) & 0x3f),
        0x80 | ((code >> 6) & 0x3f),
        0x80 | (code & 0x3f),
      );
  }
}

const rotl = (value: number, bits: number): number => (value << bits) | (value >>> (32 - bits));

/** SHA-1 digest (20 bytes) of `message`. */
export function sha1(message: readonly number[]): number[] {
  const length = message.length;
  const blocks = ((length + 8) >> 6) + 1;
  const words = new Int32Array(blocks * 16);
  for (let i = 0; i < length; i++) words[i >> 2]! |= (message[i] ?? 0) << (24 - (i & 3) * 8);
  words[length >> 2]! |= 0x80 << (24 - (length & 3) * 8);
  const bitLength = length * 8;
  words[blocks * 16 - 2] = Math.floor(bitLength / 0x100000000);
  words[blocks * 16 - 1] = bitLength | 0;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const w = new Int32Array(80);
  for (let offset = 0; offset < words.length; offset += 16) {
    for (let i = 0; i < 16; i++) w[i] = words[offset + i] ?? 0;
    for (let i = 16; i < 80; i++)
      w[i] = rotl((w[i - 3] ?? 0) ^ (w[i - 8] ?? 0) ^ (w[i - 14] ?? 0) ^ (w[i - 16] ?? 0), 1);
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    for (let i = 0; i < 80; i++) {
      let f: number;
      let k: number;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5a827999;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ed9eba1;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8f1bbcdc;
      } else {
        f = b ^ c ^ d;
        k = 0xca62c1d6;
      }
      const temp = (rotl(a, 5) + f + e + k + (w[i] ?? 0)) | 0;
      e = d;
      d = c;
      c = rotl(b, 30);
      b = a;
      a = temp;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  const digest: number[] = [];
  for (const word of [h0, h1, h2, h3, h4]) {
    digest.push((word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
  }
  return digest;
}

function uuidBytes(uuid: string): number[] {
  const hex = uuid.replace(/-/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function formatUuid(bytes: readonly number[]): string {
  // join() yields one flat string; `+=` would leave a chain of ~20 cons strings behind every name.
  const parts: string[] = [];
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) parts.push('-');
    parts.push(HEX[bytes[i] ?? 0] ?? '00');
  }
  return parts.join('');
}

/** RFC 4122 version-5 UUIDs within one namespace (its bytes parsed once). */
export class UuidV5 {
  private readonly prefix: readonly number[];

  constructor(namespace: string) {
    this.prefix = uuidBytes(namespace);
  }

  of(name: string): string {
    const message = this.prefix.slice();
    appendUtf8(message, name);
    const digest = sha1(message);
    digest[6] = ((digest[6] ?? 0) & 0x0f) | 0x50;
    digest[8] = ((digest[8] ?? 0) & 0x3f) | 0x80;
    return formatUuid(digest);
  }
}

/** RFC 4122 version-5 UUID of `name` within `namespace` (a UUID string). */
export function uuidV5(namespace: string, name: string): string {
  return new UuidV5(namespace).of(name);
}
