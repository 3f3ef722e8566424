// Traceflow as data: what a trace asks for, what it observed, and the typed errors of both. Shapes follow Antrea's
// Traceflow CRD (spec: source, destination, packet, liveTraffic, timeout; status: phase, results[].observations[]
// with component, componentInfo, action, networkPolicy, ...), flattened for one node.
import { isIpv4 } from '../ipam/ipv4';

export type TraceProtocol = 'TCP' | 'UDP' | 'ICMP';
export const TRACE_PROTOCOLS: readonly TraceProtocol[] = ['TCP', 'UDP', 'ICMP'];

/** Antrea's default Traceflow timeout. */
export const DEFAULT_TRACE_TIMEOUT_SECONDS = 20;
export const MAX_TRACE_TIMEOUT_SECONDS = 300;

export interface TraceflowRequest {
  /** The source Pod, "namespace/name" (or "name" in namespace default). Must be on this node. */
  source: string;
  /** The destination Pod, "namespace/name"; or give destinationIp. */
  destination?: string;
  destinationIp?: string;
  /** Default: TCP when a destination port is given, else ICMP (Antrea's default). */
  protocol?: TraceProtocol;
  /** Destination port; required for an injected TCP/UDP packet. */
  port?: number;
  /** Source port of the injected packet; random (49152–65535) when absent. */
  sourcePort?: number;
  /** Trace the next real packet of a new connection from the source that matches, instead of injecting one. */
  live?: boolean;
  /** Seconds to wait for the packet; default 20. */
  timeoutSeconds?: number;
}

/** The request with defaults applied and every field checked. */
export interface NormalizedTraceRequest {
  source: PodRef;
  destination?: PodRef;
  destinationIp?: string;
  protocol: TraceProtocol;
  port?: number;
  sourcePort?: number;
  live: boolean;
  timeoutSeconds: number;
}

export interface PodRef {
  namespace: string;
  name: string;
}

export type TraceComponent = 'SpoofGuard' | 'Forwarding' | 'NetworkPolicy' | 'Output';

/** Antrea's observation actions; ForwardedOutOfOverlay = left the overlay through the gateway. */
export type TraceAction =
  'Forwarded' | 'ForwardedOutOfOverlay' | 'Delivered' | 'Dropped' | 'Rejected' | 'Received';

export interface TracePolicyRef {
  /** K8sNetworkPolicy, AntreaClusterNetworkPolicy or AntreaNetworkPolicy. */
  type: string;
  namespace?: string;
  name: string;
}

export interface TraceflowObservation {
  component: TraceComponent;
  /** Where in the component, e.g. "EgressRule", "IngressDefaultRule", "L2Forwarding", "Output". */
  componentInfo: string;
  action: TraceAction;
  /** The OpenFlow table, by Antrea's name. */
  tableName: string;
  tableId: number;
  /** Policy observations: which side of the connection the rule guards. */
  direction?: 'Egress' | 'Ingress';
  /** The policy whose rule decided (for K8s isolation drops: the first policy that isolates the Pod). */
  networkPolicy?: TracePolicyRef;
  ruleName?: string;
  /** The rule's conjunction id on this node (as in its flows' conj_id and cookie). */
  ruleId?: number;
  /** Delivered: the receiving Pod, "namespace/name". */
  pod?: string;
  /** The OpenFlow port the packet was sent to. */
  outputPort?: number;
  /** Forwarded through the tunnel: the peer Node's address. */
  tunnelDstIP?: string;
}

export type TraceflowPhase = 'Succeeded' | 'Failed';

/** One step of `ovs-appctl ofproto/trace` for the same packet: a table and the flow that matched in it. */
export interface TablePathStep {
  tableId: number;
  tableName: string;
  /** The matched flow's match and priority as ofproto/trace prints it, e.g. "ip,in_port=5, priority 200". */
  flow: string;
  /** Its actions, one per line as printed. */
  actions: string[];
}

export interface TraceflowResult {
  /** "tf-<tag>-<start time in ms>": unique enough for logs and the console. */
  name: string;
  phase: TraceflowPhase;
  /** Why a trace failed (timeout, no observation). */
  reason?: string;
  live: boolean;
  source: { namespace: string; pod: string; ip: string };
  destination: { namespace?: string; pod?: string; ip?: string };
  /** The packet traced: the injected one, or for live traces the captured one. */
  packet: string;
  /** The last observation's action; absent when nothing was observed. */
  verdict?: TraceAction;
  observations: TraceflowObservation[];
  /** The per-table path of the same packet per `ofproto/trace` (injected traces; informational). */
  tablePath?: TablePathStep[];
  startTime: string;
  durationMs: number;
}

export type TraceflowErrorCode =
  /** The request is malformed (fields, values). */
  | 'TRACEFLOW_INVALID'
  /** The source or destination Pod is not known on this node. */
  | 'TRACEFLOW_NOT_FOUND'
  /** Too many traces run at once, or the OpenFlow channel is down. */
  | 'TRACEFLOW_UNAVAILABLE';

