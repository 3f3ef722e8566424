// A POSIX ustar archive in memory: enough for support bundles (regular files and directories, paths up to 255
// bytes), read by GNU tar, busybox tar and Python's tarfile. Gzip is the caller's (node:zlib).

export interface TarEntry {
  /** Relative path with `/` separators; directories end with `/`. */
  path: string;
  /** File contents; ignored for directories. */
  data?: Uint8Array | string;
  /** Permission bits; default 0o644 for files, 0o755 for directories. */
  mode?: number;
  mtime: Date;
}

export class TarArchiveError extends Error {
  override readonly name = 'TarArchiveError';
  constructor(
    readonly code: 'PATH_TOO_LONG' | 'INVALID_PATH',
    message: string,
  ) {
    super(message);
  }
}

const BLOCK = 512;
const encoder = new TextEncoder();

export function tarArchive(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const entry of entries) {
    const isDirectory = entry.path.endsWith('/');
    const data = isDirectory
      ? new Uint8Array(0)
      : typeof entry.data === 'string'
        ? encoder.encode(entry.data)
        : (entry.data ?? new Uint8Array(0));
    const header = tarHeader(entry, isDirectory, data.length);
    parts.push(header, data);
    size += header.length + data.length;
    const padding = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (padding > 0) {
      parts.push(new Uint8Array(padding));
      size += padding;
    }
  }
  // End of archive: two zero blocks.
  parts.push(new Uint8Array(BLOCK * 2));
  size += BLOCK * 2;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function tarHeader(entry: TarEntry, isDirectory: boolean, size: number): Uint8Array {
  if (entry.path === '' || entry.path.startsWith('/') || entry.path.split('/').includes('..')) {
    throw new TarArchiveError('INVALID_PATH', `tar entry path "${entry.path}" must be relative`);
  }
  const { name, prefix } = splitPath(encoder.encode(entry.path), entry.path);
  const header = new Uint8Array(BLOCK);
  header.set(name, 0);
  writeOctal(header, 100, 8, entry.mode ?? (isDirectory ? 0o755 : 0o644));
  writeOctal(header, 108, 8, 0); // uid
  writeOctal(header, 116, 8, 0); // gid
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, Math.max(0, Math.floor(entry.mtime.getTime() / 1000)));
  header.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  header[156] = isDirectory ? 0x35 : 0x30; // '5' directory, '0' regular file
  header.set(encoder.encode('ustar\u000000'), 257);
  header.set(encoder.encode('root'), 265);
  header.set(encoder.encode('root'), 297);
  header.set(prefix, 345);
  let sum = 0;
  for (const byte of header) sum += byte;
  writeOctal(header, 148, 7, sum);
  header[155] = 0x20;
  return header;
}

/** ustar keeps 100 bytes of name and 155 of prefix, split at a `/`. */
function splitPath(bytes: Uint8Array, text: string): { name: Uint8Array; prefix: Uint8Array } {
  if (bytes.length <= 100) return { name: bytes, prefix: new Uint8Array(0) };
  for (let cut = bytes.length - 1; cut > 0; cut--) {
    if (bytes[cut] !== 0x2f) continue;
    const prefix = bytes.subarray(0, cut);
    const name = bytes.subarray(cut + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { name, prefix };
  }
  throw new TarArchiveError('PATH_TOO_LONG', `tar entry path "${text}" is too long for ustar`);
}

/** Zero-padded octal digits followed by a NUL, in `length` bytes. */
function writeOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  const digits = value.toString(8).padStart(length - 1, '0');
  if (digits.length > length - 1) throw new RangeError(`${value} does not fit a ${length}-byte tar field`);
  header.set(encoder.encode(digits), offset);
  header[offset + length - 1] = 0;
}
