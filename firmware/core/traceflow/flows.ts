// The temporary flows of one Traceflow. They only match packets that carry the trace's mark, so real traffic
// never sees them.
//
// The mark is a register, not a header field: TRACEFLOW_TAG_REG holds the trace's tag (1..255). Every packet
// enters the pipeline with all registers zero and no flow of the pipeline loads this register, so real traffic
// cannot carry the mark (Antrea uses a DSCP value in nw_tos instead, which a Pod can set itself). An injected
// packet gets the mark from the packet-out (an OpenFlow 1.5 packet-out sets pipeline fields before table 0); a
// live trace marks the first packet of a new connection in ConntrackState (below). Registers survive the
// conntrack recirculation and arrive with the packet-in (NXT_PACKET_IN2 metadata), so the packet-in also says
// which rules allowed the packet on the way: reg5 / reg6 hold the conjunction ids of the egress / ingress
// rules that allowed it (rule-flows.ts loads them).
//
// Observation points (all `controller(reason=no_match,id=<agent>,userdata=03.<conj id>)`, see
// controller-userdata.ts; the packet-in's table says where, the userdata's id which rule):
//   - every policy decision flow (Policy cookie: conj_id action flows and K8s isolation drops) is copied one
//     priority higher with the mark added. A `conj_id=N` flow is found by a second lookup of the table with
//     conj_id set, which takes the highest-priority flow that matches (ovs-fields(7), measured on OVS 3.1), so
//     the marked copy wins and the original rule flow's counters do not move. Drop and Reject copies send the
//     packet to the agent; Allow and Pass copies keep their loads and goto_table (without audit-log copies);
//   - Output: a marked packet whose output port is known goes to the agent instead of out (live traces: out
//     AND to the agent). An injected packet therefore never reaches the destination Pod;
//   - drops by table miss (Classification, SpoofGuard, ConntrackZone, Output) and by invalid conntrack state.
// Injected packets also skip ConntrackCommit, so a trace leaves no conntrack entry behind (a committed SYN
// could make a later real packet of the same 5-tuple look established and skip the policy tables).
import type { RuleAction } from '../api/types';
import {
  CookieCategory,
  cookieCategory,
  cookieObjectId,
  flow,
  formatHex,
  makeCookie,
  MAX_PRIORITY,
  type Flow,
  type FlowBuilder,
} from '../pipeline/flow';
import { ControllerPurpose, controllerUserdataText } from '../pipeline/controller-userdata';
import { splitActions } from '../pipeline/policy-flows';
import { MARKS_REG, PORT_FOUND_BIT, TARGET_OFPORT_REG } from '../pipeline/pipeline-flows';
import { Tables, nextTable } from '../pipeline/tables';
import { TraceflowError, type TraceProtocol } from './types';

/** The register holding a trace's tag; no pipeline flow uses it. */
export const TRACEFLOW_TAG_REG = 7;
export const MIN_TRACE_TAG = 1;
export const MAX_TRACE_TAG = 255;

/**
 * Traceflow flows use the Pipeline cookie category with object ids from this base + tag: the FlowReconciler owns
 * that category, so flows left by a crash mid-trace are deleted by the next full resync.
 */
export const TRACEFLOW_COOKIE_BASE = 0x7f00_0000;

/** Priority of the Output, ConntrackCommit-bypass and live marking flows: above the pipeline's (210). */
export const TRACEFLOW_PRIORITY = 220;
/** Priority of the table-miss catchers (the misses are priority 0). */
export const TRACEFLOW_MISS_PRIORITY = 1;

export function traceflowCookie(tag: number): bigint {
  return makeCookie(CookieCategory.Pipeline, TRACEFLOW_COOKIE_BASE + checkTag(tag));
}

/** The tag of a Traceflow flow's cookie, or undefined for any other flow. */
export function traceflowTagOfCookie(cookie: bigint): number | undefined {
  if (cookieCategory(cookie) !== CookieCategory.Pipeline) return undefined;
  const tag = cookieObjectId(cookie) - TRACEFLOW_COOKIE_BASE;
  return tag >= MIN_TRACE_TAG && tag <= MAX_TRACE_TAG ? tag : undefined;
}

