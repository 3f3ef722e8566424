// Flows as plain data whose match and actions are exactly the text `ovs-ofctl -O OpenFlow13 dump-flows
// --no-names` prints (OVS 3.1), so a desired flow and the installed one compare equal as strings. The builder
// therefore emits match fields in the order OVS's match_format() prints them and actions in their OpenFlow 1.3
// printed form (e.g. `mod_dl_src:` comes back from OVS as `set_field:<mac>->eth_src`, so that is what we emit).
import { formatIpv4, parseCidr, parseIpv4 as parseIpv4Address, type Ipv4Cidr } from '../ipam/ipv4';
import type { TableDef } from './tables';

export interface Flow {
  table: number;
  priority: number;
  /** Comma-separated match without `priority=`; empty for a catch-all flow. */
  match: string;
  /** Comma-separated actions; `drop` when the flow has none. */
  actions: string;
  cookie: bigint;
}

export type InstalledFlow = Flow & { packets: number; bytes: number };

/** The priority OpenFlow gives a flow that does not name one; dump-flows then omits `priority=`. */
export const DEFAULT_PRIORITY = 32768;
export const MAX_PRIORITY = 65535;

export type FlowBuildErrorCode =
  'INVALID_VALUE' | 'MISSING_PRIORITY' | 'MISSING_PREREQUISITE' | 'CONFLICTING_MATCH' | 'INVALID_ACTIONS';

