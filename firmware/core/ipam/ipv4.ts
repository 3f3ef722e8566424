// IPv4 arithmetic on plain numbers; pure so both IPAM and the pipeline can use it.

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefix: number;
}

export class Ipv4Error extends Error {
  readonly code = 'InvalidIPv4';
}

/** Dotted quad with 1–3 decimal digits per octet, each ≤ 255 (leading zeros accepted, as before). */
export function parseIpv4(text: string): number {
  // A character loop: this runs for every pod address of every rule at every policy change.
  const value = scanIpv4(text);
  if (value < 0) throw new Ipv4Error(`invalid IPv4 address "${text}"`);
  return value;
}

/** The address as a number, or -1 when `text` is not a dotted quad. */
function scanIpv4(text: string): number {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1;
      octet = octet * 10 + (c - 48);
    } else if (c === 46) {
      if (digits === 0 || octet > 255 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0 || octet > 255) return -1;
  return value * 256 + octet;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function isIpv4(text: string): boolean {
  return scanIpv4(text) >= 0;
}

/** Parses "A.B.C.D/N"; host bits are cleared (as Kubernetes does for ipBlock). */
export function parseCidr(text: string): Ipv4Cidr {
  const [addr, prefixText, extra] = text.split('/');
  if (
    addr === undefined ||
    prefixText === undefined ||
    extra !== undefined ||
    !/^\d{1,2}$/.test(prefixText)
  ) {
    throw new Ipv4Error(`invalid CIDR "${text}"`);
  }
  const prefix = Number(prefixText);
  if (prefix > 32) throw new Ipv4Error(`invalid CIDR "${text}": prefix ${prefix} > 32`);
  const size = 2 ** (32 - prefix);
  const network = Math.floor(parseIpv4(addr) / size) * size;
  return { network, prefix };
}

export function formatCidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

export function cidrSize(cidr: Ipv4Cidr): number {
  return 2 ** (32 - cidr.prefix);
}

export function cidrContains(cidr: Ipv4Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidrSize(cidr);
}

/** The gateway takes the first usable address of the pod subnet (Antrea's convention). */
export function gatewayIpOf(cidr: Ipv4Cidr): number {
  return cidr.network + 1;
}