export function traceflowOwner(tag: number): string {
  return `traceflow/${tag}`;
}

export interface LiveFilter {
  /** The source Pod's port: only its packets are marked. */
  inPort: number;
  protocol: TraceProtocol;
  dstIp?: string;
  dstPort?: number;
  srcPort?: number;
}

export interface TraceflowFlowOptions {
  tag: number;
  /** The agent's OpenFlow connection id (packet-ins go to it alone). */
  controllerId: number;
  /** The installed Policy-category flows (dump-flows), whose decision flows are copied. */
  policyFlows: readonly Flow[];
  /** Live trace: mark the first packet of a new connection matching this, and let it continue for real. */
  live?: LiveFilter;
}

/** Every flow of one trace: install them in one bundle before the packet, remove them after. */
export function traceflowFlows(options: TraceflowFlowOptions): Flow[] {
  const tag = checkTag(options.tag);
  const cookie = traceflowCookie(tag);
  const live = options.live !== undefined;
  const observe = (ruleId = 0): string => observeAction(options.controllerId, ruleId);
  const marked = (table: number, priority: number): FlowBuilder =>
    flow(table).priority(priority).cookie(cookie).matchProtocol('ip').matchReg(TRACEFLOW_TAG_REG, tag);

  const flows: Flow[] = [];
  for (const original of options.policyFlows) {
    const copy = policyDecisionCopy(original, { tag, cookie, observe, live });
    if (copy) flows.push(copy);
  }

  const outputFlow = marked(Tables.Output, TRACEFLOW_PRIORITY)
    .matchReg(MARKS_REG, 1, PORT_FOUND_BIT)
    .controller(observeOptions(options.controllerId, 0));
  if (live) outputFlow.outputReg(TARGET_OFPORT_REG);
  flows.push(outputFlow.done());

  for (const table of [Tables.Classification, Tables.SpoofGuard, Tables.ConntrackZone, Tables.Output]) {
    flows.push(
      marked(table, TRACEFLOW_MISS_PRIORITY).controller(observeOptions(options.controllerId, 0)).done(),
    );
  }
  // The pipeline drops invalid connections at Low (190) in ConntrackState.
  flows.push(
    marked(Tables.ConntrackState, 191)
      .matchCtState({ inv: true, trk: true })
      .controller(observeOptions(options.controllerId, 0))
      .done(),
  );

  if (options.live) {
    flows.push(liveMarkFlow(options.live, tag, cookie));
  } else {
    flows.push(
      marked(Tables.ConntrackCommit, TRACEFLOW_PRIORITY).gotoTable(nextTable(Tables.ConntrackCommit)).done(),
    );
  }
  return flows;
}

/**
 * Marks the first packet of each new connection from the source Pod that matches the filter. In ConntrackState,
 * not Classification: only there is the conntrack state known, so a connection opened before the trace started
 * is never traced (Antrea's rule for live traffic).
 */
function liveMarkFlow(filter: LiveFilter, tag: number, cookie: bigint): Flow {
  const protocol = filter.protocol === 'TCP' ? 'tcp' : filter.protocol === 'UDP' ? 'udp' : 'icmp';
  const b = flow(Tables.ConntrackState)
    .priority(TRACEFLOW_PRIORITY)
    .cookie(cookie)
    .matchCtState({ new: true, inv: false, trk: true })
    .matchProtocol(protocol)
    .matchInPort(filter.inPort);
  if (filter.dstIp !== undefined) b.matchDstIp(filter.dstIp);
  if (protocol !== 'icmp') {
    if (filter.dstPort !== undefined) b.matchTpDst(filter.dstPort);
    if (filter.srcPort !== undefined) b.matchTpSrc(filter.srcPort);
  }
  return b.loadReg(TRACEFLOW_TAG_REG, tag).gotoTable(nextTable(Tables.ConntrackState)).done();
}

