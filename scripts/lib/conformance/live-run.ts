// Real-traffic mode: a private node (its own temp home, network namespace and OVS), the model's pods created
// through the CNI plugin, one pod agent per pod serving every container port, and for each step of each case:
// the difference from the previous state sent through the local API (apply, delete, pod and namespace labels),
// a wait until the firmware reports every policy realized, then real connections for every asserted pair.
//
// Knowing that a DELETION is in OVS: the firmware reports realization per existing policy only. So after every
// step's changes the runner re-applies a "realization barrier", a NetworkPolicy that selects no pod (it isolates
// nothing), with a new label value: its generation is newer than every change before it, and the enforcer
// realizes whole snapshots in order, so once the barrier is realized every earlier change (deletions
// included) is in OVS.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../../firmware/core/antctl/api-error';
import type { NetworkPolicyView } from '../../../firmware/core/antctl/views';
import type { ContainerPort } from '../../../firmware/core/api/types';
import { LocalApiClient } from '../../../firmware/http/local-api';
import { DevNode, deleteNetns } from '../dev-node';
import { SimPods } from '../sim-pods';
import { probeKey, type CaseStep, type ConformanceCase, type Model } from './case-format';
import { canonicalJson, type CaseResult } from './dry-run';
import {
  choosePodCidr,
  collectPairs,
  desiredState,
  emptyNodeState,
  judgeStep,
  modelState,
  pairKey,
  planChanges,
  requestableIp,
  type NodeState,
  type ProbeOutcome,
  type ProbePair,
  type StepChanges,
} from './live-plan';
import { PodAgent, type ServedPort } from './pod-agent';

export const DEFAULT_PROBE_TIMEOUT_MS = 2000;
const REALIZE_TIMEOUT_MS = 60_000;
const REALIZE_POLL_MS = 50;
export const BARRIER_NAME = 'conformance-realization-barrier';
const BARRIER_LABEL = 'conformance.antrea-edge.io/realization-barrier';

export interface LiveRunOptions {
  /** The models the selected cases use: the node's pod subnet is chosen to fit their wished addresses. */
  models: ReadonlyMap<string, Model>;
  probeTimeoutMs?: number;
  /** Progress lines (stderr). */
  progress(line: string): void;
  /** Keep the node's home directory (logs, OVS database) after stop. */
  keepState?: boolean;
  logLevel?: string;
}

export class LiveRunError extends Error {
  override readonly name = 'LiveRunError';
  constructor(
    readonly code: 'NodeSetup' | 'PodSetup' | 'Reset',
    message: string,
  ) {
    super(message);
  }
}

interface ModelPods {
  model: Model;
  /** "ns/pod" → actual IP. */
  ips: Map<string, string>;
  agents: Map<string, PodAgent>;
}

export class LiveConformance {
  private node: DevNode | undefined;
  private pods: SimPods | undefined;
  private client: LocalApiClient | undefined;
  private home: string | undefined;
  private podCidr = '';
  private netnsPrefix = '';
  private current: ModelPods | undefined;
  private state: NodeState = emptyNodeState();
  private barrierNamespace: string | undefined;
  private barrierSerial = 0;
  /** Pods whose network namespace may exist although SimPods has not recorded them yet. */
  private readonly creating = new Set<string>();
  private stopped = false;

  constructor(private readonly options: LiveRunOptions) {}

  get nodeHome(): string | undefined {
    return this.home;
  }

  get nodePodCidr(): string {
    return this.podCidr;
  }