export class FlowBuildError extends Error {
  override readonly name = 'FlowBuildError';
  constructor(
    readonly code: FlowBuildErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Cookies: category in the top 8 bits, object id in the low 32 bits. A category (or one object of it) is then
// a cookie/mask pair that dump-flows and sync can select.

export const CookieCategory = {
  Pipeline: 1,
  Gateway: 2,
  Tunnel: 3,
  Pod: 4,
  Node: 5,
  Policy: 6,
} as const;
export type CookieCategory = (typeof CookieCategory)[keyof typeof CookieCategory];

export const CATEGORY_SHIFT = 56n;
export const CATEGORY_MASK = 0xffn << CATEGORY_SHIFT;
export const OBJECT_ID_MASK = 0xffff_ffffn;
/** Selects the flows of exactly one object of one category. */
export const CATEGORY_AND_OBJECT_MASK = CATEGORY_MASK | OBJECT_ID_MASK;

export function makeCookie(category: CookieCategory, id = 0): bigint {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
    throw new FlowBuildError('INVALID_VALUE', `cookie object id ${id} is not a 32-bit unsigned integer`);
  }
  return (BigInt(category) << CATEGORY_SHIFT) | BigInt(id);
}

export function cookieCategory(cookie: bigint): number {
  return Number((cookie & CATEGORY_MASK) >> CATEGORY_SHIFT);
}

export function cookieObjectId(cookie: bigint): number {
  return Number(cookie & OBJECT_ID_MASK);
}

export interface CookieScope {
  cookie: bigint;
  cookieMask: bigint;
}

/** All flows of a category, or with `id` only that object's flows. */
export function cookieScope(category: CookieCategory, id?: number): CookieScope {
  return id === undefined
    ? { cookie: makeCookie(category), cookieMask: CATEGORY_MASK }
    : { cookie: makeCookie(category, id), cookieMask: CATEGORY_AND_OBJECT_MASK };
}

export function inScope(cookie: bigint, scope: CookieScope): boolean {
  return (cookie & scope.cookieMask) === (scope.cookie & scope.cookieMask);
}

// ---------------------------------------------------------------------------------------------------------
// Keys: OpenFlow identifies a flow by table, priority and match, so do we. The match is normalised (token order,
// ct_state flag order, case, /32 prefixes) so that text that means the same match never causes churn.

const CT_STATE_FLAGS = ['new', 'est', 'rel', 'rpl', 'inv', 'trk', 'snat', 'dnat'] as const;
export type CtStateFlag = (typeof CT_STATE_FLAGS)[number];

export function canonicalMatch(match: string): string {
  return match
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map(canonicalMatchToken)
    .sort()
    .join(',');
}

function canonicalMatchToken(token: string): string {
  const eq = token.indexOf('=');
  if (eq < 0) return token.toLowerCase();
  const field = token.slice(0, eq).toLowerCase();
  let value = token.slice(eq + 1).toLowerCase();
  if (field === 'ct_state') value = formatCtState(parseCtState(value) ?? {}) || value;
  if (/^\d+\.\d+\.\d+\.\d+\/32$/.test(value)) value = value.slice(0, -3);
  return `${field}=${value}`;
}

/**
 * Flows are values that are never mutated, and the planner, the merger and the reconciler key the same flow
 * objects again at every policy change (the per-rule compile cache hands back the same objects), so the key is
 * remembered per object. A WeakMap holds no flow alive and is invisible to callers.
 */
const flowKeys = new WeakMap<object, string>();

/** Match text canonicalMatch would change beyond sorting its tokens: upper case, ct_state, /32 prefixes, spaces. */
const NON_CANONICAL_TOKENS = /[A-Z\s]|ct_state=|\/32(?:,|$)/;

/**
 * A flow with the same match as `template` (a flow the builder made, so its match is printed and checked) in
 * another table and priority with other actions: for the many flows of one shape (policy clause flows), without
 * building each one. The new flow is keyed from the template's key.
 */
export function flowLike(
  template: Flow,
  table: number,
  priority: number,
  actions: string,
  cookie: bigint,
): Flow {
  const made: Flow = { table, priority, match: template.match, actions, cookie };
  const templateKey = flowKey(template);
  const canonical = templateKey.slice(templateKey.indexOf('/', templateKey.indexOf('/') + 1) + 1);
  flowKeys.set(made, `${table}/${priority}/${canonical}`);
  return made;
}

export function flowKey(f: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  const known = flowKeys.get(f);
  if (known !== undefined) return known;
  const key = `${f.table}/${f.priority}/${canonicalMatch(f.match)}`;
  flowKeys.set(f, key);
  return key;
}

// ---------------------------------------------------------------------------------------------------------
// Text forms shared by the builder, the writer and tests.

export function formatHex(value: number | bigint): string {
  const v = BigInt(value);
  return v === 0n ? '0' : `0x${v.toString(16)}`;
}

export function formatCookie(cookie: bigint): string {
  return `0x${cookie.toString(16)}`;
}

/** `cookie=…,table=…,priority=…,<match> actions=…`: one flow as ovs-ofctl add-flow(s) reads it. */
export function formatFlowMod(f: Flow): string {
  return `cookie=${formatCookie(f.cookie)},${formatFlowSelector(f)} actions=${f.actions}`;
}

/** `table=…,priority=…,<match>`: what delete_strict / modify_strict select a single flow by. */
export function formatFlowSelector(f: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  return `table=${f.table},priority=${f.priority}${f.match ? `,${f.match}` : ''}`;
}

/** A flow the way dump-flows prints it, minus the counters. For messages and test diffs. */
export function formatFlow(f: Flow): string {
  return `cookie=${formatCookie(f.cookie)}, table=${f.table}, priority=${f.priority}${f.match ? `,${f.match}` : ''} actions=${f.actions}`;
}

export interface SubfieldRange {
  readonly start: number;
  readonly end: number;
}
/** A bit range `[start, end]` (inclusive, like OVS's `[start..end]`) or a single bit. */
export type BitRange = readonly [number, number] | number;

/** Widths of the NXM/OXM fields the pipeline loads, moves and outputs, so full-width ranges print as `[]`. */
export const FIELD_WIDTHS: Readonly<Record<string, number>> = {
  NXM_OF_ETH_SRC: 48,
  NXM_OF_ETH_DST: 48,
  NXM_OF_ETH_TYPE: 16,
  NXM_OF_IP_SRC: 32,
  NXM_OF_IP_DST: 32,
  NXM_OF_IP_PROTO: 8,
  NXM_OF_TCP_SRC: 16,
  NXM_OF_TCP_DST: 16,
  NXM_OF_UDP_SRC: 16,
  NXM_OF_UDP_DST: 16,
  NXM_OF_ARP_OP: 16,
  NXM_OF_ARP_SPA: 32,
  NXM_OF_ARP_TPA: 32,
  NXM_NX_ARP_SHA: 48,
  NXM_NX_ARP_THA: 48,
  NXM_NX_TUN_ID: 64,
  NXM_NX_TUN_IPV4_SRC: 32,
  NXM_NX_TUN_IPV4_DST: 32,
  NXM_NX_CT_MARK: 32,
  NXM_NX_PKT_MARK: 32,
  OXM_OF_METADATA: 64,
  ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`NXM_NX_REG${i}`, 32])),
};

export function regField(reg: number): string {
  checkInt('register', reg, 0, 15);
  return `NXM_NX_REG${reg}`;
}

function fieldWidth(field: string): number {
  const width = FIELD_WIDTHS[field];
  if (width === undefined)
    throw new FlowBuildError('INVALID_VALUE', `unknown field ${JSON.stringify(field)}`);
  return width;
}

