// The agent's AuditLogger over a fake packet-in source and rule lookup, with a manual clock: which packet-ins
// become entries, the fields they carry, deduplication into one line with a count, np.log rotation, SQLite rows
// and listeners; and the audit_log migration (a version 2 store keeps its data) and repository.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { AuditLogger, RotatingLogFile, npLogPath } from '../../firmware/agent/audit-log';
import { parseAuditLine, type AuditEntry } from '../../firmware/core/audit/audit-entry';
import { silentLogger } from '../../firmware/core/logger';
import {
  ControllerPurpose,
  encodeControllerUserdata,
  type ControllerUserdata,
} from '../../firmware/core/pipeline/controller-userdata';
import type { ConjunctionRule } from '../../firmware/core/pipeline/policy-flows';
import type { PacketIn } from '../../firmware/ovs/openflow-channel';
import { migrate, openStore, schemaVersion } from '../../firmware/store/database';
import { MIGRATIONS } from '../../firmware/store/migrations';
import { AuditLogRepository, AuditRepositoryError } from '../../firmware/store/audit-repository';
import { PodRepository } from '../../firmware/store/pod-repository';
import { frame } from './audit-frames';

const RULES = new Map<number, ConjunctionRule>([
  [
    5,
    {
      conjId: 5,
      kind: 'rule',
      policy: { type: 'AntreaClusterNetworkPolicy', name: 'audit', uid: 'u1' },
      ruleName: 'DropClient',
      direction: 'In',
      action: 'Drop',
      enableLogging: true,
      table: 89,
      priority: 44900,
    },
  ],
  [
    6,
    {
      conjId: 6,
      kind: 'rule',
      policy: { type: 'AntreaNetworkPolicy', namespace: 'default', name: 'egress', uid: 'u2' },
      ruleName: 'AllowOut',
      direction: 'Out',
      action: 'Allow',
      enableLogging: true,
      table: 49,
      priority: 1000,
    },
  ],
  [
    7,
    {
      conjId: 7,
      kind: 'rule',
      policy: { type: 'AntreaClusterNetworkPolicy', name: 'audit', uid: 'u1' },
      ruleName: 'RejectClient',
      direction: 'In',
      action: 'Reject',
      enableLogging: true,
      table: 89,
      priority: 44800,
    },
  ],
  [
    9,
    {
      conjId: 9,
      kind: 'isolation',
      direction: 'In',
      action: 'Drop',
      enableLogging: true,
      table: 100,
      priority: 200,
      pod: 'default/client',
    },
  ],
]);

const LOCAL = new Map([
  ['default/web', { ofport: 3, ip: '10.10.0.3' }],
  ['default/client', { ofport: 4, ip: '10.10.0.4' }],
]);

function packetIn(userdata: ControllerUserdata | undefined, packet: Uint8Array): PacketIn {
  return {
    packet,
    fullLength: packet.length,
    tableId: 89,
    cookie: 0n,
    reason: 0,
    userdata: userdata ? encodeControllerUserdata(userdata) : undefined,
    metadata: {} as PacketIn['metadata'],
    metadataFields: [],
  };
}

const tcp = (srcPort = 40000, src = '10.10.0.4', dst = '10.10.0.3', dstPort = 80): Uint8Array =>
  frame({ src, dst, protocol: 6, srcPort, dstPort });

