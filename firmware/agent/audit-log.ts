// NetworkPolicy audit logging (Antrea's enableLogging): packet-ins from logged rules become entries in
// `<dataDir>/networkpolicy/np.log` (Antrea's line format, rotated at a size limit), rows in SQLite (audit_log)
// and events for listeners (Node-RED, metrics).
//
// What arrives: flows of rules with enableLogging send a copy of the packet they decide with userdata purpose
// AuditLog (Allow/Pass/Drop, and default drops when configured), and logged Reject rules set the log bit on the
// Reject packet-in the RejectResponder answers (controller-userdata.ts). Both carry the rule's conjunction id,
// which the PolicyEnforcer maps back to policy, rule, direction, action, table and priority.
//
// Entries are deduplicated per one-second window (core/audit/audit-entry.ts: identical line apart from the time,
// source port included) and written when their window closes, so a line appears 1–1.2 s after its first packet;
// writes are batched (one file append and one SQLite transaction per flush), at most one per flushIntervalMs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  AuditDeduplicator,
  directionText,
  formatAuditLine,
  policyRefText,
  protocolName,
  summarizePacket,
  type AuditEntry,
} from '../core/audit/audit-entry';
import type { Logger } from '../core/logger';
import { decodeControllerUserdata, isAuditLogged } from '../core/pipeline/controller-userdata';
import type { ConjunctionRule } from '../core/pipeline/policy-flows';
import type { LocalPodPorts } from '../core/pipeline/rule-flows';
import { tableById } from '../core/pipeline/tables';
import type { PacketIn } from '../ovs/openflow-channel';

/** The part of OpenFlowChannel the audit logger uses. */
export interface AuditPacketInSource {
  on(event: 'packetIn', listener: (packetIn: PacketIn) => void): unknown;
  off(event: 'packetIn', listener: (packetIn: PacketIn) => void): unknown;
}

/** Conjunction id → rule; PolicyEnforcer.conjunctionRule. */
export interface AuditRuleLookup {
  conjunctionRule(conjId: number): ConjunctionRule | undefined;
}

/** Where entries are stored besides np.log (AuditLogRepository). */
export interface AuditEntryStore {
  insert(entries: readonly AuditEntry[]): void;
}

export const NP_LOG_SUBDIR = 'networkpolicy';
export const NP_LOG_FILE = 'np.log';
export const DEFAULT_NP_LOG_MAX_BYTES = 1024 * 1024;
export const DEFAULT_NP_LOG_BACKUPS = 2;

export interface AuditLoggerOptions {
  channel: AuditPacketInSource;
  rules: AuditRuleLookup;
  /** Local pods with their addresses: names the applied-to pod of an entry. */
  localPods: () => LocalPodPorts;
  /** np.log (or any line sink); usually `new RotatingLogFile({ file: npLogPath(dataDir) })`. */
  file?: AuditLineSink;
  store?: AuditEntryStore;
  logger: Logger;
  /** Clock, ms since the epoch; default Date.now. */
  now?: () => number;
  /** Dedup window; default 1000 ms. */
  windowMs?: number;
  /** Shortest time between two writes; default 200 ms. */
  flushIntervalMs?: number;
}

export interface AuditLineSink {
  append(lines: readonly string[]): void;
}

export interface AuditLoggerStats {
  /** Packet-ins that asked for an audit entry. */
  loggedPacketIns: number;
  /** Entries written (after deduplication). */
  entries: number;
  /** Packets counted into an earlier entry of the same window. */
  duplicates: number;
  /** Packet-ins whose conjunction id names no current rule (the rule just went away). */
  unknownRules: number;
  /** Packet-ins without an IPv4 packet to describe. */
  malformed: number;
  /** Failed writes to np.log or SQLite. */
  writeFailures: number;
}

/** `<dataDir>/networkpolicy/np.log`. */
export function npLogPath(dataDir: string): string {
  return path.join(dataDir, NP_LOG_SUBDIR, NP_LOG_FILE);
}

