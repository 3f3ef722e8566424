// IPv4 arithmetic on plain numbers; pure so both IPAM and the pipeline can use it.

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit number. */
  network: number;
  prefix: number;
}

export class Ipv4Error extends Error {
  readonly code = 'InvalidIPv4';
}

export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Ipv4Error(`invalid IPv4 address "${text}"`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) throw new Ipv4Error(`invalid IPv4 address "${text}"`);
    const octet = Number(part);
    if (octet > 255) throw new Ipv4Error(`invalid IPv4 address "${text}"`);
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
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
