// The firmware's Prometheus metrics, on a registry the Firmware owns (never prom-client's global one, so two
// firmwares in one test process do not share series). Gauges and state-derived counters are read from the
// components when Prometheus scrapes; event counters (packet-ins, audit entries) and the realization latency
// histogram follow the components' events. Names start with `antrea_edge_`; where Antrea's agent has the same
// metric, its name is in the HELP text.
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { NetworkPolicyStatsView } from '../core/antctl/views';
import type { Logger } from '../core/logger';
import { ControllerPurpose, decodeControllerUserdata } from '../core/pipeline/controller-userdata';
import { tableById } from '../core/pipeline/tables';
import type { RealizationEvent } from '../agent/policy-enforcer';

export const METRIC_PREFIX = 'antrea_edge_';

/** The part of OpenFlowChannel the metrics use. */
export interface PacketInEvents {
  readonly isConnected: boolean;
  on(event: 'packetIn', listener: (packetIn: { userdata: Uint8Array | undefined }) => void): unknown;
  off(event: 'packetIn', listener: (packetIn: { userdata: Uint8Array | undefined }) => void): unknown;
}

export interface FirmwareMetricsSources {
  version: string;
  /** Pods with a port on this node's bridge. */
  localPods(): number;
  /** The controller's totals; throws while the policy service is not started (the series are then absent). */
  policyCounts(): { networkPolicies: number; addressGroups: number; appliedToGroups: number };
  /** Desired flows by table id (FlowReconciler.desiredFlowsPerTable): what OVS holds, without a dump. */
  flowsPerTable(): ReadonlyMap<number, number>;
  /** Per-policy and per-rule counts (the `antctl get networkpolicystats` query); read at scrape time. */
  ruleStats?: { networkPolicyStats(filter: Record<string, never>): Promise<NetworkPolicyStatsView[]> };
  enforcer?: {
    readonly stats: { realizations: number; failures: number };
    onRealized(listener: (event: RealizationEvent) => void): () => void;
  };
  ovsdb: { isConnected(): boolean };
  openflow: PacketInEvents;
  audit?: { onEntry(listener: (entry: { disposition: string }) => void): () => void };
}

export interface FirmwareMetricsOptions {
  registry: Registry;
  sources: FirmwareMetricsSources;
  logger: Logger;
  /**
   * At most this many rule series per counter; the remaining rules are summed into one series with rule
   * `_overflow`, so a node with thousands of rules cannot flood Prometheus. Default 500.
   */
  maxRuleSeries?: number;
  /** Register prom-client's process and Node.js metrics (memory, CPU, event loop lag). Default true. */
  processMetrics?: boolean;
}

export const DEFAULT_MAX_RULE_SERIES = 500;

/** Seconds from a policy change (policy, group or local pod) to its flows being in OVS. */
export const REALIZATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** `reject`, `audit_log`, … : every ControllerPurpose in snake case, so new purposes get their label. */
const PURPOSE_LABELS = new Map<number, string>(
  Object.entries(ControllerPurpose).map(([key, value]) => [
    value,
    key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase(),
  ]),
);
const UNKNOWN_PURPOSE = 'unknown';
const PACKET_IN_PURPOSES = [...PURPOSE_LABELS.values(), UNKNOWN_PURPOSE];
const DISPOSITIONS = ['Allow', 'Drop', 'Reject', 'Pass'] as const;
const RULE_LABELS = ['policy_type', 'namespace', 'name', 'rule'] as const;
type RuleLabel = (typeof RULE_LABELS)[number];

/** How long one fetch of rule stats serves the scrape that runs the counters' collectors concurrently. */
const RULE_STATS_REUSE_MS = 1000;

export class FirmwareMetrics {
  private readonly unsubscribes: (() => void)[] = [];
  private started = false;
  private ruleStatsCache: { atMs: number; result: Promise<NetworkPolicyStatsView[] | undefined> } | undefined;

  constructor(private readonly options: FirmwareMetricsOptions) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    const { registry, sources, logger } = this.options;
    const registers = [registry];
    const name = (suffix: string): string => `${METRIC_PREFIX}${suffix}`;

    if (this.options.processMetrics !== false) {
      // process_resident_memory_bytes, nodejs_heap_*, nodejs_eventloop_lag_seconds (+ p50/p90/p99), GC.
      collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    }

