// Test frames for the audit log tests: Ethernet + IPv4 + TCP/UDP/ICMP headers, checksums left 0.

/** An Ethernet + IPv4 + TCP/UDP/ICMP frame (checksums left 0: the summary does not check them). */
export function frame(options: {
  src: string;
  dst: string;
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  payload?: number;
  vlan?: boolean;
}): Uint8Array {
  const l4 = options.protocol === 1 ? 8 : options.protocol === 17 ? 8 : 20;
  const ipLength = 20 + l4 + (options.payload ?? 0);
  const eth = options.vlan ? 18 : 14;
  const bytes = new Uint8Array(eth + ipLength);
  const view = new DataView(bytes.buffer);
  if (options.vlan) {
    view.setUint16(12, 0x8100);
    view.setUint16(14, 7);
  }
  view.setUint16(eth - 2, 0x0800);
  bytes[eth] = 0x45;
  view.setUint16(eth + 2, ipLength);
  bytes[eth + 8] = 64;
  bytes[eth + 9] = options.protocol;
  options.src.split('.').forEach((o, i) => (bytes[eth + 12 + i] = Number(o)));
  options.dst.split('.').forEach((o, i) => (bytes[eth + 16 + i] = Number(o)));
  if (options.protocol !== 1) {
    view.setUint16(eth + 20, options.srcPort ?? 0);
    view.setUint16(eth + 22, options.dstPort ?? 0);
  } else {
    bytes[eth + 20] = 8;
  }
  if (options.protocol === 6) bytes[eth + 32] = 0x50;
  return bytes;
}
