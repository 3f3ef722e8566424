// ResourceWatch against the FakeApiServer with the real @kubernetes/client-node: projection before caching,
// restart with backoff after the server went away, relist after 410, resume after a rolling restart.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { FakeApiServer } from '../support/fake-apiserver';
import { KubeRestClient } from '../../firmware/k8s/kube-rest';
import { ResourceWatch, type ResourceWatchHandler } from '../../firmware/k8s/resource-watch';
import { resourceByName, type ProjectedObject } from '../../firmware/k8s/resources';
import { silentLogger } from '../../firmware/core/logger';

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  // A guard, not a performance threshold: it only ends the polling before mocha's timeout would.
  const deadline = Date.now() + 15_000;
  while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(predicate(), `never happened: ${what}`);
}

function fullPod(name: string, labels: Record<string, string>, node = 'edge-1'): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: 'ns1',
      name,
      labels,
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(2000) },
      managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { f: { big: 'y'.repeat(2000) } } }],
      ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', uid: 'u' }],
    },
    spec: {
      nodeName: node,
      serviceAccountName: 'default',
      volumes: [{ name: 'token', projected: { sources: [] } }],
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          env: [{ name: 'SECRET', value: 'z'.repeat(500) }],
          ports: [{ name: 'http', containerPort: 80, protocol: 'TCP', hostPort: 8080 }],
        },
        { name: 'sidecar', image: 'busybox' },
      ],
    },
    status: {
      phase: 'Running',
      podIP: '10.10.0.5',
      conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'web', ready: true, image: 'nginx:1.27' }],
    },
  };
}

class Recorder implements ResourceWatchHandler {
  readonly events: string[] = [];
  listings = 0;
  upserted(object: ProjectedObject): void {
    this.events.push(`upsert ${object.metadata.name} ${JSON.stringify(object.metadata.labels ?? {})}`);
  }
  deleted(object: ProjectedObject): void {
    this.events.push(`delete ${object.metadata.name}`);
  }
  listed(): void {
    this.listings++;
  }
  has(event: string): boolean {
    return this.events.includes(event);
  }
}

