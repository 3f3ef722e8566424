// Real-traffic mode over several cluster-mode nodes (`scripts/conformance --nodes N`, N ≥ 2): a ClusterTestbed
// (one FakeApiServer, N nodes with their own OVS and firmware, Geneve between them), the model's pods spread
// round-robin over the nodes, one pod agent per pod. Each step's difference from the previous one is written to
// the API server (create/replace/delete of objects, Pod and Namespace labels), as kubectl would: that is the
// cluster's user path, and every node then learns it the same way (antctl apply on node 1 would also end in the
// API, but adds that node's write path to what is tested and timed). Then the runner waits until EVERY node has
// the step realized, and probes every asserted pair (cross-node pairs included) exactly as the standalone runner.
//
// Knowing that a node has caught up: a node follows each resource through its own watch, and watches are not
// ordered with each other, so one barrier policy proves only that its own watch caught up. Each step therefore
// ends with barrier objects on every watch that carries the step's changes, all named or labelled with the
// step's serial: a barrier Pod relabelled (pods watch), proven by a K8s NetworkPolicy barrier whose peer selects
// that label (its address group holds the barrier Pod's address only once the node saw the relabel); an ACNP
// and an ANNP barrier (their watches) that name a ClusterGroup and a Group barrier (those watches: a policy
// naming a group the node has not seen is not listed). A node has caught up when it lists all three barrier
// policies of the step, the address group holds the barrier Pod, its other policies are exactly the step's,
// the namespaces have the step's labels, and every listed policy is realized (the enforcer realizes whole
// snapshots in order). Tier and Service changes have no barrier of their own: a policy naming a missing Tier is
// not listed (caught by the exact policy set); a Service changed in place between steps is not waited for.
import type { NetworkPolicyView } from '../../../firmware/core/antctl/views';
import type { ContainerPort } from '../../../firmware/core/api/types';
import type { PolicySourceType } from '../../../firmware/core/controller/internal-types';
import { ClusterTestbed, type ClusterNode, type TestbedPod } from '../cluster-testbed';
import { probeKey, type CaseStep, type ConformanceCase, type Model } from './case-format';
import { canonicalJson, type CaseResult } from './dry-run';
import {
  collectPairs,
  desiredState,
  emptyNodeState,
  judgeStep,
  modelState,
  pairKey,
  planChanges,
  type DesiredState,
  type NodeState,
  type ProbeOutcome,
  type ProbePair,
  type StepChanges,
} from './live-plan';
import {
  DEFAULT_PROBE_TIMEOUT_MS,
  LiveRunError,
  runCaseSteps,
  servedPorts,
  type LiveRunOptions,
} from './live-run';
import { PodAgent } from './pod-agent';

const REALIZE_TIMEOUT_MS = 90_000;
export const CLUSTER_BARRIER_NAMESPACE = 'aecc-barrier';
const BARRIER_PREFIX = 'aecc-barrier';
const BARRIER_POD = 'aecc-barrier-pod';
/** TEST-NET-1: no node routes it; a policy that happens to allow it allows nothing real. */
const BARRIER_POD_IP = '192.0.2.10';
const BARRIER_POD_LABEL = 'conformance.antrea-edge.io/barrier-pod';
/** How the barrier policies are listed: "<type> [aecc-barrier/]aecc-barrier-<serial>". */
const BARRIER_REF = /[ /]aecc-barrier-\d+$/;
const BARRIER_SELECTS_NOTHING = { 'conformance.antrea-edge.io/realization-barrier': 'selects-nothing' };

export interface ClusterRunOptions extends LiveRunOptions {
  /** Nodes (2 to 9). */
  nodes: number;
  /** Run dist/ (compiled) instead of the TypeScript sources. */
  compiled?: boolean;
}

interface ModelPods {
  model: Model;
  /** "ns/pod" → actual IP. */
  ips: Map<string, string>;
  agents: Map<string, PodAgent>;
  pods: Map<string, TestbedPod>;
}

/** An API object as the runner wrote it (what a deletion needs). */
interface WrittenObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export class ClusterConformance {
  private testbed: ClusterTestbed | undefined;
  private current: ModelPods | undefined;
  private state: NodeState = emptyNodeState();
  /** Object key → the object as written, for deletions. */
  private readonly written = new Map<string, WrittenObject>();
  /** The step's policies as nodes list them: "type ns/name". */
  private expectedPolicies = new Set<string>();
  private expectedNamespaceLabels = new Map<string, string>();
  private barrierSerial = 0;
  private stopped = false;

