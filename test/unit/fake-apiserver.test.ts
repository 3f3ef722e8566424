// Test of test support: the fake API server driven by the real @kubernetes/client-node 1.4.0.
// The client is ESM-only, but with our tsconfig (module commonjs, moduleResolution node10) its "types"
// resolve and tsx/Node 20.19+ load it through require(), so a plain namespace import works.
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { FakeApiServer, type KubeObject } from '../support/fake-apiserver';

const CRD = { group: 'crd.antrea.io', version: 'v1beta1' };

async function waitFor(what: string, predicate: () => boolean): Promise<void> {
  // A guard, not a performance threshold: it only ends the polling loop before mocha's 20 s timeout would.
  const deadline = Date.now() + 15_000;
  while (!predicate() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(predicate(), `never happened: ${what}`);
}

function pod(
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
  nodeName = 'node-a',
): k8s.V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name, labels },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] },
  };
}

function acnp(name: string, priority: number): KubeObject {
  return {
    apiVersion: 'crd.antrea.io/v1beta1',
    kind: 'ClusterNetworkPolicy',
    metadata: { name },
    spec: { priority, appliedTo: [{ podSelector: {} }], ingress: [] },
  };
}

function names(objects: readonly { metadata?: { namespace?: string; name?: string } }[]): string[] {
  return objects.map((o) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`).sort();
}

function errorBody(err: unknown): { code?: number; reason?: string; kind?: string } {
  assert.ok(err instanceof k8s.ApiException, `expected ApiException, got ${String(err)}`);
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  return body as { code?: number; reason?: string; kind?: string };
}

class Recorder {
  readonly events: string[] = [];
  readonly errors: unknown[] = [];
  constructor(informer: k8s.Informer<k8s.KubernetesObject>) {
    for (const verb of [k8s.ADD, k8s.UPDATE, k8s.DELETE] as const) {
      informer.on(verb, (obj) => this.events.push(`${verb} ${obj.metadata?.name ?? ''}`));
    }
    informer.on(k8s.ERROR, (err) => this.errors.push(err));
  }
  has(event: string): boolean {
    return this.events.includes(event);
  }
}

describe('FakeApiServer with the real @kubernetes/client-node', function () {
  let server: FakeApiServer;
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let custom: k8s.CustomObjectsApi;
  const informers: { stop(): Promise<void> }[] = [];

  beforeEach(async () => {
    server = new FakeApiServer({ historySize: 50, bookmarkIntervalMs: 20 });
    await server.start();
    kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfig());
    core = kc.makeApiClient(k8s.CoreV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns1' } });
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns2' } });
  });

  afterEach(async () => {
    for (const informer of informers.splice(0)) await informer.stop();
    await server.stop();
  });

  function podInformer(labelSelector?: string): k8s.Informer<k8s.V1Pod> & k8s.ObjectCache<k8s.V1Pod> {
    const informer = k8s.makeInformer(
      kc,
      '/api/v1/pods',
      () => core.listPodForAllNamespaces({ labelSelector }),
      labelSelector,
    );
    informers.push(informer);
    return informer;
  }

  function cacheMatchesServer(informer: k8s.ObjectCache<k8s.V1Pod>): boolean {
    const cached = informer.list().map((p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`);
    const stored = server.list('Pod').map((p) => `${p.metadata?.name}@${p.metadata?.resourceVersion}`);
    return JSON.stringify(cached.sort()) === JSON.stringify(stored.sort());
  }

  it('delivers add, update and delete of pods to an informer', async () => {
    server.seed(pod('ns1', 'before'));
    const informer = podInformer();
    const rec = new Recorder(informer);
    await informer.start();
    assert.deepEqual(names(informer.list()), ['ns1/before']);
    server.seed(pod('ns1', 'p1', { app: 'web' }));
    await waitFor('add p1', () => rec.has('add p1'));
    server.seed(pod('ns1', 'p1', { app: 'db' }));
    await waitFor('update p1', () => rec.has('update p1'));
    assert.equal(informer.get('p1', 'ns1')?.metadata?.labels?.app, 'db');
    server.remove('Pod', 'ns1', 'before');
    await waitFor('delete before', () => rec.has('delete before'));
    assert.deepEqual(rec.events, ['add before', 'add p1', 'update p1', 'delete before']);
    assert.ok(cacheMatchesServer(informer));
    assert.deepEqual(rec.errors, []);
  });

  it('filters by label selector, with objects leaving the selector deleted from the cache', async () => {
    server.seed(pod('ns1', 'web1', { app: 'web' }));
    server.seed(pod('ns1', 'db1', { app: 'db' }));
    const informer = podInformer('app in (web,api),!legacy');
    const rec = new Recorder(informer);
    await informer.start();
    assert.deepEqual(names(informer.list()), ['ns1/web1']);
    server.seed(pod('ns2', 'api1', { app: 'api' }));
    server.seed(pod('ns2', 'db2', { app: 'db' }));
    server.seed(pod('ns1', 'web1', { app: 'web', legacy: 'yes' }));
    await waitFor('web1 leaves', () => rec.has('delete web1'));
    assert.deepEqual(rec.events, ['add web1', 'add api1', 'delete web1']);
    assert.deepEqual(names(informer.list()), ['ns2/api1']);
  });

  it('filters by field selector spec.nodeName through a ListWatch and rejects unsupported fields', async () => {
    server.seed(pod('ns1', 'here', {}, 'node-a'));
    server.seed(pod('ns1', 'there', {}, 'node-b'));
    const fieldSelector = 'spec.nodeName=node-a,metadata.namespace!=kube-system';
    const informer = new k8s.ListWatch<k8s.V1Pod>(
      '/api/v1/pods',
      new k8s.Watch(kc),
      () => core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    informers.push(informer);
    const rec = new Recorder(informer);
    await informer.start();
    assert.deepEqual(names(informer.list()), ['ns1/here']);
    server.seed(pod('ns2', 'here2', {}, 'node-a'));
    server.seed(pod('ns2', 'there2', {}, 'node-b'));
    await waitFor('add here2', () => rec.has('add here2'));
    assert.deepEqual(rec.events, ['add here', 'add here2']);
    const byName = await core.listNamespacedPod({ namespace: 'ns1', fieldSelector: 'metadata.name=there' });
    assert.deepEqual(names(byName.items), ['ns1/there']);
    await assert.rejects(core.listPodForAllNamespaces({ fieldSelector: 'spec.hostname=x' }), (err) => {
      assert.deepEqual(
        { code: errorBody(err).code, reason: errorBody(err).reason },
        { code: 400, reason: 'BadRequest' },
      );
      return true;
    });
  });

  it('runs an informer over a CRD through CustomObjectsApi', async () => {
    server.seed(acnp('a', 1));
    const informer = k8s.makeInformer<k8s.KubernetesObject>(
      kc,
      '/apis/crd.antrea.io/v1beta1/clusternetworkpolicies',
      () => custom.listClusterCustomObject({ ...CRD, plural: 'clusternetworkpolicies' }),
    );
    informers.push(informer);
    const rec = new Recorder(informer);
    await informer.start();
    server.seed(acnp('b', 2));
    server.seed(acnp('a', 5));
    server.remove('ClusterNetworkPolicy', undefined, 'b');
    await waitFor('delete b', () => rec.has('delete b'));
    assert.deepEqual(rec.events, ['add a', 'add b', 'update a', 'delete b']);
    const a = informer.get('a') as KubeObject | undefined;
    assert.equal((a?.spec as { priority: number }).priority, 5);
    assert.equal(a?.metadata?.generation, 2);
  });

  it('reconnects after restart() and resumes from its resourceVersion without relisting', async () => {
    server.seed(pod('ns1', 'p1'));
    const informer = podInformer();
    const rec = new Recorder(informer);
    await informer.start();
    const listsBefore = server.requestLog.filter((r) => !r.watch && r.method === 'GET').length;
    await server.restart({
      whileDown: () => {
        server.seed(pod('ns1', 'p2'));
        server.remove('Pod', 'ns1', 'p1');
      },
    });
    await waitFor('changes made while down', () => rec.has('delete p1') && rec.has('add p2'));
    assert.equal(server.requestLog.filter((r) => !r.watch && r.method === 'GET').length, listsBefore);
    assert.ok(server.requestLog.filter((r) => r.watch).length >= 2);
    assert.ok(cacheMatchesServer(informer));
    assert.deepEqual(rec.errors, []);
  });

  it('relists after 410 Expired when history was compacted, ending with the server state', async () => {
    server.seed(pod('ns1', 'keep'));
    server.seed(pod('ns1', 'gone'));
    const informer = podInformer();
    const rec = new Recorder(informer);
    await informer.start();
    await server.restart({
      forgetHistory: true,
      whileDown: () => {
        server.remove('Pod', 'ns1', 'gone');
        server.seed(pod('ns1', 'keep', { changed: 'yes' }));
        server.seed(pod('ns2', 'new'));
        server.compactHistory();
      },
    });
    await waitFor(
      'cache equals server after relist',
      () => cacheMatchesServer(informer) && rec.has('delete gone'),
    );
    assert.ok(rec.has('update keep'));
    assert.ok(rec.has('add new'));
    assert.ok(
      server.requestLog.some((r) => r.watch && r.status === 200 && r.url.includes('resourceVersion=')),
    );
    assert.equal(server.requestLog.filter((r) => !r.watch && r.url.startsWith('/api/v1/pods')).length, 2);
    assert.deepEqual(rec.errors, []);
  });

  it('answers an expired resourceVersion with one ERROR event holding a 410 Status', async () => {
    server.seed(pod('ns1', 'p1'));
    const old = server.resourceVersion;
    for (let i = 0; i < 60; i++) server.seed(pod('ns1', 'p1', { i: String(i) }));
    const events: { type: string; code?: number; reason?: string }[] = [];
    const done = new Promise<unknown>((resolve) => {
      void new k8s.Watch(kc).watch(
        '/api/v1/namespaces/ns1/pods',
        { resourceVersion: old },
        (type, obj: { code?: number; reason?: string }) =>
          events.push({ type, code: obj.code, reason: obj.reason }),
        resolve,
      );
    });
    assert.equal(await done, null);
    assert.deepEqual(events, [{ type: 'ERROR', code: 410, reason: 'Expired' }]);
  });

  it('lets the app restart an informer that stopped with an error while the server was down', async () => {
    const informer = podInformer();
    const rec = new Recorder(informer);
    await informer.start();
    await server.stop();
    await waitFor('informer error', () => rec.errors.length > 0);
    server.seed(pod('ns1', 'offline'));
    await server.start();
    await informer.start();
    await waitFor(
      'cache after app restart',
      () => cacheMatchesServer(informer) && informer.list().length === 1,
    );
    server.seed(pod('ns1', 'online'));
    await waitFor('live again', () => rec.has('add online'));
  });

  it('sends bookmarks when asked and the informer keeps working, resuming from the bookmark', async () => {
    // The informer never asks for bookmarks itself; a query in its path is kept on the watch URL.
    const informer = new k8s.ListWatch<k8s.V1Pod>(
      '/api/v1/pods?allowWatchBookmarks=true',
      new k8s.Watch(kc),
      () => core.listPodForAllNamespaces(),
      false,
    );
    informers.push(informer);
    const rec = new Recorder(informer);
    await informer.start();
    server.seed({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns3' } });
    // Only a bookmark can carry the informer to a version that no pod event had.
    await waitFor('bookmark seen', () => informer.latestResourceVersion() === server.resourceVersion);
    server.seed(pod('ns3', 'p1'));
    await waitFor('add p1', () => rec.has('add p1'));
    assert.deepEqual(rec.errors, []);
    assert.ok(cacheMatchesServer(informer));
  });

  it('closes a watch after timeoutSeconds', async () => {
    const done = new Promise<unknown>((resolve) => {
      void new k8s.Watch(kc).watch(
        '/api/v1/pods',
        { timeoutSeconds: 1, resourceVersion: '0' },
        () => {},
        resolve,
      );
    });
    assert.equal(await done, null);
    assert.equal(server.watchCount, 0);
  });

  it('pages lists with limit and continue', async () => {
    for (const name of ['a', 'b', 'c']) server.seed(pod('ns1', name));
    const first = await core.listNamespacedPod({ namespace: 'ns1', limit: 2 });
    assert.deepEqual(names(first.items), ['ns1/a', 'ns1/b']);
    assert.ok(first.metadata?._continue);
    const second = await core.listNamespacedPod({
      namespace: 'ns1',
      limit: 2,
      _continue: first.metadata._continue,
    });
    assert.deepEqual(names(second.items), ['ns1/c']);
    assert.equal(second.metadata?._continue, undefined);
  });

  it('implements typed CRUD on pods with 404 and 409 Status bodies', async () => {
    await assert.rejects(core.createNamespacedPod({ namespace: 'nope', body: pod('nope', 'x') }), (err) => {
      assert.equal(errorBody(err).code, 404);
      assert.equal(errorBody(err).reason, 'NotFound');
      return true;
    });
    const created = await core.createNamespacedPod({ namespace: 'ns1', body: pod('ns1', 'p1') });
    assert.ok(created.metadata?.uid);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);
    assert.equal(created.metadata?.resourceVersion, server.resourceVersion);
    await assert.rejects(core.createNamespacedPod({ namespace: 'ns1', body: pod('ns1', 'p1') }), (err) => {
      assert.equal(errorBody(err).reason, 'AlreadyExists');
      assert.equal(errorBody(err).code, 409);
      return true;
    });
    const stale = { ...created, metadata: { ...created.metadata, labels: { a: 'b' } } };
    const replaced = await core.replaceNamespacedPod({ namespace: 'ns1', name: 'p1', body: stale });
    assert.equal(replaced.metadata?.labels?.a, 'b');
    assert.equal(replaced.metadata?.uid, created.metadata?.uid);
    assert.equal(replaced.metadata?.generation, 1, 'label change does not bump generation');
    await assert.rejects(core.replaceNamespacedPod({ namespace: 'ns1', name: 'p1', body: stale }), (err) => {
      assert.equal(errorBody(err).reason, 'Conflict');
      assert.equal(errorBody(err).code, 409);
      return true;
    });
    const deleted = await core.deleteNamespacedPod({ namespace: 'ns1', name: 'p1' });
    assert.equal(deleted.metadata?.name, 'p1');
    await assert.rejects(core.readNamespacedPod({ namespace: 'ns1', name: 'p1' }), (err) => {
      assert.deepEqual(
        { code: errorBody(err).code, reason: errorBody(err).reason, kind: errorBody(err).kind },
        { code: 404, reason: 'NotFound', kind: 'Status' },
      );
      return true;
    });
  });

  it('implements NetworkingV1Api and CustomObjectsApi create, replace, patch and delete', async () => {
    const networking = kc.makeApiClient(k8s.NetworkingV1Api);
    const np = await networking.createNamespacedNetworkPolicy({
      namespace: 'ns2',
      body: { metadata: { name: 'deny' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } },
    });
    assert.equal(np.kind, 'NetworkPolicy');
    const list = await networking.listNamespacedNetworkPolicy({ namespace: 'ns2' });
    assert.equal(list.kind, 'NetworkPolicyList');
    assert.deepEqual(names(list.items), ['ns2/deny']);

    const plural = 'clusternetworkpolicies';
    const created = (await custom.createClusterCustomObject({
      ...CRD,
      plural,
      body: acnp('c1', 1),
    })) as KubeObject;
    assert.equal(created.metadata?.generation, 1);
    const replaced = (await custom.replaceClusterCustomObject({
      ...CRD,
      plural,
      name: 'c1',
      body: { ...created, spec: { ...(created.spec as object), priority: 2 } },
    })) as KubeObject;
    assert.equal(replaced.metadata?.generation, 2);
    // The client's default patch type is JSON Patch (RFC 6902).
    const jsonPatched = (await custom.patchClusterCustomObject({
      ...CRD,
      plural,
      name: 'c1',
      body: [{ op: 'replace', path: '/spec/priority', value: 3 }],
    })) as KubeObject;
    assert.equal((jsonPatched.spec as { priority: number }).priority, 3);
    const merged = (await custom.patchClusterCustomObject(
      { ...CRD, plural, name: 'c1', body: { metadata: { labels: { tier: 'x' } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )) as KubeObject;
    assert.deepEqual(merged.metadata?.labels, { tier: 'x' });
    assert.equal(merged.metadata?.generation, 3);
    await assert.rejects(
      custom.replaceClusterCustomObject({ ...CRD, plural, name: 'c1', body: created }),
      (err) => errorBody(err).reason === 'Conflict',
    );
    const status = (await custom.deleteClusterCustomObject({ ...CRD, plural, name: 'c1' })) as {
      status?: string;
    };
    assert.equal(status.status, 'Success');
    await assert.rejects(custom.deleteClusterCustomObject({ ...CRD, plural, name: 'c1' }), (err) => {
      assert.equal(errorBody(err).code, 404);
      assert.equal(errorBody(err).reason, 'NotFound');
      return true;
    });
    const group = (await custom.createNamespacedCustomObject({
      ...CRD,
      plural: 'groups',
      namespace: 'ns1',
      body: { apiVersion: 'crd.antrea.io/v1beta1', kind: 'Group', metadata: { name: 'g' }, spec: {} },
    })) as KubeObject;
    assert.equal(group.metadata?.namespace, 'ns1');
    assert.equal(server.get('Group', 'ns1', 'g')?.metadata?.uid, group.metadata?.uid);
  });
});
