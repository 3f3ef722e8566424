// Sets of packets that OpenFlow cannot match in one field, turned into sets of matches it can: an ipBlock with
// `except` becomes the CIDRs of the block minus the exceptions, and a port range becomes masked `tp_dst` values.
// Both decompositions are exact (nothing outside the set is matched) and minimal (no fewer prefixes can cover it).
import { cidrSize, formatCidr, parseCidr, type Ipv4Cidr } from '../ipam/ipv4';

export class MatchSetError extends Error {
  override readonly name = 'MatchSetError';
  constructor(
    readonly code: 'INVALID_PORT_RANGE',
    message: string,
  ) {
    super(message);
  }
}

/**
 * `cidr` minus every `except` as non-overlapping CIDRs in address order. Exceptions outside the block change
 * nothing; an exception covering the block leaves nothing.
 */
export function cidrsExcept(cidr: Ipv4Cidr, excepts: readonly Ipv4Cidr[]): Ipv4Cidr[] {
  const relevant = excepts.filter((e) => overlaps(e, cidr));
  const out: Ipv4Cidr[] = [];
  const visit = (block: Ipv4Cidr): void => {
    const touching = relevant.filter((e) => overlaps(e, block));
    if (touching.length === 0) {
      out.push(block);
      return;
    }
    // Prefix blocks either nest or are disjoint: an exception touching the block either covers it or lies in
    // one of its halves.
    if (touching.some((e) => e.prefix <= block.prefix)) return;
    const half = cidrSize(block) / 2;
    visit({ network: block.network, prefix: block.prefix + 1 });
    visit({ network: block.network + half, prefix: block.prefix + 1 });
  };
  visit(cidr);
  return out;
}

/** Text form of cidrsExcept, for CIDRs as the controller publishes them ("10.0.0.0/8"). */
export function cidrTextsExcept(cidr: string, excepts: readonly string[]): string[] {
  return cidrsExcept(parseCidr(cidr), excepts.map(parseCidr)).map(formatCidr);
}

function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return a.network < b.network + cidrSize(b) && b.network < a.network + cidrSize(a);
}

/** A transport port match: `value/mask` over the 16-bit port; mask 0xffff is one port. */
export interface PortMask {
  value: number;
  mask: number;
}

/** The fewest aligned `value/mask` blocks that together match exactly the ports `first..last`. */
export function portRangeMasks(first: number, last: number = first): PortMask[] {
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last > 0xffff || first > last) {
    throw new MatchSetError('INVALID_PORT_RANGE', `invalid port range ${first}-${last}`);
  }
  const out: PortMask[] = [];
  let port = first;
  while (port <= last) {
    // The largest power-of-two block that starts at `port` (alignment) and does not pass `last`.
    let size = 1;
    while (size < 0x10000 && port % (size * 2) === 0 && port + size * 2 - 1 <= last) size *= 2;
    out.push({ value: port, mask: 0xffff & ~(size - 1) });
    port += size;
  }
  return out;
}
