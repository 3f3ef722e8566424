// NetworkPolicy audit log entries: what a logged packet-in becomes, the np.log line Antrea writes for it, and the
// one-second deduplication. Pure: the agent's AuditLogger (firmware/agent/audit-log.ts) feeds packets and the
// clock in and writes the results out.
//
// Line format (Antrea docs/antrea-network-policy.md "Audit logging", pkg/agent/controller/networkpolicy/
// audit_logging.go), fields separated by one space, `<nil>` for an absent value:
//   <yyyy/mm/dd> <hh:mm:ss.uuuuuu> <table name> <policy ref> <rule name> <direction> <disposition>
//   <OF priority> <applied-to pod> <src ip> <src port> <dst ip> <dst port> <protocol> <packet length> <log label>
//   [<n> packets in <duration>]          (only when n > 1)
// e.g. `2023/07/04 12:45:21.804416 CNPApplicationIngressRule AntreaNetworkPolicy:default/reject-tcp RejectTCP
// Ingress Reject 16 default/web 10.10.1.7 53646 10.10.1.14 80 TCP 60 <nil>`. Differences from Antrea: table names
// are Antrea v0.9's (this pipeline's), the time is UTC (an appliance's clock zone is not worth a config knob),
// sub-millisecond digits are 0 (JavaScript clocks), and rules have no logLabel yet (always `<nil>`).
// Default drops of pods that Kubernetes NetworkPolicies isolate are logged with the policy ref
// `K8sNetworkPolicy`, rule `<nil>`, disposition Drop and priority `<nil>`, as Antrea does.
//
// Deduplication: entries whose line is identical apart from the time (same rule, same 5-tuple INCLUDING the
// source port, same length) within one window (1 s) become one line with a count, written when the window
// closes, as Antrea does for Drop/Reject. Unlike Antrea it also applies to Allow and Pass: the appliance's disk
// is small, and since the source port is part of the key, two different connections are never merged; what
// merges is retransmitted SYNs and repeated pings (ICMP has no ports), i.e. exactly the floods worth counting
// rather than listing.
import type { RuleAction } from '../api/types';
import type { PolicySourceRef, RuleDirection } from '../controller/internal-types';

export const NIL = '<nil>';

export type AuditDirection = 'Ingress' | 'Egress';
export type AuditDisposition = RuleAction;

/** Protocol names as Antrea's log prints them (ip.IPProtocolNumberToString). */
const PROTOCOL_NAMES: Readonly<Record<number, string>> = {
  1: 'ICMP',
  6: 'TCP',
  17: 'UDP',
  58: 'IPv6-ICMP',
  132: 'SCTP',
};

/** The addresses and ports of a (possibly truncated) IPv4 frame. */
export interface PacketSummary {
  srcIp: string;
  dstIp: string;
  /** IP protocol number. */
  protocol: number;
  /** TCP/UDP/SCTP ports when the first fragment's header is present. */
  srcPort?: number;
  dstPort?: number;
  /** The IPv4 total length: the packet's length even when the packet-in was truncated (max_len). */
  ipLength: number;
}

/**
 * Reads the IPv4 5-tuple from an Ethernet frame (one 802.1Q tag allowed). Tolerates truncation after the ports:
 * logging flows send only the first AUDIT_PACKET_IN_MAX_LENGTH bytes, so parseFrame's full checks do not apply.
 * Returns undefined for non-IPv4 frames and frames too short for the IPv4 header.
 */
export function summarizePacket(bytes: Uint8Array): PacketSummary | undefined {
  const u16 = (at: number): number => ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0);
  let ip = 14;
  if (bytes.length < ip) return undefined;
  let etherType = u16(12);
  if (etherType === 0x8100) {
    etherType = u16(16);
    ip = 18;
  }
  if (etherType !== 0x0800 || bytes.length < ip + 20) return undefined;
  const versionIhl = bytes[ip] ?? 0;
  const headerLength = (versionIhl & 0x0f) * 4;
  if (versionIhl >> 4 !== 4 || headerLength < 20) return undefined;
  const protocol = bytes[ip + 9] ?? 0;
  const address = (at: number): string => Array.from(bytes.subarray(at, at + 4)).join('.');
  const summary: PacketSummary = {
    srcIp: address(ip + 12),
    dstIp: address(ip + 16),
    protocol,
    ipLength: u16(ip + 2),
  };
  const fragmentOffset = u16(ip + 6) & 0x1fff;
  const l4 = ip + headerLength;
  if (
    (protocol === 6 || protocol === 17 || protocol === 132) &&
    fragmentOffset === 0 &&
    bytes.length >= l4 + 4
  ) {
    summary.srcPort = u16(l4);
    summary.dstPort = u16(l4 + 2);
  }
  return summary;
}

