// Chooses pod addresses in the node's pod subnet. Pure: the caller supplies what is in use and persists the
// choice (the store does it in one SQLite transaction, so two ADDs can never get the same address).
import {
  cidrContains,
  cidrSize,
  formatCidr,
  formatIpv4,
  gatewayIpOf,
  parseIpv4,
  type Ipv4Cidr,
} from './ipv4';

export type IpamErrorCode = 'IPUnavailable' | 'IPOutOfRange' | 'IPInUse' | 'IPReserved';

export class IpamError extends Error {
  constructor(
    readonly code: IpamErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface AllocationRequest {
  subnet: Ipv4Cidr;
  inUse: ReadonlySet<string>;
  /** A specific address asked for (CNI args `IP=`); honoured when free, an error otherwise. */
  requested?: string;
  /** Where the round-robin search starts, so freed addresses are not reused at once. */
  after?: string;
}

export function allocateIpv4(req: AllocationRequest): string {
  const { subnet } = req;
  const first = gatewayIpOf(subnet) + 1;
  const last = subnet.network + cidrSize(subnet) - 2; // the broadcast address is not usable
  if (req.requested !== undefined) {
    const wanted = parseIpv4(req.requested);
    if (!cidrContains(subnet, wanted)) {
      throw new IpamError(
        'IPOutOfRange',
        `requested IP ${req.requested} is outside the pod subnet ${formatCidr(subnet)}`,
      );
    }
    if (wanted < first || wanted > last) {
      throw new IpamError(
        'IPReserved',
        `requested IP ${req.requested} is reserved (network, gateway or broadcast)`,
      );
    }
    if (req.inUse.has(req.requested)) {
      throw new IpamError('IPInUse', `requested IP ${req.requested} is already allocated`);
    }
    return req.requested;
  }
  const count = last - first + 1;
  let start = first;
  if (req.after !== undefined) {
    const after = parseIpv4(req.after);
    if (after >= first && after < last) start = after + 1;
  }
  for (let i = 0; i < count; i++) {
    const candidate = formatIpv4(first + ((start - first + i) % count));
    if (!req.inUse.has(candidate)) return candidate;
  }
  throw new IpamError('IPUnavailable', `no free address left in the pod subnet ${formatCidr(subnet)}`);
}