describe('AuditLogger', () => {
  let dir: string;
  let now: number;
  let channel: EventEmitter;
  let db: Database.Database;
  let repo: AuditLogRepository;
  let file: RotatingLogFile;
  let audit: AuditLogger;
  const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 0);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-audit-'));
    now = T0;
    channel = new EventEmitter();
    db = openStore(path.join(dir, 'store.db'));
    repo = new AuditLogRepository(db);
    file = new RotatingLogFile({ file: npLogPath(dir) });
    audit = new AuditLogger({
      channel,
      rules: { conjunctionRule: (id) => RULES.get(id) },
      localPods: () => LOCAL,
      file,
      store: repo,
      logger: silentLogger,
      now: () => now,
      // Long enough that the timer never fires during a test: flushDue() is called by hand.
      flushIntervalMs: 60_000,
    });
    audit.start();
  });

  afterEach(() => {
    audit.stop();
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const lines = (): string[] =>
    fs.existsSync(file.file)
      ? fs
          .readFileSync(file.file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];

  it('a logged Drop becomes one np.log line, one row and one event, with the rule and the 5-tuple', () => {
    const events: AuditEntry[] = [];
    audit.onEntry((e) => events.push(e));
    channel.emit('packetIn', packetIn({ purpose: ControllerPurpose.AuditLog, ruleId: 5 }, tcp()));
    assert.deepEqual(lines(), [], 'nothing before the dedup window closes');
    now += 1000;
    audit.flushDue();
    assert.deepEqual(lines(), [
      '2026/01/02 03:04:05.000000 CNPApplicationIngressRule AntreaClusterNetworkPolicy:audit DropClient Ingress Drop 44900 default/web 10.10.0.4 40000 10.10.0.3 80 TCP 40 <nil>',
    ]);
    const [row] = repo.recent({ limit: 10 });
    assert.equal(row?.policyRef, 'AntreaClusterNetworkPolicy:audit');
    assert.equal(row?.disposition, 'Drop');
    assert.deepEqual(
      [row?.srcIp, row?.srcPort, row?.dstIp, row?.dstPort, row?.protocol, row?.count, row?.ruleId],
      ['10.10.0.4', 40000, '10.10.0.3', 80, 'TCP', 1, 5],
    );
    assert.equal(row?.time, '2026-01-02T03:04:05.000Z');
    assert.equal(events.length, 1);
    assert.equal(events[0]?.ruleName, 'DropClient');
    assert.equal(audit.stats.entries, 1);
  });

  it('egress names the source pod; Reject with the log bit is logged, without it not; unknown rules are counted', () => {
    channel.emit(
      'packetIn',
      packetIn({ purpose: ControllerPurpose.AuditLog, ruleId: 6 }, tcp(50000, '10.10.0.3', '10.10.0.4', 443)),
    );
    channel.emit(
      'packetIn',
      packetIn({ purpose: ControllerPurpose.Reject, ruleId: 7, log: true }, tcp(41000)),
    );
    channel.emit('packetIn', packetIn({ purpose: ControllerPurpose.Reject, ruleId: 7 }, tcp(42000)));
    channel.emit('packetIn', packetIn({ purpose: ControllerPurpose.AuditLog, ruleId: 1234 }, tcp()));
    channel.emit('packetIn', packetIn(undefined, tcp()));
    now += 1000;
    audit.flushDue();
    const parsed = lines().map((l) => parseAuditLine(l));
    assert.deepEqual(
      parsed.map((p) => [p?.policyRef, p?.ruleName, p?.direction, p?.disposition, p?.appliedTo, p?.srcPort]),
      [
        ['AntreaNetworkPolicy:default/egress', 'AllowOut', 'Egress', 'Allow', 'default/web', 50000],
        ['AntreaClusterNetworkPolicy:audit', 'RejectClient', 'Ingress', 'Reject', 'default/web', 41000],
      ],
    );
    assert.deepEqual([audit.stats.loggedPacketIns, audit.stats.unknownRules, audit.stats.entries], [3, 1, 2]);
  });

  it('default drops: K8sNetworkPolicy, no rule name, no priority, the isolated pod', () => {
    channel.emit(
      'packetIn',
      packetIn(
        { purpose: ControllerPurpose.AuditLog, ruleId: 9 },
        frame({ src: '10.10.0.3', dst: '10.10.0.4', protocol: 1, payload: 56 }),
      ),
    );
    now += 1000;
    audit.flushDue();
    assert.deepEqual(lines(), [
      '2026/01/02 03:04:05.000000 IngressDefaultRule K8sNetworkPolicy <nil> Ingress Drop <nil> default/client 10.10.0.3 <nil> 10.10.0.4 <nil> ICMP 84 <nil>',
    ]);
  });

  it('identical packets within a second are one line with a count; a new source port is a new line', () => {
    for (let i = 0; i < 4; i++) {
      channel.emit('packetIn', packetIn({ purpose: ControllerPurpose.AuditLog, ruleId: 5 }, tcp()));
      now += 200;
    }
    channel.emit('packetIn', packetIn({ purpose: ControllerPurpose.AuditLog, ruleId: 5 }, tcp(40001)));
    now = T0 + 1000;
    audit.flushDue();
    assert.equal(lines().length, 1, 'the second connection is still in its window');
    assert.match(lines()[0] ?? '', / 40000 .* \[4 packets in 1s\]$/);
    assert.equal(audit.stats.duplicates, 3);
    audit.stop();
    assert.equal(lines().length, 2, 'stop() writes what is pending');
    assert.equal(repo.recent({ limit: 10 })[1]?.count, 4);
  });

  it('a packet-in that is not IPv4 is counted as malformed, not logged', () => {
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    channel.emit('packetIn', packetIn({ purpose: ControllerPurpose.AuditLog, ruleId: 5 }, arp));
    now += 2000;
    audit.flushDue();
    assert.equal(audit.stats.malformed, 1);
    assert.deepEqual(lines(), []);
  });
});

