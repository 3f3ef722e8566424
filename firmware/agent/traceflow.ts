// Traceflow on this node: inject a marked packet at the source Pod's port (or wait for the next real packet of a
// new connection from it, `live`) and report where the pipeline took it, like Antrea's Traceflow.
//
// One trace: pick a free tag, install the trace's temporary flows (core/traceflow/flows.ts) as the FlowReconciler
// owner "traceflow/<tag>" in one bundle, send the packet (packet-out with the tag in the mark register, entering
// table 0 from the Pod's port), wait for the packet-in that carries the tag, remove the flows, decode the
// packet-in into observations. The packet-in arrives on the agent's shared OpenFlow channel with userdata
// purpose Traceflow; the Reject responder and the audit logger ignore that purpose.
import type { Logger } from '../core/logger';
import { OfpPort } from '../core/openflow/constants';
import { describeFrame, parseFrame } from '../core/packets/frame';
import { ControllerPurpose, decodeControllerUserdata } from '../core/pipeline/controller-userdata';
import { CookieCategory, cookieScope, type Flow } from '../core/pipeline/flow';
import type { ConjunctionRule } from '../core/pipeline/policy-flows';
import type { FlowPlan } from '../core/plan/flow-plan';
import {
  MAX_TRACE_TAG,
  MIN_TRACE_TAG,
  TRACEFLOW_TAG_REG,
  traceflowFlows,
  traceflowOwner,
  type LiveFilter,
} from '../core/traceflow/flows';
import { decodeObservations, traceTagOf, type TraceRuleInfo } from '../core/traceflow/observations';
import { ofprotoTraceFlow, parseOfprotoTrace } from '../core/traceflow/ofproto-trace';
import { buildTracePacket, type TracePacketSpec } from '../core/traceflow/packet';
import {
  TraceflowError,
  normalizeTraceRequest,
  podRefText,
  type NormalizedTraceRequest,
  type TablePathStep,
  type TracePolicyRef,
  type TraceProtocol,
  type TraceflowRequest,
  type TraceflowResult,
} from '../core/traceflow/types';
import type { PacketIn, PacketOutOptions, PacketOutTarget } from '../ovs/openflow-channel';

/** The part of the OpenFlow channel Traceflow uses. */
export interface TraceflowChannel {
  on(event: 'packetIn', listener: (packetIn: PacketIn) => void): unknown;
  off(event: 'packetIn', listener: (packetIn: PacketIn) => void): unknown;
  packetOut(packet: Uint8Array, target: PacketOutTarget, options?: PacketOutOptions): Promise<void>;
  readonly isConnected: boolean;
}

/** The part of the FlowReconciler Traceflow uses. */
export interface TraceflowFlowSink {
  setOwnerFlows(owner: string, flows: Flow[]): Promise<FlowPlan>;
  removeOwner(owner: string): Promise<FlowPlan>;
}

/** Reads installed flows (FlowWriter): the policy flows to copy. */
export interface InstalledFlowSource {
  dumpFlows(filter: { cookie?: bigint; cookieMask?: bigint }): Promise<Flow[]>;
}

export interface TraceflowPod {
  namespace: string;
  name: string;
  ip: string;
  mac: string;
  ofport: number;
}

export interface TraceflowPods {
  /** A local Pod with its bridge port; undefined when unknown or not attached. */
  pod(namespace: string, name: string): TraceflowPod | undefined;
  byOfport(ofport: number): TraceflowPod | undefined;
  byIp(ip: string): TraceflowPod | undefined;
}

export interface TraceflowNode {
  gatewayOfport: number;
  gatewayMac: string;
  tunnelOfport: number;
}

/** What decides a K8s default drop: the query the policy evaluator answers (TCP/UDP with a port only). */
export interface IsolationQuery {
  direction: 'In' | 'Out';
  source: string;
  destination: string;
  protocol: 'TCP' | 'UDP';
  port: number;
}

export interface TraceflowServiceOptions {
  channel: TraceflowChannel;
  flows: TraceflowFlowSink;
  installedFlows: InstalledFlowSource;
  rules: { conjunctionRule(conjId: number): ConjunctionRule | undefined };
  pods: TraceflowPods;
  node: () => TraceflowNode;
  /** The agent's OpenFlow connection id: observation flows send to it. */
  controllerId: number;
  logger: Logger;
  /** Runs `ofproto/trace <bridge> <flow>` and returns its output; absent: no per-table path. */
  ofprotoTrace?: (flowText: string) => Promise<string>;
  /** The K8s policy that isolates a Pod, for default drops. */
  isolatingPolicy?: (query: IsolationQuery) => TracePolicyRef | undefined;
  /** Traces that may run at once (each holds one tag). Default 8. */
  maxConcurrent?: number;
  random?: () => number;
  now?: () => number;
}

