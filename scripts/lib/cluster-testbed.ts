// Several cluster-mode nodes on this machine with one Kubernetes API: an in-process FakeApiServer is the source
// of truth, a MultiNodeCluster gives each node its own network namespace, OVS and firmware (Geneve underlay), and
// every firmware runs `--mode cluster --kubeconfig` against the server through a NetnsApiBridge in its namespace.
// Peers come from the Node objects seeded here (podCIDR, InternalIP), never from --peer-node. Pods are attached
// through the CNI on their node (as a kubelet would) and their Pod objects carry the node, labels and address.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerPort } from '../../firmware/core/api/types';
import { LocalApiClient } from '../../firmware/http/local-api';
import { deleteNetns, ensureNetns, type DevNodeOptions } from './dev-node';
import { FakeApiServer, type KubeObject } from './fake-apiserver';
import { NetnsApiBridge } from './k8s-netns-bridge';
import { MultiNodeCluster, type ClusterNode, type MultiNodeClusterOptions } from './multi-node';
import type { SimPod } from './sim-pods';

export type { ClusterNode };

export interface ClusterTestbedOptions {
  nodes: number;
  /** Part of every name (netns, node names), at most 4 characters; all names start with `aecc`. */
  tag?: string;
  /** State directory; a fresh temp directory by default (removed by stop() unless keepState). */
  home?: string;
  keepState?: boolean;
  /** The embedded Node-RED editor (the firmware's default is on). Default false: it only adds load. */
  nodeRed?: boolean;
  /** Run dist/ (compiled) instead of the TypeScript sources through tsx. */
  compiled?: boolean;
  logLevel?: string;
  extraArgs?: readonly string[];
  progress?: (line: string) => void;
}

export interface TestbedPodSpec {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  ports?: ContainerPort[];
  /** A wished address; honoured when it lies in the node's Pod subnet. */
  ip?: string;
}

export interface TestbedPod {
  /** "namespace/name". */
  ref: string;
  namespace: string;
  name: string;
  node: ClusterNode;
  ip: string;
  netnsName: string;
  sim: SimPod;
}

/** Node objects' addresses and subnets: node i is 192.168.78.1i with Pods in 10.78.i.0/24. */
const UNDERLAY_PREFIX = '192.168.78.';
const POD_CIDR_PREFIX = '10.78.';
const READY_TIMEOUT_MS = 120_000;

/** MultiNodeCluster whose firmware runs in cluster mode: peers come from the API's Node objects. */
class ClusterModeNodes extends MultiNodeCluster {
  constructor(
    options: MultiNodeClusterOptions,
    private readonly clusterArgs: (node: ClusterNode) => string[],
    private readonly compiled: boolean,
  ) {
    super(options);
  }

  override firmwareArgs(node: ClusterNode): string[] {
    if (this.compiled) {
      // MultiNodeCluster has no `compiled` option (yet); DevNode reads it when the firmware starts, which is
      // right after this call.
      (node.dev as unknown as { options: DevNodeOptions }).options.compiled = true;
    }
    return this.clusterArgs(node);
  }
}

export class ClusterTestbed {
  readonly server = new FakeApiServer();
  readonly id = crypto.randomBytes(3).toString('hex');
  readonly home: string;
  private cluster: ClusterModeNodes | undefined;
  private readonly bridges: NetnsApiBridge[] = [];
  private readonly clients = new Map<number, LocalApiClient>();
  private readonly pods = new Map<string, TestbedPod>();
  private readonly prefix: string;
  private readonly nodeNamePrefix: string;
  private stopped = false;

  constructor(private readonly options: ClusterTestbedOptions) {
    if (options.nodes < 1 || options.nodes > 9) throw new Error('a cluster testbed has 1 to 9 nodes');
    this.home = options.home ?? fs.mkdtempSync(path.join(os.tmpdir(), 'aecc-'));
    const tag = (options.tag ?? '').slice(0, 4);
    this.prefix = `aecc${tag}${this.id}`;
    this.nodeNamePrefix = `aecc-${tag}${this.id}-node`;
  }

  get kubeconfigPath(): string {
    return path.join(this.home, 'kubeconfig.json');
  }

  get nodes(): ClusterNode[] {
    return this.cluster?.nodes ?? [];
  }

  node(index: number): ClusterNode {
    const found = this.nodes[index - 1];
    if (found === undefined) throw new Error(`no node ${index}`);
    return found;
  }

