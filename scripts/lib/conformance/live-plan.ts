// The pure half of the real-traffic runner: which pod subnet fits a model's wished addresses, what has to change
// on the node to go from one step's snapshot to the next (objects, pod labels, namespace labels), which pairs a
// step asserts, and how probe verdicts compare with the expectations.
import {
  cidrContains,
  cidrSize,
  formatCidr,
  formatIpv4,
  gatewayIpOf,
  isIpv4,
  parseCidr,
  parseIpv4,
  type Ipv4Cidr,
} from '../../../firmware/core/ipam/ipv4';
import {
  probeKey,
  type CaseStep,
  type Connectivity,
  type ExpectationTable,
  type Model,
  type ProbeSpec,
} from './case-format';
import { canonicalJson, keyOf, rankOf, resolveCidrRefs, type PairFailure, type SkippedPair } from './dry-run';

export const DEFAULT_LIVE_POD_CIDR = '10.10.0.0/24';
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
/** The widest pod subnet the runner picks to honour wished addresses. */
const WIDEST_PREFIX = 16;

// ---- pod subnet and addresses ----

/** The smallest prefix length (widest subnet) still holding podCount pods, their gateway and the reserved ends. */
function prefixFor(podCount: number): number {
  let prefix = 24;
  while (prefix > WIDEST_PREFIX && 2 ** (32 - prefix) - 3 < podCount) prefix--;
  return prefix;
}

function usable(cidr: Ipv4Cidr, ip: number): boolean {
  return cidrContains(cidr, ip) && ip > gatewayIpOf(cidr) && ip < cidr.network + cidrSize(cidr) - 1;
}

/**
 * A pod subnet that contains every wished address as a usable pod address (not the network, gateway or
 * broadcast address), as narrow as possible but at least a /24-sized one when pods need it, and never wider
 * than /16. Wishes that no such subnet can hold are given up (those pods get allocated addresses).
 */
export function choosePodCidr(wishes: readonly string[], podCount: number): string {
  const ips = [...new Set(wishes.filter(isIpv4))].map(parseIpv4);
  const widest = prefixFor(podCount);
  if (ips.length === 0) return podCount <= 250 ? DEFAULT_LIVE_POD_CIDR : `10.10.0.0/${widest}`;
  const first = ips[0] as number;
  for (let prefix = widest; prefix >= WIDEST_PREFIX; prefix--) {
    const cidr = parseCidr(`${formatIpv4(first)}/${prefix}`);
    if (ips.every((ip) => usable(cidr, ip))) return formatCidr(cidr);
  }
  // Too far apart: the subnet around the first wish that holds most of them.
  let best: { cidr: Ipv4Cidr; honoured: number } | undefined;
  for (let prefix = widest; prefix >= WIDEST_PREFIX; prefix--) {
    for (const ip of ips) {
      const cidr = parseCidr(`${formatIpv4(ip)}/${prefix}`);
      const honoured = ips.filter((other) => usable(cidr, other)).length;
      if (best === undefined || honoured > best.honoured) best = { cidr, honoured };
    }
  }
  return best === undefined || best.honoured === 0 ? DEFAULT_LIVE_POD_CIDR : formatCidr(best.cidr);
}

/** The address to request for a pod: its wish when the subnet can give it and nobody has it yet. */
export function requestableIp(
  wish: string | undefined,
  podCidr: string,
  taken: ReadonlySet<string>,
): string | undefined {
  if (wish === undefined || !isIpv4(wish) || taken.has(wish)) return undefined;
  return usable(parseCidr(podCidr), parseIpv4(wish)) ? wish : undefined;
}

// ---- node state and step diffs ----

/** What the runner has put on the node, in canonical JSON so that comparing is exact. */
export interface NodeState {
  /** object key → canonical JSON and apply rank. */
  objects: Map<string, { json: string; rank: number }>;
  /** "ns/pod" → canonical JSON of its full label set. */
  podLabels: Map<string, string>;
  /** namespace → canonical JSON of its full label set (with kubernetes.io/metadata.name). */
  namespaceLabels: Map<string, string>;
}