  constructor(private readonly options: ClusterRunOptions) {}

  get nodeHome(): string | undefined {
    return this.testbed?.home;
  }

  async start(): Promise<void> {
    const testbed = new ClusterTestbed({
      nodes: this.options.nodes,
      tag: 'cf',
      logLevel: this.options.logLevel ?? 'info',
      progress: (line) => this.options.progress(line),
      ...(this.options.keepState ? { keepState: true } : {}),
      ...(this.options.compiled ? { compiled: true } : {}),
    });
    this.testbed = testbed;
    try {
      await testbed.start();
    } catch (error) {
      throw new LiveRunError('NodeSetup', `the cluster did not start: ${describe(error)}`);
    }
    testbed.setNamespaceLabels(CLUSTER_BARRIER_NAMESPACE, {});
    this.options.progress(
      `nodes: ${testbed.nodes.map((n) => `${n.name} (${n.dev.nodeNs}, pods ${n.podCidr})`).join(', ')}`,
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const agent of this.current?.agents.values() ?? []) agent.stop();
    await this.testbed?.stop().catch((error: unknown) => {
      this.options.progress(`warning: stopping the cluster: ${describe(error)}`);
    });
  }

  runCase(testCase: ConformanceCase): Promise<CaseResult> {
    return runCaseSteps(testCase, this.options.models, {
      ensureModel: (model) => this.ensureModel(model),
      runStep: (step, pods, result) => this.runStep(step, pods, result),
      reset: (model) => this.reset(model),
    });
  }

  private async runStep(step: CaseStep, pods: ModelPods, result: CaseResult): Promise<string | undefined> {
    const desired = desiredState(pods.model, step, pods.ips);
    if ('error' in desired) return desired.error;
    const applied = this.applyChanges(planChanges(this.state, desired.state), desired.state);
    if (applied !== undefined) return applied;
    const realized = await this.waitRealized();
    if (realized !== undefined) return realized;

    const { pairs, errors } = collectPairs(step, pods.model);
    for (const error of errors) if (!result.errors.includes(error)) result.errors.push(error);
    const outcomes = await this.probe(pairs, pods);
    const judgement = judgeStep(step, pairs, outcomes);
    for (const failure of judgement.failures) {
      const pair = pairs.find(
        (p) => probeKey(p.probe) === failure.probe && p.from === failure.from && p.to === failure.to,
      );
      if (pair !== undefined) failure.explanation = await this.explain(pair, pods, failure.explanation);
    }
    result.pairsChecked += judgement.checked;
    result.failures.push(...judgement.failures);
    result.skipped?.push(...judgement.skipped);
    result.errors.push(...judgement.errors);
    return undefined;
  }

  /** The probe's finding, where the pods run, and what the source pod's node evaluates for the pair. */
  private async explain(pair: ProbePair, pods: ModelPods, detail: string): Promise<string> {
    if (pair.from === pair.to) return detail;
    const from = pods.pods.get(pair.from);
    const to = pods.pods.get(pair.to);
    const placement = `${pair.from} on ${from?.node.name ?? '?'}, ${pair.to} on ${to?.node.name ?? '?'}`;
    if (from === undefined) return `${detail}; ${placement}`;
    try {
      const evaluation = await this.bed().api(from.node.index).networkPolicyEvaluation({
        source: pair.from,
        destination: pair.to,
        protocol: pair.probe.protocol,
        port: pair.probe.port,
      });
      return `${detail}; ${placement}; the firmware evaluates: ${evaluation.summary}`;
    } catch (error) {
      return `${detail}; ${placement}; the firmware's evaluation failed: ${describe(error)}`;
    }
  }