/** What a policy decision flow does with a packet, from its installed actions. */
export type DecisionKind = 'continue' | 'drop' | 'reject';

/** Classifies a Policy-category flow; undefined for clause flows (`conjunction(...)` only), which decide nothing. */
export function decisionKind(actions: string): DecisionKind | undefined {
  const parts = splitActions(actions);
  if (parts.length === 0 || parts.every((a) => a.startsWith('conjunction('))) return undefined;
  if (parts.some((a) => a.startsWith('goto_table:') || a.startsWith('resubmit('))) return 'continue';
  if (parts.some((a) => a.startsWith('controller(') && isRejectUserdata(a))) return 'reject';
  return 'drop';
}

/** The action a decision flow's rule took, as a RuleAction, for flows classified by decisionKind. */
export function decisionAction(kind: DecisionKind): RuleAction {
  return kind === 'reject' ? 'Reject' : kind === 'drop' ? 'Drop' : 'Allow';
}

interface CopyContext {
  tag: number;
  cookie: bigint;
  observe: (ruleId?: number) => string;
  live: boolean;
}

function policyDecisionCopy(original: Flow, context: CopyContext): Flow | undefined {
  if (cookieCategory(original.cookie) !== CookieCategory.Policy) return undefined;
  const kind = decisionKind(original.actions);
  if (kind === undefined) return undefined;
  const conjMatch = /(?:^|,)conj_id=(\d+)(?:,|$)/.exec(original.match);
  const ruleId = conjMatch ? Number(conjMatch[1]) : cookieObjectId(original.cookie);
  let actions: string;
  switch (kind) {
    case 'continue':
      // Live: the real packet keeps every effect (audit copies included). Injected: no audit log entry.
      actions = context.live
        ? original.actions
        : splitActions(original.actions)
            .filter((a) => !a.startsWith('controller(') && !a.startsWith('meter:'))
            .join(',');
      break;
    case 'drop':
      actions = context.observe(ruleId);
      break;
    case 'reject':
      // Live: the real client still gets its refusal (the original's meter and controller action come first).
      actions = context.live ? `${original.actions},${context.observe(ruleId)}` : context.observe(ruleId);
      break;
  }
  const match = original.match === '' ? tagMatch(context.tag) : `${original.match},${tagMatch(context.tag)}`;
  return {
    table: original.table,
    priority: Math.min(original.priority + 1, MAX_PRIORITY),
    match: /(?:^|,)(ip|tcp|udp|icmp|sctp)(?:,|$)/.test(match) ? match : `ip,${match}`,
    actions,
    cookie: context.cookie,
  };
}

function tagMatch(tag: number): string {
  return `reg${TRACEFLOW_TAG_REG}=${formatHex(tag)}`;
}

function isRejectUserdata(controllerAction: string): boolean {
  const userdata = /userdata=([0-9a-f.]+)/i.exec(controllerAction)?.[1];
  if (userdata === undefined) return false;
  const purpose = Number.parseInt(userdata.slice(0, 2), 16) & 0x7f;
  return purpose === ControllerPurpose.Reject;
}

function observeOptions(
  controllerId: number,
  ruleId: number,
): {
  reason: 'no_match';
  id: number;
  userdata: string;
} {
  return {
    reason: 'no_match',
    id: controllerId,
    userdata: controllerUserdataText({ purpose: ControllerPurpose.Traceflow, ruleId }),
  };
}

/** `controller(reason=no_match,id=<agent>,userdata=03.<rule id>)` as dump-flows prints it. */
export function observeAction(controllerId: number, ruleId: number): string {
  return flow(0).priority(0).controller(observeOptions(controllerId, ruleId)).done().actions;
}

function checkTag(tag: number): number {
  if (!Number.isInteger(tag) || tag < MIN_TRACE_TAG || tag > MAX_TRACE_TAG) {
    throw new TraceflowError(
      'TRACEFLOW_INVALID',
      `traceflow tag ${tag} is not in ${MIN_TRACE_TAG}..${MAX_TRACE_TAG}`,
    );
  }
  return tag;
}
