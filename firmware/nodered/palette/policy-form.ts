// The *policy* node's form → the policy object it stands for (an Antrea ClusterNetworkPolicy or NetworkPolicy, or
// a Kubernetes NetworkPolicy). Pure. Only what the form itself can get wrong is checked here (selector and port
// text, a Drop rule in a Kubernetes policy, missing fields), each with the form field's path; everything the
// object can get wrong (names, priorities, tiers, CIDRs) is the firmware's validation's job when it is applied,
// which reports it with the object's field path.
import type {
  AntreaAppliedTo,
  AntreaNetworkPolicyPeer,
  AntreaNetworkPolicyPort,
  AntreaRule,
  IPBlock,
  K8sNetworkPolicyPeer,
  LabelSelector,
  PolicyObject,
  Protocol,
  RuleAction,
} from '../../core/api/types';
import type { PaletteFieldError, PalettePolicyRef, PolicyKind } from './services';
import { POLICY_KINDS } from './services';
import { parseSelectorText, SelectorTextError } from './selector-text';

export const FORM_API_VERSION = 'crd.antrea.io/v1beta1' as const;

export type PeerType = 'pods' | 'namespaces' | 'group' | 'cidr';
export const PEER_TYPES: readonly PeerType[] = ['pods', 'namespaces', 'group', 'cidr'];

/** One peer of a rule, or one appliedTo entry (`cidr` is for peers only). */
export interface PeerForm {
  type: PeerType;
  /** pods/namespaces: selector text (`app=web`, "" for all); group: its name; cidr: the CIDR. */
  value: string;
  /** pods only: the namespaces the pods are in (selector text); absent or "" = the policy's own namespace(s). */
  namespaceSelector?: string;
  /** cidr only: CIDRs left out, comma separated. */
  except?: string;
}

export type RuleDirectionForm = 'Ingress' | 'Egress';

export interface RuleForm {
  direction: RuleDirectionForm;
  action: RuleAction;
  /** Empty: Antrea generates one. */
  name?: string;
  /** Empty: any peer. */
  peers: PeerForm[];
  /** `TCP/80, UDP/53, TCP/8000-8080, TCP/http, 443` (TCP when no protocol), empty: every port. */
  ports?: string;
  enableLogging?: boolean;
}

export interface PolicyForm {
  kind: PolicyKind;
  name: string;
  /** AntreaNetworkPolicy and K8sNetworkPolicy only. */
  namespace?: string;
  /** Antrea kinds; empty: `application`. */
  tier?: string;
  /** Antrea kinds: 1–10000, lower first. Text from the dialog is accepted. */
  priority?: number | string;
  appliedTo: PeerForm[];
  rules: RuleForm[];
}

export type PolicyFormResult =
  { ok: true; object: PolicyObject; ref: PalettePolicyRef } | { ok: false; errors: PaletteFieldError[] };

const ACTIONS: readonly RuleAction[] = ['Allow', 'Drop', 'Reject', 'Pass'];
const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** Builds the policy object; every problem of the form is reported at once with its form field path. */
export function policyFromForm(input: unknown): PolicyFormResult {
  const errors: PaletteFieldError[] = [];
  const fail = (path: string, reason: string, value?: unknown): void => {
    errors.push(value === undefined ? { path, reason } : { path, reason, value });
  };
  if (!isRecord(input)) return { ok: false, errors: [{ path: '', reason: 'the form must be an object' }] };
  const form = input as Partial<PolicyForm> & Record<string, unknown>;
  if (!POLICY_KINDS.includes(form.kind as PolicyKind)) {
    fail('kind', `must be one of ${POLICY_KINDS.join(', ')}`, form.kind);
    return { ok: false, errors };
  }
  const kind = form.kind as PolicyKind;
  const name = text(form.name);
  if (name === '') fail('name', 'is required');
  const namespaced = kind !== 'ClusterNetworkPolicy';
  const namespace = text(form.namespace);
  if (namespaced && namespace === '') fail('namespace', `is required for a ${kind}`);
  const appliedTo = Array.isArray(form.appliedTo) ? (form.appliedTo as unknown[]) : [];
  if (form.appliedTo !== undefined && !Array.isArray(form.appliedTo)) fail('appliedTo', 'must be a list');
  const rules = Array.isArray(form.rules) ? (form.rules as unknown[]) : [];
  if (form.rules !== undefined && !Array.isArray(form.rules)) fail('rules', 'must be a list');
  const ref: PalettePolicyRef = namespaced ? { kind, name, namespace } : { kind, name };
  const object =
    kind === 'K8sNetworkPolicy'
      ? k8sPolicy(name, namespace, appliedTo, rules, fail)
      : antreaPolicy(kind, form, name, namespace, appliedTo, rules, fail);
  if (errors.length > 0 || object === undefined) return { ok: false, errors };
  return { ok: true, object, ref };
}

