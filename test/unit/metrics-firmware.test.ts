// FirmwareMetrics against fakes: every metric family is collected on scrape from its source, parsed back by a
// strict text-format parser; event counters follow events; rule series are capped; the registry is our own.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Registry, register as globalRegistry } from 'prom-client';
import { PolicyEnforcer, type RealizationEvent } from '../../firmware/agent/policy-enforcer';
import type { NetworkPolicyStatsView } from '../../firmware/core/antctl/views';
import type { ControllerChanges, ControllerSnapshot } from '../../firmware/core/controller/internal-types';
import { silentLogger } from '../../firmware/core/logger';
import {
  ControllerPurpose,
  encodeControllerUserdata,
} from '../../firmware/core/pipeline/controller-userdata';
import {
  FirmwareMetrics,
  packetInPurpose,
  ruleSeries,
  type FirmwareMetricsSources,
} from '../../firmware/observability/firmware-metrics';
import {
  MetricsParseError,
  parsePrometheusText,
  sampleValue,
  samplesOf,
  type MetricFamily,
} from './metrics-text-format';

function statsView(
  type: 'K8sNetworkPolicy' | 'AntreaClusterNetworkPolicy',
  namespace: string | undefined,
  name: string,
  rules: { name: string; packets: number; bytes: number }[],
): NetworkPolicyStatsView {
  return {
    apiVersion: 'stats.antrea.io/v1alpha1',
    kind: 'NetworkPolicyStats',
    metadata: { name, ...(namespace === undefined ? {} : { namespace }), uid: `uid-${name}` },
    sourceRef: { type, name, uid: `uid-${name}`, ...(namespace === undefined ? {} : { namespace }) },
    trafficStats: { packets: 0, bytes: 0, sessions: 0 },
    ruleTrafficStats: rules.map((rule) => ({
      name: rule.name,
      trafficStats: { packets: rule.packets, bytes: rule.bytes, sessions: rule.packets },
    })),
  } as unknown as NetworkPolicyStatsView;
}

class FakeOpenFlow extends EventEmitter {
  isConnected = true;
}

class FakeSources {
  pods = 3;
  counts: { networkPolicies: number; addressGroups: number; appliedToGroups: number } | undefined = {
    networkPolicies: 2,
    addressGroups: 4,
    appliedToGroups: 1,
  };
  flows = new Map<number, number>([
    [0, 5],
    [90, 7],
    [201, 1],
  ]);
  ovsdbUp = true;
  readonly openflow = new FakeOpenFlow();
  readonly enforcerStats = { realizations: 6, failures: 1 };
  readonly realizationListeners = new Set<(event: RealizationEvent) => void>();
  readonly auditListeners = new Set<(entry: { disposition: string }) => void>();
  stats: NetworkPolicyStatsView[] | Error = [
    statsView('K8sNetworkPolicy', 'default', 'web', [
      { name: 'ingress-0', packets: 12, bytes: 900 },
      { name: 'ingress-1', packets: 0, bytes: 0 },
    ]),
    statsView('AntreaClusterNetworkPolicy', undefined, 'deny-all', [
      { name: 'drop', packets: 3, bytes: 180 },
    ]),
  ];
  statsCalls = 0;

  sources(): FirmwareMetricsSources {
    return {
      version: '9.9.9',
      localPods: () => this.pods,
      policyCounts: () => {
        if (this.counts === undefined) throw new Error('policy service not started');
        return this.counts;
      },
      flowsPerTable: () => this.flows,
      ruleStats: {
        networkPolicyStats: () => {
          this.statsCalls++;
          return this.stats instanceof Error ? Promise.reject(this.stats) : Promise.resolve(this.stats);
        },
      },
      enforcer: {
        stats: this.enforcerStats,
        onRealized: (listener) => {
          this.realizationListeners.add(listener);
          return () => this.realizationListeners.delete(listener);
        },
      },
      ovsdb: { isConnected: () => this.ovsdbUp },
      openflow: this.openflow,
      audit: {
        onEntry: (listener) => {
          this.auditListeners.add(listener);
          return () => this.auditListeners.delete(listener);
        },
      },
    };
  }
}

async function scrape(registry: Registry): Promise<Map<string, MetricFamily>> {
  return parsePrometheusText(await registry.metrics());
}