export function emptyNodeState(): NodeState {
  return { objects: new Map(), podLabels: new Map(), namespaceLabels: new Map() };
}

export interface DesiredObject {
  key: string;
  object: unknown;
  json: string;
  rank: number;
}

/** A step's complete snapshot, with cidrOfPod references resolved to the pods' actual addresses. */
export interface DesiredState {
  objects: Map<string, DesiredObject>;
  podLabels: Map<string, Record<string, string>>;
  namespaceLabels: Map<string, Record<string, string>>;
}

/** The model's own state: no objects, the model's labels. What the runner resets to between cases. */
export function modelState(model: Model): DesiredState {
  return {
    objects: new Map(),
    podLabels: new Map([...model.pods].map(([key, pod]) => [key, { ...pod.labels }])),
    namespaceLabels: new Map(
      [...model.namespaces].map(([name, labels]) => [name, { ...labels, [NAMESPACE_NAME_LABEL]: name }]),
    ),
  };
}

export function desiredState(
  model: Model,
  step: Pick<CaseStep, 'policies' | 'podLabels' | 'namespaceLabels'>,
  podIps: ReadonlyMap<string, string>,
): { state: DesiredState } | { error: string } {
  for (const key of step.namespaceLabels.keys()) {
    if (!model.namespaces.has(key)) return { error: `namespaceLabels: unknown namespace "${key}"` };
  }
  for (const key of step.podLabels.keys()) {
    if (!model.pods.has(key)) return { error: `podLabels: unknown pod "${key}"` };
  }
  const state = modelState(model);
  for (const [key, labels] of step.podLabels) state.podLabels.set(key, { ...labels });
  for (const [name, labels] of step.namespaceLabels) {
    state.namespaceLabels.set(name, { ...labels, [NAMESPACE_NAME_LABEL]: name });
  }
  for (const [index, raw] of step.policies.entries()) {
    const resolved = resolveCidrRefs(raw, podIps, `policies[${index}]`);
    if ('error' in resolved) return resolved;
    const key = keyOf(resolved.value);
    if (key === undefined) {
      return { error: `policies[${index}]: not an API object (needs apiVersion, kind and metadata.name)` };
    }
    if (state.objects.has(key)) return { error: `policies[${index}]: ${key} is listed twice` };
    state.objects.set(key, {
      key,
      object: resolved.value,
      json: canonicalJson(resolved.value),
      rank: rankOf(resolved.value),
    });
  }
  return { state };
}

/** What to send to the node, in the order to send it. */
export interface StepChanges {
  namespaceLabels: [string, Record<string, string>][];
  podLabels: [string, Record<string, string>][];
  /** New and changed objects, tiers and groups before the policies that use them: one all-or-nothing apply. */
  apply: DesiredObject[];
  /**
   * Object keys to delete after the apply (so that an object that stops referring to a group or tier is
   * updated before that group or tier goes), policies before the groups and tiers they name.
   */
  delete: string[];
}

export function planChanges(current: NodeState, desired: DesiredState): StepChanges {
  const namespaceLabels = [...desired.namespaceLabels].filter(
    ([name, labels]) => current.namespaceLabels.get(name) !== canonicalJson(labels),
  );
  const podLabels = [...desired.podLabels].filter(
    ([key, labels]) => current.podLabels.get(key) !== canonicalJson(labels),
  );
  const apply = [...desired.objects.values()]
    .filter((entry) => current.objects.get(entry.key)?.json !== entry.json)
    .sort((a, b) => a.rank - b.rank);
  const deletions = [...current.objects]
    .filter(([key]) => !desired.objects.has(key))
    .sort(([, a], [, b]) => b.rank - a.rank)
    .map(([key]) => key);
  return { namespaceLabels, podLabels, apply, delete: deletions };
}

// ---- pairs and verdicts ----

export type Expectation = boolean | Connectivity;