export class AuditLogger {
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly dedup: AuditDeduplicator;
  private readonly flushIntervalMs: number;
  private readonly listeners = new Set<(entry: AuditEntry) => void>();
  private readonly listener = (packetIn: PacketIn): void => this.handle(packetIn);
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private lastFlushMs = 0;
  private podsByIp: { atMs: number; pods: Map<string, string> } | undefined;
  private readonly counters: AuditLoggerStats = {
    loggedPacketIns: 0,
    entries: 0,
    duplicates: 0,
    unknownRules: 0,
    malformed: 0,
    writeFailures: 0,
  };

  constructor(private readonly options: AuditLoggerOptions) {
    this.logger = options.logger.child({ component: 'audit-log' });
    this.now = options.now ?? Date.now;
    this.dedup = new AuditDeduplicator({ windowMs: options.windowMs ?? 1000 });
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
  }

  get stats(): Readonly<AuditLoggerStats> {
    return { ...this.counters };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.channel.on('packetIn', this.listener);
  }

  /** Stops listening and writes what is still pending. */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.options.channel.off('packetIn', this.listener);
    clearTimeout(this.timer);
    this.timer = undefined;
    this.write(this.dedup.drain(this.now()));
  }

  /** Calls `listener` with every entry written (after deduplication). Returns the unsubscribe function. */
  onEntry(listener: (entry: AuditEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Handles one packet-in; packet-ins that do not ask for logging are ignored. Never throws. */
  handle(packetIn: PacketIn): void {
    const decoded = decodeControllerUserdata(packetIn.userdata);
    if (!decoded.ok || !isAuditLogged(decoded.userdata)) return;
    this.counters.loggedPacketIns++;
    const { ruleId } = decoded.userdata;
    const rule = this.options.rules.conjunctionRule(ruleId);
    if (!rule) {
      this.counters.unknownRules++;
      this.logger.debug('audit packet-in for an unknown rule', { ruleId, tableId: packetIn.tableId });
      return;
    }
    const packet = summarizePacket(packetIn.packet);
    if (!packet) {
      this.counters.malformed++;
      this.logger.debug('audit packet-in without an IPv4 packet', { ruleId, length: packetIn.packet.length });
      return;
    }
    const localIp = rule.direction === 'In' ? packet.dstIp : packet.srcIp;
    const appliedTo = rule.pod ?? this.podByIp(localIp);
    const entry: AuditEntry = {
      timeMs: this.now(),
      tableName: tableById(rule.table)?.name ?? String(rule.table),
      policyRef: policyRefText(rule.policy),
      direction: directionText(rule.direction),
      disposition: rule.action,
      srcIp: packet.srcIp,
      dstIp: packet.dstIp,
      protocol: protocolName(packet.protocol),
      packetLength: packet.ipLength,
      count: 1,
      ruleId,
    };
    if (rule.ruleName !== undefined) entry.ruleName = rule.ruleName;
    // Antrea prints no priority for default drops.
    if (rule.kind === 'rule') entry.priority = rule.priority;
    if (appliedTo !== undefined) entry.appliedTo = appliedTo;
    if (packet.srcPort !== undefined) entry.srcPort = packet.srcPort;
    if (packet.dstPort !== undefined) entry.dstPort = packet.dstPort;
    const sizeBefore = this.dedup.size;
    const closedEarly = this.dedup.add(entry);
    if (this.dedup.size === sizeBefore && closedEarly.length === 0) this.counters.duplicates++;
    if (closedEarly.length > 0) this.write(closedEarly);
    this.schedule();
  }

  /** Writes the entries whose dedup window has closed by now (the timer calls this; tests may too). */
  flushDue(): void {
    const now = this.now();
    this.lastFlushMs = now;
    this.write(this.dedup.due(now));
  }

  private schedule(): void {
    if (this.timer || !this.started) return;
    const due = this.dedup.nextDueMs();
    if (due === undefined) return;
    const now = this.now();
    const at = Math.max(due, this.lastFlushMs + this.flushIntervalMs);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.flushDue();
        this.schedule();
      },
      Math.max(0, at - now),
    );
    this.timer.unref();
  }

  private write(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    this.counters.entries += entries.length;
    try {
      this.options.file?.append(entries.map(formatAuditLine));
    } catch (error) {
      this.writeFailed('np.log', error);
    }
    try {
      this.options.store?.insert(entries);
    } catch (error) {
      this.writeFailed('audit_log table', error);
    }
    for (const entry of entries) {
      for (const listener of this.listeners) {
        try {
          listener(entry);
        } catch (error) {
          this.logger.warn('audit log listener failed', { error: (error as Error).message });
        }
      }
    }
  }

  private writeFailed(target: string, error: unknown): void {
    this.counters.writeFailures++;
    // One line per order of magnitude: a full disk must not turn into a log flood of its own.
    if (isPowerOfTen(this.counters.writeFailures)) {
      this.logger.warn('could not write audit log entries', {
        target,
        error: (error as Error).message,
        failuresSoFar: this.counters.writeFailures,
      });
    }
  }

  /** "namespace/name" of the local pod with this address; the pod list is re-read at most once a second. */
  private podByIp(ip: string): string | undefined {
    const now = this.now();
    if (!this.podsByIp || now - this.podsByIp.atMs >= 1000 || now < this.podsByIp.atMs) {
      const pods = new Map<string, string>();
      try {
        for (const [key, pod] of this.options.localPods()) pods.set(pod.ip, key);
      } catch (error) {
        this.logger.debug('local pods unavailable for the audit log', { error: (error as Error).message });
      }
      this.podsByIp = { atMs: now, pods };
    }
    return this.podsByIp.pods.get(ip);
  }
}