    new Gauge({
      name: name('build_info'),
      help: 'Firmware version, always 1.',
      labelNames: ['version'],
      registers,
      collect() {
        this.set({ version: sources.version }, 1);
      },
    });
    new Gauge({
      name: name('local_pods'),
      help: 'Number of Pods on this node with a port on the bridge (antrea_agent_local_pod_count).',
      registers,
      collect() {
        this.set(sources.localPods());
      },
    });
    const policyCount = (suffix: string, help: string, pick: (c: PolicyCounts) => number): void => {
      new Gauge({
        name: name(suffix),
        help,
        registers,
        collect() {
          // Unknown (policy service not serving): keep the last value; an unlabelled gauge cannot be absent.
          const counts = tryCounts(sources);
          if (counts !== undefined) this.set(pick(counts));
        },
      });
    };
    policyCount(
      'network_policies',
      'Number of internal NetworkPolicies the controller computed (antrea_agent_networkpolicy_count).',
      (c) => c.networkPolicies,
    );
    policyCount(
      'address_groups',
      'Number of AddressGroups the controller computed (antrea_controller_address_group_processed counts their syncs).',
      (c) => c.addressGroups,
    );
    policyCount(
      'applied_to_groups',
      'Number of AppliedToGroups the controller computed (antrea_controller_applied_to_group_processed counts their syncs).',
      (c) => c.appliedToGroups,
    );
    new Gauge({
      name: name('ovs_flows'),
      help: 'Flows per OVS table, from the agent’s desired flows, which every successful change installs (antrea_agent_ovs_flow_count, label table_id).',
      labelNames: ['table_id', 'table'],
      registers,
      collect() {
        this.reset();
        for (const [table, count] of sources.flowsPerTable()) {
          this.set({ table_id: String(table), table: tableById(table)?.name ?? String(table) }, count);
        }
      },
    });
    new Gauge({
      name: name('ovs_total_flows'),
      help: 'Flows in all OVS tables, from the agent’s desired flows (antrea_agent_ovs_total_flow_count).',
      registers,
      collect() {
        let total = 0;
        for (const count of sources.flowsPerTable().values()) total += count;
        this.set(total);
      },
    });
    new Gauge({
      name: name('ovsdb_connection_up'),
      help: '1 when the agent’s OVSDB connection is up, else 0.',
      registers,
      collect() {
        this.set(sources.ovsdb.isConnected() ? 1 : 0);
      },
    });
    new Gauge({
      name: name('openflow_connection_up'),
      help: '1 when the agent’s OpenFlow connection (packet-in/out) is up, else 0 (AntreaAgentInfo OpenflowConnectionUp).',
      registers,
      collect() {
        this.set(sources.openflow.isConnected ? 1 : 0);
      },
    });

    const enforcer = sources.enforcer;
    if (enforcer !== undefined) {
      new Counter({
        name: name('policy_realizations_total'),
        help: 'Policy reconciles that reached OVS, including the start-up resync (cf. antrea_agent_ovs_flow_ops_count).',
        registers,
        collect() {
          this.reset();
          this.inc(enforcer.stats.realizations);
        },
      });
      new Counter({
        name: name('policy_realization_failures_total'),
        help: 'Policy reconciles that failed and were retried (cf. antrea_agent_ovs_flow_ops_error_count).',
        registers,
        collect() {
          this.reset();
          this.inc(enforcer.stats.failures);
        },
      });
      const latency = new Histogram({
        name: name('policy_realization_duration_seconds'),
        help: 'Seconds from a policy, group or local Pod change to its flows being in OVS, one observation per change (cf. antrea_controller_network_policy_sync_duration_milliseconds).',
        buckets: REALIZATION_BUCKETS,
        registers,
      });
      this.unsubscribes.push(
        enforcer.onRealized((event) => {
          for (const seconds of event.latenciesSeconds) latency.observe(Math.max(0, seconds));
        }),
      );
    }

    const packetIns = new Counter({
      name: name('packet_ins_total'),
      help: `Packet-ins received on the agent’s OpenFlow connection, by purpose (${PACKET_IN_PURPOSES.join(', ')}); rate() is the packet-in rate after the packet-in meter.`,
      labelNames: ['purpose'],
      registers,
    });
    for (const purpose of PACKET_IN_PURPOSES) packetIns.inc({ purpose }, 0);
    const onPacketIn = (packetIn: { userdata: Uint8Array | undefined }): void => {
      packetIns.inc({ purpose: packetInPurpose(packetIn.userdata) });
    };
    sources.openflow.on('packetIn', onPacketIn);
    this.unsubscribes.push(() => sources.openflow.off('packetIn', onPacketIn));

    const audit = sources.audit;
    if (audit !== undefined) {
      const entries = new Counter({
        name: name('audit_log_entries_total'),
        help: 'NetworkPolicy audit log entries written to np.log, by disposition (drops and rejects: cf. antrea_agent_denied_connection_count).',
        labelNames: ['disposition'],
        registers,
      });
      for (const disposition of DISPOSITIONS) entries.inc({ disposition }, 0);
      this.unsubscribes.push(audit.onEntry((entry) => entries.inc({ disposition: entry.disposition })));
    }