  private async probe(pairs: readonly ProbePair[], pods: ModelPods): Promise<Map<string, ProbeOutcome>> {
    const timeoutMs = this.options.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    const bySource = new Map<string, ProbePair[]>();
    for (const pair of pairs) bySource.set(pair.from, [...(bySource.get(pair.from) ?? []), pair]);
    const outcomes = new Map<string, ProbeOutcome>();
    await Promise.all(
      [...bySource].map(async ([from, fromPairs]) => {
        const agent = pods.agents.get(from);
        const targets = fromPairs.map((pair) => ({
          proto: pair.probe.protocol,
          ip: pods.ips.get(pair.to) ?? '',
          port: pair.probe.port,
        }));
        let results: ProbeOutcome[];
        try {
          if (agent === undefined) throw new Error(`no pod agent for ${from}`);
          results = await agent.probe(targets, timeoutMs);
        } catch (error) {
          results = targets.map(() => ({ verdict: 'Error' as const, detail: describe(error) }));
        }
        fromPairs.forEach((pair, index) => {
          const outcome = results[index] ?? { verdict: 'Error', detail: 'no result' };
          outcomes.set(pairKey(pair.probe, pair.from, pair.to), outcome);
        });
      }),
    );
    return outcomes;
  }

  /**
   * Writes the changes to the API server (namespace labels, pod labels, objects in rank order, deletions in
   * reverse rank order), then the step's barriers. The fake server does no admission: a write fails only for a
   * kind it does not serve.
   */
  private applyChanges(changes: StepChanges, desired: DesiredState): string | undefined {
    const testbed = this.bed();
    for (const [name, labels] of changes.namespaceLabels) {
      testbed.setNamespaceLabels(name, labels);
      this.state.namespaceLabels.set(name, canonicalJson(labels));
    }
    for (const [ref, labels] of changes.podLabels) {
      testbed.setPodLabels(ref, labels);
      this.state.podLabels.set(ref, canonicalJson(labels));
    }
    for (const entry of changes.apply) {
      try {
        testbed.apply([entry.object as object]);
      } catch (error) {
        return `writing ${entry.key} to the API server: ${describe(error)}`;
      }
      this.written.set(entry.key, writtenObject(entry.object));
      this.state.objects.set(entry.key, { json: entry.json, rank: entry.rank });
    }
    for (const key of changes.delete) {
      const object = this.written.get(key);
      if (object !== undefined) testbed.remove(object);
      this.written.delete(key);
      this.state.objects.delete(key);
    }
    this.expectedPolicies = new Set(
      [...desired.objects.values()].flatMap((entry) => {
        const ref = policyRefOf(entry.object);
        return ref === undefined ? [] : [ref];
      }),
    );
    this.expectedNamespaceLabels = new Map(
      [...desired.namespaceLabels].map(([name, labels]) => [name, canonicalJson(labels)]),
    );
    this.writeBarriers();
    return undefined;
  }