export interface RotatingLogFileOptions {
  file: string;
  /** Rotate before a write would make the file larger than this. Default 1 MiB. */
  maxBytes?: number;
  /** Rotated files kept (`np.log.1` newest … `np.log.<backups>`); 0–2 keeps 1–3 files. Default 2. */
  backups?: number;
}

/** Appends lines to a file and rotates it at a size limit, keeping a bounded number of old files. */
export class RotatingLogFile implements AuditLineSink {
  private readonly maxBytes: number;
  private readonly backups: number;
  private size: number | undefined;

  constructor(private readonly options: RotatingLogFileOptions) {
    this.maxBytes = options.maxBytes ?? DEFAULT_NP_LOG_MAX_BYTES;
    this.backups = options.backups ?? DEFAULT_NP_LOG_BACKUPS;
  }

  get file(): string {
    return this.options.file;
  }

  /** The current file and its rotated copies that exist, newest first. */
  files(): string[] {
    const all = [this.file, ...Array.from({ length: this.backups }, (_, i) => `${this.file}.${i + 1}`)];
    return all.filter((f) => fs.existsSync(f));
  }

  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const text = lines.map((l) => `${l}\n`).join('');
    const bytes = Buffer.byteLength(text);
    if (this.size === undefined) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.size = fs.existsSync(this.file) ? fs.statSync(this.file).size : 0;
    }
    if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
    fs.appendFileSync(this.file, text);
    this.size += bytes;
  }

  private rotate(): void {
    if (this.backups === 0) {
      fs.rmSync(this.file, { force: true });
    } else {
      fs.rmSync(`${this.file}.${this.backups}`, { force: true });
      for (let i = this.backups - 1; i >= 1; i--) {
        if (fs.existsSync(`${this.file}.${i}`)) fs.renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
      }
      fs.renameSync(this.file, `${this.file}.1`);
    }
    this.size = 0;
  }
}

function isPowerOfTen(n: number): boolean {
  let v = n;
  while (v >= 10 && v % 10 === 0) v /= 10;
  return v === 1;
}
