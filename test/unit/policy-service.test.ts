// The policy service against a real (in-memory) SQLite store: all-or-nothing applies, kubectl-style results,
// pod/namespace events, the change stream, and a restart that rebuilds everything from the store.
import assert from 'node:assert/strict';
import { openStore, type StoreDatabase } from '../../firmware/store/database';
import { PodRepository, type PodRecord } from '../../firmware/store/pod-repository';
import {
  NamespaceRepository,
  PolicyObjectRepository,
  type PolicyObjectWrite,
} from '../../firmware/store/policy-repository';
import {
  PolicyService,
  PolicyServiceError,
  type PolicyObjectStore,
} from '../../firmware/agent/policy-service';
import type { LogFields, Logger } from '../../firmware/core/logger';
import type {
  AddressGroup,
  AppliedToGroup,
  ControllerChanges,
  InternalNetworkPolicy,
} from '../../firmware/core/controller/internal-types';
import {
  clusterGroup,
  clusterPolicy,
  k8sPolicy,
  match,
  plainSnapshot,
  policyFor,
  tier,
} from './controller-helpers';

const NODE = 'edge-1';

class RecordingLogger implements Logger {
  readonly lines: { level: string; msg: string; fields: LogFields }[] = [];
  debug(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'debug', msg, fields });
  }
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

let nextContainer = 1;