function toRange(range: BitRange | undefined, width: number, what: string): SubfieldRange {
  const [start, end] =
    range === undefined ? [0, width - 1] : typeof range === 'number' ? [range, range] : range;
  checkInt(`${what} range start`, start, 0, width - 1);
  checkInt(`${what} range end`, end, start, width - 1);
  return { start, end };
}

/** `FIELD[]`, `FIELD[16]` or `FIELD[0..15]`, as OVS prints a subfield. */
export function formatSubfield(field: string, range?: BitRange): string {
  const width = fieldWidth(field);
  const r = toRange(range, width, field);
  if (r.start === 0 && r.end === width - 1) return `${field}[]`;
  if (r.start === r.end) return `${field}[${r.start}]`;
  return `${field}[${r.start}..${r.end}]`;
}

/** `load:<value>-><subfield>` with the value checked against the subfield's width. */
export function formatLoad(field: string, value: number | bigint, range?: BitRange): string {
  const r = toRange(range, fieldWidth(field), field);
  const v = toBigInt(value, `value loaded into ${field}`);
  if (v >= 1n << BigInt(r.end - r.start + 1)) {
    throw new FlowBuildError(
      'INVALID_VALUE',
      `${formatHex(v)} does not fit in ${formatSubfield(field, range)}`,
    );
  }
  return `load:${formatHex(v)}->${formatSubfield(field, range)}`;
}

