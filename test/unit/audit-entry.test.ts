// Audit log entries: the packet summary of truncated packet-ins, Antrea's np.log line format (and parsing it
// back), and one-second deduplication with counts.
import assert from 'node:assert/strict';
import {
  AuditDeduplicator,
  auditMessage,
  formatAuditDuration,
  formatAuditLine,
  formatAuditTime,
  parseAuditLine,
  policyRefText,
  summarizePacket,
  type AuditEntry,
} from '../../firmware/core/audit/audit-entry';
import { frame } from './audit-frames';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5, 678);

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    timeMs: T0,
    tableName: 'CNPApplicationIngressRule',
    policyRef: 'AntreaClusterNetworkPolicy:audit',
    ruleName: 'DropClient',
    direction: 'Ingress',
    disposition: 'Drop',
    priority: 44900,
    appliedTo: 'default/web',
    srcIp: '10.10.0.4',
    srcPort: 40000,
    dstIp: '10.10.0.3',
    dstPort: 80,
    protocol: 'TCP',
    packetLength: 60,
    count: 1,
    ruleId: 5,
    ...overrides,
  };
}

describe('audit entries: packet summary', () => {
  it('reads addresses, ports and the IP length from a frame truncated to 128 bytes', () => {
    const full = frame({
      src: '10.10.0.4',
      dst: '10.10.0.3',
      protocol: 6,
      srcPort: 40000,
      dstPort: 80,
      payload: 1400,
    });
    assert.deepEqual(summarizePacket(full.subarray(0, 128)), {
      srcIp: '10.10.0.4',
      dstIp: '10.10.0.3',
      protocol: 6,
      srcPort: 40000,
      dstPort: 80,
      ipLength: 1440,
    });
  });

  it('UDP with a VLAN tag; ICMP without ports; non-IPv4 and short frames are not summarized', () => {
    assert.deepEqual(
      summarizePacket(
        frame({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 17, srcPort: 5353, dstPort: 53, vlan: true }),
      ),
      { srcIp: '1.2.3.4', dstIp: '5.6.7.8', protocol: 17, srcPort: 5353, dstPort: 53, ipLength: 28 },
    );
    assert.deepEqual(summarizePacket(frame({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 1, payload: 56 })), {
      srcIp: '1.2.3.4',
      dstIp: '5.6.7.8',
      protocol: 1,
      ipLength: 84,
    });
    const arp = new Uint8Array(42);
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert.equal(summarizePacket(arp), undefined);
    assert.equal(
      summarizePacket(frame({ src: '1.2.3.4', dst: '5.6.7.8', protocol: 6 }).subarray(0, 30)),
      undefined,
    );
  });
});