  async start(): Promise<void> {
    const id = crypto.randomBytes(3).toString('hex');
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-conformance-'));
    const models = [...this.options.models.values()];
    const wishes = models.flatMap((m) =>
      [...m.pods.values()].flatMap((p) => (p.ip === undefined ? [] : [p.ip])),
    );
    this.podCidr = choosePodCidr(wishes, Math.max(0, ...models.map((m) => m.pods.size)));
    this.netnsPrefix = `aecf${id}`;
    const nodeNs = `aecf-node-${id}`;
    const node = new DevNode({
      home: this.home,
      nodeNs,
      nodeName: `conformance-${id}`,
      podCidr: this.podCidr,
      logLevel: this.options.logLevel ?? 'info',
      // The runner probes policies; the editor would only add start-up load and memory to the private node.
      extraArgs: ['--node-red', 'false'],
    });
    this.node = node;
    this.options.progress(
      `starting private node ${nodeNs} (pods in netns ${this.netnsPrefix}-*, pod subnet ${this.podCidr}, ` +
        `state in ${this.home})`,
    );
    try {
      await node.start();
    } catch (error) {
      throw new LiveRunError('NodeSetup', `the node did not start: ${describe(error)}`);
    }
    this.pods = new SimPods({
      stateDir: path.join(this.home, 'sim'),
      cniSocket: node.cniSocket,
      pluginCommand: node.cniPluginCommand(),
      netnsPrefix: this.netnsPrefix,
    });
    this.client = new LocalApiClient({ socketPath: node.antctlSocket, timeoutMs: 60_000 });
  }