  private writeBarriers(): void {
    const testbed = this.bed();
    const previous = this.barrierSerial;
    const serial = ++this.barrierSerial;
    const name = `${BARRIER_PREFIX}-${serial}`;
    const ns = CLUSTER_BARRIER_NAMESPACE;
    const podLabel = { [BARRIER_POD_LABEL]: String(serial) };
    testbed.apply([
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace: ns, name: BARRIER_POD, labels: podLabel },
        spec: { nodeName: `${BARRIER_PREFIX}-no-node`, containers: [{ name: 'c', image: 'none' }] },
        status: { phase: 'Running', podIP: BARRIER_POD_IP, podIPs: [{ ip: BARRIER_POD_IP }] },
      },
      {
        apiVersion: 'crd.antrea.io/v1beta1',
        kind: 'ClusterGroup',
        metadata: { name },
        spec: { podSelector: { matchLabels: podLabel } },
      },
      {
        apiVersion: 'crd.antrea.io/v1beta1',
        kind: 'Group',
        metadata: { namespace: ns, name },
        spec: { podSelector: { matchLabels: podLabel } },
      },
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { namespace: ns, name },
        spec: {
          podSelector: { matchLabels: BARRIER_SELECTS_NOTHING },
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: { matchLabels: podLabel } }] }],
        },
      },
      {
        apiVersion: 'crd.antrea.io/v1beta1',
        kind: 'ClusterNetworkPolicy',
        metadata: { name },
        spec: {
          priority: 10_000,
          appliedTo: [{ podSelector: { matchLabels: BARRIER_SELECTS_NOTHING } }],
          ingress: [{ action: 'Allow', from: [{ group: name }] }],
        },
      },
      {
        apiVersion: 'crd.antrea.io/v1beta1',
        kind: 'NetworkPolicy',
        metadata: { namespace: ns, name },
        spec: {
          priority: 10_000,
          appliedTo: [{ podSelector: { matchLabels: BARRIER_SELECTS_NOTHING } }],
          ingress: [{ action: 'Allow', from: [{ group: name }] }],
        },
      },
    ]);
    if (previous === 0) return;
    const old = `${BARRIER_PREFIX}-${previous}`;
    for (const object of [
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace: ns, name: old } },
      { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterNetworkPolicy', metadata: { name: old } },
      { apiVersion: 'crd.antrea.io/v1beta1', kind: 'NetworkPolicy', metadata: { namespace: ns, name: old } },
      { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterGroup', metadata: { name: old } },
      { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Group', metadata: { namespace: ns, name: old } },
    ]) {
      testbed.remove(object);
    }
  }

  /** Waits until every node has caught up with the step (see the top of this file) and realized it. */
  private async waitRealized(): Promise<string | undefined> {
    try {
      await this.bed().waitAllNodes('the step to be realized on every node', REALIZE_TIMEOUT_MS, (node) =>
        this.caughtUp(node),
      );
      return undefined;
    } catch (error) {
      return describe(error);
    }
  }

  private async caughtUp(node: ClusterNode): Promise<true | string> {
    const api = this.bed().api(node.index);
    const name = `${BARRIER_PREFIX}-${this.barrierSerial}`;
    const listed = await api.networkPolicies({});
    const barriers = new Set(
      [
        refText('K8sNetworkPolicy', CLUSTER_BARRIER_NAMESPACE, name),
        refText('AntreaClusterNetworkPolicy', undefined, name),
        refText('AntreaNetworkPolicy', CLUSTER_BARRIER_NAMESPACE, name),
      ].filter((ref) => !listed.some((policy) => viewRef(policy) === ref)),
    );
    if (barriers.size > 0) return `barrier ${[...barriers].join(', ')} not listed yet`;
    const k8sBarrier = listed.find(
      (policy) => viewRef(policy) === refText('K8sNetworkPolicy', CLUSTER_BARRIER_NAMESPACE, name),
    );
    const groupName = k8sBarrier?.rules[0]?.peer.addressGroups[0];
    if (groupName === undefined) return 'the barrier NetworkPolicy has no peer group';
    const groups = await api.addressGroups({ name: groupName });
    if (!groups.some((group) => group.members.some((member) => member.ip === BARRIER_POD_IP))) {
      return 'the barrier Pod relabel has not arrived';
    }
    const others = listed.map(viewRef).filter((ref) => !BARRIER_REF.test(ref));
    const missing = [...this.expectedPolicies].filter((ref) => !others.includes(ref));
    const extra = others.filter((ref) => !this.expectedPolicies.has(ref));
    if (missing.length > 0 || extra.length > 0) {
      return `policies differ from the step's (missing: ${missing.join(', ') || 'none'}; not deleted yet: ${extra.join(', ') || 'none'})`;
    }
    for (const [namespace, labels] of this.expectedNamespaceLabels) {
      const seen = await api.namespaceLabels(namespace);
      if (canonicalJson(seen.labels) !== labels) return `namespace ${namespace} has old labels`;
    }
    const pending = listed.filter((policy) => policy.realization?.realized !== true);
    if (pending.length > 0) {
      return `not realized: ${pending.map((p) => `${viewRef(p)} ${JSON.stringify(p.realization ?? null)}`).join(', ')}`;
    }
    return true;
  }

  /** Back to the model's state for the next case (its first step waits for realization). */
  private reset(model: Model): void {
    if (this.stopped) return;
    const target = modelState(model);
    const problem = this.applyChanges(planChanges(this.state, target), target);
    if (problem !== undefined)
      throw new LiveRunError('Reset', `cannot reset the cluster to model "${model.name}": ${problem}`);
  }

  /** The model's pods, spread round-robin over the nodes in the model's order, with their agents. */
  private async ensureModel(model: Model): Promise<ModelPods> {
    if (this.current?.model === model) return this.current;
    const testbed = this.bed();
    if (this.current !== undefined) {
      for (const agent of this.current.agents.values()) agent.stop();
      this.current = undefined;
      await testbed.deleteAllPods();
      this.state.podLabels.clear();
    }
    // Namespaces first, with the model's labels: pods then land in labelled namespaces.
    for (const [name, labels] of modelState(model).namespaceLabels) {
      testbed.setNamespaceLabels(name, labels);
      this.state.namespaceLabels.set(name, canonicalJson(labels));
    }
    const nodes = testbed.nodes;
    this.options.progress(
      `creating the ${model.pods.size} pods of model "${model.name}" round-robin on ${nodes.length} nodes`,
    );
    const ports: ContainerPort[] = model.containerPorts.map((port) =>
      port.name === undefined
        ? { containerPort: port.containerPort, protocol: port.protocol }
        : { name: port.name, containerPort: port.containerPort, protocol: port.protocol },
    );
    const serve = servedPorts(model);
    const current: ModelPods = { model, ips: new Map(), agents: new Map(), pods: new Map() };
    let index = 0;
    for (const [ref, pod] of model.pods) {
      const node = nodes[index++ % nodes.length] as ClusterNode;
      try {
        const created = await testbed.addPod(node.index, {
          namespace: pod.namespace,
          name: pod.name,
          labels: { ...pod.labels },
          ports,
          ...(pod.ip !== undefined && wishFits(pod.ip, node.podCidr) ? { ip: pod.ip } : {}),
        });
        current.ips.set(ref, created.ip);
        current.pods.set(ref, created);
        this.state.podLabels.set(ref, canonicalJson(pod.labels));
        current.agents.set(ref, new PodAgent({ pod: ref, netnsName: created.netnsName, serve }));
      } catch (error) {
        throw new LiveRunError('PodSetup', `creating pod ${ref} on ${node.name}: ${describe(error)}`);
      }
    }
    this.current = current;
    for (const node of nodes) {
      const here = [...current.pods.values()].filter((pod) => pod.node === node);
      this.options.progress(
        `  ${node.name}: ${here.map((pod) => `${pod.ref} ${pod.ip}`).join(', ') || 'no pods'}`,
      );
    }
    try {
      await Promise.all([...current.agents.values()].map((agent) => agent.start()));
    } catch (error) {
      throw new LiveRunError('PodSetup', describe(error));
    }
    const unsupported = [...current.agents.values()][0]?.unsupported ?? {};
    for (const [proto, reason] of Object.entries(unsupported)) {
      this.options.progress(`${proto} probes will be skipped: ${reason}`);
    }
    return current;
  }

  private bed(): ClusterTestbed {
    if (this.testbed === undefined) throw new LiveRunError('NodeSetup', 'the cluster is not started');
    return this.testbed;
  }
}

