// Name-based UUIDs (RFC 4122 version 5, SHA-1) so that a group's name follows from its selector alone: the same
// selector always yields the same name, in this process, after a restart, and on every node. Antrea names its
// groups the same way (uuid.NewV5 under a fixed namespace UUID), which keeps our names in its familiar format.
import { sha1, utf8Encode } from '../hash/sha1';

/** The namespace UUID Antrea uses for its AddressGroup/AppliedToGroup names. */
export const GROUP_NAME_NAMESPACE = 'e4f24a48-ca1f-4d5b-819c-ea7632b22115';

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

function formatUuid(bytes: Uint8Array): string {
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
  private readonly prefix: Uint8Array;

  constructor(namespace: string) {
    this.prefix = uuidBytes(namespace);
  }

  of(name: string): string {
    const encoded = utf8Encode(name);
    const message = new Uint8Array(this.prefix.length + encoded.length);
    message.set(this.prefix);
    message.set(encoded, this.prefix.length);
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