type Fail = (path: string, reason: string, value?: unknown) => void;

function antreaPolicy(
  kind: 'ClusterNetworkPolicy' | 'AntreaNetworkPolicy',
  form: Partial<PolicyForm>,
  name: string,
  namespace: string,
  appliedTo: unknown[],
  rules: unknown[],
  fail: Fail,
): PolicyObject | undefined {
  const priority = priorityOf(form.priority, fail);
  const tier = text(form.tier);
  const policyAppliedTo = appliedTo.flatMap((entry, index) => {
    const converted = appliedToOf(entry, `appliedTo[${index}]`, kind, fail);
    return converted ? [converted] : [];
  });
  if (appliedTo.length === 0) fail('appliedTo', 'needs at least one entry (pods, namespaces or a group)');
  const ingress: AntreaRule[] = [];
  const egress: AntreaRule[] = [];
  rules.forEach((entry, index) => {
    const path = `rules[${index}]`;
    if (!isRecord(entry)) return fail(path, 'must be an object');
    const rule = entry as Partial<RuleForm>;
    const direction = directionOf(rule.direction, `${path}.direction`, fail);
    const action = rule.action;
    if (!ACTIONS.includes(action as RuleAction))
      fail(`${path}.action`, `must be one of ${ACTIONS.join(', ')}`, action);
    const peers = peersOf(rule.peers, `${path}.peers`, fail).map((peer, peerIndex) =>
      antreaPeer(peer, `${path}.peers[${peerIndex}]`, kind, fail),
    );
    const ports = portsOf(rule.ports, `${path}.ports`, fail);
    const out: AntreaRule = { action: action as RuleAction };
    const ruleName = text(rule.name);
    if (ruleName !== '') out.name = ruleName;
    if (peers.length > 0) out[direction === 'Egress' ? 'to' : 'from'] = peers;
    if (ports.length > 0) out.ports = ports;
    if (rule.enableLogging === true) out.enableLogging = true;
    (direction === 'Egress' ? egress : ingress).push(out);
  });
  if (rules.length === 0) fail('rules', 'needs at least one rule');
  const spec: ClusterSpec = { priority: priority ?? 0, appliedTo: policyAppliedTo };
  if (tier !== '') spec.tier = tier;
  if (ingress.length > 0) spec.ingress = ingress;
  if (egress.length > 0) spec.egress = egress;
  if (kind === 'ClusterNetworkPolicy') {
    return { apiVersion: FORM_API_VERSION, kind: 'ClusterNetworkPolicy', metadata: { name }, spec };
  }
  return { apiVersion: FORM_API_VERSION, kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

type ClusterSpec = {
  tier?: string;
  priority: number;
  appliedTo: AntreaAppliedTo[];
  ingress?: AntreaRule[];
  egress?: AntreaRule[];
};

function k8sPolicy(
  name: string,
  namespace: string,
  appliedTo: unknown[],
  rules: unknown[],
  fail: Fail,
): PolicyObject | undefined {
  // A Kubernetes policy selects pods of its own namespace with exactly one podSelector.
  let podSelector: LabelSelector = {};
  const [first, ...others] = appliedTo;
  if (first === undefined) {
    fail('appliedTo', 'a NetworkPolicy applies to pods: give one "pods" entry ("" selects every pod)');
  } else if (others.length > 0) {
    fail('appliedTo', 'a NetworkPolicy has exactly one pod selector');
  } else if (!isRecord(first) || first.type !== 'pods') {
    fail(
      'appliedTo[0].type',
      'a NetworkPolicy applies to pods of its namespace only',
      isRecord(first) ? first.type : first,
    );
  } else {
    if (text(first.namespaceSelector) !== '') {
      fail('appliedTo[0].namespaceSelector', 'a NetworkPolicy applies to pods of its own namespace only');
    }
    podSelector = selectorOf(first.value, 'appliedTo[0].value', fail) ?? {};
  }
  const ingress: { from?: K8sNetworkPolicyPeer[]; ports?: AntreaNetworkPolicyPort[] }[] = [];
  const egress: { to?: K8sNetworkPolicyPeer[]; ports?: AntreaNetworkPolicyPort[] }[] = [];
  rules.forEach((entry, index) => {
    const path = `rules[${index}]`;
    if (!isRecord(entry)) return fail(path, 'must be an object');
    const rule = entry as Partial<RuleForm>;
    const direction = directionOf(rule.direction, `${path}.direction`, fail);
    if (rule.action !== undefined && rule.action !== 'Allow') {
      fail(
        `${path}.action`,
        'Kubernetes NetworkPolicy rules only allow (use an Antrea policy to drop or reject)',
        rule.action,
      );
    }
    if (text(rule.name) !== '') fail(`${path}.name`, 'Kubernetes NetworkPolicy rules have no name');
    if (rule.enableLogging === true)
      fail(`${path}.enableLogging`, 'Kubernetes NetworkPolicy rules cannot log');
    const peers = peersOf(rule.peers, `${path}.peers`, fail).map((peer, peerIndex) =>
      k8sPeer(peer, `${path}.peers[${peerIndex}]`, fail),
    );
    const ports = portsOf(rule.ports, `${path}.ports`, fail);
    if (direction === 'Egress') {
      egress.push({ ...(peers.length > 0 ? { to: peers } : {}), ...(ports.length > 0 ? { ports } : {}) });
    } else {
      ingress.push({ ...(peers.length > 0 ? { from: peers } : {}), ...(ports.length > 0 ? { ports } : {}) });
    }
  });
  const spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: typeof ingress;
    egress?: typeof egress;
  } = { podSelector };
  if (ingress.length > 0) spec.ingress = ingress;
  if (egress.length > 0) {
    spec.egress = egress;
    spec.policyTypes = ingress.length > 0 ? ['Ingress', 'Egress'] : ['Egress'];
  }
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

function appliedToOf(
  entry: unknown,
  path: string,
  kind: 'ClusterNetworkPolicy' | 'AntreaNetworkPolicy',
  fail: Fail,
): AntreaAppliedTo | undefined {
  if (!isRecord(entry)) {
    fail(path, 'must be an object');
    return undefined;
  }
  const type = entry.type;
  if (type === 'cidr') {
    fail(`${path}.type`, 'a policy applies to pods, namespaces or a group, not to a CIDR', type);
    return undefined;
  }
  const peer = peerOf(entry, path, fail);
  if (!peer) return undefined;
  return antreaPeer(peer, path, kind, fail);
}

function peersOf(value: unknown, path: string, fail: Fail): PeerForm[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    fail(path, 'must be a list');
    return [];
  }
  return value.map((entry, index) => peerOf(entry, `${path}[${index}]`, fail) ?? { type: 'pods', value: '' });
}

function peerOf(entry: unknown, path: string, fail: Fail): PeerForm | undefined {
  if (!isRecord(entry)) {
    fail(path, 'must be an object');
    return undefined;
  }
  if (!PEER_TYPES.includes(entry.type as PeerType)) {
    fail(`${path}.type`, `must be one of ${PEER_TYPES.join(', ')}`, entry.type);
    return undefined;
  }
  const peer: PeerForm = { type: entry.type as PeerType, value: text(entry.value) };
  if (text(entry.namespaceSelector) !== '') peer.namespaceSelector = text(entry.namespaceSelector);
  if (text(entry.except) !== '') peer.except = text(entry.except);
  return peer;
}

function antreaPeer(
  peer: PeerForm,
  path: string,
  kind: 'ClusterNetworkPolicy' | 'AntreaNetworkPolicy',
  fail: Fail,
): AntreaNetworkPolicyPeer {
  switch (peer.type) {
    case 'pods': {
      const out: AntreaNetworkPolicyPeer = {
        podSelector: selectorOf(peer.value, `${path}.value`, fail) ?? {},
      };
      if (peer.namespaceSelector !== undefined) {
        out.namespaceSelector = selectorOf(peer.namespaceSelector, `${path}.namespaceSelector`, fail) ?? {};
      }
      return out;
    }
    case 'namespaces':
      return { namespaceSelector: selectorOf(peer.value, `${path}.value`, fail) ?? {} };
    case 'group':
      if (peer.value === '') {
        fail(
          `${path}.value`,
          `the name of a ${kind === 'ClusterNetworkPolicy' ? 'ClusterGroup' : 'Group'} is required`,
        );
      }
      return { group: peer.value };
    case 'cidr':
      return { ipBlock: ipBlockOf(peer, path, fail) };
  }
}

function k8sPeer(peer: PeerForm, path: string, fail: Fail): K8sNetworkPolicyPeer {
  switch (peer.type) {
    case 'pods': {
      const out: K8sNetworkPolicyPeer = { podSelector: selectorOf(peer.value, `${path}.value`, fail) ?? {} };
      if (peer.namespaceSelector !== undefined) {
        out.namespaceSelector = selectorOf(peer.namespaceSelector, `${path}.namespaceSelector`, fail) ?? {};
      }
      return out;
    }
    case 'namespaces':
      return { namespaceSelector: selectorOf(peer.value, `${path}.value`, fail) ?? {} };
    case 'group':
      fail(`${path}.type`, 'Kubernetes NetworkPolicy peers cannot be groups (use an Antrea policy)', 'group');
      return {};
    case 'cidr':
      return { ipBlock: ipBlockOf(peer, path, fail) };
  }
}

function ipBlockOf(peer: PeerForm, path: string, fail: Fail): IPBlock {
  if (peer.value === '') fail(`${path}.value`, 'a CIDR is required, e.g. 10.0.0.0/8');
  const block: IPBlock = { cidr: peer.value };
  const except = (peer.except ?? '')
    .split(',')
    .map((cidr) => cidr.trim())
    .filter((cidr) => cidr !== '');
  if (except.length > 0) block.except = except;
  return block;
}

function selectorOf(value: unknown, path: string, fail: Fail): LabelSelector | undefined {
  try {
    return parseSelectorText(text(value));
  } catch (error) {
    if (!(error instanceof SelectorTextError)) throw error;
    fail(path, error.message, value);
    return undefined;
  }
}

function directionOf(value: unknown, path: string, fail: Fail): RuleDirectionForm {
  if (value === 'Ingress' || value === 'Egress') return value;
  fail(path, 'must be Ingress or Egress', value);
  return 'Ingress';
}

function priorityOf(value: unknown, fail: Fail): number | undefined {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isFinite(number)) {
    fail('priority', 'is required: a number from 1 to 10000 (lower is evaluated first)', value);
    return undefined;
  }
  return number;
}