  /** The namespaces' names this testbed creates (for clean-up checks). */
  get netnsPrefix(): string {
    return this.prefix;
  }

  /** The API server, the Node objects, a bridge into every node namespace, then every node's OVS and firmware. */
  async start(): Promise<void> {
    const { options } = this;
    const progress = options.progress ?? (() => undefined);
    fs.mkdirSync(this.home, { recursive: true });
    await this.server.start();
    fs.writeFileSync(this.kubeconfigPath, this.server.kubeconfig());
    const cluster = new ClusterModeNodes(
      {
        home: this.home,
        prefix: this.prefix,
        nodes: options.nodes,
        underlayPrefix: UNDERLAY_PREFIX,
        podCidrPrefix: POD_CIDR_PREFIX,
        nodeNamePrefix: this.nodeNamePrefix,
        logLevel: options.logLevel ?? 'info',
      },
      () => [
        '--mode',
        'cluster',
        '--kubeconfig',
        this.kubeconfigPath,
        ...(options.nodeRed === true ? [] : ['--node-red', 'false']),
        ...(options.extraArgs ?? []),
      ],
      options.compiled === true,
    );
    this.cluster = cluster;
    for (let index = 1; index <= options.nodes; index++) {
      this.server.seed(nodeObject(`${this.nodeNamePrefix}${index}`, index));
      // The bridge listens inside the node namespace before the firmware starts there, so its first list works.
      const netns = `${this.prefix}-n${index}`;
      ensureNetns(netns);
      const dir = path.join(this.home, `node${index}`);
      fs.mkdirSync(dir, { recursive: true });
      const bridge = new NetnsApiBridge({ netns, server: this.server, dir });
      this.bridges.push(bridge);
      await bridge.start();
    }
    progress(
      `starting ${options.nodes} cluster-mode nodes (netns ${this.prefix}-n*, API ${this.server.url}, ` +
        `state in ${this.home})`,
    );
    await cluster.start();
    for (const node of cluster.nodes) {
      const expected = nodeObject(node.name, node.index);
      if (node.podCidr !== expected.spec.podCIDR || node.nodeIp !== expected.status.addresses[0]?.address) {
        throw new Error(`node ${node.name}: its Node object does not match ${node.podCidr} ${node.nodeIp}`);
      }
    }
    await this.waitAllNodes('every node to list its Kubernetes resources', READY_TIMEOUT_MS, (node) =>
      this.synced(node),
    );
  }

  /** Pods, firmware, OVS, bridges, namespaces and the API server; safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.cluster?.stop().catch(() => undefined);
    for (const bridge of this.bridges) await bridge.stop().catch(() => undefined);
    for (let index = 1; index <= this.options.nodes; index++) deleteNetns(`${this.prefix}-n${index}`);
    await this.server.stop();
    if (!this.options.keepState) fs.rmSync(this.home, { recursive: true, force: true });
  }

  /** The local API (antctl's) of node `index`. */
  api(index: number): LocalApiClient {
    let client = this.clients.get(index);
    if (client === undefined) {
      client = new LocalApiClient({ socketPath: this.node(index).dev.antctlSocket, timeoutMs: 60_000 });
      this.clients.set(index, client);
    }
    return client;
  }