describe('audit entries: np.log line format', () => {
  it("prints Antrea's fields in Antrea's order, <nil> for what is absent", () => {
    assert.equal(
      formatAuditLine(entry()),
      '2026/01/02 03:04:05.678000 CNPApplicationIngressRule AntreaClusterNetworkPolicy:audit DropClient Ingress Drop 44900 default/web 10.10.0.4 40000 10.10.0.3 80 TCP 60 <nil>',
    );
    assert.equal(
      formatAuditLine(
        entry({
          tableName: 'IngressDefaultRule',
          policyRef: 'K8sNetworkPolicy',
          ruleName: undefined,
          priority: undefined,
          protocol: 'ICMP',
          srcPort: undefined,
          dstPort: undefined,
          packetLength: 84,
          count: 3,
          durationMs: 1004,
        }),
      ),
      '2026/01/02 03:04:05.678000 IngressDefaultRule K8sNetworkPolicy <nil> Ingress Drop <nil> default/web 10.10.0.4 <nil> 10.10.0.3 <nil> ICMP 84 <nil> [3 packets in 1.004s]',
    );
  });

  it('policy references, time and durations', () => {
    assert.equal(policyRefText(undefined), 'K8sNetworkPolicy');
    assert.equal(
      policyRefText({ type: 'AntreaNetworkPolicy', namespace: 'ns', name: 'p', uid: 'u' }),
      'AntreaNetworkPolicy:ns/p',
    );
    assert.equal(
      policyRefText({ type: 'AntreaClusterNetworkPolicy', name: 'c', uid: 'u' }),
      'AntreaClusterNetworkPolicy:c',
    );
    assert.equal(formatAuditTime(Date.UTC(2026, 11, 31, 23, 59, 59, 5)), '2026/12/31 23:59:59.005000');
    assert.equal(formatAuditDuration(1000), '1s');
    assert.equal(formatAuditDuration(1250), '1.25s');
    assert.equal(formatAuditDuration(999), '999ms');
  });

  it('parseAuditLine reads back what formatAuditLine wrote', () => {
    for (const e of [
      entry(),
      entry({
        ruleName: undefined,
        priority: undefined,
        srcPort: undefined,
        dstPort: undefined,
        count: 2,
        durationMs: 1500,
      }),
      entry({ appliedTo: undefined, disposition: 'Allow', direction: 'Egress' }),
    ]) {
      const { ruleId: _ruleId, ...expected } = e;
      // Absent fields are absent keys after parsing.
      assert.deepEqual(parseAuditLine(formatAuditLine(e)), JSON.parse(JSON.stringify(expected)));
    }
    assert.equal(parseAuditLine('not a line'), undefined);
  });
});

describe('audit entries: one-second deduplication', () => {
  it('identical entries within the window are one entry with a count, closed when the window ends', () => {
    const d = new AuditDeduplicator({ windowMs: 1000 });
    assert.deepEqual(d.add(entry()), []);
    d.add(entry({ timeMs: T0 + 400 }));
    d.add(entry({ timeMs: T0 + 999 }));
    assert.equal(d.size, 1);
    assert.equal(d.nextDueMs(), T0 + 1000);
    assert.deepEqual(d.due(T0 + 999), [], 'window still open');
    const [one, ...rest] = d.due(T0 + 1003);
    assert.deepEqual(rest, []);
    assert.equal(one?.count, 3);
    assert.equal(one?.durationMs, 1003);
    assert.equal(one?.timeMs, T0, 'the time of the first packet');
    assert.equal(d.size, 0);
  });

  it('another source port, rule or disposition is another entry; the same one after the window is a new one', () => {
    const d = new AuditDeduplicator({ windowMs: 1000 });
    d.add(entry());
    d.add(entry({ srcPort: 40001 }));
    d.add(entry({ ruleName: 'Other' }));
    d.add(entry({ disposition: 'Reject' }));
    assert.equal(d.size, 4);
    const closed = d.add(entry({ timeMs: T0 + 1500 }));
    assert.equal(closed.length, 1, 'the ended window of the same message is closed as its own entry');
    assert.equal(closed[0]?.count, 1);
    assert.equal(closed[0]?.durationMs, undefined);
    assert.deepEqual(
      d.due(T0 + 1200).map((e) => e.srcPort ?? 0),
      [40001, 40000, 40000],
    );
    assert.equal(d.size, 1);
    assert.equal(d.drain(T0 + 1600).length, 1);
    assert.equal(d.nextDueMs(), undefined);
  });

  it('bounds pending entries by closing the oldest window early', () => {
    const d = new AuditDeduplicator({ windowMs: 1000, maxPending: 2 });
    d.add(entry({ srcPort: 1 }));
    d.add(entry({ srcPort: 2 }));
    const closed = d.add(entry({ srcPort: 3, timeMs: T0 + 10 }));
    assert.deepEqual(
      closed.map((e) => e.srcPort),
      [1],
    );
    assert.equal(d.size, 2);
  });

  it('auditMessage ignores only time, count and rule id', () => {
    assert.equal(auditMessage(entry()), auditMessage(entry({ timeMs: 0, count: 9, ruleId: 77 })));
    assert.notEqual(auditMessage(entry()), auditMessage(entry({ packetLength: 61 })));
  });
});
