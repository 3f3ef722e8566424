// Dry mode: a case is replayed against a fresh policy controller (namespaces, pods with their addresses, then
// each step's objects and labels applied as a diff from the previous step) and every listed pair is answered by
// the what-if evaluator instead of a real connection.
import type { NamespaceInfo, PodInfo, PolicyObject } from '../../../firmware/core/api/types';
import { objectKey } from '../../../firmware/core/api/object-key';
import { describeEvaluation } from '../../../firmware/core/evaluate/describe';
import { evaluate, type EvaluationSource, type Verdict } from '../../../firmware/core/evaluate/evaluator';
import { allocateIpv4 } from '../../../firmware/core/ipam/ip-allocator';
import { isIpv4, parseCidr } from '../../../firmware/core/ipam/ipv4';
import {
  probeKey,
  type CaseStep,
  type ConformanceCase,
  type Connectivity,
  type ExpectationTable,
  type Model,
  type ProbeSpec,
} from './case-format';

/** What the dry run needs from the policy controller. */
export interface DryRunController extends EvaluationSource {
  applyNamespace(ns: NamespaceInfo): unknown;
  applyPod(pod: PodInfo): unknown;
  applyObject(obj: unknown): unknown;
  removeObject(key: string): unknown;
}

export interface PairFailure {
  step: number;
  stepName: string;
  probe: string;
  from: string;
  to: string;
  expected: boolean | Connectivity;
  got: Connectivity;
  explanation: string;
}

export interface CaseResult {
  id: string;
  kind: string;
  model: string;
  passed: boolean;
  /** Pairs compared (a pair listed in both `expected` and `expectedVerdicts` counts twice). */
  pairsChecked: number;
  failures: PairFailure[];
  /** Problems that are not a differing pair: invalid objects, unknown pods, unreadable case... */
  errors: string[];
  /** Pairs that could not be probed (real traffic only, e.g. SCTP on a kernel without it). */
  skipped?: SkippedPair[];
}

export interface SkippedPair {
  step: number;
  stepName: string;
  probe: string;
  from: string;
  to: string;
  reason: string;
}

/** Pod addresses come from this range when the model does not wish for one. */
export const DRY_RUN_POD_CIDR = '10.10.0.0/16';
export const DRY_RUN_NODE = 'dry-run-node';
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

const CONNECTIVITY: Record<Verdict, Connectivity> = {
  Allow: 'Connected',
  Drop: 'Dropped',
  Reject: 'Rejected',
};

export function runCaseDry(
  testCase: ConformanceCase,
  model: Model | undefined,
  newController: () => DryRunController,
): CaseResult {
  const result: CaseResult = {
    id: testCase.id,
    kind: testCase.kind,
    model: testCase.model,
    passed: false,
    pairsChecked: 0,
    failures: [],
    errors: [...testCase.problems],
  };
  if (model === undefined && testCase.model !== '') {
    result.errors.push(`unknown model "${testCase.model}"`);
  }
  if (model === undefined || result.errors.length > 0) return result;

  const cluster = new DryCluster(newController(), model);
  for (const step of testCase.steps) {
    const where = testCase.steps.length > 1 ? `step ${step.step}${step.name ? ` "${step.name}"` : ''}: ` : '';
    const stepErrors = cluster.applyStep(step);
    if (stepErrors.length > 0) {
      result.errors.push(...stepErrors.map((error) => where + error));
      break;
    }
    checkTables(cluster, step, step.expected, result, (expected, got) => expected === (got === 'Connected'));
    checkTables(cluster, step, step.expectedVerdicts, result, (expected, got) => expected === got);
  }
  result.passed = result.errors.length === 0 && result.failures.length === 0;
  return result;
}

function checkTables<T extends boolean | Connectivity>(
  cluster: DryCluster,
  step: CaseStep,
  tables: ExpectationTable<T>[],
  result: CaseResult,
  agrees: (expected: T, got: Connectivity) => boolean,
): void {
  for (const { probes, table } of tables) {
    for (const probe of probes) {
      for (const [from, row] of table) {
        for (const [to, expected] of row) {
          const answer = cluster.probe(from, to, probe);
          if ('error' in answer) {
            if (!result.errors.includes(answer.error)) result.errors.push(answer.error);
            continue;
          }
          result.pairsChecked++;
          if (agrees(expected, answer.got)) continue;
          result.failures.push({
            step: step.step,
            stepName: step.name,
            probe: probeKey(probe),
            from,
            to,
            expected,
            got: answer.got,
            explanation: answer.explanation,
          });
        }
      }
    }
  }
}