export function protocolName(protocol: number): string {
  return PROTOCOL_NAMES[protocol] ?? 'UnknownProtocol';
}

/** One audit log entry (one line of np.log, one row of the audit_log table). */
export interface AuditEntry {
  /** When the (first) packet arrived, ms since the epoch. */
  timeMs: number;
  /** Name of the table that holds the deciding flow, e.g. CNPApplicationIngressRule. */
  tableName: string;
  /** `AntreaClusterNetworkPolicy:name`, `AntreaNetworkPolicy:ns/name`, `K8sNetworkPolicy:ns/name`, or `K8sNetworkPolicy` for default drops. */
  policyRef: string;
  ruleName?: string;
  direction: AuditDirection;
  disposition: AuditDisposition;
  /** OpenFlow priority of the deciding flow (absent for default drops, as in Antrea). */
  priority?: number;
  /** The local pod the policy applies to, "namespace/name", when known. */
  appliedTo?: string;
  srcIp: string;
  srcPort?: number;
  dstIp: string;
  dstPort?: number;
  /** Antrea's protocol name: TCP, UDP, ICMP, SCTP, UnknownProtocol. */
  protocol: string;
  /** IPv4 total length of the packet. */
  packetLength: number;
  /** Packets this entry stands for (deduplication); 1 for a single packet. */
  count: number;
  /** Set when count > 1: from the first packet to the end of the dedup window. */
  durationMs?: number;
  /** The conjunction id of the deciding flow (not printed: for correlation with flow dumps and counters). */
  ruleId: number;
}

/** Antrea's policy reference text. */
export function policyRefText(ref: PolicySourceRef | undefined): string {
  if (!ref) return 'K8sNetworkPolicy';
  return ref.namespace !== undefined && ref.namespace !== ''
    ? `${ref.type}:${ref.namespace}/${ref.name}`
    : `${ref.type}:${ref.name}`;
}

export function directionText(direction: RuleDirection): AuditDirection {
  return direction === 'In' ? 'Ingress' : 'Egress';
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `yyyy/mm/dd hh:mm:ss.uuuuuu` in UTC, like Go's log.Ldate|log.Lmicroseconds. */
export function formatAuditTime(timeMs: number): string {
  const d = new Date(timeMs);
  return (
    `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}000`
  );
}

/** A duration as Go prints time.Duration for values ≥ 1 s, to the millisecond: `1.004s`. */
export function formatAuditDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  return `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')}s`;
}

const orNil = (value: string | number | undefined): string =>
  value === undefined || value === '' ? NIL : String(value);

/** The line without time and count: what deduplication compares. */
export function auditMessage(entry: Omit<AuditEntry, 'timeMs' | 'count' | 'durationMs' | 'ruleId'>): string {
  return [
    entry.tableName,
    entry.policyRef,
    orNil(entry.ruleName),
    entry.direction,
    entry.disposition,
    orNil(entry.priority),
    orNil(entry.appliedTo),
    entry.srcIp,
    orNil(entry.srcPort),
    entry.dstIp,
    orNil(entry.dstPort),
    entry.protocol,
    String(entry.packetLength),
    NIL, // log label
  ].join(' ');
}

/** One np.log line (no newline). */
export function formatAuditLine(entry: AuditEntry): string {
  const line = `${formatAuditTime(entry.timeMs)} ${auditMessage(entry)}`;
  return entry.count > 1
    ? `${line} [${entry.count} packets in ${formatAuditDuration(entry.durationMs ?? 0)}]`
    : line;
}

