// The defaults the Kubernetes API server and Antrea's mutating webhook fill in before anyone else sees an object,
// so that the controller, the evaluator and `antctl get` all work on the object as a real cluster would store it:
// - networking.k8s.io/v1 NetworkPolicy: `podSelector` {} (the field is optional and means "all pods"),
//   `policyTypes` ["Ingress"] plus "Egress" when egress rules exist, port `protocol` TCP;
// - Antrea policies: `tier` "application" (legacy capitalised static tier names lowercased, as Antrea's
//   controller resolves them), rule `enableLogging` false, rule `name` generated exactly as Antrea's webhook
//   does ("ingress-allow-" + the first 7 hex digits of the SHA-1 of the rule's Go JSON encoding), port
//   `protocol` TCP (Antrea leaves it unset and reads unset as TCP; writing it down spares every reader that rule);
// - ClusterGroup/Group: the v1alpha2/v1alpha3 singular `ipBlock` becomes `ipBlocks` (what the conversion to
//   v1beta1 does); a Group's `serviceReference` without a namespace refers to the Group's own namespace;
// - Service: port `protocol` TCP and `targetPort` = `port`;
// - cluster-scoped kinds lose `metadata.namespace` (the API server clears it too);
// - `null` fields are dropped, as decoding into Go structs does.
import type { PolicyObject } from './types';
import { DEFAULT_TIER, STATIC_TIERS } from './types';
import { sha1Hex, utf8Encode } from '../hash/sha1';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep copy of JSON-like data, without the object fields whose value is null. */
export function cloneWithoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map((item: unknown) => cloneWithoutNulls(item)) as T;
  if (isObject(value)) {
    const copy: JsonObject = {};
    for (const [key, field] of Object.entries(value)) {
      if (field !== null && field !== undefined) copy[key] = cloneWithoutNulls(field);
    }
    return copy as T;
  }
  return value;
}

const CLUSTER_SCOPED_KINDS = new Set(['ClusterNetworkPolicy', 'Tier', 'ClusterGroup']);
const SPEC_OPTIONAL_KINDS = new Set(['ClusterGroup', 'Group', 'Service']);

/** Antrea 0.9 named the static tiers in CamelCase; its controller still maps those names to today's tiers. */
const LEGACY_STATIC_TIER_NAMES: Readonly<Record<string, string>> = {
  Emergency: 'emergency',
  SecurityOps: 'securityops',
  NetworkOps: 'networkops',
  Platform: 'platform',
  Application: 'application',
  Baseline: 'baseline',
};

/** The static tier a policy's `tier` field stands for, or undefined when it names a custom Tier. */
export function staticTierName(tier: string): string | undefined {
  if (hasOwn(STATIC_TIERS, tier)) return tier;
  return hasOwn(LEGACY_STATIC_TIER_NAMES, tier) ? LEGACY_STATIC_TIER_NAMES[tier] : undefined;
}

function hasOwn(record: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(record, key);
}

/** Returns a defaulted deep copy of `obj`; never mutates it. */
export function applyDefaults<T extends PolicyObject>(obj: T): T {
  const copy = cloneWithoutNulls(obj) as unknown as JsonObject;
  const kind = copy.kind;
  const apiVersion = copy.apiVersion;
  const metadata = copy.metadata;
  if (isObject(metadata) && typeof kind === 'string' && CLUSTER_SCOPED_KINDS.has(kind)) {
    delete metadata.namespace;
  }
  const isK8sPolicy = kind === 'NetworkPolicy' && apiVersion === 'networking.k8s.io/v1';
  if (
    copy.spec === undefined &&
    (isK8sPolicy || (typeof kind === 'string' && SPEC_OPTIONAL_KINDS.has(kind)))
  ) {
    // The spec of these kinds has no required field: a missing one decodes to the zero value.
    copy.spec = {};
  }
  const spec = copy.spec;
  if (!isObject(spec)) return copy as unknown as T;
  if (isK8sPolicy) {
    copy.spec = defaultK8sPolicySpec(spec);
  } else if (kind === 'NetworkPolicy' || kind === 'ClusterNetworkPolicy') {
    // Rule names hash the rules as the user wrote them, so they come from the original, not the copy.
    const original = (obj as unknown as JsonObject).spec;
    defaultAntreaPolicySpec(spec, isObject(original) ? original : {});
  } else if (kind === 'ClusterGroup' || kind === 'Group') {
    const namespace = isObject(metadata) ? metadata.namespace : undefined;
    defaultGroupSpec(spec, kind === 'Group' && typeof namespace === 'string' ? namespace : undefined);
  } else if (kind === 'Service') {
    defaultServiceSpec(spec);
  }
  return copy as unknown as T;
}