/** A wished address is only asked for on a node whose Pod subnet holds it (each node has its own /24). */
function wishFits(ip: string, podCidr: string): boolean {
  const prefix = podCidr.replace(/0\/24$/, '');
  const last = Number(ip.slice(prefix.length));
  return ip.startsWith(prefix) && Number.isInteger(last) && last >= 2 && last <= 254;
}

function writtenObject(object: unknown): WrittenObject {
  const value = object as {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
  };
  return {
    apiVersion: value.apiVersion,
    kind: value.kind,
    metadata: {
      name: value.metadata.name,
      ...(value.metadata.namespace === undefined ? {} : { namespace: value.metadata.namespace }),
    },
  };
}

function refText(type: PolicySourceType, namespace: string | undefined, name: string): string {
  return `${type} ${namespace === undefined ? '' : `${namespace}/`}${name}`;
}

function viewRef(policy: NetworkPolicyView): string {
  return refText(policy.sourceRef.type, policy.sourceRef.namespace, policy.sourceRef.name);
}

/** How a node lists a policy object of the case ("type ns/name"); undefined for other kinds. */
function policyRefOf(object: unknown): string | undefined {
  const value = object as {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string };
  };
  const name = value.metadata?.name ?? '';
  const namespace = value.metadata?.namespace ?? 'default';
  const group = (value.apiVersion ?? '').split('/')[0];
  if (value.kind === 'NetworkPolicy' && group === 'networking.k8s.io') {
    return refText('K8sNetworkPolicy', namespace, name);
  }
  if (value.kind === 'NetworkPolicy' && group === 'crd.antrea.io') {
    return refText('AntreaNetworkPolicy', namespace, name);
  }
  if (value.kind === 'ClusterNetworkPolicy') return refText('AntreaClusterNetworkPolicy', undefined, name);
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