describe('k8s ResourceWatch', function () {
  let server: FakeApiServer;
  let watch: ResourceWatch | undefined;

  beforeEach(async () => {
    server = new FakeApiServer({ historySize: 50 });
    await server.start();
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns1' } });
  });

  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await server.stop();
  });

  function startWatch(
    handler: ResourceWatchHandler,
    resource = resourceByName('pods'),
    fieldSelector?: string,
  ): ResourceWatch {
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromString(server.kubeconfig());
    watch = new ResourceWatch({
      kubeConfig,
      rest: new KubeRestClient(kubeConfig),
      resource,
      handler,
      logger: silentLogger,
      backoff: { initialMs: 20, maxMs: 200 },
      pageSize: 2,
      ...(fieldSelector === undefined ? {} : { fieldSelector }),
    });
    watch.start();
    return watch;
  }

  it('caches only the projected fields of pods, from the list and from the watch', async () => {
    server.seed(fullPod('listed', { app: 'web' }));
    for (const name of ['a', 'b']) server.seed(fullPod(name, {}));
    const recorder = new Recorder();
    const pods = startWatch(recorder);
    await pods.synced;
    server.seed(fullPod('watched', { app: 'db' }));
    await waitFor('watched pod', () => recorder.has('upsert watched {"app":"db"}'));
    for (const name of ['listed', 'watched']) {
      const cached = pods.list().find((pod) => pod.metadata.name === name);
      assert.ok(cached, name);
      const { uid, resourceVersion, ...metadata } = cached.metadata;
      assert.ok(uid && resourceVersion);
      assert.deepEqual(
        { ...cached, metadata },
        {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name,
            namespace: 'ns1',
            generation: 1,
            labels: { app: name === 'listed' ? 'web' : 'db' },
          },
          spec: {
            nodeName: 'edge-1',
            containers: [{ ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }],
          },
          status: { podIP: '10.10.0.5', phase: 'Running' },
        },
      );
      assert.ok(JSON.stringify(cached).length < 400, 'a projected pod stays small');
    }
    assert.equal(pods.stats().objects, 4);
    assert.equal(recorder.listings, 1, 'a paged list is one listing');
  });

  it('resumes after a rolling restart of the server without relisting', async () => {
    server.seed(fullPod('p1', {}));
    const recorder = new Recorder();
    const pods = startWatch(recorder);
    await pods.synced;
    await server.restart({
      whileDown: () => {
        server.seed(fullPod('p2', {}));
        server.remove('Pod', 'ns1', 'p1');
      },
    });
    await waitFor('changes made while down', () => recorder.has('delete p1') && recorder.has('upsert p2 {}'));
    assert.equal(pods.stats().lists, 1);
    assert.equal(recorder.listings, 1);
  });

  it('relists after 410 Expired, deleting what disappeared meanwhile', async () => {
    server.seed(fullPod('keep', {}));
    server.seed(fullPod('gone', {}));
    const recorder = new Recorder();
    const pods = startWatch(recorder);
    await pods.synced;
    await server.restart({
      forgetHistory: true,
      whileDown: () => {
        server.remove('Pod', 'ns1', 'gone');
        server.seed(fullPod('keep', { changed: 'yes' }));
        server.compactHistory();
      },
    });
    await waitFor('relisted', () => recorder.listings === 2);
    assert.ok(recorder.has('delete gone'));
    assert.ok(recorder.has('upsert keep {"changed":"yes"}'));
    assert.deepEqual(
      pods.list().map((pod) => pod.metadata.name),
      ['keep'],
    );
    assert.equal(pods.stats().lists, 2);
  });

  it('restarts an informer that stopped while the server was down, and catches up', async () => {
    server.seed(fullPod('before', {}));
    const recorder = new Recorder();
    const pods = startWatch(recorder);
    await pods.synced;
    await server.stop();
    // The ListWatch reconnects once, is refused and stops: only our restart brings it back.
    await waitFor('a restart attempt', () => pods.stats().restarts >= 2);
    server.seed(fullPod('offline', { made: 'down' }));
    server.remove('Pod', 'ns1', 'before');
    await server.start();
    await waitFor(
      'caught up',
      () => recorder.has('upsert offline {"made":"down"}') && recorder.has('delete before'),
    );
    server.seed(fullPod('online', {}));
    await waitFor('live again', () => recorder.has('upsert online {}'));
    assert.deepEqual(
      pods
        .list()
        .map((pod) => pod.metadata.name)
        .sort(),
      ['offline', 'online'],
    );
  });

  it('keeps retrying a list that fails until the server has the resource', async () => {
    const recorder = new Recorder();
    await server.stop();
    const tiers = startWatch(recorder, resourceByName('tiers'));
    await waitFor('failed attempts', () => tiers.stats().restarts >= 2);
    assert.equal(tiers.isSynced, false);
    server.seed({
      apiVersion: 'crd.antrea.io/v1beta1',
      kind: 'Tier',
      metadata: { name: 't1' },
      spec: { priority: 10 },
    });
    await server.start();
    await tiers.synced;
    assert.deepEqual(recorder.events, ['upsert t1 {}']);
  });

  it('lists and watches only what a field selector selects', async () => {
    server.seed(fullPod('here', {}, 'edge-1'));
    server.seed(fullPod('there', {}, 'edge-2'));
    const recorder = new Recorder();
    const pods = startWatch(recorder, resourceByName('pods'), 'spec.nodeName=edge-1');
    await pods.synced;
    server.seed(fullPod('there-too', {}, 'edge-2'));
    server.seed(fullPod('here-too', {}, 'edge-1'));
    await waitFor('here-too', () => recorder.has('upsert here-too {}'));
    assert.deepEqual(recorder.events, ['upsert here {}', 'upsert here-too {}']);
    assert.ok(server.requestLog.some((r) => r.watch && r.url.includes('fieldSelector=spec.nodeName')));
  });
});
