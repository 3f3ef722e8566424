// NetworkPolicy audit log entries in SQLite (migration 3, table audit_log): the same entries as np.log, as rows
// the local API and Node-RED can query. The table is pruned to the newest `maxRows` rows after every insert, so
// an appliance's flash never fills up with audit history.
import type { StoreDatabase } from './database';
import type { AuditDirection, AuditDisposition, AuditEntry } from '../core/audit/audit-entry';

export const DEFAULT_AUDIT_LOG_ROWS = 10_000;
/** Most rows one `recent()` call returns. */
export const MAX_AUDIT_LOG_QUERY = 1000;

/** A stored entry: the AuditEntry plus its row id and time as ISO text. */
export interface AuditLogRecord extends AuditEntry {
  id: number;
  time: string;
}

export interface AuditLogQuery {
  /** Newest first; default 100, at most MAX_AUDIT_LOG_QUERY. */
  limit?: number;
  disposition?: AuditDisposition;
}

export class AuditRepositoryError extends Error {
  override readonly name = 'AuditRepositoryError';
  constructor(
    readonly code: 'INVALID_QUERY',
    message: string,
  ) {
    super(message);
  }
}

interface AuditRow {
  id: number;
  time: string;
  table_name: string;
  policy_ref: string;
  rule_name: string | null;
  direction: string;
  disposition: string;
  priority: number | null;
  applied_to: string | null;
  src_ip: string;
  src_port: number | null;
  dst_ip: string;
  dst_port: number | null;
  protocol: string;
  packet_length: number;
  count: number;
  duration_ms: number | null;
  rule_id: number;
}

const DISPOSITIONS: readonly AuditDisposition[] = ['Allow', 'Drop', 'Reject', 'Pass'];

function toRecord(row: AuditRow): AuditLogRecord {
  const record: AuditLogRecord = {
    id: row.id,
    time: row.time,
    timeMs: Date.parse(row.time),
    tableName: row.table_name,
    policyRef: row.policy_ref,
    direction: row.direction as AuditDirection,
    disposition: row.disposition as AuditDisposition,
    srcIp: row.src_ip,
    dstIp: row.dst_ip,
    protocol: row.protocol,
    packetLength: row.packet_length,
    count: row.count,
    ruleId: row.rule_id,
  };
  if (row.rule_name !== null) record.ruleName = row.rule_name;
  if (row.priority !== null) record.priority = row.priority;
  if (row.applied_to !== null) record.appliedTo = row.applied_to;
  if (row.src_port !== null) record.srcPort = row.src_port;
  if (row.dst_port !== null) record.dstPort = row.dst_port;
  if (row.duration_ms !== null) record.durationMs = row.duration_ms;
  return record;
}

export class AuditLogRepository {
  private readonly maxRows: number;

  constructor(
    private readonly db: StoreDatabase,
    options: { maxRows?: number } = {},
  ) {
    this.maxRows = options.maxRows ?? DEFAULT_AUDIT_LOG_ROWS;
  }

  /** Stores the entries in one transaction, then drops rows beyond the newest maxRows. */
  insert(entries: readonly AuditEntry[]): void {
    if (entries.length === 0) return;
    const insert = this.db.prepare(`
      INSERT INTO audit_log (time, table_name, policy_ref, rule_name, direction, disposition, priority, applied_to,
        src_ip, src_port, dst_ip, dst_port, protocol, packet_length, count, duration_ms, rule_id)
      VALUES (@time, @tableName, @policyRef, @ruleName, @direction, @disposition, @priority, @appliedTo,
        @srcIp, @srcPort, @dstIp, @dstPort, @protocol, @packetLength, @count, @durationMs, @ruleId)`);
    // AUTOINCREMENT ids only grow, so "id <= max - maxRows" is exactly the rows beyond the newest maxRows.
    const prune = this.db.prepare('DELETE FROM audit_log WHERE id <= (SELECT MAX(id) FROM audit_log) - ?');
    this.db.transaction(() => {
      for (const e of entries) {
        insert.run({
          time: new Date(e.timeMs).toISOString(),
          tableName: e.tableName,
          policyRef: e.policyRef,
          ruleName: e.ruleName ?? null,
          direction: e.direction,
          disposition: e.disposition,
          priority: e.priority ?? null,
          appliedTo: e.appliedTo ?? null,
          srcIp: e.srcIp,
          srcPort: e.srcPort ?? null,
          dstIp: e.dstIp,
          dstPort: e.dstPort ?? null,
          protocol: e.protocol,
          packetLength: e.packetLength,
          count: e.count,
          durationMs: e.durationMs ?? null,
          ruleId: e.ruleId,
        });
      }
      prune.run(this.maxRows);
    })();
  }

  /** The newest entries first, optionally of one disposition. */
  recent(query: AuditLogQuery = {}): AuditLogRecord[] {
    const limit = query.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LOG_QUERY) {
      throw new AuditRepositoryError(
        'INVALID_QUERY',
        `limit must be 1..${MAX_AUDIT_LOG_QUERY}, got ${limit}`,
      );
    }
    if (query.disposition !== undefined && !DISPOSITIONS.includes(query.disposition)) {
      throw new AuditRepositoryError(
        'INVALID_QUERY',
        `disposition must be one of ${DISPOSITIONS.join(', ')}, got ${String(query.disposition)}`,
      );
    }
    const rows =
      query.disposition === undefined
        ? (this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as AuditRow[])
        : (this.db
            .prepare('SELECT * FROM audit_log WHERE disposition = ? ORDER BY id DESC LIMIT ?')
            .all(query.disposition, limit) as AuditRow[]);
    return rows.map(toRecord);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n;
  }
}
