// From the one packet-in a traced packet produces to Antrea-style observations. The packet-in says where the
// packet stopped (its table), which rule stopped it (userdata), and what happened before (registers: the rules
// that allowed it on the way in reg5/reg6, the output port in reg1, the tunnel destination).
import type { RuleAction } from '../api/types';
import {
  EGRESS_RULE_REG,
  INGRESS_RULE_REG,
  MARKS_REG,
  PORT_FOUND_BIT,
  TARGET_OFPORT_REG,
} from '../pipeline/pipeline-flows';
import { CNP_EGRESS_TABLES, CNP_INGRESS_TABLES, Tables, tableById } from '../pipeline/tables';
import { TRACEFLOW_TAG_REG } from './flows';
import type { TraceAction, TracePolicyRef, TraceflowObservation } from './types';

/** The parts of a Traceflow packet-in the decoder reads. */
export interface TracePacketIn {
  tableId: number;
  /** reg0..reg15. */
  registers: readonly number[];
  /** The conjunction id from the userdata (0 where no rule decides). */
  ruleId: number;
  tunnelDst?: string;
}

/** A rule as the enforcer describes a conjunction id (policy-flows.ts ConjunctionRule). */
export interface TraceRuleInfo {
  kind: 'rule' | 'isolation';
  policy?: TracePolicyRef;
  ruleName?: string;
  direction: 'In' | 'Out';
  action: RuleAction;
  table: number;
  /** Isolation drops: the isolated Pod. */
  pod?: string;
}

export interface ObservationContext {
  gatewayOfport: number;
  tunnelOfport: number;
  rule(conjId: number): TraceRuleInfo | undefined;
  /** "namespace/name" of the local Pod on an OpenFlow port. */
  podByOfport(ofport: number): string | undefined;
  /** For K8s isolation drops: the first policy that isolates the Pod in that direction, when known. */
  isolatingPolicy?(direction: 'In' | 'Out'): TracePolicyRef | undefined;
}

const EGRESS_DECISION_TABLES: ReadonlySet<number> = new Set([
  ...CNP_EGRESS_TABLES,
  Tables.EgressRule,
  Tables.EgressDefaultRule,
]);
const INGRESS_DECISION_TABLES: ReadonlySet<number> = new Set([
  ...CNP_INGRESS_TABLES,
  Tables.IngressRule,
  Tables.IngressDefaultRule,
]);

/** The trace tag a packet-in carries (0: not a traced packet). */
export function traceTagOf(registers: readonly number[]): number {
  return registers[TRACEFLOW_TAG_REG] ?? 0;
}