type ProbeAnswer = { got: Connectivity; explanation: string } | { error: string };

class DryCluster {
  private readonly podIps: Map<string, string>;
  /** "PROTO/PORT" that every pod of the model listens on. */
  private readonly served = new Set<string>();
  private readonly namespaceLabels = new Map<string, string>();
  private readonly podLabels = new Map<string, string>();
  /** objectKey → canonical JSON of what was applied. */
  private readonly objects = new Map<string, { json: string; rank: number }>();

  constructor(
    private readonly controller: DryRunController,
    private readonly model: Model,
  ) {
    this.podIps = assignPodIps(model);
    for (const port of model.containerPorts) {
      for (const protocol of port.serves) this.served.add(`${protocol}/${port.containerPort}`);
    }
  }

  /** Brings the controller to the step's snapshot; returns what went wrong (nothing applied after an error). */
  applyStep(step: CaseStep): string[] {
    try {
      for (const key of step.namespaceLabels.keys()) {
        if (!this.model.namespaces.has(key)) return [`namespaceLabels: unknown namespace "${key}"`];
      }
      for (const key of step.podLabels.keys()) {
        if (!this.model.pods.has(key)) return [`podLabels: unknown pod "${key}"`];
      }
      // Namespaces first, so that pods and policies are evaluated against the step's namespace labels.
      for (const [name, modelLabels] of this.model.namespaces) {
        const labels = { ...(step.namespaceLabels.get(name) ?? modelLabels) };
        labels[NAMESPACE_NAME_LABEL] = name; // set by the API server on every namespace, always
        const json = canonicalJson(labels);
        if (this.namespaceLabels.get(name) === json) continue;
        this.controller.applyNamespace({ name, labels });
        this.namespaceLabels.set(name, json);
      }
      for (const [key, pod] of this.model.pods) {
        const labels = step.podLabels.get(key) ?? pod.labels;
        const json = canonicalJson(labels);
        if (this.podLabels.get(key) === json) continue;
        this.controller.applyPod(this.podInfo(key, labels));
        this.podLabels.set(key, json);
      }
      return this.applyObjects(step.policies);
    } catch (err) {
      return [describeError(err)];
    }
  }

  private applyObjects(policies: unknown[]): string[] {
    const desired = new Map<string, { object: unknown; json: string; rank: number }>();
    for (const [index, raw] of policies.entries()) {
      const resolved = resolveCidrRefs(raw, this.podIps, `policies[${index}]`);
      if ('error' in resolved) return [resolved.error];
      const key = keyOf(resolved.value);
      if (key === undefined) {
        return [`policies[${index}]: not an API object (needs apiVersion, kind and metadata.name)`];
      }
      if (desired.has(key)) return [`policies[${index}]: ${key} is listed twice`];
      desired.set(key, {
        object: resolved.value,
        json: canonicalJson(resolved.value),
        rank: rankOf(resolved.value),
      });
    }
    // Dependents go first on the way out (policies before the groups and tiers they name), last on the way in.
    const removals = [...this.objects]
      .filter(([key]) => !desired.has(key))
      .sort(([, a], [, b]) => b.rank - a.rank);
    for (const [key] of removals) {
      this.controller.removeObject(key);
      this.objects.delete(key);
    }
    const changes = [...desired]
      .filter(([key, entry]) => this.objects.get(key)?.json !== entry.json)
      .sort(([, a], [, b]) => a.rank - b.rank);
    for (const [key, entry] of changes) {
      try {
        this.controller.applyObject(entry.object);
      } catch (err) {
        const message = describeError(err);
        return [(err as { code?: unknown }).code === 'PolicyInvalid' ? message : `${key}: ${message}`];
      }
      this.objects.set(key, { json: entry.json, rank: entry.rank });
    }
    return [];
  }