describe('FirmwareMetrics', () => {
  let registry: Registry;
  let fake: FakeSources;
  let metrics: FirmwareMetrics;

  beforeEach(() => {
    registry = new Registry();
    fake = new FakeSources();
    metrics = new FirmwareMetrics({ registry, sources: fake.sources(), logger: silentLogger });
    metrics.start();
  });

  afterEach(() => metrics.stop());

  it('reports counts, flows per table and connection state as they are at scrape time', async () => {
    let families = await scrape(registry);
    assert.equal(sampleValue(families, 'antrea_edge_local_pods'), 3);
    assert.equal(sampleValue(families, 'antrea_edge_network_policies'), 2);
    assert.equal(sampleValue(families, 'antrea_edge_address_groups'), 4);
    assert.equal(sampleValue(families, 'antrea_edge_applied_to_groups'), 1);
    assert.equal(
      sampleValue(families, 'antrea_edge_ovs_flows', { table_id: '0', table: 'Classification' }),
      5,
    );
    assert.equal(sampleValue(families, 'antrea_edge_ovs_flows', { table_id: '90', table: 'IngressRule' }), 7);
    // A table the registry does not know keeps its number as name.
    assert.equal(sampleValue(families, 'antrea_edge_ovs_flows', { table_id: '201', table: '201' }), 1);
    assert.equal(sampleValue(families, 'antrea_edge_ovs_total_flows'), 13);
    assert.equal(sampleValue(families, 'antrea_edge_ovsdb_connection_up'), 1);
    assert.equal(sampleValue(families, 'antrea_edge_openflow_connection_up'), 1);
    assert.equal(sampleValue(families, 'antrea_edge_build_info', { version: '9.9.9' }), 1);

    fake.pods = 0;
    fake.flows = new Map([[0, 2]]);
    fake.ovsdbUp = false;
    fake.openflow.isConnected = false;
    fake.counts = undefined;
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the rule stats reuse window
    families = await scrape(registry);
    assert.equal(sampleValue(families, 'antrea_edge_local_pods'), 0);
    assert.deepEqual(
      samplesOf(families, 'antrea_edge_ovs_flows').map((s) => s.labels.table_id),
      ['0'],
      'tables without flows disappear',
    );
    assert.equal(sampleValue(families, 'antrea_edge_ovsdb_connection_up'), 0);
    assert.equal(sampleValue(families, 'antrea_edge_openflow_connection_up'), 0);
    assert.equal(
      sampleValue(families, 'antrea_edge_network_policies'),
      2,
      'unknown counts keep their last value',
    );
  });

  it('counts realizations, failures and the change-to-realized latency histogram', async () => {
    for (const listener of fake.realizationListeners) {
      listener({ sequence: 3, latenciesSeconds: [0.003, 0.2, 7] });
    }
    const families = await scrape(registry);
    assert.equal(sampleValue(families, 'antrea_edge_policy_realizations_total'), 6);
    assert.equal(sampleValue(families, 'antrea_edge_policy_realization_failures_total'), 1);
    const histogram = 'antrea_edge_policy_realization_duration_seconds';
    assert.equal(families.get(histogram)?.type, 'histogram');
    assert.equal(sampleValue(families, `${histogram}_count`), 3);
    assert.equal(sampleValue(families, `${histogram}_bucket`, { le: '0.005' }), 1);
    assert.equal(sampleValue(families, `${histogram}_bucket`, { le: '0.25' }), 2);
    assert.equal(sampleValue(families, `${histogram}_bucket`, { le: '5' }), 2);
    assert.equal(sampleValue(families, `${histogram}_bucket`, { le: '+Inf' }), 3);
    assert.ok(Math.abs((sampleValue(families, `${histogram}_sum`) ?? 0) - 7.203) < 1e-9);
  });

  it('counts packet-ins by the purpose in their userdata, and audit entries by disposition', async () => {
    const reject = encodeControllerUserdata({ purpose: ControllerPurpose.Reject, ruleId: 7 });
    const audit = encodeControllerUserdata({ purpose: ControllerPurpose.AuditLog, ruleId: 7 });
    fake.openflow.emit('packetIn', { userdata: reject });
    fake.openflow.emit('packetIn', { userdata: reject });
    fake.openflow.emit('packetIn', { userdata: audit });
    fake.openflow.emit('packetIn', { userdata: undefined });
    for (const listener of fake.auditListeners) {
      listener({ disposition: 'Drop' });
      listener({ disposition: 'Drop' });
      listener({ disposition: 'Allow' });
    }
    const families = await scrape(registry);
    assert.equal(sampleValue(families, 'antrea_edge_packet_ins_total', { purpose: 'reject' }), 2);
    assert.equal(sampleValue(families, 'antrea_edge_packet_ins_total', { purpose: 'audit_log' }), 1);
    assert.equal(sampleValue(families, 'antrea_edge_packet_ins_total', { purpose: 'unknown' }), 1);
    assert.equal(sampleValue(families, 'antrea_edge_audit_log_entries_total', { disposition: 'Drop' }), 2);
    assert.equal(sampleValue(families, 'antrea_edge_audit_log_entries_total', { disposition: 'Allow' }), 1);
    assert.equal(
      sampleValue(families, 'antrea_edge_audit_log_entries_total', { disposition: 'Reject' }),
      0,
      'every disposition is there from the start, so rate() works at once',
    );
  });

  it('stops following events after stop()', async () => {
    metrics.stop();
    fake.openflow.emit('packetIn', { userdata: undefined });
    assert.equal(fake.openflow.listenerCount('packetIn'), 0);
    assert.equal(fake.auditListeners.size, 0);
    assert.equal(fake.realizationListeners.size, 0);
    const families = await scrape(registry);
    assert.equal(sampleValue(families, 'antrea_edge_packet_ins_total', { purpose: 'unknown' }), 0);
  });

  it('reads rule counters once per scrape, labelled by policy and rule', async () => {
    const families = await scrape(registry);
    assert.equal(fake.statsCalls, 1, 'packets, bytes and stats_up share one OVS read');
    const packets = 'antrea_edge_networkpolicy_rule_packets_total';
    assert.equal(families.get(packets)?.type, 'counter');
    assert.equal(
      sampleValue(families, packets, {
        policy_type: 'K8sNetworkPolicy',
        namespace: 'default',
        name: 'web',
        rule: 'ingress-0',
      }),
      12,
    );
    assert.equal(
      sampleValue(families, 'antrea_edge_networkpolicy_rule_bytes_total', {
        policy_type: 'AntreaClusterNetworkPolicy',
        namespace: '',
        name: 'deny-all',
        rule: 'drop',
      }),
      180,
    );
    assert.equal(samplesOf(families, packets).length, 3);
    assert.equal(sampleValue(families, 'antrea_edge_networkpolicy_stats_up'), 1);
  });

  it('leaves rule series out and says so when OVS cannot be read', async () => {
    fake.stats = new Error('ovs-ofctl: br-int is not a bridge or a socket');
    const families = await scrape(registry);
    assert.equal(samplesOf(families, 'antrea_edge_networkpolicy_rule_packets_total').length, 0);
    assert.equal(sampleValue(families, 'antrea_edge_networkpolicy_stats_up'), 0);
  });

  it('gives every antrea_edge_ family HELP text and registers process metrics on our registry only', async () => {
    const families = await scrape(registry);
    const ours = [...families.values()].filter((family) => family.name.startsWith('antrea_edge_'));
    assert.ok(ours.length > 20, `only ${ours.length} families`);
    for (const family of ours) {
      assert.ok(family.help !== undefined && family.help.length > 10, `${family.name} has no HELP`);
      assert.notEqual(family.type, 'untyped', `${family.name} has no TYPE`);
    }
    assert.ok(families.has('antrea_edge_process_resident_memory_bytes'));
    assert.ok(families.has('antrea_edge_nodejs_eventloop_lag_seconds'));
    assert.ok((sampleValue(families, 'antrea_edge_process_resident_memory_bytes') ?? 0) > 1_000_000);
    assert.match(families.get('antrea_edge_local_pods')?.help ?? '', /antrea_agent_local_pod_count/);
    assert.equal(globalRegistry.getMetricsAsArray().length, 0, "prom-client's global registry stays empty");
  });

  it('lets two firmwares in one process have their own registries', async () => {
    const second = new Registry();
    const other = new FakeSources();
    other.pods = 42;
    const secondMetrics = new FirmwareMetrics({
      registry: second,
      sources: other.sources(),
      logger: silentLogger,
    });
    secondMetrics.start();
    try {
      assert.equal(sampleValue(await scrape(second), 'antrea_edge_local_pods'), 42);
      assert.equal(sampleValue(await scrape(registry), 'antrea_edge_local_pods'), 3);
    } finally {
      secondMetrics.stop();
    }
  });
});