interface ActiveTrace {
  tag: number;
  live: boolean;
  settle(packetIn: PacketIn | undefined, reason?: string): void;
}

const DEFAULT_MAX_CONCURRENT = 8;
const EPHEMERAL_PORT_BASE = 49152;

export class TraceflowService {
  private readonly logger: Logger;
  private readonly active = new Map<number, ActiveTrace>();
  private readonly listener = (packetIn: PacketIn): void => this.onPacketIn(packetIn);
  private started = false;
  private nextTag = MIN_TRACE_TAG;
  private readonly counters = { traces: 0, failed: 0, packetIns: 0, strayPacketIns: 0 };

  constructor(private readonly options: TraceflowServiceOptions) {
    this.logger = options.logger.child({ component: 'traceflow' });
  }

  get stats(): Readonly<{
    traces: number;
    failed: number;
    packetIns: number;
    strayPacketIns: number;
    active: number;
  }> {
    return { ...this.counters, active: this.active.size };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.options.channel.on('packetIn', this.listener);
  }

  /** Ends running traces (their flows are removed by their own `finally`). */
  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.options.channel.off('packetIn', this.listener);
    for (const trace of [...this.active.values()]) trace.settle(undefined, 'the agent is stopping');
  }

  /** Runs one trace. Rejects with TraceflowError for bad requests and when tracing is unavailable. */
  async trace(input: TraceflowRequest): Promise<TraceflowResult> {
    const request = normalizeTraceRequest(input);
    if (!this.started) throw new TraceflowError('TRACEFLOW_UNAVAILABLE', 'Traceflow is not running');
    if (!this.options.channel.isConnected) {
      throw new TraceflowError('TRACEFLOW_UNAVAILABLE', 'the agent has no OpenFlow connection to the bridge');
    }
    const now = this.options.now ?? Date.now;
    const random = this.options.random ?? Math.random;
    const node = this.options.node();
    const source = this.options.pods.pod(request.source.namespace, request.source.name);
    if (source === undefined) {
      throw new TraceflowError(
        'TRACEFLOW_NOT_FOUND',
        `source Pod ${podRefText(request.source)} is not attached on this node`,
      );
    }
    const destination = this.resolveDestination(request, node);
    const tag = this.allocateTag();
    const started = now();
    const owner = traceflowOwner(tag);
    const name = `tf-${tag}-${started}`;
    let packetSpec: TracePacketSpec | undefined;
    if (!request.live) {
      const ports =
        request.protocol === 'ICMP'
          ? {}
          : {
              srcPort:
                request.sourcePort ??
                EPHEMERAL_PORT_BASE + Math.floor(random() * (65536 - EPHEMERAL_PORT_BASE)),
              dstPort: request.port,
            };
      packetSpec = {
        protocol: request.protocol,
        srcMac: source.mac,
        dstMac: destination.mac,
        srcIp: source.ip,
        dstIp: destination.ip ?? '',
        identifier: Math.floor(random() * 0x10000),
        ...ports,
      };
    }
    const packet = packetSpec ? buildTracePacket(packetSpec) : undefined;
    this.counters.traces++;

    let settle!: (packetIn: PacketIn | undefined, reason?: string) => void;
    const outcome = new Promise<{ packetIn?: PacketIn; reason?: string }>((resolve) => {
      let done = false;
      settle = (packetIn, reason) => {
        if (done) return;
        done = true;
        resolve(packetIn ? { packetIn } : { reason: reason ?? 'no observation' });
      };
    });
    this.active.set(tag, { tag, live: request.live, settle });
    let tablePath: TablePathStep[] | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const policyFlows = await this.options.installedFlows.dumpFlows(cookieScope(CookieCategory.Policy));
      const live: LiveFilter | undefined = request.live
        ? {
            inPort: source.ofport,
            protocol: request.protocol,
            ...(destination.ip !== undefined ? { dstIp: destination.ip } : {}),
            ...(request.port !== undefined ? { dstPort: request.port } : {}),
            ...(request.sourcePort !== undefined ? { srcPort: request.sourcePort } : {}),
          }
        : undefined;
      const flows = traceflowFlows({
        tag,
        controllerId: this.options.controllerId,
        policyFlows,
        ...(live ? { live } : {}),
      });
      await this.options.flows.setOwnerFlows(owner, flows);
      timer = setTimeout(
        () =>
          settle(
            undefined,
            request.live
              ? `no matching packet within ${request.timeoutSeconds}s`
              : `the packet was not observed within ${request.timeoutSeconds}s`,
          ),
        request.timeoutSeconds * 1000,
      );
      if (packet && packetSpec) {
        const trace = this.runOfprotoTrace(packetSpec, source.ofport, tag);
        await this.options.channel.packetOut(
          packet,
          { inPort: source.ofport, outPort: OfpPort.Table },
          { registers: { [TRACEFLOW_TAG_REG]: tag } },
        );
        tablePath = await trace;
      }
      const result = await outcome;
      return this.buildResult({
        name,
        request,
        source,
        destination,
        node,
        started,
        finished: now(),
        ...(packet ? { packet } : {}),
        ...(result.packetIn ? { packetIn: result.packetIn } : {}),
        ...(result.reason !== undefined ? { reason: result.reason } : {}),
        ...(tablePath ? { tablePath } : {}),
      });
    } finally {
      clearTimeout(timer);
      this.active.delete(tag);
      await this.options.flows.removeOwner(owner).catch((error: unknown) => {
        this.logger.error('could not remove traceflow flows', { owner, error });
      });
    }
  }

  private onPacketIn(packetIn: PacketIn): void {
    const decoded = decodeControllerUserdata(packetIn.userdata);
    if (!decoded.ok || decoded.userdata.purpose !== ControllerPurpose.Traceflow) return;
    this.counters.packetIns++;
    const trace = this.active.get(traceTagOf(packetIn.metadata.registers));
    if (!trace) {
      // A packet marked by a trace that just ended (live traffic in flight while the flows were removed).
      this.counters.strayPacketIns++;
      return;
    }
    trace.settle(packetIn);
  }

  private resolveDestination(
    request: NormalizedTraceRequest,
    node: TraceflowNode,
  ): { mac: string; ip?: string; pod?: TraceflowPod } {
    if (request.destination !== undefined) {
      const pod = this.options.pods.pod(request.destination.namespace, request.destination.name);
      if (pod === undefined) {
        throw new TraceflowError(
          'TRACEFLOW_NOT_FOUND',
          `destination Pod ${podRefText(request.destination)} is not attached on this node: trace to its IP with destinationIp`,
        );
      }
      return { mac: pod.mac, ip: pod.ip, pod };
    }
    if (request.destinationIp === undefined) return { mac: node.gatewayMac };
    // A local Pod's address is resolved by ARP to that Pod; everything else goes to the gateway (default route).
    const local = this.options.pods.byIp(request.destinationIp);
    return local
      ? { mac: local.mac, ip: request.destinationIp, pod: local }
      : { mac: node.gatewayMac, ip: request.destinationIp };
  }

  private allocateTag(): number {
    const max = this.options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    if (this.active.size >= max) {
      throw new TraceflowError(
        'TRACEFLOW_UNAVAILABLE',
        `${this.active.size} traces are running; at most ${max} may run at once`,
      );
    }
    for (let i = 0; i <= MAX_TRACE_TAG - MIN_TRACE_TAG; i++) {
      const tag = this.nextTag;
      this.nextTag = tag >= MAX_TRACE_TAG ? MIN_TRACE_TAG : tag + 1;
      if (!this.active.has(tag)) return tag;
    }
    throw new TraceflowError('TRACEFLOW_UNAVAILABLE', 'no free traceflow tag');
  }

  private async runOfprotoTrace(
    spec: TracePacketSpec,
    inPort: number,
    tag: number,
  ): Promise<TablePathStep[] | undefined> {
    const run = this.options.ofprotoTrace;
    if (run === undefined) return undefined;
    try {
      return parseOfprotoTrace(await run(ofprotoTraceFlow(spec, inPort, tag)));
    } catch (error) {
      this.logger.warn('ofproto/trace failed; the result has no table path', { error });
      return undefined;
    }
  }

  private buildResult(input: {
    name: string;
    request: NormalizedTraceRequest;
    source: TraceflowPod;
    destination: { ip?: string; pod?: TraceflowPod };
    node: TraceflowNode;
    started: number;
    finished: number;
    packet?: Uint8Array;
    packetIn?: PacketIn;
    reason?: string;
    tablePath?: TablePathStep[];
  }): TraceflowResult {
    const { request, source, destination, packetIn } = input;
    // Injected: the packet as sent; live: the packet as captured.
    const frameBytes = request.live ? packetIn?.packet : input.packet;
    const parsed = frameBytes ? parseFrame(frameBytes) : undefined;
    const frame = parsed?.ok ? parsed.frame : undefined;
    const destinationView: TraceflowResult['destination'] = {};
    if (destination.pod) {
      destinationView.namespace = destination.pod.namespace;
      destinationView.pod = destination.pod.name;
    }
    const destinationIp = destination.ip ?? (frame?.kind === 'ipv4' ? frame.ipv4.dst.join('.') : undefined);
    if (destinationIp !== undefined) destinationView.ip = destinationIp;

    const result: TraceflowResult = {
      name: input.name,
      phase: packetIn ? 'Succeeded' : 'Failed',
      live: request.live,
      source: { namespace: source.namespace, pod: source.name, ip: source.ip },
      destination: destinationView,
      packet: frame ? describeFrame(frame) : describeRequest(request),
      observations: [],
      startTime: new Date(input.started).toISOString(),
      durationMs: input.finished - input.started,
    };
    if (input.tablePath) result.tablePath = input.tablePath;
    if (!packetIn) {
      this.counters.failed++;
      result.reason = input.reason ?? 'no observation';
      return result;
    }
    const decoded = decodeControllerUserdata(packetIn.userdata);
    const ruleId = decoded.ok ? decoded.userdata.ruleId : 0;
    const dstPort =
      frame?.kind === 'ipv4' && 'dstPort' in frame.payload ? frame.payload.dstPort : request.port;
    const protocol = frame?.kind === 'ipv4' ? protocolOf(frame.ipv4.protocol) : request.protocol;
    result.observations = decodeObservations(
      {
        tableId: packetIn.tableId,
        registers: packetIn.metadata.registers,
        ruleId,
        ...(packetIn.metadata.tunnelIpv4Dst !== undefined
          ? { tunnelDst: packetIn.metadata.tunnelIpv4Dst }
          : {}),
      },
      {
        gatewayOfport: input.node.gatewayOfport,
        tunnelOfport: input.node.tunnelOfport,
        rule: (conjId) => ruleInfo(this.options.rules.conjunctionRule(conjId)),
        podByOfport: (ofport) => {
          const pod = this.options.pods.byOfport(ofport);
          return pod ? `${pod.namespace}/${pod.name}` : undefined;
        },
        isolatingPolicy: (direction) => {
          const ask = this.options.isolatingPolicy;
          if (ask === undefined || destinationIp === undefined || dstPort === undefined) return undefined;
          if (protocol !== 'TCP' && protocol !== 'UDP') return undefined;
          return ask({
            direction,
            source: `${source.namespace}/${source.name}`,
            destination: destination.pod
              ? `${destination.pod.namespace}/${destination.pod.name}`
              : destinationIp,
            protocol,
            port: dstPort,
          });
        },
      },
    );
    const last = result.observations[result.observations.length - 1];
    if (last) result.verdict = last.action;
    this.logger.info('traceflow done', {
      name: result.name,
      live: result.live,
      packet: result.packet,
      verdict: result.verdict,
      table: packetIn.tableId,
    });
    return result;
  }
}