function defaultK8sPolicySpec(spec: JsonObject): JsonObject {
  if (spec.podSelector === undefined) spec.podSelector = {};
  for (const direction of ['ingress', 'egress'] as const) {
    const rules = spec[direction];
    if (!Array.isArray(rules)) continue;
    for (const rule of rules) {
      if (isObject(rule)) defaultPortProtocols(rule.ports);
    }
  }
  const policyTypes = spec.policyTypes;
  if (!Array.isArray(policyTypes) || policyTypes.length === 0) {
    const egress = spec.egress;
    spec.policyTypes = Array.isArray(egress) && egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  return spec;
}

function defaultPortProtocols(ports: unknown): void {
  if (!Array.isArray(ports)) return;
  for (const port of ports) {
    if (isObject(port) && port.protocol === undefined) port.protocol = 'TCP';
  }
}

function defaultAntreaPolicySpec(spec: JsonObject, original: JsonObject): void {
  const tier = spec.tier;
  if (tier === undefined || tier === '') {
    spec.tier = DEFAULT_TIER;
  } else if (typeof tier === 'string') {
    spec.tier = staticTierName(tier) ?? tier;
  }
  for (const direction of ['ingress', 'egress'] as const) {
    const rules = spec[direction];
    const originalRules = original[direction];
    if (!Array.isArray(rules)) continue;
    rules.forEach((rule: unknown, index) => {
      if (!isObject(rule)) return;
      if (rule.name === undefined || rule.name === '') {
        const originalRule: unknown = Array.isArray(originalRules) ? originalRules[index] : rule;
        rule.name = generatedRuleName(direction, originalRule ?? rule);
      }
      if (rule.enableLogging === undefined) rule.enableLogging = false;
      defaultPortProtocols(rule.ports);
    });
  }
}

function defaultGroupSpec(spec: JsonObject, groupNamespace: string | undefined): void {
  if (spec.ipBlock !== undefined && spec.ipBlocks === undefined) {
    spec.ipBlocks = [spec.ipBlock];
    delete spec.ipBlock;
  }
  const reference = spec.serviceReference;
  if (groupNamespace !== undefined && isObject(reference) && !reference.namespace) {
    reference.namespace = groupNamespace;
  }
}

function defaultServiceSpec(spec: JsonObject): void {
  const ports = spec.ports;
  if (!Array.isArray(ports)) return;
  for (const port of ports) {
    if (!isObject(port)) continue;
    if (port.protocol === undefined) port.protocol = 'TCP';
    if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') {
      port.targetPort = port.port;
    }
  }
}

// ---- Antrea's generated rule names ----

/**
 * The name Antrea's mutating webhook gives a rule without one: "<ingress|egress>-<action lowercased>-" followed by
 * the first 7 hex digits of the SHA-1 of the rule as Go's encoding/json writes the crd.antrea.io Rule struct.
 * Identical rules therefore get identical names, which validation then rejects as duplicates, as Antrea does.
 */
export function generatedRuleName(direction: 'ingress' | 'egress', rule: unknown): string {
  const action = isObject(rule) && typeof rule.action === 'string' ? rule.action.toLowerCase() : '';
  return `${direction}-${action}-${sha1Hex(utf8Encode(goRuleJson(rule))).slice(0, 7)}`;
}

type Encoded = string | undefined; // undefined: the field is omitted

function goStruct(fields: [string, Encoded][]): string {
  const parts: string[] = [];
  for (const [name, encoded] of fields) {
    if (encoded !== undefined) parts.push(`${goQuote(name)}:${encoded}`);
  }
  return `{${parts.join(',')}}`;
}

/** Go's encoder escapes HTML-significant characters and the JavaScript line separators; JSON.stringify does not. */
function goQuote(text: string): string {
  return JSON.stringify(text).replace(/[<>&\u2028\u2029]/g, (char) => {
    return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** `string` field with `omitempty`. */
function goOptionalString(value: unknown): Encoded {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? goQuote(value) : goAny(value);
}

/** `string` field without `omitempty`. */
function goString(value: unknown): string {
  return goOptionalString(value) ?? '""';
}

/** Pointer field with `omitempty`: omitted only when nil. */
function goPointer(value: unknown, encode: (present: unknown) => string = goAny): Encoded {
  return value === undefined || value === null ? undefined : encode(value);
}

/** Slice field with `omitempty`: omitted when nil or empty. */
function goSlice(value: unknown, encode: (item: unknown) => string = goAny): Encoded {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) return goAny(value);
  if (value.length === 0) return undefined;
  return `[${value.map((item: unknown) => encode(item)).join(',')}]`;
}

/** Any JSON value, maps with sorted keys (Go sorts map keys). */
function goAny(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: unknown) => goAny(item)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${goQuote(key)}:${goAny(value[key])}`).join(',')}}`;
  }
  return 'null';
}