/** Parses a line written by formatAuditLine (tests, antctl-style readers); undefined for anything else. */
export function parseAuditLine(line: string): Omit<AuditEntry, 'ruleId'> | undefined {
  const m =
    /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})\d{3} (\S+) (\S+) (\S+) (Ingress|Egress) (Allow|Drop|Reject|Pass) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\d+) (\S+)(?: \[(\d+) packets in ([\d.]+)(ms|s)\])?$/.exec(
      line,
    );
  if (!m) return undefined;
  const g = (i: number): string => m[i] ?? '';
  const opt = (text: string): string | undefined => (text === NIL ? undefined : text);
  const num = (text: string): number | undefined => (text === NIL ? undefined : Number(text));
  const entry: Omit<AuditEntry, 'ruleId'> = {
    timeMs: Date.UTC(+g(1), +g(2) - 1, +g(3), +g(4), +g(5), +g(6), +g(7)),
    tableName: g(8),
    policyRef: g(9),
    direction: g(11) as AuditDirection,
    disposition: g(12) as AuditDisposition,
    srcIp: g(15),
    dstIp: g(17),
    protocol: g(19),
    packetLength: Number(g(20)),
    count: m[22] === undefined ? 1 : Number(m[22]),
  };
  const optional: Partial<AuditEntry> = {
    ruleName: opt(g(10)),
    priority: num(g(13)),
    appliedTo: opt(g(14)),
    srcPort: num(g(16)),
    dstPort: num(g(18)),
    durationMs: m[23] === undefined ? undefined : Number(m[23]) * (m[24] === 's' ? 1000 : 1),
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) Object.assign(entry, { [k]: v });
  return entry;
}

// ---------------------------------------------------------------------------------------------------------
// Deduplication

export interface AuditDeduplicatorOptions {
  /** Length of a dedup window; default 1000 ms (Antrea's buffer length). */
  windowMs?: number;
  /** Pending distinct entries kept at most; beyond it the oldest window is closed early. Default 10000. */
  maxPending?: number;
}

interface Pending {
  entry: AuditEntry;
  lastMs: number;
}

export class AuditDeduplicator {
  private readonly windowMs: number;
  private readonly maxPending: number;
  /** Insertion order is first-seen order, so the first entries are the oldest windows. */
  private readonly pending = new Map<string, Pending>();

  constructor(options: AuditDeduplicatorOptions = {}) {
    this.windowMs = options.windowMs ?? 1000;
    this.maxPending = options.maxPending ?? 10_000;
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Counts the entry into the open window of its message, or opens one. Returns the entries whose windows had
   * to be closed early to stay within maxPending (usually none).
   */
  add(entry: AuditEntry): AuditEntry[] {
    const key = auditMessage(entry);
    const open = this.pending.get(key);
    if (open && entry.timeMs < open.entry.timeMs + this.windowMs) {
      open.entry.count += entry.count;
      open.lastMs = Math.max(open.lastMs, entry.timeMs);
      return [];
    }
    const closed: AuditEntry[] = [];
    if (open) {
      // The old window has ended but was not collected yet: it is its own line.
      this.pending.delete(key);
      closed.push(this.close(open, open.entry.timeMs + this.windowMs));
    }
    this.pending.set(key, { entry: { ...entry }, lastMs: entry.timeMs });
    while (this.pending.size > this.maxPending) {
      const [oldestKey, oldest] = this.pending.entries().next().value as [string, Pending];
      this.pending.delete(oldestKey);
      closed.push(this.close(oldest, Math.min(entry.timeMs, oldest.entry.timeMs + this.windowMs)));
    }
    return closed;
  }

  /** Entries whose window has ended at `nowMs`, oldest first. */
  due(nowMs: number): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const [key, p] of this.pending) {
      if (p.entry.timeMs + this.windowMs > nowMs) continue;
      this.pending.delete(key);
      out.push(this.close(p, nowMs));
    }
    return out;
  }

  /** Every pending entry, windows closed at `nowMs` (shutdown). */
  drain(nowMs: number): AuditEntry[] {
    const out = [...this.pending.values()].map((p) => this.close(p, nowMs));
    this.pending.clear();
    return out;
  }

  /** When the oldest open window ends; undefined when nothing is pending. */
  nextDueMs(): number | undefined {
    let next: number | undefined;
    for (const p of this.pending.values()) {
      const end = p.entry.timeMs + this.windowMs;
      if (next === undefined || end < next) next = end;
    }
    return next;
  }

  private close(p: Pending, nowMs: number): AuditEntry {
    const entry = { ...p.entry };
    // Antrea prints the time from the first packet to the flush; never shorter than the last duplicate's arrival.
    if (entry.count > 1) entry.durationMs = Math.max(nowMs, p.lastMs) - entry.timeMs;
    return entry;
  }
}
