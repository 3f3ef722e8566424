// Cluster mode's source and writes against the FakeApiServer (real @kubernetes/client-node), a real PolicyService
// and an in-memory SQLite store: API pods joined with CNI pods, invalid objects skipped, dependency order, the
// offline start from the stored copy and its replacement by the API's truth, writes that become API objects.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { FakeApiServer } from '../support/fake-apiserver';
import { openStore, type StoreDatabase } from '../../firmware/store/database';
import { K8sObjectRepository } from '../../firmware/store/k8s-object-repository';
import type { PodRecord } from '../../firmware/store/pod-repository';
import { PolicyService } from '../../firmware/agent/policy-service';
import { ClusterPolicySource } from '../../firmware/k8s/cluster-source';
import { ClusterWrites } from '../../firmware/k8s/cluster-writes';
import { clusterModeStores } from '../../firmware/k8s/cluster-mode';
import { KubeRestClient } from '../../firmware/k8s/kube-rest';
import { ApiError } from '../../firmware/core/antctl/api-error';
import type { LogFields, Logger } from '../../firmware/core/logger';

const NODE = 'edge-1';

class RecordingLogger implements Logger {
  readonly lines: { level: string; msg: string; fields: LogFields }[] = [];
  debug(): void {}
  info(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'info', msg, fields });
  }
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'warn', msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'error', msg, fields });
  }
  child(): Logger {
    return this;
  }
}

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  // A guard, not a performance threshold: it only ends the polling before mocha's timeout would.
  const deadline = Date.now() + 15_000;
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(predicate(), `never happened: ${what}`);
}

function apiPod(name: string, labels: Record<string, string>, node = NODE, podIP?: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'ns1', name, labels },
    spec: {
      nodeName: node,
      containers: [{ name: 'c', image: 'busybox', ports: [{ name: 'http', containerPort: 80 }] }],
    },
    ...(podIP ? { status: { podIP } } : {}),
  };
}

function localPod(name: string, ip: string): PodRecord {
  return {
    containerId: `c-${name}`,
    namespace: 'ns1',
    name,
    ifName: 'eth0',
    netns: `/var/run/netns/${name}`,
    hostIfName: `${name}-h`,
    ip,
    mac: '02:00:00:00:00:01',
    labels: { fromCni: 'ignored-when-the-api-has-the-pod' },
    containerPorts: [],
    createdAt: '2024-01-01T00:00:00Z',
  };
}

/** K8s NetworkPolicy: web pods accept TCP 80 only from app=client pods. */
const WEB_POLICY = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: 'ns1', name: 'web-allow-client' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [
      { from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ protocol: 'TCP', port: 80 }] },
    ],
  },
};

function acnp(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'crd.antrea.io/v1beta1', kind: 'ClusterNetworkPolicy', metadata: { name }, spec };
}

const DROP_ALL_TO_WEB = {
  priority: 5,
  appliedTo: [{ podSelector: { matchLabels: { app: 'web' } } }],
  ingress: [{ action: 'Drop', from: [{ podSelector: {} }] }],
};

interface Node {
  policies: PolicyService;
  source: ClusterPolicySource;
  writes: ClusterWrites;
  logger: RecordingLogger;
}