function field(value: unknown, name: string): unknown {
  return isObject(value) ? value[name] : undefined;
}

function goLabelSelector(selector: unknown): string {
  const matchLabels = field(selector, 'matchLabels');
  const labelsEncoded =
    isObject(matchLabels) && Object.keys(matchLabels).length > 0 ? goAny(matchLabels) : undefined;
  return goStruct([
    ['matchLabels', labelsEncoded],
    [
      'matchExpressions',
      goSlice(field(selector, 'matchExpressions'), (expression) =>
        goStruct([
          ['key', goString(field(expression, 'key'))],
          ['operator', goString(field(expression, 'operator'))],
          ['values', goSlice(field(expression, 'values'))],
        ]),
      ),
    ],
  ]);
}

function goNamespacedName(value: unknown): string {
  return goStruct([
    ['name', goOptionalString(field(value, 'name'))],
    ['namespace', goOptionalString(field(value, 'namespace'))],
  ]);
}

function goPeer(peer: unknown): string {
  return goStruct([
    [
      'ipBlock',
      goPointer(field(peer, 'ipBlock'), (block) =>
        goStruct([
          ['cidr', goString(field(block, 'cidr'))],
          ['except', goSlice(field(block, 'except'))],
        ]),
      ),
    ],
    ['podSelector', goPointer(field(peer, 'podSelector'), goLabelSelector)],
    ['namespaceSelector', goPointer(field(peer, 'namespaceSelector'), goLabelSelector)],
    [
      'namespaces',
      goPointer(field(peer, 'namespaces'), (namespaces) =>
        goStruct([
          ['match', goOptionalString(field(namespaces, 'match'))],
          ['sameLabels', goSlice(field(namespaces, 'sameLabels'))],
        ]),
      ),
    ],
    ['externalEntitySelector', goPointer(field(peer, 'externalEntitySelector'), goLabelSelector)],
    ['group', goOptionalString(field(peer, 'group'))],
    ['fqdn', goOptionalString(field(peer, 'fqdn'))],
    ['serviceAccount', goPointer(field(peer, 'serviceAccount'), goNamespacedName)],
    ['nodeSelector', goPointer(field(peer, 'nodeSelector'), goLabelSelector)],
    ['scope', goOptionalString(field(peer, 'scope'))],
  ]);
}

function goAppliedTo(appliedTo: unknown): string {
  return goStruct([
    ['podSelector', goPointer(field(appliedTo, 'podSelector'), goLabelSelector)],
    ['namespaceSelector', goPointer(field(appliedTo, 'namespaceSelector'), goLabelSelector)],
    ['externalEntitySelector', goPointer(field(appliedTo, 'externalEntitySelector'), goLabelSelector)],
    ['group', goOptionalString(field(appliedTo, 'group'))],
    ['serviceAccount', goPointer(field(appliedTo, 'serviceAccount'), goNamespacedName)],
    ['service', goPointer(field(appliedTo, 'service'), goNamespacedName)],
    ['nodeSelector', goPointer(field(appliedTo, 'nodeSelector'), goLabelSelector)],
  ]);
}

function goPort(port: unknown): string {
  return goStruct([
    ['protocol', goPointer(field(port, 'protocol'))],
    ['port', goPointer(field(port, 'port'))],
    ['endPort', goPointer(field(port, 'endPort'))],
    ['sourcePort', goPointer(field(port, 'sourcePort'))],
    ['sourceEndPort', goPointer(field(port, 'sourceEndPort'))],
  ]);
}

/** crd.antrea.io/v1beta1 Rule, fields in struct order with their `omitempty` rules. */
function goRuleJson(rule: unknown): string {
  const enableLogging = field(rule, 'enableLogging');
  return goStruct([
    ['action', goAny(field(rule, 'action'))],
    ['ports', goSlice(field(rule, 'ports'), goPort)],
    ['protocols', goSlice(field(rule, 'protocols'))],
    ['l7Protocols', goSlice(field(rule, 'l7Protocols'))],
    ['from', goSlice(field(rule, 'from'), goPeer)],
    ['to', goSlice(field(rule, 'to'), goPeer)],
    ['toServices', goSlice(field(rule, 'toServices'))],
    ['name', goOptionalString(field(rule, 'name'))],
    ['enableLogging', enableLogging === true ? 'true' : 'false'],
    ['logLabel', goOptionalString(field(rule, 'logLabel'))],
    ['appliedTo', goSlice(field(rule, 'appliedTo'), goAppliedTo)],
  ]);
}