export class TraceflowError extends Error {
  override readonly name = 'TraceflowError';
  constructor(
    readonly code: TraceflowErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Checks and completes a request, e.g. from the local API's JSON body. Throws TraceflowError. */
export function normalizeTraceRequest(input: unknown): NormalizedTraceRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('the traceflow request must be an object');
  }
  const fields = input as Record<string, unknown>;
  const known = new Set([
    'source',
    'destination',
    'destinationIp',
    'protocol',
    'port',
    'sourcePort',
    'live',
    'timeoutSeconds',
  ]);
  const unknown = Object.keys(fields).filter((key) => !known.has(key));
  if (unknown.length > 0) throw invalid(`unknown field(s) ${unknown.join(', ')}`);

  const source = podRef(optionalString(fields, 'source'), 'source');
  if (source === undefined) throw invalid('source is required: the source Pod as NAMESPACE/POD');
  const destinationText = optionalString(fields, 'destination');
  const destinationIp = optionalString(fields, 'destinationIp');
  const live = optionalBoolean(fields, 'live') ?? false;
  if (destinationText !== undefined && destinationIp !== undefined) {
    throw invalid('give either destination (a Pod) or destinationIp, not both');
  }
  if (destinationIp !== undefined && !isIpv4(destinationIp)) {
    throw invalid(`destinationIp "${destinationIp}" is not an IPv4 address`);
  }
  const destination = podRef(destinationText, 'destination');
  if (!live && destination === undefined && destinationIp === undefined) {
    throw invalid('a destination is required: a Pod (NAMESPACE/POD) or destinationIp');
  }
  const port = optionalPort(fields, 'port');
  const sourcePort = optionalPort(fields, 'sourcePort');
  const protocolText = optionalString(fields, 'protocol');
  let protocol: TraceProtocol;
  if (protocolText === undefined) {
    protocol = port !== undefined || sourcePort !== undefined ? 'TCP' : 'ICMP';
  } else {
    const found = TRACE_PROTOCOLS.find((p) => p === protocolText.toUpperCase());
    if (found === undefined) {
      throw invalid(`invalid protocol "${protocolText}": valid protocols are ${TRACE_PROTOCOLS.join(', ')}`);
    }
    protocol = found;
  }
  if (protocol === 'ICMP' && (port !== undefined || sourcePort !== undefined)) {
    throw invalid('ports apply to TCP and UDP only');
  }
  if (protocol !== 'ICMP' && !live && port === undefined) {
    throw invalid(`a destination port is required for an injected ${protocol} packet (e.g. port 80)`);
  }
  const timeout = fields['timeoutSeconds'];
  let timeoutSeconds = DEFAULT_TRACE_TIMEOUT_SECONDS;
  if (timeout !== undefined) {
    if (
      typeof timeout !== 'number' ||
      !Number.isInteger(timeout) ||
      timeout < 1 ||
      timeout > MAX_TRACE_TIMEOUT_SECONDS
    ) {
      throw invalid(`timeoutSeconds must be a whole number from 1 to ${MAX_TRACE_TIMEOUT_SECONDS}`);
    }
    timeoutSeconds = timeout;
  }
  const out: NormalizedTraceRequest = { source, protocol, live, timeoutSeconds };
  if (destination !== undefined) out.destination = destination;
  if (destinationIp !== undefined) out.destinationIp = destinationIp;
  if (port !== undefined) out.port = port;
  if (sourcePort !== undefined) out.sourcePort = sourcePort;
  return out;
}

/** "namespace/name" or "name" (namespace default). */
export function parsePodRef(text: string): PodRef | undefined {
  const parts = text.split('/');
  if (parts.length === 1 && parts[0] !== '') return { namespace: 'default', name: parts[0] as string };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') {
    return { namespace: parts[0] as string, name: parts[1] as string };
  }
  return undefined;
}

export function podRefText(ref: PodRef): string {
  return `${ref.namespace}/${ref.name}`;
}

function podRef(text: string | undefined, what: string): PodRef | undefined {
  if (text === undefined) return undefined;
  const ref = parsePodRef(text);
  if (ref === undefined) throw invalid(`${what} "${text}" is not NAMESPACE/POD`);
  return ref;
}

function optionalString(fields: Record<string, unknown>, key: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${key} must be a non-empty string`);
  return value.trim();
}

function optionalBoolean(fields: Record<string, unknown>, key: string): boolean | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${key} must be true or false`);
  return value;
}

function optionalPort(fields: Record<string, unknown>, key: string): number | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw invalid(`${key} must be a port number from 1 to 65535`);
  }
  return value;
}

function invalid(message: string): TraceflowError {
  return new TraceflowError('TRACEFLOW_INVALID', message);
}