function podRecord(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  ip: string,
  containerPorts: PodRecord['containerPorts'] = [],
): PodRecord {
  const id = nextContainer++;
  return {
    containerId: `c${id}`,
    namespace,
    name,
    ifName: 'eth0',
    netns: `/var/run/netns/p${id}`,
    hostIfName: `${name.slice(0, 8)}-${id}`,
    ip,
    mac: `0a:00:00:00:00:${(id % 256).toString(16).padStart(2, '0')}`,
    labels,
    containerPorts,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

const HTTP = [{ name: 'http', containerPort: 80, protocol: 'TCP' as const }];

/** The seed's pods. */
function seedPods(pods: PodRepository): void {
  pods.insert(podRecord('default', 'nginx-1', { app: 'nginx' }, '10.10.0.2', HTTP));
  pods.insert(podRecord('default', 'nginx-2', { app: 'nginx' }, '10.10.0.3', HTTP));
  pods.insert(podRecord('default', 'ch-busybox', { run: 'ch-busybox' }, '10.10.0.4'));
  pods.insert(podRecord('cassandra', 'cassandra-1', { app: 'cassandra' }, '10.10.0.5'));
}

const NGINX_ALLOW = k8sPolicy('default', 'nginx-allow', {
  podSelector: match({ app: 'nginx' }),
  ingress: [{ from: [{ podSelector: match({ app: 'nginx' }) }] }],
});

function invalidPolicy(name: string): Record<string, unknown> {
  return k8sPolicy('default', name, {
    podSelector: match({ app: 'nginx' }),
    ingress: [{ ports: [{ protocol: 'TCP', port: 70000 }], from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }],
  });
}

interface Harness {
  db: StoreDatabase;
  pods: PodRepository;
  namespaces: NamespaceRepository;
  objects: PolicyObjectRepository;
  logger: RecordingLogger;
  service: PolicyService;
}

function harness(db: StoreDatabase = openStore(':memory:'), objects?: PolicyObjectStore): Harness {
  const logger = new RecordingLogger();
  const pods = new PodRepository(db);
  const namespaces = new NamespaceRepository(db);
  const objectRepo = new PolicyObjectRepository(db);
  const service = new PolicyService({
    nodeName: NODE,
    pods,
    namespaces,
    objects: objects ?? objectRepo,
    logger,
  });
  return { db, pods, namespaces, objects: objectRepo, logger, service };
}

/** Rebuilds the controller's published state from the change stream alone. */
class Mirror {
  readonly policies = new Map<string, InternalNetworkPolicy>();
  readonly addressGroups = new Map<string, AddressGroup>();
  readonly appliedToGroups = new Map<string, AppliedToGroup>();
  readonly received: ControllerChanges[] = [];

  readonly listener = (changes: ControllerChanges): void => {
    this.received.push(changes);
    for (const policy of changes.networkPolicies.upserted) this.policies.set(policy.uid, policy);
    for (const uid of changes.networkPolicies.deleted) this.policies.delete(uid);
    for (const group of changes.addressGroups.upserted) this.addressGroups.set(group.name, group);
    for (const name of changes.addressGroups.deleted) this.addressGroups.delete(name);
    for (const group of changes.appliedToGroups.upserted) this.appliedToGroups.set(group.name, group);
    for (const name of changes.appliedToGroups.deleted) this.appliedToGroups.delete(name);
  };

  plain(): ReturnType<typeof plainSnapshot> {
    return plainSnapshot({
      networkPolicies: this.policies,
      addressGroups: this.addressGroups,
      appliedToGroups: this.appliedToGroups,
    });
  }
}

function storedRows(db: StoreDatabase): unknown[] {
  return db.prepare('SELECT * FROM policy_objects ORDER BY key').all();
}

function rejection(work: () => unknown): PolicyServiceError {
  try {
    work();
  } catch (error) {
    if (error instanceof PolicyServiceError) return error;
    throw error;
  }
  assert.fail('expected a PolicyServiceError');
}

describe('PolicyService', () => {
  describe('start', () => {
    it('loads namespaces, pods and stored objects (dependencies first) into the controller', () => {
      const h = harness();
      seedPods(h.pods);
      h.namespaces.ensure('cassandra');
      assert.ok(
        h.namespaces.setLabels('cassandra', { 'kubernetes.io/metadata.name': 'cassandra', team: 'db' }),
      );
      // Stored in an order where the policy comes before the Tier and ClusterGroups it needs.
      const acnp = clusterPolicy('db-isolation', {
        tier: 'ops',
        priority: 5,
        appliedTo: [{ group: 'db' }],
        ingress: [{ action: 'Drop', from: [{ namespaceSelector: match({ team: 'db' }) }] }],
      });
      const writes: PolicyObjectWrite[] = [
        {
          key: 'ClusterNetworkPolicy//db-isolation',
          kind: 'ClusterNetworkPolicy',
          name: 'db-isolation',
          body: acnp,
          generation: 1,
        },
        {
          key: 'ClusterGroup//db',
          kind: 'ClusterGroup',
          name: 'db',
          body: clusterGroup('db', { childGroups: ['db-pods'] }),
          generation: 1,
        },
        {
          key: 'ClusterGroup//db-pods',
          kind: 'ClusterGroup',
          name: 'db-pods',
          body: clusterGroup('db-pods', { podSelector: match({ app: 'cassandra' }) }),
          generation: 1,
        },
        { key: 'Tier//ops', kind: 'Tier', name: 'ops', body: tier('ops', 70), generation: 1 },
      ];
      h.objects.commit({ upserts: writes, deletes: [] });
      h.service.start();
      const view = h.service.view();
      assert.equal(view.objects().size, 4);
      assert.deepEqual([...view.namespaces().keys()].sort(), ['cassandra', 'default']);
      assert.equal(view.namespaces().get('cassandra')?.labels['team'], 'db');
      assert.equal(view.pods().get('default/nginx-1')?.nodeName, NODE);
      assert.deepEqual(view.pods().get('default/nginx-1')?.containerPorts, HTTP);
      const policy = policyFor(view.snapshot(), 'AntreaClusterNetworkPolicy', 'db-isolation');
      assert.equal(policy.tierPriority, 70);
      assert.deepEqual(policy.span, [NODE]);
      const atg = view.snapshot().appliedToGroups.get(policy.appliedToGroups[0] ?? '');
      assert.deepEqual(
        atg?.members.map((m) => m.name),
        ['cassandra-1'],
      );
      assert.equal(h.logger.lines.filter((l) => l.level === 'error').length, 0);
    });

    it('creates the namespace of a stored pod that has none, with its name label', () => {
      const h = harness();
      h.pods.insert(podRecord('orphans', 'p', {}, '10.10.0.9'));
      h.db.prepare('DELETE FROM namespaces').run();
      h.service.start();
      assert.deepEqual(h.namespaces.get('orphans'), {
        name: 'orphans',
        labels: { 'kubernetes.io/metadata.name': 'orphans' },
      });
      assert.ok(h.service.view().namespaces().has('orphans'));
    });

    it('skips (and logs) a stored object that no longer validates or is not JSON, and loads the rest', () => {
      const h = harness();
      seedPods(h.pods);
      h.objects.commit({
        upserts: [
          {
            key: 'K8sNetworkPolicy/default/nginx-allow',
            kind: 'K8sNetworkPolicy',
            namespace: 'default',
            name: 'nginx-allow',
            body: NGINX_ALLOW,
            generation: 1,
          },
          {
            key: 'K8sNetworkPolicy/default/bad',
            kind: 'K8sNetworkPolicy',
            namespace: 'default',
            name: 'bad',
            body: invalidPolicy('bad'),
            generation: 3,
          },
        ],
        deletes: [],
      });
      h.db
        .prepare(
          "INSERT INTO policy_objects (key, kind, namespace, name, body, generation, updated_at) VALUES ('Tier//x', 'Tier', NULL, 'x', '{not json', 1, 'now')",
        )
        .run();
      assert.doesNotThrow(() => h.service.start());
      assert.deepEqual([...h.service.view().objects().keys()], ['K8sNetworkPolicy/default/nginx-allow']);
      const errors = h.logger.lines.filter((l) => l.level === 'error');
      assert.deepEqual(errors.map((l) => l.fields['key']).sort(), [
        'K8sNetworkPolicy/default/bad',
        'Tier//x',
      ]);
      const badLine = errors.find((l) => l.fields['key'] === 'K8sNetworkPolicy/default/bad');
      assert.match(String(badLine?.fields['reason']), /spec\.ingress\[0\]\.ports\[0\]\.port/);
      // Still in the store: a later firmware or a re-apply may fix it; deleting it is possible too.
      assert.equal(h.objects.list().length, 3);
      assert.deepEqual(h.service.delete('K8sNetworkPolicy/default/bad'), {
        key: 'K8sNetworkPolicy/default/bad',
        kind: 'K8sNetworkPolicy',
        namespace: 'default',
        name: 'bad',
        result: 'deleted',
      });
      assert.equal(h.objects.get('K8sNetworkPolicy/default/bad'), undefined);
    });

    it('refuses requests before start', () => {
      const h = harness();
      assert.equal(rejection(() => h.service.apply([NGINX_ALLOW])).code, 'NotStarted');
    });
  });

  describe('apply', () => {
    it('reports created, configured and unchanged like kubectl, and bumps the stored generation', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      const first = h.service.apply([NGINX_ALLOW, tier('ops', 70)]);
      assert.deepEqual(first, [
        {
          index: 0,
          key: 'K8sNetworkPolicy/default/nginx-allow',
          kind: 'K8sNetworkPolicy',
          apiVersion: 'networking.k8s.io/v1',
          namespace: 'default',
          name: 'nginx-allow',
          result: 'created',
        },
        {
          index: 1,
          key: 'Tier//ops',
          kind: 'Tier',
          apiVersion: 'crd.antrea.io/v1beta1',
          name: 'ops',
          result: 'created',
        },
      ]);
      // The same manifest again, with keys in another order and the defaults spelled out: unchanged.
      const spelledOut = {
        kind: 'NetworkPolicy',
        apiVersion: 'networking.k8s.io/v1',
        metadata: { namespace: 'default', name: 'nginx-allow' },
        spec: {
          policyTypes: ['Ingress'],
          ingress: [{ from: [{ podSelector: match({ app: 'nginx' }) }] }],
          podSelector: match({ app: 'nginx' }),
        },
      };
      assert.deepEqual(
        h.service.apply([spelledOut]).map((r) => r.result),
        ['unchanged'],
      );
      assert.equal(h.objects.get('K8sNetworkPolicy/default/nginx-allow')?.generation, 1);
      const changed = k8sPolicy('default', 'nginx-allow', {
        podSelector: match({ app: 'nginx' }),
        ingress: [{ from: [{ podSelector: match({ app: 'nginx' }) }], ports: [{ port: 'http' }] }],
      });
      assert.deepEqual(
        h.service.apply([changed]).map((r) => r.result),
        ['configured'],
      );
      const stored = h.objects.get('K8sNetworkPolicy/default/nginx-allow');
      assert.equal(stored?.generation, 2);
      // Stored with the API server's defaults filled in.
      assert.deepEqual((stored?.body as { spec: { policyTypes: string[] } }).spec.policyTypes, ['Ingress']);
      assert.deepEqual(
        (stored?.body as { spec: { ingress: { ports: unknown[] }[] } }).spec.ingress[0]?.ports,
        [{ protocol: 'TCP', port: 'http' }],
      );
    });

    it('applies objects that depend on earlier objects of the same apply (Tier, then a policy in it)', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      const results = h.service.apply([
        tier('ops', 70),
        clusterGroup('nginx', { podSelector: match({ app: 'nginx' }) }),
        clusterPolicy('drop-busybox', {
          tier: 'ops',
          priority: 1,
          appliedTo: [{ group: 'nginx' }],
          ingress: [{ action: 'Drop', from: [{ podSelector: match({ run: 'ch-busybox' }) }] }],
        }),
      ]);
      assert.deepEqual(
        results.map((r) => r.result),
        ['created', 'created', 'created'],
      );
      assert.equal(h.objects.list().length, 3);
    });

    it('is all or nothing: one invalid object leaves the controller snapshot and the store exactly as before', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      const mirror = new Mirror();
      h.service.onChanges(mirror.listener);
      h.service.apply([NGINX_ALLOW, tier('ops', 70)]);
      const snapshotBefore = plainSnapshot(h.service.view().snapshot());
      const objectsBefore = [...h.service.view().objects()];
      const rowsBefore = storedRows(h.db);
      const received = mirror.received.length;

      const error = rejection(() =>
        h.service.apply([
          // a new object, an update of an existing one, a Tier change, then an invalid one
          k8sPolicy('default', 'deny-all', { podSelector: {} }),
          k8sPolicy('default', 'nginx-allow', { podSelector: match({ app: 'nginx' }), ingress: [{}] }),
          tier('ops', 71),
          invalidPolicy('bad'),
        ]),
      );
      assert.equal(error.code, 'ApplyRejected');
      assert.equal(error.objectCount, 4);
      assert.deepEqual(
        error.failures.map((f) => [f.index, f.kind, f.namespace, f.name]),
        [[3, 'K8sNetworkPolicy', 'default', 'bad']],
      );
      const paths = error.failures[0]?.errors.map((e) => e.path) ?? [];
      assert.ok(paths.includes('spec.ingress[0].ports[0].port'), paths.join(', '));
      assert.ok(paths.includes('spec.ingress[0].from[0].ipBlock.cidr'), paths.join(', '));
      assert.match(
        error.message,
        /^nothing was applied: 1 object is invalid \(of 4\): document 4 \(K8sNetworkPolicy default\/bad\): /,
      );
      assert.match(
        error.message,
        /spec\.ingress\[0\]\.ports\[0\]\.port: .*spec\.ingress\[0\]\.from\[0\]\.ipBlock\.cidr: /,
      );

      assert.deepEqual(plainSnapshot(h.service.view().snapshot()), snapshotBefore);
      assert.deepEqual([...h.service.view().objects()], objectsBefore);
      assert.equal(h.service.view().tierPriority('ops'), 70);
      assert.deepEqual(storedRows(h.db), rowsBefore);
      assert.equal(mirror.received.length, received, 'subscribers never see a rolled-back apply');
      assert.deepEqual(mirror.plain(), plainSnapshot(h.service.view().snapshot()));
    });

    it('reports every invalid object, not only the first', () => {
      const h = harness();
      h.service.start();
      const error = rejection(() =>
        h.service.apply([
          invalidPolicy('one'),
          NGINX_ALLOW,
          { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'x' } },
        ]),
      );
      assert.deepEqual(
        error.failures.map((f) => f.index),
        [0, 2],
      );
      assert.match(error.message, /2 objects are invalid \(of 3\)/);
      assert.match(error.message, /document 1 .*document 3 /);
      assert.equal(h.service.view().objects().size, 0);
      assert.equal(h.objects.list().length, 0);
    });

    it('rolls the controller back when the store cannot commit', () => {
      const db = openStore(':memory:');
      const real = new PolicyObjectRepository(db);
      let failCommit = false;
      const flaky: PolicyObjectStore = {
        list: () => real.list(),
        get: (key) => real.get(key),
        delete: (key) => real.delete(key),
        commit: (batch) => {
          if (failCommit) throw new Error('disk I/O error');
          real.commit(batch);
        },
      };
      const h = harness(db, flaky);
      seedPods(h.pods);
      h.service.start();
      h.service.apply([NGINX_ALLOW]);
      const before = plainSnapshot(h.service.view().snapshot());
      failCommit = true;
      assert.throws(
        () => h.service.apply([k8sPolicy('default', 'deny-all', { podSelector: {} })]),
        /disk I\/O/,
      );
      assert.deepEqual(plainSnapshot(h.service.view().snapshot()), before);
      assert.deepEqual([...h.service.view().objects().keys()], ['K8sNetworkPolicy/default/nginx-allow']);
    });

    it('rejects an empty apply', () => {
      const h = harness();
      h.service.start();
      assert.equal(rejection(() => h.service.apply([])).code, 'InvalidRequest');
    });
  });

  describe('delete', () => {
    it('deletes from the controller and the store; NotFound when absent; Conflict for a Tier in use', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      h.service.apply([
        tier('ops', 70),
        clusterPolicy('p', {
          tier: 'ops',
          priority: 1,
          appliedTo: [{ podSelector: {} }],
          ingress: [{ action: 'Allow' }],
        }),
        NGINX_ALLOW,
      ]);
      const conflict = rejection(() => h.service.delete('Tier//ops'));
      assert.equal(conflict.code, 'Conflict');
      assert.match(conflict.message, /referenced by 1/);
      assert.ok(h.objects.get('Tier//ops'));
      assert.equal(h.service.delete('K8sNetworkPolicy/default/nginx-allow').result, 'deleted');
      assert.equal(h.objects.get('K8sNetworkPolicy/default/nginx-allow'), undefined);
      assert.equal(
        rejection(() => h.service.delete('K8sNetworkPolicy/default/nginx-allow')).code,
        'NotFound',
      );
      assert.equal(rejection(() => h.service.delete('Bogus//x')).code, 'InvalidRequest');
      h.service.delete('ClusterNetworkPolicy//p');
      h.service.delete('Tier//ops');
      assert.equal(h.service.view().snapshot().networkPolicies.size, 0);
      assert.equal(h.objects.list().length, 0);
    });
  });

  describe('pods, namespaces and the change stream', () => {
    it('streams every committed change; replaying the stream reproduces the snapshot', () => {
      const h = harness();
      seedPods(h.pods);
      const early = new Mirror();
      h.service.onChanges(early.listener);
      h.service.start();
      h.service.apply([NGINX_ALLOW]);
      // Pod events from CNI ADD/DEL and label changes move pods between groups.
      const web = podRecord('web', 'frontend', { app: 'nginx' }, '10.10.0.20', HTTP);
      h.pods.insert(web);
      h.service.podAdded(web);
      assert.ok(h.namespaces.get('web'), 'a pod in a new namespace creates the namespace');
      const busybox = h.pods.byName('default', 'ch-busybox');
      assert.ok(busybox);
      h.service.podUpdated({ ...busybox, labels: { app: 'nginx' } });
      const nginx2 = h.pods.byName('default', 'nginx-2');
      assert.ok(nginx2);
      h.service.podRemoved(nginx2);

      const snapshot = h.service.view().snapshot();
      const policy = policyFor(snapshot, 'K8sNetworkPolicy', 'nginx-allow', 'default');
      const members = snapshot.appliedToGroups
        .get(policy.appliedToGroups[0] ?? '')
        ?.members.map((m) => m.name);
      assert.deepEqual(members, ['ch-busybox', 'nginx-1']);
      assert.deepEqual(early.plain(), plainSnapshot(snapshot));

      const late = new Mirror();
      const unsubscribe = h.service.onChanges(late.listener, { replay: true });
      assert.equal(late.received.length, 1);
      assert.deepEqual(late.plain(), plainSnapshot(snapshot));
      unsubscribe();
      h.service.delete('K8sNetworkPolicy/default/nginx-allow');
      assert.equal(late.received.length, 1, 'no changes after unsubscribing');
      assert.equal(early.policies.size, 0);
    });

    it('a listener that throws is logged and does not stop the others', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      h.service.onChanges(() => {
        throw new Error('rule cache broke');
      });
      const mirror = new Mirror();
      h.service.onChanges(mirror.listener);
      h.service.apply([NGINX_ALLOW]);
      assert.equal(mirror.policies.size, 1);
      assert.ok(h.logger.lines.some((l) => l.msg === 'policy change listener failed'));
    });

    it('sets namespace labels (keeping the name label) and namespaceSelectors follow', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      h.service.apply([
        k8sPolicy('default', 'from-db', {
          podSelector: match({ app: 'nginx' }),
          ingress: [{ from: [{ namespaceSelector: match({ team: 'db' }) }] }],
        }),
      ]);
      const before = h.service.evaluate({
        source: 'cassandra/cassandra-1',
        destination: 'default/nginx-1',
        protocol: 'TCP',
        port: 80,
      });
      assert.equal(before.verdict, 'Drop');
      const labels = h.service.setNamespaceLabels('cassandra', {
        team: 'db',
        'kubernetes.io/metadata.name': 'x',
      });
      assert.deepEqual(labels.labels, { team: 'db', 'kubernetes.io/metadata.name': 'cassandra' });
      assert.deepEqual(h.namespaces.get('cassandra')?.labels, labels.labels);
      assert.deepEqual(h.service.namespaceLabels('cassandra'), labels);
      const after = h.service.evaluate({
        source: 'cassandra/cassandra-1',
        destination: 'default/nginx-1',
        protocol: 'TCP',
        port: 80,
      });
      assert.equal(after.verdict, 'Allow');
      assert.equal(after.ingress.rule?.policy.name, 'from-db');
      assert.equal(rejection(() => h.service.setNamespaceLabels('nowhere', {})).code, 'NotFound');
      const invalid = rejection(() => h.service.setNamespaceLabels('cassandra', { 'bad key!': 'x' }));
      assert.equal(invalid.code, 'InvalidRequest');
      assert.match(invalid.message, /bad key!/);
    });
  });

  describe('queries', () => {
    it('evaluates the seed walkthrough: K8s isolation drops busybox, named ports resolve per destination', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      h.service.apply([NGINX_ALLOW]);
      const dropped = h.service.evaluate({
        source: 'default/ch-busybox',
        destination: 'default/nginx-1',
        protocol: 'TCP',
        port: 80,
      });
      assert.equal(dropped.verdict, 'Drop');
      assert.equal(dropped.ingress.rule?.action, 'DefaultDeny');
      assert.equal(dropped.ingress.rule?.policy.name, 'nginx-allow');
      assert.deepEqual(dropped.egress, { verdict: 'Allow' });
      assert.deepEqual(dropped.source, { pod: 'default/ch-busybox', ip: '10.10.0.4' });
      assert.match(dropped.summary, /^Drop by K8sNetworkPolicy default\/nginx-allow ingress isolation/);
      const allowed = h.service.evaluate({
        source: 'nginx-2',
        destination: '10.10.0.2',
        protocol: 'TCP',
        port: 80,
      });
      assert.equal(allowed.verdict, 'Allow');
      assert.equal(allowed.ingress.rule?.ruleIndex, 0);
      const noPolicy = h.service.evaluate({
        source: 'cassandra/cassandra-1',
        destination: 'default/ch-busybox',
        protocol: 'UDP',
        port: 53,
      });
      assert.deepEqual(
        [noPolicy.verdict, noPolicy.egress.rule, noPolicy.ingress.rule],
        ['Allow', undefined, undefined],
      );
      assert.equal(
        rejection(() =>
          h.service.evaluate({ source: 'default/ghost', destination: 'nginx-1', protocol: 'TCP', port: 80 }),
        ).code,
        'NotFound',
      );
      assert.equal(
        rejection(() =>
          h.service.evaluate({ source: 'a/b/c', destination: 'nginx-1', protocol: 'TCP', port: 80 }),
        ).code,
        'InvalidRequest',
      );
      assert.equal(
        rejection(() =>
          h.service.evaluate({ source: 'nginx-2', destination: 'nginx-1', protocol: 'TCP', port: 0 }),
        ).code,
        'InvalidRequest',
      );
    });

    it('lists policies and groups with filters, and NotFound for a missing name', () => {
      const h = harness();
      seedPods(h.pods);
      h.service.start();
      h.service.apply([
        NGINX_ALLOW,
        clusterPolicy('acnp', {
          priority: 1,
          appliedTo: [{ podSelector: {} }],
          ingress: [{ action: 'Allow' }],
        }),
      ]);
      assert.deepEqual(
        h.service.networkPolicies({}).map((p) => p.name),
        ['acnp', 'nginx-allow'],
      );
      assert.deepEqual(
        h.service.networkPolicies({ type: 'K8sNP' }).map((p) => p.name),
        ['nginx-allow'],
      );
      assert.deepEqual(
        h.service.networkPolicies({ namespace: 'default' }).map((p) => p.name),
        ['nginx-allow'],
      );
      const byUid = h.service.networkPolicies({ name: 'nginx-allow' })[0];
      assert.ok(byUid);
      assert.deepEqual(h.service.networkPolicies({ name: byUid.uid }), [byUid]);
      assert.equal(rejection(() => h.service.networkPolicies({ name: 'nope' })).code, 'NotFound');
      const groups = h.service.appliedToGroups();
      assert.ok(groups.length >= 1);
      assert.deepEqual(
        groups.map((g) => g.name),
        [...groups.map((g) => g.name)].sort(),
      );
      const first = groups[0];
      assert.ok(first);
      assert.deepEqual(h.service.appliedToGroups(first.name), [first]);
      assert.equal(rejection(() => h.service.addressGroups('nope')).code, 'NotFound');
      assert.deepEqual(h.service.counts(), {
        networkPolicies: 2,
        addressGroups: h.service.addressGroups().length,
        appliedToGroups: groups.length,
      });
    });
  });

  it('restarts from the store with the same state (a new service on the same database)', () => {
    const h = harness();
    seedPods(h.pods);
    h.service.start();
    h.service.apply([
      tier('ops', 70),
      NGINX_ALLOW,
      clusterGroup('db', { podSelector: match({ app: 'cassandra' }) }),
    ]);
    h.service.setNamespaceLabels('cassandra', { team: 'db' });
    const snapshot = plainSnapshot(h.service.view().snapshot());
    const objects = [...h.service.view().objects()];
    h.service.stop();
    const again = harness(h.db);
    again.service.start();
    assert.deepEqual(plainSnapshot(again.service.view().snapshot()), snapshot);
    assert.deepEqual([...again.service.view().objects()].sort(), objects.sort());
    assert.equal(again.service.view().namespaces().get('cassandra')?.labels['team'], 'db');
  });
});