    const ruleStats = sources.ruleStats;
    if (ruleStats !== undefined) {
      const maxSeries = this.options.maxRuleSeries ?? DEFAULT_MAX_RULE_SERIES;
      const fetch = (): Promise<NetworkPolicyStatsView[] | undefined> => this.ruleStatsOnce(ruleStats);
      const ruleCounter = (
        suffix: string,
        help: string,
        pick: (stats: { packets: number; bytes: number }) => number,
      ): void => {
        new Counter({
          name: name(suffix),
          help,
          labelNames: RULE_LABELS,
          registers,
          async collect() {
            const views = await fetch();
            this.reset();
            if (views === undefined) return;
            for (const series of ruleSeries(views, maxSeries, pick)) this.inc(series.labels, series.value);
          },
        });
      };
      ruleCounter(
        'networkpolicy_rule_packets_total',
        'Packets counted by each NetworkPolicy rule on this node (as antctl get networkpolicystats counts them: packets that opened a connection for Allow, every packet for Drop/Reject); rules past the series limit are summed under rule="_overflow".',
        (s) => s.packets,
      );
      ruleCounter(
        'networkpolicy_rule_bytes_total',
        'Bytes counted by each NetworkPolicy rule on this node (see antrea_edge_networkpolicy_rule_packets_total).',
        (s) => s.bytes,
      );
      new Gauge({
        name: name('networkpolicy_stats_up'),
        help: '1 when the last scrape could read the rule counters from OVS, else 0.',
        registers,
        async collect() {
          this.set((await fetch()) === undefined ? 0 : 1);
        },
      });
    }
    logger.debug('metrics registered', { metrics: registry.getMetricsAsArray().length });
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.started = false;
  }

  /** One OVS read per scrape: every rule collector of a scrape runs concurrently and shares it. */
  private ruleStatsOnce(
    source: NonNullable<FirmwareMetricsSources['ruleStats']>,
  ): Promise<NetworkPolicyStatsView[] | undefined> {
    const now = Date.now();
    const cached = this.ruleStatsCache;
    if (cached !== undefined && now - cached.atMs < RULE_STATS_REUSE_MS) return cached.result;
    const result = source.networkPolicyStats({}).catch((error: unknown) => {
      this.options.logger.debug('rule counters not read for metrics', { error });
      return undefined;
    });
    this.ruleStatsCache = { atMs: now, result };
    return result;
  }
}

type PolicyCounts = ReturnType<FirmwareMetricsSources['policyCounts']>;

function tryCounts(sources: FirmwareMetricsSources): PolicyCounts | undefined {
  try {
    return sources.policyCounts();
  } catch {
    return undefined;
  }
}

/** The `purpose` label of a packet-in: its userdata's purpose, or `unknown` for userdata we did not write. */
export function packetInPurpose(userdata: Uint8Array | undefined): string {
  const decoded = decodeControllerUserdata(userdata);
  if (!decoded.ok) return UNKNOWN_PURPOSE;
  return PURPOSE_LABELS.get(decoded.userdata.purpose) ?? UNKNOWN_PURPOSE;
}

export interface RuleSeries {
  labels: Record<RuleLabel, string>;
  value: number;
}

/**
 * One series per policy rule, sorted by type, namespace, policy and rule so the kept ones are stable across
 * scrapes; past `maxSeries`, the rest are summed into one `_overflow` series.
 */
export function ruleSeries(
  views: readonly NetworkPolicyStatsView[],
  maxSeries: number,
  pick: (stats: { packets: number; bytes: number }) => number,
): RuleSeries[] {
  const all: RuleSeries[] = [];
  for (const view of views) {
    for (const rule of view.ruleTrafficStats) {
      all.push({
        labels: {
          policy_type: view.sourceRef.type,
          namespace: view.sourceRef.namespace ?? '',
          name: view.sourceRef.name,
          rule: rule.name,
        },
        value: pick(rule.trafficStats),
      });
    }
  }
  const key = (s: RuleSeries): string =>
    `${s.labels.policy_type}\u0000${s.labels.namespace}\u0000${s.labels.name}\u0000${s.labels.rule}`;
  all.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  // Two rules of one policy with one name would be one series: add them up.
  const merged: RuleSeries[] = [];
  for (const series of all) {
    const last = merged[merged.length - 1];
    if (last !== undefined && key(last) === key(series)) last.value += series.value;
    else merged.push({ labels: { ...series.labels }, value: series.value });
  }
  if (merged.length <= maxSeries) return merged;
  const kept = merged.slice(0, Math.max(0, maxSeries - 1));
  const rest = merged.slice(kept.length).reduce((sum, series) => sum + series.value, 0);
  kept.push({
    labels: { policy_type: '', namespace: '', name: '_overflow', rule: '_overflow' },
    value: rest,
  });
  return kept;
}