  /** Stops helpers, deletes pods and the node; safe to call twice and while a case is running. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const agent of this.current?.agents.values() ?? []) agent.stop();
    const pods = this.pods;
    if (pods !== undefined) {
      await pods.clear().catch(() => undefined);
      for (const ref of this.creating) {
        const [namespace, name] = ref.split('/') as [string, string];
        deleteNetns(pods.netnsNameFor(namespace, name));
      }
    }
    await this.node?.stop().catch((error: unknown) => {
      this.options.progress(`warning: stopping the node: ${describe(error)}`);
    });
    if (this.home !== undefined && !this.options.keepState) {
      fs.rmSync(this.home, { recursive: true, force: true });
    }
  }

  runCase(testCase: ConformanceCase): Promise<CaseResult> {
    return runCaseSteps(testCase, this.options.models, {
      ensureModel: (model) => this.ensureModel(model),
      runStep: (step, pods, result) => this.runStep(step, pods, result),
      reset: (model) => this.reset(model),
    });
  }

  /** Brings the node to the step's snapshot, waits for realization, probes; returns what stopped the case. */
  private async runStep(step: CaseStep, pods: ModelPods, result: CaseResult): Promise<string | undefined> {
    const desired = desiredState(pods.model, step, pods.ips);
    if ('error' in desired) return desired.error;
    const applied = await this.applyChanges(planChanges(this.state, desired.state), pods.model);
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
      if (pair !== undefined) failure.explanation = await this.explain(pair, failure.explanation);
    }
    result.pairsChecked += judgement.checked;
    result.failures.push(...judgement.failures);
    result.skipped?.push(...judgement.skipped);
    result.errors.push(...judgement.errors);
    return undefined;
  }

  /** The probe's own finding plus what the firmware's evaluator says about the pair, to tell data plane from control plane. */
  private async explain(pair: ProbePair, detail: string): Promise<string> {
    if (pair.from === pair.to) return detail;
    try {
      const evaluation = await this.api().networkPolicyEvaluation({
        source: pair.from,
        destination: pair.to,
        protocol: pair.probe.protocol,
        port: pair.probe.port,
      });
      return `${detail}; the firmware evaluates: ${evaluation.summary}`;
    } catch (error) {
      return `${detail}; the firmware's evaluation failed: ${describe(error)}`;
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
   * Sends the changes (labels, one all-or-nothing apply, deletions, then the barrier) and records what the node
   * now holds. Returns the reason when the firmware refused a change.
   */
  private async applyChanges(changes: StepChanges, model: Model): Promise<string | undefined> {
    const api = this.api();
    for (const [name, labels] of changes.namespaceLabels) {
      try {
        await api.setNamespaceLabels(name, labels);
      } catch (error) {
        // A namespace without pods does not exist on the node (pods create namespaces); its labels select nothing.
        const hasPods = [...model.pods.values()].some((pod) => pod.namespace === name);
        if (!(error instanceof ApiError && error.code === 'NotFound' && !hasPods)) {
          return `labelling namespace ${name}: ${describe(error)}`;
        }
      }
      this.state.namespaceLabels.set(name, canonicalJson(labels));
    }
    for (const [ref, labels] of changes.podLabels) {
      const [namespace, name] = ref.split('/') as [string, string];
      try {
        await api.setPodLabels(namespace, name, labels);
      } catch (error) {
        return `labelling pod ${ref}: ${describe(error)}`;
      }
      this.state.podLabels.set(ref, canonicalJson(labels));
    }
    if (changes.apply.length > 0) {
      try {
        await api.applyObjects(changes.apply.map((entry) => entry.object));
      } catch (error) {
        return describe(error);
      }
      for (const entry of changes.apply)
        this.state.objects.set(entry.key, { json: entry.json, rank: entry.rank });
    }
    for (const key of changes.delete) {
      try {
        await api.deleteObject(key);
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'NotFound'))
          return `deleting ${key}: ${describe(error)}`;
      }
      this.state.objects.delete(key);
    }
    try {
      await api.applyObjects([this.barrier()]);
    } catch (error) {
      return `applying the realization barrier: ${describe(error)}`;
    }
    return undefined;
  }

  private barrier(): unknown {
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: BARRIER_NAME, namespace: this.barrierNamespace ?? 'default' },
      spec: {
        podSelector: { matchLabels: { [BARRIER_LABEL]: String(++this.barrierSerial) } },
        policyTypes: ['Ingress'],
      },
    };
  }

  /** Waits until every policy the firmware lists is realized (the barrier among them). */
  private async waitRealized(): Promise<string | undefined> {
    const deadline = Date.now() + REALIZE_TIMEOUT_MS;
    let listed: NetworkPolicyView[] = [];
    for (;;) {
      try {
        listed = await this.api().networkPolicies({});
      } catch (error) {
        return `listing network policies: ${describe(error)}`;
      }
      const barrier = listed.find(
        (p) => p.sourceRef.name === BARRIER_NAME && p.sourceRef.type === 'K8sNetworkPolicy',
      );
      if (barrier !== undefined && listed.every((p) => p.realization?.realized === true)) return undefined;
      if (Date.now() > deadline) break;
      await sleep(REALIZE_POLL_MS);
    }
    const pending = listed
      .filter((p) => p.realization?.realized !== true)
      .map(
        (p) =>
          `${p.sourceRef.type} ${p.sourceRef.namespace ?? ''}/${p.sourceRef.name} ${JSON.stringify(p.realization ?? null)}`,
      );
    return `policies not realized after ${REALIZE_TIMEOUT_MS / 1000} s: ${pending.join(', ') || 'the barrier is missing'}`;
  }

  /** Back to the model's state (no objects, the model's labels) for the next case; realized by its first step. */
  private async reset(model: Model): Promise<void> {
    if (this.stopped) return;
    const problem = await this.applyChanges(planChanges(this.state, modelState(model)), model);
    if (problem !== undefined)
      throw new LiveRunError('Reset', `cannot reset the node to model "${model.name}": ${problem}`);
  }

  /** The model's pods (created through the CNI plugin) with their agents; pods of another model are deleted. */
  private async ensureModel(model: Model): Promise<ModelPods> {
    if (this.current?.model === model) return this.current;
    const pods = this.simPods();
    if (this.current !== undefined) {
      for (const agent of this.current.agents.values()) agent.stop();
      this.current = undefined;
      await pods.clear();
      this.state.podLabels.clear();
    }
    this.barrierNamespace ??= [...model.namespaces.keys()][0];
    this.options.progress(`creating the ${model.pods.size} pods of model "${model.name}"`);
    const ports: ContainerPort[] = model.containerPorts.map((port) =>
      port.name === undefined
        ? { containerPort: port.containerPort, protocol: port.protocol }
        : { name: port.name, containerPort: port.containerPort, protocol: port.protocol },
    );
    const serve = servedPorts(model);
    const current: ModelPods = { model, ips: new Map(), agents: new Map() };
    const taken = new Set<string>();
    for (const [ref, pod] of model.pods) {
      const ip = requestableIp(pod.ip, this.podCidr, taken);
      this.creating.add(ref);
      try {
        const created = await pods.add({
          namespace: pod.namespace,
          name: pod.name,
          labels: { ...pod.labels },
          ports,
          ...(ip === undefined ? {} : { ip }),
        });
        current.ips.set(ref, created.ip);
        taken.add(created.ip);
        this.state.podLabels.set(ref, canonicalJson(pod.labels));
        current.agents.set(ref, new PodAgent({ pod: ref, netnsName: created.netnsName, serve }));
      } catch (error) {
        throw new LiveRunError('PodSetup', `creating pod ${ref}: ${describe(error)}`);
      } finally {
        this.creating.delete(ref);
      }
    }
    this.current = current;
    try {
      await Promise.all([...current.agents.values()].map((agent) => agent.start()));
    } catch (error) {
      throw new LiveRunError('PodSetup', describe(error));
    }
    const unsupported = [...current.agents.values()][0]?.unsupported ?? {};
    for (const [proto, reason] of Object.entries(unsupported)) {
      this.options.progress(`${proto} probes will be skipped: ${reason}`);
    }
    // Namespaces exist once their pods do; now give them the model's labels.
    const problem = await this.applyChanges(
      planChanges(this.state, { ...modelState(model), podLabels: new Map() }),
      model,
    );
    if (problem !== undefined) throw new LiveRunError('PodSetup', problem);
    return current;
  }

  private simPods(): SimPods {
    if (this.pods === undefined) throw new LiveRunError('NodeSetup', 'the node is not started');
    return this.pods;
  }

  private api(): LocalApiClient {
    if (this.client === undefined) throw new LiveRunError('NodeSetup', 'the node is not started');
    return this.client;
  }
}