describe('RotatingLogFile', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-rotate-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('rotates before the size limit and keeps at most `backups` old files', () => {
    const log = new RotatingLogFile({
      file: path.join(dir, 'networkpolicy', 'np.log'),
      maxBytes: 100,
      backups: 2,
    });
    const line = (n: number): string => `line ${String(n).padStart(3, '0')} ${'x'.repeat(30)}`; // 40 bytes + \n
    for (let n = 1; n <= 10; n++) log.append([line(n)]);
    const files = log.files();
    assert.deepEqual(
      files.map((f) => path.basename(f)),
      ['np.log', 'np.log.1', 'np.log.2'],
    );
    for (const f of files) assert.ok(fs.statSync(f).size <= 100, `${f} within the limit`);
    const read = (f: string): string[] => fs.readFileSync(f, 'utf8').trim().split('\n');
    assert.deepEqual(read(files[0] as string), [line(9), line(10)]);
    assert.deepEqual(read(files[1] as string), [line(7), line(8)]);
    assert.deepEqual(read(files[2] as string), [line(5), line(6)]);
    assert.equal(fs.existsSync(`${log.file}.3`), false);
  });

  it('with 0 backups keeps only the current file, and continues an existing file', () => {
    const file = path.join(dir, 'np.log');
    fs.writeFileSync(file, 'old\n');
    const log = new RotatingLogFile({ file, maxBytes: 10, backups: 0 });
    log.append(['abc']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'old\nabc\n');
    log.append(['defgh']);
    assert.equal(fs.readFileSync(file, 'utf8'), 'defgh\n');
    assert.deepEqual(log.files(), [file]);
  });
});

describe('audit_log store', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-auditdb-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sample = (n: number, disposition: AuditEntry['disposition'] = 'Drop'): AuditEntry => ({
    timeMs: Date.UTC(2026, 0, 1) + n,
    tableName: 'CNPApplicationIngressRule',
    policyRef: 'AntreaClusterNetworkPolicy:a',
    ruleName: 'r',
    direction: 'Ingress',
    disposition,
    priority: 100,
    srcIp: '10.0.0.1',
    srcPort: 1000 + n,
    dstIp: '10.0.0.2',
    dstPort: 80,
    protocol: 'TCP',
    packetLength: 60,
    count: 1,
    ruleId: 3,
  });

  it('migration 3 upgrades a version 2 store and keeps its data', () => {
    const file = path.join(dir, 'v2.db');
    const v2 = new Database(file);
    migrate(v2, MIGRATIONS.slice(0, 2));
    v2.prepare(
      `INSERT INTO pods (container_id, namespace, name, if_name, netns, host_if_name, ip, mac, labels, created_at)
       VALUES ('c1', 'default', 'a', 'eth0', '/n', 'a-1', '10.10.0.2', '0a:00:00:00:00:01', '{}', 'then')`,
    ).run();
    v2.prepare(`INSERT INTO namespaces (name, labels) VALUES ('default', '{}')`).run();
    v2.close();

    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 3));
    assert.equal(schemaVersion(db), 3);
    assert.equal(new PodRepository(db).byName('default', 'a')?.ip, '10.10.0.2');
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM namespaces').get() as { n: number }).n, 1);
    const repo = new AuditLogRepository(db);
    assert.equal(repo.count(), 0);
    repo.insert([sample(1)]);
    assert.equal(repo.recent()[0]?.srcPort, 1001);
    db.close();
  });

  it('recent() is newest first, filters by disposition, and the table is pruned to maxRows', () => {
    const db = openStore(path.join(dir, 'a.db'));
    const repo = new AuditLogRepository(db, { maxRows: 5 });
    repo.insert([1, 2, 3, 4].map((n) => sample(n)));
    repo.insert([sample(5, 'Allow'), sample(6, 'Reject'), sample(7, 'Allow')]);
    assert.equal(repo.count(), 5);
    assert.deepEqual(
      repo.recent({ limit: 10 }).map((r) => r.srcPort),
      [1007, 1006, 1005, 1004, 1003],
    );
    assert.deepEqual(
      repo.recent({ limit: 10, disposition: 'Allow' }).map((r) => r.srcPort),
      [1007, 1005],
    );
    assert.deepEqual(
      repo.recent({ limit: 2 }).map((r) => r.srcPort),
      [1007, 1006],
    );
    const [row] = repo.recent({ limit: 1 });
    assert.deepEqual(row && { ...row, id: 0 }, {
      ...sample(7, 'Allow'),
      id: 0,
      time: '2026-01-01T00:00:00.007Z',
    });
    assert.throws(() => repo.recent({ limit: 0 }), AuditRepositoryError);
    assert.throws(() => repo.recent({ disposition: 'Nope' as never }), AuditRepositoryError);
    db.close();
  });
});