/** One real connection to make, with every expectation listed for it in the step's tables. */
export interface ProbePair {
  probe: ProbeSpec;
  from: string;
  to: string;
  expectations: Expectation[];
}

export function pairKey(probe: ProbeSpec, from: string, to: string): string {
  return `${probeKey(probe)} ${from} -> ${to}`;
}

/** Every asserted pair of a step once (a pair listed under several keys or tables is probed once). */
export function collectPairs(
  step: Pick<CaseStep, 'expected' | 'expectedVerdicts'>,
  model: Model,
): { pairs: ProbePair[]; errors: string[] } {
  const pairs = new Map<string, ProbePair>();
  const errors: string[] = [];
  const add = (tables: ExpectationTable<Expectation>[]): void => {
    for (const { probes, table } of tables) {
      for (const probe of probes) {
        for (const [from, row] of table) {
          for (const [to, expectation] of row) {
            const unknown = [from, to].find((pod) => !model.pods.has(pod));
            if (unknown !== undefined) {
              const error = `unknown pod "${unknown}" in an expected table`;
              if (!errors.includes(error)) errors.push(error);
              continue;
            }
            const key = pairKey(probe, from, to);
            const pair = pairs.get(key) ?? { probe, from, to, expectations: [] };
            pair.expectations.push(expectation);
            pairs.set(key, pair);
          }
        }
      }
    }
  };
  add(step.expected);
  add(step.expectedVerdicts);
  return { pairs: [...pairs.values()], errors };
}

/** What a probe found: a verdict, or that it could not run here (Skipped) or failed on our side (Error). */
export interface ProbeOutcome {
  verdict: Connectivity | 'Skipped' | 'Error';
  detail: string;
}

const OUTCOME_VERDICTS: readonly ProbeOutcome['verdict'][] = [
  'Connected',
  'Dropped',
  'Rejected',
  'Skipped',
  'Error',
];

/** Reads one result of the pod agent; anything unexpected is an Error outcome. */
export function outcomeOf(raw: unknown): ProbeOutcome {
  const fields = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const verdict = OUTCOME_VERDICTS.find((v) => v === fields.verdict);
  const detail = typeof fields.detail === 'string' ? fields.detail : '';
  if (verdict === undefined)
    return { verdict: 'Error', detail: `unexpected probe result ${JSON.stringify(raw)}` };
  return { verdict, detail };
}

/** `expected: true` means Connected; `false` means Dropped or Rejected; a verdict must match exactly. */
export function agrees(expected: Expectation, got: Connectivity): boolean {
  return typeof expected === 'boolean' ? expected === (got === 'Connected') : expected === got;
}

export interface StepJudgement {
  /** Expectations compared (a pair listed in both tables counts twice, as in dry mode). */
  checked: number;
  failures: PairFailure[];
  skipped: SkippedPair[];
  errors: string[];
}

export function judgeStep(
  step: Pick<CaseStep, 'step' | 'name'>,
  pairs: readonly ProbePair[],
  outcomes: ReadonlyMap<string, ProbeOutcome>,
): StepJudgement {
  const judgement: StepJudgement = { checked: 0, failures: [], skipped: [], errors: [] };
  for (const pair of pairs) {
    const probe = probeKey(pair.probe);
    const outcome = outcomes.get(pairKey(pair.probe, pair.from, pair.to)) ?? {
      verdict: 'Error',
      detail: 'not probed',
    };
    const where = { step: step.step, stepName: step.name, probe, from: pair.from, to: pair.to };
    if (outcome.verdict === 'Skipped') {
      judgement.skipped.push({ ...where, reason: outcome.detail });
      continue;
    }
    if (outcome.verdict === 'Error') {
      judgement.errors.push(
        `${probe} ${pair.from} -> ${pair.to}: the probe could not run: ${outcome.detail}`,
      );
      continue;
    }
    for (const expected of pair.expectations) {
      judgement.checked++;
      if (agrees(expected, outcome.verdict)) continue;
      judgement.failures.push({ ...where, expected, got: outcome.verdict, explanation: outcome.detail });
    }
  }
  return judgement;
}