describe('rule series', () => {
  const views = [
    statsView('K8sNetworkPolicy', 'b', 'p2', [{ name: 'r', packets: 1, bytes: 10 }]),
    statsView('K8sNetworkPolicy', 'a', 'p1', [
      { name: 'r1', packets: 2, bytes: 20 },
      { name: 'r2', packets: 3, bytes: 30 },
      { name: 'r2', packets: 4, bytes: 40 },
    ]),
  ];

  it('sorts series, merges same-named rules of one policy and caps the count with an overflow series', () => {
    const all = ruleSeries(views, 100, (s) => s.packets);
    assert.deepEqual(
      all.map((s) => [s.labels.namespace, s.labels.name, s.labels.rule, s.value]),
      [
        ['a', 'p1', 'r1', 2],
        ['a', 'p1', 'r2', 7],
        ['b', 'p2', 'r', 1],
      ],
    );
    const capped = ruleSeries(views, 2, (s) => s.bytes);
    assert.deepEqual(
      capped.map((s) => [s.labels.name, s.labels.rule, s.value]),
      [
        ['p1', 'r1', 20],
        ['_overflow', '_overflow', 80],
      ],
    );
  });

  it('bounds the series a scrape exposes', async () => {
    const registry = new Registry();
    const fake = new FakeSources();
    fake.stats = views;
    const metrics = new FirmwareMetrics({
      registry,
      sources: fake.sources(),
      logger: silentLogger,
      maxRuleSeries: 2,
      processMetrics: false,
    });
    metrics.start();
    try {
      const families = parsePrometheusText(await registry.metrics());
      assert.equal(samplesOf(families, 'antrea_edge_networkpolicy_rule_packets_total').length, 2);
      assert.equal(
        sampleValue(families, 'antrea_edge_networkpolicy_rule_packets_total', { rule: '_overflow' }),
        8,
      );
    } finally {
      metrics.stop();
    }
  });
});