  /** The firmware process of node `index` (`ip netns exec` execs node in place: the child is the firmware). */
  firmwarePid(index: number): number {
    const pid = Number(fs.readFileSync(path.join(this.node(index).home, 'firmware.pid'), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`node ${index}: no firmware pid`);
    return pid;
  }

  /** Creates or replaces the Namespace with exactly these labels (plus kubernetes.io/metadata.name). */
  setNamespaceLabels(name: string, labels: Record<string, string>): void {
    this.server.seed({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } },
    });
  }

  /**
   * A pod on node `index`, as a kubelet makes one: the Pod object (scheduled there) first, then the CNI ADD on
   * that node, then the Pod's status with the address the CNI gave it.
   */
  async addPod(index: number, spec: TestbedPodSpec): Promise<TestbedPod> {
    const node = this.node(index);
    const ref = `${spec.namespace}/${spec.name}`;
    if (this.server.get('Namespace', undefined, spec.namespace) === undefined) {
      this.setNamespaceLabels(spec.namespace, {});
    }
    this.server.seed(podObject(spec, node.name, undefined));
    const sim = await node.pods.add({
      namespace: spec.namespace,
      name: spec.name,
      ...(spec.ports === undefined ? {} : { ports: spec.ports }),
      ...(spec.ip === undefined ? {} : { ip: spec.ip }),
    });
    this.server.seed(podObject(spec, node.name, sim.ip));
    const pod: TestbedPod = {
      ref,
      namespace: spec.namespace,
      name: spec.name,
      node,
      ip: sim.ip,
      netnsName: sim.netnsName,
      sim,
    };
    this.pods.set(ref, pod);
    return pod;
  }

  /** CNI DEL on the pod's node, then the Pod object goes. */
  async deletePod(ref: string): Promise<void> {
    const pod = this.pods.get(ref);
    if (pod === undefined) throw new Error(`no pod ${ref}`);
    await pod.node.pods.del(ref);
    this.server.remove('Pod', pod.namespace, pod.name);
    this.pods.delete(ref);
  }

  /** Every pod (CNI DEL and Pod object), e.g. before another model's pods. */
  async deleteAllPods(): Promise<void> {
    for (const ref of [...this.pods.keys()]) await this.deletePod(ref);
  }

  /** Replaces the Pod's labels (the full set) in the API. */
  setPodLabels(ref: string, labels: Record<string, string>): void {
    const [namespace, name] = splitRef(ref);
    const current = this.server.get('Pod', namespace, name);
    if (current === undefined) throw new Error(`no Pod ${ref} in the API`);
    this.server.seed({ ...current, metadata: { ...current.metadata, labels: { ...labels } } });
  }

  /** Creates or replaces API objects, in the order given. */
  apply(objects: readonly object[]): KubeObject[] {
    return objects.map((object) => this.server.seed(object));
  }

  /** Deletes an API object; false when it did not exist. */
  remove(object: {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string };
  }): boolean {
    const kind = object.kind ?? '';
    const name = object.metadata?.name ?? '';
    if (this.server.get(kind, object.metadata?.namespace, name, object.apiVersion) === undefined)
      return false;
    this.server.remove(kind, object.metadata?.namespace, name, object.apiVersion);
    return true;
  }

  pod(ref: string): TestbedPod | undefined {
    return this.pods.get(ref);
  }

  /** Waits until `check` holds on every node (polled; a node's errors count as "not yet"). */
  async waitAllNodes(
    what: string,
    timeoutMs: number,
    check: (node: ClusterNode) => Promise<boolean | string>,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Map<ClusterNode, string>(this.nodes.map((node) => [node, 'not checked']));
    for (;;) {
      await Promise.all(
        [...pending.keys()].map(async (node) => {
          let verdict: boolean | string;
          try {
            verdict = await check(node);
          } catch (error) {
            verdict = error instanceof Error ? error.message : String(error);
          }
          if (verdict === true) pending.delete(node);
          else pending.set(node, verdict === false ? 'not yet' : verdict);
        }),
      );
      if (pending.size === 0) return;
      if (Date.now() > deadline) {
        const detail = [...pending].map(([node, why]) => `${node.name}: ${why}`).join('; ');
        throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}: ${detail}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A node follows the API once a namespace created after its start shows up in its local API. */
  private async synced(node: ClusterNode): Promise<boolean | string> {
    const probe = `aecc-sync-${this.id}`;
    if (this.server.get('Namespace', undefined, probe) === undefined) {
      this.setNamespaceLabels(probe, { synced: 'yes' });
    }
    const seen = await this.api(node.index).namespaceLabels(probe);
    return seen.labels['synced'] === 'yes' || 'the probe namespace has not arrived';
  }
}

function nodeObject(
  name: string,
  index: number,
): {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { podCIDR: string };
  status: { addresses: { type: string; address: string }[] };
} {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: { podCIDR: `${POD_CIDR_PREFIX}${index}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: `${UNDERLAY_PREFIX}${10 + index}` }] },
  };
}

function podObject(spec: TestbedPodSpec, nodeName: string, ip: string | undefined): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: spec.namespace, name: spec.name, labels: { ...(spec.labels ?? {}) } },
    spec: {
      nodeName,
      containers: [
        {
          name: 'c',
          image: 'busybox',
          ports: (spec.ports ?? []).map((port) => ({
            ...(port.name === undefined ? {} : { name: port.name }),
            containerPort: port.containerPort,
            protocol: port.protocol ?? 'TCP',
          })),
        },
      ],
    },
    status: ip === undefined ? { phase: 'Pending' } : { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
}

function splitRef(ref: string): [string, string] {
  const slash = ref.indexOf('/');
  return [ref.slice(0, slash), ref.slice(slash + 1)];
}
