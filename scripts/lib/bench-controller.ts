// `scripts/bench controller`: the policy controller at Antrea's own controller perf-test shapes
// (pkg/controller/networkpolicy/networkpolicy_controller_perf_test.go):
//   (a) TestInitXLargeScaleWithOneNamespace: 1 namespace, 10k pods, 10k K8s NetworkPolicies, every policy selecting
//       every pod as applied-to and as ingress peer (Antrea measured 10.66 s / 1157 MB);
//   (b) TestInitXLargeScaleWithSmallNamespaces: 25k namespaces, each with 4 pods and 3 policies (default-deny-all,
//       np-1, np-2) → 100k pods, 75k policies (Antrea measured ~6 s / ~1.6 GB).
// Reports the initial computation time (namespaces, then pods, then policies, each through the public API with
// validation), the heap after a full GC, and the cost of one pod label change at that scale (p50/p99 over 100).
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { K8sNetworkPolicy, PodInfo } from '../../firmware/core/api/types';
import type { ControllerChanges } from '../../firmware/core/controller/internal-types';
import { PolicyController } from '../../firmware/core/controller/policy-controller';

type Gc = () => void;

/** `global.gc` when node runs with --expose-gc; otherwise the same function obtained through V8 flags. */
function getGc(): Gc {
  const exposed = (globalThis as { gc?: Gc }).gc;
  if (exposed) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as Gc;
}

/** Deterministic PRNG (mulberry32) so that runs are comparable. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scale {
  name: string;
  description: string;
  namespaces: number;
  /** Objects of one namespace: [pod name, labels][] and the policies. */
  podsPerNamespace: (namespace: string) => [string, Record<string, string>][];
  policiesPerNamespace: (namespace: string) => K8sNetworkPolicy[];
  /** Labels that take pod `labels` out of (and back into) the policies' selectors. */
  changedLabels: (labels: Record<string, string>) => Record<string, string>;
  antrea: { seconds: number; megabytes: number };
  goal?: { seconds: number; megabytes: number; labelChangeMs: number };
}

function networkPolicy(
  namespace: string,
  name: string,
  podSelector: Record<string, string> | undefined,
  ingressFrom: Record<string, string> | undefined,
): K8sNetworkPolicy {
  const policy: K8sNetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace, name },
    spec: {
      podSelector: podSelector ? { matchLabels: podSelector } : {},
      policyTypes: ['Ingress', 'Egress'],
    },
  };
  if (ingressFrom) policy.spec.ingress = [{ from: [{ podSelector: { matchLabels: ingressFrom } }] }];
  return policy;
}

const SCALES: Record<string, Scale> = {
  a: {
    name: 'a',
    description: '1 namespace, 10k pods, 10k policies (each selects every pod, applied-to and ingress peer)',
    namespaces: 1,
    podsPerNamespace: () =>
      Array.from({ length: 10_000 }, (_, i): [string, Record<string, string>] => [
        `pod-${i}`,
        { 'app-1': 'scale-1' },
      ]),
    policiesPerNamespace: (namespace) =>
      Array.from({ length: 10_000 }, (_, i) =>
        networkPolicy(namespace, `np-${i}`, { 'app-1': 'scale-1' }, { 'app-1': 'scale-1' }),
      ),
    changedLabels: () => ({ 'app-1': 'scale-changed' }),
    antrea: { seconds: 10.66, megabytes: 1157 },
    goal: { seconds: 2, megabytes: 300, labelChangeMs: 5 },
  },
  b: {
    name: 'b',
    description: '25k namespaces × (4 pods, 3 policies) = 100k pods, 75k policies',
    namespaces: 25_000,
    podsPerNamespace: () => [
      ['pod1', { 'app-1': 'scale-1' }],
      ['pod2', { 'app-1': 'scale-1' }],
      ['pod3', { 'app-2': 'scale-2' }],
      ['pod4', { 'app-2': 'scale-2' }],
    ],
    policiesPerNamespace: (namespace) => [
      networkPolicy(namespace, 'default-deny-all', undefined, undefined),
      networkPolicy(namespace, 'np-1', { 'app-1': 'scale-1' }, { 'app-1': 'scale-1' }),
      networkPolicy(namespace, 'np-2', { 'app-2': 'scale-2' }, { 'app-2': 'scale-2' }),
    ],
    changedLabels: (labels): Record<string, string> =>
      labels['app-1'] !== undefined ? { 'app-2': 'scale-2' } : { 'app-1': 'scale-1' },
    antrea: { seconds: 6.1, megabytes: 1626 },
  },
};

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

const round = (value: number, digits = 2): number => Math.round(value * 10 ** digits) / 10 ** digits;

function changeSize(changes: ControllerChanges): number {
  return (
    changes.networkPolicies.upserted.length +
    changes.networkPolicies.deleted.length +
    changes.addressGroups.upserted.length +
    changes.addressGroups.deleted.length +
    changes.appliedToGroups.upserted.length +
    changes.appliedToGroups.deleted.length
  );
}

export interface ControllerBenchResult {
  scale: string;
  description: string;
  namespaces: number;
  pods: number;
  policies: number;
  initialComputation: { totalSeconds: number; namespacesAndPodsSeconds: number; policiesSeconds: number };
  heapUsedMB: number;
  heapUsedBeforeMB: number;
  objects: { networkPolicies: number; addressGroups: number; appliedToGroups: number };
  podLabelChangeMs: { n: number; p50: number; p99: number; max: number; objectsEmittedPerChange: number };
  lastPodOfANodeLeavesMs: { ms: number; objectsEmitted: number };
  antreaMeasured: { seconds: number; megabytes: number };
  goal?: { seconds: number; megabytes: number; labelChangeMs: number };
  meetsGoal?: boolean;
}