const PORT_ITEM = /^(?:(TCP|UDP|SCTP)(?:\/(.+))?|([^/]+))$/i;

/** `TCP/80, UDP/53, TCP/8000-8080, TCP/http, 443, SCTP` → policy ports. */
export function portsOf(value: unknown, path: string, fail: Fail): AntreaNetworkPolicyPort[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'string') {
    fail(path, 'must be text like "TCP/80, UDP/53"', value);
    return [];
  }
  const items = value
    .split(/[,\s]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
  const ports: AntreaNetworkPolicyPort[] = [];
  items.forEach((item, index) => {
    const itemPath = `${path}[${index}]`;
    const match = PORT_ITEM.exec(item);
    if (!match) {
      fail(itemPath, 'must be PROTOCOL/PORT, PROTOCOL/FROM-TO, PROTOCOL or PORT (TCP, UDP or SCTP)', item);
      return;
    }
    const protocol = (match[1]?.toUpperCase() ?? 'TCP') as Protocol;
    if (!PROTOCOLS.includes(protocol)) return;
    const portText = match[2] ?? match[3];
    const port: AntreaNetworkPolicyPort = { protocol };
    if (portText !== undefined) {
      const range = /^(\d+)-(\d+)$/.exec(portText);
      if (range) {
        port.port = Number(range[1]);
        port.endPort = Number(range[2]);
      } else if (/^\d+$/.test(portText)) {
        port.port = Number(portText);
      } else if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(portText)) {
        port.port = portText; // a named container port; validation checks the name
      } else {
        fail(itemPath, 'the port must be a number, a range FROM-TO or a port name', item);
        return;
      }
    }
    ports.push(port);
  });
  return ports;
}

function text(value: unknown): string {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' ? value.trim() : '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