  probe(from: string, to: string, probe: ProbeSpec): ProbeAnswer {
    for (const pod of [from, to]) {
      if (!this.model.pods.has(pod)) return { error: `unknown pod "${pod}" in an expected table` };
    }
    let answer: { got: Connectivity; explanation: string };
    if (from === to) {
      answer = {
        got: 'Connected',
        explanation: "loopback: traffic to a pod's own address never leaves its network namespace",
      };
    } else {
      try {
        const result = evaluate(this.controller, { pod: from }, { pod: to }, probe.protocol, probe.port);
        answer = { got: CONNECTIVITY[result.verdict], explanation: describeEvaluation(result) };
      } catch (err) {
        return { error: `${probeKey(probe)} ${from} -> ${to}: ${describeError(err)}` };
      }
    }
    // What gets through to a port nobody listens on is refused (TCP reset, ICMP port unreachable), as it
    // would be on the wire.
    if (answer.got === 'Connected' && !this.served.has(probeKey(probe))) {
      return {
        got: 'Rejected',
        explanation: `${answer.explanation}; but no container of model "${this.model.name}" serves ${probeKey(probe)}`,
      };
    }
    return answer;
  }

  private podInfo(key: string, labels: Record<string, string>): PodInfo {
    const pod = this.model.pods.get(key);
    if (pod === undefined) throw new Error(`unknown pod ${key}`);
    return {
      namespace: pod.namespace,
      name: pod.name,
      labels: { ...labels },
      ip: this.podIps.get(key) ?? '',
      nodeName: DRY_RUN_NODE,
      containerPorts: this.model.containerPorts.map((port) =>
        port.name === undefined
          ? { containerPort: port.containerPort, protocol: port.protocol }
          : { name: port.name, containerPort: port.containerPort, protocol: port.protocol },
      ),
    };
  }
}

/** The model's wished-for address when it is a free IPv4 address, else the next free one of DRY_RUN_POD_CIDR. */
export function assignPodIps(model: Model): Map<string, string> {
  const ips = new Map<string, string>();
  const inUse = new Set<string>();
  for (const [key, pod] of model.pods) {
    if (pod.ip !== undefined && isIpv4(pod.ip) && !inUse.has(pod.ip)) {
      ips.set(key, pod.ip);
      inUse.add(pod.ip);
    }
  }
  const subnet = parseCidr(DRY_RUN_POD_CIDR);
  for (const key of model.pods.keys()) {
    if (ips.has(key)) continue;
    const ip = allocateIpv4({ subnet, inUse });
    ips.set(key, ip);
    inUse.add(ip);
  }
  return ips;
}

/** Replaces every `{"cidrOfPod": "ns/pod", "prefix": N}` with "<pod IP>/N" (host bits kept, as written). */
export function resolveCidrRefs(
  value: unknown,
  podIps: ReadonlyMap<string, string>,
  where: string,
): { value: unknown } | { error: string } {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const [index, item] of value.entries()) {
      const resolved = resolveCidrRefs(item, podIps, `${where}[${index}]`);
      if ('error' in resolved) return resolved;
      out.push(resolved.value);
    }
    return { value: out };
  }
  if (typeof value !== 'object' || value === null) return { value };
  const record = value as Record<string, unknown>;
  if ('cidrOfPod' in record) {
    const pod = record.cidrOfPod;
    const prefix = record.prefix ?? 32;
    const ip = typeof pod === 'string' ? podIps.get(pod) : undefined;
    if (ip === undefined) return { error: `${where}: cidrOfPod names unknown pod ${JSON.stringify(pod)}` };
    if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
      return { error: `${where}: prefix must be an integer 0-32` };
    }
    return { value: `${ip}/${prefix}` };
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(record)) {
    const resolved = resolveCidrRefs(item, podIps, `${where}.${key}`);
    if ('error' in resolved) return resolved;
    out[key] = resolved.value;
  }
  return { value: out };
}

/** The object key ("Kind/namespace/name") of an API object, or undefined when it is not one. */
export function keyOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const obj = value as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return undefined;
  if (typeof obj.metadata?.name !== 'string') return undefined;
  return objectKey(value as PolicyObject);
}

/** Tiers, then Services, then groups (parents after their children), then policies. */
export function rankOf(value: unknown): number {
  const obj = value as { kind?: unknown; spec?: { childGroups?: unknown } };
  switch (obj.kind) {
    case 'Tier':
      return 0;
    case 'Service':
      return 1;
    case 'ClusterGroup':
    case 'Group':
      return Array.isArray(obj.spec?.childGroups) && obj.spec.childGroups.length > 0 ? 3 : 2;
    default:
      return 4;
  }
}

/** Validation errors name the object and list every field error in their message. */
function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}