/** The observations along the path of a packet that ended with `packetIn`, in pipeline order. */
export function decodeObservations(
  packetIn: TracePacketIn,
  context: ObservationContext,
): TraceflowObservation[] {
  const table = packetIn.tableId;
  const registers = packetIn.registers;
  const observations: TraceflowObservation[] = [];

  if (table === Tables.Classification || table === Tables.SpoofGuard) {
    observations.push(observation('SpoofGuard', tableText(table), 'Dropped', table));
    return observations;
  }
  observations.push(observation('SpoofGuard', 'SpoofGuard', 'Forwarded', Tables.SpoofGuard));
  if (table === Tables.ConntrackZone || table === Tables.ConntrackState) {
    observations.push(observation('Forwarding', tableText(table), 'Dropped', table));
    return observations;
  }

  const egressAllow = registers[EGRESS_RULE_REG] ?? 0;
  if (EGRESS_DECISION_TABLES.has(table)) {
    observations.push(decision(packetIn, 'Out', context));
    return observations;
  }
  if (egressAllow !== 0) observations.push(allowed(egressAllow, 'Out', context));

  const portFound = ((registers[MARKS_REG] ?? 0) >>> PORT_FOUND_BIT) & 1;
  const outPort = registers[TARGET_OFPORT_REG] ?? 0;
  const tunnelled = portFound === 1 && outPort === context.tunnelOfport;
  const forwardingTable = tunnelled ? Tables.l3Forwarding : Tables.L2Forwarding;
  observations.push({
    ...observation('Forwarding', tableText(forwardingTable), 'Forwarded', forwardingTable),
    ...(tunnelled && packetIn.tunnelDst !== undefined ? { tunnelDstIP: packetIn.tunnelDst } : {}),
  });

  const ingressAllow = registers[INGRESS_RULE_REG] ?? 0;
  if (INGRESS_DECISION_TABLES.has(table)) {
    observations.push(decision(packetIn, 'In', context));
    return observations;
  }
  if (ingressAllow !== 0) observations.push(allowed(ingressAllow, 'In', context));

  if (portFound !== 1) {
    observations.push(observation('Output', 'Output', 'Dropped', table));
    return observations;
  }
  const output: TraceflowObservation = {
    ...observation('Output', 'Output', 'Delivered', table),
    outputPort: outPort,
  };
  if (outPort === context.tunnelOfport) {
    output.action = 'Forwarded';
    if (packetIn.tunnelDst !== undefined) output.tunnelDstIP = packetIn.tunnelDst;
  } else if (outPort === context.gatewayOfport) {
    output.action = 'ForwardedOutOfOverlay';
  } else {
    const pod = context.podByOfport(outPort);
    if (pod !== undefined) output.pod = pod;
  }
  observations.push(output);
  return observations;
}

function decision(
  packetIn: TracePacketIn,
  direction: 'In' | 'Out',
  context: ObservationContext,
): TraceflowObservation {
  const table = packetIn.tableId;
  const rule = packetIn.ruleId === 0 ? undefined : context.rule(packetIn.ruleId);
  const action: TraceAction = rule?.action === 'Reject' ? 'Rejected' : 'Dropped';
  const out = policyObservation(direction, table, action, rule, packetIn.ruleId);
  if (rule?.kind === 'isolation' || (rule === undefined && isDefaultRuleTable(table))) {
    const policy = context.isolatingPolicy?.(direction);
    if (policy !== undefined) out.networkPolicy = policy;
  }
  return out;
}

function allowed(conjId: number, direction: 'In' | 'Out', context: ObservationContext): TraceflowObservation {
  const rule = context.rule(conjId);
  const table = rule?.table ?? (direction === 'Out' ? Tables.EgressRule : Tables.IngressRule);
  return policyObservation(direction, table, 'Forwarded', rule, conjId);
}

function policyObservation(
  direction: 'In' | 'Out',
  table: number,
  action: TraceAction,
  rule: TraceRuleInfo | undefined,
  conjId: number,
): TraceflowObservation {
  const out = observation('NetworkPolicy', componentInfoOf(direction, table), action, table);
  out.direction = direction === 'Out' ? 'Egress' : 'Ingress';
  if (conjId !== 0) out.ruleId = conjId;
  if (rule?.policy !== undefined) out.networkPolicy = { ...rule.policy };
  if (rule?.ruleName !== undefined && rule.ruleName !== '') out.ruleName = rule.ruleName;
  return out;
}

/** Antrea's componentInfo for policy observations: the rule table's kind, per direction. */
function componentInfoOf(direction: 'In' | 'Out', table: number): string {
  if (isDefaultRuleTable(table)) return direction === 'Out' ? 'EgressDefaultRule' : 'IngressDefaultRule';
  return direction === 'Out' ? 'EgressRule' : 'IngressRule';
}

function isDefaultRuleTable(table: number): boolean {
  return table === Tables.EgressDefaultRule || table === Tables.IngressDefaultRule;
}

function observation(
  component: TraceflowObservation['component'],
  componentInfo: string,
  action: TraceAction,
  table: number,
): TraceflowObservation {
  return { component, componentInfo, action, tableName: tableText(table), tableId: table };
}

function tableText(table: number): string {
  return tableById(table)?.name ?? String(table);
}