/** Every port of the model with every protocol it serves ("serves" defaults to the declared protocol). */
export function servedPorts(model: Model): ServedPort[] {
  const seen = new Set<string>();
  const served: ServedPort[] = [];
  for (const port of model.containerPorts) {
    for (const proto of port.serves.length > 0 ? port.serves : [port.protocol]) {
      const key = `${proto}/${port.containerPort}`;
      if (seen.has(key)) continue;
      seen.add(key);
      served.push({ proto, port: port.containerPort });
    }
  }
  return served;
}

function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const invalid = error.details?.invalidObjects ?? [];
    if (invalid.length === 0) return error.message;
    const fields = invalid.flatMap((object) =>
      object.errors.map(
        (field) =>
          `${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name}: ${field.path}: ${field.reason}`,
      ),
    );
    return `${error.message}: ${fields.join('; ')}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What a runner does per case; the loop around it is shared (runCaseSteps). */
export interface CaseStepRunner<Pods> {
  ensureModel(model: Model): Promise<Pods>;
  /** A problem that ends the case (its remaining steps are not run), or undefined. */
  runStep(step: CaseStep, pods: Pods, result: CaseResult): Promise<string | undefined>;
  /** Back to the model's state for the next case, whatever happened. */
  reset(model: Model): Promise<void> | void;
}

/** One case on a live data plane: its model's pods, its steps in order until a problem, then a reset. */
export async function runCaseSteps<Pods>(
  testCase: ConformanceCase,
  models: ReadonlyMap<string, Model>,
  runner: CaseStepRunner<Pods>,
): Promise<CaseResult> {
  const result: CaseResult = {
    id: testCase.id,
    kind: testCase.kind,
    model: testCase.model,
    passed: false,
    pairsChecked: 0,
    failures: [],
    errors: [...testCase.problems],
    skipped: [],
  };
  const model = models.get(testCase.model);
  if (model === undefined && testCase.model !== '') result.errors.push(`unknown model "${testCase.model}"`);
  if (model === undefined || result.errors.length > 0) return result;

  const pods = await runner.ensureModel(model);
  try {
    for (const step of testCase.steps) {
      const where =
        testCase.steps.length > 1 ? `step ${step.step}${step.name ? ` "${step.name}"` : ''}: ` : '';
      const problem = await runner.runStep(step, pods, result);
      if (problem !== undefined) {
        result.errors.push(where + problem);
        break;
      }
    }
  } finally {
    await runner.reset(model);
  }
  result.passed = result.errors.length === 0 && result.failures.length === 0;
  return result;
}