export function benchControllerScale(
  scaleName: string,
  progress: (message: string) => void,
): ControllerBenchResult {
  const scale = SCALES[scaleName];
  if (!scale) throw new Error(`unknown scale "${scaleName}" (expected ${Object.keys(SCALES).join(', ')})`);
  const gc = getGc();
  const random = prng(0x5eed + scaleName.charCodeAt(0));
  const randomIp = (): string =>
    `${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}`;
  const randomNode = (): string => `Node-${Math.floor(random() * 1000)}`;
  const namespaceNames = Array.from(
    { length: scale.namespaces },
    (_, i) => `ns-${i.toString(36).padStart(4, '0')}`,
  );

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  progress(`scale ${scale.name}: ${scale.description}`);
  const controller = new PolicyController();
  let pods = 0;
  let policies = 0;
  const podList: PodInfo[] = [];
  const start = process.hrtime.bigint();
  for (const namespace of namespaceNames) {
    controller.applyNamespace({ name: namespace, labels: { app: namespace } });
    for (const [name, labels] of scale.podsPerNamespace(namespace)) {
      const pod: PodInfo = {
        namespace,
        name,
        labels,
        ip: randomIp(),
        nodeName: randomNode(),
        containerPorts: [],
      };
      controller.applyPod(pod);
      podList.push(pod);
      pods++;
    }
  }
  const podsDone = process.hrtime.bigint();
  progress(`  ${pods} pods in ${round(Number(podsDone - start) / 1e9)} s`);
  for (const namespace of namespaceNames) {
    for (const policy of scale.policiesPerNamespace(namespace)) {
      controller.applyObject(policy);
      policies++;
      if (policies % 10_000 === 0) progress(`  ${policies} policies`);
    }
  }
  const end = process.hrtime.bigint();
  progress(`  ${policies} policies in ${round(Number(end - podsDone) / 1e9)} s`);
  gc();
  const heapAfter = process.memoryUsage().heapUsed;

  // One pod label change at this scale: out of the policies' selectors and, the next time, back in.
  const samples: number[] = [];
  let emitted = 0;
  for (let i = 0; i < 100; i++) {
    const index = Math.floor(random() * podList.length);
    const pod = podList[index] as PodInfo;
    const changed: PodInfo = { ...pod, labels: scale.changedLabels(pod.labels) };
    const t0 = process.hrtime.bigint();
    const changes = controller.applyPod(changed);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    emitted += changeSize(changes);
    podList[index] = changed;
  }
  samples.sort((x, y) => x - y);

  // The rare expensive case: the change that takes the last selected pod off a node shrinks the span of every
  // policy applied there, and each of those policies is re-emitted.
  const node = podList.find((candidate) => candidate.labels['app-1'] === 'scale-1')?.nodeName;
  let nodeEmptying = { ms: NaN, objectsEmitted: 0 };
  if (node !== undefined) {
    podList.forEach((candidate, index) => {
      if (candidate.nodeName !== node || candidate.labels['app-1'] !== 'scale-1') return;
      const changed: PodInfo = { ...candidate, labels: { 'app-1': 'scale-moved' } };
      const t0 = process.hrtime.bigint();
      const changes = controller.applyPod(changed);
      nodeEmptying = { ms: Number(process.hrtime.bigint() - t0) / 1e6, objectsEmitted: changeSize(changes) };
      podList[index] = changed;
    });
  }
  const snapshot = controller.snapshot();
  const totalSeconds = Number(end - start) / 1e9;
  const heapUsedMB = heapAfter / 2 ** 20;
  const labelChange = {
    n: samples.length,
    p50: round(percentile(samples, 0.5), 3),
    p99: round(percentile(samples, 0.99), 3),
    max: round(samples[samples.length - 1] ?? NaN, 3),
    objectsEmittedPerChange: round(emitted / samples.length),
  };
  const result: ControllerBenchResult = {
    scale: scale.name,
    description: scale.description,
    namespaces: scale.namespaces,
    pods,
    policies,
    initialComputation: {
      totalSeconds: round(totalSeconds, 3),
      namespacesAndPodsSeconds: round(Number(podsDone - start) / 1e9, 3),
      policiesSeconds: round(Number(end - podsDone) / 1e9, 3),
    },
    heapUsedMB: round(heapUsedMB, 1),
    heapUsedBeforeMB: round(heapBefore / 2 ** 20, 1),
    objects: {
      networkPolicies: snapshot.networkPolicies.size,
      addressGroups: snapshot.addressGroups.size,
      appliedToGroups: snapshot.appliedToGroups.size,
    },
    podLabelChangeMs: labelChange,
    lastPodOfANodeLeavesMs: { ms: round(nodeEmptying.ms, 3), objectsEmitted: nodeEmptying.objectsEmitted },
    antreaMeasured: scale.antrea,
  };
  if (scale.goal) {
    result.goal = scale.goal;
    result.meetsGoal =
      totalSeconds < scale.goal.seconds &&
      heapUsedMB < scale.goal.megabytes &&
      labelChange.p99 < scale.goal.labelChangeMs;
  }
  return result;
}

/** Runs the requested scales (default both) and prints one JSON document. */
export function benchController(args: readonly string[], progress: (message: string) => void): void {
  const scaleFlag = args.indexOf('--scale');
  const scales = scaleFlag >= 0 ? (args[scaleFlag + 1] ?? '').split(',') : ['a', 'b'];
  const results = scales.map((scale) => benchControllerScale(scale, progress));
  process.stdout.write(
    `${JSON.stringify({ benchmark: 'policy-controller', node: process.version, results }, null, 2)}\n`,
  );
}
