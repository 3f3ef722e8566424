// The Internet checksum (RFC 1071) and the IPv4 pseudo-header sum that TCP, UDP (RFC 768/793) use.
// Sums are kept unfolded (a double holds the sum of any frame-sized input exactly) so that the pseudo header
// and the segment can be added separately; `finishChecksum` folds and complements once at the end.

/** Adds 16-bit big-endian words of `bytes[start, end)` to `sum` (an odd last byte is padded with zero). */
export function sumWords(bytes: Uint8Array, start = 0, end = bytes.length, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) {
    sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  }
  if (i < end) sum += (bytes[i] as number) << 8;
  return sum;
}

/** Folds carries into 16 bits and returns the one's complement: the value to store in a checksum field. */
export function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** The checksum of `bytes[start, end)` as stored in an IPv4 header or ICMP message. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return finishChecksum(sumWords(bytes, start, end));
}

/**
 * TCP/UDP checksum over the IPv4 pseudo header (source, destination, zero, protocol, segment length) and the
 * segment `bytes[start, end)` whose checksum field must be zero (when computing) or hold the received value
 * (when verifying: the result is then 0).
 */
export function ipv4TransportChecksum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  let sum = sumWords(src, 0, 4);
  sum = sumWords(dst, 0, 4, sum);
  sum += protocol;
  sum += end - start;
  return finishChecksum(sumWords(bytes, start, end, sum));
}