describe('k8s ClusterPolicySource and ClusterWrites', function () {
  let server: FakeApiServer;
  let db: StoreDatabase;
  const started: ClusterPolicySource[] = [];
  let local: PodRecord[];

  beforeEach(async () => {
    server = new FakeApiServer();
    await server.start();
    db = openStore(':memory:');
    local = [localPod('web', '10.10.0.2'), localPod('client', '10.10.0.3')];
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns1', labels: { team: 'a' } } });
    server.seed(apiPod('web', { app: 'web' }));
    server.seed(apiPod('client', { app: 'client' }));
    server.seed(apiPod('remote', { app: 'client' }, 'edge-2', '10.20.0.9'));
  });

  afterEach(async () => {
    for (const source of started.splice(0)) await source.stop();
    await server.stop();
    db.close();
  });

  function node(options: { watch?: boolean } = {}): Node {
    const logger = new RecordingLogger();
    const policies = new PolicyService({ nodeName: NODE, ...clusterModeStores(), logger });
    policies.start();
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromString(server.kubeconfig());
    const rest = new KubeRestClient(kubeConfig);
    const source = new ClusterPolicySource({
      nodeName: NODE,
      policies,
      store: new K8sObjectRepository(db),
      localPods: { list: () => local },
      kubeConfig,
      rest,
      logger,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    source.loadFromStore();
    if (options.watch !== false) {
      source.start();
      started.push(source);
    }
    const writes = new ClusterWrites({ rest, policies, source, logger, echoTimeoutMs: 5000 });
    return { policies, source, writes, logger };
  }

  function verdict(policies: PolicyService, from: string, to: string): string {
    return policies.evaluate({ source: `ns1/${from}`, destination: `ns1/${to}`, protocol: 'TCP', port: 80 })
      .verdict;
  }

  function storedNames(resource: string): string[] {
    return new K8sObjectRepository(db).list(resource).map((row) => row.name);
  }

  it('joins API pods with CNI pods and enforces API policies; a label change in the API changes the verdict', async () => {
    server.seed(WEB_POLICY);
    const { policies, source } = node();
    await source.synced();
    const pods = policies.view().pods();
    assert.deepEqual(pods.get('ns1/web'), {
      namespace: 'ns1',
      name: 'web',
      labels: { app: 'web' },
      ip: '10.10.0.2',
      nodeName: NODE,
      containerPorts: [{ name: 'http', containerPort: 80 }],
    });
    assert.equal(pods.get('ns1/remote')?.ip, '10.20.0.9');
    assert.equal(pods.get('ns1/remote')?.nodeName, 'edge-2');
    assert.deepEqual(policies.namespaceLabels('ns1').labels, {
      team: 'a',
      'kubernetes.io/metadata.name': 'ns1',
    });
    assert.equal(verdict(policies, 'client', 'web'), 'Allow');
    const members = policies.addressGroups().flatMap((group) => group.members.map((member) => member.ip));
    assert.deepEqual(members.sort(), ['10.10.0.3', '10.20.0.9'], 'remote pods are address group members');
    server.seed(apiPod('client', { app: 'other' }));
    await waitFor(
      'client relabelled',
      () => policies.view().pods().get('ns1/client')?.labels['app'] === 'other',
    );
    assert.equal(verdict(policies, 'client', 'web'), 'Drop');
    assert.deepEqual(storedNames('networkpolicies').length, 0, 'resource names are ours, not plurals');
    assert.deepEqual(storedNames('k8snetworkpolicies'), ['ns1/web-allow-client']);
  });

  it('skips invalid API objects with their field paths and applies objects whose Tier arrives later', async () => {
    server.seed(
      acnp('bad-action', { priority: 1, appliedTo: [{ podSelector: {} }], ingress: [{ action: 'Allowed' }] }),
    );
    server.seed(acnp('late-tier', { ...DROP_ALL_TO_WEB, tier: 'edge-tier' }));
    server.seed(acnp('good', DROP_ALL_TO_WEB));
    const { policies, source, logger } = node();
    await source.synced();
    const names = (): string[] =>
      policies
        .networkPolicies({})
        .map((policy) => policy.sourceRef.name)
        .sort();
    assert.deepEqual(names(), ['good']);
    const skipped = logger.lines.filter((line) => line.msg === 'API object fails validation; skipped');
    const reasons = new Map(
      skipped.map((line) => [String(line.fields['key']), String(line.fields['reason'])]),
    );
    assert.match(reasons.get('ClusterNetworkPolicy//bad-action') ?? '', /spec\.ingress\[0\]\.action/);
    assert.match(reasons.get('ClusterNetworkPolicy//late-tier') ?? '', /spec\.tier/);
    server.seed({
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'Tier',
      metadata: { name: 'edge-tier' },
      spec: { priority: 20 },
    });
    await waitFor('late-tier applied', () => names().includes('late-tier'));
    assert.deepEqual(names(), ['good', 'late-tier']);
    // An invalid edit keeps the last valid version enforced.
    server.seed(acnp('good', { ...DROP_ALL_TO_WEB, priority: -3 }));
    await waitFor('invalid edit seen', () =>
      logger.lines.some(
        (line) => line.msg === 'API object fails validation; its previous version stays enforced',
      ),
    );
    assert.equal(verdict(policies, 'client', 'web'), 'Drop');
  });

  it('enforces the stored objects while the API server is down, then takes the API truth, deletions included', async () => {
    server.seed(acnp('block-web', DROP_ALL_TO_WEB));
    const first = node();
    await first.source.synced();
    assert.equal(verdict(first.policies, 'client', 'web'), 'Drop');
    await first.source.stop();
    await server.stop();

    // "Reboot" with the API server unreachable: the stored copy is enforced, fail closed.
    const offline = node();
    assert.equal(verdict(offline.policies, 'client', 'web'), 'Drop');
    assert.equal(offline.policies.view().pods().get('ns1/web')?.labels['app'], 'web');
    assert.deepEqual(offline.source.unsyncedResources().length > 0, true);

    // Meanwhile the policy was replaced by one that only blocks port 80 from app=client in another way.
    server.remove('ClusterNetworkPolicy', undefined, 'block-web');
    server.seed(WEB_POLICY);
    server.remove('Pod', 'ns1', 'remote');
    await server.start();
    await offline.source.synced();
    await waitFor('store replaced', () => storedNames('clusternetworkpolicies').length === 0);
    assert.deepEqual(
      offline.policies.networkPolicies({}).map((policy) => policy.sourceRef.name),
      ['web-allow-client'],
    );
    assert.equal(verdict(offline.policies, 'client', 'web'), 'Allow');
    assert.equal(offline.policies.view().pods().has('ns1/remote'), false);
    assert.deepEqual(storedNames('pods'), ['ns1/client', 'ns1/web']);
    assert.deepEqual(storedNames('k8snetworkpolicies'), ['ns1/web-allow-client']);
  });

  it('writes applies, deletes and pod labels to the API server and sees them come back', async () => {
    const { policies, source, writes } = node();
    await source.synced();
    const created = await writes.applyObjects([acnp('from-antctl', DROP_ALL_TO_WEB)]);
    assert.deepEqual(
      created.map((result) => result.result),
      ['created'],
    );
    assert.equal(server.get('ClusterNetworkPolicy', undefined, 'from-antctl')?.metadata?.generation, 1);
    assert.equal(
      verdict(policies, 'client', 'web'),
      'Drop',
      'the watch brought it back before apply returned',
    );

    const unchanged = await writes.applyObjects([acnp('from-antctl', DROP_ALL_TO_WEB)]);
    assert.deepEqual(
      unchanged.map((result) => result.result),
      ['unchanged'],
    );
    const configured = await writes.applyObjects([acnp('from-antctl', { ...DROP_ALL_TO_WEB, priority: 7 })]);
    assert.deepEqual(
      configured.map((result) => result.result),
      ['configured'],
    );
    assert.equal(server.get('ClusterNetworkPolicy', undefined, 'from-antctl')?.metadata?.generation, 2);

    // A stale resourceVersion from the caller is a Conflict, not a silent overwrite.
    const stale = {
      ...acnp('from-antctl', { ...DROP_ALL_TO_WEB, priority: 9 }),
      metadata: { name: 'from-antctl', resourceVersion: '1' },
    };
    await assert.rejects(writes.applyObjects([stale]), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'Conflict');
      assert.match(error.message, /has been modified/);
      return true;
    });

    // Invalid: nothing is written, every problem is named.
    await assert.rejects(
      writes.applyObjects([
        acnp('fine', DROP_ALL_TO_WEB),
        acnp('broken', { priority: 1, appliedTo: [{ podSelector: {} }], ingress: [{ action: 'Nope' }] }),
      ]),
      (error) => {
        assert.ok(error instanceof ApiError);
        assert.equal(error.code, 'BadRequest');
        assert.equal(error.details?.invalidObjects?.[0]?.name, 'broken');
        return true;
      },
    );
    assert.equal(server.get('ClusterNetworkPolicy', undefined, 'fine'), undefined);

    await writes.setPodLabels('ns1', 'client', { app: 'other' });
    assert.deepEqual(server.get('Pod', 'ns1', 'client')?.metadata?.labels, { app: 'other' });
    assert.equal(policies.view().pods().get('ns1/client')?.labels['app'], 'other');

    await writes.deleteObject('ClusterNetworkPolicy//from-antctl');
    assert.equal(server.get('ClusterNetworkPolicy', undefined, 'from-antctl'), undefined);
    assert.deepEqual(policies.networkPolicies({}), []);
    await assert.rejects(writes.deleteObject('ClusterNetworkPolicy//from-antctl'), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'NotFound');
      return true;
    });

    await server.stop();
    await assert.rejects(writes.applyObjects([acnp('while-down', DROP_ALL_TO_WEB)]), (error) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, 'Unavailable');
      assert.match(error.message, /unreachable.*ECONNREFUSED/);
      return true;
    });
  });

  it('refuses writes through the policy service itself in cluster mode', () => {
    const { policies } = node({ watch: false });
    assert.throws(() => policies.apply([acnp('direct', DROP_ALL_TO_WEB)]), /written to the Kubernetes API/);
    assert.deepEqual(policies.networkPolicies({}), []);
  });
});