function ruleInfo(rule: ConjunctionRule | undefined): TraceRuleInfo | undefined {
  if (rule === undefined) return undefined;
  const info: TraceRuleInfo = {
    kind: rule.kind,
    direction: rule.direction,
    action: rule.action,
    table: rule.table,
  };
  if (rule.policy) {
    info.policy = {
      type: rule.policy.type,
      name: rule.policy.name,
      ...(rule.policy.namespace !== undefined ? { namespace: rule.policy.namespace } : {}),
    };
  }
  if (rule.ruleName !== undefined) info.ruleName = rule.ruleName;
  if (rule.pod !== undefined) info.pod = rule.pod;
  return info;
}

function protocolOf(ipProtocol: number): TraceProtocol | undefined {
  return ipProtocol === 6 ? 'TCP' : ipProtocol === 17 ? 'UDP' : ipProtocol === 1 ? 'ICMP' : undefined;
}

function describeRequest(request: NormalizedTraceRequest): string {
  const parts = [request.protocol.toLowerCase()];
  if (request.destinationIp !== undefined) parts.push(`to ${request.destinationIp}`);
  if (request.port !== undefined) parts.push(`port ${request.port}`);
  if (request.sourcePort !== undefined) parts.push(`from port ${request.sourcePort}`);
  return `${parts.join(' ')} (live traffic filter)`;
}