export function formatMove(src: string, dst: string, srcRange?: BitRange, dstRange?: BitRange): string {
  const s = toRange(srcRange, fieldWidth(src), src);
  const d = toRange(dstRange, fieldWidth(dst), dst);
  if (s.end - s.start !== d.end - d.start) {
    throw new FlowBuildError('INVALID_VALUE', `move ${src} -> ${dst}: source and destination widths differ`);
  }
  return `move:${formatSubfield(src, srcRange)}->${formatSubfield(dst, dstRange)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Value parsing and validation. Every value ends up in a line of a bundle file, so nothing may smuggle in a
// comma, space or newline.

// IPv4 parsing lives in ../ipam/ipv4; here its errors become FlowBuildErrors, and a bare address is a /32.
export { formatIpv4, type Ipv4Cidr };

export function parseIpv4(ip: string): number {
  try {
    return parseIpv4Address(ip);
  } catch {
    throw new FlowBuildError('INVALID_VALUE', `invalid IPv4 address ${JSON.stringify(ip)}`);
  }
}

export function parseIpv4Cidr(text: string): Ipv4Cidr {
  try {
    return parseCidr(text.includes('/') ? text : `${text}/32`);
  } catch (err) {
    throw new FlowBuildError('INVALID_VALUE', err instanceof Error ? err.message : `invalid CIDR ${text}`);
  }
}

/** OVS's form of an IPv4 match value: `10.0.0.0/24`, or the bare address for /32. */
function formatIpv4Match(cidr: Ipv4Cidr): string {
  const ip = formatIpv4(cidr.network);
  return cidr.prefix === 32 ? ip : `${ip}/${cidr.prefix}`;
}

export function normalizeMac(mac: string): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) {
    throw new FlowBuildError('INVALID_VALUE', `invalid MAC address ${JSON.stringify(mac)}`);
  }
  return mac.toLowerCase();
}

export function macToBigInt(mac: string): bigint {
  return BigInt(`0x${normalizeMac(mac).replace(/:/g, '')}`);
}

function checkInt(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new FlowBuildError('INVALID_VALUE', `${what} ${value} is not an integer in [${min}, ${max}]`);
  }
}

function toBigInt(value: number | bigint, what: string): bigint {
  if (typeof value === 'number' && (!Number.isSafeInteger(value) || value < 0)) {
    throw new FlowBuildError('INVALID_VALUE', `${what} ${value} is not a non-negative integer`);
  }
  const v = BigInt(value);
  if (v < 0n) throw new FlowBuildError('INVALID_VALUE', `${what} ${value} is negative`);
  return v;
}

function checkToken(what: string, text: string): string {
  if (text.length === 0 || /[\s,]/.test(text)) {
    throw new FlowBuildError(
      'INVALID_VALUE',
      `${what} ${JSON.stringify(text)} must be non-empty without spaces or commas`,
    );
  }
  return text;
}

export type CtState = Partial<Record<CtStateFlag, boolean>>;

/** Parses `+new+trk`, `-new+est` (any flag order); undefined when the text is not in that form. */
export function parseCtState(text: string): CtState | undefined {
  const state: CtState = {};
  const re = /([+-])([a-z]+)/gy;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const flag = m[2] as CtStateFlag;
    if (!CT_STATE_FLAGS.includes(flag)) return undefined;
    state[flag] = m[1] === '+';
    consumed = re.lastIndex;
  }
  return consumed === text.length && consumed > 0 ? state : undefined;
}

/** OVS prints ct_state flags in bit order (new, est, rel, rpl, inv, trk, snat, dnat). */
export function formatCtState(state: CtState): string {
  return CT_STATE_FLAGS.filter((f) => state[f] !== undefined)
    .map((f) => `${state[f] ? '+' : '-'}${f}`)
    .join('');
}

// ---------------------------------------------------------------------------------------------------------
// The builder.

export type Protocol = 'ip' | 'arp' | 'tcp' | 'udp' | 'sctp' | 'icmp';
const IP_PROTOCOLS: readonly Protocol[] = ['ip', 'tcp', 'udp', 'sctp', 'icmp'];
const L4_PROTOCOLS: readonly Protocol[] = ['tcp', 'udp', 'sctp'];

/** Match fields in the order OVS's match_format() prints them. */
const MATCH_ORDER: readonly string[] = [
  'conj_id',
  'ct_state',
  'ct_zone',
  'ct_mark',
  'protocol',
  ...Array.from({ length: 16 }, (_, i) => `reg${i}`),
  'tun_id',
  'tun_src',
  'tun_dst',
  'metadata',
  'in_port',
  'dl_src',
  'dl_dst',
  'nw_src',
  'arp_spa',
  'nw_dst',
  'arp_tpa',
  'arp_op',
  'arp_sha',
  'arp_tha',
  'tp_src',
  'icmp_type',
  'tp_dst',
  'icmp_code',
];
const MATCH_RANK = new Map(MATCH_ORDER.map((f, i) => [f, i]));

/** Named OpenFlow ports as OVS prints them. */
const NAMED_PORTS: Readonly<Record<number, string>> = {
  0xfff8: 'IN_PORT',
  0xfffa: 'NORMAL',
  0xfffb: 'FLOOD',
  0xfffc: 'ALL',
  0xfffe: 'LOCAL',
};

export interface CtOptions {
  commit?: boolean;
  /** Table the packet continues in after conntrack (recirculation). */
  table?: number;
  zone?: number;
  /** `true` for a bare `nat`, or the text inside `nat(...)`, e.g. `dst=10.0.0.1:80`. */
  nat?: true | string;
  /** Actions run on commit, e.g. `[formatLoad('NXM_NX_CT_MARK', 0x20)]`. */
  exec?: readonly string[];
}

export interface ControllerOptions {
  reason?: 'action' | 'no_match' | 'invalid_ttl' | 'action_set' | 'group' | 'packet_out';
  maxLen?: number;
  id?: number;
  /** Bytes as hex pairs, e.g. `01.02` or `0102`. */
  userdata?: string;
  pause?: boolean;
}

export class FlowBuilder {
  private priorityValue: number | undefined;
  private cookieValue = 0n;
  private readonly matches = new Map<string, string>();
  private readonly actions: string[] = [];
  private protocol: Protocol | undefined;

  constructor(private readonly table: number) {}

  priority(p: number): this {
    checkInt('priority', p, 0, MAX_PRIORITY);
    this.priorityValue = p;
    return this;
  }

  cookie(c: bigint): this {
    if (c < 0n || c > 0xffff_ffff_ffff_ffffn)
      throw new FlowBuildError('INVALID_VALUE', `cookie ${c} out of range`);
    this.cookieValue = c;
    return this;
  }

  // ----- matches

  matchProtocol(p: Protocol): this {
    if (this.protocol !== undefined && this.protocol !== p) {
      throw new FlowBuildError('CONFLICTING_MATCH', `protocol already ${this.protocol}, cannot also be ${p}`);
    }
    this.protocol = p;
    return this.setMatch('protocol', p);
  }

  matchInPort(port: number): this {
    checkInt('in_port', port, 1, 0xffff);
    return this.setMatch('in_port', port === 0xfffe ? 'LOCAL' : String(port));
  }

  matchSrcMac(mac: string, mask?: string): this {
    return this.setMatch('dl_src', formatMacMatch(mac, mask));
  }

  matchDstMac(mac: string, mask?: string): this {
    return this.setMatch('dl_dst', formatMacMatch(mac, mask));
  }

  /** An address or a CIDR; `/0` matches everything and so adds nothing (OVS would drop it too). */
  matchSrcIp(ipOrCidr: string): this {
    return this.setIpMatch('nw_src', ipOrCidr);
  }

  matchDstIp(ipOrCidr: string): this {
    return this.setIpMatch('nw_dst', ipOrCidr);
  }

  matchArpOp(op: number): this {
    checkInt('arp_op', op, 0, 255);
    return this.setMatch('arp_op', String(op));
  }

  matchArpSpa(ipOrCidr: string): this {
    return this.setIpMatch('arp_spa', ipOrCidr);
  }

  matchArpTpa(ipOrCidr: string): this {
    return this.setIpMatch('arp_tpa', ipOrCidr);
  }

  matchArpSha(mac: string): this {
    return this.setMatch('arp_sha', normalizeMac(mac));
  }

  matchArpTha(mac: string): this {
    return this.setMatch('arp_tha', normalizeMac(mac));
  }

  /** `reg<N>=value` on the whole register, on a bit range (value is the range's value), or a single bit. */
  matchReg(reg: number, value: number, range?: BitRange): this {
    const r = toRange(range, 32, `reg${reg}`);
    const width = r.end - r.start + 1;
    checkInt(`reg${reg} value`, value, 0, 2 ** width - 1);
    const mask = width === 32 ? 0xffff_ffff : ((2 ** width - 1) * 2 ** r.start) >>> 0;
    return this.matchRegMasked(reg, (value * 2 ** r.start) >>> 0, mask);
  }

  matchRegMasked(reg: number, value: number, mask: number): this {
    checkInt('register', reg, 0, 15);
    checkInt(`reg${reg} value`, value, 0, 0xffff_ffff);
    checkInt(`reg${reg} mask`, mask, 0, 0xffff_ffff);
    if (mask === 0) return this;
    return this.setMatch(`reg${reg}`, formatMasked32((value & mask) >>> 0, mask));
  }

  /** `ct_state` as flags, e.g. `{ new: false, trk: true }` or the text `-new+trk`. */
  matchCtState(state: CtState | string): this {
    const parsed = typeof state === 'string' ? parseCtState(state) : state;
    const text = parsed && formatCtState(parsed);
    if (!text) throw new FlowBuildError('INVALID_VALUE', `invalid ct_state ${JSON.stringify(state)}`);
    return this.setMatch('ct_state', text);
  }

  matchCtMark(value: number, mask = 0xffff_ffff): this {
    checkInt('ct_mark', value, 0, 0xffff_ffff);
    checkInt('ct_mark mask', mask, 1, 0xffff_ffff);
    return this.setMatch('ct_mark', formatMasked32((value & mask) >>> 0, mask));
  }

  matchCtZone(zone: number): this {
    checkInt('ct_zone', zone, 0, 0xffff);
    return this.setMatch('ct_zone', String(zone));
  }

  matchTunDst(ip: string): this {
    return this.setMatch('tun_dst', formatIpv4(parseIpv4(ip)));
  }

  matchConjId(id: number): this {
    checkInt('conj_id', id, 0, 0xffff_ffff);
    return this.setMatch('conj_id', String(id));
  }

  matchTpSrc(port: number, mask?: number): this {
    return this.setMatch('tp_src', formatPortMatch(port, mask));
  }

  matchTpDst(port: number, mask?: number): this {
    return this.setMatch('tp_dst', formatPortMatch(port, mask));
  }

  matchIcmpType(type: number): this {
    checkInt('icmp_type', type, 0, 255);
    return this.setMatch('icmp_type', String(type));
  }

  matchIcmpCode(code: number): this {
    checkInt('icmp_code', code, 0, 255);
    return this.setMatch('icmp_code', String(code));
  }

  // ----- actions

  /** `load:value->NXM_NX_REG<reg>[range]`. */
  loadReg(reg: number, value: number | bigint, range?: BitRange): this {
    return this.push(formatLoad(regField(reg), value, range));
  }

  /** `load:value->FIELD[range]` for any field in FIELD_WIDTHS (e.g. NXM_OF_ETH_DST, NXM_OF_ARP_OP). */
  load(field: string, value: number | bigint, range?: BitRange): this {
    return this.push(formatLoad(field, value, range));
  }

  move(src: string, dst: string, srcRange?: BitRange, dstRange?: BitRange): this {
    return this.push(formatMove(src, dst, srcRange, dstRange));
  }

  /** `set_field:value->field` with an OXM field name as OVS prints it (e.g. `eth_dst`, `reg3`, `ct_mark`). */
  setField(value: string, field: string): this {
    return this.push(
      `set_field:${checkToken('set_field value', value)}->${checkToken('set_field field', field)}`,
    );
  }

  /** Rewrites the source MAC. OVS 3.1 prints OpenFlow 1.3's mod_dl_src as this set_field. */
  modDlSrc(mac: string): this {
    return this.setField(normalizeMac(mac), 'eth_src');
  }

  /** Rewrites the destination MAC. OVS 3.1 prints OpenFlow 1.3's mod_dl_dst as this set_field. */
  modDlDst(mac: string): this {
    return this.setField(normalizeMac(mac), 'eth_dst');
  }

  /** Sets the flow-based tunnel's remote address, as Antrea does (`load:…->NXM_NX_TUN_IPV4_DST[]`). */
  setTunnelDst(ip: string): this {
    return this.load('NXM_NX_TUN_IPV4_DST', parseIpv4(ip));
  }

  decTtl(): this {
    return this.push('dec_ttl');
  }

  ct(options: CtOptions = {}): this {
    const parts: string[] = [];
    if (options.commit) parts.push('commit');
    if (options.table !== undefined) {
      checkInt('ct table', options.table, 0, 254);
      parts.push(`table=${options.table}`);
    }
    if (options.zone !== undefined) {
      checkInt('ct zone', options.zone, 0, 0xffff);
      parts.push(`zone=${options.zone}`);
    }
    if (options.nat !== undefined) {
      parts.push(options.nat === true ? 'nat' : `nat(${checkNoSpace('nat', options.nat)})`);
    }
    if (options.exec !== undefined && options.exec.length > 0) {
      parts.push(`exec(${options.exec.map((a) => checkNoSpace('ct exec action', a)).join(',')})`);
    }
    return this.push(`ct(${parts.join(',')})`);
  }

  conjunction(id: number, clause: number, nClauses: number): this {
    checkInt('conjunction id', id, 0, 0xffff_ffff);
    checkInt('conjunction clauses', nClauses, 2, 64);
    checkInt('conjunction clause', clause, 1, nClauses);
    return this.push(`conjunction(${id},${clause}/${nClauses})`);
  }

  gotoTable(table: number): this {
    checkInt('goto_table', table, 0, 254);
    return this.push(`goto_table:${table}`);
  }

  resubmit(table: number): this {
    checkInt('resubmit table', table, 0, 254);
    return this.push(`resubmit(,${table})`);
  }

  /** `output:<port>`; the reserved ports print by name (`IN_PORT`, `NORMAL`, `CONTROLLER:65535`, `LOCAL`). */
  output(port: number): this {
    checkInt('output port', port, 1, 0xfffe);
    if (port === 0xfffd) return this.controller();
    if (port > 0xff00 && NAMED_PORTS[port] === undefined) {
      throw new FlowBuildError(
        'INVALID_VALUE',
        `output port ${port} is a reserved port OVS cannot output to`,
      );
    }
    return this.push(NAMED_PORTS[port] ?? `output:${port}`);
  }

  /** `output:NXM_NX_REG<reg>[range]`: to the port number held in a register. */
  outputReg(reg: number, range?: BitRange): this {
    return this.push(`output:${formatSubfield(regField(reg), range)}`);
  }

  outputInPort(): this {
    return this.push('IN_PORT');
  }

  normal(): this {
    return this.push('NORMAL');
  }

  group(id: number): this {
    checkInt('group', id, 0, 0xffff_fff0);
    return this.push(`group:${id}`);
  }

  /** `meter:<id>`; OVS requires it to be the first action. */
  meter(id: number): this {
    checkInt('meter', id, 1, 0xffff_0000);
    if (this.actions.length > 0)
      throw new FlowBuildError('INVALID_ACTIONS', 'meter must be the first action');
    return this.push(`meter:${id}`);
  }

  controller(options: ControllerOptions = {}): this {
    const reason = options.reason ?? 'action';
    const maxLen = options.maxLen ?? 0xffff;
    const id = options.id ?? 0;
    checkInt('controller max_len', maxLen, 0, 0xffff);
    checkInt('controller id', id, 0, 0xffff);
    const userdata = options.userdata === undefined ? undefined : formatUserdata(options.userdata);
    if (reason === 'action' && id === 0 && userdata === undefined && !options.pause) {
      return this.push(`CONTROLLER:${maxLen}`);
    }
    const parts: string[] = [];
    if (reason !== 'action') parts.push(`reason=${reason}`);
    if (maxLen !== 0xffff) parts.push(`max_len=${maxLen}`);
    if (id !== 0) parts.push(`id=${id}`);
    if (userdata !== undefined) parts.push(`userdata=${userdata}`);
    if (options.pause) parts.push('pause');
    return this.push(`controller(${parts.join(',')})`);
  }

  /** An explicit drop: the flow's only action. */
  drop(): this {
    return this.push('drop');
  }

  done(): Flow {
    if (this.priorityValue === undefined) {
      throw new FlowBuildError('MISSING_PRIORITY', `flow in table ${this.table} has no priority`);
    }
    this.checkPrerequisites();
    this.checkActions();
    const tokens = [...this.matches.entries()]
      .sort(([a], [b]) => (MATCH_RANK.get(a) ?? 0) - (MATCH_RANK.get(b) ?? 0))
      .map(([field, value]) => (field === 'protocol' ? value : `${field}=${value}`));
    const match = tokens.join(',');
    const built: Flow = {
      table: this.table,
      priority: this.priorityValue,
      match,
      actions: this.actions.length === 0 ? 'drop' : this.actions.join(','),
      cookie: this.cookieValue,
    };
    // Every flow is keyed at least once (merge, plan); the builder's tokens are usually canonical already, so
    // sorting them here skips canonicalMatch's parsing. Tokens it would rewrite take the general path.
    if (!NON_CANONICAL_TOKENS.test(match)) {
      flowKeys.set(built, `${built.table}/${built.priority}/${tokens.sort().join(',')}`);
    }
    return built;
  }

  private setMatch(field: string, value: string): this {
    const existing = this.matches.get(field);
    if (existing !== undefined && existing !== value) {
      throw new FlowBuildError(
        'CONFLICTING_MATCH',
        `${field} already matches ${existing}, cannot also match ${value}`,
      );
    }
    this.matches.set(field, value);
    return this;
  }

  private setIpMatch(field: string, ipOrCidr: string): this {
    const cidr = parseIpv4Cidr(ipOrCidr);
    return cidr.prefix === 0 ? this : this.setMatch(field, formatIpv4Match(cidr));
  }

  private push(action: string): this {
    this.actions.push(action);
    return this;
  }

  // OVS silently drops a field whose prerequisite is missing ("normalization changed ofp_match") and installs
  // a broader flow than asked for, so a missing prerequisite is a build error here.
  private checkPrerequisites(): void {
    const has = (f: string): boolean => this.matches.has(f);
    const need = (fields: readonly string[], protocols: readonly Protocol[], what: string): void => {
      const used = fields.filter(has);
      if (used.length > 0 && (this.protocol === undefined || !protocols.includes(this.protocol))) {
        throw new FlowBuildError('MISSING_PREREQUISITE', `${used.join(', ')} needs matchProtocol(${what})`);
      }
    };
    need(['nw_src', 'nw_dst'], IP_PROTOCOLS, "'ip' or an IP protocol");
    need(['tp_src', 'tp_dst'], L4_PROTOCOLS, "'tcp', 'udp' or 'sctp'");
    need(['icmp_type', 'icmp_code'], ['icmp'], "'icmp'");
    need(['arp_op', 'arp_spa', 'arp_tpa', 'arp_sha', 'arp_tha'], ['arp'], "'arp'");
  }

  private checkActions(): void {
    const gotoIndex = this.actions.findIndex((a) => a.startsWith('goto_table:'));
    if (gotoIndex >= 0) {
      const target = Number(this.actions[gotoIndex]?.slice('goto_table:'.length));
      if (gotoIndex !== this.actions.length - 1) {
        throw new FlowBuildError('INVALID_ACTIONS', 'goto_table must be the last action');
      }
      if (target <= this.table) {
        throw new FlowBuildError(
          'INVALID_ACTIONS',
          `goto_table:${target} from table ${this.table} does not go forward`,
        );
      }
    }
    if (this.actions.includes('drop') && this.actions.length > 1) {
      throw new FlowBuildError('INVALID_ACTIONS', 'drop must be the only action');
    }
  }
}

/** Starts a flow in `table` (a number such as `Tables.SpoofGuard`, or a TableDef). */
export function flow(table: number | TableDef): FlowBuilder {
  const id = typeof table === 'number' ? table : table.id;
  checkInt('table', id, 0, 254);
  return new FlowBuilder(id);
}

function formatMasked32(value: number, mask: number): string {
  return mask === 0xffff_ffff ? formatHex(value) : `${formatHex(value)}/${formatHex(mask)}`;
}

function formatMacMatch(mac: string, mask?: string): string {
  const m = normalizeMac(mac);
  if (mask === undefined || normalizeMac(mask) === 'ff:ff:ff:ff:ff:ff') return m;
  const maskValue = macToBigInt(mask);
  const masked = (macToBigInt(m) & maskValue).toString(16).padStart(12, '0');
  return `${masked.replace(/(..)(?!$)/g, '$1:')}/${normalizeMac(mask)}`;
}

function formatPortMatch(port: number, mask?: number): string {
  checkInt('transport port', port, 0, 0xffff);
  if (mask === undefined || mask === 0xffff) return String(port);
  checkInt('transport port mask', mask, 1, 0xffff);
  return `${formatHex(port & mask)}/${formatHex(mask)}`;
}

function formatUserdata(userdata: string): string {
  const hex = userdata.replace(/\./g, '').toLowerCase();
  if (!/^([0-9a-f]{2})+$/.test(hex)) {
    throw new FlowBuildError(
      'INVALID_VALUE',
      `controller userdata ${JSON.stringify(userdata)} is not hex bytes`,
    );
  }
  return hex.replace(/(..)(?!$)/g, '$1.');
}

function checkNoSpace(what: string, text: string): string {
  if (text.length === 0 || /\s/.test(text)) {
    throw new FlowBuildError(
      'INVALID_VALUE',
      `${what} ${JSON.stringify(text)} must be non-empty without spaces`,
    );
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------------
// Parsing dump-flows output.

const FLOW_FLAGS = new Set([
  'send_flow_rem',
  'check_overlap',
  'reset_counts',
  'no_packet_counts',
  'no_byte_counts',
]);

/**
 * Parses one line of `ovs-ofctl -O OpenFlow13 dump-flows --no-names` (`cookie=…, duration=…, table=…,
 * n_packets=…, n_bytes=…, [idle_timeout=…, ]priority=…,<match> actions=…`). Returns undefined for the reply
 * header and anything else that is not a flow.
 */
export function parseDumpFlowsLine(line: string): InstalledFlow | undefined {
  const text = line.trim();
  const actionsAt = text.indexOf('actions=');
  if (actionsAt < 0 || (actionsAt > 0 && text[actionsAt - 1] !== ' ')) return undefined;
  const head = text.slice(0, actionsAt).trimEnd();
  const actions = text.slice(actionsAt + 'actions='.length).trim();
  if (actions.length === 0) return undefined;

  // Counters and attributes are separated by ", ", flags (send_flow_rem, …) by spaces; the match (no spaces)
  // comes last and is absent for a catch-all at the default priority.
  const parts = head.split(', ').map((p) => p.trim());
  let matchPart = '';
  if (!head.endsWith(',') && parts.length > 0) {
    const words = (parts.pop() ?? '').split(' ').filter((w) => w.length > 0);
    const candidate = words[words.length - 1];
    if (candidate !== undefined && !FLOW_FLAGS.has(candidate) && !isDumpAttribute(candidate)) {
      matchPart = candidate;
      words.pop();
    }
    if (words.some((w) => !FLOW_FLAGS.has(w))) parts.push(words.join(' '));
  }
  const attrs = new Map<string, string>();
  for (const p of parts) {
    const cleaned = p.replace(/,$/, '');
    const eq = cleaned.indexOf('=');
    if (eq > 0) attrs.set(cleaned.slice(0, eq), cleaned.slice(eq + 1));
  }

  let priority = DEFAULT_PRIORITY;
  const matchTokens: string[] = [];
  for (const token of matchPart.split(',')) {
    if (token.length === 0) continue;
    if (token.startsWith('priority=')) priority = Number.parseInt(token.slice('priority='.length), 10);
    else matchTokens.push(token);
  }
  const table = Number.parseInt(attrs.get('table') ?? '0', 10);
  if (!Number.isInteger(table) || !Number.isInteger(priority)) return undefined;
  let cookie = 0n;
  try {
    cookie = BigInt(attrs.get('cookie') ?? '0');
  } catch {
    return undefined;
  }
  return {
    table,
    priority,
    match: matchTokens.join(','),
    actions,
    cookie,
    packets: Number(attrs.get('n_packets') ?? '0'),
    bytes: Number(attrs.get('n_bytes') ?? '0'),
  };
}

function isDumpAttribute(part: string): boolean {
  return /^(cookie|duration|table|n_packets|n_bytes|idle_timeout|hard_timeout|idle_age|hard_age|importance)=/.test(
    part,
  );
}
