// Helpers to write reachability cases the way the Kubernetes and Antrea e2e suites do: start from a default
// truth table and state the exceptions ("everything in x is isolated for ingress, but x/b reaches x/a"). The
// case sources (cases/*.ts) use them; build-fixtures.ts turns them into the JSON files of FORMAT.md.
import type { Connectivity } from './case-format';

export interface PeerSelector {
  /** Namespace name; absent = every namespace. */
  ns?: string;
  /** Pod name within its namespace ("a"); absent = every pod. */
  pod?: string;
}

/** A truth table over every ordered pair of pods. Self pairs are listed only when the model asserts loopback. */
export class Reachability<T> {
  private readonly cells = new Map<string, T>();

  constructor(
    readonly pods: readonly string[],
    fill: T,
  ) {
    for (const from of pods) for (const to of pods) this.cells.set(cellKey(from, to), fill);
  }

  expect(from: string, to: string, value: T): this {
    if (!this.cells.has(cellKey(from, to))) throw new Error(`unknown pair ${from} -> ${to}`);
    this.cells.set(cellKey(from, to), value);
    return this;
  }

  expectPeer(from: PeerSelector, to: PeerSelector, value: T): this {
    for (const a of this.pods.filter((p) => selects(from, p))) {
      for (const b of this.pods.filter((p) => selects(to, p))) this.cells.set(cellKey(a, b), value);
    }
    return this;
  }

  /** Every pod → `to`. */
  expectAllIngress(to: string, value: T): this {
    return this.expectPeer({}, selectorOf(to), value);
  }

  /** `from` → every pod. */
  expectAllEgress(from: string, value: T): this {
    return this.expectPeer(selectorOf(from), {}, value);
  }

  /** FORMAT.md's `{from: {to: value}}`; `self` is the value of self pairs, or undefined to leave them out. */
  table(self: T | undefined): Record<string, Record<string, T>> {
    const out: Record<string, Record<string, T>> = {};
    for (const from of this.pods) {
      const row: Record<string, T> = {};
      for (const to of this.pods) {
        if (from === to) {
          if (self !== undefined) row[to] = self;
          continue;
        }
        row[to] = this.cells.get(cellKey(from, to)) as T;
      }
      out[from] = row;
    }
    return out;
  }
}

function cellKey(from: string, to: string): string {
  return `${from}>${to}`;
}

function selectorOf(pod: string): PeerSelector {
  const [ns, name] = pod.split('/');
  return { ns, pod: name };
}

function selects(selector: PeerSelector, pod: string): boolean {
  const [ns, name] = pod.split('/');
  return (
    (selector.ns === undefined || selector.ns === ns) && (selector.pod === undefined || selector.pod === name)
  );
}

// ---- API objects, written exactly as users write them (no defaults filled in) ----

export type Json = Record<string, unknown>;
export type Labels = Record<string, string>;

export const matchLabels = (labels: Labels): Json => ({ matchLabels: labels });
export const expression = (key: string, operator: string, values?: string[]): Json =>
  values === undefined ? { key, operator } : { key, operator, values };
export const matchExpressions = (...expressions: Json[]): Json => ({ matchExpressions: expressions });
export const cidrOfPod = (pod: string, prefix: number): Json => ({ cidrOfPod: pod, prefix });

export function k8sPolicy(namespace: string, name: string, spec: Json): Json {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

export function clusterPolicy(name: string, spec: Json, apiVersion = 'crd.antrea.io/v1beta1'): Json {
  return { apiVersion, kind: 'ClusterNetworkPolicy', metadata: { name }, spec };
}

export function antreaPolicy(namespace: string, name: string, spec: Json): Json {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

export function tier(name: string, priority: number, description?: string): Json {
  const spec: Json = { priority };
  if (description !== undefined) spec.description = description;
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Tier', metadata: { name }, spec };
}

export function clusterGroup(name: string, spec: Json): Json {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterGroup', metadata: { name }, spec };
}

export function group(namespace: string, name: string, spec: Json): Json {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Group', metadata: { name, namespace }, spec };
}

export function service(namespace: string, name: string, selector: Labels, port = 80): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { selector, ports: [{ name: 'http', protocol: 'TCP', port, targetPort: port }] },
  };
}

// ---- cases ----

/** Tables keyed by probe ("TCP/80"); one table may be listed under several probes. */
export type Expectations<T> = [probes: string[], table: Reachability<T>][];

export interface StepSource {
  name: string;
  actions?: string[];
  policies: Json[];
  podLabels?: Record<string, Labels>;
  namespaceLabels?: Record<string, Labels>;
  expected: Expectations<boolean>;
  verdicts?: Expectations<Connectivity>;
}

export interface CaseSource {
  id: string;
  kind: 'k8s' | 'antrea';
  model: string;
  /** Source of the scenario (e2e test or documentation section), kept in the file as `"description"`. */
  description: string;
  steps: StepSource[];
}

export interface ModelSource {
  name: string;
  pods: string[];
  /** Loopback pairs asserted (as Connected: a pod's traffic to itself never leaves its network namespace)? */
  assertLoopback: boolean;
}

/** The JSON of one case in FORMAT.md's shape: single-step cases flat, multi-step cases with `steps`. */
export function caseJson(source: CaseSource, model: ModelSource): Json {
  const steps = source.steps.map((step, index) => stepJson(step, index, model));
  const head: Json = {
    id: source.id,
    kind: source.kind,
    model: source.model,
    description: source.description,
  };
  if (steps.length !== 1) return { ...head, steps };
  const { step: _step, name: _name, actions: _actions, ...single } = steps[0] as Json;
  return { ...head, ...single };
}

function stepJson(step: StepSource, index: number, model: ModelSource): Json {
  const out: Json = {
    step: index + 1,
    name: step.name,
    actions: step.actions ?? [],
    policies: step.policies,
  };
  if (step.podLabels) out.podLabels = step.podLabels;
  if (step.namespaceLabels) out.namespaceLabels = step.namespaceLabels;
  const probes = new Set<string>();
  const expected: Json = {};
  for (const [keys, table] of step.expected) {
    for (const key of keys) {
      probes.add(key);
      expected[key] = table.table(model.assertLoopback ? true : undefined);
    }
  }
  const verdicts: Json = {};
  for (const [keys, table] of step.verdicts ?? []) {
    for (const key of keys) {
      probes.add(key);
      verdicts[key] = table.table(model.assertLoopback ? 'Connected' : undefined);
    }
  }
  out.probes = [...probes].map((key) => {
    const [proto, port] = key.split('/');
    return { proto, port: Number(port) };
  });
  out.expected = expected;
  if (step.verdicts) out.expectedVerdicts = verdicts;
  return out;
}