describe('packet-in purpose labels', () => {
  it('names every controller purpose in snake case and anything else unknown', () => {
    assert.equal(
      packetInPurpose(encodeControllerUserdata({ purpose: ControllerPurpose.Reject, ruleId: 1 })),
      'reject',
    );
    assert.equal(
      packetInPurpose(encodeControllerUserdata({ purpose: ControllerPurpose.AuditLog, ruleId: 1 })),
      'audit_log',
    );
    assert.equal(packetInPurpose(new Uint8Array([0x7f, 0, 0, 0, 1])), 'unknown');
    assert.equal(packetInPurpose(undefined), 'unknown');
  });
});

describe('PolicyEnforcer realization events', () => {
  const snapshot: ControllerSnapshot = {
    networkPolicies: new Map(),
    addressGroups: new Map(),
    appliedToGroups: new Map(),
  };
  const noChanges: ControllerChanges = {
    networkPolicies: { upserted: [], deleted: [] },
    addressGroups: { upserted: [], deleted: [] },
    appliedToGroups: { upserted: [], deleted: [] },
  };

  it('reports one latency per change once its flows are in OVS', async () => {
    let notify: ((changes: ControllerChanges) => void) | undefined;
    let releaseWrite: (() => void) | undefined;
    let writes = 0;
    const enforcer = new PolicyEnforcer({
      nodeName: 'n1',
      policies: {
        onChanges: (listener) => {
          notify = listener;
          return () => undefined;
        },
        view: () => ({ snapshot: () => snapshot }),
      },
      localPods: () => new Map(),
      flows: {
        stage: () => undefined,
        setOwnerFlows: async () => {
          writes++;
          if (writes > 1) await new Promise<void>((resolve) => (releaseWrite = resolve));
          return { add: [], modify: [], delete: [] };
        },
      },
      logger: silentLogger,
    });
    const events: RealizationEvent[] = [];
    enforcer.onRealized((event) => events.push(event));
    await enforcer.start();
    events.length = 0;
    notify?.(noChanges);
    notify?.(noChanges);
    enforcer.podsChanged();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(events.length, 0, 'nothing is realized while the write is pending');
    releaseWrite?.();
    await enforcer.idle();
    await enforcer.stop();
    assert.equal(events.length, 1);
    assert.equal(events[0]?.latenciesSeconds.length, 3, 'three changes, one bundle');
    for (const seconds of events[0]?.latenciesSeconds ?? []) assert.ok(seconds >= 0.02 && seconds < 10);
  });
});

describe('Prometheus text parser (test helper)', () => {
  it('parses samples, labels with escapes and special values', () => {
    const families = parsePrometheusText(
      [
        '# HELP x_total A counter.',
        '# TYPE x_total counter',
        'x_total{a="q\\"uo\\\\te",b="line\\nbreak"} 3',
        '# TYPE h histogram',
        'h_bucket{le="+Inf"} 2',
        'h_sum 0.5',
        'h_count 2',
        '# TYPE g gauge',
        'g NaN',
        '',
      ].join('\n'),
    );
    assert.equal(sampleValue(families, 'x_total', { a: 'q"uo\\te', b: 'line\nbreak' }), 3);
    assert.equal(families.get('h')?.samples.length, 3);
    assert.ok(Number.isNaN(sampleValue(families, 'g')));
  });

  it('rejects what a scraper would reject', () => {
    for (const bad of [
      'no_type 1',
      '# TYPE a gauge\na{b="c" 1',
      '# TYPE a gauge\na{b=c} 1',
      '# TYPE a gauge\na one',
      '# TYPE a gauge\na 1\na 2',
      '# TYPE a sometype',
      '# TYPE a gauge\na{b="1",b="2"} 1',
    ]) {
      assert.throws(() => parsePrometheusText(bad), MetricsParseError, bad);
    }
  });
});
